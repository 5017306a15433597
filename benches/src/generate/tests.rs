use super::*;
use arrow::array::{Array, Int64Array, StringArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::io::Read;

fn source() -> PathBuf {
    crate::default_source(&crate::benches_dir().join(".."))
}

/// A fresh scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("msq-benches-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn json_lines(path: &Path) -> Vec<Value> {
    let mut text = String::new();
    let f = File::open(path).unwrap();
    if path.extension().is_some_and(|e| e == "gz") {
        GzDecoder::new(f).read_to_string(&mut text).unwrap();
    } else {
        BufReader::new(f).read_to_string(&mut text).unwrap();
    }
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn parquet_batches(path: &Path) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

fn strings<'a>(b: &'a RecordBatch, name: &str) -> &'a StringArray {
    b.column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap()
}

fn longs<'a>(b: &'a RecordBatch, name: &str) -> &'a Int64Array {
    b.column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
}

#[test]
fn small_file_has_the_rows_on_one_day() {
    let dir = Scratch::new("small");
    let g = generate(&source(), 100, 42, &dir.0, false).unwrap();
    assert_eq!(g.rows, 100);
    assert_eq!(g.days, 1);
    assert_eq!(
        (g.first_day.as_str(), g.last_day.as_str()),
        ("2015-09-12", "2015-09-12")
    );
    assert_eq!(g.json, dir.0.join("wikipedia-100.json"));
    assert_eq!(g.parquet, dir.0.join("wikipedia-100.parquet"));
    assert_eq!(g.json_bytes, std::fs::metadata(&g.json).unwrap().len());
    assert!(g.parquet_bytes > 0);
    let lines = json_lines(&g.json);
    assert_eq!(lines.len(), 100);
    // Same fields, same order as the sample.
    let keys: Vec<&str> = lines[0].as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(keys, COLUMNS.to_vec());
    assert_eq!(lines[0]["time"], "2015-09-12T00:46:58.771Z");
    assert_eq!(lines[0]["channel"], "#en.wikipedia");
    assert!(lines[0]["isRobot"].is_boolean());
    assert!(lines
        .iter()
        .all(|l| l["time"].as_str().unwrap().starts_with("2015-09-12T")));
    let batches = parquet_batches(&g.parquet);
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 100);
    assert_eq!(batches[0].schema(), parquet_schema());
    // No temporary files left behind: the JSON, the Parquet and the record of the run.
    assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 3);
}

#[test]
fn fifty_thousand_rows_spread_over_two_days_and_match_between_formats() {
    let dir = Scratch::new("fifty");
    let g = generate(&source(), 50_000, 7, &dir.0, true).unwrap();
    assert_eq!((g.rows, g.days), (50_000, 2));
    assert_eq!(g.last_day, "2015-09-13");
    assert!(g.json.to_string_lossy().ends_with("wikipedia-50000.json.gz"));
    let lines = json_lines(&g.json);
    assert_eq!(lines.len(), 50_000);
    let day2 = lines
        .iter()
        .filter(|l| l["time"].as_str().unwrap().starts_with("2015-09-13T"))
        .count();
    assert_eq!(day2, 50_000 - SAMPLE_ROWS);
    // Copy 1 keeps each sample row's time of day and channel.
    for j in [0usize, 1, 5_000, 10_755] {
        let (a, b) = (&lines[j], &lines[SAMPLE_ROWS + j]);
        assert_eq!(a["time"].as_str().unwrap()[10..], b["time"].as_str().unwrap()[10..]);
        assert_eq!(a["channel"], b["channel"]);
        assert_eq!(a["comment"], b["comment"]);
    }
    // Parquet: same rows in the same order, batches of at most BATCH_ROWS.
    let batches = parquet_batches(&g.parquet);
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 50_000);
    let mut i = 0;
    for b in &batches {
        assert!(b.num_rows() <= BATCH_ROWS);
        let (time, user, page, robot, city) = (
            strings(b, "time"),
            strings(b, "user"),
            strings(b, "page"),
            strings(b, "isRobot"),
            strings(b, "cityName"),
        );
        let (added, metro) = (longs(b, "added"), longs(b, "metroCode"));
        for r in 0..b.num_rows() {
            let l = &lines[i];
            assert_eq!(time.value(r), l["time"].as_str().unwrap());
            assert_eq!(user.value(r), l["user"].as_str().unwrap());
            assert_eq!(page.value(r), l["page"].as_str().unwrap());
            assert_eq!(
                robot.value(r),
                if l["isRobot"].as_bool().unwrap() {
                    "true"
                } else {
                    "false"
                }
            );
            assert_eq!(city.is_null(r), l["cityName"].is_null());
            assert_eq!(metro.is_null(r), l["metroCode"].is_null());
            assert_eq!(added.value(r), l["added"].as_i64().unwrap());
            i += 1;
        }
    }
}

