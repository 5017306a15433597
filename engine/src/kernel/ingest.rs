//! The ingestion rules of a query that writes segments, as pure decisions (Druid's
//! `ControllerImpl` checks, moved out of the I/O): which time chunks to allocate segments
//! in, whether a chunk lies outside the OVERWRITE intervals, whether an empty insert fails,
//! which tombstones a REPLACE leaves and what one publish carries.

use crate::context::QueryContext;
use crate::granularity::{Granularity, Interval};
use crate::keystats::RangePartitions;
use crate::metadata::{AllocateRequest, LockType, SegmentId, SegmentPublish, SegmentRecord};
use crate::protocol::SegmentSlot;
use crate::signature::Signature;
use crate::stage::{QueryDefinition, StageProcessor, MAX_BUCKETS, MAX_PARTITIONS};
use crate::{MsqError, Result};
use serde_json::json;
use std::collections::BTreeSet;

/// What the kernel knows of the segment-generation stage of an INSERT or REPLACE.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestRules {
    /// The segment-generation stage.
    pub stage: usize,
    /// Stages it reads (their output partitions become its segments).
    pub inputs: Vec<usize>,
    pub data_source: String,
    pub granularity: Granularity,
    /// `Some` for REPLACE: the OVERWRITE intervals.
    pub replace: Option<Vec<Interval>>,
    /// Whether writing no rows fails the query (`failOnEmptyInsert`, false by default as in
    /// Druid 29+: an empty INSERT publishes nothing and an empty REPLACE only deletes).
    pub fail_on_empty: bool,
    /// `rowsPerSegment`: no segment holds more rows.
    pub rows_per_segment: u64,
}

impl IngestRules {
    /// The rules of `query`, when it has a segment-generation stage.
    pub fn of(query: &QueryDefinition, ctx: &QueryContext) -> Option<Self> {
        query.stages.iter().find_map(|s| match &s.processor {
            StageProcessor::SegmentGenerator(spec) => Some(IngestRules {
                stage: s.stage_number,
                inputs: s.input_stages(),
                data_source: spec.data_source.clone(),
                granularity: spec.granularity,
                replace: spec.replace.clone(),
                fail_on_empty: ctx.fail_on_empty_insert.unwrap_or(false),
                rows_per_segment: spec.rows_per_segment,
            }),
            _ => None,
        })
    }

    /// Whether stage `n` feeds the segment generator.
    pub fn reads(&self, n: usize) -> bool {
        self.inputs.contains(&n)
    }

    /// Checks a feeding stage's time chunks, once its partition boundaries are known: every
    /// chunk of a REPLACE lies inside its OVERWRITE intervals.
    pub fn check_chunks(&self, boundaries: &RangePartitions) -> Result<()> {
        let Some(replace) = &self.replace else {
            return Ok(());
        };
        let chunks: Vec<Interval> = boundaries
            .ranges
            .iter()
            .map(|r| bucket_interval(self.granularity, r.bucket))
            .collect();
        match chunk_out_of_bounds(&chunks, replace) {
            Some(c) => Err(MsqError::InsertTimeOutOfBounds { interval: c.to_iso() }),
            None => Ok(()),
        }
    }

    /// The empty-insert rule, once the feeding stages' row counts are known.
    pub fn check_not_empty(&self, rows: u64) -> Result<()> {
        check_not_empty(&self.data_source, rows, self.fail_on_empty)
    }

    /// The lock of the publish: REPLACE overwrites (exclusive), INSERT appends (shared).
    pub fn lock_type(&self) -> LockType {
        if self.replace.is_some() {
            LockType::Exclusive
        } else {
            LockType::Shared
        }
    }

    /// The request allocating `segments[p]` segment ids for each range partition `p` of the
    /// feeding stage (see [`segments_per_partition`]).
    pub fn allocate_request(
        &self,
        task_id: &str,
        boundaries: &RangePartitions,
        segments: &[u32],
        version: &str,
    ) -> AllocateRequest {
        AllocateRequest {
            data_source: self.data_source.clone(),
            task_id: task_id.to_string(),
            chunks: chunk_requests(boundaries, segments, self.granularity),
            version: version.to_string(),
            append: self.replace.is_none(),
            lock_expires_ms: 0,
        }
    }

