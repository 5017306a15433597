//! The PostgreSQL metadata store: the same tables, statements and publish rules as
//! [`crate::SqliteMetadataStore`] (the shared [`crate::sql`]), for a metadata database
//! shared by several processes. This module only connects, starts transactions and converts
//! arguments and rows:
//!
//! * One connection, owned by a dedicated thread: the sync `postgres` client runs its own
//!   runtime, which must not start on a thread already driving async tasks; callers (blocking
//!   threads, or async code calling the trait directly) hand it closures and wait. A closed
//!   connection is reopened before the next call.
//! * Text columns use the `"C"` collation so comparisons and ordering are bytewise, as in
//!   SQLite, whatever the database's locale.
//! * Writers of `druid_segments` take `SHARE ROW EXCLUSIVE` on it for their transaction, so
//!   publishes from any number of processes are serialized like SQLite's `BEGIN IMMEDIATE`.
//! * Tables are created on connect, in the connection's `search_path` schema (choose one with
//!   `?options=-c%20search_path%3Dname` in the URL).

use crate::sql::{
    kill, locks, lookups, pending, pg, publish, schema, segments, tasks, Arg, Guard, SqlRow, SqlTx, Value,
};
use msq_engine::error::{MsqError, Result};
use msq_engine::granularity::Interval;
use msq_engine::metadata::allocation::{AllocateOutcome, AllocateRequest, LockOutcome, LockRequest, TaskLock};
use msq_engine::metadata::lookup::LookupRecord;
use msq_engine::metadata::segment::{SegmentId, SegmentRecord};
use msq_engine::metadata::store::{
    KillRequest, KillResult, MetadataStore, PublishResult, SegmentPublish, TaskFilter, TaskRecord,
};
use postgres::error::SqlState;
use postgres::types::{ToSql, Type};
use postgres::{Client, GenericClient, NoTls, Row};
use std::panic::AssertUnwindSafe;
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// Key of the advisory lock held while creating tables (concurrent `CREATE TABLE IF NOT
/// EXISTS` in PostgreSQL can fail instead of waiting).
const SCHEMA_LOCK_KEY: i64 = 0x6d73_715f_6d65_7461; // "msq_meta"

/// Serializes writers of `druid_segments` for the rest of the transaction.
const LOCK_SEGMENTS: &str = "LOCK TABLE druid_segments IN SHARE ROW EXCLUSIVE MODE";

/// Serializes lock changes, allocations and publishes (taken before [`LOCK_SEGMENTS`]):
/// an allocation must never see a publish half done (its segments not yet in
/// `druid_segments` while its pending ids are already gone).
const LOCK_TASKLOCKS: &str = "LOCK TABLE druid_tasklocks IN SHARE ROW EXCLUSIVE MODE";

/// Serializes lookup updates (each checks the stored version before it writes).
const LOCK_LOOKUPS: &str = "LOCK TABLE druid_lookups IN SHARE ROW EXCLUSIVE MODE";

/// Work sent to the connection thread: the connection, or why there is none.
type Job = Box<dyn FnOnce(std::result::Result<&mut Client, MsqError>) + Send>;

/// The PostgreSQL metadata store. Cheap to share behind an `Arc`; calls are serialized on one
/// connection.
pub struct PostgresMetadataStore {
    jobs: mpsc::Sender<Job>,
    /// The URL without its password, for `Debug`.
    display: String,
    decoded: Arc<segments::DecodedSegments>,
}

impl std::fmt::Debug for PostgresMetadataStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresMetadataStore")
            .field("url", &self.display)
            .finish_non_exhaustive()
    }
}

/// Turns `postgres` errors into [`MsqError::Metadata`].
trait Db<T> {
    fn db(self) -> Result<T>;
}

impl<T> Db<T> for std::result::Result<T, postgres::Error> {
    fn db(self) -> Result<T> {
        self.map_err(|e| MsqError::Metadata(pg_message(&e)))
    }
}

fn pg_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{}: {} ({detail})", db.severity(), db.message()),
            None => format!("{}: {}", db.severity(), db.message()),
        },
        None => e.to_string(),
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

