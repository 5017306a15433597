//! Key statistics of a range-partitioned stage and the partition boundaries made from them.
//!
//! While a worker reads the input of a stage whose output is globally sorted or range
//! partitioned, it feeds every output key into a [`KeyStatistics`]: per bucket (time chunk,
//! or `0` without bucketing) an exact row count and a mergeable quantile sketch of the keys.
//! The controller merges the statistics of all workers (Druid's `MERGING_STATISTICS` phase)
//! and turns them into [`RangePartitions`] with [`boundaries_by_target_size`] (segment
//! generation: at most `rowsPerSegment` rows per partition) or [`boundaries_by_count`]
//! (ORDER BY: a fixed number of partitions). Workers then route each row to its partition
//! with [`RangePartitions::partition_for`].
//!
//! Keys are the byte strings of arrow's row format, so keys compare as bytes.
//!
//! # The sketch
//!
//! Every bucket holds a deterministic KLL sketch: level `h` retains keys of weight `2^h`.
//! New keys go to level 0. When a bucket retains more keys than its capacity, the lowest
//! level over its own capacity is compacted: its keys are sorted and every other one (from
//! a pseudo-random but seeded offset) moves to the next level with double weight. The sum
//! of the weights always equals the exact row count, and the number of retained keys of a
//! bucket stays near `max_retained_keys_per_bucket` however many rows are added. Merging
//! concatenates the levels and compacts again. Measured rank errors stay below about
//! `4 / max_retained_keys_per_bucket` of the bucket's rows (0.1% with the default 4096).
//!
//! Keys are stored in one byte arena per level, so adding a key does not allocate (beyond
//! the amortised growth of the arena).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{MsqError, Result};

/// Default number of keys a bucket's sketch retains.
pub const DEFAULT_MAX_RETAINED_KEYS_PER_BUCKET: usize = 4096;

/// The smallest per-bucket capacity; smaller requests (and downsampling) stop here.
pub const MIN_RETAINED_KEYS_PER_BUCKET: usize = 32;

/// The bucket of [`RangePartitions::single`]: its one range matches every bucket.
pub const ANY_BUCKET: i64 = i64::MIN;

/// Smallest capacity of one level of a sketch.
const MIN_LEVEL_CAPACITY: usize = 8;
/// Capacity of level `h` relative to level `h + 1` (KLL's `c`).
const CAPACITY_DECAY: f64 = 2.0 / 3.0;
/// Bookkeeping bytes per retained key (its end offset in the arena).
const ITEM_OVERHEAD_BYTES: usize = std::mem::size_of::<usize>();
/// Bookkeeping bytes per bucket (map node, counters, level headers).
const BUCKET_OVERHEAD_BYTES: usize = 160;
/// Bookkeeping bytes per level.
const LEVEL_OVERHEAD_BYTES: usize = 2 * std::mem::size_of::<Vec<u8>>();

