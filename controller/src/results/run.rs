//! A query task whose SELECT results go to deep storage: the driver's result sink feeds
//! [`write_pages`], and when the query ends the pages (and a sample of rows) go into its
//! report, or, if either side failed, every page written is deleted.

use super::retention::delete_task_results;
use super::write::{write_pages, WrittenResults};
use crate::driver::{QueryEnv, QueryOutcome};
use crate::overlord::PreparedTask;
use crate::report::{ErrorEntry, LiveReport, QueryStatus, ReportState, MAX_REPORT_ROWS};
use msq_engine::context::SelectDestination;
use msq_engine::{MsqError, Result};
use msq_sql::statement::StatementKind;
use object_store::ObjectStore;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Batches that may wait between the final stage's reader and the page writer.
const PAGE_BUFFER_BATCHES: usize = 4;

/// The page writer of a running query.
pub struct DurableResults {
    store: Arc<dyn ObjectStore>,
    task_id: String,
    writer: JoinHandle<Result<WrittenResults>>,
}

impl DurableResults {
    /// For a SELECT with `selectDestination: durableStorage`, starts the page writer and
    /// points `env`'s result sink at it; otherwise nothing.
    pub fn start(env: &mut QueryEnv, task: &PreparedTask) -> Option<Self> {
        if task.planned.kind != StatementKind::Select
            || task.context.sql.select_destination != SelectDestination::DurableStorage
        {
            return None;
        }
        let (tx, rx) = mpsc::channel(PAGE_BUFFER_BATCHES);
        env.result_sink = Some(tx);
        env.max_result_rows = None;
        let writer = tokio::spawn(write_pages(
            env.deep_storage.clone(),
            task.task_id.clone(),
            task.planned.output_schema.clone(),
            task.context.sql.rows_per_page,
            MAX_REPORT_ROWS + 1,
            rx,
        ));
        Some(DurableResults {
            store: env.deep_storage.clone(),
            task_id: task.task_id.clone(),
            writer,
        })
    }

    /// Settles the query's `result` with the writer's (the sink must be dropped already, so
    /// the writer sees the end): on success the pages and sample rows go into `report`; on
    /// any failure the pages are deleted and the first cause is the query's error.
    pub async fn settle(
        self,
        result: Result<QueryOutcome>,
        task: &PreparedTask,
        report: &LiveReport,
    ) -> Result<QueryOutcome> {
        let written = match self.writer.await {
            Ok(w) => w,
            Err(e) => Err(MsqError::Unknown(format!("the result writer ended abnormally: {e}"))),
        };
        match (result, written) {
            (Ok(mut outcome), Ok(w)) => {
                let mut r = ReportState::lock(report);
                r.results = Some((task.planned.output_schema.clone(), w.sample.clone()));
                r.result_pages = Some(w.pages);
                outcome.results = Some(w.sample);
                Ok(outcome)
            }
            // The writer's failure is why the driver could not hand over rows.
            (Ok(_) | Err(MsqError::Canceled), Err(e)) | (Err(e), _) => {
                delete_task_results(&self.store, &self.task_id).await;
                fail_report(report, &self.task_id, &e);
                Err(e)
            }
        }
    }
}

/// Marks the report failed with `error` unless it already holds an error.
fn fail_report(report: &LiveReport, task_id: &str, error: &MsqError) {
    let mut r = ReportState::lock(report);
    r.status = QueryStatus::Failed;
    if r.error.is_none() {
        r.error = Some(ErrorEntry {
            error: error.clone(),
            task_id: task_id.to_string(),
            stage_number: None,
        });
    }
}
