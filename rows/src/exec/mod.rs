//! DataFusion operators of a stage's plan fragment: leaves that read external input, segments
//! or shuffle partitions, with the per-worker context they need, and the partial aggregation a
//! worker runs on string-view keys. One operator per file; what the leaves share is in `leaf`.

pub mod context;
pub mod external_scan;
mod leaf;
pub mod partial_aggregate;
pub mod segment_scan;
pub mod shuffle_reader;
pub mod view_group_values;

pub use context::ExecContext;
pub use external_scan::ExternalScanExec;
pub use partial_aggregate::{with_view_grouping, PartialAggregateExec};
pub use segment_scan::{SegmentScanExec, SegmentSlice};
pub use shuffle_reader::ShuffleReaderExec;
