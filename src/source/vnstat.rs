//! This month's rx/tx totals from vnStat: `vnstat --json m 1 -i IFACE` runs
//! as a child whose stdout and stderr pipes are fds in the caller's mio
//! loop (non-blocking, under one token), as the journal reader's are.
//!
//! One child at a time. The caller says when to start one
//! ([`Vnstat::start`]: the engine does every `[refresh] bandwidth_interval`);
//! [`Vnstat::on_tick`] (each tick and `SIGCHLD`) reaps it, and kills one
//! that has not finished within [`TIMEOUT`]. Nothing blocks the loop except
//! [`Vnstat::run_now`], which `--once` uses.
//!
//! vnstat reads its own config (`$HOME/.vnstatrc`, else
//! `/etc/vnstat.conf`), so a private database directory is chosen the way
//! vnstat users already know. A missing vnstat or a database without the
//! interface is a quiet note ([`VnstatStatus::note`]), never an error.

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus};
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token};

use crate::parse::vnstat::{month_totals, MonthTotals, VnstatParseError, MAX_ANSWER};
use crate::sys::process::{self, PipedChild};

/// The program run.
pub(crate) const VNSTAT: &str = "vnstat";

/// How long one vnstat run may take before it is killed (it reads one small
/// SQLite file: milliseconds, unless its database is locked or the disk hangs).
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);

/// What is kept of vnstat's stderr, in bytes: its first line says why.
const MAX_SAID: usize = 256;

/// What the last vnstat run said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VnstatStatus {
    /// No run has finished yet.
    Waiting,
    /// No `vnstat` program in `$PATH`.
    NotInstalled,
    /// No interface to ask about (no default route, none configured).
    NoInterface,
    /// vnstat has no database, or none for this interface.
    NoDatabase,
    /// The interface is in the database with no traffic recorded yet.
    NoData,
    /// Something else: vnstat's words (one line, cut) or ours.
    Failed(String),
    /// This month's totals.
    Month(MonthTotals),
}

impl VnstatStatus {
    /// The totals, when known.
    pub(crate) fn month(&self) -> Option<&MonthTotals> {
        match self {
            VnstatStatus::Month(m) => Some(m),
            _ => None,
        }
    }

    /// Why there are no totals, as the status bar and the JSON say it
    /// (`None` with totals, or before the first run ends).
    pub(crate) fn note(&self) -> Option<&str> {
        Some(match self {
            VnstatStatus::Waiting => "waiting",
            VnstatStatus::Month(_) => return None,
            VnstatStatus::NotInstalled => "not installed",
            VnstatStatus::NoInterface => "no interface",
            VnstatStatus::NoDatabase => "no database for the interface",
            VnstatStatus::NoData => "no data yet",
            VnstatStatus::Failed(why) => why,
        })
    }
}

struct Running {
    child: Child,
    /// `None` once at EOF.
    stdout: Option<ChildStdout>,
    /// `None` once at EOF.
    stderr: Option<ChildStderr>,
    started: Instant,
}

/// The vnstat runner for one interface. Register it in mio (readable) and
/// call [`on_readable`](Self::on_readable) when it fires.
pub(crate) struct Vnstat {
    program: OsString,
    /// Before the interface name: `--json m 1 -i`.
    args: Vec<OsString>,
    iface: String,
    /// [`TIMEOUT`], shorter in tests.
    timeout: Duration,
    running: Option<Running>,
    /// stdout so far; over [`MAX_ANSWER`] means the answer is refused.
    answer: Vec<u8>,
    /// stderr so far, at most [`MAX_SAID`] bytes.
    said: Vec<u8>,
    status: VnstatStatus,
    /// Kept from `register` so each child's pipes join the same loop.
    registration: Option<(Registry, Token)>,
}

impl Vnstat {
    /// Asks about `iface` (empty: there is none). Nothing runs yet.
    pub(crate) fn new(iface: &str) -> Vnstat {
        Vnstat {
            program: VNSTAT.into(),
            args: ["--json", "m", "1", "-i"].map(OsString::from).to_vec(),
            iface: iface.to_string(),
            timeout: TIMEOUT,
            running: None,
            answer: Vec::new(),
            said: Vec::new(),
            status: VnstatStatus::Waiting,
            registration: None,
        }
    }

    /// Another program and arguments (before the interface name), and
    /// another timeout: tests run scripts that hang or babble.
    #[cfg(test)]
    pub(crate) fn with_command(
        program: &str,
        args: &[&str],
        iface: &str,
        timeout: Duration,
    ) -> Vnstat {
        let mut vnstat = Vnstat::new(iface);
        vnstat.program = program.into();
        vnstat.args = args.iter().map(OsString::from).collect();
        vnstat.timeout = timeout;
        vnstat
    }

