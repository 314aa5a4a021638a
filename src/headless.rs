//! `--once` / `--for` output: an aligned text table or JSON Lines.
//!
//! The JSON is a contract (schema_version 1, issue 2 §5): one `ip` object per
//! row in snapshot order, then one `summary` object. Text from outside
//! (paths, user agents) is escaped, never written raw.

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::detect::Detector;
use crate::enrich::geoip::GeoInfo;
use crate::enrich::whois::WhoisInfo;
use crate::net::service_name;
use crate::parse::time::format_rfc3339;
use crate::parse::UnixTime;
use crate::store::{History, IpHistory};
use crate::table::{IpTable, Row, StrId};

pub const SCHEMA_VERSION: u32 = 1;

/// One input source as the summary reports it.
#[derive(Debug, Clone)]
pub struct SourceReport {
    pub path: String,
    pub kind: &'static str,
    pub format: String,
    pub lines: u64,
    pub malformed: u64,
    pub error: Option<String>,
    /// Something worth knowing that is not a failure (a GeoIP database
    /// that is not installed): shown, but the source counts as working.
    pub note: Option<String>,
}

/// What the snapshot needs besides the table.
pub struct RunInfo<'a> {
    pub started: UnixTime,
    pub ended: UnixTime,
    pub sources: &'a [SourceReport],
    /// Seconds between socket dumps, for new connections per second.
    pub interval_secs: f64,
    pub suspicious_only: bool,
    /// Lifetime history for the `history` object (`None`: disabled → null).
    pub history: Option<&'a History>,
    /// Whether this run's session was written to history at exit: the
    /// summary's `history_saved` (`None`: history off → null).
    pub history_saved: Option<bool>,
}

/// Rows to print, in snapshot order, honouring `--suspicious`.
fn selected<'t>(table: &'t IpTable, detector: &Detector, info: &RunInfo<'_>) -> Vec<&'t Row> {
    let mut rows = table.sorted();
    if info.suspicious_only {
        rows.retain(|r| !detector.reasons(r).is_empty());
    }
    rows
}

