//! The dashboard end to end, in a real pseudo-terminal: tmux runs the binary on the
//! combined.log and /proc fixtures in a 160×45 window; the test sends keys and reads
//! the screen with `capture-pane`. The pane's shell records `stty -g` before and after
//! the run, so a terminal left raw (or a non-zero exit) fails the test.
//!
//! Needs tmux: without it the test prints `SKIP: tmux not installed` and passes,
//! except under `CI=true` (.ci/run installs it), where that is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::harness::{self, wait_until, READY_TIMEOUT};

const PROC_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/proc");

/// The fixture addresses with a row (tests/data/logs/README), and the suspicious ones.
const ROWS: [&str; 9] = [
    "8.8.4.4",
    "2a01:4f8::1",
    "104.16.0.1",
    "185.199.108.153",
    "45.33.32.156",
    "91.198.174.192",
    "2a03:2880:f003:c07:face:b00c:0:2",
    "64.233.160.5",
    "151.101.1.69",
];
const SUSPICIOUS: [&str; 3] = ["185.199.108.153", "91.198.174.192", "64.233.160.5"];

/// A private tmux server (its own socket), killed when dropped.
pub(super) struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    /// A private server running `sh -c script` in a `cols`×`rows` window named `ng`.
    pub(super) fn start(socket: PathBuf, cols: usize, rows: usize, script: &str) -> Tmux {
        let tmux = Tmux { socket };
        let (cols, rows) = (cols.to_string(), rows.to_string());
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "ng",
            "-x",
            &cols,
            "-y",
            &rows,
            "sh",
            "-c",
            script,
        ]);
        tmux
    }

    fn cmd(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.arg("-S").arg(&self.socket);
        cmd
    }

    pub(super) fn run(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub(super) fn screen(&self) -> Vec<String> {
        self.run(&["capture-pane", "-p", "-t", "ng"])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Send `keys` (tmux key names, or literal text with `-l`).
    pub(super) fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "ng"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Waits until the screen satisfies `check` and has settled: two captures in a
    /// row are the same. tmux may be caught halfway through parsing a frame (the
    /// help overlay is larger than one read from the pty), and a half-drawn frame
    /// can pass `check` yet lack what the caller asserts next.
    pub(super) fn wait_for(&self, what: &str, check: impl Fn(&[String]) -> bool) -> Vec<String> {
        let mut last: Vec<String> = Vec::new();
        let deadline = std::time::Instant::now() + READY_TIMEOUT;
        while std::time::Instant::now() < deadline {
            let screen = self.screen();
            if screen == last && check(&screen) {
                return screen;
            }
            last = screen;
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("timed out waiting for {what}; screen:\n{}", last.join("\n"));
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

/// The IP table's rows: below the column header, left of the log's separator,
/// above the two bars.
fn table_ips(screen: &[String]) -> Vec<String> {
    let end = screen.len().saturating_sub(2);
    screen
        .get(3..end)
        .unwrap_or(&[])
        .iter()
        .filter_map(|l| l.split('│').next())
        .filter_map(|l| l.split_whitespace().next())
        .map(|w| w.trim_start_matches(['!', '→', '⊘']).to_owned())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// `q`, then wait for the script around nethergaze to write `after` (the
/// tty's settings once it exited) and check its exit status in `rc` is 0.
pub(super) fn quit_with_exit_0(tmux: &Tmux, after: &Path, rc: &Path) {
    tmux.send(&["-l", "q"]);
    wait_until("nethergaze to exit", READY_TIMEOUT, || {
        !harness::read_or_empty(after).is_empty()
    });
    assert_eq!(harness::read_or_empty(rc).trim(), "0");
}

pub(super) fn skip_without_tmux() -> bool {
    if harness::which("tmux").is_some() {
        return false;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(!ci, "CI=true but tmux is not installed");
    eprintln!("SKIP: tmux not installed");
    true
}

pub(super) fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

/// One dashboard run in a 160×45 tmux window on the fixtures. The pane's
/// shell records `stty -g` before and after, and the exit code, in `dir`.
struct Run {
    tmux: Tmux,
    before: PathBuf,
    after: PathBuf,
    rc: PathBuf,
}

impl Run {
    /// Start it; `env` is put before the command (`VAR=value …`), `args`
    /// after the fixture flags (already quoted).
    fn start(dir: &Path, env: &str, args: &str) -> Run {
        Run::start_with(dir, env, &format!("--no-whois {args}"))
    }

    /// [`Run::start`] with whois as the config says (the test's fake registry).
    fn start_with(dir: &Path, env: &str, args: &str) -> Run {
        let log = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/logs/combined.log");
        let (before, after, rc) = (
            dir.join("stty.before"),
            dir.join("stty.after"),
            dir.join("rc"),
        );
        let home = dir.join("home");
        let script =
            format!(
            "stty -g > {before}; HOME={home} XDG_CONFIG_HOME={home} {env} {bin} --log-path {log} \
             --from-start --no-auth-log --proc-root {proc} --no-geoip {history} \
             {args}; echo $? > {rc}; stty -g > {after}; exec sleep 600",
            // `--no-history` unless the test gives its own file.
            history = if args.contains("--history-db") { "" } else { "--no-history" },
            before = shell_quote(&before),
            home = shell_quote(&home),
            bin = shell_quote(&harness::nethergaze_bin()),
            log = shell_quote(&log),
            proc = shell_quote(Path::new(PROC_ROOT)),
            rc = shell_quote(&rc),
            after = shell_quote(&after),
        );
        let tmux = Tmux::start(dir.join("tmux.sock"), 160, 45, &script);
        Run {
            tmux,
            before,
            after,
            rc,
        }
    }

    /// `q`: exit 0, the terminal as it was.
    fn quit(&self) {
        quit_with_exit_0(&self.tmux, &self.after, &self.rc);
        let (b, a) = (
            harness::read_or_empty(&self.before),
            harness::read_or_empty(&self.after),
        );
        assert!(!b.trim().is_empty());
        assert_eq!(a, b, "stty -g before and after");
    }
}

#[test]
fn dashboard_in_tmux() {
    if skip_without_tmux() {
        return;
    }
    let dir = harness::tempdir();
    let run = Run::start(dir.path(), "", "");
    let tmux = &run.tmux;

    // The table shows every fixture address.
    let screen = tmux.wait_for("every fixture IP", |s| table_ips(s).len() == ROWS.len());
    let want: Vec<String> = ROWS.iter().map(|s| s.to_string()).collect();
    assert_eq!(sorted(table_ips(&screen)), sorted(want.clone()));
    assert!(screen[0].contains("9 IPs"), "{}", screen[0]);
    // The system's uptime, read from the fixture's proc root, then ours.
    assert!(
        screen[0].contains("│ up 3d04h · watching "),
        "{}",
        screen[0]
    );
    assert!(screen[2].contains("Conns▼") && screen[2].contains("Activity"));

    // `!`: only the suspicious rows, with reasons; `!` again restores.
    tmux.send(&["-l", "!"]);
    let screen = tmux.wait_for("suspicious mode", |s| s[0].contains("SUSPICIOUS"));
    let want_bad: Vec<String> = SUSPICIOUS.iter().map(|s| s.to_string()).collect();
    assert_eq!(sorted(table_ips(&screen)), sorted(want_bad));
    assert!(screen[2].contains("Reasons"));
    assert!(screen.iter().any(|l| l.contains("exploit_path")));
    tmux.send(&["-l", "!"]);
    let screen = tmux.wait_for("all rows again", |s| {
        !s[0].contains("SUSPICIOUS") && table_ips(s).len() == ROWS.len()
    });
    assert_eq!(sorted(table_ips(&screen)), sorted(want));

    // `/feed` Enter: only the feed reader.
    tmux.send(&["-l", "/"]);
    tmux.wait_for("the filter line", |s| s[44].contains("filter:"));
    tmux.send(&["-l", "feed"]);
    tmux.send(&["Enter"]);
    let screen = tmux.wait_for("the text filter", |s| s[0].contains("filter: feed"));
    assert_eq!(table_ips(&screen), ["104.16.0.1"]);

    // Enter: the drill-down of the selected row (opened, its row keeps
    // `[log] max_log_entries_per_ip` requests, 100 by default); Escape closes it.
    tmux.send(&["Enter"]);
    let screen = tmux.wait_for("the drill-down", |s| {
        s.iter().any(|l| l.contains("last 100 requests"))
    });
    let text = screen.join("\n");
    assert!(
        text.contains(" 104.16.0.1 ") && text.contains("requests 61"),
        "{text}"
    );
    assert!(text.contains("feedreader"));
    tmux.send(&["Escape"]);
    tmux.wait_for("the drill-down to close", |s| {
        !s.iter().any(|l| l.contains("last 100 requests"))
    });

    // `?`: help.
    tmux.send(&["-l", "?"]);
    let screen = tmux.wait_for("help", |s| s.iter().any(|l| l.contains("Key bindings")));
    assert!(screen.iter().any(|l| l.contains("quick text filter")));
    tmux.send(&["Escape"]);
    tmux.wait_for("help to close", |s| {
        !s.iter().any(|l| l.contains("Key bindings"))
    });

    // `s`: the sort marker moves to Reqs.
    tmux.send(&["-l", "s"]);
    tmux.wait_for("the sort marker", |s| {
        s[2].contains("Reqs▼") && !s[2].contains("Conns▼")
    });

    // `r`: logs read and a socket dump now.
    tmux.send(&["-l", "r"]);
    tmux.wait_for("the refresh message", |s| {
        s[44].contains("refreshed: logs read, sockets asked for")
    });

    // SIGWINCH: a narrower window drops the activity log, and the frame fits it.
    tmux.run(&["resize-window", "-t", "ng", "-x", "100", "-y", "30"]);
    let screen = tmux.wait_for("the narrow layout", |s| {
        s.len() == 30 && !s[2].contains("Activity")
    });
    assert!(screen[28].contains("sort: requests"), "{}", screen[28]);

    run.quit();
}

/// A network namespace with a private copy of /etc/ufw (ufw inactive, as
/// Debian installs it) where the dashboard runs, so block assist drives the
/// real ufw, nft and iptables there and the host's firewall is untouched.
/// Deleted when dropped.
struct FirewallNetns {
    name: String,
    etc_ufw: PathBuf,
}

impl FirewallNetns {
    fn new(dir: &Path) -> FirewallNetns {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("ngz-{}-dash{n}", std::process::id());
        let ip = harness::bin("ip");
        let ok = |cmd: &mut Command| assert!(cmd.status().unwrap().success(), "{cmd:?}");
        ok(Command::new(&ip).args(["netns", "add", &name]));
        let etc_ufw = dir.join("etc-ufw");
        ok(Command::new(harness::bin("cp"))
            .arg("-a")
            .arg("/etc/ufw")
            .arg(&etc_ufw));
        let conf = etc_ufw.join("ufw.conf");
        let text = std::fs::read_to_string(&conf).unwrap();
        std::fs::write(&conf, text.replace("ENABLED=yes", "ENABLED=no")).unwrap();
        FirewallNetns { name, etc_ufw }
    }

    /// A command prefix that runs what follows in the namespace, with the
    /// private /etc/ufw bind-mounted (`ip netns exec` gives it a private
    /// mount namespace, so nobody else sees the mount).
    fn prefix(&self) -> String {
        format!(
            "{} netns exec {} sh -c 'mount --bind \"$0\" /etc/ufw && exec \"$@\"' {}",
            shell_quote(&harness::bin("ip")),
            self.name,
            shell_quote(&self.etc_ufw),
        )
    }

    /// Runs the real `tool` with `args` in the namespace; its stdout, or a
    /// panic with what it said.
    fn run(&self, tool: &str, args: &[&str]) -> String {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("{} \"$@\"", self.prefix()))
            .arg("sh")
            .arg(harness::bin(tool))
            .args(args);
        let out = cmd.output().unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        assert!(
            out.status.success(),
            "{cmd:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }
}

/// A command prefix that runs what follows as `nobody` (no sudoers rule,
/// no password) in the namespace.
fn as_nobody_in(netns: &FirewallNetns) -> String {
    format!(
        "{} {} --reuid=nobody --regid=nogroup --clear-groups",
        netns.prefix(),
        shell_quote(&harness::bin("setpriv"))
    )
}

/// A temp dir `nobody` may read (the config) and a home it may write.
fn dir_for_nobody() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = harness::tempdir();
    let mode = |p: &Path, m| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m));
    mode(dir.path(), 0o755).unwrap();
    std::fs::create_dir(dir.path().join("home")).unwrap();
    mode(&dir.path().join("home"), 0o777).unwrap();
    dir
}

impl Drop for FirewallNetns {
    fn drop(&mut self) {
        if let Some(ip) = harness::which("ip") {
            let _ = Command::new(ip).args(["netns", "del", &self.name]).status();
        }
    }
}

/// A config with one hook and block execution on or off.
fn config_file(dir: &Path, enable_block: bool) -> PathBuf {
    let path = dir.join(format!("config-{enable_block}.toml"));
    let text = format!(
        "[actions]\nenable_block_execution = {enable_block}\n\n\
         [[actions.hooks]]\nkey = \"1\"\nlabel = \"echo it\"\n\
         command = \"echo hook {{ip}} $NETHERGAZE_IP\"\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn has(screen: &[String], text: &str) -> bool {
    screen.iter().any(|l| l.contains(text))
}

/// `/ADDR` Enter: the table holds that address alone, the cursor on it.
fn select(tmux: &Tmux, addr: &str) {
    tmux.send(&["-l", "/"]);
    tmux.wait_for("the filter line", |s| s[44].contains("filter:"));
    tmux.send(&["C-u"]);
    tmux.send(&["-l", addr]);
    tmux.send(&["Enter"]);
    tmux.wait_for("one row", |s| table_ips(s) == [addr]);
}

#[test]
fn hooks_and_the_filter_modal_in_tmux() {
    if skip_without_tmux() {
        return;
    }
    let dir = harness::tempdir();
    let config = shell_quote(&config_file(dir.path(), false));
    let run = Run::start(dir.path(), "", &format!("--config {config}"));
    let tmux = &run.tmux;
    tmux.wait_for("every fixture IP", |s| table_ips(s).len() == ROWS.len());

    // `f` with a bad status token: the error under its field, nothing applied.
    tmux.send(&["-l", "f"]);
    tmux.wait_for("the filter modal", |s| {
        has(s, "Filter (all parts must match)")
    });
    tmux.send(&["Tab"]);
    tmux.send(&["-l", "4xq"]);
    tmux.send(&["Enter"]);
    let screen = tmux.wait_for("the inline error", |s| {
        has(s, "✗ status codes: not a status code `4xq`")
    });
    assert!(!screen[0].contains("status:"), "{}", screen[0]);
    // A good one narrows the table (and the header says so).
    tmux.send(&["C-u"]);
    tmux.send(&["-l", "404"]);
    tmux.send(&["Enter"]);
    // Waited for as a whole: a capture may fall between the modal's last
    // frame and the table's, with the modal's border still on screen.
    let narrowed = ["151.101.1.69", "45.33.32.156", "91.198.174.192"];
    tmux.wait_for("the status filter", |s| {
        s[0].contains("status:404")
            && !has(s, "Filter (all parts")
            && sorted(table_ips(s)) == narrowed
    });
    // Cleared again: every row.
    tmux.send(&["-l", "f"]);
    tmux.wait_for("the filter modal", |s| {
        has(s, "Filter (all parts must match)")
    });
    tmux.send(&["Tab", "C-u", "Enter"]);
    tmux.wait_for("every row again", |s| {
        table_ips(s).len() == ROWS.len() && !s[0].contains("status:")
    });

    // `1`: the hook's output, with the selected address twice ({ip} and
    // $NETHERGAZE_IP).
    select(tmux, "45.33.32.156");
    tmux.send(&["-l", "1"]);
    let screen = tmux.wait_for("the hook's output", |s| {
        has(s, "hook 45.33.32.156 45.33.32.156") && has(s, "exit 0")
    });
    assert!(has(&screen, "Hook 1: echo it · 45.33.32.156"));
    tmux.send(&["Escape"]);
    tmux.wait_for("the hook modal to close", |s| !has(s, "Hook 1:"));

    run.quit();
}

/// Block assist end to end with the real firewalls (issue 11 item 1): the
/// dashboard runs in a private network namespace, so `b`, `x`, `y` go
/// through the session and its jobs to the real ufw and nft, and the test
/// asks those tools what they hold. ufw starts inactive (as Debian installs
/// it): the offer says a rule would block nothing and `x` refuses it; nft
/// blocks instead; then, with ufw enabled, ufw blocks the next address.
#[test]
fn block_assist_in_tmux_runs_the_real_firewalls() {
    if skip_without_tmux() {
        return;
    }
    if harness::skip_unless(&["ip", "ufw", "nft", "iptables", "cp"]) {
        return;
    }
    // `b` with execution off: the command shown, x and y run nothing.
    let dir = harness::tempdir();
    let netns = FirewallNetns::new(dir.path());
    let config = shell_quote(&config_file(dir.path(), false));
    let run = Run::start(dir.path(), &netns.prefix(), &format!("--config {config}"));
    let tmux = &run.tmux;
    tmux.wait_for("every fixture IP", |s| table_ips(s).len() == ROWS.len());
    select(tmux, "45.33.32.156");
    tmux.send(&["-l", "b"]);
    // The offer knows ufw is off (it asked `ufw status`).
    let screen = tmux.wait_for("block assist and ufw's state", |s| {
        has(s, "Block assist: 45.33.32.156")
            && has(s, "✗ ufw is inactive: this rule would block nothing")
    });
    let tools = screen.iter().find(|l| l.contains("tools: ")).cloned();
    let tools = tools.unwrap_or_default();
    assert!(
        tools.contains("tools: ufw, nft, ") && tools.contains(" iptables"),
        "{}",
        screen.join("\n")
    );
    assert!(has(&screen, "ufw prepend deny from 45.33.32.156"));
    assert!(has(
        &screen,
        "execution is off: set [actions] enable_block_execution = true"
    ));
    tmux.send(&["-l", "t"]);
    tmux.wait_for("the nft plan", |s| {
        has(
            s,
            "nft add element inet nethergaze blocked4 '{' 45.33.32.156 '}'",
        )
    });
    tmux.send(&["-l", "yx"]);
    tmux.wait_for("the refusal to run", |s| has(s, "execution is off (set"));
    tmux.send(&["Escape"]);
    tmux.wait_for("block assist to close", |s| !has(s, "Block assist:"));
    run.quit();
    assert!(
        !netns
            .run("nft", &["list", "ruleset"])
            .contains("nethergaze"),
        "nothing ran"
    );

    // Execution on, ufw still off: `x` refuses ufw; `t` picks nft, `x`
    // asks, `y` runs it.
    let dir2 = harness::tempdir();
    let config = config_file(dir.path(), true);
    // The firewalls are read at the start and then not for an hour: a
    // blocked mark after the block is the block's own (issue 14 item 5).
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[refresh]\nblocked_interval = 3600\n");
    std::fs::write(&config, text).unwrap();
    let config = shell_quote(&config);
    let db = dir2.path().join("history.db");
    let run = Run::start(
        dir2.path(),
        &netns.prefix(),
        &format!("--config {config} --history-db {}", shell_quote(&db)),
    );
    let tmux = &run.tmux;
    tmux.wait_for("every fixture IP", |s| table_ips(s).len() == ROWS.len());
    select(tmux, "45.33.32.156");
    tmux.send(&["-l", "b"]);
    tmux.wait_for("block assist and ufw's state", |s| {
        has(s, "x run it") && has(s, "✗ ufw is inactive")
    });
    tmux.send(&["-l", "x"]);
    tmux.wait_for("the refusal", |s| {
        has(
            s,
            "ufw is inactive: a rule would block nothing (t: another tool)",
        )
    });
    tmux.send(&["-l", "t"]);
    tmux.wait_for("the nft plan", |s| has(s, "● nft") && has(s, "x run it"));
    tmux.send(&["-l", "x"]);
    tmux.wait_for("the question", |s| {
        has(s, "Run this now to block 45.33.32.156?  y yes · n no")
    });
    tmux.send(&["-l", "y"]);
    let screen = tmux.wait_for("the result", |s| has(s, "done: 45.33.32.156 blocked"));
    assert!(
        screen[44].contains("blocked 45.33.32.156 with nft"),
        "{}",
        screen[44]
    );
    let set = netns.run("nft", &["list", "set", "inet", "nethergaze", "blocked4"]);
    assert!(set.contains("45.33.32.156"), "{set}");
    let rules = std::fs::read_to_string(netns.etc_ufw.join("user.rules")).unwrap();
    assert!(!rules.contains("45.33.32.156"), "only the chosen tool ran");
    tmux.send(&["Escape"]);
    tmux.wait_for("block assist to close", |s| !has(s, "Block assist:"));
    // Issue 14 item 5: the row is marked blocked at once.
    tmux.wait_for("the blocked mark", |s| {
        s.iter().any(|l| l.starts_with("⊘45.33.32.156 "))
    });

    // ufw enabled: the next block is ufw's, and ufw holds it.
    netns.run("ufw", &["--force", "enable"]);
    select(tmux, "91.198.174.192");
    tmux.send(&["-l", "b"]);
    tmux.wait_for("block assist for ufw", |s| {
        has(s, "Block assist: 91.198.174.192") && has(s, "● ufw") && has(s, "x run it")
    });
    tmux.send(&["-l", "x"]);
    tmux.wait_for("the question", |s| {
        has(s, "Run this now to block 91.198.174.192?")
    });
    tmux.send(&["-l", "y"]);
    let screen = tmux.wait_for("the result", |s| has(s, "done: 91.198.174.192 blocked"));
    assert!(has(
        &screen,
        "1/1 exit 0  $ ufw prepend deny from 91.198.174.192"
    ));
    // ufw's own output ("Rule added" into an empty rule set).
    assert!(
        has(&screen, "Rule added") || has(&screen, "Rule inserted"),
        "{}",
        screen.join("\n")
    );
    assert!(screen[44].contains("blocked 91.198.174.192 with ufw"));
    let status = netns.run("ufw", &["status"]);
    assert!(
        status
            .lines()
            .any(|l| l.contains("DENY") && l.trim_end().ends_with("91.198.174.192")),
        "{status}"
    );
    let rules = netns.run("iptables", &["-S", "ufw-user-input"]);
    assert!(
        rules.contains("-A ufw-user-input -s 91.198.174.192/32 -j DROP"),
        "{rules}"
    );
    tmux.send(&["Escape"]);
    tmux.wait_for("block assist to close", |s| !has(s, "Block assist:"));
    run.quit();
    // Both blocks are in history's log, one row per command, all ok; the
    // refused ufw attempt is not there (nothing ran).
    let conn = rusqlite::Connection::open(&db).unwrap();
    let logged = |ip: &str| -> Vec<(String, String, i64)> {
        let mut q = conn
            .prepare("SELECT tool, command, ok FROM blocks WHERE ip = ?1 ORDER BY id")
            .unwrap();
        q.query_map([ip], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let nft = logged("45.33.32.156");
    assert!(
        nft.iter().all(|(tool, _, ok)| tool == "nft" && *ok == 1),
        "{nft:?}"
    );
    assert_eq!(
        nft.last().map(|r| r.1.as_str()),
        Some("nft add element inet nethergaze blocked4 { 45.33.32.156 }")
    );
    assert_eq!(
        logged("91.198.174.192"),
        [(
            "ufw".to_string(),
            "ufw prepend deny from 91.198.174.192".to_string(),
            1
        )]
    );
}

/// Issue 12 item 9: not root, block assist offers and copies the commands
/// with `sudo` in front and runs them as `sudo -n`. Run as `nobody` (the
/// real sudo, no sudoers rule): sudo's refusal is what the status line says
/// and nothing claims blocked; nothing changed in the namespace.
#[test]
fn block_assist_as_a_user_offers_sudo_and_shows_its_refusal() {
    if skip_without_tmux() {
        return;
    }
    if harness::skip_unless(&["ip", "ufw", "nft", "cp", "sudo", "setpriv"]) {
        return;
    }
    let dir = dir_for_nobody();
    let netns = FirewallNetns::new(dir.path());
    let config = shell_quote(&config_file(dir.path(), true));
    let run = Run::start(
        dir.path(),
        &as_nobody_in(&netns),
        &format!("--config {config}"),
    );
    let tmux = &run.tmux;
    tmux.wait_for("every fixture IP", |s| table_ips(s).len() == ROWS.len());
    select(tmux, "45.33.32.156");
    tmux.send(&["-l", "b"]);
    // `sudo -n ufw status` was refused too: the offer says it cannot tell.
    let screen = tmux.wait_for("block assist and ufw's state", |s| {
        has(s, "sudo ufw prepend deny from 45.33.32.156")
            && has(
                s,
                "⚠ cannot tell whether ufw is active (sudo: a password is required)",
            )
    });
    assert!(has(&screen, "x run it"), "{}", screen.join("\n"));
    // The ufw run asks `sudo -n ufw status` first and stops there.
    tmux.send(&["-l", "x"]);
    tmux.wait_for("the question", |s| has(s, "Run this now to block"));
    tmux.send(&["-l", "y"]);
    let screen = tmux.wait_for("the refusal", |s| {
        s[44].contains("not blocked: cannot tell whether ufw is active")
    });
    assert!(
        screen[44].contains("(sudo: a password is required); nothing was run"),
        "{}",
        screen[44]
    );
    assert!(
        !screen.iter().any(|l| l.contains("done: ")),
        "{}",
        screen.join("\n")
    );
    tmux.send(&["Escape"]);
    tmux.wait_for("block assist to close", |s| !has(s, "Block assist:"));
    // nft: its first command goes to sudo, which refuses.
    tmux.send(&["-l", "b"]);
    tmux.wait_for("block assist", |s| has(s, "sudo ufw prepend deny"));
    tmux.send(&["-l", "t"]);
    tmux.wait_for("the nft plan", |s| {
        has(
            s,
            "sudo nft add element inet nethergaze blocked4 '{' 45.33.32.156 '}'",
        )
    });
    tmux.send(&["-l", "x"]);
    tmux.wait_for("the question", |s| has(s, "Run this now to block"));
    tmux.send(&["-l", "y"]);
    let screen = tmux.wait_for("sudo's refusal", |s| {
        s[44].contains("blocking 45.33.32.156 with nft failed: sudo: a password is required")
    });
    let text = screen.join("\n");
    assert!(text.contains("failed: nothing more was run"), "{text}");
    assert!(
        text.contains("1/8 exit 1  $ sudo nft add table inet nethergaze"),
        "{text}"
    );
    assert!(!text.contains("blocked 45.33.32.156"), "{text}");
    tmux.send(&["Escape"]);
    run.quit();
    assert!(
        !netns
            .run("nft", &["list", "ruleset"])
            .contains("nethergaze"),
        "nothing ran"
    );
    let rules = std::fs::read_to_string(netns.etc_ufw.join("user.rules")).unwrap();
    assert!(!rules.contains("45.33.32.156"), "{rules}");
}

/// A sudoers rule in /etc/sudoers.d, checked by `visudo -c` before sudo
/// can read it, removed when dropped.
struct SudoersRule {
    path: PathBuf,
}

impl SudoersRule {
    fn new(rule: &str) -> SudoersRule {
        use std::os::unix::fs::PermissionsExt;
        let path = PathBuf::from(format!(
            "/etc/sudoers.d/nethergaze-test-{}",
            std::process::id()
        ));
        // sudo skips names with a dot: the draft is never read half-written.
        let draft = path.with_extension("draft");
        std::fs::write(&draft, format!("{rule}\n")).unwrap();
        std::fs::set_permissions(&draft, std::fs::Permissions::from_mode(0o440)).unwrap();
        let checked = Command::new(harness::bin("visudo"))
            .arg("-cf")
            .arg(&draft)
            .status();
        if !checked.is_ok_and(|s| s.success()) {
            let _ = std::fs::remove_file(&draft);
            panic!("visudo refused {rule:?}");
        }
        std::fs::rename(&draft, &path).unwrap();
        SudoersRule { path }
    }
}

impl Drop for SudoersRule {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// With a sudoers rule (`NOPASSWD` for nft, for the system user `daemon`:
/// not `nobody`, whose refusal the test above needs), the same keys block
/// for real: `sudo -n` runs nft in the namespace.
#[test]
fn block_assist_as_a_user_with_a_sudoers_rule_blocks_with_nft() {
    if skip_without_tmux() {
        return;
    }
    if harness::skip_unless(&["ip", "ufw", "nft", "cp", "sudo", "visudo", "setpriv"]) {
        return;
    }
    let nft = harness::bin("nft");
    let _rule = SudoersRule::new(&format!("daemon ALL=(root) NOPASSWD: {}", nft.display()));
    let dir = dir_for_nobody();
    let netns = FirewallNetns::new(dir.path());
    let as_daemon = format!(
        "{} {} --reuid=daemon --regid=daemon --clear-groups",
        netns.prefix(),
        shell_quote(&harness::bin("setpriv"))
    );
    let config = shell_quote(&config_file(dir.path(), true));
    let run = Run::start(dir.path(), &as_daemon, &format!("--config {config}"));
    let tmux = &run.tmux;
    tmux.wait_for("every fixture IP", |s| table_ips(s).len() == ROWS.len());
    select(tmux, "45.33.32.156");
    tmux.send(&["-l", "b"]);
    tmux.wait_for("block assist", |s| has(s, "Block assist: 45.33.32.156"));
    // Tools in preference order: ufw first, then nft.
    tmux.send(&["-l", "t"]);
    tmux.wait_for("the nft plan", |s| {
        has(s, "● nft") && has(s, "sudo nft add element inet nethergaze blocked4")
    });
    tmux.send(&["-l", "x"]);
    tmux.wait_for("the question", |s| {
        has(s, "Run this now to block 45.33.32.156?")
    });
    tmux.send(&["-l", "y"]);
    let screen = tmux.wait_for("the result", |s| {
        has(s, "done: 45.33.32.156 blocked") || has(s, "failed: ")
    });
    assert!(
        screen[44].contains("blocked 45.33.32.156 with nft"),
        "{}",
        screen.join("\n")
    );
    tmux.send(&["Escape"]);
    run.quit();
    let set = netns.run("nft", &["list", "set", "inet", "nethergaze", "blocked4"]);
    assert!(set.contains("45.33.32.156"), "{set}");
}

/// Once RDAP has answered for the selected address (`w`), block assist offers its
/// whois network as a third scope (`s` cycles to it), with the command for the CIDR.
#[test]
fn block_assist_offers_the_whois_network_once_known() {
    if skip_without_tmux() {
        return;
    }
    // The real firewall tools of this machine, shown only (execution is off
    // by default): the fake registry listens on the host's loopback, so
    // this test cannot move into a network namespace, and nothing runs.
    let has_ufw = harness::which("ufw").is_some();
    assert!(
        has_ufw || std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but ufw is not installed"
    );
    if !has_ufw {
        eprintln!("SKIP: ufw not installed");
        return;
    }
    let dir = harness::tempdir();
    let rdap = super::whois::fake_rdap();
    let config = super::whois::config_with(dir.path(), &rdap.base, true);
    let run = Run::start_with(
        dir.path(),
        "",
        &format!("--config {}", shell_quote(&config)),
    );
    let tmux = &run.tmux;
    tmux.wait_for("every fixture IP", |s| table_ips(s).len() == ROWS.len());
    select(tmux, "45.33.32.156");
    tmux.send(&["-l", "w"]);
    tmux.send(&["Enter"]);
    tmux.wait_for("the whois answer in the drill-down", |s| {
        has(s, "LINODE-US")
    });
    tmux.send(&["Escape"]);
    // Without GeoIP, the row's CC and Organization come from whois.
    let screen = tmux.wait_for("the drill-down to close", |s| !has(s, "LINODE-US"));
    let row = screen
        .iter()
        .find(|l| l.starts_with(" 45.33.32.156"))
        .unwrap();
    assert!(row.contains(" US ") && row.contains("Akamai"), "{row}");
    tmux.send(&["-l", "b"]);
    tmux.wait_for("block assist", |s| {
        has(s, "ufw prepend deny from 45.33.32.156")
    });
    tmux.send(&["-l", "s"]);
    tmux.wait_for("the /24 scope", |s| {
        has(s, "ufw prepend deny from 45.33.32.0/24")
    });
    tmux.send(&["-l", "s"]);
    let screen = tmux.wait_for("the whois network scope", |s| {
        has(s, "ufw prepend deny from 45.33.0.0/17")
    });
    assert!(
        has(&screen, "whois network 45.33.0.0/17"),
        "{}",
        screen.join("\n")
    );
    tmux.send(&["Escape"]);
    run.quit();
}

/// Issue 15 item 3: `n` groups the table by network; Enter lists a group's
/// members, Escape comes back; `b` on the group opens block assist on its /24.
#[test]
fn grouped_by_network_in_tmux() {
    if skip_without_tmux() {
        return;
    }
    let dir = harness::tempdir();
    let run = Run::start(dir.path(), "", "");
    let tmux = &run.tmux;
    tmux.wait_for("every fixture IP", |s| table_ips(s).len() == ROWS.len());
    select(tmux, "104.16.0.1");
    tmux.send(&["-l", "n"]);
    let screen = tmux.wait_for("the groups", |s| s[2].starts_with(" Network"));
    let row = screen.iter().find(|l| l.starts_with(" 104.16.0.0/24"));
    let row = row.unwrap_or_else(|| panic!("{}", screen.join("\n")));
    assert!(row.contains(" 1 ") && row.contains(" 61 "), "{row}");
    assert!(has(&screen, "grouped by network"), "{}", screen.join("\n"));

    tmux.send(&["Enter"]);
    tmux.wait_for("the members", |s| table_ips(s) == ["104.16.0.1"]);
    tmux.send(&["Escape"]);
    tmux.wait_for("the groups again", |s| s[2].starts_with(" Network"));

    tmux.send(&["-l", "b"]);
    let screen = tmux.wait_for("block assist on the /24", |s| {
        has(s, "● its /24 104.16.0.0/24")
    });
    assert!(has(&screen, "104.16.0.0/24"), "{}", screen.join("\n"));
    tmux.send(&["Escape"]);
    tmux.wait_for("block assist to close", |s| !has(s, "● its /24"));
    run.quit();
}

/// Issue 11, item 7: every address is private (a load balancer on 10/8, Docker,
/// loopback). The empty table, the stats bar and the help screen say how many are
/// hidden and how to show them; `p` shows private addresses from then on, and `p`
/// again hides them (their rows go back to being counted).
#[test]
fn hidden_private_addresses_are_said_and_p_shows_them() {
    if skip_without_tmux() {
        return;
    }
    let dir = harness::tempdir();
    let net = dir.path().join("proc/net");
    std::fs::create_dir_all(&net).unwrap();
    // No sockets: only the log's addresses count.
    for name in ["tcp", "tcp6"] {
        let fixture = std::fs::read_to_string(Path::new(PROC_ROOT).join("net").join(name)).unwrap();
        let header = fixture.lines().next().unwrap();
        std::fs::write(net.join(name), format!("{header}\n")).unwrap();
    }
    let line = |ip: &str| {
        format!(
            "{ip} - - [06/Dec/2026:23:00:00 +0000] \"GET / HTTP/1.1\" 200 12 \"-\" \"curl/8\"\n"
        )
    };
    let log = dir.path().join("access.log");
    let early: String = ["10.0.0.5", "127.0.0.1", "192.168.1.9", "10.0.0.5"]
        .iter()
        .map(|ip| line(ip))
        .collect();
    std::fs::write(&log, early).unwrap();
    let (rc, after) = (dir.path().join("rc"), dir.path().join("after"));
    let script = format!(
        "HOME={home} XDG_CONFIG_HOME={home} {bin} --log-path {log} --from-start --no-auth-log \
         --proc-root {proc} --no-geoip --no-history --no-whois; echo $? > {rc}; \
         echo done > {after}; exec sleep 600",
        home = shell_quote(&dir.path().join("home")),
        bin = shell_quote(&harness::nethergaze_bin()),
        log = shell_quote(&log),
        proc = shell_quote(&dir.path().join("proc")),
        rc = shell_quote(&rc),
        after = shell_quote(&after),
    );
    let tmux = Tmux::start(dir.path().join("tmux.sock"), 160, 45, &script);

    // Three distinct private addresses were read, none is a row: all three places say so.
    let screen = tmux.wait_for("the hidden count in the empty table", |s| {
        has(
            s,
            "no public IPs yet: 3 private/loopback addresses hidden (p shows them",
        )
    });
    assert!(
        has(&screen, "as --show-private-ips)"),
        "{}",
        screen.join("\n")
    );
    assert!(
        screen[43].contains("3 private hidden (p shows)"),
        "{}",
        screen[43]
    );
    tmux.send(&["-l", "?"]);
    let screen = tmux.wait_for("help", |s| has(s, "Key bindings"));
    assert!(
        has(&screen, "show / hide private and loopback addresses"),
        "{}",
        screen.join("\n")
    );
    assert!(
        has(&screen, "3 hidden: p shows them"),
        "{}",
        screen.join("\n")
    );
    tmux.send(&["Escape"]);
    tmux.wait_for("help to close", |s| !has(s, "Key bindings"));

    // `p`: tracked from now on; a new line's address gets a row.
    tmux.send(&["-l", "p"]);
    tmux.wait_for("the status", |s| {
        s[44].contains("addresses shown from now on")
    });
    let mut writer = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    std::io::Write::write_all(&mut writer, line("10.0.0.7").as_bytes()).unwrap();
    let screen = tmux.wait_for("the new private row", |s| table_ips(s) == ["10.0.0.7"]);
    assert!(!screen[43].contains("private hidden"), "{}", screen[43]);
    // `w` on it: a private address is not looked up, and the status says so
    // (whois is off here too; the address decides first).
    tmux.send(&["-l", "w"]);
    tmux.wait_for("the whois status for a private address", |s| {
        s[44].contains("10.0.0.7 is a private or reserved address, not looked up")
    });

    // `p` again: its row goes, and is counted as hidden.
    tmux.send(&["-l", "p"]);
    let screen = tmux.wait_for("the row hidden again", |s| {
        has(s, "no public IPs yet: 1 private/loopback address hidden")
    });
    assert!(
        screen[43].contains("1 private hidden (p shows)"),
        "{}",
        screen[43]
    );

    quit_with_exit_0(&tmux, &after, &rc);
}

/// Issue 12, item 6: at 80×24 the footer offers Tab and Tab works: the table
/// and the activity panel take the full width by turns.
#[test]
fn at_80_by_24_tab_switches_between_table_and_log() {
    if skip_without_tmux() {
        return;
    }
    let dir = harness::tempdir();
    let log = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/logs/combined.log");
    let script = format!(
        "HOME={home} XDG_CONFIG_HOME={home} {bin} --log-path {log} --from-start --no-auth-log \
         --proc-root {proc} --no-geoip --no-history --no-whois; exec sleep 600",
        home = shell_quote(&dir.path().join("home")),
        bin = shell_quote(&harness::nethergaze_bin()),
        log = shell_quote(&log),
        proc = shell_quote(Path::new(PROC_ROOT)),
    );
    let tmux = Tmux::start(dir.path().join("tmux.sock"), 80, 24, &script);
    let screen = tmux.wait_for("the table at 80x24", |s| {
        s.len() == 24 && s[2].contains("Conns") && table_ips(s).iter().any(|ip| ip == ROWS[0])
    });
    assert!(!has(&screen, "Activity"), "{}", screen.join("\n"));
    assert!(screen[23].contains("Tab panel"), "{}", screen[23]);

    tmux.send(&["Tab"]);
    let screen = tmux.wait_for("the activity panel over the full width", |s| {
        s[2].contains("Activity") && !s[2].contains("Conns")
    });
    // Its lines start at the left edge: a time, an address, a status.
    let body = &screen[3..22];
    assert!(
        body.iter().filter(|l| l.contains(" GET ")).count() > 5,
        "{}",
        screen.join("\n")
    );
    assert!(
        body.iter().all(|l| !l.contains('│')),
        "{}",
        screen.join("\n")
    );

    tmux.send(&["Tab"]);
    tmux.wait_for("the table again", |s| {
        s[2].contains("Conns") && !s[2].contains("Activity")
    });
    tmux.send(&["-l", "q"]);
}

/// Issue 14 item 5: the dashboard in a namespace whose firewall already
/// blocks two of the log's addresses (nethergaze's nft set, an operator's
/// iptables rule for a /24) marks them `⊘` once its reader has asked the
/// real tools, the `f` form's `blocked` field keeps only them, and the
/// drill-down says by what.
#[test]
fn blocked_addresses_in_tmux_are_marked_filtered_and_explained() {
    if skip_without_tmux() {
        return;
    }
    if harness::skip_unless(&["ip", "nft", "iptables", "cp"]) {
        return;
    }
    let dir = harness::tempdir();
    let netns = FirewallNetns::new(dir.path());
    netns.run("nft", &["add", "table", "inet", "nethergaze"]);
    netns.run(
        "nft",
        &[
            "add",
            "set",
            "inet",
            "nethergaze",
            "blocked4",
            "{",
            "type",
            "ipv4_addr",
            ";",
            "flags",
            "interval",
            ";",
            "}",
        ],
    );
    netns.run(
        "nft",
        &[
            "add",
            "element",
            "inet",
            "nethergaze",
            "blocked4",
            "{",
            "91.198.174.192",
            "}",
        ],
    );
    netns.run(
        "iptables",
        &["-A", "INPUT", "-s", "45.33.32.0/24", "-j", "DROP"],
    );
    let config = shell_quote(&config_file(dir.path(), false));
    let run = Run::start(dir.path(), &netns.prefix(), &format!("--config {config}"));
    let tmux = &run.tmux;
    let marked = |s: &[String], ip: &str| {
        s.iter().any(|l| {
            l.split('│')
                .next()
                .is_some_and(|c| c.starts_with(&format!("⊘{ip} ")))
        })
    };
    tmux.wait_for("the blocked marks", |s| {
        table_ips(s).len() == ROWS.len() && marked(s, "91.198.174.192") && marked(s, "45.33.32.156")
    });
    tmux.send(&["-l", "f"]);
    tmux.wait_for("the filter form", |s| {
        has(s, "Filter (all parts must match)")
    });
    tmux.send(&["BTab"]);
    tmux.send(&["-l", "yes"]);
    tmux.send(&["Enter"]);
    let screen = tmux.wait_for("the blocked rows alone", |s| {
        sorted(table_ips(s)) == ["45.33.32.156", "91.198.174.192"]
    });
    assert!(screen[0].contains(" blocked"), "{}", screen[0]);
    select(tmux, "45.33.32.156");
    tmux.send(&["Enter"]);
    tmux.wait_for("the drill-down's blocked line", |s| {
        has(s, "blocked: by iptables · 45.33.32.0/24")
    });
    tmux.send(&["Escape"]);
    run.quit();
}
