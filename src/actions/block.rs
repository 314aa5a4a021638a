//! Block assist (`b`): the firewall commands that would block an address,
//! the checks that stop an operator from locking themselves out, and —
//! only with `[actions] enable_block_execution = true` and after
//! confirmation — running them by argv (never through a shell).
//!
//! The pieces are pure where they can be: [`Tools::detect_in`] takes the
//! PATH, [`SafetyContext`] takes the environment and the host's addresses,
//! [`BlockFlow`] is the confirmation state machine the modal drives.
//!
//! ufw is asked `ufw status` first ([`UfwProbe`] for the offer, the plan's
//! probe before a run): an inactive ufw takes rules and blocks nothing.
//! Not root, every command carries `sudo` and runs as `sudo -n`, which
//! never prompts: its refusal is the command's output.

mod flow;
mod plan;
mod run;
mod safety;
#[cfg(test)]
mod tests;
mod tools;

pub(crate) use flow::BlockFlow;
pub(crate) use flow::{FlowError, Step};
pub(crate) use plan::BlockPlan;
pub(crate) use plan::{nft_table_name, shell_display, target, target_text, Scope, ScopeError};
pub(crate) use run::CommandResult;
pub(crate) use run::{BlockRecord, BlockRun, UfwProbe, UfwState};
pub(crate) use safety::SafetyContext;
pub(crate) use safety::Verdict;
pub(crate) use tools::Tool;
pub(crate) use tools::Tools;
