use super::*;
use crate::detect::{DetectSettings, Reason};
use crate::net::WhoisInfo;
use crate::table::IpTable;
use crate::testutil::{access_hit, ip};

const T0: UnixTime = 1_795_628_400;

/// `per_minute` requests from each of `hosts` addresses of `prefix`
/// (`prefix.1`, `prefix.2`, …), spread over the minute ending at `T0 + 59`.
fn requests(
    table: &mut IpTable,
    detector: &mut Detector,
    prefix: &str,
    hosts: u32,
    per_minute: u32,
) {
    for host in 1..=hosts {
        let client = format!("{prefix}.{host}");
        for n in 0..per_minute {
            let t = T0 + i64::from(n * 60 / per_minute);
            let hit = access_hit(&client, t, b"/", 200, 1000);
            let (applied, request) = table.apply_access(&hit, T0 + 59).unwrap();
            detector.check_request(table, applied.row, &request, &hit);
        }
    }
}

fn setup() -> (IpTable, Detector) {
    let mut detector = Detector::new(DetectSettings::default()).unwrap();
    detector.set_now(T0 + 59);
    (IpTable::new(50_000, true), detector)
}

#[test]
fn a_slash_24_of_sixty_slow_addresses_is_a_burst_together() {
    let (mut table, mut detector) = setup();
    requests(&mut table, &mut detector, "203.0.113", 60, 10);
    requests(&mut table, &mut detector, "198.51.100", 3, 5);
    // None is flagged alone: 10 req/min each, under burst_rpm (60).
    assert!(table.rows().all(|r| detector.reasons(r).is_empty()));

    let mut grouper = Grouper::default();
    let groups = grouper.group(table.rows(), &detector, GroupBy::Net, T0 + 59);
    assert_eq!(groups.len(), 2);
    let net = &groups[0];
    assert_eq!(net.key.to_string(), "203.0.113.0/24");
    assert_eq!(net.key.kind(), "net");
    assert_eq!((net.members, net.suspicious_members), (60, 0));
    assert_eq!((net.requests, net.bytes), (600, 600_000));
    assert_eq!(net.load.rpm, 600);
    assert!(net.reasons.contains(Reason::Burst), "{:?}", net.reasons);
    assert!(net.is_suspicious());
    // The other /24: 15 req/min together, under the threshold.
    let quiet = &groups[1];
    assert_eq!(quiet.key.to_string(), "198.51.100.0/24");
    assert_eq!((quiet.members, quiet.load.rpm), (3, 15));
    assert!(!quiet.is_suspicious());
}

#[test]
fn group_thresholds_are_the_per_address_ones() {
    let (_, detector) = setup();
    let load = |rpm, syn_recv, auth_failures| GroupLoad {
        rpm,
        syn_recv,
        auth_failures,
    };
    assert!(detector.group_reasons(&load(60, 0, 0)).is_empty());
    assert!(detector
        .group_reasons(&load(61, 0, 0))
        .contains(Reason::Burst));
    assert!(detector.group_reasons(&load(0, 4, 2)).is_empty());
    let r = detector.group_reasons(&load(0, 5, 3));
    assert!(r.contains(Reason::SynRecv) && r.contains(Reason::AuthFailures));
    assert!(!r.contains(Reason::Burst));
}

#[test]
fn members_reasons_and_counts_carry_into_the_group() {
    let (mut table, mut detector) = setup();
    requests(&mut table, &mut detector, "192.0.2", 2, 3);
    let hit = access_hit("192.0.2.9", T0, b"/.env", 404, 10);
    let (applied, request) = table.apply_access(&hit, T0 + 59).unwrap();
    detector.check_request(&mut table, applied.row, &request, &hit);
    let mut grouper = Grouper::default();
    let groups = grouper.group(table.rows(), &detector, GroupBy::Net, T0 + 59);
    assert_eq!(groups.len(), 1);
    let g = groups[0];
    assert_eq!((g.members, g.suspicious_members, g.requests), (3, 1, 7));
    assert!(g.reasons.contains(Reason::ExploitPath));
    assert!(!g.reasons.contains(Reason::Burst));
    assert_eq!(g.top_member, ip("192.0.2.1"));
}

#[test]
fn networks_keys() {
    let (mut table, _) = setup();
    for client in [
        "2001:db8:1:2::7",
        "2001:db8:1:2:ffff::1",
        "2001:db8:1:3::1",
        "198.18.5.9",
    ] {
        table
            .apply_access(&access_hit(client, T0, b"/", 200, 1), T0)
            .unwrap();
    }
    // Whois knows 198.18.0.0/15 holds 198.18.5.9; a prefix that does not
    // hold the address is ignored.
    table.set_whois(
        ip("198.18.5.9"),
        WhoisInfo {
            cidr: Some("198.18.0.0/15".into()),
            ..WhoisInfo::default()
        },
    );
    let keys = |table: &IpTable| {
        let mut keys: Vec<String> = table.rows().map(|r| network_of(r).to_string()).collect();
        keys.sort();
        keys
    };
    assert_eq!(
        keys(&table),
        [
            "198.18.0.0/15",
            "2001:db8:1:2::/64",
            "2001:db8:1:2::/64",
            "2001:db8:1:3::/64"
        ]
    );
    table.set_whois(
        ip("198.18.5.9"),
        WhoisInfo {
            cidr: Some("10.0.0.0/8".into()),
            ..WhoisInfo::default()
        },
    );
    assert_eq!(keys(&table)[0], "198.18.5.0/24");
}

#[test]
fn countries_and_asns_unknown_group_together() {
    let (mut table, mut detector) = setup();
    requests(&mut table, &mut detector, "192.0.2", 3, 1);
    table.set_whois(
        ip("192.0.2.1"),
        WhoisInfo {
            country: Some("de".into()),
            ..WhoisInfo::default()
        },
    );
    table.set_whois(
        ip("192.0.2.2"),
        WhoisInfo {
            country: Some("\x1b[".into()),
            ..WhoisInfo::default()
        },
    );
    let mut grouper = Grouper::default();
    let groups = grouper.group(table.rows(), &detector, GroupBy::Country, T0 + 59);
    let mut keys: Vec<(String, u32)> = groups
        .iter()
        .map(|g| (g.key.to_string(), g.members))
        .collect();
    keys.sort();
    assert_eq!(keys, [("DE".to_string(), 1), ("unknown".to_string(), 2)]);
    let groups = grouper.group(table.rows(), &detector, GroupBy::Asn, T0 + 59);
    assert_eq!(groups.len(), 1);
    assert_eq!(
        (groups[0].key.to_string(), groups[0].members),
        ("unknown".to_string(), 3)
    );
    assert!(grouper
        .group(table.rows(), &detector, GroupBy::Ip, T0)
        .is_empty());
}

#[test]
fn group_by_parses() {
    for choice in GroupBy::CHOICES {
        assert_ne!(GroupBy::parse(choice), None, "{choice}");
    }
    assert_eq!(GroupBy::parse("ip"), None);
}
