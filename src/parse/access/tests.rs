//! Access parser tests: real lines field by field, hostile lines, and the fast
//! path against naive oracles (a regex for text formats, serde_json for Caddy).

use std::net::IpAddr;

use ipnet::IpNet;
use regex_automata::meta::Regex;

use super::*;
use crate::parse::time::parse_clf;
use crate::testutil::Rng;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn parser(spec: &str) -> AccessParser {
    AccessParser::new(spec, Vec::new()).unwrap()
}

fn parse<'a>(spec: &str, line: &'a [u8]) -> Result<(AccessHit<'a>, FormatKind), Malformed> {
    parser(spec).parse_own(line)
}

/// `parse` with a scratch buffer of its own, so a hit outlives the call like
/// the line it borrows. The buffer is leaked: a few bytes a call, in tests.
trait ParseOwn {
    fn parse_own<'a>(&self, line: &'a [u8]) -> Result<(AccessHit<'a>, FormatKind), Malformed>;
}

impl ParseOwn for AccessParser {
    fn parse_own<'a>(&self, line: &'a [u8]) -> Result<(AccessHit<'a>, FormatKind), Malformed> {
        self.parse(line, Box::leak(Box::default()))
    }
}

const NGINX_COMBINED: &[u8] = b"203.0.113.9 - - [25/Nov/2026:17:41:52 +0000] \"GET /index.html?q=1 HTTP/1.1\" 200 612 \"https://example.com/\" \"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36\"";
const APACHE_COMMON: &[u8] =
    b"192.0.2.4 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326";
const APACHE_VHOST: &[u8] = b"www.example.com:443 198.51.100.3 - - [25/Nov/2026:18:41:52 +0100] \"POST /wp-login.php HTTP/1.1\" 302 5612 \"https://www.example.com/wp-login.php\" \"Mozilla/5.0 (Windows NT 10.0)\"";

#[test]
fn nginx_combined_field_by_field() {
    for spec in ["auto", "combined"] {
        let (hit, kind) = parse(spec, NGINX_COMBINED).unwrap();
        assert_eq!(kind, FormatKind::Combined);
        assert_eq!(hit.peer, ip("203.0.113.9"));
        assert_eq!(hit.client, hit.peer);
        assert_eq!(hit.time, parse_clf(b"25/Nov/2026:17:41:52 +0000"));
        assert_eq!(hit.time, Some(1_795_628_512));
        assert_eq!(hit.method, b"GET");
        assert_eq!(hit.path, b"/index.html?q=1");
        assert_eq!(hit.status, 200);
        assert_eq!(hit.bytes, 612);
        assert_eq!(
            hit.user_agent,
            b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"
        );
        assert_eq!(hit.forwarded_for, b"");
        assert_eq!(hit.client_ip_field, b"");
        assert_eq!(hit.host, b"");
    }
}

#[test]
fn apache_common_is_common_everywhere() {
    for spec in ["auto", "combined", "common"] {
        let (hit, kind) = parse(spec, APACHE_COMMON).unwrap();
        assert_eq!(kind, FormatKind::Common, "{spec}");
        assert_eq!(hit.peer, ip("192.0.2.4"));
        assert_eq!(hit.time, parse_clf(b"10/Oct/2000:20:55:36 +0000"));
        assert_eq!(
            (hit.method, hit.path),
            (&b"GET"[..], &b"/apache_pb.gif"[..])
        );
        assert_eq!((hit.status, hit.bytes), (200, 2326));
        assert_eq!(hit.user_agent, b"");
    }
    // `common` reads a combined line and ignores what follows the bytes.
    let (hit, kind) = parse("common", NGINX_COMBINED).unwrap();
    assert_eq!(
        (kind, hit.bytes, hit.user_agent),
        (FormatKind::Common, 612, &b""[..])
    );
}

#[test]
fn apache_vhost_combined_field_by_field() {
    for spec in ["auto", "vhost_combined"] {
        let (hit, kind) = parse(spec, APACHE_VHOST).unwrap();
        assert_eq!(kind, FormatKind::VhostCombined);
        assert_eq!(hit.peer, ip("198.51.100.3"));
        assert_eq!(hit.host, b"www.example.com");
        assert_eq!(hit.time, Some(1_795_628_512));
        assert_eq!(
            (hit.method, hit.path),
            (&b"POST"[..], &b"/wp-login.php"[..])
        );
        assert_eq!((hit.status, hit.bytes), (302, 5612));
        assert_eq!(hit.user_agent, b"Mozilla/5.0 (Windows NT 10.0)");
    }
    assert_eq!(
        parse("combined", APACHE_VHOST).unwrap_err(),
        Malformed::ClientNotIp
    );
    let v6_vhost =
        b"::1:80 2001:db8::7 - - [25/Nov/2026:17:41:52 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"";
    let (hit, kind) = parse("auto", v6_vhost).unwrap();
    assert_eq!(
        (hit.peer, kind),
        (ip("2001:db8::7"), FormatKind::VhostCombined)
    );
    let bad = b"example.com:80 not-an-ip - - [25/Nov/2026:17:41:52 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"";
    assert_eq!(parse("auto", bad).unwrap_err(), Malformed::ClientNotIp);
}

#[test]
fn ipv6_and_mapped_clients() {
    let line = b"2001:db8::1 - - [25/Nov/2026:17:41:52 +0000] \"GET / HTTP/2.0\" 204 - \"-\" \"-\"";
    let (hit, kind) = parse("auto", line).unwrap();
    assert_eq!(
        (hit.peer, kind, hit.bytes),
        (ip("2001:db8::1"), FormatKind::Combined, 0)
    );
    let mapped = b"::ffff:1.2.3.4 - - [25/Nov/2026:17:41:52 +0000] \"GET / HTTP/1.1\" 200 5";
    assert_eq!(parse("auto", mapped).unwrap().0.peer, ip("1.2.3.4"));
    assert!(parse("auto", mapped).unwrap().0.peer.is_ipv4());
}

