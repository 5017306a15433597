//! Cluster storage end to end: the `s3` EXTERN input source against a local S3-compatible
//! server (moto), and ingestion with deep storage on S3 and the metadata store on PostgreSQL.
//!
//! The servers come from scripts/ci-services.sh (`MSQ_TEST_S3_ENDPOINT`,
//! `MSQ_TEST_POSTGRES_URL`); without them the tests print why and skip.

mod common;

use common::pg::PgSchema;
use common::s3::{moto_settings, new_bucket};
use common::*;
use flate2::write::GzEncoder;
use futures::TryStreamExt;
use msq_controller::Overlord;
use msq_engine::metadata::MetadataStore;
use msq_metadata::open_store;
use msq_rows::storage::open_deep_storage_with;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::Arc;

/// The moto endpoint, or `None` after printing why the test is skipped.
fn moto() -> Option<String> {
    match std::env::var("MSQ_TEST_S3_ENDPOINT") {
        Ok(e) => Some(e),
        Err(_) => {
            println!("skipping S3 test: MSQ_TEST_S3_ENDPOINT not set (scripts/ci-services.sh starts one)");
            None
        }
    }
}

/// The same, as the `properties` of an `s3` input source.
fn s3_properties(endpoint: &str) -> Value {
    json!({"accessKeyId": "testing", "secretAccessKey": "testing", "endpointUrl": endpoint, "region": "us-east-1"})
}

async fn put(store: &Arc<dyn ObjectStore>, key: &str, data: Vec<u8>) {
    store.put(&ObjectPath::from(key), PutPayload::from(data)).await.unwrap();
}

fn gzip(text: &str) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

/// Row count and SUM(added) of the raw sample, read with serde_json.
fn expected_count_and_added() -> (i64, i64) {
    let rows = wiki_rows();
    let added: i64 = rows.iter().map(|r| r["added"].as_i64().unwrap()).sum();
    (rows.len() as i64, added)
}

/// The wikipedia INSERT of `insert_wikipedia_sql`, reading from `input_source`.
fn insert_sql(ds: &str, input_source: &Value) -> String {
    format!(
        r#"INSERT INTO {ds}
SELECT TIME_PARSE("time") AS __time, channel, page, "user", added, deleted, delta, cityName, countryName, isRobot, metroCode
FROM TABLE(EXTERN('{source}', '{{"type":"json"}}',
  '[{{"name":"time","type":"string"}},{{"name":"channel","type":"string"}},{{"name":"page","type":"string"}},{{"name":"user","type":"string"}},{{"name":"added","type":"long"}},{{"name":"deleted","type":"long"}},{{"name":"delta","type":"long"}},{{"name":"cityName","type":"string"}},{{"name":"countryName","type":"string"}},{{"name":"isRobot","type":"string"}},{{"name":"metroCode","type":"long"}}]'))
PARTITIONED BY HOUR
CLUSTERED BY channel"#,
        source = input_source
    )
}

