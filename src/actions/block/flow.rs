//! The confirmation state machine the block modal drives.

use std::fmt;
use std::net::IpAddr;

use super::plan::BlockPlan;
use super::run::{BlockRun, BLOCK_TIMEOUT};
use super::safety::Verdict;
use super::tools::Tools;
use crate::parse::UnixTime;

/// Where the confirmation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Commands and warnings shown; nothing will run yet.
    Propose,
    /// "Run this?" asked once.
    Confirm,
    /// A refusal applies: asked again, with the reasons.
    SecondConfirm,
    /// Confirmed: `run` may execute.
    Ready,
    /// Ran; the record is kept.
    Done,
}

/// Why the flow did not move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlowError {
    /// `[actions] enable_block_execution` is false: show, copy, never run.
    ExecutionDisabled,
    /// `run` before the confirmations (or after it ran).
    NotConfirmed,
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlowError::ExecutionDisabled => {
                f.write_str("execution is off (set [actions] enable_block_execution = true)")
            }
            FlowError::NotConfirmed => f.write_str("not confirmed"),
        }
    }
}

/// The confirmation state machine: Propose → Confirm → (SecondConfirm when
/// a refusal applies) → Ready → Done. `cancel` goes back to Propose.
#[derive(Debug, Clone)]
pub(crate) struct BlockFlow {
    pub(crate) ip: IpAddr,
    pub(crate) plan: BlockPlan,
    pub(crate) verdict: Verdict,
    enabled: bool,
    step: Step,
    /// What [`run`](Self::run) did (tests: the loop runs plans as a
    /// [`BlockRun`] and records them itself).
    #[cfg(test)]
    record: Option<super::run::BlockRecord>,
}

impl BlockFlow {
    pub(crate) fn new(ip: IpAddr, plan: BlockPlan, verdict: Verdict, enabled: bool) -> BlockFlow {
        BlockFlow {
            ip,
            plan,
            verdict,
            enabled,
            step: Step::Propose,
            #[cfg(test)]
            record: None,
        }
    }

    pub(crate) fn step(&self) -> Step {
        self.step
    }

    /// The operator said yes to the current question.
    pub(crate) fn advance(&mut self) -> Result<Step, FlowError> {
        if !self.enabled {
            return Err(FlowError::ExecutionDisabled);
        }
        self.step = match self.step {
            Step::Propose => Step::Confirm,
            Step::Confirm if self.verdict.needs_second_confirmation() => Step::SecondConfirm,
            Step::Confirm | Step::SecondConfirm => Step::Ready,
            Step::Ready => Step::Ready,
            Step::Done => return Err(FlowError::NotConfirmed),
        };
        Ok(self.step)
    }

    /// The operator said no: back to showing the commands.
    pub(crate) fn cancel(&mut self) {
        if self.step != Step::Done {
            self.step = Step::Propose;
        }
    }

    /// Execute the plan, only when enabled and confirmed.
    #[cfg(test)]
    pub(crate) fn run(
        &mut self,
        tools: &Tools,
        now: UnixTime,
    ) -> Result<&super::run::BlockRecord, FlowError> {
        if !self.enabled {
            return Err(FlowError::ExecutionDisabled);
        }
        if self.step != Step::Ready {
            return Err(FlowError::NotConfirmed);
        }
        self.step = Step::Done;
        Ok(self.record.insert(super::run::execute(
            &self.plan,
            tools,
            self.ip,
            now,
            BLOCK_TIMEOUT,
        )))
    }

    /// As [`run`](Self::run), without blocking: start the commands and hand
    /// back the [`BlockRun`] for the loop to drive. The flow is then Done;
    /// the record is the run's.
    pub(crate) fn start(&mut self, tools: &Tools, time: UnixTime) -> Result<BlockRun, FlowError> {
        if !self.enabled {
            return Err(FlowError::ExecutionDisabled);
        }
        if self.step != Step::Ready {
            return Err(FlowError::NotConfirmed);
        }
        self.step = Step::Done;
        Ok(BlockRun::start(
            &self.plan,
            tools,
            self.ip,
            time,
            BLOCK_TIMEOUT,
        ))
    }
}
