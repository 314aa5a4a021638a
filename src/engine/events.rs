//! The event stream (`--events`, `--events-file`): what changed, one JSON
//! line per event (the shapes are in [`wire::events`]), written and
//! flushed as it happens.
//!
//! Each kind has one place it is noted: `suspicious` after a line counted
//! on a row ([`Events::after_row`]) and after a socket dump
//! ([`Events::reconcile`]), `cleared` on the tick ([`Events::reconcile`]),
//! `auth` when sshd accepts a login, `blocked` when a block run ends,
//! `source` when a source's health flips. `suspicious` and `auth` are
//! queued while a batch of lines is applied and written by
//! [`Events::flush`] right after it (new rows have their cached whois
//! answer by then); the others are written at once. De-duplication is a map of the
//! reasons announced per address: a reason is announced once, until it
//! clears. Nothing here runs per line unless the stream is on, and then a
//! line costs a few comparisons (the row's reasons), plus a hash lookup
//! only when the row has a reason.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::actions::block::{target_text, BlockRecord};
use crate::detect::{Detector, Reasons};
use crate::headless::SourceReport;
use crate::parse::UnixTime;
use crate::table::{IpTable, Row};
use crate::view::wire::events::{Auth, Blocked, Cleared, Header, Source, Suspicious};
use crate::view::wire::{self};

/// Where the stream goes.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct EventsConfig {
    /// `--events`: to stdout.
    pub(crate) stdout: bool,
    /// `--events-file`: appended to this file (created 0600).
    pub(crate) file: Option<PathBuf>,
}

impl EventsConfig {
    pub(crate) fn is_on(&self) -> bool {
        self.stdout || self.file.is_some()
    }
}

/// Where lines are written; a sink that fails is reported once and tried
/// again with the next line (a full disk may recover).
enum Sink {
    Stdout,
    File {
        file: File,
        path: PathBuf,
    },
    /// Lines kept in memory (tests).
    #[cfg(test)]
    Memory(Vec<u8>),
}

impl Sink {
    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        match self {
            Sink::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(line)?;
                out.flush()
            }
            // O_APPEND: one write a line, never interleaved with another writer's.
            Sink::File { file, .. } => file.write_all(line),
            #[cfg(test)]
            Sink::Memory(lines) => {
                lines.extend_from_slice(line);
                Ok(())
            }
        }
    }

    fn name(&self) -> String {
        match self {
            Sink::Stdout => "stdout".into(),
            Sink::File { path, .. } => path.display().to_string(),
            #[cfg(test)]
            Sink::Memory(_) => "memory".into(),
        }
    }
}

/// An event noted while a batch of lines is applied.
enum Pending {
    /// `new` reasons of `ip` to announce.
    Suspicious { ip: IpAddr, new: Reasons },
    /// A login (the user name copied: logins are rare).
    Auth {
        ip: IpAddr,
        user: Box<[u8]>,
        after_failures: u64,
    },
}

pub(crate) struct Events {
    sinks: Vec<Sink>,
    host: String,
    /// The line being written (reused).
    line: Vec<u8>,
    /// Reasons announced per address, until they clear.
    announced: HashMap<IpAddr, Reasons>,
    /// Events noted while lines are applied, written by [`Events::flush`].
    pending: Vec<Pending>,
    /// Whether each source report (by position) was failing at the last look.
    failing: Vec<bool>,
    /// The first write error, said once.
    error: WriteFault,
    /// Say a write error on stderr at once (headless); the dashboard takes
    /// it for its status line instead.
    to_stderr: bool,
}

impl Events {
    /// The stream as configured (`None` when off); a file that cannot be
    /// opened is a start-up error.
    pub(crate) fn open(config: &EventsConfig, to_stderr: bool) -> Result<Option<Events>, String> {
        if !config.is_on() {
            return Ok(None);
        }
        let mut sinks = Vec::new();
        if config.stdout {
            sinks.push(Sink::Stdout);
        }
        if let Some(path) = &config.file {
            let file =
                open_append(path).map_err(|e| format!("--events-file {}: {e}", path.display()))?;
            sinks.push(Sink::File {
                file,
                path: path.clone(),
            });
        }
        Ok(Some(Events::with_sinks(
            sinks,
            crate::sys::host::host_name(),
            to_stderr,
        )))
    }

    fn with_sinks(sinks: Vec<Sink>, host: String, to_stderr: bool) -> Events {
        Events {
            sinks,
            host,
            line: Vec::with_capacity(512),
            announced: HashMap::new(),
            pending: Vec::new(),
            failing: Vec::new(),
            error: WriteFault::default(),
            to_stderr,
        }
    }

    /// A line was counted on `row`: the reasons it has gained are noted as
    /// announced, and queued for [`Events::flush`]. Without a reason (most
    /// rows, most lines), no lookup at all.
    pub(crate) fn after_row(&mut self, detector: &Detector, row: &Row) {
        let reasons = detector.reasons(row);
        if reasons.is_empty() {
            return;
        }
        let known = self.announced.get(&row.ip).copied().unwrap_or_default();
        let new = reasons.without(known);
        if new.is_empty() {
            return;
        }
        self.announced.insert(row.ip, reasons.union(known));
        self.pending.push(Pending::Suspicious { ip: row.ip, new });
    }

