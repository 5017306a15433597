//! Counters a worker keeps per stage, in the shape of Druid's `counters` report section.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Rows, bytes, frames and files moved through one channel, indexed by partition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelCounters {
    pub rows: Vec<u64>,
    pub bytes: Vec<u64>,
    pub frames: Vec<u64>,
    pub files: Vec<u64>,
    pub total_files: Vec<u64>,
    /// Whether this channel reads files (then `files`/`totalFiles` are reported).
    pub counts_files: bool,
}

fn bump(v: &mut Vec<u64>, i: usize, n: u64) {
    if v.len() <= i {
        v.resize(i + 1, 0);
    }
    v[i] += n;
}

impl ChannelCounters {
    /// Adds one frame (batch) of `rows` rows and `bytes` bytes to partition `p`.
    pub fn add_frame(&mut self, p: usize, rows: u64, bytes: u64) {
        bump(&mut self.rows, p, rows);
        bump(&mut self.bytes, p, bytes);
        bump(&mut self.frames, p, 1);
    }

    /// Adds rows and bytes without counting a frame (external inputs).
    pub fn add_rows(&mut self, p: usize, rows: u64, bytes: u64) {
        bump(&mut self.rows, p, rows);
        bump(&mut self.bytes, p, bytes);
    }

    /// Records that a file was finished.
    pub fn add_file(&mut self, p: usize) {
        self.counts_files = true;
        bump(&mut self.files, p, 1);
    }

    /// Records the total number of files this channel will read.
    pub fn set_total_files(&mut self, p: usize, n: u64) {
        self.counts_files = true;
        if self.total_files.len() <= p {
            self.total_files.resize(p + 1, 0);
        }
        self.total_files[p] = n;
    }

    /// Makes sure partitions `0..n` exist, so empty partitions show as zeros.
    pub fn ensure_partitions(&mut self, n: usize) {
        for v in [&mut self.rows, &mut self.bytes, &mut self.frames] {
            if v.len() < n {
                v.resize(n, 0);
            }
        }
    }

    /// Total rows over all partitions.
    pub fn total_rows(&self) -> u64 {
        self.rows.iter().sum()
    }

    /// Total bytes over all partitions.
    pub fn total_bytes(&self) -> u64 {
        self.bytes.iter().sum()
    }

    /// Druid's `{"type":"channel", ...}` object.
    pub fn to_report_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), json!("channel"));
        let or_zero = |v: &Vec<u64>| if v.is_empty() { json!([0]) } else { json!(v) };
        m.insert("rows".into(), or_zero(&self.rows));
        m.insert("bytes".into(), or_zero(&self.bytes));
        m.insert("frames".into(), or_zero(&self.frames));
        if self.counts_files {
            m.insert("files".into(), or_zero(&self.files));
            m.insert("totalFiles".into(), or_zero(&self.total_files));
        }
        Value::Object(m)
    }

    /// Sums another channel into this one, partition by partition.
    pub fn merge(&mut self, o: &ChannelCounters) {
        for (i, v) in o.rows.iter().enumerate() {
            bump(&mut self.rows, i, *v);
        }
        for (i, v) in o.bytes.iter().enumerate() {
            bump(&mut self.bytes, i, *v);
        }
        for (i, v) in o.frames.iter().enumerate() {
            bump(&mut self.frames, i, *v);
        }
        for (i, v) in o.files.iter().enumerate() {
            bump(&mut self.files, i, *v);
        }
        for (i, v) in o.total_files.iter().enumerate() {
            bump(&mut self.total_files, i, *v);
        }
        self.counts_files |= o.counts_files;
    }
}

/// Progress of the sort a stage does while shuffling (Druid's `sortProgress`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SortProgress {
    /// Sorted runs written so far (level 0 of the merge).
    pub runs: u64,
    /// Runs that went to disk.
    pub spilled_runs: u64,
    /// Runs merged into output partitions.
    pub merged_runs: u64,
    /// Runs written by intermediate merge passes (when more runs were spilled than one merge
    /// may hold open under the memory budget): a level between the first and the last.
    #[serde(default)]
    pub intermediate_runs: u64,
    /// Output partitions produced by the final merge.
    pub partitions: u64,
    pub done: bool,
}

