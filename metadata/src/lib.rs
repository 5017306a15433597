//! The metadata stores of msq-rs, implementing `msq_engine::metadata::MetadataStore`:
//!
//! - [`sqlite`]: the embedded SQLite implementation (the default).
//! - [`postgres`]: the PostgreSQL implementation (same tables and rules).
//! - `sql`: the SQL both share (every statement and read/write function, written once
//!   against a small transaction trait); the stores differ only in connection handling,
//!   transaction start, argument/row conversion and the schema's text collation.
//! - [`open_store`]: picks one from a URI.

mod open;
pub mod postgres;
mod sql;
pub mod sqlite;
#[cfg(test)]
mod store_tests;

pub use self::postgres::PostgresMetadataStore;
pub use open::open_store;
pub use sqlite::SqliteMetadataStore;
