use super::*;
use crate::table::IpTable;

#[test]
fn ip_len_is_the_displayed_length() {
    let mut table = IpTable::new(100, true);
    let addrs = [
        "0.0.0.0",
        "1.2.3.4",
        "9.10.99.100",
        "255.255.255.255",
        "100.64.0.1",
        "::",
        "::1",
        "2a00:1450:4001:80b::200e",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "::ffff:1.2.3.4",
    ];
    for a in addrs {
        let ip: IpAddr = a.parse().unwrap();
        table.apply_auth(
            &crate::parse::AuthEvent {
                kind: crate::parse::AuthKind::Failed,
                ip,
                user: b"u",
                time: Some(1),
            },
            1,
        );
    }
    assert_eq!(table.len(), addrs.len());
    for row in table.rows() {
        assert_eq!(usize::from(ip_len(row)), row.ip.to_string().len());
    }
}

/// The counted length of IPv6 addresses against std's `Display` (the
/// oracle), over addresses made of every pattern of zero groups with
/// short and long non-zero ones, and IPv4-mapped ones.
#[test]
fn v6_len_is_what_display_writes() {
    let fill = [0x1, 0xab, 0xfff, 0x1000, 0xffff, 0x10];
    for zeros in 0u32..256 {
        for (k, _) in fill.iter().enumerate() {
            let mut groups = [0u16; 8];
            for (i, g) in groups.iter_mut().enumerate() {
                if zeros & (1 << i) == 0 {
                    *g = fill[(i + k) % fill.len()];
                }
            }
            let a = std::net::Ipv6Addr::from(groups);
            assert_eq!(usize::from(v6_len(a)), a.to_string().len(), "{a}");
        }
    }
    for v4 in ["0.0.0.0", "1.2.3.4", "255.255.255.255", "10.0.100.9"] {
        let a = v4.parse::<std::net::Ipv4Addr>().unwrap().to_ipv6_mapped();
        assert_eq!(usize::from(v6_len(a)), a.to_string().len(), "{a}");
        let compat = v4
            .parse::<std::net::Ipv4Addr>()
            .unwrap()
            .to_ipv6_compatible();
        assert_eq!(
            usize::from(v6_len(compat)),
            compat.to_string().len(),
            "{compat}"
        );
    }
}

#[test]
fn a_long_address_keeps_both_ends() {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let long = ip("2a01:4f8:aaaa:bbbb:cccc:dddd:eeee:1");
    assert_eq!(fit_address(long, 39), "2a01:4f8:aaaa:bbbb:cccc:dddd:eeee:1");
    assert_eq!(fit_address(long, 15), "2a01:4f…:eeee:1");
    assert_eq!(fit_address(long, 15).chars().count(), 15);
    let other = ip("2a01:4f8:aaaa:bbbb:cccc:dddd:eeee:2");
    for room in 3..35 {
        let (a, b) = (fit_address(long, room), fit_address(other, room));
        assert_ne!(a, b, "{room}");
        assert_eq!(a.chars().count(), room);
    }
    assert_eq!(fit_address(ip("203.0.113.7"), 15), "203.0.113.7");
}
