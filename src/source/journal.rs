//! sshd events from journald: `journalctl -f` runs as a child and its
//! stdout pipe is one more fd in the caller's mio loop.
//!
//! When the child dies (EOF on the pipe, or `SIGCHLD` and the tick) it is
//! reaped and started again after a back-off that doubles from 1 s to 60 s
//! and starts over once a child has lived 60 s. Nothing waits or sleeps:
//! [`Journal::on_tick`] does the restarting when the time has come. The
//! program is injectable, so tests run a fake script instead.
//!
//! journalctl's stderr is a second pipe under the same token: what it says
//! (no permission to read the system journal, no journal files) becomes the
//! source's error, so journald as a non-root user does not silently return
//! nothing.
//!
//! A partial line left when the child dies is dropped, not handed out: a
//! truncated sshd line could end inside its address and name a wrong IP.
//! Lines logged while no child runs are not seen (`-n 0` starts at the
//! end); the back-off keeps that window short.
//!
//! [`JournalQuery`] says what journalctl reads: this system's journal or a
//! directory of journal files (a rescued system's `/var/log/journal`, or
//! what `systemd-journal-remote` wrote), from its start (`--from-start`, the
//! first child only) or from now, followed or read once (`--once`:
//! [`Journal::read_to_end`]).

use std::ffi::OsString;
use std::fmt::Display;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdout, Command};
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token};

use super::linebuf::{Line, LineBuf};
use super::logset::{LineVerdict, LogKind, SourceStats};
use crate::sys::process::{self, PipedChild};

/// The program run by [`Journal::new`].
pub(crate) const JOURNALCTL: &str = "journalctl";

/// Follow new entries only, one line each with an ISO 8601 time, from the
/// sshd processes. Matches on the same field are OR-ed by journalctl
/// (sshd ≥ 9.8 logs as `sshd-session` and `sshd-auth`). No `-q`: it would
/// also silence the notice that the system journal is not readable by this
/// user (which names the groups that can read it), read from stderr.
pub(crate) const JOURNAL_ARGS: &[&str] = &[
    "-f",
    "-a", // print messages with unprintable bytes (hostile user names) as text
    "-n",
    "0",
    "-o",
    "short-iso",
    "_COMM=sshd",
    "_COMM=sshd-session",
    "_COMM=sshd-auth",
];

/// What journalctl is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JournalQuery {
    /// `--directory`: the journal files there instead of this system's
    /// journal (`[auth] journal_directory`).
    pub(crate) directory: Option<PathBuf>,
    /// Every stored entry first (`--from-start`), not only new ones. Only
    /// the first child: one restarted after a crash starts at the end, so
    /// the entries read already are not counted twice.
    pub(crate) from_start: bool,
    /// Follow (`-f`), or stop at the end of the journal (`--once`).
    pub(crate) follow: bool,
    /// `--since`: the first child starts at this time (`--since @SECONDS`),
    /// which wins over `from_start`.
    pub(crate) since: Option<crate::parse::UnixTime>,
}

impl JournalQuery {
    /// journalctl's arguments for the first child (`first`) or a restart.
    /// The live default is [`JOURNAL_ARGS`].
    pub(crate) fn args(&self, first: bool) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::with_capacity(JOURNAL_ARGS.len() + 2);
        if let Some(dir) = &self.directory {
            args.extend(["--directory".into(), dir.into()]);
        }
        if self.follow {
            args.push("-f".into());
        }
        args.push("-a".into());
        if let Some(since) = self.since.filter(|_| first) {
            args.extend(["--since".into(), format!("@{since}").into()]);
        }
        let from_start = (self.from_start || self.since.is_some()) && first;
        match (from_start, self.follow) {
            // Without -f, journalctl prints every entry unless told otherwise.
            (true, false) => {}
            // With -f it prints the last ten unless told to print them all.
            (true, true) => args.push("--no-tail".into()),
            (false, _) => args.extend(["-n".into(), "0".into()]),
        }
        // The rest of JOURNAL_ARGS: the output format and the matches.
        let rest = JOURNAL_ARGS.iter().skip_while(|a| **a != "-o");
        args.extend(rest.map(OsString::from));
        args
    }
}

/// How long `--once` waits for journalctl to print the journal and exit.
pub(crate) const ONCE_TIMEOUT: Duration = Duration::from_secs(60);

const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// How long a child may live on after closing its output (exiting takes
/// a moment after the last write) before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);
/// What is kept of a child's stderr, in bytes: its first messages say why.
const MAX_SAID: usize = 512;

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
    /// `None` once it reached EOF.
    stderr: Option<ChildStderr>,
    started: Instant,
    /// When the pipe reached EOF; a child still alive `EXIT_GRACE` later
    /// is killed.
    eof_at: Option<Instant>,
}