async fn count_and_added(e: &Overlord, ds: &str) -> (i64, i64) {
    let rows = select(e, &format!("SELECT COUNT(*), SUM(added) FROM {ds}"), json!({})).await;
    (rows[0][0].as_i64().unwrap(), rows[0][1].as_i64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_uri_of_gzipped_wikipedia_ingests_every_row() {
    let Some(endpoint) = moto() else { return };
    let (bucket, store) = new_bucket(&endpoint, "wiki").await;
    put(&store, "wiki.json.gz", std::fs::read(wiki_path()).unwrap()).await;
    let t = engine();
    let source =
        json!({"type": "s3", "uris": [format!("s3://{bucket}/wiki.json.gz")], "properties": s3_properties(&endpoint)});
    let (_, outcome, report) = run_ok(&t.engine, &insert_sql("wiki_s3", &source), json!({})).await;
    let (rows, added) = expected_count_and_added();
    assert_eq!(rows, 39_244);
    assert_eq!(outcome.rows_written, 39_244);
    assert_eq!(count_and_added(&t.engine, "wiki_s3").await, (rows, added));
    // The report prints the input source back as given.
    let text = report.to_string();
    assert!(text.contains(&format!("s3://{bucket}/wiki.json.gz")), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_prefixes_over_several_objects_split_across_workers() {
    let Some(endpoint) = moto() else { return };
    let (bucket, store) = new_bucket(&endpoint, "parts").await;
    // The sample cut into 5 gzipped parts of different sizes, plus objects the spec must skip:
    // an empty one (prefix listings skip empty objects) and one the glob excludes.
    let rows = wiki_rows();
    let lines: Vec<String> = rows.iter().map(|r| Value::Object(r.clone()).to_string()).collect();
    let cuts = [0, 1_000, 9_000, 20_000, 30_000, lines.len()];
    for (i, w) in cuts.windows(2).enumerate() {
        let text: String = lines[w[0]..w[1]].iter().map(|l| format!("{l}\n")).collect();
        put(&store, &format!("in/wiki/part-{i}.json.gz"), gzip(&text)).await;
    }
    put(&store, "in/wiki/empty.json.gz", Vec::new()).await;
    put(&store, "in/wiki/README.txt", b"not json".to_vec()).await;
    put(&store, "in/other/x.json.gz", gzip(&lines[0])).await;

    let t = engine();
    let source = json!({"type": "s3", "prefixes": [format!("s3://{bucket}/in/wiki/")], "objectGlob": "**.json.gz",
        "properties": s3_properties(&endpoint)});
    let (_, outcome, report) = run_ok(&t.engine, &insert_sql("wiki_parts", &source), json!({"maxNumTasks": 3})).await;
    let (count, added) = expected_count_and_added();
    assert_eq!(outcome.rows_written as i64, count);
    assert_eq!(count_and_added(&t.engine, "wiki_parts").await, (count, added));

    // Per-channel counts match too.
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for r in &rows {
        *expected.entry(r["channel"].as_str().unwrap().to_string()).or_default() += 1;
    }
    let got: BTreeMap<String, i64> = select(
        &t.engine,
        "SELECT channel, COUNT(*) FROM wiki_parts GROUP BY channel",
        json!({}),
    )
    .await
    .into_iter()
    .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_i64().unwrap()))
    .collect();
    assert_eq!(got, expected);

    // The 5 parts (and only they) were read: the input counters count files and stored bytes.
    let mut sizes = 0u64;
    for i in 0..5 {
        sizes += store
            .head(&ObjectPath::from(format!("in/wiki/part-{i}.json.gz")))
            .await
            .unwrap()
            .size;
    }
    let (files, bytes) = input_files_and_bytes(&report);
    assert_eq!((files, bytes), (5, sizes), "report: {report:#}");
}

/// Sums the `files` and `bytes` of every worker's external input counters of stage 0.
fn input_files_and_bytes(report: &Value) -> (u64, u64) {
    let counters = &report["multiStageQuery"]["payload"]["counters"]["0"];
    let (mut files, mut bytes) = (0, 0);
    for worker in counters.as_object().expect("stage 0 counters").values() {
        if let Some(input) = worker.get("input0") {
            files += input["files"]
                .as_array()
                .map_or(0, |a| a.iter().filter_map(Value::as_u64).sum());
            bytes += input["bytes"]
                .as_array()
                .map_or(0, |a| a.iter().filter_map(Value::as_u64).sum());
        }
    }
    (files, bytes)
}

impl PgSchema {
    /// Rows of `druid_segments` with `used = true`, counted by the server.
    fn used_segment_rows(&self) -> i64 {
        let (u, s) = (self.url.clone(), self.schema.clone());
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&u, postgres::NoTls).unwrap();
            c.query_one(&format!("SELECT COUNT(*) FROM {s}.druid_segments WHERE used"), &[])
                .unwrap()
                .get(0)
        })
        .join()
        .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_with_s3_deep_storage_and_postgres_metadata_reads_back() {
    let Some(endpoint) = moto() else { return };
    let (bucket, raw) = new_bucket(&endpoint, "deep").await;
    let deep = open_deep_storage_with(&format!("s3://{bucket}/druid/segments/"), &moto_settings(&endpoint)).unwrap();
    let pg = PgSchema::create();
    let dir = tempfile::tempdir().unwrap();
    let metadata: Arc<dyn MetadataStore> = match &pg {
        Some(pg) => open_store(&pg.store_url()).unwrap(),
        None => open_store(&dir.path().join("metadata.db").display().to_string()).unwrap(),
    };
    let e = Overlord::open(dir.path(), metadata.clone(), deep).unwrap();

    let (_, outcome, _) = run_ok(&e, &insert_wikipedia_sql("wiki_cluster"), json!({"maxNumTasks": 2})).await;
    assert_eq!(outcome.rows_written, 39_244);
    assert_eq!(count_and_added(&e, "wiki_cluster").await, expected_count_and_added());

    // Every used, non-tombstone segment is an object under the deep storage prefix, and
    // nothing else is there.
    let used = metadata.used_segments("wiki_cluster", None).unwrap();
    assert_eq!(used.iter().map(|s| s.num_rows).sum::<u64>(), 39_244);
    let expected_keys: BTreeSet<String> = used
        .iter()
        .filter(|s| !s.is_tombstone)
        .map(|s| format!("druid/segments/{}", s.path.trim_start_matches('/')))
        .collect();
    let keys: BTreeSet<String> = raw
        .list(Some(&ObjectPath::from("druid/segments")))
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap();
    assert!(!expected_keys.is_empty());
    assert!(
        expected_keys.is_subset(&keys),
        "missing: {:?}",
        expected_keys.difference(&keys)
    );
    if let Some(pg) = &pg {
        assert_eq!(pg.used_segment_rows(), used.len() as i64);
        // The task and its report live in PostgreSQL too.
        let tasks = metadata.list_tasks(&Default::default()).unwrap();
        assert_eq!(tasks.len(), 2, "the INSERT and the SELECT");
        assert!(tasks.iter().all(|t| t.status == "SUCCESS" && t.report.is_some()));
    }

    // A second engine over the same stores (a restart) sees the data.
    let e2 = Overlord::open(
        dir.path(),
        match &pg {
            Some(pg) => open_store(&pg.store_url()).unwrap(),
            None => open_store(&dir.path().join("metadata.db").display().to_string()).unwrap(),
        },
        open_deep_storage_with(&format!("s3://{bucket}/druid/segments"), &moto_settings(&endpoint)).unwrap(),
    )
    .unwrap();
    let rows = select(
        &e2,
        "SELECT COUNT(*) FROM wiki_cluster WHERE channel = '#en.wikipedia'",
        json!({}),
    )
    .await;
    assert_eq!(rows, vec![vec![json!(11_549)]]);
}
