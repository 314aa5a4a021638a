//! Views drawn into a grid and read back as text, from a table fed in
//! process: every panel, each modal, the keys, narrow and tiny sizes, and
//! no colour.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::*;
use crate::detect::DetectSettings;
use crate::parse::sockets::{SocketEntry, TcpState};
use crate::parse::{AccessHit, AuthEvent, AuthKind};
use crate::ui::Color;

const NOW: UnixTime = 1_700_000_100;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A table with a little of everything (see each line).
struct Fixture {
    table: IpTable,
    detector: Detector,
    geoip: Option<GeoIp>,
    sources: Vec<SourceReport>,
    /// The socket dump the table was fed, as the engine keeps it.
    sockets: Vec<SocketEntry>,
}

impl Fixture {
    fn new() -> Fixture {
        let detector = Detector::new(DetectSettings::default()).unwrap();
        let mut table = IpTable::new(1000, false);
        table.activity.set_capacity(500);
        let mut f = Fixture {
            table,
            detector,
            geoip: None,
            sockets: Vec::new(),
            sources: vec![
                SourceReport {
                    path: "/var/log/nginx/access.log".into(),
                    kind: "access",
                    format: "combined".into(),
                    lines: 10,
                    malformed: 1,
                    error: None,
                    note: None,
                },
                SourceReport {
                    path: "netlink".into(),
                    kind: "sockets",
                    format: "sock_diag".into(),
                    lines: 0,
                    malformed: 7,
                    error: Some("netlink: refused".into()),
                    note: None,
                },
            ],
        };
        // An ordinary visitor: three requests.
        f.hit(
            "45.33.32.156",
            -50,
            "GET",
            b"/index.html",
            200,
            5000,
            b"Mozilla/5.0",
        );
        f.hit(
            "45.33.32.156",
            -40,
            "GET",
            b"/about",
            200,
            3000,
            b"Mozilla/5.0",
        );
        f.hit(
            "45.33.32.156",
            -30,
            "GET",
            b"/missing",
            404,
            100,
            b"Mozilla/5.0",
        );
        // An exploit prober.
        f.hit("91.198.174.192", -20, "GET", b"/.env", 404, 10, b"curl/8.0");
        f.hit(
            "91.198.174.192",
            -19,
            "POST",
            b"/wp-login.php",
            404,
            10,
            b"curl/8.0",
        );
        // A scanner.
        f.hit("64.233.160.5", -10, "GET", b"/", 200, 600, b"zgrab/0.x");
        // Hostile bytes in the path and the user agent.
        f.hit(
            "151.101.1.69",
            -5,
            "GET",
            b"/\x1b[2J\x1b]0;pwned\x07\xc2\x9b31m",
            500,
            0,
            "\u{202e}evil\u{200b}".as_bytes(),
        );
        // An sshd brute forcer, with one login.
        for n in 0..3 {
            f.auth("185.199.108.153", -15 + n, AuthKind::Failed, b"root");
        }
        f.auth("185.199.108.153", -11, AuthKind::Accepted, b"deploy");
        // Sockets: two established and one half-open from 8.8.4.4 to our
        // https, and our own connection out to 1.1.1.1.
        let sock = |local: &str, remote: &str, state| SocketEntry {
            local: local.parse::<SocketAddr>().unwrap(),
            remote: remote.parse().unwrap(),
            state,
            inode: 0,
        };
        f.sockets = vec![
            sock("0.0.0.0:443", "0.0.0.0:0", TcpState::Listen),
            sock("192.0.2.1:443", "8.8.4.4:50000", TcpState::Established),
            sock("192.0.2.1:443", "8.8.4.4:50001", TcpState::Established),
            sock("192.0.2.1:443", "8.8.4.4:50002", TcpState::SynRecv),
            sock("192.0.2.1:40000", "1.1.1.1:443", TcpState::Established),
        ];
        f.table.apply_sockets(&f.sockets, NOW, |_| {});
        f
    }

    #[allow(clippy::too_many_arguments)]
    fn hit(
        &mut self,
        client: &str,
        dt: i64,
        method: &str,
        path: &[u8],
        status: u16,
        bytes: u64,
        ua: &[u8],
    ) {
        let hit = AccessHit {
            peer: ip(client),
            client: ip(client),
            time: Some(NOW + dt),
            method: method.as_bytes(),
            path,
            status,
            bytes,
            user_agent: ua,
            forwarded_for: b"",
            client_ip_field: b"",
            host: b"",
        };
        if let Some((applied, request)) = self.table.apply_access(&hit, NOW) {
            self.detector
                .check_request(&mut self.table, applied.row, &request, &hit);
        }
    }

    fn auth(&mut self, client: &str, dt: i64, kind: AuthKind, user: &[u8]) {
        let event = AuthEvent {
            kind,
            ip: ip(client),
            user,
            time: Some(NOW + dt),
        };
        self.table.apply_auth(&event, NOW);
    }

    fn model(&self) -> Model<'_> {
        Model {
            table: &self.table,
            detector: &self.detector,
            geoip: self.geoip.as_ref(),
            sources: &self.sources,
            started: NOW - 3725,
            booted: Some(NOW - 273_780),
            now: NOW,
            interval_secs: 1.0,
            hook: None,
            block: None,
            bandwidth: None,
            vnstat: None,
            sockets: &self.sockets,
            history: None,
            whois: None,
        }
    }
}

fn dashboard() -> Dashboard {
    Dashboard::new("web1".into(), true, vec![('1', "whois via shell".into())])
}

fn draw(d: &mut Dashboard, f: &Fixture, w: u16, h: u16) -> Grid {
    let mut g = Grid::new(w, h);
    d.draw(&mut g, &f.model());
    g.check_invariants().unwrap();
    g
}

fn screen(d: &mut Dashboard, f: &Fixture, w: u16, h: u16) -> Vec<String> {
    draw(d, f, w, h).text_lines()
}

fn keys(d: &mut Dashboard, f: &Fixture, keys: &[Key]) -> Vec<Action> {
    keys.iter().map(|&k| d.on_key(k, &f.model())).collect()
}

fn type_text(d: &mut Dashboard, f: &Fixture, text: &str) {
    for c in text.chars() {
        d.on_key(Key::Char(c), &f.model());
    }
}

/// The table's body rows (below the column header, left of the separator).
fn table_rows(lines: &[String]) -> Vec<String> {
    lines[3..lines.len() - 2]
        .iter()
        .map(|l| l.split('│').next().unwrap_or("").trim_end().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The activity panel's lines (right of the separator).
fn activity_lines(lines: &[String]) -> Vec<String> {
    lines[3..lines.len() - 2]
        .iter()
        .filter_map(|l| l.split_once('│').map(|(_, r)| r.trim().to_string()))
        .filter(|l| !l.is_empty())
        .collect()
}

fn row_of<'a>(rows: &'a [String], ip: &str) -> &'a str {
    rows.iter()
        .find(|r| {
            r.split_whitespace()
                .next()
                .is_some_and(|w| w.trim_start_matches(['!', '→']) == ip)
        })
        .unwrap_or_else(|| panic!("no row for {ip} in {rows:#?}"))
}

#[test]
fn header_says_when_the_system_uptime_is_unknown() {
    let f = Fixture::new();
    let mut d = dashboard();
    let m = Model {
        booted: None,
        ..f.model()
    };
    let mut g = Grid::new(160, 45);
    d.draw(&mut g, &m);
    let header = &g.text_lines()[0];
    assert!(header.contains("│ up ? · watching 1h02m │"), "{header}");
}

/// The number in a table row's Conns column (the first bare number).
fn conns_cell(row: &str) -> u64 {
    let mut words = row.split_whitespace();
    words.find_map(|w| w.parse().ok()).unwrap_or(0)
}

#[test]
fn full_screen_shows_every_panel() {
    let f = Fixture::new();
    let mut d = dashboard();
    let lines = screen(&mut d, &f, 160, 45);
    let header = &lines[0];
    for part in [
        "nethergaze",
        "web1",
        // The system's uptime (3d04h03m), then how long we have watched.
        "│ up 3d04h · watching 1h02m │",
        "7 IPs",
        "3 conns (2 est)",
        "7 req",
        "7 req/min",
    ] {
        assert!(header.contains(part), "{part:?} not in {header:?}");
    }
    let offenders = &lines[1];
    assert!(offenders.contains("req/s 0.1"), "{offenders}");
    assert!(
        offenders.contains("top req/min: 45.33.32.156 (3) 91.198.174.192 (2) 64.233.160.5 (1) │"),
        "{offenders}"
    );
    assert!(offenders.contains("top conns: 8.8.4.4 (3)"), "{offenders}");
    let head = &lines[2];
    for col in [
        "IP",
        "CC",
        "Organization",
        "Conns▼",
        "State",
        "Svc",
        "Reqs",
        "Bytes",
        "Auth",
        "Hx",
        "Last path",
        "Activity",
    ] {
        assert!(head.contains(col), "{col:?} not in {head:?}");
    }

    let rows = table_rows(&lines);
    assert_eq!(rows.len(), 7, "{rows:#?}");
    // Sorted by connections, inbound ones as the header counts them (issue
    // 12 item 18): 8.8.4.4 (3) first; 1.1.1.1 (1 outbound, 0 inbound) with
    // the rows without connections, by requests.
    assert!(rows[0].starts_with("!8.8.4.4"), "{rows:#?}");
    assert!(
        rows[5].starts_with("→1.1.1.1"),
        "outbound-only marked: {rows:#?}"
    );
    let conns: u64 = rows.iter().map(|r| conns_cell(r)).sum();
    assert_eq!(
        conns,
        f.table.connections(),
        "the Conns column adds up to the header's"
    );
    let busy = row_of(&rows, "8.8.4.4");
    assert!(busy.contains("2E 1S") && busy.contains("https"), "{busy}");
    let visitor = row_of(&rows, "45.33.32.156");
    assert!(
        visitor.contains("7.9 KiB") && visitor.contains("GET /missing"),
        "{visitor}"
    );
    assert!(row_of(&rows, "91.198.174.192").starts_with('!'));
    assert!(row_of(&rows, "64.233.160.5").starts_with('!'));
    let brute = row_of(&rows, "185.199.108.153");
    assert!(
        brute.starts_with('!') && brute.contains(" 3 "),
        "auth failures: {brute}"
    );

    let log = activity_lines(&lines);
    assert_eq!(log.len(), 11, "{log:#?}");
    assert!(
        log[0].ends_with("45.33.32.156    200 GET    /index.html"),
        "{}",
        log[0]
    );
    assert!(log
        .iter()
        .any(|l| l.contains("185.199.108.153 ssh failed user=root")));
    assert!(log.iter().any(|l| l.contains("ssh accepted user=deploy")));
    assert!(log.iter().any(|l| l.contains("404 POST   /wp-login.php")));
    // In arrival order, newest last (as a tail): the sshd lines came last.
    assert!(log[6].contains("151.101.1.69    500 GET"), "{}", log[6]);
    assert!(log[10].contains("ssh accepted user=deploy"), "{}", log[10]);

    let stats = &lines[43];
    assert!(
        stats.contains("lines 10 │ malformed 1"),
        "log sources only: {stats}"
    );
    assert!(
        stats.contains("1 of 2 sources with errors: netlink: netlink: refused"),
        "{stats}"
    );
    assert!(lines[44].contains("q quit") && lines[44].contains("? help"));
}

/// Issue 12, item 3: the total of response bytes (0.2.0's "Sent") is in
/// the stats bar, and grows with the next response.
#[test]
fn the_stats_bar_shows_the_bytes_sent() {
    let mut f = Fixture::new();
    let mut d = dashboard();
    let before = f.table.totals.bytes;
    assert!(before > 0);
    let stats = |d: &mut Dashboard, f: &Fixture| screen(d, f, 160, 45)[43].clone();
    let text = stats(&mut d, &f);
    assert_eq!(before, 8720);
    assert!(
        text.contains("lines 10 │ malformed 1 │ sort: connections │ sent 8.5 KiB │ 1 of 2"),
        "{text}"
    );
    f.hit("1.1.1.1", -1, "GET", b"/big.iso", 200, 3 << 20, b"curl/8");
    let text = stats(&mut d, &f);
    assert!(text.contains("│ sent 3.0 MiB │ "), "{text}");
}

/// Issue 9, item 2: rows dropped at `max_tracked_ips` are said in the stats
/// bar, with how many; a table that never reached the cap says nothing.
#[test]
fn the_stats_bar_says_when_rows_were_evicted() {
    let mut f = Fixture::new();
    let mut d = dashboard();
    let stats = |d: &mut Dashboard, f: &Fixture| screen(d, f, 160, 45)[43].clone();
    assert!(
        !stats(&mut d, &f).contains("evicted"),
        "{}",
        stats(&mut d, &f)
    );
    f.table = IpTable::new(16, false);
    for n in 0..40 {
        f.hit(&format!("8.8.7.{n}"), n, "GET", b"/", 200, 10, b"curl/8.0");
    }
    let evicted = f.table.totals.evicted;
    assert!(evicted > 0 && f.table.len() <= 16);
    assert!(
        stats(&mut d, &f).contains(&format!("malformed 1 │ evicted {evicted} │ ")),
        "{}",
        stats(&mut d, &f)
    );
}

#[test]
fn hostile_bytes_never_reach_a_cell() {
    let f = Fixture::new();
    let mut d = dashboard();
    let g = draw(&mut d, &f, 160, 45);
    for y in 0..g.height() {
        for cell in g.row(y) {
            let c = cell.ch();
            assert!(!c.is_control(), "control {c:?} in row {y}");
            assert!(!('\u{202a}'..='\u{202e}').contains(&c) && c != '\u{200b}');
        }
    }
    let text = g.text_lines().join("\n");
    assert!(
        text.contains("500 GET    /�[2J�]0;pwned��31m"),
        "placeholders: {text}"
    );
}

