//! The metadata store test suite, run against every [`MetadataStore`] implementation:
//! [`store_suite!`] expands to one `#[test]` per case for a fixture.

use msq_engine::error::MsqError;
use msq_engine::granularity::parse_instant;
use msq_engine::granularity::Interval;
use msq_engine::metadata::allocation::{AllocateOutcome, AllocateRequest, LockOutcome, LockRequest, LockType};
use msq_engine::metadata::segment::{SegmentId, SegmentRecord};
use msq_engine::metadata::store::{KillRequest, KillResult, MetadataStore, SegmentPublish, TaskFilter, TaskRecord};
use msq_engine::metadata::timeline::{allocate, visible_segments};
use msq_engine::signature::{ColumnSignature, ColumnType, Signature};
use serde_json::json;
use std::sync::Arc;

const H: i64 = 3_600_000;

fn day(d: &str) -> Interval {
    let s = parse_instant(d).unwrap();
    Interval::new(s, s + 24 * H)
}

fn seg(ds: &str, interval: Interval, version: &str, part: u32) -> SegmentRecord {
    SegmentRecord {
        id: SegmentId::new(ds, interval, version, part),
        used: true,
        is_tombstone: false,
        num_rows: 100 + u64::from(part),
        size_bytes: 4096,
        path: format!("{ds}/{}/{version}/{part}.parquet", interval.start),
        signature: Signature(vec![
            ColumnSignature {
                name: "__time".into(),
                column_type: ColumnType::Long,
            },
            ColumnSignature {
                name: "page".into(),
                column_type: ColumnType::String,
            },
        ]),
        min_time: Some(interval.start),
        max_time: Some(interval.end - 1),
        created_date: "2024-01-01T00:00:00.000Z".into(),
        used_status_last_updated: "2024-01-01T00:00:00.000Z".into(),
        shard_spec: json!({"type": "numbered", "partitionNum": part, "partitions": 2}),
    }
}

fn tomb(ds: &str, interval: Interval, version: &str) -> SegmentRecord {
    SegmentRecord {
        is_tombstone: true,
        num_rows: 0,
        size_bytes: 0,
        path: String::new(),
        signature: Signature::default(),
        min_time: None,
        max_time: None,
        shard_spec: json!({"type": "tombstone", "partitionNum": 0, "partitions": 1}),
        ..seg(ds, interval, version, 0)
    }
}

fn insert(ds: &str, task: &str, segments: Vec<SegmentRecord>) -> SegmentPublish {
    SegmentPublish {
        data_source: ds.into(),
        task_id: task.into(),
        segments,
        replace: None,
        lock: None,
    }
}

fn task(id: &str, ds: &str, created: &str, status: &str) -> TaskRecord {
    TaskRecord {
        id: id.into(),
        group_id: id.into(),
        task_type: "query_controller".into(),
        data_source: ds.into(),
        created_time: created.into(),
        queue_insertion_time: created.into(),
        status: status.into(),
        runner_status: if status == "RUNNING" { "RUNNING" } else { "NONE" }.into(),
        duration_ms: if status == "RUNNING" { -1 } else { 1234 },
        error_msg: None,
        location: json!({"host": "localhost", "port": -1, "tlsPort": -1}),
        payload: json!({"type": "query_controller", "id": id, "sqlQuery": "SELECT 1"}),
        report: None,
        opaque_id: None,
    }
}

/// A fresh, empty store for one test.
pub(crate) trait Fixture {
    /// The store under test (the same one on every call).
    fn store(&self) -> Arc<dyn MetadataStore>;
    /// A new store instance over the same database (a restart).
    fn reopen(&self) -> Arc<dyn MetadataStore>;
}

/// Expands to one `#[test]` per suite case; `$fixture` is an expression of type
/// `Option<impl Fixture>` evaluated per test (`None` skips the test).
macro_rules! store_suite {
    ($fixture:expr) => {
        $crate::store_tests::store_suite!(@cases $fixture;
            publish_reopen_and_read_back,
            eternity_segments_round_trip,
            replace_marks_older_versions_unused_but_keeps_rows,
            replace_of_finer_granularity_marks_covered_segments_only,
            failed_publish_changes_nothing,
            insert_append_allocation_against_store,
            mark_unused_set_used_and_pending,
            used_segments_follow_every_change,
            tasks_round_trip_filters_logs_reports,
            concurrent_use_from_threads,
            concurrent_publishes_serialize,
            locks_conflict_wait_and_lapse,
            concurrent_allocations_get_distinct_ids,
            publish_needs_the_lock,
            kill_deletes_only_unused_records_inside_the_interval,
            kill_needs_the_exclusive_lock,
            lookups_round_trip_with_versions,
        );
    };
    (@cases $fixture:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                if let Some(fx) = $fixture {
                    $crate::store_tests::$case(&fx);
                }
            }
        )*
    };
}
pub(crate) use store_suite;

