//! msq-rs controller: runs a query's stage DAG across workers, publishes segments, keeps
//! the Druid-shaped task report, and owns the task lifecycle.

pub mod catalog;
pub mod commands;
pub mod driver;
pub mod druid_api;
pub mod events;
pub mod export;
pub mod interactive;
pub mod kill;
pub mod launcher;
pub mod locking;
pub mod lookups;
pub mod overlord;
pub mod recovery;
pub mod report;
pub mod results;
pub mod task_assignment;
pub mod tasks;
pub mod values;
pub mod worker_protocol;

pub use driver::{run_query, QueryEnv, QueryOutcome};
pub use overlord::Overlord;
