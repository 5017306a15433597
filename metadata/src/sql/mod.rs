//! The SQL both metadata stores share: every statement and every read/write function of
//! [`msq_engine::metadata::MetadataStore`] written once, against the small [`SqlTx`] trait.
//!
//! Statements use SQLite's `?N` placeholders ([`pg`] rewrites them for PostgreSQL) and SQL
//! both databases accept (quoted `"start"`/`"end"`, `TRUE`/`FALSE`, `ON CONFLICT`, `BIGINT`
//! and `TEXT` columns, JSON stored as text). Each store only opens its connection, starts its
//! transactions (see [`Guard`]), converts [`Arg`]s and rows ([`Value`]s), and supplies what
//! genuinely differs (the text collation of the schema, PostgreSQL's retry of a log append).
//!
//! - [`schema`]: the tables.
//! - [`segments`]: used/unused segments and publishing.
//! - [`kill`]: deleting the records of unused segments (kill tasks).
//! - [`pending`]: pending (allocated, not yet published) segment ids.
//! - [`locks`]: time-chunk locks and segment allocation.
//! - [`tasks`]: tasks, their reports and logs.
//! - [`lookups`]: Druid's query-time lookups (the `map` type).

pub mod kill;
pub mod locks;
pub mod lookups;
pub mod pending;
pub mod publish;
pub mod schema;
pub mod segments;
pub mod tasks;

use msq_engine::error::{MsqError, Result};

/// The statement with PostgreSQL's `$N` placeholders in place of `?N`.
pub fn pg(sql: &str) -> String {
    sql.replace('?', "$")
}

/// The current time in epoch millis.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A statement argument. Nullable arguments keep their type (PostgreSQL checks a parameter's
/// type even when it is null).
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(String),
    Int(i64),
    Bool(bool),
    OptText(Option<String>),
    OptInt(Option<i64>),
}

impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(v.to_string())
    }
}

impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Text(v.clone())
    }
}

impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(v)
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}

impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}

impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::OptText(v)
    }
}

impl From<&Option<String>> for Arg {
    fn from(v: &Option<String>) -> Self {
        Arg::OptText(v.clone())
    }
}

impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::OptInt(v)
    }
}

/// One column value of a result row. The schema only has `BIGINT`, `TEXT` and `BOOLEAN`
/// columns (SQLite returns booleans as integers).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Bool(bool),
}

/// One result row, read by column index.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlRow(pub Vec<Value>);

impl SqlRow {
    fn at(&self, idx: usize) -> Result<&Value> {
        self.0
            .get(idx)
            .ok_or_else(|| MsqError::Metadata(format!("column {idx}: no such column")))
    }

    fn unexpected<T>(idx: usize, want: &str, got: &Value) -> Result<T> {
        Err(MsqError::Metadata(format!(
            "column {idx}: expected {want}, found {got:?}"
        )))
    }

    /// A non-null text column.
    pub fn text(&self, idx: usize) -> Result<String> {
        match self.at(idx)? {
            Value::Text(t) => Ok(t.clone()),
            v => Self::unexpected(idx, "text", v),
        }
    }

    /// A nullable text column.
    pub fn opt_text(&self, idx: usize) -> Result<Option<String>> {
        match self.at(idx)? {
            Value::Null => Ok(None),
            Value::Text(t) => Ok(Some(t.clone())),
            v => Self::unexpected(idx, "text or null", v),
        }
    }

    /// A non-null integer column.
    pub fn int(&self, idx: usize) -> Result<i64> {
        match self.at(idx)? {
            Value::Int(i) => Ok(*i),
            v => Self::unexpected(idx, "an integer", v),
        }
    }

    /// A nullable integer column.
    pub fn opt_int(&self, idx: usize) -> Result<Option<i64>> {
        match self.at(idx)? {
            Value::Null => Ok(None),
            Value::Int(i) => Ok(Some(*i)),
            v => Self::unexpected(idx, "an integer or null", v),
        }
    }

    /// A boolean column (an integer in SQLite: zero is false).
    pub fn bool(&self, idx: usize) -> Result<bool> {
        match self.at(idx)? {
            Value::Bool(b) => Ok(*b),
            Value::Int(i) => Ok(*i != 0),
            v => Self::unexpected(idx, "a boolean", v),
        }
    }

