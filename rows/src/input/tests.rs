use super::*;
use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use msq_engine::error::MsqError;
use msq_engine::input::*;
use msq_engine::signature::Signature;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata").join(name)
}

fn schema(sig: &str) -> SchemaRef {
    let s: Signature = serde_json::from_str(sig).unwrap();
    s.to_arrow_schema()
}

fn local(files: &[PathBuf]) -> InputSource {
    InputSource::Local(LocalInputSource {
        files: files.iter().map(|p| p.display().to_string()).collect(),
        ..Default::default()
    })
}

fn no_warnings(w: ParseWarning) -> msq_engine::Result<()> {
    panic!("unexpected warning: {w:?}")
}

fn read_all(
    split: &InputSplit,
    schema: SchemaRef,
    batch_size: usize,
) -> (Vec<RecordBatch>, ReadStats, Vec<ParseWarning>) {
    let mut warnings = Vec::new();
    let (batches, stats) = read_split(split, &InputFormat::json(), schema, batch_size, &mut |w| {
        warnings.push(w);
        Ok(())
    })
    .unwrap();
    (batches, stats, warnings)
}

fn strings(batches: &[RecordBatch], col: &str) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b.column_by_name(col).unwrap().as_string::<i32>().clone();
            (0..a.len())
                .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn longs(batches: &[RecordBatch], col: &str) -> Vec<Option<i64>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b.column_by_name(col).unwrap().as_primitive::<Int64Type>().clone();
            (0..a.len())
                .map(|i| a.is_valid(i).then(|| a.value(i)))
                .collect::<Vec<_>>()
        })
        .collect()
}

const WIKI_SIG: &str = r#"[{"name":"time","type":"string"},{"name":"channel","type":"string"},
    {"name":"page","type":"string"},{"name":"metroCode","type":"long"},{"name":"isRobot","type":"string"},
    {"name":"added","type":"long"},{"name":"delta","type":"double"},{"name":"deleted","type":"float"}]"#;

#[test]
fn reads_wikiticker_gz() {
    let path = testdata("wikiticker-2015-09-12-sampled.json.gz");
    let splits = local(std::slice::from_ref(&path)).splits().unwrap();
    assert_eq!(splits.len(), 1);
    let file_size = std::fs::metadata(&path).unwrap().len();
    assert_eq!(splits[0].size_bytes(), file_size);
    let start = std::time::Instant::now();
    let mut reader = open_split(&splits[0], &InputFormat::json(), schema(WIKI_SIG), 4096).unwrap();
    let mut batches = Vec::new();
    while let Some(b) = reader.next_batch(&mut no_warnings) {
        let b = b.unwrap();
        assert!(b.num_rows() > 0 && b.num_rows() <= 4096);
        batches.push(b);
    }
    let elapsed = start.elapsed();
    let stats = reader.stats();
    assert!(reader.next_batch(&mut no_warnings).is_none());
    eprintln!("read wikiticker in {elapsed:?}");
    assert_eq!(stats.rows, 39_244);
    assert_eq!(stats.files, 1);
    assert_eq!(stats.bytes, file_size);
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 39_244);

    let channels = strings(&batches, "channel");
    assert_eq!(
        channels
            .iter()
            .filter(|c| c.as_deref() == Some("#en.wikipedia"))
            .count(),
        11_549
    );
    assert_eq!(longs(&batches, "metroCode").iter().filter(|m| m.is_some()).count(), 427);
    let robots = strings(&batches, "isRobot");
    assert!(robots
        .iter()
        .all(|r| matches!(r.as_deref(), Some("true") | Some("false"))));
    assert!(robots.iter().any(|r| r.as_deref() == Some("true")));
    assert_eq!(
        strings(&batches, "time")[0].as_deref(),
        Some("2015-09-12T00:46:58.771Z")
    );
    assert!(longs(&batches, "added").iter().all(|a| a.is_some()));
    let b = &batches[0];
    assert_eq!(b.column_by_name("delta").unwrap().data_type(), &DataType::Float64);
    assert_eq!(b.column_by_name("deleted").unwrap().data_type(), &DataType::Float32);
}

