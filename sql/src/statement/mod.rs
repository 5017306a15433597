//! The Druid statement front end: `INSERT` / `REPLACE` headers, `PARTITIONED BY`,
//! `CLUSTERED BY`, `OVERWRITE`, `TABLE(EXTERN(...))` and `FLOOR(x TO unit)`.
//!
//! Like Druid's own Calcite grammar extension, this works on the token stream at
//! parenthesis depth 0: the Druid-only clauses are recognised and stripped, and the
//! remaining query body is handed on as SQL text that a stock SQL planner understands.
//!
//! One job per file: `tokens` (the token stream and its depth-0 helpers), `header`
//! (`INSERT INTO` / `REPLACE INTO ... OVERWRITE`), `partitioning` (`PARTITIONED BY`,
//! `CLUSTERED BY`), `body` (query body rewriting), `external` (`TABLE(EXTERN(...))`),
//! `table_functions` (`TABLE(APPEND(...))`, `TABLE(LOCALFILES|HTTP|INLINE|S3(...))`),
//! `overwrite_where` (the `OVERWRITE WHERE` condition), `export` (`INSERT INTO EXTERN(...)
//! AS CSV`), `delete` (`DELETE FROM` as a `REPLACE`), `parse` (the statement as a whole)
//! and `model` (what comes out). Before the statement, `request` splits off a request's
//! `SET` statements (`set`) and `EXPLAIN PLAN FOR`.

mod body;
mod delete;
mod export;
mod external;
mod header;
mod model;
mod overwrite_where;
mod parse;
mod partitioning;
mod request;
mod set;
mod table_functions;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_request;
mod tokens;

pub use delete::{delete_as_replace, parse_delete, DeleteStatement};
pub use export::{ExportDestination, ExportFormat, ExportSpec};
pub use model::{AppendSpec, ClusterKey, DruidStatement, ExternSpec, Overwrite, StatementKind};
pub use overwrite_where::{parse_overwrite_where, parse_overwrite_where_in_zone};
pub use parse::{parse_statement, parse_statement_in_zone};
pub use request::{parse_request, SqlRequest};
pub use set::is_set_statement;