pub(crate) fn publish_reopen_and_read_back(fx: &dyn Fixture) {
    let d = day("2015-09-12");
    let segs = vec![
        seg("wiki", d, "2024-01-01T00:00:00.000Z", 0),
        seg("wiki", d, "2024-01-01T00:00:00.000Z", 1),
    ];
    {
        let store = fx.store();
        store
            .insert_pending_segments("t1", &segs.iter().map(|s| s.id.clone()).collect::<Vec<_>>())
            .unwrap();
        assert_eq!(store.pending_segments("wiki").unwrap().len(), 2);
        let res = store.publish(&insert("wiki", "t1", segs.clone())).unwrap();
        assert_eq!(res.published, segs.iter().map(|s| s.id.clone()).collect::<Vec<_>>());
        assert!(res.marked_unused.is_empty());
        // Publishing removed the task's pending segments.
        assert!(store.pending_segments("wiki").unwrap().is_empty());
    }
    let store = fx.reopen();
    assert_eq!(store.used_segments("wiki", None).unwrap(), segs);
    assert_eq!(store.all_segments("wiki").unwrap(), segs);
    assert_eq!(store.data_sources().unwrap(), vec!["wiki".to_string()]);
    assert_eq!(store.segment(&segs[1].id.to_string()).unwrap().as_ref(), Some(&segs[1]));
    assert_eq!(store.segment("nope").unwrap(), None);
    // Interval filtering: overlap, half-open.
    assert_eq!(
        store
            .used_segments("wiki", Some(Interval::new(d.start + H, d.start + 2 * H)))
            .unwrap()
            .len(),
        2
    );
    assert!(store
        .used_segments("wiki", Some(Interval::new(d.end, d.end + H)))
        .unwrap()
        .is_empty());
    assert!(store
        .used_segments("wiki", Some(Interval::new(d.start - H, d.start)))
        .unwrap()
        .is_empty());
    assert!(store.used_segments("other", None).unwrap().is_empty());
}

pub(crate) fn eternity_segments_round_trip(fx: &dyn Fixture) {
    let store = fx.store();
    let s = seg("all", Interval::eternity(), "v1", 0);
    store.publish(&insert("all", "t", vec![s.clone()])).unwrap();
    assert_eq!(
        store.used_segments("all", Some(day("2015-09-12"))).unwrap(),
        vec![s.clone()]
    );
    assert_eq!(store.segment(&s.id.to_string()).unwrap(), Some(s));
}

pub(crate) fn replace_marks_older_versions_unused_but_keeps_rows(fx: &dyn Fixture) {
    let store = fx.store();
    let d1 = day("2015-09-12");
    let d2 = day("2015-09-13");
    let d3 = day("2015-09-14");
    let v1 = "2024-01-01T00:00:00.000Z";
    let v2 = "2024-02-01T00:00:00.000Z";
    let old = vec![
        seg("wiki", d1, v1, 0),
        seg("wiki", d1, v1, 1),
        seg("wiki", d2, v1, 0),
        seg("wiki", d3, v1, 0),
    ];
    store.publish(&insert("wiki", "t1", old.clone())).unwrap();

    // REPLACE d1..d3 (exclusive): new data for d1, a tombstone for d2; d3 is outside.
    let new = vec![seg("wiki", d1, v2, 0), tomb("wiki", d2, v2)];
    let res = store
        .publish(&SegmentPublish {
            data_source: "wiki".into(),
            task_id: "t2".into(),
            segments: new.clone(),
            replace: Some(vec![Interval::new(d1.start, d2.end)]),
            lock: None,
        })
        .unwrap();
    let mut marked = res.marked_unused.clone();
    marked.sort();
    let mut expected: Vec<SegmentId> = old[..3].iter().map(|s| s.id.clone()).collect();
    expected.sort();
    assert_eq!(marked, expected);

    let used = store.used_segments("wiki", None).unwrap();
    let used_ids: Vec<String> = used.iter().map(|s| s.id.to_string()).collect();
    assert_eq!(used.len(), 3, "{used_ids:?}");
    assert!(used.iter().any(|s| s.id == old[3].id));
    assert!(used.iter().any(|s| s.is_tombstone && s.id.interval == d2));
    // Unused rows remain.
    let all = store.all_segments("wiki").unwrap();
    assert_eq!(all.len(), 6);
    assert_eq!(all.iter().filter(|s| !s.used).count(), 3);
    let unused = store.segment(&old[0].id.to_string()).unwrap().unwrap();
    assert!(!unused.used);
    assert_ne!(unused.used_status_last_updated, old[0].used_status_last_updated);

    // The visible timeline skips the tombstone chunk's old data.
    let vis = visible_segments(&used, Interval::new(d1.start, d3.end));
    assert_eq!(vis.len(), 3);
    assert!(vis
        .iter()
        .all(|v| v.segment.id.version == v2 || v.segment.id.interval == d3));
}

pub(crate) fn replace_of_finer_granularity_marks_covered_segments_only(fx: &dyn Fixture) {
    let store = fx.store();
    let d = day("2015-09-12");
    store
        .publish(&insert("wiki", "t1", vec![seg("wiki", d, "v1", 0)]))
        .unwrap();
    // REPLACE one hour with HOUR granularity: the DAY segment stays used (partly visible).
    let hour = Interval::new(d.start, d.start + H);
    let res = store
        .publish(&SegmentPublish {
            data_source: "wiki".into(),
            task_id: "t2".into(),
            segments: vec![seg("wiki", hour, "v2", 0)],
            replace: Some(vec![hour]),
            lock: None,
        })
        .unwrap();
    assert!(res.marked_unused.is_empty());
    let used = store.used_segments("wiki", None).unwrap();
    assert_eq!(used.len(), 2);
    let vis = visible_segments(&used, d);
    let day_seg = vis.iter().find(|v| v.segment.id.version == "v1").unwrap();
    assert_eq!(day_seg.visible, vec![Interval::new(hour.end, d.end)]);
}

