use std::net::IpAddr;

use super::*;
use crate::parse::{AuthEvent, AuthKind, UnixTime};
use crate::table::MAX_STRING;
use crate::testutil::{access_hit as hit, ip};

fn detector() -> Detector {
    Detector::new(DetectSettings {
        scanner_user_agents: vec!["EvilBot/1.0 (x)".into()],
        exploit_path_patterns: vec![r"^/secret-[0-9]+$".into()],
        ..DetectSettings::default()
    })
    .unwrap()
}

#[test]
fn exploit_paths() {
    let d = detector();
    for p in [
        "/.env",
        "/app/.ENV",
        "/wp-login.php",
        "/wp-admin/setup.php",
        "/?x=${jndi:ldap://a/b}",
        "/../../etc/passwd",
        "/%2e%2e/%2E%2E%2fetc",
        "/..%2f..%2f",
        "/%252e%252e/",
        "/phpMyAdmin/",
        "/.git/config",
        "/cgi-bin/luci",
        "/shell?cd",
        "/index.aspx",
        "/login.jsp?x=1",
        "/a.cgi",
        "/secret-42",
    ] {
        assert!(d.is_exploit_path(p.as_bytes()), "{p}");
    }
    for p in [
        "/",
        "/index.html",
        "/environment/x",
        "/api/v1/users",
        "/a.asp.html",
        "/secret-42/x",
        "",
    ] {
        assert!(!d.is_exploit_path(p.as_bytes()), "{p}");
    }
}

#[test]
fn scanner_agents() {
    let d = detector();
    for ua in [
        "Mozilla/5.0 zgrab/0.x",
        "masscan/1.3",
        "Nmap Scripting Engine",
        "sqlmap/1.7",
        "EvilBot/1.0 (x) more",
    ] {
        assert!(d.is_scanner_ua(ua.as_bytes()), "{ua}");
    }
    for ua in [
        "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
        "curl/8.0",
        "EvilBot/1.0",
    ] {
        assert!(!d.is_scanner_ua(ua.as_bytes()), "{ua}");
    }
}

#[test]
fn bad_user_pattern_names_the_key() {
    let err = Detector::new(DetectSettings {
        exploit_path_patterns: vec!["(".into()],
        ..Default::default()
    });
    assert!(err.err().unwrap().starts_with("exploit_path_patterns"));
}

// ---- with the table: requests classified as the engine's line feed does ----

fn auth<'a>(client: &str, t: UnixTime, kind: AuthKind, user: &'a [u8]) -> AuthEvent<'a> {
    AuthEvent {
        kind,
        ip: ip(client),
        user,
        time: Some(t),
    }
}

/// Count a request, then classify it: the line feed's two steps.
fn access(t: &mut IpTable, d: &mut Detector, hit: &AccessHit<'_>, now: UnixTime) {
    if let Some((applied, request)) = t.apply_access(hit, now) {
        d.check_request(t, applied.row, &request, hit);
    }
}

#[test]
fn sticky_reasons_from_paths_and_agents() {
    let mut d = Detector::new(DetectSettings::default()).unwrap();
    let mut t = IpTable::new(100, false);
    access(
        &mut t,
        &mut d,
        &hit("8.8.8.8", 1000, b"/.env", 404, 0),
        1000,
    );
    access(&mut t, &mut d, &hit("8.8.8.8", 1001, b"/", 200, 0), 1000);
    let r = d.reasons(t.get(ip("8.8.8.8")).unwrap());
    assert!(r.contains(Reason::ExploitPath));
    assert!(!r.contains(Reason::ScannerUa));
}

