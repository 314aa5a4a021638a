//! The screen's layout and its one-line bars: header, top offenders, stats,
//! and the hints line (which also shows status messages and the `/` line).
//!
//! ```text
//! header     host, system uptime and our run time, totals, SUSPICIOUS / filter markers
//! offenders  req/s, new conns/s, top 3 by request rate and by connections
//! main       IP table │ activity log side by side from SPLIT_MIN_WIDTH;
//!            narrower, the focused one of them (Tab) over the full width
//! stats      access and sshd lines read, malformed access lines, rows evicted at
//!            the cap, private addresses hidden (and the key that shows them), sort,
//!            bytes sent, sources with errors
//! hints      keys, or a status message, or the filter line being edited
//! ```

use std::fmt::Write as _;

use super::{activity, modal, table, Dashboard, Modal, Model, Panel};
use crate::source::vnstat::VnstatStatus;
use crate::ui::{Grid, Rect, Style};

/// Below this the dashboard shows one line saying so.
pub(crate) const MIN_WIDTH: u16 = 40;
pub(crate) const MIN_HEIGHT: u16 = 10;
/// From this width the activity log gets the right part of the screen.
pub(crate) const SPLIT_MIN_WIDTH: u16 = 120;
/// Share of the main area the table gets when split (eighths): every
/// column fits from 160 columns on.
const TABLE_EIGHTHS: u16 = 5;

/// Writes left to right along one row, never past `right`.
pub(super) struct Pen<'g> {
    pub(crate) grid: &'g mut Grid,
    pub(crate) x: u16,
    pub(crate) y: u16,
    pub(crate) right: u16,
}

impl<'g> Pen<'g> {
    /// A pen on the first row of `rect`.
    pub(crate) fn new(grid: &'g mut Grid, rect: Rect) -> Pen<'g> {
        Pen {
            grid,
            x: rect.x,
            y: rect.y,
            right: if rect.is_empty() {
                rect.x
            } else {
                rect.right()
            },
        }
    }

    /// Cells left on the row.
    pub(crate) fn room(&self) -> u16 {
        self.right.saturating_sub(self.x)
    }

    /// Program text (still sanitised by the grid).
    pub(crate) fn text(&mut self, text: &str, style: Style) -> &mut Self {
        let room = self.room();
        self.x += self.grid.put_str(self.x, self.y, room, text, style);
        self
    }

    /// Text from the outside world.
    pub(crate) fn bytes(&mut self, bytes: &[u8], style: Style) -> &mut Self {
        let room = self.room();
        self.x += self.grid.put_bytes(self.x, self.y, room, bytes, style);
        self
    }
}

pub(super) fn screen(d: &mut Dashboard, g: &mut Grid, m: &Model<'_>) {
    let area = g.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(g);
        d.activity_shown = false;
        return;
    }
    let (header_row, rest) = area.split_top(1);
    let (offenders_row, rest) = rest.split_top(1);
    let (main, bottom) = rest.split_bottom(2);
    let (stats_row, hints_row) = bottom.split_top(1);

    // The table's body (below its header row) when the table is drawn.
    let table_shown = main.width >= SPLIT_MIN_WIDTH || d.focus == Panel::Table;
    let page = if table_shown {
        usize::from(main.height.saturating_sub(1))
    } else {
        0
    };
    let rows = d.frame_rows(m, page);
    if d.grouping.shows_groups() {
        // Groups sum every visible row, not just the window's.
        let all = d.visible_rows(m);
        d.grouping.rebuild(&all, m, d.suspicious, d.sort);
    }
    header(d, g, header_row, m);
    offenders(d, g, offenders_row, m);
    if main.width >= SPLIT_MIN_WIDTH {
        let (left, right) = main.split_ratio(TABLE_EIGHTHS, 8);
        let (sep, right) = right.split_left(1);
        g.fill_char(sep, '│', d.theme.faint());
        table_or_groups(d, g, left, &rows, m);
        activity::draw(d, g, right, m);
        d.activity_shown = true;
    } else {
        // Too narrow for both: Tab gives the full width to one or the other.
        match d.focus {
            Panel::Table => table_or_groups(d, g, main, &rows, m),
            Panel::Activity => activity::draw(d, g, main, m),
        }
        d.activity_shown = true;
    }
    stats(d, g, stats_row, m, rows.len());
    hints(d, g, hints_row);
    modal::draw(d, g, area, m);
}

/// One line, as much of it as fits: no layout below the minimum size.
fn too_small(g: &mut Grid) {
    let text = format!("terminal too small: {MIN_WIDTH}×{MIN_HEIGHT} needed");
    let w = g.width();
    g.put_str(0, 0, w, &text, Style::new().bold());
}

