use super::*;

const CADDY: &[u8] = br#"{"level":"info","ts":1764092512.5241024,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"10.0.0.2","remote_port":"41342","client_ip":"203.0.113.7","proto":"HTTP/2.0","method":"GET","host":"example.com","uri":"/a?b=\"c\"","headers":{"Accept":["*/*"],"User-Agent":["curl/8.5.0"],"X-Forwarded-For":["203.0.113.7, 10.0.0.9"]},"tls":{"resumed":false,"version":772,"cipher_suite":4865,"proto":"h2","server_name":"example.com"}},"bytes_read":0,"user_id":"","duration":0.000929675,"size":10900,"status":200,"resp_headers":{"Server":["Caddy"]}}"#;

#[test]
fn reads_caddy_v2_line() {
    let f = scan(CADDY).unwrap();
    assert_eq!(f.ts, b"1764092512.5241024");
    assert!(!f.ts_is_string);
    assert_eq!(f.status, b"200");
    assert_eq!(f.size, b"10900");
    assert_eq!(f.method, b"GET");
    assert_eq!(f.uri, br#"/a?b=\"c\""#);
    assert_eq!(f.host, b"example.com");
    assert_eq!(f.client_ip, b"203.0.113.7");
    assert_eq!(f.remote_ip, b"10.0.0.2");
    assert_eq!(f.user_agent, b"curl/8.5.0");
    assert_eq!(f.forwarded_for, b"203.0.113.7, 10.0.0.9");
}

#[test]
fn flat_keys_and_string_headers() {
    let line = br#"{"ts":"2026-11-25T17:41:52Z","remote_addr":"[::1]:5555","method":"POST","uri":"/x","status":404,"size":0,"headers":{"user-agent":"ua \"q\""}}"#;
    let f = scan(line).unwrap();
    assert_eq!(f.ts, b"2026-11-25T17:41:52Z");
    assert!(f.ts_is_string);
    assert_eq!(f.remote_addr, b"[::1]:5555");
    assert_eq!(f.method, b"POST");
    assert_eq!(f.status, b"404");
    assert_eq!(f.user_agent, br#"ua \"q\""#);
}

#[test]
fn nested_request_beats_flat_keys() {
    let line = br#"{"method":"FLAT","request":{"method":"GET"},"uri":"/flat"}"#;
    let f = scan(line).unwrap();
    assert_eq!(f.method, b"GET");
    assert_eq!(f.uri, b"/flat");
}

/// `scan` then `decode`, with a scratch of its own (leaked: tests only).
fn decoded(line: &[u8]) -> Result<CaddyFields<'_>, Malformed> {
    let mut f = scan(line)?;
    f.decode(Box::leak(Box::default()))?;
    Ok(f)
}

#[test]
fn escaped_values_are_decoded() {
    let line = br#"{"request":{"client_ip":"203.0.113.7","method":"G\u0045T","uri":"/a?x=1\u0026q=\u4e2d\"\/\\","host":"\u00e9x.com","headers":{"User-Agent":["\ud83d\ude00 \u001b[31m\t"]}},"status":200}"#;
    let f = decoded(line).unwrap();
    assert_eq!(f.method, b"GET");
    assert_eq!(f.uri, "/a?x=1&q=中\"/\\".as_bytes());
    assert_eq!(f.host, "éx.com".as_bytes());
    // Decoded, not yet sanitised: the ESC is data until a cell shows it.
    assert_eq!(f.user_agent, "😀 \u{1b}[31m\t".as_bytes());
    assert_eq!(f.client_ip, b"203.0.113.7");
    assert_eq!(f.status, b"200");
}

#[test]
fn lines_without_escapes_leave_the_scratch_alone() {
    let plain = br#"{"request":{"client_ip":"203.0.113.7","uri":"/plain"}}"#;
    let mut scratch = b"untouched".to_vec();
    let mut f = scan(plain).unwrap();
    f.decode(&mut scratch).unwrap();
    assert_eq!(f.uri, b"/plain");
    assert_eq!(scratch, b"untouched");
    // One scratch serves line after line.
    let mut scratch = Vec::new();
    for _ in 0..3 {
        let mut f = scan(CADDY).unwrap();
        f.decode(&mut scratch).unwrap();
        assert_eq!(f.uri, br#"/a?b="c""#);
    }
}

#[test]
fn bad_escapes_are_malformed_and_lone_surrogates_replaced() {
    for bad in [
        &br#"{"uri":"/\x"}"#[..],
        br#"{"uri":"/\u12"}"#,
        br#"{"uri":"/\u+123"}"#,
        br#"{"uri":"/\uzzzz"}"#,
    ] {
        assert_eq!(decoded(bad).err(), Some(Malformed::Shape), "{bad:?}");
    }
    let f = decoded(br#"{"uri":"\ud800x\udc00"}"#).unwrap();
    assert_eq!(f.uri, "\u{fffd}x\u{fffd}".as_bytes());
    let f = decoded(br#"{"uri":"\ud83d\u0041"}"#).unwrap();
    assert_eq!(f.uri, "\u{fffd}A".as_bytes());
}

#[test]
fn hostile_json_never_panics() {
    let deep = format!("{{\"x\":{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(scan(deep.as_bytes()).is_ok());
    for end in 0..CADDY.len() {
        assert!(scan(&CADDY[..end]).is_err(), "truncated at {end}");
    }
    for bad in [
        &br#"{"ts":}"#[..],
        br#"{"request":{"client_ip":"1.1.1.1""#,
        br#"{"a":"\"}"#,
        br#"{"a":[}"#,
        br#"{"a":1 2}"#,
        br#"{"request":"x","headers":["a"]}"#,
        b"{\"a\":\"\xff\x00\"}",
        b"{",
        br#"{"a":{"b":}}"#,
    ] {
        let _ = scan(bad);
    }
    assert!(scan(br#"{"a":1 2}"#).is_err());
    assert!(scan(br#"{"a":[}"#).is_err());
    assert!(scan(b"{\"a\":\"\xff\x00\"}").is_ok());
}

/// Reads one field of the scanned line (a test case's column).
type Field = for<'a> fn(&'a CaddyFields<'a>) -> &'a [u8];

/// 0.2.0's flat names, one at a time, each read where Caddy's would be.
#[test]
fn flat_names_of_0_2_0() {
    let cases: [(&[u8], Field, &[u8]); 9] = [
        (br#"{"path":"/wp-login.php"}"#, |f| f.uri, b"/wp-login.php"),
        (br#"{"status":"403"}"#, |f| f.status, b"403"),
        (br#"{"resp_status":502}"#, |f| f.status, b"502"),
        (br#"{"bytes_sent":1234}"#, |f| f.size, b"1234"),
        (br#"{"resp_size":77}"#, |f| f.size, b"77"),
        (
            br#"{"user_agent":"sqlmap/1.7"}"#,
            |f| f.user_agent,
            b"sqlmap/1.7",
        ),
        (br#"{"user-agent":"Nikto"}"#, |f| f.user_agent, b"Nikto"),
        (
            br#"{"timestamp":"2026-11-25T17:41:52Z"}"#,
            |f| f.ts,
            b"2026-11-25T17:41:52Z",
        ),
        (br#"{"time":1764092512}"#, |f| f.ts, b"1764092512"),
    ];
    for (line, field, want) in cases {
        let f = scan(line).unwrap();
        assert_eq!(field(&f), want, "{}", String::from_utf8_lossy(line));
    }
    assert!(
        scan(br#"{"timestamp":"2026-11-25T17:41:52Z"}"#)
            .unwrap()
            .ts_is_string
    );
    assert!(!scan(br#"{"time":1764092512}"#).unwrap().ts_is_string);
}

#[test]
fn caddy_names_beat_flat_ones_in_any_order() {
    let lines: [&[u8]; 2] = [
        br#"{"path":"/p","resp_status":1,"resp_size":2,"user_agent":"flat","time":3,"request":{"uri":"/u","headers":{"User-Agent":["caddy"]}},"status":200,"size":10,"ts":5}"#,
        br#"{"request":{"uri":"/u","headers":{"User-Agent":["caddy"]}},"status":200,"size":10,"ts":5,"path":"/p","resp_status":1,"resp_size":2,"user_agent":"flat","time":3}"#,
    ];
    for line in lines {
        let f = scan(line).unwrap();
        assert_eq!(
            (f.uri, f.status, f.size, f.user_agent, f.ts),
            (
                &b"/u"[..],
                &b"200"[..],
                &b"10"[..],
                &b"caddy"[..],
                &b"5"[..]
            ),
            "{}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn escaped_flat_values_are_decoded_in_the_scratch() {
    let line = br#"{"remote_addr":"1.2.3.4","path":"/\u002eenv","user_agent":"a \"b\""}"#;
    let f = decoded(line).unwrap();
    assert_eq!(f.uri, b"/.env");
    assert_eq!(f.user_agent, br#"a "b""#);
}