pub(crate) fn failed_publish_changes_nothing(fx: &dyn Fixture) {
    let store = fx.store();
    let d = day("2015-09-12");
    let old = seg("wiki", d, "v1", 0);
    store.publish(&insert("wiki", "t1", vec![old.clone()])).unwrap();
    let a = seg("wiki", d, "v2", 0);
    let b = seg("wiki", d, "v2", 1);
    store
        .insert_pending_segments("t2", &[a.id.clone(), b.id.clone()])
        .unwrap();
    // The same id twice: the second insert fails after the first insert and the
    // marking-unused of the old version already ran.
    let err = store
        .publish(&SegmentPublish {
            data_source: "wiki".into(),
            task_id: "t2".into(),
            segments: vec![a.clone(), b.clone(), a.clone()],
            replace: Some(vec![d]),
            lock: None,
        })
        .unwrap_err();
    assert!(matches!(err, MsqError::Metadata(_)), "{err:?}");
    assert!(err.to_string().contains(&a.id.to_string()), "{err}");
    assert_eq!(store.used_segments("wiki", None).unwrap(), vec![old.clone()]);
    assert_eq!(store.all_segments("wiki").unwrap(), vec![old]);
    assert_eq!(store.pending_segments("wiki").unwrap().len(), 2);
    // A segment of another dataSource is refused too.
    assert!(store
        .publish(&insert("wiki", "t3", vec![seg("x", d, "v3", 0)]))
        .is_err());
    // The store is still usable afterwards.
    store.publish(&insert("wiki", "t2", vec![a, b])).unwrap();
    assert_eq!(store.used_segments("wiki", None).unwrap().len(), 2);
    assert!(store.pending_segments("wiki").unwrap().is_empty());
}

pub(crate) fn insert_append_allocation_against_store(fx: &dyn Fixture) {
    let store = fx.store();
    let d = day("2015-09-12");
    // First INSERT: nothing there, new version.
    let a = allocate(&store.used_segments("wiki", None).unwrap(), d, "v1", true).unwrap();
    assert_eq!((a.interval, a.version.as_str(), a.first_partition_num), (d, "v1", 0));
    let first: Vec<SegmentRecord> = (0..2).map(|p| seg("wiki", a.interval, &a.version, p)).collect();
    store.publish(&insert("wiki", "t1", first)).unwrap();
    // Second INSERT with a later version appends to v1 after partition 1.
    let a = allocate(&store.used_segments("wiki", None).unwrap(), d, "v2", true).unwrap();
    assert_eq!((a.interval, a.version.as_str(), a.first_partition_num), (d, "v1", 2));
    let res = store
        .publish(&insert("wiki", "t2", vec![seg("wiki", a.interval, &a.version, 2)]))
        .unwrap();
    assert!(res.marked_unused.is_empty());
    assert_eq!(store.used_segments("wiki", None).unwrap().len(), 3);
    // An HOUR insert into the DAY chunk goes into the DAY interval.
    let hour = Interval::new(d.start + H, d.start + 2 * H);
    let a = allocate(&store.used_segments("wiki", None).unwrap(), hour, "v3", true).unwrap();
    assert_eq!((a.interval, a.version.as_str(), a.first_partition_num), (d, "v1", 3));
    // REPLACE always gets a fresh version.
    let a = allocate(&store.used_segments("wiki", None).unwrap(), d, "v3", false).unwrap();
    assert_eq!((a.interval, a.version.as_str(), a.first_partition_num), (d, "v3", 0));
}

pub(crate) fn mark_unused_set_used_and_pending(fx: &dyn Fixture) {
    let store = fx.store();
    let d1 = day("2015-09-12");
    let d2 = day("2015-09-13");
    let s1 = seg("wiki", d1, "v1", 0);
    let s2 = seg("wiki", d2, "v1", 0);
    store
        .publish(&insert("wiki", "t1", vec![s1.clone(), s2.clone()]))
        .unwrap();
    // Only segments wholly inside the interval are marked.
    assert!(store
        .mark_unused("wiki", Some(Interval::new(d1.start, d1.end - 1)))
        .unwrap()
        .is_empty());
    assert_eq!(store.mark_unused("wiki", Some(d1)).unwrap(), vec![s1.id.clone()]);
    assert_eq!(store.used_segments("wiki", None).unwrap(), vec![s2.clone()]);
    assert_eq!(
        store
            .set_segments_used(&[s1.id.to_string(), s2.id.to_string()], true)
            .unwrap(),
        1
    );
    assert_eq!(store.used_segments("wiki", None).unwrap().len(), 2);
    assert_eq!(store.mark_unused("wiki", None).unwrap().len(), 2);
    assert!(store.data_sources().unwrap().is_empty());
    assert_eq!(store.all_segments("wiki").unwrap().len(), 2);

    let ids: Vec<SegmentId> = (0..3).map(|p| SegmentId::new("wiki", d1, "v2", p)).collect();
    store.insert_pending_segments("ta", &ids[..2]).unwrap();
    store.insert_pending_segments("ta", &ids[..2]).unwrap(); // idempotent
    store.insert_pending_segments("tb", &ids[2..]).unwrap();
    store
        .insert_pending_segments("tc", &[SegmentId::new("other", d1, "v2", 0)])
        .unwrap();
    assert_eq!(store.pending_segments("wiki").unwrap(), ids);
    assert_eq!(store.delete_pending_segments_for_task("ta").unwrap(), 2);
    assert_eq!(store.pending_segments("wiki").unwrap(), ids[2..].to_vec());
    assert_eq!(store.delete_pending_segments("wiki").unwrap(), 1);
    assert!(store.pending_segments("wiki").unwrap().is_empty());
    assert_eq!(store.pending_segments("other").unwrap().len(), 1);
}

