//! Listing and reading the `s3` input source against the moto server of
//! scripts/ci-services.sh when `MSQ_TEST_S3_ENDPOINT` is set.

use super::*;
use crate::input::{read_split, ListSplits};
use msq_engine::input::{InputFormat, InputSource};
use msq_engine::signature::{ColumnSignature, ColumnType, Signature};
use object_store::{ObjectStoreExt, PutPayload};
use serde_json::{json, Value};
use std::io::Write;

fn s3(v: Value) -> S3InputSource {
    match InputSource::from_value(&v).unwrap() {
        InputSource::S3(s) => *s,
        other => panic!("not s3: {other:?}"),
    }
}

/// The moto endpoint, or `None` after printing why the test is skipped.
fn moto() -> Option<String> {
    match std::env::var("MSQ_TEST_S3_ENDPOINT") {
        Ok(e) => Some(e),
        Err(_) => {
            println!("skipping S3 input source test: MSQ_TEST_S3_ENDPOINT not set (scripts/ci-services.sh starts one)");
            None
        }
    }
}

fn properties(endpoint: &str) -> Value {
    json!({"accessKeyId": "testing", "secretAccessKey": "testing", "endpointUrl": endpoint, "region": "us-east-1"})
}

/// A new bucket holding `objects`.
fn bucket_with(endpoint: &str, objects: &[(&str, Vec<u8>)]) -> String {
    let bucket = format!("input-{}", uuid::Uuid::new_v4().simple());
    let status = io::run({
        let url = format!("{endpoint}/{bucket}");
        async move { reqwest::Client::new().put(url).send().await.map(|r| r.status()) }
    })
    .unwrap()
    .unwrap();
    assert!(status.is_success(), "create bucket: {status}");
    let opts = s3(json!({"type": "s3", "uris": ["s3://x/y"], "properties": properties(endpoint)}))
        .connection_options()
        .unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(crate::storage::s3_store(&bucket, &opts).unwrap());
    for (key, data) in objects {
        let (store, path, payload) = (
            store.clone(),
            ObjectPath::parse(*key).unwrap(),
            PutPayload::from(data.clone()),
        );
        io::run(async move { store.put(&path, payload).await })
            .unwrap()
            .unwrap();
    }
    bucket
}

fn gz(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

fn json_lines(from: i64, to: i64) -> String {
    (from..to)
        .map(|i| format!("{{\"n\":{i},\"s\":\"row{i}\"}}\n"))
        .collect()
}

fn sum_n(splits: &[InputSplit]) -> (usize, i64) {
    let sig = Signature(vec![ColumnSignature {
        name: "n".into(),
        column_type: ColumnType::Long,
    }]);
    let format = InputFormat::from_json(r#"{"type":"json"}"#).unwrap();
    let (mut rows, mut sum) = (0, 0);
    for split in splits {
        let (batches, stats) = read_split(split, &format, sig.to_arrow_schema(), 1000, &mut |w| {
            panic!("unexpected parse warning {w:?}")
        })
        .unwrap();
        assert_eq!(stats.bytes, split.size_bytes(), "stored bytes of {}", split.describe());
        for b in batches {
            let col = b.column(0).as_any().downcast_ref::<arrow::array::Int64Array>().unwrap();
            rows += col.len();
            sum += col.iter().map(|v| v.unwrap()).sum::<i64>();
        }
    }
    (rows, sum)
}

#[test]
fn uris_objects_and_prefixes_list_and_read_from_moto() {
    let Some(endpoint) = moto() else { return };
    let bucket = bucket_with(
        &endpoint,
        &[
            ("data/a.json", json_lines(0, 10).into_bytes()),
            ("data/b.json.gz", gz(&json_lines(10, 3000))),
            ("data/sub/c.json", json_lines(3000, 3005).into_bytes()),
            ("data/empty.json", Vec::new()),
            ("data-other/d.json", json_lines(5000, 5001).into_bytes()),
            ("notes.txt", b"not json".to_vec()),
        ],
    );
    let props = properties(&endpoint);

    // uris: one split each, sized by HEAD, gzip chosen by extension.
    let splits = s3(json!({"type": "s3", "uris": [format!("s3://{bucket}/data/b.json.gz"), format!("s3://{bucket}/data/a.json")], "properties": props}))
        .splits()
        .unwrap();
    assert_eq!(
        splits.iter().map(|s| s.describe()).collect::<Vec<_>>(),
        vec![
            format!("s3://{bucket}/data/b.json.gz"),
            format!("s3://{bucket}/data/a.json")
        ]
    );
    assert_eq!(splits[1].size_bytes(), json_lines(0, 10).len() as u64);
    assert_eq!(sum_n(&splits), (3000, (0..3000).sum()));

    // prefixes: plain key prefixes (`data` also matches `data-other/`), empty objects skipped.
    let splits = s3(json!({"type": "s3", "prefixes": [format!("s3://{bucket}/data")], "properties": props}))
        .splits()
        .unwrap();
    let keys: Vec<String> = splits.iter().map(|s| s.describe()).collect();
    assert_eq!(
        keys,
        ["data-other/d.json", "data/a.json", "data/b.json.gz", "data/sub/c.json"]
            .iter()
            .map(|k| format!("s3://{bucket}/{k}"))
            .collect::<Vec<_>>()
    );
    assert_eq!(sum_n(&splits), (3006, (0..3005).sum::<i64>() + 5000));

    // A directory prefix with a glob on the whole key.
    let splits = s3(json!({"type": "s3", "prefixes": [format!("s3://{bucket}/data/")], "objectGlob": "data/*.json", "properties": props}))
        .splits()
        .unwrap();
    assert_eq!(
        splits.iter().map(|s| s.describe()).collect::<Vec<_>>(),
        vec![format!("s3://{bucket}/data/a.json")]
    );

    // objects, with the glob filtering them.
    let splits = s3(json!({"type": "s3", "objects": [
            {"bucket": bucket, "path": "data/sub/c.json"}, {"bucket": bucket, "path": "notes.txt"}],
        "objectGlob": "**.json", "properties": props}))
    .splits()
    .unwrap();
    assert_eq!(splits.len(), 1);
    assert_eq!(sum_n(&splits), (5, (3000..3005).sum()));

    // A prefix matching nothing lists nothing (Druid reads no rows).
    let splits = s3(json!({"type": "s3", "prefixes": [format!("s3://{bucket}/nothing/")], "properties": props}))
        .splits()
        .unwrap();
    assert!(splits.is_empty());
}

#[test]
fn missing_objects_and_buckets_are_input_source_errors() {
    let Some(endpoint) = moto() else { return };
    let bucket = bucket_with(&endpoint, &[("a.json", b"{}".to_vec())]);
    let props = properties(&endpoint);
    let err = s3(json!({"type": "s3", "uris": [format!("s3://{bucket}/missing.json")], "properties": props}))
        .splits()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        MsqError::InputSource {
            message: format!("Object [s3://{bucket}/missing.json] does not exist")
        }
        .to_string()
    );
    let err = s3(json!({"type": "s3", "prefixes": ["s3://no-such-bucket-msq/x/"], "properties": props}))
        .splits()
        .unwrap_err();
    assert!(
        matches!(&err, MsqError::InputSource { message } if message.starts_with("Unable to list objects under prefix [s3://no-such-bucket-msq/x/]")),
        "{err:?}"
    );
    // Reading a split whose object went away fails when opened.
    let split = InputSplit {
        kind: SplitKind::S3 {
            bucket: bucket.clone(),
            key: "gone.json".into(),
            size: 10,
            options: s3(json!({"type": "s3", "uris": ["s3://x/y"], "properties": props}))
                .connection_options()
                .unwrap(),
        },
    };
    let err = sum_n_result(&split).unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("Object [s3://{bucket}/gone.json] does not exist")),
        "{err}"
    );
}