#[test]
fn suspicious_mode_narrows_both_panels_and_restores_filters() {
    let f = Fixture::new();
    let mut d = dashboard();
    // A text filter in force before `!`.
    keys(&mut d, &f, &[Key::Char('/')]);
    type_text(&mut d, &f, "45.33");
    keys(&mut d, &f, &[Key::Enter]);
    assert_eq!(table_rows(&screen(&mut d, &f, 160, 45)).len(), 1);

    keys(&mut d, &f, &[Key::Char('!')]);
    let lines = screen(&mut d, &f, 160, 45);
    assert!(lines[0].contains("SUSPICIOUS"));
    assert!(
        !lines[0].contains("filter: 45.33"),
        "the text filter is put aside"
    );
    assert!(lines[2].contains("Reasons"));
    let rows = table_rows(&lines);
    let ips: Vec<&str> = rows
        .iter()
        .map(|r| r.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        ips,
        [
            "!8.8.4.4",
            "!91.198.174.192",
            "!64.233.160.5",
            "!185.199.108.153"
        ],
        "{rows:#?}"
    );
    assert!(row_of(&rows, "8.8.4.4").ends_with("syn_recv"));
    assert!(row_of(&rows, "91.198.174.192").ends_with("exploit_path"));
    assert!(row_of(&rows, "64.233.160.5").ends_with("scanner_ua"));
    assert!(row_of(&rows, "185.199.108.153").ends_with("auth_failures"));
    let log = activity_lines(&lines);
    assert_eq!(log.len(), 7, "{log:#?}");
    assert!(log
        .iter()
        .all(|l| !l.contains("45.33.32.156") && !l.contains("151.101.1.69")));

    keys(&mut d, &f, &[Key::Char('!')]);
    let lines = screen(&mut d, &f, 160, 45);
    assert!(!lines[0].contains("SUSPICIOUS"));
    assert!(lines[0].contains("filter: 45.33"), "restored: {}", lines[0]);
    assert_eq!(table_rows(&lines).len(), 1);
}

#[test]
fn quick_filter_edits_applies_and_dismisses() {
    let f = Fixture::new();
    let mut d = dashboard();
    keys(&mut d, &f, &[Key::Char('/')]);
    assert!(d.is_editing());
    type_text(&mut d, &f, "wpx-q");
    // Editing through tui-textarea: Left, Backspace, Ctrl-M (never a new line).
    keys(
        &mut d,
        &f,
        &[Key::Left, Key::Left, Key::Backspace, Key::Ctrl('m')],
    );
    let lines = screen(&mut d, &f, 160, 45);
    assert!(lines[44].starts_with(" filter: wp-q"), "{}", lines[44]);
    assert!(lines[44].ends_with("Enter apply · Esc dismiss"));
    // `q` was a letter, not quit; Escape keeps the filter in force (none).
    keys(&mut d, &f, &[Key::Esc]);
    assert!(!d.is_editing());
    assert_eq!(table_rows(&screen(&mut d, &f, 160, 45)).len(), 7);

    keys(&mut d, &f, &[Key::Char('/')]);
    type_text(&mut d, &f, "WP-LOGIN");
    keys(&mut d, &f, &[Key::Enter]);
    let lines = screen(&mut d, &f, 160, 45);
    assert!(lines[0].contains("filter: wp-login"));
    let rows = table_rows(&lines);
    assert_eq!(rows.len(), 1);
    assert!(rows[0].starts_with("!91.198.174.192"));
    let log = activity_lines(&lines);
    assert_eq!(log.len(), 1, "only the matching request: {log:#?}");
    assert!(log[0].contains("/wp-login.php"));
    // A user agent matches too; an empty line clears.
    keys(&mut d, &f, &[Key::Char('/'), Key::Ctrl('u')]);
    type_text(&mut d, &f, "zgrab");
    keys(&mut d, &f, &[Key::Enter]);
    assert_eq!(table_rows(&screen(&mut d, &f, 160, 45)).len(), 1);
    keys(&mut d, &f, &[Key::Char('/'), Key::Ctrl('u'), Key::Enter]);
    assert_eq!(table_rows(&screen(&mut d, &f, 160, 45)).len(), 7);
}

#[test]
fn quick_filter_matches_status_and_method_in_the_activity_panel() {
    let f = Fixture::new();
    let mut d = dashboard();
    let mut log_for = |text: &str| {
        keys(&mut d, &f, &[Key::Char('/'), Key::Ctrl('u')]);
        type_text(&mut d, &f, text);
        keys(&mut d, &f, &[Key::Enter]);
        activity_lines(&screen(&mut d, &f, 160, 45))
    };
    // The status code: the one 500.
    let log = log_for("500");
    assert_eq!(log.len(), 1, "{log:#?}");
    assert!(log[0].contains("151.101.1.69") && log[0].contains(" 500 "));
    // The method, in any case: the one POST.
    let log = log_for("post");
    assert_eq!(log.len(), 1, "{log:#?}");
    assert!(log[0].contains("/wp-login.php"));
    // Across the parts, as 0.2.0's "ip status method path".
    assert_eq!(log_for("404 POST /wp").len(), 1);
    assert_eq!(log_for("404 get").len(), 2, "/missing and /.env");
}

#[test]
fn sort_cycles_and_the_cursor_follows_its_ip() {
    let f = Fixture::new();
    let mut d = dashboard();
    screen(&mut d, &f, 160, 45);
    // Down to the visitor (second by inbound connections: 8.8.4.4, then the
    // rows without inbound sockets by requests: 45.33.32.156).
    keys(&mut d, &f, &[Key::Down, Key::Char('j'), Key::Char('k')]);
    let lines = screen(&mut d, &f, 160, 45);
    assert_eq!(d.selected(), Some(ip("45.33.32.156")));
    let g = draw(&mut d, &f, 160, 45);
    assert!(g.cell(5, 4).unwrap().style().is_reverse(), "{lines:#?}");

    let markers = ["Reqs▼", "Bytes▼", "Auth▼", "Svc▼", "IP▲", "Conns▼"];
    for marker in markers {
        keys(&mut d, &f, &[Key::Char('s')]);
        let lines = screen(&mut d, &f, 160, 45);
        assert!(lines[2].contains(marker), "{marker} in {}", lines[2]);
        assert_eq!(lines[2].matches(['▼', '▲']).count(), 1);
        assert_eq!(
            d.selected(),
            Some(ip("45.33.32.156")),
            "cursor kept through {marker}"
        );
        let rows = table_rows(&lines);
        let at = rows
            .iter()
            .position(|r| r.contains("45.33.32.156"))
            .unwrap();
        let g = draw(&mut d, &f, 160, 45);
        assert!(g.cell(5, 3 + at as u16).unwrap().style().is_reverse());
        if marker == "Reqs▼" {
            assert!(rows[0].contains("45.33.32.156"), "most requests first");
        }
        if marker == "IP▲" {
            assert!(rows[0].contains("1.1.1.1") && rows[6].contains("185.199.108.153"));
        }
    }
    // The row leaving the list keeps the cursor at its index.
    keys(&mut d, &f, &[Key::Char('!')]);
    screen(&mut d, &f, 160, 45);
    assert!(d.selected().is_some_and(|s| s != ip("45.33.32.156")));
    // End and Home.
    keys(&mut d, &f, &[Key::Char('!'), Key::End]);
    screen(&mut d, &f, 160, 45);
    assert_eq!(d.selected(), Some(ip("185.199.108.153")));
    keys(&mut d, &f, &[Key::Home]);
    assert_eq!(d.selected(), Some(ip("8.8.4.4")));
}

/// Issue 14 item 2: a login accepted after failures is a breach: first in
/// suspicious mode whatever the sort, the whole row white on red, and
/// named in the drill-down.
#[test]
fn a_breach_comes_first_and_red() {
    let mut f = Fixture::new();
    let brute = ip("185.199.108.153");
    assert!(f.detector.check_accepted(&mut f.table, brute, NOW - 11, 3));
    let mut d = dashboard();
    keys(&mut d, &f, &[Key::Char('!')]);
    let g = draw(&mut d, &f, 160, 45);
    let rows = table_rows(&g.text_lines());
    assert!(rows[0].starts_with("!185.199.108.153"), "{rows:#?}");
    assert!(rows[0].contains(" breach,auth_f"), "{rows:#?}");
    assert!(
        rows[1].starts_with("!8.8.4.4"),
        "the others keep their order"
    );
    // The first body row (y 3), past the cursor's column: white on red.
    let style = g.cell(20, 3).unwrap().style();
    assert_eq!(style.bg_color(), Color::RED, "{rows:#?}");
    keys(&mut d, &f, &[Key::Home, Key::Enter]);
    let text = screen(&mut d, &f, 160, 45).join("\n");
    assert!(
        text.contains("- sshd login accepted after failed attempts"),
        "{text}"
    );
}

#[test]
fn drill_down_is_live_and_escape_closes_it() {
    let mut f = Fixture::new();
    let mut d = dashboard();
    screen(&mut d, &f, 160, 45);
    d.on_key(Key::Char('!'), &f.model());
    screen(&mut d, &f, 160, 45);
    // The brute forcer is last among suspicious rows (no connections, no requests).
    keys(&mut d, &f, &[Key::End, Key::Enter]);
    assert!(matches!(d.modal(), Modal::Detail(_)));
    let text = screen(&mut d, &f, 160, 45).join("\n");
    assert!(text.contains(" 185.199.108.153 "));
    assert!(text.contains("! suspicious:"));
    assert!(text.contains("- repeated sshd authentication failures"));
    assert!(text.contains("sshd: failed 3 · invalid user 0 · accepted 1"));
    assert!(text.contains("last 20 requests"));

    // Another address: requests, status classes, the sparkline, sockets.
    keys(&mut d, &f, &[Key::Esc, Key::Char('!')]);
    keys(&mut d, &f, &[Key::Char('/')]);
    type_text(&mut d, &f, "45.33.32.156");
    keys(&mut d, &f, &[Key::Enter, Key::Enter]);
    let text = screen(&mut d, &f, 160, 45).join("\n");
    assert!(text.contains("not suspicious"));
    assert!(
        text.contains("requests 3 (2xx 2 · 3xx 0 · 4xx 1 · 5xx 0) · bytes 7.9 KiB"),
        "{text}"
    );
    assert!(text.contains("rate, last 60 s (max 1/s): "));
    assert_eq!(text.matches('█').count(), 3, "one bar per request second");
    let requests: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" Mozilla/5.0"))
        .collect();
    assert_eq!(requests.len(), 3);
    assert!(
        requests[0].contains("404 GET") && requests[0].contains("/missing"),
        "newest first"
    );

    // Live: a request arriving while open shows at the next frame.
    f.hit("45.33.32.156", -1, "GET", b"/fresh", 201, 1, b"Mozilla/5.0");
    let text = screen(&mut d, &f, 160, 45).join("\n");
    assert!(text.contains("/fresh") && text.contains("requests 4"));

    // Keys that act on an address act on the drill-down's.
    assert_eq!(
        keys(&mut d, &f, &[Key::Char('c')]),
        [Action::Copy(ip("45.33.32.156"))]
    );
    assert_eq!(
        keys(&mut d, &f, &[Key::Char('1')]),
        [Action::Hook {
            index: 0,
            ip: ip("45.33.32.156")
        }]
    );
    keys(&mut d, &f, &[Key::Esc]);
    assert!(matches!(d.modal(), Modal::None));
    assert!(!screen(&mut d, &f, 160, 45)
        .join("\n")
        .contains("last 20 requests"));
}

#[test]
fn sockets_in_the_drill_down() {
    let f = Fixture::new();
    let mut d = dashboard();
    screen(&mut d, &f, 160, 45);
    keys(&mut d, &f, &[Key::Enter]);
    let text = screen(&mut d, &f, 160, 45).join("\n");
    assert!(
        text.contains("sockets: 3 in, 0 out · ESTABLISHED 2 · SYN_RECV 1 · services https"),
        "{text}"
    );
    assert!(text.contains("- half-open SYN_RECV sockets and no requests"));
    // Every socket, with its direction, service and remote port.
    assert!(text.contains("in  ESTABLISHED  https ← :50000"), "{text}");
    assert!(text.contains("in  ESTABLISHED  https ← :50001"), "{text}");
    assert!(text.contains("in  SYN_RECV     https ← :50002"), "{text}");
}

#[test]
fn outbound_sockets_in_the_drill_down() {
    let f = Fixture::new();
    let mut d = dashboard();
    // Select 1.1.1.1 (our own connection out) with the quick filter.
    keys(
        &mut d,
        &f,
        &[
            Key::Char('/'),
            Key::Char('1'),
            Key::Char('.'),
            Key::Char('1'),
            Key::Char('.'),
            Key::Char('1'), // "1.1." matches 151.101.1.69 too
            Key::Enter,
            Key::Enter,
        ],
    );
    let text = screen(&mut d, &f, 160, 45).join(
        "
",
    );
    assert!(
        text.contains("out ESTABLISHED  → https (from :40000)"),
        "{text}"
    );
}

