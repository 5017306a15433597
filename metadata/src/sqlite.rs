//! The embedded metadata store: one SQLite database file (WAL mode) behind a mutex.
//!
//! SQL is kept close to what PostgreSQL also accepts (quoted `"start"`/`"end"`, `TRUE`/`FALSE`,
//! `ON CONFLICT ... DO NOTHING`, `BIGINT`/`TEXT` columns, JSON stored as text).

use msq_engine::metadata::allocation::{AllocateOutcome, AllocateRequest, LockOutcome, LockRequest, LockType, TaskLock};
use crate::lock_sql::{self, allocate_in, check_publish_locks, lock_in, Arg, LockTx};
use msq_engine::metadata::segment::{SegmentId, SegmentRecord};
use msq_engine::metadata::store::{
    check_publish, now_iso, segments_to_mark_unused, MetadataStore, PublishResult, SegmentPublish, TaskFilter,
    TaskRecord,
};
use msq_engine::error::{MsqError, Result};
use msq_engine::granularity::Interval;
use rusqlite::types::Type;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row, TransactionBehavior};
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

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS druid_segments (
    id TEXT NOT NULL PRIMARY KEY,
    dataSource TEXT NOT NULL,
    "start" BIGINT NOT NULL,
    "end" BIGINT NOT NULL,
    start_iso TEXT NOT NULL,
    end_iso TEXT NOT NULL,
    version TEXT NOT NULL,
    partition_num BIGINT NOT NULL,
    used BOOLEAN NOT NULL,
    is_tombstone BOOLEAN NOT NULL,
    num_rows BIGINT NOT NULL,
    size_bytes BIGINT NOT NULL,
    path TEXT NOT NULL,
    signature TEXT NOT NULL,
    min_time BIGINT,
    max_time BIGINT,
    shard_spec TEXT NOT NULL,
    created_date TEXT NOT NULL,
    used_status_last_updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_druid_segments_datasource_used_end_start
    ON druid_segments (dataSource, used, "end", "start");

CREATE TABLE IF NOT EXISTS "druid_pendingSegments" (
    id TEXT NOT NULL,
    dataSource TEXT NOT NULL,
    "interval" TEXT NOT NULL,
    "start" BIGINT NOT NULL,
    "end" BIGINT NOT NULL,
    version TEXT NOT NULL,
    partition_num BIGINT NOT NULL,
    task_id TEXT NOT NULL,
    created_date TEXT NOT NULL,
    PRIMARY KEY (id, task_id)
);
CREATE INDEX IF NOT EXISTS "idx_druid_pendingSegments_datasource"
    ON "druid_pendingSegments" (dataSource);
CREATE INDEX IF NOT EXISTS "idx_druid_pendingSegments_task"
    ON "druid_pendingSegments" (task_id);

CREATE TABLE IF NOT EXISTS druid_tasks (
    id TEXT NOT NULL PRIMARY KEY,
    group_id TEXT NOT NULL,
    "type" TEXT NOT NULL,
    data_source TEXT NOT NULL,
    created_time TEXT NOT NULL,
    queue_insertion_time TEXT NOT NULL,
    status TEXT NOT NULL,
    runner_status TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    error_msg TEXT,
    location TEXT NOT NULL,
    payload TEXT NOT NULL,
    report TEXT,
    opaque_id TEXT,
    updated_time TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_druid_tasks_created_time ON druid_tasks (created_time);
CREATE INDEX IF NOT EXISTS idx_druid_tasks_status_created_time ON druid_tasks (status, created_time);

CREATE TABLE IF NOT EXISTS druid_tasklogs (
    task_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (task_id, seq)
);
"#;

const SEGMENT_COLUMNS: &str = r#"id, dataSource, "start", "end", version, partition_num, used, is_tombstone, num_rows,
    size_bytes, path, signature, min_time, max_time, shard_spec, created_date, used_status_last_updated"#;

const TASK_COLUMNS: &str = r#"id, group_id, "type", data_source, created_time, queue_insertion_time, status,
    runner_status, duration_ms, error_msg, location, payload, report, opaque_id"#;

/// The SQLite metadata store. Cheap to share behind an `Arc`; calls are serialized on one
/// connection.
pub struct SqliteMetadataStore {
    conn: Mutex<Connection>,
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
        let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)).db()?;
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
        conn.execute_batch(SCHEMA).db()?;
        conn.execute_batch(lock_sql::CREATE_LOCKS).db()?;
        if let Err(e) = conn.execute_batch(lock_sql::UNIQUE_PENDING_ID) {
            tracing::warn!("metadata store: pending segment ids are not unique ({e}); delete stale pending segments");
        }
        Ok(SqliteMetadataStore { conn: Mutex::new(conn) })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock drops any open transaction (rolling it back), so the
        // connection is still consistent.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn to_i64(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v).map_err(|_| MsqError::Metadata(format!("{what} [{v}] is too large to store")))
}

