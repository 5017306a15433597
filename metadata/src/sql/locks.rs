//! Time-chunk locks (`druid_tasklocks`) and segment allocation. Both run inside one
//! serialized transaction ([`super::Guard::Locks`]) and apply the pure rules of
//! [`msq_engine::metadata::allocation`].

use super::{now_ms, pending, segments, SqlRow, SqlTx};
use msq_engine::error::{MsqError, Result};
use msq_engine::granularity::Interval;
use msq_engine::metadata::allocation::{
    allocate_ids, lock_conflicts, locks_cover, replace_version, AllocateOutcome, AllocateRequest, LockOutcome,
    LockRequest, LockType, TaskLock,
};

/// Drops a dataSource's lapsed locks: expired, or held by a task that is no longer running.
/// `?1` dataSource, `?2` now (epoch millis).
const DELETE_DEAD_LOCKS: &str = r#"DELETE FROM druid_tasklocks WHERE dataSource = ?1
    AND (expires_ms <= ?2 OR task_id NOT IN (SELECT id FROM druid_tasks WHERE status = 'RUNNING'))"#;

/// Columns read into a `TaskLock`, in order.
const LOCK_COLUMNS: &str = r#"task_id, dataSource, "start", "end", lock_type, version, expires_ms"#;

/// Locks of a dataSource. `?1` dataSource.
fn locks_of_data_source() -> String {
    format!(r#"SELECT {LOCK_COLUMNS} FROM druid_tasklocks WHERE dataSource = ?1 ORDER BY "start", "end", task_id"#)
}

/// Locks of a task. `?1` task id.
fn locks_of_task() -> String {
    format!(r#"SELECT {LOCK_COLUMNS} FROM druid_tasklocks WHERE task_id = ?1 ORDER BY "start", "end""#)
}

/// Takes (or refreshes) one lock. `?1`..`?7` in [`LOCK_COLUMNS`] order.
pub fn insert_lock() -> String {
    format!(
        r#"INSERT INTO druid_tasklocks ({LOCK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
           ON CONFLICT (task_id, dataSource, "start", "end", lock_type) DO UPDATE SET expires_ms = excluded.expires_ms"#
    )
}

/// A row of [`LOCK_COLUMNS`].
fn lock_from_row(r: &SqlRow) -> Result<TaskLock> {
    let kind = r.text(4)?;
    Ok(TaskLock {
        task_id: r.text(0)?,
        data_source: r.text(1)?,
        interval: Interval::new(r.int(2)?, r.int(3)?),
        lock_type: LockType::from_name(&kind)
            .ok_or_else(|| MsqError::Metadata(format!("unknown lock type [{kind}]")))?,
        version: r.text(5)?,
        expires_ms: r.int(6)?,
    })
}

/// The locks (live or lapsed) held on a dataSource.
pub fn of_data_source(tx: &mut dyn SqlTx, data_source: &str) -> Result<Vec<TaskLock>> {
    tx.query_as(&locks_of_data_source(), &[data_source.into()], lock_from_row)
}

/// The locks (live or lapsed) a task holds.
pub fn of_task(tx: &mut dyn SqlTx, task_id: &str) -> Result<Vec<TaskLock>> {
    tx.query_as(&locks_of_task(), &[task_id.into()], lock_from_row)
}

/// Extends a task's locks to `expires_ms`; how many.
pub fn renew(tx: &mut dyn SqlTx, task_id: &str, expires_ms: i64) -> Result<usize> {
    tx.exec(
        "UPDATE druid_tasklocks SET expires_ms = ?2 WHERE task_id = ?1",
        &[task_id.into(), expires_ms.into()],
    )
}

/// Releases a task's locks; how many.
pub fn release(tx: &mut dyn SqlTx, task_id: &str) -> Result<usize> {
    tx.exec("DELETE FROM druid_tasklocks WHERE task_id = ?1", &[task_id.into()])
}

/// The smallest interval enclosing all of `intervals` (eternity-safe).
fn span(intervals: &[Interval]) -> Interval {
    let start = intervals.iter().map(|i| i.start).min().unwrap_or(0);
    let end = intervals.iter().map(|i| i.end).max().unwrap_or(0);
    Interval::new(start, end)
}

/// Live locks of a dataSource, after dropping lapsed ones.
fn live_locks(tx: &mut dyn SqlTx, data_source: &str) -> Result<Vec<TaskLock>> {
    tx.exec(DELETE_DEAD_LOCKS, &[data_source.into(), now_ms().into()])?;
    of_data_source(tx, data_source)
}

fn insert_lock_row(tx: &mut dyn SqlTx, l: &TaskLock) -> Result<()> {
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
pub fn lock_in(tx: &mut dyn SqlTx, req: &LockRequest) -> Result<LockOutcome> {
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
            let segs = segments::query(tx, data_source, Some(whole), false)?;
            let pending = pending::of_others(tx, data_source, task_id, whole)?;
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
pub fn allocate_in(tx: &mut dyn SqlTx, req: &AllocateRequest) -> Result<AllocateOutcome> {
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
    let segs = segments::query(tx, &req.data_source, Some(whole), false)?;
    let pending = pending::of_others(tx, &req.data_source, &req.task_id, whole)?;
    let ids = allocate_ids(req, &segs, &pending)?;
    let now = msq_engine::metadata::store::now_iso();
    for id in &ids {
        tx.exec(pending::INSERT_PENDING, &pending::insert_args(id, &req.task_id, &now))
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
pub fn check_publish_locks(tx: &mut dyn SqlTx, p: &msq_engine::metadata::SegmentPublish) -> Result<()> {
    let Some(lock_type) = p.lock else {
        return Ok(());
    };
    let held = tx.query_as(&locks_of_task(), &[p.task_id.as_str().into()], lock_from_row)?;
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
