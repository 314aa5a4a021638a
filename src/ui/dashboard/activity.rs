//! The right panel: HTTP requests and sshd events as they arrive, newest at
//! the bottom, each coloured by what it is. Filters and suspicious mode
//! apply here as in the table: an entry shows when its address would.

use super::draw::Pen;
use std::fmt::Write as _;

use super::table::{addr_len, write_fit_address};
use super::{contains_ignore_case, Dashboard, Model, Panel};
use crate::parse::AuthKind;
use crate::table::{Activity, ActivityKind, IpTable, Row};
use crate::ui::filter::EventView;
use crate::ui::{Grid, Rect};

/// Width the address column has at least (an IPv4 address fits) and at
/// most (any IPv6 address fits).
const IP_MIN: u16 = 15;
const IP_MAX: u16 = 39;

pub(super) fn draw(d: &mut Dashboard, g: &mut Grid, rect: Rect, m: &Model<'_>) {
    if rect.is_empty() {
        return;
    }
    let t = d.theme;
    let (head, body) = rect.split_top(1);
    let focused = d.focus == Panel::Activity;
    let page = usize::from(body.height);
    d.activity_page = page;

    let log = &m.table.activity;
    let matching = log.iter().filter(|a| shows(d, m, a)).count();
    d.activity_scroll = d.activity_scroll.min(matching.saturating_sub(page));
    let back = d.activity_scroll;

    g.fill(head, t.column_header(focused));
    let mut title = String::from(" Activity: HTTP requests and sshd events");
    if back > 0 {
        title.push_str(&format!(" (scrolled back {back}, End follows)"));
    }
    g.put_str(head.x, head.y, head.width, &title, t.column_header(focused));
    if matching == 0 {
        let text = if log.is_enabled() {
            "nothing yet"
        } else {
            "activity log off"
        };
        g.put_str(
            body.x + 1,
            body.y,
            body.width.saturating_sub(1),
            text,
            t.faint(),
        );
        return;
    }
    // Collected: walked twice (widths, then lines), filtered once.
    let shown: Vec<&Activity> = log
        .iter()
        .rev()
        .filter(|a| shows(d, m, a))
        .skip(back)
        .take(page)
        .collect();
    // One address width for the page, so the status and method columns
    // line up whatever the addresses; longer ones are elided in the middle.
    let cap = IP_MAX.min((body.width / 3).max(IP_MIN));
    let ip_width = shown
        .iter()
        .map(|a| addr_len(a.ip))
        .max()
        .unwrap_or(0)
        .clamp(IP_MIN, cap);
    // One buffer for the page's formatted fields: no allocation per line.
    let mut scratch = String::with_capacity(64);
    for (i, entry) in shown.into_iter().enumerate() {
        let y = body.bottom() - 1 - i as u16;
        let rect = Rect::new(body.x, y, body.width, 1);
        let at = Line {
            ip_width: usize::from(ip_width),
            scratch: &mut scratch,
        };
        line(d, g, rect, entry, m.table, at);
    }
}

/// Whether the filters in force let `a` through.
fn shows(d: &Dashboard, m: &Model<'_>, a: &Activity) -> bool {
    let row = m.table.get(a.ip);
    if d.suspicious && row.is_none_or(|r| m.detector.reasons(r).is_empty()) {
        return false;
    }
    let end = m.table.window_end(m.now);
    if !d
        .filter
        .spec
        .matches_event(&event_view(a, m.table, row), row, end)
    {
        return false;
    }
    match &d.text_filter {
        None => true,
        Some(needle) => entry_has_text(a, m.table, needle.as_bytes()),
    }
}

/// A log entry as the structured filter sees it. An sshd event has no
/// status (it never passes a status filter); its user name stands as the
/// text a free-text filter searches, and its address's organisation too.
fn event_view<'t>(a: &Activity, table: &'t IpTable, row: Option<&'t Row>) -> EventView<'t> {
    let (status, path, user_agent) = match a.kind {
        ActivityKind::Http {
            status,
            path,
            user_agent,
            ..
        } => (Some(status), table.text(path), table.text(user_agent)),
        ActivityKind::Ssh { user, .. } => (None, table.text(user), &b""[..]),
    };
    EventView {
        ip: a.ip,
        status,
        path,
        user_agent,
        org: row.and_then(Row::org).map(str::as_bytes),
    }
}

/// The quick filter on one entry. A request matches as 0.2.0's did, on
/// "ip status method path" (so `404 post` or `POST /wp` match), or on its
/// user agent; an sshd event on its address or user name. Nothing is
/// allocated but the address text.
fn entry_has_text(a: &Activity, table: &IpTable, needle: &[u8]) -> bool {
    let ip = a.ip.to_string();
    match a.kind {
        ActivityKind::Http {
            method,
            path,
            user_agent,
            status,
            ..
        } => {
            let mut digits = [0u8; 5];
            let status = decimal(status, &mut digits);
            let line = [ip.as_bytes(), status, table.text(method), table.text(path)];
            joined_contains_ignore_case(&line, needle)
                || contains_ignore_case(table.text(user_agent), needle)
        }
        ActivityKind::Ssh { user, .. } => {
            contains_ignore_case(ip.as_bytes(), needle)
                || contains_ignore_case(table.text(user), needle)
        }
    }
}