    /// The running child's pid.
    #[cfg(test)]
    pub(crate) fn pid(&self) -> Option<u32> {
        self.running.as_ref().map(|r| r.child.id())
    }

    pub(crate) fn status(&self) -> &VnstatStatus {
        &self.status
    }

    pub(crate) fn iface(&self) -> &str {
        &self.iface
    }

    pub(crate) fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Start a run, unless one is running (never two at once).
    pub(crate) fn start(&mut self, now: Instant) {
        if self.running.is_some() {
            return;
        }
        // A name vnstat would read as an option is not asked about.
        if self.iface.is_empty() || self.iface.starts_with('-') {
            self.status = VnstatStatus::NoInterface;
            return;
        }
        match self.spawn(now) {
            Ok(run) => self.running = Some(run),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.status = VnstatStatus::NotInstalled;
            }
            Err(e) => self.status = VnstatStatus::Failed(format!("cannot run vnstat: {e}")),
        }
    }

    fn spawn(&mut self, now: Instant) -> io::Result<Running> {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args).arg(&self.iface);
        let registration = &self.registration;
        let piped = process::spawn_piped(cmd, |fd| match registration {
            Some((registry, token)) => SourceFd(&fd).register(registry, *token, Interest::READABLE),
            None => Ok(()),
        })?;
        let PipedChild {
            child,
            stdout,
            stderr,
        } = piped;
        self.answer.clear();
        self.said.clear();
        Ok(Running {
            child,
            stdout: Some(stdout),
            stderr: Some(stderr),
            started: now,
        })
    }

    /// A pipe is readable: read both until `WouldBlock`; once both are
    /// closed and the child has exited, the run is over.
    pub(crate) fn on_readable(&mut self) {
        self.read_pipes();
        self.reap(Instant::now());
    }

    /// Each tick and on `SIGCHLD`: reap a finished run, kill one over
    /// [`TIMEOUT`].
    pub(crate) fn on_tick(&mut self, now: Instant) {
        self.read_pipes();
        self.reap(now);
    }

    /// `--once`: start a run and wait for it, at most [`TIMEOUT`]. Blocks:
    /// `--once` has nothing else to do meanwhile.
    pub(crate) fn run_now(&mut self) {
        let started = Instant::now();
        self.start(started);
        if let Err(e) = self.wait_for_pipes(started + self.timeout) {
            self.status = VnstatStatus::Failed(format!("vnstat: {e}"));
        }
        self.read_pipes();
        self.reap(Instant::now());
        if let Some(mut run) = self.running.take() {
            // Pipes closed but no exit yet: it is exiting; a brief wait.
            match run.child.wait() {
                Ok(status) => self.finish(status),
                Err(e) => self.status = VnstatStatus::Failed(format!("vnstat: {e}")),
            }
        }
    }

    /// Waits, in a poll of its own, until both pipes closed or `deadline`
    /// (then the child is killed).
    fn wait_for_pipes(&mut self, deadline: Instant) -> io::Result<()> {
        let Some(run) = self.running.as_ref() else {
            return Ok(());
        };
        let mut poll = Poll::new()?;
        for fd in [
            run.stdout.as_ref().map(AsRawFd::as_raw_fd),
            run.stderr.as_ref().map(AsRawFd::as_raw_fd),
        ]
        .into_iter()
        .flatten()
        {
            poll.registry()
                .register(&mut SourceFd(&fd), Token(0), Interest::READABLE)?;
        }
        let mut events = Events::with_capacity(2);
        loop {
            self.read_pipes();
            if self.pipes_closed() {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.kill("did not answer in time");
                return Ok(());
            }
            match poll.poll(&mut events, Some(left)) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
                Ok(()) => {}
            }
        }
    }

    fn pipes_closed(&self) -> bool {
        self.running
            .as_ref()
            .is_none_or(|r| r.stdout.is_none() && r.stderr.is_none())
    }

    /// Read both pipes until `WouldBlock`; a pipe at EOF is closed.
    fn read_pipes(&mut self) {
        let Some(run) = self.running.as_mut() else {
            return;
        };
        let registry = self.registration.as_ref().map(|(r, _)| r);
        if read_capped(&mut run.stdout, &mut self.answer, MAX_ANSWER + 1, registry) {
            run.stdout = None;
        }
        if read_capped(&mut run.stderr, &mut self.said, MAX_SAID, registry) {
            run.stderr = None;
        }
    }

    /// Reap a child that exited (after its pipes closed), or kill one that
    /// ran over [`TIMEOUT`].
    fn reap(&mut self, now: Instant) {
        let closed = self.pipes_closed();
        let Some(run) = self.running.as_mut() else {
            return;
        };
        if closed {
            match run.child.try_wait() {
                Ok(Some(status)) => {
                    self.running = None;
                    self.finish(status);
                    return;
                }
                Ok(None) => {} // exiting; the next tick or SIGCHLD reaps it
                Err(e) => {
                    self.running = None;
                    self.status = VnstatStatus::Failed(format!("vnstat: {e}"));
                    return;
                }
            }
        }
        if now.saturating_duration_since(run.started) > self.timeout {
            self.kill("did not answer in time");
        }
    }

    fn kill(&mut self, why: &str) {
        if let Some(mut run) = self.running.take() {
            self.unregister_pipes(&mut run);
            let _ = run.child.kill();
            let _ = run.child.wait(); // brief: SIGKILL was sent
        }
        self.status = VnstatStatus::Failed(format!("vnstat {why}"));
    }

    fn unregister_pipes(&self, run: &mut Running) {
        let Some((registry, _)) = &self.registration else {
            return;
        };
        for fd in [
            run.stdout.take().map(|p| p.as_raw_fd()),
            run.stderr.take().map(|p| p.as_raw_fd()),
        ]
        .into_iter()
        .flatten()
        {
            let _ = SourceFd(&fd).deregister(registry);
        }
    }

    /// The run ended with `exit`: its answer or its complaint.
    fn finish(&mut self, exit: ExitStatus) {
        self.status = if exit.success() {
            match month_totals(&self.answer, &self.iface) {
                Ok(totals) => VnstatStatus::Month(totals),
                Err(VnstatParseError::NoMonth) => VnstatStatus::NoData,
                Err(VnstatParseError::NoInterface) => VnstatStatus::NoDatabase,
                Err(e) => VnstatStatus::Failed(format!("vnstat: {e}")),
            }
        } else if self.said.iter().all(u8::is_ascii_whitespace) {
            // vnStat 2.10 prints its errors on stdout.
            classify_complaint(&self.answer, exit)
        } else {
            classify_complaint(&self.said, exit)
        };
        self.answer.clear();
        self.said.clear();
    }
}