// ---------------------------------------------------------------------------------------
// Key statistics
// ---------------------------------------------------------------------------------------

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
    max_retained_keys_per_bucket: usize,
    /// Optional budget of retained bytes over all buckets.
    max_retained_bytes: Option<usize>,
    /// The per-bucket capacity in force (smaller than the configured one after downsampling).
    effective_keys_per_bucket: usize,
    /// The sketches, ascending by bucket.
    #[serde(serialize_with = "serialize_buckets")]
    buckets: BTreeMap<i64, BucketSketch>,
    /// Retained bytes over all buckets (see `estimated_bytes`).
    #[serde(skip)]
    retained_bytes: usize,
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

    fn recompute_bytes(&mut self) {
        self.retained_bytes = self.buckets.values().map(|b| b.bytes + BUCKET_OVERHEAD_BYTES).sum();
    }

    /// Halves the per-bucket capacity while the byte budget is exceeded.
    fn enforce_budget(&mut self) {
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

fn serialize_buckets<S: Serializer>(buckets: &BTreeMap<i64, BucketSketch>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(buckets.values())
}

/// The serialized form of [`KeyStatistics`]; buckets travel as a list.
#[derive(Deserialize)]
struct KeyStatisticsRepr {
    max_retained_keys_per_bucket: usize,
    #[serde(default)]
    max_retained_bytes: Option<usize>,
    effective_keys_per_bucket: usize,
    buckets: Vec<BucketSketch>,
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

// ---------------------------------------------------------------------------------------
// The per-bucket sketch
// ---------------------------------------------------------------------------------------

/// A deterministic KLL sketch of the keys of one bucket plus its exact row count.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "BucketSketchRepr")]
struct BucketSketch {
    bucket: i64,
    /// Exact number of rows.
    rows: u64,
    /// State of the seeded generator choosing compaction offsets.
    rng: u64,
    /// `levels[h]` holds keys of weight `2^h`.
    levels: Vec<KeyList>,
    /// Keys retained over all levels.
    #[serde(skip)]
    retained: usize,
    /// Retained bytes over all levels.
    #[serde(skip)]
    bytes: usize,
    /// Compaction is due once `retained` exceeds this.
    #[serde(skip)]
    limit: usize,
    /// Capacity of every level, for `(capacity, levels)` = `caps_for`.
    #[serde(skip)]
    caps: Vec<usize>,
    #[serde(skip)]
    caps_for: (usize, usize),
    /// Scratch space for compactions.
    #[serde(skip)]
    scratch_idx: Vec<u32>,
    #[serde(skip)]
    scratch_key: Vec<u8>,
}

#[derive(Deserialize)]
struct BucketSketchRepr {
    bucket: i64,
    rows: u64,
    rng: u64,
    levels: Vec<KeyList>,
}

impl TryFrom<BucketSketchRepr> for BucketSketch {
    type Error = String;

    fn try_from(r: BucketSketchRepr) -> Result<Self, String> {
        if r.levels.len() > 64 {
            return Err(format!(
                "key statistics of bucket {} have {} levels",
                r.bucket,
                r.levels.len()
            ));
        }
        let mut s = BucketSketch::new(r.bucket);
        s.rows = r.rows;
        s.rng = r.rng;
        s.levels = r.levels;
        if s.levels.is_empty() {
            s.levels.push(KeyList::default());
        }
        let weight: u128 = s.levels.iter().enumerate().map(|(h, l)| (l.len() as u128) << h).sum();
        if weight != u128::from(s.rows) {
            return Err(format!(
                "key statistics of bucket {}: {} rows but sketch weight {weight}",
                r.bucket, r.rows
            ));
        }
        s.recount();
        Ok(s)
    }
}

impl BucketSketch {
    fn new(bucket: i64) -> Self {
        BucketSketch {
            bucket,
            rows: 0,
            rng: (bucket as u64) ^ 0x6A09_E667_F3BC_C908,
            levels: vec![KeyList::default()],
            retained: 0,
            bytes: LEVEL_OVERHEAD_BYTES,
            limit: 0,
            caps: Vec::new(),
            caps_for: (0, 0),
            scratch_idx: Vec::new(),
            scratch_key: Vec::new(),
        }
    }

    #[inline]
    fn add(&mut self, key: &[u8], cap: usize) {
        self.rows += 1;
        self.levels[0].push(key);
        self.retained += 1;
        self.bytes += key.len() + ITEM_OVERHEAD_BYTES;
        if self.retained > self.limit {
            self.compress(cap);
        }
    }

    fn is_exact(&self) -> bool {
        self.levels.len() <= 1
    }

    fn merge_from(&mut self, other: &BucketSketch, cap: usize) {
        self.rows += other.rows;
        while self.levels.len() < other.levels.len() {
            self.levels.push(KeyList::default());
        }
        for (mine, theirs) in self.levels.iter_mut().zip(&other.levels) {
            mine.extend_from(theirs);
        }
        self.rng = splitmix64(self.rng ^ other.rng.rotate_left(17));
        self.recount();
        self.compress(cap);
    }

    /// Releases spare capacity (after a downsampling, levels hold far fewer keys).
    fn shrink_to_fit(&mut self) {
        for level in &mut self.levels {
            level.shrink_to_fit();
        }
        self.scratch_idx = Vec::new();
        self.scratch_key = Vec::new();
        self.recount();
    }

    /// Recomputes `retained` and `bytes` from the levels.
    fn recount(&mut self) {
        self.retained = self.levels.iter().map(KeyList::len).sum();
        self.bytes = self.levels.iter().map(|l| l.bytes() + LEVEL_OVERHEAD_BYTES).sum();
    }

    /// Makes sure `caps` and `limit` describe the current capacity and level count.
    fn refresh_caps(&mut self, cap: usize) {
        let key = (cap, self.levels.len());
        if self.caps_for == key && !self.caps.is_empty() {
            return;
        }
        level_capacities(cap, self.levels.len(), &mut self.caps);
        self.limit = self.caps.iter().sum();
        self.caps_for = key;
    }

    /// Compacts levels until at most `limit` keys are retained.
    fn compress(&mut self, cap: usize) {
        loop {
            self.refresh_caps(cap);
            if self.retained <= self.limit {
                return;
            }
            let h = (0..self.levels.len())
                .find(|&h| self.levels[h].len() >= self.caps[h])
                .unwrap_or_else(|| {
                    // Unreachable while retained > sum(caps); compact the fullest level anyway.
                    (0..self.levels.len())
                        .max_by_key(|&h| self.levels[h].len())
                        .unwrap_or(0)
                });
            if self.levels[h].len() < 2 {
                return;
            }
            self.compact_level(h);
        }
    }

    /// Sorts level `h` and moves every other key (from a seeded random offset) to level
    /// `h + 1`; with an odd count the largest key stays behind.
    fn compact_level(&mut self, h: usize) {
        if h + 1 == self.levels.len() {
            self.levels.push(KeyList::default());
        }
        let offset = (splitmix_next(&mut self.rng) & 1) as usize;
        let mut idx = std::mem::take(&mut self.scratch_idx);
        let mut leftover = std::mem::take(&mut self.scratch_key);
        let (lower, upper) = self.levels.split_at_mut(h + 1);
        let level = &mut lower[h];
        let next = &mut upper[0];
        let n = level.len();
        idx.clear();
        idx.extend(0..n as u32);
        idx.sort_unstable_by(|&a, &b| cmp_keys(level.get(a as usize), level.get(b as usize)));
        let even = n & !1;
        for &i in idx[..even].iter().skip(offset).step_by(2) {
            next.push(level.get(i as usize));
        }
        leftover.clear();
        let kept_one = n != even;
        if kept_one {
            leftover.extend_from_slice(level.get(idx[n - 1] as usize));
        }
        // Levels move down as levels are added above them, and a lower level's capacity is
        // smaller: release what this one no longer needs (room for twice its capacity).
        let key_len = level.data.len() / n.max(1) + 1;
        let keep = 2 * self.caps.get(h).copied().unwrap_or(MIN_LEVEL_CAPACITY) + 1;
        level.clear();
        level.data.shrink_to(keep * key_len);
        level.ends.shrink_to(keep);
        if kept_one {
            level.push(&leftover);
        }
        self.scratch_idx = idx;
        self.scratch_key = leftover;
        self.recount();
    }

    /// Distinct retained keys, ascending, with summed weights.
    fn sorted_items(&self) -> Vec<(&[u8], u64)> {
        let mut items: Vec<(&[u8], u64)> = Vec::with_capacity(self.retained);
        for (h, level) in self.levels.iter().enumerate() {
            let w = 1u64.checked_shl(h as u32).unwrap_or(u64::MAX);
            items.extend(level.iter().map(|k| (k, w)));
        }
        items.sort_unstable_by(|a, b| cmp_keys(a.0, b.0));
        let mut out: Vec<(&[u8], u64)> = Vec::with_capacity(items.len());
        for (k, w) in items {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 = last.1.saturating_add(w),
                _ => out.push((k, w)),
            }
        }
        out
    }
}

/// KLL level capacities: the top level gets `k`, each lower one `2/3` of the one above (at
/// least [`MIN_LEVEL_CAPACITY`]), with `k` chosen so the capacities sum to about `cap`.
fn level_capacities(cap: usize, levels: usize, out: &mut Vec<usize>) {
    let levels = levels.max(1);
    let mut sum = 0.0;
    let mut f = 1.0;
    for _ in 0..levels {
        sum += f;
        f *= CAPACITY_DECAY;
    }
    let k = cap as f64 / sum;
    out.clear();
    for h in 0..levels {
        let c = k * CAPACITY_DECAY.powi((levels - 1 - h) as i32);
        out.push((c as usize).max(MIN_LEVEL_CAPACITY));
    }
}

/// Byte-wise order of two keys (as `<[u8]>::cmp`), eight bytes at a time and inline:
/// compactions sort short keys that share long prefixes.
#[inline]
fn cmp_keys(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let x = u64::from_be_bytes(a[i..i + 8].try_into().expect("8 bytes"));
        let y = u64::from_be_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        if x != y {
            return x.cmp(&y);
        }
        i += 8;
    }
    // A byte loop: slice comparison would call memcmp for a few bytes.
    while i < n {
        if a[i] != b[i] {
            return a[i].cmp(&b[i]);
        }
        i += 1;
    }
    a.len().cmp(&b.len())
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn splitmix_next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    splitmix64(*state)
}

