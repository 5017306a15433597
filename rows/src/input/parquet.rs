//! `parquet` reading: local files (or an HTTP body, fetched whole) read with the parquet crate's
//! synchronous Arrow reader, projected and cast to the EXTERN signature by column name.
//!
//! * Only the top-level columns the signature names are decoded; signature columns the file
//!   lacks are null.
//! * Values are cast to the signature's types: timestamps and dates become epoch milliseconds
//!   in LONG columns (and ISO text in STRING columns), booleans become 0/1 in LONG columns,
//!   numbers become text in STRING columns. A value that does not convert is null.
//! * BINARY columns without a UTF-8 annotation: with `binaryAsString` their bytes are read as
//!   UTF-8 text (invalid UTF-8 → null); otherwise a STRING column gets their Base64 text, which
//!   is what Druid's row conversion does with bytes.

use super::split_reader::{ParseWarning, ReadStats, SplitReader};
use arrow::array::{new_null_array, Array, ArrayRef, AsArray, StringBuilder};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use base64::Engine;
use msq_engine::error::{MsqError, Result};
use msq_engine::input::format::ParquetInputFormat;
use msq_engine::input::source::{InputSplit, SplitKind};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use std::io::Read;
use std::sync::Arc;

/// Reads one Parquet split.
pub struct ParquetSplitReader {
    reader: Option<ParquetRecordBatchReader>,
    source: String,
    schema: SchemaRef,
    /// For each schema column, its position in the decoded (projected) batches.
    positions: Vec<Option<usize>>,
    /// For each schema column, whether its file column has Parquet's JSON logical type.
    json_source: Vec<bool>,
    binary_as_string: bool,
    rows: u64,
    bytes: u64,
}

impl ParquetSplitReader {
    pub(crate) fn open(
        split: &InputSplit,
        format: &ParquetInputFormat,
        schema: SchemaRef,
        batch_size: usize,
    ) -> Result<Self> {
        let source = split.describe();
        let read_err = |e: parquet::errors::ParquetError| MsqError::InputSource {
            message: format!("Unable to read Parquet file [{source}]: {e}"),
        };
        let (reader, bytes) = match &split.kind {
            SplitKind::File { path, .. } => {
                let file = std::fs::File::open(path).map_err(|e| MsqError::InputSource {
                    message: if e.kind() == std::io::ErrorKind::NotFound {
                        format!("Unable to find file [{}]", path.display())
                    } else {
                        format!("Unable to open file [{}]: {e}", path.display())
                    },
                })?;
                let size = file.metadata().map(|m| m.len()).unwrap_or(0);
                let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(read_err)?;
                (build(builder, &schema, batch_size).map_err(read_err)?, size)
            }
            SplitKind::Http {
                uri,
                authorization,
                headers,
            } => {
                let mut body = super::http::http_get(uri, authorization.as_deref(), headers)?;
                let mut data = Vec::with_capacity(body.content_length().unwrap_or(0).min(1 << 30) as usize);
                body.read_to_end(&mut data).map_err(|e| MsqError::InputSource {
                    message: format!("Error reading [{uri}]: {e}"),
                })?;
                let size = data.len() as u64;
                let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(data)).map_err(read_err)?;
                (build(builder, &schema, batch_size).map_err(read_err)?, size)
            }
            SplitKind::S3 {
                bucket,
                key,
                size,
                options,
            } => {
                let chunks = super::s3::object_chunks(bucket, key, *size, options)?;
                let builder = ParquetRecordBatchReaderBuilder::try_new(chunks).map_err(read_err)?;
                (build(builder, &schema, batch_size).map_err(read_err)?, *size)
            }
            SplitKind::Inline { .. } => {
                return Err(MsqError::Validation(
                    "The parquet inputFormat cannot read an inline inputSource".into(),
                ))
            }
        };
        let (reader, positions, json_source) = reader;
        Ok(ParquetSplitReader {
            reader: Some(reader),
            source,
            schema,
            positions,
            json_source,
            binary_as_string: format.binary_as_string,
            rows: 0,
            bytes,
        })
    }

    fn convert(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let n = batch.num_rows();
        let mut columns = Vec::with_capacity(self.schema.fields().len());
        for (i, (field, pos)) in self.schema.fields().iter().zip(&self.positions).enumerate() {
            let target = field.data_type();
            let array = match pos {
                None => new_null_array(target, n),
                Some(p) if msq_engine::signature::is_json_field(field) => {
                    let source = batch.schema().field(*p).clone();
                    let source = match self.json_source[i] {
                        true => msq_engine::signature::json_field(source.name()),
                        false => source,
                    };
                    super::json::json_text_column(batch.column(*p), &source)?
                }
                Some(p) => convert_array(batch.column(*p), target, self.binary_as_string).map_err(|e| {
                    MsqError::CannotParseExternalData {
                        message: format!(
                            "Cannot read column [{}] of Parquet file [{}] as {target}: {e}",
                            field.name(),
                            self.source
                        ),
                    }
                })?,
            };
            columns.push(array);
        }
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(n)),
        )?)
    }
}