/// `used_segments` over all time reuses decoded rows: every change to the used set, a row's
/// `used_status_last_updated`, and a killed segment published again under its id with other
/// contents must still show, each compared with the rows as `all_segments` decodes them.
pub(crate) fn used_segments_follow_every_change(fx: &dyn Fixture) {
    let store = fx.store();
    let (d1, d2) = (day("2015-09-12"), day("2015-09-13"));
    let (s1, s2) = (seg("wiki", d1, "v1", 0), seg("wiki", d2, "v1", 0));
    let fresh = |store: &Arc<dyn MetadataStore>| -> Vec<SegmentRecord> {
        store
            .all_segments("wiki")
            .unwrap()
            .into_iter()
            .filter(|s| s.used)
            .collect()
    };
    store
        .publish(&insert("wiki", "t1", vec![s1.clone(), s2.clone()]))
        .unwrap();
    for _ in 0..2 {
        assert_eq!(store.used_segments("wiki", None).unwrap(), vec![s1.clone(), s2.clone()]);
    }
    store.set_segments_used(&[s1.id.to_string()], false).unwrap();
    assert_eq!(store.used_segments("wiki", None).unwrap(), vec![s2.clone()]);
    std::thread::sleep(std::time::Duration::from_millis(2));
    store.set_segments_used(&[s1.id.to_string()], true).unwrap();
    let used = store.used_segments("wiki", None).unwrap();
    assert_eq!(used, fresh(&store));
    assert_ne!(used[0].used_status_last_updated, s1.used_status_last_updated);
    // Killed, then published again under the same id with another path and signature.
    assert_eq!(store.mark_unused("wiki", Some(d1)).unwrap(), vec![s1.id.clone()]);
    assert_eq!(store.used_segments("wiki", None).unwrap(), vec![s2.clone()]);
    store.kill_unused_segments(&kill_req(d1, None)).unwrap();
    let mut again = s1.clone();
    again.path = "wiki/again.parquet".into();
    again.created_date = "2024-02-02T00:00:00.000Z".into();
    again.signature.0.push(ColumnSignature {
        name: "added".into(),
        column_type: ColumnType::Long,
    });
    store.publish(&insert("wiki", "t2", vec![again.clone()])).unwrap();
    assert_eq!(store.used_segments("wiki", None).unwrap(), vec![again, s2.clone()]);
    assert_eq!(store.used_segments("wiki", None).unwrap(), fresh(&store));
    // A restarted store (an empty cache) and this one agree; all unused reads as nothing.
    assert_eq!(fx.reopen().used_segments("wiki", None).unwrap(), fresh(&store));
    store.mark_unused("wiki", None).unwrap();
    assert!(store.used_segments("wiki", None).unwrap().is_empty());
}

fn kill_req(interval: Interval, task_id: Option<&str>) -> KillRequest {
    KillRequest {
        data_source: "wiki".into(),
        interval,
        task_id: task_id.map(str::to_string),
        limit: None,
        max_used_status_last_updated: None,
    }
}