impl PostgresMetadataStore {
    /// Connects to the database at `url` (`postgres://user:pass@host:port/db?...`, or the
    /// key=value form) and creates the tables if they do not exist.
    pub fn connect(url: &str) -> Result<Self> {
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| MsqError::Metadata(format!("Invalid PostgreSQL URL [{}]: {e}", redact_url(url))))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(30));
        }
        if config.get_application_name().is_none() {
            config.application_name("msq");
        }
        let display = redact_url(url);
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("msq-metadata-pg".into())
            .spawn(move || connection_thread(config, rx))
            .map_err(|e| MsqError::Metadata(format!("cannot start the metadata connection thread: {e}")))?;
        let store = PostgresMetadataStore {
            jobs: tx,
            display,
            decoded: Arc::default(),
        };
        store.call(|c| {
            let mut tx = c.transaction().db()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK_KEY])
                .db()?;
            tx.batch_execute(&schema::tables(schema::PG_COLLATE)).db()?;
            tx.batch_execute(schema::CREATE_LOCKS).db()?;
            tx.batch_execute(schema::CREATE_LOOKUPS).db()?;
            tx.commit().db()?;
            if let Err(e) = c.batch_execute(schema::UNIQUE_PENDING_ID) {
                tracing::warn!(
                    "metadata store: pending segment ids are not unique ({}); delete stale pending segments",
                    pg_message(&e)
                );
            }
            Ok(())
        })?;
        Ok(store)
    }

    /// Runs `f` on the connection thread and waits for its result.
    fn call<T: Send + 'static>(&self, f: impl FnOnce(&mut Client) -> Result<T> + Send + 'static) -> Result<T> {
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |conn| {
            let _ = tx.send(conn.and_then(f));
        });
        let gone = || MsqError::Metadata("the metadata store's connection thread has stopped".into());
        self.jobs.send(job).map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())?
    }
}

/// Owns the connection: (re)connects when needed, runs jobs until the store is dropped.
fn connection_thread(config: postgres::Config, jobs: mpsc::Receiver<Job>) {
    let mut client: Option<Client> = None;
    while let Ok(job) = jobs.recv() {
        if client.as_ref().is_some_and(Client::is_closed) {
            client = None;
        }
        if client.is_none() {
            match config.connect(NoTls) {
                Ok(c) => client = Some(c),
                Err(e) => {
                    job(Err(MsqError::Metadata(format!(
                        "cannot connect to the PostgreSQL metadata store: {}",
                        pg_message(&e)
                    ))));
                    continue;
                }
            }
        }
        let conn = client.as_mut().expect("connected above");
        // A panicking job drops its reply channel (the caller gets an error); the connection
        // may be mid-transaction, so it is replaced.
        if std::panic::catch_unwind(AssertUnwindSafe(|| job(Ok(conn)))).is_err() {
            client = None;
        }
    }
}

fn is_unique_violation(e: &postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// The shared SQL over a PostgreSQL connection or transaction.
struct PgTx<'a, C: GenericClient>(&'a mut C);

fn pg_args(args: &[Arg]) -> Vec<Box<dyn ToSql + Sync>> {
    args.iter()
        .map(|a| -> Box<dyn ToSql + Sync> {
            match a {
                Arg::Text(t) => Box::new(t.clone()),
                Arg::Int(i) => Box::new(*i),
                Arg::Bool(b) => Box::new(*b),
                Arg::OptText(t) => Box::new(t.clone()),
                Arg::OptInt(i) => Box::new(*i),
            }
        })
        .collect()
}

/// A result row as column values, by the columns' types (the schema only has `BIGINT`,
/// `BOOLEAN` and text columns).
fn row_values(row: &Row) -> Result<SqlRow> {
    let value = |idx: usize| -> Result<Value> {
        let ty = row.columns()[idx].type_();
        Ok(if *ty == Type::BOOL {
            row.try_get::<_, Option<bool>>(idx)
                .db()?
                .map_or(Value::Null, Value::Bool)
        } else if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(idx).db()?.map_or(Value::Null, Value::Int)
        } else if *ty == Type::INT4 {
            let v = row.try_get::<_, Option<i32>>(idx).db()?;
            v.map_or(Value::Null, |v| Value::Int(v.into()))
        } else {
            row.try_get::<_, Option<String>>(idx)
                .db()?
                .map_or(Value::Null, Value::Text)
        })
    };
    (0..row.len()).map(value).collect::<Result<_>>().map(SqlRow)
}

