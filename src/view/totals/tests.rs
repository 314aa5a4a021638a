use super::*;
use crate::testutil::access_hit as hit;

fn source(kind: &'static str, lines: u64, malformed: u64) -> SourceReport {
    SourceReport {
        path: kind.into(),
        kind,
        format: String::new(),
        lines,
        malformed,
        error: None,
        note: None,
    }
}

/// "lines" once meant access lines in JSON but every source's lines (sshd,
/// socket records, whois answers) in the text summary.
#[test]
fn lines_are_counted_by_kind_and_records_are_not_lines() {
    let sources = [
        source("access", 10, 2),
        source("access", 5, 1),
        source("auth", 7, 3),
        source("auth", 4, 0), // journald
        source("sockets", 900, 4),
        source("whois", 12, 1),
        source("history", 0, 0),
    ];
    let counts = LineCounts::of(&sources);
    assert_eq!(
        counts,
        LineCounts {
            access: 15,
            malformed: 3,
            auth: 11
        }
    );
}

/// 30 requests in the 15 s a `--for 15s` run tailed a log are 2 req/s, not
/// 30 / 60; a log read from its start covers the whole minute.
#[test]
fn req_per_sec_divides_by_the_part_of_the_minute_the_run_saw() {
    let mut table = IpTable::new(100, false);
    let started = 1_000_000;
    for n in 0..30 {
        table.apply_access(&hit("8.8.8.8", started + 1 + n % 14, b"/", 200, 1), started);
    }
    let end = started + 15;
    assert_eq!(req_per_sec(&table, started, end), 2.0);
    // At the very start, at least one second.
    assert_eq!(req_per_sec(&IpTable::new(10, false), started, started), 0.0);

    // Lines older than the start (--from-start): the window reaches back
    // to them, up to the whole minute.
    table.apply_access(&hit("8.8.4.4", started - 300, b"/", 200, 1), started);
    assert_eq!(req_per_sec(&table, started, end), 0.5);
    let mut recent = IpTable::new(100, false);
    for t in [started - 5, started - 5, started - 5, started + 5] {
        recent.apply_access(&hit("8.8.8.8", t, b"/", 200, 1), started);
    }
    assert_eq!(req_per_sec(&recent, started, end), 0.2);
}

#[test]
fn new_conns_per_sec_is_per_second_between_dumps() {
    let mut table = IpTable::new(10, false);
    table.totals.new_conns_last_dump = 6;
    assert_eq!(new_conns_per_sec(&table, 2.0), 3.0);
    assert_eq!(new_conns_per_sec(&table, 0.5), 12.0);
}

/// Every kernel state has its name in `STATE_NAMES` (NEW_SYN_RECV under
/// SYN_RECV), so no socket is counted under another state's name.
#[test]
fn every_kernel_state_is_named_in_the_socket_states() {
    for n in 1..=TcpState::COUNT as u8 {
        let state = TcpState::from_kernel(n).unwrap();
        assert!(STATE_NAMES.contains(&state.name()), "{state:?}");
    }
}
