//! SQL of time-chunk locks and segment allocation shared by the SQLite and PostgreSQL stores,
//! written with SQLite's `?N` placeholders ([`pg`] rewrites them for PostgreSQL). Both
//! stores run these inside one serialized transaction and apply the pure rules of
//! [`msq_engine::metadata::allocation`].

use msq_engine::metadata::allocation::{
    allocate_ids, lock_conflicts, locks_cover, replace_version, AllocateOutcome, AllocateRequest, LockOutcome,
    LockRequest, LockType, TaskLock,
};
use msq_engine::metadata::segment::{SegmentId, SegmentRecord};
use msq_engine::error::{MsqError, Result};
use msq_engine::granularity::Interval;

/// `druid_tasklocks`: one row per lock a task holds on an interval of a dataSource.
pub const CREATE_LOCKS: &str = r#"
CREATE TABLE IF NOT EXISTS druid_tasklocks (
    task_id TEXT NOT NULL,
    dataSource TEXT NOT NULL,
    "start" BIGINT NOT NULL,
    "end" BIGINT NOT NULL,
    lock_type TEXT NOT NULL,
    version TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    PRIMARY KEY (task_id, dataSource, "start", "end", lock_type)
);
CREATE INDEX IF NOT EXISTS idx_druid_tasklocks_datasource ON druid_tasklocks (dataSource);
"#;

/// A pending segment id belongs to one task: two tasks can never be handed the same id.
/// Separate from the schema so that a database holding duplicates from an older release
/// still opens (with a warning).
pub const UNIQUE_PENDING_ID: &str =
    r#"CREATE UNIQUE INDEX IF NOT EXISTS "idx_druid_pendingSegments_id" ON "druid_pendingSegments" (id)"#;

/// Drops a dataSource's lapsed locks: expired, or held by a task that is no longer running.
/// `?1` dataSource, `?2` now (epoch millis).
pub const DELETE_DEAD_LOCKS: &str = r#"DELETE FROM druid_tasklocks WHERE dataSource = ?1
    AND (expires_ms <= ?2 OR task_id NOT IN (SELECT id FROM druid_tasks WHERE status = 'RUNNING'))"#;

/// Columns read into a `TaskLock`, in order.
pub(crate) const LOCK_COLUMNS: &str = r#"task_id, dataSource, "start", "end", lock_type, version, expires_ms"#;

