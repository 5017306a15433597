//! Synchronous, streaming access to objects of an [`ObjectStore`], for the blocking split
//! readers.
//!
//! Requests run on one small runtime of their own, so callers can be any thread (a blocking
//! pool thread, a plain thread, even an async worker) without nesting runtimes. An object is
//! read with one `GET` whose body a task pumps into a small bounded channel ([`ObjectReader`]),
//! so memory stays at a few chunks whatever the object's size; a body that breaks off is
//! resumed with a ranged `GET` from the last byte received (same ETag). Parquet reads use
//! ranged `GET`s through [`ObjectChunks`].

use bytes::{Buf, Bytes};
use futures::StreamExt;
use msq_engine::error::{MsqError, Result};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, GetResult, ObjectStore};
use std::future::Future;
use std::io::Read;
use std::sync::{Arc, OnceLock};
use tokio::sync::mpsc;

/// Body chunks buffered ahead of the reader.
const CHANNEL_CHUNKS: usize = 8;
/// Times a broken-off body is resumed before the read fails.
const MAX_RESUMES: usize = 3;

fn io_runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("msq-object-io")
            .enable_all()
            .build()
            .expect("cannot start the object storage I/O runtime")
    })
}

/// Runs `fut` on the I/O runtime and waits for it.
pub(crate) fn run<T: Send + 'static>(fut: impl Future<Output = T> + Send + 'static) -> Result<T> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    io_runtime().spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv()
        .map_err(|_| MsqError::Io("object storage request failed unexpectedly".into()))
}

/// What the pump task sends.
enum Piece {
    Data(Bytes),
    End,
    Failed(String),
}

/// A [`Read`] over one object's bytes from an offset, streamed.
pub struct ObjectReader {
    rx: mpsc::Receiver<Piece>,
    chunk: Bytes,
    finished: bool,
    pump: tokio::task::JoinHandle<()>,
}

impl ObjectReader {
    /// Starts reading `path` at byte `start`; a missing object or a refused request fails
    /// here, with `describe(error)` as the message.
    pub fn open(
        store: Arc<dyn ObjectStore>,
        path: Path,
        start: u64,
        describe: impl Fn(object_store::Error) -> MsqError,
    ) -> Result<Self> {
        let options = GetOptions {
            range: (start > 0).then_some(GetRange::Offset(start)),
            ..Default::default()
        };
        let first = {
            let (store, path) = (store.clone(), path.clone());
            run(async move { store.get_opts(&path, options).await })?.map_err(describe)?
        };
        let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
        let pump = io_runtime().spawn(pump(store, path, first, start, tx));
        Ok(ObjectReader {
            rx,
            chunk: Bytes::new(),
            finished: false,
            pump,
        })
    }
}

/// Sends the body of `first` (and of resumed requests) until it ends or the reader is gone.
async fn pump(store: Arc<dyn ObjectStore>, path: Path, first: GetResult, mut offset: u64, tx: mpsc::Sender<Piece>) {
    let e_tag = first.meta.e_tag.clone();
    let mut stream = first.into_stream();
    let mut resumes = 0;
    loop {
        match stream.next().await {
            None => {
                let _ = tx.send(Piece::End).await;
                return;
            }
            Some(Ok(bytes)) => {
                offset += bytes.len() as u64;
                if tx.send(Piece::Data(bytes)).await.is_err() {
                    return;
                }
            }
            Some(Err(e)) if resumes < MAX_RESUMES => {
                resumes += 1;
                tracing::warn!("reading [{path}] broke off at byte {offset} ({e}); resuming");
                let options = GetOptions {
                    range: Some(GetRange::Offset(offset)),
                    if_match: e_tag.clone(),
                    ..Default::default()
                };
                match store.get_opts(&path, options).await {
                    Ok(r) => stream = r.into_stream(),
                    Err(e) => {
                        let _ = tx.send(Piece::Failed(e.to_string())).await;
                        return;
                    }
                }
            }
            Some(Err(e)) => {
                let _ = tx.send(Piece::Failed(e.to_string())).await;
                return;
            }
        }
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.chunk.is_empty() {
            if self.finished {
                return Ok(0);
            }
            match futures::executor::block_on(self.rx.recv()) {
                Some(Piece::Data(b)) => self.chunk = b,
                Some(Piece::End) => self.finished = true,
                Some(Piece::Failed(m)) => {
                    self.finished = true;
                    return Err(std::io::Error::other(m));
                }
                None => {
                    self.finished = true;
                    return Err(std::io::Error::other("object download stopped unexpectedly"));
                }
            }
        }
        let n = self.chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk.advance(n);
        Ok(n)
    }
}

