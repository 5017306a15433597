//! Partition boundaries from key statistics: [`RangePartitions`] by target size (segment
//! generation) or by count (ORDER BY).

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::statistics::KeyStatistics;
use crate::error::{MsqError, Result};

/// The bucket of [`RangePartitions::single`]: its one range matches every bucket.
pub const ANY_BUCKET: i64 = i64::MIN;

/// One partition: the keys of `bucket` from `start` (inclusive; `None` = the bucket's
/// first possible key) to `end` (exclusive; `None` = past the bucket's last possible key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRange {
    pub bucket: i64,
    pub start: Option<Vec<u8>>,
    pub end: Option<Vec<u8>>,
}

impl KeyRange {
    /// The whole key space of `bucket`.
    pub fn full(bucket: i64) -> Self {
        KeyRange {
            bucket,
            start: None,
            end: None,
        }
    }

    /// Whether the range holds `key` of `bucket` (a range of [`ANY_BUCKET`] holds every
    /// bucket).
    pub fn contains(&self, bucket: i64, key: &[u8]) -> bool {
        (self.bucket == bucket || self.bucket == ANY_BUCKET)
            && self.start.as_deref().is_none_or(|s| s <= key)
            && self.end.as_deref().is_none_or(|e| key < e)
    }
}

/// Range partitions of a stage's output, sorted by `(bucket, start)`; the partition number
/// of a range is its index. Within a bucket the ranges cover the whole key space: the first
/// starts at `None`, the last ends at `None`, and each starts where the previous ends.
///
/// [`RangePartitions::single`] is the bucket-agnostic single partition: one range of
/// [`ANY_BUCKET`] that every `(bucket, key)` maps to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangePartitions {
    pub ranges: Vec<KeyRange>,
}

impl RangePartitions {
    /// One partition holding every key of every bucket.
    pub fn single() -> Self {
        RangePartitions {
            ranges: vec![KeyRange::full(ANY_BUCKET)],
        }
    }

    /// Whether this is [`RangePartitions::single`].
    pub fn is_single(&self) -> bool {
        self.ranges.len() == 1 && self.ranges[0] == KeyRange::full(ANY_BUCKET)
    }

    /// Number of partitions.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether there is no partition (the statistics held no row).
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The partition of `key` in `bucket`, by binary search. Never panics: a bucket without
    /// ranges (impossible when the statistics saw every row) gets a partition of a
    /// neighbouring bucket, and with no partition at all the answer is 0.
    #[inline]
    pub fn partition_for(&self, bucket: i64, key: &[u8]) -> usize {
        if self.ranges.len() <= 1 {
            return 0;
        }
        let after = self.ranges.partition_point(|r| {
            r.bucket < bucket || (r.bucket == bucket && r.start.as_deref().is_none_or(|s| s <= key))
        });
        after.saturating_sub(1)
    }

    /// The partitions of `bucket` (empty if it has none; all of them for
    /// [`RangePartitions::single`]).
    pub fn partitions_of_bucket(&self, bucket: i64) -> Range<usize> {
        if self.is_single() {
            return 0..1;
        }
        let lo = self.ranges.partition_point(|r| r.bucket < bucket);
        let hi = self.ranges.partition_point(|r| r.bucket <= bucket);
        lo..hi
    }

    /// The distinct buckets, ascending.
    pub fn buckets(&self) -> Vec<i64> {
        let mut out: Vec<i64> = Vec::new();
        for r in &self.ranges {
            if out.last() != Some(&r.bucket) {
                out.push(r.bucket);
            }
        }
        out
    }

    /// Checks the invariants: sorted by bucket, and every bucket's ranges tile its whole
    /// key space with strictly increasing boundaries.
    pub fn validate(&self) -> Result<()> {
        let bad = |i: usize, what: &str| Err(MsqError::Unknown(format!("invalid range partitions at {i}: {what}")));
        for (i, r) in self.ranges.iter().enumerate() {
            let first_of_bucket = i == 0 || self.ranges[i - 1].bucket != r.bucket;
            let last_of_bucket = i + 1 == self.ranges.len() || self.ranges[i + 1].bucket != r.bucket;
            if i > 0 && self.ranges[i - 1].bucket > r.bucket {
                return bad(i, "buckets not ascending");
            }
            if first_of_bucket != r.start.is_none() {
                return bad(i, "only the first range of a bucket starts unbounded");
            }
            if last_of_bucket != r.end.is_none() {
                return bad(i, "only the last range of a bucket ends unbounded");
            }
            if !last_of_bucket && self.ranges[i + 1].start != r.end {
                return bad(i, "ranges do not meet");
            }
            if let (Some(s), Some(e)) = (&r.start, &r.end) {
                if s >= e {
                    return bad(i, "empty range");
                }
            }
        }
        Ok(())
    }
}

