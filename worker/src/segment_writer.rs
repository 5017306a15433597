//! Segment generation: turns each input partition (rows sorted in segment order) into one
//! Parquet segment file in deep storage.

use arrow::array::{Array, AsArray, TimestampMillisecondArray};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use futures::StreamExt;
use msq_engine::counters::{update, SegmentGenerationProgress};
use msq_engine::granularity::format_millis;
use msq_engine::metadata::SegmentRecord;
use msq_engine::protocol::WorkOrder;
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

/// Writes every partition assigned in `order` as a segment; returns the segment records.
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
    for (partition, id) in &order.segments {
        // The datasource names a deep-storage directory: never write under an invalid one.
        msq_engine::ids::validate_id("dataSource", &id.data_source)?;
        exec.check_cancelled()?;
        let mut stream = exec.fetcher.read_partition(input_stage, *partition, exec.batch_size)?;
        let path = id.path(&order.query_id);
        let object_path = ObjectPath::from(path.as_str());
        let mut writer: Option<AsyncArrowWriter<BufWriter>> = None;
        let mut rows = 0u64;
        let mut min_t = i64::MAX;
        let mut max_t = i64::MIN;
        let mut signature = Signature::default();
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
                    *partition,
                    batch.num_rows() as u64,
                    msq_engine::counters::frame_bytes(&batch),
                );
                if let Some(g) = c.segment_generation.as_mut() {
                    g.rows_processed += batch.num_rows() as u64;
                }
            });
            check_null_bytes(&batch, rows)?;
            if let Ok(ti) = batch.schema().index_of(TIME_COLUMN) {
                if let Some(t) = batch.column(ti).as_any().downcast_ref::<TimestampMillisecondArray>() {
                    for i in 0..t.len() {
                        if t.is_valid(i) {
                            min_t = min_t.min(t.value(i));
                            max_t = max_t.max(t.value(i));
                        }
                    }
                }
            }
            if writer.is_none() {
                signature = Signature::from_schema(&batch.schema());
                let props = writer_properties(&batch, spec);
                let sink = BufWriter::new(exec.deep_storage.clone(), object_path.clone());
                writer = Some(AsyncArrowWriter::try_new(sink, batch.schema(), Some(props))?);
            }
            rows += batch.num_rows() as u64;
            writer.as_mut().expect("writer").write(&batch).await?;
            update(&exec.counters, |c| {
                if let Some(g) = c.segment_generation.as_mut() {
                    g.rows_persisted += batch.num_rows() as u64;
                }
            });
        }
        let Some(w) = writer else {
            continue; // an empty partition makes no segment
        };
        w.close().await?;
        let size = exec.deep_storage.head(&object_path).await?.size;
        update(&exec.counters, |c| {
            if let Some(g) = c.segment_generation.as_mut() {
                g.rows_merged += rows;
                g.rows_pushed += rows;
            }
        });
        let now = format_millis(chrono::Utc::now().timestamp_millis());
        out.push(SegmentRecord {
            id: id.clone(),
            used: false,
            is_tombstone: false,
            num_rows: rows,
            size_bytes: size,
            path,
            signature,
            min_time: (rows > 0).then_some(min_t),
            max_time: (rows > 0).then_some(max_t),
            created_date: now.clone(),
            used_status_last_updated: now,
            shard_spec: shard_spec(spec, id.partition_num),
        });
    }
    Ok(out)
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

/// The shard spec recorded with a segment (partition counts are filled in at publish time).
fn shard_spec(spec: &SegmentGeneratorSpec, partition_num: u32) -> serde_json::Value {
    if spec.cluster_by.is_empty() {
        json!({"type": "numbered", "partitionNum": partition_num, "partitions": 0})
    } else {
        json!({"type": "range", "dimensions": spec.cluster_by, "partitionNum": partition_num})
    }
}
