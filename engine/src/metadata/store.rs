//! The metadata store interface: segments, pending segments, tasks, reports and logs.
//!
//! Methods are synchronous; async callers wrap them in `tokio::task::spawn_blocking`.
//! Implementations: [`super::SqliteMetadataStore`] (embedded) and
//! [`super::PostgresMetadataStore`]; nothing here names a database library. The publish rules
//! both apply are the pure [`segments_to_mark_unused`].

use super::allocation::{AllocateOutcome, AllocateRequest, LockOutcome, LockRequest, LockType, TaskLock};
use super::segment::{SegmentId, SegmentRecord};
use super::timeline::{overshadowed, union_encloses};
use crate::error::{MsqError, Result};
use crate::granularity::{format_millis, Interval};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// The current time as Druid prints instants (`2024-01-01T00:00:00.000Z`).
pub fn now_iso() -> String {
    format_millis(chrono::Utc::now().timestamp_millis())
}

/// One ingestion's segments, published atomically.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentPublish {
    pub data_source: String,
    /// The publishing task (its pending segments are deleted on publish).
    pub task_id: String,
    /// New segments, tombstones included; all are inserted as used.
    pub segments: Vec<SegmentRecord>,
    /// For REPLACE: the OVERWRITE intervals. `None` for INSERT.
    pub replace: Option<Vec<Interval>>,
    /// The lock the task must still hold over every segment's interval (and the OVERWRITE
    /// intervals) for the publish to go through (`InsertLockPreempted` otherwise); `None`
    /// publishes without checking locks (tools and tests).
    pub lock: Option<LockType>,
}

/// What a publish changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishResult {
    pub published: Vec<SegmentId>,
    pub marked_unused: Vec<SegmentId>,
}

/// Refuses a publish carrying a segment of another dataSource.
pub fn check_publish(p: &SegmentPublish) -> Result<()> {
    match p.segments.iter().find(|s| s.id.data_source != p.data_source) {
        Some(s) => Err(MsqError::Metadata(format!(
            "segment [{}] does not belong to dataSource [{}]",
            s.id, p.data_source
        ))),
        None => Ok(()),
    }
}

/// The publish rules every store applies inside its transaction: given the dataSource's
/// currently `used` segments, the ids `p` marks unused — for REPLACE, those wholly inside the
/// OVERWRITE intervals with a lower version than the new segments; then those the new
/// segments fully overshadow. Each id once, in that order.
pub fn segments_to_mark_unused(used: &[SegmentRecord], p: &SegmentPublish) -> Vec<SegmentId> {
    let mut seen: HashSet<SegmentId> = HashSet::new();
    let mut marked: Vec<SegmentId> = Vec::new();
    if let (Some(replace), Some(min_version)) = (&p.replace, p.segments.iter().map(|s| s.id.version.as_str()).min()) {
        for s in used {
            if s.id.version.as_str() < min_version
                && union_encloses(replace, s.id.interval)
                && seen.insert(s.id.clone())
            {
                marked.push(s.id.clone());
            }
        }
    }
    for id in overshadowed(used, &p.segments) {
        if seen.insert(id.clone()) {
            marked.push(id);
        }
    }
    marked
}

/// What a kill task removes: the unused segments of `data_source` lying wholly inside
/// `interval`, oldest time chunks first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillRequest {
    pub data_source: String,
    pub interval: Interval,
    /// The kill task, which must hold an exclusive lock covering `interval` (as Druid's kill
    /// task does) for anything to go; `None` skips the check (tools and tests).
    pub task_id: Option<String>,
    /// At most this many segments.
    pub limit: Option<usize>,
    /// Only segments whose `used` flag last changed at or before this ISO instant.
    pub max_used_status_last_updated: Option<String>,
}

/// What a kill removed from the metadata store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KillResult {
    /// The deleted records (all were unused).
    pub killed: Vec<SegmentRecord>,
    /// Paths of killed segments that remaining records (used or not) still name: their files
    /// must stay.
    pub still_referenced: Vec<String>,
}

