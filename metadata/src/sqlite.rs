//! The embedded metadata store: one SQLite database file (WAL mode) behind a mutex. The
//! statements are the shared ones of [`crate::sql`]; this module opens the connection, starts
//! transactions (`BEGIN IMMEDIATE`: every write is serialized) and converts arguments and
//! rows.

use crate::sql::{kill, locks, lookups, pending, publish, schema, segments, tasks, Arg, Guard, SqlRow, SqlTx, Value};
use msq_engine::error::{MsqError, Result};
use msq_engine::granularity::Interval;
use msq_engine::metadata::allocation::{AllocateOutcome, AllocateRequest, LockOutcome, LockRequest, TaskLock};
use msq_engine::metadata::lookup::LookupRecord;
use msq_engine::metadata::segment::{SegmentId, SegmentRecord};
use msq_engine::metadata::store::{
    KillRequest, KillResult, MetadataStore, PublishResult, SegmentPublish, TaskFilter, TaskRecord,
};
use rusqlite::types::{Type, ValueRef};
use rusqlite::{params_from_iter, Connection, TransactionBehavior};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// rusqlite's errors as metadata errors: `?` cannot convert them, both types being foreign here.
trait Db<T> {
    fn db(self) -> Result<T>;
}

impl<T> Db<T> for rusqlite::Result<T> {
    fn db(self) -> Result<T> {
        self.map_err(|e| MsqError::Metadata(e.to_string()))
    }
}

/// The SQLite metadata store. Cheap to share behind an `Arc`; calls are serialized on one
/// connection.
pub struct SqliteMetadataStore {
    conn: Mutex<Connection>,
    decoded: segments::DecodedSegments,
}

impl std::fmt::Debug for SqliteMetadataStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteMetadataStore").finish_non_exhaustive()
    }
}

impl SqliteMetadataStore {
    /// Opens (creating if missing) the database file at `path`, in WAL mode, and creates the
    /// tables if they do not exist.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let conn = Connection::open(path).db()?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .db()?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!("metadata store {}: journal_mode is {mode}, not WAL", path.display());
        }
        conn.pragma_update(None, "synchronous", "NORMAL").db()?;
        Self::init(conn)
    }

    /// A private in-memory database (for tests).
    pub fn open_in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory().db()?)
    }

    fn init(conn: Connection) -> Result<Self> {
        conn.busy_timeout(Duration::from_secs(30)).db()?;
        conn.execute_batch(&schema::tables(schema::SQLITE_COLLATE)).db()?;
        conn.execute_batch(schema::CREATE_LOCKS).db()?;
        conn.execute_batch(schema::CREATE_LOOKUPS).db()?;
        if let Err(e) = conn.execute_batch(schema::UNIQUE_PENDING_ID) {
            tracing::warn!("metadata store: pending segment ids are not unique ({e}); delete stale pending segments");
        }
        Ok(SqliteMetadataStore {
            conn: Mutex::new(conn),
            decoded: Default::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock drops any open transaction (rolling it back), so the
        // connection is still consistent.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The shared SQL over a SQLite connection or transaction.
struct SqliteTx<'a>(&'a Connection);

fn sql_args(args: &[Arg]) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value as V;
    let text = |t: &Option<String>| t.clone().map_or(V::Null, V::Text);
    args.iter()
        .map(|a| match a {
            Arg::Text(t) => V::Text(t.clone()),
            Arg::Int(i) => V::Integer(*i),
            Arg::Bool(b) => V::Integer(i64::from(*b)),
            Arg::OptText(t) => text(t),
            Arg::OptInt(i) => i.map_or(V::Null, V::Integer),
        })
        .collect()
}

/// A result row as column values (SQLite stores booleans as integers).
fn row_values(row: &rusqlite::Row<'_>, columns: usize) -> rusqlite::Result<SqlRow> {
    let value = |idx: usize| -> rusqlite::Result<Value> {
        Ok(match row.get_ref(idx)? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Int(i),
            ValueRef::Text(t) => Value::Text(
                std::str::from_utf8(t)
                    .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))?
                    .to_string(),
            ),
            ValueRef::Real(_) => return Err(rusqlite::Error::InvalidColumnType(idx, String::new(), Type::Real)),
            ValueRef::Blob(_) => return Err(rusqlite::Error::InvalidColumnType(idx, String::new(), Type::Blob)),
        })
    };
    (0..columns).map(value).collect::<rusqlite::Result<_>>().map(SqlRow)
}

impl SqlTx for SqliteTx<'_> {
    fn exec(&mut self, sql: &str, args: &[Arg]) -> Result<usize> {
        self.0
            .prepare_cached(sql)
            .db()?
            .execute(params_from_iter(sql_args(args)))
            .db()
    }

    fn query(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<SqlRow>> {
        let mut stmt = self.0.prepare_cached(sql).db()?;
        let columns = stmt.column_count();
        let rows = stmt
            .query_map(params_from_iter(sql_args(args)), |r| row_values(r, columns))
            .db()?;
        rows.collect::<rusqlite::Result<Vec<_>>>().db()
    }
}

impl SqliteMetadataStore {
    /// Runs `f` on the connection, each statement in its own transaction.
    fn run<T>(&self, f: impl FnOnce(&mut dyn SqlTx) -> Result<T>) -> Result<T> {
        f(&mut SqliteTx(&self.lock()))
    }

    /// Runs `f` in an immediate (write-locked) transaction, committing when it succeeds. The
    /// write lock serializes it against every other writer, which covers any [`Guard`].
    fn in_tx<T>(&self, _guard: Guard, f: impl FnOnce(&mut dyn SqlTx) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).db()?;
        let out = f(&mut SqliteTx(&tx))?; // an error drops `tx`, rolling everything back
        tx.commit().db()?;
        Ok(out)
    }
}

