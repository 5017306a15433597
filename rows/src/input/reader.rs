//! The synchronous, streaming split reader interface, and opening a split's bytes
//! (with decompression chosen by file extension).

use super::delimited::{DelimitedOptions, DelimitedSplitReader};
use msq_engine::input::format::InputFormat;
use super::json::JsonSplitReader;
use super::parquet::ParquetSplitReader;
use msq_engine::input::source::{InputSplit, SplitKind};
use msq_engine::error::{MsqError, Result};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Size of the buffer the parser reads (decompressed) bytes through.
pub const READ_BUFFER_SIZE: usize = 512 * 1024;
/// Size of the buffer compressed bytes are read from disk through.
const COMPRESSED_BUFFER_SIZE: usize = 256 * 1024;

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
            Ok(Box::new(DelimitedSplitReader::new(
                split, input, schema, batch_size, options,
            )))
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

/// Compression of a file, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
    Zstd,
    Xz,
}

impl Compression {
    /// The compression a file name's extension (case-insensitive) says it has.
    pub fn from_path(path: &Path) -> Self {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "gz" => Compression::Gzip,
            "bz2" => Compression::Bzip2,
            "zst" | "zstd" => Compression::Zstd,
            "xz" => Compression::Xz,
            _ => Compression::None,
        }
    }
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

/// Reads inline data without copying it.
struct ArcStrReader {
    data: Arc<str>,
    pos: usize,
}

impl Read for ArcStrReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let rest = &self.data.as_bytes()[self.pos..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

/// The (decompressed) bytes of a split, and the count of stored bytes read.
pub(crate) struct SplitBytes {
    pub(crate) reader: Box<dyn BufRead + Send>,
    pub(crate) counter: ByteCounter,
}

/// Opens a split's bytes, decompressing by extension (of the file name or the URI's path).
pub(crate) fn open_bytes(split: &InputSplit) -> Result<SplitBytes> {
    let counter = ByteCounter::default();
    let reader: Box<dyn BufRead + Send> = match &split.kind {
        SplitKind::Inline { data } => Box::new(BufReader::with_capacity(
            READ_BUFFER_SIZE.min(data.len().max(1)),
            CountingReader {
                inner: ArcStrReader {
                    data: data.clone(),
                    pos: 0,
                },
                counter: counter.clone(),
            },
        )),
        SplitKind::File { path, .. } => {
            let file = File::open(path).map_err(|e| MsqError::InputSource {
                message: if e.kind() == std::io::ErrorKind::NotFound {
                    format!("Unable to find file [{}]", path.display())
                } else {
                    format!("Unable to open file [{}]: {e}", path.display())
                },
            })?;
            let raw = CountingReader {
                inner: file,
                counter: counter.clone(),
            };
            decompress(raw, Compression::from_path(path), &path.display().to_string())?
        }
        SplitKind::Http {
            uri,
            authorization,
            headers,
        } => {
            let body = super::http::http_get(uri, authorization.as_deref(), headers)?;
            let raw = CountingReader {
                inner: body,
                counter: counter.clone(),
            };
            let name = split.name_for_extension().unwrap_or_default();
            decompress(raw, Compression::from_path(&name), uri)?
        }
        SplitKind::S3 {
            bucket, key, options, ..
        } => {
            let raw = CountingReader {
                inner: super::s3::open_object(bucket, key, options)?,
                counter: counter.clone(),
            };
            let name = split.name_for_extension().unwrap_or_default();
            decompress(raw, Compression::from_path(&name), &split.describe())?
        }
    };
    Ok(SplitBytes { reader, counter })
}

/// Wraps stored bytes in the decompressor `compression` calls for; `name` is for errors.
fn decompress<R: Read + Send + 'static>(
    raw: R,
    compression: Compression,
    name: &str,
) -> Result<Box<dyn BufRead + Send>> {
    Ok(match compression {
        Compression::None => Box::new(BufReader::with_capacity(READ_BUFFER_SIZE, raw)),
        Compression::Gzip => {
            let inner = BufReader::with_capacity(COMPRESSED_BUFFER_SIZE, raw);
            Box::new(BufReader::with_capacity(
                READ_BUFFER_SIZE,
                flate2::bufread::MultiGzDecoder::new(inner),
            ))
        }
        Compression::Bzip2 => {
            let inner = BufReader::with_capacity(COMPRESSED_BUFFER_SIZE, raw);
            Box::new(BufReader::with_capacity(
                READ_BUFFER_SIZE,
                bzip2::bufread::MultiBzDecoder::new(inner),
            ))
        }
        Compression::Zstd => {
            let inner = BufReader::with_capacity(COMPRESSED_BUFFER_SIZE, raw);
            let dec = zstd::stream::read::Decoder::with_buffer(inner).map_err(|e| MsqError::InputSource {
                message: format!("Unable to open file [{name}]: {e}"),
            })?;
            Box::new(BufReader::with_capacity(READ_BUFFER_SIZE, dec))
        }
        Compression::Xz => {
            let inner = BufReader::with_capacity(COMPRESSED_BUFFER_SIZE, raw);
            Box::new(BufReader::with_capacity(
                READ_BUFFER_SIZE,
                liblzma::bufread::XzDecoder::new_multi_decoder(inner),
            ))
        }
    })
}
