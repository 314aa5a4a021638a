//! The parsers on outputs recorded from the real tools (Debian 12: nft
//! 1.0.6, iptables 1.8.9 (nf_tables) with ufw 0.36 enabled, fail2ban
//! 1.0.2, cscli 1.4.6), and on hostile text.

use super::*;

fn nets(found: &[BlockedNet], by: Blocker) -> Vec<String> {
    let mut v: Vec<String> = found
        .iter()
        .filter(|b| b.by == by)
        .map(|b| b.net.to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn nft_sets_give_addresses_prefixes_and_ranges_as_prefixes() {
    let mut out = Vec::new();
    nft_table(include_bytes!("nft-list-table.json"), &mut out).unwrap();
    // 192.0.2.10-192.0.2.20: .10/31 .12/30 .16/30 .20/32
    assert_eq!(
        nets(&out, Blocker::Nft),
        [
            "192.0.2.10/31",
            "192.0.2.12/30",
            "192.0.2.16/30",
            "192.0.2.20/32",
            "198.51.100.0/24",
            "2001:db8:1::5/128",
            "2001:db8::/64",
            "203.0.113.7/32",
        ]
    );
    assert!(out.iter().all(|b| b.since.is_none()));
}

#[test]
fn nft_elements_with_timeouts_are_read_and_other_sets_ignored() {
    let json = br#"{"nftables":[{"set":{"type":"ipv4_addr","elem":[{"elem":{"val":"192.0.2.1","timeout":60}}]}},
        {"set":{"type":"inet_service","elem":[22]}},{"set":{"type":"ipv4_addr"}}]}"#;
    let mut out = Vec::new();
    nft_table(json, &mut out).unwrap();
    assert_eq!(nets(&out, Blocker::Nft), ["192.0.2.1/32"]);
    assert_eq!(
        nft_table(b"Error: No such file", &mut out),
        Err(BlocklistError::NotJson)
    );
}

#[test]
fn iptables_rules_are_source_drops_and_rejects_ufw_ones_named_ufw() {
    let mut out = Vec::new();
    iptables_rules(
        include_bytes!("iptables-S.txt"),
        Blocker::Iptables,
        &mut out,
    );
    // Not `! -s 10.0.0.0/8`, not the port-22 rule, not ufw's ACCEPTs.
    assert_eq!(nets(&out, Blocker::Iptables), ["198.18.0.0/24"]);
    assert_eq!(nets(&out, Blocker::Ufw), ["192.0.2.5/32", "203.0.113.0/24"]);
    let mut out = Vec::new();
    iptables_rules(
        include_bytes!("ip6tables-S.txt"),
        Blocker::Ip6tables,
        &mut out,
    );
    assert_eq!(nets(&out, Blocker::Ip6tables), ["2001:db8:5::/48"]);
    assert_eq!(nets(&out, Blocker::Ufw), ["2001:db8:7::/48"]);
}

#[test]
fn iptables_forward_and_output_chains_and_quoted_comments() {
    let text = br#"-A FORWARD -s 192.0.2.1/32 -j DROP
-A OUTPUT -s 192.0.2.2/32 -j DROP
-A ufw-user-forward -s 192.0.2.3/32 -j DROP
-A INPUT -s 192.0.2.4/32 -m comment --comment "a \"-j ACCEPT\" -s 1.1.1.1" -j REJECT --reject-with icmp-port-unreachable
-A INPUT -s 192.0.2.5/32 -j ACCEPT
-A INPUT -s not-an-address -j DROP
-A INPUT -s 192.0.2.6/32 -j"#;
    let mut out = Vec::new();
    iptables_rules(text, Blocker::Iptables, &mut out);
    assert_eq!(nets(&out, Blocker::Iptables), ["192.0.2.4/32"]);
}

#[test]
fn fail2ban_banned_lists_every_jails_addresses() {
    let mut out = Vec::new();
    fail2ban_banned(include_bytes!("fail2ban-banned.txt"), &mut out);
    assert_eq!(
        nets(&out, Blocker::Fail2ban),
        ["198.51.100.3/32", "2001:db8::7/128", "203.0.113.9/32"]
    );
    // A jail named like an address is a jail.
    let mut out = Vec::new();
    fail2ban_banned(
        b"[{'192.0.2.1': []}, {\"x\": [\"::ffff:192.0.2.2\"]}]",
        &mut out,
    );
    assert_eq!(nets(&out, Blocker::Fail2ban), ["192.0.2.2/32"]);
}

