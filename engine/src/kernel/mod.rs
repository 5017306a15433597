//! Pure state machines of query execution, free of I/O (as Druid's MSQ `kernel` package):
//! stage phases seen by the controller and by workers, and the controller's query kernel.

pub mod query;
pub mod stage_phase;
pub mod worker_phase;

pub use query::{QueryKernel, StageShape};
pub use stage_phase::ControllerStagePhase;
pub use worker_phase::WorkerStagePhase;
