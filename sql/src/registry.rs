//! The function registry plans are decoded with (`msq_rows::wire::WireCodec::new`).

use datafusion::execution::TaskContext;
use msq_engine::context::QueryContext;
use std::sync::Arc;

/// A task context holding every function the planner can put in a plan: DataFusion's
/// built-ins plus the Druid functions (`TIME_PARSE`, ..., `LATEST_BY`, `EARLIEST_BY`).
pub fn function_registry() -> Arc<TaskContext> {
    crate::session::session_context(&QueryContext::default()).task_ctx()
}