#[test]
fn fail2ban_jails_with_bans_are_asked_for_their_ban_times() {
    assert_eq!(
        fail2ban_jails(include_bytes!("fail2ban-banned.txt")),
        ["test", "web"]
    );
    let text =
        b"[{'sshd': []}, {'web' : [ '192.0.2.1']}, {'a b': ['192.0.2.2']}, {'-x;rm': ['1.2.3.4']}]";
    assert_eq!(
        fail2ban_jails(text),
        ["web"],
        "empty and odd names are not asked"
    );
    let many: String = (0..40)
        .map(|i| format!("{{'j{i}': ['192.0.2.1']}}, "))
        .collect();
    assert_eq!(fail2ban_jails(many.as_bytes()).len(), MAX_JAILS);
}

#[test]
fn fail2ban_ban_times_set_the_start_of_the_matching_bans() {
    let mut out = Vec::new();
    fail2ban_banned(include_bytes!("fail2ban-banned.txt"), &mut out);
    // As if the server's zone were UTC.
    let utc = |y, mo, d, h, mi, s| crate::parse::time::unix_from_civil(y, mo, d, h, mi, s);
    fail2ban_ban_times(
        include_bytes!("fail2ban-banip-with-time.txt"),
        utc,
        &mut out,
    );
    let since = |a: &str| {
        out.iter()
            .find(|b| b.net == IpNet::from(a.parse::<IpAddr>().unwrap()))
            .unwrap()
            .since
    };
    let start = 1_796_619_577; // 2026-12-07T04:59:37Z
    assert_eq!(since("203.0.113.9"), Some(start));
    assert_eq!(since("2001:db8::7"), Some(start));
    assert_eq!(since("198.51.100.3"), None, "another jail's, not asked yet");
    // Cut or odd lines change nothing.
    let mut none = Vec::new();
    fail2ban_banned(b"['198.51.100.3']", &mut none);
    for text in [
        &b"198.51.100.3 \t2026-13-07 04:59:37 + 600"[..],
        b"198.51.100.3",
        b"x 2026-12-07 04:59:37",
        b"198.51.100.3 2026-12-07 04:59",
    ] {
        fail2ban_ban_times(text, utc, &mut none);
    }
    assert_eq!(none[0].since, None);
}

#[test]
fn cscli_bans_on_addresses_and_ranges_with_their_start() {
    let mut out = Vec::new();
    cscli_decisions(include_bytes!("cscli_decisions.json"), &mut out).unwrap();
    // The captcha on 2001:db8::44 is not a block.
    assert_eq!(
        nets(&out, Blocker::Crowdsec),
        ["192.0.2.44/32", "198.51.100.0/24"]
    );
    let since = out.iter().map(|b| b.since).collect::<Vec<_>>();
    assert_eq!(since, [Some(1_796_619_605); 2]);
    let mut out = Vec::new();
    cscli_decisions(b"null", &mut out).unwrap();
    assert!(out.is_empty());
    assert_eq!(
        cscli_decisions(b"level=fatal msg=\"no LAPI\"", &mut out),
        Err(BlocklistError::NotJson)
    );
}

/// Hostile or cut text: no panic, nothing but parsed networks, bounded.
#[test]
fn hostile_text_never_panics_and_stays_bounded() {
    let samples: [&[u8]; 8] = [
        include_bytes!("fail2ban-banip-with-time.txt"),
        include_bytes!("nft-list-table.json"),
        include_bytes!("iptables-S.txt"),
        include_bytes!("fail2ban-banned.txt"),
        include_bytes!("cscli_decisions.json"),
        b"\"\\\"\x00\xff'\x1b[31m'",
        b"-A INPUT -s",
        b"{\"nftables\":[{\"set\":{\"type\":\"ipv6_addr\",\"elem\":[{\"range\":[\"::\",\"ffff::\"]},{\"prefix\":{\"addr\":\"::\",\"len\":300}}]}}]}",
    ];
    for sample in samples {
        for cut in 0..=sample.len() {
            let mut out = Vec::new();
            let part = &sample[..cut];
            let _ = nft_table(part, &mut out);
            iptables_rules(part, Blocker::Iptables, &mut out);
            fail2ban_banned(part, &mut out);
            let _ = fail2ban_jails(part);
            fail2ban_ban_times(part, |_, _, _, _, _, _| Some(0), &mut out);
            let _ = cscli_decisions(part, &mut out);
        }
    }
    let many: String = (0..MAX_ENTRIES + 10)
        .map(|i| format!("'10.{}.{}.{}',", i >> 16 & 255, i >> 8 & 255, i & 255))
        .collect();
    let mut out = Vec::new();
    fail2ban_banned(many.as_bytes(), &mut out);
    assert_eq!(out.len(), MAX_ENTRIES);
}
