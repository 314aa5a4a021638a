use serde_json::Value;

use super::*;
use crate::detect::DetectSettings;
use crate::parse::{AccessHit, AuthEvent, AuthKind};
use crate::table::IpTable;
use crate::testutil::{access_hit, ip};

const T0: UnixTime = 1_800_000_000;
const TTL: UnixTime = 600;

fn stream() -> Events {
    Events::with_sinks(vec![Sink::Memory(Vec::new())], "box".into(), false)
}

fn detector() -> Detector {
    let mut d = Detector::new(DetectSettings {
        reason_ttl: TTL,
        ..DetectSettings::default()
    })
    .unwrap();
    d.set_now(T0);
    d
}

/// The lines written so far, parsed (each must be one JSON object).
fn lines(events: &Events) -> Vec<Value> {
    let Sink::Memory(bytes) = &events.sinks[0] else {
        unreachable!()
    };
    let text = std::str::from_utf8(bytes).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// `type ip new_reasons-or-cleared_reasons`, one string a line.
fn summary(events: &Events) -> Vec<String> {
    lines(events)
        .iter()
        .map(|v| {
            let codes = |key: &str| {
                v[key]
                    .as_array()
                    .map(|a| a.iter().map(|c| c.as_str().unwrap()).collect::<Vec<_>>())
                    .unwrap_or_default()
                    .join(",")
            };
            match v["type"].as_str().unwrap() {
                "suspicious" => format!("suspicious {} +{}", v["ip"], codes("new_reasons")),
                "cleared" => format!("cleared {} -{}", v["ip"], codes("cleared_reasons")),
                other => format!("{other} {}", v["ip"]),
            }
        })
        .collect()
}

/// A failed sshd attempt, counted and looked at as the line feed does.
fn failed(t: &mut IpTable, d: &Detector, e: &mut Events, client: &str, at: UnixTime) {
    failed_at(t, d, e, client, at, T0);
}

/// [`failed`], on the wall clock `now`.
fn failed_at(
    t: &mut IpTable,
    d: &Detector,
    e: &mut Events,
    client: &str,
    at: UnixTime,
    now: UnixTime,
) {
    let event = AuthEvent {
        kind: AuthKind::Failed,
        ip: ip(client),
        user: b"root",
        time: Some(at),
    };
    let applied = t.apply_auth(&event, now).unwrap();
    d.check_auth(t, applied.row);
    e.after_row(d, t.row_mut(applied.row));
    e.flush(t, d, now);
}

fn request(t: &mut IpTable, d: &mut Detector, e: &mut Events, hit: &AccessHit<'_>) {
    let (applied, request) = t.apply_access(hit, T0).unwrap();
    d.check_request(t, applied.row, &request, hit);
    e.after_row(d, t.row_mut(applied.row));
    e.flush(t, d, T0);
}

#[test]
fn a_reason_is_announced_once_until_it_clears() {
    let (mut t, mut d, mut e) = (IpTable::new(100, false), detector(), stream());
    for s in 0..10 {
        failed(&mut t, &d, &mut e, "8.8.4.4", T0 - 100 + s);
    }
    let probe = access_hit("8.8.4.4", T0 - 50, b"/.env", 404, 0);
    for _ in 0..5 {
        request(&mut t, &mut d, &mut e, &probe);
    }
    // The tick: nothing faded, nothing new.
    e.reconcile(&t, &d, T0);
    assert_eq!(
        summary(&e),
        [
            "suspicious \"8.8.4.4\" +auth_failures",
            "suspicious \"8.8.4.4\" +exploit_path",
        ]
    );
    let second = &lines(&e)[1];
    assert_eq!(
        second["reasons"],
        serde_json::json!(["exploit_path", "auth_failures"])
    );
    assert_eq!(second["auth_failures"], 10);
    assert_eq!(
        second["requests"], 1,
        "as of the line that added the reason"
    );
    assert_eq!(second["host"], "box");
}

#[test]
fn faded_reasons_are_cleared_then_announced_again() {
    let (mut t, mut d, mut e) = (IpTable::new(100, false), detector(), stream());
    for s in 0..3 {
        failed(&mut t, &d, &mut e, "8.8.4.4", T0 - 500 + s);
    }
    let probe = access_hit("8.8.4.4", T0, b"/.env", 404, 0);
    request(&mut t, &mut d, &mut e, &probe);
    // 200 s on, the failures are past the TTL, the probe not yet.
    d.set_now(T0 + 200);
    e.reconcile(&t, &d, T0 + 200);
    let cleared = &lines(&e)[2];
    assert_eq!(cleared["reasons"], serde_json::json!(["exploit_path"]));
    // Both gone, then the brute forcer is back.
    let later = T0 + 2 * TTL;
    d.set_now(later);
    e.reconcile(&t, &d, later);
    e.reconcile(&t, &d, later);
    for s in 0..3 {
        failed_at(&mut t, &d, &mut e, "8.8.4.4", later + s, later);
    }
    assert_eq!(
        summary(&e),
        [
            "suspicious \"8.8.4.4\" +auth_failures",
            "suspicious \"8.8.4.4\" +exploit_path",
            "cleared \"8.8.4.4\" -auth_failures",
            "cleared \"8.8.4.4\" -exploit_path",
            "suspicious \"8.8.4.4\" +auth_failures",
        ]
    );
    assert!(e.announced.len() == 1);
}

#[test]
fn a_row_that_is_gone_is_cleared() {
    let (mut t, d, mut e) = (IpTable::new(100, false), detector(), stream());
    for s in 0..3 {
        failed(&mut t, &d, &mut e, "8.8.4.4", T0 + s);
    }
    let empty = IpTable::new(100, false);
    e.reconcile(&empty, &d, T0);
    assert_eq!(summary(&e)[1], "cleared \"8.8.4.4\" -auth_failures");
    assert!(e.announced.is_empty(), "nothing kept for a cleared address");
}

/// A breach: its own line, first in `reasons`; it never fades.
#[test]
fn a_breach_is_announced_and_never_cleared() {
    let (mut t, d, mut e) = (IpTable::new(100, false), detector(), stream());
    for s in 0..3 {
        failed(&mut t, &d, &mut e, "8.8.4.4", T0 + s);
    }
    assert!(d.check_accepted(&mut t, ip("8.8.4.4"), T0 + 5, 3));
    let row = t.get(ip("8.8.4.4")).unwrap();
    e.after_row(&d, row);
    e.accepted(row, b"root", 3);
    e.flush(&t, &d, T0);
    let mut d = d;
    d.set_now(T0 + 100 * TTL);
    e.reconcile(&t, &d, T0 + 100 * TTL);
    assert_eq!(
        summary(&e),
        [
            "suspicious \"8.8.4.4\" +auth_failures",
            "suspicious \"8.8.4.4\" +breach",
            "auth \"8.8.4.4\"",
            "cleared \"8.8.4.4\" -auth_failures",
        ]
    );
    let all = lines(&e);
    assert_eq!(
        all[1]["reasons"],
        serde_json::json!(["breach", "auth_failures"])
    );
    assert_eq!(all[2]["after_failures"], 3);
    assert_eq!(all[2]["user"], "root");
    assert_eq!(all[3]["reasons"], serde_json::json!(["breach"]));
}

fn report(kind: &'static str, error: Option<&str>) -> SourceReport {
    SourceReport {
        path: format!("/var/log/{kind}.log"),
        kind,
        format: String::new(),
        lines: 0,
        malformed: 0,
        error: error.map(str::to_string),
        note: None,
    }
}

#[test]
fn a_source_is_announced_when_it_fails_and_when_it_recovers() {
    let mut e = stream();
    let ok = [report("access", None), report("auth", None)];
    let auth_down = [report("access", None), report("auth", Some("gone"))];
    e.sources(&ok, T0);
    e.sources(&auth_down, T0);
    e.sources(&auth_down, T0 + 1);
    e.sources(&ok, T0 + 2);
    e.sources(&ok, T0 + 3);
    let all = lines(&e);
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[0]["type"], "source");
    assert_eq!(all[0]["source"], "auth");
    assert_eq!(all[0]["path"], "/var/log/auth.log");
    assert_eq!(all[0]["status"], "failed");
    assert_eq!(all[0]["error"], "gone");
    assert_eq!(all[1]["status"], "recovered");
    assert_eq!(all[1]["error"], Value::Null);
}

