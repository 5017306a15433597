//! Time-chunk locks and segment allocation as pure decisions (Druid's `TaskLockbox` and
//! `SegmentAllocateAction`, simplified): which locks conflict, which version a REPLACE
//! writes, and which segment ids an ingestion gets given what is used, what other tasks have
//! pending, and what it asks for. The metadata stores run these inside one transaction.
//!
//! Rules:
//! - An INSERT holds `Shared` locks on the chunks it allocates; a REPLACE holds an
//!   `Exclusive` lock on its OVERWRITE intervals from its start. Shared locks coexist;
//!   anything overlapping an exclusive lock of another live task conflicts.
//! - A REPLACE writes a version above every version already in its intervals.
//! - An INSERT appends to the visible version of a chunk (next partition numbers after every
//!   used, unused and pending segment of that version), joins the version other running
//!   INSERTs allocated for a chunk that has no data yet, or starts a version above anything
//!   already there (tombstones included, so new rows are never hidden by one).

use super::segment::{SegmentId, SegmentRecord};
use super::timeline::allocate;
use crate::error::{MsqError, Result};
use crate::granularity::{format_millis, parse_instant, Interval};
use serde::{Deserialize, Serialize};

/// How long a lock lives without being renewed by its task (a killed process's locks lapse).
pub const LOCK_LEASE_MS: i64 = 60_000;

/// How often a running task renews its locks.
pub const LOCK_RENEW_MS: u64 = 10_000;

/// Druid's time-chunk lock types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LockType {
    /// Appending ingestion (INSERT): coexists with other shared locks.
    Shared,
    /// Overwriting ingestion (REPLACE): coexists with nothing.
    Exclusive,
}

impl LockType {
    /// Druid's name (`SHARED`, `EXCLUSIVE`).
    pub fn name(self) -> &'static str {
        match self {
            LockType::Shared => "SHARED",
            LockType::Exclusive => "EXCLUSIVE",
        }
    }

    /// Parses [`LockType::name`].
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "SHARED" => Some(LockType::Shared),
            "EXCLUSIVE" => Some(LockType::Exclusive),
            _ => None,
        }
    }
}

/// A lock a task holds on an interval of a dataSource (one row of `druid_tasklocks`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskLock {
    pub task_id: String,
    pub data_source: String,
    pub interval: Interval,
    pub lock_type: LockType,
    /// The version segments written under the lock get (REPLACE); empty for shared locks.
    pub version: String,
    /// Epoch millis after which the lock lapses unless renewed.
    pub expires_ms: i64,
}

/// What a lock request got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockOutcome {
    /// Held; segments written under it get this version.
    Acquired { version: String },
    /// Other tasks hold conflicting locks: wait and ask again.
    Conflict(Vec<TaskLock>),
}

/// What an allocation request got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllocateOutcome {
    /// One id per requested segment, chunk by chunk in request order.
    Allocated(Vec<SegmentId>),
    /// Other tasks hold conflicting locks: wait and ask again.
    Conflict(Vec<TaskLock>),
}

/// Locks one task asks for on intervals of a dataSource, all or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRequest {
    pub task_id: String,
    pub data_source: String,
    pub intervals: Vec<Interval>,
    pub lock_type: LockType,
    /// The version an exclusive lock gets unless something already there sorts higher.
    pub now_version: String,
    /// Until when the locks last unless renewed (epoch millis).
    pub expires_ms: i64,
}

/// Segment ids wanted by one ingestion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocateRequest {
    pub data_source: String,
    pub task_id: String,
    /// Each time chunk and how many new segments it needs, in the order ids are returned.
    pub chunks: Vec<(Interval, u32)>,
    /// Version of chunks that start a new version: the task's start time (INSERT) or its
    /// exclusive lock's version (REPLACE).
    pub version: String,
    /// INSERT appends; REPLACE writes `version` from partition 0 under its exclusive lock.
    pub append: bool,
    /// Until when the shared locks taken for an INSERT last (epoch millis).
    pub lock_expires_ms: i64,
}

