//! The metadata store: segments (with Druid's versioned-timeline rules), pending segment
//! allocations, tasks, task reports and task logs.
//!
//! - [`segment`]: segment ids and records as stored in `druid_segments`.
//! - [`timeline`]: pure functions implementing Druid's `VersionedIntervalTimeline` rules
//!   (visibility, overshadowing, segment allocation).
//! - [`allocation`]: time-chunk locks and segment allocation as pure rules (Druid's
//!   `TaskLockbox` and `SegmentAllocateAction`), applied by both stores in one transaction.
//! - [`store`]: the [`MetadataStore`] trait and its record types.
//! - [`sqlite`]: the embedded SQLite implementation.
//! - [`postgres`]: the PostgreSQL implementation (same tables and rules).
//! - [`open_store`]: picks one from a URI.

pub mod allocation;
mod lock_sql;
mod open;
pub mod postgres;
pub mod segment;
pub mod sqlite;
pub mod store;
#[cfg(test)]
mod store_tests;
pub mod timeline;

pub use self::postgres::PostgresMetadataStore;
pub use allocation::{AllocateOutcome, AllocateRequest, LockOutcome, LockRequest, LockType, TaskLock};
pub use open::open_store;
pub use segment::{SegmentId, SegmentRecord};
pub use sqlite::SqliteMetadataStore;
pub use store::{MetadataStore, PublishResult, SegmentPublish, TaskFilter, TaskRecord};
pub use timeline::{allocate, overshadowed, visible_segments, Allocation, VisibleSegment};
