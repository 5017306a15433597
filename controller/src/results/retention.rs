//! Deletes result pages older than the retention period (Druid keeps query results for six
//! hours by default), now and then every ten minutes.

use super::RESULTS_ROOT;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use std::sync::Arc;
use std::time::Duration;

/// Druid's default retention of query results.
pub const DEFAULT_RESULTS_RETENTION: Duration = Duration::from_secs(6 * 3600);

/// How often expired results are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// Whether an object last written at `modified_ms` has expired at `now_ms` with `keep`.
pub fn expired(modified_ms: i64, now_ms: i64, keep: Duration) -> bool {
    now_ms.saturating_sub(modified_ms) > keep.as_millis() as i64
}

/// Deletes every result page written more than `keep` ago; returns how many.
pub async fn sweep(store: &Arc<dyn ObjectStore>, keep: Duration) -> usize {
    let now = chrono::Utc::now().timestamp_millis();
    let root = Path::from(RESULTS_ROOT);
    let mut listing = store.list(Some(&root));
    let mut old = Vec::new();
    while let Some(meta) = listing.next().await {
        match meta {
            Ok(m) if expired(m.last_modified.timestamp_millis(), now, keep) => old.push(m.location),
            Ok(_) => {}
            Err(object_store::Error::NotFound { .. }) => break,
            Err(e) => {
                tracing::warn!("cannot list query results: {e}");
                break;
            }
        }
    }
    let mut n = 0;
    for path in old {
        match store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => n += 1,
            Err(e) => tracing::warn!("cannot delete expired query results {path}: {e}"),
        }
    }
    n
}

/// Deletes every page of a task's results (a failed query leaves none).
pub async fn delete_task_results(store: &Arc<dyn ObjectStore>, task_id: &str) {
    let Ok(prefix) = super::task_prefix(task_id) else {
        return;
    };
    let paths: Vec<Path> = store
        .list(Some(&prefix))
        .filter_map(|m| async move { m.ok().map(|m| m.location) })
        .collect()
        .await;
    for p in paths {
        if let Err(e) = store.delete(&p).await {
            if !matches!(e, object_store::Error::NotFound { .. }) {
                tracing::warn!("cannot delete query results {p}: {e}");
            }
        }
    }
}

/// Runs [`sweep`] now and every ten minutes on the current runtime.
pub fn spawn(store: Arc<dyn ObjectStore>, keep: Duration) {
    tokio::spawn(async move {
        loop {
            let n = sweep(&store, keep).await;
            if n > 0 {
                tracing::info!("deleted {n} expired query result pages");
            }
            tokio::time::sleep(SWEEP_EVERY).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;
    use object_store::PutPayload;

    #[test]
    fn expiry() {
        let keep = Duration::from_secs(10);
        assert!(!expired(0, 10_000, keep));
        assert!(expired(0, 10_001, keep));
        assert!(!expired(5_000, 0, keep));
    }

    #[tokio::test]
    async fn sweep_keeps_fresh_pages_and_deletion_stays_in_the_task() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        for p in [
            "query-results/query-a/page-000000.arrow",
            "query-results/query-ab/page-000000.arrow",
            "segments/x",
        ] {
            store.put(&Path::from(p), PutPayload::from_static(b"x")).await.unwrap();
        }
        assert_eq!(sweep(&store, Duration::from_secs(3600)).await, 0);
        delete_task_results(&store, "query-a").await;
        let left: Vec<String> = store
            .list(None)
            .map(|m| m.unwrap().location.to_string())
            .collect()
            .await;
        assert_eq!(
            left,
            vec![
                "query-results/query-ab/page-000000.arrow".to_string(),
                "segments/x".to_string()
            ]
        );
    }
}
