//! Sockets: one dump at a time from netlink sock_diag (a real non-blocking
//! socket in the loop) or, as the fallback and with `--proc-root`, read from
//! /proc/net/tcp{,6} at once. Whether a netlink dump is in flight is known
//! only to [`SockDiag`] ([`SockDiag::is_dump_in_flight`]); this room keeps
//! the dump buffers, the stall count and the counters the summary reports.

use std::io;
use std::path::PathBuf;

use super::feed::Core;
use crate::headless::SourceReport;
use crate::parse::sockets::SocketEntry;
use crate::source::procnet::{ProcNetReader, ProcReadResult};
use crate::source::sockdiag::{DumpProgress, SockDiag};

/// A netlink dump unanswered for this many ticks is requested again.
const STALLED_DUMP_TICKS: u32 = 5;

/// Where socket dumps come from.
pub(crate) enum SocketReader {
    /// netlink sock_diag: a real non-blocking socket in the loop.
    Netlink(SockDiag),
    /// /proc/net/tcp{,6}: the fallback, and `--proc-root`.
    Proc(ProcNetReader),
}

impl SocketReader {
    /// netlink unless `--proc-root` asks for files, or netlink is refused.
    pub(crate) fn open(proc_root: Option<PathBuf>) -> SocketReader {
        if let Some(root) = proc_root {
            return SocketReader::Proc(ProcNetReader::new(root));
        }
        match SockDiag::open() {
            Ok(diag) => SocketReader::Netlink(diag),
            Err(_) => SocketReader::Proc(ProcNetReader::default()),
        }
    }

    /// A netlink dump was asked for and has not finished (never for /proc,
    /// which is read at once).
    pub(crate) fn is_dump_in_flight(&self) -> bool {
        match self {
            SocketReader::Netlink(diag) => diag.is_dump_in_flight(),
            SocketReader::Proc(_) => false,
        }
    }
}

/// The dumps: the one being collected, the last complete one, and what the
/// summary says about the source.
#[derive(Default)]
pub(crate) struct Dumps {
    /// Socket records of the dump in progress (reused).
    dump: Vec<SocketEntry>,
    /// The last complete dump (the drill-down lists its sockets; a skipped
    /// tick re-applies it). Swapped with `dump`, never copied.
    last_dump: Vec<SocketEntry>,
    /// Ticks since the netlink dump in flight was requested.
    ticks_in_flight: u32,
    /// Complete dumps applied.
    dumps: u64,
    /// Records read over the run (sockets and malformed ones), as a log
    /// source counts its lines.
    lines: u64,
    malformed: u64,
    error: Option<String>,
}

impl Dumps {
    /// Ask for a dump (netlink), or read /proc now. `always`: false on
    /// ticks, where netlink skips the dump when the kernel's TCP counters
    /// have not moved (see `SockDiag::request_dump_if_due`).
    pub(crate) fn request(&mut self, reader: &mut SocketReader, core: &mut Core, always: bool) {
        match reader {
            SocketReader::Netlink(diag) => self.request_netlink(diag, core, always),
            SocketReader::Proc(reader) => {
                self.dump.clear();
                let dump = &mut self.dump;
                let result = reader.read(&mut |s| dump.push(s));
                self.lines += result.stats().lines;
                self.malformed += result.stats().malformed;
                self.error = proc_error(&result);
                self.finish(core);
            }
        }
    }

    fn request_netlink(&mut self, diag: &mut SockDiag, core: &mut Core, mut always: bool) {
        if diag.is_dump_in_flight() {
            // The previous dump is still arriving: don't stack requests,
            // unless it has stalled (a lost reply), then ask afresh.
            self.ticks_in_flight += 1;
            if self.ticks_in_flight < STALLED_DUMP_TICKS {
                return;
            }
            self.error = Some("netlink: a dump stalled; asked again".into());
            always = true;
        }
        self.ticks_in_flight = 0;
        let sent = if always {
            diag.request_dump().map(|()| true)
        } else {
            diag.request_dump_if_due()
        };
        match sent {
            Ok(true) => self.dump.clear(),
            // Skipped: the last dump's sockets are still the table; apply
            // them again, as an identical dump would be.
            Ok(false) => reapply(core, &self.last_dump),
            Err(e) => {
                diag.abandon_dump();
                self.dump.clear();
                self.error = Some(format!("netlink: {e}"));
            }
        }
    }

    /// The netlink socket is readable. Returns true when a dump completed.
    pub(crate) fn on_ready(&mut self, reader: &mut SocketReader, core: &mut Core) -> bool {
        let SocketReader::Netlink(diag) = reader else {
            return false;
        };
        let dump = &mut self.dump;
        match diag.read_replies(&mut |s| dump.push(s)) {
            Ok(DumpProgress::Done) => {
                let stats = diag.stats();
                let malformed = u64::from(stats.malformed);
                self.lines += u64::from(stats.sockets) + malformed;
                self.malformed += malformed;
                self.error = None;
                self.finish(core);
                true
            }
            Ok(DumpProgress::Pending | DumpProgress::Idle) => false,
            Err(e) => {
                diag.abandon_dump();
                self.error = Some(format!("netlink: {e}"));
                false
            }
        }
    }

    /// The dump is whole: it becomes the table's sockets. A dump equal to
    /// the last one (a flood that stands still) is applied the cheap way:
    /// comparing costs a fraction of walking it into the table.
    fn finish(&mut self, core: &mut Core) {
        let same = self.dumps > 0 && self.dump == self.last_dump;
        std::mem::swap(&mut self.dump, &mut self.last_dump);
        self.dump.clear();
        if same {
            reapply(core, &self.last_dump);
        } else {
            core.apply_sockets(&self.last_dump);
        }
        core.changes += 1;
        if self.dumps == 0 {
            // No baseline yet: every socket would look new.
            core.table.totals.new_conns_last_dump = 0;
        }
        self.dumps += 1;
    }

    /// The sockets of the last complete dump.
    pub(crate) fn last_dump(&self) -> &[SocketEntry] {
        &self.last_dump
    }

    /// The summary's entry for the socket source, updated in place.
    pub(crate) fn report(&self, reader: &SocketReader, report: &mut SourceReport) {
        if report.path.is_empty() {
            // The reader never changes: its name is written once.
            let (path, format) = match reader {
                SocketReader::Netlink(_) => ("netlink".to_string(), "sock_diag"),
                SocketReader::Proc(reader) => (
                    reader.root().join("net/tcp{,6}").display().to_string(),
                    "procnet",
                ),
            };
            report.path = path;
            report.format = format.into();
        }
        report.lines = self.lines;
        report.malformed = self.malformed;
        report.error.clone_from(&self.error);
    }
}

/// Apply `last_dump`, the dump the table got last, again: only the rows'
/// times when the table's rows are as it left them, else in full. The
/// table's sockets come from this room alone, so what it applied last is
/// `last_dump`.
fn reapply(core: &mut Core, last_dump: &[SocketEntry]) {
    if !core.table.reapply_same_sockets(core.now) {
        core.apply_sockets(last_dump);
    }
}

fn proc_error(result: &ProcReadResult) -> Option<String> {
    let errors: Vec<String> = [("tcp", &result.v4), ("tcp6", &result.v6)]
        .into_iter()
        .filter_map(|(name, r)| r.as_ref().err().map(|e: &io::Error| format!("{name}: {e}")))
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}
