//! msq-rs worker: runs work orders for stages — plan fragments whose output goes through the
//! shuffle, and segment generation — reporting phases, statistics and counters to the controller.

pub mod controller_client;
pub mod export_writer;
pub mod fragment;
pub mod internal_http;
pub mod json_parquet;
pub mod process;
pub mod segment_writer;
pub mod server;
pub mod worker;

pub use worker::{Worker, WorkerEnv};
