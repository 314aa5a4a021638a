use std::net::{IpAddr, SocketAddr};

use super::*;
use crate::testutil::{access_hit as hit, ip};

fn sock(local: &str, remote: &str, state: TcpState) -> SocketEntry {
    SocketEntry {
        local: local.parse::<SocketAddr>().unwrap(),
        remote: remote.parse().unwrap(),
        state,
        inode: 0,
    }
}

#[test]
fn requests_are_counted_per_client() {
    let mut t = IpTable::new(100, false);
    assert!(t
        .apply_access(&hit("8.8.8.8", 1000, b"/", 200, 10), 1000)
        .is_some());
    assert!(t
        .apply_access(&hit("8.8.8.8", 1001, b"/x", 404, 5), 1001)
        .is_some());
    assert!(
        t.apply_access(&hit("10.0.0.1", 1001, b"/", 200, 5), 1001)
            .is_none(),
        "private hidden"
    );
    let row = t.get(ip("8.8.8.8")).unwrap();
    assert_eq!(
        (row.requests, row.bytes, row.status[2], row.status[4]),
        (2, 15, 1, 1)
    );
    assert_eq!((row.first_seen(), row.last_seen()), (1000, 1001));
    assert_eq!(t.text(row.recent.back().unwrap().path), b"/x");
    assert_eq!(t.totals.requests, 2);
    assert_eq!(t.len(), 1);
}

#[test]
fn recent_ring_is_bounded_and_sweeps_strings() {
    let mut t = IpTable::new(100, false);
    for n in 0..1000 {
        let path = format!("/unique/{n}");
        t.apply_access(&hit("8.8.8.8", 1000 + n, path.as_bytes(), 200, 1), 1000);
    }
    t.sweep_strings();
    let row = t.get(ip("8.8.8.8")).unwrap();
    assert_eq!(row.recent.len(), RECENT_REQUESTS);
    // the user agent + the 20 paths still referenced survive a sweep (GET is pinned)
    assert_eq!(t.strings.len(), 1 + RECENT_REQUESTS);
    assert_eq!(t.text(row.recent.back().unwrap().path), b"/unique/999");
}

#[test]
fn sockets_split_inbound_and_outbound() {
    let mut t = IpTable::new(100, false);
    let dump = [
        sock("0.0.0.0:443", "0.0.0.0:0", TcpState::Listen),
        sock("[::]:22", "[::]:0", TcpState::Listen),
        sock("192.0.2.1:443", "8.8.8.8:50000", TcpState::Established),
        sock("192.0.2.1:443", "8.8.8.8:50001", TcpState::SynRecv),
        sock("192.0.2.1:22", "8.8.8.8:50002", TcpState::Established),
        sock("192.0.2.1:40000", "1.1.1.1:443", TcpState::Established),
        sock("127.0.0.1:443", "127.0.0.1:5555", TcpState::Established),
    ];
    t.apply_sockets(&dump, 1000, |_| {});
    let row = t.get(ip("8.8.8.8")).unwrap();
    assert_eq!((row.sockets().conns_in, row.sockets().conns_out), (3, 0));
    assert_eq!(row.sockets().syn_recv_in(), 1);
    assert_eq!(row.sockets().services_in.as_slice(), &[443, 22]);
    let out = t.get(ip("1.1.1.1")).unwrap();
    assert_eq!((out.sockets().conns_in, out.sockets().conns_out), (0, 1));
    assert_eq!(out.sockets().services_out.as_slice(), &[443]);
    assert!(out.is_outbound_only());
    assert!(
        t.get(ip("127.0.0.1")).is_none(),
        "loopback hidden by default"
    );
    assert_eq!(t.totals.new_conns_last_dump, 3);
    assert_eq!(t.connections(), 3);

    // The next dump replaces the summary; only the new socket counts as new.
    let dump2 = [
        sock("0.0.0.0:443", "0.0.0.0:0", TcpState::Listen),
        sock("192.0.2.1:443", "8.8.8.8:50000", TcpState::Established),
        sock("192.0.2.1:443", "8.8.8.8:50009", TcpState::Established),
    ];
    t.apply_sockets(&dump2, 1001, |_| {});
    let row = t.get(ip("8.8.8.8")).unwrap();
    assert_eq!(
        (row.sockets().conns_in, row.sockets().syn_recv_in()),
        (2, 0)
    );
    assert_eq!(t.totals.new_conns_last_dump, 1);
    assert_eq!(t.get(ip("1.1.1.1")).unwrap().sockets().conns_out, 0);
}

