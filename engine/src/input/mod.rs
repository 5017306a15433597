//! Druid's `EXTERN` inputs as the plan describes them: input sources (where rows come from),
//! input formats (how bytes become rows) and splits (one readable unit each). Listing and
//! reading are I/O and live in `msq_rows::input`.
//!
//! * [`InputSource`] (`local`, `inline`, `http`, `s3`); [`assign_splits`] spreads its splits
//!   over workers by size.
//! * [`InputFormat`] (`json`, `csv`, `tsv`, `parquet`) says how to parse them.

pub mod format;
pub mod http;
pub mod s3;
pub mod source;

pub use format::{
    CsvInputFormat, InputFormat, JsonInputFormat, ParquetInputFormat, TsvInputFormat, DEFAULT_LIST_DELIMITER,
    SUPPORTED_INPUT_FORMATS,
};
pub use http::{HttpInputSource, PasswordProvider};
pub use s3::S3InputSource;
pub use source::{
    assign_splits, InlineInputSource, InputSource, InputSplit, LocalInputSource, SplitKind, SUPPORTED_INPUT_SOURCES,
};
