//! The driver's worker I/O: starting the query's workers, relaunching a failed one when
//! the kernel says so (and re-sending the work it names), stopping them, and removing their
//! scratch directories.

use super::Driver;
use crate::report::{QueryStatus, ReportState, WorkerEntry};
use futures::StreamExt;
use msq_engine::ids::worker_task_id;
use msq_engine::{MsqError, Result};
use msq_rows::shuffle::located::durable_query_prefix;
use object_store::{ObjectStore, ObjectStoreExt};
use std::sync::Arc;
use std::time::Instant;

impl Driver<'_> {
    /// Starts the query's workers (concurrently).
    pub(super) async fn launch_workers(&mut self, count: usize) -> Result<()> {
        let runner = self.env.runner.clone();
        let launches = (0..count).map(|w| runner.launch(&self.launch, w, 0));
        let launched = futures::future::join_all(launches).await;
        let now = Instant::now();
        for (w, l) in launched.into_iter().enumerate() {
            match l {
                Ok(l) => {
                    self.slots.push(l);
                    let mut r = ReportState::lock(&self.report);
                    if let Some(e) = r.workers.iter_mut().find(|e| e.worker_number == w) {
                        e.started = Some(now);
                    }
                }
                Err(e) => {
                    for s in &mut self.slots {
                        s.shutdown().await;
                    }
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Tells workers the query ended and stops them.
    pub(super) async fn release_workers(&mut self) {
        for slot in &mut self.slots {
            let _ = slot.client.post_finish().await;
            slot.shutdown().await;
        }
        if self.ctx.durable_shuffle_storage {
            delete_prefix(&self.env.deep_storage, &durable_query_prefix(&self.query.query_id)).await;
        }
    }

    /// Worker `w` failed or stopped answering. When the kernel allows a relaunch, starts the
    /// new attempt and re-sends the work it names; otherwise fails the query.
    pub(super) async fn worker_failed(&mut self, w: usize, failure: MsqError) -> Result<()> {
        if self.live.is_some() {
            // A live final stage's rows are already with the consumer: running its work
            // again would send them twice, so a lost worker fails the query.
            return Err(failure);
        }
        let lost = self.kernel.worker_id(w);
        let message = failure.to_string();
        let relaunch = self.kernel.worker_failed(w, failure)?;
        tracing::warn!("relaunching worker {lost} after: {message}");
        self.slots[w].shutdown().await;
        self.report_relaunch(w, relaunch.attempt);
        self.slots[w] = self.env.runner.launch(&self.launch, w, relaunch.attempt).await?;
        {
            let mut r = ReportState::lock(&self.report);
            if let Some(e) = r.workers.iter_mut().rev().find(|e| e.worker_number == w) {
                e.started = Some(Instant::now());
            }
        }
        // Re-run the work the lost attempt had not finished.
        for (stage, boundaries) in relaunch.rerun {
            let Some(order) = self.orders.get_mut(&(stage, w)) else {
                continue;
            };
            order.attempt = relaunch.attempt;
            let order = order.clone();
            self.slots[w].client.post_work_order(order).await?;
            if let Some(b) = boundaries {
                self.slots[w].client.post_result_partition_boundaries(stage, b).await?;
            }
        }
        Ok(())
    }

    /// The report's worker list: the lost attempt failed, the new one is requested.
    fn report_relaunch(&self, w: usize, attempt: u32) {
        let now = Instant::now();
        let mut r = ReportState::lock(&self.report);
        for e in r.workers.iter_mut().filter(|e| e.worker_number == w) {
            if e.status == QueryStatus::Running {
                e.status = QueryStatus::Failed;
                e.finished = Some(now);
            }
        }
        r.workers.push(WorkerEntry {
            worker_number: w,
            worker_id: worker_task_id(self.task_id, w, attempt),
            status: QueryStatus::Running,
            requested: now,
            started: None,
            finished: None,
        });
    }
}

/// Deletes every object under `prefix` (best effort).
async fn delete_prefix(store: &Arc<dyn ObjectStore>, prefix: &str) {
    let prefix = object_store::path::Path::from(prefix);
    let mut listing = store.list(Some(&prefix));
    let mut paths = Vec::new();
    while let Some(Ok(meta)) = listing.next().await {
        paths.push(meta.location);
    }
    for p in paths {
        let _ = store.delete(&p).await;
    }
}
