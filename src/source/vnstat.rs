//! This month's rx/tx totals from vnStat: `vnstat --json m 1 -i IFACE` runs
//! as a child whose stdout and stderr pipes are fds in the caller's mio
//! loop (non-blocking, under one token; [`ChildRun`] drives it).
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
use std::io;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::{Interest, Registry, Token};

use crate::parse::vnstat::{month_totals, MonthTotals, VnstatParseError, MAX_ANSWER};
use crate::source::child_run::{ChildRun, Ended};

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

/// The vnstat runner for one interface. Register it in mio (readable) and
/// call [`on_readable`](Self::on_readable) when it fires.
pub(crate) struct Vnstat {
    program: OsString,
    /// Before the interface name: `--json m 1 -i`.
    args: Vec<OsString>,
    iface: String,
    /// The child: its stdout over [`MAX_ANSWER`] means the answer is
    /// refused; [`MAX_SAID`] bytes of its stderr; [`TIMEOUT`], shorter in
    /// tests.
    child: ChildRun,
    status: VnstatStatus,
}

impl Vnstat {
    /// Asks about `iface` (empty: there is none). Nothing runs yet.
    pub(crate) fn new(iface: &str) -> Vnstat {
        Vnstat {
            program: VNSTAT.into(),
            args: ["--json", "m", "1", "-i"].map(OsString::from).to_vec(),
            iface: iface.to_string(),
            child: ChildRun::new(MAX_ANSWER, MAX_SAID, TIMEOUT),
            status: VnstatStatus::Waiting,
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
        vnstat.child.set_timeout(timeout);
        vnstat
    }

    /// The running child's pid.
    #[cfg(test)]
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.pid()
    }

    pub(crate) fn status(&self) -> &VnstatStatus {
        &self.status
    }

    pub(crate) fn iface(&self) -> &str {
        &self.iface
    }

    pub(crate) fn is_running(&self) -> bool {
        self.child.is_running()
    }

    /// Start a run, unless one is running (never two at once).
    pub(crate) fn start(&mut self, now: Instant) {
        if self.child.is_running() {
            return;
        }
        // A name vnstat would read as an option is not asked about.
        if self.iface.is_empty() || self.iface.starts_with('-') {
            self.status = VnstatStatus::NoInterface;
            return;
        }
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args).arg(&self.iface);
        match self.child.start(cmd, now) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.status = VnstatStatus::NotInstalled;
            }
            Err(e) => self.status = VnstatStatus::Failed(format!("cannot run vnstat: {e}")),
        }
    }

    /// A pipe is readable: read both until `WouldBlock`; once both are
    /// closed and the child has exited, the run is over.
    pub(crate) fn on_readable(&mut self) {
        self.on_tick(Instant::now());
    }

    /// Each tick and on `SIGCHLD`: reap a finished run, kill one over
    /// [`TIMEOUT`].
    pub(crate) fn on_tick(&mut self, now: Instant) {
        if let Some(ended) = self.child.on_tick(now) {
            self.finish(ended);
        }
    }

    /// `--once`: start a run and wait for it, at most [`TIMEOUT`]. Blocks:
    /// `--once` has nothing else to do meanwhile.
    pub(crate) fn run_now(&mut self) {
        self.start(Instant::now());
        if let Some(ended) = self.child.wait() {
            self.finish(ended);
        }
    }

    /// The run ended: its answer or its complaint.
    fn finish(&mut self, ended: Ended) {
        let exit = match ended {
            Ended::Exited(exit) => exit,
            Ended::TimedOut => {
                self.status = VnstatStatus::Failed("vnstat did not answer in time".into());
                return;
            }
            Ended::Failed(e) => {
                self.status = VnstatStatus::Failed(format!("vnstat: {e}"));
                return;
            }
        };
        let (answer, said) = (self.child.answer(), self.child.said());
        self.status = if exit.success() {
            match month_totals(answer, &self.iface) {
                Ok(totals) => VnstatStatus::Month(totals),
                Err(VnstatParseError::NoMonth) => VnstatStatus::NoData,
                Err(VnstatParseError::NoInterface) => VnstatStatus::NoDatabase,
                Err(e) => VnstatStatus::Failed(format!("vnstat: {e}")),
            }
        } else if said.iter().all(u8::is_ascii_whitespace) {
            // vnStat 2.10 prints its errors on stdout.
            classify_complaint(answer, exit)
        } else {
            classify_complaint(said, exit)
        };
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

impl Source for Vnstat {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.child.register(registry, token, interest)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.child.reregister(registry, token, interest)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        self.child.deregister(registry)
    }
}

#[cfg(test)]
mod tests;
