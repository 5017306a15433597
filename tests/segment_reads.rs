//! What a SELECT over a datasource reads, and that reading less never changes an answer:
//! `COUNT(*)` comes from the row counts recorded at publishing when every segment it covers
//! is wholly visible, and string columns, read as views of the segments' dictionary pages,
//! give the raw rows' values. Every expected value is computed from the raw JSON sample.

mod common;

use common::*;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Rows the stages reading the datasource read from segments (table inputs only).
fn segment_rows_read(report: &Value) -> i64 {
    let msq = &report["multiStageQuery"]["payload"];
    let stages = msq["stages"].as_array().expect("stages");
    stages
        .iter()
        .filter(|s| s["definition"]["input"][0]["type"] == "table")
        .map(|s| {
            let n = s["stageNumber"].as_i64().unwrap().to_string();
            msq["counters"][&n]
                .as_object()
                .map(|workers| {
                    workers
                        .values()
                        .filter_map(|w| w["input0"]["rows"].as_array())
                        .flatten()
                        .map(|v| v.as_i64().unwrap())
                        .sum::<i64>()
                })
                .unwrap_or(0)
        })
        .sum()
}

/// Whether any stage reads the datasource's segments.
fn reads_segments(report: &Value) -> bool {
    report["multiStageQuery"]["payload"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["definition"]["input"][0]["type"] == "table")
}

fn text<'a>(r: &'a Map<String, Value>, k: &str) -> &'a str {
    r.get(k).and_then(Value::as_str).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_star_comes_from_segment_row_counts_only_when_every_segment_is_wholly_visible() {
    let t = engine();
    let raw = wiki_rows();
    run_ok(&t.engine, &insert_wikipedia_sql("wiki"), json!({})).await;

    // 24 hourly segments, all visible: the count is the metadata's, nothing is read.
    for workers in [2, 3] {
        let (_, o, report) = run_ok(
            &t.engine,
            "SELECT COUNT(*) AS c FROM wiki",
            json!({"maxNumTasks": workers}),
        )
        .await;
        let rows = msq_controller::values::rows_json(o.results.as_ref().unwrap(), usize::MAX);
        assert_eq!(rows, vec![json!([raw.len()])], "maxNumTasks {workers}");
        assert!(!reads_segments(&report), "no segment needs reading: {report:#}");
    }

    // A filter needs the rows.
    let en = raw.iter().filter(|r| text(r, "channel") == "#en.wikipedia").count();
    let (_, o, report) = run_ok(
        &t.engine,
        "SELECT COUNT(*) FROM wiki WHERE channel = '#en.wikipedia'",
        json!({}),
    )
    .await;
    assert_eq!(
        msq_controller::values::rows_json(o.results.as_ref().unwrap(), 1),
        vec![json!([en])]
    );
    assert_eq!(segment_rows_read(&report), raw.len() as i64);

    // Ten minutes of one hour replaced by minute segments holding only #en.wikipedia:
    // the hour's segment is now partly overshadowed, its recorded count is no longer the
    // visible one, and COUNT(*) reads.
    run_ok(
        &t.engine,
        "REPLACE INTO wiki OVERWRITE WHERE __time >= TIMESTAMP '2015-09-12 05:10:00' AND __time < TIMESTAMP '2015-09-12 05:20:00'
         SELECT * FROM wiki WHERE __time >= TIMESTAMP '2015-09-12 05:10:00' AND __time < TIMESTAMP '2015-09-12 05:20:00'
           AND channel = '#en.wikipedia'
         PARTITIONED BY MINUTE",
        json!({}),
    )
    .await;
    let in_window =
        |r: &Map<String, Value>| text(r, "time") >= "2015-09-12T05:10" && text(r, "time") < "2015-09-12T05:20";
    let expected = raw
        .iter()
        .filter(|r| !in_window(r) || text(r, "channel") == "#en.wikipedia")
        .count();
    assert!(expected < raw.len());
    let (_, o, report) = run_ok(&t.engine, "SELECT COUNT(*) FROM wiki", json!({})).await;
    assert_eq!(
        msq_controller::values::rows_json(o.results.as_ref().unwrap(), 1),
        vec![json!([expected])]
    );
    assert!(reads_segments(&report), "a partly visible segment is read: {report:#}");
    assert!(segment_rows_read(&report) >= expected as i64);

    // A time filter keeps its scan (the filter stays above it) and the answer is exact.
    let hour = raw
        .iter()
        .filter(|r| {
            text(r, "time").starts_with("2015-09-12T05") && (!in_window(r) || text(r, "channel") == "#en.wikipedia")
        })
        .count();
    let (_, o, _) = run_ok(
        &t.engine,
        "SELECT COUNT(*) FROM wiki WHERE __time >= TIMESTAMP '2015-09-12 05:00:00' AND __time < TIMESTAMP '2015-09-12 06:00:00'",
        json!({}),
    )
    .await;
    assert_eq!(
        msq_controller::values::rows_json(o.results.as_ref().unwrap(), 1),
        vec![json!([hour])]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strings_read_as_views_answer_as_the_raw_rows() {
    let t = engine();
    let raw = wiki_rows();
    run_ok(&t.engine, &insert_wikipedia_sql("wiki"), json!({})).await;

    // GROUP BY a string with a sum, ordered: every channel and its total.
    let mut added: HashMap<&str, i64> = HashMap::new();
    for r in &raw {
        *added.entry(text(r, "channel")).or_default() += r["added"].as_i64().unwrap_or(0);
    }
    let mut expected: Vec<(String, i64)> = added.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for workers in [2, 3] {
        let got = select(
            &t.engine,
            "SELECT channel, SUM(added) AS a FROM wiki GROUP BY channel ORDER BY a DESC, channel",
            json!({"maxNumTasks": workers}),
        )
        .await;
        let got: Vec<(String, i64)> = got
            .iter()
            .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_i64().unwrap()))
            .collect();
        assert_eq!(got, expected, "maxNumTasks {workers}");
    }

    // Two string keys, string functions, LIKE and equality on views.
    let mut pairs: HashMap<(String, String), i64> = HashMap::new();
    for r in raw.iter().filter(|r| text(r, "channel").starts_with("#e")) {
        *pairs
            .entry((text(r, "channel").to_uppercase(), text(r, "countryName").to_string()))
            .or_default() += 1;
    }
    let got = select(
        &t.engine,
        "SELECT UPPER(channel) AS ch, COALESCE(countryName, '') AS country, COUNT(*) AS c FROM wiki
         WHERE channel LIKE '#e%' GROUP BY 1, 2",
        json!({"maxNumTasks": 3}),
    )
    .await;
    let got: HashMap<(String, String), i64> = got
        .iter()
        .map(|r| {
            let key = (r[0].as_str().unwrap().to_string(), r[1].as_str().unwrap().to_string());
            (key, r[2].as_i64().unwrap())
        })
        .collect();
    assert_eq!(got, pairs);

    // ORDER BY a long string over every row: the sorted pages, each as many times as it occurs.
    let mut pages: Vec<&str> = raw.iter().map(|r| text(r, "page")).collect();
    pages.sort_unstable();
    let got = select(
        &t.engine,
        "SELECT page FROM wiki ORDER BY page",
        json!({"maxNumTasks": 3}),
    )
    .await;
    let got: Vec<&str> = got.iter().map(|r| r[0].as_str().unwrap()).collect();
    assert_eq!(got.len(), pages.len());
    assert!(got == pages, "pages out of order or changed");
}
