//! Shared types of msq-rs: errors, granularities, signatures, stage definitions, frames,
//! shuffle, counters, reports, segments and the metadata store.

pub mod error;
pub mod granularity;
pub mod input;
pub mod keystats;
pub mod merge;
pub mod metadata;
pub mod signature;

pub use error::{MsqError, Result};
