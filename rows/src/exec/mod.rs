//! DataFusion operators at the edges of a stage's plan fragment: leaves that read external
//! input, segments or shuffle partitions, with the per-worker context they need.

pub mod context;
pub mod external_scan;
pub mod segment_scan;
pub mod shuffle_reader;

pub use context::ExecContext;
pub use external_scan::ExternalScanExec;
pub use segment_scan::{SegmentScanExec, SegmentSlice};
pub use shuffle_reader::ShuffleReaderExec;

use datafusion::execution::TaskContext;
use std::sync::Arc;

/// The worker's `ExecContext`, which every fragment leaf needs.
pub(crate) fn exec_context(ctx: &TaskContext) -> datafusion::error::Result<Arc<ExecContext>> {
    ctx.session_config().get_extension::<ExecContext>().ok_or_else(|| {
        datafusion::error::DataFusionError::Internal("msq ExecContext missing from the task context".into())
    })
}

/// Plan properties for a leaf with `partitions` unordered output partitions.
pub(crate) fn leaf_properties(
    schema: arrow::datatypes::SchemaRef,
    partitions: usize,
) -> Arc<datafusion::physical_plan::PlanProperties> {
    use datafusion::physical_expr::EquivalenceProperties;
    use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
    use datafusion::physical_plan::{Partitioning, PlanProperties};
    Arc::new(PlanProperties::new(
        EquivalenceProperties::new(schema),
        Partitioning::UnknownPartitioning(partitions.max(1)),
        EmissionType::Incremental,
        Boundedness::Bounded,
    ))
}
