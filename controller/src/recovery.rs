//! After a server process stopped mid-task: tasks it left RUNNING are failed, their pending
//! segments and time-chunk locks are dropped, and the segment files they wrote but never
//! published are deleted from deep storage. Paths name the writing query, so nothing of
//! another task is touched.

use msq_engine::metadata::{MetadataStore, TaskRecord};
use msq_engine::Result;
use object_store::{ObjectStore, ObjectStoreExt};
use std::sync::Arc;

/// The query id a controller task's segment paths carry (`query-<queryId>`).
pub fn query_id_of_task(task_id: &str) -> &str {
    task_id.strip_prefix("query-").unwrap_or(task_id)
}

/// Deep-storage files of the task's pending segments that no published segment points at.
pub fn unpublished_files(md: &dyn MetadataStore, task_id: &str) -> Result<Vec<String>> {
    let query_id = query_id_of_task(task_id);
    let mut out = Vec::new();
    for id in md.pending_segments_for_task(task_id)? {
        let path = id.path(query_id);
        let published = md.segment(&id.to_string())?.is_some_and(|s| s.path == path);
        if !published {
            out.push(path);
        }
    }
    Ok(out)
}

/// For a task that will never publish (failed, cancelled, abandoned): drops its pending
/// segments and locks, and returns the files it wrote and never published, to delete with
/// [`delete_files`]. Pending segments and locks go even when the files cannot be listed.
pub fn forget_unpublished(md: &dyn MetadataStore, task_id: &str) -> Result<Vec<String>> {
    let files = unpublished_files(md, task_id);
    let pending = md.delete_pending_segments_for_task(task_id);
    let locks = md.release_locks(task_id);
    pending?;
    locks?;
    files
}

/// Marks a task a stopped process left RUNNING as FAILED, releases its locks and pending
/// segments, and returns the files it wrote that must be deleted.
pub fn fail_abandoned_task(md: &dyn MetadataStore, mut t: TaskRecord) -> Result<Vec<String>> {
    let files = forget_unpublished(md, &t.id)?;
    t.status = "FAILED".into();
    t.runner_status = "NONE".into();
    t.error_msg = Some("Task was still running when the server stopped; nothing it wrote was published".into());
    md.update_task(&t)?;
    let _ = md.append_task_log(&t.id, "Task failed: server stopped while it ran");
    Ok(files)
}

/// Deletes `paths` from deep storage (a file already gone is fine); returns how many went.
pub async fn delete_files(store: Arc<dyn ObjectStore>, paths: Vec<String>) -> usize {
    let mut n = 0;
    for p in paths {
        match store.delete(&object_store::path::Path::from(p.as_str())).await {
            Ok(()) => n += 1,
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => tracing::warn!("cannot delete unpublished segment file {p}: {e}"),
        }
    }
    n
}
