//! Acting on an address: block assist (`b`) and custom hooks (`1`…`9`).
//!
//! Both run other programs, so both keep to the same rules: the address
//! reaches a command only as the canonical text of a parsed `IpAddr` (or
//! `IpNet`), which can hold nothing but hex digits, `.`, `:` (and `/` for a
//! network); children run in their own process group with the loop's signal
//! mask undone, stdin null, stdout and stderr on one non-blocking pipe whose
//! output is capped; a timeout kills the whole group.

pub(crate) mod block;
mod child;
pub(crate) mod hooks;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

pub(crate) use child::CommandOutput;

/// The canonical text of an address (IPv4-mapped IPv6 shown as IPv4).
///
/// `Ipv4Addr`'s `Display` writes decimal octets and dots; `Ipv6Addr`'s
/// writes lowercase hex groups, colons and, for the IPv4-compatible forms,
/// a dotted tail. Nothing else can appear; [`is_address_text`] checks it
/// again before any command is built, so a change in `std` would refuse to
/// run rather than pass something unexpected to a shell.
pub(crate) fn address_text(ip: IpAddr) -> String {
    ip.to_canonical().to_string()
}

/// Whether `s` holds only the characters an address's text may hold.
pub(crate) fn is_address_text(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'a'..=b'f' | b'.' | b':'))
}

/// Why an address (or a network) is no single host's: acting on it would
/// hit nobody in particular or everybody at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonUnicast {
    /// `0.0.0.0` or `::`: "any address" to a socket, never a peer.
    Unspecified,
    /// `255.255.255.255`: every host on the link.
    Broadcast,
    /// `224.0.0.0/4` or `ff00::/8`: a group, not a host.
    Multicast,
}

impl fmt::Display for NonUnicast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NonUnicast::Unspecified => "the unspecified address",
            NonUnicast::Broadcast => "the broadcast address",
            NonUnicast::Multicast => "multicast addresses",
        })
    }
}

/// Whether `net` holds an unspecified or broadcast address or overlaps a
/// multicast range (for a single address: whether it is one). Block assist
/// and hooks refuse such targets outright.
pub(crate) fn non_unicast(net: IpNet) -> Option<NonUnicast> {
    let net = net.trunc();
    let (unspecified, broadcast, multicast): (IpAddr, Option<IpAddr>, IpNet) = match net {
        IpNet::V4(_) => (
            Ipv4Addr::UNSPECIFIED.into(),
            Some(Ipv4Addr::BROADCAST.into()),
            IpNet::new(Ipv4Addr::new(224, 0, 0, 0).into(), 4).ok()?,
        ),
        IpNet::V6(_) => (
            Ipv6Addr::UNSPECIFIED.into(),
            None,
            IpNet::new(Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0).into(), 8).ok()?,
        ),
    };
    if net.contains(&unspecified) {
        Some(NonUnicast::Unspecified)
    } else if broadcast.is_some_and(|b| net.contains(&b)) {
        Some(NonUnicast::Broadcast)
    } else if net.contains(&multicast) || multicast.contains(&net) {
        Some(NonUnicast::Multicast)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_text_holds_only_hex_dots_and_colons() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..50_000 {
            let v6 = u128::from(next()) << 64 | u128::from(next());
            // Bias towards the special shapes: zero runs, mapped, compatible.
            let shapes = [
                v6,
                v6 & 0xffff_ffff,
                0xffff_0000_0000 | (v6 & 0xffff_ffff),
                v6 & !(0xffff_ffff_u128 << 32),
            ];
            for bits in shapes {
                let text = address_text(IpAddr::V6(Ipv6Addr::from(bits)));
                assert!(is_address_text(&text), "{text}");
            }
            let text = address_text(IpAddr::V4(Ipv4Addr::from(next() as u32)));
            assert!(is_address_text(&text), "{text}");
        }
    }

    #[test]
    fn mapped_addresses_are_shown_as_ipv4() {
        let ip: IpAddr = "::ffff:203.0.113.9".parse().unwrap();
        assert_eq!(address_text(ip), "203.0.113.9");
        assert_eq!(address_text("2001:DB8::1".parse().unwrap()), "2001:db8::1");
    }

    #[test]
    fn is_address_text_rejects_everything_else() {
        for bad in [
            "",
            "1.2.3.4;id",
            "$(id)",
            "::1 ",
            "A::1",
            "1.2.3.4/24",
            "`x`",
        ] {
            assert!(!is_address_text(bad), "{bad}");
        }
    }

    #[test]
    fn non_unicast_addresses_and_networks_are_named() {
        let of = |s: &str| non_unicast(s.parse().unwrap());
        for (text, want) in [
            ("0.0.0.0/32", Some(NonUnicast::Unspecified)),
            ("0.0.0.0/24", Some(NonUnicast::Unspecified)),
            ("::/128", Some(NonUnicast::Unspecified)),
            ("::/64", Some(NonUnicast::Unspecified)),
            ("255.255.255.255/32", Some(NonUnicast::Broadcast)),
            ("255.255.255.0/24", Some(NonUnicast::Broadcast)),
            ("224.0.0.1/32", Some(NonUnicast::Multicast)),
            ("239.1.2.0/24", Some(NonUnicast::Multicast)),
            ("192.0.0.0/2", Some(NonUnicast::Broadcast)),
            ("fe00::/7", Some(NonUnicast::Multicast)),
            ("ff02::1/128", Some(NonUnicast::Multicast)),
            ("ff05::/16", Some(NonUnicast::Multicast)),
            ("203.0.113.7/32", None),
            ("223.255.255.0/24", None),
            ("240.0.0.1/32", None),
            ("2001:db8::1/128", None),
            ("fe80::/64", None),
            ("feff::/16", None),
        ] {
            assert_eq!(of(text), want, "{text}");
        }
    }
}
