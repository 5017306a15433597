//! Writes a SELECT's rows, as they come, into pages in deep storage. Each page is uploaded
//! while it is written (a multipart upload: the object appears whole or not at all), so
//! memory holds one batch at a time whatever the size of the answer.

use super::{page_path, PageCutter, PageInfo};
use arrow::datatypes::SchemaRef;
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;
use msq_engine::{MsqError, Result};
use object_store::buffered::BufWriter;
use object_store::ObjectStore;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// What was written: the pages, and the first rows (up to the sample size asked for).
#[derive(Debug)]
pub struct WrittenResults {
    pub pages: Vec<PageInfo>,
    pub sample: Vec<RecordBatch>,
}

/// One page being uploaded.
struct PageFile {
    info: PageInfo,
    ipc: StreamWriter<Vec<u8>>,
    upload: BufWriter,
}

impl PageFile {
    fn open(store: &Arc<dyn ObjectStore>, task_id: &str, id: u64, schema: &SchemaRef) -> Result<Self> {
        let path = page_path(task_id, id)?;
        Ok(PageFile {
            info: PageInfo {
                id,
                num_rows: 0,
                size_in_bytes: 0,
            },
            ipc: StreamWriter::try_new(Vec::new(), schema).map_err(MsqError::from)?,
            upload: BufWriter::new(store.clone(), path),
        })
    }

    /// Encodes `batch` and hands its bytes to the upload.
    async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.ipc.write(batch).map_err(MsqError::from)?;
        self.info.num_rows += batch.num_rows() as u64;
        self.flush().await
    }

    async fn flush(&mut self) -> Result<()> {
        let bytes = std::mem::take(self.ipc.get_mut());
        self.info.size_in_bytes += bytes.len() as u64;
        self.upload.write_all(&bytes).await.map_err(storage_error)
    }

    /// Ends the stream and completes the upload.
    async fn finish(mut self) -> Result<PageInfo> {
        self.ipc.finish().map_err(MsqError::from)?;
        self.flush().await?;
        self.upload.shutdown().await.map_err(storage_error)?;
        Ok(self.info)
    }

    /// Gives up the upload (its parts are discarded).
    async fn abort(mut self) {
        let _ = self.upload.abort().await;
    }
}

fn storage_error(e: std::io::Error) -> MsqError {
    MsqError::Io(format!("cannot write query results to deep storage: {e}"))
}

/// Writes the batches of `rows` into pages of `rows_per_page` rows of task `task_id`'s
/// results until the sender closes; keeps the first `sample_rows` rows.
pub async fn write_pages(
    store: Arc<dyn ObjectStore>,
    task_id: String,
    schema: SchemaRef,
    rows_per_page: u64,
    sample_rows: usize,
    mut rows: mpsc::Receiver<RecordBatch>,
) -> Result<WrittenResults> {
    let mut cutter = PageCutter::new(rows_per_page);
    let mut pages = Vec::new();
    let mut sample = Vec::new();
    let mut sampled = 0usize;
    let mut current: Option<PageFile> = None;
    while let Some(batch) = rows.recv().await {
        if sampled < sample_rows && batch.num_rows() > 0 {
            let b = batch.slice(0, batch.num_rows().min(sample_rows - sampled));
            sampled += b.num_rows();
            sample.push(b);
        }
        for (offset, len, new_page) in cutter.cut(batch.num_rows()) {
            if new_page {
                if let Some(done) = current.take() {
                    pages.push(done.finish().await?);
                }
                current = Some(PageFile::open(&store, &task_id, pages.len() as u64, &schema)?);
            }
            if let Some(page) = current.as_mut() {
                if let Err(e) = page.write(&batch.slice(offset, len)).await {
                    if let Some(p) = current.take() {
                        p.abort().await;
                    }
                    return Err(e);
                }
            }
        }
    }
    if let Some(done) = current.take() {
        pages.push(done.finish().await?);
    }
    Ok(WrittenResults { pages, sample })
}
