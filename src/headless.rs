//! `--once` / `--for` output: an aligned text table or JSON Lines.
//!
//! The JSON is a contract (schema_version 1, issue 2 §5): one `ip` object per
//! row in snapshot order, then one `summary` object (the types are in
//! `view::wire`). The text table has the dashboard's columns
//! (`view::columns`). Text from outside (paths, user agents) is escaped,
//! never written raw.

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::detect::Detector;
use crate::parse::UnixTime;
use crate::source::vnstat::Vnstat;
use crate::store::{History, HistoryFigures};
use crate::table::{IpTable, Row};
use crate::view::columns::{Col, RowView};
use crate::view::format::{human_bytes, printable};
use crate::view::groups::{Group, GroupBy, Grouper};
use crate::view::totals::{self, LineCounts};
use crate::view::wire::{
    self, GroupObject, IpObject, Rate, Rfc3339, Sources, Summary, VnstatMonth, SCHEMA_VERSION,
};

pub(crate) mod run;

/// One input source as the summary reports it.
#[derive(Debug, Clone)]
pub(crate) struct SourceReport {
    pub(crate) path: String,
    pub(crate) kind: &'static str,
    pub(crate) format: String,
    pub(crate) lines: u64,
    pub(crate) malformed: u64,
    pub(crate) error: Option<String>,
    /// Something worth knowing that is not a failure (a GeoIP database
    /// that is not installed): shown, but the source counts as working.
    pub(crate) note: Option<String>,
}

/// What the snapshot needs besides the table.
pub(crate) struct RunInfo<'a> {
    pub(crate) started: UnixTime,
    pub(crate) ended: UnixTime,
    pub(crate) sources: &'a [SourceReport],
    /// Seconds between socket dumps, for new connections per second.
    pub(crate) interval_secs: f64,
    pub(crate) suspicious_only: bool,
    /// `--group-by`: group rows instead of address rows (`Ip`: none).
    pub(crate) group_by: GroupBy,
    /// Lifetime history for the `history` object (`None`: disabled → null).
    pub(crate) history: Option<&'a History>,
    /// Whether this run's session was written to history at exit: the
    /// summary's `history_saved` (`None`: history off → null).
    pub(crate) history_saved: Option<bool>,
    /// This month's totals from vnstat, or why there are none.
    pub(crate) vnstat: &'a Vnstat,
}

/// Rows to print, in snapshot order, honouring `--suspicious`.
fn selected<'t>(table: &'t IpTable, detector: &Detector, info: &RunInfo<'_>) -> Vec<&'t Row> {
    let mut rows = table.sorted();
    if info.suspicious_only {
        rows.retain(|r| !detector.reasons(r).is_empty());
    }
    rows
}

/// The groups of the table (`--group-by`), honouring `--suspicious`: a
/// group flagged together or through a member. Empty without a grouping.
fn selected_groups(
    grouper: &mut Grouper,
    table: &IpTable,
    detector: &Detector,
    info: &RunInfo<'_>,
    end: UnixTime,
) -> Vec<Group> {
    let groups = grouper.group_table(table, detector, info.group_by, end);
    groups
        .iter()
        .filter(|g| !info.suspicious_only || g.is_suspicious())
        .copied()
        .collect()
}

/// The row's lifetime history figures (`None`: history off, or no record).
/// Read once per row per output: `--once` prints each row once.
fn history_of(info: &RunInfo<'_>, row: &Row) -> Option<HistoryFigures> {
    info.history.and_then(|h| h.figures(row.ip).ok().flatten())
}

pub(crate) fn write_json(
    out: &mut impl Write,
    table: &IpTable,
    detector: &Detector,
    info: &RunInfo<'_>,
) -> io::Result<()> {
    let end = table.window_end(info.ended);
    let rows = selected(table, detector, info);
    let mut line = Vec::with_capacity(512);
    if info.group_by != GroupBy::Ip {
        for group in selected_groups(&mut Grouper::default(), table, detector, info, end) {
            wire::write_line(&mut line, &GroupObject::new(&group))?;
            out.write_all(&line)?;
        }
        wire::write_line(&mut line, &summary(table, info, rows.len(), end))?;
        out.write_all(&line)?;
        return out.flush();
    }
    for row in &rows {
        let object = IpObject::new(
            table,
            row,
            end,
            detector.reason_ages(row),
            history_of(info, row),
        );
        wire::write_line(&mut line, &object)?;
        out.write_all(&line)?;
    }
    wire::write_line(&mut line, &summary(table, info, rows.len(), end))?;
    out.write_all(&line)?;
    out.flush()
}

fn summary<'a>(table: &IpTable, info: &RunInfo<'a>, ips: usize, end: UnixTime) -> Summary<'a> {
    let lines = LineCounts::of(info.sources);
    let req_per_sec = totals::req_per_sec(table, info.started, end);
    let new_conns_per_sec = totals::new_conns_per_sec(table, info.interval_secs);
    Summary {
        kind: "summary",
        schema_version: SCHEMA_VERSION,
        ips,
        evicted: table.totals.evicted,
        connections: table.connections(),
        requests: table.totals.requests,
        bytes: table.totals.bytes,
        auth_failures: table.totals.auth_failures,
        lines: lines.access,
        malformed: lines.malformed,
        auth_lines: lines.auth,
        req_per_sec: Rate(req_per_sec),
        new_conns_per_sec: Rate(new_conns_per_sec),
        started: Rfc3339(info.started),
        ended: Rfc3339(info.ended),
        history_saved: info.history_saved,
        vnstat: VnstatMonth::new(info.vnstat),
        sources: Sources(info.sources),
    }
}

