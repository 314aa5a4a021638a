use std::net::{IpAddr, SocketAddr};

use super::*;
use crate::detect::{DetectSettings, Detector};
use crate::parse::sockets::SocketEntry;
use crate::parse::AccessHit;

const T0: UnixTime = 1_000_000;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn spec(fields: FilterFields<'_>) -> FilterSpec {
    FilterSpec::parse(&fields, &FilterConfig::default()).unwrap()
}

fn errors(fields: FilterFields<'_>) -> Vec<FilterError> {
    FilterSpec::parse(&fields, &FilterConfig::default()).unwrap_err()
}

/// A table with:
/// - 8.8.8.8: 30 requests in one second (status 200), path /index, UA Mozilla
/// - 1.1.1.1: one 404 on /wp-login.php with UA "Nikto", then 25 200s (the 404
///   falls out of the recent ring)
/// - 9.9.9.9: one 503 and one 401, UA curl
/// - 5.5.5.5: only sockets: 2 SYN_RECV inbound on :443
/// - 2001:db8::1 (shown: private allowed) one 302
fn table() -> IpTable {
    let mut d = Detector::new(DetectSettings::default()).unwrap();
    let mut t = IpTable::new(100, true);
    let mut hit = |client: &str, time, path: &'static [u8], status, ua: &'static [u8]| {
        let h = AccessHit {
            peer: ip(client),
            client: ip(client),
            time: Some(time),
            method: b"GET",
            path,
            status,
            bytes: 100,
            user_agent: ua,
            forwarded_for: b"",
            client_ip_field: b"",
            host: b"",
        };
        let (applied, request) = t.apply_access(&h, time).unwrap();
        d.check_request(&mut t, applied.row, &request, &h);
    };
    for _ in 0..30 {
        hit("8.8.8.8", T0, b"/index", 200, b"Mozilla/5.0");
    }
    hit("1.1.1.1", T0 - 30, b"/wp-login.php", 404, b"Nikto");
    for _ in 0..25 {
        hit("1.1.1.1", T0 - 20, b"/ok", 200, b"Mozilla/5.0");
    }
    hit("9.9.9.9", T0, b"/api", 503, b"curl/8");
    hit("9.9.9.9", T0, b"/admin", 401, b"curl/8");
    hit("2001:db8::1", T0, b"/moved", 302, b"Mozilla/5.0");
    let sock = |remote: &str, state| SocketEntry {
        local: "10.0.0.1:443".parse::<SocketAddr>().unwrap(),
        remote: remote.parse().unwrap(),
        state,
        inode: 0,
    };
    let dump = [
        sock("0.0.0.0:0", TcpState::Listen),
        sock("5.5.5.5:4000", TcpState::SynRecv),
        sock("5.5.5.5:4001", TcpState::NewSynRecv),
        sock("8.8.8.8:5000", TcpState::Established),
    ];
    t.apply_sockets(&dump, T0, |_| {});
    t
}

/// Addresses of the rows that match, sorted.
fn matching(spec: &FilterSpec, t: &IpTable) -> Vec<String> {
    let mut ips: Vec<String> = t
        .rows()
        .filter(|r| spec.matches(r, t, None, T0))
        .map(|r| r.ip.to_string())
        .collect();
    ips.sort();
    ips
}

#[test]
fn empty_filter_matches_everything_and_is_inactive() {
    let t = table();
    let s = spec(FilterFields::default());
    assert!(!s.is_active());
    assert_eq!(matching(&s, &t).len(), 5);
    assert_eq!(s.describe(), "");
}

#[test]
fn tcp_states_are_case_insensitive_and_syn_recv_covers_both_kernel_states() {
    let t = table();
    let s = spec(FilterFields {
        states: " syn_recv ",
        ..Default::default()
    });
    assert_eq!(matching(&s, &t), ["5.5.5.5"]);
    let s = spec(FilterFields {
        states: "SYN-RECV,Established",
        ..Default::default()
    });
    assert_eq!(matching(&s, &t), ["5.5.5.5", "8.8.8.8"]);
    assert_eq!(s.describe(), "state:ESTABLISHED,SYN_RECV");
    let s = spec(FilterFields {
        states: "TIME_WAIT",
        ..Default::default()
    });
    assert!(matching(&s, &t).is_empty());
}

#[test]
fn unknown_state_names_the_field_and_token() {
    let e = errors(FilterFields {
        states: "ESTABLISHED,SYN_RCVD",
        ..Default::default()
    });
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].field, FilterField::States);
    assert_eq!(e[0].kind, FilterErrorKind::UnknownState);
    assert_eq!(e[0].token, "SYN_RCVD");
    assert_eq!(
        e[0].to_string(),
        "TCP states: unknown TCP state `SYN_RCVD` (e.g. SYN_RECV,ESTABLISHED)"
    );
}

