//! msq-rs controller: runs a query's stage DAG across workers, publishes segments, keeps
//! the Druid-shaped task report, and owns the task lifecycle.

pub mod controller_api;
pub mod driver;
pub mod engine;
pub mod events;
pub mod http;
pub mod launcher;
pub mod locking;
pub mod publish;
pub mod recovery;
pub mod report;
pub mod tasks;
pub mod values;
pub mod worker_client;

pub use driver::{run_query, QueryEnv, QueryOutcome};
pub use engine::Engine;
