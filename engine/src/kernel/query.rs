//! The controller's view of a running query: which stages can start, when statistics are
//! complete, when results are ready, and when outputs may be cleaned up. No I/O.

use super::stage_phase::ControllerStagePhase;
use crate::keystats::{boundaries_by_count, boundaries_by_target_size, KeyStatistics, RangePartitions};
use crate::stage::{PartitionTarget, MAX_BUCKETS, MAX_PARTITIONS};
use crate::{MsqError, Result};
use std::collections::BTreeSet;

/// What the kernel needs to know about a stage.
#[derive(Debug, Clone)]
pub struct StageShape {
    /// Stages this one reads.
    pub inputs: Vec<usize>,
    pub worker_count: usize,
    /// `Some` when output partitions come from key statistics.
    pub range_target: Option<PartitionTarget>,
    /// Partition count when known up front.
    pub fixed_partitions: Option<usize>,
    /// Whether the stage sorts (walks POST_READING).
    pub sorts: bool,
}

/// Controller-side tracker of one stage.
#[derive(Debug, Clone)]
pub struct StageTracker {
    pub shape: StageShape,
    pub phase: ControllerStagePhase,
    stats_from: BTreeSet<usize>,
    stats: Option<KeyStatistics>,
    done_reading: BTreeSet<usize>,
    complete: BTreeSet<usize>,
    pub partitions: Option<RangePartitions>,
    pub partition_count: Option<usize>,
    /// Rows each worker wrote to each output partition (from results-complete messages).
    pub partition_rows: Vec<u64>,
}

/// What the driver must do after feeding the kernel an event.
#[derive(Debug, Clone, PartialEq)]
pub enum KernelAction {
    /// Nothing new.
    None,
    /// Send these boundaries to every worker of the stage.
    SendBoundaries(RangePartitions),
}

/// All stages of one query.
#[derive(Debug, Clone)]
pub struct QueryKernel {
    pub stages: Vec<StageTracker>,
}

impl QueryKernel {
    /// A kernel for stages in dependency order.
    pub fn new(shapes: Vec<StageShape>) -> Self {
        QueryKernel {
            stages: shapes
                .into_iter()
                .map(|shape| StageTracker {
                    partition_count: shape.fixed_partitions,
                    shape,
                    phase: ControllerStagePhase::New,
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

    /// NEW → READING_INPUT.
    pub fn start_stage(&mut self, n: usize) -> Result<()> {
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
        self.transition(n, ControllerStagePhase::ReadingInput)
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
        if s.stats_from.len() < s.shape.worker_count {
            return Ok(KernelAction::None);
        }
        self.transition(n, ControllerStagePhase::MergingStatistics)?;
        let s = &mut self.stages[n];
        let merged = s.stats.take().unwrap_or_default();
        let partitions = compute_partitions(&merged, target)?;
        s.partition_count = Some(partitions.len());
        s.partitions = Some(partitions.clone());
        self.transition(n, ControllerStagePhase::PostReading)?;
        Ok(KernelAction::SendBoundaries(partitions))
    }

    /// A worker finished reading input (sorting stages without statistics move to POST_READING).
    pub fn worker_done_reading(&mut self, n: usize, worker: usize) -> Result<()> {
        let s = &mut self.stages[n];
        s.done_reading.insert(worker);
        if s.shape.sorts
            && s.shape.range_target.is_none()
            && s.phase == ControllerStagePhase::ReadingInput
            && s.done_reading.len() == s.shape.worker_count
        {
            self.transition(n, ControllerStagePhase::PostReading)?;
        }
        Ok(())
    }

    /// A worker's results are complete, with its rows per output partition. When all are,
    /// the stage is RESULTS_READY.
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
        if s.complete.len() < s.shape.worker_count {
            return Ok(false);
        }
        if s.partition_count.is_none() {
            s.partition_count = Some(s.partition_rows.len());
        }
        self.transition(n, ControllerStagePhase::ResultsReady)?;
        Ok(true)
    }

    /// Whether `worker` has reported its results of stage `n` complete.
    pub fn worker_complete(&self, n: usize, worker: usize) -> bool {
        self.stages[n].complete.contains(&worker)
    }

    /// A worker is being re-run on stage `n` (fault tolerance): forget that it finished
    /// reading. Statistics it sent stay merged; its re-sent copy is ignored.
    pub fn reset_worker(&mut self, n: usize, worker: usize) {
        self.stages[n].done_reading.remove(&worker);
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

    fn shape(inputs: Vec<usize>, workers: usize, range: Option<PartitionTarget>) -> StageShape {
        StageShape {
            inputs,
            worker_count: workers,
            range_target: range,
            fixed_partitions: if range.is_some() { None } else { Some(workers) },
            sorts: range.is_some(),
        }
    }

    #[test]
    fn two_stage_hash_then_final() {
        let mut k = QueryKernel::new(vec![shape(vec![], 2, None), shape(vec![0], 2, None)]);
        assert_eq!(k.ready_to_start(), vec![0]);
        k.start_stage(0).unwrap();
        assert!(k.start_stage(1).is_err(), "inputs not ready");
        assert!(!k.worker_results_complete(0, 0, &[3, 4]).unwrap());
        assert!(!k.worker_results_complete(0, 0, &[3, 4]).unwrap(), "duplicate ignored");
        assert!(k.worker_results_complete(0, 1, &[1, 0]).unwrap());
        assert_eq!(k.phase(0), ResultsReady);
        assert_eq!(k.stages[0].partition_rows, vec![4, 4]);
        assert_eq!(k.ready_to_start(), vec![1]);
        assert!(k.stages_to_finish(false).is_empty(), "consumer still running");
        k.start_stage(1).unwrap();
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
        let mut k = QueryKernel::new(vec![shape(vec![], 2, Some(PartitionTarget::RowsPerPartition(2)))]);
        k.start_stage(0).unwrap();
        let mut a = KeyStatistics::new(64);
        for key in [b"a", b"b", b"c"] {
            a.add(0, key);
        }
        let mut b = KeyStatistics::new(64);
        for key in [b"d", b"e"] {
            b.add(0, key);
        }
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
        let mut k = QueryKernel::new(vec![shape(vec![], 1, None), shape(vec![0], 1, None)]);
        k.start_stage(0).unwrap();
        k.fail_running();
        assert_eq!(k.phase(0), Failed);
        assert_eq!(k.phase(1), New);
        assert!(k.ready_to_start().is_empty());
    }
}