#[test]
fn tls_garbage_and_dash_requests_are_requests() {
    let escaped = br#"45.155.205.1 - - [25/Nov/2026:17:41:52 +0000] "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" 400 157 "-" "-""#;
    let (hit, kind) = parse("auto", escaped).unwrap();
    assert_eq!(kind, FormatKind::Combined);
    assert_eq!(hit.method, b"");
    assert_eq!(hit.path, br"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");
    assert_eq!((hit.status, hit.bytes), (400, 157));
    assert_eq!(hit.user_agent, b"");

    let raw = b"45.155.205.1 - - [25/Nov/2026:17:41:52 +0000] \"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\" 400 157 \"-\" \"-\"";
    let (hit, _) = parse("auto", raw).unwrap();
    assert_eq!(hit.path, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");

    let dash = b"45.155.205.1 - - [25/Nov/2026:17:41:52 +0000] \"-\" 400 0 \"-\" \"-\"";
    let (hit, _) = parse("combined", dash).unwrap();
    assert_eq!(
        (hit.method, hit.path, hit.status),
        (&b""[..], &b""[..], 400)
    );

    let short = b"45.155.205.1 - - [25/Nov/2026:17:41:52 +0000] \"GET\" 400 0 \"-\" \"-\"";
    assert_eq!(parse("auto", short).unwrap().0.method, b"GET");
    let probe = b"45.155.205.1 - - [25/Nov/2026:17:41:52 +0000] \"SSH-2.0-Go\" 400 0 \"-\" \"-\"";
    assert_eq!(parse("auto", probe).unwrap().0.path, b"SSH-2.0-Go");
}

#[test]
fn escaped_quotes_belong_to_the_field() {
    let line = br#"10.1.2.3 - - [25/Nov/2026:17:41:52 +0000] "GET /a\"b HTTP/1.1" 200 3 "-" "ua \"quoted\" \\""#;
    let (hit, _) = parse("auto", line).unwrap();
    assert_eq!(hit.path, br#"/a\"b"#);
    assert_eq!(hit.user_agent, br#"ua \"quoted\" \\"#);
}

#[test]
fn non_ip_clients_are_malformed() {
    for client in ["localhost", "-", "1.2.3.4.5", "[::1]", "1.2.3.4:80", ""] {
        let line = format!(
            "{client} - - [25/Nov/2026:17:41:52 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\""
        );
        assert_eq!(
            parse("auto", line.as_bytes()).unwrap_err(),
            Malformed::ClientNotIp,
            "{client}"
        );
    }
}

#[test]
fn truncated_nul_crlf_and_invalid_utf8() {
    for end in 0..NGINX_COMBINED.len() {
        let cut = &NGINX_COMBINED[..end];
        match parse("auto", cut) {
            // Cut right after the bytes field: a complete common line.
            Ok((hit, kind)) => {
                assert_eq!(kind, FormatKind::Common, "{end}");
                assert!([6, 61, 612].contains(&hit.bytes), "{end}");
            }
            Err(e) => assert!(
                matches!(e, Malformed::Shape | Malformed::ClientNotIp),
                "{end}"
            ),
        }
    }
    let mut crlf = NGINX_COMBINED.to_vec();
    crlf.extend_from_slice(b"\r");
    assert_eq!(
        parse("auto", &crlf).unwrap().0.user_agent,
        parse("auto", NGINX_COMBINED).unwrap().0.user_agent
    );
    let mut common_crlf = APACHE_COMMON.to_vec();
    common_crlf.extend_from_slice(b"\r");
    assert_eq!(parse("auto", &common_crlf).unwrap().0.bytes, 2326);

    let nul = b"1.2.3.4 - - [25/Nov/2026:17:41:52 +0000] \"GET /\x00\xff\xfe HTTP/1.1\" 200 1 \"\x00\" \"\xc3\x28\"";
    let (hit, _) = parse("auto", nul).unwrap();
    assert_eq!(
        (hit.path, hit.user_agent),
        (&b"/\x00\xff\xfe"[..], &b"\xc3\x28"[..])
    );
    assert_eq!(
        parse("auto", b"\x00\x00\x00").unwrap_err(),
        Malformed::Shape
    );
    assert_eq!(parse("auto", b"").unwrap_err(), Malformed::Shape);
    assert_eq!(parse("json", b"").unwrap_err(), Malformed::Shape);
}

#[test]
fn trailing_fields_are_ignored() {
    let mut line = NGINX_COMBINED.to_vec();
    line.extend_from_slice(b" \"198.51.100.1\" 0.004 extra \"stuff");
    let (hit, kind) = parse("auto", &line).unwrap();
    assert_eq!(kind, FormatKind::Combined);
    assert_eq!(
        hit.user_agent,
        b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"
    );
}

const MAIN_EXT: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for" rt=$request_time uct="$upstream_connect_time" urt="$upstream_response_time" $host"#;

#[test]
fn custom_format_with_forwarded_for_and_request_time() {
    let p = parser(MAIN_EXT);
    assert_eq!(p.spec_name(), "custom");
    let line = br#"10.0.0.5 - alice [25/Nov/2026:17:41:52 +0000] "PUT /api/v1/items/7 HTTP/2.0" 201 48 "-" "okhttp/4.12" "198.51.100.23, 10.0.0.9" rt=0.004 uct="0.001, 0.000" urt="0.002, 0.004" api.example.com"#;
    let (hit, kind) = p.parse_own(line).unwrap();
    assert_eq!(kind, FormatKind::Custom);
    assert_eq!(hit.peer, ip("10.0.0.5"));
    assert_eq!(hit.client, hit.peer, "no trusted proxies configured");
    assert_eq!(
        (hit.method, hit.path),
        (&b"PUT"[..], &b"/api/v1/items/7"[..])
    );
    assert_eq!((hit.status, hit.bytes), (201, 48));
    assert_eq!(hit.user_agent, b"okhttp/4.12");
    assert_eq!(hit.forwarded_for, b"198.51.100.23, 10.0.0.9");
    assert_eq!(hit.host, b"api.example.com");
    assert_eq!(hit.time, Some(1_795_628_512));

    let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
    let p = AccessParser::new(MAIN_EXT, trusted).unwrap();
    assert_eq!(p.parse_own(line).unwrap().0.client, ip("198.51.100.23"));
    // Missing the last fields: a custom format is strict.
    assert_eq!(
        p.parse_own(&line[..line.len() - 30]).unwrap_err(),
        Malformed::Shape
    );
}

#[test]
fn custom_format_times_unquoted_lists_and_unknown_variables() {
    let p = parser("$msec $remote_addr $http_x_forwarded_for $upstream_addr $status $request_method $request_uri $bytes_sent");
    let line = b"1795628512.123 ::ffff:10.9.8.7 1.1.1.1, 2.2.2.2 10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:80 503 GET /x?y 9000 tail";
    let (hit, _) = p.parse_own(line).unwrap();
    assert_eq!(hit.time, Some(1_795_628_512));
    assert_eq!(hit.peer, ip("10.9.8.7"));
    assert_eq!(hit.forwarded_for, b"1.1.1.1, 2.2.2.2");
    assert_eq!(
        (hit.status, hit.method, hit.path),
        (503, &b"GET"[..], &b"/x?y"[..])
    );
    assert_eq!(hit.bytes, 9000);

    let p = parser("${time_iso8601}|$remote_addr|$server_name|$request");
    let (hit, _) = p
        .parse_own(b"2026-11-25T18:41:52+01:00|1.2.3.4|www|GET / HTTP/1.1")
        .unwrap();
    assert_eq!(
        (hit.time, hit.host, hit.path),
        (Some(1_795_628_512), &b"www"[..], &b"/"[..])
    );
}

#[test]
fn spec_names_and_errors() {
    for (spec, name) in [
        ("auto", "auto"),
        ("COMBINED", "combined"),
        ("common", "common"),
        (" vhost_combined ", "vhost_combined"),
        ("json", "json"),
        (COMBINED, "custom"),
    ] {
        assert_eq!(parser(spec).spec_name(), name);
    }
    let err = AccessParser::new("apache", Vec::new()).unwrap_err();
    assert!(err.to_string().contains("\"apache\""), "{err}");
    assert_eq!(
        AccessParser::new("$status \"$request\"", Vec::new()).unwrap_err(),
        FormatError::NoRemoteAddr
    );
    for kind in [
        FormatKind::Combined,
        FormatKind::Common,
        FormatKind::VhostCombined,
        FormatKind::Json,
    ] {
        assert_eq!(parser(kind.name()).spec_name(), kind.name());
    }
}

/// `parse_with` names a text line's leading address before parsing the rest,
/// and gives the same hit as `parse` whatever the first word is.
#[test]
fn parse_with_announces_the_leading_address_and_changes_nothing() {
    let cases: [(&str, &[u8], Option<&str>); 5] = [
        ("auto", NGINX_COMBINED, Some("203.0.113.9")),
        (
            "combined",
            b"2001:db8::1 - - [25/Nov/2026:17:41:52 +0000] \"GET / HTTP/2.0\" 204 - \"-\" \"-\"",
            Some("2001:db8::1"),
        ),
        // The first word is an address but not $remote_addr: announced (a
        // harmless prefetch), while the hit's peer is the real field.
        (
            "$http_x_forwarded_for $remote_addr [$time_local] \"$request\" $status",
            b"198.51.100.7 192.0.2.1 [25/Nov/2026:17:41:52 +0000] \"GET / HTTP/1.1\" 200",
            Some("198.51.100.7"),
        ),
        ("auto", APACHE_VHOST, None),
        ("auto", CADDY, None),
    ];
    for (spec, line, announced) in cases {
        let p = parser(spec);
        let mut seen = None;
        let mut scratch = Vec::new();
        let with = p
            .parse_with(line, &mut scratch, |ip| seen = Some(ip))
            .unwrap();
        assert_eq!(seen, announced.map(ip), "{spec}");
        assert_eq!(with, p.parse_own(line).unwrap(), "{spec}");
    }
    let p = parser("$http_x_forwarded_for $remote_addr [$time_local] \"$request\" $status");
    let line = b"198.51.100.7 192.0.2.1 [25/Nov/2026:17:41:52 +0000] \"GET / HTTP/1.1\" 200";
    assert_eq!(p.parse_own(line).unwrap().0.peer, ip("192.0.2.1"));
}

/// `parse_after` with what `LeadAhead` read: for a line starting with the
/// word read ahead and a space, that reading is the line's address and
/// `early` is not called; for any other line the address is read from the
/// line. Either way the hit is `parse`'s.
fn parse_after_reading(
    p: &AccessParser,
    ahead_of: &[u8],
    line: &[u8],
) -> (AccessHit<'static>, bool) {
    let mut ahead = LeadAhead::default();
    ahead.read(ahead_of);
    let line: &'static [u8] = Box::leak(line.to_vec().into_boxed_slice());
    let scratch = Box::leak(Box::default());
    let mut announced = false;
    let (hit, _) = p
        .parse_after(line, scratch, &ahead, |_| announced = true)
        .unwrap();
    assert_eq!(hit, p.parse_own(line).unwrap().0);
    (hit, !announced)
}

/// Issue 13: the next line's address is read one line early from the bytes
/// after the current line, which end anywhere: a word those bytes cut off
/// is not kept (`1.2.3.4` may be the start of `1.2.3.45`), and a reading is
/// used only for a line that starts with the same word and a space (the
/// next line may come from another log, or from this one refilled).
#[test]
fn an_address_read_ahead_serves_only_a_line_starting_with_its_word() {
    let p = parser("auto");
    let line = |addr: &str| {
        format!("{addr} - - [25/Nov/2026:17:41:52 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"-\"")
    };
    let mut ahead = LeadAhead::default();
    assert_eq!(ahead.read(b"1.2.3.4"), None, "cut off after the word");
    assert_eq!(ahead.read(b"2001:db8::"), None);
    assert_eq!(ahead.read(b""), None);
    assert_eq!(ahead.read(b"{\"ts\":1"), None);
    assert_eq!(ahead.read(b"1.2.3.4 - -"), Some(ip("1.2.3.4")));
    assert_eq!(ahead.read(b"2001:db8::7 -"), Some(ip("2001:db8::7")));
    let v6 = "2001:db8:1:2:3:4:5:6";
    let cases: [(String, String, &str, bool); 6] = [
        // The same line: the reading is used, `early` is not called.
        (line("1.2.3.4"), line("1.2.3.4"), "1.2.3.4", true),
        (line(v6), line(v6), v6, true),
        // Only the start of the next line was read: still the same word.
        (
            "1.2.3.4 - - [25/Nov".into(),
            line("1.2.3.4"),
            "1.2.3.4",
            true,
        ),
        // A longer address starting with the cut-off word.
        ("1.2.3.4".into(), line("1.2.3.45"), "1.2.3.45", false),
        // Another line than the one read ahead.
        (line("1.2.3.4"), line("1.2.3.45"), "1.2.3.45", false),
        (line("1.2.3.45"), line("1.2.3.4"), "1.2.3.4", false),
    ];
    for (read, parsed, client, used) in cases {
        let (hit, was_used) = parse_after_reading(&p, read.as_bytes(), parsed.as_bytes());
        assert_eq!(hit.client, ip(client), "{read:?} then {parsed:?}");
        assert_eq!(was_used, used, "{read:?} then {parsed:?}");
    }
}

#[test]
fn explicit_formats_reject_other_shapes() {
    assert_eq!(parse("json", NGINX_COMBINED).unwrap_err(), Malformed::Shape);
    assert_eq!(
        parse("combined", br#"{"ts":1}"#).unwrap_err(),
        Malformed::Shape
    );
    assert_eq!(
        parse("vhost_combined", NGINX_COMBINED).unwrap_err(),
        Malformed::Shape
    );
}

// ---- Caddy JSON ----------------------------------------------------------

const CADDY: &[u8] = br#"{"level":"info","ts":1795628512.5241024,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"10.0.0.2","remote_port":"41342","client_ip":"203.0.113.7","proto":"HTTP/2.0","method":"GET","host":"example.com","uri":"/a?b=\"c\"","headers":{"User-Agent":["curl/8.5.0"],"Accept":["*/*"]}},"bytes_read":0,"user_id":"","duration":0.0009,"size":10900,"status":200,"resp_headers":{"Server":["Caddy"]}}"#;

#[test]
fn caddy_line_field_by_field() {
    for spec in ["auto", "json"] {
        let (hit, kind) = parse(spec, CADDY).unwrap();
        assert_eq!(kind, FormatKind::Json);
        assert_eq!(hit.peer, ip("10.0.0.2"));
        assert_eq!(hit.client, ip("203.0.113.7"));
        assert_eq!(hit.client_ip_field, b"203.0.113.7");
        assert_eq!(hit.time, Some(1_795_628_512));
        // JSON escapes decoded: the path as the client sent it.
        assert_eq!((hit.method, hit.path), (&b"GET"[..], &br#"/a?b="c""#[..]));
        assert_eq!((hit.status, hit.bytes), (200, 10900));
        assert_eq!(hit.user_agent, b"curl/8.5.0");
        assert_eq!(hit.host, b"example.com");
    }
}

#[test]
fn caddy_address_fallbacks() {
    let cases: [(&[u8], &str, &str); 6] = [
        (
            br#"{"request":{"remote_ip":"::ffff:9.9.9.9","uri":"/"}}"#,
            "9.9.9.9",
            "9.9.9.9",
        ),
        (
            br#"{"request":{"remote_addr":"[2001:db8::2]:443","uri":"/"}}"#,
            "2001:db8::2",
            "2001:db8::2",
        ),
        (
            br#"{"remote_addr":"192.0.2.1:5000","ts":"2026-11-25T17:41:52Z","uri":"/"}"#,
            "192.0.2.1",
            "192.0.2.1",
        ),
        (
            br#"{"remote_ip":"192.0.2.2","uri":"/"}"#,
            "192.0.2.2",
            "192.0.2.2",
        ),
        (
            br#"{"request":{"client_ip":"192.0.2.3","uri":"/"}}"#,
            "192.0.2.3",
            "192.0.2.3",
        ),
        (
            br#"{"client_ip":"192.0.2.4","remote_ip":"10.0.0.1","uri":"/"}"#,
            "10.0.0.1",
            "192.0.2.4",
        ),
    ];
    for (line, peer, client) in cases {
        let (hit, _) = parse("auto", line).unwrap();
        assert_eq!(
            (hit.peer, hit.client),
            (ip(peer), ip(client)),
            "{}",
            String::from_utf8_lossy(line)
        );
    }
    assert_eq!(
        parse("auto", br#"{"request":{"method":"GET"}}"#).unwrap_err(),
        Malformed::NoClient
    );
    assert_eq!(
        parse("auto", br#"{"request":{"remote_ip":"evil"}}"#).unwrap_err(),
        Malformed::ClientNotIp
    );
    assert_eq!(
        parse(
            "auto",
            br#"{"request":{"remote_ip":"1.1.1.1","client_ip":"1.1.1.1; rm"}}"#
        )
        .unwrap_err(),
        Malformed::ClientNotIp
    );
    let (hit, _) = parse("auto", br#"{"ts":"2026-11-25T17:41:52Z","request":{"remote_ip":"1.1.1.1","uri":"/","headers":{"User-Agent":"plain"}}}"#).unwrap();
    assert_eq!(
        (hit.time, hit.user_agent),
        (Some(1_795_628_512), &b"plain"[..])
    );
}

#[test]
fn caddy_behind_a_trusted_proxy() {
    let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
    let p = AccessParser::new("json", trusted).unwrap();
    let xff = br#"{"request":{"remote_ip":"10.0.0.2","client_ip":"10.0.0.2","uri":"/","headers":{"X-Forwarded-For":["198.51.100.4, 10.0.0.3"]}}}"#;
    let (hit, _) = p.parse_own(xff).unwrap();
    assert_eq!((hit.peer, hit.client), (ip("10.0.0.2"), ip("198.51.100.4")));
    let (hit, _) = p.parse_own(CADDY).unwrap();
    assert_eq!(hit.client, ip("203.0.113.7"));
    let untrusted =
        br#"{"request":{"remote_ip":"192.0.2.9","uri":"/","headers":{"X-Forwarded-For":["198.51.100.4"]}}}"#;
    assert_eq!(p.parse_own(untrusted).unwrap().0.client, ip("192.0.2.9"));
}

#[test]
fn text_lines_behind_a_trusted_proxy() {
    let trusted: Vec<IpNet> = vec!["172.16.0.0/12".parse().unwrap(), "::1/128".parse().unwrap()];
    let p = AccessParser::new(
        r#"$remote_addr "$http_x_forwarded_for" "$request" $status"#,
        trusted,
    )
    .unwrap();
    let cases: [(&[u8], &str); 5] = [
        (
            br#"172.16.0.1 "203.0.113.1" "GET / HTTP/1.1" 200"#,
            "203.0.113.1",
        ),
        (
            br#"::1 "203.0.113.1, 172.16.5.5" "GET / HTTP/1.1" 200"#,
            "203.0.113.1",
        ),
        (br#"172.16.0.1 "-" "GET / HTTP/1.1" 200"#, "172.16.0.1"),
        (
            br#"172.16.0.1 "1.1.1.1, junk" "GET / HTTP/1.1" 200"#,
            "172.16.0.1",
        ),
        (
            br#"192.0.2.7 "203.0.113.1" "GET / HTTP/1.1" 200"#,
            "192.0.2.7",
        ),
    ];
    for (line, client) in cases {
        assert_eq!(
            p.parse_own(line).unwrap().0.client,
            ip(client),
            "{}",
            String::from_utf8_lossy(line)
        );
    }
}

// ---- naive oracles over generated lines -------------------------------------

fn gen_ip(r: &mut Rng) -> String {
    match r.below(4) {
        0 => format!("2001:db8::{:x}", r.below(0xffff)),
        1 => format!(
            "::ffff:{}.{}.{}.{}",
            r.below(256),
            r.below(256),
            r.below(256),
            r.below(256)
        ),
        _ => format!(
            "{}.{}.{}.{}",
            r.below(256),
            r.below(256),
            r.below(256),
            r.below(256)
        ),
    }
}

fn gen_request(r: &mut Rng) -> String {
    let path = r.pick(&[
        "/",
        "/index.html",
        "/a%20b?c=d",
        r#"/x\"y"#,
        "/.env",
        r"/dir\\",
        "/\u{e9}t\u{e9}",
    ]);
    match r.below(8) {
        0 => "-".into(),
        1 => r"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".into(),
        2 => format!("GET {path}"),
        _ => format!(
            "{} {path} {}",
            r.pick(&["GET", "POST", "HEAD", "PROPFIND"]),
            r.pick(&["HTTP/1.1", "HTTP/2.0"])
        ),
    }
}

fn gen_quoted(r: &mut Rng) -> String {
    r.pick(&[
        "-",
        "Mozilla/5.0 (X11)",
        r#"a \"q\" b"#,
        "curl/8.5.0",
        "",
        r"back\\",
        "z\u{fc}rich",
    ])
    .into()
}

fn gen_text_line(r: &mut Rng) -> String {
    let time = format!(
        "{:02}/{}/20{:02}:{:02}:{:02}:{:02} {}",
        1 + r.below(28),
        r.pick(&["Jan", "Feb", "Nov", "Dec"]),
        r.below(40),
        r.below(24),
        r.below(60),
        r.below(60),
        r.pick(&["+0000", "-0700", "+0530"])
    );
    let user = r.pick(&["-", "frank", "a b"]);
    let bytes = if r.below(5) == 0 {
        "-".to_string()
    } else {
        r.below(1 << 40).to_string()
    };
    let status = 100 + r.below(500);
    let mut line = format!(
        "{} - {user} [{time}] \"{}\" {status} {bytes}",
        gen_ip(r),
        gen_request(r)
    );
    match r.below(6) {
        0 => {}
        1 => line.push_str("  "),
        _ => {
            line.push_str(&format!(" \"{}\" \"{}\"", gen_quoted(r), gen_quoted(r)));
            if r.below(4) == 0 {
                line.push_str(" \"1.2.3.4, 5.6.7.8\" 0.001");
            }
        }
    }
    if r.below(4) == 0 {
        line.push('\r');
    }
    line
}

/// The oracle's reading of a text line: a regex per shape, split-based fields.
#[derive(Debug, PartialEq)]
struct Expected {
    peer: IpAddr,
    time: Option<i64>,
    method: Vec<u8>,
    path: Vec<u8>,
    status: u16,
    bytes: u64,
    user_agent: Vec<u8>,
    kind: FormatKind,
}

fn oracle(combined: &Regex, common: &Regex, line: &[u8]) -> Option<Expected> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let (caps, kind) = [
        (combined, FormatKind::Combined),
        (common, FormatKind::Common),
    ]
    .into_iter()
    .find_map(|(re, kind)| {
        let mut caps = re.create_captures();
        re.captures(line, &mut caps);
        caps.is_match().then_some((caps, kind))
    })?;
    let group = |i| caps.get_group(i).map_or(&b""[..], |s| &line[s.range()]);
    let peer = std::str::from_utf8(group(1))
        .ok()?
        .parse::<IpAddr>()
        .ok()?
        .to_canonical();
    let request = group(4);
    let words: Vec<&[u8]> = request.split(|&c| c == b' ').collect();
    let looks_like_method = words[0].iter().all(|c| c.is_ascii_uppercase()) && !words[0].is_empty();
    let (method, path) = if request == b"-" {
        (vec![], vec![])
    } else if looks_like_method {
        (
            words[0].to_vec(),
            words.get(1).copied().unwrap_or_default().to_vec(),
        )
    } else {
        (vec![], request.to_vec())
    };
    let num = |b: &[u8]| {
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
    };
    let ua = group(8);
    Some(Expected {
        peer,
        time: parse_clf(group(3)),
        method,
        path,
        status: num(group(5)).filter(|&s| s < 1000).unwrap_or(0) as u16,
        bytes: num(group(6)).unwrap_or(0),
        user_agent: if ua == b"-" { vec![] } else { ua.to_vec() },
        kind,
    })
}

fn oracle_regexes() -> (Regex, Regex) {
    let head = r#"(?-u)^(\S+) - (.*?) \[([^\]]*)\] "((?:[^"\\]|\\.)*)" (\S*) (\S*)"#;
    let quoted = r#""((?:[^"\\]|\\.)*)""#;
    let build = |pattern: &str| {
        Regex::builder()
            .syntax(regex_automata::util::syntax::Config::new().utf8(false))
            .build(pattern)
            .unwrap()
    };
    let combined = build(&format!("{head} {quoted} {quoted}"));
    let common = build(&format!(r"{head}\s*$"));
    (combined, common)
}

#[test]
fn combined_fast_path_matches_the_regex_oracle() {
    let (combined, common) = oracle_regexes();
    let p = parser("auto");
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        let line = gen_text_line(&mut r);
        let expected = oracle(&combined, &common, line.as_bytes()).expect(&line);
        let (hit, kind) = p.parse_own(line.as_bytes()).expect(&line);
        let got = Expected {
            peer: hit.peer,
            time: hit.time,
            method: hit.method.to_vec(),
            path: hit.path.to_vec(),
            status: hit.status,
            bytes: hit.bytes,
            user_agent: hit.user_agent.to_vec(),
            kind,
        };
        assert_eq!(got, expected, "{line}");
    }
}

#[test]
fn mutated_lines_never_panic_and_never_invent_a_client() {
    let parsers = [
        parser("auto"),
        parser("combined"),
        parser("common"),
        parser("vhost_combined"),
        parser(MAIN_EXT),
    ];
    let mut r = Rng(42);
    for _ in 0..20_000 {
        let mut line = gen_text_line(&mut r).into_bytes();
        for _ in 0..1 + r.below(4) {
            let at = r.below(line.len() as u64 + 1) as usize;
            match r.below(3) {
                0 => line.truncate(at),
                1 => line.insert(at, b"\"\\ []-:{\x00\xff"[r.below(10) as usize]),
                _ if at < line.len() => {
                    line.remove(at);
                }
                _ => {}
            }
        }
        for p in &parsers {
            if let Ok((hit, kind)) = p.parse_own(&line) {
                // The peer is always the client field of the line, parsed.
                let words: Vec<&[u8]> = line.split(|&c| c == b' ').collect();
                let field = if kind == FormatKind::VhostCombined {
                    words[1]
                } else {
                    words[0]
                };
                assert_eq!(
                    Some(hit.peer),
                    parse_ip(field),
                    "{}",
                    String::from_utf8_lossy(&line)
                );
            }
        }
    }
}

/// A value as the parser gives it: a string decoded (as serde_json reads
/// it), an array's first item, anything else as written.
fn decoded_json(v: &serde_json::Value) -> Vec<u8> {
    match v {
        serde_json::Value::String(s) => s.as_bytes().to_vec(),
        serde_json::Value::Array(items) => items.first().map(decoded_json).unwrap_or_default(),
        other => other.to_string().into_bytes(),
    }
}

fn gen_caddy(r: &mut Rng) -> serde_json::Value {
    use serde_json::json;
    let mut request = json!({
        "remote_port": "41342",
        "proto": "HTTP/1.1",
        "method": r.pick(&["GET", "POST", "M-SEARCH"]),
        "host": r.pick(&["example.com", "a\"b", "x\u{1}y"]),
        "uri": r.pick(&["/", "/a?\"b\"", "/\u{e9}\\", "/{[]}", "/\u{1b}[2J\u{7f}\u{0}"]),
        "tls": {"resumed": false, "proto": "h2", "nested": [[{"k": "]}"}]]},
    });
    let ip = gen_ip(r);
    match r.below(3) {
        0 => request["remote_ip"] = json!(ip),
        1 => {
            request["remote_addr"] = json!(if ip.contains(':') {
                format!("[{ip}]:443")
            } else {
                format!("{ip}:443")
            })
        }
        _ => {
            request["remote_ip"] = json!(ip);
            request["client_ip"] = json!(gen_ip(r));
        }
    }
    let ua = r.pick(&["curl/8", "Mozilla \"5\"", "\u{7f}\t"]);
    request["headers"] = if r.below(2) == 0 {
        json!({"Accept": ["*/*"], "User-Agent": [ua, "second"]})
    } else {
        json!({"User-Agent": ua})
    };
    let ts = if r.below(2) == 0 {
        json!(1_795_628_512.25)
    } else {
        json!("2026-11-25T17:41:52.5Z")
    };
    json!({"level": "info", "ts": ts, "request": request, "size": r.below(100_000), "status": 100 + r.below(500), "resp_headers": {"A": ["}"]}})
}

#[test]
fn caddy_escapes_are_decoded_before_anything_reads_the_path() {
    // Go's encoder writes `&` as \u0026; a prober may escape the dot of /.env.
    let line = br#"{"request":{"client_ip":"203.0.113.7","method":"GET","uri":"/\u002eenv?a=1\u0026b=\u4e2d","headers":{"User-Agent":["say \"hi\""]}},"status":404,"size":0}"#;
    let (hit, kind) = parse("json", line).unwrap();
    assert_eq!(kind, FormatKind::Json);
    assert_eq!(hit.path, "/.env?a=1&b=中".as_bytes());
    assert_eq!(hit.user_agent, br#"say "hi""#);
    let broken = br#"{"request":{"client_ip":"203.0.113.7","uri":"/\q"},"status":200}"#;
    assert_eq!(parse("json", broken).unwrap_err(), Malformed::Shape);
}

#[test]
fn json_scanner_matches_serde_json() {
    let p = parser("auto");
    let mut r = Rng(7);
    for _ in 0..5_000 {
        let value = gen_caddy(&mut r);
        let line = value.to_string();
        let (hit, kind) = p.parse_own(line.as_bytes()).expect(&line);
        let req = &value["request"];
        let remote = match (&req["remote_ip"], &req["remote_addr"]) {
            (serde_json::Value::String(ip), _) => ip.parse::<IpAddr>().unwrap().to_canonical(),
            (_, serde_json::Value::String(addr)) => addr
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .ip()
                .to_canonical(),
            _ => unreachable!(),
        };
        let client = req["client_ip"]
            .as_str()
            .map_or(remote, |s| s.parse::<IpAddr>().unwrap().to_canonical());
        assert_eq!(kind, FormatKind::Json);
        assert_eq!((hit.peer, hit.client), (remote, client), "{line}");
        assert_eq!(hit.time, Some(1_795_628_512), "{line}");
        assert_eq!(hit.method, decoded_json(&req["method"]));
        assert_eq!(hit.path, decoded_json(&req["uri"]), "{line}");
        assert_eq!(hit.host, decoded_json(&req["host"]), "{line}");
        assert_eq!(
            hit.user_agent,
            decoded_json(&req["headers"]["User-Agent"]),
            "{line}"
        );
        assert_eq!(u64::from(hit.status), value["status"].as_u64().unwrap());
        assert_eq!(hit.bytes, value["size"].as_u64().unwrap());
    }
}

/// A flat line as nethergaze 0.2.0 read it: path, status, bytes, user agent
/// and time all reach the hit (exploit and scanner detection need them).
#[test]
fn flat_json_lines_of_0_2_0() {
    let iso = br#"{"remote_addr":"198.51.100.7","method":"GET","path":"/.env","status":404,"bytes_sent":153,"user_agent":"zgrab/0.x","timestamp":"2026-11-25T17:41:52Z"}"#;
    let epoch = br#"{"client_ip":"198.51.100.8","path":"/wp-login.php","resp_status":"200","resp_size":"9","user-agent":"Nikto","time":1795628512.25}"#;
    for spec in ["auto", "json"] {
        let (hit, kind) = parse(spec, iso).unwrap();
        assert_eq!(kind, FormatKind::Json);
        assert_eq!(hit.client, ip("198.51.100.7"));
        assert_eq!((hit.method, hit.path), (&b"GET"[..], &b"/.env"[..]));
        assert_eq!((hit.status, hit.bytes), (404, 153));
        assert_eq!(hit.user_agent, b"zgrab/0.x");
        assert_eq!(hit.time, Some(1_795_628_512));
        let (hit, _) = parse(spec, epoch).unwrap();
        assert_eq!(hit.client, ip("198.51.100.8"));
        assert_eq!(hit.path, b"/wp-login.php");
        assert_eq!((hit.status, hit.bytes), (200, 9));
        assert_eq!(hit.user_agent, b"Nikto");
        assert_eq!(hit.time, Some(1_795_628_512));
    }
}

/// A JSON line without a usable client or request is malformed, not a hit
/// with status 0 and no path.
#[test]
fn flat_json_without_client_or_request_is_malformed() {
    let cases: [(&[u8], Malformed); 4] = [
        (
            br#"{"remote_addr":"198.51.100.7","status":200}"#,
            Malformed::Shape,
        ),
        (
            br#"{"client_ip":"198.51.100.7","path":"","method":""}"#,
            Malformed::Shape,
        ),
        (br#"{"path":"/","status":200}"#, Malformed::NoClient),
        (br#"{"ip":"198.51.100.7","path":"/"}"#, Malformed::NoClient),
    ];
    for (line, want) in cases {
        assert_eq!(
            parse("json", line).unwrap_err(),
            want,
            "{}",
            String::from_utf8_lossy(line)
        );
    }
    let method_only = br#"{"remote_ip":"198.51.100.7","method":"OPTIONS"}"#;
    assert_eq!(parse("json", method_only).unwrap().0.method, b"OPTIONS");
}

// ---- the combined fast path against the generic program ------------------------

/// `parse` (fast path first) and `parse_generic` (the program only) give the
/// same answer for `line`, for every parser that may take the fast path.
fn assert_fast_path_agrees(parsers: &[AccessParser], line: &[u8]) {
    for p in parsers {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let fast = p.parse(line, &mut a);
        let generic = p.parse_generic(line, &mut b);
        assert_eq!(
            fast,
            generic,
            "{} ({})",
            String::from_utf8_lossy(line),
            p.spec_name()
        );
    }
}

fn fast_path_parsers() -> Vec<AccessParser> {
    let trusted = vec![
        "10.0.0.0/8".parse().unwrap(),
        "2001:db8::/32".parse().unwrap(),
    ];
    vec![
        parser("auto"),
        parser("combined"),
        AccessParser::new("auto", trusted.clone()).unwrap(),
        AccessParser::new("combined", trusted).unwrap(),
    ]
}

#[test]
fn fast_path_agrees_with_the_program_on_the_fixtures() {
    let parsers = fast_path_parsers();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut lines = 0;
    for file in [
        "logs/combined.log",
        "logs/common.log",
        "logs/vhost_combined.log",
        "logs/mixed.log",
        "logs/custom.log",
        "hostile/combined.log",
    ] {
        let text = std::fs::read(root.join(file)).unwrap();
        for line in text.split(|&c| c == b'\n') {
            assert_fast_path_agrees(&parsers, line);
            lines += 1;
        }
    }
    assert!(lines > 100, "{lines} fixture lines");
}

/// Pieces a hostile combined line is cut from: each one is somewhere the
/// fast path must either read exactly as the program or decline.
const HOSTILE_PIECES: [&[u8]; 24] = [
    b" ", b"  ", b"-", b"\"", b"\\\"", b"\\\\\"", b"\\", b"[", b"]", b"] \"", b" - ", b" [", b",",
    b", ", b" : ", b":", b"\" \"", b"\" ", b" \"", b"\r", b"\x00", b"\xff", b"200", b"x",
];

/// A well-formed combined line with one of its separators or fields
/// replaced, extended or doubled by hostile pieces.
fn gen_hostile_combined(r: &mut Rng) -> Vec<u8> {
    let time = r.pick(&[
        "25/Nov/2026:17:41:52 +0000",
        "25/Nov/2026:17:41:52 +00]]",
        "25/Nov/2026:17:41:52 +0]00",
        "25/Nov/2026:17:41:52 +01:00",
        "25/Nov/2026:17:41:52 +0000]",
        "31/Feb/2026:00:00:00 +0000",
        "2026-11-25T17:41:52Z",
        "",
    ]);
    let mut parts: Vec<Vec<u8>> = [
        gen_ip(r).as_str(),
        " - ",
        r.pick(&["-", "frank", "a b", "a,", "a, b", "", " : x"]),
        " [",
        time,
        "] \"",
        &gen_request(r),
        "\" ",
        r.pick(&["200", "404", "20", "2000", "-", "abc"]),
        " ",
        r.pick(&["612", "-", "", "12345678901234567890123", "0"]),
        " \"",
        &gen_quoted(r),
        "\" \"",
        &gen_quoted(r),
        "\"",
        r.pick(&["", " \"1.2.3.4, 5.6.7.8\"", " x", "\""]),
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    for _ in 0..r.below(3) {
        let at = r.below(parts.len() as u64) as usize;
        let piece = r.pick(&HOSTILE_PIECES).to_vec();
        match r.below(3) {
            0 => parts[at] = piece,
            1 => parts[at].extend_from_slice(&piece),
            _ => {
                parts[at].splice(0..0, piece);
            }
        }
    }
    let cut = r.below(8) == 0;
    let mut line = parts.concat();
    if cut {
        line.truncate(r.below(line.len() as u64 + 1) as usize);
    }
    line
}

#[test]
fn fast_path_agrees_with_the_program_on_generated_and_hostile_lines() {
    let parsers = fast_path_parsers();
    let mut r = Rng(0x5eed_c0ff_ee15_900d);
    for _ in 0..20_000 {
        assert_fast_path_agrees(&parsers, gen_text_line(&mut r).as_bytes());
        assert_fast_path_agrees(&parsers, &gen_hostile_combined(&mut r));
    }
}

/// `split_request` as it was written first (two searches for a space, then a
/// check of the method): the reference for the one-pass version.
fn split_request_reference(request: &[u8]) -> (&[u8], &[u8]) {
    if request == b"-" {
        return (b"", b"");
    }
    let (method, rest) = match request.iter().position(|&c| c == b' ') {
        Some(sp) => (&request[..sp], &request[sp + 1..]),
        None => (request, &b""[..]),
    };
    let is_method = (1..=32).contains(&method.len())
        && method
            .iter()
            .all(|&c| c.is_ascii_uppercase() || c == b'-' || c == b'_');
    if !is_method {
        return (b"", request);
    }
    let path = match rest.iter().position(|&c| c == b' ') {
        Some(sp) => &rest[..sp],
        None => rest,
    };
    (method, path)
}

#[test]
fn split_request_matches_its_reference() {
    let long = "A".repeat(32);
    let longer = "A".repeat(33);
    let mut requests: Vec<Vec<u8>> = [
        "-",
        "",
        " ",
        "GET",
        "GET ",
        "GET /",
        "GET / HTTP/1.1",
        "get / HTTP/1.1",
        "M-SEARCH * HTTP/1.1",
        "_ x",
        "-x y",
        "GET  /a",
        "GET\t/a",
        "\\x16\\x03\\x01",
        "GET /a b c",
        "G3T /",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    for method in [&long, &longer] {
        requests.push(format!("{method} /x HTTP/1.1").into_bytes());
        requests.push(method.clone().into_bytes());
    }
    let mut r = Rng(7);
    for _ in 0..50_000 {
        let len = r.below(40) as usize;
        requests.push((0..len).map(|_| r.pick(b"GETA-_ /x\x00\xffa")).collect());
    }
    for request in &requests {
        assert_eq!(
            split_request(request),
            split_request_reference(request),
            "{}",
            String::from_utf8_lossy(request)
        );
    }
}
