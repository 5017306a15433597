//! Waiting for time-chunk locks and segment allocations: the store decides (in one
//! transaction, see `msq_engine::metadata::allocation`); this only retries while other tasks
//! hold conflicting locks, until `taskLockTimeout` or cancellation.

use msq_engine::context::QueryContext;
use msq_engine::granularity::Interval;
use msq_engine::metadata::allocation::{LOCK_LEASE_MS, LOCK_RENEW_MS};
use msq_engine::metadata::{
    AllocateOutcome, AllocateRequest, LockOutcome, LockRequest, LockType, MetadataStore, SegmentId, TaskLock,
};
use msq_engine::{MsqError, Result};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often a running ingestion renews its locks.
pub const RENEW_EVERY: Duration = Duration::from_millis(LOCK_RENEW_MS);

/// How long to wait for conflicting locks: the context's `taskLockTimeout`.
pub fn lock_timeout(ctx: &QueryContext) -> Result<Duration> {
    Ok(Duration::from_millis(ctx.task_lock_timeout_ms))
}

/// When a lock taken now lapses unless renewed (epoch millis).
pub fn lease_end() -> i64 {
    chrono::Utc::now().timestamp_millis() + LOCK_LEASE_MS
}

/// Retries `attempt` while it reports conflicting locks.
async fn wait_for<T, F, Fut>(
    data_source: &str,
    task_id: &str,
    timeout: Duration,
    cancel: &watch::Receiver<bool>,
    mut attempt: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<std::result::Result<T, Vec<TaskLock>>>>,
{
    let started = Instant::now();
    let mut pause = Duration::from_millis(20);
    let mut logged = false;
    loop {
        let holders = match attempt().await? {
            Ok(v) => return Ok(v),
            Err(holders) => holders,
        };
        if *cancel.borrow() {
            return Err(MsqError::Canceled);
        }
        if started.elapsed() >= timeout {
            let mut tasks: Vec<&str> = holders.iter().map(|l| l.task_id.as_str()).collect();
            tasks.dedup();
            let mut intervals: Vec<String> = holders.iter().map(|l| l.interval.to_iso()).collect();
            intervals.dedup();
            return Err(MsqError::LockTimeout {
                data_source: data_source.to_string(),
                intervals: intervals.join(", "),
                holders: tasks.join(", "),
                timeout_ms: timeout.as_millis() as u64,
            });
        }
        if !logged {
            logged = true;
            let who: Vec<String> = holders
                .iter()
                .map(|l| format!("{} ({})", l.task_id, l.lock_type.name()))
                .collect();
            tracing::info!(
                task_id,
                data_source,
                "waiting for time-chunk locks held by {}",
                who.join(", ")
            );
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// Takes the exclusive lock a REPLACE holds on its OVERWRITE intervals for its whole run;
/// returns the version its segments get.
pub async fn lock_for_replace(
    md: &Arc<dyn MetadataStore>,
    task_id: &str,
    data_source: &str,
    intervals: &[Interval],
    now_version: &str,
    timeout: Duration,
    cancel: &watch::Receiver<bool>,
) -> Result<String> {
    wait_for(data_source, task_id, timeout, cancel, || {
        let md = md.clone();
        let req = LockRequest {
            task_id: task_id.to_string(),
            data_source: data_source.to_string(),
            intervals: intervals.to_vec(),
            lock_type: LockType::Exclusive,
            now_version: now_version.to_string(),
            expires_ms: lease_end(),
        };
        async move {
            let o = msq_engine::blocking(move || md.lock_intervals(&req)).await?;
            Ok(match o {
                LockOutcome::Acquired { version } => Ok(version),
                LockOutcome::Conflict(h) => Err(h),
            })
        }
    })
    .await
}

/// Allocates segment ids (recorded as the task's pending segments) once no other task
/// holds the chunks exclusively.
pub async fn allocate(
    md: &Arc<dyn MetadataStore>,
    req: &AllocateRequest,
    timeout: Duration,
    cancel: &watch::Receiver<bool>,
) -> Result<Vec<SegmentId>> {
    wait_for(&req.data_source, &req.task_id, timeout, cancel, || {
        let (md, mut r) = (md.clone(), req.clone());
        r.lock_expires_ms = lease_end();
        async move {
            Ok(match msq_engine::blocking(move || md.allocate_segments(&r)).await? {
                AllocateOutcome::Allocated(ids) => Ok(ids),
                AllocateOutcome::Conflict(h) => Err(h),
            })
        }
    })
    .await
}