fn sum_n_result(split: &InputSplit) -> Result<usize> {
    let sig = Signature(vec![ColumnSignature {
        name: "n".into(),
        column_type: ColumnType::Long,
    }]);
    let format = InputFormat::from_json(r#"{"type":"json"}"#).unwrap();
    let (batches, _) = read_split(split, &format, sig.to_arrow_schema(), 1000, &mut |_| Ok(()))?;
    Ok(batches.iter().map(|b| b.num_rows()).sum())
}

#[test]
fn parquet_objects_are_read_with_ranged_gets() {
    let Some(endpoint) = moto() else { return };
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::record_batch::RecordBatch;
    let schema = Arc::new(Schema::new(vec![
        Field::new("n", DataType::Int64, false),
        Field::new("s", DataType::Utf8, false),
    ]));
    let mut buf = Vec::new();
    {
        let props = parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(1000))
            .build();
        let mut w = parquet::arrow::ArrowWriter::try_new(&mut buf, schema.clone(), Some(props)).unwrap();
        for start in (0..5000i64).step_by(1000) {
            let n = Int64Array::from_iter_values(start..start + 1000);
            let s = StringArray::from_iter_values((start..start + 1000).map(|i| format!("row{i}")));
            w.write(&RecordBatch::try_new(schema.clone(), vec![Arc::new(n), Arc::new(s)]).unwrap())
                .unwrap();
        }
        w.close().unwrap();
    }
    let bucket = bucket_with(&endpoint, &[("p/data.parquet", buf.clone())]);
    let splits = s3(
        json!({"type": "s3", "uris": [format!("s3://{bucket}/p/data.parquet")], "properties": properties(&endpoint)}),
    )
    .splits()
    .unwrap();
    assert_eq!(splits[0].size_bytes(), buf.len() as u64);
    let sig = Signature(vec![ColumnSignature {
        name: "n".into(),
        column_type: ColumnType::Long,
    }]);
    let format = InputFormat::from_json(r#"{"type":"parquet"}"#).unwrap();
    let (batches, stats) = read_split(&splits[0], &format, sig.to_arrow_schema(), 700, &mut |_| Ok(())).unwrap();
    assert_eq!(stats.rows, 5000);
    let sum: i64 = batches
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .values()
                .to_vec()
        })
        .sum();
    assert_eq!(sum, (0..5000).sum::<i64>());
}
