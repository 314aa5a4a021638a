//! What draws over the panels: help, the drill-down, the `/` line, and the
//! pieces the other modals share (frame, lines, an edited text field).

use std::fmt::Write as _;
use std::net::IpAddr;

use tui_textarea::TextArea;

use super::activity::{clock, ssh_label};
use super::draw::{duration, Pen};
use super::output;
use super::{Dashboard, Modal, Model, Theme};
use crate::detect::{Reason, Reasons};
use crate::engine::WhoisState;
use crate::net::{service_name, BlockMark, Blocker};
use crate::parse::sockets::TcpState;
use crate::parse::time::format_rfc3339;
use crate::parse::{AuthKind, UnixTime};
use crate::source::owners::MAX_FDS_VISITED;
use crate::store::HistoryFigures;
use crate::table::Row;
use crate::ui::sanitize::text_width;
use crate::ui::{Grid, Rect, Style};
use crate::view::format::{human_bytes, services};

/// The bindings table, shared with the man page.
pub(super) use crate::ui::bindings::{BINDINGS, IN_MODALS};

pub(super) fn draw(d: &mut Dashboard, g: &mut Grid, area: Rect, m: &Model<'_>) {
    let t = d.theme;
    match &mut d.modal {
        Modal::Hook(scroll) => return output::hook(scroll, t, g, area, m),
        Modal::Help(top) => {
            let dbip = m.geoip.is_some_and(|g| g.uses_dbip());
            let private = super::table::private_help(m.table);
            *top = help(&d.hooks, t, g, area, dbip, &private, *top);
            return;
        }
        Modal::Block(assist) => return assist.draw(t, g, area, m),
        _ => {}
    }
    match &d.modal {
        Modal::None | Modal::FilterLine(_) | Modal::Hook(_) | Modal::Block(_) | Modal::Help(_) => {}
        Modal::Detail(ip) => {
            let history = d.row_history.get(m.history, *ip);
            detail(d, g, area, m, *ip, history);
        }
        Modal::Filter(form) => form.draw(d.theme, g, area, &d.filter_config),
    }
}

/// Clear `rect`, draw its frame with `title`, return the inside (1 cell of
/// padding left and right).
pub(super) fn frame(g: &mut Grid, rect: Rect, title: &str, hint: &str, t: Theme) -> Rect {
    g.fill(rect, Style::new());
    if rect.width < 2 || rect.height < 2 {
        return Rect::default();
    }
    let (r, b) = (rect.right() - 1, rect.bottom() - 1);
    g.fill_char(
        Rect::new(rect.x + 1, rect.y, rect.width - 2, 1),
        '─',
        t.border(),
    );
    g.fill_char(Rect::new(rect.x + 1, b, rect.width - 2, 1), '─', t.border());
    g.fill_char(
        Rect::new(rect.x, rect.y + 1, 1, rect.height - 2),
        '│',
        t.border(),
    );
    g.fill_char(
        Rect::new(r, rect.y + 1, 1, rect.height - 2),
        '│',
        t.border(),
    );
    g.put_char(rect.x, rect.y, '┌', t.border());
    g.put_char(r, rect.y, '┐', t.border());
    g.put_char(rect.x, b, '└', t.border());
    g.put_char(r, b, '┘', t.border());
    let hint_w = text_width(hint) as u16;
    let room = rect.width.saturating_sub(4);
    let used = g.put_str(rect.x + 2, rect.y, room, title, t.heading().reverse());
    if used + hint_w + 2 <= room {
        g.put_str(r - 1 - hint_w, rect.y, hint_w, hint, t.border());
    }
    Rect::new(
        rect.x + 2,
        rect.y + 1,
        rect.width.saturating_sub(4),
        rect.height - 2,
    )
}

/// Lines inside a modal, top to bottom, until it is full.
pub(super) struct Lines<'g> {
    grid: &'g mut Grid,
    pub(crate) inner: Rect,
    y: u16,
}

impl<'g> Lines<'g> {
    pub(crate) fn new(grid: &'g mut Grid, inner: Rect) -> Lines<'g> {
        Lines {
            grid,
            inner,
            y: inner.y,
        }
    }

    /// A pen on the next line, or `None` when the modal is full.
    pub(crate) fn next(&mut self) -> Option<Pen<'_>> {
        if self.y >= self.inner.bottom() || self.inner.is_empty() {
            return None;
        }
        let rect = Rect::new(self.inner.x, self.y, self.inner.width, 1);
        self.y += 1;
        Some(Pen::new(self.grid, rect))
    }

