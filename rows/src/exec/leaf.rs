//! What the three leaf operators of a fragment (external input, segments, shuffle partitions)
//! share: the worker's [`ExecContext`], their plan properties and DataFusion's `ExecutionPlan`
//! boilerplate for an operator without children or expressions ([`leaf_execution_plan!`]).

use super::context::ExecContext;
use datafusion::common::Statistics;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::{Partitioning, PlanProperties, SendableRecordBatchStream};
use std::sync::Arc;

/// A leaf operator: a name, its properties and how to stream one output partition.
pub(crate) trait LeafExec {
    /// DataFusion's name of the operator.
    const NAME: &'static str;

    /// The operator's plan properties (see [`leaf_properties`]).
    fn plan_properties(&self) -> &Arc<PlanProperties>;

    /// Streams output partition `partition` with the worker's context.
    fn open(&self, partition: usize, ctx: Arc<ExecContext>) -> Result<SendableRecordBatchStream>;

    /// What is known before reading of output partition `partition` (all of them for `None`):
    /// nothing, unless the operator says more.
    fn statistics(&self, _partition: Option<usize>) -> Statistics {
        Statistics::new_unknown(&self.plan_properties().eq_properties.schema().clone())
    }
}

/// Implements `ExecutionPlan` for a [`LeafExec`]: no children, no expressions, and
/// `execute` opening the partition with the worker's context from the task context.
macro_rules! leaf_execution_plan {
    ($t:ty) => {
        impl datafusion::physical_plan::ExecutionPlan for $t {
            fn name(&self) -> &str {
                <$t as $crate::exec::leaf::LeafExec>::NAME
            }

            fn properties(&self) -> &std::sync::Arc<datafusion::physical_plan::PlanProperties> {
                $crate::exec::leaf::LeafExec::plan_properties(self)
            }

            fn children(&self) -> Vec<&std::sync::Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
                vec![]
            }

            fn apply_expressions(
                &self,
                _f: &mut dyn FnMut(
                    &std::sync::Arc<dyn datafusion::physical_expr::PhysicalExpr>,
                )
                    -> datafusion::error::Result<datafusion::common::tree_node::TreeNodeRecursion>,
            ) -> datafusion::error::Result<datafusion::common::tree_node::TreeNodeRecursion> {
                Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
            }

            fn with_new_children(
                self: std::sync::Arc<Self>,
                _children: Vec<std::sync::Arc<dyn datafusion::physical_plan::ExecutionPlan>>,
            ) -> datafusion::error::Result<std::sync::Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
                Ok(self)
            }

            fn statistics_from_inputs(
                &self,
                _input_stats: &[std::sync::Arc<datafusion::common::Statistics>],
                args: &datafusion::physical_plan::StatisticsArgs,
            ) -> datafusion::error::Result<std::sync::Arc<datafusion::common::Statistics>> {
                Ok(std::sync::Arc::new($crate::exec::leaf::LeafExec::statistics(
                    self,
                    args.partition(),
                )))
            }

            fn execute(
                &self,
                partition: usize,
                context: std::sync::Arc<datafusion::execution::TaskContext>,
            ) -> datafusion::error::Result<datafusion::physical_plan::SendableRecordBatchStream> {
                let ctx = $crate::exec::leaf::exec_context(&context)?;
                $crate::exec::leaf::LeafExec::open(self, partition, ctx)
            }
        }
    };
}
pub(crate) use leaf_execution_plan;

/// The worker's `ExecContext`, which every fragment leaf needs.
pub(crate) fn exec_context(ctx: &TaskContext) -> Result<Arc<ExecContext>> {
    ctx.session_config()
        .get_extension::<ExecContext>()
        .ok_or_else(|| DataFusionError::Internal("msq ExecContext missing from the task context".into()))
}

/// Plan properties for a leaf with `partitions` unordered output partitions.
pub(crate) fn leaf_properties(schema: arrow::datatypes::SchemaRef, partitions: usize) -> Arc<PlanProperties> {
    Arc::new(PlanProperties::new(
        EquivalenceProperties::new(schema),
        Partitioning::UnknownPartitioning(partitions.max(1)),
        EmissionType::Incremental,
        Boundedness::Bounded,
    ))
}