#[test]
fn status_classes_use_session_counters() {
    let t = table();
    // 1.1.1.1's 404 fell out of the recent ring, but the 4xx counter keeps it.
    let s = spec(FilterFields {
        status: "4XX",
        ..Default::default()
    });
    assert_eq!(matching(&s, &t), ["1.1.1.1", "9.9.9.9"]);
    let s = spec(FilterFields {
        status: "400-599",
        ..Default::default()
    });
    assert_eq!(matching(&s, &t), ["1.1.1.1", "9.9.9.9"]);
    // Two ranges that together cover a class count as the class.
    let s = spec(FilterFields {
        status: "400-449, 450-499",
        ..Default::default()
    });
    assert_eq!(matching(&s, &t), ["1.1.1.1", "9.9.9.9"]);
    let s = spec(FilterFields {
        status: "3xx",
        ..Default::default()
    });
    assert_eq!(matching(&s, &t), ["2001:db8::1"]);
}

#[test]
fn exact_codes_and_partial_ranges_use_recent_requests() {
    let t = table();
    let s = spec(FilterFields {
        status: "404",
        ..Default::default()
    });
    // The documented approximation: 1.1.1.1's only 404 is older than its
    // last RECENT_REQUESTS requests.
    assert!(matching(&s, &t).is_empty());
    let s = spec(FilterFields {
        status: "401-403",
        ..Default::default()
    });
    assert_eq!(matching(&s, &t), ["9.9.9.9"]);
    let s = spec(FilterFields {
        status: "503,302",
        ..Default::default()
    });
    assert_eq!(matching(&s, &t), ["2001:db8::1", "9.9.9.9"]);
    assert_eq!(s.describe(), "status:503,302");
    let s = spec(FilterFields {
        status: "5xx,404,400-403",
        ..Default::default()
    });
    assert_eq!(s.describe(), "status:5xx,404,400-403");
}

#[test]
fn bad_status_tokens_are_errors() {
    for (input, token, kind) in [
        ("4yy", "4yy", FilterErrorKind::BadStatus),
        ("6xx", "6xx", FilterErrorKind::BadStatus),
        ("200,abc", "abc", FilterErrorKind::BadStatus),
        ("1000", "1000", FilterErrorKind::BadStatus),
        ("-5", "-5", FilterErrorKind::BadStatus),
        ("400-", "400-", FilterErrorKind::BadStatus),
        ("+200", "+200", FilterErrorKind::BadStatus),
        ("499-400", "499-400", FilterErrorKind::ReversedRange),
    ] {
        let e = errors(FilterFields {
            status: input,
            ..Default::default()
        });
        assert_eq!(e.len(), 1, "{input}");
        assert_eq!(
            (e[0].field, e[0].kind),
            (FilterField::Status, kind),
            "{input}"
        );
        assert_eq!(e[0].token, token, "{input}");
        assert!(e[0].to_string().starts_with("status codes: "), "{input}");
    }
}

#[test]
fn min_rpm_reads_the_live_window() {
    let t = table();
    let s = spec(FilterFields {
        min_rpm: "30",
        ..Default::default()
    });
    assert_eq!(matching(&s, &t), ["8.8.8.8"]);
    let s = spec(FilterFields {
        min_rpm: "2.5",
        ..Default::default()
    });
    // 1.1.1.1: 26 requests, all within the minute ending at T0.
    assert_eq!(matching(&s, &t), ["1.1.1.1", "8.8.8.8"]);
    // A minute later nothing is left in the window.
    assert!(t.rows().all(|r| !s.matches(r, &t, None, T0 + 120)));
    assert_eq!(s.describe(), "rpm≥2.5");
}

#[test]
fn bad_min_rpm_is_an_error() {
    for input in ["-1", "fast", "inf", "NaN", "1e3", "1.2.3", ".", "0x10"] {
        let e = errors(FilterFields {
            min_rpm: input,
            ..Default::default()
        });
        assert_eq!(
            (e[0].field, e[0].kind),
            (FilterField::MinRpm, FilterErrorKind::BadNumber),
            "{input}"
        );
        assert_eq!(e[0].token, input);
    }
}

#[test]
fn cidr_allow_and_deny_compose_with_config() {
    let t = table();
    let s = spec(FilterFields {
        cidr_allow: "8.0.0.0/8, 9.9.9.9 2001:db8::/32",
        cidr_deny: "9.9.9.0/24",
        ..Default::default()
    });
    assert_eq!(matching(&s, &t), ["2001:db8::1", "8.8.8.8"]);
    assert_eq!(s.describe(), "allow:3 deny:1");

    // The config's allow list narrows; typed allow cannot widen it.
    let config = FilterConfig {
        cidr_allow: vec![net("8.8.8.0/24"), net("1.1.1.0/24")],
        cidr_deny: vec![net("1.1.1.1/32")],
    };
    let only_config = FilterSpec::from_config(&config);
    assert!(!only_config.is_active());
    assert_eq!(matching(&only_config, &t), ["8.8.8.8"]);
    let fields = FilterFields {
        cidr_allow: "9.0.0.0/8,8.0.0.0/8",
        ..Default::default()
    };
    let both = FilterSpec::parse(&fields, &config).unwrap();
    assert_eq!(matching(&both, &t), ["8.8.8.8"]);
}

