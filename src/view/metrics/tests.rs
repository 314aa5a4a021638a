use std::net::SocketAddr;

use super::*;
use crate::detect::DetectSettings;
use crate::parse::sockets::{SocketEntry, TcpState};
use crate::parse::AccessHit;
use crate::testutil::ip;

const T0: i64 = 1_800_000_000;

fn source(path: &str, kind: &'static str, lines: u64, error: Option<&str>) -> SourceReport {
    SourceReport {
        path: path.into(),
        kind,
        format: String::new(),
        lines,
        malformed: lines / 10,
        error: error.map(String::from),
        note: None,
    }
}

/// A scanner (Nikto, 2 requests), a visitor (1 request, ESTABLISHED), a
/// half-open SYN flooder, and an outbound socket.
fn scene() -> (IpTable, Detector) {
    let mut d = Detector::new(DetectSettings::default()).unwrap();
    let mut t = IpTable::new(100, false);
    let mut hit = |client: &str, ua: &'static [u8]| {
        let h = AccessHit {
            peer: ip(client),
            client: ip(client),
            time: Some(T0),
            method: b"GET",
            path: b"/",
            status: 200,
            bytes: 100,
            user_agent: ua,
            forwarded_for: b"",
            client_ip_field: b"",
            host: b"",
        };
        let (applied, request) = t.apply_access(&h, T0).unwrap();
        d.check_request(&mut t, applied.row, &request, &h);
    };
    hit("1.1.1.1", b"Nikto/2.5");
    hit("1.1.1.1", b"Nikto/2.5");
    hit("8.8.8.8", b"Mozilla/5.0");
    let sock = |local: &str, remote: &str, state| SocketEntry {
        local: local.parse::<SocketAddr>().unwrap(),
        remote: remote.parse().unwrap(),
        state,
        inode: 0,
    };
    let dump = [
        sock("0.0.0.0:443", "0.0.0.0:0", TcpState::Listen),
        sock("10.0.0.1:443", "8.8.8.8:5000", TcpState::Established),
        sock("10.0.0.1:443", "5.5.5.5:4000", TcpState::SynRecv),
        sock("10.0.0.1:443", "5.5.5.5:4001", TcpState::NewSynRecv),
        sock("10.0.0.1:443", "5.5.5.5:4002", TcpState::SynRecv),
        sock("10.0.0.1:40000", "9.9.9.9:53", TcpState::TimeWait),
    ];
    t.apply_sockets(&dump, T0, |_| {});
    d.set_now(T0);
    (t, d)
}

fn rendered(t: &IpTable, d: &Detector, sources: &[SourceReport]) -> String {
    let mut out = b"left over from the last write".to_vec();
    let snapshot = Snapshot {
        table: t,
        detector: d,
        sources,
    };
    render(&mut out, &snapshot).unwrap();
    String::from_utf8(out).unwrap()
}

/// The sample lines (not comments), for comparing values.
fn samples(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with('#')).collect()
}

