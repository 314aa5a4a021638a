use super::*;
use crate::parse::time::unix_from_civil;
use AuthKind::*;

/// Expected result: kind, address text, user bytes.
type Want = Option<(AuthKind, &'static str, &'static [u8])>;

/// Local civil time through libc directly (the oracle for syslog stamps).
fn local(y: i32, mo: i32, d: i32, h: i32, mi: i32, s: i32) -> UnixTime {
    let u = |v: i32| u32::try_from(v).expect("a non-negative field");
    time::mktime_local(i64::from(y), u(mo), u(d), u(h), u(mi), u(s)).expect("mktime")
}

fn utc(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> UnixTime {
    unix_from_civil(y, mo, d, h, mi, s).expect("valid date")
}

fn check(got: Option<AuthEvent<'_>>, want: Want, context: &str) {
    let got = got.map(|e| (e.kind, e.ip, e.user.to_vec()));
    let want = want.map(|(k, ip, user)| (k, ip.parse().expect("test ip"), user.to_vec()));
    assert_eq!(got, want, "{context}");
}

/// Each sshd message variant, with what it must yield in any frame.
const MESSAGES: &[(&str, Want)] = &[
    ("Failed password for root from 203.0.113.5 port 50000 ssh2", Some((Failed, "203.0.113.5", b"root"))),
    ("Failed password for invalid user bob from 127.0.0.1 port 50000 ssh2", Some((Failed, "127.0.0.1", b"bob"))),
    ("Failed publickey for root from 127.0.0.1 port 38046 ssh2: RSA SHA256:PQjqWhBzQ42OCGWg1hisQEuW0Ai0JTt9VyRxuj2AZg4", Some((Failed, "127.0.0.1", b"root"))),
    ("Failed keyboard-interactive/pam for invalid user admin from 198.51.100.7 port 2222 ssh2", Some((Failed, "198.51.100.7", b"admin"))),
    ("Failed none for invalid user test from 2001:db8::5 port 40000 ssh2", Some((Failed, "2001:db8::5", b"test"))),
    ("Failed password for invalid user  from 192.0.2.1 port 1 ssh2", Some((Failed, "192.0.2.1", b""))),
    ("Failed password for root from ::ffff:192.0.2.9 port 22 ssh2", Some((Failed, "192.0.2.9", b"root"))),
    ("message repeated 3 times: [ Failed password for root from 192.0.2.10 port 22 ssh2]", Some((Failed, "192.0.2.10", b"root"))),
    ("Invalid user bob from 127.0.0.1 port 42946", Some((InvalidUser, "127.0.0.1", b"bob"))),
    ("Invalid user admin from 192.0.2.3", Some((InvalidUser, "192.0.2.3", b"admin"))),
    ("Invalid user  from 192.0.2.4 port 5", Some((InvalidUser, "192.0.2.4", b""))),
    ("Invalid user oracle from 2001:db8:0:0::7 port 5", Some((InvalidUser, "2001:db8::7", b"oracle"))),
    ("Accepted publickey for root from 127.0.0.1 port 44486 ssh2: ED25519 SHA256:8W5DM1qFfxTKbdMnLtlZCm2rNdU+vW+bJrkxbvi0pGY", Some((Accepted, "127.0.0.1", b"root"))),
    ("Accepted password for alice from 192.0.2.20 port 51515 ssh2", Some((Accepted, "192.0.2.20", b"alice"))),
    ("Accepted keyboard-interactive/pam for alice from 2001:db8::20 port 51515 ssh2", Some((Accepted, "2001:db8::20", b"alice"))),
    ("Accepted publickey for alice from 192.0.2.21 port 50001 ssh2: ED25519-CERT SHA256:abc ID alice@corp (serial 42) CA ED25519 SHA256:def", Some((Accepted, "192.0.2.21", b"alice"))),
    ("Connection closed by invalid user bob 127.0.0.1 port 42946 [preauth]", Some((ClosedPreauth, "127.0.0.1", b"bob"))),
    ("Connection closed by authenticating user root 127.0.0.1 port 42962 [preauth]", Some((ClosedPreauth, "127.0.0.1", b"root"))),
    ("Connection closed by 192.0.2.30 port 44552 [preauth]", Some((ClosedPreauth, "192.0.2.30", b""))),
    ("Connection closed by 192.0.2.31 port 44502", Some((ClosedPreauth, "192.0.2.31", b""))),
    ("Connection closed by invalid user  192.0.2.37 port 9 [preauth]", Some((ClosedPreauth, "192.0.2.37", b""))),
    ("Disconnected from invalid user bob 192.0.2.32 port 5 [preauth]", Some((ClosedPreauth, "192.0.2.32", b"bob"))),
    ("Disconnected from authenticating user root 192.0.2.33 port 5 [preauth]", Some((ClosedPreauth, "192.0.2.33", b"root"))),
    ("Disconnected from 192.0.2.34 port 5 [preauth]", Some((ClosedPreauth, "192.0.2.34", b""))),
    ("Connection reset by 192.0.2.35 port 51106", Some((ClosedPreauth, "192.0.2.35", b""))),
    ("Connection reset by authenticating user root 2001:db8::36 port 51106 [preauth]", Some((ClosedPreauth, "2001:db8::36", b"root"))),
    ("error: maximum authentication attempts exceeded for root from 127.0.0.1 port 38046 ssh2 [preauth]", Some((MaxAttempts, "127.0.0.1", b"root"))),
    ("error: maximum authentication attempts exceeded for invalid user nosuch from 127.0.0.1 port 51070 ssh2 [preauth]", Some((MaxAttempts, "127.0.0.1", b"nosuch"))),
    ("maximum authentication attempts exceeded for root from 192.0.2.40 port 1 ssh2 [preauth]", Some((MaxAttempts, "192.0.2.40", b"root"))),
    ("Disconnecting authenticating user root 127.0.0.1 port 38046: Too many authentication failures [preauth]", Some((MaxAttempts, "127.0.0.1", b"root"))),
    ("Disconnecting invalid user nosuch ::1 port 51070: Too many authentication failures [preauth]", Some((MaxAttempts, "::1", b"nosuch"))),
    // Other sshd messages.
    ("Server listening on 0.0.0.0 port 22.", None),
    ("Server listening on :: port 22.", None),
    ("Received disconnect from 127.0.0.1 port 44486:11: disconnected by user", None),
    ("Disconnected from user root 127.0.0.1 port 44486", None),
    ("Accepted key ED25519 SHA256:8W5DM1qFfxTKbdMnLtlZCm2rNdU+vW+bJrkxbvi0pGY found at /root/.ssh/authorized_keys:1", None),
    ("Postponed publickey for root from 127.0.0.1 port 44486 ssh2 [preauth]", None),
    ("Partial publickey for root from 127.0.0.1 port 1 ssh2: ED25519 SHA256:x", None),
    ("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.1  user=root", None),
    ("pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)", None),
    ("Connection from 127.0.0.1 port 38046 on 127.0.0.1 port 22 rdomain \"\"", None),
    ("kex_exchange_identification: Connection closed by remote host", None),
    ("Unable to negotiate with 192.0.2.1 port 5: no matching key exchange method found. Their offer: ssh-rsa [preauth]", None),
    ("Starting session: command for root from 127.0.0.1 port 44486 id 0", None),
    ("Received signal 15; terminating.", None),
    ("fatal: Timeout before authentication for 192.0.2.1 port 5", None),
    ("Disconnecting invalid user bob 192.0.2.1 port 5: Change of username or service not allowed: (bob,ssh-connection) -> (root,ssh-connection) [preauth]", None),
    // Shapes that are not sshd's: a non-IP in the address slot, bad ports.
    ("Failed password for root from UNKNOWN port 65535 ssh2", None),
    ("Invalid user bob from host.example.com port 5", None),
    ("Connection closed by 999.1.1.1 port 5 [preauth]", None),
    ("Connection closed by [192.0.2.1] port 5 [preauth]", None),
    ("Failed password for root from fe80::1%eth0 port 5 ssh2", None),
    ("Failed password for root from 192.0.2.1 port 123456 ssh2", None),
    ("Failed password for root from 192.0.2.1 port 22", None),
    ("Failed password for root from 192.0.2.1 port ssh2", None),
    ("Failed pass word for root from 192.0.2.1 port 22 ssh2", None),
    ("Connection closed by 192.0.2.1 port x [preauth]", None),
    ("", None),
];

/// Frame prefixes, with the event time a line in that frame must carry
/// (the clock is 2026-11-26 12:00 local for the yearless ones).
fn frames() -> Vec<(&'static str, Option<UnixTime>)> {
    let t = utc(2026, 11, 25, 17, 41, 52);
    vec![
        (
            "Nov 25 17:41:52 web1 sshd[1234]: ",
            Some(local(2026, 11, 25, 17, 41, 52)),
        ),
        (
            "Nov  5 17:41:52 web1 sshd[1234]: ",
            Some(local(2026, 11, 5, 17, 41, 52)),
        ),
        (
            "Nov 05 17:41:52 web1 sshd: ",
            Some(local(2026, 11, 5, 17, 41, 52)),
        ),
        (
            "Nov 25 17:41:52 sshd-session[1]: ",
            Some(local(2026, 11, 25, 17, 41, 52)),
        ),
        (
            "<38>Nov 25 17:41:52 sshd[1234]: ",
            Some(local(2026, 11, 25, 17, 41, 52)),
        ),
        (
            "2026-11-25T17:41:52.123456+00:00 web1 sshd[1234]: ",
            Some(t),
        ),
        (
            "2026-11-25T17:41:52+0000 web1 sshd-session[1234]: ",
            Some(t),
        ),
        ("2026-11-25T18:41:52.000123+0100 web1 sshd[1234]: ", Some(t)),
        ("<38>2026-11-25T17:41:52Z web1 sshd[1234]: ", Some(t)),
        (
            "<38>1 2026-11-25T17:41:52.003Z web1 sshd 1234 - - ",
            Some(t),
        ),
        (
            "<38>1 2026-11-25T17:41:52Z web1 sshd-session 1234 - -  ",
            Some(t),
        ),
        (
            "<38>1 2026-11-25T17:41:52Z web1 sshd - ID47 [a b=\"x]\\\"y\"][c] \u{feff}",
            Some(t),
        ),
        ("<38>1 - web1 sshd 1234 - - ", None),
    ]
}

#[test]
fn every_message_in_every_frame() {
    let now = local(2026, 11, 26, 12, 0, 0);
    for (prefix, time) in frames() {
        for &(msg, want) in MESSAGES {
            let line = format!("{prefix}{msg}");
            let got = AuthParser::new(now).parse(line.as_bytes());
            if want.is_some() {
                assert_eq!(got.as_ref().and_then(|e| e.time), time, "time of {line:?}");
            }
            check(got, want, &line);
        }
    }
}

#[test]
fn crlf_and_trailing_space_are_ignored() {
    let mut p = AuthParser::new(0);
    let line =
        b"2026-11-25T17:41:52Z h sshd[1]: Failed password for root from 192.0.2.1 port 2 ssh2\r";
    check(p.parse(line), Some((Failed, "192.0.2.1", b"root")), "CRLF");
}

#[test]
fn other_programs_and_garbage_are_none() {
    let lines: &[&[u8]] = &[
        b"Nov 25 17:41:52 web1 CRON[1]: (root) CMD (true)",
        b"Nov 25 17:41:52 web1 sudo:   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls",
        b"Nov 25 17:41:52 web1 sshd[1]: Server listening on 0.0.0.0 port 22.",
        b"Nov 25 17:41:52 web1 notsshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2",
        b"Nov 25 17:41:52 web1 sshdx: Failed password for root from 192.0.2.1 port 22 ssh2",
        b"Nov 25 17:41:52 web1 sshd-keygen[1]: Failed password for root from 192.0.2.1 port 22 ssh2",
        b"Nov 25 17:41:52 web1 sshd[x]: Failed password for root from 192.0.2.1 port 22 ssh2",
        b"Nov 25 17:41:52 web1 logger: sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2",
        b"Nov 25 17:41:52 web1: sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2",
        b"2026-11-25T17:41:52+0000 web1 systemd[1]: Started ssh.service - OpenBSD Secure Shell server.",
        b"<38>1 2026-11-25T17:41:52Z web1 CRON 1 - - Failed password for root from 192.0.2.1 port 22 ssh2",
        b"<38>1 2026-11-25T17:41:52Z web1 sshd 1 - [unterminated Failed password for root from 192.0.2.1 port 22 ssh2",
        b"<38>1 2026-11-25T17:41:52Z web1 sshd 1 - -Failed password for root from 192.0.2.1 port 22 ssh2",
        b"<3821>1 2026-11-25T17:41:52Z web1 sshd 1 - - Failed password for root from 192.0.2.1 port 22 ssh2",
        b"Failed password for root from 192.0.2.1 port 22 ssh2",
        b"-- Boot 4d1d9a2e7c9b4f0c8e3b1f2a5d6c7e8f --",
        b"-- No entries --",
        b"Nov 25 17:41:52",
        b"Nov 25 17:41:52 ",
        b"<",
        b"\xff\xfe\x00\x01",
        b"",
    ];
    let mut p = AuthParser::new(0);
    for line in lines {
        check(p.parse(line), None, &String::from_utf8_lossy(line));
    }
}

#[test]
fn sshd_auth_lines_are_preauth_without_the_suffix() {
    // sshd-auth (OpenSSH 10) only runs before authentication.
    let mut p = AuthParser::new(0);
    let line = b"2026-11-25T17:44:02+0000 h sshd-auth[9]: Disconnected from user test 192.0.2.211 port 33002";
    check(
        p.parse(line),
        Some((ClosedPreauth, "192.0.2.211", b"test")),
        "sshd-auth",
    );
    let line = b"2026-11-25T17:44:02+0000 h sshd-session[9]: Disconnected from user test 192.0.2.211 port 33002";
    check(p.parse(line), None, "post-auth logout");
    let line = b"2026-11-25T17:44:02+0000 h sshd[9]: Connection closed by user test 192.0.2.211 port 33002 [preauth]";
    check(
        p.parse(line),
        Some((ClosedPreauth, "192.0.2.211", b"test")),
        "user form with [preauth]",
    );
}

/// `(1-based line number, kind, ip, user)` for every corpus line that is
/// an event; every other line must give `None`.
const CORPUS_EVENTS: &[(usize, AuthKind, &str, &[u8])] = &[
    (5, InvalidUser, "127.0.0.1", b"bob"),
    (8, Failed, "127.0.0.1", b"bob"),
    (9, ClosedPreauth, "127.0.0.1", b"bob"),
    (11, Failed, "127.0.0.1", b"root"),
    (12, ClosedPreauth, "127.0.0.1", b"root"),
    (13, InvalidUser, "::1", b"bob"),
    (14, Failed, "::1", b"bob"),
    (15, ClosedPreauth, "::1", b"bob"),
    (16, Accepted, "127.0.0.1", b"root"),
    (22, Failed, "127.0.0.1", b"root"),
    (23, Failed, "127.0.0.1", b"root"),
    (24, MaxAttempts, "127.0.0.1", b"root"),
    (25, MaxAttempts, "127.0.0.1", b"root"),
    (26, InvalidUser, "127.0.0.1", b"nosuch"),
    (27, MaxAttempts, "127.0.0.1", b"nosuch"),
    (28, MaxAttempts, "127.0.0.1", b"nosuch"),
    (
        29,
        InvalidUser,
        "127.0.0.1",
        b"x from 10.9.9.9 port 22 ssh2",
    ),
    (30, Failed, "127.0.0.1", b"x from 10.9.9.9 port 22 ssh2"),
    (
        31,
        ClosedPreauth,
        "127.0.0.1",
        b"x from 10.9.9.9 port 22 ssh2",
    ),
    (32, InvalidUser, "127.0.0.1", b"admin from 1.2.3.4"),
    (33, Failed, "127.0.0.1", b"admin from 1.2.3.4"),
    (34, ClosedPreauth, "127.0.0.1", b"admin from 1.2.3.4"),
    (
        35,
        InvalidUser,
        "127.0.0.1",
        b"q 10.9.9.9 port 22 [preauth]",
    ),
    (36, Failed, "127.0.0.1", b"q 10.9.9.9 port 22 [preauth]"),
    (
        37,
        ClosedPreauth,
        "127.0.0.1",
        b"q 10.9.9.9 port 22 [preauth]",
    ),
    (39, ClosedPreauth, "127.0.0.1", b""),
    (41, ClosedPreauth, "127.0.0.1", b""),
    (42, ClosedPreauth, "203.0.113.77", b""),
    (46, ClosedPreauth, "203.0.113.80", b"root"),
    (48, ClosedPreauth, "203.0.113.81", b"oracle"),
    (49, Failed, "2001:db8::77", b"ubnt"),
    (50, Failed, "198.51.100.23", b"pi"),
    (51, Accepted, "198.51.100.24", b"deploy"),
    (52, Accepted, "198.51.100.25", b"deploy"),
    (61, Failed, "192.0.2.200", b"root"),
    (62, Failed, "192.0.2.200", b"root"),
    (63, MaxAttempts, "192.0.2.200", b"root"),
    (64, InvalidUser, "192.0.2.201", b"admin"),
    (66, Failed, "192.0.2.210", b"test"),
    (67, ClosedPreauth, "192.0.2.210", b"test"),
    (68, ClosedPreauth, "192.0.2.211", b"test"),
    (71, Failed, "192.0.2.220", b"root"),
    (72, InvalidUser, "192.0.2.221", b"guest"),
];

const CORPUS: &str = include_str!("../../../tests/data/sshd_corpus.txt");

#[test]
fn debian_corpus_matches_its_table() {
    let mut p = AuthParser::new(local(2026, 11, 26, 0, 0, 0));
    let mut expected = CORPUS_EVENTS.iter().peekable();
    for (i, line) in CORPUS.lines().enumerate() {
        let want = expected
            .next_if(|e| e.0 == i + 1)
            .map(|&(_, kind, ip, user)| (kind, ip, user));
        let got = p.parse(line.as_bytes());
        if want.is_some() {
            assert!(
                got.as_ref().is_some_and(|e| e.time.is_some()),
                "time of line {}",
                i + 1
            );
        }
        check(got, want, &format!("line {}: {line}", i + 1));
    }
    assert!(
        expected.next().is_none(),
        "table names lines past the corpus"
    );
}

#[test]
fn corpus_times() {
    let mut p = AuthParser::new(local(2026, 11, 26, 0, 0, 0));
    let time = |p: &mut AuthParser, n: usize| {
        let line = CORPUS.lines().nth(n - 1).expect("corpus line");
        p.parse(line.as_bytes()).and_then(|e| e.time)
    };
    assert_eq!(time(&mut p, 8), Some(utc(2026, 11, 25, 17, 41, 56)));
    assert_eq!(time(&mut p, 61), Some(local(2026, 11, 25, 17, 43, 1)));
    assert_eq!(time(&mut p, 64), Some(local(2026, 11, 5, 9, 3, 4)));
    assert_eq!(time(&mut p, 66), Some(utc(2026, 11, 25, 17, 44, 0)));
    assert_eq!(time(&mut p, 71), Some(utc(2026, 11, 25, 17, 45, 0)));
}

fn parse_one(line: &[u8]) -> Option<AuthEvent<'_>> {
    AuthParser::new(0).parse(line)
}

