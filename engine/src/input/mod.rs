//! Druid's `EXTERN` inputs: input sources (where rows come from), input formats (how bytes
//! become rows) and a synchronous, streaming reader producing Arrow record batches.
//!
//! * [`InputSource`] (`local`, `inline`, `http`, `s3`) lists its concrete inputs with
//!   [`InputSource::splits`]; [`assign_splits`] spreads them over workers by size.
//! * [`InputFormat`] (`json`, `csv`, `tsv`, `parquet`) says how to parse them.
//! * [`open_split`] opens one split as a [`SplitReader`] yielding batches of the EXTERN
//!   signature's schema (`Signature::to_arrow_schema`), reporting unparsable rows as
//!   [`ParseWarning`]s.

pub mod delimited;
pub mod format;
pub mod http;
pub mod json;
pub mod parquet;
pub mod reader;
pub mod s3;
pub mod source;

pub use format::{
    CsvInputFormat, InputFormat, JsonInputFormat, ParquetInputFormat, TsvInputFormat, DEFAULT_LIST_DELIMITER,
    SUPPORTED_INPUT_FORMATS,
};
pub use http::{HttpInputSource, PasswordProvider};
pub use reader::{open_split, read_split, Compression, ParseWarning, ReadStats, SplitReader, READ_BUFFER_SIZE};
pub use s3::S3InputSource;
pub use source::{
    assign_splits, InlineInputSource, InputSource, InputSplit, LocalInputSource, SplitKind, SUPPORTED_INPUT_SOURCES,
};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_formats;
