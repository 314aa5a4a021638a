//! The left panel: one row per address, columns as nethergaze 0.2.0.
//!
//! Columns give way as the panel narrows, least useful first (Hx, Org, CC,
//! Auth, Svc, State, Bytes); `Last path` takes whatever is left.

use std::net::IpAddr;

use smallvec::SmallVec;

use super::draw::Pen;
use super::{Dashboard, Model, Panel, SortKey};
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
fn col_width(col: Col, ip_width: u16) -> u16 {
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
pub(super) fn sort_rows(rows: &mut Vec<&Row>, key: SortKey) {
    let mut ranked = Ranked::new(rows.iter().copied(), key, rows.len());
    ranked.order(0, ranked.len());
    rows.clear();
    rows.extend(ranked.keyed.into_iter().map(|(_, r)| r));
}

/// A row's place in the table's order: see [`row_key`].
type RowKey = (u128, u8, u128);

/// The rows that pass the filters, each with its key for the table's order,
/// of which a frame puts in order only the ones it shows ([`Ranked::order`]).
///
/// Sorting every row each frame (tens of thousands, four frames a second
/// while a log grows) was a quarter of the dashboard's CPU at 5 000 lines/s
/// for the ~50 rows a screen shows; a selection finds them in linear time.
pub(super) struct Ranked<'t> {
    keyed: Vec<(RowKey, &'t Row)>,
}

impl<'t> Ranked<'t> {
    /// `at_most`: an upper bound on the number of rows (the table's), so
    /// the keys are allocated once, not grown by doubling.
    pub(super) fn new(
        rows: impl Iterator<Item = &'t Row>,
        key: SortKey,
        at_most: usize,
    ) -> Ranked<'t> {
        let mut keyed = Vec::with_capacity(at_most);
        keyed.extend(rows.map(|r| (row_key(r, key), r)));
        Ranked { keyed }
    }

    pub(super) fn len(&self) -> usize {
        self.keyed.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.keyed.is_empty()
    }

    /// Where `ip` stands in the table's order (how many rows come before
    /// it), without ordering anything; `None` if it is not among the rows.
    pub(super) fn rank_of(&self, ip: IpAddr) -> Option<usize> {
        let &(at, _) = self.keyed.iter().find(|(_, r)| r.ip == ip)?;
        Some(self.keyed.iter().filter(|&&(k, _)| k < at).count())
    }

    /// Put the rows of places `lo..hi` (clamped to the rows) in the table's
    /// order: [`Ranked::get`] then answers for those places. The rest stay
    /// on their side of the range, in no particular order. Keys are unique
    /// (they end with the address), so there is one answer.
    pub(super) fn order(&mut self, lo: usize, hi: usize) {
        let hi = hi.min(self.keyed.len());
        if lo >= hi {
            return;
        }
        let by_key = |&(k, _): &(RowKey, &Row)| k;
        if hi < self.keyed.len() {
            self.keyed.select_nth_unstable_by_key(hi, by_key);
        }
        let head = &mut self.keyed[..hi];
        if lo > 0 {
            head.select_nth_unstable_by_key(lo, by_key);
        }
        head[lo..].sort_unstable_by_key(by_key);
    }

    /// The row at place `i`, once [`Ranked::order`] has covered `i`.
    pub(super) fn get(&self, i: usize) -> Option<&'t Row> {
        self.keyed.get(i).map(|&(_, r)| r)
    }

    /// Every row, in no particular order.
    pub(super) fn rows(&self) -> impl Iterator<Item = &'t Row> + '_ {
        self.keyed.iter().map(|&(_, r)| r)
    }
}

/// `(count descending, address family, address)`: ascending order of this
/// tuple is the table's order for `key` (IPv4 before IPv6, as `IpAddr`).
fn row_key(r: &Row, key: SortKey) -> RowKey {
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
    (u128::MAX - count, family, addr)
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
    rows: &mut Ranked<'_>,
    m: &Model<'_>,
) {
    if rect.is_empty() {
        return;
    }
    let t = d.theme;
    let (head, body) = rect.split_top(1);
    let ip_width = ip_width(rows.rows(), rect.width);
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
    let cursor = &mut d.cursor;
    if cursor.index < cursor.scroll {
        cursor.scroll = cursor.index;
    } else if page > 0 && cursor.index >= cursor.scroll + page {
        cursor.scroll = cursor.index + 1 - page;
    }
    cursor.scroll = cursor.scroll.min(rows.len().saturating_sub(page));
    let (scroll, selected) = (cursor.scroll, cursor.index);

    if rows.is_empty() {
        empty_message(d, g, body, m);
        return;
    }
    rows.order(scroll, scroll + page);
    for (i, row) in
        (scroll..(scroll + page).min(rows.len())).filter_map(|i| Some((i, rows.get(i)?)))
    {
        let y = body.y + (i - scroll) as u16;
        let view = RowView {
            row,
            table: m.table,
            reasons: m.detector.reasons(row),
            history: d.row_history.get(m.history, row.ip),
        };
        let base = if row.is_outbound_only() {
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
fn ip_width<'t>(rows: impl Iterator<Item = &'t Row>, panel_width: u16) -> u16 {
    // A long IPv6 address is elided in the middle (see `fit_address`)
    // rather than crowd out every other column of a narrow panel.
    let cap = IP_MAX.min((panel_width / 3).max(IP_MIN));
    let mut widest = 0;
    for r in rows {
        widest = widest.max(ip_len(r) + 1);
        if widest >= cap {
            break;
        }
    }
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
/// Every row's address is measured each frame, so IPv4 (the common case)
/// is counted from its octets rather than formatted.
pub(super) fn addr_len(ip: IpAddr) -> u16 {
    match ip {
        IpAddr::V4(a) => {
            a.octets()
                .iter()
                .map(|&o| 1 + u16::from(o >= 10) + u16::from(o >= 100))
                .sum::<u16>()
                + 3
        }
        IpAddr::V6(a) => {
            use std::io::Write as _;
            let mut buf = [0u8; 48];
            let mut cur = std::io::Cursor::new(&mut buf[..]);
            let _ = write!(cur, "{a}");
            cur.position() as u16
        }
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
fn put_cell(g: &mut Grid, x: u16, y: u16, w: u16, text: &str, numeric: bool, style: Style) {
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
    match col {
        Col::Ip => {
            let (mark, style) = if !reasons.is_empty() {
                ('!', t.suspicious())
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
            pen.text(address, if reasons.is_empty() { base } else { style });
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
            Pen::new(g, Rect::new(x, y, w, 1)).text(codes, t.suspicious());
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
