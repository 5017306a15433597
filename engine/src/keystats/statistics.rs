//! [`KeyStatistics`]: per bucket an exact row count and a mergeable sketch of the keys.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};

use super::sketch::BucketSketch;
use crate::error::Result;

/// Default number of keys a bucket's sketch retains.
pub const DEFAULT_MAX_RETAINED_KEYS_PER_BUCKET: usize = 4096;

/// The smallest per-bucket capacity; smaller requests (and downsampling) stop here.
pub const MIN_RETAINED_KEYS_PER_BUCKET: usize = 32;

/// Bookkeeping bytes per bucket (map node, counters, level headers).
pub(super) const BUCKET_OVERHEAD_BYTES: usize = 160;

/// Statistics of the keys of a stage's output: per bucket an exact row count and a
/// mergeable quantile sketch of the keys. See the module documentation.
///
/// Memory is bounded per bucket by `max_retained_keys_per_bucket` keys; optionally
/// ([`KeyStatistics::with_max_retained_bytes`]) the total is bounded too, by halving the
/// per-bucket capacity of every bucket (down to [`MIN_RETAINED_KEYS_PER_BUCKET`]) whenever
/// the retained bytes exceed the budget (like Druid's downsampling of key collectors).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "KeyStatisticsRepr")]
pub struct KeyStatistics {
    /// Configured per-bucket capacity.
    pub(super) max_retained_keys_per_bucket: usize,
    /// Optional budget of retained bytes over all buckets.
    pub(super) max_retained_bytes: Option<usize>,
    /// The per-bucket capacity in force (smaller than the configured one after downsampling).
    pub(super) effective_keys_per_bucket: usize,
    /// The sketches, ascending by bucket.
    #[serde(serialize_with = "serialize_buckets")]
    pub(super) buckets: BTreeMap<i64, BucketSketch>,
    /// Retained bytes over all buckets (see `estimated_bytes`).
    #[serde(skip)]
    pub(super) retained_bytes: usize,
}

impl Default for KeyStatistics {
    /// Empty statistics retaining [`DEFAULT_MAX_RETAINED_KEYS_PER_BUCKET`] keys per bucket.
    fn default() -> Self {
        Self::new(DEFAULT_MAX_RETAINED_KEYS_PER_BUCKET)
    }
}

impl KeyStatistics {
    /// Empty statistics whose sketches retain about `max_retained_keys_per_bucket` keys per
    /// bucket (at least [`MIN_RETAINED_KEYS_PER_BUCKET`]). Buckets with at most that many rows
    /// are exact.
    pub fn new(max_retained_keys_per_bucket: usize) -> Self {
        let cap = max_retained_keys_per_bucket.max(MIN_RETAINED_KEYS_PER_BUCKET);
        KeyStatistics {
            max_retained_keys_per_bucket: cap,
            max_retained_bytes: None,
            effective_keys_per_bucket: cap,
            buckets: BTreeMap::new(),
            retained_bytes: 0,
        }
    }

    /// Bounds the retained bytes over all buckets: when they exceed `max_bytes`, every
    /// bucket's capacity is halved (not below [`MIN_RETAINED_KEYS_PER_BUCKET`]) and the
    /// sketches are compacted, trading accuracy for memory.
    pub fn with_max_retained_bytes(mut self, max_bytes: usize) -> Self {
        self.max_retained_bytes = Some(max_bytes);
        self.enforce_budget();
        self
    }

    /// Configured per-bucket capacity.
    pub fn max_retained_keys_per_bucket(&self) -> usize {
        self.max_retained_keys_per_bucket
    }

    /// The per-bucket capacity in force (smaller than the configured one after
    /// downsampling to respect the byte budget).
    pub fn effective_keys_per_bucket(&self) -> usize {
        self.effective_keys_per_bucket
    }

    /// Records one row with `key` in `bucket`. Amortised O(1); allocates only to grow a
    /// bucket's key arena or to create a bucket.
    #[inline]
    pub fn add(&mut self, bucket: i64, key: &[u8]) {
        let cap = self.effective_keys_per_bucket;
        let sketch = match self.buckets.get_mut(&bucket) {
            Some(s) => s,
            None => {
                let fresh = BucketSketch::new(bucket);
                self.retained_bytes += BUCKET_OVERHEAD_BYTES + fresh.bytes;
                self.buckets.entry(bucket).or_insert(fresh)
            }
        };
        let before = sketch.bytes;
        sketch.add(key, cap);
        self.retained_bytes = self.retained_bytes + sketch.bytes - before;
        if let Some(max) = self.max_retained_bytes {
            if self.retained_bytes > max {
                self.enforce_budget();
            }
        }
    }

