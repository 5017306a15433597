//! The shared model of msq-rs and its pure decisions: errors, query context, granularities,
//! signatures, stage definitions, input descriptions, sort orders, counters, key statistics
//! and partition boundaries, the controller/worker protocol, ids, the metadata model
//! (segments, timelines, locks and allocation) and the kernel's state machines.
//!
//! Nothing here touches rows on disk, the network or a database: `msq-rows` reads, sorts and
//! moves rows, `msq-metadata` keeps durable state.

pub mod context;
pub mod counters;
pub mod error;
pub mod granularity;
pub mod ids;
pub mod input;
pub mod kernel;
pub mod keystats;
pub mod metadata;
pub mod protocol;
pub mod signature;
pub mod sort;
pub mod stage;

pub use error::{MsqError, Result};

/// Runs blocking work (metadata calls, file listing) off the async threads.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| MsqError::Unknown(format!("blocking task failed: {e}")))?
}