// ---------------------------------------------------------------------------------------
// Key arena
// ---------------------------------------------------------------------------------------

/// Keys stored back to back in one buffer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct KeyList {
    data: Vec<u8>,
    /// End offset of every key in `data`.
    ends: Vec<usize>,
}

impl KeyList {
    fn len(&self) -> usize {
        self.ends.len()
    }

    #[inline]
    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.data[start..self.ends[i]]
    }

    #[inline]
    fn push(&mut self, key: &[u8]) {
        self.data.extend_from_slice(key);
        self.ends.push(self.data.len());
    }

    fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
    }

    fn extend_from(&mut self, other: &KeyList) {
        let base = self.data.len();
        self.data.extend_from_slice(&other.data);
        self.ends.extend(other.ends.iter().map(|e| e + base));
    }

    /// Memory held, capacity included (what a byte budget must see).
    fn bytes(&self) -> usize {
        self.data.capacity() + self.ends.capacity() * ITEM_OVERHEAD_BYTES
    }

    fn shrink_to_fit(&mut self) {
        self.data.shrink_to_fit();
        self.ends.shrink_to_fit();
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }
}

/// Serialized as `{"data": <hex string, or bytes in binary formats>, "lens": [key lengths]}`.
impl Serialize for KeyList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut prev = 0;
        let lens: Vec<usize> = self
            .ends
            .iter()
            .map(|&e| {
                let l = e - prev;
                prev = e;
                l
            })
            .collect();
        let mut st = s.serialize_struct("KeyList", 2)?;
        st.serialize_field("data", &HexBytes(&self.data))?;
        st.serialize_field("lens", &lens)?;
        st.end()
    }
}

