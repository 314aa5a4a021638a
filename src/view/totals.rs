//! The run's headline numbers, defined once for the dashboard's header and
//! bars, the `--once`/`--for` text and the JSON summary (README, "What the
//! numbers mean"). A row's connections are its inbound sockets
//! ([`RowView::conns`](super::columns::RowView::conns)), the same sockets
//! the header sums ([`IpTable::connections`]) and "top conns" ranks.

use crate::detect::{Detector, Reason};
use crate::headless::SourceReport;
use crate::parse::sockets::TcpState;
use crate::parse::UnixTime;
use crate::table::IpTable;

/// The rate window: requests per second are taken over the last minute.
const RATE_WINDOW_SECS: UnixTime = 60;

/// Log lines read, by what they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LineCounts {
    /// Non-empty access-log lines (JSON `lines`).
    pub(crate) access: u64,
    /// Access-log lines that could not be used (JSON `malformed`).
    pub(crate) malformed: u64,
    /// sshd lines, from files or journald, events or not (JSON
    /// `auth_lines`).
    pub(crate) auth: u64,
}

impl LineCounts {
    /// Summed over the sources of their kind: sockets, GeoIP, history and
    /// whois count records and answers, not lines, and are left out.
    pub(crate) fn of(sources: &[SourceReport]) -> LineCounts {
        let mut counts = LineCounts::default();
        for source in sources {
            match source.kind {
                "access" => {
                    counts.access += source.lines;
                    counts.malformed += source.malformed;
                }
                "auth" => counts.auth += source.lines,
                _ => {}
            }
        }
        counts
    }
}

/// Requests per second: the requests of the last 60 s of event time
/// (ending at `end`, [`IpTable::window_end`]) over the part of those 60 s
/// the run has seen, from its start or from its oldest request if older
/// (a log read from its start), at least 1 s. A 15 s `--for` run that
/// tails a log divides by 15, not 60.
pub(crate) fn req_per_sec(table: &IpTable, started: UnixTime, end: UnixTime) -> f64 {
    let seen_since = table
        .totals
        .first_request
        .map_or(started, |t| t.min(started));
    let window = (end - seen_since).clamp(1, RATE_WINDOW_SECS);
    f64::from(table.totals.rate.per_minute(end)) / window as f64
}

/// New connections per second: inbound sockets in the latest socket dump
/// that were not in the one before, over the seconds between dumps
/// (`connections_interval`). 0 until there have been two dumps.
pub(crate) fn new_conns_per_sec(table: &IpTable, interval_secs: f64) -> f64 {
    f64::from(table.totals.new_conns_last_dump) / interval_secs.max(0.001)
}

/// Addresses flagged now, by reason, as the dashboard's suspicious mode and
/// `--suspicious` select them (an address counts under each of its reasons,
/// and once in `any`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Flagged {
    /// By the reason's position in [`Reason::ALL`].
    pub(crate) by_reason: [u64; Reason::ALL.len()],
    pub(crate) any: u64,
}

impl Flagged {
    pub(crate) fn of(table: &IpTable, detector: &Detector) -> Flagged {
        let mut flagged = Flagged::default();
        for row in table.rows() {
            let reasons = detector.reasons(row);
            if reasons.is_empty() {
                continue;
            }
            flagged.any += 1;
            for (n, reason) in flagged.by_reason.iter_mut().zip(Reason::ALL) {
                *n += u64::from(reasons.contains(reason));
            }
        }
        flagged
    }
}

/// The kernel states under the names `ss` and the JSON `states` object use,
/// SYN_RECV once for both kernel states: [`SocketStates`]' order.
pub(crate) const STATE_NAMES: [&str; TcpState::COUNT - 1] = [
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT1",
    "FIN_WAIT2",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "CLOSING",
];

/// The shown rows' sockets in the last dump, by state (as [`STATE_NAMES`])
/// and direction: `inbound` sums to the header's connections
/// ([`IpTable::connections`]) plus LISTEN (none: a listener has no peer).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SocketStates {
    pub(crate) inbound: [u64; STATE_NAMES.len()],
    pub(crate) outbound: [u64; STATE_NAMES.len()],
}

impl SocketStates {
    pub(crate) fn of(table: &IpTable) -> SocketStates {
        // Where each kernel state is counted, looked up once per call.
        let mut slot = [0usize; TcpState::COUNT];
        for (i, at) in slot.iter_mut().enumerate() {
            let name = TcpState::from_kernel(i as u8 + 1).map(TcpState::name);
            *at = STATE_NAMES
                .iter()
                .position(|&n| Some(n) == name)
                .unwrap_or(0);
        }
        let mut states = SocketStates::default();
        for row in table.rows() {
            let s = row.sockets();
            for ((&n_in, &n_out), &at) in s.in_states.iter().zip(&s.out_states).zip(&slot) {
                states.inbound[at] += u64::from(n_in);
                states.outbound[at] += u64::from(n_out);
            }
        }
        states
    }
}

#[cfg(test)]
mod tests;
