//! The metadata model: segments (with Druid's versioned-timeline rules), pending segment
//! allocations, locks, tasks, task reports and task logs. The stores implementing
//! [`MetadataStore`] (SQLite, PostgreSQL) live in `msq-metadata`.
//!
//! - [`segment`]: segment ids and records as stored in `druid_segments`.
//! - [`timeline`]: pure functions implementing Druid's `VersionedIntervalTimeline` rules
//!   (visibility, overshadowing, segment allocation).
//! - [`allocation`]: time-chunk locks and segment allocation as pure rules (Druid's
//!   `TaskLockbox` and `SegmentAllocateAction`), applied by both stores in one transaction.
//! - [`store`]: the [`MetadataStore`] trait and its record types.

pub mod allocation;
pub mod lookup;
pub mod segment;
pub mod shard_spec;
pub mod store;
pub mod timeline;

pub use allocation::{AllocateOutcome, AllocateRequest, LockOutcome, LockRequest, LockType, TaskLock};
pub use segment::{SegmentId, SegmentRecord};
pub use shard_spec::{finalize_shard_specs, ShardChoice};
pub use store::{KillRequest, KillResult, MetadataStore, PublishResult, SegmentPublish, TaskFilter, TaskRecord};
pub use timeline::{allocate, overshadowed, visible_parts, visible_segments, Allocation, VisibleSegment};