/// What a failed run said (its first line): vnstat 2.x says "database"
/// both when it has none at all and when the interface is not in it.
fn classify_complaint(said: &[u8], exit: ExitStatus) -> VnstatStatus {
    let text = String::from_utf8_lossy(said);
    let first = text.lines().map(str::trim).find(|l| !l.is_empty());
    match first {
        Some(line) if line.to_ascii_lowercase().contains("database") => VnstatStatus::NoDatabase,
        Some(line) => {
            // Shown on the screen: printable characters only.
            let line: String = line.chars().filter(|c| !c.is_control()).collect();
            VnstatStatus::Failed(format!("vnstat: {line}"))
        }
        None => VnstatStatus::Failed(format!("vnstat ended ({exit})")),
    }
}

/// Read `pipe` into `buf` until `WouldBlock`, keeping at most `cap` bytes
/// (the rest is read and dropped, so the child never blocks on a full pipe).
/// Returns true at EOF or on an error: the pipe is done (and deregistered).
pub(crate) fn read_capped<R: Read + AsRawFd>(
    pipe: &mut Option<R>,
    buf: &mut Vec<u8>,
    cap: usize,
    registry: Option<&Registry>,
) -> bool {
    let Some(reader) = pipe.as_mut() else {
        return false;
    };
    let mut chunk = [0u8; 4096];
    let done = loop {
        match reader.read(&mut chunk) {
            Ok(0) => break true,
            Ok(n) => {
                let room = cap.saturating_sub(buf.len()).min(n);
                buf.extend_from_slice(&chunk[..room]);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break true,
        }
    };
    if done {
        if let Some(registry) = registry {
            let _ = SourceFd(&reader.as_raw_fd()).deregister(registry);
        }
    }
    done
}

impl Source for Vnstat {
    fn register(&mut self, registry: &Registry, token: Token, _: Interest) -> io::Result<()> {
        self.registration = Some((registry.try_clone()?, token));
        Ok(())
    }

    fn reregister(&mut self, registry: &Registry, token: Token, _: Interest) -> io::Result<()> {
        self.registration = Some((registry.try_clone()?, token));
        Ok(())
    }

    fn deregister(&mut self, _registry: &Registry) -> io::Result<()> {
        self.registration = None;
        Ok(())
    }
}

impl Drop for Vnstat {
    fn drop(&mut self) {
        if let Some(mut run) = self.running.take() {
            let _ = run.child.kill();
            let _ = run.child.wait();
        }
    }
}

#[cfg(test)]
mod tests;
