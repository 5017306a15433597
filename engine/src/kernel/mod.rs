//! Pure state machines and decisions of query execution, free of I/O (as Druid's MSQ
//! `kernel` package): stage phases seen by the controller and by workers, the controller's
//! query kernel, worker assignment (`taskAssignment`) and relaunch limits, and the ingestion
//! rules.

pub mod budget;
pub mod ingest;
pub mod query;
pub mod stage_phase;
pub mod task_assignment;
pub mod worker_phase;
pub mod workers;

pub use budget::{output_buffer_bytes, streams_live};
pub use ingest::IngestRules;
pub use query::{KernelAction, QueryKernel, Relaunch, StageShape, StageWork, WorkerWork};
pub use stage_phase::ControllerStagePhase;
pub use worker_phase::WorkerStagePhase;
pub use workers::{WorkerAttempts, MAX_RELAUNCHES_PER_JOB, MAX_RELAUNCHES_PER_WORKER};
