//! Druid's versioned timeline, simplified: which segments are visible, which are
//! overshadowed, and where a new segment of a time chunk goes.
//!
//! Rules (as Druid's `VersionedIntervalTimeline`, assuming every (interval, version)
//! partition set is complete):
//! - a segment is shadowed, instant by instant, by any segment of the same dataSource with
//!   a higher version (versions compare as strings);
//! - segments of equal version never shadow each other (they are partitions of one set);
//! - tombstones shadow like any other segment; callers skip reading them.
//!
//! Every record passed in is treated as used, whatever its `used` flag says.

use super::segment::{SegmentId, SegmentRecord};
use crate::error::{MsqError, Result};
use crate::granularity::Interval;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A used segment and the parts of its interval (within the queried interval) that no
/// higher version shadows.
#[derive(Debug, Clone, PartialEq)]
pub struct VisibleSegment {
    pub segment: SegmentRecord,
    /// Disjoint, ascending, non-empty intervals.
    pub visible: Vec<Interval>,
}

/// Where a new segment of a time chunk goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// The segment interval (the chunk itself, or an existing coarser interval enclosing it).
    pub interval: Interval,
    pub version: String,
    /// Partition number of the first new segment; further ones follow consecutively.
    pub first_partition_num: u32,
}

/// A set of instants kept as disjoint, non-touching intervals (start -> end).
#[derive(Debug, Default, Clone)]
struct IntervalSet {
    map: BTreeMap<i64, i64>,
}

impl IntervalSet {
    fn add(&mut self, iv: Interval) {
        if iv.start >= iv.end {
            return;
        }
        let (mut s, mut e) = (iv.start, iv.end);
        let mut remove = Vec::new();
        if let Some((&ps, &pe)) = self.map.range(..=s).next_back() {
            if pe >= s {
                s = ps;
                e = e.max(pe);
                remove.push(ps);
            }
        }
        for (&cs, &ce) in self.map.range(s..=e) {
            remove.push(cs);
            e = e.max(ce);
        }
        for k in remove {
            self.map.remove(&k);
        }
        self.map.insert(s, e);
    }

    /// The parts of `iv` this set does not cover.
    fn uncovered(&self, iv: Interval) -> Vec<Interval> {
        let mut out = Vec::new();
        if iv.start >= iv.end {
            return out;
        }
        let mut cur = iv.start;
        if let Some((_, &pe)) = self.map.range(..=iv.start).next_back() {
            cur = cur.max(pe);
        }
        if cur < iv.end {
            let from = iv.start.saturating_add(1).min(iv.end);
            for (&cs, &ce) in self.map.range(from..iv.end) {
                if cs > cur {
                    out.push(Interval::new(cur, cs));
                }
                cur = cur.max(ce);
                if cur >= iv.end {
                    break;
                }
            }
        }
        if cur < iv.end {
            out.push(Interval::new(cur, iv.end));
        }
        out
    }
}

/// Whether the union of `cover` contains every instant of `iv`.
pub(crate) fn union_encloses(cover: &[Interval], iv: Interval) -> bool {
    let mut set = IntervalSet::default();
    for c in cover {
        set.add(*c);
    }
    set.uncovered(iv).is_empty()
}

fn intersect(a: Interval, b: Interval) -> Interval {
    Interval::new(a.start.max(b.start), a.end.min(b.end))
}

/// Calls `f(index, uncovered parts of clip(segment interval))` for every segment, where the
/// uncovered parts are those no higher-version segment of the same dataSource covers.
fn for_each_unshadowed(segments: &[&SegmentRecord], clip: Interval, mut f: impl FnMut(usize, Vec<Interval>)) {
    let mut by_ds: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, s) in segments.iter().enumerate() {
        by_ds.entry(s.id.data_source.as_str()).or_default().push(i);
    }
    for (_, mut idx) in by_ds {
        // Highest version first.
        idx.sort_by(|&a, &b| segments[b].id.version.cmp(&segments[a].id.version));
        let mut covered = IntervalSet::default();
        let mut i = 0;
        while i < idx.len() {
            let version = &segments[idx[i]].id.version;
            let mut j = i;
            while j < idx.len() && &segments[idx[j]].id.version == version {
                j += 1;
            }
            for &k in &idx[i..j] {
                f(k, covered.uncovered(intersect(segments[k].id.interval, clip)));
            }
            for &k in &idx[i..j] {
                covered.add(segments[k].id.interval);
            }
            i = j;
        }
    }
}

