//! One worker's shuffle writer for one stage: routes rows to partitions, keeps memory under
//! the worker's budget by spilling (sorted) runs, and gathers key statistics for range shuffles.

use super::partitioner::{hash_partitions, split_by_partition, time_buckets, KeyEncoder};
use super::run::{spill, Run, RunFile};
use super::store::WorkerStageOutput;
use crate::merge::{merge_sorted_runs, sort_batches};
use arrow::array::{ArrayRef, AsArray, Int64Array};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use msq_engine::counters::batch_memory_size;
use msq_engine::counters::{update, ChannelCounters, SharedCounters, SortProgress};
use msq_engine::keystats::{KeyStatistics, RangePartitions};
use msq_engine::sort::SortColumn;
use msq_engine::stage::ShuffleSpec;
use msq_engine::Result;
use std::path::PathBuf;
use std::sync::Arc;

/// Name of the time-bucket column range-shuffle runs carry in front of the stage's columns.
const BUCKET_COLUMN: &str = "__msq_shuffle_bucket";

/// Memory and disk settings of a shuffle writer.
#[derive(Debug, Clone)]
pub struct ShuffleWriterConfig {
    /// Bytes of buffered output allowed before spilling.
    pub memory_budget: usize,
    /// Directory for spilled runs.
    pub spill_dir: PathBuf,
    /// Rows per output frame after merging.
    pub batch_size: usize,
    /// Retained keys per bucket in key statistics.
    pub max_retained_keys: usize,
}

impl Default for ShuffleWriterConfig {
    fn default() -> Self {
        ShuffleWriterConfig {
            memory_budget: 256 << 20,
            spill_dir: std::env::temp_dir().join("msq-spill"),
            batch_size: 8192,
            max_retained_keys: 4096,
        }
    }
}

/// Writes one worker's output of one stage.
pub struct ShuffleWriter {
    spec: ShuffleSpec,
    schema: SchemaRef,
    config: ShuffleWriterConfig,
    counters: SharedCounters,
    /// Partitioned output (for range shuffles: filled once boundaries are known).
    partitions: Vec<Vec<Run>>,
    /// Batches buffered per partition, not yet made a run.
    buffered: Vec<Vec<RecordBatch>>,
    buffered_bytes: usize,
    /// Range shuffles: sorted runs of everything read so far, before partitioning.
    unpartitioned_runs: Vec<Run>,
    stats: Option<KeyStatistics>,
    key_encoder: Option<KeyEncoder>,
    spill_seq: usize,
    spill_prefix: String,
    sort_progress: SortProgress,
    /// Schema of buffered batches and sorted runs: for range shuffles with time buckets, the
    /// bucket (Int64) then the stage's columns, so runs sort by bucket first and each
    /// partition's rows are contiguous in them; otherwise the stage's schema.
    run_schema: SchemaRef,
    /// The order of runs (`run_schema`'s columns), when the shuffle sorts.
    run_sort: Option<Vec<SortColumn>>,
    bucketed: bool,
}

