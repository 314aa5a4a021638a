//! The IP table: every source joined by client address.
//!
//! Rows live in a `Vec` arena indexed by a `u32` id, with a free list and a
//! hash index by address. `apply_*` are the only places where parsed events
//! (which borrow the read buffer) are copied: counters, rate rings and
//! interned strings. Memory is bounded: rows with no sockets and no activity
//! for `IDLE_EXPIRY_SECS` age out, and at `max_tracked_ips` a batch of rows is
//! evicted: quiet unflagged ones first, oldest first, and a flagged row only
//! when no unflagged one is left (a flood of one-request clients must not
//! push out the prober it hides).
//!
//! The table records what happened and nothing else: what makes a row
//! flagged is the detector's business (it reads rows, and hands eviction its
//! test through [`IpTable::set_flagged`]); GeoIP and whois records are
//! attached by the engine when a row is born ([`Applied::is_new`]).

mod activity;
mod hash;
mod hidden;
mod index;
mod intern;
mod rate;
mod recent;
mod ssh;

use std::cell::Cell;
use std::collections::HashSet;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Arc;

use smallvec::SmallVec;

pub(crate) use activity::{Activity, ActivityKind, ActivityLog};
pub(crate) use hash::SeededState;
pub(crate) use hidden::HIDDEN_MAX;
pub(crate) use intern::{Interner, StrId, MAX_STRING};
pub(crate) use rate::RateRing;
pub(crate) use recent::RecentRing;
use ssh::SshLog;
pub(crate) use ssh::{SshEvent, RECENT_SSH_EVENTS};

use crate::detect::Evidence;
use crate::net::{is_public, BlockId, BlockMark, GeoInfo, WhoisInfo};
use crate::parse::access::LeadAhead;
use crate::parse::sockets::{SocketEntry, TcpState};
use crate::parse::{AccessHit, AuthEvent, AuthKind, UnixTime};

/// Rows without sockets and without activity for this long are dropped.
pub(crate) const IDLE_EXPIRY_SECS: UnixTime = 5 * 60;
/// Recent requests a row keeps, unless `[log] max_log_entries_per_ip` is
/// smaller, or the row is widened (see [`IpTable::widen`]).
pub(crate) const RECENT_REQUESTS: usize = 20;
/// Recent-request slots all widened rows may hold together: 64 Ki entries,
/// 1.5 MiB at 24 bytes (656 rows at the default 100 entries, 6 at the
/// largest `max_log_entries_per_ip`). Past it a row stays at the small ring.
const WIDE_SLOTS_BUDGET: usize = 1 << 16;
/// String bytes the interner may hold (paths, user agents, methods), with
/// their bookkeeping (`intern::STRING_OVERHEAD` a string). Part of the
/// 64 MiB bound at 50 000 rows (`benches/memcap.py`): when unique strings
/// fill it, the newest 3 to 6 MiB of them stay readable.
const INTERNER_BYTE_CAP: usize = 6 << 20; // 6 MiB

// Every string the cap admits has an id ([`StrId`] is 16 bits): a string
// costs at least `1 + STRING_OVERHEAD` bytes of it, and 10 ids are pinned.
const _: () =
    assert!(INTERNER_BYTE_CAP / (intern::STRING_OVERHEAD + 1) + 10 < intern::MAX_SLOTS as usize);
/// Share of rows evicted at once when the table is full (1/16).
const EVICT_SHIFT: u32 = 4;

/// Eviction order of a row, lowest first: bit 63 flagged, bit 62 has
/// sockets, then its last-seen second (u32), then its last-active second
/// (u30, wrapping: a tie-break). One u64, so the pass over 50 000 rows sorts
/// 16-byte entries.
type EvictionKey = u64;

/// One request remembered for the drill-down, 16 bytes (the rings hold
/// most of the table's heap).
#[derive(Debug, Clone, Copy)]
pub struct RecentRequest {
    /// Unix seconds (u32 lasts until 2106).
    pub(crate) time: u32,
    pub(crate) bytes: u32,
    pub(crate) method: StrId,
    pub(crate) path: StrId,
    pub(crate) user_agent: StrId,
    pub(crate) status: u16,
}

/// Sockets of one remote address, rebuilt from every dump.
#[derive(Debug, Clone, Default)]
pub(crate) struct SocketSummary {
    pub(crate) in_states: [u16; TcpState::COUNT],
    pub(crate) out_states: [u16; TcpState::COUNT],
    /// Inbound sockets in any state but LISTEN.
    pub(crate) conns_in: u32,
    pub(crate) conns_out: u32,
    /// Local ports of inbound sockets (our services).
    pub(crate) services_in: SmallVec<[u16; 2]>,
    /// Remote ports of outbound sockets (their services).
    pub(crate) services_out: SmallVec<[u16; 2]>,
    /// Sockets per port of `services_in` (same index): the Services
    /// column orders by it.
    pub(crate) hits_in: SmallVec<[u16; 2]>,
    /// Sockets per port of `services_out` (same index).
    pub(crate) hits_out: SmallVec<[u16; 2]>,
}

impl SocketSummary {
    pub(crate) fn syn_recv_in(&self) -> u32 {
        u32::from(self.in_states[TcpState::SynRecv.index()])
            + u32::from(self.in_states[TcpState::NewSynRecv.index()])
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.conns_in == 0 && self.conns_out == 0
    }