    pub(crate) fn text(&mut self, text: &str, style: Style) {
        if let Some(mut pen) = self.next() {
            pen.text(text, style);
        }
    }

    pub(crate) fn rows_left(&self) -> u16 {
        self.inner.bottom().saturating_sub(self.y)
    }

    /// The grid, to draw into [`rest`](Self::rest).
    pub(crate) fn grid_mut(&mut self) -> &mut Grid {
        self.grid
    }

    /// What is left below the lines drawn so far.
    pub(crate) fn rest(&self) -> Rect {
        if self.inner.is_empty() {
            return Rect::default();
        }
        Rect::new(self.inner.x, self.y, self.inner.width, self.rows_left())
    }
}

/// The help modal, scrolled down `top` lines; returns `top` clamped so the
/// last line is at the bottom at most.
fn help(
    hooks: &[(char, String)],
    t: Theme,
    g: &mut Grid,
    area: Rect,
    dbip: bool,
    private: &str,
    top: usize,
) -> usize {
    let text = help_text(hooks, dbip, private);
    let rect = area.centered(80, text.len() as u16 + 2);
    let inner_height = usize::from(rect.height.saturating_sub(2));
    let top = top.min(text.len().saturating_sub(inner_height));
    let hint = if inner_height < text.len() {
        " ↑↓ scroll · Esc close "
    } else {
        " Esc close "
    };
    let inner = frame(g, rect, " Key bindings ", hint, t);
    let mut lines = Lines::new(g, inner);
    for line in text.iter().skip(top) {
        let Some(mut pen) = lines.next() else {
            break;
        };
        match line {
            HelpLine::Key(keys, what) => {
                let pad = 18usize.saturating_sub(text_width(keys));
                pen.text(keys, t.key()).text(&" ".repeat(pad), Style::new());
                pen.bytes(what.as_bytes(), Style::new());
            }
            HelpLine::Heading(text) => {
                pen.text(text, t.heading());
            }
            HelpLine::Faint(text) => {
                pen.text(text, t.faint());
            }
        }
    }
    top
}

/// One line of the help modal.
enum HelpLine<'a> {
    /// Keys, then what they do (a hook's label is outside text: sanitised by
    /// the grid as it enters cells).
    Key(std::borrow::Cow<'a, str>, &'a str),
    Heading(&'a str),
    Faint(&'a str),
}

/// Every binding, what is hidden as private and how to show it, the
/// configured hooks, the keys inside modals, the DB-IP credit.
fn help_text<'a>(hooks: &'a [(char, String)], dbip: bool, private: &'a str) -> Vec<HelpLine<'a>> {
    let keys = |table: &'static [(&'static str, &'static str)]| {
        table.iter().map(|(k, w)| HelpLine::Key((*k).into(), w))
    };
    let mut text: Vec<HelpLine<'_>> = keys(&BINDINGS).collect();
    text.push(HelpLine::Faint(""));
    text.push(HelpLine::Heading("Private and loopback addresses"));
    text.push(HelpLine::Faint(private));
    text.push(HelpLine::Faint(""));
    text.push(HelpLine::Heading("Custom hooks ([[actions.hooks]])"));
    if hooks.is_empty() {
        text.push(HelpLine::Faint("none configured"));
    }
    text.extend(
        hooks
            .iter()
            .map(|(key, label)| HelpLine::Key(key.to_string().into(), label)),
    );
    text.push(HelpLine::Faint(""));
    text.push(HelpLine::Heading("In the modals"));
    text.extend(keys(&IN_MODALS));
    if dbip {
        text.push(HelpLine::Faint(""));
        text.push(HelpLine::Faint(crate::enrich::DBIP_CREDIT));
    }
    text
}

fn detail(
    d: &Dashboard,
    g: &mut Grid,
    area: Rect,
    m: &Model<'_>,
    ip: IpAddr,
    history: Option<HistoryFigures>,
) {
    let t = d.theme;
    let rect = area.centered(
        area.width.saturating_sub(4).min(120),
        area.height.saturating_sub(2),
    );
    let title = format!(" {ip} ");
    let inner = frame(g, rect, &title, " Esc close · c copy · b block ", t);
    let mut lines = Lines::new(g, inner);
    let Some(row) = m.table.get(ip) else {
        lines.text("no longer tracked (it aged out or was evicted)", t.error());
        return;
    };
    let reasons = m.detector.reasons(row);
    summary(&mut lines, d, m, row, reasons, history);
    sparkline(&mut lines, d, m, row);
    lines.text("", Style::new());
    // sshd events take what is left when the address sent no request
    // (a brute forcer), else half of it: the requests keep the rest.
    let ssh_rows = if row.recent.is_empty() {
        lines.rows_left().saturating_sub(2)
    } else {
        lines.rows_left() / 2
    };
    detail::ssh_events(&mut lines, d, row, ssh_rows);
    requests(&mut lines, d, m, row);
}

