//! `druid_segments`: queries, inserts and marking segments used or unused.

use super::{message, to_i64, Arg, SqlRow, SqlTx};
use msq_engine::error::{MsqError, Result};
use msq_engine::granularity::Interval;
use msq_engine::metadata::segment::{SegmentId, SegmentRecord};
use msq_engine::metadata::store::now_iso;
use std::collections::HashMap;
use std::sync::Mutex;

/// Columns read into a `SegmentRecord`, in order.
const SEGMENT_COLUMNS: &str = r#"id, dataSource, "start", "end", version, partition_num, used, is_tombstone, num_rows,
    size_bytes, path, signature, min_time, max_time, shard_spec, created_date, used_status_last_updated"#;

/// A row of [`SEGMENT_COLUMNS`].
fn segment_from_row(row: &SqlRow) -> Result<SegmentRecord> {
    Ok(SegmentRecord {
        id: SegmentId {
            data_source: row.text(1)?,
            interval: Interval::new(row.int(2)?, row.int(3)?),
            version: row.text(4)?,
            partition_num: row.u32(5)?,
        },
        used: row.bool(6)?,
        is_tombstone: row.bool(7)?,
        num_rows: row.u64(8)?,
        size_bytes: row.u64(9)?,
        path: row.text(10)?,
        signature: row.json(11)?,
        min_time: row.opt_int(12)?,
        max_time: row.opt_int(13)?,
        shard_spec: row.json(14)?,
        created_date: row.text(15)?,
        used_status_last_updated: row.text(16)?,
    })
}

/// Segments of `data_source` overlapping `interval` (all time when `None`), only used ones
/// when `used_only`, in time and version order.
pub fn query(
    tx: &mut dyn SqlTx,
    data_source: &str,
    interval: Option<Interval>,
    used_only: bool,
) -> Result<Vec<SegmentRecord>> {
    select(tx, SEGMENT_COLUMNS, data_source, interval, used_only, segment_from_row)
}

/// `columns` of the segments of `data_source` overlapping `interval` (all time when `None`),
/// only used ones when `used_only`, in time and version order, each row read by `read`.
fn select<T>(
    tx: &mut dyn SqlTx,
    columns: &str,
    data_source: &str,
    interval: Option<Interval>,
    used_only: bool,
    read: impl Fn(&SqlRow) -> Result<T>,
) -> Result<Vec<T>> {
    let iv = interval.unwrap_or_else(Interval::eternity);
    let used_clause = if used_only { "AND used = TRUE" } else { "" };
    let sql = format!(
        r#"SELECT {columns} FROM druid_segments
           WHERE dataSource = ?1 {used_clause} AND "start" < ?2 AND "end" > ?3
           ORDER BY "start", "end", version, partition_num"#
    );
    tx.query_as(&sql, &[data_source.into(), iv.end.into(), iv.start.into()], read)
}

/// The used segments of each dataSource as last read whole, decoded. A published segment's
/// row never changes but for its used flag and `used_status_last_updated`, so a row whose
/// id, path and creation time match an entry here is that entry: [`used`] then reads only
/// those columns instead of decoding every segment's signature and shard spec again (most
/// of a small query's planning over hundreds of segments).
#[derive(Debug, Default)]
pub struct DecodedSegments(Mutex<HashMap<String, HashMap<String, SegmentRecord>>>);

/// Of a used segment's row: id, path and created_date (which match it to a decoded entry),
/// and used_status_last_updated (which may have changed since).
type RowKey = (String, String, String, String);

/// [`query`] of the used segments of `data_source` (overlapping `interval`; all time when
/// `None`), through `cache` for the whole-time question the planner asks. The set of used
/// segments is read fresh every time: only the decoding is reused.
pub fn used(
    tx: &mut dyn SqlTx,
    cache: &DecodedSegments,
    data_source: &str,
    interval: Option<Interval>,
) -> Result<Vec<SegmentRecord>> {
    if interval.is_some() {
        return query(tx, data_source, interval, true);
    }
    let keys: Vec<RowKey> = select(
        tx,
        "id, path, created_date, used_status_last_updated",
        data_source,
        None,
        true,
        |row| Ok((row.text(0)?, row.text(1)?, row.text(2)?, row.text(3)?)),
    )?;
    let mut map = cache.0.lock().unwrap_or_else(|e| e.into_inner());
    if keys.is_empty() {
        map.remove(data_source);
        return Ok(Vec::new());
    }
    if let Some(known) = map.get(data_source) {
        let hits: Option<Vec<SegmentRecord>> = keys
            .iter()
            .map(|(id, path, created, updated)| {
                let s = known
                    .get(id)
                    .filter(|s| &s.path == path && &s.created_date == created)?;
                let mut s = s.clone();
                s.used_status_last_updated.clone_from(updated);
                Some(s)
            })
            .collect();
        if let Some(hits) = hits {
            return Ok(hits);
        }
    }
    drop(map);
    let fresh = query(tx, data_source, None, true)?;
    let decoded = fresh.iter().map(|s| (s.id.to_string(), s.clone())).collect();
    let mut map = cache.0.lock().unwrap_or_else(|e| e.into_inner());
    match fresh.is_empty() {
        true => map.remove(data_source),
        false => map.insert(data_source.to_string(), decoded),
    };
    Ok(fresh)
}

