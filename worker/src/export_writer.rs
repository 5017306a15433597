//! Encodes exported rows (`INSERT INTO EXTERN(...) AS CSV | PARQUET`) into the bytes of one
//! export file, batch by batch: CSV with a header line (times as epoch milliseconds, as
//! Druid's export writes `__time`; NULL as an empty field) or Parquet. Where the bytes go,
//! and when a file is cut, is the caller's.

use arrow::array::{Array, ArrayRef};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use msq_engine::{MsqError, Result};
use parquet::arrow::ArrowWriter;

/// The format of an export file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFileFormat {
    Csv,
    Parquet,
}

/// One export file being encoded.
pub enum ExportFileEncoder {
    Csv { header: Option<String> },
    Parquet(Box<ArrowWriter<Vec<u8>>>),
}

impl ExportFileEncoder {
    /// An encoder for a file of rows with `schema`.
    pub fn new(format: ExportFileFormat, schema: &SchemaRef) -> Result<Self> {
        Ok(match format {
            ExportFileFormat::Csv => {
                let names: Vec<String> = schema.fields().iter().map(|f| csv_field(f.name())).collect();
                ExportFileEncoder::Csv {
                    header: Some(format!("{}\n", names.join(","))),
                }
            }
            ExportFileFormat::Parquet => {
                let w = ArrowWriter::try_new(Vec::new(), schema.clone(), None).map_err(parquet_error)?;
                ExportFileEncoder::Parquet(Box::new(w))
            }
        })
    }

    /// Encodes `batch`; returns the bytes of the file that are ready (Parquet hands bytes
    /// over as row groups fill).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<Vec<u8>> {
        match self {
            ExportFileEncoder::Csv { header } => {
                let mut out = header.take().unwrap_or_default();
                csv_rows(batch, &mut out)?;
                Ok(out.into_bytes())
            }
            ExportFileEncoder::Parquet(w) => {
                w.write(batch).map_err(parquet_error)?;
                Ok(std::mem::take(w.inner_mut()))
            }
        }
    }

    /// Ends the file; returns its last bytes.
    pub fn finish(self) -> Result<Vec<u8>> {
        match self {
            ExportFileEncoder::Csv { header } => Ok(header.unwrap_or_default().into_bytes()),
            ExportFileEncoder::Parquet(mut w) => {
                w.finish().map_err(parquet_error)?;
                Ok(std::mem::take(w.inner_mut()))
            }
        }
    }
}

fn parquet_error(e: parquet::errors::ParquetError) -> MsqError {
    MsqError::Io(format!("cannot encode exported rows as Parquet: {e}"))
}

/// Appends the rows of `batch` as CSV lines.
fn csv_rows(batch: &RecordBatch, out: &mut String) -> Result<()> {
    let columns: Vec<ArrayRef> = batch.columns().iter().map(csv_column).collect::<Result<_>>()?;
    let options = FormatOptions::default().with_null("");
    let formatters: Vec<ArrayFormatter> = columns
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).map_err(MsqError::from))
        .collect::<Result<_>>()?;
    for row in 0..batch.num_rows() {
        for (k, f) in formatters.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            if columns[k].is_valid(row) {
                out.push_str(&csv_field(&f.value(row).to_string()));
            }
        }
        out.push('\n');
    }
    Ok(())
}

/// A column as CSV shows it: times and dates as epoch milliseconds.
fn csv_column(c: &ArrayRef) -> Result<ArrayRef> {
    match c.data_type() {
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => {
            let millis = arrow::compute::cast(c, &DataType::Timestamp(TimeUnit::Millisecond, None))?;
            Ok(arrow::compute::cast(&millis, &DataType::Int64)?)
        }
        _ => Ok(c.clone()),
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray, TimestampMillisecondArray};
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("__time", DataType::Timestamp(TimeUnit::Millisecond, None), false),
            Field::new("page", DataType::Utf8, true),
            Field::new("added", DataType::Int64, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(TimestampMillisecondArray::from(vec![1442018818771, 0])),
                Arc::new(StringArray::from(vec![Some("a, \"b\""), None])),
                Arc::new(Int64Array::from(vec![Some(36), None])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn csv_has_a_header_quotes_and_empty_nulls() {
        let b = batch();
        let mut e = ExportFileEncoder::new(ExportFileFormat::Csv, &b.schema()).unwrap();
        let mut bytes = e.write(&b).unwrap();
        bytes.extend(e.finish().unwrap());
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "__time,page,added\n1442018818771,\"a, \"\"b\"\"\",36\n0,,\n"
        );
        // A file with no rows still has its header.
        let e = ExportFileEncoder::new(ExportFileFormat::Csv, &b.schema()).unwrap();
        assert_eq!(e.finish().unwrap(), b"__time,page,added\n");
    }

    #[test]
    fn parquet_reads_back() {
        let b = batch();
        let mut e = ExportFileEncoder::new(ExportFileFormat::Parquet, &b.schema()).unwrap();
        let mut bytes = e.write(&b).unwrap();
        bytes.extend(e.finish().unwrap());
        let reader =
            parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(bytes::Bytes::from(bytes), 1024).unwrap();
        let back: Vec<RecordBatch> = reader.map(|r| r.unwrap()).collect();
        assert_eq!(back.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
        assert_eq!(back[0].column(2), b.column(2));
    }
}