fn json_col<T: serde::de::DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

fn opt_json_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<serde_json::Value>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| serde_json::from_str(&t))
        .transpose()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

fn u64_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(idx)?;
    u64::try_from(v).map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Integer, Box::new(e)))
}

fn u32_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<u32> {
    let v: i64 = row.get(idx)?;
    u32::try_from(v).map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Integer, Box::new(e)))
}

fn segment_from_row(row: &Row<'_>) -> rusqlite::Result<SegmentRecord> {
    Ok(SegmentRecord {
        id: SegmentId {
            data_source: row.get(1)?,
            interval: Interval::new(row.get(2)?, row.get(3)?),
            version: row.get(4)?,
            partition_num: u32_col(row, 5)?,
        },
        used: row.get(6)?,
        is_tombstone: row.get(7)?,
        num_rows: u64_col(row, 8)?,
        size_bytes: u64_col(row, 9)?,
        path: row.get(10)?,
        signature: json_col(row, 11)?,
        min_time: row.get(12)?,
        max_time: row.get(13)?,
        shard_spec: json_col(row, 14)?,
        created_date: row.get(15)?,
        used_status_last_updated: row.get(16)?,
    })
}

fn task_from_row(row: &Row<'_>) -> rusqlite::Result<TaskRecord> {
    Ok(TaskRecord {
        id: row.get(0)?,
        group_id: row.get(1)?,
        task_type: row.get(2)?,
        data_source: row.get(3)?,
        created_time: row.get(4)?,
        queue_insertion_time: row.get(5)?,
        status: row.get(6)?,
        runner_status: row.get(7)?,
        duration_ms: row.get(8)?,
        error_msg: row.get(9)?,
        location: json_col(row, 10)?,
        payload: json_col(row, 11)?,
        report: opt_json_col(row, 12)?,
        opaque_id: row.get(13)?,
    })
}

fn query_segments(
    conn: &Connection,
    data_source: &str,
    interval: Option<Interval>,
    used_only: bool,
) -> Result<Vec<SegmentRecord>> {
    let iv = interval.unwrap_or_else(Interval::eternity);
    let used_clause = if used_only { "AND used = TRUE" } else { "" };
    let sql = format!(
        r#"SELECT {SEGMENT_COLUMNS} FROM druid_segments
           WHERE dataSource = ?1 {used_clause} AND "start" < ?2 AND "end" > ?3
           ORDER BY "start", "end", version, partition_num"#
    );
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let rows = stmt.query_map(params![data_source, iv.end, iv.start], segment_from_row).db()?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>().db()?)
}

fn insert_segment(conn: &Connection, s: &SegmentRecord, now: &str) -> Result<()> {
    let iso = s.id.interval.to_iso();
    let (start_iso, end_iso) = iso.split_once('/').unwrap_or((iso.as_str(), iso.as_str()));
    let or_now = |v: &str| {
        if v.is_empty() {
            now.to_string()
        } else {
            v.to_string()
        }
    };
    conn.prepare_cached(&format!(
        "INSERT INTO druid_segments ({SEGMENT_COLUMNS}, start_iso, end_iso)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
    )).db()?
    .execute(params![
        s.id.to_string(),
        s.id.data_source,
        s.id.interval.start,
        s.id.interval.end,
        s.id.version,
        i64::from(s.id.partition_num),
        true,
        s.is_tombstone,
        to_i64(s.num_rows, "num_rows")?,
        to_i64(s.size_bytes, "size_bytes")?,
        s.path,
        serde_json::to_string(&s.signature)?,
        s.min_time,
        s.max_time,
        serde_json::to_string(&s.shard_spec)?,
        or_now(&s.created_date),
        or_now(&s.used_status_last_updated),
        start_iso,
        end_iso,
    ])
    .map_err(|e| MsqError::Metadata(format!("cannot publish segment [{}]: {e}", s.id)))?;
    Ok(())
}

