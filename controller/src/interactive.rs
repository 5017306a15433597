//! Interactive queries (Druid's `POST /druid/v2/sql`): a SELECT runs on the stage engine
//! with in-process workers and its rows go to the caller through a small bounded channel (an
//! unordered final stage sends them while it runs; a sorted one from a small output buffer
//! and spilled runs once sorted), so an answer of any size is never held whole. No task is
//! recorded in the metadata store (the run has a private id, `sql_<uuid>`, naming its scratch
//! directory and workers); [`SqlQueries`] cancels running ones by `sqlQueryId`. They do not
//! take the task queue's worker slots (as Druid's Broker does not take the Overlord's).

use crate::driver::run_query;
use crate::launcher::{Runner, RunnerKind};
use crate::overlord::{Overlord, PreparedTask};
use crate::report::{LiveReport, ReportState};
use arrow::record_batch::RecordBatch;
use futures::FutureExt;
use msq_engine::{MsqError, Result};
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Batches of rows that may wait between the query and a slow client.
const RESULT_BUFFER_BATCHES: usize = 2;

/// The interactive queries running now, by `sqlQueryId` (Druid does not make the id
/// unique: a cancellation stops every query with it).
#[derive(Default)]
pub struct SqlQueries {
    next: AtomicU64,
    running: Mutex<Running>,
}

/// Each running query's registration number and cancel switch, by `sqlQueryId`.
type Running = HashMap<String, Vec<(u64, watch::Sender<bool>)>>;

impl SqlQueries {
    fn running(&self) -> std::sync::MutexGuard<'_, Running> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a query under `sql_query_id`: the receiver flips to true when it is
    /// cancelled, and is closed (which also cancels it) when the registration is dropped.
    pub fn register(self: &Arc<Self>, sql_query_id: &str) -> (Registration, watch::Receiver<bool>) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(false);
        self.running()
            .entry(sql_query_id.to_string())
            .or_default()
            .push((n, tx));
        let registration = Registration {
            queries: self.clone(),
            id: sql_query_id.to_string(),
            n,
        };
        (registration, rx)
    }

    /// Cancels every running query with `sql_query_id`; false when there is none.
    pub fn cancel(&self, sql_query_id: &str) -> bool {
        match self.running().get(sql_query_id) {
            Some(queries) if !queries.is_empty() => {
                for (_, tx) in queries {
                    let _ = tx.send(true);
                }
                true
            }
            _ => false,
        }
    }

    /// How many queries are running.
    pub fn len(&self) -> usize {
        self.running().values().map(Vec::len).sum()
    }

    /// Whether no query is running.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A query's place in [`SqlQueries`]; dropping it (the answer was written, or the client
/// went away) removes the query and cancels it if it still runs.
pub struct Registration {
    queries: Arc<SqlQueries>,
    id: String,
    n: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut running = self.queries.running();
        if let Some(list) = running.get_mut(&self.id) {
            list.retain(|(n, _)| *n != self.n);
            if list.is_empty() {
                running.remove(&self.id);
            }
        }
    }
}

/// A started interactive query: its rows as they come, then how it ended (`rows` closes
/// first).
pub struct InteractiveRun {
    pub rows: mpsc::Receiver<RecordBatch>,
    pub done: JoinHandle<Result<()>>,
}

impl InteractiveRun {
    /// How the query ended (a panic is an `UnknownError`, never the server's end).
    pub async fn outcome(self) -> Result<()> {
        match self.done.await {
            Ok(r) => r,
            Err(e) => Err(MsqError::Unknown(format!("the query ended abnormally: {e}"))),
        }
    }
}

/// Starts a planned SELECT with in-process workers, whatever runner the overlord's tasks use;
/// `cancel` flipping to true (or closing) cancels it.
pub fn start(overlord: &Overlord, task: PreparedTask, cancel: watch::Receiver<bool>) -> InteractiveRun {
    let (tx, rows) = mpsc::channel(RESULT_BUFFER_BATCHES);
    let mut env = overlord.env();
    env.result_sink = Some(tx);
    env.max_result_rows = None;
    if env.runner.kind != RunnerKind::Embedded {
        env.runner = Runner::embedded();
        env.controller_url = None;
    }
    let run_id = format!("sql_{}", uuid::Uuid::new_v4().simple());
    let report: LiveReport = Arc::new(Mutex::new(ReportState::new(&run_id, &overlord.host)));
    let done = tokio::spawn(async move {
        let run = run_query(&task.planned, &task.context, &env, &run_id, report, cancel);
        match AssertUnwindSafe(run).catch_unwind().await {
            Ok(result) => result.map(|_| ()),
            Err(payload) => Err(MsqError::from_panic("Query", payload)),
        }
    });
    InteractiveRun { rows, done }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cancel_reaches_every_query_with_the_id_until_it_ends() {
        let q = Arc::new(SqlQueries::default());
        assert!(!q.cancel("a"));
        let (r1, mut c1) = q.register("a");
        let (r2, c2) = q.register("a");
        let (_r3, c3) = q.register("b");
        assert_eq!(q.len(), 3);
        assert!(q.cancel("a"));
        assert!(*c1.borrow_and_update() && *c2.borrow());
        assert!(!*c3.borrow());
        drop(r1);
        assert!(q.cancel("a"));
        drop(r2);
        assert!(!q.cancel("a"));
        assert_eq!(q.len(), 1);
        // A dropped registration closes its receiver, which cancels a running query.
        assert!(c1.changed().await.is_err());
    }
}
