//! The statement context the rewrites depend on.

use crate::functions::time::Zone;

/// What the rewrites depend on: the statement's context.
#[derive(Debug, Clone)]
pub struct RewriteOptions {
    /// `sqlTimeZone`: the default zone of time functions and timestamp literals.
    pub zone: Zone,
    /// The statement's `CURRENT_TIMESTAMP` in epoch millis (fixed for the whole statement).
    pub now_millis: i64,
    /// `finalizeAggregations`.
    pub finalize_aggregations: bool,
    /// `useApproximateCountDistinct`: COUNT(DISTINCT) is a sketch aggregation.
    pub approximate_count_distinct: bool,
}

impl Default for RewriteOptions {
    fn default() -> Self {
        RewriteOptions {
            zone: Zone::utc(),
            now_millis: 0,
            finalize_aggregations: true,
            approximate_count_distinct: true,
        }
    }
}
