//! Block assist (`b`): the firewall commands that would block an address,
//! the checks that stop an operator from locking themselves out, and —
//! only with `[actions] enable_block_execution = true` and after
//! confirmation — running them by argv (never through a shell).
//!
//! The pieces are pure where they can be: [`Tools::detect_in`] takes the
//! PATH, [`SafetyContext`] takes the environment and the host's addresses,
//! [`BlockFlow`] is the confirmation state machine the modal drives.

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use ipnet::IpNet;

use super::child::{ChildProc, CommandOutput};
use super::{address_text, non_unicast, NonUnicast};
use crate::config::Config;
use crate::parse::{parse_ip, UnixTime};

/// How long one firewall command may take before its group is killed.
pub const BLOCK_TIMEOUT: Duration = Duration::from_secs(10);
/// Output kept per firewall command.
pub const BLOCK_OUTPUT_CAP: usize = 64 << 10; // 64 KiB
/// Where firewall tools live when the user's PATH lacks the sbin dirs
/// (a non-root login shell on Debian).
const SBIN_DIRS: &str = "/usr/local/sbin:/usr/sbin:/sbin";
/// Table and sets the nft commands create and own.
const NFT_TABLE: &str = "nethergaze";
/// Shortest prefix a block may have: beyond this it is not a block, it is
/// cutting the server off from a continent.
const MIN_PREFIX_V4: u8 = 8;
const MIN_PREFIX_V6: u8 = 16;
/// Prefixes shorter than these get a "covers many addresses" warning.
const WIDE_PREFIX_V4: u8 = 24;
const WIDE_PREFIX_V6: u8 = 48;

/// A firewall front end we know how to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tool {
    Ufw,
    Nft,
    Iptables,
    Ip6tables,
    Fail2ban,
    Cscli,
}

impl Tool {
    /// In order of preference: ufw wraps iptables/nft, so it goes first;
    /// fail2ban only bans single addresses for one jail, so it goes last.
    pub const ALL: [Tool; 6] = [
        Tool::Ufw,
        Tool::Nft,
        Tool::Iptables,
        Tool::Ip6tables,
        Tool::Cscli,
        Tool::Fail2ban,
    ];

    /// The program's file name.
    pub fn program(self) -> &'static str {
        match self {
            Tool::Ufw => "ufw",
            Tool::Nft => "nft",
            Tool::Iptables => "iptables",
            Tool::Ip6tables => "ip6tables",
            Tool::Fail2ban => "fail2ban-client",
            Tool::Cscli => "cscli",
        }
    }
}

/// The tools found, with the path each one resolved to.
#[derive(Debug, Clone, Default)]
pub struct Tools {
    found: Vec<(Tool, PathBuf)>,
}

impl Tools {
    /// Search `$PATH` and then the sbin directories.
    pub fn detect() -> Tools {
        let mut path = std::env::var_os("PATH").unwrap_or_default();
        path.push(":");
        path.push(SBIN_DIRS);
        Tools::detect_in(&path)
    }

    /// Search the directories of a PATH-style list (the seam for tests).
    pub fn detect_in(path: &OsStr) -> Tools {
        let dirs: Vec<PathBuf> = std::env::split_paths(path).collect();
        let found = Tool::ALL
            .into_iter()
            .filter_map(|tool| {
                dirs.iter()
                    .map(|d| d.join(tool.program()))
                    .find(|p| is_executable(p))
                    .map(|p| (tool, p))
            })
            .collect();
        Tools { found }
    }

    /// Where a tool was found, if it was.
    pub fn path(&self, tool: Tool) -> Option<&Path> {
        self.found
            .iter()
            .find(|(t, _)| *t == tool)
            .map(|(_, p)| p.as_path())
    }

    /// Found tools in preference order.
    pub fn iter(&self) -> impl Iterator<Item = Tool> + '_ {
        self.found.iter().map(|(t, _)| *t)
    }
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// How much to block around the selected address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The address alone.
    Address,
    /// Its /24 (IPv4) or /64 (IPv6).
    Subnet,
    /// A network from whois; it must contain the address.
    Network(IpNet),
}

/// Why a scope gives no target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeError {
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
pub fn target(ip: IpAddr, scope: Scope) -> Result<IpNet, ScopeError> {
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
pub fn target_text(net: IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        address_text(net.addr())
    } else {
        net.trunc().to_string()
    }
}

