//! What every reader of a split provides ([`SplitReader`]) and reports ([`ParseWarning`],
//! [`ReadStats`]), and the byte counting they share.

use arrow::record_batch::RecordBatch;
use msq_engine::error::{MsqError, Result};
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Size of the buffer the parser reads (decompressed) bytes through.
pub const READ_BUFFER_SIZE: usize = 512 * 1024;

/// A row of external data that could not be parsed, and was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseWarning {
    /// The file path, or `inline`.
    pub source: String,
    /// 1-based line number in the (decompressed) input.
    pub line: u64,
    /// Druid's message, already complete: `Unable to parse row [<row>] (Path: <uri>, Record: <n>, Line: <n>)`.
    pub message: String,
}

impl ParseWarning {
    /// The error Druid raises for this warning (`CannotParseExternalData`).
    pub fn to_error(&self) -> MsqError {
        MsqError::CannotParseExternalData {
            message: self.message.clone(),
        }
    }
}

/// What a reader has read so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Rows produced (parse failures excluded).
    pub rows: u64,
    /// Bytes of the input as stored (the compressed size for compressed files).
    pub bytes: u64,
    /// Files (splits) opened.
    pub files: u64,
}

/// Reads one split as record batches of the requested schema.
pub trait SplitReader: Send {
    /// The next batch (never empty), or `None` at the end. Rows that cannot be parsed are
    /// skipped and reported to `warnings`; when it returns `Err` reading stops with that error.
    /// After an error, the reader returns `None`.
    fn next_batch(&mut self, warnings: &mut dyn FnMut(ParseWarning) -> Result<()>) -> Option<Result<RecordBatch>>;

    /// Counts of what has been read so far.
    fn stats(&self) -> ReadStats;
}

/// A shared counter of bytes read from storage.
#[derive(Debug, Clone, Default)]
pub(crate) struct ByteCounter(Arc<AtomicU64>);

impl ByteCounter {
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

pub(crate) struct CountingReader<R> {
    pub(crate) inner: R,
    pub(crate) counter: ByteCounter,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.0.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