fn summary(
    lines: &mut Lines<'_>,
    d: &Dashboard,
    m: &Model<'_>,
    row: &Row,
    reasons: Reasons,
    history: Option<HistoryFigures>,
) {
    let t = d.theme;
    if reasons.is_empty() {
        lines.text("not suspicious", t.faint());
    } else {
        lines.text("! suspicious:", t.suspicious());
        for r in reasons.iter() {
            // How long since the last evidence (a reason fades after
            // `reason_ttl` of it); socket reasons hold while the sockets do.
            let age = match m.detector.age(row, r) {
                Some(age) => format!("last evidence {} ago", duration(age)),
                None => "now".to_string(),
            };
            let style = match r {
                Reason::Breach => t.breach(),
                _ => t.suspicious(),
            };
            lines.text(&format!("  - {} ({age})", r.describe()), style);
        }
    }
    let end = m.table.window_end(m.now);
    let s = &row.status;
    lines.text(
        &format!(
            "requests {} (2xx {} · 3xx {} · 4xx {} · 5xx {}) · bytes {} · now {}/min · peak {}/min",
            row.requests,
            s[2],
            s[3],
            s[4],
            s[5],
            human_bytes(row.bytes),
            row.rate.per_minute(end),
            row.rate.peak()
        ),
        Style::new(),
    );
    lines.text(
        &format!(
            "first seen {} · last seen {} ({} ago)",
            format_rfc3339(row.first_seen()),
            format_rfc3339(row.last_seen()),
            duration(m.now - row.last_seen())
        ),
        Style::new(),
    );
    lines.text(&sockets_line(row), Style::new());
    socket_list(lines, d, m, row);
    let auth: Vec<String> = [
        AuthKind::Failed,
        AuthKind::InvalidUser,
        AuthKind::Accepted,
        AuthKind::ClosedPreauth,
        AuthKind::MaxAttempts,
    ]
    .iter()
    .map(|&k| format!("{} {}", ssh_label(k), row.auth_count(k)))
    .collect();
    lines.text(&format!("sshd: {}", auth.join(" · ")), Style::new());
    if let Some(country) = detail::country_line(m, row) {
        lines.text(&country, Style::new());
    }
    match row.geo.as_deref() {
        Some(g) => {
            let field = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            let asn = g.asn.map_or_else(|| "-".into(), |n| format!("AS{n}"));
            let line = format!(
                "GeoIP: {} · {} · {asn} {}",
                field(&g.country),
                field(&g.city),
                field(&g.org)
            );
            lines.text(&line, Style::new());
        }
        None => lines.text("GeoIP: -", t.faint()),
    }
    match row.whois.as_deref() {
        Some(w) => {
            let field = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            let line = format!(
                "whois: {} · {} · {} · {} · abuse {}",
                field(&w.network),
                field(&w.cidr),
                field(&w.org),
                field(&w.country),
                field(&w.abuse)
            );
            lines.text(&line, Style::new());
        }
        None => match m.whois.map(|w| w.state(row)) {
            Some(state) => {
                let style = match state {
                    WhoisState::Failed { .. } => t.error(),
                    _ => t.faint(),
                };
                lines.text(&whois_state_line(state, m.now), style);
            }
            None => lines.text("whois: - (w asks now)", t.faint()),
        },
    }
    match m.table.blocked(row) {
        Some(mark) => lines.text(&blocked_line(mark, m.now), Style::new()),
        None => lines.text("blocked: -", t.faint()),
    }
    if let Some(h) = history {
        lines.text(&history_line(&h), Style::new());
    }
}

/// `blocked: by nft, fail2ban · 203.0.113.0/24 · since … (2h ago)`.
fn blocked_line(mark: &BlockMark, now: UnixTime) -> String {
    let by: Vec<&str> = mark.by.iter().map(Blocker::name).collect();
    let mut line = format!("blocked: by {} · {}", by.join(", "), mark.scope);
    if let Some(since) = mark.since {
        let _ = write!(
            line,
            " · since {} ({} ago)",
            format_rfc3339(since),
            duration(now - since)
        );
    }
    line
}

