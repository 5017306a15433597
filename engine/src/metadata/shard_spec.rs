//! Druid's shard specs of the segments an ingestion writes: which kind (range or numbered),
//! and each segment's number within its time chunk.

use crate::granularity::Interval;
use crate::metadata::segment::SegmentRecord;
use serde_json::{json, Value};

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

/// A CLUSTERED BY tuple as Druid's `StringTuple` holds it (nulls allowed).
type KeyTuple = Vec<Option<String>>;

/// Sets each non-tombstone segment's shard spec per `choice`: its number within its time
/// chunk and the chunk's segment count (`partitions` / `numCorePartitions`), and for range
/// specs Druid's `start` / `end` tuples of the CLUSTERED BY values.
///
/// A worker records each range segment's input partition and smallest tuple. Within a chunk,
/// the range partitions (in partition-number order) start at their smallest tuple, except
/// the first (`null`), and end where the next one starts, except the last (`null`). The
/// segments a partition was split into (`rowsPerSegment`) share its bounds, as Druid's
/// boost-split segments do; a key value on a partition boundary may sit on both sides, so
/// `end` bounds values inclusively.
pub fn finalize_shard_specs(segments: &mut [SegmentRecord], choice: &ShardChoice) {
    let mut chunks: std::collections::BTreeMap<(Interval, String), Vec<usize>> = Default::default();
    for (i, s) in segments.iter().enumerate().filter(|(_, s)| !s.is_tombstone) {
        chunks.entry((s.id.interval, s.id.version.clone())).or_default().push(i);
    }
    for members in chunks.values_mut() {
        members.sort_by_key(|&i| segments[i].id.partition_num);
        let n = members.len() as u32;
        if choice.columns.is_empty() {
            for &i in members.iter() {
                let k = segments[i].id.partition_num;
                segments[i].shard_spec = json!({"type": "numbered", "partitionNum": k, "partitions": n});
            }
            continue;
        }
        // Consecutive segments of one input partition form a group with one smallest tuple.
        let mut groups: Vec<(Value, Option<KeyTuple>, Vec<usize>)> = Vec::new();
        for &i in members.iter() {
            let spec = &segments[i].shard_spec;
            let partition = spec.get("inputPartition").cloned().unwrap_or(Value::Null);
            let min: Option<KeyTuple> = spec.get("minKey").and_then(|m| serde_json::from_value(m.clone()).ok());
            match groups.last_mut() {
                Some((p, g_min, g)) if *p == partition && !partition.is_null() => {
                    if min.is_some() && (g_min.is_none() || min < *g_min) {
                        *g_min = min;
                    }
                    g.push(i);
                }
                _ => groups.push((partition, min, vec![i])),
            }
        }
        for (pos, (_, _, group)) in groups.iter().enumerate() {
            let start = if pos == 0 { Value::Null } else { json!(groups[pos].1) };
            let end = groups.get(pos + 1).map_or(Value::Null, |g| json!(g.1));
            for &i in group {
                let k = segments[i].id.partition_num;
                segments[i].shard_spec = json!({"type": "range", "dimensions": choice.columns, "start": start,
                    "end": end, "partitionNum": k, "numCorePartitions": n});
            }
        }
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

    fn written(partition_num: u32, input_partition: usize, min: serde_json::Value) -> SegmentRecord {
        let day = Interval::new(
            crate::granularity::parse_instant("2015-09-12").unwrap(),
            crate::granularity::parse_instant("2015-09-13").unwrap(),
        );
        SegmentRecord {
            id: crate::metadata::SegmentId::new("wiki", day, "v", partition_num),
            used: false,
            is_tombstone: false,
            num_rows: 1,
            size_bytes: 1,
            path: "p".into(),
            signature: Default::default(),
            min_time: None,
            max_time: None,
            created_date: "t".into(),
            used_status_last_updated: "t".into(),
            shard_spec: json!({"type": "range", "dimensions": ["channel"], "partitionNum": partition_num,
                               "inputPartition": input_partition, "minKey": min}),
        }
    }

    #[test]
    fn range_specs_get_start_and_end_tuples() {
        let choice = ShardChoice {
            columns: vec!["channel".into()],
            details: String::new(),
        };
        // Out of partition order on purpose: the chunk is ordered by partition number.
        // Partition 1 was split over segments 1 and 2 (rowsPerSegment): they share its bounds,
        // from the smaller of their smallest tuples.
        let mut segs = vec![
            written(3, 2, json!(["#fr"])),
            written(0, 0, json!(["#ca"])),
            written(2, 1, json!(["#en"])),
            written(1, 1, json!(["#es"])),
        ];
        finalize_shard_specs(&mut segs, &choice);
        let spec = |n: u32| {
            segs.iter()
                .find(|s| s.id.partition_num == n)
                .unwrap()
                .shard_spec
                .clone()
        };
        assert_eq!(
            spec(0),
            json!({"type": "range", "dimensions": ["channel"], "start": null, "end": ["#en"], "partitionNum": 0, "numCorePartitions": 4})
        );
        for n in [1, 2] {
            assert_eq!(spec(n)["start"], json!(["#en"]));
            assert_eq!(spec(n)["end"], json!(["#fr"]));
        }
        assert_eq!(spec(3)["start"], json!(["#fr"]));
        assert_eq!(spec(3)["end"], json!(null));
        assert!(spec(3).get("minKey").is_none() && spec(3).get("inputPartition").is_none());
        let mut one = vec![written(0, 0, json!(["#ca"]))];
        finalize_shard_specs(
            &mut one,
            &ShardChoice {
                columns: vec![],
                details: String::new(),
            },
        );
        assert_eq!(
            one[0].shard_spec,
            json!({"type": "numbered", "partitionNum": 0, "partitions": 1})
        );
    }
}