/// `n` in decimal, written into `buf`.
fn decimal(mut n: u16, buf: &mut [u8; 5]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

/// Whether `needle` occurs (ASCII case ignored) in `parts` joined by single
/// spaces, without building the joined text.
fn joined_contains_ignore_case(parts: &[&[u8]], needle: &[u8]) -> bool {
    let mut joined = parts
        .iter()
        .enumerate()
        .flat_map(|(i, p)| (i > 0).then_some(&b' ').into_iter().chain(p.iter()));
    loop {
        let mut rest = joined.clone();
        if needle
            .iter()
            .all(|n| rest.next().is_some_and(|c| c.eq_ignore_ascii_case(n)))
        {
            return true;
        }
        if joined.next().is_none() {
            return false;
        }
    }
}

/// `HH:MM:SS` of Unix second `t` shifted by `offset` seconds.
pub(super) fn clock(t: i64, offset: i64) -> String {
    let mut out = String::with_capacity(8);
    write_clock(&mut out, t, offset);
    out
}

/// [`clock`] appended to `out`.
fn write_clock(out: &mut String, t: i64, offset: i64) {
    let s = (t + offset).rem_euclid(86_400);
    let _ = write!(out, "{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60);
}

/// How an sshd event reads in the log.
pub(super) fn ssh_label(kind: AuthKind) -> &'static str {
    match kind {
        AuthKind::Failed => "failed",
        AuthKind::InvalidUser => "invalid user",
        AuthKind::Accepted => "accepted",
        AuthKind::ClosedPreauth => "closed preauth",
        AuthKind::MaxAttempts => "max attempts",
    }
}

/// How one activity line is laid out: the page's address width, and the
/// buffer its formatted fields are written into.
struct Line<'s> {
    ip_width: usize,
    scratch: &'s mut String,
}

/// Spaces after a method, up to the longest (`OPTIONS`).
const METHOD_PAD: &str = "        ";

fn line(d: &Dashboard, g: &mut Grid, rect: Rect, a: &Activity, table: &IpTable, at: Line<'_>) {
    let t = d.theme;
    let buf = at.scratch;
    let mut pen = Pen::new(g, rect);
    pen.text(" ", t.faint());
    buf.clear();
    write_clock(buf, i64::from(a.time), d.utc_offset);
    pen.text(buf, t.faint());
    buf.clear();
    buf.push(' ');
    write_fit_address(buf, a.ip, at.ip_width);
    let pad = (at.ip_width + 1).saturating_sub(buf.chars().count());
    for _ in 0..=pad {
        buf.push(' ');
    }
    pen.text(buf, t.heading());
    match a.kind {
        ActivityKind::Http {
            method,
            path,
            status,
            ..
        } => {
            buf.clear();
            let _ = write!(buf, "{status:>3}");
            pen.text(buf, t.status(status));
            pen.text(" ", t.faint());
            let m = table.text(method);
            pen.bytes(m, t.heading());
            let gap = 7usize.saturating_sub(m.len()).clamp(1, METHOD_PAD.len());
            pen.text(&METHOD_PAD[..gap], t.faint());
            pen.bytes(table.text(path), Default::default());
        }
        ActivityKind::Ssh { kind, user } => {
            pen.text("ssh ", t.ssh(kind));
            pen.text(ssh_label(kind), t.ssh(kind));
            pen.text(" user=", t.faint());
            pen.bytes(table.text(user), Default::default());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{decimal, joined_contains_ignore_case};

    #[test]
    fn status_digits_and_the_joined_line_match_as_0_2_0s_did() {
        let mut buf = [0u8; 5];
        assert_eq!(decimal(404, &mut buf), b"404");
        assert_eq!(decimal(0, &mut buf), b"0");
        assert_eq!(decimal(u16::MAX, &mut buf), b"65535");
        let line: [&[u8]; 4] = [b"1.2.3.4", b"404", b"POST", b"/wp-login.php"];
        for yes in [
            "404 post",
            "post /WP",
            "4 404",
            "",
            "/wp-login.php",
            "1.2.3.4 404 POST /",
        ] {
            assert!(joined_contains_ignore_case(&line, yes.as_bytes()), "{yes}");
        }
        for no in [
            "404post",
            "get",
            "php ",
            "  ",
            "1.2.3.4 404 POST /wp-login.phpx",
        ] {
            assert!(!joined_contains_ignore_case(&line, no.as_bytes()), "{no}");
        }
    }
}
