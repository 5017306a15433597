//! Scales Druid's wikipedia sample (39,244 edits of 2015-09-12) to any number of rows.
//!
//! Row `i` is sample row `i % 39,244` of copy `k = i / 39,244`; copy `k` lands on
//! 2015-09-12 + k days at the same time of day, so N rows cover `ceil(N / 39,244)` days
//! (the last day partially, from midnight on). Within each copy, values vary
//! deterministically from `(seed, k, row)` with a splitmix64 generator:
//!
//! * `user`: one row in 4 gets the suffix `~<k>` (so distinct users grow with the copies);
//! * `page`: one row in 8 gets the suffix ` (<k>)`;
//! * `added`, `deleted`, `delta`: multiplied by the same factor in `[0.50, 1.50]`
//!   (integer arithmetic, truncated toward zero).
//!
//! Everything else is the sample's. Output is streamed: the JSON is written line by line and
//! the Parquet in record batches of [`BATCH_ROWS`] rows; only the 39,244 sample rows are held in
//! memory. Files are written under a temporary name and renamed when complete.

use crate::prng::SplitMix64;
use arrow::array::{ArrayRef, Int64Builder, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use chrono::{Days, NaiveDate};
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression as ParquetCompression;
use parquet::file::properties::WriterProperties;
use serde_json::Value;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows in the wikiticker sample.
pub const SAMPLE_ROWS: usize = 39_244;
/// The sample's only day; copy `k` lands on this day + k.
pub const SAMPLE_DATE: (i32, u32, u32) = (2015, 9, 12);
/// Rows per Parquet record batch.
pub const BATCH_ROWS: usize = 65_536;

/// The files [`generate`] (or [`generate_parts`]) wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedData {
    /// `wikipedia-<N>.json` or `wikipedia-<N>.json.gz` (newline-delimited JSON); with several
    /// parts, the directory `wikipedia-<N>-json<P>/` holding them.
    pub json: PathBuf,
    /// The JSON file(s), in row order: `[json]` for one part, else
    /// `wikipedia-<N>-json<P>/part-<i>.json[.gz]`, part `i` holding rows
    /// `i*N/P .. (i+1)*N/P`.
    pub json_parts: Vec<PathBuf>,
    /// Bytes of JSON text before compression (all parts).
    pub json_raw_bytes: u64,
    /// `wikipedia-<N>.parquet`, the same rows.
    pub parquet: PathBuf,
    /// Rows in each file (= the `rows` asked for).
    pub rows: usize,
    /// Days covered: `ceil(rows / 39,244)`, the first being 2015-09-12.
    pub days: usize,
    /// First and last day covered, `YYYY-MM-DD`.
    pub first_day: String,
    pub last_day: String,
    /// Size on disk of the JSON (all parts; compressed size when gzipped) and of the Parquet file.
    pub json_bytes: u64,
    pub parquet_bytes: u64,
}

/// Column order of both outputs: the sample's own field order.
pub const COLUMNS: [&str; 20] = [
    "time",
    "channel",
    "cityName",
    "comment",
    "countryIsoCode",
    "countryName",
    "isAnonymous",
    "isMinor",
    "isNew",
    "isRobot",
    "isUnpatrolled",
    "metroCode",
    "namespace",
    "page",
    "regionIsoCode",
    "regionName",
    "user",
    "delta",
    "added",
    "deleted",
];

/// The Parquet schema: strings for text and booleans (`"true"`/`"false"`, as msq-rs ingests
/// them with `"type":"string"`), Int64 for `metroCode`, `delta`, `added`, `deleted`; `time` is
/// the ISO-8601 string (peers and msq-rs parse it themselves).
pub fn parquet_schema() -> SchemaRef {
    let fields = COLUMNS
        .iter()
        .map(|&name| {
            let (ty, nullable) = match name {
                "metroCode" => (DataType::Int64, true),
                "delta" | "added" | "deleted" => (DataType::Int64, false),
                "cityName" | "countryIsoCode" | "countryName" | "regionIsoCode" | "regionName" => {
                    (DataType::Utf8, true)
                }
                _ => (DataType::Utf8, false),
            };
            Field::new(name, ty, nullable)
        })
        .collect::<Vec<_>>();
    Arc::new(Schema::new(fields))
}