#[test]
fn syn_recv_without_a_listener_is_inbound_in_the_drill_down() {
    let mut f = Fixture::new();
    // A half-open socket to 8443, whose listener is not in the dump.
    f.sockets.push(SocketEntry {
        local: "192.0.2.1:8443".parse().unwrap(),
        remote: "1.1.1.1:50100".parse().unwrap(),
        state: TcpState::SynRecv,
        inode: 0,
    });
    f.table.apply_sockets(&f.sockets, NOW, |_| {});
    let mut d = dashboard();
    let filter = "/1.1.1.".chars().map(Key::Char);
    let keys_in: Vec<Key> = filter.chain([Key::Enter, Key::Enter]).collect();
    keys(&mut d, &f, &keys_in);
    let text = screen(&mut d, &f, 160, 45).join("\n");
    assert!(text.contains("sockets: 1 in, 1 out"), "{text}");
    assert!(
        text.contains("in  SYN_RECV     https-alt ← :50100"),
        "{text}"
    );
}

/// Issue 12, item 16: each reason says how old its last evidence is.
#[test]
fn the_drill_down_shows_each_reasons_age() {
    let mut f = Fixture::new();
    f.detector.set_now(NOW);
    f.hit("9.9.9.1", -120, "GET", b"/.env", 404, 0, b"curl/8.0");
    f.hit("9.9.9.1", 0, "GET", b"/", 200, 0, b"curl/8.0");
    let mut d = dashboard();
    let filter = "/9.9.9.1".chars().map(Key::Char);
    let keys_in: Vec<Key> = filter.chain([Key::Enter, Key::Enter]).collect();
    keys(&mut d, &f, &keys_in);
    let text = screen(&mut d, &f, 160, 45).join("\n");
    assert!(
        text.contains("- requested an exploit or probe path (last evidence 2m00s ago)"),
        "{text}"
    );
}

#[test]
fn long_ipv6_addresses_stay_distinct_and_whole_in_the_drill_down() {
    let mut f = Fixture::new();
    for end in ["1", "2"] {
        let addr = format!("2a01:4f8:aaaa:bbbb:cccc:dddd:eeee:{end}");
        f.hit(&addr, -3, "GET", b"/a", 200, 10, b"curl/8.0");
    }
    let mut d = dashboard();
    // 100 columns: no activity panel, the IP column is capped at a third.
    let rows = table_rows(&screen(&mut d, &f, 100, 30));
    let cells: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.split_whitespace().next())
        .filter(|w| w.starts_with("2a01"))
        .collect();
    assert_eq!(cells.len(), 2, "{rows:#?}");
    assert_ne!(cells[0], cells[1], "two addresses must not look the same");
    for cell in &cells {
        assert!(cell.contains('…') && cell.starts_with("2a01:4f8"), "{cell}");
    }
    assert!(cells.iter().any(|c| c.ends_with("eeee:1")), "{cells:?}");
    assert!(cells.iter().any(|c| c.ends_with("eeee:2")), "{cells:?}");
    // The drill-down shows the whole address.
    keys(&mut d, &f, &[Key::Char('/')]);
    type_text(&mut d, &f, "eeee:2");
    keys(&mut d, &f, &[Key::Enter, Key::Enter]);
    let text = screen(&mut d, &f, 100, 30).join("\n");
    assert!(
        text.contains("2a01:4f8:aaaa:bbbb:cccc:dddd:eeee:2"),
        "{text}"
    );
}

#[test]
fn activity_columns_line_up_past_a_long_address() {
    let mut f = Fixture::new();
    // 17 characters: two more than an IPv4 address.
    f.hit("2a01:4f8:10:a::17", -2, "GET", b"/v6", 200, 10, b"curl/8.0");
    let mut d = dashboard();
    let lines = activity_lines(&screen(&mut d, &f, 160, 45));
    let method_at = |l: &String| {
        let at = l.find(" GET ").or_else(|| l.find(" POST "))?;
        Some(l[..at].chars().count())
    };
    let columns: Vec<usize> = lines.iter().filter_map(method_at).collect();
    assert!(
        lines.iter().any(|l| l.contains("2a01:4f8:10:a::17")),
        "{lines:#?}"
    );
    assert!(columns.len() >= 5, "{lines:#?}");
    assert!(
        columns.iter().all(|&c| c == columns[0]),
        "methods at {columns:?}: {lines:#?}"
    );
}

#[test]
fn a_wide_character_cut_at_a_column_edge_is_padded_not_replaced() {
    let mut f = Fixture::new();
    // A path of wide characters, cut by the table's last column.
    let path = "/".to_string() + &"中".repeat(100);
    f.hit("9.9.9.9", -1, "GET", path.as_bytes(), 200, 10, b"curl/8.0");
    let mut d = dashboard();
    for width in [100, 101] {
        let rows = table_rows(&screen(&mut d, &f, width, 30));
        let row = row_of(&rows, "9.9.9.9");
        assert!(row.contains("GET /中中"), "{row}");
        assert!(!row.contains('\u{FFFD}'), "{width}: {row}");
    }
}

#[test]
fn caddy_json_values_are_shown_decoded_and_sanitised() {
    let mut f = Fixture::new();
    let parser = crate::parse::access::AccessParser::new("json", Vec::new()).unwrap();
    let line = format!(
        r#"{{"ts":{},"request":{{"client_ip":"9.9.9.9","method":"GET","uri":"/q=\u4e2d\"x\"\u001b[2J","headers":{{"User-Agent":["a\u0026b"]}}}},"status":200,"size":1}}"#,
        NOW - 1
    );
    let mut scratch = Vec::new();
    let (hit, _) = parser.parse(line.as_bytes(), &mut scratch).unwrap();
    let (applied, request) = f.table.apply_access(&hit, NOW).unwrap();
    f.detector
        .check_request(&mut f.table, applied.row, &request, &hit);
    let mut d = dashboard();
    let text = screen(&mut d, &f, 160, 45).join("\n");
    assert!(text.contains("/q=中\"x\"�[2J"), "{text}");
    assert!(
        !text.contains("\\u4e2d") && !text.contains("\\\""),
        "{text}"
    );
}

#[test]
fn help_lists_every_binding_and_the_hooks() {
    let f = Fixture::new();
    let mut d = dashboard();
    keys(&mut d, &f, &[Key::Char('?')]);
    let text = screen(&mut d, &f, 160, 45).join("\n");
    for (key, what) in modal::BINDINGS.iter().chain(&modal::IN_MODALS) {
        assert!(text.contains(key) && text.contains(what), "{key} {what}");
    }
    assert!(text.contains("Custom hooks"));
    assert!(text.contains("whois via shell"));
    keys(&mut d, &f, &[Key::Char('?')]);
    assert!(!screen(&mut d, &f, 160, 45)
        .join("\n")
        .contains("Custom hooks"));
    // Escape closes it too, and ESC+key sent together is Escape then the key.
    keys(&mut d, &f, &[Key::Char('?'), Key::Alt('s')]);
    assert!(matches!(d.modal(), Modal::None));
    assert_eq!(d.sort(), SortKey::Requests);
}

/// On a short terminal the help scrolls with the arrows (and End), so every
/// binding, hook and modal key can be read; it never scrolls past its end.
#[test]
fn help_scrolls_on_a_short_terminal() {
    let f = Fixture::new();
    let mut d = dashboard();
    screen(&mut d, &f, 100, 24);
    keys(&mut d, &f, &[Key::Char('?')]);
    let first = screen(&mut d, &f, 100, 24).join("\n");
    assert!(first.contains("↑↓ scroll"), "{first}");
    assert!(first.contains("quit") && !first.contains("In the modals"));
    keys(&mut d, &f, &[Key::Down]);
    let down = screen(&mut d, &f, 100, 24).join("\n");
    assert_ne!(down, first, "Down scrolls one line");
    keys(&mut d, &f, &[Key::End]);
    let end = screen(&mut d, &f, 100, 24).join("\n");
    let (last_keys, last_what) = modal::IN_MODALS[modal::IN_MODALS.len() - 1];
    assert!(
        end.contains("In the modals") && end.contains(last_keys),
        "{end}"
    );
    assert!(end.contains(last_what), "{end}");
    // Past the end is clamped when drawn: one Up then moves the view at once.
    keys(&mut d, &f, &[Key::PageDown]);
    assert_eq!(screen(&mut d, &f, 100, 24).join("\n"), end);
    keys(&mut d, &f, &[Key::Up]);
    let up = screen(&mut d, &f, 100, 24).join("\n");
    assert_ne!(up, end, "Up after End moves the view");
    keys(&mut d, &f, &[Key::Home]);
    assert_eq!(screen(&mut d, &f, 100, 24).join("\n"), first);
    assert!(matches!(d.modal(), Modal::Help(0)));
}

#[test]
fn keys_that_leave_the_screen() {
    let f = Fixture::new();
    let mut d = dashboard();
    screen(&mut d, &f, 160, 45);
    assert_eq!(
        keys(&mut d, &f, &[Key::Char('c')]),
        [Action::Copy(ip("8.8.4.4"))]
    );
    assert_eq!(keys(&mut d, &f, &[Key::Char('q')]), [Action::Quit]);
    assert_eq!(keys(&mut d, &f, &[Key::Ctrl('c')]), [Action::Quit]);
    assert_eq!(keys(&mut d, &f, &[Key::Ctrl('z')]), [Action::Suspend]);
    assert_eq!(keys(&mut d, &f, &[Key::Char('r')]), [Action::Refresh]);
    assert_eq!(keys(&mut d, &f, &[Key::Char('f')]), [Action::None]);
    assert!(
        matches!(d.modal(), Modal::Filter(_)),
        "f opens the form here"
    );
    keys(&mut d, &f, &[Key::Esc]);
    assert_eq!(
        keys(&mut d, &f, &[Key::Char('b')]),
        [Action::Block(ip("8.8.4.4"))]
    );
    assert_eq!(
        keys(&mut d, &f, &[Key::Char('w')]),
        [Action::Whois(ip("8.8.4.4"))]
    );
    assert_eq!(
        keys(&mut d, &f, &[Key::Char('9')]),
        [Action::None],
        "no hook on 9"
    );
    d.set_status("copied 8.8.4.4", NOW);
    assert!(screen(&mut d, &f, 160, 45)[44].contains("copied 8.8.4.4"));
    let later = Model {
        now: NOW + STATUS_SECS,
        ..f.model()
    };
    let mut g = Grid::new(160, 45);
    d.draw(&mut g, &later);
    assert!(g.text_lines()[44].contains("q quit"), "the message expired");
}

#[test]
fn a_hook_on_a_letter_runs_and_a_bare_digit_says_how_to_add_one() {
    let f = Fixture::new();
    let hooks = vec![('1', "whois".into()), ('z', "zone lookup".into())];
    let mut d = Dashboard::new("web1".into(), true, hooks);
    screen(&mut d, &f, 160, 45);
    let run_z = Action::Hook {
        index: 1,
        ip: ip("8.8.4.4"),
    };
    assert_eq!(
        keys(&mut d, &f, &[Key::Char('z')]),
        std::slice::from_ref(&run_z)
    );
    // In the drill-down, on its address too.
    keys(&mut d, &f, &[Key::Enter]);
    assert!(matches!(d.modal(), Modal::Detail(_)));
    assert_eq!(keys(&mut d, &f, &[Key::Char('z')]), [run_z]);
    keys(&mut d, &f, &[Key::Esc]);
    // The help lists it by its key.
    keys(&mut d, &f, &[Key::Char('?')]);
    let help = screen(&mut d, &f, 160, 45).join("\n");
    assert!(
        help.contains("z  ") && help.contains("zone lookup"),
        "{help}"
    );
    keys(&mut d, &f, &[Key::Esc]);
    // `4` has no hook: the status line says how to add one.
    assert_eq!(keys(&mut d, &f, &[Key::Char('4')]), [Action::None]);
    let status = screen(&mut d, &f, 160, 45)[44].clone();
    assert!(
        status.contains("no hook on 4: add [[actions.hooks]] key = \"4\""),
        "{status}"
    );
}

/// A key the bindings table calls free does nothing on the main screen, so
/// a hook on it hides no built-in (a new binding must be added to the table).
#[test]
fn every_key_left_free_for_hooks_is_unbound() {
    let f = Fixture::new();
    for c in (b'!'..=b'~').map(char::from) {
        let bound = crate::ui::bindings::built_in_action(c)
            .or_else(|| crate::ui::bindings::added_action(c));
        if bound.is_some() || c.is_ascii_digit() {
            continue;
        }
        let mut d = Dashboard::new("web1".into(), true, Vec::new());
        let before = screen(&mut d, &f, 160, 45);
        assert_eq!(keys(&mut d, &f, &[Key::Char(c)]), [Action::None], "{c}");
        assert!(matches!(d.modal(), Modal::None), "{c} opened a modal");
        assert_eq!(
            screen(&mut d, &f, 160, 45),
            before,
            "{c} changed the screen"
        );
    }
}

#[test]
fn activity_panel_scrolls_when_focused() {
    let f = Fixture::new();
    let mut d = dashboard();
    let before = activity_lines(&screen(&mut d, &f, 160, 14));
    assert_eq!(before.len(), 9, "a 14-row screen shows the newest 9");
    keys(&mut d, &f, &[Key::Tab, Key::Up]);
    let lines = screen(&mut d, &f, 160, 14);
    assert!(lines[2].contains("scrolled back 1"));
    let after = activity_lines(&lines);
    assert_eq!(after[1..], before[..8], "one line further back");
    keys(&mut d, &f, &[Key::End]);
    assert_eq!(activity_lines(&screen(&mut d, &f, 160, 14)), before);
    // Home goes to the oldest; the table cursor did not move.
    keys(&mut d, &f, &[Key::Home]);
    assert!(activity_lines(&screen(&mut d, &f, 160, 14))[0].contains("/index.html"));
    assert_eq!(d.selected(), Some(ip("8.8.4.4")));
    keys(&mut d, &f, &[Key::BackTab, Key::Down]);
    assert_eq!(d.selected(), Some(ip("45.33.32.156")));
}

