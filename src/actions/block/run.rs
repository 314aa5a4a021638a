//! Running a plan's commands by argv, one after the other, as child jobs.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use ipnet::IpNet;

use super::plan::{shell_display, BlockPlan};
use super::tools::{Tool, Tools};
use crate::actions::child::{ChildProc, CommandOutput};
use crate::parse::UnixTime;

/// How long one firewall command may take before its group is killed.
pub(crate) const BLOCK_TIMEOUT: Duration = Duration::from_secs(10);
/// Output kept per firewall command.
pub(crate) const BLOCK_OUTPUT_CAP: usize = 64 << 10; // 64 KiB

/// What `ufw status` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UfwState {
    Active,
    /// A rule added now would block nothing.
    Inactive,
    /// No answer we understand: its first line of output, or the exit.
    Unknown(String),
}

impl UfwState {
    /// From `ufw status`'s exit and output (stdout and stderr), e.g. sudo's
    /// "a password is required" or ufw's "You need to be root".
    pub(crate) fn from_output(status: Option<ExitStatus>, output: &[u8]) -> UfwState {
        let text = String::from_utf8_lossy(output);
        let said = |what: &str| text.lines().any(|l| l.trim() == what);
        match status {
            Some(s) if s.success() && said("Status: active") => UfwState::Active,
            Some(s) if s.success() && said("Status: inactive") => UfwState::Inactive,
            _ => UfwState::Unknown(first_line(output).unwrap_or_else(|| match status {
                Some(s) => s.to_string(),
                None => "no answer".into(),
            })),
        }
    }
}

impl std::fmt::Display for UfwState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UfwState::Active => f.write_str("ufw is active"),
            UfwState::Inactive => f.write_str("ufw is inactive: a rule would block nothing"),
            UfwState::Unknown(why) => write!(f, "cannot tell whether ufw is active ({why})"),
        }
    }
}

/// The first non-empty line of a command's output, safe for the terminal
/// and short (sudo's refusal, a tool's error).
pub(crate) fn first_line(output: &[u8]) -> Option<String> {
    let line = output
        .split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii)
        .find(|l| !l.is_empty())?;
    Some(crate::view::format::printable(line, 120))
}

/// One command's outcome.
#[derive(Debug, Clone)]
pub(crate) struct CommandResult {
    pub(crate) argv: Vec<String>,
    /// The plan's check (see [`BlockPlan::check`]): exit 1 is an answer
    /// ("not blocked yet"), not a failure.
    pub(crate) is_check: bool,
    /// The plan's probe (see [`BlockPlan::probe`]): it succeeds only when
    /// the tool says it is on.
    pub(crate) is_probe: bool,
    /// `Err` when it could not be started (text of the error).
    pub(crate) status: Result<ExitStatus, String>,
    /// Killed at `BLOCK_TIMEOUT`.
    pub(crate) timed_out: bool,
    pub(crate) output: CommandOutput,
}

impl CommandResult {
    pub(crate) fn succeeded(&self) -> bool {
        if self.is_probe {
            return self.probe_state() == Some(UfwState::Active);
        }
        let answered = |s: &ExitStatus| s.success() || (self.is_check && s.code() == Some(1));
        !self.timed_out && self.status.as_ref().is_ok_and(answered)
    }

    /// What the probe found (`None`: not a probe, or not started).
    pub(crate) fn probe_state(&self) -> Option<UfwState> {
        let status = self.status.as_ref().ok().filter(|_| self.is_probe)?;
        let status = Some(*status).filter(|_| !self.timed_out);
        Some(UfwState::from_output(status, self.output.bytes()))
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
    /// The plan's probe, run before the commands (`ufw status`).
    pub(crate) probe: Option<CommandResult>,
    /// In order; stops after the first failure.
    pub(crate) commands: Vec<CommandResult>,
}

impl BlockRecord {
    pub(crate) fn succeeded(&self) -> bool {
        self.probe.as_ref().is_none_or(CommandResult::succeeded)
            && !self.commands.is_empty()
            && self.commands.iter().all(CommandResult::succeeded)
    }

    /// Why nothing was run: the probe found the tool off (or could not
    /// tell), so a rule would block nothing.
    pub(crate) fn refusal(&self) -> Option<String> {
        let probe = self.probe.as_ref().filter(|p| !p.succeeded())?;
        Some(match &probe.status {
            Err(e) => format!("cannot ask `{}`: {e}", shell_display(&probe.argv)),
            Ok(_) => probe.probe_state()?.to_string(),
        })
    }