    /// A non-negative integer column.
    pub fn u64(&self, idx: usize) -> Result<u64> {
        let v = self.int(idx)?;
        u64::try_from(v).map_err(|_| MsqError::Metadata(format!("column {idx}: negative value [{v}]")))
    }

    /// An integer column that fits a `u32`.
    pub fn u32(&self, idx: usize) -> Result<u32> {
        let v = self.int(idx)?;
        u32::try_from(v).map_err(|_| MsqError::Metadata(format!("column {idx}: value [{v}] out of range")))
    }

    /// A text column holding JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self, idx: usize) -> Result<T> {
        Ok(serde_json::from_str(&self.text(idx)?)?)
    }

    /// A nullable text column holding JSON.
    pub fn opt_json(&self, idx: usize) -> Result<Option<serde_json::Value>> {
        Ok(self.opt_text(idx)?.map(|t| serde_json::from_str(&t)).transpose()?)
    }
}

/// What a write transaction must serialize against other writers. SQLite serializes every
/// write transaction (`BEGIN IMMEDIATE`); PostgreSQL takes table locks accordingly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Nothing beyond the transaction itself.
    Plain,
    /// Other writers of `druid_segments`.
    Segments,
    /// Other lock changes and allocations.
    Locks,
    /// Both: an allocation must never see a publish half done (its segments not yet in
    /// `druid_segments` while its pending ids are already gone).
    Publish,
    /// Other lookup updates (`druid_lookups`).
    Lookups,
}

/// What the shared SQL needs of a connection or an open transaction.
pub trait SqlTx {
    /// Runs a statement (`?N` placeholders); the rows it changed.
    fn exec(&mut self, sql: &str, args: &[Arg]) -> Result<usize>;

    /// Runs a query (`?N` placeholders); its rows.
    fn query(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<SqlRow>>;

    /// [`SqlTx::exec`] outside a transaction, run again (up to `attempts` times in all) when
    /// another process took the same unique key first. Without other processes writing (the
    /// SQLite store serializes all writers) it simply runs once.
    fn exec_retrying_unique(&mut self, sql: &str, args: &[Arg], attempts: usize) -> Result<usize> {
        let _ = attempts;
        self.exec(sql, args)
    }
}

impl dyn SqlTx + '_ {
    /// Runs a query and maps each row.
    pub fn query_as<T>(&mut self, sql: &str, args: &[Arg], f: impl Fn(&SqlRow) -> Result<T>) -> Result<Vec<T>> {
        self.query(sql, args)?.iter().map(f).collect()
    }

    /// Runs a query of at most one row and maps it.
    pub fn query_opt<T>(&mut self, sql: &str, args: &[Arg], f: impl Fn(&SqlRow) -> Result<T>) -> Result<Option<T>> {
        self.query(sql, args)?.first().map(f).transpose()
    }
}

/// `v` as a signed column value, or an error naming `what`.
pub fn to_i64(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v).map_err(|_| MsqError::Metadata(format!("{what} [{v}] is too large to store")))
}

/// The message of a metadata error (without the "metadata store error" prefix), for wrapping.
pub fn message(e: MsqError) -> String {
    match e {
        MsqError::Metadata(m) => m,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_translate() {
        assert_eq!(pg("a = ?1 AND b = ?12"), "a = $1 AND b = $12");
        assert!(!locks::insert_lock().contains('$'));
    }

    #[test]
    fn rows_read_by_type() {
        let row = SqlRow(vec![
            Value::Int(1),
            Value::Bool(true),
            Value::Null,
            Value::Text("{}".into()),
        ]);
        assert!(row.bool(0).unwrap());
        assert!(row.bool(1).unwrap());
        assert_eq!(row.opt_int(2).unwrap(), None);
        assert_eq!(row.opt_text(2).unwrap(), None);
        assert_eq!(row.json::<serde_json::Value>(3).unwrap(), serde_json::json!({}));
        assert!(row.text(0).is_err());
        assert!(row.u32(4).is_err());
        assert!(SqlRow(vec![Value::Int(-1)]).u64(0).is_err());
    }
}