    /// sshd accepted a login for `user` on `row`, after `after_failures`
    /// failed attempts from its address: queued behind the row's reasons.
    pub(crate) fn accepted(&mut self, row: &Row, user: &[u8], after_failures: u64) {
        self.pending.push(Pending::Auth {
            ip: row.ip,
            user: user.into(),
            after_failures,
        });
    }

    /// Write what was queued, in order. The engine calls this once a batch
    /// of lines is applied and new rows have their cached whois answer, so
    /// a first event carries the organisation when it is known.
    pub(crate) fn flush(&mut self, table: &IpTable, detector: &Detector, now: UnixTime) {
        if self.pending.is_empty() {
            return;
        }
        let mut pending = std::mem::take(&mut self.pending);
        for event in pending.drain(..) {
            let header = Header {
                time: now,
                host: &self.host,
            };
            match event {
                Pending::Suspicious { ip, new } => {
                    // Evicted since (a flood at the cap): its `cleared` follows.
                    let Some(row) = table.get(ip) else { continue };
                    let reasons = detector.reasons(row).union(new);
                    let line = Suspicious::new(header, row, reasons, new);
                    emit(&mut self.line, &mut self.sinks, &line, &mut self.error);
                }
                Pending::Auth {
                    ip,
                    user,
                    after_failures,
                } => {
                    let Some(row) = table.get(ip) else { continue };
                    let line = Auth::new(header, row, &user, after_failures);
                    emit(&mut self.line, &mut self.sinks, &line, &mut self.error);
                }
            }
        }
        // The queue's room is kept for the next batch.
        self.pending = pending;
        self.say_error();
    }

    /// The tick, and after a socket dump: reasons read from sockets are
    /// announced, and reasons that faded (or whose row is gone) cleared.
    pub(crate) fn reconcile(&mut self, table: &IpTable, detector: &Detector, now: UnixTime) {
        for row in table.rows() {
            self.after_row(detector, row);
        }
        self.flush(table, detector, now);
        let (host, line, sinks, error) =
            (&self.host, &mut self.line, &mut self.sinks, &mut self.error);
        self.announced.retain(|&ip, known| {
            let current = table
                .get(ip)
                .map(|r| detector.reasons(r))
                .unwrap_or_default();
            let faded = known.without(current);
            if !faded.is_empty() {
                let header = Header { time: now, host };
                emit(
                    line,
                    sinks,
                    &Cleared::new(header, ip, current, faded),
                    error,
                );
                *known = known.without(faded);
            }
            !known.is_empty()
        });
        self.say_error();
    }

    /// A block run ended (it ran, failed, or was refused).
    pub(crate) fn blocked(&mut self, record: &BlockRecord, now: UnixTime) {
        let header = Header {
            time: now,
            host: &self.host,
        };
        let why = record.failure();
        let line = Blocked::new(
            header,
            record.ip,
            target_text(record.target),
            record.tool.program(),
        );
        let line = match (why.as_deref(), record.refusal().is_some()) {
            (None, _) => line,
            (Some(why), true) => line.not_done("refused", why),
            (Some(why), false) => line.not_done("failed", why),
        };
        emit(&mut self.line, &mut self.sinks, &line, &mut self.error);
        self.say_error();
    }

    /// The source reports were refreshed: a source whose error appeared
    /// or went away is announced. A few comparisons when nothing flipped.
    pub(crate) fn sources(&mut self, reports: &[SourceReport], now: UnixTime) {
        if self.failing.len() < reports.len() {
            self.failing.resize(reports.len(), false);
        }
        for (report, was_failing) in reports.iter().zip(self.failing.iter_mut()) {
            let is_failing = report.error.is_some();
            if is_failing == *was_failing {
                continue;
            }
            *was_failing = is_failing;
            let header = Header {
                time: now,
                host: &self.host,
            };
            let error = report.error.as_deref();
            let line = Source::new(header, report.kind, &report.path, error);
            emit(&mut self.line, &mut self.sinks, &line, &mut self.error);
        }
        self.say_error();
    }

    /// The first write error, once (for the dashboard's status line).
    pub(crate) fn take_error(&mut self) -> Option<String> {
        self.error.message.take()
    }

    /// Headless: the first write error goes to stderr at once.
    fn say_error(&mut self) {
        if self.to_stderr {
            if let Some(e) = self.error.message.take() {
                eprintln!("nethergaze: {e}");
            }
        }
    }
}

/// The first write error of the run: kept until said, then never again
/// (a stream that keeps failing must not flood stderr or the status line).
#[derive(Debug, Default)]
struct WriteFault {
    message: Option<String>,
    seen: bool,
}

impl WriteFault {
    fn note(&mut self, message: impl FnOnce() -> String) {
        if !self.seen {
            self.seen = true;
            self.message = Some(message());
        }
    }
}

/// Serialise `value` into `line` and write it to every sink; the first
/// failure is kept in `error` (later ones are not: it is said once).
fn emit(line: &mut Vec<u8>, sinks: &mut [Sink], value: &impl Serialize, error: &mut WriteFault) {
    if let Err(e) = wire::write_line(line, value) {
        error.note(|| format!("event stream: {e}"));
        return;
    }
    for sink in sinks.iter_mut() {
        if let Err(e) = sink.write_line(line) {
            error.note(|| format!("event stream to {}: {e}", sink.name()));
        }
    }
}

/// `--events-file`: appended to (never truncated), created readable by
/// the owner only (the stream names addresses and user names).
fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
}

#[cfg(test)]
mod tests;