/// The commands one tool needs to block one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockPlan {
    pub tool: Tool,
    pub target: IpNet,
    /// Run first, idempotent (nft: the table, sets, chain and rules).
    pub setup: Vec<Vec<String>>,
    pub block: Vec<String>,
}

impl BlockPlan {
    /// For `tool`, or `None` when it cannot express this target (iptables
    /// for IPv6, ip6tables for IPv4, fail2ban for a network).
    pub fn new(tool: Tool, target: IpNet) -> Option<BlockPlan> {
        let t = target_text(target);
        let v4 = matches!(target, IpNet::V4(_));
        let single = target.prefix_len() == target.max_prefix_len();
        let (setup, block) = match tool {
            Tool::Ufw => (vec![], argv(&["ufw", "prepend", "deny", "from", &t])),
            Tool::Nft => (nft_setup(), nft_block(v4, &t)),
            Tool::Iptables if v4 => (
                vec![],
                argv(&["iptables", "-I", "INPUT", "-s", &t, "-j", "DROP"]),
            ),
            Tool::Ip6tables if !v4 => (
                vec![],
                argv(&["ip6tables", "-I", "INPUT", "-s", &t, "-j", "DROP"]),
            ),
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
        Some(BlockPlan {
            tool,
            target,
            setup,
            block,
        })
    }

    /// Plans for every detected tool that can express the target.
    pub fn for_tools(tools: &Tools, target: IpNet) -> Vec<BlockPlan> {
        tools
            .iter()
            .filter_map(|t| BlockPlan::new(t, target))
            .collect()
    }

    /// Setup commands, then the block command.
    pub fn commands(&self) -> impl Iterator<Item = &[String]> {
        self.setup
            .iter()
            .map(Vec::as_slice)
            .chain(std::iter::once(self.block.as_slice()))
    }
}

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_string()).collect()
}

/// Our own table, interval sets for both families, an input chain that
/// runs before the usual filter chains, and one drop rule per family.
/// `add` is idempotent for tables, sets and chains; rules are not, so the
/// chain is flushed and its two rules added again (for a few milliseconds
/// in between, earlier blocks do not apply).
fn nft_setup() -> Vec<Vec<String>> {
    let set = |name: &str, ty: &str| {
        argv(&[
            "nft", "add", "set", "inet", NFT_TABLE, name, "{", "type", ty, ";", "flags",
            "interval", ";", "}",
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
pub fn shell_display(argv: &[String]) -> String {
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

/// A reason to refuse without a second confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The operator's SSH client (`$SSH_CLIENT` / `$SSH_CONNECTION`).
    Operator(IpAddr),
    /// Loopback or an address of this host.
    Local(IpAddr),
    /// Overlaps `[filters] cidr_allow`.
    Allowed(IpNet),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Operator(ip) => write!(
                f,
                "{ip} is your own SSH connection: you would lock yourself out"
            ),
            Refusal::Local(ip) => write!(f, "{ip} is an address of this host"),
            Refusal::Allowed(net) => write!(f, "overlaps {net} in cidr_allow"),
        }
    }
}

/// A reason to think twice, shown beside the commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warning {
    /// A configured trusted proxy: its clients arrive from its address.
    TrustedProxy(IpNet),
    /// A CDN range (from a small built-in list, not complete).
    Cdn(&'static str, IpNet),
    /// Shorter than /24 or /48.
    Wide(IpNet),
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::TrustedProxy(net) => {
                write!(
                    f,
                    "trusted proxy {net}: a ban blocks every client behind it"
                )
            }
            Warning::Cdn(name, net) => {
                write!(f, "{name} range {net}: a ban blocks everyone using it")
            }
            Warning::Wide(net) => write!(f, "{net} covers many addresses"),
        }
    }
}

/// What the checks found for one target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    pub refusals: Vec<Refusal>,
    pub warnings: Vec<Warning>,
}

impl Verdict {
    pub fn needs_second_confirmation(&self) -> bool {
        !self.refusals.is_empty()
    }
}

