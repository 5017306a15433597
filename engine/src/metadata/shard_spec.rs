//! Druid's shard specs of the segments an ingestion writes: which kind (range or numbered),
//! and each segment's number within its time chunk.

use crate::granularity::Interval;
use crate::metadata::segment::SegmentRecord;
use serde_json::json;

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
}
