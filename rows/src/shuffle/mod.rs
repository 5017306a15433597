//! The shuffle: workers write sorted, partitioned Arrow record batches ("frames") that the
//! next stage's workers read. Output stays in memory up to a worker's budget and spills
//! sorted runs to local disk beyond it; readers merge the runs of a partition.

pub mod located;
pub mod partitioner;
pub mod run;
pub mod store;
pub mod writer;

pub use located::LocatedFetcher;
pub use run::Run;
pub use store::{InProcessShuffle, LiveSender, ShuffleFetcher, WorkerStageOutput};
pub use writer::{ShuffleWriter, ShuffleWriterConfig};
