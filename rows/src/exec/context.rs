//! What a worker hands to the operators of the fragment it runs.

use crate::shuffle::ShuffleFetcher;
use msq_engine::counters::{update, SharedCounters};
use msq_engine::{MsqError, Result};
use object_store::ObjectStore;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Per-worker, per-stage context, carried as a DataFusion session-config extension.
#[derive(Debug)]
pub struct ExecContext {
    /// This worker's counters for this stage.
    pub counters: SharedCounters,
    /// Reads earlier stages' output partitions.
    pub fetcher: Arc<dyn ShuffleFetcher>,
    /// Deep storage holding segments.
    pub deep_storage: Arc<dyn ObjectStore>,
    /// `maxParseExceptions`: parse errors tolerated before failing (-1: unlimited).
    pub max_parse_exceptions: i64,
    /// Parse errors seen (shared by all of this worker's readers).
    pub parse_errors: AtomicU64,
    /// Rows per frame.
    pub batch_size: usize,
    /// Set when the query is cancelled.
    pub cancelled: Arc<AtomicBool>,
}

impl ExecContext {
    /// Records one parse warning; fails with `TooManyWarnings` past `maxParseExceptions`.
    pub fn parse_warning(&self, message: String) -> Result<()> {
        let n = self.parse_errors.fetch_add(1, Ordering::SeqCst) + 1;
        update(&self.counters, |c| {
            *c.warnings.entry("CannotParseExternalData".into()).or_insert(0) += 1;
        });
        tracing::warn!("{message}");
        if self.max_parse_exceptions >= 0 && n as i64 > self.max_parse_exceptions {
            return Err(MsqError::TooManyWarnings {
                max_warnings: self.max_parse_exceptions,
                root_error_code: "CannotParseExternalData".into(),
                root_error: Box::new(MsqError::CannotParseExternalData { message }),
            });
        }
        Ok(())
    }

    /// Fails with `Canceled` once the query is cancelled.
    pub fn check_cancelled(&self) -> Result<()> {
        if self.cancelled.load(Ordering::Relaxed) {
            Err(MsqError::Canceled)
        } else {
            Ok(())
        }
    }
}