/// What whois is doing for an address it has no answer for (at `now`).
fn whois_state_line(state: WhoisState<'_>, now: UnixTime) -> String {
    let text = match state {
        WhoisState::Done => "done",
        WhoisState::NotPublic => "not looked up (a private or reserved address)",
        WhoisState::Off => "off (--no-whois or [whois] enabled = false), no cached answer",
        WhoisState::Queued => "queued (looking it up)",
        WhoisState::Waiting => {
            "not asked yet (suspicious rows go first, then the busiest; w asks now)"
        }
        WhoisState::Failed { why, retry_at } => {
            let why = if why.is_empty() {
                "remembered from an earlier run"
            } else {
                why
            };
            let next = if retry_at <= now {
                "next retry now, in the background".to_string()
            } else {
                format!("next retry in {}", duration(retry_at - now))
            };
            return format!("whois: failed: {why} · {next} (w asks now)");
        }
    };
    format!("whois: {text}")
}

/// `seen 4 sessions since 2026-11-02, 1200 requests (3.5 MiB), 0 auth failures, suspicious twice`
fn history_line(h: &HistoryFigures) -> String {
    let times = match h.suspicious_sessions {
        0 => "never".to_string(),
        1 => "once".to_string(),
        2 => "twice".to_string(),
        n => format!("{n} times"),
    };
    let since = format_rfc3339(h.first_seen);
    format!(
        "history: seen {} session{} since {}, {} requests ({}), {} auth failures, suspicious {times}",
        h.sessions,
        if h.sessions == 1 { "" } else { "s" },
        since.get(..10).unwrap_or(&since),
        h.requests,
        human_bytes(h.bytes),
        h.auth_failures
    )
}

/// `sockets: 3 in, 1 out · ESTABLISHED 3 · SYN_RECV 1 · services https, ssh`
fn sockets_line(row: &Row) -> String {
    let s = &row.sockets();
    let mut line = format!("sockets: {} in, {} out", s.conns_in, s.conns_out);
    for (name, n) in s.states() {
        let _ = write!(line, " · {name} {n}");
    }
    for (i, service) in services(row).enumerate() {
        let head = if i == 0 { " · services " } else { ", " };
        let _ = write!(line, "{head}{service}");
    }
    if !s.services_out.is_empty() {
        let ports: Vec<String> = s
            .services_out
            .iter()
            .map(|&p| service_name(p).map_or_else(|| p.to_string(), str::to_string))
            .collect();
        let _ = write!(line, " (outbound to {})", ports.join(", "));
    }
    line
}

/// Sockets listed one per line, from the last dump:
/// `  in  ESTABLISHED  https ← :51234` / `  out ESTABLISHED  → 443`.
/// Each ends with the process holding it, when the walk of /proc found it
/// (`  pid 812 nginx`).
fn socket_list(lines: &mut Lines<'_>, d: &Dashboard, m: &Model<'_>, row: &Row) {
    const SHOWN: usize = 8;
    let mut of_row = m
        .sockets
        .iter()
        .filter(|s| s.remote.ip().to_canonical() == row.ip && s.state != TcpState::Listen);
    for s in of_row.by_ref().take(SHOWN) {
        let local = s.local.port();
        let line = if m.table.is_inbound(s) {
            let service = service_name(local).map_or_else(|| local.to_string(), str::to_string);
            format!(
                "  in  {:<12} {service} ← :{}",
                s.state.name(),
                s.remote.port()
            )
        } else {
            let remote = s.remote.port();
            let service = service_name(remote).map_or_else(|| remote.to_string(), str::to_string);
            format!("  out {:<12} → {service} (from :{local})", s.state.name())
        };
        let Some(mut pen) = lines.next() else { break };
        pen.text(&line, Style::new());
        if let Some(owner) = d.owners.owner(row.ip, s.inode) {
            pen.text(&format!("  pid {} ", owner.pid), d.theme.faint());
            pen.bytes(&owner.comm, Style::new());
        }
    }
    let more = of_row.count();
    if more > 0 {
        lines.text(&format!("  … and {more} more"), Style::new());
    }
    if d.owners.is_cut_short(row.ip) {
        let note = format!("  (process lookup stopped after {MAX_FDS_VISITED} open files)");
        lines.text(&note, d.theme.faint());
    }
}