#[test]
fn narrow_screens_drop_the_log_then_columns() {
    let f = Fixture::new();
    let mut d = dashboard();
    let lines = screen(&mut d, &f, 100, 30);
    assert!(!lines[2].contains("Activity"));
    assert!(lines[2].contains("Organization") && lines[2].contains("Last path"));
    assert_eq!(table_rows(&lines).len(), 7);
    // Tab gives the width to the log (issue 12 item 6; it used to have
    // nowhere to go): Down there scrolls the log, not the table.
    keys(&mut d, &f, &[Key::Tab, Key::Down]);
    assert_eq!(d.selected(), Some(ip("8.8.4.4")));
    let lines = screen(&mut d, &f, 100, 30);
    assert!(lines[2].contains("Activity") && !lines[2].contains("Conns"));
    // Back to the table, where Down moves the cursor.
    keys(&mut d, &f, &[Key::Tab, Key::Down]);
    assert_eq!(d.selected(), Some(ip("45.33.32.156")));

    let lines = screen(&mut d, &f, 60, 20);
    let head = &lines[2];
    assert!(!head.contains("Organization") && !head.contains("Hx") && !head.contains("CC"));
    assert!(
        head.contains("IP") && head.contains("Conns") && head.contains("Reqs"),
        "{head}"
    );
    assert!(row_of(&table_rows(&lines), "45.33.32.156").contains(" 3"));

    let lines = screen(&mut d, &f, 40, 10);
    assert!(
        lines[2].contains("IP") && lines[2].contains("Reqs"),
        "{}",
        lines[2]
    );
    assert!(lines.iter().all(|l| l.chars().count() <= 40));
}

/// Issue 12, item 6: at 80×24 the table and the activity panel share the
/// full width by turns, Tab switching (the hints offer it), and each keeps
/// its keys.
#[test]
fn at_80_by_24_tab_switches_the_width_between_table_and_log() {
    let f = Fixture::new();
    let mut d = dashboard();
    let lines = screen(&mut d, &f, 80, 24);
    assert!(
        lines[2].contains("IP") && lines[2].contains("Conns"),
        "{}",
        lines[2]
    );
    assert!(!lines.iter().any(|l| l.contains("Activity")));
    assert_eq!(table_rows(&lines).len(), 7);
    assert!(lines[23].contains("Tab panel"), "{}", lines[23]);

    keys(&mut d, &f, &[Key::Tab]);
    let lines = screen(&mut d, &f, 80, 24);
    assert!(lines[2].contains("Activity"), "{}", lines[2]);
    assert!(
        !lines[2].contains("Conns")
            && !lines
                .iter()
                .any(|l| l.contains('│') && l.contains("8.8.4.4  "))
    );
    let body: Vec<&String> = lines[3..22]
        .iter()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(body.len(), 11, "every activity line: {body:#?}");
    // The whole width: the newest lines, from the left edge, not clipped
    // to the right part of the screen.
    assert!(
        body.iter().any(|l| l.contains("ssh accepted user=deploy")),
        "{body:#?}"
    );
    assert!(body.iter().all(|l| l.starts_with(" 22:14:")), "{body:#?}");
    assert!(lines.iter().all(|l| l.chars().count() <= 80));
    // Keys go to the log: Up scrolls it (on a screen too short for all of
    // it); the table cursor stays.
    screen(&mut d, &f, 80, 14);
    keys(&mut d, &f, &[Key::Up]);
    assert!(screen(&mut d, &f, 80, 14)[2].contains("scrolled back 1"));
    assert_eq!(d.selected(), Some(ip("8.8.4.4")));

    // Tab (or BackTab) again: the table, with its cursor.
    keys(&mut d, &f, &[Key::BackTab, Key::Down]);
    let lines = screen(&mut d, &f, 80, 24);
    assert!(lines[2].contains("Conns") && !lines[2].contains("Activity"));
    assert_eq!(d.selected(), Some(ip("45.33.32.156")));
}

#[test]
fn below_forty_by_ten_one_line_says_so() {
    let f = Fixture::new();
    let mut d = dashboard();
    for (w, h) in [(39, 10), (40, 9), (80, 3)] {
        let lines = screen(&mut d, &f, w, h);
        assert!(
            lines[0].starts_with("terminal too small"),
            "{w}x{h}: {lines:?}"
        );
        assert!(lines[1..].iter().all(String::is_empty));
    }
    assert_eq!(screen(&mut d, &f, 1, 1), ["…"]);
    assert!(screen(&mut d, &f, 0, 0).is_empty());
}

#[test]
fn no_size_and_no_modal_panics() {
    let f = Fixture::new();
    let mut d = dashboard();
    let sizes = (0..=130u16)
        .step_by(7)
        .flat_map(|w| (0..=50u16).step_by(3).map(move |h| (w, h)));
    let sizes: Vec<(u16, u16)> = sizes
        .chain([(400, 120), (2048, 1024), (1, 1), (40, 10)])
        .collect();
    let modes: [&[Key]; 6] = [
        &[],
        &[Key::Char('?')],
        &[Key::Enter],
        &[Key::Char('/'), Key::Char('x')],
        &[Key::Char('f'), Key::Char('x')],
        // The form with an error under every field.
        &[
            Key::Char('f'),
            Key::Char('x'),
            Key::Tab,
            Key::Char('x'),
            Key::Tab,
            Key::Char('x'),
            Key::Tab,
            Key::Char('x'),
            Key::Tab,
            Key::Char('x'),
            Key::Enter,
        ],
    ];
    for open in modes {
        let mut d2 = dashboard();
        keys(&mut d2, &f, open);
        for &(w, h) in &sizes {
            draw(&mut d2, &f, w, h);
        }
    }
    let lines = screen(&mut d, &f, 400, 120);
    assert_eq!(lines.len(), 120);
    assert!(
        lines[119].contains("q quit") && lines[118].contains("lines 10"),
        "fills the screen"
    );
    assert_eq!(
        lines[3].chars().nth(250),
        Some('│'),
        "the log starts at 5/8"
    );
    assert_eq!(table_rows(&lines).len(), 7);
}

#[test]
fn without_colour_state_shows_by_attributes_and_markers() {
    let f = Fixture::new();
    let mut d = Dashboard::new("web1".into(), false, Vec::new());
    keys(&mut d, &f, &[Key::Down]);
    let g = draw(&mut d, &f, 160, 45);
    for y in 0..g.height() {
        for cell in g.row(y) {
            assert_eq!(cell.style().fg_color(), Color::Default, "row {y}");
            assert_eq!(cell.style().bg_color(), Color::Default, "row {y}");
        }
    }
    let lines = g.text_lines();
    // Header and the focused panel's column header in reverse video.
    assert!(g.cell(1, 0).unwrap().style().is_reverse());
    assert!(g.cell(1, 2).unwrap().style().is_reverse());
    // The selected row (second) is reverse, the first is not.
    assert!(g.cell(3, 4).unwrap().style().is_reverse());
    assert!(!g.cell(3, 3).unwrap().style().is_reverse());
    // Suspicious rows: the `!` marker, in bold.
    let rows = table_rows(&lines);
    let at = rows
        .iter()
        .position(|r| r.starts_with("!91.198.174.192"))
        .unwrap();
    assert!(g.cell(0, 3 + at as u16).unwrap().style().is_bold());
    // 4xx/5xx statuses and sshd failures in bold.
    let y = lines.iter().position(|l| l.contains("ssh failed")).unwrap() as u16;
    // Cells and characters line up here: no wide characters on screen.
    let cell_x = lines[y as usize]
        .find("ssh failed")
        .map(|b| lines[y as usize][..b].chars().count())
        .unwrap() as u16;
    assert!(g.cell(cell_x, y).unwrap().style().is_bold());
    let y = lines.iter().position(|l| l.contains(" 404 GET")).unwrap();
    let cell_x = lines[y]
        .find(" 404 GET")
        .map(|b| lines[y][..b].chars().count())
        .unwrap() as u16;
    assert!(
        g.cell(cell_x + 1, y as u16).unwrap().style().is_bold(),
        "4xx bold"
    );
}

#[test]
fn outbound_rows_are_marked_and_dim() {
    let f = Fixture::new();
    let mut d = dashboard();
    // Sixth: no inbound connection, no request (issue 12 item 18).
    keys(&mut d, &f, &[Key::Down; 5]);
    let g = draw(&mut d, &f, 160, 45);
    let lines = g.text_lines();
    assert!(lines[8].starts_with("→1.1.1.1"), "{lines:#?}");
    assert!(g.cell(2, 8).unwrap().style().is_dim());
}

#[test]
fn frames_carry_no_sequence_from_the_logs() {
    let f = Fixture::new();
    let mut d = dashboard();
    let mut renderer = crate::ui::Renderer::new(160, 45, crate::ui::RenderMode::default());
    let mut out = Vec::new();
    // The main screen, then the hostile row's drill-down (its user agent holds
    // a bidi override and a zero-width space), each frame audited byte by byte.
    for open in [&[][..], &[Key::Char('/')], &[Key::Enter, Key::Enter]] {
        keys(&mut d, &f, open);
        if open == [Key::Char('/')] {
            type_text(&mut d, &f, "151.101");
        }
        d.draw(renderer.frame(), &f.model());
        out.clear();
        renderer.render(&mut out);
        crate::ui::diff::audit(&out).unwrap();
        for bad in [
            &b"\x1b]"[..],
            b"\x07",
            "\u{9b}".as_bytes(),
            b"\x9b",
            "\u{202e}".as_bytes(),
        ] {
            assert!(!out.windows(bad.len()).any(|w| w == bad), "{bad:?} written");
        }
    }
    assert!(
        String::from_utf8_lossy(&out).contains("evil"),
        "the drill-down was drawn"
    );
}

/// The lines inside the modal whose title contains `title`, trimmed.
fn modal_lines(lines: &[String], title: &str) -> Vec<String> {
    let top = lines
        .iter()
        .position(|l| l.contains(title))
        .unwrap_or_else(|| panic!("no modal {title:?}: {lines:#?}"));
    let chars: Vec<char> = lines[top].chars().collect();
    let left = chars.iter().position(|&c| c == '┌').unwrap();
    let right = chars.iter().position(|&c| c == '┐').unwrap();
    lines[top + 1..]
        .iter()
        .map(|l| l.chars().collect::<Vec<char>>())
        .take_while(|l| l.get(left) == Some(&'│'))
        .map(|l| l[left + 1..right.min(l.len())].iter().collect::<String>())
        .map(|l| l.trim().to_string())
        .collect()
}

/// The `f` modal's lines.
fn form_lines(lines: &[String]) -> Vec<String> {
    modal_lines(lines, "Filter (all parts must match)")
}

#[test]
fn filter_form_shows_errors_inline_and_applies_nothing() {
    let f = Fixture::new();
    let mut d = dashboard();
    keys(&mut d, &f, &[Key::Char('f')]);
    assert!(d.is_editing(), "letters go to the fields");
    let form = form_lines(&screen(&mut d, &f, 160, 45));
    assert!(form[0].starts_with("›TCP states"), "{form:#?}");
    assert!(form[1].contains("e.g. SYN_RECV,ESTABLISHED"));
    assert!(form[2].starts_with("status codes"));
    assert!(form[10].starts_with("text"));
    assert!(form[12].starts_with("blocked"));
    assert_eq!(form[14], "empty fields: no constraint");

    // Status field: a bad token, and a bad CIDR further down.
    keys(&mut d, &f, &[Key::Tab]);
    type_text(&mut d, &f, "4xq,404");
    keys(&mut d, &f, &[Key::Tab, Key::Tab]);
    type_text(&mut d, &f, "10.0.0.0/33");
    keys(&mut d, &f, &[Key::Enter]);
    let lines = screen(&mut d, &f, 160, 45);
    let form = form_lines(&lines);
    assert!(
        form[2].starts_with("›status codes"),
        "cursor on the first bad field"
    );
    assert!(form[2].contains("4xq,404"), "{}", form[2]);
    assert_eq!(
        form[3],
        "✗ status codes: not a status code `4xq` (e.g. 4xx, 400-499 or 404)"
    );
    assert!(form[7].starts_with("✗ CIDR allow: not a network or address `10.0.0.0/33`"));
    assert!(
        form[5].contains("requests per minute"),
        "good fields keep their hint"
    );
    // Nothing applied: every row still there, no marker.
    assert!(!lines[0].contains("status:"));
    assert_eq!(d.visible_rows(&f.model()).len(), 7);

    // Fix both; Enter applies; the header shows the marker.
    keys(&mut d, &f, &[Key::Ctrl('u')]);
    type_text(&mut d, &f, "404");
    keys(
        &mut d,
        &f,
        &[Key::Tab, Key::Tab, Key::Ctrl('u'), Key::Enter],
    );
    assert!(!d.is_editing());
    let lines = screen(&mut d, &f, 160, 45);
    assert!(lines[0].contains(" status:404"), "{}", lines[0]);
    let rows = table_rows(&lines);
    let ips: Vec<&str> = rows
        .iter()
        .map(|r| r.split_whitespace().next().unwrap().trim_start_matches('!'))
        .collect();
    assert_eq!(ips, ["45.33.32.156", "91.198.174.192"], "{rows:#?}");
    // The log shows the 404 lines only (not their addresses' other lines).
    let log = activity_lines(&lines);
    assert_eq!(log.len(), 3, "{log:#?}");
    assert!(log.iter().all(|l| l.contains(" 404 ")));

    // Reopened, the form holds what was applied; Escape changes nothing.
    keys(&mut d, &f, &[Key::Char('f')]);
    let form = form_lines(&screen(&mut d, &f, 160, 45));
    assert!(form[2].ends_with("404"), "{}", form[2]);
    keys(&mut d, &f, &[Key::Char('5'), Key::Esc]);
    assert!(screen(&mut d, &f, 160, 45)[0].contains(" status:404"));
}

