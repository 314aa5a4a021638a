//! Issue 14 item 5: the blocked-address reader against the real tools. Each
//! test blocks with the real tool in a namespace or on a private socket (by
//! nethergaze's own plans, and by hand as an operator or another program
//! would), then runs [`BlockReader`] with the same stand-ins and checks what
//! it parsed and what the containment index makes of it.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};

use super::lab::{ip, quote, real, run, skip_unless, stand_in, wait_until, Daemon, Lab, V4, V6};
use super::{block, crowdsec_config, CROWDSEC_PROFILE};
use crate::actions::block::{Scope, Tool, Tools};
use crate::enrich::blocked::BlockIndex;
use crate::parse::blocklist::{BlockedNet, Blocker};
use crate::source::blocklists::BlockReader;

/// One whole round of the reader with `tools`, as `--once` runs it.
fn read_round(tools: &Tools) -> Vec<BlockedNet> {
    let mut reader = BlockReader::new(tools, crate::actions::block::tools::DEFAULT_NFT_TABLE);
    reader.run_now();
    reader.take_round().expect("the round ended")
}

/// The networks `by` blocks, as text, sorted.
fn nets(found: &[BlockedNet], by: Blocker) -> Vec<String> {
    let mut v: Vec<String> = found
        .iter()
        .filter(|b| b.by == by)
        .map(|b| b.net.to_string())
        .collect();
    v.sort();
    v
}

/// Who blocks `addr` according to the index of `found`, by name.
fn blocked_by(index: &BlockIndex, addr: &str) -> Option<(Vec<&'static str>, String)> {
    index.lookup(ip(addr)).map(|m| {
        (
            m.by.iter().map(Blocker::name).collect(),
            m.scope.to_string(),
        )
    })
}

#[test]
fn reader_finds_nft_sets_and_iptables_and_ip6tables_drops_in_a_namespace() {
    if skip_unless(&["ip", "nft", "iptables", "ip6tables"]) {
        return;
    }
    let lab = Lab::new();
    let dir = tempfile::tempdir().unwrap();
    let enter = format!("exec {} netns exec {}", real("ip"), lab.server.name);
    for tool in [Tool::Nft, Tool::Iptables, Tool::Ip6tables] {
        let body = format!("{enter} {} \"$@\"", real(tool.program()));
        stand_in(dir.path(), tool, &body);
    }
    let tools = Tools::detect_in(dir.path().as_os_str());
    // Nothing blocked yet: no nethergaze table, no rules.
    let empty = read_round(&tools);
    assert!(empty.is_empty(), "{empty:?}");
    // nethergaze's own sets, by its plans; rules by hand, as an operator's.
    block(&tools, Tool::Nft, V4.addr, Scope::Address);
    block(&tools, Tool::Nft, V6.addr, Scope::Subnet);
    let sh = |tool: Tool, args: &[&str]| run(dir.path().join(tool.program()), args);
    sh(
        Tool::Iptables,
        &["-A", "INPUT", "-s", "198.51.100.0/24", "-j", "DROP"],
    );
    sh(
        Tool::Iptables,
        &[
            "-A",
            "INPUT",
            "-s",
            "192.0.2.0/24",
            "-p",
            "tcp",
            "--dport",
            "22",
            "-j",
            "DROP",
        ],
    );
    sh(
        Tool::Iptables,
        &["-A", "INPUT", "!", "-s", "10.0.0.0/8", "-j", "ACCEPT"],
    );
    sh(
        Tool::Ip6tables,
        &[
            "-I",
            "INPUT",
            "-s",
            "2001:db8:3::/48",
            "-m",
            "comment",
            "--comment",
            "by \"hand\"",
            "-j",
            "REJECT",
        ],
    );
    let found = read_round(&tools);
    assert_eq!(
        nets(&found, Blocker::Nft),
        ["2001:db8:1::/64", "203.0.113.7/32"]
    );
    assert_eq!(
        nets(&found, Blocker::Iptables),
        ["198.51.100.0/24"],
        "only the whole-address drop"
    );
    assert_eq!(nets(&found, Blocker::Ip6tables), ["2001:db8:3::/48"]);
    let index = BlockIndex::new(&found);
    let nft = |scope: &str| Some((vec!["nft"], scope.to_string()));
    assert_eq!(blocked_by(&index, V4.addr), nft("203.0.113.7/32"));
    assert_eq!(blocked_by(&index, V4.neighbour), None);
    assert_eq!(blocked_by(&index, V6.neighbour), nft("2001:db8:1::/64"));
    assert_eq!(blocked_by(&index, V6.member), None);
    assert_eq!(
        blocked_by(&index, V4.bystander),
        Some((vec!["iptables"], "198.51.100.0/24".to_string())),
        "inside the blocked /24"
    );
    assert_eq!(
        blocked_by(&index, V6.bystander),
        Some((vec!["ip6tables"], "2001:db8:3::/48".to_string()))
    );
    assert_eq!(
        blocked_by(&index, "192.0.2.9"),
        None,
        "a port-22 rule is not a block"
    );
}

