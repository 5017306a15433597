//! The parsed statement: its kind, target, `OVERWRITE`, partitioning, clustering and query.

use msq_engine::granularity::{Granularity, Interval};
use msq_engine::signature::Signature;
use msq_engine::{MsqError, Result};
use serde_json::Value;

/// The kind of a Druid SQL statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatementKind {
    Select,
    Insert,
    Replace,
}

impl StatementKind {
    /// Druid's name of the operation (`INSERT`, `REPLACE`, `SELECT`).
    pub fn name(&self) -> &'static str {
        match self {
            StatementKind::Select => "SELECT",
            StatementKind::Insert => "INSERT",
            StatementKind::Replace => "REPLACE",
        }
    }
}

/// What a `REPLACE` overwrites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overwrite {
    /// `OVERWRITE ALL`
    All,
    /// `OVERWRITE WHERE <__time condition>`: the condition as sorted, merged, half-open intervals.
    Where(Vec<Interval>),
}

impl Overwrite {
    /// The intervals replaced (`ETERNITY` for `OVERWRITE ALL`).
    pub fn intervals(&self) -> Vec<Interval> {
        match self {
            Overwrite::All => vec![Interval::eternity()],
            Overwrite::Where(v) => v.clone(),
        }
    }
}

/// One item of a `CLUSTERED BY` clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterKey {
    /// A column name (case kept exactly, quotes removed).
    Column(String),
    /// A 1-based ordinal into the SELECT list.
    Ordinal(usize),
    /// The SQL text of an arbitrary expression.
    Expr(String),
}

/// One `TABLE(EXTERN(...))` of the query, replaced in the query text by `"<table_name>"`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternSpec {
    /// The name the construct was replaced by, e.g. `__extern_0`.
    pub table_name: String,
    /// The `inputSource` JSON.
    pub input_source: Value,
    /// The `inputFormat` JSON.
    pub input_format: Value,
    /// The row signature (from the `signature` argument or the `EXTEND` clause).
    pub signature: Signature,
}

/// One `TABLE(APPEND('t1', 't2', ...))` of the query, replaced in the query text by
/// `"<table_name>"`: the rows of every table, columns matched by name (missing ones NULL).
#[derive(Debug, Clone, PartialEq)]
pub struct AppendSpec {
    /// The name the construct was replaced by, e.g. `__append_0`.
    pub table_name: String,
    /// The tables appended, in order.
    pub tables: Vec<String>,
}

/// A parsed Druid SQL statement.
#[derive(Debug, Clone, PartialEq)]
pub struct DruidStatement {
    pub kind: StatementKind,
    /// The dataSource of an `INSERT` / `REPLACE`.
    pub target: Option<String>,
    /// `REPLACE` only (required there).
    pub overwrite: Option<Overwrite>,
    /// Required for `INSERT` / `REPLACE`.
    pub partitioned_by: Option<Granularity>,
    pub clustered_by: Vec<ClusterKey>,
    /// The query body, with every `TABLE(EXTERN(...))` rewritten to `"__extern_N"` and every
    /// `FLOOR/CEIL(x TO unit)` rewritten to `TIME_FLOOR/TIME_CEIL(x, 'period')`.
    pub query_sql: String,
    pub externs: Vec<ExternSpec>,
    /// Every `TABLE(APPEND(...))`, rewritten to `"__append_N"`.
    pub appends: Vec<AppendSpec>,
    /// A top-level `ORDER BY` is present in the query body.
    pub has_order_by: bool,
    /// A top-level `LIMIT` (or `FETCH`) is present in the query body.
    pub has_limit: bool,
    /// A top-level `OFFSET` is present in the query body.
    pub has_offset: bool,
    /// `INSERT INTO EXTERN(...) AS <format>`: rows go to files (planned as a `SELECT`).
    pub export: Option<super::export::ExportSpec>,
}

impl DruidStatement {
    /// Checks Druid's rule that every `OVERWRITE WHERE` interval is aligned with the
    /// `PARTITIONED BY` granularity (not called by [`parse_statement`](super::parse_statement)).
    pub fn validate_overwrite_alignment(&self) -> Result<()> {
        let (Some(Overwrite::Where(intervals)), Some(g)) = (&self.overwrite, self.partitioned_by) else {
            return Ok(());
        };
        for iv in intervals {
            let start_ok = iv.start == i64::MIN || g.is_aligned(iv.start);
            let end_ok = iv.end == i64::MAX || g.is_aligned(iv.end);
            if g != Granularity::All && !(start_ok && end_ok) {
                return Err(MsqError::Validation(format!(
                    "OVERWRITE WHERE clause identified interval [{iv}] which is not aligned with PARTITIONED BY granularity [{g}]"
                )));
            }
        }
        Ok(())
    }
}
