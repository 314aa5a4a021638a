//! Acting on an address: block assist (`b`) and custom hooks (`1`…`9`).
//!
//! Both run other programs, so both keep to the same rules: the address
//! reaches a command only as the canonical text of a parsed `IpAddr` (or
//! `IpNet`), which can hold nothing but hex digits, `.`, `:` (and `/` for a
//! network); children run in their own process group with the loop's signal
//! mask undone, stdin null, stdout and stderr on one non-blocking pipe whose
//! output is capped; a timeout kills the whole group.

pub mod block;
mod child;
pub mod hooks;

use std::net::IpAddr;

pub use child::CommandOutput;

/// The canonical text of an address (IPv4-mapped IPv6 shown as IPv4).
///
/// `Ipv4Addr`'s `Display` writes decimal octets and dots; `Ipv6Addr`'s
/// writes lowercase hex groups, colons and, for the IPv4-compatible forms,
/// a dotted tail. Nothing else can appear; [`is_address_text`] checks it
/// again before any command is built, so a change in `std` would refuse to
/// run rather than pass something unexpected to a shell.
pub fn address_text(ip: IpAddr) -> String {
    ip.to_canonical().to_string()
}

/// Whether `s` holds only the characters an address's text may hold.
pub fn is_address_text(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'a'..=b'f' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

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
}