    /// Records one row per key, all in `bucket`.
    pub fn add_many<'a>(&mut self, bucket: i64, keys: impl Iterator<Item = &'a [u8]>) {
        for key in keys {
            self.add(bucket, key);
        }
    }

    /// Adds the rows and keys of `other` (another worker's statistics) to these.
    pub fn merge(&mut self, other: &KeyStatistics) {
        let cap = self.effective_keys_per_bucket;
        for (bucket, theirs) in &other.buckets {
            match self.buckets.get_mut(bucket) {
                Some(mine) => mine.merge_from(theirs, cap),
                None => {
                    let mut copy = theirs.clone();
                    copy.compress(cap);
                    self.buckets.insert(*bucket, copy);
                }
            }
        }
        self.recompute_bytes();
        self.enforce_budget();
    }

    /// Exact number of rows added, over all buckets.
    pub fn total_rows(&self) -> u64 {
        self.buckets.values().map(|b| b.rows).sum()
    }

    /// Number of buckets holding at least one row.
    pub fn bucket_count(&self) -> usize {
        self.buckets.len()
    }

    /// `(bucket, exact rows)`, ascending by bucket.
    pub fn buckets(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        self.buckets.iter().map(|(b, s)| (*b, s.rows))
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Number of keys retained by the sketches, over all buckets.
    pub fn retained_keys(&self) -> usize {
        self.buckets.values().map(|b| b.retained).sum()
    }

    /// Approximate memory held: retained key bytes plus bookkeeping.
    pub fn estimated_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.retained_bytes
    }

    /// Whether every bucket's sketch is exact (no key was ever compacted away).
    pub fn is_exact(&self) -> bool {
        self.buckets.values().all(BucketSketch::is_exact)
    }

    /// The distinct retained keys of `bucket`, ascending, with their estimated row counts
    /// (which sum to the bucket's exact row count). Empty for an unknown bucket.
    pub fn weighted_keys(&self, bucket: i64) -> Vec<(Vec<u8>, u64)> {
        self.buckets
            .get(&bucket)
            .map(|s| s.sorted_items().into_iter().map(|(k, w)| (k.to_vec(), w)).collect())
            .unwrap_or_default()
    }

    pub(super) fn recompute_bytes(&mut self) {
        self.retained_bytes = self.buckets.values().map(|b| b.bytes + BUCKET_OVERHEAD_BYTES).sum();
    }

    /// Halves the per-bucket capacity while the byte budget is exceeded.
    pub(super) fn enforce_budget(&mut self) {
        let Some(max) = self.max_retained_bytes else {
            return;
        };
        while self.retained_bytes > max && self.effective_keys_per_bucket > MIN_RETAINED_KEYS_PER_BUCKET {
            self.effective_keys_per_bucket = (self.effective_keys_per_bucket / 2).max(MIN_RETAINED_KEYS_PER_BUCKET);
            let cap = self.effective_keys_per_bucket;
            for sketch in self.buckets.values_mut() {
                sketch.compress(cap);
                sketch.shrink_to_fit();
            }
            self.recompute_bytes();
        }
    }
}

pub(super) fn serialize_buckets<S: Serializer>(buckets: &BTreeMap<i64, BucketSketch>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(buckets.values())
}

/// The serialized form of [`KeyStatistics`]; buckets travel as a list.
#[derive(Deserialize)]
pub(super) struct KeyStatisticsRepr {
    pub(super) max_retained_keys_per_bucket: usize,
    #[serde(default)]
    pub(super) max_retained_bytes: Option<usize>,
    pub(super) effective_keys_per_bucket: usize,
    pub(super) buckets: Vec<BucketSketch>,
}

impl TryFrom<KeyStatisticsRepr> for KeyStatistics {
    type Error = String;

    fn try_from(r: KeyStatisticsRepr) -> Result<Self, String> {
        let cap = r.max_retained_keys_per_bucket.max(MIN_RETAINED_KEYS_PER_BUCKET);
        let mut stats = KeyStatistics {
            max_retained_keys_per_bucket: cap,
            max_retained_bytes: r.max_retained_bytes,
            effective_keys_per_bucket: r.effective_keys_per_bucket.clamp(MIN_RETAINED_KEYS_PER_BUCKET, cap),
            buckets: BTreeMap::new(),
            retained_bytes: 0,
        };
        let cap = stats.effective_keys_per_bucket;
        for b in r.buckets {
            match stats.buckets.get_mut(&b.bucket) {
                Some(mine) => mine.merge_from(&b, cap),
                None => {
                    stats.buckets.insert(b.bucket, b);
                }
            }
        }
        stats.recompute_bytes();
        Ok(stats)
    }
}