fn sshd(msg: &[u8]) -> Vec<u8> {
    [b"2026-11-25T17:41:52+0000 h sshd[1]: ".as_slice(), msg].concat()
}

#[test]
fn forged_addresses_in_user_names_are_ignored() {
    let cases: &[(&[u8], Want)] = &[
        (b"Failed password for x from 6.6.6.6 port 22 ssh2: RSA SHA256:a from 192.0.2.1 port 5 ssh2", Some((Failed, "192.0.2.1", b"x from 6.6.6.6 port 22 ssh2: RSA SHA256:a"))),
        (b"Failed password for x from 6.6.6.6 port 22 ssh2 from UNKNOWN port 65535 ssh2", None),
        (b"Failed password for invalid user a from 2001:db8::bad port 1 ssh2 from 2001:db8::1 port 2 ssh2", Some((Failed, "2001:db8::1", b"a from 2001:db8::bad port 1 ssh2"))),
        (b"Failed password for invalid user a from ::ffff:6.6.6.6 port 1 ssh2 from ::ffff:192.0.2.7 port 2 ssh2", Some((Failed, "192.0.2.7", b"a from ::ffff:6.6.6.6 port 1 ssh2"))),
        // Regression (found by the oracle test below): a user name
        // ending in ` from` overlaps the real anchor's leading space; a
        // non-overlapping search skipped the anchor and dropped the event.
        (b"Failed password for invalid user x from from 192.0.2.1 port 2 ssh2", Some((Failed, "192.0.2.1", b"x from"))),
        (b"Failed password for invalid user from from from 192.0.2.1 port 2 ssh2", Some((Failed, "192.0.2.1", b"from from"))),
        (b"Accepted password for x from 6.6.6.6 port 1 ssh2 from 192.0.2.1 port 2 ssh2", Some((Accepted, "192.0.2.1", b"x from 6.6.6.6 port 1 ssh2"))),
        (b"Invalid user x from 6.6.6.6 from UNKNOWN port 65535", None),
        (b"Invalid user x from 6.6.6.6 port 1 from UNKNOWN", None),
        (b"Invalid user x from 6.6.6.6 port 22 from 192.0.2.1", Some((InvalidUser, "192.0.2.1", b"x from 6.6.6.6 port 22"))),
        (b"Connection closed by invalid user x 6.6.6.6 port 22 [preauth] UNKNOWN port 65535 [preauth]", None),
        (b"Connection closed by invalid user 6.6.6.6 port 1 192.0.2.1 port 2 [preauth]", Some((ClosedPreauth, "192.0.2.1", b"6.6.6.6 port 1"))),
        (b"error: maximum authentication attempts exceeded for invalid user a from 6.6.6.6 port 1 ssh2 from 192.0.2.1 port 2 ssh2 [preauth]", Some((MaxAttempts, "192.0.2.1", b"a from 6.6.6.6 port 1 ssh2"))),
        (b"Disconnecting invalid user a 6.6.6.6 port 1: Too many authentication failures 192.0.2.1 port 2: Too many authentication failures [preauth]", Some((MaxAttempts, "192.0.2.1", b"a 6.6.6.6 port 1: Too many authentication failures"))),
        // A certificate's key ID is chosen by the client too: one anchor
        // is fine, two are ambiguous by construction and dropped.
        (b"Failed publickey for root from 192.0.2.1 port 5 ssh2: ED25519-CERT SHA256:a ID z (serial 1) CA ED25519 SHA256:c", Some((Failed, "192.0.2.1", b"root"))),
        (b"Failed publickey for root from 192.0.2.1 port 5 ssh2: ED25519-CERT SHA256:a ID z from 6.6.6.6 port 22 ssh2: RSA SHA256:b ID q (serial 1) CA ED25519 SHA256:c", None),
        (b"Failed publickey for u from 6.6.6.6 port 1 ssh2: RSA-CERT SHA256:x ID y from 192.0.2.1 port 5 ssh2: ED25519-CERT SHA256:a ID k (serial 1) CA ED25519 SHA256:c", None),
        (b"Failed publickey for u from 6.6.6.6 port 1 ssh2: RSA SHA256:x from 192.0.2.1 port 5 ssh2: ED25519 SHA256:a", Some((Failed, "192.0.2.1", b"u from 6.6.6.6 port 1 ssh2: RSA SHA256:x"))),
    ];
    for &(msg, want) in cases {
        check(parse_one(&sshd(msg)), want, &String::from_utf8_lossy(msg));
    }
}