#[test]
fn filter_form_clear_empties_every_field_and_removes_the_filter() {
    let f = Fixture::new();
    let mut d = dashboard();
    // A status and a deny list in force.
    keys(&mut d, &f, &[Key::Char('f'), Key::Tab]);
    type_text(&mut d, &f, "404");
    // Back past blocked and text to the deny list.
    keys(
        &mut d,
        &f,
        &[Key::BackTab, Key::BackTab, Key::BackTab, Key::BackTab],
    );
    type_text(&mut d, &f, "91.198.174.0/24");
    keys(&mut d, &f, &[Key::Enter]);
    let lines = screen(&mut d, &f, 160, 45);
    assert!(
        lines[0].contains(" status:404") && lines[0].contains("deny:1"),
        "{}",
        lines[0]
    );
    assert_eq!(table_rows(&lines).len(), 1);

    // Reopened: the hint line offers Clear; a bad field does not stop it.
    keys(&mut d, &f, &[Key::Char('f'), Key::Tab, Key::Tab]);
    type_text(&mut d, &f, "x");
    keys(&mut d, &f, &[Key::Enter]);
    let narrow = screen(&mut d, &f, 80, 24);
    assert!(
        narrow.iter().any(|l| l.contains("Ctrl+L clear")),
        "{narrow:#?}"
    );
    let lines = screen(&mut d, &f, 160, 45);
    let hint = "Enter apply · Ctrl+L clear · Esc cancel";
    assert!(lines.iter().any(|l| l.contains(hint)), "{lines:#?}");
    let form = form_lines(&lines);
    assert!(form[5].starts_with("✗ min req/min"), "{form:#?}");
    assert_eq!(keys(&mut d, &f, &[Key::Ctrl('l')]), [Action::None]);
    assert!(matches!(d.modal(), Modal::None), "Clear closes the form");
    let lines = screen(&mut d, &f, 160, 45);
    assert!(
        !lines[0].contains("status:") && !lines[0].contains("deny:"),
        "{}",
        lines[0]
    );
    assert_eq!(table_rows(&lines).len(), 7, "every row back");

    // Reopened again: every field is empty.
    keys(&mut d, &f, &[Key::Char('f')]);
    let form = form_lines(&screen(&mut d, &f, 160, 45));
    for (i, field) in super::filter_form::FIELDS.iter().enumerate() {
        let label_and_text = form[2 * i].trim_start_matches('›').trim();
        assert_eq!(label_and_text, field.label(), "not empty: {form:#?}");
    }
}

#[test]
fn filter_form_composes_with_the_text_filter_and_suspicious_mode() {
    let f = Fixture::new();
    let mut d = dashboard();
    // Free text and a state: only 8.8.4.4 has a SYN_RECV socket.
    keys(&mut d, &f, &[Key::Char('f')]);
    type_text(&mut d, &f, "syn-recv");
    keys(&mut d, &f, &[Key::Enter]);
    let lines = screen(&mut d, &f, 160, 45);
    assert!(lines[0].contains("state:SYN_RECV"), "{}", lines[0]);
    assert_eq!(table_rows(&lines).len(), 1);
    // The activity log follows the row's state: 8.8.4.4 logged nothing.
    assert!(activity_lines(&lines)[0].contains("nothing yet"));

    // `/` narrows further (AND): nothing matches both.
    keys(&mut d, &f, &[Key::Char('/')]);
    type_text(&mut d, &f, "wp-");
    keys(&mut d, &f, &[Key::Enter]);
    assert!(table_rows(&screen(&mut d, &f, 160, 45))[0].contains("no IP matches"));

    // `!` puts both aside and brings both back.
    keys(&mut d, &f, &[Key::Char('!')]);
    let lines = screen(&mut d, &f, 160, 45);
    assert!(!lines[0].contains("state:") && !lines[0].contains("filter: wp-"));
    assert_eq!(table_rows(&lines).len(), 4, "{lines:#?}");
    keys(&mut d, &f, &[Key::Char('!')]);
    let lines = screen(&mut d, &f, 160, 45);
    assert!(lines[0].contains("state:SYN_RECV") && lines[0].contains("filter: wp-"));

    // Deny list from the form: hides the address in both panels.
    let mut d = dashboard();
    keys(
        &mut d,
        &f,
        &[Key::Char('f'), Key::BackTab, Key::BackTab, Key::BackTab],
    );
    type_text(&mut d, &f, "91.198.174.0/24");
    keys(&mut d, &f, &[Key::Enter]);
    let lines = screen(&mut d, &f, 160, 45);
    assert!(lines[0].contains("deny:1"));
    assert_eq!(table_rows(&lines).len(), 6);
    assert!(activity_lines(&lines)
        .iter()
        .all(|l| !l.contains("91.198.174.192")));
}

#[test]
fn config_cidr_lists_always_apply() {
    let f = Fixture::new();
    let mut d = dashboard();
    d.set_filter_config(FilterConfig {
        cidr_allow: vec![],
        cidr_deny: vec!["45.33.32.0/24".parse().unwrap()],
    });
    let lines = screen(&mut d, &f, 160, 45);
    assert_eq!(table_rows(&lines).len(), 6);
    keys(&mut d, &f, &[Key::Char('f')]);
    let form = form_lines(&screen(&mut d, &f, 160, 45));
    assert!(
        form[14].ends_with("config's cidr_allow 0, cidr_deny 1 always apply"),
        "{form:#?}"
    );
    keys(&mut d, &f, &[Key::Enter, Key::Char('!'), Key::Char('!')]);
    assert_eq!(table_rows(&screen(&mut d, &f, 160, 45)).len(), 6);
}

#[test]
fn filter_form_on_a_short_screen_marks_the_bad_field() {
    let f = Fixture::new();
    let mut d = dashboard();
    keys(&mut d, &f, &[Key::Char('f'), Key::Tab]);
    type_text(&mut d, &f, "9x9");
    keys(&mut d, &f, &[Key::Enter]);
    let lines = screen(&mut d, &f, 40, 12);
    let form = form_lines(&lines);
    assert_eq!(
        form.len(),
        8,
        "one line a field and the message: {lines:#?}"
    );
    assert!(form[1].starts_with("✗status codes"), "{form:#?}");
    assert!(
        form[7].starts_with("✗ status codes: not a status"),
        "{form:#?}"
    );
    for (w, h) in [(40, 10), (41, 11), (60, 19), (60, 20), (3, 3)] {
        draw(&mut d, &f, w, h);
    }
}