#[test]
fn bad_cidr_is_an_error_per_field() {
    let e = errors(FilterFields {
        cidr_allow: "10.0.0.0/8,10.0.0.0/33",
        cidr_deny: "example.com",
        states: "nope",
        ..Default::default()
    });
    let got: Vec<(FilterField, &str)> = e.iter().map(|e| (e.field, e.token.as_str())).collect();
    assert_eq!(
        got,
        [
            (FilterField::States, "nope"),
            (FilterField::CidrAllow, "10.0.0.0/33"),
            (FilterField::CidrDeny, "example.com"),
        ]
    );
    assert_eq!(
        e[2].to_string(),
        "CIDR deny: not a network or address `example.com` (e.g. 203.0.113.0/24)"
    );
}

#[test]
fn free_text_matches_ip_org_path_and_user_agent() {
    let t = table();
    let find = |text: &str| {
        matching(
            &spec(FilterFields {
                text,
                ..Default::default()
            }),
            &t,
        )
    };
    assert_eq!(find("8.8."), ["8.8.8.8"]);
    assert_eq!(find("2001:DB8"), ["2001:db8::1"]);
    assert_eq!(find("ADMIN"), ["9.9.9.9"]); // path, case-insensitive
    assert_eq!(find("curl"), ["9.9.9.9"]); // user agent
    assert_eq!(find("mozilla"), ["1.1.1.1", "2001:db8::1", "8.8.8.8"]);
    assert!(
        find("wp-login").is_empty(),
        "only recent requests are searched"
    );
    let s = spec(FilterFields {
        text: "  Hetzner ",
        ..Default::default()
    });
    assert_eq!(s.describe(), "\"hetzner\"");
    let row = t.get(ip("5.5.5.5")).unwrap();
    assert!(s.matches(row, &t, Some(b"HETZNER Online GmbH"), T0));
    assert!(!s.matches(row, &t, None, T0));
}

#[test]
fn parts_compose_with_and() {
    let t = table();
    let s = spec(FilterFields {
        status: "2xx",
        min_rpm: "20",
        text: "mozilla",
        cidr_deny: "8.8.8.8",
        ..Default::default()
    });
    assert_eq!(matching(&s, &t), ["1.1.1.1"]);
    assert!(s.is_active());
}

#[test]
fn events_filter_like_rows() {
    let t = table();
    let s = spec(FilterFields {
        status: "404",
        text: "wp-",
        cidr_allow: "1.1.1.0/24",
        ..Default::default()
    });
    let row = t.get(ip("1.1.1.1"));
    let ev = |addr: &str, status, path: &'static [u8]| EventView {
        ip: ip(addr),
        status,
        path,
        user_agent: b"Nikto",
        org: None,
    };
    assert!(s.matches_event(&ev("1.1.1.1", Some(404), b"/wp-login.php"), row, T0));
    assert!(!s.matches_event(&ev("1.1.1.1", Some(200), b"/wp-login.php"), row, T0));
    assert!(!s.matches_event(&ev("1.1.1.1", Some(404), b"/other"), row, T0));
    assert!(!s.matches_event(&ev("2.2.2.2", Some(404), b"/wp-x"), None, T0));
    // sshd events carry no status: a status filter hides them.
    assert!(!s.matches_event(&ev("1.1.1.1", None, b"/wp-x"), row, T0));
    // Text also matches the user agent, the org and the address.
    let s = spec(FilterFields {
        text: "nikto",
        ..Default::default()
    });
    assert!(s.matches_event(&ev("1.1.1.1", None, b"root"), None, T0));
    let s = spec(FilterFields {
        text: "1.1.1",
        ..Default::default()
    });
    assert!(s.matches_event(&ev("1.1.1.1", None, b"root"), None, T0));
}

#[test]
fn event_row_parts_come_from_its_row() {
    let t = table();
    let s = spec(FilterFields {
        states: "SYN_RECV",
        ..Default::default()
    });
    let ev = |addr: &str| EventView {
        ip: ip(addr),
        status: Some(200),
        path: b"/",
        user_agent: b"",
        org: None,
    };
    assert!(s.matches_event(&ev("5.5.5.5"), t.get(ip("5.5.5.5")), T0));
    assert!(!s.matches_event(&ev("8.8.8.8"), t.get(ip("8.8.8.8")), T0));
    assert!(!s.matches_event(&ev("7.7.7.7"), None, T0));
    let rpm = spec(FilterFields {
        min_rpm: "10",
        ..Default::default()
    });
    assert!(rpm.matches_event(&ev("8.8.8.8"), t.get(ip("8.8.8.8")), T0));
    assert!(!rpm.matches_event(&ev("9.9.9.9"), t.get(ip("9.9.9.9")), T0));
}