fn mark_ids_unused(conn: &Connection, ids: &[SegmentId], now: &str) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "UPDATE druid_segments SET used = FALSE, used_status_last_updated = ?1 WHERE id = ?2 AND used = TRUE",
    ).db()?;
    for id in ids {
        stmt.execute(params![now, id.to_string()]).db()?;
    }
    Ok(())
}

fn publish_in(conn: &Connection, p: &SegmentPublish) -> Result<PublishResult> {
    check_publish(p)?;
    check_publish_locks(&mut SqliteTx(conn), p)?;
    let now = now_iso();
    let used = query_segments(conn, &p.data_source, None, true)?;
    let marked = segments_to_mark_unused(&used, p);
    mark_ids_unused(conn, &marked, &now)?;
    let mut published = Vec::with_capacity(p.segments.len());
    for s in &p.segments {
        insert_segment(conn, s, &now)?;
        published.push(s.id.clone());
    }
    conn.prepare_cached(r#"DELETE FROM "druid_pendingSegments" WHERE task_id = ?1"#).db()?
        .execute(params![p.task_id]).db()?;
    Ok(PublishResult {
        published,
        marked_unused: marked,
    })
}

/// The shared lock and allocation logic over a SQLite transaction.
struct SqliteTx<'a>(&'a Connection);

fn sql_args(args: &[Arg]) -> Vec<rusqlite::types::Value> {
    args.iter()
        .map(|a| match a {
            Arg::Text(t) => rusqlite::types::Value::Text(t.clone()),
            Arg::Int(i) => rusqlite::types::Value::Integer(*i),
        })
        .collect()
}

fn id_from_row(r: &Row<'_>) -> rusqlite::Result<SegmentId> {
    Ok(SegmentId {
        data_source: r.get(0)?,
        interval: Interval::new(r.get(1)?, r.get(2)?),
        version: r.get(3)?,
        partition_num: u32_col(r, 4)?,
    })
}

fn lock_from_row(r: &Row<'_>) -> rusqlite::Result<TaskLock> {
    let kind: String = r.get(4)?;
    Ok(TaskLock {
        task_id: r.get(0)?,
        data_source: r.get(1)?,
        interval: Interval::new(r.get(2)?, r.get(3)?),
        lock_type: LockType::from_name(&kind).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(4, Type::Text, format!("lock type [{kind}]").into())
        })?,
        version: r.get(5)?,
        expires_ms: r.get(6)?,
    })
}

impl LockTx for SqliteTx<'_> {
    fn exec(&mut self, sql: &str, args: &[Arg]) -> Result<usize> {
        Ok(self.0.prepare_cached(sql).db()?.execute(params_from_iter(sql_args(args))).db()?)
    }

    fn query_locks(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<TaskLock>> {
        let mut stmt = self.0.prepare_cached(sql).db()?;
        let rows = stmt.query_map(params_from_iter(sql_args(args)), lock_from_row).db()?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>().db()?)
    }

    fn query_ids(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<SegmentId>> {
        let mut stmt = self.0.prepare_cached(sql).db()?;
        let rows = stmt.query_map(params_from_iter(sql_args(args)), id_from_row).db()?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>().db()?)
    }

    fn segments(&mut self, data_source: &str, interval: Interval) -> Result<Vec<SegmentRecord>> {
        query_segments(self.0, data_source, Some(interval), false)
    }
}

impl SqliteMetadataStore {
    /// Runs `f` in an immediate (write-locked) transaction, committing when it succeeds.
    fn in_write_tx<T>(&self, f: impl FnOnce(&mut SqliteTx<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).db()?;
        let out = f(&mut SqliteTx(&tx))?; // an error drops `tx`, rolling everything back
        tx.commit().db()?;
        Ok(out)
    }
}

impl MetadataStore for SqliteMetadataStore {
    fn lock_intervals(&self, req: &LockRequest) -> Result<LockOutcome> {
        self.in_write_tx(|tx| lock_in(tx, req))
    }

    fn allocate_segments(&self, req: &AllocateRequest) -> Result<AllocateOutcome> {
        self.in_write_tx(|tx| allocate_in(tx, req))
    }

    fn renew_locks(&self, task_id: &str, expires_ms: i64) -> Result<usize> {
        self.in_write_tx(|tx| tx.exec(lock_sql::RENEW_LOCKS, &[task_id.into(), expires_ms.into()]))
    }