/// A few published ranges of large CDNs. Incomplete on purpose (Akamai's
/// are not published at all; these are well-known blocks): a warning aid,
/// not a guarantee.
const CDN_RANGES: &[(&str, &str)] = &[
    ("Cloudflare", "173.245.48.0/20"),
    ("Cloudflare", "103.21.244.0/22"),
    ("Cloudflare", "103.22.200.0/22"),
    ("Cloudflare", "103.31.4.0/22"),
    ("Cloudflare", "141.101.64.0/18"),
    ("Cloudflare", "108.162.192.0/18"),
    ("Cloudflare", "190.93.240.0/20"),
    ("Cloudflare", "188.114.96.0/20"),
    ("Cloudflare", "197.234.240.0/22"),
    ("Cloudflare", "198.41.128.0/17"),
    ("Cloudflare", "162.158.0.0/15"),
    ("Cloudflare", "104.16.0.0/13"),
    ("Cloudflare", "104.24.0.0/14"),
    ("Cloudflare", "172.64.0.0/13"),
    ("Cloudflare", "131.0.72.0/22"),
    ("Cloudflare", "2400:cb00::/32"),
    ("Cloudflare", "2606:4700::/32"),
    ("Cloudflare", "2803:f800::/32"),
    ("Cloudflare", "2405:b500::/32"),
    ("Cloudflare", "2405:8100::/32"),
    ("Cloudflare", "2a06:98c0::/29"),
    ("Cloudflare", "2c0f:f248::/32"),
    ("Fastly", "23.235.32.0/20"),
    ("Fastly", "43.249.72.0/22"),
    ("Fastly", "103.244.50.0/24"),
    ("Fastly", "103.245.222.0/23"),
    ("Fastly", "103.245.224.0/24"),
    ("Fastly", "104.156.80.0/20"),
    ("Fastly", "140.248.64.0/18"),
    ("Fastly", "140.248.128.0/17"),
    ("Fastly", "146.75.0.0/17"),
    ("Fastly", "151.101.0.0/16"),
    ("Fastly", "157.52.64.0/18"),
    ("Fastly", "167.82.0.0/17"),
    ("Fastly", "172.111.64.0/18"),
    ("Fastly", "185.31.16.0/22"),
    ("Fastly", "199.27.72.0/21"),
    ("Fastly", "199.232.0.0/16"),
    ("Fastly", "2a04:4e40::/32"),
    ("Fastly", "2a04:4e42::/32"),
    ("Akamai", "23.32.0.0/11"),
    ("Akamai", "23.192.0.0/11"),
    ("Akamai", "2.16.0.0/13"),
    ("Akamai", "104.64.0.0/10"),
    ("Akamai", "184.24.0.0/13"),
    ("Akamai", "95.100.0.0/15"),
    ("Akamai", "2600:1400::/24"),
];

/// What the safety checks compare a target with.
#[derive(Debug, Clone, Default)]
pub struct SafetyContext {
    /// The operator's own client addresses (from the SSH environment).
    pub operator: Vec<IpAddr>,
    /// Addresses of this host (loopback is always checked besides these).
    pub local: Vec<IpAddr>,
    pub allow: Vec<IpNet>,
    pub trusted_proxies: Vec<IpNet>,
}

impl SafetyContext {
    /// From the config, the process environment and the host's interfaces.
    pub fn from_system(config: &Config) -> SafetyContext {
        let env = |k: &str| std::env::var(k).ok();
        SafetyContext {
            operator: operator_addresses(env),
            local: local_addresses().unwrap_or_default(),
            allow: config.filters.cidr_allow.clone(),
            trusted_proxies: config.trusted_proxies.clone(),
        }
    }

    /// Every refusal and warning that applies to blocking `target`.
    pub fn check(&self, target: IpNet) -> Verdict {
        let mut v = Verdict::default();
        let hits = |ip: &IpAddr| target.contains(&ip.to_canonical());
        v.refusals.extend(
            self.operator
                .iter()
                .filter(|ip| hits(ip))
                .map(|&ip| Refusal::Operator(ip)),
        );
        // Loopback whether or not getifaddrs listed it: all of 127/8, and
        // `::1` inside any IPv6 scope.
        if target.network().is_loopback() {
            v.refusals.push(Refusal::Local(target.addr()));
        } else if target.contains(&IpAddr::from(Ipv6Addr::LOCALHOST)) {
            v.refusals.push(Refusal::Local(Ipv6Addr::LOCALHOST.into()));
        }
        for &ip in self.local.iter().filter(|ip| hits(ip)) {
            if !v.refusals.contains(&Refusal::Local(ip)) {
                v.refusals.push(Refusal::Local(ip));
            }
        }
        v.refusals.extend(
            self.allow
                .iter()
                .filter(|n| overlaps(n, &target))
                .map(|&n| Refusal::Allowed(n)),
        );
        v.warnings.extend(
            self.trusted_proxies
                .iter()
                .filter(|n| overlaps(n, &target))
                .map(|&n| Warning::TrustedProxy(n)),
        );
        v.warnings.extend(
            CDN_RANGES
                .iter()
                .filter_map(|(name, text)| Some((*name, text.parse::<IpNet>().ok()?)))
                .filter(|(_, n)| overlaps(n, &target))
                .map(|(name, n)| Warning::Cdn(name, n)),
        );
        let wide = if target.addr().is_ipv4() {
            WIDE_PREFIX_V4
        } else {
            WIDE_PREFIX_V6
        };
        if target.prefix_len() < wide {
            v.warnings.push(Warning::Wide(target));
        }
        v
    }
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(b) || b.contains(a)
}

