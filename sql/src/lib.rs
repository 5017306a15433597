//! Druid SQL dialect for msq-rs: statement parsing, Druid functions, planning to a stage DAG.

pub mod functions;
pub mod script;
pub mod statement;
// LEAD-PENDING: planner, stages, tables are enabled once engine modules land.