impl Drop for ObjectReader {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

/// One object as a Parquet [`ChunkReader`](parquet::file::reader::ChunkReader): ranged `GET`s.
pub struct ObjectChunks {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
    /// How errors name the object (`s3://bucket/key`).
    uri: String,
}

impl ObjectChunks {
    /// `size` is the object's length (from the listing).
    pub fn new(store: Arc<dyn ObjectStore>, path: Path, size: u64, uri: String) -> Self {
        ObjectChunks { store, path, size, uri }
    }
}

fn parquet_error(uri: &str, e: impl std::fmt::Display) -> parquet::errors::ParquetError {
    parquet::errors::ParquetError::General(format!("Unable to read [{uri}]: {e}"))
}

impl parquet::file::reader::Length for ObjectChunks {
    fn len(&self) -> u64 {
        self.size
    }
}

impl parquet::file::reader::ChunkReader for ObjectChunks {
    type T = ObjectReader;

    fn get_read(&self, start: u64) -> parquet::errors::Result<ObjectReader> {
        ObjectReader::open(self.store.clone(), self.path.clone(), start, |e| {
            MsqError::InputSource { message: e.to_string() }
        })
        .map_err(|e| parquet_error(&self.uri, e))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        if length == 0 {
            return Ok(Bytes::new());
        }
        let (store, path) = (self.store.clone(), self.path.clone());
        let range = start..start + length as u64;
        let bytes = run(async move {
            let options = GetOptions {
                range: Some(GetRange::Bounded(range)),
                ..Default::default()
            };
            store.get_opts(&path, options).await?.bytes().await
        })
        .map_err(|e| parquet_error(&self.uri, e))?
        .map_err(|e| parquet_error(&self.uri, e))?;
        if bytes.len() != length {
            return Err(parquet_error(
                &self.uri,
                format!("expected {length} bytes at offset {start}, got {}", bytes.len()),
            ));
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;
    use object_store::{ObjectStoreExt, PutPayload};

    fn store_with(data: &[u8]) -> (Arc<dyn ObjectStore>, Path) {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let path = Path::from("a/b.bin");
        let payload = PutPayload::from(data.to_vec());
        let (s, p) = (store.clone(), path.clone());
        run(async move { s.put(&p, payload).await }).unwrap().unwrap();
        (store, path)
    }

    fn describe(e: object_store::Error) -> MsqError {
        MsqError::InputSource { message: e.to_string() }
    }

    #[test]
    fn reader_streams_whole_object_and_from_offsets() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let (store, path) = store_with(&data);
        let mut all = Vec::new();
        ObjectReader::open(store.clone(), path.clone(), 0, describe)
            .unwrap()
            .read_to_end(&mut all)
            .unwrap();
        assert_eq!(all, data);
        let mut tail = Vec::new();
        ObjectReader::open(store.clone(), path.clone(), 123_456, describe)
            .unwrap()
            .read_to_end(&mut tail)
            .unwrap();
        assert_eq!(tail, data[123_456..]);
        // Small reads see the same bytes.
        let mut r = ObjectReader::open(store, path, 0, describe).unwrap();
        let mut buf = [0u8; 7];
        r.read_exact(&mut buf).unwrap();
        assert_eq!(buf, data[..7]);
    }

    #[test]
    fn missing_objects_fail_at_open() {
        let (store, _) = store_with(b"x");
        let err = ObjectReader::open(store, Path::from("nope"), 0, describe)
            .err()
            .unwrap();
        assert!(matches!(err, MsqError::InputSource { .. }), "{err:?}");
    }

    #[test]
    fn chunks_serve_ranges() {
        use parquet::file::reader::{ChunkReader, Length};
        let data: Vec<u8> = (0..1000u32).map(|i| (i % 256) as u8).collect();
        let (store, path) = store_with(&data);
        let c = ObjectChunks::new(store, path, data.len() as u64, "mem://a/b.bin".into());
        assert_eq!(c.len(), 1000);
        assert_eq!(c.get_bytes(10, 5).unwrap().as_ref(), &data[10..15]);
        assert_eq!(c.get_bytes(0, 0).unwrap().len(), 0);
        let mut rest = Vec::new();
        c.get_read(990).unwrap().read_to_end(&mut rest).unwrap();
        assert_eq!(rest, data[990..]);
        assert!(c.get_bytes(995, 10).is_err(), "short read past the end");
    }
}