/// Client addresses of the SSH session we run in: the first field of
/// `$SSH_CLIENT` ("ip port port") and of `$SSH_CONNECTION` ("ip port ip port").
pub fn operator_addresses(env: impl Fn(&str) -> Option<String>) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for key in ["SSH_CLIENT", "SSH_CONNECTION"] {
        let ip = env(key).and_then(|v| {
            v.split_whitespace()
                .next()
                .and_then(|w| parse_ip(w.as_bytes()))
        });
        if let Some(ip) = ip.filter(|ip| !out.contains(ip)) {
            out.push(ip);
        }
    }
    out
}

/// Every address of this host's interfaces (getifaddrs), canonical.
pub fn local_addresses() -> io::Result<Vec<IpAddr>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned.
        let ifa = unsafe { &*cur };
        // SAFETY: a non-null ifa_addr points at a sockaddr of its family.
        if let Some(ip) = unsafe { sockaddr_ip(ifa.ifa_addr) } {
            if !out.contains(&ip) {
                out.push(ip);
            }
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

/// # Safety
/// `sa` is null or points at a sockaddr whose `sa_family` says its type.
unsafe fn sockaddr_ip(sa: *const libc::sockaddr) -> Option<IpAddr> {
    if sa.is_null() {
        return None;
    }
    // SAFETY: per the contract, the family field is readable and tells
    // which struct the pointer may be read as.
    match i32::from(unsafe { (*sa).sa_family }) {
        libc::AF_INET => {
            // SAFETY: AF_INET: the pointer is to a sockaddr_in.
            let sin = unsafe { &*sa.cast::<libc::sockaddr_in>() };
            // s_addr holds the octets in network order, as they sit in memory.
            Some(IpAddr::from(sin.sin_addr.s_addr.to_ne_bytes()))
        }
        libc::AF_INET6 => {
            // SAFETY: AF_INET6: the pointer is to a sockaddr_in6.
            let sin6 = unsafe { &*sa.cast::<libc::sockaddr_in6>() };
            Some(IpAddr::from(sin6.sin6_addr.s6_addr).to_canonical())
        }
        _ => None,
    }
}

/// One command's outcome.
#[derive(Debug, Clone)]
pub struct CommandResult {
    pub argv: Vec<String>,
    /// `Err` when it could not be started (text of the error).
    pub status: Result<ExitStatus, String>,
    /// Killed at `BLOCK_TIMEOUT`.
    pub timed_out: bool,
    pub output: CommandOutput,
}

impl CommandResult {
    pub fn succeeded(&self) -> bool {
        !self.timed_out && self.status.as_ref().is_ok_and(ExitStatus::success)
    }
}

/// What a block did, for the modal and for history.
#[derive(Debug, Clone)]
pub struct BlockRecord {
    pub time: UnixTime,
    pub ip: IpAddr,
    pub target: IpNet,
    pub tool: Tool,
    /// In order; stops after the first failure.
    pub commands: Vec<CommandResult>,
}

impl BlockRecord {
    pub fn succeeded(&self) -> bool {
        !self.commands.is_empty() && self.commands.iter().all(CommandResult::succeeded)
    }
}

/// Run a plan's commands in order, stopping at the first failure. Each runs
/// by argv with the tool's detected path as the program, in its own process
/// group, killed after `timeout`. Blocks the caller; the dashboard drives a
/// [`BlockRun`] from its loop instead.
pub fn execute(
    plan: &BlockPlan,
    tools: &Tools,
    ip: IpAddr,
    time: UnixTime,
    timeout: Duration,
) -> BlockRecord {
    let mut run = BlockRun::start(plan, tools, ip, time, timeout);
    while let Some(child) = run.current.as_mut() {
        child.wait_blocking();
        run.reap();
        run.start_next();
    }
    run.record
}

/// A plan's commands run one after another without blocking the loop,
/// stopping at the first failure. Each runs by argv (the tool's detected
/// path as the program, no shell) in its own process group, output on one
/// non-blocking pipe, killed after the timeout.
///
/// The loop watches [`fd`](Self::fd), which changes with each command: on
/// SIGCHLD call [`reap`](Self::reap); when it says the command exited,
/// deregister the fd, call [`start_next`](Self::start_next) and register
/// the new fd if it returns true.
#[derive(Debug)]
pub struct BlockRun {
    program: Option<PathBuf>,
    commands: Vec<Vec<String>>,
    timeout: Duration,
    /// Commands started so far; the last one is `current`.
    started: usize,
    current: Option<ChildProc>,
    record: BlockRecord,
}

impl BlockRun {
    /// Start the plan's first command.
    pub fn start(
        plan: &BlockPlan,
        tools: &Tools,
        ip: IpAddr,
        time: UnixTime,
        timeout: Duration,
    ) -> BlockRun {
        let mut run = BlockRun {
            program: tools.path(plan.tool).map(Path::to_path_buf),
            commands: plan.commands().map(<[String]>::to_vec).collect(),
            timeout,
            started: 0,
            current: None,
            record: BlockRecord {
                time,
                ip,
                target: plan.target,
                tool: plan.tool,
                commands: Vec::new(),
            },
        };
        run.start_next();
        run
    }

    /// The current command's output pipe (`None` once all are done).
    pub fn fd(&self) -> Option<RawFd> {
        self.current.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// Read the current command's output (its fd is readable). Returns
    /// whether bytes arrived.
    pub fn on_readable(&mut self) -> bool {
        self.current.as_mut().is_some_and(ChildProc::on_readable)
    }

    /// Enforce the current command's timeout.
    pub fn on_tick(&mut self, now: Instant) {
        if let Some(child) = self.current.as_mut() {
            child.on_tick(now);
        }
    }

    /// Whether the current command has just exited (call on SIGCHLD; never
    /// blocks). Its result is then the record's last.
    pub fn reap(&mut self) -> bool {
        let Some(child) = self.current.as_mut() else {
            return false;
        };
        if self.record.commands.len() == self.started {
            return false; // reaped and recorded already
        }
        let Some(status) = child.try_reap() else {
            return false;
        };
        let argv = self.commands[self.started - 1].clone();
        self.record.commands.push(CommandResult {
            argv,
            status: Ok(status),
            timed_out: child.was_killed(),
            output: child.take_output(),
        });
        true
    }

    /// Drop the exited command and start the next one, unless the last
    /// failed or none is left. Returns whether a command runs now.
    pub fn start_next(&mut self) -> bool {
        if self.current.is_some() && self.record.commands.len() < self.started {
            return true; // the current one has not exited yet
        }
        self.current = None;
        let failed = self.record.commands.last().is_some_and(|r| !r.succeeded());
        if failed || self.started == self.commands.len() {
            return false;
        }
        let argv = &self.commands[self.started];
        self.started += 1;
        let spawned = match &self.program {
            None => Err("tool not found".to_string()),
            Some(program) => spawn_tool(program, argv, self.timeout).map_err(|e| e.to_string()),
        };
        match spawned {
            Ok(child) => {
                self.current = Some(child);
                true
            }
            Err(e) => {
                self.record.commands.push(CommandResult {
                    argv: argv.clone(),
                    status: Err(e),
                    timed_out: false,
                    output: CommandOutput::default(),
                });
                false
            }
        }
    }

    /// Stop the current command's group (it is reaped later); no further
    /// command starts after a killed one.
    pub fn cancel(&mut self, now: Instant) {
        if let Some(child) = self.current.as_mut() {
            child.terminate(now);
        }
    }

    /// Every command has run, or one failed.
    pub fn is_finished(&self) -> bool {
        self.current.is_none()
    }

    /// The command running now and its output so far.
    pub fn running(&self) -> Option<(&[String], &CommandOutput)> {
        let child = self.current.as_ref()?;
        let argv = self.commands.get(self.started.checked_sub(1)?)?;
        Some((argv.as_slice(), child.output()))
    }

    /// How many commands the plan has.
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// What ran so far (complete once [`is_finished`](Self::is_finished)).
    pub fn record(&self) -> &BlockRecord {
        &self.record
    }
}

/// Start one tool. ETXTBSY (the file is open for writing somewhere, as
/// while a package upgrade replaces it, or a forked process still holds it)
/// is retried a few times.
fn spawn_tool(program: &Path, argv: &[String], timeout: Duration) -> io::Result<ChildProc> {
    let mut tries = 0;
    loop {
        let mut cmd = Command::new(program);
        cmd.args(argv.iter().skip(1));
        match ChildProc::spawn(cmd, timeout, BLOCK_OUTPUT_CAP, Instant::now()) {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 5 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            result => return result,
        }
    }
}

/// Where the confirmation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Commands and warnings shown; nothing will run yet.
    Propose,
    /// "Run this?" asked once.
    Confirm,
    /// A refusal applies: asked again, with the reasons.
    SecondConfirm,
    /// Confirmed: `run` may execute.
    Ready,
    /// Ran; the record is kept.
    Done,
}

/// Why the flow did not move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowError {
    /// `[actions] enable_block_execution` is false: show, copy, never run.
    ExecutionDisabled,
    /// `run` before the confirmations (or after it ran).
    NotConfirmed,
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlowError::ExecutionDisabled => {
                f.write_str("execution is off (set [actions] enable_block_execution = true)")
            }
            FlowError::NotConfirmed => f.write_str("not confirmed"),
        }
    }
}

