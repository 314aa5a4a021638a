//! Running a plan's commands by argv, one after the other, as child jobs.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use ipnet::IpNet;

use super::plan::BlockPlan;
use super::tools::{Tool, Tools};
use crate::actions::child::{ChildProc, CommandOutput};
use crate::parse::UnixTime;

/// How long one firewall command may take before its group is killed.
pub(crate) const BLOCK_TIMEOUT: Duration = Duration::from_secs(10);
/// Output kept per firewall command.
pub(crate) const BLOCK_OUTPUT_CAP: usize = 64 << 10; // 64 KiB

/// One command's outcome.
#[derive(Debug, Clone)]
pub(crate) struct CommandResult {
    pub(crate) argv: Vec<String>,
    /// The plan's check (see [`BlockPlan::check`]): exit 1 is an answer
    /// ("not blocked yet"), not a failure.
    pub(crate) is_check: bool,
    /// `Err` when it could not be started (text of the error).
    pub(crate) status: Result<ExitStatus, String>,
    /// Killed at `BLOCK_TIMEOUT`.
    pub(crate) timed_out: bool,
    pub(crate) output: CommandOutput,
}

impl CommandResult {
    pub(crate) fn succeeded(&self) -> bool {
        let answered = |s: &ExitStatus| s.success() || (self.is_check && s.code() == Some(1));
        !self.timed_out && self.status.as_ref().is_ok_and(answered)
    }

    /// A check that found the block in place already.
    pub(crate) fn found_block(&self) -> bool {
        self.is_check && !self.timed_out && self.status.as_ref().is_ok_and(ExitStatus::success)
    }
}

/// What a block did, for the modal and for history.
#[derive(Debug, Clone)]
pub(crate) struct BlockRecord {
    pub(crate) time: UnixTime,
    pub(crate) ip: IpAddr,
    pub(crate) target: IpNet,
    pub(crate) tool: Tool,
    /// In order; stops after the first failure.
    pub(crate) commands: Vec<CommandResult>,
}

impl BlockRecord {
    pub(crate) fn succeeded(&self) -> bool {
        !self.commands.is_empty() && self.commands.iter().all(CommandResult::succeeded)
    }

    /// The plan's check found the block in place: nothing else ran.
    pub(crate) fn already_blocked(&self) -> bool {
        self.commands
            .first()
            .is_some_and(CommandResult::found_block)
    }
}

/// Run a plan's commands in order, stopping at the first failure (or when
/// the plan's check finds the block in place). Each runs
/// by argv with the tool's detected path as the program, in its own process
/// group, killed after `timeout`. Blocks the caller; the dashboard drives a
/// [`BlockRun`] from its loop instead.
#[cfg(test)]
pub(crate) fn execute(
    plan: &BlockPlan,
    tools: &Tools,
    ip: IpAddr,
    time: UnixTime,
    timeout: Duration,
) -> BlockRecord {
    let mut run = BlockRun::start(plan, tools, ip, time, timeout);
    while let Some(child) = run.current.as_mut() {
        child.wait_blocking();
        run.reap();
        run.start_next();
    }
    run.record
}

/// A plan's commands run one after another without blocking the loop,
/// stopping at the first failure. Each runs by argv (the tool's detected
/// path as the program, no shell) in its own process group, output on one
/// non-blocking pipe, killed after the timeout.
///
/// The loop watches [`fd`](Self::fd), which changes with each command: on
/// SIGCHLD call [`reap`](Self::reap); when it says the command exited,
/// deregister the fd, call [`start_next`](Self::start_next) and register
/// the new fd if it returns true.
#[derive(Debug)]
pub(crate) struct BlockRun {
    program: Option<PathBuf>,
    commands: Vec<Vec<String>>,
    /// The first command is the plan's check.
    has_check: bool,
    timeout: Duration,
    /// Commands started so far; the last one is `current`.
    started: usize,
    current: Option<ChildProc>,
    record: BlockRecord,
}