#[test]
fn syn_recv_is_inbound_without_a_listener() {
    let mut t = IpTable::new(100, false);
    // No LISTEN socket for 8443 in this dump (the listener just closed).
    let dump = [
        sock("192.0.2.1:8443", "8.8.8.8:50001", TcpState::SynRecv),
        sock("192.0.2.1:8443", "8.8.8.8:50002", TcpState::NewSynRecv),
        sock("192.0.2.1:40000", "8.8.8.8:443", TcpState::SynSent),
    ];
    t.apply_sockets(&dump, 1000, |_| {});
    let s = t.get(ip("8.8.8.8")).unwrap().sockets();
    assert_eq!((s.conns_in, s.conns_out, s.syn_recv_in()), (2, 1, 2));
    assert_eq!(s.services_in.as_slice(), &[8443]);
    assert_eq!(s.services_out.as_slice(), &[443]);
    assert_eq!(t.totals.new_conns_last_dump, 2);
}

#[test]
fn idle_rows_expire_but_rows_with_sockets_stay() {
    let mut t = IpTable::new(100, false);
    t.apply_access(&hit("8.8.8.8", 1000, b"/", 200, 0), 1000);
    t.apply_sockets(
        &[
            sock("0.0.0.0:80", "0.0.0.0:0", TcpState::Listen),
            sock("192.0.2.1:80", "1.1.1.1:5000", TcpState::Established),
        ],
        1000,
        |_| {},
    );
    t.expire(1000 + IDLE_EXPIRY_SECS - 1);
    assert_eq!(t.len(), 2);
    t.expire(1000 + IDLE_EXPIRY_SECS);
    assert!(t.get(ip("8.8.8.8")).is_none());
    assert!(t.get(ip("1.1.1.1")).is_some());
    t.sweep_strings();
    assert_eq!(
        t.strings.len(),
        0,
        "strings of the expired row were released"
    );
}

#[test]
fn cap_evicts_least_recently_active() {
    let mut t = IpTable::new(64, false);
    for n in 0..10_000u32 {
        let addr = IpAddr::from([8, (n >> 16) as u8, (n >> 8) as u8, n as u8]);
        let mut h = hit("8.8.8.8", 1000, b"/", 200, 0);
        h.client = addr;
        t.apply_access(&h, i64::from(n));
    }
    assert!(t.len() <= 64);
    assert!(
        t.get(IpAddr::from([8, 0, 39, 15])).is_some(),
        "the newest row is kept"
    );
    assert!(
        t.get(IpAddr::from([8, 0, 0, 1])).is_none(),
        "an old row was evicted"
    );
    assert_eq!(t.totals.requests, 10_000);
}

#[test]
fn snapshot_order() {
    let mut t = IpTable::new(100, false);
    t.apply_access(&hit("8.8.8.8", 1000, b"/", 200, 0), 1000);
    t.apply_access(&hit("9.9.9.9", 1000, b"/", 200, 0), 1000);
    t.apply_access(&hit("9.9.9.9", 1000, b"/", 200, 0), 1000);
    t.apply_sockets(
        &[
            sock("0.0.0.0:80", "0.0.0.0:0", TcpState::Listen),
            sock("192.0.2.1:80", "1.1.1.1:5000", TcpState::Established),
        ],
        1000,
        |_| {},
    );
    let order: Vec<String> = t.sorted().iter().map(|r| r.ip.to_string()).collect();
    assert_eq!(order, ["1.1.1.1", "9.9.9.9", "8.8.8.8"]);
}

