//! The task queue of a server: submitted statements become `query_controller` tasks that
//! wait for worker slots, run, can be shut down, and leave their status, report and log in
//! the metadata store.

use crate::overlord::{Overlord, PreparedTask};
use crate::report::{LiveReport, ReportState};
use futures::FutureExt;
use msq_engine::metadata::{TaskFilter, TaskRecord};
use msq_engine::{MsqError, Result};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use tokio::sync::{watch, Semaphore};

/// A task that has not finished.
struct ActiveTask {
    report: LiveReport,
    cancel: watch::Sender<bool>,
    data_source: String,
    done: watch::Receiver<bool>,
}

/// Runs submitted statements as tasks with a bounded number of worker slots.
pub struct TaskManager {
    pub overlord: Overlord,
    active: Mutex<HashMap<String, ActiveTask>>,
    slots: Arc<Semaphore>,
    total_slots: usize,
}

impl TaskManager {
    /// A manager with `worker_slots` workers shared by all running tasks. Tasks left RUNNING
    /// by a previous server process are marked FAILED.
    pub fn new(mut overlord: Overlord, worker_slots: usize) -> Result<Arc<Self>> {
        let stale = overlord.metadata.list_tasks(&TaskFilter {
            status: Some(vec!["RUNNING".into()]),
            ..Default::default()
        })?;
        let mut abandoned_files = Vec::new();
        for t in stale {
            abandoned_files.extend(crate::recovery::fail_abandoned_task(overlord.metadata.as_ref(), t)?);
        }
        if !abandoned_files.is_empty() {
            let store = overlord.deep_storage.clone();
            match tokio::runtime::Handle::try_current() {
                Ok(h) => {
                    h.spawn(crate::recovery::delete_files(store, abandoned_files));
                }
                Err(_) => tracing::warn!("{} abandoned segment files left in deep storage", abandoned_files.len()),
            }
        }
        sweep_scratch(&overlord);
        // The server shows SELECT results only in reports: keep one row more than they hold.
        overlord.max_result_rows = Some(crate::report::MAX_REPORT_ROWS + 1);
        let total = worker_slots.max(1);
        Ok(Arc::new(TaskManager {
            overlord,
            active: Mutex::new(HashMap::new()),
            slots: Arc::new(Semaphore::new(total)),
            total_slots: total,
        }))
    }

    fn active(&self) -> std::sync::MutexGuard<'_, HashMap<String, ActiveTask>> {
        self.active.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Validates and plans `sql`, records the task and starts it; returns the task id.
    /// Validation errors come back here and create no task.
    pub async fn submit(
        self: &Arc<Self>,
        sql: &str,
        context: &Map<String, Value>,
        opaque_id: Option<String>,
    ) -> Result<String> {
        let task = match self.overlord.prepare(sql, context).await {
            Ok(t) => t,
            // A panic while planning is a bug met by this statement: it becomes a failed task
            // (UnknownError with the panic message), as a panic while running does.
            Err(e) if msq_sql::guard::is_planning_panic(&e) => {
                // The context the statement was planned with: its SET values over the request's.
                let context = msq_sql::statement::parse_request(sql)?.merged_context(context);
                let query_id = msq_engine::context::QueryContext::parse(&context)?
                    .sql_query_id
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                let id = format!("query-{query_id}");
                if self.overlord.metadata.get_task(&id)?.is_some() {
                    return Err(e);
                }
                self.overlord.record_failed_planning(&id, sql, &context, opaque_id, e)?;
                return Ok(id);
            }
            Err(e) => return Err(e),
        };
        if self.overlord.metadata.get_task(&task.task_id)?.is_some() {
            return Err(MsqError::Validation(format!(
                "Task [{}] already exists; use another sqlQueryId",
                task.task_id
            )));
        }
        self.overlord.record_start_as(&task, "WAITING", opaque_id)?;
        let id = task.task_id.clone();
        let report: LiveReport = Arc::new(Mutex::new(ReportState::new(&id, &self.overlord.host)));
        let (cancel_tx, cancel_rx) = watch::channel(false);
        let (done_tx, done_rx) = watch::channel(false);
        self.active().insert(
            id.clone(),
            ActiveTask {
                report: report.clone(),
                cancel: cancel_tx,
                data_source: task.planned.data_source.clone().unwrap_or_default(),
                done: done_rx,
            },
        );
        let me = self.clone();
        let ret = id.clone();
        tokio::spawn(async move {
            // A panic anywhere in the task fails this task only, never the server, and never
            // leaves it RUNNING.
            let run = AssertUnwindSafe(me.run(task, report.clone(), cancel_rx)).catch_unwind();
            if let Err(payload) = run.await {
                let error = MsqError::from_panic("Task", payload);
                tracing::error!("task [{id}] panicked: {error}");
                let _ = me.overlord.fail_task(&id, &report, error, "Task failed");
            }
            me.active().remove(&id);
            let _ = done_tx.send(true);
        });
        Ok(ret)
    }

