//! Druid's catalogue and system tables: `INFORMATION_SCHEMA.SCHEMATA`, `TABLES`, `COLUMNS`
//! and `sys.segments`, `servers`, `server_segments`, `tasks`, `supervisors`.
//!
//! - [`definitions`]: the schemas, the tables and their columns; resolving a reference.
//! - [`snapshot`]: what the tables show, read from the metadata store when a query is planned.
//! - [`rows`]: each table's rows from a snapshot (pure).
//! - [`query`]: a SELECT of system tables, run in-process with DataFusion over MemTables.
//!
//! The task engine refuses them as Druid's does ([`definitions::engine_refusal`]).

pub mod definitions;
pub mod query;
pub mod rows;
pub mod snapshot;

pub use definitions::{engine_refusal, references, SystemTable};
pub use query::{statement_references, SystemQuery};
pub use snapshot::{CatalogSnapshot, ServerInfo};
