//! The layout of the segments an ingestion writes: which time chunks need how many segment
//! ids, which partition gets which id, which chunks fall outside OVERWRITE, the tombstones a
//! REPLACE leaves, and the shard specs. Pure decisions; the driver allocates and publishes.

use msq_engine::granularity::{format_millis, Granularity, Interval};
use msq_engine::keystats::RangePartitions;
use msq_engine::metadata::{SegmentId, SegmentRecord};
use msq_engine::signature::Signature;
use msq_engine::stage::MAX_BUCKETS;
use msq_engine::{MsqError, Result};
use serde_json::json;
use std::collections::BTreeSet;

/// The chunk interval of a bucket id (`Interval::eternity` for ALL).
pub fn bucket_interval(granularity: Granularity, bucket: i64) -> Interval {
    if granularity == Granularity::All {
        Interval::eternity()
    } else {
        let s = granularity.bucket_start(bucket);
        Interval::new(s, granularity.bucket_end(s))
    }
}

/// The time chunks the range partitions fall in, each with how many segments it needs, in
/// partition order (partitions of one chunk are consecutive).
pub fn chunk_requests(partitions: &RangePartitions, granularity: Granularity) -> Vec<(Interval, u32)> {
    let mut out: Vec<(i64, u32)> = Vec::new();
    for r in &partitions.ranges {
        match out.last_mut() {
            Some((b, n)) if *b == r.bucket => *n += 1,
            _ => out.push((r.bucket, 1)),
        }
    }
    out.into_iter()
        .map(|(b, n)| (bucket_interval(granularity, b), n))
        .collect()
}

/// Pairs each range partition with its allocated id (ids come in partition order, as
/// [`chunk_requests`] asked for them).
pub fn assign_ids(partitions: &RangePartitions, ids: Vec<SegmentId>) -> Result<Vec<(usize, SegmentId)>> {
    if ids.len() != partitions.ranges.len() {
        return Err(MsqError::Unknown(format!(
            "allocated {} segment ids for {} partitions",
            ids.len(),
            partitions.ranges.len()
        )));
    }
    Ok(ids.into_iter().enumerate().collect())
}

/// Whether every chunk lies inside the OVERWRITE intervals; the first that does not is
/// returned (Druid's `InsertTimeOutOfBounds`).
pub fn chunk_out_of_bounds(chunks: &[Interval], replace: &[Interval]) -> Option<Interval> {
    chunks.iter().find(|c| !replace.iter().any(|r| r.encloses(c))).copied()
}

/// Tombstones a REPLACE leaves: every chunk of `granularity` inside the OVERWRITE intervals
/// that holds existing data but gets no new segment.
pub fn tombstones(
    data_source: &str,
    existing_used: &[SegmentRecord],
    replace: &[Interval],
    granularity: Granularity,
    new_chunks: &BTreeSet<Interval>,
    version: &str,
) -> Result<Vec<SegmentRecord>> {
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
    let now = format_millis(chrono::Utc::now().timestamp_millis());
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
            created_date: now.clone(),
            used_status_last_updated: now.clone(),
            shard_spec: json!({"type": "tombstone", "partitionNum": 0, "partitions": 1}),
        })
        .collect())
}

/// How segments of an ingestion are sharded, as Druid chooses: range shard specs only for
/// REPLACE with CLUSTERED BY string columns that appear as-is in the output; numbered
/// otherwise (an INSERT appends, so it always uses numbered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardChoice {
    /// Range-shard columns; empty for numbered.
    pub columns: Vec<String>,
    /// Druid's commentary (`segmentReport.details`).
    pub details: String,
}

