//! The bytes of a split: opened from a file, inline text, an HTTP URI or an S3 object, counted
//! as stored, and decompressed by extension.

use super::split_reader::{ByteCounter, CountingReader, READ_BUFFER_SIZE};
use msq_engine::error::{MsqError, Result};
use msq_engine::input::source::{InputSplit, SplitKind};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

/// Size of the buffer compressed bytes are read from disk through.
const COMPRESSED_BUFFER_SIZE: usize = 256 * 1024;

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