/// One sample row, parsed once.
#[derive(Debug, Clone)]
struct SampleRow {
    /// The part of `time` after the date, e.g. `T00:46:58.771Z`.
    time_of_day: String,
    channel: String,
    comment: String,
    namespace: String,
    page: String,
    user: String,
    /// cityName, countryIsoCode, countryName, regionIsoCode, regionName.
    geo: [Option<String>; 5],
    /// isAnonymous, isMinor, isNew, isRobot, isUnpatrolled.
    flags: [bool; 5],
    metro_code: Option<i64>,
    delta: i64,
    added: i64,
    deleted: i64,
}

/// One output row (borrowing the unchanged parts of its sample row).
struct OutRow<'a> {
    time: String,
    user: std::borrow::Cow<'a, str>,
    page: std::borrow::Cow<'a, str>,
    delta: i64,
    added: i64,
    deleted: i64,
    src: &'a SampleRow,
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn read_sample(source: &Path) -> io::Result<Vec<SampleRow>> {
    let file = File::open(source)?;
    let reader: Box<dyn BufRead> = if source.extension().is_some_and(|e| e == "gz") {
        Box::new(BufReader::new(GzDecoder::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    let date_prefix = format!("{:04}-{:02}-{:02}", SAMPLE_DATE.0, SAMPLE_DATE.1, SAMPLE_DATE.2);
    let mut rows = Vec::with_capacity(SAMPLE_ROWS);
    for (n, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(&line).map_err(|e| bad(format!("line {}: {e}", n + 1)))?;
        let s = |k: &str| -> io::Result<String> {
            v[k].as_str()
                .map(str::to_string)
                .ok_or_else(|| bad(format!("line {}: {k} is not a string", n + 1)))
        };
        let opt = |k: &str| v[k].as_str().map(str::to_string);
        let b = |k: &str| v[k].as_bool().unwrap_or(false);
        let l = |k: &str| -> io::Result<i64> {
            v[k].as_i64()
                .ok_or_else(|| bad(format!("line {}: {k} is not an integer", n + 1)))
        };
        let time = s("time")?;
        if !time.starts_with(&date_prefix) || time.len() <= date_prefix.len() {
            return Err(bad(format!("line {}: time {time} is not on {date_prefix}", n + 1)));
        }
        rows.push(SampleRow {
            time_of_day: time[date_prefix.len()..].to_string(),
            channel: s("channel")?,
            comment: s("comment")?,
            namespace: s("namespace")?,
            page: s("page")?,
            user: s("user")?,
            geo: [
                opt("cityName"),
                opt("countryIsoCode"),
                opt("countryName"),
                opt("regionIsoCode"),
                opt("regionName"),
            ],
            flags: [
                b("isAnonymous"),
                b("isMinor"),
                b("isNew"),
                b("isRobot"),
                b("isUnpatrolled"),
            ],
            metro_code: v["metroCode"].as_i64(),
            delta: l("delta")?,
            added: l("added")?,
            deleted: l("deleted")?,
        });
    }
    if rows.is_empty() {
        return Err(bad(format!("{} has no rows", source.display())));
    }
    Ok(rows)
}

fn vary<'a>(src: &'a SampleRow, seed: u64, copy: u64, row: u64, date: &str) -> OutRow<'a> {
    use std::borrow::Cow;
    let mut rng = SplitMix64::for_row(seed, copy, row);
    let user_pick = rng.below(4) == 0;
    let page_pick = rng.below(8) == 0;
    let factor = 50 + rng.below(101) as i64; // percent, 50..=150
    OutRow {
        time: format!("{date}{}", src.time_of_day),
        user: if user_pick {
            Cow::Owned(format!("{}~{copy}", src.user))
        } else {
            Cow::Borrowed(&src.user)
        },
        page: if page_pick {
            Cow::Owned(format!("{} ({copy})", src.page))
        } else {
            Cow::Borrowed(&src.page)
        },
        delta: src.delta * factor / 100,
        added: src.added * factor / 100,
        deleted: src.deleted * factor / 100,
        src,
    }
}

fn json_str(buf: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *buf, s).expect("writing to a Vec cannot fail");
}

fn json_opt(buf: &mut Vec<u8>, s: &Option<String>) {
    match s {
        Some(s) => json_str(buf, s),
        None => buf.extend_from_slice(b"null"),
    }
}