type Built = (ParquetRecordBatchReader, Vec<Option<usize>>, Vec<bool>);

/// Builds a reader decoding only the schema's columns, and where each lands in its batches.
fn build<T: parquet::file::reader::ChunkReader + 'static>(
    builder: ParquetRecordBatchReaderBuilder<T>,
    schema: &SchemaRef,
    batch_size: usize,
) -> parquet::errors::Result<Built> {
    let file_schema = builder.schema().clone();
    // Top-level columns wanted, by name (the first of a repeated name).
    let mut wanted: Vec<usize> = Vec::new();
    let mut lookup: Vec<Option<usize>> = Vec::new();
    for f in schema.fields() {
        let idx = file_schema.fields().iter().position(|ff| ff.name() == f.name());
        if let Some(i) = idx {
            if !wanted.contains(&i) {
                wanted.push(i);
            }
        }
        lookup.push(idx);
    }
    let mut sorted = wanted.clone();
    sorted.sort_unstable();
    // Projected batches hold the chosen columns in file order.
    let positions = lookup
        .into_iter()
        .map(|idx| idx.map(|i| sorted.binary_search(&i).expect("wanted")))
        .collect();
    // Columns of Parquet's JSON logical type (JSON text) read into COMPLEX<json> as JSON.
    let roots = builder.parquet_schema().root_schema().get_fields();
    let json_source = schema
        .fields()
        .iter()
        .map(|f| {
            let root = file_schema.fields().iter().position(|ff| ff.name() == f.name());
            root.and_then(|i| roots.get(i)).is_some_and(|t| {
                t.is_primitive() && t.get_basic_info().logical_type_ref() == Some(&parquet::basic::LogicalType::Json)
            })
        })
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), sorted);
    let reader = builder.with_projection(mask).with_batch_size(batch_size).build()?;
    Ok((reader, positions, json_source))
}

/// Casts a decoded column to the signature's type (see the module docs).
fn convert_array(array: &ArrayRef, target: &DataType, binary_as_string: bool) -> Result<ArrayRef> {
    let source = array.data_type();
    if source == target {
        return Ok(array.clone());
    }
    let safe = CastOptions {
        safe: true,
        ..Default::default()
    };
    let cast = |a: &ArrayRef, t: &DataType| cast_with_options(a, t, &safe).map_err(MsqError::from);
    match (source, target) {
        (DataType::Timestamp(_, tz), DataType::Int64) => {
            let ms = cast(array, &DataType::Timestamp(TimeUnit::Millisecond, tz.clone()))?;
            cast(&ms, &DataType::Int64)
        }
        (DataType::Date32, DataType::Int64) => cast(&cast(array, &DataType::Date64)?, &DataType::Int64),
        (DataType::Binary | DataType::LargeBinary | DataType::BinaryView, DataType::Utf8) if !binary_as_string => {
            let bin = cast(array, &DataType::LargeBinary)?;
            let bin = bin.as_binary::<i64>();
            let mut b = StringBuilder::with_capacity(bin.len(), bin.values().len() * 4 / 3 + 4);
            for v in bin.iter() {
                b.append_option(v.map(|v| base64::engine::general_purpose::STANDARD.encode(v)));
            }
            Ok(Arc::new(b.finish()))
        }
        (DataType::Binary | DataType::LargeBinary | DataType::BinaryView, DataType::Utf8) => {
            // Invalid UTF-8 becomes null rather than failing the cast.
            let bin = cast(array, &DataType::LargeBinary)?;
            let bin = bin.as_binary::<i64>();
            let mut b = StringBuilder::with_capacity(bin.len(), bin.values().len());
            for v in bin.iter() {
                b.append_option(v.and_then(|v| std::str::from_utf8(v).ok()));
            }
            Ok(Arc::new(b.finish()))
        }
        _ => cast(array, target),
    }
}

impl SplitReader for ParquetSplitReader {
    fn next_batch(&mut self, _warnings: &mut dyn FnMut(ParseWarning) -> Result<()>) -> Option<Result<RecordBatch>> {
        loop {
            let reader = self.reader.as_mut()?;
            match reader.next() {
                None => {
                    self.reader = None;
                    return None;
                }
                Some(Err(e)) => {
                    self.reader = None;
                    return Some(Err(MsqError::InputSource {
                        message: format!("Unable to read Parquet file [{}]: {e}", self.source),
                    }));
                }
                Some(Ok(batch)) if batch.num_rows() == 0 => continue,
                Some(Ok(batch)) => {
                    let out = self.convert(batch);
                    match &out {
                        Ok(b) => self.rows += b.num_rows() as u64,
                        Err(_) => self.reader = None,
                    }
                    return Some(out);
                }
            }
        }
    }

    fn stats(&self) -> ReadStats {
        ReadStats {
            rows: self.rows,
            // The whole file counts as read once it is open.
            bytes: self.bytes,
            files: 1,
        }
    }
}
