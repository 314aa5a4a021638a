//! The left panel: one row per address, columns as nethergaze 0.2.0.
//!
//! Columns give way as the panel narrows, least useful first (Hx, Org, CC,
//! Auth, Svc, State, Bytes); `Last path` takes whatever is left.

use std::net::IpAddr;

use smallvec::SmallVec;

use super::draw::Pen;
use super::{Dashboard, Model, Panel, SortKey};
use crate::detect::Reason;
use crate::table::{IpTable, Row, HIDDEN_MAX};
use crate::ui::sanitize::{text_width, ELLIPSIS};
use crate::ui::{Grid, Rect, Style};
use crate::view::columns::{Col, RowView};
use crate::view::format::write_services;

/// Which columns go first when the panel is too narrow.
const DROP_ORDER: [Col; 7] = [
    Col::Hx,
    Col::Org,
    Col::Cc,
    Col::Auth,
    Col::Svc,
    Col::State,
    Col::Bytes,
];

/// `Last path` is dropped too rather than shown narrower than this.
const LAST_MIN: u16 = 10;
/// The IP column fits `!255.255.255.255` at least, an IPv6 address at most.
const IP_MIN: u16 = 16;
const IP_MAX: u16 = 40;
/// Before an address a firewall or ban engine already blocks (in place of
/// `!`: the address stays red when it is suspicious).
pub(super) const BLOCKED_MARK: char = '⊘';

/// A column's title in the panel: the address column leaves a cell for
/// its mark; suspicious mode shows the reasons where the last path was.
fn title(col: Col, suspicious: bool) -> &'static str {
    match col {
        Col::Ip => " IP",
        Col::Last if suspicious => "Reasons",
        col => col.title(),
    }
}

/// Width before `Last path` takes the rest (room for a sort marker).
pub(super) fn col_width(col: Col, ip_width: u16) -> u16 {
    match col {
        Col::Ip => ip_width,
        Col::Cc => 2,
        Col::Org => 12,
        Col::Conns => 6,
        Col::State => 8,
        Col::Svc => 9,
        Col::Reqs => 6,
        Col::Bytes => 9,
        Col::Auth => 5,
        Col::Hx => 3,
        Col::Last | Col::Reasons => LAST_MIN,
        Col::Group => ip_width,
        Col::Members | Col::Suspects | Col::Rpm => 7,
    }
}

/// The order a column's header selects, for its sort marker.
fn sort_key(col: Col) -> Option<SortKey> {
    match col {
        Col::Ip => Some(SortKey::Ip),
        Col::Conns => Some(SortKey::Conns),
        Col::Svc => Some(SortKey::Services),
        Col::Reqs => Some(SortKey::Requests),
        Col::Bytes => Some(SortKey::Bytes),
        Col::Auth => Some(SortKey::Auth),
        _ => None,
    }
}

/// Sort rows for `key`: counts descending, addresses ascending; ties by address.
///
/// Each row's key is computed once into a compact tuple and the tuples are
/// sorted: with tens of thousands of rows, most at 0 connections, a
/// comparator reading the rows would mostly compare `IpAddr`s through
/// pointers, and that was most of a frame's cost. Addresses are unique, so
/// the order is total and an unstable sort gives the one order there is.
pub(super) fn sort_rows(rows: &mut Vec<&Row>, key: SortKey, ahead: &dyn Fn(&Row) -> bool) {
    let mut keyed: Vec<(RowKey, &Row)> =
        rows.iter().map(|&r| (row_key(r, key, ahead), r)).collect();
    keyed.sort_unstable_by_key(|&(k, _)| k);
    rows.clear();
    rows.extend(keyed.into_iter().map(|(_, r)| r));
}

/// A row's place in the table's order: see [`row_key`].
type RowKey = (bool, u128, u8, u128);