#[test]
fn string_memory_stays_bounded_under_unique_paths() {
    let mut t = IpTable::new(1000, false);
    let mut path = Vec::new();
    for n in 0..200_000u32 {
        path.clear();
        path.extend_from_slice(format!("/unique/{n}/").as_bytes());
        path.resize(300, b'x');
        let mut h = hit("8.8.8.8", 1000, &path, 200, 0);
        h.client = IpAddr::from([8, 8, (n >> 8) as u8 % 4, n as u8]);
        t.apply_access(&h, 1000);
    }
    // 1 000 rows x 20 recent paths x 300 bytes = 6 MB live at most; the sweep
    // keeps the interner near twice the live set, never past its cap.
    assert!(
        t.strings.bytes_held() <= INTERNER_BYTE_CAP,
        "{}",
        t.strings.bytes_held()
    );
    let last = t
        .get(IpAddr::from([8, 8, 3, 63]))
        .unwrap()
        .recent
        .back()
        .copied()
        .unwrap();
    assert!(
        t.text(last.path).starts_with(b"/unique/"),
        "recent paths survive sweeps"
    );
}

fn auth<'a>(client: &str, t: UnixTime, kind: AuthKind, user: &'a [u8]) -> AuthEvent<'a> {
    AuthEvent {
        kind,
        ip: ip(client),
        user,
        time: Some(t),
    }
}

#[test]
fn activity_is_off_until_sized() {
    let mut t = IpTable::new(100, false);
    t.apply_access(&hit("8.8.8.8", 1000, b"/", 200, 1), 1000);
    t.apply_auth(&auth("8.8.8.8", 1000, AuthKind::Failed, b"root"), 1000);
    assert!(t.activity.is_empty());
    assert_eq!(t.strings.len(), 2, "path and user agent only: no user name");
}

#[test]
fn activity_ring_keeps_the_newest_in_order() {
    let mut t = IpTable::new(100, false);
    t.activity.set_capacity(3);
    t.apply_access(&hit("8.8.8.8", 1000, b"/a", 200, 1), 1000);
    t.apply_auth(
        &auth("9.9.9.9", 1001, AuthKind::InvalidUser, b"admin"),
        1001,
    );
    t.apply_access(&hit("8.8.8.8", 1002, b"/b", 404, 1), 1002);
    t.apply_access(&hit("10.0.0.1", 1002, b"/private", 200, 1), 1002);
    t.apply_access(&hit("8.8.8.8", 1003, b"/c", 500, 1), 1003);
    assert_eq!(t.activity.len(), 3);
    assert_eq!(
        t.activity.recorded(),
        4,
        "the private address is not tracked"
    );
    let seen: Vec<(u32, String)> = t
        .activity
        .iter()
        .map(|a| {
            let what = match a.kind {
                ActivityKind::Http { path, status, .. } => {
                    format!("{status} {}", String::from_utf8_lossy(t.text(path)))
                }
                ActivityKind::Ssh { kind, user } => {
                    format!("{} {}", kind.code(), String::from_utf8_lossy(t.text(user)))
                }
            };
            (a.time, what)
        })
        .collect();
    assert_eq!(
        seen,
        [
            (1001, "invalid_user admin".to_string()),
            (1002, "404 /b".to_string()),
            (1003, "500 /c".to_string())
        ]
    );
}

#[test]
fn activity_strings_survive_sweeps() {
    let mut t = IpTable::new(100, false);
    t.activity.set_capacity(50);
    t.apply_auth(&auth("9.9.9.9", 999, AuthKind::Failed, b"the-user"), 999);
    // Requests from many rows push the first rows' strings out of their own rings
    // (each row keeps 20), but the activity ring still holds the newest 50.
    for n in 0..2000 {
        let path = format!("/unique/{n}");
        let client = format!("8.8.{}.{}", n / 200, n % 200 + 1);
        t.apply_access(&hit(&client, 1000 + n, path.as_bytes(), 200, 1), 1000);
    }
    t.sweep_strings();
    let paths: Vec<&[u8]> = t
        .activity
        .iter()
        .filter_map(|a| match a.kind {
            ActivityKind::Http { path, .. } => Some(t.text(path)),
            ActivityKind::Ssh { .. } => None,
        })
        .collect();
    assert_eq!(paths.len(), 50);
    assert_eq!(paths[0], b"/unique/1950");
    assert_eq!(paths[49], b"/unique/1999");

    // A user name is kept while its entry is in the ring, freed after.
    let mut t = IpTable::new(100, false);
    t.activity.set_capacity(2);
    t.apply_auth(&auth("9.9.9.9", 999, AuthKind::Failed, b"the-user"), 999);
    t.sweep_strings();
    assert!(t.strings.len() == 1);
    t.apply_access(&hit("8.8.8.8", 1000, b"/x", 200, 1), 1000);
    t.apply_access(&hit("8.8.8.8", 1001, b"/y", 200, 1), 1000);
    t.sweep_strings();
    assert_eq!(
        t.strings.len(),
        3,
        "user agent, /x, /y; the user name is gone"
    );
}

