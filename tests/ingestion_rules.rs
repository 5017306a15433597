//! Segment-level ingestion rules (issue 16): every segment follows `rowsPerSegment` even when
//! one clustering key has more rows than that (a partition the key statistics cannot cut is
//! split over several segments, as Druid's partition boost does), and range shard specs carry
//! Druid's `start` / `end` tuples, which bound the values in each segment's file. Expected
//! counts come from the raw sample (`wiki_rows`), not from the engine.

mod common;

use common::*;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The values of `column` in a published segment's file.
async fn segment_values(dir: &std::path::Path, path: &str, column: &str) -> Vec<String> {
    let file = dir.join("segments").join(path);
    let ctx = SessionContext::new();
    let df = ctx
        .read_parquet(file.to_str().unwrap(), ParquetReadOptions::default())
        .await
        .unwrap();
    let batches = df.select_columns(&[column]).unwrap().collect().await.unwrap();
    let mut out = Vec::new();
    for b in &batches {
        let a = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8).unwrap();
        let a = a.as_any().downcast_ref::<arrow::array::StringArray>().unwrap();
        out.extend(a.iter().map(|v| v.unwrap_or_default().to_string()));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_follow_rows_per_segment_and_range_specs_bound_their_rows() {
    let t = engine();
    let e = &t.engine;
    run_ok(e, &insert_wikipedia_sql("wikipedia"), json!({})).await;
    let mut per_channel: BTreeMap<String, u64> = BTreeMap::new();
    for r in wiki_rows() {
        *per_channel
            .entry(r["channel"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let total: u64 = per_channel.values().sum();

    // CLUSTERED BY channel at 500 rows per segment: #en.wikipedia alone has 11,549 rows.
    let (_, o, report) = run_ok(
        e,
        "REPLACE INTO ranged OVERWRITE ALL SELECT __time, channel, page FROM wikipedia PARTITIONED BY DAY CLUSTERED BY channel",
        json!({"rowsPerSegment": 500, "maxNumTasks": 3}),
    )
    .await;
    assert_eq!(o.rows_written, total);
    assert_eq!(
        report["multiStageQuery"]["payload"]["status"]["segmentReport"]["shardSpec"],
        "DimensionRangeShardSpec"
    );
    let mut segs: Vec<_> = o.segments.iter().filter(|s| !s.is_tombstone).collect();
    segs.sort_by_key(|s| s.id.partition_num);
    let n = segs.len();
    assert!(n as u64 >= total.div_ceil(500), "{n} segments");
    assert!(segs.iter().all(|s| s.num_rows <= 500), "a segment over rowsPerSegment");
    assert_eq!(segs.iter().map(|s| s.num_rows).sum::<u64>(), total);

    // Druid's DimensionRangeShardSpec: null start first, null end last, each segment ends
    // where the next starts, and every row's value lies within its segment's bounds (a key
    // split over segments appears at the end of one and the start of the next).
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    for (k, s) in segs.iter().enumerate() {
        let spec = &s.shard_spec;
        assert_eq!(spec["type"], "range");
        assert_eq!(spec["dimensions"], json!(["channel"]));
        assert_eq!(spec["partitionNum"], json!(k));
        assert_eq!(spec["numCorePartitions"], json!(n));
        assert_eq!(spec["start"].is_null(), k == 0, "{spec}");
        assert_eq!(spec["end"].is_null(), k + 1 == n, "{spec}");
        if k + 1 < n {
            assert_eq!(spec["end"], segs[k + 1].shard_spec["start"]);
        }
        let bound = |v: &Value| v.as_array().map(|a| a[0].as_str().unwrap().to_string());
        let (start, end) = (bound(&spec["start"]), bound(&spec["end"]));
        let values = segment_values(t.dir.path(), &s.path, "channel").await;
        assert_eq!(values.len() as u64, s.num_rows);
        for v in values {
            assert!(start.as_deref().is_none_or(|st| st <= v.as_str()), "{v} before {spec}");
            assert!(end.as_deref().is_none_or(|en| v.as_str() <= en), "{v} after {spec}");
            *seen.entry(v).or_default() += 1;
        }
    }
    assert_eq!(seen, per_channel, "every row once, in the right segment");
    // #en.wikipedia's rows span at least ceil(11,549 / 500) = 24 segments.
    let en = segs
        .iter()
        .filter(|s| {
            s.shard_spec["start"] == json!(["#en.wikipedia"]) || s.shard_spec["end"] == json!(["#en.wikipedia"])
        })
        .count() as u64;
    assert!(en >= per_channel["#en.wikipedia"].div_ceil(500), "{en}");

    // The datasource answers as the raw file does.
    let rows = select(e, "SELECT channel, COUNT(*) FROM ranged GROUP BY 1", json!({})).await;
    let got: BTreeMap<String, u64> = rows
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_u64().unwrap()))
        .collect();
    assert_eq!(got, per_channel);
}

/// Worker counts of the stages in a task report.
fn stage_workers(report: &Value) -> Vec<u64> {
    report["multiStageQuery"]["payload"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["workerCount"].as_u64().unwrap_or(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_assignment_auto_takes_the_fewest_workers_the_input_needs() {
    let t = engine();
    let e = &t.engine;
    let wiki = |extra: &str| {
        format!(
            "SELECT channel, COUNT(*) FROM TABLE(EXTERN('{{\"type\":\"local\",\"files\":[\"{}\"]}}', '{{\"type\":\"json\"}}', '[{{\"name\":\"channel\",\"type\":\"string\"}}]')) {extra} GROUP BY 1",
            wiki_path()
        )
    };
    // The 2 MB sample (gzip JSON, weighing 4x its size) is far below 512 MiB: one worker
    // under auto, every allowed worker under max (the default).
    let (_, o, report) = run_ok(e, &wiki(""), json!({"maxNumTasks": 3, "taskAssignment": "auto"})).await;
    assert!(
        stage_workers(&report).iter().all(|&w| w == 1),
        "{:?}",
        stage_workers(&report)
    );
    let auto_rows = o
        .results
        .as_ref()
        .map(|b| b.iter().map(|b| b.num_rows()).sum::<usize>());
    let (_, o, report) = run_ok(e, &wiki(""), json!({"maxNumTasks": 3})).await;
    assert_eq!(stage_workers(&report)[0], 2);
    assert_eq!(
        auto_rows,
        o.results
            .as_ref()
            .map(|b| b.iter().map(|b| b.num_rows()).sum::<usize>())
    );

    // 10,001 files are more than one worker takes (10,000): two workers under auto, although
    // maxNumTasks allows three.
    let dir = tempfile::tempdir().unwrap();
    for i in 0..10_001 {
        std::fs::write(dir.path().join(format!("f{i:05}.json")), format!("{{\"n\":{i}}}\n")).unwrap();
    }
    let sql = format!(
        "SELECT COUNT(*), SUM(n) FROM TABLE(EXTERN('{{\"type\":\"local\",\"baseDir\":\"{}\",\"filter\":\"*.json\"}}', '{{\"type\":\"json\"}}', '[{{\"name\":\"n\",\"type\":\"long\"}}]'))",
        dir.path().display()
    );
    let (_, o, report) = run_ok(e, &sql, json!({"maxNumTasks": 4, "taskAssignment": "auto"})).await;
    assert_eq!(stage_workers(&report)[0], 2, "{:?}", stage_workers(&report));
    let rows = msq_controller::values::rows_json(o.results.as_deref().unwrap_or_default(), 10);
    assert_eq!(rows, vec![json!([10_001, (0..10_001u64).sum::<u64>()])]);
}
