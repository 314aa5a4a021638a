// Against the real nft, iptables, ufw, fail2ban and CrowdSec (root only).
mod firewall;

use std::fs;
use std::path::Path;

use std::ffi::OsStr;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use ipnet::IpNet;

use super::run::{execute, BLOCK_TIMEOUT};
use super::safety::{operator_addresses, Refusal, Warning, CDN_RANGES};
use super::*;
use crate::actions::NonUnicast;
use crate::sys::host::local_addresses;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

/// A temp dir with fake tools that append their argv (one word a line,
/// then `[end]`) to `calls.log` (`ufw status`, block assist's probe, only
/// answers as an active ufw); `fail` names tools that exit 1. As an
/// empty iptables would, `-C` (is the rule there?) exits 1.
struct FakeTools {
    dir: tempfile::TempDir,
}

impl FakeTools {
    fn new(names: &[&str], fail: &[&str]) -> FakeTools {
        FakeTools::with_check_exit(names, fail, 1)
    }

    /// Fakes whose `-C` exits `check_exit` (0: the rule is there).
    fn with_check_exit(names: &[&str], fail: &[&str], check_exit: i32) -> FakeTools {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("calls.log");
        for name in names {
            let code = if fail.contains(name) { 1 } else { 0 };
            let script = format!(
                "#!/bin/sh\n[ \"$*\" = status ] && echo 'Status: active' && exit 0\n{{ printf '%s\\n' \"$0\"; for a in \"$@\"; do printf '%s\\n' \"$a\"; done; echo '[end]'; }} >> '{}'\necho {name} ran; echo {name} warns >&2\n[ \"$1\" = -C ] && [ {code} = 0 ] && exit {check_exit}\nexit {code}\n",
                log.display()
            );
            let path = dir.path().join(name);
            fs::write(&path, script).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        FakeTools { dir }
    }

    fn tools(&self) -> Tools {
        Tools::detect_in(self.dir.path().as_os_str())
    }

    /// Each recorded call as its argv (program file name first).
    fn calls(&self) -> Vec<Vec<String>> {
        let Ok(text) = fs::read_to_string(self.dir.path().join("calls.log")) else {
            return Vec::new();
        };
        text.split("[end]\n")
            .filter(|c| !c.is_empty())
            .map(|c| {
                let mut argv: Vec<String> = c.lines().map(String::from).collect();
                argv[0] = Path::new(&argv[0])
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into();
                argv
            })
            .collect()
    }
}

const ALL_TOOLS: [&str; 6] = [
    "ufw",
    "nft",
    "iptables",
    "ip6tables",
    "fail2ban-client",
    "cscli",
];

#[test]
fn detection_searches_the_given_path_and_skips_non_executables() {
    let fake = FakeTools::new(&["nft", "cscli"], &[]);
    let other = tempfile::tempdir().unwrap();
    fs::write(other.path().join("ufw"), "not executable").unwrap();
    fs::create_dir(other.path().join("iptables")).unwrap();
    let path = std::env::join_paths([other.path(), fake.dir.path()]).unwrap();
    let tools = Tools::detect_in(&path);
    assert_eq!(tools.iter().collect::<Vec<_>>(), [Tool::Nft, Tool::Cscli]);
    assert_eq!(
        tools.path(Tool::Nft),
        Some(fake.dir.path().join("nft").as_path())
    );
    assert_eq!(tools.path(Tool::Ufw), None);
    assert_eq!(Tools::detect_in(OsStr::new("")).iter().count(), 0);
}

#[test]
fn scopes_give_the_address_its_subnet_or_the_whois_network() {
    let v4 = ip("203.0.113.77");
    let v6 = ip("2001:db8:1:2:3:4:5:6");
    assert_eq!(target(v4, Scope::Address), Ok(net("203.0.113.77/32")));
    assert_eq!(target(v4, Scope::Subnet), Ok(net("203.0.113.0/24")));
    assert_eq!(target(v6, Scope::Subnet), Ok(net("2001:db8:1:2::/64")));
    assert_eq!(
        target(ip("::ffff:203.0.113.77"), Scope::Address),
        Ok(net("203.0.113.77/32"))
    );
    assert_eq!(
        target(v4, Scope::Network(net("203.0.112.9/22"))),
        Ok(net("203.0.112.0/22"))
    );
    assert_eq!(
        target(v4, Scope::Network(net("198.51.100.0/24"))),
        Err(ScopeError::NotContaining(net("198.51.100.0/24")))
    );
    assert_eq!(
        target(v4, Scope::Network(net("192.0.0.0/2"))),
        Err(ScopeError::TooBroad(net("192.0.0.0/2")))
    );
    assert_eq!(target_text(net("203.0.113.77/32")), "203.0.113.77");
    assert_eq!(target_text(net("2001:db8::1/128")), "2001:db8::1");
    assert_eq!(target_text(net("2001:db8:1:2::/64")), "2001:db8:1:2::/64");
}

#[test]
fn commands_for_each_tool_and_family() {
    let a4 = net("203.0.113.7/32");
    let n4 = net("203.0.113.0/24");
    let a6 = net("2001:db8::7/128");
    let block = |tool, target| BlockPlan::new(tool, target).map(|p| p.block.join(" "));
    assert_eq!(
        block(Tool::Ufw, a4).unwrap(),
        "ufw prepend deny from 203.0.113.7"
    );
    assert_eq!(
        block(Tool::Ufw, n4).unwrap(),
        "ufw prepend deny from 203.0.113.0/24"
    );
    assert_eq!(
        block(Tool::Iptables, a4).unwrap(),
        "iptables -I INPUT -s 203.0.113.7 -m comment --comment nethergaze 203.0.113.7 -j DROP"
    );
    assert_eq!(block(Tool::Iptables, a6), None);
    assert_eq!(
        block(Tool::Ip6tables, a6).unwrap(),
        "ip6tables -I INPUT -s 2001:db8::7 -m comment --comment nethergaze 2001:db8::7 -j DROP"
    );
    assert_eq!(block(Tool::Ip6tables, a4), None);
    assert_eq!(
        block(Tool::Fail2ban, a4).unwrap(),
        "fail2ban-client set sshd banip 203.0.113.7"
    );
    assert_eq!(
        block(Tool::Fail2ban, n4),
        None,
        "fail2ban bans single addresses"
    );
    assert_eq!(
        block(Tool::Cscli, a6).unwrap(),
        "cscli decisions add --ip 2001:db8::7 --duration 4h"
    );
    assert_eq!(
        block(Tool::Cscli, n4).unwrap(),
        "cscli decisions add --range 203.0.113.0/24 --duration 4h"
    );
    assert_eq!(
        block(Tool::Nft, a4).unwrap(),
        "nft add element inet nethergaze blocked4 { 203.0.113.7 }"
    );
    assert_eq!(
        block(Tool::Nft, a6).unwrap(),
        "nft add element inet nethergaze blocked6 { 2001:db8::7 }"
    );
}

fn custom_targets() -> BlockTargets {
    BlockTargets {
        fail2ban_jail: "nginx-http-auth".into(),
        cscli_duration: "30m".into(),
        cscli_reason: Some("nethergaze: burst; it's 'quoted'".into()),
        nft_table: "edge".into(),
        nft_set_v4: "bad4".into(),
        nft_set_v6: "bad6".into(),
    }
}

#[test]
fn plans_use_the_configured_jail_duration_reason_table_and_sets() {
    let targets = custom_targets();
    let plan = |tool, target| BlockPlan::for_target(tool, net(target), &targets).unwrap();
    assert_eq!(
        plan(Tool::Fail2ban, "203.0.113.7/32").block,
        [
            "fail2ban-client",
            "set",
            "nginx-http-auth",
            "banip",
            "203.0.113.7"
        ]
    );
    // The reason is one argv element, whatever it holds.
    assert_eq!(
        plan(Tool::Cscli, "203.0.113.0/24").block,
        [
            "cscli",
            "decisions",
            "add",
            "--range",
            "203.0.113.0/24",
            "--duration",
            "30m",
            "--reason",
            "nethergaze: burst; it's 'quoted'",
        ]
    );
    assert_eq!(
        shell_display(&plan(Tool::Cscli, "2001:db8::7/128").block),
        r"cscli decisions add --ip 2001:db8::7 --duration 30m --reason 'nethergaze: burst; it'\''s '\''quoted'\'''"
    );
    let nft = plan(Tool::Nft, "2001:db8::/64");
    let shown: Vec<String> = nft.commands().map(shell_display).collect();
    assert_eq!(
        shown,
        [
            "nft add table inet edge",
            "nft add set inet edge bad4 '{' type ipv4_addr ';' flags interval ';' auto-merge ';' '}'",
            "nft add set inet edge bad6 '{' type ipv6_addr ';' flags interval ';' auto-merge ';' '}'",
            "nft -- add chain inet edge input '{' type filter hook input priority -10 ';' '}'",
            "nft flush chain inet edge input",
            "nft add rule inet edge input ip saddr @bad4 drop",
            "nft add rule inet edge input ip6 saddr @bad6 drop",
            "nft add element inet edge bad6 '{' 2001:db8::/64 '}'",
        ]
    );
    // The tools carry the targets to every plan they make.
    let fakes = FakeTools::new(&["nft", "fail2ban-client"], &[]);
    let tools = fakes.tools().with_targets(targets.clone());
    let plans = BlockPlan::for_tools(&tools, net("203.0.113.7/32"));
    let blocks: Vec<String> = plans.iter().map(|p| p.block.join(" ")).collect();
    assert_eq!(
        blocks,
        [
            "nft add element inet edge bad4 { 203.0.113.7 }",
            "fail2ban-client set nginx-http-auth banip 203.0.113.7",
        ]
    );
}

#[test]
fn target_names_durations_and_reasons_are_checked_strictly() {
    for good in ["sshd", "nginx-http-auth", "a.b_c-1", &"x".repeat(64)] {
        assert_eq!(BlockTargets::check_name(good), Ok(()), "{good}");
    }
    for bad in [
        "",
        "-x",
        "a b",
        "a;b",
        "a/b",
        "a\nb",
        "é",
        "{x}",
        "@set",
        &"x".repeat(65),
    ] {
        assert!(BlockTargets::check_name(bad).is_err(), "{bad:?}");
    }
    for good in ["4h", "30m", "90s", "1h30m", "2h0m5s", "1d", "365d"] {
        assert_eq!(BlockTargets::check_duration(good), Ok(()), "{good}");
    }
    for bad in [
        "", "4", "h", "0h", "0d", "0h0m", "4H", "1d4h", "30m1h", "4h4h", "-4h", "4h ", "1.5h",
        "1w", "9999999h",
    ] {
        assert!(BlockTargets::check_duration(bad).is_err(), "{bad:?}");
    }
    assert_eq!(BlockTargets::check_reason("burst from 203.0.113.7"), Ok(()));
    for bad in ["", "  ", "a\tb", "a\u{1b}[31m", "-x", &"r".repeat(129)] {
        assert!(BlockTargets::check_reason(bad).is_err(), "{bad:?}");
    }
    assert_eq!(BlockTargets::check_reason(&"r".repeat(128)), Ok(()));
}

#[test]
fn nft_plan_shows_its_own_table_sets_and_chain() {
    let plan = BlockPlan::new(Tool::Nft, net("203.0.113.0/24")).unwrap();
    let shown: Vec<String> = plan.commands().map(shell_display).collect();
    assert_eq!(
        shown,
        [
            "nft add table inet nethergaze",
            "nft add set inet nethergaze blocked4 '{' type ipv4_addr ';' flags interval ';' auto-merge ';' '}'",
            "nft add set inet nethergaze blocked6 '{' type ipv6_addr ';' flags interval ';' auto-merge ';' '}'",
            "nft -- add chain inet nethergaze input '{' type filter hook input priority -10 ';' '}'",
            "nft flush chain inet nethergaze input",
            "nft add rule inet nethergaze input ip saddr @blocked4 drop",
            "nft add rule inet nethergaze input ip6 saddr @blocked6 drop",
            "nft add element inet nethergaze blocked4 '{' 203.0.113.0/24 '}'",
        ]
    );
}

#[test]
fn iptables_asks_before_inserting_so_a_second_block_adds_no_copy() {
    let plan = BlockPlan::new(Tool::Iptables, net("203.0.113.7/32")).unwrap();
    let shown: Vec<String> = plan.commands().map(shell_display).collect();
    assert_eq!(
        shown,
        [
            "iptables -C INPUT -s 203.0.113.7 -m comment --comment 'nethergaze 203.0.113.7' -j DROP",
            "iptables -I INPUT -s 203.0.113.7 -m comment --comment 'nethergaze 203.0.113.7' -j DROP",
        ]
    );
    // Not there yet: the check's exit 1 is an answer, and the insert runs.
    let absent = FakeTools::new(&["iptables"], &[]);
    let record = execute(&plan, &absent.tools(), ip("203.0.113.7"), 0, BLOCK_TIMEOUT);
    assert!(
        record.succeeded() && !record.already_blocked(),
        "{record:?}"
    );
    assert_eq!(absent.calls().len(), 2);
    // There already: nothing more runs.
    let present = FakeTools::with_check_exit(&["ip6tables"], &[], 0);
    let plan6 = BlockPlan::new(Tool::Ip6tables, net("2001:db8::/64")).unwrap();
    let record = execute(
        &plan6,
        &present.tools(),
        ip("2001:db8::7"),
        0,
        BLOCK_TIMEOUT,
    );
    assert!(record.succeeded() && record.already_blocked(), "{record:?}");
    assert_eq!(
        present.calls(),
        [[
            "ip6tables",
            "-C",
            "INPUT",
            "-s",
            "2001:db8::/64",
            "-m",
            "comment",
            "--comment",
            "nethergaze 2001:db8::/64",
            "-j",
            "DROP"
        ]]
    );
    // Any other answer (iptables: 2 bad usage, 4 not root) is a failure.
    let broken = FakeTools::with_check_exit(&["iptables"], &[], 4);
    let record = execute(&plan, &broken.tools(), ip("203.0.113.7"), 0, BLOCK_TIMEOUT);
    assert!(
        !record.succeeded() && !record.already_blocked(),
        "{record:?}"
    );
    assert_eq!(broken.calls().len(), 1);
    // Only iptables asks: the other tools' block is idempotent by itself.
    for tool in [Tool::Ufw, Tool::Nft, Tool::Fail2ban, Tool::Cscli] {
        assert_eq!(
            BlockPlan::new(tool, net("203.0.113.7/32")).unwrap().check,
            None
        );
    }
}

#[test]
fn shell_display_quotes_what_a_shell_would_interpret() {
    let argv = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        shell_display(&argv(&["a", "b c", "it's", ""])),
        "a 'b c' 'it'\\''s' ''"
    );
}