/// The engine attaches enrichment when a row is born: a line says whether
/// its row is new, a dump calls back for each row it creates.
#[test]
fn new_rows_are_reported() {
    let mut t = IpTable::new(100, false);
    let first = t.apply_access(&hit("8.8.8.8", 1000, b"/", 200, 0), 1000);
    assert!(first.is_some_and(|(a, _)| a.is_new));
    let again = t.apply_access(&hit("8.8.8.8", 1001, b"/", 200, 0), 1001);
    assert_eq!(
        again.map(|(a, _)| (a.row, a.is_new)),
        first.map(|(a, _)| (a.row, false))
    );
    let login = t.apply_auth(&auth("9.9.9.9", 1000, AuthKind::Failed, b"root"), 1000);
    assert!(login.is_some_and(|a| a.is_new));
    assert_eq!(t.row_mut(login.unwrap().row).ip, ip("9.9.9.9"));
    let mut born = Vec::new();
    let dump = [
        sock("0.0.0.0:443", "0.0.0.0:0", TcpState::Listen),
        sock("192.0.2.1:443", "8.8.8.8:50000", TcpState::Established),
        sock("192.0.2.1:443", "1.1.1.1:50000", TcpState::Established),
        sock("192.0.2.1:443", "1.1.1.1:50001", TcpState::Established),
    ];
    t.apply_sockets(&dump, 1002, |row| born.push(row.ip));
    assert_eq!(born, [ip("1.1.1.1")], "once, and only for the new address");
}

/// Eviction spares what the handed-in test calls flagged, and counts.
#[test]
fn eviction_spares_rows_the_caller_flags() {
    let mut t = IpTable::new(16, false);
    t.set_flagged(|row, _| row.last_failure() != 0);
    t.apply_access(&hit("9.9.9.9", 1000, b"/", 200, 0), 1000);
    t.apply_auth(&auth("9.9.9.9", 1000, AuthKind::Failed, b"root"), 1000);
    for n in 0..100u8 {
        let mut h = hit("8.8.8.8", 1001 + i64::from(n), b"/", 200, 0);
        h.client = IpAddr::from([8, 8, 9, n]);
        t.apply_access(&h, 1000);
    }
    assert!(t.len() <= 16);
    assert!(
        t.get(ip("9.9.9.9")).is_some(),
        "the oldest row, but flagged"
    );
    assert!(t.get(IpAddr::from([8, 8, 9, 0])).is_none());
    assert_eq!(t.totals.evicted, 101 - t.len() as u64);
}

/// Issue 11, item 7: private addresses are not rows but are counted (lines and
/// sockets alike), and showing them is switched live.
#[test]
fn hidden_private_addresses_are_counted_and_shown_on_demand() {
    let mut t = IpTable::new(100, false);
    for client in ["10.0.0.1", "10.0.0.1", "127.0.0.1", "8.8.8.8"] {
        t.apply_access(&hit(client, 1000, b"/", 200, 1), 1000);
    }
    let dump = [
        sock("0.0.0.0:443", "0.0.0.0:0", TcpState::Listen),
        sock("10.0.0.9:443", "192.168.1.2:5000", TcpState::Established),
    ];
    t.apply_sockets(&dump, 1000, |_| {});
    assert_eq!(t.len(), 1, "only the public address is a row");
    assert_eq!(t.hidden_private(), 3, "10.0.0.1, 127.0.0.1, 192.168.1.2");
    assert!(!t.shows_private());

    // Shown from now on: nothing is hidden, new private lines make rows.
    t.set_show_private(true);
    assert_eq!(t.hidden_private(), 0);
    assert!(
        t.get(ip("10.0.0.1")).is_none(),
        "what was hidden was not kept"
    );
    t.apply_access(&hit("10.0.0.1", 1001, b"/", 200, 1), 1001);
    t.apply_sockets(&dump, 1001, |_| {});
    assert!(t.get(ip("10.0.0.1")).is_some());
    assert!(t.get(ip("192.168.1.2")).is_some());
    assert_eq!(t.hidden_private(), 0);

    // Hidden again: their rows go and are counted; the public one stays.
    t.set_show_private(false);
    assert_eq!(t.len(), 1);
    assert!(t.get(ip("8.8.8.8")).is_some());
    assert_eq!(t.hidden_private(), 2);
    // The next dump does not bring the removed rows back.
    t.apply_sockets(&dump, 1002, |_| {});
    assert_eq!((t.len(), t.hidden_private()), (1, 2));
}