impl SortProgress {
    /// Druid's `{"type":"sortProgress", ...}` object.
    pub fn to_report_json(&self) -> Value {
        let mut levels = if self.runs > 1 { 2 } else { 1 };
        let mut total = Map::new();
        let mut merged = Map::new();
        total.insert("0".into(), json!(self.runs));
        merged.insert("0".into(), json!(if self.done { self.runs } else { self.merged_runs }));
        if levels == 2 && self.intermediate_runs > 0 {
            total.insert("1".into(), json!(self.intermediate_runs));
            merged.insert("1".into(), json!(if self.done { self.intermediate_runs } else { 0 }));
            levels = 3;
        }
        if levels > 1 {
            let last = (levels - 1).to_string();
            total.insert(last.clone(), json!(self.partitions.max(1)));
            merged.insert(last, json!(if self.done { self.partitions.max(1) } else { 0 }));
        }
        let digest = if self.done {
            1.0
        } else if self.runs == 0 {
            0.0
        } else {
            (self.merged_runs as f64 / self.runs as f64).min(0.99)
        };
        json!({
            "type": "sortProgress",
            "totalMergingLevels": levels,
            "levelToTotalBatches": total,
            "levelToMergedBatches": merged,
            "totalMergersForUltimateLevel": self.partitions.max(1),
            "progressDigest": digest,
        })
    }
}

/// Progress of segment generation (Druid's `segmentGenerationProgress`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentGenerationProgress {
    pub rows_processed: u64,
    pub rows_persisted: u64,
    pub rows_merged: u64,
    pub rows_pushed: u64,
}

impl SegmentGenerationProgress {
    /// Druid's `{"type":"segmentGenerationProgress", ...}` object.
    pub fn to_report_json(&self) -> Value {
        json!({
            "type": "segmentGenerationProgress",
            "rowsProcessed": self.rows_processed,
            "rowsPersisted": self.rows_persisted,
            "rowsMerged": self.rows_merged,
            "rowsPushed": self.rows_pushed,
        })
    }
}

/// Everything one worker counts for one stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageCounters {
    pub inputs: Vec<ChannelCounters>,
    pub output: ChannelCounters,
    pub shuffle: Option<ChannelCounters>,
    pub sort_progress: Option<SortProgress>,
    pub segment_generation: Option<SegmentGenerationProgress>,
    /// Warning counts by Druid error code.
    pub warnings: BTreeMap<String, u64>,
}

impl StageCounters {
    /// The counters of input `n`, added (empty) when the stage has not counted it yet.
    pub fn input_mut(&mut self, n: usize) -> &mut ChannelCounters {
        if self.inputs.len() <= n {
            self.inputs.resize(n + 1, Default::default());
        }
        &mut self.inputs[n]
    }

    /// Counters with `n` input channels.
    pub fn with_inputs(n: usize) -> Self {
        StageCounters {
            inputs: vec![ChannelCounters::default(); n],
            ..Default::default()
        }
    }

    /// The per-worker object under `counters[stage][worker]`.
    pub fn to_report_json(&self) -> Value {
        let mut m = Map::new();
        for (i, c) in self.inputs.iter().enumerate() {
            m.insert(format!("input{i}"), c.to_report_json());
        }
        m.insert("output".into(), self.output.to_report_json());
        if let Some(s) = &self.shuffle {
            m.insert("shuffle".into(), s.to_report_json());
        }
        if let Some(s) = &self.sort_progress {
            m.insert("sortProgress".into(), s.to_report_json());
        }
        if let Some(s) = &self.segment_generation {
            m.insert("segmentGenerationProgress".into(), s.to_report_json());
        }
        if !self.warnings.is_empty() {
            let mut w = Map::new();
            w.insert("type".into(), json!("warnings"));
            for (k, v) in &self.warnings {
                w.insert(k.clone(), json!(v));
            }
            m.insert("warnings".into(), Value::Object(w));
        }
        Value::Object(m)
    }
}

