//! Shared types of msq-rs: errors, granularities, signatures, stage definitions, frames,
//! shuffle, counters, reports, segments and the metadata store.

pub mod context;
pub mod counters;
pub mod error;
pub mod exec;
pub mod granularity;
pub mod ids;
pub mod input;
pub mod kernel;
pub mod keystats;
pub mod memory;
pub mod merge;
pub mod metadata;
pub mod protocol;
pub mod rpc;
pub mod scratch;
pub mod shuffle;
pub mod signature;
pub mod stage;
pub mod storage;
pub mod wire;

pub use error::{MsqError, Result};

/// Runs blocking work (metadata calls, file listing) off the async threads.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| MsqError::Unknown(format!("blocking task failed: {e}")))?
}
