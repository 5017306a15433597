//! One measured line of the suite and the statistics over its runs (median, quantiles, ratios).

use serde_json::{json, Value};

/// One measured line of the suite.
#[derive(Debug, Clone)]
pub struct Measure {
    pub engine: String,
    pub measure: String,
    pub rows: u64,
    /// Bytes the measure reads (JSON text for inserts, the datasource on disk otherwise).
    pub bytes: u64,
    pub runs: usize,
    pub median_s: f64,
    pub min_s: f64,
    pub max_s: f64,
    /// Peak RSS of the process during this measure's runs.
    pub peak_rss_mb: f64,
}

impl Measure {
    pub(crate) fn from_times(
        engine: &str,
        measure: &str,
        rows: u64,
        bytes: u64,
        mut times: Vec<f64>,
        peak_rss_mb: f64,
    ) -> Self {
        times.sort_by(|a, b| a.total_cmp(b));
        Measure {
            engine: engine.into(),
            measure: measure.into(),
            rows,
            bytes,
            runs: times.len(),
            median_s: median(&times),
            min_s: times.first().copied().unwrap_or(f64::NAN),
            max_s: times.last().copied().unwrap_or(f64::NAN),
            peak_rss_mb,
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({"engine": self.engine, "measure": self.measure, "rows": self.rows, "bytes": self.bytes,
               "runs": self.runs, "median_s": self.median_s, "min_s": self.min_s, "max_s": self.max_s,
               "peak_rss_mb": round1(self.peak_rss_mb)})
    }
}

/// Median of sorted values (the mean of the middle two for an even count).
pub(crate) fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The `q`-quantile (0..=1) of sorted values, nearest rank.
pub(crate) fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

pub(crate) fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

pub(crate) fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The peer line for an msq-rs measure (`insert_2_workers` → `insert`).
pub(crate) fn peer_of<'a>(all: &'a [Measure], engine: &str, measure: &str) -> Option<&'a Measure> {
    let key = if measure.starts_with("insert_") {
        "insert"
    } else {
        measure
    };
    all.iter()
        .find(|m| m.engine == engine && m.measure == key && m.median_s.is_finite())
}

pub(crate) fn ratio(m: &Measure, p: Option<&Measure>) -> Option<f64> {
    p.map(|p| m.median_s / p.median_s)
}
