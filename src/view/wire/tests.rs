use super::*;

/// A string as the contract writes it.
fn json(text: &[u8]) -> String {
    let mut line = Vec::new();
    write_line(&mut line, &Text(text)).unwrap();
    line.pop();
    String::from_utf8(line).unwrap()
}

#[test]
fn json_strings_escape_everything_dangerous() {
    let s = json(b"a\"b\\c\n\x1b[31m\x00\xff\xfe\xe2\x80\xa8end");
    assert_eq!(s, r#""a\"b\\c\n\u001b[31m\u0000��\u2028end""#);
    let parsed: String = serde_json::from_str(&s).unwrap();
    assert!(parsed.starts_with("a\"b\\c\n\u{1b}"));
}

#[test]
fn every_control_is_a_unicode_escape() {
    assert_eq!(
        json(b"\x08\x0c\x7f\xc2\x85\xe2\x80\xa9/"),
        r#""\u0008\u000c\u007f\u0085\u2029/""#
    );
}

#[test]
fn rates_print_as_rust_prints_them() {
    let mut line = Vec::new();
    for (rate, want) in [
        (0.0, "0"),
        (1.5, "1.5"),
        (2.0 / 3.0, "0.67"),
        (1e6, "1000000"),
    ] {
        write_line(&mut line, &Rate(rate)).unwrap();
        assert_eq!(line, format!("{want}\n").into_bytes(), "{rate}");
    }
}

/// The wire types against the oracle (serde_json with the formatter that
/// wrote them before issue 13 item 2), on hostile text.
mod against_the_oracle {
    use std::net::IpAddr;

    use super::super::events::{self, Header};
    use super::super::json::tests::same;
    use super::*;
    use crate::detect::{DetectSettings, Detector};
    use crate::headless::SourceReport;
    use crate::net::{GeoInfo, WhoisInfo};
    use crate::parse::AccessHit;
    use crate::view::groups::{GroupBy, Grouper};

    const NOW: UnixTime = 1_795_628_512;

    /// Text from outside at its worst: every byte, invalid UTF-8, the
    /// JavaScript line separators, an escape sequence, and length.
    fn hostile(n: usize) -> Vec<u8> {
        let mut text: Vec<u8> = (0..=255u8).cycle().skip(n % 256).take(256 + n).collect();
        text.extend_from_slice("\u{2028}\u{2029}\u{85}\x1b[2J\"\\/${jndi:x}".as_bytes());
        text.extend_from_slice(&b"Mozilla/5.0 ".repeat(n % 40));
        text
    }

    fn ip(n: usize) -> IpAddr {
        if n.is_multiple_of(5) {
            format!("2001:db8::{n:x}").parse().unwrap()
        } else {
            format!("198.51.{}.{}", n / 250, 1 + n % 250)
                .parse()
                .unwrap()
        }
    }

    /// Rows with hostile paths, agents, methods, whois and GeoIP text.
    fn table(detector: &mut Detector) -> IpTable {
        let mut table = IpTable::new(1000, false);
        for n in 0..300 {
            let (path, agent) = (hostile(n), hostile(n * 7 + 3));
            let method: &[u8] = [&b"GET"[..], b"P\x00ST", b"\xff\xfe", b""][n % 4];
            let hit = AccessHit {
                peer: ip(n),
                client: ip(n),
                time: Some(NOW - (n as i64 % 90)),
                method,
                path: if n % 11 == 0 { b"/.env" } else { &path },
                status: [200, 404, 0, 503, 101, 302][n % 6],
                bytes: (n as u64).pow(5),
                user_agent: if n % 13 == 0 { b"sqlmap/1.7" } else { &agent },
                forwarded_for: b"",
                client_ip_field: b"",
                host: b"",
            };
            if let Some((applied, request)) = table.apply_access(&hit, NOW) {
                detector.check_request(&mut table, applied.row, &request, &hit);
            }
            let text = |k: usize| Some(String::from_utf8_lossy(&hostile(n + k)).into_owned());
            if n % 3 == 0 {
                table.set_whois(
                    ip(n),
                    WhoisInfo {
                        network: text(1),
                        cidr: None,
                        org: text(2),
                        country: Some("DE".into()),
                        abuse: text(3),
                    },
                );
            }
            if let Some(row) = table.get_mut(ip(n)).filter(|_| n % 4 == 0) {
                row.geo = Some(Box::new(GeoInfo {
                    country: text(4),
                    city: if n % 8 == 0 { text(5) } else { None },
                    asn: Some(n as u32 * 1000),
                    org: text(6),
                }));
            }
        }
        table
    }

    fn history(n: u64) -> Option<HistoryFigures> {
        n.is_multiple_of(2).then_some(HistoryFigures {
            sessions: n,
            first_seen: NOW - 86_400 * n as i64,
            requests: n * n,
            bytes: u64::MAX - n,
            auth_failures: n % 3,
            suspicious_sessions: 1,
        })
    }

    #[test]
    fn ip_and_group_objects() {
        let mut detector = Detector::new(DetectSettings::default()).unwrap();
        let table = table(&mut detector);
        let mut line = Vec::new();
        let mut suspicious = 0;
        for (n, row) in table.rows().enumerate() {
            let ages = detector.reason_ages(row);
            suspicious += usize::from(!ages.reasons().is_empty());
            let object = IpObject::new(&table, row, NOW, ages, history(n as u64));
            let want = same(&object);
            write_line(&mut line, &object).unwrap();
            assert_eq!(line, format!("{want}\n").into_bytes());
        }
        assert!(table.rows().count() > 200, "{}", table.rows().count());
        assert!(suspicious > 0);
        let mut grouper = Grouper::default();
        for by in [GroupBy::Net, GroupBy::Asn, GroupBy::Country] {
            for group in grouper.group_table(&table, &detector, by, NOW) {
                same(&GroupObject::new(group));
            }
        }
    }

    #[test]
    fn summaries() {
        let text = |n| String::from_utf8_lossy(&hostile(n)).into_owned();
        let sources: Vec<SourceReport> = (0..4)
            .map(|n| SourceReport {
                path: text(n),
                kind: "access",
                format: text(n + 9),
                lines: u64::MAX >> n,
                malformed: n as u64,
                error: (n % 2 == 0).then(|| text(n + 1)),
                note: (n % 3 == 0).then(|| text(n + 2)),
            })
            .collect();
        let interface = text(5);
        for (n, rate) in [0.0, 1.5, 1e-7, 2.0 / 3.0, 1e15, f64::NAN]
            .into_iter()
            .enumerate()
        {
            same(&Summary {
                kind: "summary",
                schema_version: SCHEMA_VERSION,
                ips: n,
                evicted: u64::MAX,
                connections: 0,
                requests: 1,
                bytes: 2,
                auth_failures: 3,
                lines: 4,
                malformed: 5,
                auth_lines: 6,
                req_per_sec: Rate(rate),
                new_conns_per_sec: Rate(-rate),
                started: Rfc3339(NOW),
                ended: Rfc3339(i64::MAX),
                history_saved: [None, Some(true), Some(false)][n % 3],
                vnstat: VnstatMonth {
                    interface: &interface,
                    month: (n % 2 == 0).then(|| "2026-12".into()),
                    rx: Some(n as u64),
                    tx: None,
                    note: (n % 2 == 1).then_some(interface.as_str()),
                },
                sources: Sources(&sources[..n % 5]),
            });
        }
    }

    #[test]
    fn event_lines() {
        let mut detector = Detector::new(DetectSettings::default()).unwrap();
        let table = table(&mut detector);
        let text = |n| String::from_utf8_lossy(&hostile(n)).into_owned();
        let host = text(1);
        let header = || Header {
            time: NOW,
            host: &host,
        };
        let (tool, error) = (text(2), text(3));
        for (n, row) in table.rows().enumerate().step_by(7) {
            let reasons = detector.reasons(row);
            same(&events::Suspicious::new(header(), row, reasons, reasons));
            same(&events::Cleared::new(header(), row.ip, reasons, reasons));
            let user = hostile(n);
            same(&events::Auth::new(header(), row, &user, n as u64));
            let blocked = events::Blocked::new(header(), row.ip, text(n), &tool);
            same(&blocked);
            same(&blocked.not_done("failed", &error));
            same(&events::Source::new(header(), "access", &tool, None));
            same(&events::Source::new(header(), "auth", &tool, Some(&error)));
        }
    }
}
