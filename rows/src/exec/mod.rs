//! DataFusion operators at the edges of a stage's plan fragment: leaves that read external
//! input, segments or shuffle partitions, with the per-worker context they need. One operator
//! per file; what they share is in `leaf`.

pub mod context;
pub mod external_scan;
mod leaf;
pub mod segment_scan;
pub mod shuffle_reader;

pub use context::ExecContext;
pub use external_scan::ExternalScanExec;
pub use segment_scan::{SegmentScanExec, SegmentSlice};
pub use shuffle_reader::ShuffleReaderExec;