#[test]
fn hostile_user_bytes_are_kept_verbatim() {
    let users: &[&[u8]] = &[
        b"a\x01b\x1b[31m\"x'",
        b"\xff\xfe\x00",
        b"\\001\\033",
        b"bob\ttab",
        b"  spaced  out  ",
        b"\xe2\x80\xaeevil",
        b"[preauth]",
    ];
    for &user in users {
        let msg = [
            b"Failed password for invalid user ".as_slice(),
            user,
            b" from 192.0.2.9 port 7 ssh2",
        ]
        .concat();
        check(
            parse_one(&sshd(&msg)),
            Some((Failed, "192.0.2.9", user)),
            "failed",
        );
        let msg = [b"Invalid user ".as_slice(), user, b" from 192.0.2.9 port 7"].concat();
        check(
            parse_one(&sshd(&msg)),
            Some((InvalidUser, "192.0.2.9", user)),
            "invalid",
        );
        let msg = [
            b"Connection closed by invalid user ".as_slice(),
            user,
            b" 192.0.2.9 port 7 [preauth]",
        ]
        .concat();
        check(
            parse_one(&sshd(&msg)),
            Some((ClosedPreauth, "192.0.2.9", user)),
            "closed",
        );
    }
}

#[test]
fn very_long_forged_user_still_gives_the_real_address() {
    let user = b"a from 6.6.6.6 port 1 ssh2 ".repeat(2_000);
    let user = &user[..user.len() - 1];
    let msg = [
        b"Failed password for invalid user ".as_slice(),
        user,
        b" from 192.0.2.1 port 2 ssh2",
    ]
    .concat();
    let line = sshd(&msg);
    let event = parse_one(&line).expect("event");
    assert_eq!(
        (event.ip, event.user),
        ("192.0.2.1".parse().expect("ip"), user)
    );
}