/// The kill rules every store applies inside its transaction: among `segments` (the
/// dataSource's segments overlapping the interval), the unused ones wholly inside it whose
/// status last changed no later than the request allows, in store order, up to the limit.
/// A used segment is never chosen.
pub fn segments_to_kill(segments: &[SegmentRecord], req: &KillRequest) -> Vec<SegmentRecord> {
    segments
        .iter()
        .filter(|s| !s.used && s.id.data_source == req.data_source && req.interval.encloses(&s.id.interval))
        .filter(|s| {
            req.max_used_status_last_updated
                .as_deref()
                .is_none_or(|max| s.used_status_last_updated.as_str() <= max)
        })
        .take(req.limit.unwrap_or(usize::MAX))
        .cloned()
        .collect()
}

/// The deep-storage files a kill deletes: each killed segment's own file (a path its id
/// owns, see [`SegmentId::owns_path`]), unless a remaining record still names it. Tombstones
/// have none.
pub fn files_to_delete(k: &KillResult) -> Vec<String> {
    let keep: HashSet<&str> = k.still_referenced.iter().map(String::as_str).collect();
    let mut out: Vec<String> = Vec::new();
    for s in &k.killed {
        if !s.path.is_empty() && s.id.owns_path(&s.path) && !keep.contains(s.path.as_str()) && !out.contains(&s.path) {
            out.push(s.path.clone());
        }
    }
    out
}

/// One row of `druid_tasks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRecord {
    pub id: String,
    pub group_id: String,
    /// `query_controller`, `query_worker`, ...
    pub task_type: String,
    pub data_source: String,
    /// ISO instant.
    pub created_time: String,
    /// ISO instant.
    pub queue_insertion_time: String,
    /// `RUNNING`, `SUCCESS` or `FAILED`.
    pub status: String,
    /// `PENDING`, `WAITING`, `RUNNING` or `NONE`.
    pub runner_status: String,
    /// -1 while running.
    pub duration_ms: i64,
    pub error_msg: Option<String>,
    pub location: serde_json::Value,
    pub payload: serde_json::Value,
    pub report: Option<serde_json::Value>,
    pub opaque_id: Option<String>,
}

/// Which tasks [`MetadataStore::list_tasks`] returns; every set field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    /// Any of these `status` values (`RUNNING`, `SUCCESS`, `FAILED`).
    pub status: Option<Vec<String>>,
    pub data_source: Option<String>,
    /// `created_time >= created_after` (ISO instant, inclusive).
    pub created_after: Option<String>,
    /// `created_time < created_before` (ISO instant, exclusive).
    pub created_before: Option<String>,
    /// At most this many tasks (the newest).
    pub max: Option<usize>,
    pub task_type: Option<String>,
}

impl TaskFilter {
    /// The `druid_tasks` query selecting `columns` of the matching tasks, newest first, and
    /// its text arguments in order; `placeholder(n)` writes the n-th (1-based) argument's
    /// marker in the backend's syntax. `None` when nothing can match (an empty status list).
    pub fn to_sql(&self, columns: &str, placeholder: fn(usize) -> String) -> Option<(String, Vec<String>)> {
        let mut clauses: Vec<String> = Vec::new();
        let mut args: Vec<String> = Vec::new();
        let mut arg = |v: &str| {
            args.push(v.to_string());
            placeholder(args.len())
        };
        if let Some(statuses) = &self.status {
            if statuses.is_empty() {
                return None;
            }
            let marks: Vec<String> = statuses.iter().map(|s| arg(s)).collect();
            clauses.push(format!("status IN ({})", marks.join(", ")));
        }
        if let Some(ds) = &self.data_source {
            clauses.push(format!("data_source = {}", arg(ds)));
        }
        if let Some(t) = &self.task_type {
            clauses.push(format!(r#""type" = {}"#, arg(t)));
        }
        if let Some(a) = &self.created_after {
            clauses.push(format!("created_time >= {}", arg(a)));
        }
        if let Some(b) = &self.created_before {
            clauses.push(format!("created_time < {}", arg(b)));
        }
        let mut sql = format!("SELECT {columns} FROM druid_tasks");
        if !clauses.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&clauses.join(" AND "));
        }
        sql.push_str(" ORDER BY created_time DESC, id DESC");
        if let Some(max) = self.max {
            sql.push_str(&format!(" LIMIT {max}"));
        }
        Some((sql, args))
    }
}

/// Durable metadata: segments, pending segments, tasks.
pub trait MetadataStore: Send + Sync {
    // ---- segments ----

    /// Used segments of `data_source` overlapping `interval` (all of them when `None`),
    /// ordered by interval start, end, version and partition number.
    fn used_segments(&self, data_source: &str, interval: Option<Interval>) -> Result<Vec<SegmentRecord>>;

