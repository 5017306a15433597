//! The controller's view of a running query (Druid's `ControllerQueryKernel`): which stages
//! can start, which workers run them on which partitions, when statistics are complete,
//! when results are ready, whether a failed worker is relaunched and with what work, and
//! when outputs may be cleaned up. The driver feeds it events and asks it what to do; it
//! does no I/O.

use super::ingest::{assign_slots, segments_per_partition, IngestRules};
use super::stage_phase::ControllerStagePhase;
use super::workers::{assign_partitions, WorkerAttempts};
use crate::context::QueryContext;
use crate::keystats::{boundaries_by_count, boundaries_by_target_size, KeyStatistics, RangePartitions};
use crate::metadata::{AllocateRequest, SegmentId};
use crate::protocol::SegmentSlot;
use crate::stage::{
    PartitionTarget, QueryDefinition, ShuffleSpec, StageDefinition, StageProcessor, MAX_BUCKETS, MAX_PARTITIONS,
};
use crate::{MsqError, Result};
use std::collections::BTreeSet;

/// What a stage's workers process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageWork {
    /// The partitions of its plan fragment (at least one).
    Partitions(usize),
    /// One segment per output partition of the stage it reads (maybe none).
    Segments,
}

/// What the kernel needs to know about a stage.
#[derive(Debug, Clone)]
pub struct StageShape {
    /// Stages this one reads.
    pub inputs: Vec<usize>,
    /// What its workers process.
    pub work: StageWork,
    /// `Some` when output partitions come from key statistics.
    pub range_target: Option<PartitionTarget>,
    /// Partition count when known up front.
    pub fixed_partitions: Option<usize>,
    /// Whether the stage sorts (walks POST_READING).
    pub sorts: bool,
}

impl StageShape {
    /// The shape of a stage definition.
    pub fn of(def: &StageDefinition) -> Self {
        StageShape {
            inputs: def.input_stages(),
            work: match &def.processor {
                StageProcessor::Plan { plan, .. } => {
                    StageWork::Partitions(plan.properties().output_partitioning().partition_count())
                }
                StageProcessor::SegmentGenerator(_) => StageWork::Segments,
            },
            range_target: match &def.shuffle {
                Some(ShuffleSpec::Range(r)) => Some(r.target),
                _ => None,
            },
            fixed_partitions: def.shuffle.as_ref().and_then(|sh| sh.fixed_partition_count()),
            sorts: def.sorts(),
        }
    }
}

/// What one worker does for a starting stage.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerWork {
    /// Partitions it processes.
    pub partitions: Vec<usize>,
    /// Segments it writes from its partitions (segment generation only).
    pub segments: Vec<SegmentSlot>,
}

/// A failed worker's relaunch: its new attempt and the work to send it again.
#[derive(Debug, Clone, PartialEq)]
pub struct Relaunch {
    pub attempt: u32,
    /// Stages whose work the lost attempt had not finished, each with the partition
    /// boundaries to send again when it already has them (range-partitioned stages).
    pub rerun: Vec<(usize, Option<RangePartitions>)>,
}

/// Controller-side tracker of one stage.
#[derive(Debug, Clone)]
struct StageTracker {
    shape: StageShape,
    phase: ControllerStagePhase,
    /// Workers running the stage (numbers `0..worker_count`), decided when it starts.
    worker_count: usize,
    stats_from: BTreeSet<usize>,
    stats: Option<KeyStatistics>,
    done_reading: BTreeSet<usize>,
    complete: BTreeSet<usize>,
    partitions: Option<RangePartitions>,
    partition_count: Option<usize>,
    /// Rows each worker wrote to each output partition (from results-complete messages).
    partition_rows: Vec<u64>,
}

/// What the driver must do after feeding the kernel an event.
#[derive(Debug, Clone, PartialEq)]
pub enum KernelAction {
    /// Nothing new.
    None,
    /// Send these boundaries to every worker of the stage.
    SendBoundaries(RangePartitions),
}

/// All stages of one query, its worker slots and its ingestion rules.
#[derive(Debug, Clone)]
pub struct QueryKernel {
    stages: Vec<StageTracker>,
    workers: WorkerAttempts,
    ingest: Option<IngestRules>,
}