/// For every used segment overlapping `query`: the parts of its interval inside `query` that
/// no used segment of the same dataSource with a higher version covers. Segments with
/// nothing visible are dropped. Results keep the order of `used`.
pub fn visible_segments(used: &[SegmentRecord], query: Interval) -> Vec<VisibleSegment> {
    visible_parts(used, query)
        .into_iter()
        .map(|(s, visible)| VisibleSegment {
            segment: s.clone(),
            visible,
        })
        .collect()
}

/// [`visible_segments`] borrowing each segment instead of copying it (a query's planning over
/// hundreds of segments needs only a few fields of each).
pub fn visible_parts(used: &[SegmentRecord], query: Interval) -> Vec<(&SegmentRecord, Vec<Interval>)> {
    if query.start >= query.end {
        return Vec::new();
    }
    let refs: Vec<&SegmentRecord> = used.iter().collect();
    let mut parts: Vec<Vec<Interval>> = vec![Vec::new(); used.len()];
    for_each_unshadowed(&refs, query, |i, v| parts[i] = v);
    used.iter().zip(parts).filter(|(_, v)| !v.is_empty()).collect()
}

/// Ids of the segments in `used` that are fully overshadowed once `new_segments` are added:
/// every instant of their interval is covered by higher-version segments of the same
/// dataSource among `used` and `new_segments`. In the order of `used`, without duplicates.
pub fn overshadowed(used: &[SegmentRecord], new_segments: &[SegmentRecord]) -> Vec<SegmentId> {
    let all: Vec<&SegmentRecord> = used.iter().chain(new_segments.iter()).collect();
    let mut shadowed = vec![false; used.len()];
    for_each_unshadowed(&all, Interval::eternity(), |i, v| {
        if i < shadowed.len() {
            let iv = all[i].id.interval;
            shadowed[i] = iv.start < iv.end && v.is_empty();
        }
    });
    let mut seen = BTreeSet::new();
    used.iter()
        .zip(shadowed)
        .filter(|(s, sh)| *sh && seen.insert(s.id.clone()))
        .map(|(s, _)| s.id.clone())
        .collect()
}