/// Counters shared between a worker's operators and whoever reports them.
pub type SharedCounters = Arc<Mutex<StageCounters>>;

/// Runs `f` on the locked counters (never panics on a poisoned lock).
pub fn update<R>(c: &SharedCounters, f: impl FnOnce(&mut StageCounters) -> R) -> R {
    let mut g = c.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut g)
}

/// Bytes of a frame as counters report them: the data the batch's arrays cover (a slice of
/// a larger buffer counts only its part, unlike `RecordBatch::get_array_memory_size`); the
/// same measure the shuffle's memory budget uses.
pub fn frame_bytes(batch: &arrow::record_batch::RecordBatch) -> u64 {
    batch_memory_size(batch) as u64
}

/// Bytes of memory `batch` references, counting only the parts of its buffers its (possibly
/// sliced) arrays use: a slice of a large batch counts its own rows, not the whole buffers.
/// A string view column counts its views and the bytes they point to outside themselves,
/// not the buffers they share with other batches (a segment's dictionary page): what the
/// column takes once compacted (`rows::views::compact`).
pub fn batch_memory_size(batch: &arrow::record_batch::RecordBatch) -> usize {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::DataType;
    batch
        .columns()
        .iter()
        .map(|c| match c.data_type() {
            DataType::Utf8View => view_bytes(c.as_string_view().views(), c.nulls()),
            DataType::BinaryView => view_bytes(c.as_binary_view().views(), c.nulls()),
            t if contains_views(t) => c.get_array_memory_size(),
            _ => c
                .to_data()
                .get_slice_memory_size()
                .unwrap_or_else(|_| c.get_array_memory_size()),
        })
        .sum()
}

/// 16 bytes per view, plus the length of every value too long to sit inside its view.
fn view_bytes(views: &[u128], nulls: Option<&arrow::buffer::NullBuffer>) -> usize {
    views.len() * 16 + bytes_outside_views(views) + nulls.map_or(0, |n| n.buffer().len())
}

/// Bytes of the values of `views` stored in data buffers: those longer than the 12 bytes a
/// view holds inline (a view's low 32 bits are its value's length).
pub fn bytes_outside_views(views: &[u128]) -> usize {
    views.iter().map(|v| *v as u32 as usize).filter(|len| *len > 12).sum()
}

/// Whether `t` holds string or binary views below its top level (lists, structs, maps).
fn contains_views(t: &arrow::datatypes::DataType) -> bool {
    use arrow::datatypes::DataType;
    match t {
        DataType::Utf8View | DataType::BinaryView => true,
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) | DataType::Map(f, _) => {
            contains_views(f.data_type())
        }
        DataType::Struct(fields) => fields.iter().any(|f| contains_views(f.data_type())),
        DataType::Dictionary(_, v) => contains_views(v),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_json_shape() {
        let mut c = ChannelCounters::default();
        c.add_frame(1, 10, 100);
        c.add_frame(1, 5, 50);
        let v = c.to_report_json();
        assert_eq!(
            v,
            json!({"type":"channel","rows":[0,15],"bytes":[0,150],"frames":[0,2]})
        );
        c.add_file(0);
        c.set_total_files(0, 1);
        assert_eq!(c.to_report_json()["files"], json!([1]));
        assert_eq!(c.to_report_json()["totalFiles"], json!([1]));
    }

    #[test]
    fn stage_counters_json() {
        let mut s = StageCounters::with_inputs(1);
        s.inputs[0].add_rows(0, 3, 30);
        s.output.add_frame(0, 3, 99);
        s.warnings.insert("CannotParseExternalData".into(), 1);
        let v = s.to_report_json();
        assert_eq!(v["input0"]["rows"], json!([3]));
        assert_eq!(v["output"]["frames"], json!([1]));
        assert_eq!(v["warnings"]["CannotParseExternalData"], json!(1));
    }
}