fn requests(t: &mut IpTable, client: &str, n: i64) {
    for k in 0..n {
        t.apply_access(&hit(client, 1000 + k, b"/", 200, 1), 1000);
    }
}

/// Issue 12 item 4: `[log] max_log_entries_per_ip` is the ring of a row
/// opened in the drill-down or flagged; every other row keeps 20.
#[test]
fn opened_and_flagged_rows_keep_max_log_entries_per_ip() {
    let mut t = IpTable::new(100, false);
    t.set_max_recent(100);
    requests(&mut t, "8.8.8.8", 150);
    requests(&mut t, "1.1.1.1", 150);
    // Flagged by the detector at its first request (it widens the rows it
    // notes evidence on: detect's tests).
    let (first, _) = t
        .apply_access(&hit("9.9.9.9", 999, b"/", 200, 1), 1000)
        .unwrap();
    assert!(t.widen_row(first.row));
    requests(&mut t, "9.9.9.9", 149);
    let kept = |t: &IpTable, a: &str| t.get(ip(a)).unwrap().recent.len();
    assert_eq!(kept(&t, "8.8.8.8"), RECENT_REQUESTS);
    assert_eq!(kept(&t, "9.9.9.9"), 100, "flagged: widened");
    assert!(t.widen(ip("1.1.1.1")), "opened in the drill-down");
    assert_eq!(t.recent_cap(t.get(ip("1.1.1.1")).unwrap()), 100);
    requests(&mut t, "1.1.1.1", 150);
    assert_eq!(kept(&t, "1.1.1.1"), 100);
    assert!(t.get(ip("1.1.1.1")).unwrap().recent.capacity() < 200);
    assert_eq!(t.wide_rows, 2);
    assert!(!t.widen(ip("4.4.4.4")), "no row");

    // Smaller than 20: every row keeps that many, and none widens.
    let mut t = IpTable::new(100, false);
    t.set_max_recent(5);
    requests(&mut t, "8.8.8.8", 50);
    assert!(!t.widen(ip("8.8.8.8")));
    assert_eq!(kept(&t, "8.8.8.8"), 5);
}

/// Widened rows share one budget: at the largest value only a few rows
/// widen, the rest keep 20; a row that goes frees its share.
#[test]
fn widened_rows_stay_within_the_budget() {
    let mut t = IpTable::new(100, false);
    t.set_max_recent(10_000);
    let most = t.max_wide_rows();
    assert_eq!(most, 6);
    for n in 0..most {
        requests(&mut t, &format!("8.8.8.{n}"), 1);
        assert!(t.widen(ip(&format!("8.8.8.{n}"))));
    }
    requests(&mut t, "9.9.9.9", 1);
    assert!(!t.widen(ip("9.9.9.9")), "budget spent");
    t.expire(1000 + IDLE_EXPIRY_SECS);
    assert_eq!(t.wide_rows, 0);
    requests(&mut t, "7.7.7.7", 1);
    assert!(t.widen(ip("7.7.7.7")), "the expired rows' shares are free");
}

/// The row is the table's unit of memory: at the `max_tracked_ips` cap
/// (50 000 rows) every 8 bytes here is 0.4 MB of the 64 MiB budget
/// (`make bench-memcap`). Rare data lives behind a pointer (sockets, sshd,
/// GeoIP, whois), times are u32 seconds, the rate ring counts in 4 bits
/// and the recent ring is a boxed slice with u16 indices; this bound keeps
/// it so.
#[test]
fn a_row_stays_small() {
    let size = std::mem::size_of::<Row>();
    println!("size_of::<Row>() = {size}");
    assert!(size <= 200, "Row grew to {size} bytes");
    let recent = std::mem::size_of::<RecentRequest>();
    assert_eq!(recent, 16, "a recent request grew to {recent} bytes");
    assert_eq!(
        std::mem::size_of::<Option<Row>>(),
        size,
        "the arena's slot costs nothing more"
    );
}