/// The aligned text table: the dashboard's columns (with `--suspicious`, the
/// reasons too), then a summary line.
pub(crate) fn write_text(
    out: &mut impl Write,
    table: &IpTable,
    detector: &Detector,
    info: &RunInfo<'_>,
) -> io::Result<()> {
    let end = table.window_end(info.ended);
    let rows = selected(table, detector, info);
    let (cols, cells) = match info.group_by {
        GroupBy::Ip => address_cells(table, detector, info, &rows),
        by => group_cells(
            by,
            &selected_groups(&mut Grouper::default(), table, detector, info, end),
            info,
        ),
    };
    let mut widths = vec![0usize; cols.len()];
    for line in &cells {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for line in &cells {
        for (i, ((cell, &w), &col)) in line.iter().zip(&widths).zip(&cols).enumerate() {
            let sep = if i + 1 == line.len() { "" } else { "  " };
            let _ = if col.is_numeric() {
                write!(text, "{cell:>w$}{sep}")
            } else {
                write!(text, "{cell:<w$}{sep}")
            };
        }
        let trimmed = text.trim_end().len();
        text.truncate(trimmed);
        text.push('\n');
    }
    // The JSON summary's figures, by the same definitions (`view::totals`).
    let lines = LineCounts::of(info.sources);
    let _ = writeln!(
        text,
        "\n{} IPs, {} connections, {} requests, {} auth failures, {} access lines, {} sshd lines, {:.1} req/s",
        rows.len(),
        table.connections(),
        table.totals.requests,
        table.totals.auth_failures,
        lines.access,
        lines.auth,
        totals::req_per_sec(table, info.started, end)
    );
    if let Some(m) = info.vnstat.status().month() {
        let _ = writeln!(
            text,
            "vnstat {} {:04}-{:02}: received {}, sent {}",
            printable(info.vnstat.iface().as_bytes(), 40),
            m.year,
            m.month,
            human_bytes(m.rx),
            human_bytes(m.tx)
        );
    }
    if table.totals.evicted > 0 {
        let _ = writeln!(
            text,
            "{} IPs evicted at max_tracked_ips (quiet and unflagged first)",
            table.totals.evicted
        );
    }
    // Notes only: errors go to stderr (`entry`), never into the snapshot's text.
    for src in info.sources {
        if let Some(note) = &src.note {
            let _ = writeln!(
                text,
                "note {}: {}",
                printable(src.path.as_bytes(), 200),
                printable(note.as_bytes(), 400)
            );
        }
    }
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// The text table's columns and cells (titles first), one line an address.
fn address_cells(
    table: &IpTable,
    detector: &Detector,
    info: &RunInfo<'_>,
    rows: &[&Row],
) -> (Vec<Col>, Vec<Vec<String>>) {
    let cols: Vec<Col> = Col::columns(info.suspicious_only).collect();
    let mut cells: Vec<Vec<String>> = vec![cols.iter().map(|c| c.title().to_string()).collect()];
    for row in rows {
        let view = RowView {
            row,
            table,
            reasons: detector.reasons(row),
            history: history_of(info, row),
        };
        cells.push(cols.iter().map(|&col| text_cell(col, &view)).collect());
    }
    (cols, cells)
}

/// The text table's columns and cells (titles first), one line a group; a
/// suspicious group's key marked `!`, as an address is.
fn group_cells(by: GroupBy, groups: &[Group], info: &RunInfo<'_>) -> (Vec<Col>, Vec<Vec<String>>) {
    let cols: Vec<Col> = Col::group_columns(info.suspicious_only).collect();
    let title = |c: Col| match c {
        Col::Group => by.title().to_string(),
        c => c.title().to_string(),
    };
    let mut cells: Vec<Vec<String>> = vec![cols.iter().map(|&c| title(c)).collect()];
    for g in groups {
        let line = cols.iter().map(|&col| {
            let mut cell = String::new();
            if col == Col::Group && g.is_suspicious() {
                cell.push('!');
            }
            col.write_group(g, &mut cell);
            cell
        });
        cells.push(line.collect());
    }
    (cols, cells)
}

/// One cell of the text table: the column's text, made safe and cut where
/// it comes from outside; the address marked `!` when suspicious,
/// `(out)` when the row only has outbound connections and `(blocked)` when
/// a firewall or ban engine already blocks it; no `-` for a blank
/// (see [`Col::is_blank`]).
fn text_cell(col: Col, view: &RowView<'_>) -> String {
    let mut cell = String::new();
    match col {
        Col::Ip => {
            if !view.reasons.is_empty() {
                cell.push('!');
            }
            col.write(view, &mut cell);
            if view.row.is_outbound_only() {
                cell.push_str(" (out)");
            }
            if view.row.is_blocked() {
                cell.push_str(" (blocked)");
            }
        }
        Col::Last => {
            if let Some(path) = view.last_path() {
                cell = printable(path, 60);
            }
        }
        col => {
            col.write(view, &mut cell);
            if let Some(max) = col.text_max() {
                cell = printable(cell.as_bytes(), max);
            }
        }
    }
    cell
}
