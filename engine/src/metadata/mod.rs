//! The metadata store: segments (with Druid's versioned-timeline rules), pending segment
//! allocations, tasks, task reports and task logs.
//!
//! - [`segment`]: segment ids and records as stored in `druid_segments`.
//! - [`timeline`]: pure functions implementing Druid's `VersionedIntervalTimeline` rules
//!   (visibility, overshadowing, segment allocation).
//! - [`store`]: the [`MetadataStore`] trait and its record types.
//! - [`sqlite`]: the embedded SQLite implementation.

pub mod segment;
pub mod sqlite;
pub mod store;
pub mod timeline;

pub use segment::{SegmentId, SegmentRecord};
pub use sqlite::SqliteMetadataStore;
pub use store::{MetadataStore, PublishResult, SegmentPublish, TaskFilter, TaskRecord};
pub use timeline::{allocate, overshadowed, visible_segments, Allocation, VisibleSegment};