/// Tiny deterministic generator for the property tests (no extra crates).
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// A user name built from the pieces an attacker would use.
fn hostile_user(rng: &mut XorShift) -> Vec<u8> {
    const PIECES: &[&[u8]] = &[
        b"from",
        b"port",
        b"ssh2",
        b"ssh2:",
        b"6.6.6.6",
        b"::1",
        b"::ffff:6.6.6.6",
        b"22",
        b"[preauth]",
        b"invalid",
        b"user",
        b"authenticating",
        b"RSA",
        b"SHA256:x",
        b"ID",
        b"(serial",
        b"1)",
        b"CA",
        b":",
        b"x",
        b"",
        b"\x1b",
        b"\xff",
    ];
    const GLUE: &[&[u8]] = &[b" ", b" ", b" ", b"", b"  ", b": "];
    let mut user = Vec::new();
    for _ in 0..rng.below(12) {
        user.extend_from_slice(PIECES[rng.below(PIECES.len())]);
        user.extend_from_slice(GLUE[rng.below(GLUE.len())]);
    }
    user
}

/// The oracle is how sshd builds the line: whatever the user name, the
/// parser must return exactly that name and the address sshd appended.
#[test]
fn anchored_address_matches_the_sshd_format_oracle() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let ips = ["192.0.2.44", "2001:db8::44", "::ffff:192.0.2.45"];
    for round in 0..20_000 {
        let user = hostile_user(&mut rng);
        let ip = ips[rng.below(ips.len())];
        let canon: IpAddr = parse_ip(ip.as_bytes()).expect("ip");
        let port = rng.below(65_536);
        let u = String::from_utf8_lossy(&user).into_owned();
        let (kind, line): (AuthKind, Vec<u8>) = match rng.below(6) {
            0 => (
                Failed,
                [
                    b"Failed password for invalid user ".as_slice(),
                    &user,
                    format!(" from {ip} port {port} ssh2").as_bytes(),
                ]
                .concat(),
            ),
            1 => (
                Failed,
                [
                    b"Failed publickey for invalid user ".as_slice(),
                    &user,
                    format!(" from {ip} port {port} ssh2: ED25519 SHA256:abc").as_bytes(),
                ]
                .concat(),
            ),
            2 => (
                InvalidUser,
                [
                    b"Invalid user ".as_slice(),
                    &user,
                    format!(" from {ip} port {port}").as_bytes(),
                ]
                .concat(),
            ),
            3 => (
                ClosedPreauth,
                [
                    b"Connection closed by invalid user ".as_slice(),
                    &user,
                    format!(" {ip} port {port} [preauth]").as_bytes(),
                ]
                .concat(),
            ),
            4 => (
                MaxAttempts,
                [
                    b"error: maximum authentication attempts exceeded for invalid user ".as_slice(),
                    &user,
                    format!(" from {ip} port {port} ssh2 [preauth]").as_bytes(),
                ]
                .concat(),
            ),
            _ => (
                MaxAttempts,
                [
                    b"Disconnecting invalid user ".as_slice(),
                    &user,
                    format!(" {ip} port {port}: Too many authentication failures [preauth]")
                        .as_bytes(),
                ]
                .concat(),
            ),
        };
        let framed = sshd(&line);
        let got = parse_one(&framed).map(|e| (e.kind, e.ip, e.user.to_vec()));
        assert_eq!(
            got,
            Some((kind, canon, user.clone())),
            "round {round}: user {u:?}"
        );
    }
}