    /// Every segment of `data_source`, used and unused, in the same order.
    fn all_segments(&self, data_source: &str) -> Result<Vec<SegmentRecord>>;

    /// Names of the dataSources that have used segments, sorted.
    fn data_sources(&self) -> Result<Vec<String>>;

    /// Names of every dataSource with segments in the store, used or unused, sorted.
    fn all_data_sources(&self) -> Result<Vec<String>>;

    /// One segment by its textual id (used or not).
    fn segment(&self, id: &str) -> Result<Option<SegmentRecord>>;

    /// Publishes one ingestion's segments in one transaction: for REPLACE, marks unused every
    /// used segment of the dataSource that lies wholly inside the OVERWRITE intervals with a
    /// lower version than the new segments; marks unused every used segment the new ones
    /// fully overshadow; inserts the new segments as used; deletes the task's pending
    /// segments. Either all of it happens or none.
    fn publish(&self, p: &SegmentPublish) -> Result<PublishResult>;

    /// Marks unused the used segments of `data_source` lying wholly inside `interval` (all
    /// of them when `None`); returns their ids. Rows stay in the table.
    fn mark_unused(&self, data_source: &str, interval: Option<Interval>) -> Result<Vec<SegmentId>>;

    /// Sets the `used` flag of the given segments (by textual id); returns how many changed.
    fn set_segments_used(&self, ids: &[String], used: bool) -> Result<usize>;

    /// Deletes the records of the segments [`segments_to_kill`] picks, in one transaction
    /// serialized with publishes, after checking the kill task still holds its lock
    /// (`InsertLockPreempted` otherwise: nothing is deleted). Only rows still unused inside
    /// that transaction go. Files are the caller's to delete ([`files_to_delete`]).
    fn kill_unused_segments(&self, req: &KillRequest) -> Result<KillResult>;

    // ---- time-chunk locks and segment allocation ----

    /// Takes the requested locks, all or none, unless a live lock of another task conflicts.
    /// An exclusive lock gets a version above every segment and pending id in its intervals
    /// (`now_version` when that is higher). Locks lapse at `expires_ms` unless renewed, and as
    /// soon as their task stops running.
    fn lock_intervals(&self, req: &LockRequest) -> Result<LockOutcome>;

    /// Allocates segment ids for an ingestion in one transaction, recording them as the
    /// task's pending segments: an INSERT takes shared locks on its chunks (unless another
    /// task holds them exclusively); a REPLACE must hold its exclusive lock.
    fn allocate_segments(&self, req: &AllocateRequest) -> Result<AllocateOutcome>;

    /// Extends the task's locks until `expires_ms`; returns how many it holds.
    fn renew_locks(&self, task_id: &str, expires_ms: i64) -> Result<usize>;

    /// Releases every lock of the task.
    fn release_locks(&self, task_id: &str) -> Result<usize>;

    /// The locks rows of a dataSource (live or lapsed).
    fn task_locks(&self, data_source: &str) -> Result<Vec<TaskLock>>;

    // ---- pending segments ----

    /// Pending segment ids of one task.
    fn pending_segments_for_task(&self, task_id: &str) -> Result<Vec<SegmentId>>;

    /// Records segment ids allocated by a running task.
    fn insert_pending_segments(&self, task_id: &str, ids: &[SegmentId]) -> Result<()>;

    /// Pending segment ids of a dataSource.
    fn pending_segments(&self, data_source: &str) -> Result<Vec<SegmentId>>;

    /// Deletes the pending segments of a dataSource that no running task owns
    /// (`DELETE /pendingSegments/{ds}`).
    fn delete_pending_segments(&self, data_source: &str) -> Result<usize>;

    /// Deletes the pending segments a task allocated.
    fn delete_pending_segments_for_task(&self, task_id: &str) -> Result<usize>;

    // ---- tasks ----

    /// Inserts a new task (its id must be new).
    fn insert_task(&self, t: &TaskRecord) -> Result<()>;

    /// Updates a task's status, runner status, duration, error and location.
    fn update_task(&self, t: &TaskRecord) -> Result<()>;

    /// Stores a task's report.
    fn set_task_report(&self, task_id: &str, report: &serde_json::Value) -> Result<()>;

    /// One task.
    fn get_task(&self, task_id: &str) -> Result<Option<TaskRecord>>;

