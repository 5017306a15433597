//! Druid SQL dialect for msq-rs: statement parsing, Druid functions, planning to a stage DAG.

pub mod functions;
pub mod statement;
