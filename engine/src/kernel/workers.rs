//! Which workers run a stage and when a failed worker is relaunched (Druid's worker
//! assignment and the relaunch limits of `MSQWorkerTaskLauncher`), as pure decisions.

use crate::ids::worker_task_id;
use crate::{MsqError, Result};

/// Druid's relaunch limits under fault tolerance: attempts after the first per worker...
pub const MAX_RELAUNCHES_PER_WORKER: u32 = 2;
/// ...and relaunches in one job.
pub const MAX_RELAUNCHES_PER_JOB: u32 = 100;

/// Spreads `partitions` partitions over at most `workers` workers, round robin: worker `i`
/// gets partitions `i, i + n, i + 2n, …` where `n = min(partitions, workers)`. No
/// partitions: no workers.
pub fn assign_partitions(partitions: usize, workers: usize) -> Vec<Vec<usize>> {
    let n = partitions.min(workers);
    let mut assign = vec![Vec::new(); n];
    for p in 0..partitions {
        assign[p % n].push(p);
    }
    assign
}

/// The attempts of a query's worker slots and the relaunch budget.
#[derive(Debug, Clone)]
pub struct WorkerAttempts {
    task_id: String,
    fault_tolerance: bool,
    attempts: Vec<u32>,
    relaunches: u32,
}

impl WorkerAttempts {
    /// `slots` workers of controller task `task_id`, all at attempt 0.
    pub fn new(task_id: &str, slots: usize, fault_tolerance: bool) -> Self {
        WorkerAttempts {
            task_id: task_id.to_string(),
            fault_tolerance,
            attempts: vec![0; slots],
            relaunches: 0,
        }
    }

    /// The controller task.
    pub fn task_id(&self) -> &str {
        &self.task_id
    }

    /// Number of worker slots.
    pub fn slots(&self) -> usize {
        self.attempts.len()
    }

    /// Current attempt of worker `w`.
    pub fn attempt(&self, w: usize) -> u32 {
        self.attempts.get(w).copied().unwrap_or(0)
    }

    /// Whether a message from `attempt` of worker `w` still counts (a replaced attempt's
    /// messages do not).
    pub fn is_current(&self, w: usize, attempt: u32) -> bool {
        self.attempts.get(w) == Some(&attempt)
    }

    /// Task id of worker `w`'s current attempt.
    pub fn worker_id(&self, w: usize) -> String {
        worker_task_id(&self.task_id, w, self.attempt(w))
    }

    /// Relaunches so far.
    pub fn relaunches(&self) -> u32 {
        self.relaunches
    }

    /// Whether a worker's error is worth a relaunch: under fault tolerance, errors that are
    /// not the user's (and not a cancellation).
    pub fn retriable(&self, e: &MsqError) -> bool {
        self.fault_tolerance && !e.is_user_error() && !matches!(e, MsqError::Canceled)
    }

    /// Worker `w` failed with `failure`: its next attempt number, counted against the
    /// limits, or the error that fails the query (the failure itself without fault
    /// tolerance, `TooManyAttemptsForWorker` / `TooManyAttemptsForJob` past the limits).
    pub fn relaunch(&mut self, w: usize, failure: MsqError) -> Result<u32> {
        if !self.fault_tolerance {
            return Err(failure);
        }
        let attempt = self.attempt(w);
        if attempt >= MAX_RELAUNCHES_PER_WORKER {
            return Err(MsqError::TooManyAttemptsForWorker {
                max_per_worker_relaunch: MAX_RELAUNCHES_PER_WORKER,
                task_id: self.worker_id(w),
                worker_number: w,
                root_error_message: failure.to_string(),
            });
        }
        if self.relaunches >= MAX_RELAUNCHES_PER_JOB {
            return Err(MsqError::TooManyAttemptsForJob {
                max_relaunch_count: MAX_RELAUNCHES_PER_JOB,
                current_relaunch_count: self.relaunches + 1,
                task_id: self.worker_id(w),
                root_error_message: failure.to_string(),
            });
        }
        self.relaunches += 1;
        self.attempts[w] = attempt + 1;
        Ok(attempt + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lost() -> MsqError {
        MsqError::WorkerFailed {
            worker_task_id: "w".into(),
            message: "gone".into(),
        }
    }

    #[test]
    fn assignment_spreads_partitions_round_robin() {
        assert_eq!(assign_partitions(5, 2), vec![vec![0, 2, 4], vec![1, 3]]);
        assert_eq!(assign_partitions(2, 4), vec![vec![0], vec![1]], "no idle workers");
        assert_eq!(assign_partitions(3, 3), vec![vec![0], vec![1], vec![2]]);
        assert!(assign_partitions(0, 3).is_empty(), "nothing to do: no workers");
        let spread = assign_partitions(100, 7);
        assert_eq!(spread.len(), 7);
        assert!(spread.iter().all(|p| p.len() == 14 || p.len() == 15));
    }

    #[test]
    fn relaunch_limit_per_worker() {
        let mut a = WorkerAttempts::new("task", 2, true);
        assert_eq!(a.relaunch(0, lost()).unwrap(), 1);
        assert!(a.is_current(0, 1) && !a.is_current(0, 0));
        assert_eq!(a.relaunch(0, lost()).unwrap(), 2);
        match a.relaunch(0, lost()) {
            Err(MsqError::TooManyAttemptsForWorker {
                max_per_worker_relaunch,
                task_id,
                worker_number,
                root_error_message,
            }) => {
                assert_eq!(max_per_worker_relaunch, MAX_RELAUNCHES_PER_WORKER);
                assert_eq!(task_id, worker_task_id("task", 0, 2));
                assert_eq!(worker_number, 0);
                assert!(root_error_message.contains("gone"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(a.attempt(0), 2, "a refused relaunch changes nothing");
        assert_eq!(a.relaunch(1, lost()).unwrap(), 1, "other workers keep their budget");
        assert_eq!(a.relaunches(), 3);
    }

    #[test]
    fn relaunch_limit_per_job() {
        let slots = MAX_RELAUNCHES_PER_JOB as usize + 1;
        let mut a = WorkerAttempts::new("task", slots, true);
        for w in 0..MAX_RELAUNCHES_PER_JOB as usize {
            a.relaunch(w, lost()).unwrap();
        }
        match a.relaunch(slots - 1, lost()) {
            Err(MsqError::TooManyAttemptsForJob {
                current_relaunch_count, ..
            }) => assert_eq!(current_relaunch_count, MAX_RELAUNCHES_PER_JOB + 1),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn without_fault_tolerance_the_failure_stands() {
        let mut a = WorkerAttempts::new("task", 1, false);
        assert!(matches!(a.relaunch(0, lost()), Err(MsqError::WorkerFailed { .. })));
        assert!(!a.retriable(&lost()));
        let ft = WorkerAttempts::new("task", 1, true);
        assert!(ft.retriable(&lost()));
        assert!(!ft.retriable(&MsqError::Canceled));
        assert!(!ft.retriable(&MsqError::InsertCannotBeEmpty {
            data_source: "x".into()
        }));
    }
}
