//! sshd events from journald: `journalctl -f` runs as a child and its
//! stdout pipe is one more fd in the caller's mio loop.
//!
//! When the child dies (EOF on the pipe, or `SIGCHLD` and the tick) it is
//! reaped and started again after a back-off that doubles from 1 s to 60 s
//! and starts over once a child has lived 60 s. Nothing waits or sleeps:
//! [`Journal::on_tick`] does the restarting when the time has come. The
//! program is injectable, so tests run a fake script instead.
//!
//! A partial line left when the child dies is dropped, not handed out: a
//! truncated sshd line could end inside its address and name a wrong IP.
//! Lines logged while no child runs are not seen (`-n 0` starts at the
//! end); the back-off keeps that window short.

use std::ffi::OsString;
use std::fmt::Display;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use super::linebuf::LineBuf;
use super::logset::{LineVerdict, LogKind, SourceStats};
use crate::sys::process::{self, ParentDeath};

/// The program run by [`Journal::new`].
pub const JOURNALCTL: &str = "journalctl";

/// Follow new entries only, one line each with an ISO 8601 time, from the
/// sshd processes. Matches on the same field are OR-ed by journalctl
/// (sshd ≥ 9.8 logs as `sshd-session` and `sshd-auth`). `-q` drops the
/// "-- Journal begins --" style banners.
pub const JOURNAL_ARGS: &[&str] = &[
    "-f",
    "-a", // print messages with unprintable bytes (hostile user names) as text
    "-n",
    "0",
    "-q",
    "-o",
    "short-iso",
    "_COMM=sshd",
    "_COMM=sshd-session",
    "_COMM=sshd-auth",
];

const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// How long a child may live on after closing its output (exiting takes
/// a moment after the last write) before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// Exponential restart delay: 1 s doubling to 60 s, back to 1 s after a
/// child that ran at least 60 s (it was working; this is a new failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Backoff {
    next: Duration,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff { next: BACKOFF_MIN }
    }

    /// The delay before the next start, for a child that ran `ran`.
    fn after_exit(&mut self, ran: Duration) -> Duration {
        if ran >= BACKOFF_MAX {
            self.next = BACKOFF_MIN;
        }
        let delay = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        delay
    }
}

struct Running {
    child: Child,
    /// `None` once the pipe reached EOF (the child is about to exit).
    stdout: Option<ChildStdout>,
    started: Instant,
    /// When the pipe reached EOF; a child still alive `EXIT_GRACE` later
    /// is killed.
    eof_at: Option<Instant>,
}

/// The journald source. Register it in mio (readable) and call
/// [`on_readable`](Self::on_readable) when it fires; call
/// [`on_tick`](Self::on_tick) on every tick and on `SIGCHLD`.
pub struct Journal {
    program: OsString,
    args: Vec<OsString>,
    running: Option<Running>,
    buf: LineBuf,
    backoff: Backoff,
    restart_at: Option<Instant>,
    stats: SourceStats,
    /// Kept from `register` so each new child's pipe joins the same loop
    /// under the same token.
    registration: Option<(Registry, Token, Interest)>,
}

impl Default for Journal {
    fn default() -> Self {
        Self::new()
    }
}

impl Journal {
    /// `journalctl` with [`JOURNAL_ARGS`]. Not started yet.
    pub fn new() -> Journal {
        Self::with_command(JOURNALCTL, JOURNAL_ARGS)
    }

    /// Another program (tests use a script). Not started yet.
    pub fn with_command<P, A>(program: P, args: &[A]) -> Journal
    where
        P: Into<OsString>,
        A: Clone + Into<OsString>,
    {
        Journal {
            program: program.into(),
            args: args.iter().cloned().map(Into::into).collect(),
            running: None,
            buf: LineBuf::new(),
            backoff: Backoff::new(),
            restart_at: None,
            stats: SourceStats {
                path: PathBuf::from("journald"),
                kind: LogKind::Auth,
                lines: 0,
                malformed: 0,
                error: None,
                note: None,
            },
            registration: None,
        }
    }