#[test]
fn error_tokens_are_cut_on_a_char_boundary() {
    let long = "é".repeat(100);
    let e = errors(FilterFields {
        states: &long,
        ..Default::default()
    });
    assert!(e[0].token.ends_with('…'));
    assert!(e[0].token.len() <= ERROR_TOKEN_MAX + '…'.len_utf8());
}

/// Naive oracle for the case-insensitive search.
fn naive_contains(hay: &[u8], needle: &[u8]) -> bool {
    let hay = hay.to_ascii_lowercase();
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn contains_ci_matches_naive_oracle() {
    let alphabet = b"aAbB-\xc3\xa9";
    let mut seed = 99u64;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize % n
    };
    for _ in 0..20_000 {
        let hay: Vec<u8> = (0..next(12))
            .map(|_| alphabet[next(alphabet.len())])
            .collect();
        let needle: Vec<u8> = (0..next(4))
            .map(|_| alphabet[next(alphabet.len())].to_ascii_lowercase())
            .collect();
        assert_eq!(
            contains_ci(&hay, &needle),
            naive_contains(&hay, &needle),
            "{hay:?} {needle:?}"
        );
    }
}

#[test]
fn hostile_input_never_panics() {
    let inputs = [
        "",
        ",",
        ",,,",
        "-",
        "--",
        "x-",
        "\u{0}",
        "\u{202e}4xx",
        "4xx-5xx",
        "99999999999999999999",
        "1.1.1.1/",
        "/24",
        "::/0",
        "é-é",
        "SYN_RECV\u{1b}[31m",
        "0-999",
    ];
    for a in inputs {
        for b in inputs {
            let fields = FilterFields {
                states: a,
                status: b,
                min_rpm: a,
                cidr_allow: b,
                cidr_deny: a,
                text: b,
                blocked: a,
            };
            match FilterSpec::parse(&fields, &FilterConfig::default()) {
                Ok(s) => {
                    let _ = s.describe();
                }
                Err(e) => assert!(e.iter().all(|e| !e.to_string().is_empty())),
            }
        }
    }
}

/// Issue 14 item 5: `blocked` keeps the rows a firewall or ban engine
/// already blocks (`yes`), the others (`no`), or all (`any`, empty); the
/// activity log follows the row of each line's address.
#[test]
fn blocked_yes_no_any_follow_the_rows_blocked_marks() {
    use crate::enrich::blocked::{install, BlockIndex};
    use crate::parse::blocklist::{BlockedNet, Blocker};
    let mut t = table();
    let blocked = |s: &str, by| BlockedNet {
        net: net(s),
        by,
        since: None,
    };
    install(
        &mut t,
        &BlockIndex::new(&[
            blocked("8.8.0.0/16", Blocker::Iptables),
            blocked("2001:db8::1/128", Blocker::Fail2ban),
        ]),
    );
    let yes = spec(FilterFields {
        blocked: " Yes ",
        ..Default::default()
    });
    assert!(yes.is_active());
    assert_eq!(yes.describe(), "blocked");
    assert_eq!(matching(&yes, &t), ["2001:db8::1", "8.8.8.8"]);
    let no = spec(FilterFields {
        blocked: "no",
        ..Default::default()
    });
    assert_eq!(no.describe(), "not-blocked");
    assert_eq!(matching(&no, &t), ["1.1.1.1", "5.5.5.5", "9.9.9.9"]);
    for any in ["any", "", "  "] {
        let s = spec(FilterFields {
            blocked: any,
            ..Default::default()
        });
        assert!(!s.is_active());
        assert_eq!(matching(&s, &t).len(), 5);
    }
    let line = EventView {
        ip: ip("8.8.8.8"),
        status: Some(200),
        path: b"/index",
        user_agent: b"",
        org: None,
    };
    let row = t.get(ip("8.8.8.8"));
    assert!(yes.matches_event(&line, row, T0));
    assert!(!no.matches_event(&line, row, T0));
    assert!(
        !yes.matches_event(&line, None, T0),
        "a line whose row is gone"
    );
    let e = errors(FilterFields {
        blocked: "maybe",
        ..Default::default()
    });
    assert_eq!(e.len(), 1);
    assert_eq!(
        (e[0].field, e[0].kind),
        (FilterField::Blocked, FilterErrorKind::BadChoice)
    );
    assert_eq!(
        e[0].to_string(),
        "blocked: not yes, no or any `maybe` (e.g. yes)"
    );
}
