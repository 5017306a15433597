//! Druid SQL dialect for msq-rs: statement parsing, Druid functions, planning to a stage DAG.

mod answer_columns;
pub mod append;
pub mod explain;
pub mod functions;
pub mod guard;
pub mod lookups;
pub mod planner;
pub mod registry;
mod result_zone;
pub mod rewrite;
pub mod script;
pub mod session;
pub mod stages;
pub mod statement;
mod string_views;
pub mod system;
pub mod tables;
pub mod units;

pub use planner::{plan_statement, PlannedStatement};