/// The dataSources having used segments, sorted.
pub fn data_sources(tx: &mut dyn SqlTx) -> Result<Vec<String>> {
    tx.query_as(
        "SELECT DISTINCT dataSource FROM druid_segments WHERE used = TRUE ORDER BY dataSource",
        &[],
        |r| r.text(0),
    )
}

/// Every dataSource with segments, used or unused, sorted.
pub fn all_data_sources(tx: &mut dyn SqlTx) -> Result<Vec<String>> {
    tx.query_as(
        "SELECT DISTINCT dataSource FROM druid_segments ORDER BY dataSource",
        &[],
        |r| r.text(0),
    )
}

/// One segment (used or not) by id.
pub fn by_id(tx: &mut dyn SqlTx, id: &str) -> Result<Option<SegmentRecord>> {
    let sql = format!("SELECT {SEGMENT_COLUMNS} FROM druid_segments WHERE id = ?1");
    tx.query_opt(&sql, &[id.into()], segment_from_row)
}

/// Inserts one used segment; an empty creation or status date becomes `now`.
pub(super) fn insert(tx: &mut dyn SqlTx, s: &SegmentRecord, now: &str) -> Result<()> {
    let iso = s.id.interval.to_iso();
    let (start_iso, end_iso) = iso.split_once('/').unwrap_or((iso.as_str(), iso.as_str()));
    let or_now = |v: &str| if v.is_empty() { now.to_string() } else { v.to_string() };
    let args: Vec<Arg> = vec![
        s.id.to_string().into(),
        s.id.data_source.as_str().into(),
        s.id.interval.start.into(),
        s.id.interval.end.into(),
        s.id.version.as_str().into(),
        i64::from(s.id.partition_num).into(),
        true.into(),
        s.is_tombstone.into(),
        to_i64(s.num_rows, "num_rows")?.into(),
        to_i64(s.size_bytes, "size_bytes")?.into(),
        s.path.as_str().into(),
        serde_json::to_string(&s.signature)?.into(),
        s.min_time.into(),
        s.max_time.into(),
        serde_json::to_string(&s.shard_spec)?.into(),
        or_now(&s.created_date).into(),
        or_now(&s.used_status_last_updated).into(),
        start_iso.into(),
        end_iso.into(),
    ];
    tx.exec(
        &format!(
            "INSERT INTO druid_segments ({SEGMENT_COLUMNS}, start_iso, end_iso)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
        ),
        &args,
    )
    .map_err(|e| MsqError::Metadata(format!("cannot publish segment [{}]: {}", s.id, message(e))))?;
    Ok(())
}

/// Marks the used ones among `ids` unused.
pub(super) fn mark_ids_unused(tx: &mut dyn SqlTx, ids: &[SegmentId], now: &str) -> Result<()> {
    for id in ids {
        tx.exec(
            "UPDATE druid_segments SET used = FALSE, used_status_last_updated = ?1 WHERE id = ?2 AND used = TRUE",
            &[now.into(), id.to_string().into()],
        )?;
    }
    Ok(())
}

/// [`msq_engine::metadata::MetadataStore::mark_unused`] inside a transaction serialized with
/// [`super::Guard::Segments`]: the used segments of `data_source` within `interval`.
pub fn mark_unused(tx: &mut dyn SqlTx, data_source: &str, interval: Option<Interval>) -> Result<Vec<SegmentId>> {
    let ids: Vec<SegmentId> = query(tx, data_source, interval, true)?
        .into_iter()
        .filter(|s| interval.is_none_or(|iv| iv.encloses(&s.id.interval)))
        .map(|s| s.id)
        .collect();
    mark_ids_unused(tx, &ids, &now_iso())?;
    Ok(ids)
}

/// [`msq_engine::metadata::MetadataStore::set_segments_used`] inside a transaction
/// serialized with [`super::Guard::Segments`]: how many segments changed.
pub fn set_used(tx: &mut dyn SqlTx, ids: &[String], used: bool) -> Result<usize> {
    let now = now_iso();
    let mut n = 0;
    for id in ids {
        n += tx.exec(
            "UPDATE druid_segments SET used = ?1, used_status_last_updated = ?2 WHERE id = ?3 AND used <> ?1",
            &[used.into(), now.as_str().into(), id.into()],
        )?;
    }
    Ok(n)
}
