//! Segment generation: turns each input partition (rows sorted in segment order) into one
//! Parquet segment file in deep storage, or several when it holds more than
//! `rowsPerSegment` rows.

use arrow::array::{Array, AsArray, TimestampMillisecondArray};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use futures::StreamExt;
use msq_engine::counters::{update, SegmentGenerationProgress};
use msq_engine::granularity::format_millis;
use msq_engine::metadata::{SegmentId, SegmentRecord};
use msq_engine::protocol::{SegmentSlot, WorkOrder};
use msq_engine::signature::{Signature, TIME_COLUMN};
use msq_engine::stage::SegmentGeneratorSpec;
use msq_engine::{MsqError, Result};
use msq_rows::exec::ExecContext;
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStoreExt;
use parquet::arrow::AsyncArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use serde_json::json;
use std::sync::Arc;

/// Writes every segment assigned in `order` (each input partition, read once, becomes its
/// slots' segments in turn); returns the segment records.
pub async fn generate_segments(
    order: &WorkOrder,
    spec: &SegmentGeneratorSpec,
    input_stage: usize,
    exec: Arc<ExecContext>,
) -> Result<Vec<SegmentRecord>> {
    let mut out = Vec::new();
    update(&exec.counters, |c| {
        c.segment_generation = Some(SegmentGenerationProgress::default())
    });
    for slots in order.segments.chunk_by(|a, b| a.partition == b.partition) {
        for slot in slots {
            // The datasource names a deep-storage directory: never write under an invalid one.
            msq_engine::ids::validate_id("dataSource", &slot.id.data_source)?;
        }
        out.extend(write_partition(order, spec, input_stage, &exec, slots).await?);
    }
    Ok(out)
}

/// Reads input partition `slots[0].partition` once and writes its rows into the slots'
/// segments in order, each taking its `rows` (the last one the rest).
async fn write_partition(
    order: &WorkOrder,
    spec: &SegmentGeneratorSpec,
    input_stage: usize,
    exec: &Arc<ExecContext>,
    slots: &[SegmentSlot],
) -> Result<Vec<SegmentRecord>> {
    let partition = slots[0].partition;
    exec.check_cancelled()?;
    let mut stream = exec.fetcher.read_partition(input_stage, partition, exec.batch_size)?;
    let mut out = Vec::new();
    let mut slot = 0;
    let mut current = OpenSegment::new(&slots[0], &order.query_id);
    let mut rows_before = 0u64;
    while let Some(batch) = stream.next().await {
        exec.check_cancelled()?;
        let batch = batch.map_err(MsqError::from)?;
        if batch.num_rows() == 0 {
            continue;
        }
        update(&exec.counters, |c| {
            if c.inputs.is_empty() {
                c.inputs.resize(1, Default::default());
            }
            c.inputs[0].add_frame(
                partition,
                batch.num_rows() as u64,
                msq_engine::counters::frame_bytes(&batch),
            );
            if let Some(g) = c.segment_generation.as_mut() {
                g.rows_processed += batch.num_rows() as u64;
            }
        });
        check_null_bytes(&batch, rows_before)?;
        rows_before += batch.num_rows() as u64;
        let mut offset = 0;
        while offset < batch.num_rows() {
            let left = batch.num_rows() - offset;
            let room = slots[slot].rows.map_or(left as u64, |r| r.saturating_sub(current.rows));
            if room == 0 && slot + 1 < slots.len() {
                out.extend(current.finish(spec, exec).await?);
                slot += 1;
                current = OpenSegment::new(&slots[slot], &order.query_id);
                continue;
            }
            let take = if room == 0 { left } else { left.min(room as usize) };
            current.write(&batch.slice(offset, take), spec, exec).await?;
            offset += take;
        }
    }
    out.extend(current.finish(spec, exec).await?);
    Ok(out)
}

/// A segment being written: its Parquet writer (opened with the first rows), rows and time
/// range so far.
struct OpenSegment {
    id: SegmentId,
    path: String,
    writer: Option<AsyncArrowWriter<BufWriter>>,
    rows: u64,
    min_t: i64,
    max_t: i64,
    signature: Signature,
    /// The input partition it holds rows of.
    partition: usize,
    /// The smallest CLUSTERED BY tuple of its rows (range shard specs are bounded by them).
    min_key: Option<Vec<Option<String>>>,
}

