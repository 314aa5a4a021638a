//! The checks that stop an operator from locking themselves out.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use ipnet::IpNet;

use crate::config::Config;
use crate::parse::parse_ip;
use crate::sys::host::local_addresses;

/// Prefixes shorter than these get a "covers many addresses" warning.
const WIDE_PREFIX_V4: u8 = 24;
const WIDE_PREFIX_V6: u8 = 48;

/// A reason to refuse without a second confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
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
pub(crate) enum Warning {
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
pub(crate) struct Verdict {
    pub(crate) refusals: Vec<Refusal>,
    pub(crate) warnings: Vec<Warning>,
}

impl Verdict {
    pub(crate) fn needs_second_confirmation(&self) -> bool {
        !self.refusals.is_empty()
    }
}

/// A few published ranges of large CDNs. Incomplete on purpose (Akamai's
/// are not published at all; these are well-known blocks): a warning aid,
/// not a guarantee.
pub(super) const CDN_RANGES: &[(&str, &str)] = &[
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
pub(crate) struct SafetyContext {
    /// The operator's own client addresses (from the SSH environment).
    pub(crate) operator: Vec<IpAddr>,
    /// Addresses of this host (loopback is always checked besides these).
    pub(crate) local: Vec<IpAddr>,
    pub(crate) allow: Vec<IpNet>,
    pub(crate) trusted_proxies: Vec<IpNet>,
}

impl SafetyContext {
    /// From the config, the process environment and the host's interfaces.
    pub(crate) fn from_system(config: &Config) -> SafetyContext {
        let env = |k: &str| std::env::var(k).ok();
        SafetyContext {
            operator: operator_addresses(env),
            local: local_addresses().unwrap_or_default(),
            allow: config.filters.cidr_allow.clone(),
            trusted_proxies: config.trusted_proxies.clone(),
        }
    }

    /// Every refusal and warning that applies to blocking `target`.
    pub(crate) fn check(&self, target: IpNet) -> Verdict {
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
pub(crate) fn operator_addresses(env: impl Fn(&str) -> Option<String>) -> Vec<IpAddr> {
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