    /// Start the child. On failure the error is recorded, a retry is
    /// scheduled as for a crash, and returned (start-up may report it).
    pub fn start(&mut self, now: Instant) -> io::Result<()> {
        if self.running.is_some() {
            return Ok(());
        }
        self.restart_at = None;
        match self.spawn(now) {
            Ok(run) => {
                self.running = Some(run);
                self.stats.error = None;
                Ok(())
            }
            Err(e) => {
                let delay = self.backoff.after_exit(Duration::ZERO);
                self.restart_at = Some(now + delay);
                self.stats
                    .set_error(format_args!("cannot run {:?}: {e}", self.program));
                Err(e)
            }
        }
    }

    fn spawn(&mut self, now: Instant) -> io::Result<Running> {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Own process group: a ^C or ^Z at the terminal is ours to
            // handle, not the child's.
            .process_group(0);
        // Die with us, even if we are killed without cleaning up.
        process::prepare_child(&mut cmd, ParentDeath::Kill);
        let mut child = cmd.spawn()?;
        let stdout = match child.stdout.take() {
            Some(out) => out,
            None => return Err(kill_after(child, "no stdout pipe")),
        };
        let fd = stdout.as_raw_fd();
        if let Err(e) = crate::sys::fd::set_nonblocking(fd) {
            return Err(kill_after(child, e));
        }
        if let Some((registry, token, interest)) = &self.registration {
            if let Err(e) = SourceFd(&fd).register(registry, *token, *interest) {
                return Err(kill_after(child, e));
            }
        }
        self.buf.clear();
        Ok(Running {
            child,
            stdout: Some(stdout),
            started: now,
            eof_at: None,
        })
    }

    /// The pipe is readable: hand out its complete lines until
    /// `WouldBlock`. At EOF the child is reaped if it has exited (else the
    /// next tick does it).
    pub fn on_readable(&mut self, now: Instant, sink: &mut impl FnMut(&[u8]) -> LineVerdict) {
        if !self.read_pipe(sink) {
            return;
        }
        self.close_pipe();
        if let Some(run) = self.running.as_mut() {
            run.eof_at = Some(now);
            match run.child.try_wait() {
                Ok(Some(status)) => self.child_gone(now, status),
                Ok(None) => {} // exiting; the tick reaps it
                Err(e) => self.child_gone(now, e),
            }
        }
    }

    /// Every tick (and on `SIGCHLD`): reap a child that exited, kill one
    /// that closed its output `EXIT_GRACE` ago but lives on, start a new
    /// one when due.
    pub fn on_tick(&mut self, now: Instant, sink: &mut impl FnMut(&[u8]) -> LineVerdict) {
        if let Some(run) = self.running.as_mut() {
            match run.child.try_wait() {
                Ok(Some(status)) => {
                    self.read_pipe(sink); // what it wrote before dying
                    self.child_gone(now, status);
                }
                Ok(None) if run.eof_at.is_some_and(|eof| now >= eof + EXIT_GRACE) => {
                    let _ = run.child.kill();
                    let _ = run.child.wait(); // brief: SIGKILL was sent
                    self.child_gone(now, "closed its output");
                }
                Ok(None) => {}
                Err(e) => self.child_gone(now, e),
            }
        }
        if self.running.is_none() && self.restart_at.is_some_and(|at| now >= at) {
            let _ = self.start(now);
        }
    }