impl ShuffleWriter {
    /// A writer for `spec`; `spill_prefix` names this worker's spill files uniquely.
    pub fn new(
        spec: ShuffleSpec,
        schema: SchemaRef,
        config: ShuffleWriterConfig,
        counters: SharedCounters,
        spill_prefix: String,
    ) -> Result<Self> {
        let buffers = match &spec {
            ShuffleSpec::Hash { partitions, .. } => *partitions,
            _ => 1,
        };
        let (stats, key_encoder) = match &spec {
            ShuffleSpec::Range(r) => (
                // As Druid does, key statistics get a tenth of the worker's memory.
                Some(
                    KeyStatistics::new(config.max_retained_keys)
                        .with_max_retained_bytes((config.memory_budget / 10).max(1 << 20)),
                ),
                Some(KeyEncoder::new(&schema, &r.key)?),
            ),
            _ => (None, None),
        };
        let bucketed = matches!(&spec, ShuffleSpec::Range(r) if r.bucket.is_some());
        let run_schema = if bucketed {
            let mut fields = vec![Arc::new(Field::new(BUCKET_COLUMN, DataType::Int64, false))];
            fields.extend(schema.fields().iter().cloned());
            Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
        } else {
            schema.clone()
        };
        let run_sort = spec.sort().map(|sort| {
            if bucketed {
                std::iter::once(SortColumn::asc(0))
                    .chain(sort.iter().map(|c| SortColumn {
                        index: c.index + 1,
                        ..*c
                    }))
                    .collect()
            } else {
                sort.to_vec()
            }
        });
        let shuffle = ChannelCounters::default();
        update(&counters, |c| {
            c.shuffle = Some(shuffle);
            if spec.sort().is_some() {
                c.sort_progress = Some(SortProgress::default());
            }
        });
        Ok(ShuffleWriter {
            partitions: vec![Vec::new(); buffers],
            buffered: vec![Vec::new(); buffers],
            buffered_bytes: 0,
            unpartitioned_runs: Vec::new(),
            stats,
            key_encoder,
            spill_seq: 0,
            spill_prefix,
            sort_progress: SortProgress::default(),
            run_schema,
            run_sort,
            bucketed,
            spec,
            schema,
            config,
            counters,
        })
    }

