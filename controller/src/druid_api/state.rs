//! What the handlers of the public API share.

use crate::tasks::TaskManager;
use std::sync::Arc;

/// The state of every public route: the task queue (and through it the overlord) and the
/// running interactive queries.
#[derive(Clone)]
pub(super) struct AppState {
    pub(super) tasks: Arc<TaskManager>,
    /// The interactive queries running now (`/druid/v2/sql`).
    pub(super) sql: Arc<crate::interactive::SqlQueries>,
}