impl<C: GenericClient> SqlTx for PgTx<'_, C> {
    fn exec(&mut self, sql: &str, args: &[Arg]) -> Result<usize> {
        let owned = pg_args(args);
        let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|b| b.as_ref()).collect();
        Ok(self.0.execute(&pg(sql), &refs).db()? as usize)
    }

    fn query(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<SqlRow>> {
        let owned = pg_args(args);
        let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|b| b.as_ref()).collect();
        self.0.query(&pg(sql), &refs).db()?.iter().map(row_values).collect()
    }

    /// Other processes can take the same key between the statement's read and its insert.
    fn exec_retrying_unique(&mut self, sql: &str, args: &[Arg], attempts: usize) -> Result<usize> {
        let owned = pg_args(args);
        let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|b| b.as_ref()).collect();
        let sql = pg(sql);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.0.execute(&sql, &refs) {
                Ok(n) => return Ok(n as usize),
                Err(e) if is_unique_violation(&e) && attempt < attempts => continue,
                Err(e) => return Err(MsqError::Metadata(pg_message(&e))),
            }
        }
    }
}

/// The table locks a transaction takes first to serialize as `guard` asks.
fn table_locks(guard: Guard) -> &'static [&'static str] {
    match guard {
        Guard::Plain => &[],
        Guard::Segments => &[LOCK_SEGMENTS],
        Guard::Locks => &[LOCK_TASKLOCKS],
        Guard::Publish => &[LOCK_TASKLOCKS, LOCK_SEGMENTS],
        Guard::Lookups => &[LOCK_LOOKUPS],
    }
}

impl PostgresMetadataStore {
    /// Runs `f` on the connection thread, each statement in its own transaction.
    fn run<T: Send + 'static>(&self, f: impl FnOnce(&mut dyn SqlTx) -> Result<T> + Send + 'static) -> Result<T> {
        self.call(move |c| f(&mut PgTx(c)))
    }

    /// Runs `f` in a transaction holding the [`table_locks`] of `guard`, committing when it
    /// succeeds.
    fn in_tx<T: Send + 'static>(
        &self,
        guard: Guard,
        f: impl FnOnce(&mut dyn SqlTx) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.call(move |c| {
            let mut tx = c.transaction().db()?;
            for lock in table_locks(guard) {
                tx.batch_execute(lock).db()?;
            }
            let out = f(&mut PgTx(&mut tx))?; // an error drops `tx`, rolling everything back
            tx.commit().db()?;
            Ok(out)
        })
    }
}

/// Arguments are owned before they move to the connection thread.
impl MetadataStore for PostgresMetadataStore {
    fn lock_intervals(&self, req: &LockRequest) -> Result<LockOutcome> {
        let req = req.clone();
        self.in_tx(Guard::Locks, move |tx| locks::lock_in(tx, &req))
    }

    fn allocate_segments(&self, req: &AllocateRequest) -> Result<AllocateOutcome> {
        let req = req.clone();
        self.in_tx(Guard::Locks, move |tx| locks::allocate_in(tx, &req))
    }

    fn renew_locks(&self, task_id: &str, expires_ms: i64) -> Result<usize> {
        let task_id = task_id.to_string();
        self.in_tx(Guard::Locks, move |tx| locks::renew(tx, &task_id, expires_ms))
    }

    fn release_locks(&self, task_id: &str) -> Result<usize> {
        let task_id = task_id.to_string();
        self.in_tx(Guard::Locks, move |tx| locks::release(tx, &task_id))
    }

    fn task_locks(&self, data_source: &str) -> Result<Vec<TaskLock>> {
        let ds = data_source.to_string();
        self.run(move |tx| locks::of_data_source(tx, &ds))
    }

    fn pending_segments_for_task(&self, task_id: &str) -> Result<Vec<SegmentId>> {
        let task_id = task_id.to_string();
        self.run(move |tx| pending::of_task(tx, &task_id))
    }

    fn used_segments(&self, data_source: &str, interval: Option<Interval>) -> Result<Vec<SegmentRecord>> {
        let ds = data_source.to_string();
        let decoded = self.decoded.clone();
        self.run(move |tx| segments::used(tx, &decoded, &ds, interval))
    }

    fn all_segments(&self, data_source: &str) -> Result<Vec<SegmentRecord>> {
        let ds = data_source.to_string();
        self.run(move |tx| segments::query(tx, &ds, None, false))
    }

    fn data_sources(&self) -> Result<Vec<String>> {
        self.run(segments::data_sources)
    }

    fn all_data_sources(&self) -> Result<Vec<String>> {
        self.run(segments::all_data_sources)
    }

    fn segment(&self, id: &str) -> Result<Option<SegmentRecord>> {
        let id = id.to_string();
        self.run(move |tx| segments::by_id(tx, &id))
    }