impl BlockRun {
    /// Start the plan's first command.
    pub(crate) fn start(
        plan: &BlockPlan,
        tools: &Tools,
        ip: IpAddr,
        time: UnixTime,
        timeout: Duration,
    ) -> BlockRun {
        let mut run = BlockRun {
            program: tools.path(plan.tool).map(Path::to_path_buf),
            commands: plan.commands().map(<[String]>::to_vec).collect(),
            has_check: plan.check.is_some(),
            timeout,
            started: 0,
            current: None,
            record: BlockRecord {
                time,
                ip,
                target: plan.target,
                tool: plan.tool,
                commands: Vec::new(),
            },
        };
        run.start_next();
        run
    }

    /// The current command's output pipe (`None` once all are done).
    pub(crate) fn fd(&self) -> Option<RawFd> {
        self.current.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// Read the current command's output (its fd is readable). Returns
    /// whether bytes arrived.
    pub(crate) fn on_readable(&mut self) -> bool {
        self.current.as_mut().is_some_and(ChildProc::on_readable)
    }

    /// Enforce the current command's timeout.
    pub(crate) fn on_tick(&mut self, now: Instant) {
        if let Some(child) = self.current.as_mut() {
            child.on_tick(now);
        }
    }

    /// Whether the current command has just exited (call on SIGCHLD; never
    /// blocks). Its result is then the record's last.
    pub(crate) fn reap(&mut self) -> bool {
        let Some(child) = self.current.as_mut() else {
            return false;
        };
        if self.record.commands.len() == self.started {
            return false; // reaped and recorded already
        }
        let Some(status) = child.try_reap() else {
            return false;
        };
        let argv = self.commands[self.started - 1].clone();
        self.record.commands.push(CommandResult {
            argv,
            is_check: self.has_check && self.started == 1,
            status: Ok(status),
            timed_out: child.was_killed(),
            output: child.take_output(),
        });
        true
    }

    /// Drop the exited command and start the next one, unless the last
    /// failed, the check found the block in place, or none is left. Returns whether a command runs now.
    pub(crate) fn start_next(&mut self) -> bool {
        if self.current.is_some() && self.record.commands.len() < self.started {
            return true; // the current one has not exited yet
        }
        self.current = None;
        let failed = self.record.commands.last().is_some_and(|r| !r.succeeded());
        if failed || self.record.already_blocked() || self.started == self.commands.len() {
            return false;
        }
        let is_check = self.has_check && self.started == 0;
        let argv = &self.commands[self.started];
        self.started += 1;
        let spawned = match &self.program {
            None => Err("tool not found".to_string()),
            Some(program) => spawn_tool(program, argv, self.timeout).map_err(|e| e.to_string()),
        };
        match spawned {
            Ok(child) => {
                self.current = Some(child);
                true
            }
            Err(e) => {
                self.record.commands.push(CommandResult {
                    argv: argv.clone(),
                    is_check,
                    status: Err(e),
                    timed_out: false,
                    output: CommandOutput::default(),
                });
                false
            }
        }
    }

    /// Every command has run, or one failed, or the check found the block.
    pub(crate) fn is_finished(&self) -> bool {
        self.current.is_none()
    }

    /// The command running now and its output so far.
    pub(crate) fn running(&self) -> Option<(&[String], &CommandOutput)> {
        let child = self.current.as_ref()?;
        let argv = self.commands.get(self.started.checked_sub(1)?)?;
        Some((argv.as_slice(), child.output()))
    }

    /// How many commands the plan has.
    pub(crate) fn len(&self) -> usize {
        self.commands.len()
    }

    /// What ran so far (complete once [`is_finished`](Self::is_finished)).
    pub(crate) fn record(&self) -> &BlockRecord {
        &self.record
    }
}

/// Start one tool. ETXTBSY (the file is open for writing somewhere, as
/// while a package upgrade replaces it, or a forked process still holds it)
/// is retried a few times.
fn spawn_tool(program: &Path, argv: &[String], timeout: Duration) -> io::Result<ChildProc> {
    let mut tries = 0;
    loop {
        let mut cmd = Command::new(program);
        cmd.args(argv.iter().skip(1));
        match ChildProc::spawn(cmd, timeout, BLOCK_OUTPUT_CAP, Instant::now()) {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 5 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            result => return result,
        }
    }
}