#[test]
fn values_vary_within_bounds() {
    let dir = Scratch::new("vary");
    let sample = read_sample(&source()).unwrap();
    assert_eq!(sample.len(), SAMPLE_ROWS);
    let g = generate(&source(), 2 * SAMPLE_ROWS, 3, &dir.0, false).unwrap();
    let lines = json_lines(&g.json);
    let (mut users, mut pages, mut scaled) = (0usize, 0usize, 0usize);
    for (i, l) in lines.iter().enumerate() {
        let (k, s) = (i / SAMPLE_ROWS, &sample[i % SAMPLE_ROWS]);
        let user = l["user"].as_str().unwrap();
        if user != s.user {
            assert_eq!(user, format!("{}~{k}", s.user));
            users += 1;
        }
        let page = l["page"].as_str().unwrap();
        if page != s.page {
            assert_eq!(page, format!("{} ({k})", s.page));
            pages += 1;
        }
        let added = l["added"].as_i64().unwrap();
        assert!(
            added >= s.added / 2 && added <= s.added * 3 / 2,
            "{added} vs {}",
            s.added
        );
        assert!(l["delta"].as_i64().unwrap().signum() * s.delta.signum() >= 0);
        if added != s.added {
            scaled += 1;
        }
    }
    let n = lines.len() as f64;
    assert!((users as f64 / n - 0.25).abs() < 0.02, "users varied: {users}");
    assert!((pages as f64 / n - 0.125).abs() < 0.02, "pages varied: {pages}");
    assert!(scaled as f64 / n > 0.5, "added scaled: {scaled}");
}

#[test]
fn same_seed_same_bytes_other_seed_other_values() {
    let (a, b, c) = (Scratch::new("det-a"), Scratch::new("det-b"), Scratch::new("det-c"));
    for gzip in [false, true] {
        let ga = generate(&source(), 40_000, 99, &a.0, gzip).unwrap();
        let gb = generate(&source(), 40_000, 99, &b.0, gzip).unwrap();
        let gc = generate(&source(), 40_000, 100, &c.0, gzip).unwrap();
        let read = |p: &Path| std::fs::read(p).unwrap();
        assert_eq!(read(&ga.json), read(&gb.json), "gzip={gzip}");
        assert_eq!(read(&ga.parquet), read(&gb.parquet), "gzip={gzip}");
        assert_ne!(read(&ga.json), read(&gc.json));
        assert_ne!(read(&ga.parquet), read(&gc.parquet));
        // Another seed changes values but not the time/channel skeleton.
        let (la, lc) = (json_lines(&ga.json), json_lines(&gc.json));
        assert_eq!(la.len(), lc.len());
        assert!(la
            .iter()
            .zip(&lc)
            .all(|(x, y)| x["time"] == y["time"] && x["channel"] == y["channel"]));
        let differ = |f: &str| la.iter().zip(&lc).filter(|(x, y)| x[f] != y[f]).count();
        assert!(differ("user") > 10_000 && differ("page") > 5_000 && differ("added") > 20_000);
    }
}

#[test]
fn a_missing_source_is_an_error() {
    let dir = Scratch::new("missing");
    assert!(generate(Path::new("/nonexistent/x.json.gz"), 10, 1, &dir.0, false).is_err());
}

#[test]
fn parts_hold_the_same_rows_in_order() {
    let (one, four) = (Scratch::new("parts-1"), Scratch::new("parts-4"));
    for gzip in [false, true] {
        let g1 = generate(&source(), 50_000, 5, &one.0, gzip).unwrap();
        let g4 = generate_parts(&source(), 50_000, 5, &four.0, gzip, 4).unwrap();
        assert_eq!(g1.json_parts, vec![g1.json.clone()]);
        assert_eq!(g4.json, four.0.join("wikipedia-50000-json4"));
        assert_eq!(g4.json_parts.len(), 4);
        let ext = if gzip { "part-3.json.gz" } else { "part-3.json" };
        assert_eq!(g4.json_parts[3], g4.json.join(ext));
        assert_eq!(g1.json_raw_bytes, g4.json_raw_bytes);
        let sizes: u64 = g4.json_parts.iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
        assert_eq!(g4.json_bytes, sizes);
        let all = json_lines(&g1.json);
        let parts: Vec<Vec<Value>> = g4.json_parts.iter().map(|p| json_lines(p)).collect();
        assert!(parts.iter().all(|p| p.len() == 12_500));
        assert_eq!(parts.concat(), all);
        // The Parquet does not depend on the parts.
        assert_eq!(std::fs::read(&g1.parquet).unwrap(), std::fs::read(&g4.parquet).unwrap());
        if !gzip {
            let text: u64 = std::fs::metadata(&g1.json).unwrap().len();
            assert_eq!(g1.json_raw_bytes, text);
        }
        // No temporary files left behind: the parts' directory, the Parquet and a record of
        // each run (with and without gzip).
        assert_eq!(std::fs::read_dir(&four.0).unwrap().count(), if gzip { 4 } else { 3 });
    }
}

#[test]
fn a_finished_generation_is_reused_and_another_seed_regenerates() {
    let dir = Scratch::new("reuse");
    let first = generate_parts(&source(), 45_000, 7, &dir.0, true, 2).unwrap();
    let stamp = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let before: Vec<_> = first.json_parts.iter().map(|p| stamp(p)).collect();
    std::thread::sleep(std::time::Duration::from_millis(20));
    // Same arguments: the same files, not written again.
    let again = generate_parts(&source(), 45_000, 7, &dir.0, true, 2).unwrap();
    assert_eq!(again, first);
    assert_eq!(again.json_parts.iter().map(|p| stamp(p)).collect::<Vec<_>>(), before);
    // Another seed writes new values; a damaged file is written again too.
    let seed7 = std::fs::read(&first.json_parts[0]).unwrap();
    let other = generate_parts(&source(), 45_000, 8, &dir.0, true, 2).unwrap();
    assert_ne!(std::fs::read(&other.json_parts[0]).unwrap(), seed7);
    std::fs::write(&other.parquet, b"damaged").unwrap();
    let fixed = generate_parts(&source(), 45_000, 8, &dir.0, true, 2).unwrap();
    assert_eq!(fixed, other);
    assert_eq!(
        parquet_batches(&fixed.parquet)
            .iter()
            .map(|b| b.num_rows())
            .sum::<usize>(),
        45_000
    );
}
