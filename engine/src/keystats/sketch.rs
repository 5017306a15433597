//! The per-bucket sketch: a deterministic KLL sketch of one bucket's keys plus its exact row
//! count (see the module documentation of [`super`]).

use serde::{Deserialize, Serialize};

use super::arena::{KeyList, ITEM_OVERHEAD_BYTES};
use crate::error::Result;

/// Smallest capacity of one level of a sketch.
pub(super) const MIN_LEVEL_CAPACITY: usize = 8;
/// Capacity of level `h` relative to level `h + 1` (KLL's `c`).
pub(super) const CAPACITY_DECAY: f64 = 2.0 / 3.0;
/// Bookkeeping bytes per level.
pub(super) const LEVEL_OVERHEAD_BYTES: usize = 2 * std::mem::size_of::<Vec<u8>>();

/// A deterministic KLL sketch of the keys of one bucket plus its exact row count.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "BucketSketchRepr")]
pub(super) struct BucketSketch {
    pub(super) bucket: i64,
    /// Exact number of rows.
    pub(super) rows: u64,
    /// State of the seeded generator choosing compaction offsets.
    pub(super) rng: u64,
    /// `levels[h]` holds keys of weight `2^h`.
    pub(super) levels: Vec<KeyList>,
    /// Keys retained over all levels.
    #[serde(skip)]
    pub(super) retained: usize,
    /// Retained bytes over all levels.
    #[serde(skip)]
    pub(super) bytes: usize,
    /// Compaction is due once `retained` exceeds this.
    #[serde(skip)]
    pub(super) limit: usize,
    /// Capacity of every level, for `(capacity, levels)` = `caps_for`.
    #[serde(skip)]
    pub(super) caps: Vec<usize>,
    #[serde(skip)]
    pub(super) caps_for: (usize, usize),
    /// Scratch space for compactions.
    #[serde(skip)]
    pub(super) scratch_idx: Vec<u32>,
    #[serde(skip)]
    pub(super) scratch_key: Vec<u8>,
}

#[derive(Deserialize)]
pub(super) struct BucketSketchRepr {
    pub(super) bucket: i64,
    pub(super) rows: u64,
    pub(super) rng: u64,
    pub(super) levels: Vec<KeyList>,
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
    pub(super) fn new(bucket: i64) -> Self {
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
    pub(super) fn add(&mut self, key: &[u8], cap: usize) {
        self.rows += 1;
        self.levels[0].push(key);
        self.retained += 1;
        self.bytes += key.len() + ITEM_OVERHEAD_BYTES;
        if self.retained > self.limit {
            self.compress(cap);
        }
    }

    pub(super) fn is_exact(&self) -> bool {
        self.levels.len() <= 1
    }

    pub(super) fn merge_from(&mut self, other: &BucketSketch, cap: usize) {
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
    pub(super) fn shrink_to_fit(&mut self) {
        for level in &mut self.levels {
            level.shrink_to_fit();
        }
        self.scratch_idx = Vec::new();
        self.scratch_key = Vec::new();
        self.recount();
    }

    /// Recomputes `retained` and `bytes` from the levels.
    pub(super) fn recount(&mut self) {
        self.retained = self.levels.iter().map(KeyList::len).sum();
        self.bytes = self.levels.iter().map(|l| l.bytes() + LEVEL_OVERHEAD_BYTES).sum();
    }

    /// Makes sure `caps` and `limit` describe the current capacity and level count.
    pub(super) fn refresh_caps(&mut self, cap: usize) {
        let key = (cap, self.levels.len());
        if self.caps_for == key && !self.caps.is_empty() {
            return;
        }
        level_capacities(cap, self.levels.len(), &mut self.caps);
        self.limit = self.caps.iter().sum();
        self.caps_for = key;
    }

    /// Compacts levels until at most `limit` keys are retained.
    pub(super) fn compress(&mut self, cap: usize) {
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
    pub(super) fn compact_level(&mut self, h: usize) {
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
    pub(super) fn sorted_items(&self) -> Vec<(&[u8], u64)> {
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
pub(super) fn level_capacities(cap: usize, levels: usize, out: &mut Vec<usize>) {
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
pub(super) fn cmp_keys(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
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

pub(super) fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(super) fn splitmix_next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    splitmix64(*state)
}