    /// Tasks matching `filter`, newest first.
    fn list_tasks(&self, filter: &TaskFilter) -> Result<Vec<TaskRecord>>;

    /// Appends one line to a task's log.
    fn append_task_log(&self, task_id: &str, line: &str) -> Result<()>;

    /// A task's log: its lines, each ending in `\n` (empty when there is none).
    fn task_log(&self, task_id: &str) -> Result<String>;

    /// Deletes finished (not `RUNNING`) tasks created before `cutoff_iso`, with their logs;
    /// returns how many tasks went.
    fn delete_completed_tasks_before(&self, cutoff_iso: &str) -> Result<usize>;

    // ---- lookups ----

    /// Every lookup of every tier, by tier then name.
    fn lookups(&self) -> Result<Vec<super::lookup::LookupRecord>>;

    /// One lookup.
    fn lookup(&self, tier: &str, name: &str) -> Result<Option<super::lookup::LookupRecord>>;

    /// Writes lookups in one transaction: each must pass
    /// [`check_update`](super::lookup::check_update) against the stored one (all or none
    /// are written), unless `replace` (then each simply replaces the stored one).
    fn put_lookups(&self, records: &[super::lookup::LookupRecord], replace: bool) -> Result<()>;

    /// Deletes one lookup of `tier`, or the whole tier when `name` is `None`; returns how many
    /// lookups went.
    fn delete_lookups(&self, tier: &str, name: Option<&str>) -> Result<usize>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::Signature;

    fn rec(partition_num: u32, interval: Interval, used: bool, path: &str, updated: &str) -> SegmentRecord {
        SegmentRecord {
            id: SegmentId::new("wiki", interval, "v1", partition_num),
            used,
            is_tombstone: path.is_empty(),
            num_rows: 1,
            size_bytes: 1,
            path: path.to_string(),
            signature: Signature::default(),
            min_time: None,
            max_time: None,
            created_date: String::new(),
            used_status_last_updated: updated.to_string(),
            shard_spec: serde_json::Value::Null,
        }
    }

    fn req(interval: Interval) -> KillRequest {
        KillRequest {
            data_source: "wiki".into(),
            interval,
            task_id: None,
            limit: None,
            max_used_status_last_updated: None,
        }
    }

    #[test]
    fn kills_only_unused_segments_inside_the_interval() {
        let (a, b, c) = (Interval::new(0, 10), Interval::new(10, 20), Interval::new(5, 15));
        let t = "2024-01-01T00:00:00.000Z";
        let segs = vec![
            rec(0, a, false, "", t),
            rec(1, a, true, "", t),
            rec(0, b, false, "", "2024-02-01T00:00:00.000Z"),
            rec(0, c, false, "", t),
        ];
        let ids = |v: Vec<SegmentRecord>| {
            v.into_iter()
                .map(|s| (s.id.interval, s.id.partition_num))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ids(segments_to_kill(&segs, &req(Interval::new(0, 20)))),
            [(a, 0), (b, 0), (c, 0)]
        );
        assert_eq!(ids(segments_to_kill(&segs, &req(a))), [(a, 0)]);
        let limited = KillRequest {
            limit: Some(1),
            ..req(Interval::eternity())
        };
        assert_eq!(ids(segments_to_kill(&segs, &limited)), [(a, 0)]);
        let old_only = KillRequest {
            max_used_status_last_updated: Some(t.into()),
            ..req(Interval::eternity())
        };
        assert_eq!(ids(segments_to_kill(&segs, &old_only)), [(a, 0), (c, 0)]);
        let other = KillRequest {
            data_source: "other".into(),
            ..req(Interval::eternity())
        };
        assert!(segments_to_kill(&segs, &other).is_empty());
    }

    #[test]
    fn files_are_the_segments_own_and_unshared() {
        let iv = Interval::new(0, 10);
        let own = |p: u32| SegmentId::new("wiki", iv, "v1", p).path("q1");
        let k = KillResult {
            killed: vec![
                rec(0, iv, false, &own(0), ""),
                rec(1, iv, false, &own(1), ""),
                rec(2, iv, false, "", ""),
                rec(3, iv, false, "../../etc/passwd", ""),
                rec(4, iv, false, &own(0), ""),
            ],
            still_referenced: vec![own(1)],
        };
        assert_eq!(files_to_delete(&k), vec![own(0)]);
    }
}
