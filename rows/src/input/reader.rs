//! Opening a split for reading: the dispatcher from an input format to its reader.

use super::bytes::open_bytes;
use super::delimited::{DelimitedOptions, DelimitedSplitReader};
use super::json::JsonSplitReader;
use super::parquet::ParquetSplitReader;
use super::split_reader::{ParseWarning, ReadStats, SplitReader};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use msq_engine::error::Result;
use msq_engine::input::format::InputFormat;
use msq_engine::input::source::InputSplit;

/// Opens `split` for reading in `format`, producing batches of at most `batch_size` rows with
/// `schema` (columns missing from a row are null; fields not in the schema are ignored).
pub fn open_split(
    split: &InputSplit,
    format: &InputFormat,
    schema: SchemaRef,
    batch_size: usize,
) -> Result<Box<dyn SplitReader>> {
    format.check_supported()?;
    let batch_size = batch_size.max(1);
    match format {
        InputFormat::Json(_) => {
            let input = open_bytes(split)?;
            Ok(Box::new(JsonSplitReader::new(split, input, schema, batch_size)?))
        }
        InputFormat::Csv(_) | InputFormat::Tsv(_) => {
            let options = DelimitedOptions::from_format(format).expect("csv or tsv");
            let input = open_bytes(split)?;
            let reader = DelimitedSplitReader::new(split, input, schema.clone(), batch_size, options);
            Ok(super::json::TextAsJson::wrap(Box::new(reader), &schema))
        }
        InputFormat::Parquet(p) => Ok(Box::new(ParquetSplitReader::open(split, p, schema, batch_size)?)),
    }
}

/// Reads a whole split, returning its batches (the warnings callback as in
/// [`SplitReader::next_batch`]). Convenient for small inputs and tests.
pub fn read_split(
    split: &InputSplit,
    format: &InputFormat,
    schema: SchemaRef,
    batch_size: usize,
    warnings: &mut dyn FnMut(ParseWarning) -> Result<()>,
) -> Result<(Vec<RecordBatch>, ReadStats)> {
    let mut reader = open_split(split, format, schema, batch_size)?;
    let mut out = Vec::new();
    while let Some(batch) = reader.next_batch(warnings) {
        out.push(batch?);
    }
    Ok((out, reader.stats()))
}