/// A hook run to its end as the session would (without a loop: the pipe
/// is read and the child reaped until it is done).
fn finished_hook(command: &str, addr: &str) -> HookRun {
    let hook = crate::config::Hook {
        key: '1',
        label: "whois via shell".into(),
        command: command.into(),
        timeout: Duration::from_secs(20),
    };
    let mut run = HookRun::spawn(&hook, ip(addr), Instant::now()).unwrap();
    // A bound on rounds, not a timing assertion.
    for _ in 0..2000 {
        run.on_readable();
        if run.try_reap().is_some() {
            return run;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the hook did not end");
}

fn with_hook<'a>(f: &'a Fixture, run: &'a HookRun) -> Model<'a> {
    Model {
        hook: Some(run),
        ..f.model()
    }
}

fn hook_lines(d: &mut Dashboard, m: &Model<'_>, w: u16, h: u16) -> Vec<String> {
    let mut g = Grid::new(w, h);
    d.draw(&mut g, m);
    g.check_invariants().unwrap();
    modal_lines(&g.text_lines(), "Hook 1:")
}

#[test]
fn hook_output_streams_into_a_scrollable_modal() {
    let f = Fixture::new();
    let mut d = dashboard();
    screen(&mut d, &f, 160, 45);
    assert_eq!(
        keys(&mut d, &f, &[Key::Char('1')]),
        [Action::Hook {
            index: 0,
            ip: ip("8.8.4.4")
        }]
    );
    let run = finished_hook(
        "echo hook {ip} $NETHERGAZE_IP; seq 1 60; \
         printf 'a\\tb\\033]0;pwned\\007\\033[31mred\\r\\n'; exit 3",
        "8.8.4.4",
    );
    d.open_hook_output();
    let m = with_hook(&f, &run);
    let lines = hook_lines(&mut d, &m, 160, 45);
    assert!(
        lines[0].starts_with("$ echo hook 8.8.4.4 $NETHERGAZE_IP; seq 1 60"),
        "{lines:#?}"
    );
    assert_eq!(lines[1], "exit 3");
    // Following the end: the last line, its tab expanded, its controls shown
    // as placeholders (never sent), the \r dropped.
    let last = lines.last().unwrap();
    assert_eq!(last, "a       b�]0;pwned��[31mred", "{lines:#?}");
    assert_eq!(lines[lines.len() - 2], "60");
    assert!(
        !lines.iter().any(|l| l.starts_with("hook ")),
        "scrolled to the end"
    );

    // Home: the top, with the address from {ip} and from the environment.
    keys(&mut d, &f, &[Key::Home]);
    let lines = hook_lines(&mut d, &m, 160, 45);
    assert_eq!(lines[2], "hook 8.8.4.4 8.8.4.4");
    assert_eq!(lines[3], "1");
    // Down one line scrolls one line; End follows again.
    keys(&mut d, &f, &[Key::Char('j')]);
    assert_eq!(hook_lines(&mut d, &m, 160, 45)[2], "1");
    keys(&mut d, &f, &[Key::End]);
    assert_eq!(hook_lines(&mut d, &m, 160, 45).last(), Some(&last.clone()));

    // c copies, a digit runs the hook again for the same address, Esc closes.
    assert_eq!(d.on_key(Key::Char('c'), &m), Action::CopyOutput);
    assert_eq!(
        d.on_key(Key::Char('1'), &m),
        Action::Hook {
            index: 0,
            ip: ip("8.8.4.4")
        }
    );
    assert!(d.shows_output());
    assert_eq!(d.on_key(Key::Esc, &m), Action::CloseJob);
    assert!(!d.shows_output());
}

#[test]
fn a_running_hook_says_so_and_small_screens_hold() {
    let f = Fixture::new();
    let mut d = dashboard();
    let hook = crate::config::Hook {
        key: '1',
        label: "slow".into(),
        command: "echo started; exec sleep 30".into(),
        timeout: Duration::from_secs(60),
    };
    let mut run = HookRun::spawn(&hook, ip("2001:db8::1"), Instant::now()).unwrap();
    for _ in 0..2000 {
        if run.on_readable() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    d.open_hook_output();
    let m = Model {
        hook: Some(&run),
        ..f.model()
    };
    let mut g = Grid::new(160, 45);
    d.draw(&mut g, &m);
    let lines = modal_lines(&g.text_lines(), "Hook 1: slow · 2001:db8::1");
    assert!(lines[1].starts_with("running (pid "), "{lines:#?}");
    assert_eq!(lines[2], "started");
    for (w, h) in [(40, 10), (41, 11), (60, 12), (3, 3), (1, 1), (0, 0)] {
        let mut g = Grid::new(w, h);
        d.draw(&mut g, &m);
        g.check_invariants().unwrap();
    }
    run.cancel(Instant::now());
    for _ in 0..2000 {
        if run.try_reap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let m = Model {
        hook: Some(&run),
        ..f.model()
    };
    let mut g = Grid::new(160, 45);
    d.draw(&mut g, &m);
    let lines = modal_lines(&g.text_lines(), "Hook 1: slow");
    assert_eq!(lines[1], "killed by signal 15 (timeout or cancelled)");
}

/// A directory of fake firewall tools that append their argv to `calls`.
/// Why a fake here: these are in-process tests of the block modal's flow,
/// which need a tool's exit status chosen at will (an `iptables -C` that
/// finds the rule, a failing run) without root or a namespace. The real
/// nft, iptables, ufw, fail2ban and cscli run in network namespaces in
/// `actions/block/tests/firewall.rs` and, through the keys, in
/// `tests/it/dashboard.rs`.
struct FakeTools {
    dir: tempfile::TempDir,
}

impl FakeTools {
    fn new(names: &[&str]) -> FakeTools {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        for name in names {
            let path = dir.path().join(name);
            let script = format!(
                // `ufw status` (block assist asks it first) as an active ufw.
                "#!/bin/sh\n[ \"$*\" = status ] && echo 'Status: active' && exit 0\necho \"{name} $*\" >> '{}'\necho {name}: ok\n",
                dir.path().join("calls").display()
            );
            std::fs::write(&path, script).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        FakeTools { dir }
    }

    fn tools(&self) -> Tools {
        Tools::detect_in(self.dir.path().as_os_str())
    }

    fn calls(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("calls")).unwrap_or_default()
    }
}

use crate::actions::block::{SafetyContext, Step, Tools};

fn block_lines(d: &mut Dashboard, m: &Model<'_>, w: u16, h: u16) -> Vec<String> {
    let mut g = Grid::new(w, h);
    d.draw(&mut g, m);
    g.check_invariants().unwrap();
    modal_lines(&g.text_lines(), "Block assist:")
}

fn assist_step(d: &mut Dashboard) -> Option<Step> {
    d.block_assist_mut().and_then(|a| a.step())
}

#[test]
fn block_assist_shows_the_command_and_runs_nothing_when_disabled() {
    let f = Fixture::new();
    let fake = FakeTools::new(&["ufw", "iptables"]);
    let mut d = dashboard();
    let addr = ip("45.33.32.156");
    d.open_block(BlockAssist::new(
        addr,
        fake.tools(),
        SafetyContext::default(),
        false,
    ));
    let lines = block_lines(&mut d, &f.model(), 160, 45);
    assert_eq!(lines[0], "tools: ufw, iptables");
    assert!(
        lines[1].starts_with("scope (s): ● the address 45.33.32.156   ○ its /24 45.33.32.0/24")
            && lines[1].ends_with("whois network: unknown"),
        "{lines:#?}"
    );
    assert_eq!(lines[2], "tool (t): ● ufw  ○ iptables");
    assert_eq!(lines[4], "ufw prepend deny from 45.33.32.156");
    let off = "execution is off: set [actions] enable_block_execution = true";
    assert!(lines[6].starts_with(off), "{lines:#?}");

    // x, y, Y: nothing moves; c copies the exact command.
    for k in ['y', 'Y', 'x'] {
        assert_eq!(d.on_key(Key::Char(k), &f.model()), Action::None);
    }
    let lines = block_lines(&mut d, &f.model(), 160, 45);
    assert!(
        lines[6].starts_with("execution is off (set [actions]"),
        "{lines:#?}"
    );
    assert_eq!(
        d.on_key(Key::Char('c'), &f.model()),
        Action::CopyText("ufw prepend deny from 45.33.32.156".into())
    );
    // t: the other tool; s: the /24.
    keys(&mut d, &f, &[Key::Char('t'), Key::Char('s')]);
    let lines = block_lines(&mut d, &f.model(), 160, 45);
    // iptables asks first (-C), so a second block adds no second rule.
    assert_eq!(lines[4], "iptables -C INPUT -s 45.33.32.0/24 -m comment --comment 'nethergaze 45.33.32.0/24' -j DROP");
    assert_eq!(lines[5], "iptables -I INPUT -s 45.33.32.0/24 -m comment --comment 'nethergaze 45.33.32.0/24' -j DROP");
    assert!(lines[1].contains("● its /24 45.33.32.0/24"));
    assert_eq!(d.on_key(Key::Esc, &f.model()), Action::CloseJob);
    assert!(matches!(d.modal(), Modal::None));
    assert_eq!(fake.calls(), "", "nothing ran");

    // A whois network is the third scope.
    let assist = BlockAssist::new(addr, fake.tools(), SafetyContext::default(), false)
        .with_network(Some("45.32.0.0/15".parse().unwrap()));
    d.open_block(assist);
    keys(&mut d, &f, &[Key::Char('s'), Key::Char('s')]);
    let lines = block_lines(&mut d, &f.model(), 160, 45);
    assert!(
        lines[1].ends_with("● whois network 45.32.0.0/15"),
        "{lines:#?}"
    );
    assert!(lines
        .iter()
        .any(|l| l == "⚠ 45.32.0.0/15 covers many addresses"));
    assert_eq!(lines[4], "ufw prepend deny from 45.32.0.0/15");
}

#[test]
fn block_assist_confirms_then_shows_the_run() {
    let f = Fixture::new();
    let fake = FakeTools::new(&["ufw", "iptables"]);
    let mut d = dashboard();
    let addr = ip("45.33.32.156");
    d.open_block(BlockAssist::new(
        addr,
        fake.tools(),
        SafetyContext::default(),
        true,
    ));
    let lines = block_lines(&mut d, &f.model(), 160, 45);
    assert_eq!(lines[6], "x run it · c copy · s scope · t tool");
    // y before x does nothing; x asks; n goes back; x y runs.
    keys(&mut d, &f, &[Key::Char('y')]);
    assert_eq!(assist_step(&mut d), Some(Step::Propose));
    keys(&mut d, &f, &[Key::Char('x')]);
    let lines = block_lines(&mut d, &f.model(), 160, 45);
    assert_eq!(
        lines[6],
        "Run this now to block 45.33.32.156?  y yes · n no"
    );
    keys(&mut d, &f, &[Key::Char('n')]);
    assert_eq!(assist_step(&mut d), Some(Step::Propose));
    keys(&mut d, &f, &[Key::Char('x')]);
    assert_eq!(d.on_key(Key::Char('y'), &f.model()), Action::RunBlock);

    // What the session does on RunBlock, then reaping as SIGCHLD would.
    let mut run = d.block_assist_mut().unwrap().start(NOW).unwrap();
    for _ in 0..2000 {
        run.on_readable();
        if run.reap() && !run.start_next() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(run.is_finished());
    assert_eq!(fake.calls(), "ufw prepend deny from 45.33.32.156\n");
    let m = Model {
        block: Some(&run),
        ..f.model()
    };
    let lines = block_lines(&mut d, &m, 160, 45);
    assert_eq!(lines[6], "1/1 exit 0  $ ufw prepend deny from 45.33.32.156");
    assert_eq!(lines[7], "done: 45.33.32.156 blocked");
    assert_eq!(lines[8], "ufw: ok");
    // Done: s and t change nothing, x runs nothing again.
    keys(
        &mut d,
        &f,
        &[
            Key::Char('s'),
            Key::Char('t'),
            Key::Char('x'),
            Key::Char('y'),
        ],
    );
    assert_eq!(
        block_lines(&mut d, &m, 160, 45)[4],
        "ufw prepend deny from 45.33.32.156"
    );
    assert_eq!(fake.calls().lines().count(), 1);
}

/// iptables asks with `-C` first; a rule already there ends the run, and
/// the modal says so instead of showing the check as a failure.
#[test]
fn block_assist_shows_the_iptables_check_that_found_the_rule() {
    let f = Fixture::new();
    let fake = FakeTools::new(&["iptables"]); // exits 0: `-C` finds the rule
    let mut d = dashboard();
    d.open_block(BlockAssist::new(
        ip("45.33.32.156"),
        fake.tools(),
        SafetyContext::default(),
        true,
    ));
    keys(&mut d, &f, &[Key::Char('x')]);
    assert_eq!(d.on_key(Key::Char('y'), &f.model()), Action::RunBlock);
    let mut run = d.block_assist_mut().unwrap().start(NOW).unwrap();
    for _ in 0..2000 {
        run.on_readable();
        if run.reap() && !run.start_next() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(run.is_finished());
    let check = "iptables -C INPUT -s 45.33.32.156 -m comment --comment";
    assert_eq!(
        fake.calls(),
        format!("{check} nethergaze 45.33.32.156 -j DROP\n"),
        "the insert did not run"
    );
    let m = Model {
        block: Some(&run),
        ..f.model()
    };
    let lines = block_lines(&mut d, &m, 160, 45);
    let has = |want: &str| lines.iter().any(|l| l.starts_with(want));
    assert!(has(&format!("1/2 already there  $ {check}")), "{lines:#?}");
    assert!(has("done: 45.33.32.156 was blocked already"), "{lines:#?}");
}

#[test]
fn block_assist_refusals_need_shift_y_and_warnings_show() {
    let f = Fixture::new();
    let fake = FakeTools::new(&["ufw"]);
    let mut d = dashboard();
    let addr = ip("45.33.32.156");
    let ctx = SafetyContext {
        operator: vec![addr],
        trusted_proxies: vec!["45.33.32.0/24".parse().unwrap()],
        ..SafetyContext::default()
    };
    d.open_block(BlockAssist::new(addr, fake.tools(), ctx, true));
    let lines = block_lines(&mut d, &f.model(), 160, 45);
    assert_eq!(
        lines[6],
        "✗ 45.33.32.156 is your own SSH connection: you would lock yourself out"
    );
    assert_eq!(
        lines[7],
        "⚠ trusted proxy 45.33.32.0/24: a ban blocks every client behind it"
    );
    assert!(lines[9].starts_with("x run it (asks twice"), "{lines:#?}");
    keys(&mut d, &f, &[Key::Char('x'), Key::Char('y')]);
    let lines = block_lines(&mut d, &f.model(), 160, 45);
    assert!(lines[9].starts_with("Refused for the reason above. Y (shift+y)"));
    assert_eq!(d.on_key(Key::Char('y'), &f.model()), Action::None);
    assert_eq!(d.on_key(Key::Char('Y'), &f.model()), Action::RunBlock);
}

#[test]
fn block_assist_without_tools_and_for_ipv6() {
    let f = Fixture::new();
    let none = FakeTools::new(&[]);
    let mut d = dashboard();
    d.open_block(BlockAssist::new(
        ip("2a01:4f8::1"),
        none.tools(),
        SafetyContext::default(),
        true,
    ));
    let lines = block_lines(&mut d, &f.model(), 160, 45);
    assert!(lines[0].starts_with("tools: none found"));
    assert!(lines[1].contains("○ its /64 2a01:4f8::/64"), "{lines:#?}");
    assert_eq!(lines[3], "no tool found here: the command would be");
    assert_eq!(lines[4], "ufw prepend deny from 2a01:4f8::1");
    keys(&mut d, &f, &[Key::Char('x')]);
    let lines = block_lines(&mut d, &f.model(), 160, 45);
    assert!(lines
        .iter()
        .any(|l| l == "no firewall tool was found on PATH or in /usr/sbin, /sbin"));
    // The IPv4-only tool is not offered for IPv6.
    let fake = FakeTools::new(&["iptables", "ip6tables"]);
    d.open_block(BlockAssist::new(
        ip("2a01:4f8::1"),
        fake.tools(),
        SafetyContext::default(),
        true,
    ));
    let lines = block_lines(&mut d, &f.model(), 160, 45);
    assert_eq!(lines[2], "tool (t): ● ip6tables");
    assert_eq!(
        lines[4],
        "ip6tables -C INPUT -s 2a01:4f8::1 -m comment --comment 'nethergaze 2a01:4f8::1' -j DROP"
    );
    assert_eq!(
        lines[5],
        "ip6tables -I INPUT -s 2a01:4f8::1 -m comment --comment 'nethergaze 2a01:4f8::1' -j DROP"
    );
    for (w, h) in [(40, 10), (41, 11), (60, 15), (3, 3), (1, 1), (0, 0)] {
        block_lines_any(&mut d, &f, w, h);
    }
}

#[test]
fn block_assist_offers_nothing_for_a_multicast_address() {
    let f = Fixture::new();
    let fake = FakeTools::new(&["ufw"]);
    let mut d = dashboard();
    d.open_block(BlockAssist::new(
        ip("224.0.0.251"),
        fake.tools(),
        SafetyContext::default(),
        true,
    ));
    let text = block_lines(&mut d, &f.model(), 160, 45).join("\n");
    assert!(text.contains("holds multicast addresses"), "{text}");
    assert!(!text.contains("ufw prepend"), "{text}");
    keys(
        &mut d,
        &f,
        &[Key::Char('x'), Key::Char('y'), Key::Char('Y')],
    );
    assert_eq!(assist_step(&mut d), None, "nothing can run");
}

/// Draw at any size: no panic, a consistent grid.
fn block_lines_any(d: &mut Dashboard, f: &Fixture, w: u16, h: u16) {
    let mut g = Grid::new(w, h);
    d.draw(&mut g, &f.model());
    g.check_invariants().unwrap();
}

#[test]
fn hook_output_frames_carry_no_sequence_from_the_child() {
    let f = Fixture::new();
    let mut d = dashboard();
    let run = finished_hook(
        "printf 'osc8 \\033]8;;http://x\\033\\\\link\\n'; \
         printf 'title \\033]0;pwned\\007 c1 \\302\\233 31m raw \\233 31m\\n'; \
         printf 'dcs \\033P+q\\033\\\\ da \\033[>0q bidi \\342\\200\\256evil\\n'",
        "8.8.4.4",
    );
    d.open_hook_output();
    let mut renderer = crate::ui::Renderer::new(160, 45, crate::ui::RenderMode::default());
    let mut out = Vec::new();
    d.draw(renderer.frame(), &with_hook(&f, &run));
    renderer.render(&mut out);
    crate::ui::diff::audit(&out).unwrap();
    for bad in [
        &b"\x1b]"[..],
        b"\x1bP",
        b"\x1b[>",
        b"\x07",
        "\u{9b}".as_bytes(),
        "\u{202e}".as_bytes(),
    ] {
        assert!(!out.windows(bad.len()).any(|w| w == bad), "{bad:?} written");
    }
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("evil") && text.contains("pwned"), "drawn");
}

#[test]
fn header_shows_the_interface_rates() {
    use crate::source::bandwidth::Bandwidth;
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let stats = dir.path().join("class/net/eth9/statistics");
    std::fs::create_dir_all(&stats).unwrap();
    let counters = |rx: u64, tx: u64| {
        std::fs::write(stats.join("rx_bytes"), format!("{rx}\n")).unwrap();
        std::fs::write(stats.join("tx_bytes"), format!("{tx}\n")).unwrap();
    };
    counters(0, 0);
    let mut bw = Bandwidth::open(Some("eth9"), dir.path(), &dir.path().join("route"));
    let t0 = Instant::now();
    bw.on_tick(t0);
    counters(3 << 20, 1536);
    bw.on_tick(t0 + Duration::from_secs(1));
    let f = Fixture::new();
    let mut d = dashboard();
    let mut g = Grid::new(200, 30);
    let m = Model {
        bandwidth: Some(&bw),
        ..f.model()
    };
    d.draw(&mut g, &m);
    assert!(
        g.row_text(0).contains("eth9 rx 3.0 MiB/s tx 1.5 KiB/s"),
        "{}",
        g.row_text(0)
    );
}

#[test]
fn header_shows_vnstat_month_and_the_stats_bar_why_not() {
    use crate::parse::vnstat::MonthTotals;
    use crate::source::vnstat::VnstatStatus;
    let f = Fixture::new();
    let mut d = dashboard();
    let mut g = Grid::new(220, 30);
    let month = VnstatStatus::Month(MonthTotals {
        year: 2026,
        month: 12,
        rx: 12 << 30,
        tx: 3 << 29,
    });
    let m = Model {
        vnstat: Some(&month),
        ..f.model()
    };
    d.draw(&mut g, &m);
    assert!(
        g.row_text(0).contains("month ↓12.0 GiB ↑1.5 GiB (vnstat)"),
        "{}",
        g.row_text(0)
    );
    let screen = (0..30)
        .map(|y| g.row_text(y))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!screen.contains("vnstat:"), "{screen}");

    for (status, note) in [
        (VnstatStatus::NotInstalled, "vnstat: not installed"),
        (
            VnstatStatus::NoDatabase,
            "vnstat: no database for the interface",
        ),
    ] {
        let m = Model {
            vnstat: Some(&status),
            ..f.model()
        };
        d.draw(&mut g, &m);
        let screen = (0..30)
            .map(|y| g.row_text(y))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(screen.contains(note), "{screen}");
        assert!(!g.row_text(0).contains("month"), "{}", g.row_text(0));
    }
}

/// Many addresses, both families, with counts that tie a lot.
fn crowded() -> Fixture {
    let mut f = Fixture::new();
    for i in 0u32..400 {
        let addr = if i % 5 == 0 {
            format!("2a00:1450:{:x}::{:x}", i % 3, i * 7919 % 65_536)
        } else {
            format!("45.{}.{}.{}", i * 37 % 256, i % 3, i * 13 % 256)
        };
        for n in 0..(i * 7 % 5) {
            let dt = -(i64::from(n) * 17 % 120);
            f.hit(&addr, dt, "GET", b"/", 200, u64::from(i % 4) * 100, b"ua");
        }
        if i % 9 == 0 {
            f.auth(&addr, -3, AuthKind::Failed, b"root");
        }
    }
    f
}

/// A frame keeps only the rows down to its window's bottom: what it holds,
/// the cursor's rank, the count and the widest address are the full
/// sort's, whatever the number kept (below, at and above the 2 × keep
/// candidates that trigger a selection).
#[test]
fn frame_rows_match_the_full_sort() {
    let f = crowded();
    for key in [SortKey::Conns, SortKey::Requests, SortKey::Ip] {
        let mut full: Vec<&Row> = f.table.rows().collect();
        table::sort_rows(&mut full, key, &|_| false);
        let n = full.len();
        let widest = full.iter().map(|r| r.ip.to_string().len() + 1).max();
        for keep in [0, 1, 2, 45, n / 3, n / 2, n - 1, n, n + 5] {
            for cursor in [0, 1, keep.min(n - 1), n / 2, n - 1] {
                let rows = table::FrameRows::scan(
                    f.table.rows(),
                    key,
                    &|_| false,
                    Some(full[cursor]),
                    keep,
                );
                assert_eq!(rows.len(), n);
                assert_eq!(rows.cursor_rank(), Some(cursor), "{key:?} keep {keep}");
                assert!(rows.holds(keep));
                assert_eq!(rows.holds(keep.max(1) + 1), keep.max(1) >= n);
                let held: Vec<_> = (0..n).map_while(|i| rows.get(i)).map(|r| r.ip).collect();
                let want: Vec<_> = full[..keep.max(1).min(n)].iter().map(|r| r.ip).collect();
                assert_eq!(held, want, "{key:?} keep {keep}");
                assert_eq!(Some(usize::from(rows.widest_ip())), widest);
            }
        }
        let rows = table::FrameRows::scan(f.table.rows(), key, &|_| false, None, 10);
        assert_eq!(rows.cursor_rank(), None);
    }
}

#[test]
fn sort_matches_the_row_comparator() {
    let f = crowded();
    let conns = |r: &Row| r.sockets().conns_in; // the Conns column (issue 12 item 18)
    let svc = |r: &Row| r.sockets().services_in.len() + r.sockets().services_out.len();
    for key in [
        SortKey::Conns,
        SortKey::Requests,
        SortKey::Bytes,
        SortKey::Auth,
        SortKey::Services,
        SortKey::Ip,
    ] {
        let mut fast: Vec<&Row> = f.table.rows().collect();
        table::sort_rows(&mut fast, key, &|_| false);
        // The comparator the table used before keys were precomputed.
        let mut naive: Vec<&Row> = f.table.rows().collect();
        naive.sort_by(|a, b| {
            let order = match key {
                SortKey::Conns => (conns(b), b.requests).cmp(&(conns(a), a.requests)),
                SortKey::Requests => b.requests.cmp(&a.requests),
                SortKey::Bytes => b.bytes.cmp(&a.bytes),
                SortKey::Auth => b.auth_failures().cmp(&a.auth_failures()),
                SortKey::Services => svc(b).cmp(&svc(a)),
                SortKey::Ip => std::cmp::Ordering::Equal,
            };
            order.then_with(|| a.ip.cmp(&b.ip))
        });
        let ips = |rows: &[&Row]| rows.iter().map(|r| r.ip).collect::<Vec<_>>();
        assert_eq!(ips(&fast), ips(&naive), "{key:?}");
        assert!(fast.len() > 300);
    }
}

#[test]
fn top_offenders_match_a_full_sort() {
    let f = crowded();
    let m = f.model();
    let end = f.table.window_end(m.now);
    let mut rates: Vec<(u32, IpAddr)> = f
        .table
        .rows()
        .map(|r| (r.rate.per_minute(end), r.ip))
        .filter(|&(n, _)| n > 0)
        .collect();
    rates.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let expected: String = rates[..3]
        .iter()
        .map(|(n, ip)| format!(" {ip} ({n})"))
        .collect();
    let lines = screen(&mut dashboard(), &f, 240, 40);
    assert!(
        lines[1].contains(&format!("top req/min:{expected} │")),
        "{}\nwanted{expected}",
        lines[1]
    );
}

#[test]
fn geoip_fills_cc_organization_and_the_drill_down() {
    use crate::enrich::geoip::GeoInfo;
    let mut f = Fixture::new();
    let ip: IpAddr = "8.8.4.4".parse().unwrap();
    f.table.get_mut(ip).unwrap().geo = Some(Box::new(GeoInfo {
        country: Some("US".into()),
        city: Some("Mountain View".into()),
        asn: Some(15169),
        org: Some("GOOGLE\u{1b}]0;x\u{7}".into()),
    }));
    let mut d = dashboard();
    let lines = screen(&mut d, &f, 200, 45);
    let row = lines
        .iter()
        .find(|l| l.trim_start_matches(['!', ' ']).starts_with("8.8.4.4"))
        .unwrap();
    assert!(row.contains(" US ") && row.contains("GOOGLE"), "{row}");
    assert!(!row.contains('\u{1b}'), "the organisation is sanitised");
    keys(&mut d, &f, &[Key::Enter]);
    let text = screen(&mut d, &f, 200, 45).join("\n");
    assert!(
        text.contains("GeoIP: US · Mountain View · AS15169 GOOGLE"),
        "{text}"
    );
}

#[test]
fn a_missing_geoip_database_is_a_note_in_the_header_and_stats() {
    use crate::config::GeoipConfig;
    use crate::enrich::geoip::GeoIp;
    let mut f = Fixture::new();
    f.sources[1].error = None;
    f.sources[1].note = Some("GeoIP city database not found: /nowhere/City.mmdb".into());
    f.geoip = Some(GeoIp::open(&GeoipConfig {
        enabled: true,
        city_db: "/nowhere/City.mmdb".into(),
        asn_db: "/nowhere/ASN.mmdb".into(),
    }));
    let mut d = dashboard();
    let lines = screen(&mut d, &f, 200, 45);
    assert!(lines[0].contains("GeoIP: none"), "{}", lines[0]);
    let stats = &lines[lines.len() - 2];
    assert!(
        stats.contains("sources ok"),
        "a note is not an error: {stats}"
    );
    assert!(
        stats.contains("note: GeoIP city database not found"),
        "{stats}"
    );
}

#[test]
fn whois_fills_cc_and_organization_and_text_filters_match_it() {
    use crate::enrich::whois::WhoisInfo;
    let mut f = Fixture::new();
    let ip: IpAddr = "45.33.32.156".parse().unwrap();
    f.table.get_mut(ip).unwrap().whois = Some(Box::new(WhoisInfo {
        network: Some("LINODE-US".into()),
        org: Some("Akamai Technologies".into()),
        country: Some("US".into()),
        ..WhoisInfo::default()
    }));
    let mut d = dashboard();
    let lines = screen(&mut d, &f, 200, 45);
    let row = lines
        .iter()
        .find(|l| l.trim_start_matches(['!', ' ']).starts_with("45.33.32.156"))
        .unwrap();
    assert!(row.contains(" US ") && row.contains("Akamai"), "{row}");
    // The quick filter finds the address by its organisation...
    keys(&mut d, &f, &[Key::Char('/')]);
    type_text(&mut d, &f, "akamai");
    keys(&mut d, &f, &[Key::Enter]);
    let rows = table_rows(&screen(&mut d, &f, 200, 45));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains("45.33.32.156"));
    // ...and so does the structured filter's text, in both panels.
    keys(&mut d, &f, &[Key::Char('/'), Key::Ctrl('u'), Key::Enter]);
    let tabs = [Key::Tab; 5]; // states, status, req/min, allow, deny, then text
    keys(&mut d, &f, &[Key::Char('f')]);
    keys(&mut d, &f, &tabs);
    type_text(&mut d, &f, "technologies");
    keys(&mut d, &f, &[Key::Enter]);
    let lines = screen(&mut d, &f, 200, 45);
    let rows = table_rows(&lines);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains("45.33.32.156"), "{rows:?}");
    let log = activity_lines(&lines);
    assert!(
        !log.is_empty() && log.iter().all(|l| l.contains("45.33.32.156")),
        "{}",
        lines.join("\n")
    );
}

#[test]
fn history_fills_hx_and_the_drill_down() {
    use crate::store::{History, SessionRow};
    let f = Fixture::new();
    let dir = tempfile::tempdir().unwrap();
    let mut history = History::open(&dir.path().join("history.db"), NOW).unwrap();
    let ip: IpAddr = "8.8.4.4".parse().unwrap();
    let row = SessionRow {
        ip,
        first_seen: NOW - 86_400,
        last_seen: NOW,
        requests: 1200,
        bytes: 3 << 20,
        auth_failures: 0,
        suspicious: true,
        country: None,
        org: None,
        last_paths: Vec::new(),
    };
    history.snapshot(std::iter::once(row)).unwrap();
    let mut d = dashboard();
    let mut g = Grid::new(200, 45);
    let m = Model {
        history: Some(&history),
        ..f.model()
    };
    d.draw(&mut g, &m);
    let table_row = g
        .text_lines()
        .into_iter()
        .find(|l| l.trim_start_matches(['!', ' ']).starts_with("8.8.4.4"))
        .unwrap();
    assert!(
        table_row.contains(" 1 "),
        "Hx shows one session: {table_row}"
    );
    d.on_key(Key::Enter, &m);
    d.draw(&mut g, &m);
    let text = g.text_lines().join("\n");
    let day = &crate::parse::time::format_rfc3339(NOW - 86_400)[..10];
    assert!(
        text.contains(&format!(
            "history: seen 1 session since {day}, 1200 requests (3.0 MiB), 0 auth failures, suspicious once"
        )),
        "{text}"
    );
}

/// Issue 11, item 7: when every address seen was private, the empty table, the
/// stats bar and the help screen say how many were hidden and how to show them;
/// `p` asks for them (and, once shown, to hide them again).
#[test]
fn hidden_private_addresses_are_said_where_rows_would_be() {
    let mut f = Fixture::new();
    f.table = IpTable::new(1000, false);
    for client in ["10.1.2.3", "10.1.2.3", "127.0.0.1"] {
        f.hit(client, -5, "GET", b"/", 200, 10, b"curl/8.0");
    }
    let mut d = dashboard();
    let lines = screen(&mut d, &f, 160, 45);
    let text = lines.join("\n");
    assert!(
        text.contains("no public IPs yet: 2 private/loopback addresses hidden (p shows them"),
        "{text}"
    );
    assert!(
        lines[43].contains("2 private hidden (p shows)"),
        "{}",
        lines[43]
    );
    assert_eq!(
        keys(&mut d, &f, &[Key::Char('p')]),
        [Action::ShowPrivate(true)]
    );
    keys(&mut d, &f, &[Key::Char('?')]);
    let help = screen(&mut d, &f, 160, 45).join("\n");
    assert!(
        help.contains("2 hidden: p shows them from now on"),
        "{help}"
    );
    assert!(
        help.contains("show / hide private and loopback addresses"),
        "{help}"
    );

    // Shown: the table asks to hide them, and nothing is said hidden.
    f.table.set_show_private(true);
    let mut d = dashboard();
    let lines = screen(&mut d, &f, 160, 45);
    assert!(!lines[43].contains("private hidden"), "{}", lines[43]);
    assert!(lines.join("\n").contains("no IPs yet: waiting"));
    assert_eq!(
        keys(&mut d, &f, &[Key::Char('p')]),
        [Action::ShowPrivate(false)]
    );
}

/// Issue 12 item 4: the drill-down of an ssh brute forcer lists the user
/// names it tried, with times, newest first; a hostile name is cut and
/// sanitised, and the list keeps the last 30 events.
#[test]
fn drill_down_lists_the_sshd_events_with_user_names_and_times() {
    let mut f = Fixture::new();
    let forcer = "185.199.108.153";
    f.auth(forcer, -9, AuthKind::InvalidUser, b"oracle");
    f.auth(forcer, -8, AuthKind::Failed, b"\x1b[2Jadmin\x07");
    f.auth(forcer, -7, AuthKind::InvalidUser, &[b'x'; 300]);
    let mut d = dashboard();
    keys(&mut d, &f, &[Key::Char('/')]);
    type_text(&mut d, &f, forcer);
    keys(&mut d, &f, &[Key::Enter, Key::Enter]);
    let lines = screen(&mut d, &f, 160, 45);
    let text = lines.join("\n");
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text}");
    let at = |dt: i64| activity::clock(NOW + dt, d.utc_offset);
    let heading = lines
        .iter()
        .position(|l| l.contains("last 30 sshd events, newest first"))
        .unwrap_or_else(|| panic!("no sshd events in\n{text}"));
    let events: Vec<&str> = lines[heading + 1..heading + 8]
        .iter()
        .map(|l| l.trim_start_matches(['│', ' ']))
        .collect();
    let want = [
        (at(-7), "invalid user", "xxxxxxxxxxxxxxxxxxxxxxxxx…"),
        (at(-8), "failed", "admin"),
        (at(-9), "invalid user", "oracle"),
        (at(-11), "accepted", "deploy"),
        (at(-13), "failed", "root"),
        (at(-14), "failed", "root"),
        (at(-15), "failed", "root"),
    ];
    for (line, (time, kind, user)) in events.iter().zip(want) {
        assert!(line.starts_with(&format!("{time} {kind:<15} ")), "{line}");
        assert!(line.contains(user), "{user} in {line}");
    }
    assert!(!events[0].contains(&"x".repeat(26)), "cut: {}", events[0]);

    // 40 more: the newest 30 are kept, the list stops at what fits.
    for n in 0..40 {
        f.auth(
            forcer,
            -6 + n / 10,
            AuthKind::Failed,
            format!("u{n}").as_bytes(),
        );
    }
    let text = screen(&mut d, &f, 160, 70).join("\n");
    let tried = |user: &str| text.contains(&format!("{:<15} {user} ", "failed"));
    assert!(tried("u39") && tried("u10"), "{text}");
    let oldest = format!("{:<15} oracle", "invalid user");
    assert!(!tried("u9") && !text.contains(&oldest), "{text}");
    let listed = text.matches(&format!("{:<15} u", "failed")).count();
    assert_eq!(listed, 30, "{text}");
}

/// Issue 12 item 4: the drill-down names the process holding each
/// connection, from a walk of `--proc-root`'s `*/fd`; the walk is done only
/// while the drill-down is open, at most once a second.
#[test]
fn drill_down_names_each_connections_process_and_walks_only_while_open() {
    let mut f = Fixture::new();
    for (s, inode) in f.sockets.iter_mut().zip([0, 4001, 4002, 0, 4003]) {
        s.inode = inode;
    }
    let proc_root = tempfile::tempdir().unwrap();
    let fd = proc_root.path().join("812/fd");
    std::fs::create_dir_all(&fd).unwrap();
    std::fs::write(proc_root.path().join("812/comm"), "nginx\x1b[2J\n").unwrap();
    std::os::unix::fs::symlink("socket:[4001]", fd.join("7")).unwrap();
    std::os::unix::fs::symlink("socket:[4003]", fd.join("8")).unwrap();
    let mut d = dashboard();
    d.owners = SocketOwners::new(Some(proc_root.path()));
    let t0 = Instant::now();
    screen(&mut d, &f, 160, 45);

    // Closed: no walk, however often asked.
    for n in 0..5 {
        assert!(!d.refresh_owners(&f.sockets, t0 + Duration::from_secs(n)));
    }
    assert_eq!(d.owners.walks, 0);

    // Open on 8.8.4.4: one walk, its process shown beside its socket only.
    keys(&mut d, &f, &[Key::Enter]);
    assert!(d.refresh_owners(&f.sockets, t0));
    let text = screen(&mut d, &f, 160, 45).join("\n");
    let line = |port: &str| {
        text.lines()
            .find(|l| l.contains(&format!("https ← :{port}")))
            .unwrap_or_else(|| panic!("{port} in\n{text}"))
            .to_string()
    };
    assert!(
        line("50000").contains("https ← :50000  pid 812 nginx"),
        "{text}"
    );
    assert!(!line("50000").contains('\x1b'));
    assert!(!line("50001").contains("pid"), "{}", line("50001"));
    assert!(!text.contains("process lookup stopped"));
    // Within the second, no new walk; after it, one.
    assert!(!d.refresh_owners(&f.sockets, t0 + Duration::from_millis(500)));
    assert!(d.refresh_owners(&f.sockets, t0 + Duration::from_secs(1)));
    assert_eq!(d.owners.walks, 2);

    // Closed again: no more walks, and nothing held.
    keys(&mut d, &f, &[Key::Esc]);
    assert!(!d.refresh_owners(&f.sockets, t0 + Duration::from_secs(9)));
    assert_eq!(d.owners.walks, 2);
    assert_eq!(d.owners.owner(ip("8.8.4.4"), 4001), None);
}

/// Issue 12 item 4: the drill-down names the country in full (GeoIP's
/// English name, here from MaxMind's test database), else gives the code
/// GeoIP or whois had.
#[test]
fn drill_down_names_the_country() {
    use crate::config::GeoipConfig;
    use crate::enrich::geoip::GeoIp;
    use crate::net::WhoisInfo;
    let mut f = Fixture::new();
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/maxmind/test-data");
    let geoip = GeoIp::open(&GeoipConfig {
        enabled: true,
        city_db: format!("{data}/GeoIP2-City-Test.mmdb").into(),
        asn_db: "/nowhere/ASN.mmdb".into(),
    });
    f.hit("81.2.69.142", -3, "GET", b"/", 200, 10, b"curl/8.0");
    f.table.get_mut(ip("81.2.69.142")).unwrap().geo = geoip.lookup_boxed(ip("81.2.69.142"));
    f.table.get_mut(ip("45.33.32.156")).unwrap().whois = Some(Box::new(WhoisInfo {
        country: Some("DE".into()),
        ..WhoisInfo::default()
    }));
    f.geoip = Some(geoip);
    let drill = |addr: &str| {
        let mut d = dashboard();
        keys(&mut d, &f, &[Key::Char('/')]);
        type_text(&mut d, &f, addr);
        keys(&mut d, &f, &[Key::Enter, Key::Enter]);
        screen(&mut d, &f, 160, 45).join("\n")
    };
    let text = drill("81.2.69.142");
    assert!(text.contains("country: United Kingdom (GB)"), "{text}");
    let text = drill("45.33.32.156");
    assert!(text.contains("country: DE (whois)"), "{text}");
}

/// A /24 of 60 addresses at 10 requests a minute each (issue 15 item 3):
/// none suspicious alone, the group is. `n` groups, `!` keeps the flagged
/// groups, Enter lists the members, Esc comes back, `b` offers the /24.
#[test]
fn grouped_by_network_lists_members_and_offers_the_network() {
    let mut f = Fixture::new();
    for host in 1..=60 {
        let client = format!("80.90.100.{host}");
        for n in 0..10 {
            f.hit(&client, -54 + 6 * n, "GET", b"/", 200, 100, b"Mozilla/5.0");
        }
    }
    let mut d = dashboard();
    screen(&mut d, &f, 160, 45);
    keys(&mut d, &f, &[Key::Char('!')]);
    let lines = screen(&mut d, &f, 160, 45);
    let rows = table_rows(&lines);
    assert!(!rows.iter().any(|l| l.contains("80.90.100.")), "{lines:#?}");

    keys(&mut d, &f, &[Key::Char('n')]);
    let lines = screen(&mut d, &f, 160, 45);
    assert!(lines[2].starts_with(" Network"), "{lines:#?}");
    let keys_shown = groups::shown_keys(&d);
    let at = keys_shown.iter().position(|k| k == "80.90.100.0/24");
    let at = at.unwrap_or_else(|| panic!("{keys_shown:?}"));
    let row = lines.iter().find(|l| l.contains("80.90.100.0/24")).unwrap();
    assert!(row.starts_with("!80.90.100.0/24"), "{row}");
    assert!(row.contains(" 60 ") && row.contains("burst"), "{row}");

    for _ in 0..at {
        keys(&mut d, &f, &[Key::Down]);
    }
    assert_eq!(keys(&mut d, &f, &[Key::Enter]), [Action::None]);
    let lines = screen(&mut d, &f, 160, 45);
    let rows = table_rows(&lines);
    let members: Vec<&String> = rows.iter().filter(|l| !l.trim().is_empty()).collect();
    assert!(members.len() >= 30, "{lines:#?}");
    assert!(
        members
            .iter()
            .all(|l| l.trim_start().starts_with("80.90.100.")),
        "{members:#?}"
    );
    assert!(matches!(d.modal(), Modal::None));

    keys(&mut d, &f, &[Key::Esc]);
    assert!(screen(&mut d, &f, 160, 45)[2].starts_with(" Network"));
    let actions = keys(&mut d, &f, &[Key::Char('b')]);
    let [Action::BlockNet(member, net)] = actions[..] else {
        panic!("{actions:?}");
    };
    assert_eq!(net.to_string(), "80.90.100.0/24");
    assert!(net.contains(&member), "{member}");

    // Block assist opens on the /24, with its safety checks.
    let fake = FakeTools::new(&["iptables"]);
    let assist = BlockAssist::new(member, fake.tools(), SafetyContext::default(), false)
        .with_scope_of(Some(net));
    d.open_block(assist);
    let lines = block_lines(&mut d, &f.model(), 160, 45);
    assert!(lines[1].contains("● its /24 80.90.100.0/24"), "{lines:#?}");

    // n cycles on: ASN, country, then one row per address again.
    keys(&mut d, &f, &[Key::Esc]);
    for title in [" ASN", " Country"] {
        keys(&mut d, &f, &[Key::Char('n')]);
        assert!(screen(&mut d, &f, 160, 45)[2].starts_with(title));
    }
    keys(&mut d, &f, &[Key::Char('n')]);
    assert!(screen(&mut d, &f, 160, 45)[2].starts_with(" IP"));
}

/// A hook on `n` (free in 0.2.0) keeps it: the hook runs, no grouping.
#[test]
fn a_hook_on_n_wins_over_grouping() {
    let f = Fixture::new();
    let mut d = Dashboard::new("web1".into(), true, vec![('n', "notes".into())]);
    screen(&mut d, &f, 160, 45);
    let actions = keys(&mut d, &f, &[Key::Char('n')]);
    assert!(
        matches!(actions[..], [Action::Hook { index: 0, .. }]),
        "{actions:?}"
    );
    assert!(!screen(&mut d, &f, 160, 45)[2].contains("Network"));
}

/// Issue 14 item 5: an address a firewall or ban engine already blocks
/// is marked `⊘` in the table (the suspicious ones keep their red), its
/// drill-down says by what, at what scope and since when, and the
/// filter form's `blocked` field keeps (yes) or hides (no) those rows.
#[test]
fn blocked_addresses_are_marked_described_and_filtered() {
    use crate::enrich::blocked::{install, BlockIndex};
    use crate::parse::blocklist::{BlockedNet, Blocker};
    let mut f = Fixture::new();
    let net = |s: &str, by, since| BlockedNet {
        net: s.parse().unwrap(),
        by,
        since,
    };
    install(
        &mut f.table,
        &BlockIndex::new(&[
            net("8.8.4.4/32", Blocker::Nft, None),
            net("8.8.0.0/16", Blocker::Crowdsec, Some(NOW - 7200)),
            net("91.198.174.0/24", Blocker::Ufw, None),
        ]),
    );
    let mut d = dashboard();
    let lines = screen(&mut d, &f, 200, 45);
    let rows = table_rows(&lines);
    let row_of = |ip: &str| {
        rows.iter()
            .find(|l| l.contains(&format!("{ip} ")))
            .unwrap_or_else(|| panic!("{ip} in {rows:#?}"))
            .clone()
    };
    assert!(row_of("8.8.4.4").starts_with("⊘8.8.4.4"), "{rows:#?}");
    assert!(row_of("91.198.174.192").starts_with("⊘91.198.174.192"));
    assert!(!row_of("45.33.32.156").starts_with('⊘'), "not blocked");

    // Only the blocked ones: `blocked` is the form's last field.
    keys(&mut d, &f, &[Key::Char('f'), Key::BackTab]);
    type_text(&mut d, &f, "yes");
    keys(&mut d, &f, &[Key::Enter]);
    let lines = screen(&mut d, &f, 200, 45);
    assert!(lines[0].contains(" blocked"), "{}", lines[0]);
    let rows = table_rows(&lines);
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert!(rows.iter().all(|r| r.starts_with('⊘')), "{rows:#?}");

    // The drill-down of 8.8.4.4 (the busiest of the two) says by what.
    let first = rows[0].clone();
    keys(&mut d, &f, &[Key::Enter]);
    let text = screen(&mut d, &f, 200, 45).join("\n");
    let want = if first.contains("8.8.4.4") {
        "blocked: by nft, crowdsec · 8.8.0.0/16 · since"
    } else {
        "blocked: by ufw · 91.198.174.0/24"
    };
    assert!(text.contains(want), "{text}");
    if first.contains("8.8.4.4") {
        assert!(
            text.contains("(2h00m ago)") || text.contains("(2h ago)"),
            "{text}"
        );
    }

    // The rest: `no` hides them.
    keys(
        &mut d,
        &f,
        &[Key::Esc, Key::Char('f'), Key::BackTab, Key::Ctrl('u')],
    );
    type_text(&mut d, &f, "no");
    keys(&mut d, &f, &[Key::Enter]);
    let lines = screen(&mut d, &f, 200, 45);
    assert!(lines[0].contains(" not-blocked"), "{}", lines[0]);
    let rows = table_rows(&lines);
    assert_eq!(rows.len(), 5, "{rows:#?}");
    assert!(rows.iter().all(|r| !r.starts_with('⊘')), "{rows:#?}");
}