/// Where new segments for time chunk `chunk` go.
///
/// REPLACE (`append == false`): always `(chunk, new_version, 0)`; the new version
/// overshadows what was there.
///
/// INSERT (`append == true`), looking at what is visible of `existing_used` inside `chunk`:
/// - nothing but tombstones (or nothing at all): `(chunk, new_version, 0)`;
/// - data segments of one interval that equals or encloses `chunk` (an existing coarser
///   granularity) and is visible over the whole chunk: that interval and version, with the
///   next partition number after the highest existing one;
/// - anything else (finer or misaligned existing segments, several intervals, data partly
///   shadowed by a tombstone): a validation error explaining the granularity conflict.
pub fn allocate(
    existing_used: &[SegmentRecord],
    chunk: Interval,
    new_version: &str,
    append: bool,
) -> Result<Allocation> {
    let fresh = Allocation {
        interval: chunk,
        version: new_version.to_string(),
        first_partition_num: 0,
    };
    if !append {
        return Ok(fresh);
    }
    let overlapping: Vec<SegmentRecord> = existing_used
        .iter()
        .filter(|s| s.id.interval.overlaps(&chunk))
        .cloned()
        .collect();
    let visible = visible_segments(&overlapping, chunk);
    let data: Vec<&VisibleSegment> = visible.iter().filter(|v| !v.segment.is_tombstone).collect();
    if data.is_empty() {
        return Ok(fresh);
    }
    let intervals: BTreeSet<Interval> = data.iter().map(|v| v.segment.id.interval).collect();
    let data_source = &data[0].segment.id.data_source;
    if intervals.len() == 1 {
        let target = *intervals.iter().next().expect("one interval");
        let mut cover = IntervalSet::default();
        for v in &data {
            for p in &v.visible {
                cover.add(*p);
            }
        }
        if target.encloses(&chunk) && cover.uncovered(chunk).is_empty() {
            let version = data
                .iter()
                .map(|v| v.segment.id.version.as_str())
                .max()
                .expect("non-empty")
                .to_string();
            let next = existing_used
                .iter()
                .filter(|s| s.id.interval == target && s.id.version == version)
                .map(|s| s.id.partition_num + 1)
                .max()
                .unwrap_or(0);
            return Ok(Allocation {
                interval: target,
                version,
                first_partition_num: next,
            });
        }
    }
    let existing = intervals.iter().map(|i| i.to_iso()).collect::<Vec<_>>().join(", ");
    Err(MsqError::Validation(format!(
        "Cannot allocate segment for dataSource [{data_source}], interval [{}]: it overlaps existing segments \
         with interval(s) [{existing}] that do not align with the PARTITIONED BY granularity of this INSERT. \
         Use the granularity of the existing segments (or a finer one that they enclose), or REPLACE the \
         affected time chunks first.",
        chunk.to_iso()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::granularity::parse_instant;
    use crate::signature::Signature;

    const H: i64 = 3_600_000;

    fn t(s: &str) -> i64 {
        parse_instant(s).unwrap()
    }

    fn iv(a: &str, b: &str) -> Interval {
        Interval::new(t(a), t(b))
    }

    fn seg(ds: &str, interval: Interval, version: &str, part: u32) -> SegmentRecord {
        SegmentRecord {
            id: SegmentId::new(ds, interval, version, part),
            used: true,
            is_tombstone: false,
            num_rows: 10,
            size_bytes: 100,
            path: format!("{ds}/{}/{version}/{part}.parquet", interval.start),
            signature: Signature::default(),
            min_time: Some(interval.start),
            max_time: Some(interval.end - 1),
            created_date: "2024-01-01T00:00:00.000Z".into(),
            used_status_last_updated: "2024-01-01T00:00:00.000Z".into(),
            shard_spec: serde_json::json!({"type": "numbered", "partitionNum": part, "partitions": 0}),
        }
    }

    fn tomb(ds: &str, interval: Interval, version: &str) -> SegmentRecord {
        SegmentRecord {
            is_tombstone: true,
            num_rows: 0,
            size_bytes: 0,
            path: String::new(),
            min_time: None,
            max_time: None,
            ..seg(ds, interval, version, 0)
        }
    }

    #[test]
    fn interval_set_add_and_uncovered() {
        let mut s = IntervalSet::default();
        s.add(Interval::new(10, 20));
        s.add(Interval::new(30, 40));
        assert_eq!(
            s.uncovered(Interval::new(0, 50)),
            vec![Interval::new(0, 10), Interval::new(20, 30), Interval::new(40, 50)]
        );
        assert_eq!(s.uncovered(Interval::new(12, 18)), vec![]);
        assert_eq!(s.uncovered(Interval::new(15, 35)), vec![Interval::new(20, 30)]);
        assert_eq!(s.uncovered(Interval::new(20, 30)), vec![Interval::new(20, 30)]);
        // Touching intervals merge; a bridging interval merges three into one.
        s.add(Interval::new(20, 30));
        assert_eq!(s.map.len(), 1);
        assert_eq!(
            s.uncovered(Interval::new(0, 50)),
            vec![Interval::new(0, 10), Interval::new(40, 50)]
        );
        s.add(Interval::new(5, 45));
        assert_eq!(s.map.into_iter().collect::<Vec<_>>(), vec![(5, 45)]);
        let mut e = IntervalSet::default();
        e.add(Interval::eternity());
        assert!(e.uncovered(Interval::new(i64::MIN, 0)).is_empty());
        assert!(e.uncovered(Interval::eternity()).is_empty());
        let mut m = IntervalSet::default();
        m.add(Interval::new(0, 10));
        m.add(Interval::new(2, 5));
        m.add(Interval::new(0, 3));
        assert_eq!(m.map.into_iter().collect::<Vec<_>>(), vec![(0, 10)]);
    }

    #[test]
    fn hour_v2_inside_day_v1_leaves_day_visible_for_23_hours() {
        let day = iv("2015-09-12", "2015-09-13");
        let hour = Interval::new(day.start + 5 * H, day.start + 6 * H);
        let used = vec![seg("wiki", day, "v1", 0), seg("wiki", hour, "v2", 0)];
        let vis = visible_segments(&used, day);
        assert_eq!(vis.len(), 2);
        assert_eq!(vis[0].segment.id.version, "v1");
        assert_eq!(
            vis[0].visible,
            vec![Interval::new(day.start, hour.start), Interval::new(hour.end, day.end)]
        );
        let total: i64 = vis[0].visible.iter().map(|i| i.end - i.start).sum();
        assert_eq!(total, 23 * H);
        assert_eq!(vis[1].visible, vec![hour]);
        // Querying only the replaced hour shows only the new segment.
        let only = visible_segments(&used, hour);
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].segment.id.version, "v2");
        // Querying part of the day clips the visible parts.
        let q = Interval::new(day.start + 4 * H, day.start + 7 * H);
        let vis = visible_segments(&used, q);
        assert_eq!(
            vis[0].visible,
            vec![
                Interval::new(day.start + 4 * H, hour.start),
                Interval::new(hour.end, day.start + 7 * H)
            ]
        );
        // Nothing is fully overshadowed.
        assert!(overshadowed(&used, &[]).is_empty());
    }

    #[test]
    fn equal_versions_do_not_shadow_and_other_datasources_are_independent() {
        let day = iv("2015-09-12", "2015-09-13");
        let used = vec![
            seg("wiki", day, "v1", 0),
            seg("wiki", day, "v1", 1),
            seg("other", day, "v9", 0),
            seg("wiki", iv("2015-09-14", "2015-09-15"), "v0", 0),
        ];
        let vis = visible_segments(&used, Interval::eternity());
        assert_eq!(vis.len(), 4);
        assert!(vis.iter().all(|v| v.visible == vec![v.segment.id.interval]));
        // Non-overlapping segments are dropped; an empty query gives nothing.
        assert_eq!(visible_segments(&used, iv("2015-09-14", "2015-09-15")).len(), 1);
        assert!(visible_segments(&used, Interval::new(5, 5)).is_empty());
    }

    #[test]
    fn full_overshadow_and_tombstones() {
        let day = iv("2015-09-12", "2015-09-13");
        let used = vec![
            seg("wiki", day, "v1", 0),
            seg("wiki", day, "v1", 1),
            tomb("wiki", day, "v2"),
        ];
        let vis = visible_segments(&used, day);
        assert_eq!(vis.len(), 1);
        assert!(vis[0].segment.is_tombstone);
        let ids = overshadowed(&used, &[]);
        assert_eq!(ids, vec![used[0].id.clone(), used[1].id.clone()]);
        // The tombstone itself is not overshadowed.
        assert!(!ids.contains(&used[2].id));
    }

    #[test]
    fn overshadowed_by_new_hour_segments_covering_a_day() {
        let day = iv("2015-09-12", "2015-09-13");
        let used = vec![seg("wiki", day, "v1", 0), seg("wiki", day, "v1", 1)];
        let mut new: Vec<SegmentRecord> = (0..23)
            .map(|h| {
                seg(
                    "wiki",
                    Interval::new(day.start + h * H, day.start + (h + 1) * H),
                    "v2",
                    0,
                )
            })
            .collect();
        // 23 hours: not yet fully covered.
        assert!(overshadowed(&used, &new).is_empty());
        new.push(tomb("wiki", Interval::new(day.start + 23 * H, day.end), "v2"));
        assert_eq!(overshadowed(&used, &new), vec![used[0].id.clone(), used[1].id.clone()]);
        // A lower version never overshadows, nor does another dataSource.
        let old = vec![seg("wiki", day, "v0", 0)];
        assert!(overshadowed(&used, &old).is_empty());
        let other = vec![seg("x", Interval::eternity(), "v9", 0)];
        assert!(overshadowed(&used, &other).is_empty());
        // Coarser higher versions overshadow finer lower ones.
        let hours = vec![seg("wiki", Interval::new(day.start, day.start + H), "v1", 0)];
        assert_eq!(
            overshadowed(&hours, &[seg("wiki", day, "v3", 0)]),
            vec![hours[0].id.clone()]
        );
    }

    #[test]
    fn overshadow_across_several_higher_versions() {
        let day = iv("2015-09-12", "2015-09-13");
        let half = day.start + 12 * H;
        let used = vec![
            seg("wiki", day, "v1", 0),
            seg("wiki", Interval::new(day.start, half), "v2", 0),
        ];
        let new = vec![seg("wiki", Interval::new(half, day.end), "v3", 0)];
        // v1 is covered by v2 (first half) and v3 (second half); v2 is not overshadowed.
        assert_eq!(overshadowed(&used, &new), vec![used[0].id.clone()]);
    }

    #[test]
    fn allocate_replace_is_always_fresh() {
        let day = iv("2015-09-12", "2015-09-13");
        let used = vec![seg("wiki", day, "v1", 0)];
        let a = allocate(&used, day, "v5", false).unwrap();
        assert_eq!(
            a,
            Allocation {
                interval: day,
                version: "v5".into(),
                first_partition_num: 0
            }
        );
    }

    #[test]
    fn allocate_insert_appends_to_existing_chunk() {
        let day = iv("2015-09-12", "2015-09-13");
        let used = vec![
            seg("wiki", day, "v1", 0),
            seg("wiki", day, "v1", 1),
            seg("wiki", day, "v1", 2),
        ];
        let a = allocate(&used, day, "v5", true).unwrap();
        assert_eq!(
            a,
            Allocation {
                interval: day,
                version: "v1".into(),
                first_partition_num: 3
            }
        );
        // A chunk with nothing gets the new version.
        let next = iv("2015-09-13", "2015-09-14");
        let a = allocate(&used, next, "v5", true).unwrap();
        assert_eq!(
            a,
            Allocation {
                interval: next,
                version: "v5".into(),
                first_partition_num: 0
            }
        );
        // The highest visible version wins when an older set is overshadowed but still listed.
        let mut more = used.clone();
        more.push(seg("wiki", day, "v2", 0));
        let a = allocate(&more, day, "v5", true).unwrap();
        assert_eq!(
            a,
            Allocation {
                interval: day,
                version: "v2".into(),
                first_partition_num: 1
            }
        );
    }

    #[test]
    fn allocate_insert_into_coarser_existing_interval() {
        let day = iv("2015-09-12", "2015-09-13");
        let used = vec![seg("wiki", day, "v1", 0), seg("wiki", day, "v1", 1)];
        let hour = Interval::new(day.start + 3 * H, day.start + 4 * H);
        let a = allocate(&used, hour, "v5", true).unwrap();
        assert_eq!(
            a,
            Allocation {
                interval: day,
                version: "v1".into(),
                first_partition_num: 2
            }
        );
        // ALL TIME existing data takes every chunk.
        let all = vec![seg("wiki", Interval::eternity(), "v1", 0)];
        let a = allocate(&all, hour, "v5", true).unwrap();
        assert_eq!(a.interval, Interval::eternity());
        assert_eq!(a.first_partition_num, 1);
    }

    #[test]
    fn allocate_insert_finer_or_misaligned_existing_fails() {
        let day = iv("2015-09-12", "2015-09-13");
        let hours = vec![
            seg("wiki", Interval::new(day.start, day.start + H), "v1", 0),
            seg("wiki", Interval::new(day.start + H, day.start + 2 * H), "v1", 0),
        ];
        let err = allocate(&hours, day, "v5", true).unwrap_err();
        assert!(matches!(err, MsqError::Validation(_)));
        assert!(
            err.to_string()
                .contains("Cannot allocate segment for dataSource [wiki]"),
            "{err}"
        );
        // A single finer segment fails too.
        assert!(allocate(&hours[..1], day, "v5", true).is_err());
        // Misaligned: an existing segment straddling the chunk boundary.
        let straddle = vec![seg("wiki", Interval::new(day.start - H, day.start + H), "v1", 0)];
        assert!(allocate(&straddle, day, "v5", true).is_err());
        // Partial overshadow: DAY v1 with HOUR v2 inside it; a DAY insert conflicts ...
        let mixed = vec![
            seg("wiki", day, "v1", 0),
            seg("wiki", Interval::new(day.start, day.start + H), "v2", 0),
        ];
        assert!(allocate(&mixed, day, "v5", true).is_err());
        // ... an HOUR insert into the replaced hour appends to v2 ...
        let a = allocate(&mixed, Interval::new(day.start, day.start + H), "v5", true).unwrap();
        assert_eq!((a.version.as_str(), a.first_partition_num), ("v2", 1));
        // ... and an HOUR insert elsewhere in the day goes into the DAY v1 set.
        let a = allocate(&mixed, Interval::new(day.start + 5 * H, day.start + 6 * H), "v5", true).unwrap();
        assert_eq!((a.interval, a.version.as_str(), a.first_partition_num), (day, "v1", 1));
    }

    #[test]
    fn allocate_insert_replaces_tombstones() {
        let day = iv("2015-09-12", "2015-09-13");
        let used = vec![seg("wiki", day, "v1", 0), tomb("wiki", day, "v2")];
        let a = allocate(&used, day, "v5", true).unwrap();
        assert_eq!(
            a,
            Allocation {
                interval: day,
                version: "v5".into(),
                first_partition_num: 0
            }
        );
        // A tombstone shadowing part of a coarser data segment: a DAY insert would be partly
        // hidden by the tombstone, so it is refused; an HOUR insert into the tombstone hour
        // gets the new version.
        let hour = Interval::new(day.start, day.start + H);
        let partial = vec![seg("wiki", day, "v1", 0), tomb("wiki", hour, "v2")];
        assert!(allocate(&partial, day, "v5", true).is_err());
        let a = allocate(&partial, hour, "v5", true).unwrap();
        assert_eq!(
            a,
            Allocation {
                interval: hour,
                version: "v5".into(),
                first_partition_num: 0
            }
        );
    }
}