/// The confirmation state machine: Propose → Confirm → (SecondConfirm when
/// a refusal applies) → Ready → Done. `cancel` goes back to Propose.
#[derive(Debug, Clone)]
pub struct BlockFlow {
    pub ip: IpAddr,
    pub plan: BlockPlan,
    pub verdict: Verdict,
    enabled: bool,
    step: Step,
    record: Option<BlockRecord>,
}

impl BlockFlow {
    pub fn new(ip: IpAddr, plan: BlockPlan, verdict: Verdict, enabled: bool) -> BlockFlow {
        BlockFlow {
            ip,
            plan,
            verdict,
            enabled,
            step: Step::Propose,
            record: None,
        }
    }

    pub fn step(&self) -> Step {
        self.step
    }

    /// The operator said yes to the current question.
    pub fn advance(&mut self) -> Result<Step, FlowError> {
        if !self.enabled {
            return Err(FlowError::ExecutionDisabled);
        }
        self.step = match self.step {
            Step::Propose => Step::Confirm,
            Step::Confirm if self.verdict.needs_second_confirmation() => Step::SecondConfirm,
            Step::Confirm | Step::SecondConfirm => Step::Ready,
            Step::Ready => Step::Ready,
            Step::Done => return Err(FlowError::NotConfirmed),
        };
        Ok(self.step)
    }