    async fn run(&self, task: PreparedTask, report: LiveReport, mut cancel: watch::Receiver<bool>) {
        let needed = task.context.worker_count().min(self.total_slots) as u32;
        let permit = tokio::select! {
            p = self.slots.clone().acquire_many_owned(needed) => p.ok(),
            _ = cancel.wait_for(|c| *c) => None,
        };
        let Some(_permit) = permit else {
            let _ = self.overlord.finish_unstarted(&task, MsqError::Canceled);
            return;
        };
        if let Ok(Some(mut rec)) = self.overlord.metadata.get_task(&task.task_id) {
            rec.runner_status = "RUNNING".into();
            let _ = self.overlord.metadata.update_task(&rec);
        }
        let _ = self.overlord.run(&task, report, cancel).await;
    }

    /// Asks a running or waiting task to stop; false when no such task is active.
    pub fn shutdown(&self, task_id: &str) -> bool {
        match self.active().get(task_id) {
            Some(t) => {
                let _ = t.cancel.send(true);
                true
            }
            None => false,
        }
    }

    /// Shuts down every active task writing to `data_source`; returns how many.
    pub fn shutdown_data_source(&self, data_source: &str) -> usize {
        let g = self.active();
        let mut n = 0;
        for t in g.values().filter(|t| t.data_source == data_source) {
            let _ = t.cancel.send(true);
            n += 1;
        }
        n
    }

    /// The live report of an active task.
    pub fn live_report(&self, task_id: &str) -> Option<Value> {
        self.active()
            .get(task_id)
            .map(|t| ReportState::lock(&t.report).to_json())
    }

    /// Waits until `task_id` is no longer active (or `timeout` passes).
    pub async fn wait(&self, task_id: &str, timeout: std::time::Duration) -> bool {
        let rx = self.active().get(task_id).map(|t| t.done.clone());
        match rx {
            None => true,
            Some(mut rx) => tokio::time::timeout(timeout, rx.wait_for(|d| *d)).await.is_ok(),
        }
    }

    /// Deletes completed tasks older than `keep`, now and then every ten minutes.
    pub fn spawn_retention(self: &Arc<Self>, keep: std::time::Duration) {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                let cutoff = chrono::Utc::now().timestamp_millis() - keep.as_millis() as i64;
                let cutoff = msq_engine::granularity::format_millis(cutoff);
                let md = me.overlord.metadata.clone();
                let _ = tokio::task::spawn_blocking(move || md.delete_completed_tasks_before(&cutoff)).await;
                tokio::time::sleep(std::time::Duration::from_secs(600)).await;
            }
        });
    }

    /// A task's record.
    pub fn task(&self, task_id: &str) -> Result<Option<TaskRecord>> {
        self.overlord.metadata.get_task(task_id)
    }
}

/// Removes scratch directories a killed server left behind: task directories under
/// `<data-dir>/tmp`, and worker processes' directories under the process runner's scratch root
/// when that lies inside it (never a shared directory such as `/tmp`).
fn sweep_scratch(overlord: &Overlord) {
    let tmp = overlord.data_dir.join("tmp");
    let mut roots = vec![tmp.clone()];
    if overlord.runner.tmp_dir.starts_with(&tmp) && overlord.runner.tmp_dir != tmp {
        roots.push(overlord.runner.tmp_dir.clone());
    }
    for root in roots {
        let swept = msq_rows::scratch::sweep(&root, true);
        if !swept.removed.is_empty() {
            tracing::info!(
                "removed {} leftover scratch directories ({} bytes) under {}",
                swept.removed.len(),
                swept.bytes,
                root.display()
            );
        }
    }
}