/// Locks of a dataSource. `?1` dataSource.
pub fn locks_of_data_source() -> String {
    format!(r#"SELECT {LOCK_COLUMNS} FROM druid_tasklocks WHERE dataSource = ?1 ORDER BY "start", "end", task_id"#)
}

/// Locks of a task. `?1` task id.
pub fn locks_of_task() -> String {
    format!(r#"SELECT {LOCK_COLUMNS} FROM druid_tasklocks WHERE task_id = ?1 ORDER BY "start", "end""#)
}

/// Takes (or refreshes) one lock. `?1`..`?7` in [`LOCK_COLUMNS`] order.
pub fn insert_lock() -> String {
    format!(
        r#"INSERT INTO druid_tasklocks ({LOCK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
           ON CONFLICT (task_id, dataSource, "start", "end", lock_type) DO UPDATE SET expires_ms = excluded.expires_ms"#
    )
}

/// Extends a task's locks. `?1` task id, `?2` new expiry.
pub const RENEW_LOCKS: &str = "UPDATE druid_tasklocks SET expires_ms = ?2 WHERE task_id = ?1";

/// Releases a task's locks. `?1` task id.
pub const RELEASE_LOCKS: &str = "DELETE FROM druid_tasklocks WHERE task_id = ?1";

/// Columns read into a `SegmentId` from `druid_pendingSegments`, in order.
pub(crate) const PENDING_COLUMNS: &str = r#"dataSource, "start", "end", version, partition_num"#;

/// Ids other tasks have pending in a dataSource within a span. `?1` dataSource, `?2` the
/// asking task, `?3` span end, `?4` span start.
pub fn pending_of_others() -> String {
    format!(
        r#"SELECT {PENDING_COLUMNS} FROM "druid_pendingSegments"
           WHERE dataSource = ?1 AND task_id <> ?2 AND "start" < ?3 AND "end" > ?4"#
    )
}

/// Ids a task has pending. `?1` task id.
pub fn pending_of_task() -> String {
    format!(
        r#"SELECT {PENDING_COLUMNS} FROM "druid_pendingSegments" WHERE task_id = ?1
           ORDER BY "start", "end", version, partition_num"#
    )
}

/// Records one allocated id (fails on an id any task already has). `?1` id, `?2`
/// dataSource, `?3` interval text, `?4` start, `?5` end, `?6` version, `?7` partition,
/// `?8` task id, `?9` created.
pub const INSERT_PENDING: &str = r#"INSERT INTO "druid_pendingSegments"
    (id, dataSource, "interval", "start", "end", version, partition_num, task_id, created_date)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"#;

/// Deletes a dataSource's pending ids that no running task owns (Druid's
/// `DELETE /pendingSegments/{ds}` must not pull ids from under a running ingestion).
/// `?1` dataSource.
pub const DELETE_ORPHAN_PENDING: &str = r#"DELETE FROM "druid_pendingSegments" WHERE dataSource = ?1
    AND task_id NOT IN (SELECT id FROM druid_tasks WHERE status = 'RUNNING')"#;

/// The statement with PostgreSQL's `$N` placeholders in place of `?N`.
pub fn pg(sql: &str) -> String {
    sql.replace('?', "$")
}

/// The current time in epoch millis.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A statement argument: both stores bind only text and integers here.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(String),
    Int(i64),
}

impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(v.to_string())
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

/// What the shared lock and allocation logic needs of an open, serialized transaction.
pub(crate) trait LockTx {
    /// Runs a statement (SQLite placeholders); returns the rows changed.
    fn exec(&mut self, sql: &str, args: &[Arg]) -> Result<usize>;
    /// Runs a query of [`LOCK_COLUMNS`].
    fn query_locks(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<TaskLock>>;
    /// Runs a query of [`PENDING_COLUMNS`].
    fn query_ids(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<SegmentId>>;
    /// Every segment (used or not) of `data_source` overlapping `interval`.
    fn segments(&mut self, data_source: &str, interval: Interval) -> Result<Vec<SegmentRecord>>;
}

/// The smallest interval enclosing all of `intervals` (eternity-safe).
fn span(intervals: &[Interval]) -> Interval {
    let start = intervals.iter().map(|i| i.start).min().unwrap_or(0);
    let end = intervals.iter().map(|i| i.end).max().unwrap_or(0);
    Interval::new(start, end)
}

/// Live locks of a dataSource, after dropping lapsed ones.
fn live_locks(tx: &mut dyn LockTx, data_source: &str) -> Result<Vec<TaskLock>> {
    tx.exec(DELETE_DEAD_LOCKS, &[data_source.into(), now_ms().into()])?;
    tx.query_locks(&locks_of_data_source(), &[data_source.into()])
}

fn insert_lock_row(tx: &mut dyn LockTx, l: &TaskLock) -> Result<()> {
    tx.exec(
        &insert_lock(),
        &[
            l.task_id.as_str().into(),
            l.data_source.as_str().into(),
            l.interval.start.into(),
            l.interval.end.into(),
            l.lock_type.name().into(),
            l.version.as_str().into(),
            l.expires_ms.into(),
        ],
    )?;
    Ok(())
}

/// [`msq_engine::metadata::MetadataStore::lock_intervals`] inside a transaction.
pub(crate) fn lock_in(tx: &mut dyn LockTx, req: &LockRequest) -> Result<LockOutcome> {
    let LockRequest {
        task_id,
        data_source,
        intervals,
        lock_type,
        now_version,
        expires_ms,
    } = req;
    let live = live_locks(tx, data_source)?;
    let conflicts = lock_conflicts(&live, task_id, intervals, *lock_type);
    if !conflicts.is_empty() {
        return Ok(LockOutcome::Conflict(conflicts));
    }
    let version = match lock_type {
        LockType::Shared => String::new(),
        LockType::Exclusive => {
            let whole = span(intervals);
            let segs = tx.segments(data_source, whole)?;
            let pending = tx.query_ids(
                &pending_of_others(),
                &[
                    data_source.as_str().into(),
                    task_id.as_str().into(),
                    whole.end.into(),
                    whole.start.into(),
                ],
            )?;
            let versions = segs
                .iter()
                .map(|s| s.id.version.as_str())
                .chain(pending.iter().map(|p| p.version.as_str()));
            replace_version(now_version, versions)
        }
    };
    for interval in intervals {
        insert_lock_row(
            tx,
            &TaskLock {
                task_id: task_id.clone(),
                data_source: data_source.clone(),
                interval: *interval,
                lock_type: *lock_type,
                version: version.clone(),
                expires_ms: *expires_ms,
            },
        )?;
    }
    Ok(LockOutcome::Acquired { version })
}

/// [`msq_engine::metadata::MetadataStore::allocate_segments`] inside a transaction.
pub(crate) fn allocate_in(tx: &mut dyn LockTx, req: &AllocateRequest) -> Result<AllocateOutcome> {
    let chunks: Vec<Interval> = req.chunks.iter().map(|(c, _)| *c).collect();
    if chunks.is_empty() {
        return Ok(AllocateOutcome::Allocated(Vec::new()));
    }
    let live = live_locks(tx, &req.data_source)?;
    if req.append {
        let conflicts = lock_conflicts(&live, &req.task_id, &chunks, LockType::Shared);
        if !conflicts.is_empty() {
            return Ok(AllocateOutcome::Conflict(conflicts));
        }
    } else if !locks_cover(&live, &req.task_id, &chunks, LockType::Exclusive) {
        return Err(MsqError::InsertLockPreempted);
    }
    let whole = span(&chunks);
    let segs = tx.segments(&req.data_source, whole)?;
    let pending = tx.query_ids(
        &pending_of_others(),
        &[
            req.data_source.as_str().into(),
            req.task_id.as_str().into(),
            whole.end.into(),
            whole.start.into(),
        ],
    )?;
    let ids = allocate_ids(req, &segs, &pending)?;
    let now = msq_engine::metadata::store::now_iso();
    for id in &ids {
        tx.exec(
            INSERT_PENDING,
            &[
                id.to_string().into(),
                id.data_source.as_str().into(),
                id.interval.to_iso().into(),
                id.interval.start.into(),
                id.interval.end.into(),
                id.version.as_str().into(),
                i64::from(id.partition_num).into(),
                req.task_id.as_str().into(),
                now.as_str().into(),
            ],
        )
        .map_err(|e| MsqError::InsertCannotAllocateSegment {
            data_source: req.data_source.clone(),
            interval: id.interval.to_iso(),
            message: format!("segment id [{id}] is taken: {e}"),
        })?;
    }
    if req.append {
        let intervals: std::collections::BTreeSet<Interval> = ids.iter().map(|i| i.interval).collect();
        for interval in intervals {
            insert_lock_row(
                tx,
                &TaskLock {
                    task_id: req.task_id.clone(),
                    data_source: req.data_source.clone(),
                    interval,
                    lock_type: LockType::Shared,
                    version: String::new(),
                    expires_ms: req.lock_expires_ms,
                },
            )?;
        }
    }
    Ok(AllocateOutcome::Allocated(ids))
}

/// Inside a publish transaction: whether the publishing task still holds the locks its
/// segments need (shared locks for INSERT, exclusive ones on the OVERWRITE intervals for
/// REPLACE); `InsertLockPreempted` when another task took them.
pub(crate) fn check_publish_locks(tx: &mut dyn LockTx, p: &msq_engine::metadata::SegmentPublish) -> Result<()> {
    let Some(lock_type) = p.lock else {
        return Ok(());
    };
    let held = tx.query_locks(&locks_of_task(), &[p.task_id.as_str().into()])?;
    let mut needed: Vec<Interval> = p.segments.iter().map(|s| s.id.interval).collect();
    if let Some(replace) = &p.replace {
        needed.extend(replace.iter().copied());
    }
    if locks_cover(&held, &p.task_id, &needed, lock_type) {
        Ok(())
    } else {
        Err(MsqError::InsertLockPreempted)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_translate() {
        assert_eq!(super::pg("a = ?1 AND b = ?12"), "a = $1 AND b = $12");
        assert!(!super::insert_lock().contains('$'));
    }
}