fn header(d: &Dashboard, g: &mut Grid, rect: Rect, m: &Model<'_>) {
    let t = d.theme;
    g.fill(rect, t.header());
    // Markers first, right-aligned, so a narrow header never hides them.
    let mut markers = String::new();
    if d.suspicious {
        markers.push_str(" SUSPICIOUS ");
    }
    if let Some(text) = &d.text_filter {
        let _ = write!(markers, " filter: {text} ");
    }
    if d.filter.spec.is_active() {
        let _ = write!(markers, " {} ", d.filter.spec.describe());
    }
    let marker_w = (crate::ui::sanitize::text_width(&markers) as u16).min(rect.width / 2);
    let (left, right) = rect.split_right(marker_w);
    g.put_str(right.x, right.y, right.width, &markers, t.marker());

    let table = m.table;
    let end = table.window_end(m.now);
    let mut line = String::with_capacity(128);
    let _ = write!(
        line,
        " nethergaze │ {} │ up {} · watching {} │ {} IPs │ {} conns ({} est) │ {} req │ {} req/min ",
        d.host,
        Uptime(m.booted.map(|booted| m.now - booted)),
        Duration(m.now - m.started),
        table.len(),
        table.connections(),
        table.totals.established_in,
        table.totals.requests,
        table.totals.rate.per_minute(end),
    );
    if let Some(bw) = m.bandwidth {
        match bw.rates() {
            Some(r) => {
                let _ = write!(
                    line,
                    "│ {} rx {}/s tx {}/s ",
                    bw.iface(),
                    crate::view::format::human_bytes(r.rx as u64),
                    crate::view::format::human_bytes(r.tx as u64)
                );
            }
            None if bw.error().is_some() => {
                let _ = write!(line, "│ rx/tx: {} ", bw.error().unwrap_or_default());
            }
            None => {}
        }
    }
    if let Some(month) = m.vnstat.and_then(VnstatStatus::month) {
        line.push_str("│ month ↓");
        crate::view::format::write_human_bytes(&mut line, month.rx);
        line.push_str(" ↑");
        crate::view::format::write_human_bytes(&mut line, month.tx);
        line.push_str(" (vnstat) ");
    }
    if let Some(geoip) = m.geoip.filter(|g| g.note().is_some()) {
        let what = if geoip.is_active() { "partial" } else { "none" };
        let _ = write!(line, "│ GeoIP: {what} ");
    }
    g.put_str(left.x, left.y, left.width, &line, t.header());
}

/// `45s`, `12m05s`, `3h04m`, `2d03h`.
pub(super) fn duration(secs: i64) -> String {
    Duration(secs).to_string()
}

/// A span of seconds as [`duration`] writes it, without a String.
struct Duration(i64);

impl std::fmt::Display for Duration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.0.max(0);
        match s {
            0..=59 => write!(f, "{s}s"),
            60..=3599 => write!(f, "{}m{:02}s", s / 60, s % 60),
            3600..=86_399 => write!(f, "{}h{:02}m", s / 3600, s % 3600 / 60),
            _ => write!(f, "{}d{:02}h", s / 86_400, s % 86_400 / 3600),
        }
    }
}

/// The system's uptime, `?` when /proc/uptime could not be read.
struct Uptime(Option<i64>);

impl std::fmt::Display for Uptime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(secs) => Duration(secs).fmt(f),
            None => f.write_str("?"),
        }
    }
}

fn offenders(d: &Dashboard, g: &mut Grid, rect: Rect, m: &Model<'_>) {
    let t = d.theme;
    g.fill(rect, t.offenders());
    let table = m.table;
    let end = table.window_end(m.now);
    let req_per_sec = crate::view::totals::req_per_sec(table, m.started, end);
    let new_per_sec = crate::view::totals::new_conns_per_sec(table, m.interval_secs);
    let mut by_rate: [(u32, Option<std::net::IpAddr>); 3] = [(0, None); 3];
    let mut by_conns: [(u32, Option<std::net::IpAddr>); 3] = [(0, None); 3];
    for row in table.rows() {
        keep_top(&mut by_conns, row.sockets().conns_in, row.ip);
        // The rate's peak bounds its rate now: a row that cannot reach the
        // third place is not summed (most rows, every frame).
        if row.rate.peak() >= by_rate[2].0 {
            keep_top(&mut by_rate, row.rate.per_minute(end), row.ip);
        }
    }
    let mut line = format!(" req/s {req_per_sec:.1} │ new conns/s {new_per_sec:.1} │ top req/min:");
    push_top(&mut line, &by_rate);
    line.push_str(" │ top conns:");
    push_top(&mut line, &by_conns);
    g.put_str(rect.x, rect.y, rect.width, &line, t.offenders());
}

