//! Segment identifiers and the records the metadata store keeps for each segment.

use crate::granularity::{parse_instant, Interval};
use crate::signature::Signature;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Identifies one segment: dataSource, time chunk, version and partition number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentId {
    pub data_source: String,
    pub interval: Interval,
    pub version: String,
    pub partition_num: u32,
}

impl SegmentId {
    /// A new segment id.
    pub fn new(
        data_source: impl Into<String>,
        interval: Interval,
        version: impl Into<String>,
        partition_num: u32,
    ) -> Self {
        SegmentId {
            data_source: data_source.into(),
            interval,
            version: version.into(),
            partition_num,
        }
    }

    /// Deep-storage path of the segment's file as written by query `query_id`:
    /// `<dataSource>/<start>_<end>/<version>/<partitionNum>_<queryId>.parquet`. Naming the
    /// query makes the path one only that task writes, so cleaning up after it can never
    /// remove a file of another task (as Druid's unique segment paths do).
    pub fn path(&self, query_id: &str) -> String {
        let iv = self.interval.to_iso().replace('/', "_");
        format!(
            "{}/{}/{}/{}_{}.parquet",
            self.data_source, iv, self.version, self.partition_num, query_id
        )
    }

    /// Whether `path` is a file this segment's writer could have made: [`SegmentId::path`]
    /// for some query id that is a valid id, and no empty, `.` or `..` component anywhere.
    /// Deleting a segment's file checks this first, so a damaged record can never point a
    /// delete at anything but this segment's own file.
    pub fn owns_path(&self, path: &str) -> bool {
        let iv = self.interval.to_iso().replace('/', "_");
        let prefix = format!("{}/{}/{}/{}_", self.data_source, iv, self.version, self.partition_num);
        let query_id = path.strip_prefix(&prefix).and_then(|r| r.strip_suffix(".parquet"));
        query_id.is_some_and(|q| crate::ids::validate_id("queryId", q).is_ok())
            && path.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
    }

    /// Druid's ISO text of the interval start and end (ETERNITY bounds as Druid prints them).
    fn bounds_iso(&self) -> (String, String) {
        let iso = self.interval.to_iso();
        match iso.split_once('/') {
            Some((a, b)) => (a.to_string(), b.to_string()),
            None => (iso.clone(), iso),
        }
    }

    /// Parses Druid's textual segment id, given the dataSource it belongs to (dataSource
    /// names may contain `_`, so Druid's own parser needs it too).
    ///
    /// `<dataSource>_<start>_<end>_<version>[_<partitionNum>]`.
    pub fn parse(data_source: &str, id: &str) -> Option<SegmentId> {
        let rest = id.strip_prefix(data_source)?.strip_prefix('_')?;
        let parts: Vec<&str> = rest.split('_').collect();
        if parts.len() < 3 {
            return None;
        }
        let start = parse_bound(parts[0])?;
        let end = parse_bound(parts[1])?;
        let (version_parts, partition_num) = match parts.len() {
            3 => (&parts[2..], 0),
            _ => match parts[parts.len() - 1].parse::<u32>() {
                Ok(p) => (&parts[2..parts.len() - 1], p),
                Err(_) => (&parts[2..], 0),
            },
        };
        let version = version_parts.join("_");
        if version.is_empty() {
            return None;
        }
        Some(SegmentId {
            data_source: data_source.to_string(),
            interval: Interval::new(start, end),
            version,
            partition_num,
        })
    }
}

fn parse_bound(s: &str) -> Option<i64> {
    match s {
        "-146136543-09-08T08:23:32.096Z" => Some(i64::MIN),
        "146140482-04-24T15:36:27.903Z" => Some(i64::MAX),
        s => parse_instant(s),
    }
}

/// Druid's form: `<dataSource>_<start>_<end>_<version>`, plus `_<partitionNum>` only when
/// the partition number is above 0.
impl fmt::Display for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (start, end) = self.bounds_iso();
        write!(f, "{}_{}_{}_{}", self.data_source, start, end, self.version)?;
        if self.partition_num > 0 {
            write!(f, "_{}", self.partition_num)?;
        }
        Ok(())
    }
}

