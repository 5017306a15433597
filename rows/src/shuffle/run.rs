//! A run: a sequence of batches, in memory or spilled to an Arrow IPC file.

use crate::merge::BatchIter;
use crate::scratch::Charged;
use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::FileReader;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::FileWriter;
use arrow::record_batch::RecordBatch;
use futures::StreamExt;
use msq_engine::{MsqError, Result};
use object_store::{ObjectStore, ObjectStoreExt};
use std::fs::File;
use std::io::Write;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Read buffer of a run in a local file: small, because a merge may hold many runs open at
/// once (the OS reads ahead anyway).
const FILE_READ_BUFFER: usize = 64 << 10;

/// A run of batches (sorted when the shuffle sorts).
#[derive(Debug, Clone)]
pub enum Run {
    /// Batches kept in memory.
    Memory(Vec<RecordBatch>),
    /// Batches spilled to an Arrow IPC file.
    Spilled { path: PathBuf, rows: u64, bytes: u64 },
    /// Another worker's channel: an Arrow IPC stream served over HTTP.
    Http { url: String, authorization: Option<String> },
    /// An Arrow IPC file in durable shuffle storage (absent: no rows), staged in `scratch`.
    Object {
        store: Arc<dyn ObjectStore>,
        path: String,
        scratch: PathBuf,
    },
}

impl Run {
    /// Rows in the run.
    pub fn rows(&self) -> u64 {
        match self {
            Run::Memory(b) => b.iter().map(|b| b.num_rows() as u64).sum(),
            Run::Spilled { rows, .. } => *rows,
            Run::Http { .. } | Run::Object { .. } => 0,
        }
    }

    /// Iterates the run's batches.
    pub fn iter(&self) -> Result<BatchIter> {
        match self {
            Run::Memory(b) => Ok(Box::new(b.clone().into_iter().map(Ok))),
            Run::Spilled { path, .. } => {
                let f = File::open(path)?;
                let reader = FileReader::try_new(BufReader::with_capacity(FILE_READ_BUFFER, f), None)?;
                Ok(Box::new(reader.map(|r| r.map_err(Into::into))))
            }
            Run::Http { url, authorization } => {
                let body = crate::input::http::http_get(url, authorization.as_deref(), &[]).map_err(|e| {
                    MsqError::WorkerRpcFailed {
                        worker_task_id: url.clone(),
                        message: e.to_string(),
                    }
                })?;
                let reader = StreamReader::try_new(BufReader::with_capacity(1 << 20, body), None)?;
                Ok(Box::new(reader.map(|r| r.map_err(Into::into))))
            }
            Run::Object { store, path, scratch } => {
                let Some(file) = download(store.clone(), path, scratch)? else {
                    return Ok(Box::new(std::iter::empty()));
                };
                let reader = FileReader::try_new(BufReader::with_capacity(FILE_READ_BUFFER, file), None)?;
                Ok(Box::new(reader.map(|r| r.map_err(Into::into))))
            }
        }
    }
}

/// Frame size assumed for a run whose size is not known here (another worker's channel).
const UNKNOWN_FRAME_BYTES: usize = 1 << 20;

/// Memory one open run holds in a merge: its read buffer and one decoded frame of
/// `batch_size` rows (estimated from the run's size).
fn open_run_bytes(run: &Run, batch_size: usize) -> usize {
    let frame = match run {
        Run::Memory(b) => b.first().map_or(0, msq_engine::counters::batch_memory_size),
        Run::Spilled { rows, bytes, .. } if *rows > 0 => {
            ((*bytes as f64 / *rows as f64) * batch_size.min(*rows as usize) as f64) as usize
        }
        Run::Spilled { .. } => 0,
        Run::Http { .. } | Run::Object { .. } => UNKNOWN_FRAME_BYTES,
    };
    FILE_READ_BUFFER + frame
}

/// How many runs one merge may hold open within `budget` bytes (at least 2): the inputs get
/// half of it, the rest is for the merged output and its consumer.
pub fn merge_fan_in(runs: &[Run], batch_size: usize, budget: usize) -> usize {
    let per_run = runs
        .iter()
        .map(|r| open_run_bytes(r, batch_size))
        .max()
        .unwrap_or(FILE_READ_BUFFER)
        .max(1);
    (budget / 2 / per_run).clamp(2, 1024)
}

/// Merges sorted `runs` in intermediate passes until at most `fan_in` remain, so that a
/// final merge holds no more than `fan_in` runs open. Each pass merges the smallest runs
/// (just enough of them to reach `fan_in` after as few passes as possible) into one run
/// spilled at `next_path()`, and deletes the spilled runs it consumed. Returns the runs left
/// and the number of runs the passes wrote.
pub fn reduce_runs(
    schema: &SchemaRef,
    mut runs: Vec<Run>,
    sort: &[msq_engine::sort::SortColumn],
    batch_size: usize,
    fan_in: usize,
    next_path: &mut dyn FnMut() -> PathBuf,
) -> Result<(Vec<Run>, u64)> {
    let fan_in = fan_in.max(2);
    let mut written = 0u64;
    while runs.len() > fan_in {
        // Merging k runs into one leaves len - k + 1; a first pass of (len - 2) % (fan_in - 1) + 2
        // runs makes every later pass a full one (the classic optimal merge pattern).
        let k = ((runs.len() - 2) % (fan_in - 1)) + 2;
        runs.sort_by_key(|r| std::cmp::Reverse(r.rows()));
        let group: Vec<Run> = runs.split_off(runs.len() - k);
        let iters = group.iter().map(|r| r.iter()).collect::<Result<Vec<_>>>()?;
        let merged = crate::merge::merge_sorted_runs(schema.clone(), iters, sort, batch_size)?;
        let path = next_path();
        let run = spill_iter(&path, schema, merged)?;
        for r in group {
            if let Run::Spilled { path, .. } = r {
                let _ = std::fs::remove_file(path);
            }
        }
        runs.push(run);
        written += 1;
    }
    Ok((runs, written))
}