#[test]
fn plans_follow_detected_tools_in_preference_order() {
    let fake = FakeTools::new(&ALL_TOOLS, &[]);
    let tools = fake.tools();
    let of = |target| {
        BlockPlan::for_tools(&tools, target)
            .into_iter()
            .map(|p| p.tool)
            .collect::<Vec<_>>()
    };
    use Tool::*;
    assert_eq!(
        of(net("203.0.113.7/32")),
        [Ufw, Nft, Iptables, Cscli, Fail2ban]
    );
    assert_eq!(of(net("2001:db8::/64")), [Ufw, Nft, Ip6tables, Cscli]);
}

fn quiet_context() -> SafetyContext {
    SafetyContext::default()
}

fn flow_for(tool: Tool, addr: &str, ctx: &SafetyContext, enabled: bool) -> BlockFlow {
    let target = target(ip(addr), Scope::Address).unwrap();
    let plan = BlockPlan::new(tool, target).unwrap();
    BlockFlow::new(ip(addr), plan, ctx.check(target), enabled)
}

#[test]
fn nothing_runs_when_execution_is_disabled() {
    let fake = FakeTools::new(&ALL_TOOLS, &[]);
    let mut flow = flow_for(Tool::Ufw, "203.0.113.7", &quiet_context(), false);
    assert_eq!(flow.advance(), Err(FlowError::ExecutionDisabled));
    assert_eq!(flow.step(), Step::Propose);
    assert_eq!(
        flow.run(&fake.tools(), 0).err(),
        Some(FlowError::ExecutionDisabled)
    );
    assert!(fake.calls().is_empty());
}