#[test]
fn reads_small_file_in_small_batches() {
    let split = InputSplit::file(testdata("wikipedia-sampled-2.json"), 1);
    let sig = r#"[{"name":"timestamp","type":"string"},{"name":"page","type":"string"},{"name":"added","type":"long"},{"name":"deltaBucket","type":"double"}]"#;
    let (batches, stats, warnings) = read_all(&split, schema(sig), 3);
    assert!(warnings.is_empty());
    assert_eq!(batches.iter().map(|b| b.num_rows()).collect::<Vec<_>>(), vec![3, 3, 1]);
    assert_eq!(stats.rows, 7);
    assert_eq!(
        stats.bytes,
        std::fs::metadata(testdata("wikipedia-sampled-2.json")).unwrap().len()
    );
    assert!(strings(&batches, "page").iter().all(|p| p.is_some()));
}

#[test]
fn unparsable_line_is_reported_and_skipped() {
    let path = testdata("wikipedia-sampled-unparsable.json");
    let split = local(std::slice::from_ref(&path)).splits().unwrap().remove(0);
    let sig = r#"[{"name":"timestamp","type":"string"},{"name":"isRobot","type":"string"}]"#;
    for batch_size in [1, 2, 1000] {
        let (batches, stats, warnings) = read_all(&split, schema(sig), batch_size);
        assert_eq!(stats.rows, 2);
        assert_eq!(
            strings(&batches, "timestamp"),
            vec![
                Some("2016-06-27T00:00:11.080Z".into()),
                Some("2016-06-27T02:03:05.240Z".into())
            ]
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let w = &warnings[0];
        assert_eq!(w.line, 2);
        assert_eq!(w.source, path.display().to_string());
        assert!(w.message.starts_with("Unable to parse row [{"), "{}", w.message);
        assert!(w.message.contains("falseUNPARSABLE"), "{}", w.message);
        assert!(w.message.contains(&path.display().to_string()), "{}", w.message);
        assert!(w.message.ends_with(", Record: 2, Line: 2)"), "{}", w.message);
        assert!(w.message.contains("(Path: file:/"), "{}", w.message);
        assert!(matches!(w.to_error(), MsqError::CannotParseExternalData { .. }));
    }
}

#[test]
fn warning_callback_error_aborts() {
    let split = InputSplit::file(testdata("wikipedia-sampled-unparsable.json"), 1);
    let sig = r#"[{"name":"timestamp","type":"string"}]"#;
    let mut reader = open_split(&split, &InputFormat::json(), schema(sig), 100).unwrap();
    let mut abort = |w: ParseWarning| Err(w.to_error());
    match reader.next_batch(&mut abort) {
        Some(Err(MsqError::CannotParseExternalData { message })) => {
            assert!(message.contains("Unable to parse row"), "{message}")
        }
        other => panic!("expected abort, got {other:?}"),
    }
    assert!(reader.next_batch(&mut abort).is_none());
}

#[test]
fn inline_data_and_value_semantics() {
    let data = "\u{feff}{\"s\":\"a\",\"n\":1,\"d\":1.5,\"b\":true,\"arr\":[\"x\",1]}\n\
                \n   \n\
                {\"s\":12,\"n\":\"42\",\"d\":\"2.5\",\"extra\":{\"deep\":1}}\r\n\
                {\"s\":false,\"n\":\"abc\",\"d\":null,\"arr\":\"scalar\"}\n\
                {\"n\":7.9,\"s\":{\"obj\":1}}\n\
                [1,2]\n\
                {\"n\":1} {\"n\":2}\n\
                {\"n\":3";
    let src: InputSource = serde_json::from_value(serde_json::json!({"type":"inline","data":data})).unwrap();
    let splits = src.splits().unwrap();
    assert_eq!(splits.len(), 1);
    assert_eq!(splits[0].describe(), "inline");
    let sig = r#"[{"name":"s","type":"string"},{"name":"n","type":"long"},{"name":"d","type":"double"},
        {"name":"b","type":"string"},{"name":"arr","type":"ARRAY<STRING>"},{"name":"missing","type":"long"}]"#;
    let (batches, stats, warnings) = read_all(&splits[0], schema(sig), 1024);
    assert_eq!(stats.rows, 4);
    assert_eq!(stats.bytes, data.len() as u64);
    assert_eq!(
        strings(&batches, "s"),
        vec![Some("a".into()), Some("12".into()), Some("false".into()), None]
    );
    assert_eq!(longs(&batches, "n"), vec![Some(1), Some(42), None, Some(7)]);
    assert_eq!(strings(&batches, "b"), vec![Some("true".into()), None, None, None]);
    assert!(longs(&batches, "missing").iter().all(Option::is_none));
    let arr = batches[0].column_by_name("arr").unwrap().as_list::<i32>();
    assert_eq!(
        arr.value(0).as_string::<i32>().iter().collect::<Vec<_>>(),
        vec![Some("x"), Some("1")]
    );
    assert!(arr.is_null(2));
    let lines: Vec<u64> = warnings.iter().map(|w| w.line).collect();
    assert_eq!(lines, vec![7, 8, 9]);
    assert!(warnings.iter().all(|w| w.source == "inline"));
    assert_eq!(warnings[0].message, "Unable to parse row [[1,2]] (Record: 5, Line: 7)");
    assert_eq!(
        warnings[2].message,
        "Unable to parse row [{\"n\":3] (Record: 5, Line: 9)"
    );
}

