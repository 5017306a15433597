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

mod arena;
mod boundaries;
mod sketch;
mod statistics;
#[cfg(test)]
mod tests;

pub use boundaries::{boundaries_by_count, boundaries_by_target_size, KeyRange, RangePartitions, ANY_BUCKET};
pub use statistics::{KeyStatistics, DEFAULT_MAX_RETAINED_KEYS_PER_BUCKET, MIN_RETAINED_KEYS_PER_BUCKET};
