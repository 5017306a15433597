//! The shared metadata store suite against PostgreSQL, when `MSQ_TEST_POSTGRES_URL` names a
//! server (scripts/ci-services.sh starts one). Each test gets its own schema, dropped after.

use super::*;
use crate::store_tests::{store_suite, Fixture};
use std::sync::Arc;

const SKIP: &str =
    "skipping PostgreSQL metadata tests: MSQ_TEST_POSTGRES_URL not set (scripts/ci-services.sh starts one)";

/// A fresh schema on the test server, and a store whose connections use it.
struct PgFixture {
    url: String,
    schema_url: String,
    schema: String,
    store: Option<Arc<dyn MetadataStore>>,
}

/// `url` with `search_path` set to `schema` through the `options` parameter.
fn with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

impl PgFixture {
    fn new() -> Option<Self> {
        let Ok(url) = std::env::var("MSQ_TEST_POSTGRES_URL") else {
            println!("{SKIP}");
            return None;
        };
        let schema = format!("msq_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = Client::connect(&url, NoTls).expect("connect to MSQ_TEST_POSTGRES_URL");
        admin.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
        let schema_url = with_search_path(&url, &schema);
        let store: Arc<dyn MetadataStore> = Arc::new(PostgresMetadataStore::connect(&schema_url).unwrap());
        Some(PgFixture {
            url,
            schema_url,
            schema,
            store: Some(store),
        })
    }
}

impl Fixture for PgFixture {
    fn store(&self) -> Arc<dyn MetadataStore> {
        self.store.clone().expect("open")
    }

    fn reopen(&self) -> Arc<dyn MetadataStore> {
        Arc::new(PostgresMetadataStore::connect(&self.schema_url).unwrap())
    }
}

impl Drop for PgFixture {
    fn drop(&mut self) {
        self.store = None;
        if let Ok(mut admin) = Client::connect(&self.url, NoTls) {
            let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
        }
    }
}

store_suite!(PgFixture::new());

#[test]
fn tables_land_in_the_chosen_schema_and_connect_is_idempotent() {
    let Some(fx) = PgFixture::new() else { return };
    // Connecting again to an initialised schema is fine (tables exist).
    let again = PostgresMetadataStore::connect(&fx.schema_url).unwrap();
    again.append_task_log("t", "x").unwrap();
    let mut admin = Client::connect(&fx.url, NoTls).unwrap();
    let tables: Vec<String> = admin
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
            &[&fx.schema],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        tables,
        vec![
            "druid_lookups",
            "druid_pendingSegments",
            "druid_segments",
            "druid_tasklocks",
            "druid_tasklogs",
            "druid_tasks"
        ]
    );
    assert_eq!(fx.store().task_log("t").unwrap(), "x\n");
}

#[test]
fn text_ordering_is_bytewise_like_sqlite() {
    let Some(fx) = PgFixture::new() else { return };
    let store = fx.store();
    // Upper case sorts before lower case bytewise ("C"), unlike most locales.
    for ds in ["b", "B", "a", "_x"] {
        store.insert_pending_segments("t", &[]).unwrap();
        let d = Interval::new(0, 1000);
        let seg = SegmentRecord {
            id: SegmentId::new(ds, d, "v1", 0),
            used: true,
            is_tombstone: true,
            num_rows: 0,
            size_bytes: 0,
            path: String::new(),
            signature: Default::default(),
            min_time: None,
            max_time: None,
            shard_spec: serde_json::json!({"type": "tombstone"}),
            created_date: String::new(),
            used_status_last_updated: String::new(),
        };
        store
            .publish(&SegmentPublish {
                data_source: ds.into(),
                task_id: "t".into(),
                segments: vec![seg],
                replace: None,
                lock: None,
            })
            .unwrap();
    }
    assert_eq!(store.data_sources().unwrap(), vec!["B", "_x", "a", "b"]);
    // Empty dates were filled in with the publish time.
    let s = store.used_segments("a", None).unwrap().remove(0);
    assert!(
        s.created_date.ends_with('Z') && s.created_date.len() == 24,
        "{}",
        s.created_date
    );
}

#[test]
fn bad_urls_and_unreachable_servers_are_metadata_errors() {
    let err = PostgresMetadataStore::connect("postgres://u:secret@127.0.0.1:1/db?nonsense=1").unwrap_err();
    assert!(matches!(err, MsqError::Metadata(_)), "{err:?}");
    assert!(!err.to_string().contains("secret"), "{err}");
    let err = PostgresMetadataStore::connect("postgres://u:secret@127.0.0.1:1/db?connect_timeout=2").unwrap_err();
    assert!(matches!(err, MsqError::Metadata(_)), "{err:?}");
    assert!(err.to_string().contains("cannot connect"), "{err}");
    assert_eq!(redact_url("postgres://u:secret@h:5/db"), "postgres://u:***@h:5/db");
    assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
}
