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
