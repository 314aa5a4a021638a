//! Formatters shared by the dashboard and `--once` text: byte counts, the
//! compact socket-state summary, service names, and text made safe for a
//! terminal.

use std::fmt::{self, Write as _};

use smallvec::SmallVec;

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

/// Services of a row, most hit first (its sockets on each; a tie keeps
/// inbound before outbound), no repeats, as nethergaze 0.2.0 orders them.
/// An address seen in sshd's log has `ssh` too, even without a socket on
/// port 22: its hits are its sshd events or its sockets on ssh, the more.
/// Kept on the stack: a row has a few services (a spill past 8 is rare).
pub(crate) fn services(row: &Row) -> impl Iterator<Item = Service> {
    let sockets = row.sockets();
    let ports = sockets.services_in.iter().zip(&sockets.hits_in);
    let ports = ports.chain(sockets.services_out.iter().zip(&sockets.hits_out));
    let mut hit: SmallVec<[(Service, u32); 8]> = SmallVec::new();
    for (&port, &n) in ports {
        // Two ports may share a name (an inbound and an outbound https).
        let service = Service::of(port);
        match hit.iter_mut().find(|(s, _)| *s == service) {
            Some(entry) => entry.1 = entry.1.saturating_add(u32::from(n)),
            None => hit.push((service, u32::from(n))),
        }
    }
    // A login attempt and its socket on port 22 are one hit, not two.
    let auth_events = row
        .auth_counts()
        .iter()
        .fold(0u32, |a, &n| a.saturating_add(n));
    let ssh = Service::Named("ssh");
    match hit.iter_mut().find(|(s, _)| *s == ssh) {
        Some(entry) => entry.1 = entry.1.max(auth_events),
        None if auth_events > 0 => hit.push((ssh, auth_events)),
        None => {}
    }
    // Stable: equal counts keep the order they were seen in.
    hit.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
    hit.into_iter().map(|(service, _)| service)
}

/// [`services`] joined with `,` and appended to `out`, within `max` characters:
/// those that don't fit are left out and counted, `https,ssh,+2`. The first
/// is shown whatever `max`, so a row with services never looks empty.
pub(crate) fn write_services(out: &mut String, row: &Row, max: usize) {
    let all: SmallVec<[Service; 8]> = services(row).collect();
    let mut shown = all.len();
    while shown > 1 && joined_len(&all[..shown]) + more_len(all.len() - shown) > max {
        shown -= 1;
    }
    for (i, service) in all[..shown].iter().enumerate() {
        let sep = if i > 0 { "," } else { "" };
        let _ = write!(out, "{sep}{service}");
    }
    if shown < all.len() {
        let _ = write!(out, ",+{}", all.len() - shown);
    }
}

/// Characters of `services` joined with `,`.
fn joined_len(services: &[Service]) -> usize {
    let text = |s: &Service| match s {
        Service::Named(name) => name.chars().count(),
        Service::Port(port) => digits(usize::from(*port)),
    };
    services.iter().map(text).sum::<usize>() + services.len().saturating_sub(1)
}

/// Characters of `,+n`; none for nothing left out.
fn more_len(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        2 + digits(n)
    }
}

/// Decimal digits of `n`.
fn digits(n: usize) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
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
    use crate::parse::sockets::{SocketEntry, TcpState};
    use crate::parse::{AuthEvent, AuthKind};
    use crate::table::IpTable;
    use crate::testutil::ip;

    #[test]
    fn printable_neutralises_controls_and_bidi() {
        assert_eq!(
            printable(b"/a\x1b[2Jb\xe2\x80\xaeevil", 100),
            "/a?[2Jb?evil"
        );
        assert_eq!(printable(b"abcdef", 4), "abc…");
    }

    fn sock(local: &str, remote: &str) -> SocketEntry {
        SocketEntry {
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            state: TcpState::Established,
            inode: 0,
        }
    }

    /// `dump` with our listeners on 22, 80, 443 and 9999 (what makes a socket inbound).
    fn with_listeners(dump: &[SocketEntry]) -> Vec<SocketEntry> {
        let listen = |port: u16| SocketEntry {
            local: format!("0.0.0.0:{port}").parse().unwrap(),
            remote: "0.0.0.0:0".parse().unwrap(),
            state: TcpState::Listen,
            inode: 0,
        };
        let mut all: Vec<SocketEntry> = [22, 80, 443, 9999].map(listen).to_vec();
        all.extend_from_slice(dump);
        all
    }

    fn failed_login(t: &mut IpTable, client: &str) {
        let event = AuthEvent {
            kind: AuthKind::Failed,
            ip: ip(client),
            user: b"root",
            time: Some(1000),
        };
        t.apply_auth(&event, 1000);
    }

    fn shown(t: &IpTable, client: &str, max: usize) -> String {
        let mut out = String::new();
        write_services(&mut out, t.get(ip(client)).unwrap(), max);
        out
    }

    #[test]
    fn services_are_ordered_by_sockets_on_each() {
        let mut t = IpTable::new(100, false);
        let dump = [
            sock("192.0.2.1:22", "8.8.8.8:50000"),
            sock("192.0.2.1:443", "8.8.8.8:50001"),
            sock("192.0.2.1:443", "8.8.8.8:50002"),
            sock("192.0.2.1:40000", "8.8.8.8:5432"),
            sock("192.0.2.1:40001", "8.8.8.8:5432"),
            sock("192.0.2.1:40002", "8.8.8.8:5432"),
        ];
        t.apply_sockets(&with_listeners(&dump), 1000, |_| {});
        let row = t.get(ip("8.8.8.8")).unwrap();
        let names: Vec<String> = services(row).map(|s| s.to_string()).collect();
        assert_eq!(names, ["pg", "https", "ssh"]);
    }

    #[test]
    fn an_address_only_in_sshds_log_shows_ssh() {
        let mut t = IpTable::new(100, false);
        failed_login(&mut t, "8.8.8.8");
        assert_eq!(shown(&t, "8.8.8.8", usize::MAX), "ssh");
        // sshd's events count as hits on ssh, once: no repeat beside port 22.
        let dump = with_listeners(&[sock("192.0.2.1:22", "8.8.8.8:50000")]);
        t.apply_sockets(&dump, 1000, |_| {});
        failed_login(&mut t, "8.8.8.8");
        assert_eq!(shown(&t, "8.8.8.8", usize::MAX), "ssh");
    }

    #[test]
    fn services_that_do_not_fit_are_counted() {
        let mut t = IpTable::new(100, false);
        let dump = [
            sock("192.0.2.1:443", "8.8.8.8:50001"),
            sock("192.0.2.1:443", "8.8.8.8:50002"),
            sock("192.0.2.1:80", "8.8.8.8:50003"),
            sock("192.0.2.1:9999", "8.8.8.8:50004"),
        ];
        t.apply_sockets(&with_listeners(&dump), 1000, |_| {});
        assert_eq!(shown(&t, "8.8.8.8", usize::MAX), "https,http,9999");
        assert_eq!(shown(&t, "8.8.8.8", 15), "https,http,9999");
        assert_eq!(shown(&t, "8.8.8.8", 14), "https,http,+1");
        assert_eq!(shown(&t, "8.8.8.8", 9), "https,+2");
        // The first is kept whatever the width.
        assert_eq!(shown(&t, "8.8.8.8", 3), "https,+2");
    }

    #[test]
    fn human_units() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 << 20), "5.0 MiB");
    }
}