    /// The operator said no: back to showing the commands.
    pub fn cancel(&mut self) {
        if self.step != Step::Done {
            self.step = Step::Propose;
        }
    }

    /// Execute the plan, only when enabled and confirmed.
    pub fn run(&mut self, tools: &Tools, now: UnixTime) -> Result<&BlockRecord, FlowError> {
        if !self.enabled {
            return Err(FlowError::ExecutionDisabled);
        }
        if self.step != Step::Ready {
            return Err(FlowError::NotConfirmed);
        }
        self.step = Step::Done;
        Ok(self
            .record
            .insert(execute(&self.plan, tools, self.ip, now, BLOCK_TIMEOUT)))
    }

    pub fn record(&self) -> Option<&BlockRecord> {
        self.record.as_ref()
    }

    /// As [`run`](Self::run), without blocking: start the commands and hand
    /// back the [`BlockRun`] for the loop to drive. The flow is then Done;
    /// the record is the run's.
    pub fn start(&mut self, tools: &Tools, time: UnixTime) -> Result<BlockRun, FlowError> {
        if !self.enabled {
            return Err(FlowError::ExecutionDisabled);
        }
        if self.step != Step::Ready {
            return Err(FlowError::NotConfirmed);
        }
        self.step = Step::Done;
        Ok(BlockRun::start(
            &self.plan,
            tools,
            self.ip,
            time,
            BLOCK_TIMEOUT,
        ))
    }
}

#[cfg(test)]
mod tests;