#[test]
fn long_rows_are_truncated_in_messages() {
    let bad = format!("{{\"a\":\"{}\" oops}}", "é".repeat(3000));
    let split = InputSplit::inline(bad.as_str());
    let (_, _, warnings) = read_all(&split, schema(r#"[{"name":"a","type":"string"}]"#), 10);
    assert_eq!(warnings.len(), 1);
    let row = warnings[0].message.strip_prefix("Unable to parse row [").unwrap();
    let row = &row[..row.find("] (Record").unwrap()];
    assert_eq!(row.chars().count(), 1000);
}

#[test]
fn compressed_files_are_decompressed() {
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..500).map(|i| format!("{{\"x\":{i},\"y\":\"v{i}\"}}\n")).collect();
    let gz = dir.path().join("a.json.gz");
    {
        // Two gzip members, as concatenated .gz files are.
        let mut f = std::fs::File::create(&gz).unwrap();
        for half in [&rows[..rows.len() / 2 + 3], &rows[rows.len() / 2 + 3..]] {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(half.as_bytes()).unwrap();
            f.write_all(&e.finish().unwrap()).unwrap();
        }
    }
    let bz = dir.path().join("a.json.bz2");
    {
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        e.write_all(rows.as_bytes()).unwrap();
        std::fs::write(&bz, e.finish().unwrap()).unwrap();
    }
    let zst = dir.path().join("a.json.zst");
    std::fs::write(&zst, zstd::encode_all(rows.as_bytes(), 3).unwrap()).unwrap();
    let xz = dir.path().join("a.json.XZ");
    {
        let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
        e.write_all(rows.as_bytes()).unwrap();
        std::fs::write(&xz, e.finish().unwrap()).unwrap();
    }
    let plain = dir.path().join("a.json");
    std::fs::write(&plain, &rows).unwrap();
    let sig = schema(r#"[{"name":"x","type":"long"},{"name":"y","type":"string"}]"#);
    for path in [&gz, &bz, &zst, &xz, &plain] {
        let split = local(std::slice::from_ref(path)).splits().unwrap().remove(0);
        let (batches, stats, warnings) = read_all(&split, sig.clone(), 128);
        assert!(warnings.is_empty(), "{path:?}: {warnings:?}");
        assert_eq!(stats.rows, 500, "{path:?}");
        assert_eq!(stats.bytes, std::fs::metadata(path).unwrap().len(), "{path:?}");
        assert_eq!(longs(&batches, "x"), (0..500).map(Some).collect::<Vec<_>>(), "{path:?}");
    }
    let corrupt = dir.path().join("bad.json.gz");
    std::fs::write(&corrupt, b"this is not gzip").unwrap();
    let split = InputSplit::file(&corrupt, 16);
    let mut r = open_split(&split, &InputFormat::json(), sig, 10).unwrap();
    match r.next_batch(&mut no_warnings) {
        Some(Err(MsqError::InputSource { message })) => {
            assert!(message.contains("bad.json.gz"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn base_dir_and_filter() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("sub/deeper")).unwrap();
    std::fs::write(dir.path().join("b.json.gz"), b"xx").unwrap();
    std::fs::write(dir.path().join("sub/deeper/a.json.gz"), b"xxxx").unwrap();
    std::fs::write(dir.path().join("sub/c.json"), b"x").unwrap();
    std::fs::write(dir.path().join("empty.json.gz"), b"").unwrap();
    let base = dir.path().display().to_string();
    let src = InputSource::from_json(&format!(
        r#"{{"type":"local","baseDir":"{base}","filter":"*.json.gz"}}"#
    ))
    .unwrap();
    let splits = src.splits().unwrap();
    let names: Vec<String> = splits.iter().map(|s| s.describe()).collect();
    assert_eq!(
        names,
        vec![format!("{base}/b.json.gz"), format!("{base}/sub/deeper/a.json.gz")]
    );
    assert_eq!(
        splits.iter().map(InputSplit::size_bytes).collect::<Vec<_>>(),
        vec![2, 4]
    );

    // A listed file with the name of a baseDir match is read once.
    let src = InputSource::Local(LocalInputSource {
        base_dir: Some(base.clone()),
        filter: Some("*.json*".into()),
        files: vec![format!("{base}/sub/c.json")],
    });
    assert_eq!(src.splits().unwrap().len(), 3);

    let src = InputSource::from_json(&format!(r#"{{"type":"local","baseDir":"{base}","filter":"*.csv"}}"#)).unwrap();
    match src.splits() {
        Err(MsqError::InputSource { message }) => {
            assert_eq!(message, format!("No files found for baseDir[{base}] and filter[*.csv]"))
        }
        other => panic!("{other:?}"),
    }
    let src = InputSource::from_json(r#"{"type":"local","baseDir":"/no/such/dir","filter":"*"}"#).unwrap();
    assert!(matches!(src.splits(), Err(MsqError::InputSource { message }) if message.contains("/no/such/dir")));
}

#[test]
fn missing_file_is_an_input_source_error() {
    let src = local(&[
        testdata("wikipedia-sampled-2.json"),
        PathBuf::from("/no/such/file.json"),
    ]);
    match src.splits() {
        Err(MsqError::InputSource { message }) => {
            assert_eq!(message, "Unable to find file [/no/such/file.json]")
        }
        other => panic!("{other:?}"),
    }
    let split = InputSplit::file("/no/such/other.json", 10);
    match open_split(&split, &InputFormat::json(), schema("[]"), 10) {
        Err(MsqError::InputSource { message }) => assert!(message.contains("/no/such/other.json")),
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("opened a missing file"),
    }
}

#[test]
fn source_json_round_trip_and_validation() {
    let text = r#"{"type":"local","files":["/a.json","/b.json"],"systemFields":[]}"#;
    let src: InputSource = serde_json::from_str(text).unwrap();
    assert_eq!(
        serde_json::to_string(&src).unwrap(),
        r#"{"type":"local","files":["/a.json","/b.json"]}"#
    );
    let src = InputSource::from_json(r#"{"filter":"*.gz","baseDir":"/d","type":"local"}"#).unwrap();
    assert_eq!(
        serde_json::to_string(&src).unwrap(),
        r#"{"type":"local","baseDir":"/d","filter":"*.gz"}"#
    );
    let src = InputSource::from_json(r#"{"type":"inline","data":"{\"a\":1}"}"#).unwrap();
    assert_eq!(
        serde_json::to_string(&src).unwrap(),
        r#"{"type":"inline","data":"{\"a\":1}"}"#
    );
    assert_eq!(src.type_name(), "inline");

    match InputSource::from_json(r#"{"type":"hdfs","paths":["/x/y.json"]}"#) {
        Err(MsqError::Validation(m)) => {
            assert_eq!(
                m,
                "Unsupported inputSource type [hdfs]; supported types are [local, inline, http, s3]"
            )
        }
        other => panic!("{other:?}"),
    }
    let e = serde_json::from_str::<InputSource>(r#"{"type":"google"}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("[google]") && e.contains("local, inline, http, s3"), "{e}");
    assert!(matches!(InputSource::from_json(r#"{"data":"x"}"#), Err(MsqError::Validation(m)) if m.contains("'type'")));
    assert!(
        matches!(InputSource::from_json(r#"{"type":"local"}"#), Err(MsqError::Validation(m)) if m.contains("baseDir"))
    );
    assert!(
        matches!(InputSource::from_json(r#"{"type":"local","baseDir":"/x"}"#), Err(MsqError::Validation(m)) if m.contains("filter"))
    );
    assert!(
        matches!(InputSource::from_json(r#"{"type":"inline"}"#), Err(MsqError::Validation(m)) if m.contains("data"))
    );
}

#[test]
fn format_json_round_trip() {
    let f: InputFormat = serde_json::from_str(r#"{"type":"json"}"#).unwrap();
    assert_eq!(
        serde_json::to_string(&f).unwrap(),
        r#"{"type":"json","flattenSpec":null,"featureSpec":{},"keepNullColumns":false}"#
    );
    let f = InputFormat::from_json(r#"{"type":"json","keepNullColumns":true,"featureSpec":{"ALLOW_COMMENTS":true},"whatever":1,"assumeNewlineDelimited":true}"#).unwrap();
    assert_eq!(
        serde_json::to_string(&f).unwrap(),
        r#"{"type":"json","flattenSpec":null,"featureSpec":{"ALLOW_COMMENTS":true},"keepNullColumns":true,"assumeNewlineDelimited":true}"#
    );
    match InputFormat::from_json(r#"{"type":"avro_ocf"}"#) {
        Err(MsqError::Validation(m)) => assert_eq!(
            m,
            "Unsupported inputFormat type [avro_ocf]; supported types are [json, csv, tsv, parquet]"
        ),
        other => panic!("{other:?}"),
    }
    let flat = InputFormat::from_json(r#"{"type":"json","flattenSpec":{"useFieldDiscovery":true,"fields":[{"type":"path","name":"x","expr":"$.a.b"}]}}"#).unwrap();
    assert!(matches!(
        open_split(&InputSplit::inline("{}"), &flat, schema("[]"), 1),
        Err(MsqError::QueryNotSupported(_))
    ));
    let discovery =
        InputFormat::from_json(r#"{"type":"json","flattenSpec":{"useFieldDiscovery":true,"fields":[]}}"#).unwrap();
    assert!(open_split(&InputSplit::inline("{}"), &discovery, schema("[]"), 1).is_ok());
}

#[test]
fn assign_splits_balances_by_size() {
    let split = |n: &str, size| InputSplit::file(n, size);
    let splits = vec![
        split("a", 10),
        split("b", 70),
        split("c", 20),
        split("d", 40),
        split("e", 30),
        split("f", 30),
    ];
    let parts = assign_splits(splits.clone(), 3, None);
    let names: Vec<Vec<String>> = parts
        .iter()
        .map(|p| p.iter().map(InputSplit::describe).collect())
        .collect();
    // b(70)->0, d(40)->1, e(30)->2, f(30)->2 (60), c(20)->1 (60), a(10)->1? no: loads 70,60,60 -> 1 (70)
    assert_eq!(names, vec![vec!["b"], vec!["a", "c", "d"], vec!["e", "f"]]);
    let loads: Vec<u64> = parts
        .iter()
        .map(|p| p.iter().map(InputSplit::size_bytes).sum())
        .collect();
    assert_eq!(loads, vec![70, 70, 60]);
    assert_eq!(assign_splits(splits.clone(), 3, None), parts, "deterministic");

    let parts = assign_splits(splits[..2].to_vec(), 4, None);
    assert_eq!(parts.iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 1, 0, 0]);
    assert_eq!(assign_splits(vec![], 2, None), vec![vec![], vec![]]);
    assert_eq!(assign_splits(splits.clone(), 0, None).len(), 1);

    // Zero-size splits still spread by count.
    let zeros: Vec<InputSplit> = (0..4).map(|i| split(&i.to_string(), 0)).collect();
    assert_eq!(
        assign_splits(zeros, 2, None).iter().map(Vec::len).collect::<Vec<_>>(),
        vec![2, 2]
    );

    // A per-worker cap moves splits elsewhere while there is room.
    let skewed = vec![
        split("big", 1000),
        split("s1", 1),
        split("s2", 1),
        split("s3", 1),
        split("s4", 1),
    ];
    let parts = assign_splits(skewed.clone(), 2, Some(3));
    assert_eq!(parts.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 3]);
    let parts = assign_splits(skewed, 2, Some(1));
    assert_eq!(parts.iter().map(Vec::len).sum::<usize>(), 5, "nothing is dropped");
}

#[test]
fn split_serde() {
    let s = InputSplit::inline("abc");
    let j = serde_json::to_string(&s).unwrap();
    assert_eq!(j, r#"{"kind":{"type":"inline","data":"abc"}}"#);
    assert_eq!(serde_json::from_str::<InputSplit>(&j).unwrap(), s);
    let f = InputSplit::file("/x.json", 5);
    assert_eq!(
        serde_json::from_str::<InputSplit>(&serde_json::to_string(&f).unwrap()).unwrap(),
        f
    );
    assert_eq!(f.uri().as_deref(), Some("file:/x.json"));
}

#[test]
fn schema_from_arrow_fields() {
    // Readers accept any schema the signature gives, including projections.
    let s = Arc::new(Schema::new(vec![Field::new("channel", DataType::Utf8, true)]));
    let split = InputSplit::file(testdata("wikiticker-2015-09-12-sampled.json.gz"), 1);
    let mut r = open_split(&split, &InputFormat::json(), s, 100_000).unwrap();
    let b = r.next_batch(&mut no_warnings).unwrap().unwrap();
    assert_eq!(b.num_rows(), 39_244);
    assert_eq!(b.num_columns(), 1);
    assert!(r.next_batch(&mut no_warnings).is_none());
}
