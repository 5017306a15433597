//! The end of a query: collecting SELECT results or publishing what the kernel says to
//! publish, and settling the report, locks, workers and files after success or failure.

use super::{Driver, QueryOutcome};
use crate::report::{QueryStatus, ReportState};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use futures::StreamExt;
use msq_engine::granularity::format_millis;
use msq_engine::metadata::{finalize_shard_specs, ShardChoice};
use msq_engine::stage::StageProcessor;
use msq_engine::{MsqError, Result};
use msq_rows::shuffle::{LocatedFetcher, ShuffleFetcher};
use msq_sql::statement::StatementKind;
use std::collections::BTreeMap;
use std::time::Instant;
use tokio::sync::{mpsc, watch};

impl Driver<'_> {
    /// The final stage is ready: collect results or publish segments.
    pub(super) async fn complete(&mut self) -> Result<QueryOutcome> {
        match self.planned.kind {
            StatementKind::Select => self.collect_results().await,
            StatementKind::Insert | StatementKind::Replace => self.publish().await,
        }
    }

    /// The reader of the final stage's output.
    fn results_fetcher(&self) -> LocatedFetcher {
        let last = self.query.stages.len() - 1;
        LocatedFetcher {
            query_id: self.query.query_id.clone(),
            inputs: BTreeMap::from([(last, self.input_location(last))]),
            local: self.shuffle.clone(),
            durable: Some(self.env.deep_storage.clone()),
            auth: self.env.runner.auth.clone(),
            scratch: self.scratch_dir.join("results"),
        }
    }

    /// Sends the final stage's output, partition by partition and batch by batch, to the
    /// result sink (with the statement's column names), waiting while it is full. A gone
    /// receiver or a cancellation ends the query as `Canceled`.
    async fn stream_results(&mut self, sink: super::ResultSink) -> Result<QueryOutcome> {
        let last = self.query.stages.len() - 1;
        if let Some(live) = self.live.take() {
            // Its rows went to the sink as they were produced: wait until the last is there.
            self.shuffle.close_live(last);
            return match live.await {
                Ok(sent) => sent.map(|_| QueryOutcome::default()),
                Err(e) => Err(MsqError::Unknown(format!("forwarding results ended abnormally: {e}"))),
            };
        }
        let parts = self.kernel.partition_count(last).unwrap_or(1);
        let fetcher = self.results_fetcher();
        let schema = self.planned.output_schema.clone();
        let mut cancel = self.cancel.clone();
        for p in 0..parts {
            let mut stream = fetcher.read_partition(last, p, self.ctx.rows_per_frame)?;
            while let Some(b) = stream.next().await {
                let b = b.map_err(MsqError::from)?;
                if b.num_rows() == 0 {
                    continue;
                }
                let b = RecordBatch::try_new(schema.clone(), b.columns().to_vec()).unwrap_or(b);
                tokio::select! {
                    sent = sink.send(b) => sent.map_err(|_| MsqError::Canceled)?,
                    _ = cancel.wait_for(|c| *c) => return Err(MsqError::Canceled),
                }
            }
        }
        Ok(QueryOutcome::default())
    }

    /// Reads the final stage's output (up to `max_result_rows`) into the report.
    async fn collect_results(&mut self) -> Result<QueryOutcome> {
        if let Some(sink) = self.env.result_sink.clone() {
            return self.stream_results(sink).await;
        }
        let last = self.query.stages.len() - 1;
        let parts = self.kernel.partition_count(last).unwrap_or(1);
        let fetcher = self.results_fetcher();
        let mut batches = Vec::new();
        let mut kept = 0usize;
        'read: for p in 0..parts {
            let mut stream = fetcher.read_partition(last, p, self.ctx.rows_per_frame)?;
            while let Some(b) = stream.next().await {
                let mut b = b.map_err(MsqError::from)?;
                if let Some(cap) = self.env.max_result_rows {
                    // Past the cap nothing more is read (Druid truncates reports the same way).
                    if kept >= cap {
                        break 'read;
                    }
                    b = b.slice(0, b.num_rows().min(cap - kept));
                }
                if b.num_rows() > 0 {
                    kept += b.num_rows();
                    batches.push(b);
                }
            }
        }
        let schema = self.planned.output_schema.clone();
        // Results carry the statement's column names.
        let batches: Vec<RecordBatch> = batches
            .into_iter()
            .map(|b| RecordBatch::try_new(schema.clone(), b.columns().to_vec()).unwrap_or(b))
            .collect();
        ReportState::lock(&self.report).results = Some((schema, batches.clone()));
        Ok(QueryOutcome {
            results: Some(batches),
            ..Default::default()
        })
    }

    /// Publishes the written segments and, for a REPLACE, the tombstones the kernel's rules
    /// give for the data it replaces, in one metadata transaction.
    async fn publish(&mut self) -> Result<QueryOutcome> {
        let last = self.query.stages.len() - 1;
        let (spec, rules) = match (&self.stage(last).processor, self.kernel.ingest()) {
            (StageProcessor::SegmentGenerator(spec), Some(rules)) => (spec.clone(), rules.clone()),
            _ => return Err(MsqError::Unknown("ingestion without a segment generator".into())),
        };
        let mut segments = std::mem::take(&mut self.segments);
        segments.sort_by_key(|a| (a.id.interval, a.id.partition_num));
        let schema = match self.stage(last).input_stages().first() {
            Some(i) => self.stage(*i).schema.clone(),
            None => self.stage(last).schema.clone(),
        };
        let choice = ShardChoice::decide(spec.replace.is_some(), &spec.cluster_by, &schema);
        finalize_shard_specs(&mut segments, &choice);
        let existing = if rules.replace.is_some() {
            let md = self.env.metadata.clone();
            let ds = rules.data_source.clone();
            msq_engine::blocking(move || md.used_segments(&ds, None)).await?
        } else {
            vec![]
        };
        let now = format_millis(chrono::Utc::now().timestamp_millis());
        let tombstones = rules.tombstones(&existing, &segments, &self.version, &now)?;
        let publish = rules.publish(self.task_id, segments, tombstones);
        let segments = publish.segments.clone();
        let rows_written: u64 = segments.iter().map(|s| s.num_rows).sum();
        let md = self.env.metadata.clone();
        msq_engine::blocking(move || md.publish(&publish)).await?;
        ReportState::lock(&self.report).segment_report = Some(choice.report());
        Ok(QueryOutcome {
            results: None,
            segments,
            rows_written,
        })
    }

    /// The query succeeded: release locks and workers, close the report.
    pub(super) async fn succeeded(&mut self) {
        self.release_locks().await;
        self.release_workers().await;
        let mut r = ReportState::lock(&self.report);
        let now = Instant::now();
        for w in &mut r.workers {
            if w.status == QueryStatus::Running {
                w.status = QueryStatus::Success;
                w.finished = Some(now);
            }
        }
        r.status = QueryStatus::Success;
        r.finished = Some(now);
    }

    /// The query failed with `e`: cancel and stop workers, clean up what it will never
    /// publish, mark running stages and workers failed, and report the first error (a
    /// worker's, when one was recorded), which is returned.
    pub(super) async fn failed(&mut self, e: MsqError) -> MsqError {
        if let Some(live) = self.live.take() {
            // Stopped and gone before this returns, so its copy of the sink is dropped too.
            live.abort();
            let _ = live.await;
        }
        for slot in &self.slots {
            let _ = slot.client.post_cancel().await;
        }
        self.release_workers().await;
        self.cleanup_failed().await;
        let now = Instant::now();
        let mut r = ReportState::lock(&self.report);
        self.kernel.fail_running();
        for (n, s) in r.stages.iter_mut().enumerate() {
            s.phase = self.kernel.phase(n);
            if s.started.is_some() && s.finished.is_none() {
                s.finished = Some(now);
            }
        }
        for w in &mut r.workers {
            if w.status == QueryStatus::Running {
                w.status = QueryStatus::Failed;
                w.finished = Some(now);
            }
        }
        r.fail(self.task_id, &e);
        r.finished = Some(now);
        r.error.as_ref().map(|x| x.error.clone()).unwrap_or(e)
    }

    /// After a failure: drop the task's pending segments and locks and delete the segment
    /// files it wrote and never published. Paths name the query, so nothing of another task
    /// is touched.
    async fn cleanup_failed(&mut self) {
        let md = self.env.metadata.clone();
        let task = self.task_id.to_string();
        match msq_engine::blocking(move || crate::recovery::forget_unpublished(md.as_ref(), &task)).await {
            Ok(files) => {
                crate::recovery::delete_files(self.env.deep_storage.clone(), files).await;
            }
            Err(e) => tracing::warn!(task_id = self.task_id, "cannot clean up after the failed task: {e}"),
        }
        self.holds_locks = false; // released above (and they lapse once the task has failed)
        self.shuffle.clear();
    }
}

/// Sends a live final stage's batches (with the statement's column names) to the result
/// sink as they come, until every worker is done; a gone receiver or a cancellation ends it
/// as `Canceled` (its workers' sends then fail too).
pub(super) async fn forward_live(
    mut rows: mpsc::Receiver<RecordBatch>,
    sink: super::ResultSink,
    schema: SchemaRef,
    mut cancel: watch::Receiver<bool>,
) -> Result<()> {
    while let Some(b) = rows.recv().await {
        let b = RecordBatch::try_new(schema.clone(), b.columns().to_vec()).unwrap_or(b);
        tokio::select! {
            sent = sink.send(b) => sent.map_err(|_| MsqError::Canceled)?,
            _ = cancel.wait_for(|c| *c) => return Err(MsqError::Canceled),
        }
    }
    Ok(())
}
