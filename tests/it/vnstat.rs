//! This month's totals from the real vnStat (issue 12 item 1).
//!
//! vnstat reads `$HOME/.vnstatrc` before /etc/vnstat.conf, so each test gives it
//! a HOME of its own whose `.vnstatrc` points `DatabaseDir` into the test's
//! directory: nothing of the host's database is read or written, and nethergaze
//! needs no option of its own for it.

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::dashboard::{shell_quote, skip_without_tmux, Tmux};
use super::harness::{self, Running, Snapshot, RUN_TIMEOUT};

/// In a private network namespace: a veth pair, `vt0` added to a fresh vnstat
/// database, vnstatd running while bytes go out of and into `vt0` (UDP to
/// addresses with static neighbours, so no peer is needed), stopped after one
/// update (it saves on SIGTERM); vnstat's own answer is written to
/// `$HOME/expected.json`; then `"$@"` (nethergaze) runs in the same namespace.
const SCRIPT: &str = r#"set -eu
log="$HOME/vnstatd.log"
updates() { grep -c 'processdatacache()' "$log" || true; }
ip link add vt0 type veth peer name vt1
ip link set vt0 up
ip link set vt1 up
ip addr add 10.9.0.1/24 dev vt0
ip neigh add 10.9.0.2 lladdr 02:00:00:00:00:02 dev vt0 nud permanent
ip addr add 10.8.0.1/24 dev vt1
ip neigh add 10.8.0.2 lladdr 02:00:00:00:00:03 dev vt1 nud permanent
vnstatd --initdb >/dev/null
vnstat --add -i vt0 >/dev/null
stdbuf -oL -eL vnstatd -n -D --noadd > "$log" 2>&1 &
daemon=$!
# Its first reading is the baseline: traffic counts from then on.
for _ in $(seq 600); do [ "$(updates)" -ge 1 ] && break; sleep 0.05; done
head -c 30000 /dev/zero > /dev/udp/10.9.0.2/9
head -c 20000 /dev/zero > /dev/udp/10.8.0.2/9
seen=$(updates)
for _ in $(seq 600); do [ "$(updates)" -gt "$seen" ] && break; sleep 0.05; done
kill -TERM "$daemon"
wait "$daemon" || true
vnstat --json m 1 -i vt0 > "$HOME/expected.json"
exec "$@"
"#;

/// A HOME whose `.vnstatrc` keeps vnstat's database in `home/db`, updated every
/// 2 s (vnstatd's shortest interval).
fn vnstat_home(home: &Path) {
    fs::create_dir_all(home.join("db")).unwrap();
    let rc = format!(
        "DatabaseDir \"{}\"\nPollInterval 2\nUpdateInterval 2\nSaveInterval 1\n",
        home.join("db").display()
    );
    fs::write(home.join(".vnstatrc"), rc).unwrap();
}

/// `nethergaze --json` on the fixtures, asking vnstat about `iface`; the
/// caller adds `--once` or `--for`.
fn on_fixtures(home: &Path, iface: &str) -> Command {
    let mut cmd = harness::on_fixtures();
    cmd.args(["--no-geoip", "--no-whois", "--no-history"])
        .args(["--interface", iface])
        .env("HOME", home);
    cmd
}

/// `nethergaze --once --json` on the fixtures, asking vnstat about `iface`.
fn once(home: &Path, iface: &str) -> Command {
    let mut cmd = on_fixtures(home, iface);
    cmd.arg("--once");
    cmd
}

fn finish(cmd: Command) -> (Snapshot, String) {
    let out = Running::spawn(cmd).finish(RUN_TIMEOUT);
    assert!(out.status.success(), "nethergaze failed: {out:?}");
    (Snapshot::parse(&out.stdout), out.stderr)
}

/// `--once` (waits for its vnstat run) into `$HOME/once.json`, then `--for`
/// (the loop runs vnstat as a child, at the start and every interval).
const ONCE_THEN_FOR: &str = r#""$@" --once > "$HOME/once.json" && exec "$@" --for 2s"#;