/// Writes batches to an Arrow IPC file as one spilled run.
pub fn spill(path: &Path, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Run> {
    spill_iter(path, schema, batches.iter().cloned().map(Ok))
}

/// Writes the batches of `iter` to an Arrow IPC file as one spilled run.
fn spill_iter(path: &Path, schema: &SchemaRef, iter: impl IntoIterator<Item = Result<RecordBatch>>) -> Result<Run> {
    let mut file = RunFile::create(path, schema)?;
    for b in iter {
        file.write(&b?)?;
    }
    file.finish()
}

/// A spilled run being written, a batch at a time.
pub struct RunFile {
    path: PathBuf,
    writer: FileWriter<BufWriter<Charged<File>>>,
    rows: u64,
}

impl RunFile {
    /// Creates the Arrow IPC file at `path` (and its directory).
    pub fn create(path: &Path, schema: &SchemaRef) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let f = Charged::for_path(File::create(path)?, path);
        Ok(RunFile {
            path: path.to_path_buf(),
            writer: FileWriter::try_new(BufWriter::with_capacity(1 << 20, f), schema)?,
            rows: 0,
        })
    }

    /// Appends one batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        self.writer.write(batch)?;
        Ok(())
    }

    /// Closes the file: the run it holds.
    pub fn finish(mut self) -> Result<Run> {
        self.writer.finish()?;
        drop(self.writer);
        let bytes = std::fs::metadata(&self.path)?.len();
        Ok(Run::Spilled {
            path: self.path,
            rows: self.rows,
            bytes,
        })
    }
}

/// Copies an object into an anonymous temporary file in `scratch` (deleted when closed);
/// `None` when the object does not exist. Must run on a blocking thread.
fn download(store: Arc<dyn ObjectStore>, path: &str, scratch: &Path) -> Result<Option<File>> {
    std::fs::create_dir_all(scratch)?;
    let mut file = Charged::for_path(tempfile::tempfile_in(scratch)?, scratch);
    let location = object_store::path::Path::from(path);
    let handle = tokio::runtime::Handle::try_current()
        .map_err(|_| MsqError::Unknown("durable shuffle reads need a tokio runtime".into()))?;
    let found = handle.block_on(async {
        let mut stream = match store.get(&location).await {
            Ok(r) => r.into_stream(),
            Err(object_store::Error::NotFound { .. }) => return Ok::<bool, MsqError>(false),
            Err(e) => return Err(e.into()),
        };
        while let Some(chunk) = stream.next().await {
            file.write_all(&chunk?)?;
        }
        Ok(true)
    })?;
    if !found {
        return Ok(None);
    }
    use std::io::Seek;
    let mut file = file.into_inner();
    file.seek(std::io::SeekFrom::Start(0))?;
    Ok(Some(file))
}

/// Writes `runs` (merged by `sort` when sorted) as one Arrow IPC file at `path` in `store`.
/// Returns rows written; writes nothing when there are no rows. Must run on a blocking thread.
pub fn upload_merged(
    store: Arc<dyn ObjectStore>,
    path: &str,
    schema: &SchemaRef,
    runs: &[Run],
    sort: Option<&[msq_engine::sort::SortColumn]>,
    batch_size: usize,
    scratch: &Path,
) -> Result<u64> {
    let iters = runs.iter().map(|r| r.iter()).collect::<Result<Vec<_>>>()?;
    let merged: BatchIter = match sort {
        Some(sort) if iters.len() > 1 => crate::merge::merge_sorted_runs(schema.clone(), iters, sort, batch_size)?,
        _ => Box::new(iters.into_iter().flatten()),
    };
    std::fs::create_dir_all(scratch)?;
    let mut tmp = Charged::for_path(tempfile::tempfile_in(scratch)?, scratch);
    let mut rows = 0u64;
    {
        let mut w = FileWriter::try_new(BufWriter::with_capacity(1 << 20, &mut tmp), schema)?;
        for b in merged {
            let b = b?;
            rows += b.num_rows() as u64;
            w.write(&b)?;
        }
        w.finish()?;
    }
    if rows == 0 {
        return Ok(0);
    }
    use std::io::{Read, Seek};
    let mut tmp = tmp.into_inner();
    tmp.seek(std::io::SeekFrom::Start(0))?;
    let location = object_store::path::Path::from(path);
    let handle = tokio::runtime::Handle::try_current()
        .map_err(|_| MsqError::Unknown("durable shuffle writes need a tokio runtime".into()))?;
    handle.block_on(async {
        let mut upload = object_store::buffered::BufWriter::new(store, location);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = tmp.read(&mut buf)?;
            if n == 0 {
                break;
            }
            tokio::io::AsyncWriteExt::write_all(&mut upload, &buf[..n]).await?;
        }
        tokio::io::AsyncWriteExt::shutdown(&mut upload).await?;
        Ok::<(), MsqError>(())
    })?;
    Ok(rows)
}
