//! A run: a sequence of batches, in memory or spilled to an Arrow IPC file.

use crate::merge::BatchIter;
use crate::Result;
use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;
use arrow::record_batch::RecordBatch;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

/// A run of batches (sorted when the shuffle sorts).
#[derive(Debug, Clone)]
pub enum Run {
    /// Batches kept in memory.
    Memory(Vec<RecordBatch>),
    /// Batches spilled to an Arrow IPC file.
    Spilled { path: PathBuf, rows: u64, bytes: u64 },
}

impl Run {
    /// Rows in the run.
    pub fn rows(&self) -> u64 {
        match self {
            Run::Memory(b) => b.iter().map(|b| b.num_rows() as u64).sum(),
            Run::Spilled { rows, .. } => *rows,
        }
    }

    /// Iterates the run's batches.
    pub fn iter(&self) -> Result<BatchIter> {
        match self {
            Run::Memory(b) => Ok(Box::new(b.clone().into_iter().map(Ok))),
            Run::Spilled { path, .. } => {
                let f = File::open(path)?;
                let reader = FileReader::try_new(BufReader::with_capacity(1 << 20, f), None)?;
                Ok(Box::new(reader.map(|r| r.map_err(Into::into))))
            }
        }
    }
}

/// Writes batches to an Arrow IPC file as one spilled run.
pub fn spill(path: &Path, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Run> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let f = File::create(path)?;
    let mut w = FileWriter::try_new(BufWriter::with_capacity(1 << 20, f), schema)?;
    let mut rows = 0u64;
    for b in batches {
        rows += b.num_rows() as u64;
        w.write(b)?;
    }
    w.finish()?;
    drop(w);
    let bytes = std::fs::metadata(path)?.len();
    Ok(Run::Spilled {
        path: path.to_path_buf(),
        rows,
        bytes,
    })
}