impl MetadataStore for SqliteMetadataStore {
    fn lock_intervals(&self, req: &LockRequest) -> Result<LockOutcome> {
        self.in_tx(Guard::Locks, |tx| locks::lock_in(tx, req))
    }

    fn allocate_segments(&self, req: &AllocateRequest) -> Result<AllocateOutcome> {
        self.in_tx(Guard::Locks, |tx| locks::allocate_in(tx, req))
    }

    fn renew_locks(&self, task_id: &str, expires_ms: i64) -> Result<usize> {
        self.in_tx(Guard::Locks, |tx| locks::renew(tx, task_id, expires_ms))
    }

    fn release_locks(&self, task_id: &str) -> Result<usize> {
        self.in_tx(Guard::Locks, |tx| locks::release(tx, task_id))
    }

    fn task_locks(&self, data_source: &str) -> Result<Vec<TaskLock>> {
        self.run(|tx| locks::of_data_source(tx, data_source))
    }

    fn pending_segments_for_task(&self, task_id: &str) -> Result<Vec<SegmentId>> {
        self.run(|tx| pending::of_task(tx, task_id))
    }

    fn used_segments(&self, data_source: &str, interval: Option<Interval>) -> Result<Vec<SegmentRecord>> {
        self.run(|tx| segments::used(tx, &self.decoded, data_source, interval))
    }

    fn all_segments(&self, data_source: &str) -> Result<Vec<SegmentRecord>> {
        self.run(|tx| segments::query(tx, data_source, None, false))
    }

    fn data_sources(&self) -> Result<Vec<String>> {
        self.run(segments::data_sources)
    }

    fn all_data_sources(&self) -> Result<Vec<String>> {
        self.run(segments::all_data_sources)
    }

    fn segment(&self, id: &str) -> Result<Option<SegmentRecord>> {
        self.run(|tx| segments::by_id(tx, id))
    }

    fn publish(&self, p: &SegmentPublish) -> Result<PublishResult> {
        self.in_tx(Guard::Publish, |tx| publish::publish(tx, p))
    }

    fn mark_unused(&self, data_source: &str, interval: Option<Interval>) -> Result<Vec<SegmentId>> {
        self.in_tx(Guard::Segments, |tx| segments::mark_unused(tx, data_source, interval))
    }

    fn set_segments_used(&self, ids: &[String], used: bool) -> Result<usize> {
        self.in_tx(Guard::Segments, |tx| segments::set_used(tx, ids, used))
    }

    fn kill_unused_segments(&self, req: &KillRequest) -> Result<KillResult> {
        self.in_tx(Guard::Publish, |tx| kill::kill_unused(tx, req))
    }

    fn insert_pending_segments(&self, task_id: &str, ids: &[SegmentId]) -> Result<()> {
        self.in_tx(Guard::Plain, |tx| pending::insert(tx, task_id, ids))
    }

    fn pending_segments(&self, data_source: &str) -> Result<Vec<SegmentId>> {
        self.run(|tx| pending::of_data_source(tx, data_source))
    }

    fn delete_pending_segments(&self, data_source: &str) -> Result<usize> {
        self.run(|tx| pending::delete_orphans(tx, data_source))
    }

    fn delete_pending_segments_for_task(&self, task_id: &str) -> Result<usize> {
        self.run(|tx| pending::delete_of_task(tx, task_id))
    }

    fn insert_task(&self, t: &TaskRecord) -> Result<()> {
        self.run(|tx| tasks::insert(tx, t))
    }

    fn update_task(&self, t: &TaskRecord) -> Result<()> {
        self.run(|tx| tasks::update(tx, t))
    }

    fn set_task_report(&self, task_id: &str, report: &serde_json::Value) -> Result<()> {
        self.run(|tx| tasks::set_report(tx, task_id, report))
    }

    fn get_task(&self, task_id: &str) -> Result<Option<TaskRecord>> {
        self.run(|tx| tasks::get(tx, task_id))
    }

    fn list_tasks(&self, filter: &TaskFilter) -> Result<Vec<TaskRecord>> {
        let Some(query) = tasks::list_query(filter) else {
            return Ok(Vec::new());
        };
        self.run(|tx| tasks::list(tx, &query))
    }

    fn append_task_log(&self, task_id: &str, line: &str) -> Result<()> {
        self.run(|tx| tasks::append_log(tx, task_id, line))
    }

    fn task_log(&self, task_id: &str) -> Result<String> {
        self.run(|tx| tasks::log(tx, task_id))
    }

    fn delete_completed_tasks_before(&self, cutoff_iso: &str) -> Result<usize> {
        self.in_tx(Guard::Plain, |tx| tasks::delete_completed_before(tx, cutoff_iso))
    }

    fn lookups(&self) -> Result<Vec<LookupRecord>> {
        self.run(lookups::all)
    }

    fn lookup(&self, tier: &str, name: &str) -> Result<Option<LookupRecord>> {
        self.run(|tx| lookups::get(tx, tier, name))
    }

    fn put_lookups(&self, records: &[LookupRecord], replace: bool) -> Result<()> {
        self.in_tx(Guard::Lookups, |tx| lookups::put(tx, records, replace))
    }

    fn delete_lookups(&self, tier: &str, name: Option<&str>) -> Result<usize> {
        self.run(|tx| lookups::delete(tx, tier, name))
    }
}

#[cfg(test)]
mod tests;
