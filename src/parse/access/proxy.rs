//! `trusted_proxies`: who the client is when the peer is a proxy we trust.

use std::net::IpAddr;

use ipnet::IpNet;

use super::super::parse_ip;

/// The client behind `peer`.
///
/// When `peer` is in a `trusted` CIDR, the client is the rightmost address of
/// the X-Forwarded-For chain `xff` that is not itself trusted (entries are
/// comma-separated, spaces trimmed, `host:port` and `[v6]:port` accepted).
/// An entry that is not an address stops the walk: the answer is then the
/// last good address seen, or `peer` when there was none, because anything
/// left of a forged entry is the client's own claim. When every entry is
/// trusted, the leftmost one is the answer. With no usable X-Forwarded-For,
/// Caddy's `client_ip` is taken if it parses. Otherwise, and whenever `peer`
/// is not trusted, the client is `peer`: a client cannot move its requests
/// to another row by sending the header itself.
pub(crate) fn resolve_client(
    peer: IpAddr,
    xff: &[u8],
    caddy_client_ip: &[u8],
    trusted: &[IpNet],
) -> IpAddr {
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let mut last_good = None;
    for entry in xff.rsplit(|&c| c == b',') {
        let entry = entry.trim_ascii();
        if entry.is_empty() || entry == b"-" || entry == b"unknown" {
            if last_good.is_none() {
                continue; // nginx writes `-` for an absent header
            }
            break;
        }
        let Some(ip) = parse_host_port(entry) else {
            break;
        };
        last_good = Some(ip);
        if !is_trusted(ip, trusted) {
            return ip;
        }
    }
    last_good
        .or_else(|| parse_host_port(caddy_client_ip.trim_ascii()))
        .unwrap_or(peer)
}

/// Whether `ip` is inside one of the `trusted` networks.
#[inline]
pub(super) fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// An address written alone, as `host:port` (IPv4) or as `[v6]` / `[v6]:port`;
/// canonical. A bare IPv6 address (which has colons of its own) is tried first.
pub(super) fn parse_host_port(b: &[u8]) -> Option<IpAddr> {
    if let Some(ip) = parse_ip(b) {
        return Some(ip);
    }
    if let Some(rest) = b.strip_prefix(b"[") {
        let close = memchr::memchr(b']', rest)?;
        let after = &rest[close + 1..];
        if !after.is_empty() && !is_port_suffix(after) {
            return None;
        }
        return parse_ip(&rest[..close]);
    }
    let colon = memchr::memrchr(b':', b)?;
    if !is_port_suffix(&b[colon..]) {
        return None;
    }
    match parse_ip(&b[..colon])? {
        // `1:2::3:80` is not a v6 address with a port: brackets are required.
        IpAddr::V6(_) if memchr::memchr(b':', &b[..colon]).is_some() => None,
        ip => Some(ip),
    }
}

/// `:` followed by 1-5 digits.
fn is_port_suffix(b: &[u8]) -> bool {
    matches!(b.split_first(), Some((b':', digits))
        if (1..=5).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_it_claims() {
        let trusted = nets(&["10.0.0.0/8"]);
        let peer = ip("203.0.113.9");
        assert_eq!(resolve_client(peer, b"1.2.3.4", b"5.6.7.8", &trusted), peer);
        assert_eq!(resolve_client(peer, b"1.2.3.4", b"", &[]), peer);
    }

    #[test]
    fn rightmost_untrusted_forwarded_address_wins() {
        let trusted = nets(&["10.0.0.0/8", "2001:db8::/32"]);
        let peer = ip("10.0.0.1");
        let xff = b"198.51.100.7, 203.0.113.5 ,10.1.1.1, 2001:db8::5";
        assert_eq!(resolve_client(peer, xff, b"", &trusted), ip("203.0.113.5"));
        assert_eq!(
            resolve_client(peer, b"::ffff:192.0.2.1", b"", &trusted),
            ip("192.0.2.1")
        );
        assert_eq!(
            resolve_client(peer, b"[2001:db9::1]:443, 10.0.0.2:8080", b"", &trusted),
            ip("2001:db9::1")
        );
    }

    #[test]
    fn garbage_stops_the_walk() {
        let trusted = nets(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.1");
        assert_eq!(
            resolve_client(peer, b"1.1.1.1, evil, 10.0.0.7", b"", &trusted),
            ip("10.0.0.7")
        );
        assert_eq!(resolve_client(peer, b"1.1.1.1, evil", b"", &trusted), peer);
        assert_eq!(
            resolve_client(peer, b"10.0.0.9, 10.0.0.8", b"", &trusted),
            ip("10.0.0.9")
        );
    }

    #[test]
    fn caddy_client_ip_when_no_forwarded_header() {
        let trusted = nets(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.1");
        assert_eq!(
            resolve_client(peer, b"-", b"192.0.2.44", &trusted),
            ip("192.0.2.44")
        );
        assert_eq!(resolve_client(peer, b"", b"not-ip", &trusted), peer);
        assert_eq!(resolve_client(peer, b"", b"", &trusted), peer);
    }

    #[test]
    fn host_port_forms() {
        assert_eq!(parse_host_port(b"1.2.3.4:80"), Some(ip("1.2.3.4")));
        assert_eq!(parse_host_port(b"[::1]:80"), Some(ip("::1")));
        assert_eq!(parse_host_port(b"[::ffff:1.2.3.4]"), Some(ip("1.2.3.4")));
        assert_eq!(parse_host_port(b"2001:db8::1"), Some(ip("2001:db8::1")));
        assert_eq!(parse_host_port(b"1:2::3:80"), Some(ip("1:2::3:80")));
        assert_eq!(parse_host_port(b"1.2.3.4:"), None);
        assert_eq!(parse_host_port(b"1.2.3.4:123456"), None);
        assert_eq!(parse_host_port(b"[::1"), None);
        assert_eq!(parse_host_port(b"[::1]x"), None);
        assert_eq!(parse_host_port(b"example.com:80"), None);
    }
}
