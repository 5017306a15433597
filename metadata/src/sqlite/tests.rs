//! The shared metadata store suite against SQLite (always available).

use super::*;
use crate::store_tests::{store_suite, Fixture};
use std::sync::Arc;

/// A fresh database file in a temporary directory (in a subdirectory the store creates).
struct SqliteFixture {
    dir: tempfile::TempDir,
    store: Arc<dyn MetadataStore>,
}

impl SqliteFixture {
    fn new() -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteMetadataStore::open(&dir.path().join("meta").join("metadata.db")).unwrap());
        Some(SqliteFixture { dir, store })
    }
}

impl Fixture for SqliteFixture {
    fn store(&self) -> Arc<dyn MetadataStore> {
        self.store.clone()
    }

    fn reopen(&self) -> Arc<dyn MetadataStore> {
        Arc::new(SqliteMetadataStore::open(&self.dir.path().join("meta").join("metadata.db")).unwrap())
    }
}

store_suite!(SqliteFixture::new());

#[test]
fn in_memory_store_is_private_and_usable() {
    let a = SqliteMetadataStore::open_in_memory().unwrap();
    let b = SqliteMetadataStore::open_in_memory().unwrap();
    a.append_task_log("t", "line").unwrap();
    assert_eq!(a.task_log("t").unwrap(), "line\n");
    assert_eq!(b.task_log("t").unwrap(), "");
}
