//! Killing unused segments in one transaction: the kill task's lock, the rows the kill rules
//! pick (still unused at that moment), their deletion, and which of their files other rows
//! still name.

use super::{locks, segments, SqlTx};
use msq_engine::error::{MsqError, Result};
use msq_engine::metadata::allocation::{locks_cover, LockType};
use msq_engine::metadata::store::{segments_to_kill, KillRequest, KillResult};

/// [`msq_engine::metadata::MetadataStore::kill_unused_segments`] inside a transaction
/// serialized with [`super::Guard::Publish`] (so no publish or lock change interleaves).
pub fn kill_unused(tx: &mut dyn SqlTx, req: &KillRequest) -> Result<KillResult> {
    if let Some(task_id) = &req.task_id {
        let held = locks::of_task(tx, task_id)?;
        if !locks_cover(&held, task_id, &[req.interval], LockType::Exclusive) {
            return Err(MsqError::InsertLockPreempted);
        }
    }
    let candidates = segments::query(tx, &req.data_source, Some(req.interval), false)?;
    let mut killed = Vec::new();
    for s in segments_to_kill(&candidates, req) {
        // `used = FALSE` again here: a used row is never deleted, whatever was read.
        let n = tx.exec(
            "DELETE FROM druid_segments WHERE id = ?1 AND dataSource = ?2 AND used = FALSE",
            &[s.id.to_string().into(), req.data_source.as_str().into()],
        )?;
        if n == 1 {
            killed.push(s);
        }
    }
    let still_referenced = if killed.iter().any(|s| !s.path.is_empty()) {
        let remaining = tx.query_as(
            "SELECT DISTINCT path FROM druid_segments WHERE dataSource = ?1",
            &[req.data_source.as_str().into()],
            |r| r.text(0),
        )?;
        remaining
            .into_iter()
            .filter(|p| killed.iter().any(|s| &s.path == p))
            .collect()
    } else {
        Vec::new()
    };
    Ok(KillResult {
        killed,
        still_referenced,
    })
}