    /// Tombstones this REPLACE leaves given the used segments before it and the segments it
    /// wrote (none for an INSERT).
    pub fn tombstones(
        &self,
        existing_used: &[SegmentRecord],
        written: &[SegmentRecord],
        version: &str,
        now: &str,
    ) -> Result<Vec<SegmentRecord>> {
        let Some(replace) = &self.replace else {
            return Ok(vec![]);
        };
        let new_chunks: BTreeSet<Interval> = written.iter().map(|s| s.id.interval).collect();
        tombstones(
            &self.data_source,
            existing_used,
            replace,
            self.granularity,
            &new_chunks,
            version,
            now,
        )
    }

    /// The publish of the written segments (shard specs final) and tombstones: all used,
    /// under this ingestion's lock.
    pub fn publish(
        &self,
        task_id: &str,
        written: Vec<SegmentRecord>,
        tombstones: Vec<SegmentRecord>,
    ) -> SegmentPublish {
        let mut segments = written;
        segments.extend(tombstones);
        for s in &mut segments {
            s.used = true;
        }
        SegmentPublish {
            data_source: self.data_source.clone(),
            task_id: task_id.to_string(),
            segments,
            replace: self.replace.clone(),
            lock: Some(self.lock_type()),
        }
    }
}

/// Druid's empty-insert rule: no rows to write fails with `InsertCannotBeEmpty` when
/// `fail_on_empty`.
pub fn check_not_empty(data_source: &str, rows: u64, fail_on_empty: bool) -> Result<()> {
    if rows == 0 && fail_on_empty {
        return Err(MsqError::InsertCannotBeEmpty {
            data_source: data_source.to_string(),
        });
    }
    Ok(())
}

/// The chunk interval of a bucket id (`Interval::eternity` for ALL).
pub fn bucket_interval(granularity: Granularity, bucket: i64) -> Interval {
    if granularity == Granularity::All {
        Interval::eternity()
    } else {
        let s = granularity.bucket_start(bucket);
        Interval::new(s, granularity.bucket_end(s))
    }
}

/// How many segments each of `partitions` range partitions becomes, from its exact rows
/// (`partition_rows`, known once the feeding stage is done): enough that none holds more
/// than `rows_per_segment` rows, at least one. More than [`MAX_PARTITIONS`] segments in all
/// → [`MsqError::TooManyPartitions`].
pub fn segments_per_partition(partition_rows: &[u64], partitions: usize, rows_per_segment: u64) -> Result<Vec<u32>> {
    let per = rows_per_segment.max(1);
    let counts: Vec<u64> = (0..partitions)
        .map(|p| partition_rows.get(p).copied().unwrap_or(0).div_ceil(per).max(1))
        .collect();
    if counts.iter().sum::<u64>() > MAX_PARTITIONS as u64 {
        return Err(MsqError::TooManyPartitions {
            max_partitions: MAX_PARTITIONS,
        });
    }
    Ok(counts.into_iter().map(|k| k as u32).collect())
}

/// The time chunks the range partitions fall in, each with how many segments it needs
/// (`segments[p]` for partition `p`), in partition order (partitions of one chunk are
/// consecutive).
pub fn chunk_requests(
    partitions: &RangePartitions,
    segments: &[u32],
    granularity: Granularity,
) -> Vec<(Interval, u32)> {
    let mut out: Vec<(i64, u32)> = Vec::new();
    for (p, r) in partitions.ranges.iter().enumerate() {
        let k = segments.get(p).copied().unwrap_or(1);
        match out.last_mut() {
            Some((b, n)) if *b == r.bucket => *n += k,
            _ => out.push((r.bucket, k)),
        }
    }
    out.into_iter()
        .map(|(b, n)| (bucket_interval(granularity, b), n))
        .collect()
}