#[test]
fn nothing_runs_before_confirmation() {
    let fake = FakeTools::new(&ALL_TOOLS, &[]);
    let mut flow = flow_for(Tool::Ufw, "203.0.113.7", &quiet_context(), true);
    assert_eq!(
        flow.run(&fake.tools(), 0).err(),
        Some(FlowError::NotConfirmed)
    );
    assert_eq!(flow.advance(), Ok(Step::Confirm));
    assert_eq!(
        flow.run(&fake.tools(), 0).err(),
        Some(FlowError::NotConfirmed)
    );
    flow.cancel();
    assert_eq!(flow.step(), Step::Propose);
    assert!(fake.calls().is_empty());
}

#[test]
fn confirmed_block_runs_exactly_the_command_by_argv() {
    let fake = FakeTools::new(&ALL_TOOLS, &[]);
    let mut flow = flow_for(Tool::Ufw, "203.0.113.7", &quiet_context(), true);
    assert_eq!(flow.advance(), Ok(Step::Confirm));
    assert_eq!(
        flow.advance(),
        Ok(Step::Ready),
        "no refusal: one confirmation"
    );
    let record = flow.run(&fake.tools(), 1_700_000_000).unwrap().clone();
    assert_eq!(
        fake.calls(),
        [["ufw", "prepend", "deny", "from", "203.0.113.7"]]
    );
    assert!(record.succeeded());
    assert_eq!(
        (record.time, record.ip, record.tool),
        (1_700_000_000, ip("203.0.113.7"), Tool::Ufw)
    );
    assert_eq!(record.commands[0].output.bytes(), b"ufw ran\nufw warns\n");
    assert_eq!(flow.step(), Step::Done);
    assert_eq!(
        flow.run(&fake.tools(), 0).err(),
        Some(FlowError::NotConfirmed),
        "once"
    );
    assert_eq!(fake.calls().len(), 1);
}

