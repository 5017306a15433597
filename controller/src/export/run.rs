//! An export task's files: the driver's result sink feeds a writer that cuts the rows into
//! files of `rowsPerPage` rows (`query-<queryId>-worker0-partition<N>.<csv|parquet>`, Druid's
//! names), each uploaded whole or not at all (object_store writes to a staging file and
//! renames, or completes a multipart upload). The destination must be empty. When the query
//! succeeds the manifest `_symlink_format_manifest/manifest` lists the files; when either side
//! fails or the task is cancelled, every file written is deleted.

use super::{open, ExportConfig};
use crate::driver::{QueryEnv, QueryOutcome};
use crate::report::{LiveReport, ReportState};
use crate::results::PageCutter;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use futures::StreamExt;
use msq_engine::{MsqError, Result};
use msq_sql::statement::{ExportFormat, ExportSpec};
use msq_worker::export_writer::{ExportFileEncoder, ExportFileFormat};
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Batches that may wait between the final stage's reader and the file writer.
const EXPORT_BUFFER_BATCHES: usize = 4;

/// Where the manifest of an export goes, below its destination.
pub const MANIFEST_PATH: &str = "_symlink_format_manifest/manifest";

/// What an export wrote.
#[derive(Debug, Default)]
pub struct Exported {
    /// `<location>/<name>` of each file, in order.
    pub files: Vec<String>,
    pub rows: u64,
}

/// The file writer of a running export.
pub struct ExportRun {
    /// Paths written so far (also those of a writer that failed), for the cleanup.
    written: Arc<Mutex<Vec<ObjectPath>>>,
    store: Arc<Mutex<Option<Arc<dyn ObjectStore>>>>,
    writer: JoinHandle<Result<Exported>>,
}

/// What the writer needs to know.
struct Target {
    spec: ExportSpec,
    config: ExportConfig,
    task_id: String,
    schema: SchemaRef,
    rows_per_page: u64,
}

impl ExportRun {
    /// For an export statement, starts the writer and points `env`'s result sink at it;
    /// otherwise nothing. The writer opens the destination first (a refusal or a non-empty
    /// destination fails the task before any file is written).
    pub fn start(
        env: &mut QueryEnv,
        spec: Option<&ExportSpec>,
        config: &ExportConfig,
        task_id: &str,
        schema: SchemaRef,
        rows_per_page: u64,
    ) -> Option<Self> {
        let spec = spec?.clone();
        let (tx, rx) = mpsc::channel(EXPORT_BUFFER_BATCHES);
        env.result_sink = Some(tx);
        env.max_result_rows = None;
        let written = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::new(Mutex::new(None));
        let target = Target {
            spec,
            config: config.clone(),
            task_id: task_id.to_string(),
            schema,
            rows_per_page: rows_per_page.max(1),
        };
        let writer = tokio::spawn(write_files(target, rx, written.clone(), store.clone()));
        Some(ExportRun { written, store, writer })
    }

    /// Settles the query's `result` with the writer's (the sink must be dropped already):
    /// on success the manifest is written and the rows exported are the outcome's
    /// `rows_written`; on any failure every file written is deleted and the first cause is
    /// the query's error.
    pub async fn settle(
        self,
        result: Result<QueryOutcome>,
        task_id: &str,
        report: &LiveReport,
    ) -> Result<QueryOutcome> {
        let exported = match self.writer.await {
            Ok(w) => w,
            Err(e) => Err(MsqError::Unknown(format!("the export writer ended abnormally: {e}"))),
        };
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let outcome = match (result, exported) {
            (Ok(mut outcome), Ok(done)) => match &store {
                Some(s) => write_manifest(s, &done).await.map(|()| {
                    outcome.rows_written = done.rows;
                    outcome.results = None;
                    outcome
                }),
                None => Err(MsqError::Unknown("the export destination was never opened".into())),
            },
            // The writer's failure is why the driver could not hand over rows.
            (Ok(_) | Err(MsqError::Canceled), Err(e)) | (Err(e), _) => Err(e),
        };
        if let Err(e) = &outcome {
            if let Some(s) = &store {
                // Only this export's files: a manifest is the last thing written, so it is
                // never this failed export's (and may be a concurrent one's).
                let paths = self.written.lock().unwrap_or_else(|p| p.into_inner()).clone();
                for p in paths {
                    let _ = s.delete(&p).await;
                }
            }
            ReportState::lock(report).fail(task_id, e);
        }
        outcome
    }
}

