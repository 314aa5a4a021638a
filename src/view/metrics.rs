//! The Prometheus text exposition format (version 0.0.4), as node-exporter's
//! textfile collector reads it: `--metrics-file`. Every number comes from
//! [`totals`](super::totals) or the source reports, so a metric means what
//! the screen and the JSON summary mean (README, "Prometheus metrics").
//!
//! No timestamps (the textfile collector refuses them: the file's mtime is
//! its own metric, `node_textfile_mtime_seconds`).

use std::io::{self, Write};

use super::totals::{Flagged, LineCounts, SocketStates, STATE_NAMES};
use crate::detect::{Detector, Reason};
use crate::headless::SourceReport;
use crate::table::IpTable;

/// What one metrics file says about the run.
pub(crate) struct Snapshot<'a> {
    pub(crate) table: &'a IpTable,
    pub(crate) detector: &'a Detector,
    pub(crate) sources: &'a [SourceReport],
}

/// Writes the whole exposition into `out` (cleared first; reused between
/// writes, so a steady run does not allocate).
pub(crate) fn render(out: &mut Vec<u8>, s: &Snapshot<'_>) -> io::Result<()> {
    out.clear();
    let t = &s.table.totals;
    let lines = LineCounts::of(s.sources);
    header(
        out,
        "build_info",
        "gauge",
        "Always 1; the version is a label.",
    )?;
    write!(out, "nethergaze_build_info{{version=")?;
    label_value(out, env!("CARGO_PKG_VERSION"))?;
    writeln!(out, "}} 1")?;
    counter(
        out,
        "requests_total",
        "Access-log requests counted.",
        t.requests,
    )?;
    counter(
        out,
        "response_bytes_total",
        "Response bytes of those requests.",
        t.bytes,
    )?;
    header(
        out,
        "lines_read_total",
        "counter",
        "Log lines read, by kind of log.",
    )?;
    writeln!(
        out,
        "nethergaze_lines_read_total{{kind=\"access\"}} {}",
        lines.access
    )?;
    writeln!(
        out,
        "nethergaze_lines_read_total{{kind=\"auth\"}} {}",
        lines.auth
    )?;
    let malformed = "Access-log lines that could not be used.";
    counter(out, "malformed_lines_total", malformed, lines.malformed)?;
    let failures = "sshd authentication failures counted.";
    counter(out, "auth_failures_total", failures, t.auth_failures)?;
    let tracked = "Addresses in the table (shown rows).";
    gauge(
        out,
        "tracked_addresses",
        tracked,
        s.table.rows().count() as u64,
    )?;
    let evicted = "Rows dropped at the max_tracked_ips cap.";
    counter(out, "evicted_addresses_total", evicted, t.evicted)?;
    flagged(out, &Flagged::of(s.table, s.detector))?;
    let conns = "Inbound sockets of the shown rows (the header's connections).";
    gauge(out, "connections", conns, s.table.connections())?;
    sockets(out, &SocketStates::of(s.table))?;
    source_health(out, s.sources)
}

fn flagged(out: &mut Vec<u8>, f: &Flagged) -> io::Result<()> {
    let help = "Addresses suspicious now, by reason (one address may have several).";
    header(out, "suspicious_addresses", "gauge", help)?;
    for (reason, n) in Reason::ALL.iter().zip(f.by_reason) {
        let code = reason.code();
        writeln!(
            out,
            "nethergaze_suspicious_addresses{{reason=\"{code}\"}} {n}"
        )?;
    }
    let any = "Addresses suspicious now for at least one reason.";
    gauge(out, "suspicious_addresses_any", any, f.any)
}

fn sockets(out: &mut Vec<u8>, s: &SocketStates) -> io::Result<()> {
    let help = "Sockets of the shown rows in the last dump, by direction and TCP state.";
    header(out, "sockets", "gauge", help)?;
    for (direction, counts) in [("in", &s.inbound), ("out", &s.outbound)] {
        for (state, n) in STATE_NAMES.iter().zip(counts) {
            writeln!(
                out,
                "nethergaze_sockets{{direction=\"{direction}\",state=\"{state}\"}} {n}"
            )?;
        }
    }
    Ok(())
}

/// `nethergaze_source_up{source="…",kind="…"}`: 1 while the source reads,
/// 0 while it fails. A source listed twice is written once (a repeated
/// series would make the collector drop the whole file).
fn source_health(out: &mut Vec<u8>, sources: &[SourceReport]) -> io::Result<()> {
    let help = "1 while the source is read, 0 while it fails (see the JSON summary's error).";
    header(out, "source_up", "gauge", help)?;
    for (i, source) in sources.iter().enumerate() {
        let seen = sources[..i]
            .iter()
            .any(|s| s.path == source.path && s.kind == source.kind);
        if seen {
            continue;
        }
        write!(out, "nethergaze_source_up{{source=")?;
        label_value(out, &source.path)?;
        write!(out, ",kind=")?;
        label_value(out, source.kind)?;
        writeln!(out, "}} {}", u8::from(source.error.is_none()))?;
    }
    Ok(())
}

fn header(out: &mut Vec<u8>, name: &str, kind: &str, help: &str) -> io::Result<()> {
    writeln!(out, "# HELP nethergaze_{name} {help}")?;
    writeln!(out, "# TYPE nethergaze_{name} {kind}")
}

fn counter(out: &mut Vec<u8>, name: &str, help: &str, n: u64) -> io::Result<()> {
    header(out, name, "counter", help)?;
    writeln!(out, "nethergaze_{name} {n}")
}

fn gauge(out: &mut Vec<u8>, name: &str, help: &str, n: u64) -> io::Result<()> {
    header(out, name, "gauge", help)?;
    writeln!(out, "nethergaze_{name} {n}")
}

/// A label value in double quotes, with `\`, `"` and a newline escaped as
/// the exposition format requires (paths may hold anything).
pub(crate) fn label_value(out: &mut Vec<u8>, value: &str) -> io::Result<()> {
    out.push(b'"');
    for b in value.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
    out.push(b'"');
    Ok(())
}

#[cfg(test)]
mod tests;