/// Issue 9, item 2: an ssh brute forcer and a sqlmap prober, then a flood
/// of one-request IPv6 clients far past the cap. The flood evicts its own
/// rows, never the flagged ones, and the evictions are counted.
#[test]
fn a_flood_at_the_cap_evicts_unflagged_rows_first() {
    let mut d = Detector::new(DetectSettings::default()).unwrap();
    let mut t = IpTable::new(64, false);
    t.set_flagged(d.flagged_test());
    for s in 0..5 {
        t.apply_auth(&auth("8.8.4.4", 1000 + s, AuthKind::Failed, b"root"), 1000);
    }
    let mut probe = hit("9.9.9.9", 1001, b"/item?id=1", 200, 0);
    probe.user_agent = b"sqlmap/1.7.2#stable (https://sqlmap.org)";
    access(&mut t, &mut d, &probe, 1000);
    let flood = 10_000u32;
    for n in 0..flood {
        let addr = IpAddr::from([0x2a01, 0x4f8, 0, n as u16, 0, 0, 0, 1]);
        let mut h = hit("8.8.8.8", 1002 + i64::from(n / 50), b"/", 200, 0);
        h.client = addr;
        access(&mut t, &mut d, &h, 1000);
    }
    assert!(t.len() <= 64);
    for flagged in ["8.8.4.4", "9.9.9.9"] {
        let row = t
            .get(ip(flagged))
            .expect("a flagged row survives the flood");
        assert!(!d.reasons(row).is_empty(), "{flagged}");
    }
    assert_eq!(t.totals.evicted, u64::from(flood) + 2 - t.len() as u64);
    assert_eq!(t.totals.auth_failures, 5);
}

/// With nothing unflagged left, flagged rows go too, oldest first: the cap
/// holds whatever arrives.
#[test]
fn a_table_of_flagged_rows_still_holds_the_cap() {
    let mut d = Detector::new(DetectSettings::default()).unwrap();
    let mut t = IpTable::new(16, false);
    t.set_flagged(d.flagged_test());
    for n in 0..100u8 {
        let mut h = hit("8.8.8.8", 1000 + i64::from(n), b"/.env", 404, 0);
        h.client = IpAddr::from([8, 8, 9, n]);
        access(&mut t, &mut d, &h, 1000);
    }
    assert!(t.len() <= 16);
    assert!(
        t.get(IpAddr::from([8, 8, 9, 99])).is_some(),
        "the newest stays"
    );
    assert!(
        t.get(IpAddr::from([8, 8, 9, 0])).is_none(),
        "the oldest went"
    );
    assert_eq!(t.totals.evicted, 100 - t.len() as u64);
}

#[test]
fn cached_verdicts_answer_for_every_row_and_never_for_cut_strings() {
    let mut d = Detector::new(DetectSettings::default()).unwrap();
    let mut t = IpTable::new(100, false);
    // The same exploit path from two clients: the second is answered from the memo.
    access(
        &mut t,
        &mut d,
        &hit("8.8.8.8", 1000, b"/wp-login.php", 404, 0),
        1000,
    );
    access(
        &mut t,
        &mut d,
        &hit("9.9.9.9", 1000, b"/wp-login.php", 404, 0),
        1000,
    );
    assert!(d
        .reasons(t.get(ip("9.9.9.9")).unwrap())
        .contains(Reason::ExploitPath));
    // Clean path, then a long path whose probe lies past the interner's cut:
    // both share the cut text, but the long one must still be flagged.
    let clean = vec![b'a'; MAX_STRING];
    let mut long = clean.clone();
    long.extend_from_slice(b"/../../etc/passwd");
    access(&mut t, &mut d, &hit("1.1.1.1", 1000, &clean, 200, 0), 1000);
    assert!(d.reasons(t.get(ip("1.1.1.1")).unwrap()).is_empty());
    access(&mut t, &mut d, &hit("2.2.2.2", 1000, &long, 200, 0), 1000);
    assert!(d
        .reasons(t.get(ip("2.2.2.2")).unwrap())
        .contains(Reason::ExploitPath));
    access(&mut t, &mut d, &hit("3.3.3.3", 1000, &clean, 200, 0), 1000);
    assert!(
        d.reasons(t.get(ip("3.3.3.3")).unwrap()).is_empty(),
        "the long path's verdict was not cached on the cut text"
    );
}

// ---- issue 12, item 16: reasons fade after `reason_ttl` without evidence ----

const TTL: UnixTime = 3600;

