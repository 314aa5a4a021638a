//! Block assist against the real tools (issue 11): nft, iptables/ip6tables
//! and ufw inside private network namespaces the tests create, a real
//! `fail2ban-server` and CrowdSec's local API on private sockets and files.
//!
//! Every plan is built by [`BlockPlan`] and run by [`execute`], exactly as
//! the dashboard runs it: the tool's path from [`Tools`], the plan's argv,
//! no shell. The "tool" found there is a one-line script that enters the
//! test's namespace (for ufw also a private copy of /etc/ufw) or names the
//! private socket and config (fail2ban, CrowdSec), then execs the real
//! binary with the plan's arguments unchanged.
//!
//! These tests live beside the plan code (not in tests/it) because the plan
//! is crate-private. They need root and the tools (Debian: nftables
//! iptables ufw fail2ban crowdsec, see .ci/run); without them a test prints
//! `SKIP: …` and passes, except under `CI=true`, where that is a failure.

mod lab;
mod readback;

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};

use lab::{
    ip, quote, real, run, skip_unless, stand_in, wait_until, Daemon, Family, Lab, PORT, V4, V6,
};

use super::super::run::{execute, BlockRecord, BLOCK_TIMEOUT};
use super::super::{
    shell_display, target, target_text, BlockPlan, BlockTargets, Scope, Tool, Tools,
};

/// Runs the plan for `tool` as the dashboard does; panics with every
/// command, its status and output unless the block succeeded.
fn block(tools: &Tools, tool: Tool, addr: &str, scope: Scope) -> BlockRecord {
    let net = target(ip(addr), scope).unwrap();
    let plan = BlockPlan::for_target(tool, net, tools.targets())
        .unwrap_or_else(|| panic!("{tool:?} has no plan for {net}"));
    let record = execute(&plan, tools, ip(addr), 0, BLOCK_TIMEOUT);
    assert!(
        record.succeeded(),
        "{tool:?} blocking {net} failed:\n{}",
        describe(&record)
    );
    record
}

fn describe(record: &BlockRecord) -> String {
    record
        .commands
        .iter()
        .map(|c| {
            format!(
                "$ {}\n  {:?}{}\n{}",
                shell_display(&c.argv),
                c.status,
                if c.timed_out { " (timed out)" } else { "" },
                String::from_utf8_lossy(c.output.bytes())
            )
        })
        .collect()
}

/// The whole story on one firewall: every source connects; the address
/// alone is blocked (its neighbour still connects); then widened and
/// narrowed, the last block twice; then only the bystanders connect, until
/// their subnet and then their address are blocked too.
fn block_every_scope(lab: &Lab, tools: &Tools, tool_for: impl Fn(&Family) -> Tool) {
    let all: Vec<&str> = V4.clients().into_iter().chain(V6.clients()).collect();
    lab.assert_reach(&all, &[]);
    for f in [&V4, &V6] {
        block(tools, tool_for(f), f.addr, Scope::Address);
    }
    lab.assert_reach(
        &[
            V4.neighbour,
            V4.member,
            V4.bystander,
            V6.neighbour,
            V6.member,
            V6.bystander,
        ],
        &[V4.addr, V6.addr],
    );
    for f in [&V4, &V6] {
        for scope in f.widen_and_narrow() {
            block(tools, tool_for(f), f.addr, scope);
        }
    }
    lab.assert_reach(
        &[V4.bystander, V6.bystander],
        &[
            V4.addr,
            V4.neighbour,
            V4.member,
            V6.addr,
            V6.neighbour,
            V6.member,
        ],
    );
    // Narrowing on fresh ground: the bystander's subnet, then its address.
    for f in [&V4, &V6] {
        block(tools, tool_for(f), f.bystander, Scope::Subnet);
        block(tools, tool_for(f), f.bystander, Scope::Address);
    }
    lab.assert_reach(&[], &[V4.bystander, V6.bystander]);
}

/// The subnet of the bystander, blocked last.
fn bystander_subnet(f: &Family) -> String {
    target_text(target(ip(f.bystander), Scope::Subnet).unwrap())
}

/// The targets the story blocks, as the tools print them.
fn blocked_targets(f: &Family) -> [String; 3] {
    let addr = ip(f.addr);
    [
        Scope::Address,
        Scope::Subnet,
        Scope::Network(f.whois.parse().unwrap()),
    ]
    .map(|scope| target_text(target(addr, scope).unwrap()))
}

// ---------------------------------------------------------------------------
// The firewalls