/// The prefix is a contract (fail2ban filters match it): field order and
/// spelling, and no raw control byte from outside text.
#[test]
fn every_line_starts_with_the_fixed_prefix() {
    let (mut t, d, mut e) = (IpTable::new(100, false), detector(), stream());
    for s in 0..3 {
        failed(&mut t, &d, &mut e, "8.8.4.4", T0 + s);
    }
    e.accepted(t.get(ip("8.8.4.4")).unwrap(), b"r\x1b[31m\n\xff", 3);
    e.flush(&t, &d, T0);
    e.sources(&[report("auth", Some("bad\x07"))], T0);
    let Sink::Memory(bytes) = &e.sinks[0] else {
        unreachable!()
    };
    let text = std::str::from_utf8(bytes).unwrap();
    let prefix = |kind: &str| {
        format!(
            r#"{{"schema_version":1,"type":"{kind}","time":"2027-01-15T08:00:00Z","host":"box""#
        )
    };
    let kinds = ["suspicious", "auth", "source"];
    for (line, kind) in text.lines().zip(kinds) {
        assert!(line.starts_with(&prefix(kind)), "{line}");
        assert!(line.bytes().all(|b| b >= 0x20), "{line:?}");
    }
    assert!(text.lines().next().unwrap()[prefix("suspicious").len()..]
        .starts_with(r#","ip":"8.8.4.4","reasons""#));
    assert_eq!(text.lines().count(), 3);
}

/// A sink that cannot be written is said once, and the stream goes on.
#[test]
fn a_write_error_is_said_once() {
    let file = OpenOptions::new().write(true).open("/dev/full").unwrap();
    let mut e = Events::with_sinks(
        vec![
            Sink::File {
                file,
                path: "/dev/full".into(),
            },
            Sink::Memory(Vec::new()),
        ],
        "box".into(),
        false,
    );
    let reports = [report("auth", Some("x"))];
    e.sources(&reports, T0);
    e.sources(&[report("auth", None)], T0);
    let error = e.take_error().unwrap();
    assert!(error.contains("/dev/full"), "{error}");
    e.sources(&reports, T0);
    assert_eq!(e.take_error(), None, "said once");
    let Sink::Memory(bytes) = &e.sinks[1] else {
        unreachable!()
    };
    assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 3);
}

#[test]
fn the_file_is_created_for_its_owner_only_and_appended_to() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.ndjson");
    std::fs::write(&path, "earlier\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = EventsConfig {
        stdout: false,
        file: Some(path.clone()),
    };
    let mut e = Events::open(&config, false).unwrap().unwrap();
    e.sources(&[report("auth", Some("x"))], T0);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("earlier\n{\"schema_version\":1,\"type\":\"source\""));
    let fresh = dir.path().join("new.ndjson");
    let config = EventsConfig {
        stdout: false,
        file: Some(fresh.clone()),
    };
    drop(Events::open(&config, false).unwrap());
    let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