/// Appends one row as a JSON line, in the sample's field order.
fn write_json_line(buf: &mut Vec<u8>, r: &OutRow) {
    let s = r.src;
    let b = |v: bool| if v { "true" } else { "false" };
    buf.extend_from_slice(b"{\"time\":");
    json_str(buf, &r.time);
    buf.extend_from_slice(b",\"channel\":");
    json_str(buf, &s.channel);
    buf.extend_from_slice(b",\"cityName\":");
    json_opt(buf, &s.geo[0]);
    buf.extend_from_slice(b",\"comment\":");
    json_str(buf, &s.comment);
    buf.extend_from_slice(b",\"countryIsoCode\":");
    json_opt(buf, &s.geo[1]);
    buf.extend_from_slice(b",\"countryName\":");
    json_opt(buf, &s.geo[2]);
    let metro = s.metro_code.map_or_else(|| "null".to_string(), |m| m.to_string());
    let line = format!(
        ",\"isAnonymous\":{},\"isMinor\":{},\"isNew\":{},\"isRobot\":{},\"isUnpatrolled\":{},\"metroCode\":{metro},\"namespace\":",
        b(s.flags[0]),
        b(s.flags[1]),
        b(s.flags[2]),
        b(s.flags[3]),
        b(s.flags[4])
    );
    buf.extend_from_slice(line.as_bytes());
    json_str(buf, &s.namespace);
    buf.extend_from_slice(b",\"page\":");
    json_str(buf, &r.page);
    buf.extend_from_slice(b",\"regionIsoCode\":");
    json_opt(buf, &s.geo[3]);
    buf.extend_from_slice(b",\"regionName\":");
    json_opt(buf, &s.geo[4]);
    buf.extend_from_slice(b",\"user\":");
    json_str(buf, &r.user);
    buf.extend_from_slice(
        format!(
            ",\"delta\":{},\"added\":{},\"deleted\":{}}}\n",
            r.delta, r.added, r.deleted
        )
        .as_bytes(),
    );
}

/// Column builders for one Parquet record batch.
struct Batch {
    strings: Vec<StringBuilder>, // every Utf8 column, in COLUMNS order minus the Int64 ones
    metro: Int64Builder,
    delta: Int64Builder,
    added: Int64Builder,
    deleted: Int64Builder,
    len: usize,
}

impl Batch {
    const STRING_COLUMNS: usize = 16;

    fn new() -> Self {
        Batch {
            strings: (0..Self::STRING_COLUMNS)
                .map(|_| StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 16))
                .collect(),
            metro: Int64Builder::with_capacity(BATCH_ROWS),
            delta: Int64Builder::with_capacity(BATCH_ROWS),
            added: Int64Builder::with_capacity(BATCH_ROWS),
            deleted: Int64Builder::with_capacity(BATCH_ROWS),
            len: 0,
        }
    }

    fn push(&mut self, r: &OutRow) {
        let s = r.src;
        let b = |v: bool| if v { "true" } else { "false" };
        let st = &mut self.strings;
        st[0].append_value(&r.time);
        st[1].append_value(&s.channel);
        st[2].append_option(s.geo[0].as_deref());
        st[3].append_value(&s.comment);
        st[4].append_option(s.geo[1].as_deref());
        st[5].append_option(s.geo[2].as_deref());
        for (i, f) in s.flags.iter().enumerate() {
            st[6 + i].append_value(b(*f));
        }
        self.metro.append_option(s.metro_code);
        st[11].append_value(&s.namespace);
        st[12].append_value(&r.page);
        st[13].append_option(s.geo[3].as_deref());
        st[14].append_option(s.geo[4].as_deref());
        st[15].append_value(&r.user);
        self.delta.append_value(r.delta);
        self.added.append_value(r.added);
        self.deleted.append_value(r.deleted);
        self.len += 1;
    }

    fn finish(&mut self, schema: &SchemaRef) -> io::Result<RecordBatch> {
        let mut s = self.strings.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef);
        let mut next = || s.next().expect("16 string columns");
        // COLUMNS order: time, channel, cityName, comment, countryIsoCode, countryName, 5 flags,
        // metroCode, namespace, page, regionIsoCode, regionName, user, delta, added, deleted.
        let mut cols: Vec<ArrayRef> = (0..11).map(|_| next()).collect();
        cols.push(Arc::new(self.metro.finish()));
        cols.extend((0..5).map(|_| next()));
        cols.push(Arc::new(self.delta.finish()));
        cols.push(Arc::new(self.added.finish()));
        cols.push(Arc::new(self.deleted.finish()));
        self.len = 0;
        RecordBatch::try_new(schema.clone(), cols).map_err(|e| bad(e.to_string()))
    }
}

