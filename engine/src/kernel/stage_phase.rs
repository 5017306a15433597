//! Phases of a stage as the controller sees them (Druid's `ControllerStagePhase`).

use serde::{Deserialize, Serialize};

/// A stage's phase, with Druid's names and allowed transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ControllerStagePhase {
    /// Created, not started.
    New,
    /// Workers are reading inputs.
    ReadingInput,
    /// The controller merges workers' key statistics into partition boundaries.
    MergingStatistics,
    /// Inputs read; sorting / partitioning in progress.
    PostReading,
    /// All results generated.
    ResultsReady,
    /// Done and cleaned up.
    Finished,
    /// Something went wrong.
    Failed,
    /// Workers are being relaunched.
    Retrying,
}

impl ControllerStagePhase {
    /// Whether a stage may move to `self` from `prior` (Druid's `canTransitionFrom`).
    pub fn can_transition_from(self, prior: ControllerStagePhase) -> bool {
        use ControllerStagePhase::*;
        match self {
            New => false,
            ReadingInput => prior == Retrying || prior == New,
            MergingStatistics => prior == ReadingInput,
            PostReading => prior == ReadingInput || prior == MergingStatistics,
            ResultsReady => prior == ReadingInput || prior == PostReading,
            Finished => !prior.is_terminal(),
            Failed => true,
            Retrying => matches!(prior, ReadingInput | PostReading | MergingStatistics | Retrying),
        }
    }

    /// Started and not yet cleaned up or failed.
    pub fn is_running(self) -> bool {
        use ControllerStagePhase::*;
        matches!(
            self,
            ReadingInput | MergingStatistics | PostReading | ResultsReady | Retrying
        )
    }

    /// Produced its results.
    pub fn is_success(self) -> bool {
        matches!(
            self,
            ControllerStagePhase::ResultsReady | ControllerStagePhase::Finished
        )
    }

    /// No longer running.
    pub fn is_terminal(self) -> bool {
        matches!(self, ControllerStagePhase::Finished | ControllerStagePhase::Failed)
    }

    /// Druid's name, as printed in reports.
    pub fn name(self) -> &'static str {
        use ControllerStagePhase::*;
        match self {
            New => "NEW",
            ReadingInput => "READING_INPUT",
            MergingStatistics => "MERGING_STATISTICS",
            PostReading => "POST_READING",
            ResultsReady => "RESULTS_READY",
            Finished => "FINISHED",
            Failed => "FAILED",
            Retrying => "RETRYING",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ControllerStagePhase::*;
    use super::*;

    const ALL: [ControllerStagePhase; 8] = [
        New,
        ReadingInput,
        MergingStatistics,
        PostReading,
        ResultsReady,
        Finished,
        Failed,
        Retrying,
    ];

    #[test]
    fn transition_table_matches_druid() {
        let allowed: Vec<(ControllerStagePhase, ControllerStagePhase)> = ALL
            .iter()
            .flat_map(|to| ALL.iter().map(move |from| (*from, *to)))
            .filter(|(from, to)| to.can_transition_from(*from))
            .collect();
        let expected = vec![
            (New, ReadingInput),
            (Retrying, ReadingInput),
            (ReadingInput, MergingStatistics),
            (ReadingInput, PostReading),
            (MergingStatistics, PostReading),
            (ReadingInput, ResultsReady),
            (PostReading, ResultsReady),
            (New, Finished),
            (ReadingInput, Finished),
            (MergingStatistics, Finished),
            (PostReading, Finished),
            (ResultsReady, Finished),
            (Retrying, Finished),
            (New, Failed),
            (ReadingInput, Failed),
            (MergingStatistics, Failed),
            (PostReading, Failed),
            (ResultsReady, Failed),
            (Finished, Failed),
            (Failed, Failed),
            (Retrying, Failed),
            (ReadingInput, Retrying),
            (MergingStatistics, Retrying),
            (PostReading, Retrying),
            (Retrying, Retrying),
        ];
        let mut a = allowed.clone();
        let mut e = expected.clone();
        a.sort_by_key(|(f, t)| (t.name(), f.name()));
        e.sort_by_key(|(f, t)| (t.name(), f.name()));
        assert_eq!(a, e);
    }

    #[test]
    fn names_serialize_like_druid() {
        assert_eq!(serde_json::to_string(&ResultsReady).unwrap(), "\"RESULTS_READY\"");
        assert_eq!(MergingStatistics.name(), "MERGING_STATISTICS");
        assert!(ResultsReady.is_success() && !ResultsReady.is_terminal());
    }
}
