//! Source health for the summary and the dashboard's sources panel: one
//! [`SourceReport`] per log, the journal, the sockets, GeoIP, history and
//! (while its worker runs) whois, last so the others keep their places.
//! The list is kept, not rebuilt: after each event that can change a source
//! the engine refreshes it in place (counters copied, strings rewritten into
//! their own buffers), so a frame only borrows a slice.

use std::fmt::{self, Write as _};

use super::feed::Core;
use super::history::Keeper;
use super::sockets::{Dumps, SocketReader};
use super::whois::Whois;
use crate::enrich::geoip::GeoIp;
use crate::headless::SourceReport;
use crate::source::journal::Journal;
use crate::source::logset::SourceStats;
use crate::source::{LogKind, LogSet};

/// The engine's parts a report is read from.
pub(crate) struct Parts<'a> {
    pub(crate) logs: &'a LogSet,
    pub(crate) core: &'a Core,
    pub(crate) journal: Option<&'a Journal>,
    pub(crate) reader: &'a SocketReader,
    pub(crate) dumps: &'a Dumps,
    pub(crate) keeper: &'a Keeper,
    pub(crate) whois: &'a Whois,
}

pub(crate) struct Reports {
    list: Vec<SourceReport>,
    /// `log_format` as configured: `auto`, a name, or a custom format.
    format_spec: String,
    /// GeoIP's entry, rewritten only when its files are (re)opened.
    geoip: Option<SourceReport>,
}

impl Reports {
    pub(crate) fn new(format_spec: &str) -> Reports {
        Reports {
            list: Vec::new(),
            format_spec: format_spec.to_string(),
            geoip: None,
        }
    }

    /// Every source, in the summary's order.
    pub(crate) fn as_slice(&self) -> &[SourceReport] {
        &self.list
    }

    /// GeoIP was opened or its files were checked for replacement.
    pub(crate) fn note_geoip(&mut self, geoip: Option<&GeoIp>) {
        self.geoip = geoip.map(|geoip| SourceReport {
            path: geoip.describe(),
            kind: "geoip",
            format: "mmdb".into(),
            lines: 0,
            malformed: 0,
            error: None,
            note: geoip.note().map(str::to_string),
        });
    }

    /// Bring every entry up to date, in place.
    pub(crate) fn refresh(&mut self, parts: &Parts<'_>) {
        let mut at = 0;
        for (i, source) in parts.logs.sources().iter().enumerate() {
            let kind = source.kind.code();
            let report = entry(&mut self.list, &mut at, kind);
            let format = match source.kind {
                LogKind::Access => format_name(&self.format_spec, parts.core.format_seen(i)),
                LogKind::Auth => FormatName::Text("sshd"),
            };
            log_source(report, source, format);
        }
        if let Some(journal) = parts.journal {
            let report = entry(&mut self.list, &mut at, "auth");
            let stats = journal.stats();
            set(&mut report.path, format_args!("journald"));
            set(&mut report.format, format_args!("sshd"));
            report.lines = stats.lines;
            report.malformed = stats.malformed;
            report.error.clone_from(&stats.error);
            report.note = None;
        }
        let report = entry(&mut self.list, &mut at, "sockets");
        parts.dumps.report(parts.reader, report);
        if let Some(geoip) = &self.geoip {
            entry(&mut self.list, &mut at, "geoip").clone_from(geoip);
        }
        if let Some(path) = parts.keeper.path() {
            let report = entry(&mut self.list, &mut at, "history");
            if report.path.is_empty() {
                // The file never changes: its name is written once.
                report.path = path.display().to_string();
                report.format = "sqlite".into();
            }
            report.error.clone_from(parts.keeper.error());
        }
        if parts.whois.is_enabled() {
            let report = entry(&mut self.list, &mut at, "whois");
            parts.whois.report(report, parts.core.now);
        }
        self.list.truncate(at);
    }
}

/// The entry at `*at` (reused, or new), for a source of `kind`; `*at` moves on.
fn entry<'a>(
    list: &'a mut Vec<SourceReport>,
    at: &mut usize,
    kind: &'static str,
) -> &'a mut SourceReport {
    if *at == list.len() {
        list.push(blank(kind));
    }
    let report = &mut list[*at];
    *at += 1;
    reset_if_other(report, kind);
    report
}

/// An entry that held another kind of source starts over (an entry's
/// fixed text is written only when it is empty).
fn reset_if_other(report: &mut SourceReport, kind: &'static str) {
    if report.kind != kind {
        *report = blank(kind);
    }
}

fn blank(kind: &'static str) -> SourceReport {
    SourceReport {
        path: String::new(),
        kind,
        format: String::new(),
        lines: 0,
        malformed: 0,
        error: None,
        note: None,
    }
}

/// A log source's format as the summary names it.
enum FormatName<'a> {
    Text(&'a str),
    /// `auto`, with the format its lines were last seen in.
    Auto(&'a str),
}

/// The configured format, with the detected one for `auto`: `auto(combined)`.
fn format_name<'a>(spec: &'a str, seen: Option<&'static str>) -> FormatName<'a> {
    match seen {
        Some(seen) if spec == "auto" => FormatName::Auto(seen),
        _ if spec.contains('$') => FormatName::Text("custom"),
        _ => FormatName::Text(spec),
    }
}

fn log_source(report: &mut SourceReport, source: &SourceStats, format: FormatName<'_>) {
    set(&mut report.path, format_args!("{}", source.path.display()));
    match format {
        FormatName::Text(name) => set(&mut report.format, format_args!("{name}")),
        FormatName::Auto(seen) => set(&mut report.format, format_args!("auto({seen})")),
    }
    report.lines = source.lines;
    report.malformed = source.malformed;
    report.error.clone_from(&source.error);
    report.note.clone_from(&source.note);
}

/// Rewrite `text` in its own buffer (no allocation once it is large enough).
fn set(text: &mut String, args: fmt::Arguments<'_>) {
    text.clear();
    let _ = text.write_fmt(args);
}