#[test]
fn each_tool_records_only_the_canonical_address() {
    let fake = FakeTools::new(&ALL_TOOLS, &[]);
    let tools = fake.tools();
    let cases = [
        (Tool::Iptables, "::ffff:198.51.100.4", "198.51.100.4"),
        (Tool::Ip6tables, "2001:DB8:0::9", "2001:db8::9"),
        (Tool::Fail2ban, "198.51.100.4", "198.51.100.4"),
        (Tool::Cscli, "2001:db8::9", "2001:db8::9"),
    ];
    for (tool, addr, canonical) in cases {
        let mut flow = flow_for(tool, addr, &quiet_context(), true);
        flow.advance().unwrap();
        flow.advance().unwrap();
        assert!(flow.run(&tools, 0).unwrap().succeeded());
        let calls = fake.calls();
        let last = calls.last().unwrap();
        assert_eq!(last[0], tool.program());
        // The only word not fixed by the tool's syntax is the address.
        let expected = BlockPlan::new(tool, IpNet::from(ip(canonical)))
            .unwrap()
            .block;
        assert_eq!(last, &expected);
        assert!(last.contains(&canonical.to_string()), "{last:?}");
    }
}

#[test]
fn nft_runs_setup_then_the_element_and_stops_at_a_failure() {
    let fake = FakeTools::new(&ALL_TOOLS, &[]);
    let mut flow = flow_for(Tool::Nft, "2001:db8::7", &quiet_context(), true);
    flow.advance().unwrap();
    flow.advance().unwrap();
    assert!(flow.run(&fake.tools(), 0).unwrap().succeeded());
    let calls = fake.calls();
    assert_eq!(calls.len(), 8);
    assert_eq!(
        calls[7],
        [
            "nft",
            "add",
            "element",
            "inet",
            "nethergaze",
            "blocked6",
            "{",
            "2001:db8::7",
            "}"
        ]
    );

    let failing = FakeTools::new(&["nft"], &["nft"]);
    let mut flow = flow_for(Tool::Nft, "2001:db8::7", &quiet_context(), true);
    flow.advance().unwrap();
    flow.advance().unwrap();
    let record = flow.run(&failing.tools(), 0).unwrap();
    assert!(!record.succeeded());
    assert_eq!(record.commands.len(), 1, "stops after the first failure");
    assert_eq!(record.commands[0].status.as_ref().unwrap().code(), Some(1));
    assert_eq!(failing.calls().len(), 1);
}