impl OpenSegment {
    fn new(slot: &SegmentSlot, query_id: &str) -> Self {
        OpenSegment {
            path: slot.id.path(query_id),
            id: slot.id.clone(),
            writer: None,
            rows: 0,
            min_t: i64::MAX,
            max_t: i64::MIN,
            signature: Signature::default(),
            partition: slot.partition,
            min_key: None,
        }
    }

    async fn write(&mut self, batch: &RecordBatch, spec: &SegmentGeneratorSpec, exec: &ExecContext) -> Result<()> {
        if let Ok(ti) = batch.schema().index_of(TIME_COLUMN) {
            if let Some(t) = batch.column(ti).as_any().downcast_ref::<TimestampMillisecondArray>() {
                for v in t.iter().flatten() {
                    self.min_t = self.min_t.min(v);
                    self.max_t = self.max_t.max(v);
                }
            }
        }
        if self.writer.is_none() {
            self.signature = Signature::for_storage(&batch.schema());
            let props = writer_properties(batch, spec);
            let sink = BufWriter::new(exec.deep_storage.clone(), ObjectPath::from(self.path.as_str()));
            self.writer = Some(crate::json_parquet::json_aware_writer(sink, batch.schema(), props)?);
        }
        if !spec.cluster_by.is_empty() {
            min_key(batch, &spec.cluster_by, &mut self.min_key)?;
        }
        self.rows += batch.num_rows() as u64;
        self.writer.as_mut().expect("writer").write(batch).await?;
        update(&exec.counters, |c| {
            if let Some(g) = c.segment_generation.as_mut() {
                g.rows_persisted += batch.num_rows() as u64;
            }
        });
        Ok(())
    }

    /// Closes the file and gives its record; an empty segment writes no file and no record.
    async fn finish(self, spec: &SegmentGeneratorSpec, exec: &ExecContext) -> Result<Option<SegmentRecord>> {
        let Some(w) = self.writer else {
            return Ok(None);
        };
        w.close().await?;
        let size = exec
            .deep_storage
            .head(&ObjectPath::from(self.path.as_str()))
            .await?
            .size;
        let rows = self.rows;
        update(&exec.counters, |c| {
            if let Some(g) = c.segment_generation.as_mut() {
                g.rows_merged += rows;
                g.rows_pushed += rows;
            }
        });
        let now = format_millis(chrono::Utc::now().timestamp_millis());
        Ok(Some(SegmentRecord {
            shard_spec: shard_spec(spec, self.id.partition_num, self.partition, self.min_key),
            id: self.id,
            used: false,
            is_tombstone: false,
            num_rows: rows,
            size_bytes: size,
            path: self.path,
            signature: self.signature,
            min_time: (rows > 0).then_some(self.min_t),
            max_time: (rows > 0).then_some(self.max_t),
            created_date: now.clone(),
            used_status_last_updated: now,
        }))
    }
}

/// Values of a string column sampled to decide on dictionary encoding.
const DICTIONARY_SAMPLE: usize = 4096;

/// Parquet settings of a segment, from its first batch: LZ4 (raw) pages, as Druid compresses
/// columns with LZ4 (as small as Snappy here, and faster); one row group per 1 Mi rows;
/// dictionary encoding only for string columns whose values repeat a lot (in a sample of the
/// first batch; hashing every value of a mostly-distinct column into a dictionary costs more
/// than it saves, and LZ4 already shrinks repeated text); chunk statistics for `__time` and
/// the CLUSTERED BY columns only (what pruning could use; page statistics and min/max of free
/// text cost time on every value).
fn writer_properties(first: &RecordBatch, spec: &SegmentGeneratorSpec) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::LZ4_RAW)
        .set_max_row_group_row_count(Some(1 << 20))
        .set_statistics_enabled(EnabledStatistics::None);
    let schema = first.schema();
    for (i, f) in schema.fields().iter().enumerate() {
        let path = ColumnPath::from(f.name().as_str());
        if f.name() == TIME_COLUMN || spec.cluster_by.iter().any(|c| c == f.name()) {
            b = b.set_column_statistics_enabled(path.clone(), EnabledStatistics::Chunk);
        }
        if f.data_type() == &DataType::Utf8 && !repetitive(first.column(i).as_string::<i32>()) {
            b = b.set_column_dictionary_enabled(path, false);
        }
    }
    b.build()
}

