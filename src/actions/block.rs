//! Block assist (`b`): the firewall commands that would block an address,
//! the checks that stop an operator from locking themselves out, and —
//! only with `[actions] enable_block_execution = true` and after
//! confirmation — running them by argv (never through a shell).
//!
//! The pieces are pure where they can be: [`Tools::detect_in`] takes the
//! PATH, [`SafetyContext`] takes the environment and the host's addresses,
//! [`BlockFlow`] is the confirmation state machine the modal drives.

mod flow;
mod plan;
mod run;
mod safety;
#[cfg(test)]
mod tests;
mod tools;

pub use flow::{BlockFlow, FlowError, Step};
pub use plan::{shell_display, target, target_text, BlockPlan, Scope, ScopeError};
pub use run::{execute, BlockRecord, BlockRun, CommandResult, BLOCK_OUTPUT_CAP, BLOCK_TIMEOUT};
pub use safety::{operator_addresses, Refusal, SafetyContext, Verdict, Warning};
pub use tools::{Tool, Tools};