#[test]
fn nft_blocks_every_scope_widened_and_narrowed_and_drops_the_blocked() {
    if skip_unless(&["ip", "nft"]) {
        return;
    }
    let lab = Lab::new();
    let dir = tempfile::tempdir().unwrap();
    let enter = format!("exec {} netns exec {}", real("ip"), lab.server.name);
    stand_in(
        dir.path(),
        Tool::Nft,
        &format!("{enter} {} \"$@\"", real("nft")),
    );
    let tools = Tools::detect_in(dir.path().as_os_str());
    block_every_scope(&lab, &tools, |_| Tool::Nft);
    // One interval per family (merged), and the chain's two rules once.
    let nft = dir.path().join("nft");
    for (set, f) in [("blocked4", &V4), ("blocked6", &V6)] {
        let listed = run(&nft, &["list", "set", "inet", "nethergaze", set]);
        let elements = listed
            .split_once("elements = {")
            .and_then(|(_, rest)| rest.split_once('}'))
            .map(|(inside, _)| inside.split(',').map(str::trim).collect::<Vec<_>>());
        let mut want = vec![bystander_subnet(f), f.whois.to_string()];
        want.sort();
        let mut got = elements.unwrap_or_default();
        got.sort_unstable();
        assert_eq!(got, want, "{set}: {listed}");
    }
    let chain = run(&nft, &["list", "chain", "inet", "nethergaze", "input"]);
    assert_eq!(chain.matches(" drop").count(), 2, "{chain}");
}

/// `[actions] nft_table`, `nft_set_v4`, `nft_set_v6`: the blocks land in
/// the configured table and sets, and nothing named `nethergaze` appears.
#[test]
fn nft_blocks_into_the_configured_table_and_sets() {
    if skip_unless(&["ip", "nft"]) {
        return;
    }
    let lab = Lab::new();
    let dir = tempfile::tempdir().unwrap();
    let enter = format!("exec {} netns exec {}", real("ip"), lab.server.name);
    stand_in(
        dir.path(),
        Tool::Nft,
        &format!("{enter} {} \"$@\"", real("nft")),
    );
    let targets = BlockTargets {
        nft_table: "edge_guard".into(),
        nft_set_v4: "deny.v4".into(),
        nft_set_v6: "deny-v6".into(),
        ..BlockTargets::default()
    };
    let tools = Tools::detect_in(dir.path().as_os_str()).with_targets(targets);
    for f in [&V4, &V6] {
        block(&tools, Tool::Nft, f.addr, Scope::Address);
    }
    lab.assert_reach(&[V4.neighbour, V6.neighbour], &[V4.addr, V6.addr]);
    let nft = dir.path().join("nft");
    for (set, f) in [("deny.v4", &V4), ("deny-v6", &V6)] {
        let listed = run(&nft, &["list", "set", "inet", "edge_guard", set]);
        assert!(
            listed.contains(&format!("elements = {{ {} }}", f.addr)),
            "{set}: {listed}"
        );
    }
    let tables = run(&nft, &["list", "tables"]);
    assert_eq!(tables.trim(), "table inet edge_guard", "{tables}");
}

#[test]
fn iptables_and_ip6tables_block_every_scope_once_and_drop_the_blocked() {
    // Debian's default: iptables-nft.
    if !skip_unless(&["ip", "iptables", "ip6tables"]) {
        iptables_story("");
    }
}

#[test]
fn iptables_legacy_blocks_every_scope_once_and_drops_the_blocked() {
    // What `update-alternatives --set iptables /usr/sbin/iptables-legacy`
    // gives (hosts with older Docker or firewall scripts).
    if !skip_unless(&["ip", "iptables-legacy", "ip6tables-legacy"]) {
        iptables_story("-legacy");
    }
}