/// The journald source. Register it in mio (readable) and call
/// [`on_readable`](Self::on_readable) when it fires; call
/// [`on_tick`](Self::on_tick) on every tick and on `SIGCHLD`.
pub(crate) struct Journal {
    program: OsString,
    args: Vec<OsString>,
    /// Replaces `args` once a child has started (see [`JournalQuery`]).
    restart_args: Option<Vec<OsString>>,
    running: Option<Running>,
    buf: LineBuf,
    backoff: Backoff,
    restart_at: Option<Instant>,
    stats: SourceStats,
    /// What the running child wrote on stderr, one line, at most `MAX_SAID`.
    said: String,
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
    pub(crate) fn new() -> Journal {
        Self::with_command(JOURNALCTL, JOURNAL_ARGS)
    }

    /// `journalctl` asked for `query`. Not started yet.
    pub(crate) fn with_query(query: &JournalQuery) -> Journal {
        let mut journal = Self::with_command(JOURNALCTL, &query.args(true));
        journal.restart_args = Some(query.args(false));
        journal
    }

    /// Another program (tests use a script). Not started yet.
    pub(crate) fn with_command<P, A>(program: P, args: &[A]) -> Journal
    where
        P: Into<OsString>,
        A: Clone + Into<OsString>,
    {
        Journal {
            program: program.into(),
            args: args.iter().cloned().map(Into::into).collect(),
            restart_args: None,
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
            said: String::new(),
            registration: None,
        }
    }