/// Appends the ranges of `bucket` cut before the items at `cuts` (strictly increasing
/// indices in `1..items.len()`).
pub(super) fn push_bucket_ranges(ranges: &mut Vec<KeyRange>, bucket: i64, items: &[(&[u8], u64)], cuts: &[usize]) {
    let mut start: Option<Vec<u8>> = None;
    for &c in cuts {
        let key = items[c].0.to_vec();
        ranges.push(KeyRange {
            bucket,
            start: start.take(),
            end: Some(key.clone()),
        });
        start = Some(key);
    }
    ranges.push(KeyRange {
        bucket,
        start,
        end: None,
    });
}

/// Rows to take off the target size when a bucket's sketch is approximate, so that true
/// partition sizes stay under the target despite the sketch's rank error. Measured rank
/// errors stay below about `4 / keys_per_bucket` of the bucket's rows, and a partition's
/// size carries the error of both its ends; the margin is capped at a fifth of the target.
pub(super) fn target_margin_rows(target: u64, rows: u64, keys_per_bucket: usize) -> u64 {
    let err = (6.0 * rows as f64 / keys_per_bucket.max(1) as f64).ceil() as u64;
    err.min(target / 5)
}

/// Greedy cuts so each partition holds about the same weight and at most `target` (unless
/// one key alone weighs more): before each partition, the remaining weight is split evenly
/// over the fewest partitions of at most `target`.
pub(super) fn cuts_by_target(items: &[(&[u8], u64)], target: u64) -> Vec<usize> {
    let target = target.max(1);
    let mut remaining: u64 = items.iter().map(|i| i.1).sum();
    let mut cuts = Vec::new();
    let mut i = 0;
    while i < items.len() {
        let parts = remaining.div_ceil(target).max(1);
        let goal = remaining.div_ceil(parts);
        let mut cur = items[i].1;
        i += 1;
        while i < items.len() {
            let next = cur.saturating_add(items[i].1);
            if next <= goal || (next <= target && next - goal < goal.saturating_sub(cur)) {
                cur = next;
                i += 1;
            } else {
                break;
            }
        }
        remaining = remaining.saturating_sub(cur);
        if i < items.len() {
            cuts.push(i);
        }
    }
    cuts
}

/// Cuts into `n` partitions at evenly spaced ranks; when heavy keys make cuts coincide,
/// the heaviest splittable partitions are split at their weighted middle until there are
/// `n` partitions or every partition holds one distinct key.
pub(super) fn cuts_by_count(items: &[(&[u8], u64)], n: usize) -> Vec<usize> {
    if n <= 1 || items.len() <= 1 {
        return Vec::new();
    }
    let mut prefix = Vec::with_capacity(items.len() + 1);
    prefix.push(0u128);
    for (_, w) in items {
        prefix.push(prefix[prefix.len() - 1] + u128::from(*w));
    }
    let total = prefix[items.len()];
    let mut cuts: Vec<usize> = Vec::with_capacity(n - 1);
    let mut i = 0;
    for j in 1..n {
        let rank = (total * j as u128).div_ceil(n as u128);
        while i < items.len() && prefix[i] < rank {
            i += 1;
        }
        if i >= items.len() {
            break;
        }
        if i > 0 && cuts.last() != Some(&i) {
            cuts.push(i);
        }
    }
    let wanted = (n - 1).min(items.len() - 1);
    while cuts.len() < wanted {
        // Partitions are [bounds[p], bounds[p + 1]).
        let mut best: Option<(u128, usize, usize)> = None;
        let mut start = 0;
        for end in cuts.iter().copied().chain(std::iter::once(items.len())) {
            if end - start >= 2 {
                let w = prefix[end] - prefix[start];
                if best.is_none_or(|b| w > b.0) {
                    best = Some((w, start, end));
                }
            }
            start = end;
        }
        let Some((w, start, end)) = best else {
            break;
        };
        let half = prefix[start] + w / 2;
        let mut m = start + 1;
        while m < end - 1 && prefix[m] < half {
            m += 1;
        }
        let pos = cuts.partition_point(|&c| c < m);
        cuts.insert(pos, m);
    }
    cuts
}