    /// Read until `WouldBlock`; true at EOF (or a read error).
    fn read_pipe(&mut self, sink: &mut impl FnMut(&[u8]) -> LineVerdict) -> bool {
        let Some(stdout) = self.running.as_mut().and_then(|r| r.stdout.as_mut()) else {
            return false;
        };
        loop {
            match self.buf.fill(stdout) {
                Ok(0) => return true,
                Ok(_) => {
                    while let Some(line) = self.buf.next_line() {
                        self.stats.count(line, &mut *sink);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) => {
                    self.stats.set_error(e);
                    return true;
                }
            }
        }
    }

    fn close_pipe(&mut self) {
        let Some(stdout) = self.running.as_mut().and_then(|r| r.stdout.take()) else {
            return;
        };
        if let Some((registry, _, _)) = &self.registration {
            let _ = SourceFd(&stdout.as_raw_fd()).deregister(registry);
        }
    }

    /// The child is reaped (or lost): schedule the next one.
    fn child_gone(&mut self, now: Instant, why: impl Display) {
        self.close_pipe();
        let Some(run) = self.running.take() else {
            return;
        };
        self.buf.clear(); // a partial line from a dead child is dropped
        let delay = self
            .backoff
            .after_exit(now.saturating_duration_since(run.started));
        self.restart_at = Some(now + delay);
        self.stats.set_error(format_args!(
            "{:?} ended ({why}); restarting in {}s",
            self.program,
            delay.as_secs()
        ));
    }

    /// Counters and the current fault, as for a log file.
    pub fn stats(&self) -> &SourceStats {
        &self.stats
    }

    /// Whether a child is running now.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// The running child's pid.
    pub fn pid(&self) -> Option<u32> {
        self.running.as_ref().map(|r| r.child.id())
    }

    /// When the next child will be started, if none runs.
    pub fn restart_at(&self) -> Option<Instant> {
        self.restart_at
    }
}

impl Source for Journal {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        if let Some(out) = self.running.as_ref().and_then(|r| r.stdout.as_ref()) {
            SourceFd(&out.as_raw_fd()).register(registry, token, interests)?;
        }
        self.registration = Some((registry.try_clone()?, token, interests));
        Ok(())
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        if let Some(out) = self.running.as_ref().and_then(|r| r.stdout.as_ref()) {
            SourceFd(&out.as_raw_fd()).reregister(registry, token, interests)?;
        }
        self.registration = Some((registry.try_clone()?, token, interests));
        Ok(())
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        self.registration = None;
        match self.running.as_ref().and_then(|r| r.stdout.as_ref()) {
            Some(out) => SourceFd(&out.as_raw_fd()).deregister(registry),
            None => Ok(()),
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        if let Some(mut run) = self.running.take() {
            let _ = run.child.kill();
            let _ = run.child.wait();
        }
    }
}

/// A child that cannot be used: kill and reap it, return the error.
fn kill_after(mut child: Child, why: impl Display) -> io::Error {
    let _ = child.kill();
    let _ = child.wait();
    io::Error::other(why.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    fn script(dir: &Path, body: &str) -> io::Result<PathBuf> {
        let path = dir.join("fake-journalctl");
        std::fs::write(&path, format!("#!/bin/sh\n{body}"))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        Ok(path)
    }

    /// Drive a mio loop until the child has been reaped (bounded, in case
    /// the feature is broken).
    fn run_until_reaped(
        journal: &mut Journal,
        poll: &mut mio::Poll,
        now: Instant,
        got: &mut Vec<String>,
    ) -> io::Result<()> {
        let mut events = mio::Events::with_capacity(8);
        let mut sink = |line: &[u8]| {
            got.push(String::from_utf8_lossy(line).into_owned());
            LineVerdict::Used
        };
        for _ in 0..100 {
            poll.poll(&mut events, Some(Duration::from_millis(50)))?;
            journal.on_readable(now, &mut sink);
            journal.on_tick(now, &mut sink);
            if !journal.is_running() {
                return Ok(());
            }
        }
        Err(io::Error::other("child never reaped"))
    }

    #[test]
    fn lines_flow_and_a_dead_child_is_restarted_with_backoff() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let fake = script(
            dir.path(),
            "echo \"args: $*\"\nprintf 'second\\r\\n'\nprintf 'cut off'\nexit 3\n",
        )?;
        let mut journal = Journal::with_command(fake.as_os_str(), JOURNAL_ARGS);
        let mut poll = mio::Poll::new()?;
        poll.registry()
            .register(&mut journal, Token(3), Interest::READABLE)?;
        let t0 = Instant::now();
        journal.start(t0)?;
        let first_pid = journal.pid();
        let mut got = Vec::new();
        run_until_reaped(&mut journal, &mut poll, t0, &mut got)?;

        let args = format!("args: {}", JOURNAL_ARGS.join(" "));
        assert_eq!(got, [args.as_str(), "second\r"]);
        assert_eq!(journal.stats().lines, 2);
        let err = journal.stats().error.clone().unwrap_or_default();
        assert!(err.contains("exit status: 3"), "{err}");
        assert_eq!(journal.restart_at(), Some(t0 + Duration::from_secs(1)));

        let mut ignore = |_: &[u8]| LineVerdict::Ignored;
        journal.on_tick(t0 + Duration::from_millis(999), &mut ignore);
        assert!(!journal.is_running(), "restarted before its back-off");
        let t1 = t0 + Duration::from_secs(1);
        journal.on_tick(t1, &mut ignore);
        assert!(journal.is_running());
        assert_ne!(journal.pid(), first_pid);
        run_until_reaped(&mut journal, &mut poll, t1, &mut got)?;
        assert_eq!(got.len(), 4, "the new child's pipe was registered: {got:?}");
        assert_eq!(journal.restart_at(), Some(t1 + Duration::from_secs(2)));
        Ok(())
    }

    #[test]
    fn child_that_closes_its_output_but_lingers_is_killed_after_grace() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let fake = script(dir.path(), "echo bye\nexec >&- sleep 600\n")?;
        let mut journal = Journal::with_command(fake.as_os_str(), &[] as &[&str]);
        let mut poll = mio::Poll::new()?;
        poll.registry()
            .register(&mut journal, Token(3), Interest::READABLE)?;
        let t0 = Instant::now();
        journal.start(t0)?;
        let mut events = mio::Events::with_capacity(8);
        let mut got = 0;
        let mut sink = |_: &[u8]| {
            got += 1;
            LineVerdict::Used
        };
        for _ in 0..100 {
            poll.poll(&mut events, Some(Duration::from_millis(50)))?;
            journal.on_readable(t0, &mut sink);
            if journal.running.as_ref().is_some_and(|r| r.stdout.is_none()) {
                break;
            }
        }
        journal.on_tick(t0 + Duration::from_secs(1), &mut sink);
        assert!(journal.is_running(), "killed before its grace period");
        journal.on_tick(t0 + EXIT_GRACE, &mut sink);
        assert!(!journal.is_running());
        let err = journal.stats().error.clone().unwrap_or_default();
        assert!(err.contains("closed its output"), "{err}");
        assert_eq!(got, 1);
        Ok(())
    }