#[test]
fn a_prefetched_row_is_used_only_for_its_own_address() {
    let mut t = IpTable::new(1, false);
    t.apply_access(&hit("8.8.8.8", 1000, b"/", 200, 1), 1000);
    // The hint names 8.8.8.8's row; the line is from another address,
    // which evicts 8.8.8.8 (one row at most) and takes over its slot.
    t.prefetch(ip("8.8.8.8"));
    t.apply_access(&hit("9.9.9.9", 1001, b"/", 200, 1), 1001);
    assert!(t.get(ip("8.8.8.8")).is_none());
    assert_eq!(t.get(ip("9.9.9.9")).unwrap().requests, 1);
    // A stale hint for the evicted address (its slot now holds 9.9.9.9)
    // must not count the line on 9.9.9.9.
    t.prefetch(ip("9.9.9.9"));
    t.apply_access(&hit("8.8.8.8", 1002, b"/", 200, 1), 1002);
    assert_eq!(t.get(ip("8.8.8.8")).unwrap().requests, 1);
    assert!(t.get(ip("9.9.9.9")).is_none());
    // The hint for the line's own address is taken.
    t.prefetch(ip("8.8.8.8"));
    t.apply_access(&hit("8.8.8.8", 1003, b"/", 200, 1), 1003);
    assert_eq!(t.get(ip("8.8.8.8")).unwrap().requests, 2);
    assert_eq!(t.len(), 1);
}

/// The row fetched one line ahead is the next line's hint only from
/// `next_line` on, and like any hint only for its own address: a line in
/// between (the prefetched one's) keeps its own hint, and a stale one for
/// an evicted address counts nothing on the row that took its slot.
#[test]
fn a_row_fetched_ahead_serves_the_next_line_of_its_address_only() {
    let mut t = IpTable::new(1, false);
    let mut ahead = LeadAhead::default();
    t.apply_access(&hit("8.8.8.8", 1000, b"/", 200, 1), 1000);
    // The line being handled is 9.9.9.9's, the next one 8.8.8.8's. This
    // line evicts 8.8.8.8 (one row at most) and takes its slot.
    t.next_line(&mut ahead, b"8.8.8.8 - - [");
    t.prefetch(ip("9.9.9.9"));
    t.apply_access(&hit("9.9.9.9", 1001, b"/", 200, 1), 1001);
    assert_eq!(t.get(ip("9.9.9.9")).unwrap().requests, 1);
    // 8.8.8.8's line: what was fetched for it is stale (9.9.9.9's row now).
    t.next_line(&mut ahead, b"8.8.8.8 - - [");
    t.apply_access(&hit("8.8.8.8", 1002, b"/", 200, 1), 1002);
    assert_eq!(t.get(ip("8.8.8.8")).unwrap().requests, 1);
    assert!(t.get(ip("9.9.9.9")).is_none());
    // Fetched a line ahead and taken by its own address's line.
    t.next_line(&mut ahead, b"");
    t.apply_access(&hit("8.8.8.8", 1003, b"/", 200, 1), 1003);
    assert_eq!(t.get(ip("8.8.8.8")).unwrap().requests, 2);
    // A line with nothing fetched ahead looks its row up.
    t.next_line(&mut ahead, b"");
    t.apply_access(&hit("8.8.8.8", 1004, b"/", 200, 1), 1004);
    assert_eq!(t.get(ip("8.8.8.8")).unwrap().requests, 3);
    assert_eq!(t.len(), 1);
}