#[test]
fn missing_tool_is_a_failed_record_not_a_panic() {
    let empty = FakeTools::new(&[], &[]);
    let mut flow = flow_for(Tool::Ufw, "203.0.113.7", &quiet_context(), true);
    flow.advance().unwrap();
    flow.advance().unwrap();
    let record = flow.run(&empty.tools(), 0).unwrap();
    assert!(!record.succeeded());
    // ufw's probe (`ufw status`) is its first command and could not start.
    assert!(record.probe.as_ref().unwrap().status.is_err());
    assert!(record.commands.is_empty());
}

#[test]
fn operator_address_needs_a_second_confirmation() {
    let env = |k: &str| match k {
        "SSH_CLIENT" => Some("203.0.113.7 50022 22".to_string()),
        "SSH_CONNECTION" => Some("2001:db8::5 50022 2001:db8::1 22".to_string()),
        _ => None,
    };
    let ctx = SafetyContext {
        operator: operator_addresses(env),
        ..Default::default()
    };
    assert_eq!(ctx.operator, [ip("203.0.113.7"), ip("2001:db8::5")]);
    let fake = FakeTools::new(&ALL_TOOLS, &[]);
    let mut flow = flow_for(Tool::Ufw, "203.0.113.7", &ctx, true);
    assert_eq!(
        flow.verdict.refusals,
        [Refusal::Operator(ip("203.0.113.7"))]
    );
    assert_eq!(flow.advance(), Ok(Step::Confirm));
    assert_eq!(
        flow.run(&fake.tools(), 0).err(),
        Some(FlowError::NotConfirmed)
    );
    assert_eq!(flow.advance(), Ok(Step::SecondConfirm));
    assert_eq!(
        flow.run(&fake.tools(), 0).err(),
        Some(FlowError::NotConfirmed)
    );
    assert!(fake.calls().is_empty());
    assert_eq!(flow.advance(), Ok(Step::Ready));
    assert!(flow.run(&fake.tools(), 0).unwrap().succeeded());
    assert_eq!(fake.calls().len(), 1);
    // A subnet holding the operator is refused as well.
    assert_eq!(
        ctx.check(net("2001:db8::/64")).refusals,
        [Refusal::Operator(ip("2001:db8::5"))]
    );
}

#[test]
fn malformed_ssh_environment_is_ignored() {
    let env = |k: &str| match k {
        "SSH_CLIENT" => Some("not-an-ip 1 2".to_string()),
        "SSH_CONNECTION" => Some(String::new()),
        _ => None,
    };
    assert!(operator_addresses(env).is_empty());
    assert!(operator_addresses(|_| None).is_empty());
}

#[test]
fn local_and_allowlisted_addresses_are_refused() {
    let ctx = SafetyContext {
        local: vec![ip("198.51.100.10"), ip("2001:db8:aa::10")],
        allow: vec![net("192.0.2.0/28")],
        ..Default::default()
    };
    let refusals = |s: &str| ctx.check(net(s)).refusals;
    assert_eq!(refusals("127.0.0.1/32"), [Refusal::Local(ip("127.0.0.1"))]);
    assert_eq!(refusals("::1/128"), [Refusal::Local(ip("::1"))]);
    assert_eq!(
        refusals("198.51.100.10/32"),
        [Refusal::Local(ip("198.51.100.10"))]
    );
    assert_eq!(
        refusals("198.51.100.0/24"),
        [Refusal::Local(ip("198.51.100.10"))]
    );
    assert_eq!(
        refusals("2001:db8:aa::/64"),
        [Refusal::Local(ip("2001:db8:aa::10"))]
    );
    assert_eq!(
        refusals("192.0.2.3/32"),
        [Refusal::Allowed(net("192.0.2.0/28"))]
    );
    assert_eq!(
        refusals("192.0.2.0/24"),
        [Refusal::Allowed(net("192.0.2.0/28"))]
    );
    assert!(refusals("198.51.101.0/24").is_empty());
    assert!(ctx.check(net("192.0.2.3/32")).needs_second_confirmation());
}

