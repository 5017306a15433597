//! `taskAssignment: auto`: measures a planned statement's input (its `EXTERN` files, listed,
//! and the used segments of the datasources it reads) for the kernel's pure rule
//! ([`msq_engine::kernel::task_assignment`]).

use msq_engine::context::{QueryContext, TaskAssignment};
use msq_engine::input::InputSource;
use msq_engine::kernel::task_assignment::{auto_worker_count, InputSize};
use msq_engine::metadata::MetadataStore;
use msq_engine::{MsqError, Result};
use msq_rows::input::ListSplits;
use msq_sql::PlannedStatement;
use std::sync::Arc;

/// Under `taskAssignment: auto`, the worker count the statement's input needs when it is
/// below what `maxNumTasks` allows; `None` otherwise (keep the plan).
pub async fn fewer_workers(
    planned: &PlannedStatement,
    ctx: &QueryContext,
    metadata: &Arc<dyn MetadataStore>,
) -> Result<Option<usize>> {
    let allowed = ctx.worker_count();
    if ctx.sql.task_assignment != TaskAssignment::Auto || allowed <= 1 {
        return Ok(None);
    }
    let size = input_size(planned, metadata.clone()).await?;
    let needed = auto_worker_count(size, allowed);
    Ok((needed < allowed).then_some(needed))
}

/// The statement's input: every file of its `EXTERN`s and every used segment it reads.
async fn input_size(planned: &PlannedStatement, metadata: Arc<dyn MetadataStore>) -> Result<InputSize> {
    let externs: Vec<(serde_json::Value, bool)> = planned
        .statement
        .externs
        .iter()
        .map(|e| {
            let format = e.input_format.get("type").and_then(|t| t.as_str()).unwrap_or("");
            (e.input_source.clone(), !format.eq_ignore_ascii_case("parquet"))
        })
        .collect();
    let tables = planned.read_tables.clone();
    msq_engine::blocking(move || {
        let mut size = InputSize::default();
        for (source, text) in externs {
            let source: InputSource = serde_json::from_value(source)
                .map_err(|e| MsqError::Validation(format!("Invalid inputSource in EXTERN: {e}")))?;
            for split in source.splits()? {
                size.add_file(&split.describe(), split.size_bytes(), text);
            }
        }
        for table in tables {
            for s in metadata.used_segments(&table, None)? {
                if !s.is_tombstone {
                    size.add_file(&s.path, s.size_bytes, false);
                }
            }
        }
        Ok(size)
    })
    .await
}