/// A line whose row was prefetched skips the shown test (a row exists only
/// for a shown address): a row hidden after its hint was taken is gone, so
/// the stale hint doesn't let its address back in.
#[test]
fn a_hint_for_a_row_hidden_since_does_not_admit_its_address() {
    let mut t = IpTable::new(10, true);
    t.apply_access(&hit("10.0.0.1", 1000, b"/", 200, 1), 1000);
    t.prefetch(ip("10.0.0.1"));
    t.set_show_private(false);
    assert!(t
        .apply_access(&hit("10.0.0.1", 1001, b"/", 200, 1), 1001)
        .is_none());
    assert!(t.get(ip("10.0.0.1")).is_none());
    assert_eq!(t.hidden_private(), 1);
}

/// What a socket dump leaves in the table, row by row (sorted by address).
fn socket_view(t: &IpTable) -> Vec<(IpAddr, u32, u32, u32, UnixTime, UnixTime)> {
    let mut rows: Vec<_> = t
        .rows()
        .map(|r| {
            let s = r.sockets();
            let times = (r.last_seen(), r.last_active());
            (
                r.ip,
                s.conns_in,
                s.conns_out,
                s.syn_recv_in(),
                times.0,
                times.1,
            )
        })
        .collect();
    rows.sort();
    rows
}

fn flood_dump() -> Vec<SocketEntry> {
    let mut dump = vec![sock("0.0.0.0:443", "0.0.0.0:0", TcpState::Listen)];
    for k in 0..40 {
        let remote = format!("8.8.{}.{}:{}", k / 10, k % 10, 40000 + k);
        dump.push(sock("192.0.2.1:443", &remote, TcpState::SynRecv));
    }
    dump.push(sock("192.0.2.1:443", "9.9.9.9:5000", TcpState::Established));
    dump.push(sock(
        "192.0.2.1:40000",
        "1.1.1.1:443",
        TcpState::Established,
    ));
    dump
}

/// Issue 13 item 4: the same dump applied again the cheap way leaves the
/// table exactly as walking it again would.
#[test]
fn reapplying_the_same_dump_equals_applying_it_in_full() {
    let dump = flood_dump();
    let (mut cheap, mut full) = (IpTable::new(100, false), IpTable::new(100, false));
    for t in [&mut cheap, &mut full] {
        t.apply_access(&hit("8.8.0.0", 990, b"/", 200, 1), 990);
        t.apply_sockets(&dump, 1000, |_| {});
        assert_eq!(t.totals.new_conns_last_dump, 41);
    }
    assert!(cheap.reapply_same_sockets(1003));
    full.apply_sockets(&dump, 1003, |_| {});
    assert_eq!(socket_view(&cheap), socket_view(&full));
    assert_eq!(
        socket_view(&cheap).len(),
        42,
        "40 SYN_RECV addresses, 9.9.9.9, 1.1.1.1"
    );
    for t in [&cheap, &full] {
        assert_eq!(t.totals.new_conns_last_dump, 0);
        assert_eq!(t.totals.established_in, 1);
        assert_eq!(t.connections(), 41);
    }
    // The next dump after a cheap one counts new sockets against the same set.
    let mut next = dump.clone();
    next.push(sock("192.0.2.1:443", "9.9.9.9:5001", TcpState::Established));
    for t in [&mut cheap, &mut full] {
        t.apply_sockets(&next, 1004, |_| {});
        assert_eq!(t.totals.new_conns_last_dump, 1);
        assert_eq!(t.totals.established_in, 2);
    }
    assert_eq!(socket_view(&cheap), socket_view(&full));
}

/// The cheap way is refused, and the dump must be applied in full, once a
/// row it made is gone (evicted for a log line at the cap, hidden with `p`)
/// or hidden addresses are shown again.
#[test]
fn reapplying_is_refused_once_rows_changed_behind_the_dump() {
    let dump = flood_dump();
    let mut t = IpTable::new(42, false);
    t.apply_sockets(&dump, 1000, |_| {});
    assert_eq!(t.len(), 42);
    assert!(t.reapply_same_sockets(1001));
    // A log line at the cap evicts a row with sockets (all rows have some).
    t.apply_access(&hit("4.4.4.4", 1002, b"/", 200, 1), 1002);
    assert!(t.totals.evicted > 0);
    assert!(!t.reapply_same_sockets(1002));
    t.apply_sockets(&dump, 1002, |_| {});
    assert!(
        t.reapply_same_sockets(1003),
        "intact again after a full dump"
    );

    let mut t = IpTable::new(100, false);
    let mut dump = flood_dump();
    dump.push(sock(
        "10.0.0.9:443",
        "192.168.1.2:5000",
        TcpState::Established,
    ));
    t.apply_sockets(&dump, 1000, |_| {});
    t.set_show_private(true);
    assert!(!t.reapply_same_sockets(1001), "192.168.1.2 must come back");
    t.apply_sockets(&dump, 1001, |_| {});
    assert!(t.get(ip("192.168.1.2")).is_some());
    assert!(t.reapply_same_sockets(1002));
    t.set_show_private(false);
    assert!(!t.reapply_same_sockets(1003), "192.168.1.2's row went");
}