enum JsonOut {
    Plain(BufWriter<File>),
    Gzip(Box<GzEncoder<BufWriter<File>>>),
}

impl JsonOut {
    fn write_all(&mut self, b: &[u8]) -> io::Result<()> {
        match self {
            JsonOut::Plain(w) => w.write_all(b),
            JsonOut::Gzip(w) => w.write_all(b),
        }
    }

    fn finish(self) -> io::Result<()> {
        let mut w = match self {
            JsonOut::Plain(w) => w,
            JsonOut::Gzip(w) => (*w).finish()?,
        };
        w.flush()?;
        w.get_ref().sync_all()
    }
}

fn tmp_name(p: &Path) -> PathBuf {
    let mut name = p.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".tmp");
    p.with_file_name(name)
}

/// Writes `rows` rows replicated from the wikiticker sample `source` (`.json` or `.json.gz`)
/// into `out_dir` as `wikipedia-<rows>.json[.gz]` and `wikipedia-<rows>.parquet`; see the
/// module docs for how values vary with `seed`. Same arguments → byte-identical files.
pub fn generate(source: &Path, rows: usize, seed: u64, out_dir: &Path, gzip: bool) -> io::Result<GeneratedData> {
    generate_parts(source, rows, seed, out_dir, gzip, 1)
}

/// Where the JSON goes: one file, or `parts` files in a directory. Written under a `.tmp`
/// name and renamed when complete.
struct JsonLayout {
    /// The file (one part) or the directory of the parts.
    dir: PathBuf,
    paths: Vec<PathBuf>,
    tmp: PathBuf,
    gzip: bool,
}

impl JsonLayout {
    /// The names for `parts` files of `rows` rows in `out_dir`; creates the parts' `.tmp`
    /// directory.
    fn create(out_dir: &Path, rows: usize, parts: usize, gzip: bool) -> io::Result<Self> {
        let ext = if gzip { ".json.gz" } else { ".json" };
        let (dir, paths): (PathBuf, Vec<PathBuf>) = if parts == 1 {
            let p = out_dir.join(format!("wikipedia-{rows}{ext}"));
            (p.clone(), vec![p])
        } else {
            let d = out_dir.join(format!("wikipedia-{rows}-json{parts}"));
            let files = (0..parts).map(|i| d.join(format!("part-{i}{ext}"))).collect();
            (d, files)
        };
        let tmp = tmp_name(&dir);
        if parts > 1 {
            let _ = std::fs::remove_dir_all(&tmp);
            std::fs::create_dir_all(&tmp)?;
        }
        Ok(JsonLayout { dir, paths, tmp, gzip })
    }

    fn parts(&self) -> usize {
        self.paths.len()
    }

    /// Where part `i` is written before the rename.
    fn part_tmp(&self, i: usize) -> PathBuf {
        if self.parts() == 1 {
            self.tmp.clone()
        } else {
            self.tmp.join(self.paths[i].file_name().expect("a file name"))
        }
    }

    fn open(&self, i: usize) -> io::Result<JsonOut> {
        let file = BufWriter::with_capacity(1 << 20, File::create(self.part_tmp(i))?);
        Ok(if self.gzip {
            // GzEncoder's header has mtime 0 and no name: the output is deterministic.
            JsonOut::Gzip(Box::new(GzEncoder::new(file, Compression::fast())))
        } else {
            JsonOut::Plain(file)
        })
    }

    /// Moves the complete output to its final name (replacing an earlier one).
    fn commit(&self) -> io::Result<()> {
        if self.parts() > 1 {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
        std::fs::rename(&self.tmp, &self.dir)
    }

    /// Bytes of the stored (committed) files.
    fn stored_bytes(&self) -> io::Result<u64> {
        let mut bytes = 0;
        for p in &self.paths {
            bytes += std::fs::metadata(p)?.len();
        }
        Ok(bytes)
    }
}

/// The JSON side of the output: rows as lines, buffered, consecutive rows to each part.
struct JsonWriter<'a> {
    layout: &'a JsonLayout,
    rows: usize,
    part: usize,
    out: JsonOut,
    line: Vec<u8>,
    raw_bytes: u64,
    written: usize,
}