fn command(argv: &[&str], code: i32) -> crate::actions::block::CommandResult {
    use std::os::unix::process::ExitStatusExt;
    crate::actions::block::CommandResult {
        argv: argv.iter().map(|a| a.to_string()).collect(),
        is_check: false,
        is_probe: false,
        status: Ok(std::process::ExitStatus::from_raw(code << 8)),
        timed_out: false,
        output: Default::default(),
    }
}

/// A block run that worked, and one that failed: `blocked` with its
/// scope, tool and result.
#[test]
fn a_block_run_is_announced_with_its_result() {
    use crate::actions::block::Tool;
    let mut e = stream();
    let mut record = BlockRecord {
        time: T0,
        ip: ip("203.0.113.77"),
        target: "203.0.113.0/24".parse().unwrap(),
        tool: Tool::Nft,
        probe: None,
        commands: vec![command(&["nft", "add", "element"], 0)],
    };
    e.blocked(&record, T0);
    record.commands.push(command(&["nft", "list"], 1));
    e.blocked(&record, T0);
    let all = lines(&e);
    assert_eq!(all[0]["type"], "blocked");
    assert_eq!(all[0]["ip"], "203.0.113.77");
    assert_eq!(all[0]["scope"], "203.0.113.0/24");
    assert_eq!(all[0]["tool"], "nft");
    assert_eq!(all[0]["result"], "ok");
    assert_eq!(all[0]["error"], Value::Null);
    assert_eq!(all[1]["result"], "failed");
    assert_eq!(all[1]["error"], "exit status: 1", "{}", all[1]);
}