/// What a frame needs of the rows that pass the filters: how many there
/// are, the widest address, where the cursor's row stands, and the first
/// rows in table order, down to the bottom of what the screen shows.
///
/// Found in one pass that neither sorts nor keeps every row: with 20 000
/// clients, sorting them all each frame (four a second while a log grows)
/// to show ~50 was a quarter of the dashboard's CPU at 5 000 lines/s, and
/// the keyed copy of every row (56 bytes each) was mapped and unmapped
/// again every frame. Only the best `2 × keep` candidates are held.
pub(super) struct FrameRows<'t> {
    len: usize,
    /// Characters of the longest address, plus its mark.
    widest_ip: u16,
    /// Rows before the cursor's, if the cursor's row passes.
    cursor_rank: Option<usize>,
    /// The first rows in table order (at most `keep`).
    top: Vec<(RowKey, &'t Row)>,
}

impl<'t> FrameRows<'t> {
    /// Scan `rows` (those that pass the filters) for `key`'s order, keeping
    /// the first `keep` (at least one); `cursor`: the cursor's row, if it
    /// passes the filters.
    pub(super) fn scan(
        rows: impl Iterator<Item = &'t Row>,
        key: SortKey,
        ahead: &dyn Fn(&Row) -> bool,
        cursor: Option<&Row>,
        keep: usize,
    ) -> FrameRows<'t> {
        let keep = keep.max(1);
        let by_key = |&(k, _): &(RowKey, &Row)| k;
        let cursor_key = cursor.map(|r| row_key(r, key, ahead));
        let (mut len, mut widest_ip, mut before) = (0, 0, 0);
        let mut top = Vec::with_capacity(2 * keep);
        // Keys from here on cannot be among the first `keep` (keys are unique).
        let mut bound: Option<RowKey> = None;
        for r in rows {
            len += 1;
            widest_ip = widest_ip.max(ip_len(r) + 1);
            let k = row_key(r, key, ahead);
            if cursor_key.is_some_and(|c| k < c) {
                before += 1;
            }
            if bound.is_some_and(|b| k >= b) {
                continue;
            }
            top.push((k, r));
            if top.len() == 2 * keep {
                top.select_nth_unstable_by_key(keep, by_key);
                bound = Some(top[keep].0);
                top.truncate(keep);
            }
        }
        top.sort_unstable_by_key(by_key);
        top.truncate(keep);
        FrameRows {
            len,
            widest_ip,
            cursor_rank: cursor_key.map(|_| before),
            top,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[cfg(test)]
    pub(super) fn widest_ip(&self) -> u16 {
        self.widest_ip
    }

    pub(super) fn cursor_rank(&self) -> Option<usize> {
        self.cursor_rank
    }

    /// Whether the rows at places `..end` are all held.
    pub(super) fn holds(&self, end: usize) -> bool {
        self.top.len() >= end.min(self.len)
    }

    /// The row at place `i` in table order, if held.
    pub(super) fn get(&self, i: usize) -> Option<&'t Row> {
        self.top.get(i).map(|&(_, r)| r)
    }
}

/// `(count descending, address family, address)`: ascending order of this
/// tuple is the table's order for `key` (IPv4 before IPv6, as `IpAddr`).
/// `ahead` rows come first (breaches in suspicious mode), each part in `key`'s order.
fn row_key(r: &Row, key: SortKey, ahead: &dyn Fn(&Row) -> bool) -> RowKey {
    // The Conns column's count: inbound sockets (`RowView::conns`).
    let conns = u128::from(r.sockets().conns_in);
    let count: u128 = match key {
        // Connections, then requests: 33 bits over 64.
        SortKey::Conns => (conns << 64) | u128::from(r.requests),
        SortKey::Requests => u128::from(r.requests),
        SortKey::Bytes => u128::from(r.bytes),
        SortKey::Auth => u128::from(r.auth_failures()),
        SortKey::Services => service_count(r) as u128,
        SortKey::Ip => 0,
    };
    let (family, addr) = match r.ip {
        IpAddr::V4(a) => (4, u128::from(u32::from(a))),
        IpAddr::V6(a) => (6, u128::from(a)),
    };
    (!ahead(r), u128::MAX - count, family, addr)
}