impl QueryKernel {
    /// The kernel of `query` run by controller task `task_id` with `ctx.worker_count()`
    /// worker slots.
    pub fn for_query(query: &QueryDefinition, ctx: &QueryContext, task_id: &str) -> Self {
        QueryKernel::new(
            query.stages.iter().map(|s| StageShape::of(s)).collect(),
            WorkerAttempts::new(task_id, ctx.worker_count(), ctx.fault_tolerance),
            IngestRules::of(query, ctx),
        )
    }

    /// A kernel for stages in dependency order.
    pub fn new(shapes: Vec<StageShape>, workers: WorkerAttempts, ingest: Option<IngestRules>) -> Self {
        QueryKernel {
            workers,
            ingest,
            stages: shapes
                .into_iter()
                .map(|shape| StageTracker {
                    partition_count: shape.fixed_partitions,
                    shape,
                    phase: ControllerStagePhase::New,
                    worker_count: 0,
                    stats_from: BTreeSet::new(),
                    stats: None,
                    done_reading: BTreeSet::new(),
                    complete: BTreeSet::new(),
                    partitions: None,
                    partition_rows: Vec::new(),
                })
                .collect(),
        }
    }

    fn transition(&mut self, n: usize, to: ControllerStagePhase) -> Result<()> {
        let s = &mut self.stages[n];
        if !to.can_transition_from(s.phase) {
            return Err(MsqError::Unknown(format!(
                "stage {n} cannot move from {} to {}",
                s.phase.name(),
                to.name()
            )));
        }
        s.phase = to;
        Ok(())
    }

    /// Phase of stage `n`.
    pub fn phase(&self, n: usize) -> ControllerStagePhase {
        self.stages[n].phase
    }

    /// NEW stages whose inputs all have results ready.
    pub fn ready_to_start(&self) -> Vec<usize> {
        self.stages
            .iter()
            .enumerate()
            .filter(|(_, s)| s.phase == ControllerStagePhase::New)
            .filter(|(_, s)| s.shape.inputs.iter().all(|i| self.stages[*i].phase.is_success()))
            .map(|(n, _)| n)
            .collect()
    }

    /// Output partitions of stage `n`, once known.
    pub fn partition_count(&self, n: usize) -> Option<usize> {
        self.stages[n].partition_count
    }

    /// Range boundaries of stage `n`'s output, once computed from key statistics.
    pub fn boundaries(&self, n: usize) -> Option<&RangePartitions> {
        self.stages[n].partitions.as_ref()
    }

    /// Workers running stage `n` (none before it starts).
    pub fn stage_workers(&self, n: usize) -> std::ops::Range<usize> {
        0..self.stages[n].worker_count
    }

    /// The query's ingestion rules, when it writes segments.
    pub fn ingest(&self) -> Option<&IngestRules> {
        self.ingest.as_ref()
    }

    /// The output partitions of the stage the segment generator `n` reads: one segment each.
    /// What generation stage `n` turns into segments: the range partitions of the stage it
    /// reads, their exact rows (known once that stage is done) and how many segments each
    /// becomes (`rowsPerSegment`).
    fn segment_plan(&self, n: usize) -> Result<(RangePartitions, Vec<u64>, Vec<u32>)> {
        let input = self.stages[n].shape.inputs.first();
        let partitions = input
            .and_then(|i| self.stages[*i].partitions.clone())
            .unwrap_or(RangePartitions { ranges: vec![] });
        let rows = input
            .map(|i| self.stages[*i].partition_rows.clone())
            .unwrap_or_default();
        let per_segment = self.ingest.as_ref().map_or(u64::MAX, |r| r.rows_per_segment);
        let segments = segments_per_partition(&rows, partitions.ranges.len(), per_segment)?;
        Ok((partitions, rows, segments))
    }

    /// The segment ids to allocate before stage `n` starts (segment generation only): as
    /// many per output partition of the stage it reads as `rowsPerSegment` needs, in
    /// partition order, at `version`.
    pub fn allocation(&self, n: usize, version: &str) -> Result<AllocateRequest> {
        let rules = self
            .ingest
            .as_ref()
            .filter(|_| self.stages[n].shape.work == StageWork::Segments)
            .ok_or_else(|| MsqError::Unknown(format!("stage {n} writes segments of no ingestion")))?;
        let (partitions, _, segments) = self.segment_plan(n)?;
        Ok(rules.allocate_request(self.workers.task_id(), &partitions, &segments, version))
    }