/// One row of `druid_segments`: a segment and what is known about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentRecord {
    pub id: SegmentId,
    /// Whether the segment is part of the dataSource (Druid's `used` flag).
    pub used: bool,
    /// A tombstone marks a time chunk as empty: it overshadows older data and holds no rows.
    pub is_tombstone: bool,
    pub num_rows: u64,
    pub size_bytes: u64,
    /// Object-store path of the segment's Parquet file; empty for tombstones.
    pub path: String,
    pub signature: Signature,
    /// Smallest and largest `__time` in the segment (epoch millis), when it has rows.
    pub min_time: Option<i64>,
    pub max_time: Option<i64>,
    /// ISO instant the segment was created.
    pub created_date: String,
    /// ISO instant the `used` flag last changed.
    pub used_status_last_updated: String,
    /// Druid's shard spec, e.g. `{"type":"numbered","partitionNum":0,"partitions":1}`.
    pub shard_spec: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(a: &str, b: &str) -> Interval {
        Interval::new(parse_instant(a).unwrap(), parse_instant(b).unwrap())
    }

    #[test]
    fn druid_id_text() {
        let id = SegmentId::new("wiki", iv("2015-09-12", "2015-09-13"), "2024-01-01T00:00:00.000Z", 0);
        assert_eq!(
            id.to_string(),
            "wiki_2015-09-12T00:00:00.000Z_2015-09-13T00:00:00.000Z_2024-01-01T00:00:00.000Z"
        );
        let id1 = SegmentId {
            partition_num: 3,
            ..id.clone()
        };
        assert_eq!(
            id1.to_string(),
            "wiki_2015-09-12T00:00:00.000Z_2015-09-13T00:00:00.000Z_2024-01-01T00:00:00.000Z_3"
        );
        assert_eq!(SegmentId::parse("wiki", &id.to_string()), Some(id));
        assert_eq!(SegmentId::parse("wiki", &id1.to_string()), Some(id1));
        assert_eq!(SegmentId::parse("wik", "wiki_x"), None);
    }

    #[test]
    fn paths_name_the_writing_query() {
        let id = SegmentId::new("wiki", iv("2015-09-12", "2015-09-13"), "2024-01-01T00:00:00.000Z", 3);
        assert_eq!(
            id.path("q1"),
            "wiki/2015-09-12T00:00:00.000Z_2015-09-13T00:00:00.000Z/2024-01-01T00:00:00.000Z/3_q1.parquet"
        );
        assert_ne!(id.path("q1"), id.path("q2"));
    }

    #[test]
    fn a_segment_owns_only_its_own_paths() {
        let id = SegmentId::new("wiki", iv("2015-09-12", "2015-09-13"), "2024-01-01T00:00:00.000Z", 3);
        assert!(id.owns_path(&id.path("q1")));
        let other = SegmentId {
            partition_num: 4,
            ..id.clone()
        };
        assert!(!id.owns_path(&other.path("q1")));
        for bad in [
            "",
            "wiki/x.parquet",
            "/etc/passwd",
            "wiki/2015-09-12T00:00:00.000Z_2015-09-13T00:00:00.000Z/2024-01-01T00:00:00.000Z/3_.parquet",
            "wiki/2015-09-12T00:00:00.000Z_2015-09-13T00:00:00.000Z/2024-01-01T00:00:00.000Z/3_a/../../x.parquet",
            "wiki/2015-09-12T00:00:00.000Z_2015-09-13T00:00:00.000Z/2024-01-01T00:00:00.000Z/3_q1.parquet.bak",
        ] {
            assert!(!id.owns_path(bad), "{bad}");
        }
        let dotted = SegmentId::new("..", iv("2015-09-12", "2015-09-13"), "v", 0);
        assert!(!dotted.owns_path(&dotted.path("q1")));
    }

    #[test]
    fn eternity_and_underscored_names() {
        let id = SegmentId::new("my_ds", Interval::eternity(), "v1", 2);
        let text = id.to_string();
        assert_eq!(
            text,
            "my_ds_-146136543-09-08T08:23:32.096Z_146140482-04-24T15:36:27.903Z_v1_2"
        );
        assert_eq!(SegmentId::parse("my_ds", &text), Some(id));
    }
}