    fn publish(&self, p: &SegmentPublish) -> Result<PublishResult> {
        let p = p.clone();
        self.in_tx(Guard::Publish, move |tx| publish::publish(tx, &p))
    }

    fn mark_unused(&self, data_source: &str, interval: Option<Interval>) -> Result<Vec<SegmentId>> {
        let ds = data_source.to_string();
        self.in_tx(Guard::Segments, move |tx| segments::mark_unused(tx, &ds, interval))
    }

    fn set_segments_used(&self, ids: &[String], used: bool) -> Result<usize> {
        let ids = ids.to_vec();
        self.in_tx(Guard::Segments, move |tx| segments::set_used(tx, &ids, used))
    }

    fn kill_unused_segments(&self, req: &KillRequest) -> Result<KillResult> {
        let req = req.clone();
        self.in_tx(Guard::Publish, move |tx| kill::kill_unused(tx, &req))
    }

    fn insert_pending_segments(&self, task_id: &str, ids: &[SegmentId]) -> Result<()> {
        let (task_id, ids) = (task_id.to_string(), ids.to_vec());
        self.in_tx(Guard::Plain, move |tx| pending::insert(tx, &task_id, &ids))
    }

    fn pending_segments(&self, data_source: &str) -> Result<Vec<SegmentId>> {
        let ds = data_source.to_string();
        self.run(move |tx| pending::of_data_source(tx, &ds))
    }

    fn delete_pending_segments(&self, data_source: &str) -> Result<usize> {
        let ds = data_source.to_string();
        self.run(move |tx| pending::delete_orphans(tx, &ds))
    }

    fn delete_pending_segments_for_task(&self, task_id: &str) -> Result<usize> {
        let task_id = task_id.to_string();
        self.run(move |tx| pending::delete_of_task(tx, &task_id))
    }

    fn insert_task(&self, t: &TaskRecord) -> Result<()> {
        let t = t.clone();
        self.run(move |tx| tasks::insert(tx, &t))
    }

    fn update_task(&self, t: &TaskRecord) -> Result<()> {
        let t = t.clone();
        self.run(move |tx| tasks::update(tx, &t))
    }

    fn set_task_report(&self, task_id: &str, report: &serde_json::Value) -> Result<()> {
        let (task_id, report) = (task_id.to_string(), report.clone());
        self.run(move |tx| tasks::set_report(tx, &task_id, &report))
    }

    fn get_task(&self, task_id: &str) -> Result<Option<TaskRecord>> {
        let task_id = task_id.to_string();
        self.run(move |tx| tasks::get(tx, &task_id))
    }

    fn list_tasks(&self, filter: &TaskFilter) -> Result<Vec<TaskRecord>> {
        let Some(query) = tasks::list_query(filter) else {
            return Ok(Vec::new());
        };
        self.run(move |tx| tasks::list(tx, &query))
    }

    fn append_task_log(&self, task_id: &str, line: &str) -> Result<()> {
        let (task_id, line) = (task_id.to_string(), line.to_string());
        self.run(move |tx| tasks::append_log(tx, &task_id, &line))
    }

    fn task_log(&self, task_id: &str) -> Result<String> {
        let task_id = task_id.to_string();
        self.run(move |tx| tasks::log(tx, &task_id))
    }

    fn delete_completed_tasks_before(&self, cutoff_iso: &str) -> Result<usize> {
        let cutoff = cutoff_iso.to_string();
        self.in_tx(Guard::Plain, move |tx| tasks::delete_completed_before(tx, &cutoff))
    }

    fn lookups(&self) -> Result<Vec<LookupRecord>> {
        self.run(lookups::all)
    }

    fn lookup(&self, tier: &str, name: &str) -> Result<Option<LookupRecord>> {
        let (tier, name) = (tier.to_string(), name.to_string());
        self.run(move |tx| lookups::get(tx, &tier, &name))
    }

    fn put_lookups(&self, records: &[LookupRecord], replace: bool) -> Result<()> {
        let records = records.to_vec();
        self.in_tx(Guard::Lookups, move |tx| lookups::put(tx, &records, replace))
    }

    fn delete_lookups(&self, tier: &str, name: Option<&str>) -> Result<usize> {
        let (tier, name) = (tier.to_string(), name.map(str::to_string));
        self.run(move |tx| lookups::delete(tx, &tier, name.as_deref()))
    }
}

#[cfg(test)]
mod tests;