/// An exploit probe at 1000, read at 1000: flagged until an hour of quiet
/// has passed on the wall clock, then not (and eviction agrees); a new
/// probe brings it back, with its age reset.
#[test]
fn a_reason_fades_after_the_ttl_and_comes_back_on_new_evidence() {
    let mut d = Detector::new(DetectSettings::default()).unwrap();
    let mut t = IpTable::new(100, false);
    let flagged = d.flagged_test();
    d.set_now(1000);
    access(
        &mut t,
        &mut d,
        &hit("8.8.8.8", 1000, b"/.env", 404, 0),
        1000,
    );
    let row = || t.get(ip("8.8.8.8")).unwrap();
    assert!(d.reasons(row()).contains(Reason::ExploitPath));
    assert_eq!(d.age(row(), Reason::ExploitPath), Some(0));

    d.set_now(1000 + TTL);
    assert!(d.reasons(row()).contains(Reason::ExploitPath), "at the TTL");
    assert_eq!(d.age(row(), Reason::ExploitPath), Some(TTL));
    assert!(flagged(row(), 1000 + TTL));

    d.set_now(1000 + TTL + 1);
    assert!(d.reasons(row()).is_empty(), "faded");
    assert!(!flagged(row(), 1000 + TTL + 1), "eviction follows");
    assert_eq!(
        d.age(row(), Reason::ExploitPath),
        Some(TTL + 1),
        "the evidence is kept"
    );

    let now = 1000 + 2 * TTL;
    d.set_now(now);
    access(
        &mut t,
        &mut d,
        &hit("8.8.8.8", now, b"/wp-login.php", 404, 0),
        now,
    );
    let row = t.get(ip("8.8.8.8")).unwrap();
    assert!(d.reasons(row).contains(Reason::ExploitPath), "back");
    assert_eq!(d.age(row, Reason::ExploitPath), Some(0));
}

/// A replayed log is judged by its own times: a scanner that goes on with
/// clean requests for longer than the TTL loses the reason even though all
/// of it was read at one wall-clock second; one that stops keeps it.
#[test]
fn a_replayed_log_fades_on_its_own_clock() {
    let mut d = Detector::new(DetectSettings::default()).unwrap();
    let mut t = IpTable::new(100, false);
    d.set_now(50_000);
    for client in ["8.8.8.8", "9.9.9.9"] {
        let mut scan = hit(client, 1000, b"/", 200, 0);
        scan.user_agent = b"masscan/1.3";
        access(&mut t, &mut d, &scan, 50_000);
    }
    for s in (1060..=1000 + TTL + 60).step_by(60) {
        access(&mut t, &mut d, &hit("8.8.8.8", s, b"/", 200, 0), 50_000);
    }
    assert!(d.reasons(t.get(ip("8.8.8.8")).unwrap()).is_empty());
    assert_eq!(
        d.age(t.get(ip("8.8.8.8")).unwrap(), Reason::ScannerUa),
        Some(TTL + 60)
    );
    assert!(d
        .reasons(t.get(ip("9.9.9.9")).unwrap())
        .contains(Reason::ScannerUa));
}

/// `reason_ttl` is read, per reason: sshd failures and a burst fade on
/// their own evidence, a socket reason never (it holds while the sockets do).
#[test]
fn auth_failures_and_burst_fade_each_on_their_own_evidence() {
    let mut d = Detector::new(DetectSettings {
        reason_ttl: 600,
        ..DetectSettings::default()
    })
    .unwrap();
    let mut t = IpTable::new(100, false);
    d.set_now(1000);
    for s in 0..3 {
        t.apply_auth(&auth("8.8.4.4", 1000 + s, AuthKind::Failed, b"root"), 1000);
    }
    for _ in 0..61 {
        access(&mut t, &mut d, &hit("8.8.4.4", 1020, b"/api", 200, 0), 1000);
    }
    let row = || t.get(ip("8.8.4.4")).unwrap();
    let both = d.reasons(row());
    assert!(both.contains(Reason::AuthFailures) && both.contains(Reason::Burst));
    assert_eq!(d.age(row(), Reason::AuthFailures), Some(18));
    assert_eq!(d.age(row(), Reason::Burst), Some(0));
    assert_eq!(d.age(row(), Reason::SynRecv), None);

    // The row's clock is its newest event (1020) plus the wall-clock time
    // since it was read (at 1000): at 1590 it reads 1610, the failures'
    // evidence (1002) is 608 s old, the burst's 590 s.
    d.set_now(1590);
    assert_eq!(d.age(row(), Reason::AuthFailures), Some(608));
    assert_eq!(d.reasons(row()), {
        let mut r = Reasons::default();
        r.insert(Reason::Burst);
        r
    });
    d.set_now(1601);
    assert!(d.reasons(row()).is_empty());
    assert_eq!(row().rate.peak(), 61, "the peak is kept");

    // One more failure: the session's count is past the threshold, and the
    // evidence is new.
    t.apply_auth(&auth("8.8.4.4", 1700, AuthKind::InvalidUser, b"x"), 1700);
    d.set_now(1700);
    let back = d.reasons(t.get(ip("8.8.4.4")).unwrap());
    assert!(back.contains(Reason::AuthFailures));
    assert!(!back.contains(Reason::Burst));
}

