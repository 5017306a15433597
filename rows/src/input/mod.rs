//! Reading Druid's `EXTERN` inputs: listing an input source's splits and a synchronous,
//! streaming reader producing Arrow record batches. The descriptions themselves (sources,
//! formats, splits) are plan model in `msq_engine::input`.
//!
//! * [`ListSplits::splits`] lists a source's concrete inputs (directory walks, S3 listings).
//! * [`open_split`] opens one split as a [`SplitReader`] yielding batches of the EXTERN
//!   signature's schema (`Signature::to_arrow_schema`), reporting unparsable rows as
//!   [`ParseWarning`]s.

mod bytes;
pub mod delimited;
pub mod http;
pub mod json;
pub mod list;
pub mod parquet;
pub mod reader;
pub mod s3;
pub mod split_reader;

pub use bytes::Compression;
pub use list::ListSplits;
pub use reader::{open_split, read_split};
pub use split_reader::{ParseWarning, ReadStats, SplitReader, READ_BUFFER_SIZE};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_formats;