#[test]
fn no_panic_on_truncations_and_byte_flips() {
    let mut rng = XorShift(7);
    let mut p = AuthParser::new(local(2026, 11, 26, 0, 0, 0));
    let mut corpus: Vec<Vec<u8>> = CORPUS.lines().map(|l| l.as_bytes().to_vec()).collect();
    for (prefix, _) in frames() {
        corpus.extend(
            MESSAGES
                .iter()
                .map(|(m, _)| format!("{prefix}{m}").into_bytes()),
        );
    }
    for line in &corpus {
        for end in 0..=line.len() {
            let _ = p.parse(&line[..end]);
            let _ = p.parse(&line[end..]);
        }
        for _ in 0..64 {
            let mut bad = line.clone();
            if let Some(at) = (!bad.is_empty()).then(|| rng.below(bad.len())) {
                bad[at] = b" :[]<>-0\xff"[rng.below(9)];
            }
            let _ = p.parse(&bad);
        }
    }
}

fn year_of(p: &mut AuthParser, stamp: &str) -> Option<UnixTime> {
    let line = format!("{stamp} h sshd[1]: Failed password for root from 192.0.2.1 port 2 ssh2");
    p.parse(line.as_bytes()).expect("event").time
}

#[test]
fn year_across_new_year() {
    let mut p = AuthParser::new(local(2027, 1, 1, 0, 1, 0));
    assert_eq!(
        year_of(&mut p, "Dec 31 23:59:00"),
        Some(local(2026, 12, 31, 23, 59, 0))
    );
    let mut p = AuthParser::new(local(2027, 1, 1, 0, 1, 0));
    assert_eq!(
        year_of(&mut p, "Jan  1 00:00:30"),
        Some(local(2027, 1, 1, 0, 0, 30))
    );
    // Up to a day ahead of the clock is still this year (clock skew)...
    let mut p = AuthParser::new(local(2027, 1, 1, 0, 1, 0));
    assert_eq!(
        year_of(&mut p, "Jan  1 23:00:00"),
        Some(local(2027, 1, 1, 23, 0, 0))
    );
    // ...but further ahead is the past.
    let mut p = AuthParser::new(local(2027, 1, 1, 0, 1, 0));
    assert_eq!(
        year_of(&mut p, "Jun  1 12:00:00"),
        Some(local(2026, 6, 1, 12, 0, 0))
    );
}

