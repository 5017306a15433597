//! Time-chunk locks and segment allocation: the kernel says what to lock and allocate, the
//! driver asks the metadata store (waiting out conflicting locks) and renews the leases.

use super::Driver;
use msq_engine::metadata::SegmentId;
use msq_engine::Result;

impl Driver<'_> {
    /// A REPLACE holds an exclusive lock on its OVERWRITE intervals for its whole run (as
    /// Druid's controller does), waiting for conflicting ingestions; its segments get the
    /// lock's version.
    pub(super) async fn lock_replaced_intervals(&mut self) -> Result<()> {
        let Some((data_source, replace)) = self
            .kernel
            .ingest()
            .and_then(|r| Some((r.data_source.clone(), r.replace.clone()?)))
        else {
            return Ok(());
        };
        self.holds_locks = true;
        self.version = crate::locking::lock_for_replace(
            &self.env.metadata,
            self.task_id,
            &data_source,
            &replace,
            &self.version,
            self.lock_timeout,
            &self.cancel,
        )
        .await?;
        Ok(())
    }

    /// Allocates the segment ids of generation stage `n` in one metadata transaction (an
    /// INSERT takes shared locks on its chunks there), recording them as pending.
    pub(super) async fn allocate(&mut self, n: usize) -> Result<Vec<SegmentId>> {
        let req = self.kernel.allocation(n, &self.version)?;
        self.holds_locks = true;
        crate::locking::allocate(&self.env.metadata, &req, self.lock_timeout, &self.cancel).await
    }

    /// Extends this task's lock leases. A failure is only logged: a lease that lapses and is
    /// taken over fails the publish with `InsertLockPreempted`.
    pub(super) async fn renew_locks(&self) {
        if !self.holds_locks {
            return;
        }
        let md = self.env.metadata.clone();
        let task = self.task_id.to_string();
        let until = crate::locking::lease_end();
        if let Err(e) = msq_engine::blocking(move || md.renew_locks(&task, until)).await {
            tracing::warn!(task_id = self.task_id, "cannot renew time-chunk locks: {e}");
        }
    }

    /// Releases this task's locks (best effort: they lapse anyway once it stops running).
    pub(super) async fn release_locks(&mut self) {
        if !std::mem::take(&mut self.holds_locks) {
            return;
        }
        let md = self.env.metadata.clone();
        let task = self.task_id.to_string();
        if let Err(e) = msq_engine::blocking(move || md.release_locks(&task)).await {
            tracing::warn!(task_id = self.task_id, "cannot release time-chunk locks: {e}");
        }
    }
}