/// Locks among `live` (held by running tasks, not lapsed) that conflict with `task_id`
/// taking `lock_type` on `intervals`: another task's lock overlapping one of them where
/// either lock is exclusive.
pub fn lock_conflicts(live: &[TaskLock], task_id: &str, intervals: &[Interval], lock_type: LockType) -> Vec<TaskLock> {
    live.iter()
        .filter(|l| l.task_id != task_id)
        .filter(|l| lock_type == LockType::Exclusive || l.lock_type == LockType::Exclusive)
        .filter(|l| intervals.iter().any(|i| i.overlaps(&l.interval)))
        .cloned()
        .collect()
}

/// Whether the task's own locks in `held` still cover every interval of `intervals` with a
/// lock of at least `lock_type` (an exclusive lock covers shared needs too).
pub fn locks_cover(held: &[TaskLock], task_id: &str, intervals: &[Interval], lock_type: LockType) -> bool {
    intervals.iter().all(|i| {
        held.iter().any(|l| {
            l.task_id == task_id
                && (lock_type == LockType::Shared || l.lock_type == LockType::Exclusive)
                && l.interval.encloses(i)
        })
    })
}

/// A version sorting just above `v`: one millisecond later for Druid's ISO versions, `v`
/// with a character appended otherwise (a string always sorts after its prefixes).
pub fn version_after(v: &str) -> String {
    match parse_instant(v) {
        Some(t) if t < i64::MAX && format_millis(t) == v => format_millis(t + 1),
        _ => format!("{v}1"),
    }
}

/// The version a REPLACE takes with its lock: `now_version`, or just above the highest
/// version among `existing` (segments and pending ids in its intervals) when that is not
/// below it already.
pub fn replace_version<'a>(now_version: &str, existing: impl IntoIterator<Item = &'a str>) -> String {
    match existing.into_iter().max() {
        Some(top) if top >= now_version => version_after(top),
        _ => now_version.to_string(),
    }
}

/// Segment ids for `req`, given every segment (used or not) of the dataSource overlapping
/// the requested chunks and the ids other tasks have pending there. Ids come chunk by chunk
/// in request order; none equals an existing or pending id.
pub fn allocate_ids(
    req: &AllocateRequest,
    segments: &[SegmentRecord],
    pending: &[SegmentId],
) -> Result<Vec<SegmentId>> {
    let mut out: Vec<SegmentId> = Vec::new();
    for &(chunk, count) in &req.chunks {
        let (interval, version) = if req.append {
            append_target(req, chunk, segments, pending, &out)?
        } else {
            (chunk, req.version.clone())
        };
        // Next partition number after everything with this interval and version: used,
        // unused, pending, and what this request already took.
        let taken = segments
            .iter()
            .map(|s| &s.id)
            .chain(pending.iter())
            .chain(out.iter())
            .filter(|id| id.interval == interval && id.version == version)
            .map(|id| id.partition_num + 1)
            .max()
            .unwrap_or(0);
        for k in 0..count {
            let partition_num = taken
                .checked_add(k)
                .ok_or_else(|| MsqError::InsertCannotAllocateSegment {
                    data_source: req.data_source.clone(),
                    interval: chunk.to_iso(),
                    message: "partition numbers are exhausted".into(),
                })?;
            out.push(SegmentId::new(
                req.data_source.clone(),
                interval,
                version.clone(),
                partition_num,
            ));
        }
    }
    Ok(out)
}

