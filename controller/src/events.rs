//! Messages from workers to a query's driver, however they travel (in-process channel or the
//! controller's HTTP endpoints), and the in-process `ControllerClient` that sends them.

use async_trait::async_trait;
use msq_engine::counters::StageCounters;
use msq_engine::keystats::KeyStatistics;
use msq_engine::protocol::{ControllerClient, WorkerResult};
use msq_engine::{MsqError, Result};
use tokio::sync::mpsc;

/// A message from attempt `attempt` of worker `worker`.
#[derive(Debug)]
pub struct Event {
    pub worker: usize,
    pub attempt: u32,
    pub kind: EventKind,
}

/// What a worker said (or that it stopped saying anything).
#[derive(Debug)]
pub enum EventKind {
    KeyStats(usize, KeyStatistics),
    DoneReading(usize),
    Complete(usize, WorkerResult),
    Error(usize, MsqError),
    Counters(usize, Box<StageCounters>),
    /// The worker stopped answering or its process exited.
    Lost(String),
}

/// `ControllerClient` that delivers an embedded worker's messages to the driver's channel.
pub struct ChannelClient {
    pub tx: mpsc::UnboundedSender<Event>,
    pub attempt: u32,
}

impl ChannelClient {
    fn send(&self, worker: usize, kind: EventKind) -> Result<()> {
        self.tx
            .send(Event {
                worker,
                attempt: self.attempt,
                kind,
            })
            .map_err(|_| MsqError::Unknown("controller is gone".into()))
    }
}

#[async_trait]
impl ControllerClient for ChannelClient {
    async fn post_key_statistics(&self, stage: usize, worker: usize, stats: KeyStatistics) -> Result<()> {
        self.send(worker, EventKind::KeyStats(stage, stats))
    }
    async fn post_done_reading(&self, stage: usize, worker: usize) -> Result<()> {
        self.send(worker, EventKind::DoneReading(stage))
    }
    async fn post_results_complete(&self, stage: usize, worker: usize, result: WorkerResult) -> Result<()> {
        self.send(worker, EventKind::Complete(stage, result))
    }
    async fn post_worker_error(&self, stage: usize, worker: usize, error: MsqError) -> Result<()> {
        self.send(worker, EventKind::Error(stage, error))
    }
    async fn post_counters(&self, stage: usize, worker: usize, counters: StageCounters) -> Result<()> {
        self.send(worker, EventKind::Counters(stage, Box::new(counters)))
    }
}
