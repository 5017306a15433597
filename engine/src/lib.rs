//! Shared types of msq-rs: errors, granularities, signatures, stage definitions, frames,
//! shuffle, counters, reports, segments and the metadata store.

pub mod context;
pub mod counters;
pub mod error;
pub mod granularity;
pub mod input;
pub mod keystats;
pub mod merge;
pub mod metadata;
pub mod signature;
// LEAD-PENDING: exec, kernel, shuffle, stage are enabled once input/keystats/merge land.

pub use error::{MsqError, Result};