impl<'de> Deserialize<'de> for KeyList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Repr {
            data: ByteBuf,
            lens: Vec<usize>,
        }
        let r = Repr::deserialize(d)?;
        let mut ends = Vec::with_capacity(r.lens.len());
        let mut end = 0usize;
        for l in r.lens {
            end = end
                .checked_add(l)
                .ok_or_else(|| de::Error::custom("key lengths overflow"))?;
            ends.push(end);
        }
        if end != r.data.0.len() {
            return Err(de::Error::custom(format!(
                "key lengths sum to {end} but {} key bytes were given",
                r.data.0.len()
            )));
        }
        Ok(KeyList { data: r.data.0, ends })
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

struct HexBytes<'a>(&'a [u8]);

impl Serialize for HexBytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            let mut out = String::with_capacity(self.0.len() * 2);
            for b in self.0 {
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 15) as usize] as char);
            }
            s.serialize_str(&out)
        } else {
            s.serialize_bytes(self.0)
        }
    }
}

struct ByteBuf(Vec<u8>);

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ByteBuf;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a hex string or bytes")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteBuf, E> {
                fn nibble(c: u8) -> Option<u8> {
                    match c {
                        b'0'..=b'9' => Some(c - b'0'),
                        b'a'..=b'f' => Some(c - b'a' + 10),
                        b'A'..=b'F' => Some(c - b'A' + 10),
                        _ => None,
                    }
                }
                let s = v.as_bytes();
                if !s.len().is_multiple_of(2) {
                    return Err(E::custom("hex string of odd length"));
                }
                s.chunks_exact(2)
                    .map(|p| match (nibble(p[0]), nibble(p[1])) {
                        (Some(h), Some(l)) => Ok((h << 4) | l),
                        _ => Err(E::custom("invalid hex digit")),
                    })
                    .collect::<Result<Vec<u8>, E>>()
                    .map(ByteBuf)
            }

            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v.to_vec()))
            }

            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ByteBuf, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(ByteBuf(out))
            }
        }
        if d.is_human_readable() {
            d.deserialize_str(V)
        } else {
            d.deserialize_byte_buf(V)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Range partitions
// ---------------------------------------------------------------------------------------

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
fn push_bucket_ranges(ranges: &mut Vec<KeyRange>, bucket: i64, items: &[(&[u8], u64)], cuts: &[usize]) {
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
fn target_margin_rows(target: u64, rows: u64, keys_per_bucket: usize) -> u64 {
    let err = (6.0 * rows as f64 / keys_per_bucket.max(1) as f64).ceil() as u64;
    err.min(target / 5)
}

/// Greedy cuts so each partition holds about the same weight and at most `target` (unless
/// one key alone weighs more): before each partition, the remaining weight is split evenly
/// over the fewest partitions of at most `target`.
fn cuts_by_target(items: &[(&[u8], u64)], target: u64) -> Vec<usize> {
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
fn cuts_by_count(items: &[(&[u8], u64)], n: usize) -> Vec<usize> {
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
fn share_partitions(stats: &KeyStatistics, n: usize) -> Vec<usize> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmp_keys_is_byte_order() {
        let keys: Vec<&[u8]> = vec![
            b"",
            b"a",
            b"ab",
            b"abcdefgh",
            b"abcdefgh\0",
            b"abcdefgi",
            b"abcdefghij",
            b"b",
            b"\xff\x00",
            b"abcdefg",
        ];
        for a in &keys {
            for b in &keys {
                assert_eq!(cmp_keys(a, b), a.cmp(b), "{a:?} {b:?}");
            }
        }
    }

    /// A distinct, well-mixed 8-byte key for every `i`.
    fn key(i: u64) -> [u8; 8] {
        splitmix64(i).to_be_bytes()
    }

    /// Routes keys and counts rows per partition, checking each key's range contains it.
    fn route<'a>(p: &RangePartitions, keys: impl Iterator<Item = (i64, &'a [u8])>) -> Vec<u64> {
        let mut counts = vec![0u64; p.len()];
        for (b, k) in keys {
            let i = p.partition_for(b, k);
            assert!(
                p.ranges[i].contains(b, k),
                "key {k:?} of bucket {b} routed to {:?}",
                p.ranges[i]
            );
            counts[i] += 1;
        }
        counts
    }

    #[test]
    fn empty_statistics() {
        let s = KeyStatistics::new(100);
        assert_eq!(s.total_rows(), 0);
        assert_eq!(s.bucket_count(), 0);
        assert!(s.is_empty());
        let p = boundaries_by_target_size(&s, 10, 10, 10).unwrap();
        assert!(p.is_empty());
        assert_eq!(p.partition_for(0, b"x"), 0);
        assert_eq!(boundaries_by_count(&s, 4), RangePartitions::single());
        assert_eq!(
            KeyStatistics::default().max_retained_keys_per_bucket(),
            DEFAULT_MAX_RETAINED_KEYS_PER_BUCKET
        );
    }

    #[test]
    fn exact_small_target_size() {
        let mut s = KeyStatistics::new(64);
        for k in [b"a", b"b", b"c", b"d", b"e"] {
            s.add(0, k);
        }
        assert!(s.is_exact());
        let p = boundaries_by_target_size(&s, 2, 10, 10).unwrap();
        p.validate().unwrap();
        assert_eq!(
            p.ranges,
            vec![
                KeyRange {
                    bucket: 0,
                    start: None,
                    end: Some(b"c".to_vec())
                },
                KeyRange {
                    bucket: 0,
                    start: Some(b"c".to_vec()),
                    end: Some(b"e".to_vec())
                },
                KeyRange {
                    bucket: 0,
                    start: Some(b"e".to_vec()),
                    end: None
                },
            ]
        );
        // Unseen keys land somewhere sensible.
        assert_eq!(p.partition_for(0, b""), 0);
        assert_eq!(p.partition_for(0, b"bb"), 0);
        assert_eq!(p.partition_for(0, b"c"), 1);
        assert_eq!(p.partition_for(0, b"dz"), 1);
        assert_eq!(p.partition_for(0, b"zzz"), 2);
        // A bucket that fits is one partition.
        let p = boundaries_by_target_size(&s, 5, 10, 10).unwrap();
        assert_eq!(p.ranges, vec![KeyRange::full(0)]);
    }

    #[test]
    fn exact_sizes_are_even_and_at_most_target() {
        for rows in 1..60u64 {
            for target in 1..12u64 {
                let mut s = KeyStatistics::new(64);
                for i in 0..rows {
                    s.add(7, &i.to_be_bytes());
                }
                let p = boundaries_by_target_size(&s, target, 1, 1000).unwrap();
                p.validate().unwrap();
                let keys: Vec<[u8; 8]> = (0..rows).map(|i| i.to_be_bytes()).collect();
                let counts = route(&p, keys.iter().map(|k| (7, &k[..])));
                assert_eq!(
                    counts.len() as u64,
                    rows.div_ceil(target),
                    "rows {rows} target {target}"
                );
                let (min, max) = (*counts.iter().min().unwrap(), *counts.iter().max().unwrap());
                assert!(
                    max <= target && max - min <= 1,
                    "rows {rows} target {target}: {counts:?}"
                );
            }
        }
    }

    #[test]
    fn exact_count_boundaries() {
        let mut s = KeyStatistics::new(64);
        for i in 0..10u8 {
            s.add(0, &[i]);
        }
        let p = boundaries_by_count(&s, 3);
        p.validate().unwrap();
        assert_eq!(p.len(), 3);
        let keys: Vec<[u8; 1]> = (0..10u8).map(|i| [i]).collect();
        let counts = route(&p, keys.iter().map(|k| (0, &k[..])));
        assert_eq!(counts, vec![4, 3, 3]);
        // More partitions than distinct keys: one per key.
        let mut s = KeyStatistics::new(64);
        for _ in 0..5 {
            s.add(0, b"x");
            s.add(0, b"y");
        }
        let p = boundaries_by_count(&s, 8);
        p.validate().unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p.partition_for(0, b"x"), 0);
        assert_eq!(p.partition_for(0, b"y"), 1);
        // n = 1 is the whole space of the bucket.
        assert_eq!(boundaries_by_count(&s, 1).ranges, vec![KeyRange::full(0)]);
    }

    #[test]
    fn count_splits_around_heavy_keys() {
        let mut s = KeyStatistics::new(1024);
        for _ in 0..100 {
            s.add(0, b"a");
        }
        for k in [b"b", b"c", b"d"] {
            s.add(0, k);
        }
        let p = boundaries_by_count(&s, 4);
        p.validate().unwrap();
        assert_eq!(p.len(), 4);
        for (i, k) in [b"a", b"b", b"c", b"d"].iter().enumerate() {
            assert_eq!(p.partition_for(0, *k), i);
        }
    }

    #[test]
    fn count_shares_partitions_over_buckets() {
        let mut s = KeyStatistics::new(256);
        for i in 0..3000u64 {
            s.add(1, &key(i));
        }
        for i in 0..1000u64 {
            s.add(2, &key(i));
        }
        let p = boundaries_by_count(&s, 8);
        p.validate().unwrap();
        assert_eq!(p.len(), 8);
        assert_eq!(p.partitions_of_bucket(1), 0..6);
        assert_eq!(p.partitions_of_bucket(2), 6..8);
        // Fewer partitions than buckets: one per bucket.
        let p = boundaries_by_count(&s, 1);
        assert_eq!(p.ranges, vec![KeyRange::full(1), KeyRange::full(2)]);
    }

    #[test]
    fn count_on_approximate_sketch_is_balanced() {
        let mut s = KeyStatistics::default();
        let n = 200_000u64;
        for i in 0..n {
            s.add(0, &key(i));
        }
        assert!(!s.is_exact());
        let p = boundaries_by_count(&s, 10);
        p.validate().unwrap();
        assert_eq!(p.len(), 10);
        let keys: Vec<[u8; 8]> = (0..n).map(key).collect();
        let counts = route(&p, keys.iter().map(|k| (0, &k[..])));
        for c in counts {
            let dev = (c as f64 - 20_000.0).abs() / 20_000.0;
            assert!(dev < 0.05, "{c}");
        }
    }

    #[test]
    fn million_keys_three_workers_target_size() {
        let n = 1_000_000u64;
        let mut workers: Vec<KeyStatistics> = (0..3)
            .map(|_| KeyStatistics::new(DEFAULT_MAX_RETAINED_KEYS_PER_BUCKET))
            .collect();
        for i in 0..n {
            workers[(i % 3) as usize].add(0, &key(i));
        }
        let mut merged = KeyStatistics::default();
        for w in &workers {
            merged.merge(w);
        }
        assert_eq!(merged.total_rows(), n);
        assert!(merged.retained_keys() <= DEFAULT_MAX_RETAINED_KEYS_PER_BUCKET + 64 * 8);
        let p = boundaries_by_target_size(&merged, 300_000, 10, 100).unwrap();
        p.validate().unwrap();
        assert_eq!(p.len(), 4);
        let keys: Vec<[u8; 8]> = (0..n).map(key).collect();
        let counts = route(&p, keys.iter().map(|k| (0, &k[..])));
        assert_eq!(counts.iter().sum::<u64>(), n);
        for &c in &counts {
            let dev = (c as f64 - 250_000.0).abs() / 250_000.0;
            assert!(dev < 0.05 && c <= 300_000, "{counts:?}");
        }
    }

    #[test]
    fn sorted_input_stays_accurate() {
        // Ascending and descending streams (e.g. time-ordered data) are common.
        let n = 300_000u64;
        for descending in [false, true] {
            let mut s = KeyStatistics::new(1024);
            for i in 0..n {
                let v = if descending { n - 1 - i } else { i };
                s.add(0, &v.to_be_bytes());
            }
            let p = boundaries_by_target_size(&s, 50_000, 1, 100).unwrap();
            p.validate().unwrap();
            let keys: Vec<[u8; 8]> = (0..n).map(|i| i.to_be_bytes()).collect();
            let counts = route(&p, keys.iter().map(|k| (0, &k[..])));
            assert_eq!(counts.len(), 7);
            let ideal = n as f64 / 7.0;
            for &c in &counts {
                assert!((c as f64 - ideal).abs() / ideal < 0.05 && c <= 50_000, "{counts:?}");
            }
        }
    }

    #[test]
    fn heavy_duplicates() {
        let mut s = KeyStatistics::new(128);
        // 50% of rows share one key; the rest are distinct.
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for i in 0..40_000u64 {
            let k = if i % 2 == 0 { b"hot".to_vec() } else { key(i).to_vec() };
            s.add(0, &k);
            keys.push(k);
        }
        let p = boundaries_by_target_size(&s, 5_000, 1, 100).unwrap();
        p.validate().unwrap();
        let counts = route(&p, keys.iter().map(|k| (0, &k[..])));
        let hot = p.partition_for(0, b"hot");
        assert!(counts[hot] >= 20_000);
        for (i, &c) in counts.iter().enumerate() {
            if i != hot {
                assert!(c <= 5_000, "{counts:?}");
            }
        }
        // Only one distinct key: one partition, however big.
        let mut s = KeyStatistics::new(64);
        for _ in 0..10_000 {
            s.add(3, b"same");
        }
        let p = boundaries_by_target_size(&s, 100, 1, 100).unwrap();
        assert_eq!(p.ranges, vec![KeyRange::full(3)]);
        assert_eq!(boundaries_by_count(&s, 5).ranges, vec![KeyRange::full(3)]);
    }

    #[test]
    fn exact_heavy_key_between_light_ones() {
        let mut s = KeyStatistics::new(1024);
        for i in 0..10u8 {
            s.add(0, &[1, i]);
        }
        for _ in 0..30 {
            s.add(0, &[2]);
        }
        for i in 0..10u8 {
            s.add(0, &[3, i]);
        }
        let p = boundaries_by_target_size(&s, 8, 1, 100).unwrap();
        p.validate().unwrap();
        let mut keys: Vec<Vec<u8>> = (0..10u8).map(|i| vec![1, i]).collect();
        keys.extend(std::iter::repeat_n(vec![2], 30));
        keys.extend((0..10u8).map(|i| vec![3, i]));
        let counts = route(&p, keys.iter().map(|k| (0, &k[..])));
        let heavy = p.partition_for(0, &[2]);
        assert_eq!(counts[heavy], 30);
        for (i, &c) in counts.iter().enumerate() {
            assert!(i == heavy || c <= 8, "{counts:?}");
        }
    }

    #[test]
    fn many_buckets() {
        let mut s = KeyStatistics::new(256);
        let mut all = Vec::new();
        for b in 0..200i64 {
            let rows = (b as u64 % 7) * 30 + 1;
            for i in 0..rows {
                let k = key(i * 1000 + b as u64);
                s.add(b * 3_600_000, &k);
                all.push((b * 3_600_000, k));
            }
        }
        assert_eq!(s.bucket_count(), 200);
        let buckets: Vec<i64> = s.buckets().map(|(b, _)| b).collect();
        assert_eq!(buckets, (0..200).map(|b| b * 3_600_000).collect::<Vec<_>>());
        let p = boundaries_by_target_size(&s, 50, 200, 10_000).unwrap();
        p.validate().unwrap();
        let counts = route(&p, all.iter().map(|(b, k)| (*b, &k[..])));
        assert!(counts.iter().all(|&c| c > 0 && c <= 50), "{counts:?}");
        for b in 0..200i64 {
            let rows = (b as u64 % 7) * 30 + 1;
            let r = p.partitions_of_bucket(b * 3_600_000);
            assert_eq!(r.len() as u64, rows.div_ceil(50));
            assert!(p.ranges[r].iter().all(|x| x.bucket == b * 3_600_000));
        }
        assert!(p.partitions_of_bucket(5).is_empty());
        assert_eq!(p.buckets().len(), 200);
        // Unknown buckets still route somewhere.
        assert!(p.partition_for(-1, b"k") < p.len());
        assert!(p.partition_for(i64::MAX, b"k") < p.len());
        assert!(p.partition_for(1, b"k") < p.len());
    }

    #[test]
    fn too_many_buckets_and_partitions() {
        let mut s = KeyStatistics::new(64);
        for b in 0..5 {
            for i in 0..10u64 {
                s.add(b, &key(i));
            }
        }
        match boundaries_by_target_size(&s, 100, 4, 100) {
            Err(MsqError::TooManyBuckets { max_buckets: 4 }) => {}
            other => panic!("{other:?}"),
        }
        assert!(boundaries_by_target_size(&s, 100, 5, 5).is_ok());
        match boundaries_by_target_size(&s, 100, 5, 4) {
            Err(MsqError::TooManyPartitions { max_partitions: 4 }) => {}
            other => panic!("{other:?}"),
        }
        match boundaries_by_target_size(&s, 3, 5, 19) {
            Err(MsqError::TooManyPartitions { max_partitions: 19 }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(boundaries_by_target_size(&s, 3, 5, 20).unwrap().len(), 20);
    }

    #[test]
    fn single_partition() {
        let p = RangePartitions::single();
        assert!(p.is_single());
        assert_eq!(p.len(), 1);
        assert_eq!(p.partition_for(0, b"x"), 0);
        assert_eq!(p.partition_for(i64::MAX, b""), 0);
        assert_eq!(p.partitions_of_bucket(12345), 0..1);
        assert!(p.ranges[0].contains(42, b"anything"));
        p.validate().unwrap();
    }

    #[test]
    fn serde_round_trip() {
        let mut s = KeyStatistics::new(64);
        for i in 0..5000u64 {
            s.add((i % 3) as i64 - 1, &key(i)[..(i % 9) as usize]);
        }
        let json = serde_json::to_string(&s).unwrap();
        let back: KeyStatistics = serde_json::from_str(&json).unwrap();
        assert_eq!(back.total_rows(), 5000);
        assert_eq!(back.buckets().collect::<Vec<_>>(), s.buckets().collect::<Vec<_>>());
        // Memory counts capacity: a deserialized sketch holds exactly its keys.
        assert!(back.estimated_bytes() <= s.estimated_bytes());
        for b in -1..=1 {
            assert_eq!(back.weighted_keys(b), s.weighted_keys(b));
        }
        assert_eq!(
            boundaries_by_target_size(&back, 100, 10, 1000).unwrap(),
            boundaries_by_target_size(&s, 100, 10, 1000).unwrap()
        );
        // Deserialized statistics keep working.
        let mut back = back;
        back.add(1, b"more");
        back.merge(&s);
        assert_eq!(back.total_rows(), 10_001);

        let p = boundaries_by_count(&s, 4);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<RangePartitions>(&json).unwrap(), p);

        // Corrupt input is rejected, not a panic later.
        let bad = json_with_wrong_lengths();
        assert!(serde_json::from_str::<KeyStatistics>(&bad).is_err());
    }

    fn json_with_wrong_lengths() -> String {
        r#"{"max_retained_keys_per_bucket":64,"max_retained_bytes":null,"effective_keys_per_bucket":64,
            "buckets":[{"bucket":0,"rows":2,"rng":1,"levels":[{"data":"6162","lens":[1,3]}]}]}"#
            .to_string()
    }

    #[test]
    fn memory_is_bounded() {
        let mut s = KeyStatistics::new(DEFAULT_MAX_RETAINED_KEYS_PER_BUCKET);
        let mut peak = 0;
        for i in 0..1_000_000u64 {
            s.add(0, &key(i));
            if i % 1000 == 0 {
                peak = peak.max(s.estimated_bytes());
            }
        }
        assert_eq!(s.total_rows(), 1_000_000);
        // Retained keys, times 3 for allocation slack (levels keep room for twice their
        // capacity, and vectors grow by doubling).
        let bound =
            3 * ((DEFAULT_MAX_RETAINED_KEYS_PER_BUCKET + 64 * MIN_LEVEL_CAPACITY) * (8 + ITEM_OVERHEAD_BYTES) + 4096);
        assert!(peak <= bound, "{peak} > {bound}");
        assert!(s.estimated_bytes() <= bound);
    }

    #[test]
    fn byte_budget_downsamples() {
        let mut s = KeyStatistics::new(1024).with_max_retained_bytes(64 * 1024);
        for b in 0..100i64 {
            for i in 0..2000u64 {
                s.add(b, &key(i));
            }
        }
        assert!(s.effective_keys_per_bucket() < 1024);
        // At the smallest capacity, 100 buckets hold about 3 KB each (allocations included).
        assert!(s.estimated_bytes() <= 64 * 1024 + 300 * 1024, "{}", s.estimated_bytes());
        assert_eq!(s.total_rows(), 200_000);
        let p = boundaries_by_target_size(&s, 1000, 100, 1000).unwrap();
        p.validate().unwrap();
        // Coarse sketches leave a wider safety margin: 2 or 3 partitions per bucket.
        assert!((200..=300).contains(&p.len()), "{}", p.len());
        let keys: Vec<[u8; 8]> = (0..2000).map(key).collect();
        for b in 0..100i64 {
            let counts = route(&p, keys.iter().map(|k| (b, &k[..])));
            assert_eq!(counts.iter().sum::<u64>(), 2000);
            assert_eq!(
                p.partitions_of_bucket(b).len(),
                counts.iter().filter(|&&c| c > 0).count()
            );
        }
    }

    #[test]
    fn merge_of_exact_sketches_is_exact() {
        let mut a = KeyStatistics::new(100);
        let mut b = KeyStatistics::new(100);
        a.add_many(0, [b"a".as_slice(), b"c"].into_iter());
        b.add_many(0, [b"b".as_slice(), b"d"].into_iter());
        b.add(9, b"z");
        a.merge(&b);
        assert!(a.is_exact());
        assert_eq!(a.buckets().collect::<Vec<_>>(), vec![(0, 4), (9, 1)]);
        assert_eq!(
            a.weighted_keys(0),
            vec![
                (b"a".to_vec(), 1),
                (b"b".to_vec(), 1),
                (b"c".to_vec(), 1),
                (b"d".to_vec(), 1)
            ]
        );
    }

    #[test]
    fn merge_many_small_workers() {
        // Many workers each with an approximate sketch; the merge stays bounded and accurate.
        let mut merged = KeyStatistics::new(2048);
        let n = 400_000u64;
        for w in 0..20u64 {
            let mut s = KeyStatistics::new(2048);
            for i in (w..n).step_by(20) {
                s.add(0, &key(i));
            }
            merged.merge(&s);
        }
        assert_eq!(merged.total_rows(), n);
        assert!(merged.retained_keys() <= 2048 + 64 * 8);
        let p = boundaries_by_target_size(&merged, 110_000, 1, 100).unwrap();
        assert_eq!(p.len(), 4);
        let keys: Vec<[u8; 8]> = (0..n).map(key).collect();
        let counts = route(&p, keys.iter().map(|k| (0, &k[..])));
        for &c in &counts {
            assert!((c as f64 - 100_000.0).abs() / 100_000.0 < 0.05, "{counts:?}");
        }
    }
}