/// The story with `iptables{backend}` and `ip6tables{backend}` as the
/// tools, then each rule there once.
fn iptables_story(backend: &str) {
    let lab = Lab::new();
    let dir = tempfile::tempdir().unwrap();
    let enter = format!("exec {} netns exec {}", real("ip"), lab.server.name);
    for tool in [Tool::Iptables, Tool::Ip6tables] {
        let program = real(&format!("{}{backend}", tool.program()));
        stand_in(dir.path(), tool, &format!("{enter} {program} \"$@\""));
    }
    let tools = Tools::detect_in(dir.path().as_os_str());
    let tool_for = |f: &Family| {
        if f.is_v6() {
            Tool::Ip6tables
        } else {
            Tool::Iptables
        }
    };
    block_every_scope(&lab, &tools, tool_for);
    // Blocked twice, each rule is there once (the plan asks with -C first).
    for f in [&V4, &V6] {
        let tool = tool_for(f);
        let rules = run(dir.path().join(tool.program()), &["-S", "INPUT"]);
        for t in blocked_targets(f) {
            let net = if t.contains('/') {
                t.clone()
            } else {
                format!("{t}/{}", if f.is_v6() { 128 } else { 32 })
            };
            let comment = format!("-m comment --comment \"nethergaze {t}\"");
            let rule = format!("-A INPUT -s {net} {comment} -j DROP");
            assert_eq!(rules.lines().filter(|l| *l == rule).count(), 1, "{rules}");
        }
    }
    // The second block of the address was answered by the check alone.
    let again = block(&tools, Tool::Iptables, V4.addr, Scope::Address);
    assert!(again.already_blocked(), "{}", describe(&again));
    assert_eq!(again.commands.len(), 1);
}

#[test]
fn ufw_with_its_own_etc_ufw_blocks_every_scope_before_its_allow_rules() {
    if skip_unless(&["ip", "ufw", "iptables", "ip6tables", "cp"]) {
        return;
    }
    let lab = Lab::new();
    let dir = tempfile::tempdir().unwrap();
    let (bin, etc) = ufw_in(&lab, dir.path());
    let ufw = bin.join("ufw");
    // As on a server: ufw on (default deny incoming), the service allowed.
    run(&ufw, &["--force", "enable"]);
    run(&ufw, &["allow", &format!("{PORT}/tcp")]);
    let tools = Tools::detect_in(bin.as_os_str());
    block_every_scope(&lab, &tools, |_| Tool::Ufw);
    let status = run(&ufw, &["status"]);
    for f in [&V4, &V6] {
        for t in blocked_targets(f) {
            let rules = status
                .lines()
                .filter(|l| l.contains("DENY") && l.split_whitespace().last() == Some(t.as_str()))
                .count();
            assert_eq!(rules, 1, "{t} in:\n{status}");
        }
    }
    assert!(
        fs::read_to_string(etc.join("ufw.conf"))
            .unwrap()
            .contains("ENABLED=yes"),
        "ufw wrote its own copy"
    );
}

/// A private /etc/ufw for the lab's server namespace and a `ufw` stand-in
/// that runs the real ufw there with it (returns the bin dir and the copy).
fn ufw_in(lab: &Lab, dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let etc = dir.join("etc-ufw");
    run(real("cp"), &["-a", "/etc/ufw", &etc.display().to_string()]);
    let bin = dir.join("bin");
    fs::create_dir(&bin).unwrap();
    // `ip netns exec` runs in a private mount namespace: the bind mount of
    // our copy over /etc/ufw is seen by this ufw alone.
    let body = format!(
        "exec {} netns exec {} sh -c 'mount --bind \"$0\" /etc/ufw && exec \"$@\"' {} {} \"$@\"",
        real("ip"),
        lab.server.name,
        quote(&etc.display().to_string()),
        real("ufw"),
    );
    stand_in(&bin, Tool::Ufw, &body);
    (bin, etc)
}

/// Issue 11 item 1: an inactive ufw takes `ufw prepend deny` with "Rules
/// updated" and blocks nothing. The run asks `ufw status` first, stops,
/// and says so; the "blocked" address still connects.
#[test]
fn an_inactive_ufw_is_not_reported_as_blocking() {
    if skip_unless(&["ip", "ufw", "iptables", "ip6tables", "cp"]) {
        return;
    }
    let lab = Lab::new();
    let dir = tempfile::tempdir().unwrap();
    let (bin, etc) = ufw_in(&lab, dir.path());
    let ufw = bin.join("ufw");
    run(&ufw, &["--force", "disable"]);
    assert!(run(&ufw, &["status"]).contains("Status: inactive"));
    let tools = Tools::detect_in(bin.as_os_str());
    for f in [&V4, &V6] {
        let net = target(ip(f.addr), Scope::Address).unwrap();
        let plan = BlockPlan::new(Tool::Ufw, net).unwrap();
        let record = execute(&plan, &tools, ip(f.addr), 0, BLOCK_TIMEOUT);
        assert!(!record.succeeded(), "{}", describe(&record));
        assert!(record.commands.is_empty(), "{}", describe(&record));
        assert_eq!(
            record.failure().as_deref(),
            Some("ufw is inactive: a rule would block nothing")
        );
    }
    // Nothing was added, and every source still connects.
    let rules = fs::read_to_string(etc.join("user.rules")).unwrap();
    assert!(!rules.contains(V4.addr), "{rules}");
    let all: Vec<&str> = V4.clients().into_iter().chain(V6.clients()).collect();
    lab.assert_reach(&all, &[]);
}

