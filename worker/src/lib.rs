//! msq-rs worker: runs work orders for stages — plan fragments whose output goes through the
//! shuffle, and segment generation — reporting phases, statistics and counters to the controller.

pub mod fragment;
pub mod in_process;
pub mod segment_writer;

pub use in_process::InProcessWorker;