/// Insert `(n, ip)` into a descending top list if it belongs there (n > 0).
/// Ties go to the lower address, so the bar does not flicker between equals.
fn keep_top(top: &mut [(u32, Option<std::net::IpAddr>)], n: u32, ip: std::net::IpAddr) {
    if n == 0 {
        return;
    }
    let beats = |&(m, other): &(u32, Option<std::net::IpAddr>)| {
        n > m || (n == m && other.is_none_or(|other| ip < other))
    };
    let Some(at) = top.iter().position(beats) else {
        return;
    };
    top[at..].rotate_right(1);
    top[at] = (n, Some(ip));
}

fn push_top(line: &mut String, top: &[(u32, Option<std::net::IpAddr>)]) {
    let mut any = false;
    for (n, ip) in top {
        if let Some(ip) = ip {
            let _ = write!(line, " {ip} ({n})");
            any = true;
        }
    }
    if !any {
        line.push_str(" -");
    }
}

fn stats(d: &Dashboard, g: &mut Grid, rect: Rect, m: &Model<'_>, shown: usize) {
    let t = d.theme;
    g.fill(rect, t.bar());
    // As the JSON summary counts them (`view::totals`): access lines, and
    // sshd lines once there are any (the bar is short at 80 columns).
    let lines = crate::view::totals::LineCounts::of(m.sources);
    let mut text = format!(" lines {}", lines.access);
    if lines.auth > 0 {
        let _ = write!(text, " · sshd {}", lines.auth);
    }
    let _ = write!(text, " │ malformed {} │ ", lines.malformed);
    // Rows dropped at max_tracked_ips: the table is not the whole picture.
    if m.table.totals.evicted > 0 {
        let _ = write!(text, "evicted {} │ ", m.table.totals.evicted);
    }
    if shown != m.table.len() {
        let _ = write!(text, "showing {shown} of {} IPs │ ", m.table.len());
    }
    // Private addresses are not rows: say how many, and the key.
    let hidden = m.table.hidden_private();
    if hidden > 0 {
        let n = super::table::hidden_count(hidden);
        let _ = write!(text, "{n} private hidden (p shows) │ ");
    }
    let _ = write!(text, "sort: {} │ sent ", d.sort.name());
    // Response bytes over all requests (0.2.0's "Sent").
    crate::view::format::write_human_bytes(&mut text, m.table.totals.bytes);
    text.push(' ');
    let mut pen = Pen::new(g, rect);
    pen.text(&text, t.bar());
    // No month totals: why, quietly (the header shows them when known).
    let vnstat_note = m
        .vnstat
        .filter(|v| **v != VnstatStatus::Waiting)
        .and_then(VnstatStatus::note);
    if let Some(note) = vnstat_note {
        pen.text("│ vnstat: ", t.bar());
        pen.bytes(note.as_bytes(), t.faint());
        pen.text(" ", t.bar());
    }
    let errors: Vec<_> = m.sources.iter().filter(|s| s.error.is_some()).collect();
    if let Some(first) = errors.first() {
        let msg = format!(
            "│ {} of {} sources with errors: ",
            errors.len(),
            m.sources.len()
        );
        pen.text(&msg, t.bar());
        pen.bytes(first.path.as_bytes(), t.error());
        pen.text(": ", t.error());
        pen.bytes(first.error.as_deref().unwrap_or("").as_bytes(), t.error());
    } else {
        let msg = format!("│ {} sources ok", m.sources.len());
        pen.text(&msg, t.bar());
        if let Some(note) = m.sources.iter().find_map(|s| s.note.as_deref()) {
            pen.text(" │ note: ", t.bar());
            pen.bytes(note.as_bytes(), t.faint());
        }
    }
}

/// Bindings shown in the hints line, as (key, what).
const HINTS: [(&str, &str); 9] = [
    ("q", "quit"),
    ("Tab", "panel"),
    ("↑↓", "move"),
    ("Enter", "detail"),
    ("s", "sort"),
    ("/", "filter"),
    ("!", "suspicious"),
    ("c", "copy"),
    ("?", "help"),
];

fn hints(d: &Dashboard, g: &mut Grid, rect: Rect) {
    let t = d.theme;
    g.fill(rect, t.bar());
    if let Modal::FilterLine(area) = &d.modal {
        modal::filter_line(t, g, rect, area);
        return;
    }
    let mut pen = Pen::new(g, rect);
    if let Some((text, _)) = &d.status {
        pen.text(" ", t.bar()).text(text, t.bar().bold());
        return;
    }
    for (key, what) in HINTS {
        pen.text(" ", t.bar()).text(key, t.key()).text(" ", t.bar());
        pen.text(what, t.bar());
        pen.text(" ", t.bar());
    }
}

/// The left panel: the address table, or the groups when grouped (`n`).
fn table_or_groups(
    d: &mut Dashboard,
    g: &mut Grid,
    rect: Rect,
    rows: &table::FrameRows<'_>,
    m: &Model<'_>,
) {
    match d.grouping.shows_groups() {
        true => super::groups::draw(d, g, rect),
        false => table::draw(d, g, rect, rows, m),
    }
}