#[test]
fn reader_names_ufw_for_the_rules_in_its_chains() {
    if skip_unless(&["ip", "ufw", "iptables", "ip6tables", "cp"]) {
        return;
    }
    let lab = Lab::new();
    let dir = tempfile::tempdir().unwrap();
    let (bin, _etc) = super::ufw_in(&lab, dir.path());
    let ufw = bin.join("ufw");
    run(&ufw, &["--force", "enable"]);
    block(
        &Tools::detect_in(bin.as_os_str()),
        Tool::Ufw,
        V4.addr,
        Scope::Subnet,
    );
    run(&ufw, &["deny", "from", V6.whois]);
    let enter = format!("exec {} netns exec {}", real("ip"), lab.server.name);
    for tool in [Tool::Iptables, Tool::Ip6tables] {
        stand_in(
            &bin,
            tool,
            &format!("{enter} {} \"$@\"", real(tool.program())),
        );
    }
    let found = read_round(&Tools::detect_in(bin.as_os_str()));
    assert_eq!(
        nets(&found, Blocker::Ufw),
        ["2001:db8:1::/48", "203.0.113.0/24"],
        "{found:?}"
    );
    let index = BlockIndex::new(&found);
    assert_eq!(
        blocked_by(&index, V4.neighbour),
        Some((vec!["ufw"], "203.0.113.0/24".to_string()))
    );
    assert!(blocked_by(&index, V6.member).is_some());
    assert_eq!(blocked_by(&index, V4.bystander), None);
}

#[test]
fn reader_asks_a_private_fail2ban_server_what_it_banned() {
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
    fs::write(
        dir.path().join("conf/filter.d/nothing.conf"),
        "[Definition]\nfailregex = ^nethergaze-test-never <HOST>$\n",
    )
    .unwrap();
    // Two jails with no action (nothing touches a firewall), bans by hand.
    let jail = |name: &str| {
        format!(
            "[{name}]\nenabled = true\nbackend = polling\nfilter = nothing\nlogpath = {}\n",
            d("empty.log")
        )
    };
    fs::write(d("conf/jail.conf"), jail("sshd") + &jail("nginx-probe")).unwrap();
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
    assert!(read_round(&tools).is_empty());
    let before = crate::parse::time::now();
    // The plan bans in the sshd jail; another jail's ban is read as well.
    block(&tools, Tool::Fail2ban, V4.addr, Scope::Address);
    run(
        &client,
        &["-s", &sock, "set", "nginx-probe", "banip", V6.addr],
    );
    let found = read_round(&tools);
    let after = crate::parse::time::now();
    for b in &found {
        // `get JAIL banip --with-time`, the server's local time.
        let since = b.since.expect("fail2ban says when");
        assert!(
            (before - 1..=after + 1).contains(&since),
            "{since} not in {before}..{after}"
        );
    }
    assert_eq!(
        nets(&found, Blocker::Fail2ban),
        ["2001:db8:1::7/128", "203.0.113.7/32"]
    );
    let index = BlockIndex::new(&found);
    assert_eq!(
        blocked_by(&index, V6.addr),
        Some((vec!["fail2ban"], "2001:db8:1::7/128".to_string()))
    );
    assert_eq!(blocked_by(&index, V4.neighbour), None);
}

#[test]
fn reader_lists_crowdsec_bans_with_their_start_and_skips_captchas() {
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
    let root = dir.path().display().to_string();
    fs::write(&config, crowdsec_config(&root, port)).unwrap();
    let cscli = real("cscli");
    let machine = d("local_api_credentials.yaml");
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
            &machine,
        ],
    );
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
    assert!(read_round(&tools).is_empty(), "no decisions: `null`");
    let before = crate::parse::time::now();
    block(&tools, Tool::Cscli, V4.addr, Scope::Subnet);
    block(&tools, Tool::Cscli, V6.addr, Scope::Address);
    let captcha = [
        "-c",
        &config,
        "decisions",
        "add",
        "--ip",
        V4.bystander,
        "--type",
        "captcha",
    ];
    run(&cscli, &captcha);
    let found = read_round(&tools);
    assert_eq!(
        nets(&found, Blocker::Crowdsec),
        ["2001:db8:1::7/128", "203.0.113.0/24"]
    );
    let after = crate::parse::time::now();
    for b in &found {
        let since = b.since.expect("CrowdSec says when");
        assert!(
            (before - 1..=after + 1).contains(&since),
            "{since} not in {before}..{after}"
        );
    }
    let index = BlockIndex::new(&found);
    assert_eq!(
        blocked_by(&index, V4.neighbour),
        Some((vec!["crowdsec"], "203.0.113.0/24".to_string()))
    );
    assert_eq!(
        blocked_by(&index, V4.bystander),
        None,
        "a captcha is not a block"
    );
}