/// The interval and version an appended chunk goes to.
fn append_target(
    req: &AllocateRequest,
    chunk: Interval,
    segments: &[SegmentRecord],
    pending: &[SegmentId],
    earlier: &[SegmentId],
) -> Result<(Interval, String)> {
    let conflict = |message: String| MsqError::InsertCannotAllocateSegment {
        data_source: req.data_source.clone(),
        interval: chunk.to_iso(),
        message,
    };
    let used: Vec<SegmentRecord> = segments
        .iter()
        .filter(|s| s.used && s.id.interval.overlaps(&chunk))
        .cloned()
        .collect();
    let alloc = allocate(&used, chunk, &req.version, true).map_err(|e| match e {
        MsqError::Validation(m) => conflict(m),
        other => other,
    })?;
    if alloc.first_partition_num > 0 || alloc.version != req.version || alloc.interval != chunk {
        // Appending to visible data.
        return Ok((alloc.interval, alloc.version));
    }
    // No data visible: join what other INSERTs have pending here, or start a new version
    // above anything already in the chunk (a tombstone must not hide the new rows).
    let top_used = used.iter().map(|s| s.id.version.as_str()).max();
    let others: Vec<&SegmentId> = pending
        .iter()
        .chain(earlier.iter())
        .filter(|p| p.interval.overlaps(&chunk))
        .collect();
    if !others.is_empty() {
        let intervals: std::collections::BTreeSet<Interval> = others.iter().map(|p| p.interval).collect();
        let target = *intervals.iter().next().expect("non-empty");
        if intervals.len() > 1 || !target.encloses(&chunk) {
            let list = intervals.iter().map(|i| i.to_iso()).collect::<Vec<_>>().join(", ");
            return Err(conflict(format!(
                "it overlaps segments that a concurrent ingestion is writing with interval(s) [{list}], which do not \
                 align with the PARTITIONED BY granularity of this INSERT. Use the same granularity or retry when it \
                 has finished."
            )));
        }
        let version = others
            .iter()
            .filter(|p| p.interval == target)
            .map(|p| p.version.as_str())
            .max()
            .expect("non-empty")
            .to_string();
        if top_used.is_none_or(|t| version.as_str() > t) {
            return Ok((target, version));
        }
    }
    let top = top_used
        .into_iter()
        .chain(others.iter().map(|p| p.version.as_str()))
        .max();
    Ok((chunk, replace_version(&req.version, top)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::Signature;

    fn iv(a: &str, b: &str) -> Interval {
        Interval::new(parse_instant(a).unwrap(), parse_instant(b).unwrap())
    }

    fn seg(interval: Interval, version: &str, p: u32, used: bool, tombstone: bool) -> SegmentRecord {
        SegmentRecord {
            id: SegmentId::new("wiki", interval, version, p),
            used,
            is_tombstone: tombstone,
            num_rows: if tombstone { 0 } else { 10 },
            size_bytes: 1,
            path: String::new(),
            signature: Signature::default(),
            min_time: None,
            max_time: None,
            created_date: String::new(),
            used_status_last_updated: String::new(),
            shard_spec: serde_json::Value::Null,
        }
    }

    fn req(chunks: Vec<(Interval, u32)>, version: &str, append: bool) -> AllocateRequest {
        AllocateRequest {
            data_source: "wiki".into(),
            task_id: "t".into(),
            chunks,
            version: version.into(),
            append,
            lock_expires_ms: 0,
        }
    }

    fn lock(task: &str, interval: Interval, t: LockType) -> TaskLock {
        TaskLock {
            task_id: task.into(),
            data_source: "wiki".into(),
            interval,
            lock_type: t,
            version: String::new(),
            expires_ms: 0,
        }
    }

    const V1: &str = "2024-01-01T00:00:00.000Z";
    const V2: &str = "2024-01-02T00:00:00.000Z";
    const V3: &str = "2024-01-03T00:00:00.000Z";

    #[test]
    fn shared_locks_coexist_exclusive_ones_do_not() {
        let day = iv("2015-09-12", "2015-09-13");
        let hour = iv("2015-09-12T05:00:00Z", "2015-09-12T06:00:00Z");
        let next = iv("2015-09-13", "2015-09-14");
        let live = vec![lock("a", day, LockType::Shared), lock("b", next, LockType::Exclusive)];
        assert!(lock_conflicts(&live, "c", &[hour], LockType::Shared).is_empty());
        assert_eq!(
            lock_conflicts(&live, "c", &[hour], LockType::Exclusive),
            vec![live[0].clone()]
        );
        assert_eq!(
            lock_conflicts(&live, "c", &[next], LockType::Shared),
            vec![live[1].clone()]
        );
        // A task never conflicts with itself.
        assert!(lock_conflicts(&live, "b", &[next], LockType::Exclusive).is_empty());
        assert!(locks_cover(&live, "b", &[next], LockType::Shared));
        assert!(!locks_cover(&live, "a", &[day], LockType::Exclusive));
        assert!(!locks_cover(&live, "a", &[next], LockType::Shared));
    }

    #[test]
    fn versions_bump_above_existing() {
        assert_eq!(version_after(V1), "2024-01-01T00:00:00.001Z");
        assert_eq!(version_after("v1"), "v11");
        assert!(version_after("v1").as_str() > "v1");
        assert_eq!(replace_version(V2, [V1]), V2);
        assert_eq!(replace_version(V1, [V2]), "2024-01-02T00:00:00.001Z");
        assert_eq!(replace_version(V1, [V1]), "2024-01-01T00:00:00.001Z");
        assert_eq!(replace_version(V1, []), V1);
    }

    #[test]
    fn concurrent_inserts_share_a_fresh_chunk_version() {
        let day = iv("2015-09-12", "2015-09-13");
        // First INSERT into an empty chunk starts its own version.
        let a = allocate_ids(&req(vec![(day, 2)], V1, true), &[], &[]).unwrap();
        assert_eq!(
            a,
            vec![SegmentId::new("wiki", day, V1, 0), SegmentId::new("wiki", day, V1, 1)]
        );
        // A later INSERT (newer start time) joins the pending version, after its partitions.
        let b = allocate_ids(&req(vec![(day, 1)], V2, true), &[], &a).unwrap();
        assert_eq!(b, vec![SegmentId::new("wiki", day, V1, 2)]);
    }

    #[test]
    fn inserts_append_after_used_unused_and_pending_partitions() {
        let day = iv("2015-09-12", "2015-09-13");
        let segs = vec![
            seg(day, V1, 0, true, false),
            seg(day, V1, 1, true, false),
            seg(day, V1, 4, false, false),
        ];
        let pending = vec![SegmentId::new("wiki", day, V1, 5)];
        let ids = allocate_ids(&req(vec![(day, 2)], V3, true), &segs, &pending).unwrap();
        assert_eq!(
            ids,
            vec![SegmentId::new("wiki", day, V1, 6), SegmentId::new("wiki", day, V1, 7)]
        );
    }

    #[test]
    fn a_tombstone_never_hides_new_rows() {
        let day = iv("2015-09-12", "2015-09-13");
        // A REPLACE emptied the chunk with a tombstone of a version newer than the INSERT's.
        let segs = vec![seg(day, V1, 0, false, false), seg(day, V2, 0, true, true)];
        let ids = allocate_ids(&req(vec![(day, 1)], V1, true), &segs, &[]).unwrap();
        assert_eq!(ids, vec![SegmentId::new("wiki", day, "2024-01-02T00:00:00.001Z", 0)]);
        // A dead task's pending id below the tombstone is not joined either.
        let stale = vec![SegmentId::new("wiki", day, V1, 3)];
        let ids = allocate_ids(&req(vec![(day, 1)], V1, true), &segs, &stale).unwrap();
        assert_eq!(ids[0].version, "2024-01-02T00:00:00.001Z");
    }

    #[test]
    fn misaligned_pending_segments_refuse_allocation() {
        let day = iv("2015-09-12", "2015-09-13");
        let hour = iv("2015-09-12T05:00:00Z", "2015-09-12T06:00:00Z");
        let pending = vec![SegmentId::new("wiki", hour, V1, 0)];
        let e = allocate_ids(&req(vec![(day, 1)], V2, true), &[], &pending).unwrap_err();
        assert_eq!(e.error_code(), "InsertCannotAllocateSegment");
        // A finer chunk inside a pending coarser one joins it.
        let pending = vec![SegmentId::new("wiki", day, V1, 0)];
        let ids = allocate_ids(&req(vec![(hour, 1)], V2, true), &[], &pending).unwrap();
        assert_eq!(ids, vec![SegmentId::new("wiki", day, V1, 1)]);
    }

    #[test]
    fn replace_writes_its_version_from_zero() {
        let day = iv("2015-09-12", "2015-09-13");
        let next = iv("2015-09-13", "2015-09-14");
        let segs = vec![seg(day, V1, 0, true, false)];
        let ids = allocate_ids(&req(vec![(day, 2), (next, 1)], V2, false), &segs, &[]).unwrap();
        assert_eq!(
            ids,
            vec![
                SegmentId::new("wiki", day, V2, 0),
                SegmentId::new("wiki", day, V2, 1),
                SegmentId::new("wiki", next, V2, 0)
            ]
        );
    }
}