/// Opens the destination (it must be empty), then writes the rows of `rows` into files until
/// the sender closes.
async fn write_files(
    t: Target,
    mut rows: mpsc::Receiver<RecordBatch>,
    written: Arc<Mutex<Vec<ObjectPath>>>,
    opened: Arc<Mutex<Option<Arc<dyn ObjectStore>>>>,
) -> Result<Exported> {
    let (spec, config) = (t.spec.clone(), t.config.clone());
    let dest = msq_engine::blocking(move || open(&spec, &config)).await?;
    if let Some(first) = dest.store.list(None).next().await {
        let what = first.map(|m| m.location.to_string()).unwrap_or_default();
        return Err(MsqError::Validation(format!(
            "Found existing files at the export destination [{}] (e.g. [{what}]). Export is only allowed to an empty path. Please provide an empty path/subdirectory or move the existing files.",
            dest.location
        )));
    }
    *opened.lock().unwrap_or_else(|p| p.into_inner()) = Some(dest.store.clone());
    let format = match t.spec.format {
        ExportFormat::Csv => ExportFileFormat::Csv,
        ExportFormat::Parquet => ExportFileFormat::Parquet,
    };
    let mut cutter = PageCutter::new(t.rows_per_page);
    let mut done = Exported::default();
    let mut current: Option<ExportFile> = None;
    while let Some(batch) = rows.recv().await {
        for (offset, len, new_file) in cutter.cut(batch.num_rows()) {
            if new_file {
                if let Some(f) = current.take() {
                    f.finish().await?;
                }
                let name = format!(
                    "{}-worker0-partition{}.{}",
                    t.task_id,
                    done.files.len(),
                    t.spec.format.name()
                );
                let path = ObjectPath::from(name.as_str());
                written.lock().unwrap_or_else(|p| p.into_inner()).push(path.clone());
                current = Some(ExportFile::open(&dest.store, path, format, &t.schema)?);
                done.files.push(format!("{}/{name}", dest.location));
            }
            if let Some(f) = current.as_mut() {
                if let Err(e) = f.write(&batch.slice(offset, len)).await {
                    if let Some(f) = current.take() {
                        f.abort().await;
                    }
                    return Err(e);
                }
            }
            done.rows += len as u64;
        }
    }
    if let Some(f) = current.take() {
        f.finish().await?;
    }
    Ok(done)
}

/// One export file being uploaded.
struct ExportFile {
    encoder: ExportFileEncoder,
    upload: BufWriter,
}

impl ExportFile {
    fn open(
        store: &Arc<dyn ObjectStore>,
        path: ObjectPath,
        format: ExportFileFormat,
        schema: &SchemaRef,
    ) -> Result<Self> {
        Ok(ExportFile {
            encoder: ExportFileEncoder::new(format, schema)?,
            upload: BufWriter::new(store.clone(), path),
        })
    }

    async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let bytes = self.encoder.write(batch)?;
        self.upload.write_all(&bytes).await.map_err(storage_error)
    }

    /// Ends the file and completes the upload.
    async fn finish(mut self) -> Result<()> {
        let bytes = self.encoder.finish()?;
        self.upload.write_all(&bytes).await.map_err(storage_error)?;
        self.upload.shutdown().await.map_err(storage_error)
    }

    /// Gives up the upload (its parts are discarded).
    async fn abort(mut self) {
        let _ = self.upload.abort().await;
    }
}

fn storage_error(e: std::io::Error) -> MsqError {
    MsqError::Io(format!("cannot write an export file: {e}"))
}

/// Writes the symlink-format manifest: one line per file. A manifest already there is a
/// concurrent export's to the same destination: this one fails instead of replacing it.
async fn write_manifest(store: &Arc<dyn ObjectStore>, done: &Exported) -> Result<()> {
    if store.head(&ObjectPath::from(MANIFEST_PATH)).await.is_ok() {
        return Err(MsqError::Validation(
            "Found existing files at the export destination (another export's manifest). Export is only allowed to an empty path."
                .into(),
        ));
    }
    let mut text = done.files.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    store
        .put(&ObjectPath::from(MANIFEST_PATH), PutPayload::from(text.into_bytes()))
        .await
        .map_err(|e| MsqError::Io(format!("cannot write the export manifest: {e}")))?;
    Ok(())
}
