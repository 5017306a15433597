//! Publishing segments in one transaction: Druid's checks, the task's locks, marking the
//! segments the new ones overshadow unused, inserting them and dropping the task's pending ids.

use super::{locks, pending, segments, SqlTx};
use msq_engine::error::Result;
use msq_engine::metadata::store::{check_publish, now_iso, segments_to_mark_unused, PublishResult, SegmentPublish};

/// [`msq_engine::metadata::MetadataStore::publish`] inside a transaction serialized with
/// [`super::Guard::Publish`].
pub fn publish(tx: &mut dyn SqlTx, p: &SegmentPublish) -> Result<PublishResult> {
    check_publish(p)?;
    locks::check_publish_locks(tx, p)?;
    let now = now_iso();
    let used = segments::query(tx, &p.data_source, None, true)?;
    let marked = segments_to_mark_unused(&used, p);
    segments::mark_ids_unused(tx, &marked, &now)?;
    let mut published = Vec::with_capacity(p.segments.len());
    for s in &p.segments {
        segments::insert(tx, s, &now)?;
        published.push(s.id.clone());
    }
    pending::delete_of_task(tx, &p.task_id)?;
    Ok(PublishResult {
        published,
        marked_unused: marked,
    })
}
