//! What to block (an address or its subnet) and the commands that block it.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use super::tools::{Tool, Tools};
use crate::actions::{address_text, non_unicast, NonUnicast};

/// Table and sets the nft commands create and own.
const NFT_TABLE: &str = "nethergaze";

/// The nft table block assist fills (the blocked-address reader lists it).
pub(crate) fn nft_table_name() -> &'static str {
    NFT_TABLE
}
/// Shortest prefix a block may have: beyond this it is not a block, it is
/// cutting the server off from a continent.
const MIN_PREFIX_V4: u8 = 8;
const MIN_PREFIX_V6: u8 = 16;

/// How much to block around the selected address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The address alone.
    Address,
    /// Its /24 (IPv4) or /64 (IPv6).
    Subnet,
    /// A network from whois; it must contain the address.
    Network(IpNet),
}

/// Why a scope gives no target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScopeError {
    /// The whois network does not contain the address (stale or wrong).
    NotContaining(IpNet),
    /// Shorter than /8 (IPv4) or /16 (IPv6).
    TooBroad(IpNet),
    /// Holds `0.0.0.0`, `::` or `255.255.255.255`, or overlaps multicast:
    /// no firewall rule about it blocks one attacker.
    NotUnicast(IpNet, NonUnicast),
}

impl fmt::Display for ScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScopeError::NotContaining(net) => write!(f, "{net} does not contain the address"),
            ScopeError::TooBroad(net) => write!(f, "{net} is too broad to block"),
            ScopeError::NotUnicast(net, what) => {
                write!(f, "{net} holds {what}: not a host to block")
            }
        }
    }
}

/// The network to block: a single-address network for `Scope::Address`.
pub(crate) fn target(ip: IpAddr, scope: Scope) -> Result<IpNet, ScopeError> {
    let ip = ip.to_canonical();
    let net = match scope {
        Scope::Address => IpNet::from(ip),
        Scope::Subnet => {
            let prefix = if ip.is_ipv4() { 24 } else { 64 };
            IpNet::new(ip, prefix).map_or(IpNet::from(ip), |n| n.trunc())
        }
        Scope::Network(net) if !net.contains(&ip) => return Err(ScopeError::NotContaining(net)),
        Scope::Network(net) => net.trunc(),
    };
    let min = if ip.is_ipv4() {
        MIN_PREFIX_V4
    } else {
        MIN_PREFIX_V6
    };
    if net.prefix_len() < min {
        return Err(ScopeError::TooBroad(net));
    }
    if let Some(what) = non_unicast(net) {
        return Err(ScopeError::NotUnicast(net, what));
    }
    Ok(net)
}

/// The text a command gets: the bare address for a single-address network,
/// else `addr/len`. Built from the parsed value only, so it holds nothing
/// but hex digits, `.`, `:` and `/`.
pub(crate) fn target_text(net: IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        address_text(net.addr())
    } else {
        net.trunc().to_string()
    }
}

/// The commands one tool needs to block one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlockPlan {
    pub(crate) tool: Tool,
    pub(crate) target: IpNet,
    /// Asked first where the tool would add a second copy of a rule it
    /// already holds (iptables `-C`): exit 0 means the block is in place and
    /// nothing more runs, exit 1 that it is not.
    pub(crate) check: Option<Vec<String>>,
    /// Run next, idempotent (nft: the table, sets, chain and rules).
    pub(crate) setup: Vec<Vec<String>>,
    pub(crate) block: Vec<String>,
    /// Asked before anything else, not part of the commands shown and
    /// copied: is the tool on at all? (`ufw status`: an inactive ufw takes
    /// the rule, says "Rules updated" and blocks nothing.)
    pub(crate) probe: Option<Vec<String>>,
    /// Every argv starts with `sudo` (nethergaze is not root): shown and
    /// copied so, run as `sudo -n`.
    pub(crate) sudo: bool,
}

impl BlockPlan {
    /// For `tool`, or `None` when it cannot express this target (iptables
    /// for IPv6, ip6tables for IPv4, fail2ban for a network).
    pub(crate) fn new(tool: Tool, target: IpNet) -> Option<BlockPlan> {
        let t = target_text(target);
        let v4 = matches!(target, IpNet::V4(_));
        let single = target.prefix_len() == target.max_prefix_len();
        let (setup, block) = match tool {
            Tool::Ufw => (vec![], argv(&["ufw", "prepend", "deny", "from", &t])),
            Tool::Nft => (nft_setup(), nft_block(v4, &t)),
            Tool::Iptables if v4 => (vec![], iptables_rule("iptables", "-I", &t)),
            Tool::Ip6tables if !v4 => (vec![], iptables_rule("ip6tables", "-I", &t)),
            Tool::Iptables | Tool::Ip6tables => return None,
            Tool::Fail2ban if single => (
                vec![],
                argv(&["fail2ban-client", "set", "sshd", "banip", &t]),
            ),
            Tool::Fail2ban => return None,
            Tool::Cscli => {
                let flag = if single { "--ip" } else { "--range" };
                (
                    vec![],
                    argv(&["cscli", "decisions", "add", flag, &t, "--duration", "4h"]),
                )
            }
        };
        // `iptables -I` inserts the same rule again each time it is asked.
        let check = match tool {
            Tool::Iptables | Tool::Ip6tables => Some(iptables_rule(tool.program(), "-C", &t)),
            _ => None,
        };
        let probe = (tool == Tool::Ufw).then(|| argv(&["ufw", "status"]));
        Some(BlockPlan {
            tool,
            target,
            check,
            setup,
            block,
            probe,
            sudo: false,
        })
    }