// ---------------------------------------------------------------------------
// fail2ban and CrowdSec

#[test]
fn fail2ban_server_bans_what_the_fail2ban_client_plan_sends() {
    if skip_unless(&["fail2ban-server", "fail2ban-client"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).display().to_string();
    let (conf, sock) = (d("conf"), d("f2b.sock"));
    fs::create_dir_all(dir.path().join("conf/filter.d")).unwrap();
    fs::write(d("empty.log"), "").unwrap();
    fs::write(
        dir.path().join("conf/fail2ban.conf"),
        format!(
            "[Definition]\nloglevel = INFO\nlogtarget = STDERR\nsocket = {sock}\n\
             pidfile = {}\ndbfile = :memory:\n",
            d("f2b.pid")
        ),
    )
    .unwrap();
    // The jail the plan names, polling an empty log with a filter that
    // never matches: bans come from the client only.
    fs::write(
        dir.path().join("conf/filter.d/nothing.conf"),
        "[Definition]\nfailregex = ^nethergaze-test-never <HOST>$\n",
    )
    .unwrap();
    // And a second jail for `[actions] fail2ban_jail`.
    let jail = |name: &str| {
        format!(
            "[{name}]\nenabled = true\nbackend = polling\nfilter = nothing\nlogpath = {}\n",
            d("empty.log")
        )
    };
    fs::write(
        dir.path().join("conf/jail.conf"),
        jail("sshd") + &jail("nginx-probe"),
    )
    .unwrap();
    let mut server = Command::new(real("fail2ban-server"));
    server.args(["-f", "-x", "-c", &conf, "-s", &sock, "-p", &d("f2b.pid")]);
    let mut server = Daemon::spawn(server, dir.path().join("server.log"));
    let client = real("fail2ban-client");
    wait_until("fail2ban-server to answer ping", || {
        server.assert_running();
        Command::new(&client)
            .args(["-s", &sock, "ping"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    let bin = dir.path().join("bin");
    fs::create_dir(&bin).unwrap();
    let body = format!(
        "exec {client} -c {} -s {} \"$@\"",
        quote(&conf),
        quote(&sock)
    );
    stand_in(&bin, Tool::Fail2ban, &body);
    let tools = Tools::detect_in(bin.as_os_str());
    for addr in [V4.addr, V6.addr, V4.addr] {
        block(&tools, Tool::Fail2ban, addr, Scope::Address);
    }
    let subnet = target(ip(V4.addr), Scope::Subnet).unwrap();
    assert_eq!(
        BlockPlan::new(Tool::Fail2ban, subnet),
        None,
        "bans addresses only"
    );
    let banned = run(&client, &["-s", &sock, "banned"]);
    assert!(
        banned.contains(V4.addr) && banned.contains(V6.addr),
        "{banned}"
    );
    let status = run(&client, &["-s", &sock, "status", "sshd"]);
    let current = status
        .lines()
        .find(|l| l.contains("Currently banned:"))
        .and_then(|l| l.split_whitespace().last());
    assert_eq!(current, Some("2"), "banned twice, listed once:\n{status}");
    // The configured jail takes the ban, and sshd's is left alone.
    let custom = BlockTargets {
        fail2ban_jail: "nginx-probe".into(),
        ..BlockTargets::default()
    };
    let tools = tools.with_targets(custom);
    block(&tools, Tool::Fail2ban, V4.bystander, Scope::Address);
    let status = run(&client, &["-s", &sock, "status", "nginx-probe"]);
    let listed = status.lines().find(|l| l.contains("Banned IP list:"));
    assert_eq!(
        listed.map(|l| l.split_whitespace().last()),
        Some(Some(V4.bystander)),
        "{status}"
    );
    let sshd = run(&client, &["-s", &sock, "status", "sshd"]);
    assert!(!sshd.contains(V4.bystander), "{sshd}");
}

#[test]
fn crowdsec_local_api_takes_the_cscli_decisions() {
    if skip_unless(&["crowdsec", "cscli"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).display().to_string();
    let port = TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    fs::create_dir_all(dir.path().join("data")).unwrap();
    fs::create_dir_all(dir.path().join("notifications")).unwrap();
    fs::write(d("simulation.yaml"), "simulation: off\n").unwrap();
    fs::write(d("profiles.yaml"), CROWDSEC_PROFILE).unwrap();
    let config = d("config.yaml");
    let root = dir.path().display();
    fs::write(&config, crowdsec_config(&root.to_string(), port)).unwrap();
    let cscli = real("cscli");
    // A machine for cscli (written straight into the SQLite database).
    run(
        &cscli,
        &[
            "-c",
            &config,
            "machines",
            "add",
            "nethergaze-test",
            "--auto",
            "-f",
            &d("local_api_credentials.yaml"),
        ],
    );
    // The local API alone (`-no-cs`: no agent, no log acquisition).
    let mut api = Command::new(real("crowdsec"));
    api.args(["-c", &config, "-no-cs"]);
    let mut api = Daemon::spawn(api, dir.path().join("crowdsec.log"));
    wait_until("CrowdSec's local API to listen", || {
        api.assert_running();
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let bin = dir.path().join("bin");
    fs::create_dir(&bin).unwrap();
    stand_in(
        &bin,
        Tool::Cscli,
        &format!("exec {cscli} -c {} \"$@\"", quote(&config)),
    );
    let tools = Tools::detect_in(bin.as_os_str());
    for f in [&V4, &V6] {
        block(&tools, Tool::Cscli, f.addr, Scope::Address);
        for scope in f.widen_and_narrow() {
            block(&tools, Tool::Cscli, f.addr, scope);
        }
    }
    let listed = run(&cscli, &["-c", &config, "decisions", "list", "-o", "json"]);
    let alerts: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let values: Vec<&str> = alerts
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["decisions"].as_array().into_iter().flatten())
        .filter(|d| d["type"] == "ban")
        .filter_map(|d| d["value"].as_str())
        .collect();
    for f in [&V4, &V6] {
        for t in blocked_targets(f) {
            assert!(values.contains(&t.as_str()), "{t} not in {values:?}");
        }
    }
    // `[actions] cscli_duration` and `cscli_reason` reach the decision.
    let custom = BlockTargets {
        cscli_duration: "30m".into(),
        cscli_reason: Some("nethergaze: burst, 'quoted'".into()),
        ..BlockTargets::default()
    };
    block(
        &tools.with_targets(custom),
        Tool::Cscli,
        V4.bystander,
        Scope::Address,
    );
    let listed = run(
        &cscli,
        &[
            "-c",
            &config,
            "decisions",
            "list",
            "--ip",
            V4.bystander,
            "-o",
            "json",
        ],
    );
    let alerts: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let decision = &alerts[0]["decisions"][0];
    assert_eq!(decision["value"], V4.bystander, "{listed}");
    assert_eq!(
        decision["scenario"], "nethergaze: burst, 'quoted'",
        "{listed}"
    );
    let left = decision["duration"].as_str().unwrap_or_default();
    assert!(
        left.starts_with("29m") || left == "30m0s",
        "{left}: {listed}"
    );
}

/// Debian's default profile: a ban for every alert on an IP or a range.
const CROWDSEC_PROFILE: &str = "name: default_ip_remediation
filters:
 - Alert.Remediation == true && Alert.GetScope() == \"Ip\"
decisions:
 - type: ban
   duration: 4h
on_success: break
";

/// Everything in `root`: SQLite database, credentials, the local API on
/// 127.0.0.1:`port`, no Central API, no metrics port.
fn crowdsec_config(root: &str, port: u16) -> String {
    format!(
        "common:
  daemonize: false
  log_media: stdout
  log_level: info
  working_dir: .
config_paths:
  config_dir: {root}/
  data_dir: {root}/data/
  simulation_path: {root}/simulation.yaml
  hub_dir: {root}/hub/
  index_path: {root}/hub/.index.json
  notification_dir: {root}/notifications/
  plugin_dir: /usr/lib/crowdsec/plugins/
cscli:
  output: human
db_config:
  log_level: info
  type: sqlite
  db_path: {root}/data/crowdsec.db
  use_wal: true
api:
  client:
    insecure_skip_verify: false
    credentials_path: {root}/local_api_credentials.yaml
  server:
    log_level: info
    listen_uri: 127.0.0.1:{port}
    profiles_path: {root}/profiles.yaml
    trusted_ips:
      - 127.0.0.1
prometheus:
  enabled: false
"
    )
}