    /// Why the run failed, in one line for the status line: the refusal,
    /// or the failed command's first line of output (sudo's "a password is
    /// required", the tool's error), sanitised.
    pub(crate) fn failure(&self) -> Option<String> {
        if self.succeeded() {
            return None;
        }
        if let Some(refusal) = self.refusal() {
            return Some(refusal);
        }
        let failed = self.commands.iter().find(|c| !c.succeeded())?;
        Some(match &failed.status {
            Err(e) => format!("could not start: {e}"),
            Ok(status) => first_line(failed.output.bytes()).unwrap_or_else(|| status.to_string()),
        })
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
    /// `sudo`, when the plan's commands start with it.
    sudo: Option<PathBuf>,
    /// The first command is the plan's probe (kept out of the record's
    /// commands).
    has_probe: bool,
    /// The first command after the probe is the plan's check.
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
            sudo: tools.sudo().map(Path::to_path_buf),
            commands: plan
                .probe
                .iter()
                .map(Vec::clone)
                .chain(plan.commands().map(<[String]>::to_vec))
                .collect(),
            has_probe: plan.probe.is_some(),
            has_check: plan.check.is_some(),
            timeout,
            started: 0,
            current: None,
            record: BlockRecord {
                time,
                ip,
                target: plan.target,
                tool: plan.tool,
                probe: None,
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
        if self.recorded() == self.started {
            return false; // reaped and recorded already
        }
        let Some(child) = self.current.as_mut() else {
            return false;
        };
        let Some(status) = child.try_reap() else {
            return false;
        };
        let index = self.started - 1;
        let timed_out = child.was_killed();
        let output = child.take_output();
        self.record_result(index, Ok(status), timed_out, output);
        true
    }

    /// Results recorded so far, the probe's included.
    fn recorded(&self) -> usize {
        self.record.commands.len() + usize::from(self.record.probe.is_some())
    }

    /// The result of command `index` goes to the record (the probe's to
    /// its own place).
    fn record_result(
        &mut self,
        index: usize,
        status: Result<ExitStatus, String>,
        timed_out: bool,
        output: CommandOutput,
    ) {
        let is_probe = self.has_probe && index == 0;
        let result = CommandResult {
            argv: self.commands[index].clone(),
            is_check: self.has_check && index == usize::from(self.has_probe),
            is_probe,
            status,
            timed_out,
            output,
        };
        if is_probe {
            self.record.probe = Some(result);
        } else {
            self.record.commands.push(result);
        }
    }

    /// Drop the exited command and start the next one, unless the last
    /// failed, the check found the block in place, or none is left. Returns whether a command runs now.
    pub(crate) fn start_next(&mut self) -> bool {
        if self.current.is_some() && self.recorded() < self.started {
            return true; // the current one has not exited yet
        }
        self.current = None;
        let failed = self.record.commands.last().is_some_and(|r| !r.succeeded())
            || self.record.refusal().is_some();
        if failed || self.record.already_blocked() || self.started == self.commands.len() {
            return false;
        }
        let index = self.started;
        self.started += 1;
        let argv = &self.commands[index];
        let spawned = match (&self.program, argv.first().map(String::as_str)) {
            (None, _) => Err("tool not found".to_string()),
            (Some(_), Some("sudo")) if self.sudo.is_none() => Err("sudo not found".to_string()),
            (Some(program), _) => spawn_tool(program, self.sudo.as_deref(), argv, self.timeout)
                .map_err(|e| e.to_string()),
        };
        match spawned {
            Ok(child) => {
                self.current = Some(child);
                true
            }
            Err(e) => {
                self.record_result(index, Err(e), false, CommandOutput::default());
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

    /// How many commands the plan has (its probe not counted).
    pub(crate) fn len(&self) -> usize {
        self.commands.len() - usize::from(self.has_probe)
    }

    /// What ran so far (complete once [`is_finished`](Self::is_finished)).
    pub(crate) fn record(&self) -> &BlockRecord {
        &self.record
    }
}

/// Start one tool: by its detected path, or, when the argv starts with
/// `sudo`, as `sudo -n PATH ARGS` (never asks for a password: sudo's
/// refusal is the command's output). ETXTBSY (the file is open for writing somewhere, as
/// while a package upgrade replaces it, or a forked process still holds it)
/// is retried a few times.
fn spawn_tool(
    program: &Path,
    sudo: Option<&Path>,
    argv: &[String],
    timeout: Duration,
) -> io::Result<ChildProc> {
    let mut tries = 0;
    let tool_args = BlockPlan::tool_argv(argv).iter().skip(1);
    loop {
        let mut cmd = match sudo.filter(|_| argv.first().is_some_and(|w| w == "sudo")) {
            Some(sudo) => {
                let mut cmd = Command::new(sudo);
                cmd.arg("-n").arg(program);
                cmd
            }
            None => Command::new(program),
        };
        cmd.args(tool_args.clone());
        match ChildProc::spawn(cmd, timeout, BLOCK_OUTPUT_CAP, Instant::now()) {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 5 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            result => return result,
        }
    }
}

/// `ufw status`, asked when block assist opens so the offer can say
/// whether ufw is on: a child the loop watches like a block command.
#[derive(Debug)]
pub(crate) struct UfwProbe {
    child: ChildProc,
}

impl UfwProbe {
    /// Ask the ufw found in `tools` (through `sudo -n` when `sudo`).
    pub(crate) fn start(tools: &Tools, sudo: bool) -> Result<UfwProbe, String> {
        let program = tools.path(Tool::Ufw).ok_or("ufw not found")?;
        let mut argv = vec!["ufw".to_string(), "status".to_string()];
        if sudo {
            tools.sudo().ok_or("sudo not found")?;
            argv.insert(0, "sudo".to_string());
        }
        spawn_tool(program, tools.sudo(), &argv, BLOCK_TIMEOUT)
            .map(|child| UfwProbe { child })
            .map_err(|e| e.to_string())
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.child.as_raw_fd()
    }

    pub(crate) fn on_readable(&mut self) -> bool {
        self.child.on_readable()
    }

    pub(crate) fn on_tick(&mut self, now: Instant) {
        self.child.on_tick(now);
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.child.status().is_some()
    }

    /// What ufw said, once it has exited (call on SIGCHLD; never blocks).
    pub(crate) fn reap(&mut self) -> Option<UfwState> {
        if self.is_finished() {
            return None;
        }
        let status = self.child.try_reap()?;
        let status = Some(status).filter(|_| !self.child.was_killed());
        Some(UfwState::from_output(status, self.child.output().bytes()))
    }
}
