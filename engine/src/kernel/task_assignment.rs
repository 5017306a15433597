//! `taskAssignment: auto` (Druid's `WorkerAssignmentStrategy.AUTO`) as a pure decision: as
//! few workers as the input needs, each reading at most 512 MiB (weighted) and 10,000 files,
//! unless more are needed than `maxNumTasks` allows (then every worker reads more).

/// Weighted input bytes one worker reads at most under `auto`.
pub const AUTO_MAX_BYTES_PER_WORKER: u64 = 512 * 1024 * 1024;
/// Input files one worker reads at most under `auto`.
pub const AUTO_MAX_FILES_PER_WORKER: u64 = 10_000;
/// Gzip-compressed text input counts this many times its stored size (Druid's
/// `COMPRESSED_TEXT_WEIGHT_FACTOR`): it expands when read.
pub const COMPRESSED_TEXT_WEIGHT_FACTOR: u64 = 4;

/// A query's input as `auto` weighs it: bytes (weighted) and files (segments count as files).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InputSize {
    pub bytes: u64,
    pub files: u64,
}

impl InputSize {
    /// Adds one input file of `size` stored bytes named `name`; `text` when its format is
    /// text (JSON, CSV, TSV, lines), whose gzip files weigh [`COMPRESSED_TEXT_WEIGHT_FACTOR`]
    /// times their size.
    pub fn add_file(&mut self, name: &str, size: u64, text: bool) {
        let gz = name.to_ascii_lowercase().ends_with(".gz");
        let weight = if text && gz { COMPRESSED_TEXT_WEIGHT_FACTOR } else { 1 };
        self.bytes = self.bytes.saturating_add(size.saturating_mul(weight));
        self.files = self.files.saturating_add(1);
    }
}

/// The fewest workers keeping each within the `auto` limits: at least one, at most
/// `max_workers`.
pub fn auto_worker_count(input: InputSize, max_workers: usize) -> usize {
    let by_bytes = input.bytes.div_ceil(AUTO_MAX_BYTES_PER_WORKER);
    let by_files = input.files.div_ceil(AUTO_MAX_FILES_PER_WORKER);
    let needed = usize::try_from(by_bytes.max(by_files)).unwrap_or(usize::MAX);
    needed.clamp(1, max_workers.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_takes_the_fewest_workers_within_the_limits() {
        let size = |bytes, files| InputSize { bytes, files };
        assert_eq!(auto_worker_count(size(0, 0), 8), 1, "no input: one worker");
        assert_eq!(auto_worker_count(size(AUTO_MAX_BYTES_PER_WORKER, 1), 8), 1);
        assert_eq!(auto_worker_count(size(AUTO_MAX_BYTES_PER_WORKER + 1, 2), 8), 2);
        assert_eq!(auto_worker_count(size(10, 10_001), 8), 2, "by files");
        assert_eq!(
            auto_worker_count(size(5 * AUTO_MAX_BYTES_PER_WORKER, 5), 3),
            3,
            "capped"
        );
        assert_eq!(auto_worker_count(size(u64::MAX, u64::MAX), 4), 4);
    }

    #[test]
    fn gzip_text_weighs_four_times_its_size() {
        let mut s = InputSize::default();
        s.add_file("wiki.json.gz", 100, true);
        s.add_file("wiki.JSON.GZ", 100, true);
        s.add_file("wiki.json", 100, true);
        s.add_file("part.parquet", 100, false);
        s.add_file("odd.gz", 100, false);
        assert_eq!(
            s,
            InputSize {
                bytes: 400 + 400 + 100 + 100 + 100,
                files: 5
            }
        );
        // 129 MiB of gzip JSON weighs 516 MiB: two workers.
        let mut big = InputSize::default();
        big.add_file("big.json.gz", 129 << 20, true);
        assert_eq!(auto_worker_count(big, 8), 2);
    }
}