#[test]
fn every_number_is_the_one_the_screen_and_the_summary_show() {
    let (t, d) = scene();
    let sources = [
        source("/var/log/nginx/access.log", "access", 40, None),
        source("/var/log/auth.log", "auth", 7, Some("permission denied")),
    ];
    let text = rendered(&t, &d, &sources);
    let version = env!("CARGO_PKG_VERSION");
    let expected = [
        format!("nethergaze_build_info{{version=\"{version}\"}} 1"),
        "nethergaze_requests_total 3".into(),
        "nethergaze_response_bytes_total 300".into(),
        "nethergaze_lines_read_total{kind=\"access\"} 40".into(),
        "nethergaze_lines_read_total{kind=\"auth\"} 7".into(),
        "nethergaze_malformed_lines_total 4".into(),
        "nethergaze_auth_failures_total 0".into(),
        "nethergaze_tracked_addresses 4".into(),
        "nethergaze_evicted_addresses_total 0".into(),
    ];
    let got = samples(&text);
    assert_eq!(got[..expected.len()], expected, "{text}");
    for line in [
        "nethergaze_suspicious_addresses{reason=\"syn_recv\"} 1",
        "nethergaze_suspicious_addresses{reason=\"scanner_ua\"} 1",
        "nethergaze_suspicious_addresses{reason=\"burst\"} 0",
        "nethergaze_suspicious_addresses{reason=\"auth_failures\"} 0",
        "nethergaze_suspicious_addresses_any 2",
        "nethergaze_connections 4",
        "nethergaze_sockets{direction=\"in\",state=\"ESTABLISHED\"} 1",
        "nethergaze_sockets{direction=\"in\",state=\"SYN_RECV\"} 3",
        "nethergaze_sockets{direction=\"in\",state=\"LISTEN\"} 0",
        "nethergaze_sockets{direction=\"out\",state=\"TIME_WAIT\"} 1",
        "nethergaze_sockets{direction=\"out\",state=\"ESTABLISHED\"} 0",
        "nethergaze_source_up{source=\"/var/log/nginx/access.log\",kind=\"access\"} 1",
        "nethergaze_source_up{source=\"/var/log/auth.log\",kind=\"auth\"} 0",
    ] {
        assert!(got.contains(&line), "{line} not in\n{text}");
    }
    // The same definitions as the header and the JSON summary.
    assert_eq!(t.connections(), 4);
    let flagged = t.rows().filter(|r| !d.reasons(r).is_empty()).count();
    assert_eq!(flagged, 2);
    // One reason per known code, in the contract's order.
    let reasons: Vec<&str> = got
        .iter()
        .filter_map(|l| l.strip_prefix("nethergaze_suspicious_addresses{reason=\""))
        .map(|l| l.split('"').next().unwrap())
        .collect();
    let codes: Vec<&str> = Reason::ALL.iter().map(|r| r.code()).collect();
    assert_eq!(reasons, codes);
}

#[test]
fn each_metric_has_help_and_type_before_its_samples_and_counters_end_in_total() {
    let (t, d) = scene();
    let text = rendered(&t, &d, &[source("a", "access", 1, None)]);
    let mut declared: Vec<(&str, &str)> = Vec::new();
    let mut last_help = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            last_help = rest.split(' ').next();
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert_eq!(last_help, Some(name), "HELP right before TYPE: {line}");
            assert!(!declared.iter().any(|(n, _)| *n == name), "{name} twice");
            assert_eq!(kind == "counter", name.ends_with("_total"), "{line}");
            declared.push((name, kind));
        } else {
            let name = line.split(['{', ' ']).next().unwrap();
            assert_eq!(declared.last().map(|d| d.0), Some(name), "{line}");
            assert!(name.starts_with("nethergaze_"), "{line}");
        }
    }
    assert!(text.ends_with('\n'));
    assert!(!text.contains("left over"), "the buffer is cleared");
}

#[test]
fn label_values_escape_backslash_quote_and_newline_and_keep_the_rest() {
    let mut out = Vec::new();
    label_value(&mut out, "/var/log/we\"ird\\name\nnext\tline é").unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "\"/var/log/we\\\"ird\\\\name\\nnext\tline é\""
    );
    let (t, d) = scene();
    let sources = [
        source("/logs/a\"b\nc", "access", 1, None),
        source("/logs/a\"b\nc", "access", 1, None), // listed twice: one series
        source("/logs/a\"b\nc", "auth", 1, None),
    ];
    let text = rendered(&t, &d, &sources);
    let up: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("nethergaze_source_up"))
        .collect();
    assert_eq!(
        up,
        [
            "nethergaze_source_up{source=\"/logs/a\\\"b\\nc\",kind=\"access\"} 1",
            "nethergaze_source_up{source=\"/logs/a\\\"b\\nc\",kind=\"auth\"} 1",
        ]
    );
}