pub(crate) fn kill_deletes_only_unused_records_inside_the_interval(fx: &dyn Fixture) {
    let store = fx.store();
    let (d1, d2, d3) = (day("2015-09-12"), day("2015-09-13"), day("2015-09-14"));
    let segs = vec![
        seg("wiki", d1, "v1", 0),
        seg("wiki", d1, "v1", 1),
        seg("wiki", d2, "v1", 0),
        seg("wiki", d3, "v1", 0),
    ];
    store.publish(&insert("wiki", "t1", segs.clone())).unwrap();
    store
        .publish(&insert("other", "t2", vec![seg("other", d1, "v1", 0)]))
        .unwrap();
    assert_eq!(store.all_data_sources().unwrap(), ["other", "wiki"]);
    // Nothing unused yet: a kill over all time deletes nothing.
    assert_eq!(
        store
            .kill_unused_segments(&kill_req(Interval::eternity(), None))
            .unwrap(),
        KillResult::default()
    );
    assert_eq!(
        store
            .mark_unused("wiki", Some(Interval::new(d1.start, d2.end)))
            .unwrap()
            .len(),
        3
    );
    store.mark_unused("other", None).unwrap();
    assert_eq!(store.data_sources().unwrap(), ["wiki"]);
    assert_eq!(store.all_data_sources().unwrap(), ["other", "wiki"]);
    // A kill of one day (plus a partial overlap of the next) takes that day's two unused
    // segments only.
    let k = store
        .kill_unused_segments(&kill_req(Interval::new(d1.start, d2.start + H), None))
        .unwrap();
    let killed: Vec<SegmentId> = k.killed.iter().map(|s| s.id.clone()).collect();
    assert_eq!(killed, vec![segs[0].id.clone(), segs[1].id.clone()]);
    assert!(k.killed.iter().all(|s| !s.used));
    assert!(k.still_referenced.is_empty());
    let left: Vec<SegmentId> = store.all_segments("wiki").unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(left, vec![segs[2].id.clone(), segs[3].id.clone()]);
    assert!(store.segment(&segs[0].id.to_string()).unwrap().is_none());
    // The used segment of d3 survives a kill over all time; d2's unused one goes, with a limit.
    let limited = KillRequest {
        limit: Some(5),
        ..kill_req(Interval::eternity(), None)
    };
    assert_eq!(store.kill_unused_segments(&limited).unwrap().killed.len(), 1);
    assert_eq!(store.used_segments("wiki", None).unwrap(), vec![segs[3].clone()]);
    assert_eq!(store.all_segments("wiki").unwrap().len(), 1);
    assert_eq!(store.all_segments("other").unwrap().len(), 1);
    // A path another row still names is reported, so its file stays.
    let a = seg("wiki", d1, "v2", 0);
    let b = SegmentRecord {
        path: a.path.clone(),
        ..seg("wiki", d2, "v2", 0)
    };
    store
        .publish(&insert("wiki", "t3", vec![a.clone(), b.clone()]))
        .unwrap();
    store.mark_unused("wiki", Some(d1)).unwrap();
    let k = store.kill_unused_segments(&kill_req(d1, None)).unwrap();
    assert_eq!(k.killed.len(), 1);
    assert_eq!(k.still_referenced, vec![a.path.clone()]);
    assert!(store.segment(&b.id.to_string()).unwrap().unwrap().used);
    assert_eq!(fx.reopen().all_segments("wiki").unwrap().len(), 2);
}

pub(crate) fn kill_needs_the_exclusive_lock(fx: &dyn Fixture) {
    let store = fx.store();
    let d1 = day("2015-09-12");
    store
        .publish(&insert("wiki", "t1", vec![seg("wiki", d1, "v1", 0)]))
        .unwrap();
    store.mark_unused("wiki", None).unwrap();
    store
        .insert_task(&task("kill-1", "wiki", "2024-01-01T00:00:00.000Z", "RUNNING"))
        .unwrap();
    let err = store.kill_unused_segments(&kill_req(d1, Some("kill-1"))).unwrap_err();
    assert!(matches!(err, MsqError::InsertLockPreempted), "{err:?}");
    assert_eq!(store.all_segments("wiki").unwrap().len(), 1);
    // A shared lock is not enough; an exclusive one over the whole interval is.
    let shared = LockRequest {
        lock_type: LockType::Shared,
        ..exclusive("kill-1", d1, "v9")
    };
    assert!(matches!(
        store.lock_intervals(&shared).unwrap(),
        LockOutcome::Acquired { .. }
    ));
    assert!(store.kill_unused_segments(&kill_req(d1, Some("kill-1"))).is_err());
    store.release_locks("kill-1").unwrap();
    assert!(matches!(
        store.lock_intervals(&exclusive("kill-1", d1, "v9")).unwrap(),
        LockOutcome::Acquired { .. }
    ));
    assert_eq!(
        store
            .kill_unused_segments(&kill_req(d1, Some("kill-1")))
            .unwrap()
            .killed
            .len(),
        1
    );
    assert!(store.all_segments("wiki").unwrap().is_empty());
}