    /// NEW → READING_INPUT: decides which workers run stage `n` on which partitions
    /// (round robin over the query's workers, as few as there are partitions) and, for
    /// segment generation, which of the `allocated` ids (asked by [`Self::allocation`]) each
    /// writes. Without partitions no worker runs and the stage is RESULTS_READY at once.
    pub fn start_stage(&mut self, n: usize, allocated: Vec<SegmentId>) -> Result<Vec<WorkerWork>> {
        let inputs_ready = self.stages[n]
            .shape
            .inputs
            .iter()
            .all(|i| self.stages[*i].phase.is_success());
        if !inputs_ready {
            return Err(MsqError::Unknown(format!(
                "stage {n} started before its inputs were ready"
            )));
        }
        let (partitions, segments) = match self.stages[n].shape.work {
            StageWork::Partitions(p) => (p.max(1), vec![]),
            StageWork::Segments => {
                let (partitions, rows, segments) = self.segment_plan(n)?;
                (partitions.ranges.len(), assign_slots(&rows, &segments, allocated)?)
            }
        };
        let assignment = assign_partitions(partitions, self.workers.slots());
        let s = &mut self.stages[n];
        s.worker_count = assignment.len();
        if s.shape.work == StageWork::Segments {
            s.partition_count = Some(segments.len());
        }
        self.transition(n, ControllerStagePhase::ReadingInput)?;
        if assignment.is_empty() {
            // Nothing to do (e.g. no segments to write): trivially complete.
            self.transition(n, ControllerStagePhase::ResultsReady)?;
        }
        Ok(assignment
            .into_iter()
            .map(|parts| WorkerWork {
                segments: segments
                    .iter()
                    .filter(|s| parts.contains(&s.partition))
                    .cloned()
                    .collect(),
                partitions: parts,
            })
            .collect())
    }

    /// A worker sent its key statistics. When every worker has, the stage merges them
    /// (MERGING_STATISTICS), computes boundaries and moves to POST_READING.
    pub fn add_key_statistics(&mut self, n: usize, worker: usize, stats: KeyStatistics) -> Result<KernelAction> {
        let s = &mut self.stages[n];
        let target = s
            .shape
            .range_target
            .ok_or_else(|| MsqError::Unknown(format!("stage {n} does not gather key statistics")))?;
        // A relaunched worker sends statistics again; the first copy already counts.
        if s.stats_from.contains(&worker) {
            return Ok(KernelAction::None);
        }
        if s.phase != ControllerStagePhase::ReadingInput {
            return Err(MsqError::Unknown(format!(
                "stage {n} got statistics in phase {}",
                s.phase.name()
            )));
        }
        s.stats_from.insert(worker);
        match &mut s.stats {
            Some(all) => all.merge(&stats),
            None => s.stats = Some(stats),
        }
        if s.stats_from.len() < s.worker_count {
            return Ok(KernelAction::None);
        }
        self.transition(n, ControllerStagePhase::MergingStatistics)?;
        let s = &mut self.stages[n];
        let merged = s.stats.take().unwrap_or_default();
        let partitions = compute_partitions(&merged, target)?;
        s.partition_count = Some(partitions.len());
        s.partitions = Some(partitions.clone());
        self.transition(n, ControllerStagePhase::PostReading)?;
        // The time chunks of the segment generator's input are known now.
        if let Some(rules) = self.ingest.as_ref().filter(|r| r.reads(n)) {
            rules.check_chunks(&partitions)?;
        }
        Ok(KernelAction::SendBoundaries(partitions))
    }

    /// A worker finished reading input (sorting stages without statistics move to POST_READING).
    pub fn worker_done_reading(&mut self, n: usize, worker: usize) -> Result<()> {
        let s = &mut self.stages[n];
        s.done_reading.insert(worker);
        if s.shape.sorts
            && s.shape.range_target.is_none()
            && s.phase == ControllerStagePhase::ReadingInput
            && s.done_reading.len() == s.worker_count
        {
            self.transition(n, ControllerStagePhase::PostReading)?;
        }
        Ok(())
    }

