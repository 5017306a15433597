//! Tests of the csv, tsv and parquet formats and the http source.

use super::*;
use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type, SchemaRef};
use arrow::record_batch::RecordBatch;
use msq_engine::error::MsqError;
use msq_engine::input::*;
use msq_engine::signature::Signature;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::sync::Arc;

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata").join(name)
}

fn schema(sig: &str) -> SchemaRef {
    let s: Signature = serde_json::from_str(sig).unwrap();
    s.to_arrow_schema()
}

fn read(
    split: &InputSplit,
    format: &InputFormat,
    schema: SchemaRef,
    batch_size: usize,
) -> msq_engine::Result<(Vec<RecordBatch>, ReadStats, Vec<ParseWarning>)> {
    let mut warnings = Vec::new();
    let (batches, stats) = read_split(split, format, schema, batch_size, &mut |w| {
        warnings.push(w);
        Ok(())
    })?;
    Ok((batches, stats, warnings))
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

fn doubles(batches: &[RecordBatch], col: &str) -> Vec<Option<f64>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b.column_by_name(col).unwrap().as_primitive::<Float64Type>().clone();
            (0..a.len())
                .map(|i| a.is_valid(i).then(|| a.value(i)))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn string_lists(batches: &[RecordBatch], col: &str) -> Vec<Option<Vec<String>>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b.column_by_name(col).unwrap().as_list::<i32>().clone();
            (0..a.len())
                .map(|i| {
                    a.is_valid(i).then(|| {
                        a.value(i)
                            .as_string::<i32>()
                            .iter()
                            .map(|v| v.unwrap().to_string())
                            .collect()
                    })
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

const CSV_SIG: &str = r#"[{"name":"timestamp","type":"string"},{"name":"page","type":"string"},
    {"name":"added","type":"long"},{"name":"delta","type":"double"},{"name":"flags","type":"string"},
    {"name":"notInFile","type":"long"}]"#;

#[test]
fn csv_with_header() {
    let path = testdata("wikipedia-sampled.csv");
    let format = InputFormat::from_json(r#"{"type":"csv","findColumnsFromHeader":true,"skipHeaderRows":1}"#).unwrap();
    let split = InputSplit::file(&path, 1);
    for batch_size in [1, 4, 1000] {
        let (batches, stats, warnings) = read(&split, &format, schema(CSV_SIG), batch_size).unwrap();
        assert_eq!(stats.rows, 6, "batch size {batch_size}");
        assert_eq!(stats.bytes, std::fs::metadata(&path).unwrap().len());
        assert!(batches.iter().all(|b| b.num_rows() <= batch_size && b.num_rows() > 0));
        assert_eq!(
            strings(&batches, "page"),
            vec![
                s("Panama Canal"),
                s("Википедия:Опросы/Унификация шаблонов «Не переведено»"),
                s("Hermanos Díaz, Ascensión"),
                s("Clasificación para la Eurocopa \"2016\""),
                s("El Sicomoro, Ascensión"),
                s("Ibnu Sina"),
            ]
        );
        assert_eq!(
            longs(&batches, "added"),
            vec![Some(496), Some(196), Some(0), Some(4), None, Some(106)]
        );
        assert_eq!(
            doubles(&batches, "delta"),
            vec![Some(496.0), Some(196.0), Some(-1.0), Some(4.0), Some(-1.5), Some(106.0)]
        );
        // Empty unquoted → null, "" → empty string, missing trailing field → null; the
        // list delimiter is kept in STRING columns.
        assert_eq!(
            strings(&batches, "flags"),
            vec![None, s(""), s("MB"), None, s("MB|B"), s("!")]
        );
        assert!(longs(&batches, "notInFile").iter().all(Option::is_none));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let w = &warnings[0];
        assert_eq!(w.line, 7);
        assert_eq!(
            w.message,
            format!(
                "Unable to parse row [2016-06-27T01:02:13.815Z,#zh.wikipedia,\"中共十八大以来的反腐败工作,18,0,18,false,] (Path: file:{}, Record: 5, Line: 7)",
                std::path::absolute(&path).unwrap().display()
            )
        );
    }
}

#[test]
fn csv_with_columns_and_list_delimiter() {
    // Columns given: both the comment and the header line are skipped.
    let format = InputFormat::from_json(
        r#"{"type":"csv","columns":["timestamp","channel","page","added","deleted","delta","isRobot","flags"],
            "skipHeaderRows":2,"listDelimiter":"|"}"#,
    )
    .unwrap();
    let sig = schema(
        r#"[{"name":"flags","type":"ARRAY<STRING>"},{"name":"channel","type":"string"},{"name":"deleted","type":"float"}]"#,
    );
    let (batches, stats, warnings) = read(
        &InputSplit::file(testdata("wikipedia-sampled.csv"), 1),
        &format,
        sig,
        10,
    )
    .unwrap();
    assert_eq!(stats.rows, 6);
    assert_eq!(warnings.len(), 1);
    assert_eq!(
        string_lists(&batches, "flags"),
        vec![
            None,
            Some(vec!["".to_string()]),
            Some(vec!["MB".to_string()]),
            None,
            Some(vec!["MB".to_string(), "B".to_string()]),
            Some(vec!["!".to_string()]),
        ]
    );
    assert_eq!(strings(&batches, "channel")[4], s("#sh.wikipedia"));
    let deleted = batches[0].column_by_name("deleted").unwrap();
    assert_eq!(deleted.data_type(), &DataType::Float32);
    assert_eq!(deleted.as_primitive::<arrow::datatypes::Float32Type>().value(2), 1.0);

    // Without skipping, the header and comment lines are rows (the comment's text lands in
    // the first column; "added" of the header is not a number → null).
    let format = InputFormat::from_json(r#"{"type":"csv","columns":["timestamp","x","y","added"]}"#).unwrap();
    let (batches, stats, _) = read(
        &InputSplit::file(testdata("wikipedia-sampled.csv"), 1),
        &format,
        schema(CSV_SIG),
        10,
    )
    .unwrap();
    assert_eq!(stats.rows, 8);
    assert_eq!(
        strings(&batches, "timestamp")[..2].to_vec(),
        vec![
            s("# wikipedia sample (first 7 edits of wikipedia-sampled-2.json)"),
            s("timestamp")
        ]
    );
    assert_eq!(longs(&batches, "added")[..3].to_vec(), vec![None, None, Some(496)]);
}

#[test]
fn tsv_reads_with_columns() {
    let format =
        InputFormat::from_json(r#"{"type":"tsv","columns":["timestamp","channel","page","added","delta"]}"#).unwrap();
    let sig = schema(
        r#"[{"name":"timestamp","type":"string"},{"name":"channel","type":"string"},{"name":"page","type":"string"},
            {"name":"added","type":"long"},{"name":"delta","type":"long"}]"#,
    );
    let path = testdata("wikipedia-sampled.tsv");
    let (batches, stats, warnings) = read(&InputSplit::file(&path, 1), &format, sig, 3).unwrap();
    assert!(warnings.is_empty());
    assert_eq!(stats.rows, 4);
    assert_eq!(
        batches.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(),
        vec![3, 1]
    );
    assert_eq!(
        strings(&batches, "page"),
        vec![
            s("Panama Canal"),
            s("\"Hermanos Díaz, Ascensión\""),
            s("Clasificación"),
            s("Ibnu Sina")
        ]
    );
    assert_eq!(
        strings(&batches, "channel"),
        vec![s("#en.wikipedia"), s("#sh.wikipedia"), None, s("#id.wikipedia")]
    );
    assert_eq!(longs(&batches, "added"), vec![Some(496), Some(0), Some(4), None]);
    assert_eq!(longs(&batches, "delta"), vec![Some(496), Some(-1), None, None]);

    // A custom delimiter, a header row, and gzip by extension.
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("x.psv.gz");
    {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all("a|b|c\n1|x;y|2.5\n3||\n".as_bytes()).unwrap();
        std::fs::write(&gz, e.finish().unwrap()).unwrap();
    }
    let format =
        InputFormat::from_json(r#"{"type":"tsv","delimiter":"|","findColumnsFromHeader":true,"listDelimiter":";"}"#)
            .unwrap();
    let sig =
        schema(r#"[{"name":"c","type":"double"},{"name":"b","type":"ARRAY<STRING>"},{"name":"a","type":"long"}]"#);
    let (batches, stats, _) = read(&InputSplit::file(&gz, 1), &format, sig, 10).unwrap();
    assert_eq!(stats.rows, 2);
    assert_eq!(doubles(&batches, "c"), vec![Some(2.5), None]);
    assert_eq!(longs(&batches, "a"), vec![Some(1), Some(3)]);
    assert_eq!(
        string_lists(&batches, "b"),
        vec![Some(vec!["x".to_string(), "y".to_string()]), None]
    );
}

#[test]
fn csv_inline_and_bad_header() {
    let format = InputFormat::from_json(r#"{"type":"csv","findColumnsFromHeader":true}"#).unwrap();
    let split = InputSplit::inline("\u{feff}n,s\r\n1,\"a\nb\",x\n2,b\n\n\"3\",\"c\"\"\"");
    let (batches, stats, warnings) = read(
        &split,
        &format,
        schema(r#"[{"name":"n","type":"long"},{"name":"s","type":"string"}]"#),
        10,
    )
    .unwrap();
    assert_eq!(stats.rows, 3);
    assert_eq!(longs(&batches, "n"), vec![None, Some(2), Some(3)]);
    assert_eq!(strings(&batches, "s"), vec![s("x"), s("b"), s("c\"")]);
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].message, "Unable to parse row [1,\"a] (Record: 1, Line: 2)");

    let bad = InputSplit::inline("\"n,s\n1,2\n");
    match read(&bad, &format, schema(r#"[{"name":"n","type":"long"}]"#), 10) {
        Err(MsqError::CannotParseExternalData { message }) => assert!(message.contains("header"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn csv_tsv_parquet_format_json() {
    let round = |text: &str| serde_json::to_string(&InputFormat::from_json(text).unwrap()).unwrap();
    assert_eq!(
        round(r#"{"type":"csv","columns":["a","b"]}"#),
        r#"{"type":"csv","columns":["a","b"]}"#
    );
    assert_eq!(
        round(r#"{"type":"csv","findColumnsFromHeader":true,"skipHeaderRows":2,"listDelimiter":"|"}"#),
        r#"{"type":"csv","listDelimiter":"|","findColumnsFromHeader":true,"skipHeaderRows":2}"#
    );
    assert_eq!(
        round(r#"{"type":"csv","hasHeaderRow":true}"#),
        r#"{"type":"csv","findColumnsFromHeader":true}"#
    );
    assert_eq!(
        round(r#"{"type":"tsv","columns":["a"],"findColumnsFromHeader":false}"#),
        r#"{"type":"tsv","columns":["a"],"delimiter":"\t"}"#
    );
    assert_eq!(
        round(r#"{"type":"tsv","delimiter":"|","findColumnsFromHeader":true}"#),
        r#"{"type":"tsv","delimiter":"|","findColumnsFromHeader":true}"#
    );
    assert_eq!(
        round(r#"{"type":"parquet"}"#),
        r#"{"type":"parquet","binaryAsString":false}"#
    );
    assert_eq!(
        round(r#"{"type":"parquet","binaryAsString":true}"#),
        r#"{"type":"parquet","binaryAsString":true}"#
    );
    let f = InputFormat::from_json(r#"{"type":"tsv","columns":["a"]}"#).unwrap();
    assert_eq!(f.type_name(), "tsv");

    let err = |text: &str| match InputFormat::from_json(text) {
        Err(MsqError::Validation(m)) => m,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        err(r#"{"type":"csv"}"#),
        "Invalid csv inputFormat: Either [columns] or [findColumnsFromHeader] must be set"
    );
    assert!(err(r#"{"type":"csv","findColumnsFromHeader":false}"#).contains("must have your header"));
    assert!(err(r#"{"type":"csv","hasHeaderRow":true,"findColumnsFromHeader":true}"#).contains("Cannot accept both"));
    assert!(err(r#"{"type":"tsv","columns":["a"],"listDelimiter":"\t"}"#).contains("same delimiter"));
    assert!(err(r#"{"type":"csv","columns":["a,b"]}"#).contains("cannot have the delimiter"));
    assert!(err(r#"{"type":"csv","columns":["a"],"skipHeaderRows":-1}"#).contains("skipHeaderRows"));

    let flat = InputFormat::from_json(
        r#"{"type":"parquet","flattenSpec":{"fields":[{"type":"path","name":"x","expr":"$.a"}]}}"#,
    )
    .unwrap();
    assert!(matches!(
        open_split(&InputSplit::file("/x.parquet", 1), &flat, schema("[]"), 1),
        Err(MsqError::QueryNotSupported(_))
    ));
}

/// Writes a small Parquet file of assorted types, in two row groups.
fn write_parquet(path: &std::path::Path) {
    use arrow::array::{
        BinaryArray, BooleanArray, Date32Array, Float64Array, Int32Array, ListBuilder, StringArray, StringBuilder,
        TimestampMicrosecondArray,
    };
    use arrow::datatypes::{Field, Schema, TimeUnit};
    let mut list = ListBuilder::new(StringBuilder::new());
    for row in [vec!["a", "b"], vec![], vec!["c"], vec!["d"], vec!["e", "f", "g"]] {
        if row.is_empty() {
            list.append_null();
        } else {
            for v in row {
                list.values().append_value(v);
            }
            list.append(true);
        }
    }
    let list = list.finish();
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("name", DataType::Utf8, true),
        Field::new("n", DataType::Int32, true),
        Field::new("d", DataType::Float64, true),
        Field::new("flag", DataType::Boolean, true),
        Field::new("raw", DataType::Binary, true),
        Field::new("day", DataType::Date32, true),
        Field::new("tags", list.data_type().clone(), true),
        Field::new("unused", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(
                TimestampMicrosecondArray::from(vec![
                    Some(1_466_985_719_599_123),
                    Some(1_466_985_729_238_000),
                    None,
                    Some(0),
                    Some(1_466_989_340_008_999),
                ])
                .with_timezone("UTC"),
            ),
            Arc::new(StringArray::from(vec![
                Some("Panama Canal"),
                Some("Ibnu Sina"),
                None,
                Some("x"),
                Some("é"),
            ])),
            Arc::new(Int32Array::from(vec![Some(496), Some(-1), Some(7), None, Some(106)])),
            Arc::new(Float64Array::from(vec![
                Some(1.5),
                None,
                Some(-2.25),
                Some(0.0),
                Some(9.0),
            ])),
            Arc::new(BooleanArray::from(vec![
                Some(true),
                Some(false),
                None,
                Some(true),
                Some(false),
            ])),
            Arc::new(BinaryArray::from(vec![
                Some(&b"hi"[..]),
                Some(&b"\xff\xfe"[..]),
                None,
                Some(&b""[..]),
                Some(&b"ok"[..]),
            ])),
            Arc::new(Date32Array::from(vec![Some(16979), Some(0), None, Some(1), Some(-1)])),
            Arc::new(list),
            Arc::new(StringArray::from(vec!["u"; 5])),
        ],
    )
    .unwrap();
    let props = ::parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(3))
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut w = ::parquet::arrow::ArrowWriter::try_new(file, schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

const PARQUET_SIG: &str = r#"[{"name":"ts","type":"long"},{"name":"name","type":"string"},{"name":"n","type":"long"},
    {"name":"d","type":"double"},{"name":"flag","type":"long"},{"name":"raw","type":"string"},{"name":"day","type":"long"},
    {"name":"tags","type":"ARRAY<STRING>"},{"name":"missing","type":"string"},{"name":"d2","type":"string"}]"#;

#[test]
fn parquet_projects_and_casts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wiki.parquet");
    write_parquet(&path);
    let size = std::fs::metadata(&path).unwrap().len();
    let format = InputFormat::from_json(r#"{"type":"parquet"}"#).unwrap();
    let splits = InputSource::from_json(&format!(r#"{{"type":"local","files":["{}"]}}"#, path.display()))
        .unwrap()
        .splits()
        .unwrap();
    let (batches, stats, warnings) = read(&splits[0], &format, schema(PARQUET_SIG), 2).unwrap();
    assert!(warnings.is_empty());
    assert_eq!(
        stats,
        ReadStats {
            rows: 5,
            bytes: size,
            files: 1
        }
    );
    assert!(batches.iter().all(|b| b.num_rows() <= 2));
    assert_eq!(batches[0].schema(), schema(PARQUET_SIG));
    assert_eq!(
        longs(&batches, "ts"),
        vec![
            Some(1_466_985_719_599),
            Some(1_466_985_729_238),
            None,
            Some(0),
            Some(1_466_989_340_008)
        ]
    );
    assert_eq!(
        strings(&batches, "name"),
        vec![s("Panama Canal"), s("Ibnu Sina"), None, s("x"), s("é")]
    );
    assert_eq!(
        longs(&batches, "n"),
        vec![Some(496), Some(-1), Some(7), None, Some(106)]
    );
    assert_eq!(
        doubles(&batches, "d"),
        vec![Some(1.5), None, Some(-2.25), Some(0.0), Some(9.0)]
    );
    assert_eq!(longs(&batches, "flag"), vec![Some(1), Some(0), None, Some(1), Some(0)]);
    // Bytes without binaryAsString: Base64.
    assert_eq!(
        strings(&batches, "raw"),
        vec![s("aGk="), s("//4="), None, s(""), s("b2s=")]
    );
    assert_eq!(
        longs(&batches, "day"),
        vec![
            Some(16979 * 86_400_000),
            Some(0),
            None,
            Some(86_400_000),
            Some(-86_400_000)
        ]
    );
    assert_eq!(
        string_lists(&batches, "tags"),
        vec![
            Some(vec!["a".into(), "b".into()]),
            None,
            Some(vec!["c".into()]),
            Some(vec!["d".into()]),
            Some(vec!["e".into(), "f".into(), "g".into()]),
        ]
    );
    assert!(strings(&batches, "missing").iter().all(Option::is_none));
    assert!(strings(&batches, "d2").iter().all(Option::is_none));

    // binaryAsString: UTF-8 text, invalid UTF-8 → null; numbers read as strings.
    let format = InputFormat::from_json(r#"{"type":"parquet","binaryAsString":true}"#).unwrap();
    let sig = schema(r#"[{"name":"raw","type":"string"},{"name":"n","type":"string"},{"name":"d","type":"long"}]"#);
    let (batches, stats, _) = read(&splits[0], &format, sig, 100).unwrap();
    assert_eq!(stats.rows, 5);
    assert_eq!(strings(&batches, "raw"), vec![s("hi"), None, None, s(""), s("ok")]);
    assert_eq!(strings(&batches, "n"), vec![s("496"), s("-1"), s("7"), None, s("106")]);
    assert_eq!(longs(&batches, "d"), vec![Some(1), None, Some(-2), Some(0), Some(9)]);

    // COUNT(*)-style empty projection still counts rows.
    let (batches, stats, _) = read(&splits[0], &format, schema("[]"), 100).unwrap();
    assert_eq!(stats.rows, 5);
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 5);

    // Not a Parquet file; inline data.
    let bad = dir.path().join("bad.parquet");
    std::fs::write(&bad, b"not parquet at all").unwrap();
    match read(&InputSplit::file(&bad, 1), &format, schema(PARQUET_SIG), 10) {
        Err(MsqError::InputSource { message }) => assert!(message.contains("bad.parquet"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        read(&InputSplit::inline("x"), &format, schema(PARQUET_SIG), 10),
        Err(MsqError::Validation(_))
    ));
}

/// A tiny HTTP/1.1 server on 127.0.0.1 serving `files` at `/plain/<name>` (Content-Length),
/// `/chunked/<name>` (chunked), `/auth/<name>` (basic auth user:secret), `/redirect/<name>`
/// (302 to /plain), `/short/<name>` (connection closed early), `/loop` (endless redirects);
/// anything else is 404. Returns the base URL.
fn serve(files: HashMap<String, Vec<u8>>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let files = Arc::new(files);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let files = files.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let target = request_line.split(' ').nth(1).unwrap_or("/");
                let path = target.split('?').next().unwrap_or("/").to_string();
                let mut auth = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        if k.eq_ignore_ascii_case("authorization") {
                            auth = Some(v.trim().to_string());
                        }
                    }
                }
                let (route, name) = path[1..].split_once('/').unwrap_or((&path[1..], ""));
                let body = files.get(name);
                let mut out: Vec<u8> = Vec::new();
                match (route, body) {
                    ("plain", Some(b)) => {
                        out.extend(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", b.len()).bytes());
                        out.extend(b);
                    }
                    ("auth", Some(b)) if auth.as_deref() == Some("Basic dXNlcjpzZWNyZXQ=") => {
                        out.extend(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", b.len()).bytes());
                        out.extend(b);
                    }
                    ("auth", Some(_)) => out.extend(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"),
                    ("chunked", Some(b)) => {
                        out.extend(
                            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                        );
                        for (i, c) in b.chunks(97).enumerate() {
                            let ext = if i == 1 { ";name=value" } else { "" };
                            out.extend(format!("{:X}{ext}\r\n", c.len()).bytes());
                            out.extend(c);
                            out.extend(b"\r\n");
                        }
                        out.extend(b"0\r\nX-Trailer: 1\r\n\r\n");
                    }
                    ("redirect", Some(_)) => out.extend(
                        format!("HTTP/1.1 302 Found\r\nLocation: /plain/{name}\r\nContent-Length: 0\r\n\r\n").bytes(),
                    ),
                    ("short", Some(b)) => {
                        out.extend(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", b.len() + 100).bytes());
                        out.extend(b);
                    }
                    ("loop", _) => out.extend(b"HTTP/1.1 301 Moved\r\nLocation: loop\r\nContent-Length: 0\r\n\r\n"),
                    _ => out.extend(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"),
                }
                let _ = conn.write_all(&out);
            });
        }
    });
    base
}

const WIKI_SIG: &str = r#"[{"name":"timestamp","type":"string"},{"name":"page","type":"string"},
    {"name":"added","type":"long"},{"name":"deltaBucket","type":"double"}]"#;

#[test]
fn http_source_plain_chunked_redirect_auth() {
    let json = std::fs::read(testdata("wikipedia-sampled-2.json")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&json).unwrap();
    let gz = gz.finish().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("w.parquet");
    write_parquet(&pq);
    let files = HashMap::from([
        ("wikipedia-sampled-2.json".to_string(), json.clone()),
        ("wikipedia-sampled-2.json.gz".to_string(), gz.clone()),
        ("w.parquet".to_string(), std::fs::read(&pq).unwrap()),
        ("w.csv".to_string(), b"a,b\n1,2\n3,\"x\n".to_vec()),
    ]);
    let base = serve(files);

    let (expected, _, _) = read(
        &InputSplit::file(testdata("wikipedia-sampled-2.json"), 1),
        &InputFormat::json(),
        schema(WIKI_SIG),
        100,
    )
    .unwrap();
    let expected_pages = strings(&expected, "page");
    assert_eq!(expected_pages.len(), 7);

    let source = InputSource::from_json(&format!(
        r#"{{"type":"http","uris":["{base}/plain/wikipedia-sampled-2.json","{base}/chunked/wikipedia-sampled-2.json",
            "{base}/redirect/wikipedia-sampled-2.json","{base}/plain/wikipedia-sampled-2.json.gz",
            "{base}/auth/wikipedia-sampled-2.json?x=1"],
            "httpAuthenticationUsername":"user","httpAuthenticationPassword":{{"type":"default","password":"secret"}}}}"#
    ))
    .unwrap();
    let splits = source.splits().unwrap();
    assert_eq!(splits.len(), 5);
    for (i, split) in splits.iter().enumerate() {
        let (batches, stats, warnings) = read(split, &InputFormat::json(), schema(WIKI_SIG), 3).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(stats.rows, 7, "{}", split.describe());
        let stored = if i == 3 { gz.len() } else { json.len() };
        assert_eq!(stats.bytes, stored as u64, "{}", split.describe());
        assert_eq!(strings(&batches, "page"), expected_pages, "{}", split.describe());
        assert_eq!(longs(&batches, "added"), longs(&expected, "added"));
        assert_eq!(doubles(&batches, "deltaBucket"), doubles(&expected, "deltaBucket"));
    }
    assert_eq!(splits[0].uri(), Some(format!("{base}/plain/wikipedia-sampled-2.json")));

    // Plain-string password; wrong password → 401.
    let wrong = InputSource::from_json(&format!(
        r#"{{"type":"http","uris":["{base}/auth/wikipedia-sampled-2.json"],"httpAuthenticationUsername":"user","httpAuthenticationPassword":"nope"}}"#
    ))
    .unwrap();
    match read(&wrong.splits().unwrap()[0], &InputFormat::json(), schema(WIKI_SIG), 10) {
        Err(MsqError::InputSource { message }) => assert_eq!(
            message,
            format!("Unable to fetch [{base}/auth/wikipedia-sampled-2.json]: HTTP status 401 Unauthorized")
        ),
        other => panic!("{other:?}"),
    }

    // 404, endless redirects, a body cut short.
    match read(
        &InputSplit::http(format!("{base}/plain/nope.json")),
        &InputFormat::json(),
        schema(WIKI_SIG),
        10,
    ) {
        Err(MsqError::InputSource { message }) => assert_eq!(
            message,
            format!("Unable to fetch [{base}/plain/nope.json]: HTTP status 404 Not Found")
        ),
        other => panic!("{other:?}"),
    }
    match read(
        &InputSplit::http(format!("{base}/loop")),
        &InputFormat::json(),
        schema(WIKI_SIG),
        10,
    ) {
        Err(MsqError::InputSource { message }) => assert!(message.contains("more than 5 redirects"), "{message}"),
        other => panic!("{other:?}"),
    }
    match read(
        &InputSplit::http(format!("{base}/short/wikipedia-sampled-2.json")),
        &InputFormat::json(),
        schema(WIKI_SIG),
        100,
    ) {
        Err(MsqError::InputSource { message }) => assert!(message.contains("missing"), "{message}"),
        other => panic!("{other:?}"),
    }

    // Parquet and CSV over HTTP.
    let parquet = InputFormat::from_json(r#"{"type":"parquet"}"#).unwrap();
    let (batches, stats, _) = read(
        &InputSplit::http(format!("{base}/chunked/w.parquet")),
        &parquet,
        schema(PARQUET_SIG),
        10,
    )
    .unwrap();
    assert_eq!(stats.rows, 5);
    assert_eq!(strings(&batches, "name")[0], s("Panama Canal"));
    let csv = InputFormat::from_json(r#"{"type":"csv","findColumnsFromHeader":true}"#).unwrap();
    let (batches, stats, warnings) = read(
        &InputSplit::http(format!("{base}/plain/w.csv")),
        &csv,
        schema(r#"[{"name":"b","type":"long"}]"#),
        10,
    )
    .unwrap();
    assert_eq!((stats.rows, warnings.len()), (1, 1));
    assert_eq!(longs(&batches, "b"), vec![Some(2)]);
    assert!(warnings[0]
        .message
        .contains(&format!("(Path: {base}/plain/w.csv, Record: 2, Line: 3)")));
}

#[test]
fn http_source_json_and_validation() {
    let text = r#"{"type":"http","uris":["http://h/a.json"],"httpAuthenticationUsername":"u","httpAuthenticationPassword":"p"}"#;
    let src = InputSource::from_json(text).unwrap();
    assert_eq!(src.type_name(), "http");
    assert_eq!(
        serde_json::to_string(&src).unwrap(),
        r#"{"type":"http","uris":["http://h/a.json"],"httpAuthenticationUsername":"u","httpAuthenticationPassword":{"type":"default","password":"p"}}"#
    );
    let splits = src.splits().unwrap();
    assert_eq!(
        serde_json::to_string(&splits[0]).unwrap(),
        r#"{"kind":{"type":"http","uri":"http://h/a.json","authorization":"Basic dTpw"}}"#
    );
    assert_eq!(
        serde_json::from_str::<InputSplit>(&serde_json::to_string(&splits[0]).unwrap()).unwrap(),
        splits[0]
    );
    assert_eq!(splits[0].size_bytes(), 0);
    assert_eq!(
        serde_json::to_string(&InputSource::from_json(r#"{"type":"http","uris":["http://h/"]}"#).unwrap()).unwrap(),
        r#"{"type":"http","uris":["http://h/"]}"#
    );

    let https = InputSource::from_json(r#"{"type":"http","uris":["https://h/a.json"]}"#).unwrap();
    assert_eq!(https.splits().unwrap()[0].uri(), Some("https://h/a.json".to_string()));
    match InputSource::from_json(r#"{"type":"http","uris":["http://h:port/a.json"]}"#)
        .unwrap()
        .splits()
    {
        Err(MsqError::InputSource { message }) => {
            assert!(message.starts_with("Invalid URI [http://h:port/a.json]"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        InputSource::from_json(r#"{"type":"http","uris":[]}"#),
        Err(MsqError::Validation(m)) if m == "Empty URIs"
    ));
    assert!(matches!(
        InputSource::from_json(r#"{"type":"http","uris":["ftp://h/x"]}"#),
        Err(MsqError::Validation(m)) if m.contains("Only [http, https]")
    ));
    assert!(matches!(
        InputSource::from_json(r#"{"type":"http","uris":["http://h/x"],"httpAuthenticationPassword":{"type":"vault"}}"#),
        Err(MsqError::Validation(m)) if m.contains("vault")
    ));
    let env = InputSource::from_json(
        r#"{"type":"http","uris":["http://h/x"],"httpAuthenticationUsername":"u","httpAuthenticationPassword":{"type":"environment","variable":"MSQ_RS_TEST_SURELY_UNSET_VAR"}}"#,
    )
    .unwrap();
    assert!(
        matches!(env.splits(), Err(MsqError::InputSource { message }) if message.contains("MSQ_RS_TEST_SURELY_UNSET_VAR"))
    );

    // Connection refused is an InputSource error naming the URI.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let uri = format!("http://127.0.0.1:{port}/x.json");
    match read(
        &InputSplit::http(uri.clone()),
        &InputFormat::json(),
        schema(WIKI_SIG),
        10,
    ) {
        Err(MsqError::InputSource { message }) => {
            assert!(message.starts_with(&format!("Unable to fetch [{uri}]")), "{message}")
        }
        other => panic!("{other:?}"),
    }
}