impl<'a> JsonWriter<'a> {
    fn open(layout: &'a JsonLayout, rows: usize) -> io::Result<Self> {
        Ok(JsonWriter {
            layout,
            rows,
            part: 0,
            out: layout.open(0)?,
            line: Vec::with_capacity(1 << 16),
            raw_bytes: 0,
            written: 0,
        })
    }

    /// The row count after part `i`.
    fn part_end(&self, i: usize) -> usize {
        (i + 1) * self.rows / self.layout.parts()
    }

    fn flush_lines(&mut self) -> io::Result<()> {
        self.out.write_all(&self.line)?;
        self.raw_bytes += self.line.len() as u64;
        self.line.clear();
        Ok(())
    }

    fn push(&mut self, r: &OutRow) -> io::Result<()> {
        if self.written == self.part_end(self.part) {
            self.flush_lines()?;
            let next = self.layout.open(self.part + 1)?;
            std::mem::replace(&mut self.out, next).finish()?;
            self.part += 1;
        }
        write_json_line(&mut self.line, r);
        if self.line.len() >= 1 << 16 {
            self.flush_lines()?;
        }
        self.written += 1;
        Ok(())
    }

    /// Writes what is buffered and closes the last part; returns the bytes of JSON text.
    fn finish(mut self) -> io::Result<u64> {
        self.flush_lines()?;
        debug_assert!(
            self.rows == 0 || self.part + 1 == self.layout.parts(),
            "every part holds rows"
        );
        self.out.finish()?;
        Ok(self.raw_bytes)
    }
}

/// The Parquet side of the output: rows in record batches of [`BATCH_ROWS`].
struct ParquetOut {
    writer: ArrowWriter<File>,
    schema: SchemaRef,
    batch: Batch,
}

impl ParquetOut {
    fn create(path: &Path) -> io::Result<Self> {
        let schema = parquet_schema();
        let props = WriterProperties::builder()
            .set_compression(ParquetCompression::SNAPPY)
            .set_max_row_group_row_count(Some(1 << 20))
            .build();
        let writer =
            ArrowWriter::try_new(File::create(path)?, schema.clone(), Some(props)).map_err(|e| bad(e.to_string()))?;
        Ok(ParquetOut {
            writer,
            schema,
            batch: Batch::new(),
        })
    }

    fn write_batch(&mut self) -> io::Result<()> {
        let batch = self.batch.finish(&self.schema)?;
        self.writer.write(&batch).map_err(|e| bad(e.to_string()))
    }

    fn push(&mut self, r: &OutRow) -> io::Result<()> {
        self.batch.push(r);
        if self.batch.len == BATCH_ROWS {
            self.write_batch()?;
        }
        Ok(())
    }

    /// Writes the last batch and the footer, and syncs the file.
    fn finish(mut self) -> io::Result<()> {
        if self.batch.len > 0 {
            self.write_batch()?;
        }
        let file = self.writer.into_inner().map_err(|e| bad(e.to_string()))?;
        file.sync_all()
    }
}

/// Day `k` of the generated data (day 0 is the sample's), `YYYY-MM-DD`.
fn day(k: usize) -> String {
    let start = NaiveDate::from_ymd_opt(SAMPLE_DATE.0, SAMPLE_DATE.1, SAMPLE_DATE.2).expect("valid date");
    (start + Days::new(k as u64)).format("%Y-%m-%d").to_string()
}

