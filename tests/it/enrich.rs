//! GeoIP and history in the headless snapshot (issue 4): real MMDB files
//! written by the test, real SQLite files, the real binary.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mmdb_writer::{IpVersion, Value, Writer};
use serde_json::Value as Json;

use super::harness::{self, nethergaze, Running, Snapshot};

/// A client of the combined fixture, and what it sends there.
const CLIENT: &str = "45.33.32.156";

/// `--once --json --from-start` over the combined fixture, history in `db`.
fn once(db: &Path, extra: &[&str]) -> Snapshot {
    let mut cmd = base(db);
    cmd.args(["--once", "--from-start"]).args(extra);
    let out = Running::spawn(cmd).finish(Duration::from_secs(30));
    assert!(out.status.success(), "{out:?}");
    Snapshot::parse(&out.stdout)
}

/// A copy of the combined fixture in `dir`: the same lines in another log.
fn fixture_copy(dir: &Path) -> String {
    let copy = dir.join("copy.log");
    let root = env!("CARGO_MANIFEST_DIR");
    std::fs::copy(format!("{root}/tests/data/logs/combined.log"), &copy).unwrap();
    copy.display().to_string()
}

fn base(db: &Path) -> Command {
    let mut cmd = harness::on_fixtures();
    cmd.args(["--no-whois", "--no-geoip", "--history-db"])
        .arg(db);
    cmd
}

/// `--once --from-start` over the fixtures with a config in `dir` naming these
/// GeoIP databases (no whois, no history); asserts exit 0.
fn once_with_geoip(dir: &Path, city_db: &Path, asn_db: &Path) -> harness::Output {
    let config = dir.join("config.toml");
    let toml = format!("[geoip]\ncity_db = {city_db:?}\nasn_db = {asn_db:?}\n");
    std::fs::write(&config, toml).unwrap();
    let mut cmd = harness::on_fixtures();
    cmd.args([
        "--once",
        "--from-start",
        "--no-whois",
        "--no-history",
        "--config",
    ])
    .arg(&config);
    let out = Running::spawn(cmd).finish(Duration::from_secs(30));
    assert!(out.status.success(), "{out:?}");
    out
}

fn history(snap: &Snapshot) -> &Json {
    &snap.ips[CLIENT]["history"]
}

fn history_source(snap: &Snapshot) -> Json {
    snap.summary["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "history")
        .cloned()
        .unwrap()
}

#[test]
fn each_session_counts_once() {
    let dir = harness::tempdir();
    let db = dir.path().join("state/nethergaze/history.db");
    let first = once(&db, &[]);
    let requests = first.ips[CLIENT]["requests"].as_u64().unwrap();
    assert!(requests > 0);
    assert_eq!(history(&first)["sessions"], 1);
    assert_eq!(history(&first)["requests"], requests);
    // The same lines again count nothing (issue 11): the second session reads
    // them from a copy of the log, another log to history.
    let copy = fixture_copy(dir.path());
    let second = once(&db, &["--log-path", &copy]);
    assert_eq!(history(&second)["sessions"], 2);
    assert_eq!(
        history(&second)["requests"],
        2 * requests,
        "lifetime = exactly the sum of the sessions"
    );
    assert_eq!(
        history(&second)["bytes"],
        2 * first.ips[CLIENT]["bytes"].as_u64().unwrap()
    );
    assert_eq!(history_source(&second)["error"], Json::Null);
    let third = once(&db, &["--log-path", &copy]);
    assert_eq!(history(&third)["sessions"], 2, "nothing new: no session");
    assert_eq!(history(&third)["requests"], 2 * requests, "nothing new");
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(db.parent().unwrap()), 0o700);
}

#[test]
fn a_run_ended_by_sigterm_keeps_its_session() {
    let dir = harness::tempdir();
    let db = dir.path().join("history.db");
    let mut cmd = base(&db);
    cmd.args(["--for", "300s", "--from-start"]);
    let mut run = Running::spawn(cmd);
    let pid = run.pid();
    harness::wait_until("nethergaze idle", Duration::from_secs(20), || {
        harness::in_epoll_wait(pid)
    });
    run.signal(libc::SIGTERM);
    let out = run.finish(Duration::from_secs(20));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(history(&Snapshot::parse(&out.stdout))["sessions"], 1);
    // Its lines are counted: the next session reads new ones, from a copy.
    let copy = fixture_copy(dir.path());
    assert_eq!(
        history(&once(&db, &["--log-path", &copy]))["sessions"],
        2,
        "the SIGTERM'd session was written"
    );
}

