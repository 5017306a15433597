//! The metadata stores of msq-rs, implementing `msq_engine::metadata::MetadataStore`:
//!
//! - [`sqlite`]: the embedded SQLite implementation (the default).
//! - [`postgres`]: the PostgreSQL implementation (same tables and rules).
//! - [`lock_sql`]: the lock and allocation SQL both share, with only placeholders differing.
//! - [`open_store`]: picks one from a URI.

mod lock_sql;
mod open;
pub mod postgres;
pub mod sqlite;
#[cfg(test)]
mod store_tests;

pub use self::postgres::PostgresMetadataStore;
pub use open::open_store;
pub use sqlite::SqliteMetadataStore;