pub fn write_json(
    out: &mut impl Write,
    table: &IpTable,
    detector: &Detector,
    info: &RunInfo<'_>,
) -> io::Result<()> {
    let end = table.window_end(info.ended);
    let rows = selected(table, detector, info);
    let mut line = String::with_capacity(512);
    for row in &rows {
        line.clear();
        ip_object(&mut line, table, detector, row, end, info.history);
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    line.clear();
    summary_object(&mut line, table, info, rows.len(), end);
    line.push('\n');
    out.write_all(line.as_bytes())?;
    out.flush()
}

fn ip_object(
    s: &mut String,
    table: &IpTable,
    detector: &Detector,
    row: &Row,
    end: UnixTime,
    history: Option<&History>,
) {
    let sockets = &row.sockets();
    let _ = write!(
        s,
        r#"{{"type":"ip","ip":"{}","conns":{},"conns_out":{},"states":{{"#,
        row.ip, sockets.conns_in, sockets.conns_out
    );
    for (i, (name, n)) in sockets.states().enumerate() {
        let _ = write!(s, r#"{}"{name}":{n}"#, if i > 0 { "," } else { "" });
    }
    s.push_str(r#"},"services":["#);
    for (i, name) in services(row).iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        json_str(s, name.as_bytes());
    }
    let _ = write!(
        s,
        r#"],"requests":{},"bytes":{},"status":{{"#,
        row.requests, row.bytes
    );
    let classes = ["other", "1xx", "2xx", "3xx", "4xx", "5xx"];
    let mut first = true;
    for (class, &n) in classes.iter().zip(&row.status).filter(|(_, &n)| n > 0) {
        let _ = write!(s, r#"{}"{class}":{n}"#, if first { "" } else { "," });
        first = false;
    }
    let _ = write!(
        s,
        r#"}},"rpm":{},"peak_rpm":{},"auth_failures":{},"auth_accepted":{},"#,
        row.rate.per_minute(end),
        row.rate.peak(),
        row.auth_failures(),
        row.auth_count(crate::parse::AuthKind::Accepted),
    );
    geo_fields(s, row);
    whois_object(s, row.whois.as_deref());
    let reasons = detector.reasons(row);
    let _ = write!(s, r#""suspicious":{},"reasons":["#, !reasons.is_empty());
    for (i, r) in reasons.iter().enumerate() {
        let _ = write!(s, r#"{}"{}""#, if i > 0 { "," } else { "" }, r.code());
    }
    s.push_str(r#"],"last_request":"#);
    match row.recent.back() {
        Some(r) => {
            let _ = write!(
                s,
                r#"{{"time":"{}","method":"#,
                format_rfc3339(i64::from(r.time))
            );
            interned_str(s, table, r.method);
            s.push_str(r#","path":"#);
            interned_str(s, table, r.path);
            let _ = write!(
                s,
                r#","status":{},"bytes":{},"user_agent":"#,
                r.status, r.bytes
            );
            interned_str(s, table, r.user_agent);
            s.push('}');
        }
        None => s.push_str("null"),
    }
    let _ = write!(
        s,
        r#","first_seen":"{}","last_seen":"{}","history":"#,
        format_rfc3339(row.first_seen),
        format_rfc3339(row.last_seen)
    );
    history_object(s, history.and_then(|h| h.lookup(row.ip).ok().flatten()));
    s.push('}');
}

/// `"country":…,"city":…,"asn":…,"org":…,` (null when unknown). `org` is
/// GeoIP's ASN organisation, else whois's organisation or network name.
fn geo_fields(s: &mut String, row: &Row) {
    let geo = row.geo.as_deref();
    let text = |s: &mut String, key: &str, value: Option<&str>| {
        let _ = write!(s, r#""{key}":"#);
        match value {
            Some(v) => json_str(s, v.as_bytes()),
            None => s.push_str("null"),
        }
        s.push(',');
    };
    text(s, "country", geo.and_then(|g| g.country.as_deref()));
    text(s, "city", geo.and_then(|g| g.city.as_deref()));
    match geo.and_then(|g| g.asn) {
        Some(asn) => {
            let _ = write!(s, r#""asn":{asn},"#);
        }
        None => s.push_str(r#""asn":null,"#),
    }
    text(s, "org", row.org());
}

/// `"whois":{"network","cidr","org","country","abuse"},` or null until known.
fn whois_object(s: &mut String, whois: Option<&WhoisInfo>) {
    let Some(w) = whois else {
        s.push_str(r#""whois":null,"#);
        return;
    };
    s.push_str(r#""whois":{"#);
    let fields = [
        ("network", &w.network),
        ("cidr", &w.cidr),
        ("org", &w.org),
        ("country", &w.country),
        ("abuse", &w.abuse),
    ];
    for (i, (key, value)) in fields.into_iter().enumerate() {
        let _ = write!(s, r#"{}"{key}":"#, if i > 0 { "," } else { "" });
        match value {
            Some(v) => json_str(s, v.as_bytes()),
            None => s.push_str("null"),
        }
    }
    s.push_str("},");
}

/// The `history` object, or null when history is off or has no record.
fn history_object(s: &mut String, h: Option<IpHistory>) {
    match h {
        Some(h) => {
            let _ = write!(
                s,
                r#"{{"sessions":{},"first_seen":"{}","requests":{},"bytes":{},"auth_failures":{},"suspicious_sessions":{}}}"#,
                h.sessions,
                format_rfc3339(h.first_seen),
                h.requests,
                h.bytes,
                h.auth_failures,
                h.suspicious_sessions
            );
        }
        None => s.push_str("null"),
    }
}

fn summary_object(s: &mut String, table: &IpTable, info: &RunInfo<'_>, ips: usize, end: UnixTime) {
    let lines: u64 = info
        .sources
        .iter()
        .filter(|s| s.kind == "access")
        .map(|s| s.lines)
        .sum();
    let malformed: u64 = info
        .sources
        .iter()
        .filter(|s| s.kind == "access")
        .map(|s| s.malformed)
        .sum();
    let req_per_sec = f64::from(table.totals.rate.per_minute(end)) / 60.0;
    let new_conns_per_sec =
        f64::from(table.totals.new_conns_last_dump) / info.interval_secs.max(0.001);
    let _ = write!(
        s,
        r#"{{"type":"summary","schema_version":{SCHEMA_VERSION},"ips":{ips},"evicted":{},"connections":{},"requests":{},"bytes":{},"auth_failures":{},"lines":{lines},"malformed":{malformed},"req_per_sec":{},"new_conns_per_sec":{},"started":"{}","ended":"{}","history_saved":{},"sources":["#,
        table.totals.evicted,
        table.connections(),
        table.totals.requests,
        table.totals.bytes,
        table.totals.auth_failures,
        round2(req_per_sec),
        round2(new_conns_per_sec),
        format_rfc3339(info.started),
        format_rfc3339(info.ended),
        info.history_saved
            .map_or("null", |saved| if saved { "true" } else { "false" }),
    );
    for (i, src) in info.sources.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(r#"{"path":"#);
        json_str(s, src.path.as_bytes());
        let _ = write!(s, r#","kind":"{}","format":"#, src.kind);
        json_str(s, src.format.as_bytes());
        let _ = write!(
            s,
            r#","lines":{},"malformed":{},"error":"#,
            src.lines, src.malformed
        );
        match &src.error {
            Some(e) => json_str(s, e.as_bytes()),
            None => s.push_str("null"),
        }
        // Only where there is one, so the other sources keep the schema's shape.
        if let Some(note) = &src.note {
            s.push_str(r#","note":"#);
            json_str(s, note.as_bytes());
        }
        s.push('}');
    }
    s.push_str("]}");
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Service names of a row: inbound first, then outbound, no repeats.
pub fn services(row: &Row) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for &port in row
        .sockets()
        .services_in
        .iter()
        .chain(&row.sockets().services_out)
    {
        let name = service_name(port).map_or_else(|| port.to_string(), str::to_string);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// An interned request field as a JSON string, or `null` when the string
/// store dropped it (full of newer strings): unknown, not the text `…`.
fn interned_str(s: &mut String, table: &IpTable, id: StrId) {
    match id {
        StrId::DROPPED => s.push_str("null"),
        id => json_str(s, table.text(id)),
    }
}

/// Append `bytes` as a JSON string: invalid UTF-8 becomes U+FFFD, every
/// control character is escaped.
pub fn json_str(s: &mut String, bytes: &[u8]) {
    s.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => s.push_str("\\\""),
                '\\' => s.push_str("\\\\"),
                '\n' => s.push_str("\\n"),
                '\r' => s.push_str("\\r"),
                '\t' => s.push_str("\\t"),
                c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => {
                    let _ = write!(s, "\\u{:04x}", c as u32);
                }
                c => s.push(c),
            }
        }
        if !chunk.invalid().is_empty() {
            s.push('\u{FFFD}');
        }
    }
    s.push('"');
}

/// The aligned text table: the dashboard's columns, then a summary line.
pub fn write_text(
    out: &mut impl Write,
    table: &IpTable,
    detector: &Detector,
    info: &RunInfo<'_>,
) -> io::Result<()> {
    let end = table.window_end(info.ended);
    let rows = selected(table, detector, info);
    let header = [
        "IP",
        "CC",
        "Organization",
        "Conns",
        "State",
        "Svc",
        "Reqs",
        "Bytes",
        "Auth",
        "Hx",
        "Last path",
    ];
    let mut cells: Vec<[String; 11]> = vec![header.map(str::to_string)];
    for row in &rows {
        let marker = if detector.reasons(row).is_empty() {
            ""
        } else {
            "!"
        };
        let out_only = if row.is_outbound_only() { " (out)" } else { "" };
        let last_path = row
            .recent
            .back()
            .map_or(String::new(), |r| printable(table.text(r.path), 60));
        let geo = |field: fn(&GeoInfo) -> Option<&String>| {
            row.geo
                .as_deref()
                .and_then(field)
                .map_or_else(|| "-".into(), |v| printable(v.as_bytes(), 30))
        };
        let sessions = info
            .history
            .and_then(|h| h.lookup(row.ip).ok().flatten())
            .map_or_else(|| "-".into(), |h| h.sessions.to_string());
        cells.push([
            format!("{marker}{}{out_only}", row.ip),
            geo(|g| g.country.as_ref()),
            row.org()
                .map_or_else(|| "-".into(), |o| printable(o.as_bytes(), 30)),
            (row.sockets().conns_in + row.sockets().conns_out).to_string(),
            state_summary(row),
            services(row).join(","),
            row.requests.to_string(),
            human_bytes(row.bytes),
            row.auth_failures().to_string(),
            sessions,
            last_path,
        ]);
    }
    let mut widths = [0usize; 11];
    for line in &cells {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for line in &cells {
        for (i, (cell, w)) in line.iter().zip(widths).enumerate() {
            let sep = if i + 1 == line.len() { "" } else { "  " };
            let numeric = matches!(i, 3 | 6 | 7 | 8);
            let _ = if numeric {
                write!(text, "{cell:>w$}{sep}")
            } else {
                write!(text, "{cell:<w$}{sep}")
            };
        }
        let trimmed = text.trim_end().len();
        text.truncate(trimmed);
        text.push('\n');
    }
    let lines: u64 = info.sources.iter().map(|s| s.lines).sum();
    let _ = writeln!(
        text,
        "\n{} IPs, {} connections, {} requests, {} auth failures, {} lines read, {:.1} req/s",
        rows.len(),
        table.connections(),
        table.totals.requests,
        table.totals.auth_failures,
        lines,
        f64::from(table.totals.rate.per_minute(end)) / 60.0
    );
    if table.totals.evicted > 0 {
        let _ = writeln!(
            text,
            "{} IPs evicted at max_tracked_ips (quiet and unflagged first)",
            table.totals.evicted
        );
    }
    for src in info.sources {
        for (label, message) in [("source", &src.error), ("note", &src.note)] {
            if let Some(message) = message {
                let _ = writeln!(
                    text,
                    "{label} {}: {}",
                    printable(src.path.as_bytes(), 200),
                    printable(message.as_bytes(), 400)
                );
            }
        }
    }
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Compact state column: `6E`, `12S` (SYN_RECV), `1T` (TIME_WAIT), …
pub fn state_summary(row: &Row) -> String {
    let mut out = String::new();
    for (name, n) in row.sockets().states() {
        let letter = match name {
            "ESTABLISHED" => "E",
            "SYN_RECV" => "S",
            "SYN_SENT" => "s",
            "TIME_WAIT" => "T",
            "CLOSE_WAIT" => "C",
            "FIN_WAIT1" | "FIN_WAIT2" => "F",
            _ => "o",
        };
        if !out.is_empty() {
            out.push(' ');
        }
        let _ = write!(out, "{n}{letter}");
    }
    out
}

/// Bytes in binary units: `512 B`, `1.5 KiB`, `3.2 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Text safe for a terminal: controls and other invisible characters become
/// `?`, cut at `max` characters with `…`.
pub fn printable(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| {
            if c.is_control() || is_invisible(c) {
                '?'
            } else {
                c
            }
        })
        .collect();
    if text.chars().count() > max {
        out.pop();
        out.push('…');
    }
    out
}

/// Bidi overrides/isolates and zero-width characters, which can disguise text.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{061C}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_everything_dangerous() {
        let mut s = String::new();
        json_str(&mut s, b"a\"b\\c\n\x1b[31m\x00\xff\xfe\xe2\x80\xa8end");
        assert_eq!(s, r#""a\"b\\c\n\u001b[31m\u0000��\u2028end""#);
        let parsed: String = serde_json::from_str(&s).unwrap();
        assert!(parsed.starts_with("a\"b\\c\n\u{1b}"));
    }

    #[test]
    fn printable_neutralises_controls_and_bidi() {
        assert_eq!(
            printable(b"/a\x1b[2Jb\xe2\x80\xaeevil", 100),
            "/a?[2Jb?evil"
        );
        assert_eq!(printable(b"abcdef", 4), "abc…");
    }

    #[test]
    fn human_units() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 << 20), "5.0 MiB");
    }
}