#[test]
fn non_unicast_targets_give_no_commands_in_any_scope() {
    let refused = |addr: &str, scope: Scope| match target(ip(addr), scope) {
        Err(ScopeError::NotUnicast(_, what)) => Some(what),
        other => panic!("{addr} {scope:?}: {other:?}"),
    };
    for scope in [Scope::Address, Scope::Subnet] {
        assert_eq!(refused("0.0.0.0", scope), Some(NonUnicast::Unspecified));
        assert_eq!(refused("::", scope), Some(NonUnicast::Unspecified));
        assert_eq!(
            refused("::ffff:0.0.0.0", scope),
            Some(NonUnicast::Unspecified)
        );
        assert_eq!(
            refused("255.255.255.255", scope),
            Some(NonUnicast::Broadcast)
        );
        assert_eq!(refused("224.0.0.251", scope), Some(NonUnicast::Multicast));
        assert_eq!(refused("ff02::1", scope), Some(NonUnicast::Multicast));
    }
    // A whois network that holds the broadcast address, or `::`.
    assert_eq!(
        refused("255.255.1.2", Scope::Network(net("255.255.0.0/16"))),
        Some(NonUnicast::Broadcast)
    );
    assert_eq!(
        refused("::5", Scope::Network(net("::/16"))),
        Some(NonUnicast::Unspecified)
    );
    assert!(target(ip("0.0.0.0"), Scope::Address)
        .unwrap_err()
        .to_string()
        .contains("unspecified"));
}

#[test]
fn any_scope_holding_loopback_or_a_host_address_is_refused() {
    // No interfaces listed (getifaddrs failed): loopback is still checked.
    let bare = SafetyContext::default();
    assert_eq!(
        bare.check(net("::/120")).refusals,
        [Refusal::Local(ip("::1"))]
    );
    assert_eq!(
        bare.check(net("127.0.0.0/8")).refusals,
        [Refusal::Local(ip("127.0.0.0"))]
    );
    // getifaddrs lists loopback too: one refusal, not two.
    let ctx = SafetyContext {
        local: vec![ip("::1"), ip("203.0.113.10")],
        ..Default::default()
    };
    assert_eq!(
        ctx.check(net("::1/128")).refusals,
        [Refusal::Local(ip("::1"))]
    );
    let whois = target(ip("203.0.113.77"), Scope::Network(net("203.0.112.0/22"))).unwrap();
    assert_eq!(
        ctx.check(whois).refusals,
        [Refusal::Local(ip("203.0.113.10"))]
    );
    // The host's real addresses, whatever they are.
    let host = SafetyContext {
        local: local_addresses().unwrap(),
        ..Default::default()
    };
    for addr in host.local.iter().filter(|a| a.is_ipv4()) {
        let subnet = target(*addr, Scope::Subnet);
        if let Ok(subnet) = subnet {
            assert!(
                host.check(subnet).needs_second_confirmation(),
                "{subnet} holds {addr}"
            );
        }
    }
}

#[test]
fn trusted_proxies_cdns_and_wide_networks_warn() {
    let ctx = SafetyContext {
        trusted_proxies: vec![net("10.1.0.0/16")],
        ..Default::default()
    };
    let v = ctx.check(net("10.1.2.3/32"));
    assert_eq!(v.warnings, [Warning::TrustedProxy(net("10.1.0.0/16"))]);
    assert!(!v.needs_second_confirmation(), "a warning, not a refusal");
    let cdn = ctx.check(net("104.16.5.5/32")).warnings;
    assert_eq!(cdn, [Warning::Cdn("Cloudflare", net("104.16.0.0/13"))]);
    assert!(cdn[0].to_string().contains("blocks everyone"));
    assert!(matches!(
        ctx.check(net("151.101.1.1/32")).warnings[..],
        [Warning::Cdn("Fastly", _)]
    ));
    assert_eq!(
        ctx.check(net("203.0.112.0/22")).warnings,
        [Warning::Wide(net("203.0.112.0/22"))]
    );
    assert!(ctx.check(net("203.0.113.0/24")).warnings.is_empty());
}

#[test]
fn cdn_ranges_all_parse() {
    for (name, text) in CDN_RANGES {
        let parsed: IpNet = text.parse().unwrap_or_else(|_| panic!("{name} {text}"));
        assert_eq!(parsed, parsed.trunc(), "{text} has host bits");
    }
}

