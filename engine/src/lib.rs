//! Shared types of msq-rs: errors, granularities, signatures, stage definitions, frames,
//! shuffle, counters, reports, segments and the metadata store.

pub mod context;
pub mod counters;
pub mod error;
pub mod exec;
pub mod granularity;
pub mod input;
pub mod kernel;
pub mod keystats;
pub mod merge;
pub mod metadata;
pub mod protocol;
pub mod shuffle;
pub mod signature;
pub mod stage;

pub use error::{MsqError, Result};