impl ShardChoice {
    /// Decides from the statement kind, the CLUSTERED BY columns and the output schema.
    pub fn decide(replace: bool, cluster_by: &[String], schema: &arrow::datatypes::Schema) -> Self {
        let numbered = |details: String| ShardChoice {
            columns: vec![],
            details,
        };
        if !replace {
            return numbered("Using NumberedShardSpec to generate segments since the query is inserting rows.".into());
        }
        if cluster_by.is_empty() {
            return numbered("Using NumberedShardSpec as no columns are supplied in the 'CLUSTERED BY' clause.".into());
        }
        for c in cluster_by {
            let Ok(field) = schema.field_with_name(c) else {
                return numbered(format!(
                    "Cannot use RangeShardSpec, Could not find output column name for column [{c}]. Using NumberedShardSpec instead."
                ));
            };
            if !matches!(
                field.data_type(),
                arrow::datatypes::DataType::Utf8
                    | arrow::datatypes::DataType::LargeUtf8
                    | arrow::datatypes::DataType::Utf8View
            ) {
                return numbered(
                    "Cannot use RangeShardSpec, RangedShardSpec only supports string CLUSTER BY keys. Using NumberedShardSpec instead."
                        .into(),
                );
            }
        }
        ShardChoice {
            columns: cluster_by.to_vec(),
            details: "Using RangeShardSpec to generate segments.".into(),
        }
    }

    /// `segmentReport` of the task report.
    pub fn report(&self) -> serde_json::Value {
        let name = if self.columns.is_empty() {
            "NumberedShardSpec"
        } else {
            "DimensionRangeShardSpec"
        };
        json!({"shardSpec": name, "details": self.details})
    }
}

/// Sets each non-tombstone segment's shard spec per `choice`: its number within its time
/// chunk and the chunk's segment count (`partitions` / `numCorePartitions`).
pub fn finalize_shard_specs(segments: &mut [SegmentRecord], choice: &ShardChoice) {
    let mut counts: std::collections::BTreeMap<(Interval, String), u32> = Default::default();
    for s in segments.iter().filter(|s| !s.is_tombstone) {
        *counts.entry((s.id.interval, s.id.version.clone())).or_insert(0) += 1;
    }
    for s in segments.iter_mut().filter(|s| !s.is_tombstone) {
        let n = counts[&(s.id.interval, s.id.version.clone())];
        let k = s.id.partition_num;
        s.shard_spec = if choice.columns.is_empty() {
            json!({"type": "numbered", "partitionNum": k, "partitions": n})
        } else {
            json!({"type": "range", "dimensions": choice.columns, "partitionNum": k, "numCorePartitions": n})
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{DataType, Field, Schema};

    #[test]
    fn shard_choice_follows_druid() {
        let schema = Schema::new(vec![
            Field::new("__time", DataType::Int64, false),
            Field::new("channel", DataType::Utf8, true),
            Field::new("added", DataType::Int64, true),
        ]);
        let c = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let insert = ShardChoice::decide(false, &c(&["channel"]), &schema);
        assert!(insert.columns.is_empty());
        assert_eq!(insert.report()["shardSpec"], "NumberedShardSpec");
        assert_eq!(
            insert.details,
            "Using NumberedShardSpec to generate segments since the query is inserting rows."
        );
        let replace = ShardChoice::decide(true, &c(&["channel"]), &schema);
        assert_eq!(replace.columns, c(&["channel"]));
        assert_eq!(replace.report()["shardSpec"], "DimensionRangeShardSpec");
        assert!(ShardChoice::decide(true, &c(&["added"]), &schema)
            .details
            .contains("only supports string"));
        assert!(ShardChoice::decide(true, &c(&["x"]), &schema).details.contains("[x]"));
        assert!(ShardChoice::decide(true, &[], &schema).details.contains("no columns"));
    }
    use msq_engine::granularity::parse_instant;

    #[test]
    fn out_of_bounds_chunk_is_found() {
        let day = Interval::new(
            parse_instant("2015-09-12").unwrap(),
            parse_instant("2015-09-13").unwrap(),
        );
        let h = Granularity::Hour;
        let inside = bucket_interval(h, parse_instant("2015-09-12T05:30:00Z").unwrap());
        let outside = bucket_interval(h, parse_instant("2015-09-13T05:30:00Z").unwrap());
        assert_eq!(chunk_out_of_bounds(&[inside], &[day]), None);
        assert_eq!(chunk_out_of_bounds(&[inside, outside], &[day]), Some(outside));
    }
}
