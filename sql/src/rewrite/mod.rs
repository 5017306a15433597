//! Rewrites of Druid-only SQL forms into functions the planner knows, on the parsed AST:
//! Druid aggregates, Druid scalar forms (`TIMESTAMPADD(HOUR, ...)`, `DATE_TRUNC`,
//! `TIME_IN_INTERVAL`, `EXTRACT`, `REGEXP_EXTRACT`, `CONCAT` with Druid's NULL rule, ...),
//! the `sqlTimeZone` of time functions and timestamp literals, a fixed `CURRENT_TIMESTAMP`,
//! Calcite's `EXPR$n` column names, and the checks for constructs MSQ does not support.
//!
//! One job per file: `options` (the context), `ast` (helpers), `checks` (unsupported
//! constructs), `aggregates`, `scalar` (scalar forms and the time zone), `unnest`,
//! `names` (output column names), and on the logical plan `multi_value` (multi-value strings
//! and `arrayIngestMode`).

mod aggregates;
mod ast;
mod checks;
mod multi_value;
mod names;
mod options;
mod scalar;
#[cfg(test)]
mod tests;
mod unnest;

pub use aggregates::rewrite_druid_aggregates;
pub use checks::{check_group_by, reject_unsupported};
pub use multi_value::{apply_array_ingest_mode, rewrite_multi_value};
pub use names::{canonical_expression, name_unaliased_columns, output_expressions};
pub use options::RewriteOptions;
pub use scalar::{parse_interval, rewrite_druid_functions};
pub use unnest::rewrite_lateral_unnest;

use aggregates::check_unfinalized_aggregates;
use datafusion::sql::parser::Statement as DFStatement;
use msq_engine::Result;

/// Every rewrite and check, in order, on one parsed statement.
pub fn rewrite_statement(stmt: &mut DFStatement, opts: &RewriteOptions) -> Result<()> {
    reject_unsupported(stmt)?;
    check_group_by(stmt)?;
    rewrite_lateral_unnest(stmt)?;
    rewrite_druid_aggregates(stmt);
    rewrite_druid_functions(stmt, opts)?;
    crate::functions::json::rewrite_json_returning(stmt)?;
    name_unaliased_columns(stmt);
    if !opts.finalize_aggregations {
        check_unfinalized_aggregates(stmt, opts)?;
    }
    Ok(())
}