#[test]
fn a_corrupt_file_is_moved_aside_and_replaced() {
    // In our own folder, where only a history file lives (elsewhere only a file
    // with SQLite's header is moved aside: store::tests).
    let tmp = harness::tempdir();
    let dir = tmp.path().join("nethergaze");
    std::fs::create_dir(&dir).unwrap();
    let db = dir.join("history.db");
    std::fs::write(&db, vec![0x5a; 8192]).unwrap();
    let snap = once(&db, &[]);
    assert_eq!(history(&snap)["sessions"], 1);
    let error = history_source(&snap)["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(error.contains("corrupt"), "the summary says so: {error:?}");
    let aside = std::fs::read_dir(&dir).unwrap().flatten().any(|e| {
        e.file_name()
            .to_string_lossy()
            .starts_with("history.db.corrupt-")
    });
    assert!(aside, "the corrupt file was kept aside");
}

#[test]
fn an_unusable_location_turns_history_off_and_the_run_goes_on() {
    let dir = harness::tempdir();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let snap = once(&blocker.join("history.db"), &[]);
    assert_eq!(history(&snap), &Json::Null);
    assert!(
        snap.ips[CLIENT]["requests"].as_u64().unwrap() > 0,
        "everything else works"
    );
    assert!(history_source(&snap)["error"]
        .as_str()
        .unwrap()
        .contains("history is off"));
}

/// A disk that fills up during the run (a 256 KiB tmpfs in a private mount
/// namespace, filled a second in): the exit snapshot fails, history turns off
/// with a message in the summary, and everything else is printed as usual.
#[test]
fn a_full_disk_turns_history_off_and_the_run_goes_on() {
    if harness::skip_unless(&["unshare", "mount", "dd"]) {
        return;
    }
    let dir = harness::tempdir();
    let db = dir.path().join("history.db");
    let script = r#"dir=$0
mount -t tmpfs -o size=256k nethergaze-full "$dir" || exit 90
"$@" &
run=$!
sleep 1
dd if=/dev/zero of="$dir/fill" bs=4k 2>/dev/null
[ -s "$dir/history.db" ] || exit 91
wait $run"#;
    let mut cmd = harness::wrapped(harness::in_private_mounts(script, dir.path()), &base(&db));
    cmd.args(["--for", "3s", "--from-start"]);
    let out = Running::spawn(cmd).finish(Duration::from_secs(30));
    assert!(out.status.success(), "{out:?}");
    let snap = Snapshot::parse(&out.stdout);
    assert!(snap.ips[CLIENT]["requests"].as_u64().unwrap() > 0);
    assert_eq!(history(&snap), &Json::Null, "history is off");
    let error = history_source(&snap)["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains("disk is full") && error.contains("history is off"),
        "the summary says so: {error:?}"
    );
}

#[test]
fn no_history_means_null_and_no_file() {
    let dir = harness::tempdir();
    let db = dir.path().join("history.db");
    let snap = once(&db, &["--no-history"]);
    assert_eq!(history(&snap), &Json::Null);
    assert!(!db.exists());
}

/// (Shared with the golden tests.)
pub(super) fn mmdb(db_type: &str, entries: &[(&str, Value)]) -> Vec<u8> {
    let mut w = Writer::builder(db_type).ip_version(IpVersion::V6).build();
    for (net, v) in entries {
        w.insert_value(net.parse::<ipnet::IpNet>().unwrap(), v.clone())
            .unwrap();
    }
    w.to_bytes().unwrap()
}

/// (Shared with the golden tests.)
pub(super) fn city(cc: &str, name: &str) -> Value {
    Value::map([
        (
            "city",
            Value::map([("names", Value::map([("en", Value::from(name))]))]),
        ),
        ("country", Value::map([("iso_code", Value::from(cc))])),
    ])
}

/// (Shared with the golden tests.)
pub(super) fn asn(number: u32, org: &str) -> Value {
    Value::map([
        ("autonomous_system_number", Value::from(number)),
        ("autonomous_system_organization", Value::from(org)),
    ])
}

#[test]
fn geoip_fields_come_from_the_databases() {
    let dir = harness::tempdir();
    // 8.8.8.0/24 is there too (a country without a city). What each file
    // provides comes from its metadata type (GeoLite2-City, GeoLite2-ASN).
    let city_db = dir.path().join("GeoLite2-City.mmdb");
    let asn_db = dir.path().join("GeoLite2-ASN.mmdb");
    std::fs::write(
        &city_db,
        mmdb(
            "GeoLite2-City",
            &[
                ("45.33.0.0/16", city("US", "Fremont")),
                ("8.8.8.0/24", city("US", "")),
            ],
        ),
    )
    .unwrap();
    std::fs::write(
        &asn_db,
        mmdb(
            "GeoLite2-ASN",
            &[
                ("45.33.0.0/16", asn(63949, "Akamai\u{1b}[2J Cloud")),
                ("8.8.8.0/24", asn(15169, "GOOGLE")),
            ],
        ),
    )
    .unwrap();
    let out = once_with_geoip(dir.path(), &city_db, &asn_db);
    let snap = Snapshot::parse(&out.stdout);
    let row = &snap.ips[CLIENT];
    assert_eq!(
        (&row["country"], &row["city"], &row["asn"]),
        (
            &Json::from("US"),
            &Json::from("Fremont"),
            &Json::from(63949)
        )
    );
    assert_eq!(
        row["org"], "Akamai\u{1b}[2J Cloud",
        "JSON escapes it; the terminal paths sanitise it"
    );
    assert!(
        !out.stdout.contains('\u{1b}'),
        "no raw escape byte in the JSON"
    );
    let other = snap
        .ips
        .iter()
        .find(|(ip, _)| *ip != CLIENT)
        .map(|(_, v)| v)
        .unwrap();
    assert_eq!(
        other["country"],
        Json::Null,
        "an address outside the databases has nulls"
    );
}

/// Without database files the run works as before, with nulls, and the
/// summary's GeoIP source carries a note naming the path, not an error.
#[test]
fn missing_databases_are_a_note_not_an_error() {
    let dir = harness::tempdir();
    let city_db = dir.path().join("absent/GeoLite2-City.mmdb");
    let asn_db = dir.path().join("absent/GeoLite2-ASN.mmdb");
    let snap = Snapshot::parse(&once_with_geoip(dir.path(), &city_db, &asn_db).stdout);
    assert_eq!(snap.ips[CLIENT]["country"], Json::Null);
    assert!(snap.ips[CLIENT]["requests"].as_u64().unwrap() > 0);
    let geoip = snap.summary["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "geoip")
        .cloned()
        .unwrap();
    assert_eq!(geoip["error"], Json::Null, "{geoip}");
    let note = geoip["note"].as_str().unwrap();
    assert!(
        note.contains("not found") && note.contains(&city_db.display().to_string()),
        "{note}"
    );
    assert!(geoip["path"]
        .as_str()
        .unwrap()
        .contains("GeoLite2-City.mmdb"));
    let others = snap.summary["sources"].as_array().unwrap();
    assert!(
        others
            .iter()
            .filter(|s| s["kind"] != "geoip")
            .all(|s| s["error"].is_null() && s.get("note").is_none()),
        "only a source with a note has the key: {others:?}"
    );
}

/// `--version` (and `--help`) credit DB-IP when its Lite files are the
/// databases this run would use, and only then.
#[test]
fn dbip_data_is_credited_in_version() {
    let dir = harness::tempdir();
    let config = dir.path().join("config.toml");
    let absent = |name: &str| dir.path().join(name).display().to_string();
    std::fs::write(
        &config,
        format!(
            "[geoip]\ncity_db = {:?}\nasn_db = {:?}\n",
            absent("GeoLite2-City.mmdb"),
            absent("GeoLite2-ASN.mmdb")
        ),
    )
    .unwrap();
    let version = || {
        let mut cmd = nethergaze();
        cmd.arg("--version").arg("--config").arg(&config);
        let out = Running::spawn(cmd).finish(Duration::from_secs(30));
        assert!(out.status.success(), "{out:?}");
        out.stdout
    };
    assert!(!version().contains("DB-IP"), "no DB-IP files, no credit");
    std::fs::write(
        dir.path().join("dbip-city-lite-2026-11.mmdb"),
        mmdb(
            "DBIP-City-Lite",
            &[("8.8.8.0/24", city("US", "Mountain View"))],
        ),
    )
    .unwrap();
    assert!(
        version().contains("IP geolocation by DB-IP"),
        "{}",
        version()
    );
}
