//! One child process as the loop can drive it without blocking: its own
//! process group, stdout and stderr interleaved on one non-blocking pipe,
//! output capped, a timeout that kills the whole group, reaping on demand.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::sys::fd;
use crate::sys::process::{self, ParentDeath};

/// Time between SIGTERM and SIGKILL to the group after a timeout.
pub(crate) const KILL_GRACE: Duration = Duration::from_secs(2);
/// Appended once when output passes the cap.
const TRUNCATED: &[u8] = b"\n[output truncated]\n";

/// What a child wrote (stdout and stderr in arrival order), up to a cap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CommandOutput {
    bytes: Vec<u8>,
    cap: usize,
    truncated: bool,
}

impl CommandOutput {
    pub(crate) fn with_cap(cap: usize) -> CommandOutput {
        CommandOutput {
            bytes: Vec::new(),
            cap,
            truncated: false,
        }
    }

    /// The bytes kept, ending with `[output truncated]` when cut. Raw child
    /// output: sanitise it when drawing.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn is_truncated(&self) -> bool {
        self.truncated
    }

    fn push(&mut self, data: &[u8]) {
        if self.truncated {
            return;
        }
        let room = self.cap.saturating_sub(self.bytes.len());
        if data.len() <= room {
            self.bytes.extend_from_slice(data);
        } else {
            self.bytes.extend_from_slice(&data[..room]);
            self.bytes.extend_from_slice(TRUNCATED);
            self.truncated = true;
        }
    }
}

/// A running (or finished) child in its own process group.
#[derive(Debug)]
pub(crate) struct ChildProc {
    /// Also the process group id (`process_group(0)`).
    pid: libc::pid_t,
    pipe: File,
    eof: bool,
    output: CommandOutput,
    deadline: Instant,
    term_sent: Option<Instant>,
    kill_sent: bool,
    status: Option<ExitStatus>,
}

impl ChildProc {
    /// Start `cmd` (stdin, stdout, stderr and process group are set here).
    pub(crate) fn spawn(
        mut cmd: Command,
        timeout: Duration,
        output_cap: usize,
        now: Instant,
    ) -> io::Result<ChildProc> {
        let (read, write) = fd::nonblocking_pipe()?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(write.try_clone()?))
            .stderr(Stdio::from(write))
            .process_group(0);
        process::prepare_child(&mut cmd, ParentDeath::Survive);
        let child = cmd.spawn()?;
        // `cmd` holds our copies of the pipe's write end: close them now, or
        // the read end never sees end-of-file.
        drop(cmd);
        Ok(ChildProc {
            pid: child.id() as libc::pid_t,
            pipe: File::from(read),
            eof: false,
            output: CommandOutput::with_cap(output_cap),
            deadline: now + timeout,
            term_sent: None,
            kill_sent: false,
            status: None,
        })
    }

    pub(crate) fn pid(&self) -> libc::pid_t {
        self.pid
    }

    pub(crate) fn output(&self) -> &CommandOutput {
        &self.output
    }

    pub(crate) fn take_output(&mut self) -> CommandOutput {
        let cap = self.output.cap;
        std::mem::replace(&mut self.output, CommandOutput::with_cap(cap))
    }

    pub(crate) fn status(&self) -> Option<ExitStatus> {
        self.status
    }

    /// Whether the timeout (or a cancel) sent signals to the group.
    pub(crate) fn was_killed(&self) -> bool {
        self.term_sent.is_some()
    }

    /// Read what the pipe holds until it would block. Returns whether any
    /// byte arrived (for a redraw). Errors other than `WouldBlock` end the
    /// stream as end-of-file does.
    pub(crate) fn on_readable(&mut self) -> bool {
        let mut buf = [0u8; 8192];
        let mut got = false;
        while !self.eof {
            match self.pipe.read(&mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.output.push(&buf[..n]);
                    got = true;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => self.eof = true,
            }
        }
        got
    }

    /// Enforce the deadline: SIGTERM to the group when it passes, SIGKILL
    /// `KILL_GRACE` later. Signals go only while the leader is unreaped, so
    /// the group id cannot belong to anyone else yet.
    pub(crate) fn on_tick(&mut self, now: Instant) {
        if self.status.is_some() {
            return;
        }
        match self.term_sent {
            None if now >= self.deadline => self.terminate(now),
            Some(at) if !self.kill_sent && now >= at + KILL_GRACE => {
                self.signal_group(libc::SIGKILL);
                self.kill_sent = true;
            }
            _ => {}
        }
    }

    /// Stop the group now (SIGTERM; `on_tick` follows with SIGKILL).
    pub(crate) fn terminate(&mut self, now: Instant) {
        if self.status.is_none() && self.term_sent.is_none() {
            self.signal_group(libc::SIGTERM);
            self.term_sent = Some(now);
        }
    }

    /// Reap the leader if it exited (call on SIGCHLD; never blocks).
    ///
    /// A killed group gets a SIGKILL before the leader is reaped, so a
    /// grandchild that ignored SIGTERM does not outlive the timeout. A group
    /// that ended on its own keeps any background children it started.
    pub(crate) fn try_reap(&mut self) -> Option<ExitStatus> {
        if self.status.is_some() {
            return self.status;
        }
        if !self.leader_exited() {
            return None;
        }
        if self.term_sent.is_some() {
            self.signal_group(libc::SIGKILL);
        }
        self.status = Some(process::try_reap(self.pid)?);
        self.on_readable();
        self.status
    }

    /// Peek at the leader's exit without reaping it (`WNOWAIT`), so the
    /// group id stays ours while we may still signal it.
    fn leader_exited(&self) -> bool {
        process::has_exited(self.pid)
    }

    fn signal_group(&self, sig: libc::c_int) {
        process::signal_group(self.pid, sig);
    }

    /// Drive the child to its end without a loop (block commands): wait
    /// for output or exit, enforce the timeout, return the exit status.
    #[cfg(test)]
    pub(crate) fn wait_blocking(&mut self) -> ExitStatus {
        loop {
            if let Some(status) = self.try_reap() {
                return status;
            }
            self.on_tick(Instant::now());
            if self.eof {
                std::thread::sleep(Duration::from_millis(10));
            } else {
                self.poll_readable(50);
                self.on_readable();
            }
        }
    }

    #[cfg(test)]
    fn poll_readable(&self, timeout_ms: libc::c_int) {
        fd::wait_readable(self.pipe.as_raw_fd(), timeout_ms);
    }
}

impl Drop for ChildProc {
    /// Quitting with a child still running: stop its group rather than
    /// leave it behind, and reap it if it is already gone.
    fn drop(&mut self) {
        if self.status.is_none() {
            self.signal_group(libc::SIGKILL);
            let _ = process::try_reap(self.pid);
        }
    }
}

impl AsRawFd for ChildProc {
    fn as_raw_fd(&self) -> RawFd {
        self.pipe.as_raw_fd()
    }
}