fn service_count(r: &Row) -> usize {
    r.sockets().services_in.len() + r.sockets().services_out.len()
}

/// `(column, x, width)` of each column shown in `width` cells.
fn layout(x0: u16, width: u16, ip_width: u16) -> SmallVec<[(Col, u16, u16); 11]> {
    let mut cols: SmallVec<[Col; 11]> = Col::columns(false).collect();
    let total = |cols: &[Col]| -> u32 {
        cols.iter()
            .map(|&c| u32::from(col_width(c, ip_width)) + 1)
            .sum::<u32>()
            .saturating_sub(1)
    };
    let mut drops = DROP_ORDER.iter();
    while total(&cols) > u32::from(width) {
        let next = drops
            .next()
            .copied()
            .or(Some(Col::Last).filter(|_| cols.contains(&Col::Last)));
        let Some(drop) = next else { break };
        cols.retain(|c| *c != drop);
    }
    let mut out = SmallVec::new();
    let mut x = x0;
    let right = x0.saturating_add(width);
    for c in cols {
        let w = if c == Col::Last {
            right.saturating_sub(x)
        } else {
            col_width(c, ip_width)
        };
        out.push((c, x, w));
        x = x.saturating_add(w).saturating_add(1);
    }
    out
}

pub(super) fn draw(
    d: &mut Dashboard,
    g: &mut Grid,
    rect: Rect,
    rows: &FrameRows<'_>,
    m: &Model<'_>,
) {
    if rect.is_empty() {
        return;
    }
    let t = d.theme;
    let (head, body) = rect.split_top(1);
    let ip_width = ip_width(rows.widest_ip, rect.width);
    let cols = layout(rect.x, rect.width, ip_width);

    let focused = d.focus == Panel::Table;
    g.fill(head, t.column_header(focused));
    for &(col, x, w) in &cols {
        let cell = &mut d.cell;
        cell.clear();
        cell.push_str(title(col, d.suspicious));
        if sort_key(col) == Some(d.sort) {
            cell.push(if d.sort == SortKey::Ip { '▲' } else { '▼' });
        }
        put_cell(
            g,
            x,
            head.y,
            w,
            cell,
            col.is_numeric(),
            t.column_header(focused),
        );
    }

    let page = usize::from(body.height);
    d.table_page = page;
    d.cursor.follow(page, rows.len());
    let (scroll, selected) = (d.cursor.scroll, d.cursor.index);

    if rows.is_empty() {
        empty_message(d, g, body, m);
        return;
    }
    for i in scroll..(scroll + page).min(rows.len()) {
        // Held: `Dashboard::frame_rows` scrolled for this same page.
        let Some(row) = rows.get(i) else { break };
        let y = body.y + (i - scroll) as u16;
        let view = RowView {
            row,
            table: m.table,
            reasons: m.detector.reasons(row),
            history: d.row_history.get(m.history, row.ip),
        };
        let base = if view.reasons.contains(Reason::Breach) {
            t.breach()
        } else if row.is_outbound_only() {
            t.outbound()
        } else {
            Style::new()
        };
        for &(col, x, w) in &cols {
            draw_cell(d, g, (col, x, y, w), &view, base);
        }
        if i == selected {
            g.map_style(Rect::new(rect.x, y, rect.width, 1), |s| t.selected(s));
        }
    }
}

/// Width of the IP column: the longest address and its mark, within bounds.
/// `widest`: the longest address's characters plus its mark.
fn ip_width(widest: u16, panel_width: u16) -> u16 {
    // A long IPv6 address is elided in the middle (see `fit_address`)
    // rather than crowd out every other column of a narrow panel.
    let cap = IP_MAX.min((panel_width / 3).max(IP_MIN));
    widest.clamp(IP_MIN, IP_MAX).min(cap)
}