/// At the cap, a row whose reasons have faded is evicted like any quiet row.
#[test]
fn a_faded_row_is_no_longer_spared_by_eviction() {
    let mut d = Detector::new(DetectSettings::default()).unwrap();
    let mut t = IpTable::new(16, false);
    t.set_flagged(d.flagged_test());
    access(
        &mut t,
        &mut d,
        &hit("9.9.9.9", 1000, b"/.env", 404, 0),
        1000,
    );
    access(
        &mut t,
        &mut d,
        &hit("9.9.9.8", 1000, b"/.env", 404, 0),
        1000,
    );
    let later = 1000 + TTL + 1;
    // The second prober probes again, later: it stays flagged.
    access(
        &mut t,
        &mut d,
        &hit("9.9.9.8", later, b"/.git/x", 404, 0),
        later,
    );
    for n in 0..100u8 {
        let mut h = hit("8.8.8.8", later + i64::from(n), b"/", 200, 0);
        h.client = IpAddr::from([8, 8, 9, n]);
        access(&mut t, &mut d, &h, later + i64::from(n));
    }
    assert!(t.get(ip("9.9.9.9")).is_none(), "faded: evicted first");
    assert!(t.get(ip("9.9.9.8")).is_some(), "still flagged: spared");
}

// ---- issue 12, item 17: static assets count a quarter in the burst rate ----

#[test]
fn static_assets_are_told_by_their_last_extension() {
    let d = Detector::new(DetectSettings::default()).unwrap();
    let is_asset = |p: &str| is_static_asset(&d.static_extensions, p.as_bytes());
    for p in [
        "/app.css",
        "/js/app.min.JS?v=3.2",
        "/img/logo.PNG#top",
        "/fonts/x.woff2",
        "/favicon.ico",
        "/a.js.map",
        "/a.jpeg?x=/y.php",
    ] {
        assert!(is_asset(p), "{p}");
    }
    for p in [
        "/",
        "",
        "/index.html",
        "/search?q=a.css",
        "/style.css/",
        "/v1.2/users",
        "/style.css.php",
        "/x.cssx",
        "/file.",
    ] {
        assert!(!is_asset(p), "{p}");
    }
    let none = Detector::new(DetectSettings {
        static_extensions: Vec::new(),
        ..DetectSettings::default()
    })
    .unwrap();
    assert!(!is_static_asset(&none.static_extensions, b"/app.css"));
}

/// The issue's visitor: 12 pages with their assets (71 requests) in 30 s.
fn visit(t: &mut IpTable, d: &mut Detector, client: &str, start: UnixTime) -> usize {
    let assets: [&[u8]; 5] = [
        b"/css/site.css?v=7",
        b"/js/app.js",
        b"/img/hero.JPG",
        b"/fonts/inter.woff2",
        b"/favicon.ico",
    ];
    let mut sent = 0;
    for page in 0..12 {
        let second = start + page * 30 / 12;
        access(t, d, &hit(client, second, b"/blog/post", 200, 0), second);
        sent += 1;
        let n = if page < 11 { 5 } else { 4 };
        for asset in &assets[..n] {
            access(t, d, &hit(client, second, asset, 200, 0), second);
            sent += 1;
        }
    }
    sent
}