/// Whether the sampled non-null values of `strings` repeat a lot: fewer distinct values than
/// a tenth of the values (or too few values to tell).
fn repetitive(strings: &arrow::array::StringArray) -> bool {
    let mut seen = std::collections::HashSet::with_capacity(DICTIONARY_SAMPLE);
    let mut sampled = 0usize;
    for v in strings.iter().flatten().take(DICTIONARY_SAMPLE) {
        sampled += 1;
        seen.insert(v);
    }
    sampled < 64 || seen.len() * 10 < sampled
}

/// Druid rejects strings holding a null byte (`InvalidNullByte`); `rows_before` numbers rows.
fn check_null_bytes(batch: &arrow::record_batch::RecordBatch, rows_before: u64) -> Result<()> {
    for (c, field) in batch.schema().fields().iter().enumerate() {
        let Some(strings) = batch.column(c).as_any().downcast_ref::<arrow::array::StringArray>() else {
            continue;
        };
        if !strings.value_data().contains(&0) {
            continue;
        }
        for i in 0..strings.len() {
            if strings.is_valid(i) {
                if let Some(pos) = strings.value(i).bytes().position(|b| b == 0) {
                    return Err(MsqError::InvalidNullByte {
                        source_name: "query output".into(),
                        row_number: rows_before + i as u64 + 1,
                        column: field.name().clone(),
                        value: strings.value(i).replace('\0', "\\0"),
                        position: pos + 1,
                    });
                }
            }
        }
    }
    Ok(())
}

/// The shard spec recorded with a segment. Partition counts and range bounds are filled in
/// at publish time (`finalize_shard_specs`), from the input partition and smallest
/// CLUSTERED BY tuple recorded here.
fn shard_spec(
    spec: &SegmentGeneratorSpec,
    partition_num: u32,
    input_partition: usize,
    min_key: Option<Vec<Option<String>>>,
) -> serde_json::Value {
    if spec.cluster_by.is_empty() {
        json!({"type": "numbered", "partitionNum": partition_num, "partitions": 0})
    } else {
        json!({"type": "range", "dimensions": spec.cluster_by, "partitionNum": partition_num,
               "inputPartition": input_partition, "minKey": min_key})
    }
}

/// Lowers `min` to the smallest tuple of `columns` in `batch` (as strings, Druid's
/// `StringTuple` order: nulls first, then by value; a missing column reads as null).
fn min_key(batch: &RecordBatch, columns: &[String], min: &mut Option<Vec<Option<String>>>) -> Result<()> {
    let mut cols = Vec::with_capacity(columns.len());
    for name in columns {
        cols.push(match batch.schema().index_of(name) {
            Ok(i) => Some(arrow::compute::cast(batch.column(i), &DataType::Utf8)?),
            Err(_) => None,
        });
    }
    let strings: Vec<Option<&arrow::array::StringArray>> =
        cols.iter().map(|c| c.as_ref().map(|a| a.as_string::<i32>())).collect();
    let value =
        |c: usize, row: usize| -> Option<&str> { strings[c].and_then(|a| a.is_valid(row).then(|| a.value(row))) };
    for row in 0..batch.num_rows() {
        let smaller = match min.as_ref() {
            None => true,
            Some(m) => {
                let mut ord = std::cmp::Ordering::Equal;
                for (c, current) in m.iter().enumerate() {
                    ord = value(c, row).cmp(&current.as_deref());
                    if ord != std::cmp::Ordering::Equal {
                        break;
                    }
                }
                ord == std::cmp::Ordering::Less
            }
        };
        if smaller {
            *min = Some((0..columns.len()).map(|c| value(c, row).map(str::to_string)).collect());
        }
    }
    Ok(())
}