    fn release_locks(&self, task_id: &str) -> Result<usize> {
        self.in_write_tx(|tx| tx.exec(lock_sql::RELEASE_LOCKS, &[task_id.into()]))
    }

    fn task_locks(&self, data_source: &str) -> Result<Vec<TaskLock>> {
        SqliteTx(&self.lock()).query_locks(&lock_sql::locks_of_data_source(), &[data_source.into()])
    }

    fn pending_segments_for_task(&self, task_id: &str) -> Result<Vec<SegmentId>> {
        SqliteTx(&self.lock()).query_ids(&lock_sql::pending_of_task(), &[task_id.into()])
    }

    fn used_segments(&self, data_source: &str, interval: Option<Interval>) -> Result<Vec<SegmentRecord>> {
        query_segments(&self.lock(), data_source, interval, true)
    }

    fn all_segments(&self, data_source: &str) -> Result<Vec<SegmentRecord>> {
        query_segments(&self.lock(), data_source, None, false)
    }

    fn data_sources(&self) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT DISTINCT dataSource FROM druid_segments WHERE used = TRUE ORDER BY dataSource").db()?;
        let rows = stmt.query_map([], |r| r.get(0)).db()?;
        Ok(rows.collect::<rusqlite::Result<Vec<String>>>().db()?)
    }

    fn segment(&self, id: &str) -> Result<Option<SegmentRecord>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&format!("SELECT {SEGMENT_COLUMNS} FROM druid_segments WHERE id = ?1")).db()?;
        Ok(stmt.query_row(params![id], segment_from_row).optional().db()?)
    }

    fn publish(&self, p: &SegmentPublish) -> Result<PublishResult> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).db()?;
        let result = publish_in(&tx, p)?; // an error drops `tx`, rolling everything back
        tx.commit().db()?;
        Ok(result)
    }

    fn mark_unused(&self, data_source: &str, interval: Option<Interval>) -> Result<Vec<SegmentId>> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).db()?;
        let ids: Vec<SegmentId> = query_segments(&tx, data_source, interval, true)?
            .into_iter()
            .filter(|s| interval.is_none_or(|iv| iv.encloses(&s.id.interval)))
            .map(|s| s.id)
            .collect();
        mark_ids_unused(&tx, &ids, &now_iso())?;
        tx.commit().db()?;
        Ok(ids)
    }

    fn set_segments_used(&self, ids: &[String], used: bool) -> Result<usize> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).db()?;
        let now = now_iso();
        let mut n = 0;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE druid_segments SET used = ?1, used_status_last_updated = ?2 WHERE id = ?3 AND used <> ?1",
            ).db()?;
            for id in ids {
                n += stmt.execute(params![used, now, id]).db()?;
            }
        }
        tx.commit().db()?;
        Ok(n)
    }

    fn insert_pending_segments(&self, task_id: &str, ids: &[SegmentId]) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction().db()?;
        let now = now_iso();
        {
            let mut stmt = tx.prepare_cached(
                r#"INSERT INTO "druid_pendingSegments"
                   (id, dataSource, "interval", "start", "end", version, partition_num, task_id, created_date)
                   VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                   ON CONFLICT (id, task_id) DO NOTHING"#,
            ).db()?;
            for id in ids {
                stmt.execute(params![
                    id.to_string(),
                    id.data_source,
                    id.interval.to_iso(),
                    id.interval.start,
                    id.interval.end,
                    id.version,
                    i64::from(id.partition_num),
                    task_id,
                    now,
                ]).db()?;
            }
        }
        tx.commit().db()?;
        Ok(())
    }

    fn pending_segments(&self, data_source: &str) -> Result<Vec<SegmentId>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            r#"SELECT DISTINCT dataSource, "start", "end", version, partition_num FROM "druid_pendingSegments"
               WHERE dataSource = ?1 ORDER BY "start", "end", version, partition_num"#,
        ).db()?;
        let rows = stmt.query_map(params![data_source], id_from_row).db()?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>().db()?)
    }

    fn delete_pending_segments(&self, data_source: &str) -> Result<usize> {
        let conn = self.lock();
        Ok(conn.execute(lock_sql::DELETE_ORPHAN_PENDING, params![data_source]).db()?)
    }

    fn delete_pending_segments_for_task(&self, task_id: &str) -> Result<usize> {
        let conn = self.lock();
        Ok(conn.execute(
            r#"DELETE FROM "druid_pendingSegments" WHERE task_id = ?1"#,
            params![task_id],
        ).db()?)
    }

    fn insert_task(&self, t: &TaskRecord) -> Result<()> {
        let conn = self.lock();
        conn.execute(
            &format!("INSERT INTO druid_tasks ({TASK_COLUMNS}, updated_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"),
            params![
                t.id,
                t.group_id,
                t.task_type,
                t.data_source,
                t.created_time,
                t.queue_insertion_time,
                t.status,
                t.runner_status,
                t.duration_ms,
                t.error_msg,
                serde_json::to_string(&t.location)?,
                serde_json::to_string(&t.payload)?,
                t.report.as_ref().map(serde_json::to_string).transpose()?,
                t.opaque_id,
                now_iso(),
            ],
        )
        .map_err(|e| MsqError::Metadata(format!("cannot insert task [{}]: {e}", t.id)))?;
        Ok(())
    }

    fn update_task(&self, t: &TaskRecord) -> Result<()> {
        let conn = self.lock();
        let n = conn.execute(
            "UPDATE druid_tasks SET status = ?1, runner_status = ?2, duration_ms = ?3, error_msg = ?4, location = ?5,
                 report = COALESCE(?6, report), updated_time = ?7
             WHERE id = ?8",
            params![
                t.status,
                t.runner_status,
                t.duration_ms,
                t.error_msg,
                serde_json::to_string(&t.location)?,
                t.report.as_ref().map(serde_json::to_string).transpose()?,
                now_iso(),
                t.id,
            ],
        ).db()?;
        if n == 0 {
            return Err(MsqError::Metadata(format!("task [{}] not found", t.id)));
        }
        Ok(())
    }

    fn set_task_report(&self, task_id: &str, report: &serde_json::Value) -> Result<()> {
        let conn = self.lock();
        let n = conn.execute(
            "UPDATE druid_tasks SET report = ?1, updated_time = ?2 WHERE id = ?3",
            params![serde_json::to_string(report)?, now_iso(), task_id],
        ).db()?;
        if n == 0 {
            return Err(MsqError::Metadata(format!("task [{task_id}] not found")));
        }
        Ok(())
    }

    fn get_task(&self, task_id: &str) -> Result<Option<TaskRecord>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&format!("SELECT {TASK_COLUMNS} FROM druid_tasks WHERE id = ?1")).db()?;
        Ok(stmt.query_row(params![task_id], task_from_row).optional().db()?)
    }

    fn list_tasks(&self, filter: &TaskFilter) -> Result<Vec<TaskRecord>> {
        let Some((sql, args)) = filter.to_sql(TASK_COLUMNS, |n| format!("?{n}")) else {
            return Ok(Vec::new());
        };
        let conn = self.lock();
        let mut stmt = conn.prepare(&sql).db()?;
        let rows = stmt.query_map(params_from_iter(args.iter()), task_from_row).db()?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>().db()?)
    }

    fn append_task_log(&self, task_id: &str, line: &str) -> Result<()> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO druid_tasklogs (task_id, seq, line)
             SELECT ?1, COALESCE(MAX(seq), -1) + 1, ?2 FROM druid_tasklogs WHERE task_id = ?1",
            params![task_id, line],
        ).db()?;
        Ok(())
    }

    fn task_log(&self, task_id: &str) -> Result<String> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached("SELECT line FROM druid_tasklogs WHERE task_id = ?1 ORDER BY seq").db()?;
        let mut out = String::new();
        for line in stmt.query_map(params![task_id], |r| r.get::<_, String>(0)).db()? {
            out.push_str(&line.db()?);
            out.push('\n');
        }
        Ok(out)
    }

    fn delete_completed_tasks_before(&self, cutoff_iso: &str) -> Result<usize> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).db()?;
        tx.execute(
            "DELETE FROM druid_tasklogs WHERE task_id IN
                 (SELECT id FROM druid_tasks WHERE status <> 'RUNNING' AND created_time < ?1)",
            params![cutoff_iso],
        ).db()?;
        let n = tx.execute(
            "DELETE FROM druid_tasks WHERE status <> 'RUNNING' AND created_time < ?1",
            params![cutoff_iso],
        ).db()?;
        tx.commit().db()?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