/// Requests per second over the last minute, one cell a second.
fn sparkline(lines: &mut Lines<'_>, d: &Dashboard, m: &Model<'_>, row: &Row) {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let end = m.table.window_end(m.now);
    let counts = row.rate.recent_seconds::<60>(end);
    let max = counts.iter().copied().max().unwrap_or(0);
    let Some(mut pen) = lines.next() else { return };
    pen.text(&format!("rate, last 60 s (max {max}/s): "), Style::new());
    let room = usize::from(pen.room());
    for &n in &counts[counts.len().saturating_sub(room)..] {
        let (ch, style) = if n == 0 {
            ('·', d.theme.faint())
        } else {
            let level = (n as usize * BARS.len()).div_ceil((max as usize).max(1));
            (BARS[level.clamp(1, BARS.len()) - 1], d.theme.status(200))
        };
        pen.text(ch.encode_utf8(&mut [0; 4]), style);
    }
}

/// The last requests, newest first: time, status, method, bytes, path, user agent.
fn requests(lines: &mut Lines<'_>, d: &Dashboard, m: &Model<'_>, row: &Row) {
    let t = d.theme;
    let kept = m.table.recent_cap(row);
    lines.text(&format!("last {kept} requests, newest first"), t.heading());
    if row.recent.is_empty() {
        lines.text("none", t.faint());
        return;
    }
    let width = lines.inner.width;
    let path_w = (width.saturating_sub(34) / 2).max(10);
    if let Some(mut pen) = lines.next() {
        let head = format!(
            "{:<8} {:>3} {:<7} {:>9} {:<w$} user agent",
            "time",
            "st",
            "method",
            "bytes",
            "path",
            w = usize::from(path_w)
        );
        pen.text(&head, t.faint().underline());
    }
    for r in row.recent.iter().rev() {
        if lines.rows_left() == 0 {
            break;
        }
        let Some(mut pen) = lines.next() else { break };
        let x0 = pen.x;
        pen.text(&clock(i64::from(r.time), d.utc_offset), t.faint());
        pen.text(" ", Style::new());
        pen.text(&format!("{:>3}", r.status), t.status(r.status));
        pen.text(" ", Style::new());
        let method = m.table.text(r.method);
        pen.bytes(method, t.heading());
        pen.x = x0 + 21;
        pen.text(
            &format!("{:>9} ", human_bytes(u64::from(r.bytes))),
            Style::new(),
        );
        let path_end = pen.x.saturating_add(path_w).min(pen.right);
        let right = pen.right;
        pen.right = path_end;
        pen.bytes(m.table.text(r.path), Style::new());
        pen.right = right;
        pen.x = path_end;
        pen.text(" ", Style::new());
        pen.bytes(m.table.text(r.user_agent), t.faint());
    }
}

/// The `/` line: prompt, the text with its cursor, and what Enter/Esc do.
pub(super) fn filter_line(t: Theme, g: &mut Grid, rect: Rect, area: &TextArea<'_>) {
    let hint = " Enter apply · Esc dismiss ";
    let hint_w = text_width(hint) as u16;
    let (field, hint_rect) = if rect.width > hint_w + 20 {
        rect.split_right(hint_w)
    } else {
        (rect, Rect::default())
    };
    g.put_str(hint_rect.x, hint_rect.y, hint_rect.width, hint, t.bar());
    let prompt = " filter: ";
    let used = g.put_str(field.x, field.y, field.width, prompt, t.key());
    let rest = Rect::new(field.x + used, field.y, field.width.saturating_sub(used), 1);
    text_field(g, rest, area, true, Style::new().bold());
}

/// One edited line in `rect`: the part around the cursor that fits, and
/// the cursor as a reversed cell when `focused` (the last cell is kept for
/// a cursor past the end of the text).
pub(super) fn text_field(
    g: &mut Grid,
    rect: Rect,
    area: &TextArea<'_>,
    focused: bool,
    style: Style,
) {
    if rect.is_empty() {
        return;
    }
    let room = usize::from(rect.width - 1);
    let text = super::line_text(area);
    let col = area.cursor().1;
    let chars: Vec<char> = text.chars().collect();
    let start = (col + 1).saturating_sub(room);
    let shown: String = chars.iter().skip(start).take(room).collect();
    g.put_str(rect.x, rect.y, rect.width - 1, &shown, style);
    if !focused {
        return;
    }
    let before: String = chars
        .iter()
        .skip(start)
        .take(col - start.min(col))
        .collect();
    let cx = rect.x + text_width(&before) as u16;
    g.map_style(Rect::new(cx, rect.y, 1, 1), Style::reverse);
}

mod detail;
#[cfg(test)]
mod tests;