    /// A worker's results are complete, with its rows per output partition. When all are,
    /// the stage is RESULTS_READY (`true`), and the empty-insert rule applies to a stage the
    /// segment generator reads.
    pub fn worker_results_complete(&mut self, n: usize, worker: usize, partition_rows: &[u64]) -> Result<bool> {
        let s = &mut self.stages[n];
        if !s.phase.is_running() {
            return Err(MsqError::Unknown(format!(
                "stage {n} got results in phase {}",
                s.phase.name()
            )));
        }
        if !s.complete.insert(worker) {
            return Ok(false);
        }
        if s.partition_rows.len() < partition_rows.len() {
            s.partition_rows.resize(partition_rows.len(), 0);
        }
        for (i, r) in partition_rows.iter().enumerate() {
            s.partition_rows[i] += r;
        }
        if s.complete.len() < s.worker_count {
            return Ok(false);
        }
        if s.partition_count.is_none() {
            s.partition_count = Some(s.partition_rows.len());
        }
        self.transition(n, ControllerStagePhase::ResultsReady)?;
        if let Some(rules) = self.ingest.as_ref().filter(|r| r.reads(n)) {
            rules.check_not_empty(self.stages[n].partition_rows.iter().sum())?;
        }
        Ok(true)
    }

    /// Whether `worker` has reported its results of stage `n` complete.
    pub fn worker_complete(&self, n: usize, worker: usize) -> bool {
        self.stages[n].complete.contains(&worker)
    }

    /// Whether a message from `attempt` of worker `w` still counts.
    pub fn is_current(&self, w: usize, attempt: u32) -> bool {
        self.workers.is_current(w, attempt)
    }

    /// Current attempt of worker `w`.
    pub fn attempt(&self, w: usize) -> u32 {
        self.workers.attempt(w)
    }

    /// Task id of worker `w`'s current attempt.
    pub fn worker_id(&self, w: usize) -> String {
        self.workers.worker_id(w)
    }

    /// Workers relaunched so far.
    pub fn relaunches(&self) -> u32 {
        self.workers.relaunches()
    }

    /// Whether a worker's error is worth a relaunch rather than failing the query.
    pub fn retriable(&self, e: &MsqError) -> bool {
        self.workers.retriable(e)
    }

    /// Worker `w` failed or stopped answering: the relaunch (new attempt, and the stages it
    /// had not finished, to run again), or the error that fails the query (no fault
    /// tolerance, or the relaunch limits reached). Re-run stages forget that the worker
    /// finished reading; statistics it sent stay merged and its re-sent copy is ignored.
    pub fn worker_failed(&mut self, w: usize, failure: MsqError) -> Result<Relaunch> {
        let attempt = self.workers.relaunch(w, failure)?;
        let mut rerun = Vec::new();
        for (n, s) in self.stages.iter_mut().enumerate() {
            if w < s.worker_count && s.phase.is_running() && !s.complete.contains(&w) {
                s.done_reading.remove(&w);
                let boundaries = s.partitions.clone().filter(|_| s.shape.range_target.is_some());
                rerun.push((n, boundaries));
            }
        }
        Ok(Relaunch { attempt, rerun })
    }

    /// Stages whose results nobody needs any more: all consumers are done. `final_consumed`
    /// says the controller has read the final stage's results.
    pub fn stages_to_finish(&self, final_consumed: bool) -> Vec<usize> {
        let last = self.stages.len() - 1;
        (0..self.stages.len())
            .filter(|n| self.stages[*n].phase == ControllerStagePhase::ResultsReady)
            .filter(|n| {
                if *n == last {
                    return final_consumed;
                }
                let consumers: Vec<usize> = (0..self.stages.len())
                    .filter(|c| self.stages[*c].shape.inputs.contains(n))
                    .collect();
                !consumers.is_empty() && consumers.iter().all(|c| self.stages[*c].phase.is_success())
            })
            .collect()
    }

    /// RESULTS_READY (or any running phase) → FINISHED.
    pub fn finish_stage(&mut self, n: usize) -> Result<()> {
        self.transition(n, ControllerStagePhase::Finished)
    }

    /// Marks every running stage FAILED.
    pub fn fail_running(&mut self) {
        for s in &mut self.stages {
            if s.phase.is_running() {
                s.phase = ControllerStagePhase::Failed;
            }
        }
    }

