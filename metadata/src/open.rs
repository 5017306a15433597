//! Choosing a metadata store from a URI.

use crate::postgres::PostgresMetadataStore;
use crate::sqlite::SqliteMetadataStore;
use msq_engine::error::{MsqError, Result};
use msq_engine::metadata::store::MetadataStore;
use std::path::Path;
use std::sync::Arc;

/// Where a metadata store URI points.
#[derive(Debug, Clone, PartialEq, Eq)]
enum StoreLocation<'a> {
    SqliteFile(&'a str),
    SqliteMemory,
    Postgres(&'a str),
}

/// `postgres://…` / `postgresql://…` → PostgreSQL; `sqlite::memory:` → a private in-memory
/// SQLite database; `sqlite://path`, `sqlite:path` or a plain path → a SQLite file. Any other
/// `scheme://` is refused.
fn classify(uri: &str) -> Result<StoreLocation<'_>> {
    let lower = uri.to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        return Ok(StoreLocation::Postgres(uri));
    }
    if lower == "sqlite::memory:" {
        return Ok(StoreLocation::SqliteMemory);
    }
    if lower.starts_with("sqlite:") {
        let rest = &uri["sqlite:".len()..];
        let path = rest.strip_prefix("//").unwrap_or(rest);
        if path.is_empty() {
            return Err(MsqError::Validation(format!("Metadata store URI [{uri}] has no path")));
        }
        return Ok(StoreLocation::SqliteFile(path));
    }
    if let Some((scheme, _)) = uri.split_once("://") {
        return Err(MsqError::Validation(format!(
            "Unsupported metadata store URI scheme [{scheme}]; use a file path, sqlite:PATH or postgres://..."
        )));
    }
    if uri.is_empty() {
        return Err(MsqError::Validation("Metadata store URI is empty".into()));
    }
    Ok(StoreLocation::SqliteFile(uri))
}

/// Opens the metadata store `uri` names (see the accepted forms above), creating its tables
/// (and for SQLite its file and directory) if missing.
pub fn open_store(uri: &str) -> Result<Arc<dyn MetadataStore>> {
    Ok(match classify(uri)? {
        StoreLocation::SqliteFile(path) => Arc::new(SqliteMetadataStore::open(Path::new(path))?),
        StoreLocation::SqliteMemory => Arc::new(SqliteMetadataStore::open_in_memory()?),
        StoreLocation::Postgres(url) => Arc::new(PostgresMetadataStore::connect(url)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_choose_the_store() {
        assert_eq!(
            classify("/var/msq/metadata.db").unwrap(),
            StoreLocation::SqliteFile("/var/msq/metadata.db")
        );
        assert_eq!(classify("meta.db").unwrap(), StoreLocation::SqliteFile("meta.db"));
        assert_eq!(
            classify("sqlite:meta.db").unwrap(),
            StoreLocation::SqliteFile("meta.db")
        );
        assert_eq!(
            classify("sqlite:///abs/meta.db").unwrap(),
            StoreLocation::SqliteFile("/abs/meta.db")
        );
        assert_eq!(classify("sqlite::memory:").unwrap(), StoreLocation::SqliteMemory);
        assert_eq!(
            classify("postgres://u@h/db").unwrap(),
            StoreLocation::Postgres("postgres://u@h/db")
        );
        assert_eq!(
            classify("PostgreSQL://u@h/db").unwrap(),
            StoreLocation::Postgres("PostgreSQL://u@h/db")
        );
        for bad in ["mysql://h/db", "", "sqlite:"] {
            assert!(matches!(classify(bad), Err(MsqError::Validation(_))), "{bad}");
        }
    }

    #[test]
    fn open_store_opens_sqlite_files_and_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("m.db");
        let store = open_store(&format!("sqlite:{}", path.display())).unwrap();
        store.append_task_log("t", "hello").unwrap();
        drop(store);
        assert!(path.exists());
        let again = open_store(&path.display().to_string()).unwrap();
        assert_eq!(again.task_log("t").unwrap(), "hello\n");
        let mem = open_store("sqlite::memory:").unwrap();
        assert_eq!(mem.task_log("t").unwrap(), "");
    }

    #[test]
    fn open_store_connects_to_postgres_when_available() {
        let Ok(url) = std::env::var("MSQ_TEST_POSTGRES_URL") else {
            println!(
                "skipping PostgreSQL metadata tests: MSQ_TEST_POSTGRES_URL not set (scripts/ci-services.sh starts one)"
            );
            return;
        };
        // A schema of its own (dropped after), chosen through the URL's `options`.
        let schema = format!("msq_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
        admin.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
        let sep = if url.contains('?') { '&' } else { '?' };
        let store = open_store(&format!("{url}{sep}options=-c%20search_path%3D{schema}")).unwrap();
        store.append_task_log("t", "pg").unwrap();
        assert_eq!(store.task_log("t").unwrap(), "pg\n");
        drop(store);
        let n: i64 = admin
            .query_one(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1",
                &[&schema],
            )
            .unwrap()
            .get(0);
        assert_eq!(n, 6); // segments, pendingSegments, tasks, tasklogs, tasklocks, lookups
        admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).unwrap();
    }
}
