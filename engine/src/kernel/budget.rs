//! The final stage's output when a query's results stream to a consumer (an interactive
//! answer, durable result pages): whether it goes to the consumer as it is produced, and how
//! much of it a worker buffers in memory before spilling sorted runs to its local scratch.

use crate::stage::ShuffleSpec;

/// Output buffer of a SELECT's final stage whose rows stream to a consumer. Those rows only
/// wait there until the consumer reads them, so holding more buys nothing but memory growing
/// with the answer. Big enough that a merge of spilled runs keeps a useful fan-in (eight or
/// more frames of a few MB open at once) and that a small answer never touches the disk.
pub const STREAMED_RESULTS_BUFFER_BYTES: usize = 16 << 20;

/// Bytes of shuffle output a stage's writer may buffer before spilling: the worker's budget
/// (`workerMemoryBytes`), except for the final stage of a query whose results are streamed
/// to a consumer, which gets at most [`STREAMED_RESULTS_BUFFER_BYTES`] so the server's memory
/// does not grow with the answer. (Operators inside the stage, such as an aggregation, keep
/// the whole budget.)
pub fn output_buffer_bytes(worker_memory_bytes: usize, final_stage: bool, results_streamed: bool) -> usize {
    if final_stage && results_streamed {
        worker_memory_bytes.min(STREAMED_RESULTS_BUFFER_BYTES)
    } else {
        worker_memory_bytes
    }
}

/// Whether a stage's rows go straight to the query's result consumer while its workers
/// produce them, bypassing the shuffle: only the final stage of a query whose results are
/// streamed, when its output is unordered (`mix`: one partition, any order, so rows of
/// several workers may interleave) and its workers run in the controller's process (they
/// share its memory; others write to their own shuffle). A sorted output needs all of its
/// input first: it goes through the shuffle with [`output_buffer_bytes`].
pub fn streams_live(
    final_stage: bool,
    results_streamed: bool,
    shuffle: Option<&ShuffleSpec>,
    in_process: bool,
) -> bool {
    final_stage && results_streamed && in_process && matches!(shuffle, None | Some(ShuffleSpec::Mix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sort::SortColumn;

    #[test]
    fn only_a_streamed_final_stage_gets_the_small_buffer() {
        let default = 256 << 20;
        assert_eq!(output_buffer_bytes(default, true, true), 16 << 20);
        // Earlier stages feed the next stage; unstreamed results are collected whole.
        assert_eq!(output_buffer_bytes(default, false, true), default);
        assert_eq!(output_buffer_bytes(default, true, false), default);
        assert_eq!(output_buffer_bytes(default, false, false), default);
        // A budget already below it is kept.
        assert_eq!(output_buffer_bytes(4 << 20, true, true), 4 << 20);
        assert_eq!(output_buffer_bytes(STREAMED_RESULTS_BUFFER_BYTES, true, true), 16 << 20);
    }

    #[test]
    fn only_an_unordered_streamed_final_stage_in_process_goes_live() {
        let mix = Some(&ShuffleSpec::Mix);
        assert!(streams_live(true, true, mix, true));
        assert!(streams_live(true, true, None, true));
        assert!(!streams_live(false, true, mix, true), "feeds another stage");
        assert!(!streams_live(true, false, mix, true), "results collected");
        assert!(!streams_live(true, true, mix, false), "workers in other processes");
        let sorted = ShuffleSpec::SortedGather {
            sort: vec![SortColumn::asc(0)],
        };
        assert!(!streams_live(true, true, Some(&sorted), true), "ordered output");
    }
}