/// The segments the range partitions become: `segments[p]` allocated ids (they come in
/// partition order, as [`chunk_requests`] asked for them) for partition `p`, sharing its
/// `partition_rows[p]` rows about equally (the last takes whatever is left).
pub fn assign_slots(partition_rows: &[u64], segments: &[u32], ids: Vec<SegmentId>) -> Result<Vec<SegmentSlot>> {
    let wanted: u64 = segments.iter().map(|&k| u64::from(k)).sum();
    if ids.len() as u64 != wanted {
        return Err(MsqError::Unknown(format!(
            "allocated {} segment ids for {wanted} segments of {} partitions",
            ids.len(),
            segments.len()
        )));
    }
    let mut ids = ids.into_iter();
    let mut out = Vec::with_capacity(wanted as usize);
    for (p, &k) in segments.iter().enumerate() {
        let rows = partition_rows.get(p).copied().unwrap_or(0);
        let k64 = u64::from(k);
        for j in 0..k64 {
            let size = rows / k64 + u64::from(j < rows % k64);
            out.push(SegmentSlot {
                partition: p,
                id: ids.next().expect("counted"),
                rows: (j + 1 < k64).then_some(size),
            });
        }
    }
    Ok(out)
}

/// Whether every chunk lies inside the OVERWRITE intervals; the first that does not is
/// returned (Druid's `InsertTimeOutOfBounds`).
pub fn chunk_out_of_bounds(chunks: &[Interval], replace: &[Interval]) -> Option<Interval> {
    chunks.iter().find(|c| !replace.iter().any(|r| r.encloses(c))).copied()
}

/// Chunks of `granularity` that existing segments have inside the OVERWRITE intervals.
fn replaced_chunks(
    existing_used: &[SegmentRecord],
    replace: &[Interval],
    granularity: Granularity,
) -> Result<BTreeSet<Interval>> {
    let mut chunks: BTreeSet<Interval> = BTreeSet::new();
    for seg in existing_used {
        for iv in replace {
            let start = seg.id.interval.start.max(iv.start);
            let end = seg.id.interval.end.min(iv.end);
            if start >= end {
                continue;
            }
            if granularity == Granularity::All {
                chunks.insert(Interval::eternity());
                continue;
            }
            if start == i64::MIN || end == i64::MAX {
                return Err(MsqError::Validation(format!(
                    "Cannot replace segment [{}] covering all time with PARTITIONED BY {}; use PARTITIONED BY ALL TIME or a bounded OVERWRITE WHERE",
                    seg.id,
                    granularity.name()
                )));
            }
            let mut t = granularity.bucket_start(start);
            while t < end {
                let e = granularity.bucket_end(t);
                chunks.insert(Interval::new(t, e));
                if chunks.len() > MAX_BUCKETS {
                    return Err(MsqError::TooManyBuckets {
                        max_buckets: MAX_BUCKETS,
                    });
                }
                t = e;
            }
        }
    }
    Ok(chunks)
}