#[test]
fn local_addresses_include_loopback() {
    let local = local_addresses().unwrap();
    assert!(local.iter().any(IpAddr::is_loopback), "{local:?}");
}

/// Drive a run as the loop does: its fd in a poll (re-registered for each
/// command), reaping after each wake-up, never waiting on a child.
fn drive(run: &mut BlockRun) {
    use mio::unix::SourceFd;
    use mio::{Events, Interest, Poll, Token};
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(4);
    let mut registered = run.fd();
    if let Some(fd) = registered {
        poll.registry()
            .register(&mut SourceFd(&fd), Token(1), Interest::READABLE)
            .unwrap();
    }
    // A bound on rounds (50 ms each), not a timing assertion.
    for _ in 0..400 {
        if run.is_finished() {
            return;
        }
        poll.poll(&mut events, Some(Duration::from_millis(50)))
            .unwrap();
        run.on_readable();
        if run.reap() {
            if let Some(fd) = registered.take() {
                poll.registry().deregister(&mut SourceFd(&fd)).unwrap();
            }
            if run.start_next() {
                let fd = run.fd().unwrap();
                poll.registry()
                    .register(&mut SourceFd(&fd), Token(1), Interest::READABLE)
                    .unwrap();
                registered = Some(fd);
            }
        }
    }
    panic!("the block run did not finish: {:?}", run.record());
}

#[test]
fn block_run_drives_each_command_from_a_poll() {
    let fake = FakeTools::new(&ALL_TOOLS, &[]);
    let mut flow = flow_for(Tool::Nft, "203.0.113.7", &quiet_context(), true);
    assert_eq!(
        flow.start(&fake.tools(), 5).err(),
        Some(FlowError::NotConfirmed)
    );
    flow.advance().unwrap();
    flow.advance().unwrap();
    let mut run = flow.start(&fake.tools(), 5).unwrap();
    assert_eq!(flow.step(), Step::Done);
    assert_eq!(run.len(), 8);
    assert!(run
        .running()
        .is_some_and(|(argv, _)| argv[..3] == ["nft", "add", "table"]));
    drive(&mut run);
    let record = run.record();
    assert!(record.succeeded(), "{record:?}");
    assert_eq!(record.commands.len(), 8);
    assert_eq!(record.commands[7].output.bytes(), b"nft ran\nnft warns\n");
    assert_eq!(fake.calls().len(), 8);
    assert_eq!(fake.calls()[7][7], "203.0.113.7");
    assert!(run.running().is_none() && run.fd().is_none());
}

#[test]
fn block_run_stops_at_a_failure_and_a_missing_tool() {
    let failing = FakeTools::new(&["nft"], &["nft"]);
    let plan = BlockPlan::new(Tool::Nft, net("203.0.113.7/32")).unwrap();
    let mut run = BlockRun::start(&plan, &failing.tools(), ip("203.0.113.7"), 0, BLOCK_TIMEOUT);
    drive(&mut run);
    assert_eq!(run.record().commands.len(), 1);
    assert!(!run.record().succeeded());
    assert_eq!(failing.calls().len(), 1);

    let none = FakeTools::new(&[], &[]);
    let plan = BlockPlan::new(Tool::Ufw, net("203.0.113.7/32")).unwrap();
    let run = BlockRun::start(&plan, &none.tools(), ip("203.0.113.7"), 0, BLOCK_TIMEOUT);
    assert!(run.is_finished(), "nothing to wait for");
    // ufw's first step is its probe (`ufw status`), which could not start.
    assert!(run.record().commands.is_empty());
    assert!(run.record().refusal().is_some());
    assert_eq!(
        run.record()
            .probe
            .as_ref()
            .unwrap()
            .status
            .as_ref()
            .err()
            .map(String::as_str),
        Some("tool not found")
    );
}

// ---------------------------------------------------------------------------
// ufw's probe and sudo (issue 11 item 1, issue 12 item 9)

#[test]
fn ufw_status_is_read_as_active_inactive_or_unknown() {
    use super::UfwState;
    use std::os::unix::process::ExitStatusExt;
    let ok = Some(std::process::ExitStatus::from_raw(0));
    let exit1 = Some(std::process::ExitStatus::from_raw(1 << 8));
    let active = b"Status: active\n\nTo                         Action      From\n";
    assert_eq!(UfwState::from_output(ok, active), UfwState::Active);
    assert_eq!(
        UfwState::from_output(ok, b"Status: inactive\n"),
        UfwState::Inactive
    );
    // sudo's refusal (its stderr), with a control sequence made harmless.
    let refused = UfwState::from_output(exit1, b"\x1b[2Jsudo: a password is required\n");
    assert_eq!(
        refused,
        UfwState::Unknown("?[2Jsudo: a password is required".into())
    );
    assert_eq!(
        UfwState::from_output(exit1, active),
        UfwState::Unknown("Status: active".into()),
        "only an exit 0 counts"
    );
    assert_eq!(
        UfwState::from_output(None, b""),
        UfwState::Unknown("no answer".into())
    );
}