    /// Start the child. On failure the error is recorded, a retry is
    /// scheduled as for a crash, and returned (start-up may report it).
    pub(crate) fn start(&mut self, now: Instant) -> io::Result<()> {
        if self.running.is_some() {
            return Ok(());
        }
        self.restart_at = None;
        match self.spawn(now) {
            Ok(run) => {
                self.running = Some(run);
                self.stats.error = None;
                if let Some(args) = self.restart_args.take() {
                    self.args = args;
                }
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
        cmd.args(&self.args);
        let registration = &self.registration;
        let piped = process::spawn_piped(cmd, |fd| match registration {
            Some((registry, token, interest)) => {
                SourceFd(&fd).register(registry, *token, *interest)
            }
            None => Ok(()),
        })?;
        let PipedChild {
            child,
            stdout,
            stderr,
        } = piped;
        self.buf.clear();
        self.said.clear();
        Ok(Running {
            child,
            stdout: Some(stdout),
            stderr: Some(stderr),
            started: now,
            eof_at: None,
        })
    }

    /// The pipe is readable: hand out its complete lines until
    /// `WouldBlock`. At EOF the child is reaped if it has exited (else the
    /// next tick does it).
    pub(crate) fn on_readable(
        &mut self,
        now: Instant,
        sink: &mut impl FnMut(&[u8]) -> LineVerdict,
    ) {
        self.read_stderr();
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
    pub(crate) fn on_tick(&mut self, now: Instant, sink: &mut impl FnMut(&[u8]) -> LineVerdict) {
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

    /// `--once`: hand out the child's lines until it closes its output
    /// (journalctl without `-f` does at the end of the journal) or until
    /// `deadline`, then reap it. An exit other than success, or the
    /// deadline, is the source's error. Blocks: `--once` has nothing else
    /// to do meanwhile.
    pub(crate) fn read_to_end(
        &mut self,
        deadline: Instant,
        sink: &mut impl FnMut(&[u8]) -> LineVerdict,
    ) {
        let at_end = match self.wait_for_end(deadline, sink) {
            Ok(at_end) => at_end,
            Err(e) => {
                self.stats.set_error(e);
                false
            }
        };
        self.close_pipe();
        let Some(mut run) = self.running.take() else {
            return;
        };
        self.buf.clear(); // a partial line is dropped, as for a dead child
        if !at_end {
            self.stats.set_error(format_args!(
                "{:?} did not finish within {}s",
                self.program,
                ONCE_TIMEOUT.as_secs()
            ));
            let _ = run.child.kill();
        }
        match run.child.wait() {
            Ok(status) if status.success() || !at_end => {}
            Ok(status) => self
                .stats
                .set_error(format_args!("{:?} ended ({status})", self.program)),
            Err(e) => self.stats.set_error(e),
        }
    }

    /// Reads the pipe as it becomes readable, until EOF (true) or
    /// `deadline` (false). A poll of its own: the loop's is not running.
    fn wait_for_end(
        &mut self,
        deadline: Instant,
        sink: &mut impl FnMut(&[u8]) -> LineVerdict,
    ) -> io::Result<bool> {
        let Some(fd) = self
            .running
            .as_ref()
            .and_then(|r| r.stdout.as_ref())
            .map(AsRawFd::as_raw_fd)
        else {
            return Ok(true); // not started (the error says why), or done
        };
        let mut poll = Poll::new()?;
        poll.registry()
            .register(&mut SourceFd(&fd), Token(0), Interest::READABLE)?;
        let mut events = Events::with_capacity(1);
        loop {
            if self.read_pipe(sink) {
                return Ok(true);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            match poll.poll(&mut events, Some(left)) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
                Ok(()) => {}
            }
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
                        if !is_marker(&line) {
                            self.stats.count(line, |text, _| sink(text));
                        }
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

    /// Read what the child says on stderr until `WouldBlock`; while it
    /// runs, that is the source's error (journalctl writes there only when
    /// something is wrong: no permission, no journal files).
    fn read_stderr(&mut self) {
        let Some(run) = self.running.as_mut() else {
            return;
        };
        let Some(stderr) = run.stderr.as_mut() else {
            return;
        };
        let mut chunk = [0u8; 256];
        let mut heard = false;
        let done = loop {
            match stderr.read(&mut chunk) {
                Ok(0) => break true,
                Ok(n) => {
                    heard = true;
                    append_said(&mut self.said, &chunk[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break true,
            }
        };
        if done {
            if let (Some(stderr), Some((registry, _, _))) = (run.stderr.take(), &self.registration)
            {
                let _ = SourceFd(&stderr.as_raw_fd()).deregister(registry);
            }
        }
        if heard && !self.said.trim().is_empty() {
            self.stats
                .set_error(format_args!("{:?}: {}", self.program, self.said.trim()));
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
        self.read_stderr(); // its last words say why it ended
        self.close_pipe();
        let Some(mut run) = self.running.take() else {
            return;
        };
        if let (Some(stderr), Some((registry, _, _))) = (run.stderr.take(), &self.registration) {
            let _ = SourceFd(&stderr.as_raw_fd()).deregister(registry);
        }
        self.buf.clear(); // a partial line from a dead child is dropped
        let delay = self
            .backoff
            .after_exit(now.saturating_duration_since(run.started));
        self.restart_at = Some(now + delay);
        let said = self.said.trim();
        let sep = if said.is_empty() { "" } else { ": " };
        self.stats.set_error(format_args!(
            "{:?} ended ({why}){sep}{said}; restarting in {}s",
            self.program,
            delay.as_secs()
        ));
    }

    /// Counters and the current fault, as for a log file.
    pub(crate) fn stats(&self) -> &SourceStats {
        &self.stats
    }

    /// Whether a child is running now.
    #[cfg(test)]
    pub(crate) fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// The running child's pid.
    #[cfg(test)]
    pub(crate) fn pid(&self) -> Option<u32> {
        self.running.as_ref().map(|r| r.child.id())
    }

    /// When the next child will be started, if none runs.
    #[cfg(test)]
    pub(crate) fn restart_at(&self) -> Option<Instant> {
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
        if let Some(err) = self.running.as_ref().and_then(|r| r.stderr.as_ref()) {
            SourceFd(&err.as_raw_fd()).register(registry, token, interests)?;
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
        if let Some(err) = self.running.as_ref().and_then(|r| r.stderr.as_ref()) {
            SourceFd(&err.as_raw_fd()).reregister(registry, token, interests)?;
        }
        self.registration = Some((registry.try_clone()?, token, interests));
        Ok(())
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        self.registration = None;
        if let Some(err) = self.running.as_ref().and_then(|r| r.stderr.as_ref()) {
            SourceFd(&err.as_raw_fd()).deregister(registry)?;
        }
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

/// Add a piece of stderr to `said`, as one line (line breaks and runs of
/// blanks become one space), cut at `MAX_SAID` bytes.
fn append_said(said: &mut String, bytes: &[u8]) {
    for ch in String::from_utf8_lossy(bytes).chars() {
        if said.len() + ch.len_utf8() > MAX_SAID {
            return;
        }
        if ch.is_whitespace() || ch.is_control() {
            if !said.is_empty() && !said.ends_with(' ') {
                said.push(' ');
            }
        } else {
            said.push(ch);
        }
    }
}

/// journalctl's own informational lines on stdout (`-- No entries --`,
/// `-- Boot … --`), printed because `-q` is not given (it would also hide
/// the "not readable" notice on stderr). Not log lines: not counted. An
/// entry can't forge one: every entry starts with its time stamp, and a
/// message's continuation lines are indented.
fn is_marker(line: &Line<'_>) -> bool {
    matches!(line, Line::Complete { text, .. } if text.starts_with(b"-- ") && text.ends_with(b" --"))
}

#[cfg(test)]
mod tests;