/// Tombstones a REPLACE leaves: every chunk of `granularity` inside the OVERWRITE intervals
/// that holds existing data but gets no new segment. `now` is their creation time.
pub fn tombstones(
    data_source: &str,
    existing_used: &[SegmentRecord],
    replace: &[Interval],
    granularity: Granularity,
    new_chunks: &BTreeSet<Interval>,
    version: &str,
    now: &str,
) -> Result<Vec<SegmentRecord>> {
    let chunks = replaced_chunks(existing_used, replace, granularity)?;
    Ok(chunks
        .into_iter()
        .filter(|c| !new_chunks.contains(c))
        .filter(|c| replace.iter().any(|r| r.encloses(c)))
        .map(|c| SegmentRecord {
            id: SegmentId {
                data_source: data_source.to_string(),
                interval: c,
                version: version.to_string(),
                partition_num: 0,
            },
            used: true,
            is_tombstone: true,
            num_rows: 0,
            size_bytes: 0,
            path: String::new(),
            signature: Signature::default(),
            min_time: None,
            max_time: None,
            created_date: now.to_string(),
            used_status_last_updated: now.to_string(),
            shard_spec: json!({"type": "tombstone", "partitionNum": 0, "partitions": 1}),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::granularity::parse_instant;
    use crate::keystats::KeyRange;

    fn day(d: &str) -> Interval {
        let s = parse_instant(d).unwrap();
        Interval::new(s, Granularity::Day.bucket_end(s))
    }

    fn segment(interval: Interval, version: &str) -> SegmentRecord {
        SegmentRecord {
            id: SegmentId {
                data_source: "wiki".into(),
                interval,
                version: version.into(),
                partition_num: 0,
            },
            used: false,
            is_tombstone: false,
            num_rows: 10,
            size_bytes: 100,
            path: "p".into(),
            signature: Signature::default(),
            min_time: None,
            max_time: None,
            created_date: "t".into(),
            used_status_last_updated: "t".into(),
            shard_spec: json!({}),
        }
    }

    fn rules(replace: Option<Vec<Interval>>, fail_on_empty: bool) -> IngestRules {
        IngestRules {
            stage: 1,
            inputs: vec![0],
            data_source: "wiki".into(),
            granularity: Granularity::Day,
            replace,
            fail_on_empty,
            rows_per_segment: 10,
        }
    }

    fn ranges(buckets: &[i64]) -> RangePartitions {
        RangePartitions {
            ranges: buckets.iter().map(|b| KeyRange::full(*b)).collect(),
        }
    }

    #[test]
    fn empty_insert_fails_unless_allowed() {
        assert!(matches!(
            check_not_empty("wiki", 0, true),
            Err(MsqError::InsertCannotBeEmpty { data_source }) if data_source == "wiki"
        ));
        assert!(check_not_empty("wiki", 0, false).is_ok());
        assert!(check_not_empty("wiki", 3, true).is_ok());
        assert!(rules(None, true).check_not_empty(0).is_err());
        assert!(rules(None, false).check_not_empty(0).is_ok());
    }

    #[test]
    fn tombstones_cover_replaced_chunks_without_new_data() {
        let (d12, d13, d14) = (day("2015-09-12"), day("2015-09-13"), day("2015-09-14"));
        let replace = Interval::new(d12.start, d14.end);
        let r = rules(Some(vec![replace]), false);
        let existing = vec![segment(d12, "v1"), segment(d13, "v1"), segment(day("2015-09-20"), "v1")];
        // New data in the 12th only: the 13th becomes a tombstone, the 14th had no data.
        let written = vec![segment(d12, "v2")];
        let ts = r.tombstones(&existing, &written, "v2", "now").unwrap();
        assert_eq!(ts.len(), 1);
        assert_eq!(ts[0].id.interval, d13);
        assert_eq!(ts[0].id.version, "v2");
        assert!(ts[0].is_tombstone && ts[0].used && ts[0].num_rows == 0);
        assert_eq!(ts[0].created_date, "now");
        // No new data at all: every replaced chunk with data is tombstoned.
        let ts = r.tombstones(&existing, &[], "v2", "now").unwrap();
        assert_eq!(ts.iter().map(|t| t.id.interval).collect::<Vec<_>>(), vec![d12, d13]);
        // New data everywhere there was data: nothing to tombstone.
        let all = vec![segment(d12, "v2"), segment(d13, "v2")];
        assert!(r.tombstones(&existing, &all, "v2", "now").unwrap().is_empty());
        // An INSERT leaves none.
        assert!(rules(None, true)
            .tombstones(&existing, &[], "v2", "now")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn tombstones_refuse_unbounded_segments_with_a_granularity() {
        let existing = vec![segment(Interval::eternity(), "v1")];
        let r = rules(Some(vec![Interval::eternity()]), false);
        assert!(matches!(
            r.tombstones(&existing, &[], "v2", "now"),
            Err(MsqError::Validation(_))
        ));
        let all = IngestRules {
            granularity: Granularity::All,
            ..r
        };
        let ts = all.tombstones(&existing, &[], "v2", "now").unwrap();
        assert_eq!(ts.len(), 1);
        assert_eq!(ts[0].id.interval, Interval::eternity());
    }

    #[test]
    fn out_of_bounds_chunk_is_found() {
        let d = day("2015-09-12");
        let h = Granularity::Hour;
        let inside = bucket_interval(h, parse_instant("2015-09-12T05:30:00Z").unwrap());
        let outside = bucket_interval(h, parse_instant("2015-09-13T05:30:00Z").unwrap());
        assert_eq!(chunk_out_of_bounds(&[inside], &[d]), None);
        assert_eq!(chunk_out_of_bounds(&[inside, outside], &[d]), Some(outside));
        let r = rules(Some(vec![d]), false);
        assert!(r.check_chunks(&ranges(&[d.start])).is_ok());
        let next = day("2015-09-13").start;
        assert!(matches!(
            r.check_chunks(&ranges(&[d.start, next])),
            Err(MsqError::InsertTimeOutOfBounds { .. })
        ));
        assert!(rules(None, true).check_chunks(&ranges(&[next])).is_ok());
    }

    #[test]
    fn allocation_asks_per_chunk_in_partition_order() {
        let (a, b) = (day("2015-09-12"), day("2015-09-13"));
        let parts = ranges(&[a.start, a.start, b.start]);
        let req = rules(None, true).allocate_request("task", &parts, &[1, 1, 1], "v");
        assert_eq!(req.chunks, vec![(a, 2), (b, 1)]);
        assert!(req.append);
        assert!(
            !rules(Some(vec![a]), false)
                .allocate_request("task", &parts, &[1, 1, 1], "v")
                .append
        );
        // A partition split in 3 asks for 3 ids in its chunk.
        let req = rules(None, true).allocate_request("task", &parts, &[1, 3, 2], "v");
        assert_eq!(req.chunks, vec![(a, 4), (b, 2)]);
        let ids: Vec<SegmentId> = (0..3).map(|_| segment(a, "v").id).collect();
        assert_eq!(assign_slots(&[5, 5, 5], &[1, 1, 1], ids.clone()).unwrap().len(), 3);
        assert!(assign_slots(&[5, 5], &[1, 1], ids).is_err());
    }

    #[test]
    fn segments_follow_rows_per_segment_whatever_the_partitions() {
        // Exact rows per partition: 25 rows at 10 per segment need 3 segments.
        assert_eq!(
            segments_per_partition(&[25, 10, 0, 1], 4, 10).unwrap(),
            vec![3, 1, 1, 1]
        );
        // Partitions the worker reported no rows for still get one (empty) slot.
        assert_eq!(segments_per_partition(&[7], 2, 10).unwrap(), vec![1, 1]);
        // rowsPerSegment 1 over 25,001 rows: one segment per row is too many.
        assert!(matches!(
            segments_per_partition(&[25_001], 1, 1),
            Err(MsqError::TooManyPartitions { max_partitions: 25_000 })
        ));
        assert_eq!(segments_per_partition(&[25_000], 1, 1).unwrap(), vec![25_000]);
        // 25 rows in 3 slots: 9 + 8 + the rest; 10 rows in 1: all of them.
        let ids: Vec<SegmentId> = (0..4)
            .map(|k| SegmentId::new("wiki", day("2015-09-12"), "v", k))
            .collect();
        let slots = assign_slots(&[25, 10], &[3, 1], ids.clone()).unwrap();
        let got: Vec<(usize, u32, Option<u64>)> = slots
            .iter()
            .map(|s| (s.partition, s.id.partition_num, s.rows))
            .collect();
        assert_eq!(got, vec![(0, 0, Some(9)), (0, 1, Some(8)), (0, 2, None), (1, 3, None)]);
    }

    #[test]
    fn publish_marks_everything_used_under_the_right_lock() {
        let d = day("2015-09-12");
        let p = rules(Some(vec![d]), false).publish("task", vec![segment(d, "v")], vec![]);
        assert_eq!(p.lock, Some(LockType::Exclusive));
        assert!(p.segments.iter().all(|s| s.used));
        assert_eq!(
            rules(None, true).publish("task", vec![], vec![]).lock,
            Some(LockType::Shared)
        );
    }
}