    /// Accepts one batch of stage output.
    pub fn write(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let bytes = msq_engine::counters::frame_bytes(&batch);
        update(&self.counters, |c| {
            c.output.add_frame(0, batch.num_rows() as u64, bytes)
        });
        match &self.spec {
            ShuffleSpec::Mix | ShuffleSpec::SortedGather { .. } => self.buffer(0, batch),
            ShuffleSpec::Hash { keys, partitions, .. } => {
                let n = *partitions;
                let parts = hash_partitions(&batch, keys, n)?;
                for (p, b) in split_by_partition(&batch, &parts, n)?.into_iter().enumerate() {
                    if let Some(b) = b {
                        self.buffer(p, b);
                    }
                }
            }
            ShuffleSpec::Range(r) => {
                let keys = self.key_encoder.as_ref().expect("range key encoder").encode(&batch)?;
                let buckets = match &r.bucket {
                    Some(tb) => Some(time_buckets(&batch, tb.column, tb.granularity)?),
                    None => None,
                };
                let stats = self.stats.as_mut().expect("range statistics");
                match &buckets {
                    // Runs of rows in the same bucket go in together (one bucket lookup each).
                    Some(b) => {
                        let mut start = 0;
                        while start < b.len() {
                            let bucket = b[start];
                            let end = start + b[start..].iter().take_while(|x| **x == bucket).count();
                            stats.add_many(bucket, (start..end).map(|i| keys.row(i).data()));
                            start = end;
                        }
                    }
                    None => stats.add_many(0, keys.iter().map(|r| r.data())),
                }
                let batch = match buckets {
                    Some(b) => {
                        let mut cols: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(b))];
                        cols.extend(batch.columns().iter().cloned());
                        RecordBatch::try_new(self.run_schema.clone(), cols)?
                    }
                    None => batch,
                };
                self.buffer(0, batch);
            }
        }
        if self.buffered_bytes > self.config.memory_budget {
            self.spill_buffers()?;
        }
        Ok(())
    }

    fn buffer(&mut self, p: usize, batch: RecordBatch) {
        // A piece of a batch must not keep (and spill, and send) the whole of its buffers.
        let batch = crate::views::compact(batch);
        self.buffered_bytes += batch_memory_size(&batch);
        self.buffered[p].push(batch);
    }

    fn next_spill_path(&mut self) -> PathBuf {
        self.spill_seq += 1;
        self.config
            .spill_dir
            .join(format!("{}-{}.arrow", self.spill_prefix, self.spill_seq))
    }

    /// Turns buffered batches of partition `p` into a run (sorted when the shuffle sorts).
    fn make_run(&mut self, p: usize, to_disk: bool) -> Result<Option<Run>> {
        let batches = std::mem::take(&mut self.buffered[p]);
        if batches.is_empty() {
            return Ok(None);
        }
        let batches = match &self.run_sort {
            Some(sort) => {
                // Sorted into frames of `batch_size` rows (no concatenation, and a spilled run
                // is read back a frame at a time).
                let sorted = sort_batches(&self.run_schema, &batches, sort, self.config.batch_size)?;
                drop(batches);
                self.sort_progress.runs += 1;
                sorted
            }
            None => batches,
        };
        if to_disk {
            let path = self.next_spill_path();
            let run = spill(&path, &self.run_schema, &batches)?;
            if self.spec.sort().is_some() {
                self.sort_progress.spilled_runs += 1;
            }
            Ok(Some(run))
        } else {
            Ok(Some(Run::Memory(batches)))
        }
    }

    /// Spills every buffered partition to disk as runs.
    fn spill_buffers(&mut self) -> Result<()> {
        for p in 0..self.buffered.len() {
            if let Some(run) = self.make_run(p, true)? {
                self.push_run(p, run);
            }
        }
        self.buffered_bytes = 0;
        self.publish_sort_progress();
        crate::memory::release_free_memory_throttled();
        Ok(())
    }

    fn push_run(&mut self, p: usize, run: Run) {
        if matches!(self.spec, ShuffleSpec::Range(_)) && self.stats.is_some() {
            self.unpartitioned_runs.push(run);
        } else {
            self.partitions[p].push(run);
        }
    }

    fn publish_sort_progress(&self) {
        let sp = self.sort_progress.clone();
        update(&self.counters, |c| {
            if c.sort_progress.is_some() {
                c.sort_progress = Some(sp);
            }
        });
    }

    /// Input is exhausted. For range shuffles, returns the key statistics to send to the
    /// controller (output is partitioned later by `apply_boundaries`).
    pub fn finish_reading(&mut self) -> Result<Option<KeyStatistics>> {
        for p in 0..self.buffered.len() {
            if let Some(run) = self.make_run(p, false)? {
                self.push_run(p, run);
            }
        }
        self.buffered_bytes = 0;
        self.publish_sort_progress();
        Ok(self.stats.take())
    }

    /// Range shuffles: merges the sorted runs and routes rows to the given partitions.
    pub fn apply_boundaries(&mut self, partitions: &RangePartitions) -> Result<()> {
        let ShuffleSpec::Range(r) = self.spec.clone() else {
            return Ok(());
        };
        let n = partitions.len();
        self.partitions = vec![Vec::new(); n];
        self.buffered = vec![Vec::new(); n];
        self.buffered_bytes = 0;
        let runs = std::mem::take(&mut self.unpartitioned_runs);
        let run_sort = self.run_sort.clone().unwrap_or_else(|| r.sort.clone());
        let merged_runs = runs.len() as u64;
        // More spilled runs than one merge may hold open: merge them down in passes first.
        let fan_in = super::run::merge_fan_in(&runs, self.config.batch_size, self.config.memory_budget);
        let (runs, intermediate) = if runs.len() > fan_in {
            let (schema, batch_size) = (self.run_schema.clone(), self.config.batch_size);
            let mut next_path = || self.next_spill_path();
            super::run::reduce_runs(&schema, runs, &run_sort, batch_size, fan_in, &mut next_path)?
        } else {
            (runs, 0)
        };
        self.sort_progress.intermediate_runs = intermediate;
        let iters = runs.iter().map(|r| r.iter()).collect::<Result<Vec<_>>>()?;
        let merged = merge_sorted_runs(self.run_schema.clone(), iters, &run_sort, self.config.batch_size)?;
        let encoder = self.key_encoder.take().expect("range key encoder");
        // The spill file of the partition being written: merged rows arrive in partition
        // order, so each partition's spilled rows go to one file, in order, and a reader
        // merges a partition's few runs (one per worker, plus the part left in memory) however
        // large the output.
        let mut open: Option<(usize, RunFile)> = None;
        for batch in merged {
            let batch = batch?;
            // The bucket column (when runs carry one) goes; the stage's columns stay.
            let (batch, buckets): (RecordBatch, Option<Vec<i64>>) = if self.bucketed {
                let b = batch.column(0).as_primitive::<Int64Type>().values().to_vec();
                let cols = batch.columns()[1..].to_vec();
                (RecordBatch::try_new(self.schema.clone(), cols)?, Some(b))
            } else {
                let b = match &r.bucket {
                    Some(tb) => Some(time_buckets(&batch, tb.column, tb.granularity)?),
                    None => None,
                };
                (batch, b)
            };
            let keys = encoder.encode(&batch)?;
            let parts: Vec<u32> = (0..batch.num_rows())
                .map(|i| {
                    let bucket = buckets.as_ref().map(|b| b[i]).unwrap_or(0);
                    partitions.partition_for(bucket, keys.row(i).as_ref()) as u32
                })
                .collect();
            if parts.windows(2).all(|w| w[0] <= w[1]) {
                // Sorted by partition (runs sort by bucket, then key): zero-copy slices.
                let mut start = 0;
                while start < parts.len() {
                    let p = parts[start];
                    let len = parts[start..].iter().take_while(|x| **x == p).count();
                    let b = batch.slice(start, len);
                    self.buffered_bytes += batch_memory_size(&b);
                    self.buffered[p as usize].push(b);
                    start += len;
                }
            } else {
                for (p, b) in split_by_partition(&batch, &parts, n)?.into_iter().enumerate() {
                    if let Some(b) = b {
                        self.buffered_bytes += batch_memory_size(&b);
                        self.buffered[p].push(b);
                    }
                }
            }
            if self.buffered_bytes > self.config.memory_budget {
                self.spill_partitioned(&mut open)?;
            }
        }
        // The open file takes the rest of its partition; other partitions keep theirs in memory.
        if let Some((q, mut file)) = open.take() {
            for b in std::mem::take(&mut self.buffered[q]) {
                file.write(&b)?;
            }
            self.partitions[q].push(file.finish()?);
        }
        for p in 0..n {
            let batches = std::mem::take(&mut self.buffered[p]);
            if !batches.is_empty() {
                self.partitions[p].push(Run::Memory(batches));
            }
        }
        self.buffered_bytes = 0;
        self.sort_progress.merged_runs = merged_runs;
        self.sort_progress.partitions = n as u64;
        for run in runs {
            if let Run::Spilled { path, .. } = run {
                let _ = std::fs::remove_file(path);
            }
        }
        Ok(())
    }

    /// Range shuffles after boundaries: moves the buffered (sorted, partitioned) batches to
    /// disk in order, appending to `open` while they belong to its partition.
    fn spill_partitioned(&mut self, open: &mut Option<(usize, RunFile)>) -> Result<()> {
        for p in 0..self.buffered.len() {
            let batches = std::mem::take(&mut self.buffered[p]);
            if batches.is_empty() {
                continue;
            }
            if open.as_ref().is_some_and(|(q, _)| *q != p) {
                if let Some((q, file)) = open.take() {
                    self.partitions[q].push(file.finish()?);
                }
            }
            if open.is_none() {
                let path = self.next_spill_path();
                *open = Some((p, RunFile::create(&path, &self.schema)?));
            }
            if let Some((_, file)) = open.as_mut() {
                for b in &batches {
                    file.write(b)?;
                }
            }
        }
        self.buffered_bytes = 0;
        crate::memory::release_free_memory_throttled();
        Ok(())
    }

    /// Finishes the output: counts it and hands it over for readers.
    pub fn finish(mut self) -> Result<WorkerStageOutput> {
        if self.stats.is_some() {
            // Range shuffle that never got boundaries: everything in one partition.
            self.finish_reading()?;
            self.apply_boundaries(&RangePartitions::single())?;
        }
        for p in 0..self.buffered.len() {
            if let Some(run) = self.make_run(p, false)? {
                self.partitions[p].push(run);
            }
        }
        let mut shuffle = ChannelCounters::default();
        shuffle.ensure_partitions(self.partitions.len());
        for (p, runs) in self.partitions.iter().enumerate() {
            for run in runs {
                match run {
                    Run::Memory(batches) => {
                        for b in batches {
                            shuffle.add_frame(p, b.num_rows() as u64, msq_engine::counters::frame_bytes(b));
                        }
                    }
                    Run::Spilled { rows, bytes, .. } => {
                        shuffle.add_frame(p, *rows, *bytes);
                        shuffle.files.resize(shuffle.files.len().max(p + 1), 0);
                        shuffle.files[p] += 1;
                    }
                    Run::Http { .. } | Run::Object { .. } => {}
                }
            }
        }
        self.sort_progress.done = true;
        if self.sort_progress.partitions == 0 {
            self.sort_progress.partitions = self.partitions.len() as u64;
        }
        let sp = self.sort_progress.clone();
        update(&self.counters, |c| {
            c.shuffle = Some(shuffle);
            if c.sort_progress.is_some() {
                c.sort_progress = Some(sp);
            }
        });
        Ok(WorkerStageOutput {
            schema: self.schema,
            sort: self.spec.sort().map(|s| s.to_vec()),
            partitions: self.partitions,
        })
    }

    /// Rows written per partition so far (after `finish`, see `WorkerStageOutput`).
    pub fn spilled_files(&self) -> usize {
        self.spill_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shuffle::store::stream_runs;
    use arrow::array::{Array, AsArray, Int64Array, StringArray, TimestampMillisecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use datafusion::physical_expr::expressions::Column;
    use futures::StreamExt;
    use msq_engine::counters::StageCounters;
    use msq_engine::granularity::Granularity;
    use msq_engine::sort::SortColumn;
    use msq_engine::stage::{PartitionTarget, RangeShuffle, TimeBucket};
    use std::sync::{Arc, Mutex};

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("__time", DataType::Timestamp(TimeUnit::Millisecond, None), true),
            Field::new("k", DataType::Utf8, true),
            Field::new("v", DataType::Int64, true),
        ]))
    }

    /// `n` rows: times spread over 3 hours, keys k0..k9, values 0..n.
    fn batches(n: usize, per_batch: usize) -> Vec<RecordBatch> {
        (0..n)
            .step_by(per_batch)
            .map(|start| {
                let rows: Vec<usize> = (start..(start + per_batch).min(n)).collect();
                let t: TimestampMillisecondArray = rows
                    .iter()
                    .map(|i| Some(((i * 7919) % (3 * 3_600_000)) as i64))
                    .collect();
                let k: StringArray = rows.iter().map(|i| Some(format!("k{}", (i * 31) % 10))).collect();
                let v: Int64Array = rows.iter().map(|i| Some(*i as i64)).collect();
                RecordBatch::try_new(schema(), vec![Arc::new(t), Arc::new(k), Arc::new(v)]).unwrap()
            })
            .collect()
    }

    fn writer(spec: ShuffleSpec, budget: usize, dir: &std::path::Path) -> ShuffleWriter {
        let counters = Arc::new(Mutex::new(StageCounters::default()));
        let config = ShuffleWriterConfig {
            memory_budget: budget,
            spill_dir: dir.to_path_buf(),
            batch_size: 100,
            max_retained_keys: 1024,
        };
        ShuffleWriter::new(spec, schema(), config, counters, "t".into()).unwrap()
    }

    async fn read_all(out: &WorkerStageOutput, p: usize) -> Vec<RecordBatch> {
        let mut s = stream_runs(out.schema.clone(), out.partitions[p].clone(), out.sort.clone(), 100);
        let mut v = Vec::new();
        while let Some(b) = s.next().await {
            v.push(b.unwrap());
        }
        v
    }

    fn values(bs: &[RecordBatch], col: usize) -> Vec<i64> {
        bs.iter()
            .flat_map(|b| {
                let c = arrow::compute::cast(b.column(col), &DataType::Int64).unwrap();
                c.as_primitive::<arrow::datatypes::Int64Type>().values().to_vec()
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hash_partitions_every_row_once_and_spills() {
        let dir = tempfile::tempdir().unwrap();
        let spec = ShuffleSpec::Hash {
            keys: vec![Arc::new(Column::new("k", 1))],
            key_names: vec!["k".into()],
            partitions: 3,
        };
        let mut w = writer(spec, 4096, dir.path());
        for b in batches(1000, 64) {
            w.write(b).unwrap();
        }
        assert!(w.finish_reading().unwrap().is_none());
        assert!(w.spilled_files() > 0, "tiny budget spills");
        let out = w.finish().unwrap();
        assert_eq!(out.partition_rows().iter().sum::<u64>(), 1000);
        let mut all = Vec::new();
        let mut keys_seen: Vec<std::collections::BTreeSet<String>> = vec![Default::default(); 3];
        for (p, seen) in keys_seen.iter_mut().enumerate() {
            let bs = read_all(&out, p).await;
            all.extend(values(&bs, 2));
            for b in &bs {
                let k = b.column(1).as_string::<i32>();
                for i in 0..k.len() {
                    seen.insert(k.value(i).to_string());
                }
            }
        }
        all.sort();
        assert_eq!(all, (0..1000).collect::<Vec<i64>>());
        for a in 0..3 {
            for b in (a + 1)..3 {
                assert!(keys_seen[a].is_disjoint(&keys_seen[b]), "a key lives in one partition");
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn range_shuffle_buckets_sorts_and_merges_spilled_runs() {
        let dir = tempfile::tempdir().unwrap();
        let asc = |index| SortColumn {
            index,
            descending: false,
            nulls_first: true,
        };
        let spec = ShuffleSpec::Range(RangeShuffle {
            sort: vec![asc(0), asc(1)],
            key: vec![asc(1), asc(0)],
            bucket: Some(TimeBucket {
                column: 0,
                granularity: Granularity::Hour,
            }),
            target: PartitionTarget::RowsPerPartition(150),
        });
        let mut w = writer(spec, 8192, dir.path());
        for b in batches(1000, 50) {
            w.write(b).unwrap();
        }
        let stats = w.finish_reading().unwrap().expect("range shuffles gather statistics");
        assert_eq!(stats.total_rows(), 1000);
        assert_eq!(stats.bucket_count(), 3);
        let parts =
            msq_engine::kernel::query::compute_partitions(&stats, PartitionTarget::RowsPerPartition(150)).unwrap();
        assert!(parts.len() >= 7, "1000 rows / 150 per partition over 3 hours");
        let runs = w.sort_progress.runs as usize;
        assert!(w.sort_progress.spilled_runs > 2, "tiny budget spills runs");
        w.apply_boundaries(&parts).unwrap();
        // A budget this small holds two runs open per merge: the rest were merged in passes
        // (k runs merged into 1, until 2 remain), and the consumed run files are gone.
        assert_eq!(w.sort_progress.intermediate_runs as usize, runs - 2);
        let files = std::fs::read_dir(dir.path()).unwrap().count();
        let progress = w.sort_progress.clone();
        let out = w.finish().unwrap();
        let kept: usize = out
            .partitions
            .iter()
            .flatten()
            .filter(|r| matches!(r, Run::Spilled { .. }))
            .count();
        assert_eq!(files, kept, "only the output partitions' files remain");
        // Each partition's spilled rows went to one file, whatever the number of spills, so a
        // reader merges at most that file and the part kept in memory.
        assert!(kept >= 2, "the partitioned output spilled");
        assert!(out.partitions.iter().all(|runs| runs.len() <= 2));
        let report = SortProgress { done: true, ..progress }.to_report_json();
        assert_eq!(report["totalMergingLevels"], 3);
        assert_eq!(report["levelToTotalBatches"]["1"], runs as u64 - 2);
        assert_eq!(out.partition_rows().iter().sum::<u64>(), 1000);
        let mut prev_bucket = i64::MIN;
        for p in 0..parts.len() {
            let bs = read_all(&out, p).await;
            let t = values(&bs, 0);
            assert!(!t.is_empty());
            assert!(
                t.windows(2).all(|w| w[0] <= w[1]),
                "sorted by __time inside a partition"
            );
            let bucket = t[0] / 3_600_000;
            assert!(t.iter().all(|x| x / 3_600_000 == bucket), "one hour per partition");
            assert!(bucket >= prev_bucket);
            prev_bucket = bucket;
        }
    }
}