    /// Socket counts by state name over both directions, SYN_RECV merged.
    pub(crate) fn states(&self) -> impl Iterator<Item = (&'static str, u32)> + '_ {
        let mut merged: SmallVec<[(&'static str, u32); 6]> = SmallVec::new();
        for i in 0..TcpState::COUNT {
            let n = u32::from(self.in_states[i]) + u32::from(self.out_states[i]);
            let Some(state) = TcpState::from_kernel(i as u8 + 1).filter(|_| n > 0) else {
                continue;
            };
            match merged.iter_mut().find(|(name, _)| *name == state.name()) {
                Some(entry) => entry.1 += n,
                None => merged.push((state.name(), n)),
            }
        }
        merged.into_iter()
    }

    fn add(&mut self, state: TcpState, inbound: bool, port: u16) {
        let (states, conns, services, hits) = if inbound {
            (
                &mut self.in_states,
                &mut self.conns_in,
                &mut self.services_in,
                &mut self.hits_in,
            )
        } else {
            (
                &mut self.out_states,
                &mut self.conns_out,
                &mut self.services_out,
                &mut self.hits_out,
            )
        };
        states[state.index()] = states[state.index()].saturating_add(1);
        *conns += 1;
        match services.iter().position(|&p| p == port) {
            Some(i) => hits[i] = hits[i].saturating_add(1),
            None => {
                services.push(port);
                hits.push(1);
            }
        }
    }
}

/// Everything known about one client address.
#[derive(Debug, Clone)]
pub struct Row {
    pub(crate) ip: IpAddr,
    /// Boxed: most rows come from log lines alone and never have a socket
    /// (8 bytes instead of 104 at 20 000 rows). Read it through
    /// [`Row::sockets`].
    sockets: Option<Box<SocketSummary>>,
    pub(crate) requests: u64,
    pub(crate) bytes: u64,
    /// Requests by status class: index 0 other/unknown, 1..=5 for 1xx..5xx.
    pub(crate) status: [u32; 6],
    pub(crate) rate: RateRing,
    pub(crate) recent: RecentRing,
    /// sshd counts, last failure and last events (user names cut short,
    /// inline), for detection and the drill-down; boxed: most rows never
    /// see sshd (8 bytes when absent). Read through [`Row::auth_count`],
    /// [`Row::last_failure`], [`Row::ssh_events`].
    ssh: Option<Box<SshLog>>,
    /// Event time of the first and last thing seen from this address, in
    /// unix seconds (u32, like `RecentRequest::time`: 12 bytes a row less
    /// than three `UnixTime`s). Read through [`Row::first_seen`] and
    /// [`Row::last_seen`].
    first_seen: u32,
    last_seen: u32,
    /// Wall clock of the last update (expiry and eviction), see
    /// [`Row::last_active`].
    last_active: u32,
    /// What the detector noted from requests as they arrived (when each
    /// reason last had evidence). The table stores it and never reads it.
    pub(crate) evidence: Evidence,
    /// Whether its recent-request ring may grow to `max_log_entries_per_ip`
    /// (opened in the drill-down, or flagged): see [`IpTable::widen`].
    wide: bool,
    /// GeoIP, attached by the engine when the row is created; `None` without
    /// a database or for an address it doesn't know (boxed: 8 bytes when absent).
    pub(crate) geo: Option<Box<GeoInfo>>,
    /// RDAP/whois answer, filled in when the worker replies.
    pub(crate) whois: Option<Box<WhoisInfo>>,
    /// Already blocked: which of the table's blocked marks, attached by the
    /// engine when the row is born and again when the marks change. Read
    /// through [`IpTable::blocked`].
    blocked: Option<BlockId>,
}

/// Hint the CPU to load the cache line at `at`; a no-op off x86_64. A
/// prefetch never faults, whatever the address.
#[inline]
fn prefetch_line(at: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it reads nothing and cannot fault.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(at.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

/// Positions of a dump's sockets but LISTEN ones, those of one remote
/// address together, each address's in dump order. The kernel hands sockets
/// out in its hash order, an address's scattered over the dump; applied
/// together, its row is created once and gets all of them before the next
/// address may evict it at `max_tracked_ips`, so a row the cap keeps has
/// every socket of its address (and the row stays in the cache meanwhile).
/// Allocated per dump (32 bytes a socket): not kept between dumps.
fn by_address(dump: &[SocketEntry]) -> impl Iterator<Item = u32> {
    let mut order: Vec<(u128, u32)> = dump
        .iter()
        .enumerate()
        .filter(|(_, s)| s.state != TcpState::Listen)
        .map(|(i, s)| (address_key(s.remote.ip().to_canonical()), i as u32))
        .collect();
    order.sort_unstable();
    order.into_iter().map(|(_, i)| i)
}

/// An address as one number, for grouping. IPv4 `a.b.c.d` and IPv6
/// `::a.b.c.d` share a key: their sockets may then interleave, which costs
/// a lookup, never a count (each socket still finds its own row).
fn address_key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// Unix seconds as u32 (lasts until 2106), clamped: what rows and rings store.
fn secs32(t: UnixTime) -> u32 {
    t.clamp(0, UnixTime::from(u32::MAX)) as u32
}

/// Index into `Row::status`: 1..=5 for 1xx..5xx, 0 for anything else.
pub(crate) fn status_class(status: u16) -> usize {
    match status {
        100..=599 => usize::from(status / 100),
        _ => 0,
    }
}

fn auth_index(kind: AuthKind) -> usize {
    match kind {
        AuthKind::Failed => 0,
        AuthKind::InvalidUser => 1,
        AuthKind::Accepted => 2,
        AuthKind::ClosedPreauth => 3,
        AuthKind::MaxAttempts => 4,
    }
}

/// What [`Row::sockets`] returns for a row that never had a socket.
static NO_SOCKETS: SocketSummary = SocketSummary {
    in_states: [0; TcpState::COUNT],
    out_states: [0; TcpState::COUNT],
    conns_in: 0,
    conns_out: 0,
    services_in: SmallVec::new_const(),
    services_out: SmallVec::new_const(),
    hits_in: SmallVec::new_const(),
    hits_out: SmallVec::new_const(),
};

impl Row {
    /// Whether its address is inside a network already blocked (see
    /// [`IpTable::blocked`] for by what).
    pub(crate) fn is_blocked(&self) -> bool {
        self.blocked.is_some()
    }

    /// Attach the row's blocked mark (the engine, when the row is born).
    pub(crate) fn set_blocked(&mut self, id: Option<BlockId>) {
        self.blocked = id;
    }

    /// Its sockets in the last dump (all zero when it has none).
    pub(crate) fn sockets(&self) -> &SocketSummary {
        self.sockets.as_deref().unwrap_or(&NO_SOCKETS)
    }

    /// The organisation shown: GeoIP's ASN organisation, else whois's
    /// organisation, else its network name.
    pub(crate) fn org(&self) -> Option<&str> {
        let geo = self.geo.as_deref().and_then(|g| g.org.as_deref());
        let whois = self.whois.as_deref();
        geo.or_else(|| whois.and_then(|w| w.org.as_deref()))
            .or_else(|| whois.and_then(|w| w.network.as_deref()))
    }

    fn new(ip: IpAddr, seen: UnixTime, now: UnixTime) -> Row {
        Row {
            ip,
            sockets: None,
            requests: 0,
            bytes: 0,
            status: [0; 6],
            rate: RateRing::default(),
            recent: RecentRing::default(),
            ssh: None,
            first_seen: secs32(seen),
            last_seen: secs32(seen),
            last_active: secs32(now),
            evidence: Evidence::default(),
            wide: false,
            geo: None,
            whois: None,
            blocked: None,
        }
    }

    /// The last sshd events, oldest first (at most [`RECENT_SSH_EVENTS`]).
    pub(crate) fn ssh_events(&self) -> impl DoubleEndedIterator<Item = &SshEvent> + '_ {
        self.ssh.iter().flat_map(|log| log.events.iter())
    }

    /// Event time of the first thing seen from this address.
    pub(crate) fn first_seen(&self) -> UnixTime {
        UnixTime::from(self.first_seen)
    }

    /// Event time of the last thing seen from this address.
    pub(crate) fn last_seen(&self) -> UnixTime {
        UnixTime::from(self.last_seen)
    }

    /// Wall clock of the last update (expiry and eviction).
    pub(crate) fn last_active(&self) -> UnixTime {
        UnixTime::from(self.last_active)
    }

    /// Event second of the last sshd failure (`failed` or `invalid_user`),
    /// 0 before the first.
    pub(crate) fn last_failure(&self) -> u32 {
        self.ssh.as_deref().map_or(0, |log| log.last_failure)
    }

    /// Event second of the first breach the detector noted (an sshd login
    /// accepted after failures), if any.
    pub(crate) fn breach_time(&self) -> Option<u32> {
        self.ssh
            .as_deref()
            .map(|log| log.breach)
            .filter(|&t| t != 0)
    }

    /// The detector's note of a breach at event second `t` (the first one
    /// is kept).
    pub(crate) fn note_breach(&mut self, t: UnixTime) {
        let log = self.ssh.get_or_insert_with(Box::default);
        if log.breach == 0 {
            log.breach = secs32(t).max(1);
        }
    }

    /// sshd events by kind (`auth_index` order), all 0 for a row sshd
    /// never mentioned.
    pub(crate) fn auth_counts(&self) -> [u32; 5] {
        self.ssh.as_deref().map_or([0; 5], |log| log.counts)
    }

    /// Recent requests it keeps at most, `max_recent` for a wide row.
    fn recent_cap(&self, max_recent: usize) -> usize {
        if self.wide {
            max_recent
        } else {
            RECENT_REQUESTS.min(max_recent)
        }
    }

    pub(crate) fn auth_count(&self, kind: AuthKind) -> u32 {
        self.auth_counts()[auth_index(kind)]
    }

    /// `failed` + `invalid_user` lines, as nethergaze 0.2.0 counts them.
    pub(crate) fn auth_failures(&self) -> u64 {
        u64::from(self.auth_count(AuthKind::Failed))
            + u64::from(self.auth_count(AuthKind::InvalidUser))
    }

    fn seen_at(&mut self, t: UnixTime, now: UnixTime) {
        let t = secs32(t);
        self.first_seen = self.first_seen.min(t);
        self.last_seen = self.last_seen.max(t);
        self.last_active = secs32(now);
    }

    /// Whether only outbound sockets tie this address to us.
    pub(crate) fn is_outbound_only(&self) -> bool {
        self.sockets().conns_out > 0
            && self.sockets().conns_in == 0
            && self.requests == 0
            && self.ssh.is_none()
    }
}

/// Session totals, including rows that have aged out since.
#[derive(Debug, Clone, Default)]
pub(crate) struct Totals {
    pub(crate) requests: u64,
    pub(crate) bytes: u64,
    pub(crate) auth_failures: u64,
    /// Inbound sockets seen for the first time in the last dump.
    pub(crate) new_conns_last_dump: u32,
    /// Inbound ESTABLISHED sockets in the last dump (shown rows only).
    pub(crate) established_in: u64,
    /// Requests over all rows, per second of event time.
    pub(crate) rate: RateRing,
    /// Event time of the oldest request seen: how far back the rate
    /// window is covered (`view::totals::req_per_sec`).
    pub(crate) first_request: Option<UnixTime>,
    /// Rows dropped at the `max_tracked_ips` cap (not those that aged out).
    pub(crate) evicted: u64,
}

/// An inbound socket across dumps: remote address, remote port, local port
/// (22 bytes, hashed with the table's keyed hash: the flood's addresses and
/// ports are the attacker's).
type InboundKey = (IpAddr, u16, u16);

/// Handle to a row, valid until the table next changes its set of rows (the
/// next `apply_*` or [`IpTable::expire`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowId(u32);

/// What an `apply_*` of a line did: the row it counted, and whether that
/// row was created for it (the engine then attaches its GeoIP record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub row: RowId,
    pub is_new: bool,
}

/// Whether a row is flagged at wall-clock `now`, so eviction can spare it:
/// handed in by whoever decides (the detector), see [`IpTable::set_flagged`].
type FlaggedTest = Box<dyn Fn(&Row, UnixTime) -> bool>;

pub struct IpTable {
    rows: Vec<Option<Row>>,
    free: Vec<u32>,
    /// Address to row id; hashed by `index_key`, confirmed on the row.
    index: index::HashIndex,
    index_key: hash::SeededState,
    pub(crate) strings: Interner,
    max_rows: usize,
    /// Tells flagged rows at eviction (see [`IpTable::set_flagged`]).
    is_flagged: FlaggedTest,
    show_private: bool,
    /// Private and loopback addresses not tracked while `show_private` is off.
    hidden: hidden::Hidden,
    pub(crate) totals: Totals,
    /// Recent requests and sshd events for the dashboard (off unless sized).
    pub(crate) activity: ActivityLog,
    /// Rows whose socket summary must be cleared before the next dump.
    with_sockets: Vec<u32>,
    /// Whether the rows are still what the last [`IpTable::apply_sockets`]
    /// left: no row with sockets removed since (evicted for a log line,
    /// hidden by `p`), no private address admitted again. Then applying the
    /// same dump again changes nothing but the rows' times
    /// ([`IpTable::reapply_same_sockets`]).
    sockets_intact: bool,
    listen_ports: Vec<u16>,
    inbound_now: HashSet<InboundKey, hash::SeededState>,
    inbound_before: HashSet<InboundKey, hash::SeededState>,
    /// `[log] max_log_entries_per_ip`: the recent-request ring of a widened row.
    max_recent: usize,
    /// Rows widened now (at most [`IpTable::max_wide_rows`]).
    wide_rows: usize,
    /// The row [`IpTable::prefetch`] found: the line's update takes it
    /// instead of hashing and probing for the same address again.
    prefetched: Cell<Option<u32>>,
    /// The row [`IpTable::next_line`] found for the next line's address,
    /// [`prefetched`](Self::prefetched) once that line comes
    /// ([`IpTable::next_line`]).
    prefetched_ahead: Cell<Option<u32>>,
    /// What rows' [`BlockId`]s point at.
    blocked: Arc<[BlockMark]>,
}

impl IpTable {
    pub fn new(max_rows: usize, show_private: bool) -> IpTable {
        IpTable {
            rows: Vec::new(),
            free: Vec::new(),
            index: index::HashIndex::default(),
            index_key: hash::SeededState::default(),
            strings: Interner::new(INTERNER_BYTE_CAP),
            max_rows: max_rows.max(1),
            is_flagged: Box::new(|_, _| false),
            show_private,
            hidden: hidden::Hidden::default(),
            totals: Totals::default(),
            activity: ActivityLog::default(),
            with_sockets: Vec::new(),
            sockets_intact: false,
            listen_ports: Vec::new(),
            inbound_now: HashSet::default(),
            inbound_before: HashSet::default(),
            max_recent: RECENT_REQUESTS,
            wide_rows: 0,
            prefetched: Cell::new(None),
            prefetched_ahead: Cell::new(None),
            blocked: Arc::from([]),
        }
    }

    /// The blocked networks changed: the new marks, and every row's
    /// address looked up again by `lookup`.
    pub(crate) fn set_blocked(
        &mut self,
        marks: Arc<[BlockMark]>,
        lookup: impl Fn(IpAddr) -> Option<BlockId>,
    ) {
        for row in self.rows.iter_mut().flatten() {
            row.blocked = lookup(row.ip);
        }
        self.blocked = marks;
    }

    /// Whether `row`'s address is inside a blocked network, and by what.
    pub(crate) fn blocked(&self, row: &Row) -> Option<&BlockMark> {
        row.blocked
            .and_then(|id| self.blocked.get(id.get() as usize - 1))
    }

    /// `[log] max_log_entries_per_ip` (0.2.0's per-address log): the
    /// recent requests a widened row keeps. Every row keeps
    /// [`RECENT_REQUESTS`] (or fewer, when this is smaller); only rows
    /// opened in the drill-down or flagged grow to this, and all of them
    /// together within `WIDE_SLOTS_BUDGET`: at `max_tracked_ips` rows a
    /// ring this size for every row could take gigabytes, while the rows
    /// anyone reads that far back are the ones they open or that stand out.
    pub(crate) fn set_max_recent(&mut self, entries: usize) {
        self.max_recent = entries.max(1);
    }

    /// Recent requests `row` keeps at most.
    pub(crate) fn recent_cap(&self, row: &Row) -> usize {
        row.recent_cap(self.max_recent)
    }

    /// Rows that may be widened at once.
    fn max_wide_rows(&self) -> usize {
        (WIDE_SLOTS_BUDGET / self.max_recent).max(1)
    }

    /// Let the row of `ip` keep `max_log_entries_per_ip` recent requests
    /// from now on (the drill-down opened it), while the budget allows:
    /// returns whether it is wide. A row stays wide until it goes.
    pub(crate) fn widen(&mut self, ip: IpAddr) -> bool {
        match self.id_of(ip) {
            Some(id) => self.widen_id(id),
            None => false,
        }
    }

    fn widen_id(&mut self, id: u32) -> bool {
        let room = self.wide_rows < self.max_wide_rows();
        let small = self.max_recent <= RECENT_REQUESTS;
        let row = self.live_row(id);
        if row.wide {
            return true;
        }
        if !room || small {
            return false;
        }
        row.wide = true;
        self.wide_rows += 1;
        true
    }

    /// Widen a row the detector just flagged (as [`IpTable::widen`]): it
    /// says so when it notes evidence, so nothing is asked per line.
    pub(crate) fn widen_row(&mut self, row: RowId) -> bool {
        self.widen_id(row.0)
    }

    /// How eviction tells a flagged row, which it evicts only once no
    /// unflagged row is left (until set, no row is flagged).
    pub fn set_flagged(&mut self, is_flagged: impl Fn(&Row, UnixTime) -> bool + 'static) {
        self.is_flagged = Box::new(is_flagged);
    }

    /// Whether an address is tracked at all (non-global ones only with `--show-private-ips`).
    pub(crate) fn is_shown(&self, ip: IpAddr) -> bool {
        self.show_private || is_public(ip)
    }

    /// [`is_shown`](Self::is_shown), counting an address that is not.
    #[inline]
    fn admit(&mut self, ip: IpAddr) -> bool {
        let shown = self.is_shown(ip);
        if !shown {
            self.hidden.note(ip);
        }
        shown
    }

    /// Whether private and loopback addresses are tracked.
    pub(crate) fn shows_private(&self) -> bool {
        self.show_private
    }

    /// Distinct private and loopback addresses seen but not tracked (at
    /// most [`HIDDEN_MAX`]); 0 while they are shown.
    pub(crate) fn hidden_private(&self) -> usize {
        self.hidden.count()
    }

    /// Track private and loopback addresses from now on, or stop: their
    /// rows then go, counted as hidden. Turning it on does not bring back
    /// what was hidden (those lines were counted, not kept): storing every
    /// private row just in case would let them crowd the `max_tracked_ips`
    /// cap, which is there for the public ones.
    pub(crate) fn set_show_private(&mut self, on: bool) {
        if on == self.show_private {
            return;
        }
        self.show_private = on;
        // Shown: the dump's private addresses become rows again; hidden:
        // their rows go below.
        self.sockets_intact = false;
        if on {
            self.hidden.clear();
            return;
        }
        let private: Vec<(u32, IpAddr)> = self
            .rows
            .iter()
            .enumerate()
            .filter_map(|(id, r)| r.as_ref().map(|r| (id as u32, r.ip)))
            .filter(|&(_, ip)| !is_public(ip))
            .collect();
        for (id, ip) in private {
            self.hidden.note(ip);
            self.remove(id);
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub(crate) fn get(&self, ip: IpAddr) -> Option<&Row> {
        self.id_of(ip)
            .and_then(|id| self.rows[id as usize].as_ref())
    }

    /// The index's hash of `ip`.
    #[inline]
    fn hash_of(&self, ip: IpAddr) -> u32 {
        self.index_key.hash_one(ip) as u32
    }

    /// The row id of `ip`, if it has a row.
    #[inline]
    fn id_of(&self, ip: IpAddr) -> Option<u32> {
        self.id_of_hashed(ip, self.hash_of(ip))
    }

    /// [`id_of`](Self::id_of) with the index's hash of `ip` at hand. One
    /// copy for every caller (the line's path takes the prefetched row).
    #[inline(never)]
    fn id_of_hashed(&self, ip: IpAddr, hash: u32) -> Option<u32> {
        let rows = &self.rows;
        self.index.find(
            hash,
            |id| matches!(rows.get(id as usize), Some(Some(row)) if row.ip == ip),
        )
    }

    pub(crate) fn rows(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().flatten()
    }

    /// The row an `apply_*` just counted, to attach enrichment or a
    /// classifier's [`Row::evidence`] to.
    pub(crate) fn row_mut(&mut self, id: RowId) -> &mut Row {
        self.live_row(id.0)
    }

    /// Attach a whois answer to the row of `ip`, if it is still tracked.
    pub(crate) fn set_whois(&mut self, ip: IpAddr, info: WhoisInfo) {
        if let Some(id) = self.id_of(ip) {
            self.live_row(id).whois = Some(Box::new(info));
        }
    }

    /// The row of `ip`, to change (the detector's notes; tests set GeoIP
    /// by hand).
    pub(crate) fn get_mut(&mut self, ip: IpAddr) -> Option<&mut Row> {
        let id = self.id_of(ip)?;
        self.rows[id as usize].as_mut()
    }

    /// Text of an interned string.
    pub(crate) fn text(&self, id: StrId) -> &[u8] {
        self.strings.get(id)
    }

    /// The row of `ip`, and whether it was created now. Inline for the
    /// common case, the row [`prefetch`](Self::prefetch) found.
    #[inline]
    fn row_id(&mut self, ip: IpAddr, seen: UnixTime, now: UnixTime) -> (u32, bool) {
        match self.take_prefetched(ip) {
            Some(id) => (id, false),
            None => self.row_id_looked_up(ip, seen, now),
        }
    }

    /// [`row_id`](Self::row_id) through the index, adding the row if new.
    #[inline(never)]
    fn row_id_looked_up(&mut self, ip: IpAddr, seen: UnixTime, now: UnixTime) -> (u32, bool) {
        let hash = self.hash_of(ip);
        if let Some(id) = self.id_of_hashed(ip, hash) {
            return (id, false);
        }
        if self.index.len() >= self.max_rows {
            self.evict(now);
        }
        let row = Some(Row::new(ip, seen, now));
        let id = match self.free.pop() {
            Some(id) => {
                self.rows[id as usize] = row;
                id
            }
            None => {
                if self.rows.len() == self.rows.capacity() {
                    // Doubling, but never past the cap: at 50 000 rows plain
                    // doubling reserves 65 536 (4.6 MB of rows never used).
                    let want = (self.rows.len() * 2).max(64).min(self.max_rows);
                    let more = want.saturating_sub(self.rows.len()).max(1);
                    self.rows.reserve_exact(more);
                }
                self.rows.push(row);
                (self.rows.len() - 1) as u32
            }
        };
        self.index.insert(hash, id);
        (id, true)
    }

    /// Start loading the row of `ip` into the cache without waiting for it:
    /// called with the address at the start of a log line, so the row's
    /// cache misses overlap with parsing the rest of the line.
    #[inline]
    pub fn prefetch(&self, ip: IpAddr) {
        self.prefetched.set(self.fetch_row(ip));
    }

    /// An access line starts, `next` the bytes read after it: the row
    /// fetched for it one line ago becomes its hint (taken when the address
    /// matches), and `ahead` reads the next line's address from `next` and
    /// that row starts loading, with a whole line's work to arrive (a
    /// [`prefetch`](Self::prefetch) after the address has only the rest of
    /// the parse). Returns what `ahead` knew of this line's address, for
    /// [`AccessParser::parse_after`](crate::parse::access::AccessParser::parse_after).
    #[inline]
    pub fn next_line(&self, ahead: &mut LeadAhead, next: &[u8]) -> LeadAhead {
        self.prefetched.set(self.prefetched_ahead.take());
        let known = *ahead;
        let fetched = ahead.read(next).and_then(|ip| self.fetch_row(ip));
        self.prefetched_ahead.set(fetched);
        known
    }

    /// The id the index holds for `ip`'s hash, its row's cache lines asked
    /// for. Unconfirmed (the row is what is being fetched):
    /// `take_prefetched` checks the row's address.
    #[inline]
    fn fetch_row(&self, ip: IpAddr) -> Option<u32> {
        let id = self.index.candidate(self.hash_of(ip))?;
        if (id as usize) < self.rows.len() {
            let row = self.rows.as_ptr().wrapping_add(id as usize).cast::<u8>();
            for line in (0..std::mem::size_of::<Option<Row>>()).step_by(64) {
                prefetch_line(row.wrapping_add(line));
            }
        }
        Some(id)
    }

    /// The row the last [`prefetch`](Self::prefetch) found, if it is the
    /// row of `ip`. Checked against the row itself, not trusted: a live row
    /// holding `ip` is the one the index maps `ip` to, whatever happened
    /// since the prefetch.
    #[inline]
    fn take_prefetched(&self, ip: IpAddr) -> Option<u32> {
        let id = self.prefetched.take()?;
        match self.rows.get(id as usize) {
            Some(Some(row)) if row.ip == ip => Some(id),
            _ => None,
        }
    }

    fn live_row(&mut self, id: u32) -> &mut Row {
        match &mut self.rows[id as usize] {
            Some(row) => row,
            None => unreachable!("row ids in the index always point at live rows"),
        }
    }

    fn remove(&mut self, id: u32) {
        if let Some(row) = self.rows[id as usize].take() {
            if !row.sockets().is_empty() {
                self.sockets_intact = false;
            }
            self.wide_rows -= usize::from(row.wide);
            self.index.remove(self.hash_of(row.ip), id);
            self.free.push(id);
        }
    }

    /// Free the strings no row refers to any more (mark and sweep). When the
    /// sweep also trimmed strings still held (the store was full), their ids
    /// become `DROPPED` here, before anything is interned again.
    fn sweep_strings(&mut self) {
        for row in self.rows.iter().flatten() {
            for r in row.recent.iter() {
                self.strings.mark(r.method);
                self.strings.mark(r.path);
                self.strings.mark(r.user_agent);
            }
        }
        self.activity.mark(&mut self.strings);
        if self.strings.sweep().trimmed == 0 {
            return;
        }
        let strings = &self.strings;
        let live = |id: &mut StrId| {
            if !strings.is_live(*id) {
                *id = StrId::DROPPED;
            }
        };
        for row in self.rows.iter_mut().flatten() {
            for r in row.recent.iter_mut() {
                live(&mut r.method);
                live(&mut r.path);
                live(&mut r.user_agent);
            }
        }
        self.activity.for_each_id(live);
    }

    /// Evict 1/16 of the rows in one pass, in the order of [`IpTable::eviction_key`]:
    /// a flagged row goes only once every unflagged one has (a full batch
    /// each time, so a table of flagged rows doesn't pay a pass per new row).
    fn evict(&mut self, now: UnixTime) {
        let mut order: Vec<(EvictionKey, u32)> = self
            .rows
            .iter()
            .enumerate()
            .filter_map(|(id, r)| r.as_ref().map(|r| (self.eviction_key(r, now), id as u32)))
            .collect();
        let count = (order.len() >> EVICT_SHIFT).max(1);
        order.select_nth_unstable(count - 1);
        for &(_, id) in &order[..count] {
            self.remove(id);
        }
        self.totals.evicted += count as u64;
    }

    /// Lower goes first: unflagged before flagged, quiet (no sockets) before
    /// connected, then the oldest event time, then the least recently updated.
    fn eviction_key(&self, row: &Row, now: UnixTime) -> EvictionKey {
        let flagged = (self.is_flagged)(row, now);
        u64::from(flagged) << 63
            | u64::from(!row.sockets().is_empty()) << 62
            | u64::from(row.last_seen) << 30
            | u64::from(row.last_active) & ((1 << 30) - 1)
    }

    /// Count one HTTP request. Returns it as recorded (its strings' ids), so
    /// a classifier needn't read it back from the row's ring (a cache miss
    /// the ring's write would otherwise hide); `None` when the client is not
    /// tracked.
    pub fn apply_access(
        &mut self,
        hit: &AccessHit<'_>,
        now: UnixTime,
    ) -> Option<(Applied, RecentRequest)> {
        let t = hit.time.unwrap_or(now);
        let (id, is_new) = match self.take_prefetched(hit.client) {
            // Admitted: a row is only made for an address that is shown,
            // and rows of addresses no longer shown go (`set_show_private`).
            Some(id) => (id, false),
            None if !self.admit(hit.client) => return None,
            None => self.row_id_looked_up(hit.client, t, now),
        };
        self.live_row(id).recent.prefetch_next();
        let request = RecentRequest {
            time: secs32(t),
            bytes: hit.bytes.min(u64::from(u32::MAX)) as u32,
            method: self.strings.intern(hit.method),
            path: self.strings.intern(hit.path),
            user_agent: self.strings.intern(hit.user_agent),
            status: hit.status,
        };
        self.totals.requests += 1;
        self.totals.bytes += hit.bytes;
        self.totals.rate.record(t);
        self.totals.first_request = Some(self.totals.first_request.map_or(t, |f| f.min(t)));
        let max_recent = self.max_recent;
        let row = self.live_row(id);
        let cap = row.recent_cap(max_recent);
        row.requests += 1;
        row.bytes += hit.bytes;
        row.status[status_class(hit.status)] += 1;
        row.rate.record(t);
        row.seen_at(t, now);
        row.recent.push(request, cap);
        self.activity.push(Activity {
            time: request.time,
            ip: hit.client,
            kind: ActivityKind::Http {
                method: request.method,
                path: request.path,
                user_agent: request.user_agent,
                status: request.status,
                bytes: request.bytes,
            },
        });
        if self.strings.wants_sweep() {
            self.sweep_strings();
        }
        let applied = Applied {
            row: RowId(id),
            is_new,
        };
        Some((applied, request))
    }

    /// Count one sshd event. `None` when the address is not tracked.
    pub(crate) fn apply_auth(&mut self, event: &AuthEvent<'_>, now: UnixTime) -> Option<Applied> {
        if !self.admit(event.ip) {
            return None;
        }
        let t = event.time.unwrap_or(now);
        let (id, is_new) = self.row_id(event.ip, t, now);
        if event.kind.is_failure() {
            self.totals.auth_failures += 1;
        }
        let time = secs32(t);
        let row = self.live_row(id);
        row.seen_at(t, now);
        let log = row.ssh.get_or_insert_with(Box::default);
        log.counts[auth_index(event.kind)] += 1;
        if event.kind.is_failure() {
            log.last_failure = log.last_failure.max(time.max(1));
        }
        ssh::push(&mut log.events, SshEvent::new(time, event.kind, event.user));
        if self.activity.is_enabled() {
            let user = self.strings.intern(event.user);
            self.activity.push(Activity {
                time,
                ip: event.ip,
                kind: ActivityKind::Ssh {
                    kind: event.kind,
                    user,
                },
            });
            if self.strings.wants_sweep() {
                self.sweep_strings();
            }
        }
        Some(Applied {
            row: RowId(id),
            is_new,
        })
    }

    /// Replace every row's socket summary with a complete dump.
    ///
    /// A socket whose local port is a LISTEN port, or in SYN_RECV, is inbound
    /// (service = the local port); any other non-LISTEN socket is outbound
    /// (service = remote port). `born` is called with each row created for
    /// a socket (the engine attaches its GeoIP record).
    pub(crate) fn apply_sockets(
        &mut self,
        dump: &[SocketEntry],
        now: UnixTime,
        mut born: impl FnMut(&mut Row),
    ) {
        for id in std::mem::take(&mut self.with_sockets) {
            if let Some(row) = self.rows[id as usize].as_mut() {
                // Cleared in place: an address with sockets now likely has
                // some in the next dump too.
                if let Some(sockets) = row.sockets.as_deref_mut() {
                    *sockets = SocketSummary::default();
                }
            }
        }
        self.listen_ports.clear();
        self.listen_ports.extend(
            dump.iter()
                .filter(|s| s.state == TcpState::Listen)
                .map(|s| s.local.port()),
        );
        self.listen_ports.sort_unstable();
        self.listen_ports.dedup();
        std::mem::swap(&mut self.inbound_now, &mut self.inbound_before);
        self.inbound_now.clear();
        for i in by_address(dump) {
            self.apply_socket(&dump[i as usize], now, &mut born);
        }
        // Only rows in `with_sockets` have any (a row evicted during this
        // dump left its id behind, maybe reused: each live id counted once).
        self.with_sockets.sort_unstable();
        self.with_sockets.dedup();
        self.totals.established_in = self
            .with_sockets
            .iter()
            .filter_map(|&id| self.rows[id as usize].as_ref())
            .map(|r| u64::from(r.sockets().in_states[TcpState::Established.index()]))
            .sum();
        self.totals.new_conns_last_dump = self
            .inbound_now
            .iter()
            .filter(|k| !self.inbound_before.contains(k))
            .count() as u32;
        // Rows the cap evicted during this dump are this dump's result.
        self.sockets_intact = true;
    }

    /// Apply again the dump [`IpTable::apply_sockets`] applied last (a tick
    /// skipped its dump, or the new dump is equal): if the rows are intact
    /// since, that changes only the times of the rows with sockets (seen
    /// now) and the count of new connections (none), so only those are
    /// written, not 60 000 sockets walked again under a flood. Returns
    /// false, changing nothing, when rows are not intact: the caller then
    /// applies the dump in full, which brings back rows it had made.
    pub(crate) fn reapply_same_sockets(&mut self, now: UnixTime) -> bool {
        if !self.sockets_intact {
            return false;
        }
        let now = secs32(now);
        for &id in &self.with_sockets {
            if let Some(row) = self.rows[id as usize].as_mut() {
                if !row.sockets().is_empty() {
                    row.last_seen = row.last_seen.max(now);
                    row.last_active = now;
                }
            }
        }
        self.totals.new_conns_last_dump = 0;
        true
    }

    fn apply_socket(
        &mut self,
        socket: &SocketEntry,
        now: UnixTime,
        born: &mut impl FnMut(&mut Row),
    ) {
        let remote = socket.remote.ip().to_canonical();
        if remote.is_unspecified() || !self.admit(remote) {
            return;
        }
        let inbound = self.is_inbound(socket);
        let port = if inbound {
            socket.local.port()
        } else {
            socket.remote.port()
        };
        if inbound {
            self.inbound_now
                .insert((remote, socket.remote.port(), socket.local.port()));
        }
        let (id, is_new) = self.row_id(remote, now, now);
        let row = self.live_row(id);
        if is_new {
            born(row);
        }
        if row.sockets().is_empty() {
            self.with_sockets.push(id);
        }
        let row = self.live_row(id);
        row.sockets
            .get_or_insert_with(Box::default)
            .add(socket.state, inbound, port);
        row.last_seen = row.last_seen.max(secs32(now));
        row.last_active = secs32(now);
    }

    /// Whether a local port was listening in the last dump (inbound sockets).
    pub(crate) fn is_listen_port(&self, port: u16) -> bool {
        self.listen_ports.binary_search(&port).is_ok()
    }

    /// Whether a socket of the last dump is one a peer opened to us: on a
    /// listening port, or in SYN_RECV (listener or not).
    pub(crate) fn is_inbound(&self, socket: &SocketEntry) -> bool {
        socket.state.is_passive_open() || self.is_listen_port(socket.local.port())
    }

    /// Drop rows with no sockets and nothing new for `IDLE_EXPIRY_SECS`.
    pub(crate) fn expire(&mut self, now: UnixTime) {
        let idle: Vec<u32> = self
            .rows
            .iter()
            .enumerate()
            .filter_map(|(id, r)| r.as_ref().map(|r| (id as u32, r)))
            // A breach is held for the run, idle or not.
            .filter(|(_, r)| r.sockets().is_empty() && r.breach_time().is_none())
            .filter(|(_, r)| now - r.last_active() >= IDLE_EXPIRY_SECS)
            .map(|(id, _)| id)
            .collect();
        for id in idle {
            self.remove(id);
        }
    }

    /// Inbound sockets (any state but LISTEN) over all rows.
    pub(crate) fn connections(&self) -> u64 {
        self.rows().map(|r| u64::from(r.sockets().conns_in)).sum()
    }

    /// End of the live rate window: the newest event or now, whichever is later.
    pub(crate) fn window_end(&self, now: UnixTime) -> UnixTime {
        self.totals.rate.newest().map_or(now, |t| t.max(now))
    }

    /// Rows in snapshot order: inbound connections, then requests, descending;
    /// then address, for a stable order.
    pub(crate) fn sorted(&self) -> Vec<&Row> {
        let mut rows: Vec<&Row> = self.rows().collect();
        rows.sort_by(|a, b| {
            (b.sockets().conns_in, b.requests)
                .cmp(&(a.sockets().conns_in, a.requests))
                .then_with(|| a.ip.cmp(&b.ip))
        });
        rows
    }
}

#[cfg(test)]
mod tests;