/// [`generate`] with the JSON split into `parts` files (consecutive rows, the same rows in
/// the same order as with one file) in the directory `wikipedia-<rows>-json<parts>/`, so
/// several workers (and the peers' threads) can read it in parallel. `parts` ≤ 1 is one file.
pub fn generate_parts(
    source: &Path,
    rows: usize,
    seed: u64,
    out_dir: &Path,
    gzip: bool,
    parts: usize,
) -> io::Result<GeneratedData> {
    let sample = read_sample(source)?;
    std::fs::create_dir_all(out_dir)?;
    let manifest = manifest_path(out_dir, rows, parts.clamp(1, rows.max(1)), gzip);
    if let Some(done) = reuse(&manifest, seed, sample.len()) {
        return Ok(done);
    }
    let _ = std::fs::remove_file(&manifest);
    let layout = JsonLayout::create(out_dir, rows, parts.clamp(1, rows.max(1)), gzip)?;
    let parquet_path = out_dir.join(format!("wikipedia-{rows}.parquet"));
    let parquet_tmp = tmp_name(&parquet_path);
    let mut parquet = ParquetOut::create(&parquet_tmp)?;
    let mut json = JsonWriter::open(&layout, rows)?;

    // Copy `k` of the sample is day `k`; the last copy may be cut short.
    let n = sample.len();
    let days = rows.div_ceil(n);
    for k in 0..days {
        let date = day(k);
        let in_copy = n.min(rows - k * n);
        for (j, src) in sample.iter().take(in_copy).enumerate() {
            let r = vary(src, seed, k as u64, j as u64, &date);
            json.push(&r)?;
            parquet.push(&r)?;
        }
    }
    let raw_bytes = json.finish()?;
    parquet.finish()?;
    layout.commit()?;
    std::fs::rename(&parquet_tmp, &parquet_path)?;

    let data = GeneratedData {
        json_bytes: layout.stored_bytes()?,
        json_raw_bytes: raw_bytes,
        parquet_bytes: std::fs::metadata(&parquet_path)?.len(),
        json: layout.dir.clone(),
        json_parts: layout.paths.clone(),
        parquet: parquet_path,
        rows,
        days,
        first_day: day(0),
        last_day: day(days.saturating_sub(1)),
    };
    record(&manifest, &data, seed, sample.len())?;
    Ok(data)
}

/// Where a finished generation is recorded (seed and sizes), next to its files.
fn manifest_path(out_dir: &Path, rows: usize, parts: usize, gzip: bool) -> PathBuf {
    let ext = if gzip { ".gz" } else { "" };
    out_dir.join(format!("wikipedia-{rows}-json{parts}{ext}.done.json"))
}

/// Records a finished generation, so a later run with the same rows, parts, seed and sample
/// reuses its files instead of writing them again (10M rows take minutes).
fn record(manifest: &Path, d: &GeneratedData, seed: u64, sample_rows: usize) -> io::Result<()> {
    let v = serde_json::json!({
        "seed": seed, "sampleRows": sample_rows, "rows": d.rows, "days": d.days,
        "json": d.json, "jsonParts": d.json_parts, "jsonBytes": d.json_bytes, "jsonRawBytes": d.json_raw_bytes,
        "parquet": d.parquet, "parquetBytes": d.parquet_bytes,
    });
    std::fs::write(manifest, v.to_string())
}

/// The recorded generation of `manifest` when it was made with `seed` from a sample of
/// `sample_rows` rows and its files are all there with the recorded sizes.
fn reuse(manifest: &Path, seed: u64, sample_rows: usize) -> Option<GeneratedData> {
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(manifest).ok()?).ok()?;
    if v["seed"].as_u64()? != seed || v["sampleRows"].as_u64()? != sample_rows as u64 {
        return None;
    }
    let path = |v: &serde_json::Value| v.as_str().map(PathBuf::from);
    let json_parts: Vec<PathBuf> = v["jsonParts"].as_array()?.iter().map(path).collect::<Option<_>>()?;
    let parquet = path(&v["parquet"])?;
    let size = |p: &Path| std::fs::metadata(p).ok().map(|m| m.len());
    let json_bytes: u64 = json_parts.iter().map(|p| size(p)).sum::<Option<u64>>()?;
    if json_bytes != v["jsonBytes"].as_u64()? || size(&parquet)? != v["parquetBytes"].as_u64()? {
        return None;
    }
    let rows = v["rows"].as_u64()? as usize;
    let days = v["days"].as_u64()? as usize;
    Some(GeneratedData {
        json: path(&v["json"])?,
        json_parts,
        json_raw_bytes: v["jsonRawBytes"].as_u64()?,
        parquet,
        rows,
        days,
        first_day: day(0),
        last_day: day(days.saturating_sub(1)),
        json_bytes,
        parquet_bytes: v["parquetBytes"].as_u64()?,
    })
}

#[cfg(test)]
mod tests;
