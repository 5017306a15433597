//! The metadata tables, created on open by both stores. The only difference is the
//! collation of key-like text columns: PostgreSQL's are `COLLATE "C"`, so comparisons and
//! ordering are bytewise as in SQLite, whatever the database's locale.

/// Text collation of key-like columns in SQLite (its default is already bytewise).
pub const SQLITE_COLLATE: &str = "";

/// Text collation of key-like columns in PostgreSQL.
pub const PG_COLLATE: &str = r#" COLLATE "C""#;

/// The tables of segments, pending segments, tasks and task logs; `{C}` marks where a
/// key-like text column takes the store's collation.
const TABLES: &str = r#"
CREATE TABLE IF NOT EXISTS druid_segments (
    id TEXT{C} NOT NULL PRIMARY KEY,
    dataSource TEXT{C} NOT NULL,
    "start" BIGINT NOT NULL,
    "end" BIGINT NOT NULL,
    start_iso TEXT{C} NOT NULL,
    end_iso TEXT{C} NOT NULL,
    version TEXT{C} NOT NULL,
    partition_num BIGINT NOT NULL,
    used BOOLEAN NOT NULL,
    is_tombstone BOOLEAN NOT NULL,
    num_rows BIGINT NOT NULL,
    size_bytes BIGINT NOT NULL,
    path TEXT{C} NOT NULL,
    signature TEXT NOT NULL,
    min_time BIGINT,
    max_time BIGINT,
    shard_spec TEXT NOT NULL,
    created_date TEXT{C} NOT NULL,
    used_status_last_updated TEXT{C} NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_druid_segments_datasource_used_end_start
    ON druid_segments (dataSource, used, "end", "start");

CREATE TABLE IF NOT EXISTS "druid_pendingSegments" (
    id TEXT{C} NOT NULL,
    dataSource TEXT{C} NOT NULL,
    "interval" TEXT{C} NOT NULL,
    "start" BIGINT NOT NULL,
    "end" BIGINT NOT NULL,
    version TEXT{C} NOT NULL,
    partition_num BIGINT NOT NULL,
    task_id TEXT{C} NOT NULL,
    created_date TEXT{C} NOT NULL,
    PRIMARY KEY (id, task_id)
);
CREATE INDEX IF NOT EXISTS "idx_druid_pendingSegments_datasource"
    ON "druid_pendingSegments" (dataSource);
CREATE INDEX IF NOT EXISTS "idx_druid_pendingSegments_task"
    ON "druid_pendingSegments" (task_id);

CREATE TABLE IF NOT EXISTS druid_tasks (
    id TEXT{C} NOT NULL PRIMARY KEY,
    group_id TEXT{C} NOT NULL,
    "type" TEXT{C} NOT NULL,
    data_source TEXT{C} NOT NULL,
    created_time TEXT{C} NOT NULL,
    queue_insertion_time TEXT{C} NOT NULL,
    status TEXT{C} NOT NULL,
    runner_status TEXT{C} NOT NULL,
    duration_ms BIGINT NOT NULL,
    error_msg TEXT,
    location TEXT NOT NULL,
    payload TEXT NOT NULL,
    report TEXT,
    opaque_id TEXT,
    updated_time TEXT{C} NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_druid_tasks_created_time ON druid_tasks (created_time);
CREATE INDEX IF NOT EXISTS idx_druid_tasks_status_created_time ON druid_tasks (status, created_time);

CREATE TABLE IF NOT EXISTS druid_tasklogs (
    task_id TEXT{C} NOT NULL,
    seq BIGINT NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (task_id, seq)
);
"#;

/// The tables with `collate` ([`SQLITE_COLLATE`] or [`PG_COLLATE`]) on key-like columns.
pub fn tables(collate: &str) -> String {
    TABLES.replace("{C}", collate)
}

/// `druid_tasklocks`: one row per lock a task holds on an interval of a dataSource.
pub const CREATE_LOCKS: &str = r#"
CREATE TABLE IF NOT EXISTS druid_tasklocks (
    task_id TEXT NOT NULL,
    dataSource TEXT NOT NULL,
    "start" BIGINT NOT NULL,
    "end" BIGINT NOT NULL,
    lock_type TEXT NOT NULL,
    version TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    PRIMARY KEY (task_id, dataSource, "start", "end", lock_type)
);
CREATE INDEX IF NOT EXISTS idx_druid_tasklocks_datasource ON druid_tasklocks (dataSource);
"#;

/// `druid_lookups`: one row per tier and lookup name (Druid's lookups config), the
/// `lookupExtractorFactory` JSON as text. Created on open like the other tables, by both stores.
pub const CREATE_LOOKUPS: &str = r#"
CREATE TABLE IF NOT EXISTS druid_lookups (
    tier TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    factory TEXT NOT NULL,
    updated_time TEXT NOT NULL,
    PRIMARY KEY (tier, name)
);
"#;

/// A pending segment id belongs to one task: two tasks can never be handed the same id.
/// Separate from the tables so that a database holding duplicates from an older release
/// still opens (with a warning).
pub const UNIQUE_PENDING_ID: &str =
    r#"CREATE UNIQUE INDEX IF NOT EXISTS "idx_druid_pendingSegments_id" ON "druid_pendingSegments" (id)"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collation_only_on_key_columns() {
        let sqlite = tables(SQLITE_COLLATE);
        assert!(!sqlite.contains("COLLATE") && !sqlite.contains("{C}"));
        assert!(sqlite.contains("    id TEXT NOT NULL PRIMARY KEY,"));
        let pg = tables(PG_COLLATE);
        assert!(pg.contains(r#"    id TEXT COLLATE "C" NOT NULL PRIMARY KEY,"#));
        assert!(pg.contains("    signature TEXT NOT NULL,"));
        assert_eq!(pg.matches("COLLATE").count(), 24);
    }
}
