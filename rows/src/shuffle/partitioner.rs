//! Row → partition routing: hash keys, range keys and time buckets.

use arrow::array::{Array, ArrayRef, AsArray, TimestampMillisecondArray, UInt32Array};
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, Rows, SortField};
use arrow_schema::SortOptions;
use datafusion::common::hash_utils::create_hashes;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::repartition::REPARTITION_RANDOM_STATE;
use msq_engine::granularity::Granularity;
use msq_engine::sort::SortColumn;
use msq_engine::{MsqError, Result};
use std::sync::Arc;

/// Partition of each row by hashing `keys`, consistent across workers.
pub fn hash_partitions(batch: &RecordBatch, keys: &[Arc<dyn PhysicalExpr>], n: usize) -> Result<Vec<u32>> {
    if n <= 1 {
        return Ok(vec![0; batch.num_rows()]);
    }
    let arrays: Vec<ArrayRef> = keys
        .iter()
        .map(|k| k.evaluate(batch).and_then(|v| v.into_array(batch.num_rows())))
        .collect::<datafusion::error::Result<_>>()?;
    let mut hashes = vec![0u64; batch.num_rows()];
    create_hashes(&arrays, REPARTITION_RANDOM_STATE.random_state(), &mut hashes)?;
    Ok(hashes.iter().map(|h| (h % n as u64) as u32).collect())
}

/// Encodes key columns of batches into comparable byte rows (same bytes on every worker).
pub struct KeyEncoder {
    converter: RowConverter,
    columns: Vec<usize>,
}

impl KeyEncoder {
    /// An encoder for `key` columns of `schema`.
    pub fn new(schema: &SchemaRef, key: &[SortColumn]) -> Result<Self> {
        let fields = key
            .iter()
            .map(|k| {
                SortField::new_with_options(
                    schema.field(k.index).data_type().clone(),
                    SortOptions {
                        descending: k.descending,
                        nulls_first: k.nulls_first,
                    },
                )
            })
            .collect();
        Ok(KeyEncoder {
            converter: RowConverter::new(fields)?,
            columns: key.iter().map(|k| k.index).collect(),
        })
    }

    /// Encodes the key of every row of `batch`.
    pub fn encode(&self, batch: &RecordBatch) -> Result<Rows> {
        let cols: Vec<ArrayRef> = self.columns.iter().map(|i| batch.column(*i).clone()).collect();
        Ok(self.converter.convert_columns(&cols)?)
    }
}

/// The time bucket (chunk start) of every row; null times are `InsertTimeNull`.
pub fn time_buckets(batch: &RecordBatch, column: usize, granularity: Granularity) -> Result<Vec<i64>> {
    let col = batch.column(column);
    let ms: ArrayRef = match col.data_type() {
        DataType::Timestamp(TimeUnit::Millisecond, _) => col.clone(),
        DataType::Int64 => col.clone(),
        _ => cast(col, &DataType::Timestamp(TimeUnit::Millisecond, None))?,
    };
    if ms.null_count() > 0 {
        let row = (0..ms.len()).find(|i| ms.is_null(*i)).unwrap_or(0);
        return Err(MsqError::InsertTimeNull {
            detail: Some(format!("row {row} of a batch of {}", ms.len())),
        });
    }
    let values: Vec<i64> = match ms.data_type() {
        DataType::Int64 => ms.as_primitive::<arrow::datatypes::Int64Type>().values().to_vec(),
        _ => ms
            .as_any()
            .downcast_ref::<TimestampMillisecondArray>()
            .expect("millisecond timestamps")
            .values()
            .to_vec(),
    };
    Ok(values.into_iter().map(|t| granularity.bucket_start(t)).collect())
}

/// Splits `batch` into one batch per partition, keeping row order inside each.
pub fn split_by_partition(batch: &RecordBatch, parts: &[u32], n: usize) -> Result<Vec<Option<RecordBatch>>> {
    if n == 1 {
        return Ok(vec![Some(batch.clone())]);
    }
    if let Some(first) = parts.first() {
        if parts.iter().all(|p| p == first) {
            let mut out = vec![None; n];
            out[*first as usize] = Some(batch.clone());
            return Ok(out);
        }
    }
    let mut idx: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (row, p) in parts.iter().enumerate() {
        idx[*p as usize].push(row as u32);
    }
    idx.into_iter()
        .map(|rows| {
            if rows.is_empty() {
                return Ok(None);
            }
            let indices = UInt32Array::from(rows);
            let cols = batch
                .columns()
                .iter()
                .map(|c| take(c.as_ref(), &indices, None))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Ok(Some(RecordBatch::try_new(batch.schema(), cols)?))
        })
        .collect()
}