/// Segment generation: splits every bucket into partitions of about `target_rows` rows —
/// never more than `target_rows` unless a single key has more rows (with an approximate
/// sketch, up to its small rank error; a margin keeps the estimate below the target). A
/// bucket of at most `target_rows` rows is one partition covering its whole key space.
/// Partitions of one bucket are about equal in size.
///
/// Errors: more than `max_buckets` buckets → [`MsqError::TooManyBuckets`]; more than
/// `max_partitions` partitions in total → [`MsqError::TooManyPartitions`]. Statistics
/// without rows give no partition.
pub fn boundaries_by_target_size(
    stats: &KeyStatistics,
    target_rows: u64,
    max_buckets: usize,
    max_partitions: usize,
) -> Result<RangePartitions> {
    if stats.bucket_count() > max_buckets {
        return Err(MsqError::TooManyBuckets { max_buckets });
    }
    let target_rows = target_rows.max(1);
    // Every `target_rows` rows make one partition (segment generation splits a partition the
    // sketch could not cut finely enough): too many in all fails before any cut is made.
    let needed: u64 = stats.buckets.values().map(|s| s.rows.div_ceil(target_rows)).sum();
    if needed > max_partitions as u64 {
        return Err(MsqError::TooManyPartitions { max_partitions });
    }
    let mut ranges = Vec::new();
    for (&bucket, sketch) in &stats.buckets {
        if sketch.rows <= target_rows {
            ranges.push(KeyRange::full(bucket));
        } else {
            let items = sketch.sorted_items();
            let target = if sketch.is_exact() {
                target_rows
            } else {
                let margin = target_margin_rows(target_rows, sketch.rows, stats.effective_keys_per_bucket);
                target_rows.saturating_sub(margin).max(1)
            };
            let cuts = cuts_by_target(&items, target);
            if ranges.len() + cuts.len() + 1 > max_partitions {
                return Err(MsqError::TooManyPartitions { max_partitions });
            }
            push_bucket_ranges(&mut ranges, bucket, &items, &cuts);
        }
        if ranges.len() > max_partitions {
            return Err(MsqError::TooManyPartitions { max_partitions });
        }
    }
    Ok(RangePartitions { ranges })
}

/// ORDER BY: splits the rows into `n` partitions of about equal rows, at the sketch's
/// quantiles, covering the full key space. Fewer partitions come out when there are fewer
/// distinct retained keys than `n`. With several buckets (a partition never spans two),
/// every bucket gets at least one partition and the rest of `n` is shared in proportion to
/// the buckets' rows — so the result has more than `n` partitions if `n` is below the
/// number of buckets. Statistics without rows give [`RangePartitions::single`].
pub fn boundaries_by_count(stats: &KeyStatistics, n: usize) -> RangePartitions {
    let n = n.max(1);
    if stats.is_empty() {
        return RangePartitions::single();
    }
    let shares = share_partitions(stats, n);
    let mut ranges = Vec::with_capacity(n.max(stats.bucket_count()));
    for ((&bucket, sketch), share) in stats.buckets.iter().zip(shares) {
        if share <= 1 {
            ranges.push(KeyRange::full(bucket));
            continue;
        }
        let items = sketch.sorted_items();
        let cuts = cuts_by_count(&items, share);
        push_bucket_ranges(&mut ranges, bucket, &items, &cuts);
    }
    RangePartitions { ranges }
}

/// Partitions per bucket: one each, the rest in proportion to rows (largest remainder).
pub(super) fn share_partitions(stats: &KeyStatistics, n: usize) -> Vec<usize> {
    let b = stats.bucket_count();
    let mut shares = vec![1usize; b];
    if n <= b {
        return shares;
    }
    let extra = (n - b) as u128;
    let total: u128 = stats.buckets.values().map(|s| u128::from(s.rows)).sum::<u128>().max(1);
    let mut given = 0u128;
    let mut remainders: Vec<(u128, usize)> = Vec::with_capacity(b);
    for (i, s) in stats.buckets.values().enumerate() {
        let exact = extra * u128::from(s.rows);
        let q = exact / total;
        shares[i] += q as usize;
        given += q;
        remainders.push((exact % total, i));
    }
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in remainders.iter().take((extra - given) as usize) {
        shares[i] += 1;
    }
    shares
}