pub(crate) fn tasks_round_trip_filters_logs_reports(fx: &dyn Fixture) {
    let store = fx.store();
    let t1 = task("query-1", "wiki", "2024-01-01T00:00:00.000Z", "SUCCESS");
    let t2 = task("query-2", "wiki", "2024-01-02T00:00:00.000Z", "FAILED");
    let mut t3 = task("query-3", "other", "2024-01-03T00:00:00.000Z", "RUNNING");
    t3.opaque_id = Some("abc".into());
    for t in [&t1, &t2, &t3] {
        store.insert_task(t).unwrap();
    }
    assert!(store.insert_task(&t1).is_err(), "duplicate task id");
    assert_eq!(store.get_task("query-3").unwrap(), Some(t3.clone()));
    assert_eq!(store.get_task("nope").unwrap(), None);

    // Update: status, runner status, duration, error, location.
    t3.status = "FAILED".into();
    t3.runner_status = "NONE".into();
    t3.duration_ms = 99;
    t3.error_msg = Some("UnknownError: boom".into());
    t3.location = json!({"host": "h", "port": 8081, "tlsPort": -1});
    store.update_task(&t3).unwrap();
    assert_eq!(store.get_task("query-3").unwrap(), Some(t3.clone()));
    assert!(store
        .update_task(&task("ghost", "x", "2024-01-01T00:00:00.000Z", "FAILED"))
        .is_err());

    // Report.
    let report = json!({"multiStageQuery": {"taskId": "query-3", "payload": {"status": {"status": "FAILED"}}}});
    store.set_task_report("query-3", &report).unwrap();
    assert_eq!(store.get_task("query-3").unwrap().unwrap().report, Some(report.clone()));
    // An update without a report keeps the stored one.
    store.update_task(&t3).unwrap();
    assert_eq!(store.get_task("query-3").unwrap().unwrap().report, Some(report));
    assert!(store.set_task_report("ghost", &json!({})).is_err());

    // Listing: newest first, with filters.
    let ids = |f: &TaskFilter| -> Vec<String> { store.list_tasks(f).unwrap().into_iter().map(|t| t.id).collect() };
    assert_eq!(ids(&TaskFilter::default()), vec!["query-3", "query-2", "query-1"]);
    assert_eq!(
        ids(&TaskFilter {
            status: Some(vec!["FAILED".into()]),
            ..Default::default()
        }),
        vec!["query-3", "query-2"]
    );
    assert_eq!(
        ids(&TaskFilter {
            status: Some(vec!["SUCCESS".into(), "RUNNING".into()]),
            ..Default::default()
        }),
        vec!["query-1"]
    );
    assert!(ids(&TaskFilter {
        status: Some(vec![]),
        ..Default::default()
    })
    .is_empty());
    assert_eq!(
        ids(&TaskFilter {
            data_source: Some("wiki".into()),
            ..Default::default()
        }),
        vec!["query-2", "query-1"]
    );
    assert_eq!(
        ids(&TaskFilter {
            created_after: Some("2024-01-02T00:00:00.000Z".into()),
            ..Default::default()
        }),
        vec!["query-3", "query-2"]
    );
    assert_eq!(
        ids(&TaskFilter {
            created_before: Some("2024-01-02T00:00:00.000Z".into()),
            ..Default::default()
        }),
        vec!["query-1"]
    );
    assert_eq!(
        ids(&TaskFilter {
            max: Some(1),
            ..Default::default()
        }),
        vec!["query-3"]
    );
    assert!(ids(&TaskFilter {
        task_type: Some("query_worker".into()),
        ..Default::default()
    })
    .is_empty());
    assert_eq!(
        ids(&TaskFilter {
            task_type: Some("query_controller".into()),
            data_source: Some("wiki".into()),
            status: Some(vec!["SUCCESS".into()]),
            ..Default::default()
        }),
        vec!["query-1"]
    );

    // Logs.
    assert_eq!(store.task_log("query-1").unwrap(), "");
    store.append_task_log("query-1", "Task [query-1] started").unwrap();
    store
        .append_task_log("query-1", "Published 2 segments with 10 rows")
        .unwrap();
    store.append_task_log("query-2", "other task").unwrap();
    assert_eq!(
        store.task_log("query-1").unwrap(),
        "Task [query-1] started\nPublished 2 segments with 10 rows\n"
    );

    // Retention: finished tasks created before the cutoff go, with their logs; running stay.
    let running = task("query-4", "wiki", "2023-01-01T00:00:00.000Z", "RUNNING");
    store.insert_task(&running).unwrap();
    assert_eq!(
        store.delete_completed_tasks_before("2024-01-02T12:00:00.000Z").unwrap(),
        2
    );
    assert_eq!(store.task_log("query-1").unwrap(), "");
    assert_eq!(store.task_log("query-2").unwrap(), "");
    assert_eq!(ids(&TaskFilter::default()), vec!["query-3", "query-4"]);
}

