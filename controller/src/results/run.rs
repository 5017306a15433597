//! A query task whose SELECT results go to deep storage: the driver's result sink feeds
//! [`write_pages`], and when the query ends the pages (and a sample of rows) go into its
//! report, or, if either side failed, every page written is deleted.

use super::retention::delete_task_results;
use super::write::{write_pages, WrittenResults};
use crate::driver::{QueryEnv, QueryOutcome};
use crate::report::{LiveReport, ReportState, MAX_REPORT_ROWS};
use arrow::datatypes::SchemaRef;
use msq_engine::context::{QueryContext, SelectDestination};
use msq_engine::{MsqError, Result};
use msq_sql::planner::PlannedStatement;
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
    pub fn start(env: &mut QueryEnv, planned: &PlannedStatement, ctx: &QueryContext, task_id: &str) -> Option<Self> {
        if planned.kind != StatementKind::Select || ctx.sql.select_destination != SelectDestination::DurableStorage {
            return None;
        }
        let (tx, rx) = mpsc::channel(PAGE_BUFFER_BATCHES);
        env.result_sink = Some(tx);
        env.max_result_rows = None;
        let writer = tokio::spawn(write_pages(
            env.deep_storage.clone(),
            task_id.to_string(),
            planned.output_schema.clone(),
            ctx.sql.rows_per_page,
            MAX_REPORT_ROWS + 1,
            rx,
        ));
        Some(DurableResults {
            store: env.deep_storage.clone(),
            task_id: task_id.to_string(),
            writer,
        })
    }

    /// Settles the query's `result` with the writer's (the sink must be dropped already, so
    /// the writer sees the end): on success the pages and sample rows go into `report`; on
    /// any failure the pages are deleted and the first cause is the query's error.
    pub async fn settle(
        self,
        result: Result<QueryOutcome>,
        schema: SchemaRef,
        report: &LiveReport,
    ) -> Result<QueryOutcome> {
        let written = match self.writer.await {
            Ok(w) => w,
            Err(e) => Err(MsqError::Unknown(format!("the result writer ended abnormally: {e}"))),
        };
        match (result, written) {
            (Ok(mut outcome), Ok(w)) => {
                let mut r = ReportState::lock(report);
                r.results = Some((schema, w.sample.clone()));
                r.result_pages = Some(w.pages);
                outcome.results = Some(w.sample);
                Ok(outcome)
            }
            // The writer's failure is why the driver could not hand over rows.
            (Ok(_) | Err(MsqError::Canceled), Err(e)) | (Err(e), _) => {
                delete_task_results(&self.store, &self.task_id).await;
                ReportState::lock(report).fail(&self.task_id, &e);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::QueryStatus;
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::record_batch::RecordBatch;
    use futures::StreamExt;
    use object_store::memory::InMemory;

    /// A writer over an in-memory store that has received `rows` rows in batches of 5.
    async fn written(rows: i64) -> (DurableResults, SchemaRef, Arc<dyn ObjectStore>) {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let (tx, rx) = mpsc::channel(4);
        let writer = tokio::spawn(write_pages(store.clone(), "query-t".into(), schema.clone(), 4, 3, rx));
        for start in (0..rows).step_by(5) {
            let col = Int64Array::from_iter_values(start..(start + 5).min(rows));
            tx.send(RecordBatch::try_new(schema.clone(), vec![Arc::new(col)]).unwrap())
                .await
                .unwrap();
        }
        drop(tx);
        let d = DurableResults {
            store: store.clone(),
            task_id: "query-t".into(),
            writer,
        };
        (d, schema, store)
    }

    async fn stored(store: &Arc<dyn ObjectStore>) -> Vec<String> {
        store
            .list(None)
            .map(|m| m.unwrap().location.to_string())
            .collect()
            .await
    }

    #[tokio::test]
    async fn success_puts_pages_and_sample_in_the_report() {
        let (d, schema, store) = written(10).await;
        let report: LiveReport = Arc::new(std::sync::Mutex::new(ReportState::new("query-t", "h")));
        let outcome = d.settle(Ok(QueryOutcome::default()), schema, &report).await.unwrap();
        let pages: Vec<(u64, u64)> = ReportState::lock(&report)
            .result_pages
            .as_ref()
            .unwrap()
            .iter()
            .map(|p| (p.id, p.num_rows))
            .collect();
        assert_eq!(pages, vec![(0, 4), (1, 4), (2, 2)]);
        let sample: usize = outcome.results.unwrap().iter().map(|b| b.num_rows()).sum();
        assert_eq!(sample, 3);
        assert_eq!(stored(&store).await.len(), 3);
        // The pages read back are the rows, in order.
        let back: Vec<i64> = super::super::read::read_pages(store.clone(), "query-t".into(), vec![0, 1, 2])
            .map(|b| b.unwrap())
            .collect::<Vec<_>>()
            .await
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .unwrap()
                    .values()
                    .to_vec()
            })
            .collect();
        assert_eq!(back, (0..10).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_failed_query_leaves_no_pages() {
        let (d, schema, store) = written(10).await;
        let report: LiveReport = Arc::new(std::sync::Mutex::new(ReportState::new("query-t", "h")));
        let err = d.settle(Err(MsqError::Canceled), schema, &report).await.unwrap_err();
        assert_eq!(err, MsqError::Canceled);
        assert!(stored(&store).await.is_empty());
        let r = ReportState::lock(&report);
        assert_eq!(r.status, QueryStatus::Failed);
        assert!(r.result_pages.is_none());
    }
}