#[test]
fn once_and_for_report_the_month_totals_vnstat_reports() {
    if harness::skip_unless(&["vnstat", "vnstatd", "unshare", "ip", "bash", "stdbuf"]) {
        return;
    }
    let dir = harness::tempdir();
    vnstat_home(dir.path());
    let mut netns = Command::new(harness::bin("unshare"));
    netns.args(["--net", "--", "bash", "-c", SCRIPT, "bash"]);
    let mut twice = Command::new("sh");
    twice.args(["-c", ONCE_THEN_FOR, "sh"]);
    let inner = harness::wrapped(twice, &on_fixtures(dir.path(), "vt0"));
    let (followed, _) = finish(harness::wrapped(netns, &inner));
    let once = Snapshot::parse(&fs::read_to_string(dir.path().join("once.json")).unwrap());

    let (rx, tx, label) = expected(dir.path());
    for (run, snap) in [("--once", &once), ("--for", &followed)] {
        let got = &snap.summary["vnstat"];
        assert_eq!(got["interface"], "vt0", "{run}");
        assert_eq!(got["rx"], rx, "{run}: {got}");
        assert_eq!(got["tx"], tx, "{run}: {got}");
        assert_eq!(got["month"], label.as_str(), "{run}");
        assert_eq!(got["note"], Value::Null, "{run}");
    }
}

/// vnstat's month entry for `vt0` in `$HOME/expected.json`: (rx, tx, "YYYY-MM").
fn expected(home: &Path) -> (u64, u64, String) {
    let expected: Value =
        serde_json::from_str(&fs::read_to_string(home.join("expected.json")).unwrap()).unwrap();
    let month = &expected["interfaces"][0]["traffic"]["month"][0];
    let (rx, tx) = (month["rx"].as_u64().unwrap(), month["tx"].as_u64().unwrap());
    // The bytes sent through vt0 (and fragment headers) were counted.
    assert!(rx >= 20_000 && tx >= 30_000, "vnstat counted {rx}/{tx}");
    let date = &month["date"];
    let label = format!(
        "{:04}-{:02}",
        date["year"].as_u64().unwrap(),
        date["month"].as_u64().unwrap()
    );
    (rx, tx, label)
}

/// Bytes as the dashboard writes them (`view::format::human_bytes`).
fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let (mut value, mut unit) = (n as f64, 0);
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{n} B"),
        _ => format!("{value:.1} {}", UNITS[unit]),
    }
}

#[test]
fn dashboard_header_shows_the_month_totals_vnstat_reports() {
    if skip_without_tmux()
        || harness::skip_unless(&["vnstat", "vnstatd", "unshare", "ip", "bash", "stdbuf"])
    {
        return;
    }
    let dir = harness::tempdir();
    let home = dir.path();
    vnstat_home(home);
    fs::write(home.join("netns.sh"), SCRIPT).unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let script = format!(
        "HOME={home} XDG_CONFIG_HOME={home} {unshare} --net -- bash {netns} {bin} \
         --log-path {root}/tests/data/logs/combined.log --no-auth-log \
         --proc-root {root}/tests/data/proc --no-geoip --no-whois --no-history \
         --interface vt0; exec sleep 600",
        home = shell_quote(home),
        unshare = shell_quote(&harness::bin("unshare")),
        netns = shell_quote(&home.join("netns.sh")),
        bin = shell_quote(&harness::nethergaze_bin()),
    );
    let tmux = Tmux::start(home.join("tmux.sock"), 220, 40, &script);
    let screen = tmux.wait_for("vnstat's totals in the header", |s| {
        s.first().is_some_and(|l| l.contains("(vnstat)"))
    });
    let (rx, tx, _) = expected(home);
    let shown = format!("month ↓{} ↑{} (vnstat)", human(rx), human(tx));
    assert!(
        screen[0].contains(&shown),
        "{shown:?} in\n{}",
        screen.join("\n")
    );
    assert!(
        !screen.join("\n").contains("vnstat:"),
        "{}",
        screen.join("\n")
    );
    tmux.send(&["-l", "q"]);
}

#[test]
fn no_database_for_the_interface_is_a_quiet_note() {
    if harness::skip_unless(&["vnstat"]) {
        return;
    }
    let dir = harness::tempdir();
    vnstat_home(dir.path()); // an empty database directory
    let (snap, stderr) = finish(once(dir.path(), "lo"));
    let got = &snap.summary["vnstat"];
    assert_eq!(got["note"], "no database for the interface", "{got}");
    assert_eq!(got["rx"], Value::Null);
    assert!(!stderr.contains("vnstat"), "{stderr}");
}

#[test]
fn vnstat_not_installed_is_a_quiet_note() {
    let dir = harness::tempdir();
    let mut cmd = once(dir.path(), "lo");
    // A PATH without vnstat (nothing else in --once runs a program).
    cmd.env("PATH", dir.path());
    let (snap, stderr) = finish(cmd);
    let got = &snap.summary["vnstat"];
    assert_eq!(got["note"], "not installed", "{got}");
    assert_eq!(got["month"], Value::Null);
    assert!(!stderr.contains("vnstat"), "{stderr}");
}