pub(crate) fn concurrent_use_from_threads(fx: &dyn Fixture) {
    let store = fx.store();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let s = store.clone();
            std::thread::spawn(move || {
                let id = format!("query-{i}");
                s.insert_task(&task(&id, "wiki", "2024-01-01T00:00:00.000Z", "RUNNING"))
                    .unwrap();
                for n in 0..20 {
                    s.append_task_log(&id, &format!("line {n}")).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(store.list_tasks(&TaskFilter::default()).unwrap().len(), 4);
    assert_eq!(store.task_log("query-2").unwrap().lines().count(), 20);
}

pub(crate) fn concurrent_publishes_serialize(fx: &dyn Fixture) {
    // Two store instances (two connections for a server database), four threads, each
    // publishing its own partitions of one chunk and then one REPLACE of its own chunk.
    let stores = [fx.store(), fx.reopen()];
    let d = day("2015-09-12");
    let handles: Vec<_> = (0..4u32)
        .map(|t| {
            let s = stores[t as usize % 2].clone();
            std::thread::spawn(move || {
                for n in 0..5u32 {
                    let part = t * 5 + n;
                    s.publish(&insert("wiki", &format!("t{t}"), vec![seg("wiki", d, "v1", part)]))
                        .unwrap();
                }
                let own = day(&format!("2015-10-{:02}", t + 1));
                s.publish(&insert("wiki", &format!("t{t}"), vec![seg("wiki", own, "v1", 0)]))
                    .unwrap();
                let res = s
                    .publish(&SegmentPublish {
                        data_source: "wiki".into(),
                        task_id: format!("r{t}"),
                        segments: vec![seg("wiki", own, "v2", 0)],
                        replace: Some(vec![own]),
                        lock: None,
                    })
                    .unwrap();
                assert_eq!(res.marked_unused, vec![SegmentId::new("wiki", own, "v1", 0)]);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    for s in &stores {
        let used = s.used_segments("wiki", None).unwrap();
        assert_eq!(used.len(), 24);
        let parts: Vec<u32> = used
            .iter()
            .filter(|x| x.id.interval == d)
            .map(|x| x.id.partition_num)
            .collect();
        assert_eq!(parts, (0..20).collect::<Vec<_>>());
        assert_eq!(
            used.iter()
                .filter(|x| x.id.interval != d && x.id.version == "v2")
                .count(),
            4
        );
        assert_eq!(s.all_segments("wiki").unwrap().len(), 28);
    }
}

const FAR: i64 = i64::MAX / 2;

fn exclusive(task: &str, interval: Interval, now_version: &str) -> LockRequest {
    LockRequest {
        task_id: task.into(),
        data_source: "wiki".into(),
        intervals: vec![interval],
        lock_type: LockType::Exclusive,
        now_version: now_version.into(),
        expires_ms: FAR,
    }
}

fn alloc_req(task: &str, chunk: Interval, n: u32, version: &str, append: bool) -> AllocateRequest {
    AllocateRequest {
        data_source: "wiki".into(),
        task_id: task.into(),
        chunks: vec![(chunk, n)],
        version: version.into(),
        append,
        lock_expires_ms: FAR,
    }
}

fn allocated(o: AllocateOutcome) -> Vec<SegmentId> {
    match o {
        AllocateOutcome::Allocated(ids) => ids,
        AllocateOutcome::Conflict(h) => panic!("unexpected conflict with {h:?}"),
    }
}

fn conflict_tasks(o: AllocateOutcome) -> Vec<String> {
    match o {
        AllocateOutcome::Conflict(h) => h.into_iter().map(|l| l.task_id).collect(),
        AllocateOutcome::Allocated(ids) => panic!("expected a conflict, got {ids:?}"),
    }
}

pub(crate) fn locks_conflict_wait_and_lapse(fx: &dyn Fixture) {
    let store = fx.store();
    for t in ["i1", "i2", "i3", "r1"] {
        store
            .insert_task(&task(t, "wiki", "2024-01-01T00:00:00.000Z", "RUNNING"))
            .unwrap();
    }
    let d = day("2015-09-12");
    // An INSERT allocates: a new version, and a shared lock on the chunk.
    let a = allocated(store.allocate_segments(&alloc_req("i1", d, 2, "v1", true)).unwrap());
    assert_eq!(
        a,
        vec![SegmentId::new("wiki", d, "v1", 0), SegmentId::new("wiki", d, "v1", 1)]
    );
    // A REPLACE of that day must wait for it.
    let r = store.lock_intervals(&exclusive("r1", d, "v5")).unwrap();
    assert!(
        matches!(&r, LockOutcome::Conflict(h) if h.len() == 1 && h[0].task_id == "i1"),
        "{r:?}"
    );
    // A second INSERT joins the first one's version after its partitions.
    let b = allocated(store.allocate_segments(&alloc_req("i2", d, 1, "v2", true)).unwrap());
    assert_eq!(b, vec![SegmentId::new("wiki", d, "v1", 2)]);
    assert_eq!(store.pending_segments_for_task("i1").unwrap(), a);
    // Both publish under their shared locks; nothing overshadows anything.
    for (t, ids) in [("i1", &a), ("i2", &b)] {
        let segs = ids
            .iter()
            .map(|id| seg("wiki", d, &id.version, id.partition_num))
            .collect();
        let mut p = insert("wiki", t, segs);
        p.lock = Some(LockType::Shared);
        assert!(store.publish(&p).unwrap().marked_unused.is_empty());
        assert_eq!(store.release_locks(t).unwrap(), 1);
    }
    assert_eq!(store.used_segments("wiki", None).unwrap().len(), 3);
    // Now the REPLACE gets its lock, with a version above what is there.
    let version = match store.lock_intervals(&exclusive("r1", d, "v0")).unwrap() {
        LockOutcome::Acquired { version } => version,
        other => panic!("{other:?}"),
    };
    assert_eq!(version, "v11");
    // An INSERT into the locked day waits; one into another day does not.
    assert_eq!(
        conflict_tasks(store.allocate_segments(&alloc_req("i3", d, 1, "v9", true)).unwrap()),
        vec!["r1"]
    );
    let other = day("2015-09-13");
    assert_eq!(
        allocated(store.allocate_segments(&alloc_req("i3", other, 1, "v9", true)).unwrap()).len(),
        1
    );
    // The REPLACE allocates under its lock; a REPLACE without one is refused.
    let ids = allocated(
        store
            .allocate_segments(&alloc_req("r1", d, 1, &version, false))
            .unwrap(),
    );
    assert_eq!(ids, vec![SegmentId::new("wiki", d, version.as_str(), 0)]);
    let e = store
        .allocate_segments(&alloc_req("i2", d, 1, "v9", false))
        .unwrap_err();
    assert_eq!(e.error_code(), "InsertLockPreempted");
    // A task that stops running loses its locks at once.
    let mut r1 = task("r1", "wiki", "2024-01-01T00:00:00.000Z", "FAILED");
    r1.error_msg = Some("x".into());
    store.update_task(&r1).unwrap();
    assert_eq!(
        allocated(store.allocate_segments(&alloc_req("i3", d, 1, "v9", true)).unwrap()).len(),
        1
    );
    // A lease that ran out lapses too.
    store
        .insert_task(&task("r2", "wiki", "2024-01-01T00:00:00.000Z", "RUNNING"))
        .unwrap();
    let third = day("2015-09-14");
    assert!(matches!(
        store.lock_intervals(&exclusive("r2", third, "v9")).unwrap(),
        LockOutcome::Acquired { .. }
    ));
    assert_eq!(store.renew_locks("r2", 1).unwrap(), 1);
    assert_eq!(
        allocated(store.allocate_segments(&alloc_req("i3", third, 1, "v9", true)).unwrap()).len(),
        1
    );
    assert!(store.task_locks("wiki").unwrap().iter().all(|l| l.task_id != "r2"));
}

pub(crate) fn concurrent_allocations_get_distinct_ids(fx: &dyn Fixture) {
    // Eight INSERT tasks over two connections allocate and publish into one chunk at once.
    let stores = [fx.store(), fx.reopen()];
    let d = day("2015-09-12");
    for t in 0..8 {
        stores[0]
            .insert_task(&task(&format!("c{t}"), "wiki", "2024-01-01T00:00:00.000Z", "RUNNING"))
            .unwrap();
    }
    let handles: Vec<_> = (0..8u32)
        .map(|t| {
            let s = stores[t as usize % 2].clone();
            std::thread::spawn(move || {
                let task_id = format!("c{t}");
                let ids = allocated(
                    s.allocate_segments(&alloc_req(&task_id, d, 3, &format!("v{t}"), true))
                        .unwrap(),
                );
                let segs = ids
                    .iter()
                    .map(|id| seg("wiki", id.interval, &id.version, id.partition_num))
                    .collect();
                let mut p = insert("wiki", &task_id, segs);
                p.lock = Some(LockType::Shared);
                s.publish(&p).unwrap();
                s.release_locks(&task_id).unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let used = stores[1].used_segments("wiki", None).unwrap();
    assert_eq!(used.len(), 24);
    let versions: std::collections::BTreeSet<&str> = used.iter().map(|s| s.id.version.as_str()).collect();
    assert_eq!(versions.len(), 1, "{versions:?}");
    let parts: Vec<u32> = used.iter().map(|s| s.id.partition_num).collect();
    assert_eq!(parts, (0..24).collect::<Vec<_>>());
    assert!(stores[0].pending_segments("wiki").unwrap().is_empty());
    assert!(stores[0].task_locks("wiki").unwrap().is_empty());
}

pub(crate) fn publish_needs_the_lock(fx: &dyn Fixture) {
    let store = fx.store();
    store
        .insert_task(&task("q", "wiki", "2024-01-01T00:00:00.000Z", "RUNNING"))
        .unwrap();
    let d = day("2015-09-12");
    let mut p = insert("wiki", "q", vec![seg("wiki", d, "v1", 0)]);
    p.lock = Some(LockType::Shared);
    assert_eq!(store.publish(&p).unwrap_err().error_code(), "InsertLockPreempted");
    p.replace = Some(vec![d]);
    p.lock = Some(LockType::Exclusive);
    assert_eq!(store.publish(&p).unwrap_err().error_code(), "InsertLockPreempted");
    assert!(store.all_segments("wiki").unwrap().is_empty());
    assert!(matches!(
        store.lock_intervals(&exclusive("q", d, "v1")).unwrap(),
        LockOutcome::Acquired { .. }
    ));
    assert_eq!(store.publish(&p).unwrap().published.len(), 1);
}

/// Lookups: written all or none, higher versions only (unless replacing), read back after a
/// restart, deleted one by one or by tier.
pub(crate) fn lookups_round_trip_with_versions(fx: &dyn Fixture) {
    use msq_engine::metadata::lookup::parse_container;
    let st = fx.store();
    let rec = |tier: &str, name: &str, version: &str, v: &str| {
        parse_container(
            tier,
            name,
            &json!({"version": version, "lookupExtractorFactory": {"type": "map", "map": {"k": v}}}),
        )
        .unwrap()
    };
    assert!(st.lookups().unwrap().is_empty());
    let a = rec("__default", "a", "v1", "1");
    let b = rec("__default", "b", "v1", "2");
    let c = rec("other", "a", "v1", "3");
    st.put_lookups(&[a.clone(), b.clone(), c.clone()], false).unwrap();
    assert_eq!(st.lookups().unwrap(), vec![a.clone(), b.clone(), c.clone()]);
    // One refused update refuses the whole batch.
    let a2 = rec("__default", "a", "v2", "10");
    let b0 = rec("__default", "b", "v0", "20");
    assert!(matches!(
        st.put_lookups(&[a2.clone(), b0.clone()], false),
        Err(MsqError::Validation(_))
    ));
    assert_eq!(st.lookup("__default", "a").unwrap(), Some(a.clone()));
    st.put_lookups(std::slice::from_ref(&a2), false).unwrap();
    st.put_lookups(std::slice::from_ref(&b0), true).unwrap();
    let st = fx.reopen();
    assert_eq!(st.lookup("__default", "a").unwrap(), Some(a2.clone()));
    assert_eq!(st.lookup("__default", "b").unwrap(), Some(b0));
    assert_eq!(st.lookup("nope", "a").unwrap(), None);
    assert_eq!(st.delete_lookups("__default", Some("b")).unwrap(), 1);
    assert_eq!(st.delete_lookups("__default", Some("b")).unwrap(), 0);
    assert_eq!(st.delete_lookups("other", None).unwrap(), 1);
    assert_eq!(st.lookups().unwrap(), vec![a2]);
}