#[test]
fn year_follows_the_clock_set_by_set_now() {
    let mut p = AuthParser::new(local(2026, 6, 1, 0, 0, 0));
    assert_eq!(
        year_of(&mut p, "Dec 31 23:59:00"),
        Some(local(2025, 12, 31, 23, 59, 0))
    );
    p.set_now(local(2027, 1, 1, 0, 1, 0));
    assert_eq!(
        year_of(&mut p, "Dec 31 23:59:00"),
        Some(local(2026, 12, 31, 23, 59, 0))
    );
}

#[test]
fn stream_advances_the_year_dec_to_jan_even_with_a_lagging_clock() {
    let mut p = AuthParser::new(local(2026, 12, 31, 12, 0, 0));
    let seq = [
        ("Dec 31 23:00:00", local(2026, 12, 31, 23, 0, 0)),
        ("Jan  1 00:30:00", local(2027, 1, 1, 0, 30, 0)),
        ("Jan  1 18:00:00", local(2027, 1, 1, 18, 0, 0)),
        ("Jan  2 09:00:00", local(2027, 1, 2, 9, 0, 0)),
        // A late line from the old year stays in the old year.
        ("Dec 31 23:59:59", local(2026, 12, 31, 23, 59, 59)),
        ("Jan  2 10:00:00", local(2027, 1, 2, 10, 0, 0)),
    ];
    for (stamp, want) in seq {
        assert_eq!(year_of(&mut p, stamp), Some(want), "{stamp}");
    }
}

#[test]
fn year_after_a_long_quiet_gap_follows_the_clock() {
    let mut p = AuthParser::new(local(2025, 3, 10, 0, 0, 0));
    assert_eq!(
        year_of(&mut p, "Mar  9 10:00:00"),
        Some(local(2025, 3, 9, 10, 0, 0))
    );
    p.set_now(local(2026, 5, 10, 0, 0, 0));
    assert_eq!(
        year_of(&mut p, "May  3 10:00:00"),
        Some(local(2026, 5, 3, 10, 0, 0))
    );
}

#[test]
fn feb_29_lands_in_a_leap_year_and_bad_dates_have_no_time() {
    let mut p = AuthParser::new(local(2027, 3, 1, 0, 0, 0));
    assert_eq!(
        year_of(&mut p, "Feb 29 12:00:00"),
        Some(local(2024, 2, 29, 12, 0, 0))
    );
    assert_eq!(year_of(&mut p, "Feb 30 12:00:00"), None);
    assert_eq!(year_of(&mut p, "Nov 25 25:00:00"), None);
    assert_eq!(year_of(&mut p, "Foo 25 12:00:00"), None);
}
