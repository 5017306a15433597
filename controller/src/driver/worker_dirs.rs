//! The scratch directories of a task's worker processes, removed when the task ends.

use msq_engine::ids::worker_task_id;
use msq_engine::kernel::MAX_RELAUNCHES_PER_WORKER;
use std::path::PathBuf;

/// Removes the scratch directories of a task's worker processes (process runner:
/// `<tmp>/<workerTaskId>`, marked by the worker) when dropped.
pub(super) struct WorkerDirs<'a> {
    pub(super) base: Option<PathBuf>,
    pub(super) task_id: &'a str,
    pub(super) workers: usize,
}

impl Drop for WorkerDirs<'_> {
    fn drop(&mut self) {
        let Some(base) = &self.base else { return };
        for w in 0..self.workers {
            for attempt in 0..=MAX_RELAUNCHES_PER_WORKER {
                msq_rows::scratch::remove_marked(base, &worker_task_id(self.task_id, w, attempt));
            }
        }
    }
}
