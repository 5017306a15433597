//! Worker messages: each becomes a kernel event, and the driver carries out what the kernel
//! answers (send boundaries, relaunch a worker, fail the query).

use super::Driver;
use crate::events::{Event, EventKind};
use crate::report::{ErrorEntry, ReportState};
use msq_engine::ids::worker_task_id;
use msq_engine::kernel::KernelAction;
use msq_engine::{MsqError, Result};

impl Driver<'_> {
    pub(super) async fn handle(&mut self, ev: Event) -> Result<()> {
        let Event {
            worker: w,
            attempt,
            kind,
        } = ev;
        if !self.kernel.is_current(w, attempt) {
            // A replaced attempt: whatever it says no longer counts.
            return Ok(());
        }
        match kind {
            EventKind::Counters(s, c) => self.set_counters(s, w, *c),
            EventKind::KeyStats(s, stats) => {
                if let KernelAction::SendBoundaries(b) = self.kernel.add_key_statistics(s, w, stats)? {
                    self.update_report_stage(s);
                    for w in self.kernel.stage_workers(s) {
                        if let Err(e) = self.slots[w]
                            .client
                            .post_result_partition_boundaries(s, b.clone())
                            .await
                        {
                            self.worker_failed(w, e).await?;
                        }
                    }
                }
                self.update_report_stage(s);
            }
            EventKind::DoneReading(s) => {
                self.kernel.worker_done_reading(s, w)?;
                self.update_report_stage(s);
            }
            EventKind::Complete(s, result) => {
                if self.kernel.worker_complete(s, w) {
                    return Ok(());
                }
                self.segments.extend(result.segments);
                if let Some(loc) = result.location {
                    self.locations.entry(s).or_default().insert(w, loc);
                }
                self.kernel.worker_results_complete(s, w, &result.partition_rows)?;
                self.update_report_stage(s);
            }
            EventKind::Lost(message) => {
                let e = MsqError::WorkerFailed {
                    worker_task_id: self.kernel.worker_id(w),
                    message,
                };
                self.worker_failed(w, e).await?;
            }
            EventKind::Error(s, e) => return self.worker_error(w, attempt, s, e).await,
        }
        Ok(())
    }

    /// Worker `w` reported an error in stage `s`: relaunch it when the kernel deems the
    /// error retriable, otherwise record it in the report and fail the query.
    async fn worker_error(&mut self, w: usize, attempt: u32, s: usize, e: MsqError) -> Result<()> {
        if self.kernel.retriable(&e) {
            return self.worker_failed(w, e).await;
        }
        let task_id = worker_task_id(self.task_id, w, attempt);
        let mut r = ReportState::lock(&self.report);
        r.error = Some(ErrorEntry {
            error: e.clone(),
            task_id: task_id.clone(),
            stage_number: Some(s),
        });
        if let MsqError::TooManyWarnings { root_error, .. } = &e {
            let host = r.host.clone();
            r.warnings.push(serde_json::json!({
                "taskId": task_id,
                "host": host,
                "stageNumber": s,
                "error": root_error.to_fault(),
            }));
        }
        Err(e)
    }
}