/// Counted in full, the visitor's 71 requests are over the default 60 a
/// minute; with assets at a quarter they are 12 + 59 / 4. A client
/// hammering one page at the same pace is a burst.
#[test]
fn a_visitor_loading_pages_is_no_burst_but_a_hammering_client_is() {
    let mut d = Detector::new(DetectSettings::default()).unwrap();
    let mut t = IpTable::new(100, false);
    let start = 6000; // the start of a minute: one window holds all
    assert_eq!(visit(&mut t, &mut d, "8.8.8.8", start), 71);
    let visitor = t.get(ip("8.8.8.8")).unwrap();
    assert_eq!(visitor.rate.peak(), 71, "peak_rpm counts every request");
    assert!(d.reasons(visitor).is_empty(), "{:?}", d.reasons(visitor));

    for n in 0..71 {
        let second = start + n * 30 / 71;
        access(
            &mut t,
            &mut d,
            &hit("9.9.9.9", second, b"/search?q=x", 200, 0),
            second,
        );
    }
    assert!(d
        .reasons(t.get(ip("9.9.9.9")).unwrap())
        .contains(Reason::Burst));

    // Without the rule (no static extensions), the visitor is a burst.
    let mut d = Detector::new(DetectSettings {
        static_extensions: Vec::new(),
        ..DetectSettings::default()
    })
    .unwrap();
    let mut t = IpTable::new(100, false);
    visit(&mut t, &mut d, "8.8.8.8", start);
    assert!(d
        .reasons(t.get(ip("8.8.8.8")).unwrap())
        .contains(Reason::Burst));
}

/// Issue 12 item 4: a row the detector flags keeps `max_log_entries_per_ip`
/// requests (a probe, a scanner, a burst, sshd failures at the threshold);
/// an unflagged one keeps 20.
#[test]
fn flagged_rows_keep_max_log_entries_per_ip() {
    let mut t = IpTable::new(100, false);
    t.set_max_recent(100);
    let mut d = detector();
    for k in 0..150 {
        let at = 1000 + k * 10; // 6 a minute: no burst
        access(&mut t, &mut d, &hit("8.8.8.8", at, b"/", 200, 1), at);
        let path: &[u8] = if k == 0 { b"/.env" } else { b"/" };
        access(&mut t, &mut d, &hit("9.9.9.9", at, path, 200, 1), at);
    }
    let kept = |t: &IpTable, a: &str| t.get(ip(a)).unwrap().recent.len();
    assert_eq!(kept(&t, "8.8.8.8"), crate::table::RECENT_REQUESTS);
    assert_eq!(kept(&t, "9.9.9.9"), 100, "a probe widens its row");

    for s in 0..3 {
        let applied = t.apply_auth(&auth("4.4.4.4", 1000 + s, AuthKind::Failed, b"root"), 1000);
        d.check_auth(&mut t, applied.unwrap().row);
    }
    for k in 0..150 {
        access(
            &mut t,
            &mut d,
            &hit("4.4.4.4", 2000 + k * 10, b"/", 200, 1),
            2000 + k * 10,
        );
    }
    assert_eq!(kept(&t, "4.4.4.4"), 100, "a brute forcer's row is wide");
}

/// Issue 14 item 2: a login accepted after `min_auth_failures` failures is
/// a breach (one typo is not); it comes first among the reasons and never
/// fades, whatever `reason_ttl`.
#[test]
fn a_login_after_failures_is_a_breach_that_never_fades() {
    let mut d = Detector::new(DetectSettings {
        reason_ttl: 60,
        ..DetectSettings::default()
    })
    .unwrap();
    let mut t = IpTable::new(100, false);
    for (client, failures) in [("8.8.4.4", 3), ("9.9.9.9", 1)] {
        for s in 0..failures {
            t.apply_auth(&auth(client, 1000 + s, AuthKind::Failed, b"root"), 1000);
        }
        t.apply_auth(&auth(client, 1010, AuthKind::Accepted, b"root"), 1000);
    }
    assert!(d.check_accepted(&mut t, ip("8.8.4.4"), 1010, 3));
    assert!(!d.check_accepted(&mut t, ip("9.9.9.9"), 1010, 1), "a typo");
    assert!(!d.check_accepted(&mut t, ip("1.1.1.1"), 1010, 5), "no row");
    let codes = |d: &Detector, t: &IpTable, client| {
        d.reasons(t.get(ip(client)).unwrap())
            .iter()
            .map(Reason::code)
            .collect::<Vec<_>>()
    };
    d.set_now(1000);
    assert_eq!(codes(&d, &t, "8.8.4.4"), ["breach", "auth_failures"]);
    assert!(codes(&d, &t, "9.9.9.9").is_empty());
    d.set_now(1_000_000);
    assert_eq!(codes(&d, &t, "8.8.4.4"), ["breach"], "breach stays");
    let row = t.get(ip("8.8.4.4")).unwrap();
    assert_eq!(row.breach_time(), Some(1010));
    assert!(
        d.flagged_test()(row, 1_000_000),
        "never evicted as unflagged"
    );
}
