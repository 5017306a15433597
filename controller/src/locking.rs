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

/// Druid's default `taskLockTimeout` (5 minutes).
pub const DEFAULT_LOCK_TIMEOUT_MS: u64 = 300_000;

/// How often a running ingestion renews its locks.
pub const RENEW_EVERY: Duration = Duration::from_millis(LOCK_RENEW_MS);

/// The `taskLockTimeout` context value in milliseconds (Druid's default when absent).
pub fn lock_timeout(ctx: &QueryContext) -> Result<Duration> {
    match ctx.raw.get("taskLockTimeout") {
        None | Some(serde_json::Value::Null) => Ok(Duration::from_millis(DEFAULT_LOCK_TIMEOUT_MS)),
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .map(Duration::from_millis)
            .ok_or_else(|| {
                MsqError::Validation(format!(
                    "Invalid value for context parameter [taskLockTimeout]: [{v}] is not a non-negative number of milliseconds"
                ))
            }),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lock_timeout_from_context() {
        let ctx = |v: serde_json::Value| QueryContext::parse(v.as_object().unwrap()).unwrap();
        assert_eq!(lock_timeout(&ctx(json!({}))).unwrap(), Duration::from_millis(300_000));
        assert_eq!(
            lock_timeout(&ctx(json!({"taskLockTimeout": 1500}))).unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(
            lock_timeout(&ctx(json!({"taskLockTimeout": "20"}))).unwrap(),
            Duration::from_millis(20)
        );
        assert_eq!(
            lock_timeout(&ctx(json!({"taskLockTimeout": -1})))
                .unwrap_err()
                .error_code(),
            "InvalidInput"
        );
    }
}