/// Issue 13 item 4: past `max_tracked_ips` a flood's rows are evicted whole:
/// the sockets of one address, scattered over the dump as the kernel hands
/// them out, are applied together, so a row kept has all of them.
#[test]
fn a_row_kept_at_the_cap_has_every_socket_of_its_address() {
    let mut dump = vec![sock("0.0.0.0:443", "0.0.0.0:0", TcpState::Listen)];
    for n in 0..3 {
        for a in 0..30 {
            let remote = format!("8.8.8.{a}:{}", 40000 + n);
            dump.push(sock("192.0.2.1:443", &remote, TcpState::SynRecv));
        }
    }
    let mut t = IpTable::new(10, false);
    t.apply_sockets(&dump, 1000, |_| {});
    assert!(t.len() <= 10 && t.totals.evicted >= 20, "{}", t.len());
    for row in t.rows() {
        assert_eq!(row.sockets().syn_recv_in(), 3, "{}", row.ip);
    }
    assert_eq!(t.connections(), 3 * t.len() as u64);
}

/// A breach (issue 14 item 2) is held for the run: its row is not dropped
/// when idle, as others without sockets are.
#[test]
fn a_breached_row_does_not_expire() {
    let mut t = IpTable::new(100, false);
    requests(&mut t, "7.7.7.7", 1);
    requests(&mut t, "8.8.8.8", 1);
    t.get_mut(ip("8.8.8.8")).unwrap().note_breach(1000);
    t.expire(1000 + 10 * IDLE_EXPIRY_SECS);
    assert!(t.get(ip("7.7.7.7")).is_none());
    assert_eq!(t.get(ip("8.8.8.8")).unwrap().breach_time(), Some(1000));
}

/// Issue 14 item 5: the engine attaches a row's blocked mark when it is
/// born ([`Row::set_blocked`]); when the marks change, every row is looked
/// up again and points into the new ones.
#[test]
fn rows_point_into_the_blocked_marks_and_follow_their_changes() {
    use std::num::NonZeroU32;

    use crate::net::{BlockMark, Blocker, Blockers};
    let mut t = IpTable::new(100, false);
    requests(&mut t, "8.8.8.8", 1);
    requests(&mut t, "8.8.9.9", 1);
    let mark = |net: &str| {
        let mut by = Blockers::default();
        by.insert(Blocker::Fail2ban);
        BlockMark {
            by,
            scope: net.parse().unwrap(),
            since: None,
        }
    };
    let blocked = |t: &IpTable, s: &str| {
        t.get(ip(s))
            .and_then(|r| t.blocked(r))
            .map(|m| m.scope.to_string())
    };
    let first = NonZeroU32::new(1);
    t.set_blocked(std::sync::Arc::from([mark("8.8.8.0/24")]), |a| {
        (a == ip("8.8.8.8")).then_some(first).flatten()
    });
    assert_eq!(blocked(&t, "8.8.8.8").as_deref(), Some("8.8.8.0/24"));
    assert_eq!(blocked(&t, "8.8.9.9"), None);
    assert!(t.get(ip("8.8.8.8")).unwrap().is_blocked());
    t.set_blocked(std::sync::Arc::from([mark("8.8.9.9/32")]), |a| {
        (a == ip("8.8.9.9")).then_some(first).flatten()
    });
    assert_eq!(blocked(&t, "8.8.8.8"), None, "unblocked");
    assert_eq!(blocked(&t, "8.8.9.9").as_deref(), Some("8.8.9.9/32"));
    assert!(!t.get(ip("8.8.8.8")).unwrap().is_blocked());
}