    /// Every stage finished.
    pub fn all_finished(&self) -> bool {
        self.stages.iter().all(|s| s.phase == ControllerStagePhase::Finished)
    }
}

/// Range boundaries for a stage's merged key statistics.
pub fn compute_partitions(stats: &KeyStatistics, target: PartitionTarget) -> Result<RangePartitions> {
    match target {
        PartitionTarget::RowsPerPartition(rows) => boundaries_by_target_size(stats, rows, MAX_BUCKETS, MAX_PARTITIONS),
        PartitionTarget::Count(n) => Ok(boundaries_by_count(stats, n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ControllerStagePhase::*;

    /// A stage of `partitions` plan partitions (hash-partitioned into as many outputs, or
    /// range-partitioned by `range`).
    fn shape(inputs: Vec<usize>, partitions: usize, range: Option<PartitionTarget>) -> StageShape {
        StageShape {
            inputs,
            work: StageWork::Partitions(partitions),
            range_target: range,
            fixed_partitions: if range.is_some() { None } else { Some(partitions) },
            sorts: range.is_some(),
        }
    }

    fn kernel(shapes: Vec<StageShape>, slots: usize) -> QueryKernel {
        QueryKernel::new(shapes, WorkerAttempts::new("task", slots, false), None)
    }

    fn keys(keys: &[&[u8]]) -> KeyStatistics {
        let mut s = KeyStatistics::new(64);
        for k in keys {
            s.add(0, k);
        }
        s
    }

    #[test]
    fn two_stage_hash_then_final() {
        let mut k = kernel(vec![shape(vec![], 2, None), shape(vec![0], 2, None)], 2);
        assert_eq!(k.ready_to_start(), vec![0]);
        k.start_stage(0, vec![]).unwrap();
        assert!(k.start_stage(1, vec![]).is_err(), "inputs not ready");
        assert!(!k.worker_results_complete(0, 0, &[3, 4]).unwrap());
        assert!(!k.worker_results_complete(0, 0, &[3, 4]).unwrap(), "duplicate ignored");
        assert!(k.worker_results_complete(0, 1, &[1, 0]).unwrap());
        assert_eq!(k.phase(0), ResultsReady);
        assert_eq!(k.stages[0].partition_rows, vec![4, 4]);
        assert_eq!(k.ready_to_start(), vec![1]);
        assert!(k.stages_to_finish(false).is_empty(), "consumer still running");
        k.start_stage(1, vec![]).unwrap();
        k.worker_results_complete(1, 0, &[1]).unwrap();
        k.worker_results_complete(1, 1, &[1]).unwrap();
        assert_eq!(k.stages_to_finish(false), vec![0]);
        assert_eq!(k.stages_to_finish(true), vec![0, 1]);
        k.finish_stage(0).unwrap();
        k.finish_stage(1).unwrap();
        assert!(k.all_finished());
    }

    #[test]
    fn statistics_flow_through_merging_to_post_reading() {
        let mut k = kernel(vec![shape(vec![], 2, Some(PartitionTarget::RowsPerPartition(2)))], 2);
        k.start_stage(0, vec![]).unwrap();
        let (a, b) = (keys(&[b"a", b"b", b"c"]), keys(&[b"d", b"e"]));
        assert_eq!(k.add_key_statistics(0, 0, a).unwrap(), KernelAction::None);
        assert_eq!(k.phase(0), ReadingInput);
        let action = k.add_key_statistics(0, 1, b).unwrap();
        assert_eq!(k.phase(0), PostReading);
        match action {
            KernelAction::SendBoundaries(p) => assert_eq!(p.len(), 3),
            other => panic!("unexpected {other:?}"),
        }
        k.worker_results_complete(0, 0, &[2, 1, 0]).unwrap();
        k.worker_results_complete(0, 1, &[0, 1, 1]).unwrap();
        assert_eq!(k.phase(0), ResultsReady);
        assert_eq!(k.stages[0].partition_count, Some(3));
    }

    #[test]
    fn failures_mark_running_stages() {
        let mut k = kernel(vec![shape(vec![], 1, None), shape(vec![0], 1, None)], 1);
        k.start_stage(0, vec![]).unwrap();
        k.fail_running();
        assert_eq!(k.phase(0), Failed);
        assert_eq!(k.phase(1), New);
        assert!(k.ready_to_start().is_empty());
    }

    #[test]
    fn start_spreads_partitions_over_the_workers() {
        let mut k = kernel(vec![shape(vec![], 5, None), shape(vec![0], 1, None)], 2);
        let work = k.start_stage(0, vec![]).unwrap();
        let parts: Vec<Vec<usize>> = work.iter().map(|w| w.partitions.clone()).collect();
        assert_eq!(parts, vec![vec![0, 2, 4], vec![1, 3]]);
        assert!(work.iter().all(|w| w.segments.is_empty()));
        assert_eq!(k.stage_workers(0), 0..2);
        assert_eq!(k.stage_workers(1), 0..0, "not started");
        // Fewer partitions than workers: as many workers as partitions.
        k.worker_results_complete(0, 0, &[1]).unwrap();
        k.worker_results_complete(0, 1, &[1]).unwrap();
        assert_eq!(k.start_stage(1, vec![]).unwrap().len(), 1);
        assert_eq!(k.stage_workers(1), 0..1);
        // A plan without partitions still runs once.
        let mut k = kernel(vec![shape(vec![], 0, None)], 3);
        assert_eq!(k.start_stage(0, vec![]).unwrap()[0].partitions, vec![0]);
    }

    fn rules(fail_on_empty: bool) -> IngestRules {
        IngestRules {
            stage: 1,
            inputs: vec![0],
            data_source: "wiki".into(),
            granularity: crate::granularity::Granularity::All,
            replace: None,
            fail_on_empty,
            rows_per_segment: 2,
        }
    }

    /// A range-partitioned stage 0 feeding segment generation in stage 1.
    fn ingest_kernel(slots: usize, fail_on_empty: bool) -> QueryKernel {
        let generator = StageShape {
            inputs: vec![0],
            work: StageWork::Segments,
            range_target: None,
            fixed_partitions: None,
            sorts: false,
        };
        let shapes = vec![shape(vec![], 1, Some(PartitionTarget::RowsPerPartition(2))), generator];
        QueryKernel::new(
            shapes,
            WorkerAttempts::new("task", slots, false),
            Some(rules(fail_on_empty)),
        )
    }

    fn id(n: u32) -> SegmentId {
        SegmentId {
            data_source: "wiki".into(),
            interval: crate::granularity::Interval::eternity(),
            version: "v".into(),
            partition_num: n,
        }
    }

    #[test]
    fn segment_generation_writes_the_allocated_ids() {
        let mut k = ingest_kernel(2, true);
        k.start_stage(0, vec![]).unwrap();
        assert!(k.allocation(0, "v").is_err(), "not a segment generator");
        k.add_key_statistics(0, 0, keys(&[b"a", b"b", b"c", b"d", b"e"]))
            .unwrap();
        let parts = k.boundaries(0).unwrap().len();
        assert_eq!(parts, 3);
        k.worker_results_complete(0, 0, &[2, 2, 1]).unwrap();
        let req = k.allocation(1, "v").unwrap();
        assert_eq!(req.chunks.iter().map(|c| c.1).sum::<u32>(), 3);
        assert!(req.append && req.task_id == "task");
        assert!(k.clone().start_stage(1, vec![id(0)]).is_err(), "one id per partition");
        let work = k.start_stage(1, (0..3).map(id).collect()).unwrap();
        assert_eq!(work.len(), 2);
        let slot = |partition, n, rows| SegmentSlot {
            partition,
            id: id(n),
            rows,
        };
        assert_eq!(work[0].segments, vec![slot(0, 0, None), slot(2, 2, None)]);
        assert_eq!(work[1].segments, vec![slot(1, 1, None)]);
        assert_eq!(k.partition_count(1), Some(3));
    }

    #[test]
    fn a_partition_larger_than_rows_per_segment_is_split_over_segments() {
        // The key statistics saw one key only (a coarse sketch): one range partition of 5
        // rows, at 2 rows per segment, becomes 3 segments written by the same worker.
        let mut k = ingest_kernel(2, true);
        k.start_stage(0, vec![]).unwrap();
        k.add_key_statistics(0, 0, keys(&[b"a"])).unwrap();
        assert_eq!(k.boundaries(0).unwrap().len(), 1);
        k.worker_results_complete(0, 0, &[5]).unwrap();
        let req = k.allocation(1, "v").unwrap();
        assert_eq!(req.chunks.iter().map(|c| c.1).sum::<u32>(), 3);
        let work = k.start_stage(1, (0..3).map(id).collect()).unwrap();
        assert_eq!(work.len(), 1, "one partition, one worker");
        let got: Vec<(usize, u32, Option<u64>)> = work[0]
            .segments
            .iter()
            .map(|s| (s.partition, s.id.partition_num, s.rows))
            .collect();
        assert_eq!(got, vec![(0, 0, Some(2)), (0, 1, Some(2)), (0, 2, None)]);
        assert_eq!(k.partition_count(1), Some(3));
    }

    #[test]
    fn nothing_to_write_needs_no_worker() {
        let mut k = ingest_kernel(2, false);
        k.start_stage(0, vec![]).unwrap();
        k.add_key_statistics(0, 0, KeyStatistics::new(64)).unwrap();
        assert_eq!(k.boundaries(0).unwrap().len(), 0);
        assert!(k.worker_results_complete(0, 0, &[]).unwrap(), "empty REPLACE allowed");
        assert!(k.start_stage(1, vec![]).unwrap().is_empty());
        assert_eq!(k.phase(1), ResultsReady);
        assert_eq!(k.stage_workers(1), 0..0);
        assert_eq!(k.partition_count(1), Some(0));
    }

    #[test]
    fn empty_insert_fails_when_the_input_is_ready() {
        let mut k = ingest_kernel(1, true);
        k.start_stage(0, vec![]).unwrap();
        k.add_key_statistics(0, 0, KeyStatistics::new(64)).unwrap();
        assert!(matches!(
            k.worker_results_complete(0, 0, &[]),
            Err(MsqError::InsertCannotBeEmpty { .. })
        ));
        let mut k = ingest_kernel(1, true);
        k.start_stage(0, vec![]).unwrap();
        k.add_key_statistics(0, 0, keys(&[b"a"])).unwrap();
        assert!(k.worker_results_complete(0, 0, &[1]).unwrap(), "rows to write");
    }

    #[test]
    fn relaunch_reruns_unfinished_work_until_the_limit() {
        let shapes = vec![
            shape(vec![], 2, None),
            shape(vec![], 2, Some(PartitionTarget::Count(2))),
        ];
        let mut k = QueryKernel::new(shapes, WorkerAttempts::new("task", 2, true), None);
        k.start_stage(0, vec![]).unwrap();
        k.start_stage(1, vec![]).unwrap();
        k.worker_results_complete(0, 1, &[1, 1]).unwrap();
        k.add_key_statistics(1, 0, keys(&[b"a", b"b"])).unwrap();
        k.add_key_statistics(1, 1, keys(&[b"c"])).unwrap();
        let sent = k.boundaries(1).cloned();
        assert!(sent.is_some());
        // Worker 1 finished stage 0: only stage 1 runs again, with its boundaries.
        let r = k.worker_failed(1, MsqError::Unknown("lost".into())).unwrap();
        assert_eq!(r.attempt, 1);
        assert_eq!(r.rerun, vec![(1, sent.clone())]);
        assert!(k.is_current(1, 1) && !k.is_current(1, 0));
        assert_eq!(k.worker_id(1), crate::ids::worker_task_id("task", 1, 1));
        // Worker 0 finished nothing: both stages, boundaries only for the range stage.
        let r = k.worker_failed(0, MsqError::Unknown("lost".into())).unwrap();
        assert_eq!(r.rerun, vec![(0, None), (1, sent)]);
        k.worker_failed(1, MsqError::Unknown("lost".into())).unwrap();
        assert!(matches!(
            k.worker_failed(1, MsqError::Unknown("lost".into())),
            Err(MsqError::TooManyAttemptsForWorker { worker_number: 1, .. })
        ));
        assert_eq!(k.relaunches(), 3);
        // Without fault tolerance the failure fails the query.
        let mut k = kernel(vec![shape(vec![], 1, None)], 1);
        k.start_stage(0, vec![]).unwrap();
        assert!(matches!(
            k.worker_failed(0, MsqError::Unknown("lost".into())),
            Err(MsqError::Unknown(_))
        ));
    }
}
