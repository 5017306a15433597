//! `druid_pendingSegments`: segment ids allocated to a task and not yet published.

use super::{Arg, SqlRow, SqlTx};
use msq_engine::error::Result;
use msq_engine::granularity::Interval;
use msq_engine::metadata::segment::SegmentId;
use msq_engine::metadata::store::now_iso;

/// Columns read into a `SegmentId`, in order.
const PENDING_COLUMNS: &str = r#"dataSource, "start", "end", version, partition_num"#;

/// Records one allocated id (fails on an id any task already has). `?1` id, `?2`
/// dataSource, `?3` interval text, `?4` start, `?5` end, `?6` version, `?7` partition,
/// `?8` task id, `?9` created.
pub const INSERT_PENDING: &str = r#"INSERT INTO "druid_pendingSegments"
    (id, dataSource, "interval", "start", "end", version, partition_num, task_id, created_date)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"#;

/// Deletes a dataSource's pending ids that no running task owns (Druid's
/// `DELETE /pendingSegments/{ds}` must not pull ids from under a running ingestion).
/// `?1` dataSource.
const DELETE_ORPHAN_PENDING: &str = r#"DELETE FROM "druid_pendingSegments" WHERE dataSource = ?1
    AND task_id NOT IN (SELECT id FROM druid_tasks WHERE status = 'RUNNING')"#;

/// A row of [`PENDING_COLUMNS`].
fn id_from_row(r: &SqlRow) -> Result<SegmentId> {
    Ok(SegmentId {
        data_source: r.text(0)?,
        interval: Interval::new(r.int(1)?, r.int(2)?),
        version: r.text(3)?,
        partition_num: r.u32(4)?,
    })
}

/// The arguments of [`INSERT_PENDING`] for `id` held by `task_id`.
pub fn insert_args(id: &SegmentId, task_id: &str, now: &str) -> Vec<Arg> {
    vec![
        id.to_string().into(),
        id.data_source.as_str().into(),
        id.interval.to_iso().into(),
        id.interval.start.into(),
        id.interval.end.into(),
        id.version.as_str().into(),
        i64::from(id.partition_num).into(),
        task_id.into(),
        now.into(),
    ]
}

/// Ids other tasks than `task_id` have pending in `data_source` overlapping `span`.
pub fn of_others(tx: &mut dyn SqlTx, data_source: &str, task_id: &str, span: Interval) -> Result<Vec<SegmentId>> {
    let sql = format!(
        r#"SELECT {PENDING_COLUMNS} FROM "druid_pendingSegments"
           WHERE dataSource = ?1 AND task_id <> ?2 AND "start" < ?3 AND "end" > ?4"#
    );
    tx.query_as(
        &sql,
        &[data_source.into(), task_id.into(), span.end.into(), span.start.into()],
        id_from_row,
    )
}

/// Ids a task has pending, in time and version order.
pub fn of_task(tx: &mut dyn SqlTx, task_id: &str) -> Result<Vec<SegmentId>> {
    let sql = format!(
        r#"SELECT {PENDING_COLUMNS} FROM "druid_pendingSegments" WHERE task_id = ?1
           ORDER BY "start", "end", version, partition_num"#
    );
    tx.query_as(&sql, &[task_id.into()], id_from_row)
}

/// Distinct ids any task has pending in a dataSource, in time and version order.
pub fn of_data_source(tx: &mut dyn SqlTx, data_source: &str) -> Result<Vec<SegmentId>> {
    let sql = format!(
        r#"SELECT DISTINCT {PENDING_COLUMNS} FROM "druid_pendingSegments"
           WHERE dataSource = ?1 ORDER BY "start", "end", version, partition_num"#
    );
    tx.query_as(&sql, &[data_source.into()], id_from_row)
}

/// [`msq_engine::metadata::MetadataStore::insert_pending_segments`] inside a transaction:
/// ids the task already holds are kept.
pub fn insert(tx: &mut dyn SqlTx, task_id: &str, ids: &[SegmentId]) -> Result<()> {
    let sql = format!("{INSERT_PENDING}\n    ON CONFLICT (id, task_id) DO NOTHING");
    let now = now_iso();
    for id in ids {
        tx.exec(&sql, &insert_args(id, task_id, &now))?;
    }
    Ok(())
}

/// Deletes the pending ids of a dataSource that no running task owns.
pub fn delete_orphans(tx: &mut dyn SqlTx, data_source: &str) -> Result<usize> {
    tx.exec(DELETE_ORPHAN_PENDING, &[data_source.into()])
}

/// Deletes a task's pending ids.
pub fn delete_of_task(tx: &mut dyn SqlTx, task_id: &str) -> Result<usize> {
    tx.exec(
        r#"DELETE FROM "druid_pendingSegments" WHERE task_id = ?1"#,
        &[task_id.into()],
    )
}
