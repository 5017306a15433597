//! Phases of one worker's part of a stage (Druid's `WorkerStagePhase`).

use serde::{Deserialize, Serialize};

/// A worker's phase for one stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WorkerStagePhase {
    New,
    ReadingInput,
    /// Key statistics sent; waiting for the controller's partition boundaries.
    PreshuffleWaitingForResultPartitionBoundaries,
    /// Boundaries known; writing partitioned output.
    PreshuffleWritingOutput,
    ResultsComplete,
    Finished,
    Failed,
}

impl WorkerStagePhase {
    /// Whether a worker may move to `self` from `prior`.
    pub fn can_transition_from(self, prior: WorkerStagePhase) -> bool {
        use WorkerStagePhase::*;
        match self {
            New => false,
            ReadingInput => prior == New,
            PreshuffleWaitingForResultPartitionBoundaries => prior == ReadingInput,
            PreshuffleWritingOutput => prior == PreshuffleWaitingForResultPartitionBoundaries || prior == ReadingInput,
            ResultsComplete => prior == ReadingInput || prior == PreshuffleWritingOutput,
            Finished => prior == ResultsComplete,
            Failed => prior != Finished,
        }
    }

    /// Moves `self` to `next`, or explains why that is not allowed.
    pub fn transition(&mut self, next: WorkerStagePhase) -> crate::Result<()> {
        if next.can_transition_from(*self) {
            *self = next;
            Ok(())
        } else {
            Err(crate::MsqError::Unknown(format!(
                "worker stage cannot go from {self:?} to {next:?}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::WorkerStagePhase::*;

    #[test]
    fn happy_paths() {
        let mut p = New;
        p.transition(ReadingInput).unwrap();
        p.transition(ResultsComplete).unwrap();
        p.transition(Finished).unwrap();
        let mut q = New;
        q.transition(ReadingInput).unwrap();
        q.transition(PreshuffleWaitingForResultPartitionBoundaries).unwrap();
        q.transition(PreshuffleWritingOutput).unwrap();
        q.transition(ResultsComplete).unwrap();
    }

    #[test]
    fn illegal_moves_are_refused() {
        let mut p = New;
        assert!(p.transition(ResultsComplete).is_err());
        assert_eq!(p, New);
        p.transition(ReadingInput).unwrap();
        assert!(p.transition(Finished).is_err());
        p.transition(Failed).unwrap();
        assert!(p.transition(ReadingInput).is_err());
        let mut f = Finished;
        assert!(f.transition(Failed).is_err());
    }
}