/// `n` hidden addresses as the screen says it: a floor at the counter's cap.
pub(super) fn hidden_count(n: usize) -> String {
    if n >= HIDDEN_MAX {
        format!("{n}+")
    } else {
        n.to_string()
    }
}

/// The help screen's line on private addresses: how many are hidden and
/// how to show them, or that they are shown.
pub(super) fn private_help(table: &IpTable) -> String {
    let hidden = table.hidden_private();
    if table.shows_private() {
        "shown (p hides them again)".to_string()
    } else if hidden > 0 {
        format!(
            "{} hidden: p shows them from now on (--show-private-ips from the start)",
            hidden_count(hidden)
        )
    } else {
        "hidden, none seen yet: p shows them (--show-private-ips from the start)".to_string()
    }
}

fn empty_message(d: &Dashboard, g: &mut Grid, body: Rect, m: &Model<'_>) {
    let hidden = m.table.hidden_private();
    let text: std::borrow::Cow<'_, str> = if m.table.is_empty() && hidden > 0 {
        // Everything seen was private (a load balancer on 10/8, Docker,
        // loopback): say so, or the screen looks dead.
        let es = if hidden == 1 { "" } else { "es" };
        format!(
            "no public IPs yet: {} private/loopback address{es} hidden (p shows them, as --show-private-ips)",
            hidden_count(hidden)
        )
        .into()
    } else if m.table.is_empty() {
        "no IPs yet: waiting for sockets and log lines".into()
    } else if d.suspicious {
        "no suspicious IPs (press ! to show all)".into()
    } else {
        "no IP matches the filter (/ then Enter on an empty line clears it)".into()
    };
    g.put_str(
        body.x + 1,
        body.y,
        body.width.saturating_sub(1),
        &text,
        d.theme.faint(),
    );
}

/// Characters of the row's address as text.
fn ip_len(row: &Row) -> u16 {
    addr_len(row.ip)
}

/// Characters of an address as text (what `Display` writes).
///
/// Every row's address is measured each frame (the IP column is as wide as
/// the widest one), so addresses are counted, not formatted.
pub(super) fn addr_len(ip: IpAddr) -> u16 {
    match ip {
        IpAddr::V4(a) => v4_len(a),
        IpAddr::V6(a) => v6_len(a),
    }
}

fn v4_len(a: std::net::Ipv4Addr) -> u16 {
    a.octets()
        .iter()
        .map(|&o| 1 + u16::from(o >= 10) + u16::from(o >= 100))
        .sum::<u16>()
        + 3
}

/// What std's `Display` writes (RFC 5952): `::ffff:` and dotted IPv4 for
/// a mapped address; else hex groups without leading zeros, the longest
/// run of two or more zero groups (the first of equals) written as `::`.
fn v6_len(a: std::net::Ipv6Addr) -> u16 {
    if let Some(v4) = a.to_ipv4_mapped() {
        return 7 + v4_len(v4);
    }
    let groups = a.segments();
    let (mut run, mut longest) = ((0, 0), (0, 0)); // (start, length)
    for (i, &g) in groups.iter().enumerate() {
        if g != 0 {
            run = (i + 1, 0);
            continue;
        }
        run.1 += 1;
        if run.1 > longest.1 {
            longest = run;
        }
    }
    let joined = |gs: &[u16]| -> u16 {
        let digits: u16 = gs
            .iter()
            .map(|&g| 1 + u16::from(g > 0xf) + u16::from(g > 0xff) + u16::from(g > 0xfff))
            .sum();
        digits + (gs.len() as u16).saturating_sub(1)
    };
    match longest {
        (start, len) if len > 1 => joined(&groups[..start]) + 2 + joined(&groups[start + len..]),
        _ => joined(&groups),
    }
}

