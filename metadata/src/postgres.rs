//! The PostgreSQL metadata store: the same tables, queries and publish rules as
//! [`crate::SqliteMetadataStore`], for a metadata database shared by several processes.
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

use msq_engine::metadata::allocation::{AllocateOutcome, AllocateRequest, LockOutcome, LockRequest, LockType, TaskLock};
use crate::lock_sql::{self, allocate_in, check_publish_locks, lock_in, pg, Arg, LockTx};
use msq_engine::metadata::segment::{SegmentId, SegmentRecord};
use msq_engine::metadata::store::{
    check_publish, now_iso, segments_to_mark_unused, MetadataStore, PublishResult, SegmentPublish, TaskFilter,
    TaskRecord,
};
use msq_engine::error::{MsqError, Result};
use msq_engine::granularity::Interval;
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, GenericClient, NoTls, Row};
use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::time::Duration;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS druid_segments (
    id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    dataSource TEXT COLLATE "C" NOT NULL,
    "start" BIGINT NOT NULL,
    "end" BIGINT NOT NULL,
    start_iso TEXT COLLATE "C" NOT NULL,
    end_iso TEXT COLLATE "C" NOT NULL,
    version TEXT COLLATE "C" NOT NULL,
    partition_num BIGINT NOT NULL,
    used BOOLEAN NOT NULL,
    is_tombstone BOOLEAN NOT NULL,
    num_rows BIGINT NOT NULL,
    size_bytes BIGINT NOT NULL,
    path TEXT COLLATE "C" NOT NULL,
    signature TEXT NOT NULL,
    min_time BIGINT,
    max_time BIGINT,
    shard_spec TEXT NOT NULL,
    created_date TEXT COLLATE "C" NOT NULL,
    used_status_last_updated TEXT COLLATE "C" NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_druid_segments_datasource_used_end_start
    ON druid_segments (dataSource, used, "end", "start");

CREATE TABLE IF NOT EXISTS "druid_pendingSegments" (
    id TEXT COLLATE "C" NOT NULL,
    dataSource TEXT COLLATE "C" NOT NULL,
    "interval" TEXT COLLATE "C" NOT NULL,
    "start" BIGINT NOT NULL,
    "end" BIGINT NOT NULL,
    version TEXT COLLATE "C" NOT NULL,
    partition_num BIGINT NOT NULL,
    task_id TEXT COLLATE "C" NOT NULL,
    created_date TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (id, task_id)
);
CREATE INDEX IF NOT EXISTS "idx_druid_pendingSegments_datasource"
    ON "druid_pendingSegments" (dataSource);
CREATE INDEX IF NOT EXISTS "idx_druid_pendingSegments_task"
    ON "druid_pendingSegments" (task_id);

CREATE TABLE IF NOT EXISTS druid_tasks (
    id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    group_id TEXT COLLATE "C" NOT NULL,
    "type" TEXT COLLATE "C" NOT NULL,
    data_source TEXT COLLATE "C" NOT NULL,
    created_time TEXT COLLATE "C" NOT NULL,
    queue_insertion_time TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    runner_status TEXT COLLATE "C" NOT NULL,
    duration_ms BIGINT NOT NULL,
    error_msg TEXT,
    location TEXT NOT NULL,
    payload TEXT NOT NULL,
    report TEXT,
    opaque_id TEXT,
    updated_time TEXT COLLATE "C" NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_druid_tasks_created_time ON druid_tasks (created_time);
CREATE INDEX IF NOT EXISTS idx_druid_tasks_status_created_time ON druid_tasks (status, created_time);

CREATE TABLE IF NOT EXISTS druid_tasklogs (
    task_id TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (task_id, seq)
);
"#;

/// Key of the advisory lock held while creating tables (concurrent `CREATE TABLE IF NOT
/// EXISTS` in PostgreSQL can fail instead of waiting).
const SCHEMA_LOCK_KEY: i64 = 0x6d73_715f_6d65_7461; // "msq_meta"

/// Serializes writers of `druid_segments` for the rest of the transaction.
const LOCK_SEGMENTS: &str = "LOCK TABLE druid_segments IN SHARE ROW EXCLUSIVE MODE";

/// Serializes lock changes, allocations and publishes (taken before [`LOCK_SEGMENTS`]):
/// an allocation must never see a publish half done (its segments not yet in
/// `druid_segments` while its pending ids are already gone).
const LOCK_TASKLOCKS: &str = "LOCK TABLE druid_tasklocks IN SHARE ROW EXCLUSIVE MODE";

/// How often `append_task_log` retries when another process took the same sequence number.
const LOG_APPEND_ATTEMPTS: usize = 5;

const SEGMENT_COLUMNS: &str = r#"id, dataSource, "start", "end", version, partition_num, used, is_tombstone, num_rows,
    size_bytes, path, signature, min_time, max_time, shard_spec, created_date, used_status_last_updated"#;

const TASK_COLUMNS: &str = r#"id, group_id, "type", data_source, created_time, queue_insertion_time, status,
    runner_status, duration_ms, error_msg, location, payload, report, opaque_id"#;

/// Work sent to the connection thread: the connection, or why there is none.
type Job = Box<dyn FnOnce(std::result::Result<&mut Client, MsqError>) + Send>;

/// The PostgreSQL metadata store. Cheap to share behind an `Arc`; calls are serialized on one
/// connection.
pub struct PostgresMetadataStore {
    jobs: mpsc::Sender<Job>,
    /// The URL without its password, for `Debug`.
    display: String,
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
        let store = PostgresMetadataStore { jobs: tx, display };
        store.call(|c| {
            let mut tx = c.transaction().db()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK_KEY])
                .db()?;
            tx.batch_execute(SCHEMA).db()?;
            tx.batch_execute(lock_sql::CREATE_LOCKS).db()?;
            tx.commit().db()?;
            if let Err(e) = c.batch_execute(lock_sql::UNIQUE_PENDING_ID) {
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

fn to_i64(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v).map_err(|_| MsqError::Metadata(format!("{what} [{v}] is too large to store")))
}

fn col_u64(row: &Row, idx: usize) -> Result<u64> {
    let v: i64 = row.try_get(idx).db()?;
    u64::try_from(v).map_err(|_| MsqError::Metadata(format!("column {idx}: negative value [{v}]")))
}

fn col_u32(row: &Row, idx: usize) -> Result<u32> {
    let v: i64 = row.try_get(idx).db()?;
    u32::try_from(v).map_err(|_| MsqError::Metadata(format!("column {idx}: value [{v}] out of range")))
}

fn col_json<T: serde::de::DeserializeOwned>(row: &Row, idx: usize) -> Result<T> {
    let text: String = row.try_get(idx).db()?;
    Ok(serde_json::from_str(&text)?)
}

fn col_opt_json(row: &Row, idx: usize) -> Result<Option<serde_json::Value>> {
    let text: Option<String> = row.try_get(idx).db()?;
    Ok(text.map(|t| serde_json::from_str(&t)).transpose()?)
}

fn segment_from_row(row: &Row) -> Result<SegmentRecord> {
    Ok(SegmentRecord {
        id: SegmentId {
            data_source: row.try_get(1).db()?,
            interval: Interval::new(row.try_get(2).db()?, row.try_get(3).db()?),
            version: row.try_get(4).db()?,
            partition_num: col_u32(row, 5)?,
        },
        used: row.try_get(6).db()?,
        is_tombstone: row.try_get(7).db()?,
        num_rows: col_u64(row, 8)?,
        size_bytes: col_u64(row, 9)?,
        path: row.try_get(10).db()?,
        signature: col_json(row, 11)?,
        min_time: row.try_get(12).db()?,
        max_time: row.try_get(13).db()?,
        shard_spec: col_json(row, 14)?,
        created_date: row.try_get(15).db()?,
        used_status_last_updated: row.try_get(16).db()?,
    })
}

fn task_from_row(row: &Row) -> Result<TaskRecord> {
    Ok(TaskRecord {
        id: row.try_get(0).db()?,
        group_id: row.try_get(1).db()?,
        task_type: row.try_get(2).db()?,
        data_source: row.try_get(3).db()?,
        created_time: row.try_get(4).db()?,
        queue_insertion_time: row.try_get(5).db()?,
        status: row.try_get(6).db()?,
        runner_status: row.try_get(7).db()?,
        duration_ms: row.try_get(8).db()?,
        error_msg: row.try_get(9).db()?,
        location: col_json(row, 10)?,
        payload: col_json(row, 11)?,
        report: col_opt_json(row, 12)?,
        opaque_id: row.try_get(13).db()?,
    })
}

fn query_segments(
    c: &mut impl GenericClient,
    data_source: &str,
    interval: Option<Interval>,
    used_only: bool,
) -> Result<Vec<SegmentRecord>> {
    let iv = interval.unwrap_or_else(Interval::eternity);
    let used_clause = if used_only { "AND used = TRUE" } else { "" };
    let sql = format!(
        r#"SELECT {SEGMENT_COLUMNS} FROM druid_segments
           WHERE dataSource = $1 {used_clause} AND "start" < $2 AND "end" > $3
           ORDER BY "start", "end", version, partition_num"#
    );
    c.query(&sql, &[&data_source, &iv.end, &iv.start])
        .db()?
        .iter()
        .map(segment_from_row)
        .collect()
}

fn insert_segment(c: &mut impl GenericClient, s: &SegmentRecord, now: &str) -> Result<()> {
    let iso = s.id.interval.to_iso();
    let (start_iso, end_iso) = iso.split_once('/').unwrap_or((iso.as_str(), iso.as_str()));
    let or_now = |v: &str| {
        if v.is_empty() {
            now.to_string()
        } else {
            v.to_string()
        }
    };
    let id = s.id.to_string();
    let partition_num = i64::from(s.id.partition_num);
    let num_rows = to_i64(s.num_rows, "num_rows")?;
    let size_bytes = to_i64(s.size_bytes, "size_bytes")?;
    let signature = serde_json::to_string(&s.signature)?;
    let shard_spec = serde_json::to_string(&s.shard_spec)?;
    let created_date = or_now(&s.created_date);
    let used_status_last_updated = or_now(&s.used_status_last_updated);
    c.execute(
        &format!(
            "INSERT INTO druid_segments ({SEGMENT_COLUMNS}, start_iso, end_iso)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
        ),
        &[
            &id,
            &s.id.data_source,
            &s.id.interval.start,
            &s.id.interval.end,
            &s.id.version,
            &partition_num,
            &true,
            &s.is_tombstone,
            &num_rows,
            &size_bytes,
            &s.path,
            &signature,
            &s.min_time,
            &s.max_time,
            &shard_spec,
            &created_date,
            &used_status_last_updated,
            &start_iso,
            &end_iso,
        ],
    )
    .map_err(|e| MsqError::Metadata(format!("cannot publish segment [{}]: {}", s.id, pg_message(&e))))?;
    Ok(())
}

fn mark_ids_unused(c: &mut impl GenericClient, ids: &[SegmentId], now: &str) -> Result<()> {
    for id in ids {
        c.execute(
            "UPDATE druid_segments SET used = FALSE, used_status_last_updated = $1 WHERE id = $2 AND used = TRUE",
            &[&now, &id.to_string()],
        )
        .db()?;
    }
    Ok(())
}

fn publish_in(c: &mut impl GenericClient, p: &SegmentPublish) -> Result<PublishResult> {
    check_publish(p)?;
    check_publish_locks(&mut PgTx(c), p)?;
    let now = now_iso();
    let used = query_segments(c, &p.data_source, None, true)?;
    let marked = segments_to_mark_unused(&used, p);
    mark_ids_unused(c, &marked, &now)?;
    let mut published = Vec::with_capacity(p.segments.len());
    for s in &p.segments {
        insert_segment(c, s, &now)?;
        published.push(s.id.clone());
    }
    c.execute(
        r#"DELETE FROM "druid_pendingSegments" WHERE task_id = $1"#,
        &[&p.task_id],
    )
    .db()?;
    Ok(PublishResult {
        published,
        marked_unused: marked,
    })
}

fn is_unique_violation(e: &postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// A `dataSource, start, end, version, partition_num` row.
fn id_from_row(r: &Row) -> Result<SegmentId> {
    Ok(SegmentId {
        data_source: r.try_get(0).db()?,
        interval: Interval::new(r.try_get(1).db()?, r.try_get(2).db()?),
        version: r.try_get(3).db()?,
        partition_num: col_u32(r, 4)?,
    })
}

/// A `druid_tasklocks` row.
fn lock_from_row(r: &Row) -> Result<TaskLock> {
    let kind: String = r.try_get(4).db()?;
    Ok(TaskLock {
        task_id: r.try_get(0).db()?,
        data_source: r.try_get(1).db()?,
        interval: Interval::new(r.try_get(2).db()?, r.try_get(3).db()?),
        lock_type: LockType::from_name(&kind)
            .ok_or_else(|| MsqError::Metadata(format!("unknown lock type [{kind}]")))?,
        version: r.try_get(5).db()?,
        expires_ms: r.try_get(6).db()?,
    })
}

/// The shared lock and allocation logic over a PostgreSQL transaction.
struct PgTx<'a, C: GenericClient>(&'a mut C);

fn pg_args(args: &[Arg]) -> Vec<Box<dyn ToSql + Sync>> {
    args.iter()
        .map(|a| -> Box<dyn ToSql + Sync> {
            match a {
                Arg::Text(t) => Box::new(t.clone()),
                Arg::Int(i) => Box::new(*i),
            }
        })
        .collect()
}

fn pg_query(c: &mut impl GenericClient, sql: &str, args: &[Arg]) -> Result<Vec<Row>> {
    let owned = pg_args(args);
    let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|b| b.as_ref()).collect();
    c.query(&pg(sql), &refs).db()
}

impl<C: GenericClient> LockTx for PgTx<'_, C> {
    fn exec(&mut self, sql: &str, args: &[Arg]) -> Result<usize> {
        let owned = pg_args(args);
        let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|b| b.as_ref()).collect();
        Ok(self.0.execute(&pg(sql), &refs).db()? as usize)
    }

    fn query_locks(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<TaskLock>> {
        pg_query(self.0, sql, args)?.iter().map(lock_from_row).collect()
    }

    fn query_ids(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<SegmentId>> {
        pg_query(self.0, sql, args)?.iter().map(id_from_row).collect()
    }

    fn segments(&mut self, data_source: &str, interval: Interval) -> Result<Vec<SegmentRecord>> {
        query_segments(self.0, data_source, Some(interval), false)
    }
}

impl PostgresMetadataStore {
    /// Runs `f` in a transaction holding [`LOCK_TASKLOCKS`], committing when it succeeds.
    fn in_lock_tx<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut PgTx<'_, postgres::Transaction<'_>>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.call(move |c| {
            let mut tx = c.transaction().db()?;
            tx.batch_execute(LOCK_TASKLOCKS).db()?;
            let out = f(&mut PgTx(&mut tx))?; // an error drops `tx`, rolling everything back
            tx.commit().db()?;
            Ok(out)
        })
    }
}

impl MetadataStore for PostgresMetadataStore {
    fn lock_intervals(&self, req: &LockRequest) -> Result<LockOutcome> {
        let req = req.clone();
        self.in_lock_tx(move |tx| lock_in(tx, &req))
    }

    fn allocate_segments(&self, req: &AllocateRequest) -> Result<AllocateOutcome> {
        let req = req.clone();
        self.in_lock_tx(move |tx| allocate_in(tx, &req))
    }

    fn renew_locks(&self, task_id: &str, expires_ms: i64) -> Result<usize> {
        let task_id = task_id.to_string();
        self.in_lock_tx(move |tx| tx.exec(lock_sql::RENEW_LOCKS, &[task_id.into(), expires_ms.into()]))
    }

    fn release_locks(&self, task_id: &str) -> Result<usize> {
        let task_id = task_id.to_string();
        self.in_lock_tx(move |tx| tx.exec(lock_sql::RELEASE_LOCKS, &[task_id.into()]))
    }

    fn task_locks(&self, data_source: &str) -> Result<Vec<TaskLock>> {
        let ds = data_source.to_string();
        self.call(move |c| PgTx(c).query_locks(&lock_sql::locks_of_data_source(), &[ds.into()]))
    }

    fn pending_segments_for_task(&self, task_id: &str) -> Result<Vec<SegmentId>> {
        let task_id = task_id.to_string();
        self.call(move |c| PgTx(c).query_ids(&lock_sql::pending_of_task(), &[task_id.into()]))
    }

    fn used_segments(&self, data_source: &str, interval: Option<Interval>) -> Result<Vec<SegmentRecord>> {
        let ds = data_source.to_string();
        self.call(move |c| query_segments(c, &ds, interval, true))
    }

    fn all_segments(&self, data_source: &str) -> Result<Vec<SegmentRecord>> {
        let ds = data_source.to_string();
        self.call(move |c| query_segments(c, &ds, None, false))
    }

    fn data_sources(&self) -> Result<Vec<String>> {
        self.call(|c| {
            c.query(
                "SELECT DISTINCT dataSource FROM druid_segments WHERE used = TRUE ORDER BY dataSource",
                &[],
            )
            .db()?
            .iter()
            .map(|r| r.try_get(0).db())
            .collect()
        })
    }

    fn segment(&self, id: &str) -> Result<Option<SegmentRecord>> {
        let id = id.to_string();
        self.call(move |c| {
            c.query_opt(
                &format!("SELECT {SEGMENT_COLUMNS} FROM druid_segments WHERE id = $1"),
                &[&id],
            )
            .db()?
            .as_ref()
            .map(segment_from_row)
            .transpose()
        })
    }

    fn publish(&self, p: &SegmentPublish) -> Result<PublishResult> {
        let p = p.clone();
        self.call(move |c| {
            let mut tx = c.transaction().db()?;
            tx.batch_execute(LOCK_TASKLOCKS).db()?;
            tx.batch_execute(LOCK_SEGMENTS).db()?;
            let result = publish_in(&mut tx, &p)?; // an error drops `tx`, rolling everything back
            tx.commit().db()?;
            Ok(result)
        })
    }

    fn mark_unused(&self, data_source: &str, interval: Option<Interval>) -> Result<Vec<SegmentId>> {
        let ds = data_source.to_string();
        self.call(move |c| {
            let mut tx = c.transaction().db()?;
            tx.batch_execute(LOCK_SEGMENTS).db()?;
            let ids: Vec<SegmentId> = query_segments(&mut tx, &ds, interval, true)?
                .into_iter()
                .filter(|s| interval.is_none_or(|iv| iv.encloses(&s.id.interval)))
                .map(|s| s.id)
                .collect();
            mark_ids_unused(&mut tx, &ids, &now_iso())?;
            tx.commit().db()?;
            Ok(ids)
        })
    }

    fn set_segments_used(&self, ids: &[String], used: bool) -> Result<usize> {
        let ids = ids.to_vec();
        self.call(move |c| {
            let mut tx = c.transaction().db()?;
            tx.batch_execute(LOCK_SEGMENTS).db()?;
            let now = now_iso();
            let mut n = 0;
            for id in &ids {
                n += tx
                    .execute(
                        "UPDATE druid_segments SET used = $1, used_status_last_updated = $2 WHERE id = $3 AND used <> $1",
                        &[&used, &now, id],
                    )
                    .db()?;
            }
            tx.commit().db()?;
            Ok(n as usize)
        })
    }

    fn insert_pending_segments(&self, task_id: &str, ids: &[SegmentId]) -> Result<()> {
        let task_id = task_id.to_string();
        let ids = ids.to_vec();
        self.call(move |c| {
            let mut tx = c.transaction().db()?;
            let now = now_iso();
            for id in &ids {
                tx.execute(
                    r#"INSERT INTO "druid_pendingSegments"
                       (id, dataSource, "interval", "start", "end", version, partition_num, task_id, created_date)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                       ON CONFLICT (id, task_id) DO NOTHING"#,
                    &[
                        &id.to_string(),
                        &id.data_source,
                        &id.interval.to_iso(),
                        &id.interval.start,
                        &id.interval.end,
                        &id.version,
                        &i64::from(id.partition_num),
                        &task_id,
                        &now,
                    ],
                )
                .db()?;
            }
            tx.commit().db()
        })
    }

    fn pending_segments(&self, data_source: &str) -> Result<Vec<SegmentId>> {
        let ds = data_source.to_string();
        self.call(move |c| {
            c.query(
                r#"SELECT DISTINCT dataSource, "start", "end", version, partition_num FROM "druid_pendingSegments"
                   WHERE dataSource = $1 ORDER BY "start", "end", version, partition_num"#,
                &[&ds],
            )
            .db()?
            .iter()
            .map(id_from_row)
            .collect()
        })
    }

    fn delete_pending_segments(&self, data_source: &str) -> Result<usize> {
        let ds = data_source.to_string();
        self.call(move |c| {
            let n = c.execute(&pg(lock_sql::DELETE_ORPHAN_PENDING), &[&ds]).db()?;
            Ok(n as usize)
        })
    }

    fn delete_pending_segments_for_task(&self, task_id: &str) -> Result<usize> {
        let task_id = task_id.to_string();
        self.call(move |c| {
            let n = c
                .execute(r#"DELETE FROM "druid_pendingSegments" WHERE task_id = $1"#, &[&task_id])
                .db()?;
            Ok(n as usize)
        })
    }

    fn insert_task(&self, t: &TaskRecord) -> Result<()> {
        let t = t.clone();
        self.call(move |c| {
            let location = serde_json::to_string(&t.location)?;
            let payload = serde_json::to_string(&t.payload)?;
            let report = t.report.as_ref().map(serde_json::to_string).transpose()?;
            c.execute(
                &format!(
                    "INSERT INTO druid_tasks ({TASK_COLUMNS}, updated_time)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
                ),
                &[
                    &t.id,
                    &t.group_id,
                    &t.task_type,
                    &t.data_source,
                    &t.created_time,
                    &t.queue_insertion_time,
                    &t.status,
                    &t.runner_status,
                    &t.duration_ms,
                    &t.error_msg,
                    &location,
                    &payload,
                    &report,
                    &t.opaque_id,
                    &now_iso(),
                ],
            )
            .map_err(|e| MsqError::Metadata(format!("cannot insert task [{}]: {}", t.id, pg_message(&e))))?;
            Ok(())
        })
    }

    fn update_task(&self, t: &TaskRecord) -> Result<()> {
        let t = t.clone();
        self.call(move |c| {
            let location = serde_json::to_string(&t.location)?;
            let report = t.report.as_ref().map(serde_json::to_string).transpose()?;
            let n = c
                .execute(
                    "UPDATE druid_tasks SET status = $1, runner_status = $2, duration_ms = $3, error_msg = $4,
                         location = $5, report = COALESCE($6, report), updated_time = $7
                     WHERE id = $8",
                    &[
                        &t.status,
                        &t.runner_status,
                        &t.duration_ms,
                        &t.error_msg,
                        &location,
                        &report,
                        &now_iso(),
                        &t.id,
                    ],
                )
                .db()?;
            if n == 0 {
                return Err(MsqError::Metadata(format!("task [{}] not found", t.id)));
            }
            Ok(())
        })
    }

    fn set_task_report(&self, task_id: &str, report: &serde_json::Value) -> Result<()> {
        let task_id = task_id.to_string();
        let report = serde_json::to_string(report)?;
        self.call(move |c| {
            let n = c
                .execute(
                    "UPDATE druid_tasks SET report = $1, updated_time = $2 WHERE id = $3",
                    &[&report, &now_iso(), &task_id],
                )
                .db()?;
            if n == 0 {
                return Err(MsqError::Metadata(format!("task [{task_id}] not found")));
            }
            Ok(())
        })
    }

    fn get_task(&self, task_id: &str) -> Result<Option<TaskRecord>> {
        let task_id = task_id.to_string();
        self.call(move |c| {
            c.query_opt(
                &format!("SELECT {TASK_COLUMNS} FROM druid_tasks WHERE id = $1"),
                &[&task_id],
            )
            .db()?
            .as_ref()
            .map(task_from_row)
            .transpose()
        })
    }

    fn list_tasks(&self, filter: &TaskFilter) -> Result<Vec<TaskRecord>> {
        let Some((sql, args)) = filter.to_sql(TASK_COLUMNS, |n| format!("${n}")) else {
            return Ok(Vec::new());
        };
        self.call(move |c| {
            let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
            c.query(&sql, &params).db()?.iter().map(task_from_row).collect()
        })
    }

    fn append_task_log(&self, task_id: &str, line: &str) -> Result<()> {
        let task_id = task_id.to_string();
        let line = line.to_string();
        self.call(move |c| {
            // Another process appending to the same task can take the same sequence number:
            // retry with the next one.
            let mut attempt = 0;
            loop {
                attempt += 1;
                match c.execute(
                    "INSERT INTO druid_tasklogs (task_id, seq, line)
                     SELECT $1, COALESCE(MAX(seq), -1) + 1, $2 FROM druid_tasklogs WHERE task_id = $1",
                    &[&task_id, &line],
                ) {
                    Ok(_) => return Ok(()),
                    Err(e) if is_unique_violation(&e) && attempt < LOG_APPEND_ATTEMPTS => continue,
                    Err(e) => return Err(MsqError::Metadata(pg_message(&e))),
                }
            }
        })
    }

    fn task_log(&self, task_id: &str) -> Result<String> {
        let task_id = task_id.to_string();
        self.call(move |c| {
            let mut out = String::new();
            for row in c
                .query(
                    "SELECT line FROM druid_tasklogs WHERE task_id = $1 ORDER BY seq",
                    &[&task_id],
                )
                .db()?
            {
                out.push_str(&row.try_get::<_, String>(0).db()?);
                out.push('\n');
            }
            Ok(out)
        })
    }

    fn delete_completed_tasks_before(&self, cutoff_iso: &str) -> Result<usize> {
        let cutoff = cutoff_iso.to_string();
        self.call(move |c| {
            let mut tx = c.transaction().db()?;
            tx.execute(
                "DELETE FROM druid_tasklogs WHERE task_id IN
                     (SELECT id FROM druid_tasks WHERE status <> 'RUNNING' AND created_time < $1)",
                &[&cutoff],
            )
            .db()?;
            let n = tx
                .execute(
                    "DELETE FROM druid_tasks WHERE status <> 'RUNNING' AND created_time < $1",
                    &[&cutoff],
                )
                .db()?;
            tx.commit().db()?;
            Ok(n as usize)
        })
    }
}

#[cfg(test)]
mod tests;