    /// The plan for a user who is not root: every command (and the probe)
    /// carries `sudo` in front.
    pub(crate) fn with_sudo(mut self) -> BlockPlan {
        if self.sudo {
            return self;
        }
        let prefix = |argv: &mut Vec<String>| argv.insert(0, "sudo".to_string());
        self.check.iter_mut().for_each(prefix);
        self.setup.iter_mut().for_each(prefix);
        self.probe.iter_mut().for_each(prefix);
        prefix(&mut self.block);
        self.sudo = true;
        self
    }

    /// Plans for every detected tool that can express the target.
    pub(crate) fn for_tools(tools: &Tools, target: IpNet) -> Vec<BlockPlan> {
        tools
            .iter()
            .filter_map(|t| BlockPlan::new(t, target))
            .collect()
    }

    /// The argv the tool itself gets (without a leading `sudo`).
    pub(crate) fn tool_argv(argv: &[String]) -> &[String] {
        match argv.split_first() {
            Some((first, rest)) if first == "sudo" => rest,
            _ => argv,
        }
    }

    /// The check, setup commands, then the block command.
    pub(crate) fn commands(&self) -> impl Iterator<Item = &[String]> {
        self.check
            .iter()
            .chain(&self.setup)
            .map(Vec::as_slice)
            .chain(std::iter::once(self.block.as_slice()))
    }
}

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_string()).collect()
}

/// `iptables -I` (insert at the top) or `-C` (is it there?) the drop rule.
/// The comment names the target: iptables-nft 1.8.9 (Debian 12) ignores an
/// IPv6 prefix length when it compares rules, so without it `-C -s
/// 2001:db8::/48` finds a rule for 2001:db8::/64 and the wider block would
/// be skipped. It also marks the rules nethergaze added.
fn iptables_rule(program: &str, op: &str, target: &str) -> Vec<String> {
    let comment = format!("nethergaze {target}");
    argv(&[
        program,
        op,
        "INPUT",
        "-s",
        target,
        "-m",
        "comment",
        "--comment",
        &comment,
        "-j",
        "DROP",
    ])
}

/// Our own table, interval sets for both families, an input chain that
/// runs before the usual filter chains, and one drop rule per family.
/// The sets merge overlapping intervals (`auto-merge`): without it nft
/// refuses 203.0.113.0/24 once 203.0.113.7 is in the set, and the reverse
/// ("interval overlaps with an existing one").
/// `add` is idempotent for tables, sets and chains; rules are not, so the
/// chain is flushed and its two rules added again (for a few milliseconds
/// in between, earlier blocks do not apply).
fn nft_setup() -> Vec<Vec<String>> {
    let set = |name: &str, ty: &str| {
        argv(&[
            "nft",
            "add",
            "set",
            "inet",
            NFT_TABLE,
            name,
            "{",
            "type",
            ty,
            ";",
            "flags",
            "interval",
            ";",
            "auto-merge",
            ";",
            "}",
        ])
    };
    let drop_rule = |family: &str, set: &str| {
        argv(&[
            "nft", "add", "rule", "inet", NFT_TABLE, "input", family, "saddr", set, "drop",
        ])
    };
    vec![
        argv(&["nft", "add", "table", "inet", NFT_TABLE]),
        set("blocked4", "ipv4_addr"),
        set("blocked6", "ipv6_addr"),
        // `--`: nft would read `-10` as an option.
        argv(&[
            "nft", "--", "add", "chain", "inet", NFT_TABLE, "input", "{", "type", "filter", "hook",
            "input", "priority", "-10", ";", "}",
        ]),
        argv(&["nft", "flush", "chain", "inet", NFT_TABLE, "input"]),
        drop_rule("ip", "@blocked4"),
        drop_rule("ip6", "@blocked6"),
    ]
}

fn nft_block(v4: bool, target: &str) -> Vec<String> {
    let set = if v4 { "blocked4" } else { "blocked6" };
    argv(&[
        "nft", "add", "element", "inet", NFT_TABLE, set, "{", target, "}",
    ])
}

/// An argv as the operator would type it (for display and copying): words
/// with shell-special characters are single-quoted. Never executed.
pub(crate) fn shell_display(argv: &[String]) -> String {
    let plain = |w: &str| {
        !w.is_empty()
            && w.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./:@%+=,".contains(&b))
    };
    let words: Vec<String> = argv
        .iter()
        .map(|w| {
            if plain(w) {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect();
    words.join(" ")
}