/// An address in at most `room` cells: whole when it fits, else both ends
/// around `…`. Never cut at one end only: two addresses of one network
/// would then look the same (an IPv6 host differs in its last groups).
/// The end keeps the larger half; the drill-down shows the whole address.
#[cfg(test)]
fn fit_address(ip: IpAddr, room: usize) -> String {
    let mut out = String::new();
    write_fit_address(&mut out, ip, room);
    out
}

/// [`fit_address`] appended to `out`, which the table reuses for every row
/// of every frame.
pub(super) fn write_fit_address(out: &mut String, ip: IpAddr, room: usize) {
    use std::fmt::Write as _;
    let start = out.len();
    let _ = write!(out, "{ip}");
    // Address text is ASCII: byte offsets are character offsets.
    let len = out.len() - start;
    if len <= room || room < 3 {
        return;
    }
    let head = (room - 1) / 2;
    let tail = room - 1 - head;
    let mut mark = [0; 4];
    out.replace_range(
        start + head..start + len - tail,
        ELLIPSIS.encode_utf8(&mut mark),
    );
}

/// Text in a column, right-aligned for numbers.
pub(super) fn put_cell(
    g: &mut Grid,
    x: u16,
    y: u16,
    w: u16,
    text: &str,
    numeric: bool,
    style: Style,
) {
    let tw = text_width(text).min(usize::from(w)) as u16;
    let x = if numeric { x + (w - tw) } else { x };
    g.put_str(x, y, w, text, style);
}

fn draw_cell(
    d: &mut Dashboard,
    g: &mut Grid,
    (col, x, y, w): (Col, u16, u16, u16),
    v: &RowView<'_>,
    base: Style,
) {
    let t = d.theme;
    let (row, reasons) = (v.row, v.reasons);
    // A breach colours the whole row (`base`); other reasons the mark and codes.
    let flagged = if reasons.contains(Reason::Breach) {
        base
    } else {
        t.suspicious()
    };
    match col {
        Col::Ip => {
            let (mark, style) = if v.table.blocked(row).is_some() {
                // Already handled: the mark says so, the address keeps its colour.
                (BLOCKED_MARK, t.faint())
            } else if !reasons.is_empty() {
                ('!', flagged)
            } else if row.is_outbound_only() {
                ('→', base)
            } else {
                (' ', base)
            };
            let address = &mut d.cell;
            address.clear();
            write_fit_address(address, row.ip, usize::from(w.saturating_sub(1)));
            let mut pen = Pen::new(g, Rect::new(x, y, w, 1));
            pen.text(mark.encode_utf8(&mut [0; 4]), style);
            let address_style = if reasons.is_empty() {
                base
            } else {
                t.suspicious()
            };
            pen.text(address, address_style);
        }
        Col::Last if d.suspicious => {
            let codes = &mut d.cell;
            codes.clear();
            for (i, r) in reasons.iter().enumerate() {
                if i > 0 {
                    codes.push(',');
                }
                codes.push_str(r.code());
            }
            Pen::new(g, Rect::new(x, y, w, 1)).text(codes, flagged);
        }
        Col::Last => {
            if let Some(r) = row.recent.back() {
                let mut pen = Pen::new(g, Rect::new(x, y, w, 1));
                pen.bytes(v.table.text(r.method), base.bold());
                pen.text(" ", base);
                pen.bytes(v.table.text(r.path), base);
            }
        }
        Col::Svc => {
            let cell = &mut d.cell;
            cell.clear();
            // Those that don't fit the column are counted (`+N`), not clipped.
            write_services(cell, row, usize::from(w));
            if col.is_blank(cell) {
                cell.push('-');
            }
            put_cell(g, x, y, w, cell, col.is_numeric(), base);
        }
        col => {
            let cell = &mut d.cell;
            cell.clear();
            col.write(v, cell);
            if col.is_blank(cell) {
                cell.clear();
                cell.push('-');
            }
            put_cell(g, x, y, w, cell, col.is_numeric(), base);
        }
    }
}

#[cfg(test)]
mod tests;