    #[test]
    fn backoff_doubles_to_a_minute_and_resets_after_a_long_run() {
        let mut b = Backoff::new();
        let delays: Vec<u64> = (0..8)
            .map(|_| b.after_exit(Duration::ZERO).as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(b.after_exit(Duration::from_secs(60)), BACKOFF_MIN);
        assert_eq!(b.after_exit(Duration::from_secs(5)), Duration::from_secs(2));
    }

    #[test]
    fn missing_program_is_an_error_with_a_retry() {
        let mut journal = Journal::with_command("/nonexistent/journalctl", JOURNAL_ARGS);
        let t0 = Instant::now();
        assert!(journal.start(t0).is_err());
        assert!(journal.stats().error.is_some());
        assert_eq!(journal.restart_at(), Some(t0 + BACKOFF_MIN));
    }

    #[test]
    fn drop_kills_and_reaps_the_child() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let fake = script(dir.path(), "exec sleep 600\n")?;
        let mut journal = Journal::with_command(fake.as_os_str(), &[] as &[&str]);
        journal.start(Instant::now())?;
        let pid = journal
            .pid()
            .and_then(|p| i32::try_from(p).ok())
            .unwrap_or(0);
        assert!(pid > 0);
        drop(journal);
        let alive = crate::sys::process::exists(pid);
        assert!(
            !alive,
            "child {pid} still exists (not killed or not reaped)"
        );
        Ok(())
    }
}
