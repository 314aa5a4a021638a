//! Formatters shared by the dashboard and `--once` text: byte counts, the
//! compact socket-state summary, service names, and text made safe for a
//! terminal.

use std::fmt::{self, Write as _};

use crate::net::service_name;
use crate::table::Row;

/// Bytes in binary units: `512 B`, `1.5 KiB`, `3.2 MiB`.
pub(crate) fn human_bytes(n: u64) -> String {
    let mut out = String::new();
    write_human_bytes(&mut out, n);
    out
}

/// [`human_bytes`] appended to `out`.
pub(crate) fn write_human_bytes(out: &mut String, n: u64) {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let _ = if unit == 0 {
        write!(out, "{n} B")
    } else {
        write!(out, "{value:.1} {}", UNITS[unit])
    };
}

/// Compact state column appended to `out`: `6E`, `12S` (SYN_RECV), `1T`
/// (TIME_WAIT), … separated by spaces; nothing when the row has no sockets.
pub(crate) fn write_state_summary(out: &mut String, row: &Row) {
    for (i, (name, n)) in row.sockets().states().enumerate() {
        let letter = match name {
            "ESTABLISHED" => "E",
            "SYN_RECV" => "S",
            "SYN_SENT" => "s",
            "TIME_WAIT" => "T",
            "CLOSE_WAIT" => "C",
            "FIN_WAIT1" | "FIN_WAIT2" => "F",
            _ => "o",
        };
        let sep = if i > 0 { " " } else { "" };
        let _ = write!(out, "{sep}{n}{letter}");
    }
}

/// One service of a row: a well-known port's name, else the port number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Named(&'static str),
    Port(u16),
}

impl Service {
    fn of(port: u16) -> Service {
        service_name(port).map_or(Service::Port(port), Service::Named)
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Service::Named(name) => f.write_str(name),
            Service::Port(port) => write!(f, "{port}"),
        }
    }
}

/// Service names of a row: inbound first, then outbound, no repeats.
/// Nothing is allocated: a repeat is found by looking back over the few
/// ports before it.
pub(crate) fn services(row: &Row) -> impl Iterator<Item = Service> + '_ {
    let sockets = row.sockets();
    let ports = || sockets.services_in.iter().chain(&sockets.services_out);
    ports().enumerate().filter_map(move |(i, &port)| {
        let service = Service::of(port);
        let repeat = ports().take(i).any(|&p| Service::of(p) == service);
        (!repeat).then_some(service)
    })
}

/// [`services`] joined with `,` and appended to `out`.
pub(crate) fn write_services(out: &mut String, row: &Row) {
    for (i, service) in services(row).enumerate() {
        let sep = if i > 0 { "," } else { "" };
        let _ = write!(out, "{sep}{service}");
    }
}

/// Text safe for a terminal: controls and other invisible characters become
/// `?`, cut at `max` characters with `…`.
pub(crate) fn printable(bytes: &[u8], max: usize) -> String {
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

/// `x` rounded to two decimals (the JSON rates).
pub(crate) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

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