/// An inactive ufw says "Rules updated" and blocks nothing: the run asks
/// `ufw status` first and stops there, claiming nothing.
///
/// A script stands in for ufw here only to see the order of the calls (no
/// second command after `status`); the real ufw, inactive in a network
/// namespace, is `firewall::an_inactive_ufw_is_not_reported_as_blocking`.
#[test]
fn an_inactive_ufw_is_asked_first_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let calls = dir.path().join("calls");
    let ufw = dir.path().join("ufw");
    let script = format!(
        "#!/bin/sh\necho \"$*\" >> '{}'\n[ \"$*\" = status ] && echo 'Status: inactive'\necho Rules updated\n",
        calls.display()
    );
    fs::write(&ufw, script).unwrap();
    fs::set_permissions(&ufw, fs::Permissions::from_mode(0o755)).unwrap();
    let tools = Tools::detect_in(dir.path().as_os_str());
    let plan = BlockPlan::new(Tool::Ufw, net("203.0.113.7/32")).unwrap();
    let mut run = BlockRun::start(&plan, &tools, ip("203.0.113.7"), 0, BLOCK_TIMEOUT);
    drive(&mut run);
    let record = run.record();
    assert!(!record.succeeded());
    assert!(record.commands.is_empty(), "{:?}", record.commands);
    assert_eq!(
        record.refusal().as_deref(),
        Some("ufw is inactive: a rule would block nothing")
    );
    assert_eq!(fs::read_to_string(&calls).unwrap(), "status\n");
}

#[test]
fn plans_carry_sudo_when_not_root_and_root_plans_do_not() {
    let text = |plan: &BlockPlan| -> Vec<String> { plan.commands().map(shell_display).collect() };
    let ufw = BlockPlan::new(Tool::Ufw, net("203.0.113.7/32")).unwrap();
    assert_eq!(text(&ufw), ["ufw prepend deny from 203.0.113.7"]);
    assert_eq!(ufw.probe, Some(vec!["ufw".into(), "status".into()]));
    let ufw = ufw.with_sudo().with_sudo();
    assert_eq!(text(&ufw), ["sudo ufw prepend deny from 203.0.113.7"]);
    assert_eq!(
        ufw.probe,
        Some(vec!["sudo".into(), "ufw".into(), "status".into()])
    );

    let root = BlockPlan::new(Tool::Iptables, net("203.0.113.0/24")).unwrap();
    let user = root.clone().with_sudo();
    let (root, user) = (text(&root), text(&user));
    assert_eq!(root.len(), 2, "the check and the insert");
    assert_eq!(user.len(), root.len());
    for (r, u) in root.iter().zip(&user) {
        assert!(r.starts_with("iptables "), "{r}");
        assert_eq!(u, &format!("sudo {r}"));
    }
    let nft = BlockPlan::new(Tool::Nft, net("2001:db8::/64")).unwrap();
    let nft = text(&nft.with_sudo());
    assert!(nft.iter().all(|l| l.starts_with("sudo nft ")), "{nft:?}");
    assert_eq!(
        nft.last().unwrap(),
        "sudo nft add element inet nethergaze blocked6 '{' 2001:db8::/64 '}'"
    );
}

/// Run with sudo: `sudo -n TOOL-PATH ARGS`, the tool's own argv after it.
#[test]
fn sudo_plans_run_as_sudo_dash_n_with_the_tools_path() {
    let fake = FakeTools::new(&["sudo", "nft"], &[]);
    let tools = fake.tools();
    let plan = BlockPlan::new(Tool::Nft, net("203.0.113.7/32"))
        .unwrap()
        .with_sudo();
    let mut run = BlockRun::start(&plan, &tools, ip("203.0.113.7"), 0, BLOCK_TIMEOUT);
    drive(&mut run);
    assert!(run.record().succeeded());
    let calls = fake.calls();
    assert_eq!(calls.len(), plan.commands().count());
    let nft = tools.path(Tool::Nft).unwrap().display().to_string();
    for (call, argv) in calls.iter().zip(plan.commands()) {
        assert_eq!(call[..3], ["sudo".to_string(), "-n".into(), nft.clone()]);
        assert_eq!(call[3..], argv[2..], "the tool's own arguments");
    }
    // No sudo on this machine: nothing runs, and the record says why.
    let no_sudo = FakeTools::new(&["nft"], &[]);
    let run = BlockRun::start(&plan, &no_sudo.tools(), ip("203.0.113.7"), 0, BLOCK_TIMEOUT);
    assert!(run.is_finished());
    assert_eq!(
        run.record().failure().as_deref(),
        Some("could not start: sudo not found")
    );
    assert!(no_sudo.calls().is_empty());
}
