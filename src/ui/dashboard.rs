//! The dashboard's state and what keys do to it, apart from the tty.
//!
//! [`Dashboard`] knows nothing of file descriptors: the loop's tty session
//! (`ui::session`) feeds it keys and asks it to draw a frame of a [`Model`]
//! (borrowed views of the table and the sources) into a [`Grid`]. Tests do
//! the same with a table fed from fixtures and read the grid as text.
//!
//! What a key asks of the world outside the screen (quit, copy, refresh,
//! a hook, block assist) comes back as an [`Action`] for the session.

mod activity;
mod block_modal;
mod draw;
mod filter_form;
mod groups;
mod modal;
mod output;
mod table;
mod theme;

use std::net::IpAddr;
use std::time::Instant;

use tui_textarea::{Input, Key as EditKey, TextArea};

use super::grid::Grid;
use super::input::Key;
use crate::actions::block::BlockRun;
use crate::actions::hooks::HookRun;
use crate::config::{Config, FilterConfig};
use crate::detect::{Detector, Reason};
use crate::engine::Whois;
use crate::enrich::geoip::GeoIp;
use crate::headless::SourceReport;
use crate::parse::sockets::SocketEntry;
use crate::parse::UnixTime;
use crate::source::bandwidth::Bandwidth;
use crate::source::owners::SocketOwners;
use crate::source::vnstat::VnstatStatus;
use crate::store::History;
use crate::table::{IpTable, Row};
use crate::ui::filter::FilterSpec;
use crate::view::groups::GroupBy;
use crate::view::history::RowHistory;

pub(crate) use block_modal::BlockAssist;
pub(crate) use filter_form::FilterForm;
pub(crate) use output::OutputScroll;
pub(crate) use theme::Theme;

/// How long a status message stays in the hints line.
const STATUS_SECS: UnixTime = 5;
/// Longest quick filter text, in characters.
const MAX_FILTER_CHARS: usize = 200;

/// What a frame shows: borrowed from the engine for the time of one draw.
pub(crate) struct Model<'a> {
    pub(crate) table: &'a IpTable,
    pub(crate) detector: &'a Detector,
    /// The GeoIP databases (`None` with `--no-geoip`): their note and credit.
    pub(crate) geoip: Option<&'a GeoIp>,
    pub(crate) sources: &'a [SourceReport],
    /// When the run started (Unix seconds).
    pub(crate) started: UnixTime,
    /// When the system booted (`None` when unknown): the header's uptime.
    pub(crate) booted: Option<UnixTime>,
    /// Wall clock now.
    pub(crate) now: UnixTime,
    /// Seconds between socket dumps, for new connections per second.
    pub(crate) interval_secs: f64,
    /// The hook run the hook modal shows (running or finished).
    pub(crate) hook: Option<&'a HookRun>,
    /// The block commands the block modal shows (running or finished).
    pub(crate) block: Option<&'a BlockRun>,
    /// Lifetime history (the Hx column and the drill-down's history line),
    /// read through the dashboard's `RowHistory`, never per frame.
    pub(crate) history: Option<&'a History>,
    /// The sockets of the last complete dump (the drill-down lists a row's).
    pub(crate) sockets: &'a [SocketEntry],
    /// Interface rx/tx for the header (`None` in tests and when unknown).
    pub(crate) bandwidth: Option<&'a Bandwidth>,
    /// This month's totals from vnstat, or why there are none (`None` in
    /// tests).
    pub(crate) vnstat: Option<&'a VnstatStatus>,
    /// What whois is doing per address, for the drill-down (`None` in tests).
    pub(crate) whois: Option<&'a Whois>,
}

/// What a key asks of the session (beyond redrawing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    None,
    Quit,
    /// Ctrl-Z: leave the screen and stop as a shell job.
    Suspend,
    /// `r`: read logs and dump sockets now.
    Refresh,
    /// `c`: copy this address to the clipboard (OSC 52).
    Copy(IpAddr),
    /// `w`: look this address up now.
    Whois(IpAddr),
    /// `b`: open block assist for this address.
    Block(IpAddr),
    /// `b` on a group: block assist for this member, on this network (the
    /// group's) when it is one of the scopes.
    BlockNet(IpAddr, ipnet::IpNet),
    /// `1`…`9`: run configured hook `index` for this address.
    Hook {
        index: usize,
        ip: IpAddr,
    },
    /// The hook modal was closed: stop its run if it still goes (block
    /// commands are left to finish).
    CloseJob,
    /// `c` in the hook modal: copy its output.
    CopyOutput,
    /// `c` in block assist: copy these commands.
    CopyText(String),
    /// Block assist was confirmed: start its commands.
    RunBlock,
    /// `p`: track private and loopback addresses from now on (`true`), or
    /// stop and hide them (`false`).
    ShowPrivate(bool),
}

/// The two panels Tab switches between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Panel {
    Table,
    Activity,
}

/// Orders `s` cycles through, as nethergaze 0.2.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SortKey {
    Conns,
    Requests,
    Bytes,
    Auth,
    Services,
    Ip,
}

impl SortKey {
    fn next(self) -> SortKey {
        match self {
            SortKey::Conns => SortKey::Requests,
            SortKey::Requests => SortKey::Bytes,
            SortKey::Bytes => SortKey::Auth,
            SortKey::Auth => SortKey::Services,
            SortKey::Services => SortKey::Ip,
            SortKey::Ip => SortKey::Conns,
        }
    }

    /// Name for the status line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            SortKey::Conns => "connections",
            SortKey::Requests => "requests",
            SortKey::Bytes => "bytes",
            SortKey::Auth => "auth failures",
            SortKey::Services => "services",
            SortKey::Ip => "IP",
        }
    }
}

/// What sits over the panels and takes the keys.
pub(crate) enum Modal {
    None,
    /// The key bindings, scrolled down this many lines (a short terminal
    /// cannot show them all).
    Help(usize),
    /// Drill-down into one address, live while open.
    Detail(IpAddr),
    /// The `/` line being edited.
    FilterLine(Box<TextArea<'static>>),
    /// The structured filter (`f`) being edited.
    Filter(Box<FilterForm>),
    /// A hook's output (`Model::hook`), live while it runs.
    Hook(OutputScroll),
    /// Block assist, then its commands' output (`Model::block`).
    Block(Box<BlockAssist>),
}

/// The structured filter in force and the text of its fields as typed
/// (the `f` modal opens on them again).
#[derive(Debug, Clone, Default)]
struct StructuredFilter {
    spec: FilterSpec,
    fields: filter_form::FieldTexts,
}

/// Filters put aside by suspicious mode, put back when it ends.
struct SavedFilters {
    text: Option<String>,
    filter: StructuredFilter,
}

/// The table's cursor: the address it is on, so it follows that address
/// across refreshes and re-sorts, and the index as a fallback when the
/// address leaves the list.
#[derive(Debug, Default, Clone)]
struct Cursor {
    ip: Option<IpAddr>,
    index: usize,
    /// First row shown.
    scroll: usize,
}

impl Cursor {
    /// Scroll so that the cursor's row is among the `page` rows shown of
    /// `len`, moving as little as possible, with no empty space below.
    fn follow(&mut self, page: usize, len: usize) {
        if self.index < self.scroll {
            self.scroll = self.index;
        } else if page > 0 && self.index >= self.scroll + page {
            self.scroll = self.index + 1 - page;
        }
        self.scroll = self.scroll.min(len.saturating_sub(page));
    }
}

/// The dashboard's state. See the module doc.
pub(crate) struct Dashboard {
    host: String,
    theme: Theme,
    /// `(key, label)` of each configured hook, for help and the digit keys.
    hooks: Vec<(char, String)>,
    focus: Panel,
    sort: SortKey,
    cursor: Cursor,
    /// Activity lines scrolled back from the newest; 0 follows new lines.
    activity_scroll: usize,
    suspicious: bool,
    /// Quick text filter, lower-case.
    text_filter: Option<String>,
    /// Structured filter (`f`); it always holds the config's CIDR lists.
    filter: StructuredFilter,
    /// `[filters]` of the config, part of every structured filter.
    filter_config: FilterConfig,
    saved: Option<SavedFilters>,
    modal: Modal,
    status: Option<(String, UnixTime)>,
    /// Seconds east of UTC for clock times (refreshed by the session).
    pub(crate) utc_offset: i64,
    /// Rows of the table body at the last draw (PgUp/PgDn step).
    table_page: usize,
    /// Lines of the activity body at the last draw.
    activity_page: usize,
    /// Whether the activity panel can be shown (side by side, or alone on a
    /// narrow screen): Tab skips it if not (below the minimum size).
    activity_shown: bool,
    /// History figures of the rows drawn, read once per history snapshot.
    row_history: RowHistory,
    /// Reused for the text of a table cell.
    cell: String,
    /// `n`: the table grouped by network, ASN or country.
    grouping: groups::Grouping,
    /// Processes holding the drill-down's sockets: walked only while it is
    /// open, at most once a second ([`Dashboard::refresh_owners`]).
    pub(crate) owners: SocketOwners,
}

impl Dashboard {
    /// A dashboard for `host`, coloured or not, with the config's hooks and
    /// `--suspicious` honoured.
    pub(crate) fn from_config(config: &Config, host: String, color: bool) -> Dashboard {
        let hooks = config
            .actions
            .hooks
            .iter()
            .map(|h| (h.key, h.label.clone()))
            .collect();
        let mut d = Dashboard::new(host, color, hooks);
        d.suspicious = config.suspicious_only;
        d.grouping.by = config.group_by;
        d.owners = SocketOwners::new(config.proc_root.as_deref());
        d.set_filter_config(config.filters.clone());
        d
    }

    /// The config's `[filters]`: always applied, beside what `f` sets.
    pub(crate) fn set_filter_config(&mut self, config: FilterConfig) {
        self.filter.spec = FilterSpec::from_config(&config);
        self.filter.fields = Default::default();
        self.filter_config = config;
    }

    /// A dashboard for `host` with hooks `(key, label)`.
    pub(crate) fn new(host: String, color: bool, hooks: Vec<(char, String)>) -> Dashboard {
        Dashboard {
            host,
            theme: Theme { color },
            hooks,
            focus: Panel::Table,
            sort: SortKey::Conns,
            cursor: Cursor::default(),
            activity_scroll: 0,
            suspicious: false,
            text_filter: None,
            filter: StructuredFilter::default(),
            filter_config: FilterConfig::default(),
            saved: None,
            modal: Modal::None,
            status: None,
            utc_offset: 0,
            table_page: 10,
            activity_page: 10,
            activity_shown: true,
            row_history: RowHistory::default(),
            cell: String::new(),
            grouping: groups::Grouping::default(),
            owners: SocketOwners::new(None),
        }
    }

    /// Look up which processes hold the drill-down's sockets in `dump`
    /// (a walk of /proc/*/fd, at most once a second); nothing while the
    /// drill-down is closed. Returns whether it walked (redraw).
    pub(crate) fn refresh_owners(&mut self, dump: &[SocketEntry], now: Instant) -> bool {
        match self.modal {
            Modal::Detail(ip) => self.owners.refresh(ip, dump, now),
            _ => {
                self.owners.clear();
                false
            }
        }
    }

    /// The address the drill-down shows, while it is open.
    pub(crate) fn detail_ip(&self) -> Option<IpAddr> {
        match self.modal {
            Modal::Detail(ip) => Some(ip),
            _ => None,
        }
    }

    /// Show `text` in the hints line for a few seconds.
    pub(crate) fn set_status(&mut self, text: impl Into<String>, now: UnixTime) {
        self.status = Some((text.into(), now));
    }

    /// The address under the table cursor, as of the last draw or key.
    #[cfg(test)]
    pub(crate) fn selected(&self) -> Option<IpAddr> {
        self.cursor.ip
    }

    #[cfg(test)]
    pub(crate) fn sort(&self) -> SortKey {
        self.sort
    }

    #[cfg(test)]
    pub(crate) fn modal(&self) -> &Modal {
        &self.modal
    }

    /// Whether a key goes to a text field (so `q` is a letter, not quit).
    pub(crate) fn is_editing(&self) -> bool {
        matches!(self.modal, Modal::FilterLine(_) | Modal::Filter(_))
    }

    /// Rows shown in the table, filtered and in the chosen order.
    pub(crate) fn visible_rows<'t>(&self, m: &Model<'t>) -> Vec<&'t Row> {
        let mut rows: Vec<&Row> = self.passing_rows(m).collect();
        table::sort_rows(&mut rows, self.sort, &self.ahead(m));
        rows
    }

    /// The rows put ahead of the chosen order: breaches, in suspicious mode.
    fn ahead<'s>(&'s self, m: &'s Model<'_>) -> impl Fn(&Row) -> bool + 's {
        move |r| self.suspicious && m.detector.reasons(r).contains(Reason::Breach)
    }

    /// The rows that pass the filters, in the table's storage order.
    fn passing_rows<'s, 't>(&'s self, m: &'s Model<'t>) -> impl Iterator<Item = &'t Row> + 's {
        let mut passes = self.row_filter(m);
        m.table.rows().filter(move |r| passes(r))
    }

    /// Whether a row passes the filters (suspicious only, the filter form,
    /// the quick filter).
    fn row_filter<'s>(&'s self, m: &'s Model<'_>) -> impl FnMut(&Row) -> bool + 's {
        let needle = self.text_filter.as_deref().map(str::as_bytes);
        let mut ip_text = String::new();
        let end = m.table.window_end(m.now);
        // Grouped, suspicious mode judges groups; a group's members are
        // listed whatever their own reasons.
        let judged = self.suspicious && self.grouping.by == GroupBy::Ip;
        move |r| {
            (!judged || !m.detector.reasons(r).is_empty())
                && self.grouping.admits(r)
                && self
                    .filter
                    .spec
                    .matches(r, m.table, r.org().map(str::as_bytes), end)
                && needle.is_none_or(|n| row_has_text(r, m.table, n, &mut ip_text))
        }
    }

    /// [`Dashboard::visible_rows`] for a frame whose table shows `page`
    /// rows: the cursor put back on its address as
    /// [`Dashboard::sync_cursor`] does, and scrolled as the table will be,
    /// with only the rows down to the window's bottom held in order.
    fn frame_rows<'t>(&mut self, m: &Model<'t>, page: usize) -> table::FrameRows<'t> {
        let mut passes = self.row_filter(m);
        let cursor_row = self
            .cursor
            .ip
            .and_then(|ip| m.table.get(ip))
            .filter(|r| passes(r));
        let scan = |keep: usize, passes: &mut dyn FnMut(&Row) -> bool| {
            table::FrameRows::scan(
                m.table.rows().filter(|r| passes(r)),
                self.sort,
                &self.ahead(m),
                cursor_row,
                keep,
            )
        };
        // Where the last frame's window ended: enough unless the cursor jumped.
        let mut rows = scan(self.cursor.scroll + page, &mut passes);
        let mut c = self.cursor.clone();
        match rows.cursor_rank() {
            Some(i) => c.index = i,
            None => c.index = c.index.min(rows.len().saturating_sub(1)),
        }
        c.follow(page, rows.len());
        let end = (c.scroll + page).max(c.index + 1);
        if !rows.holds(end) {
            rows = scan(end, &mut passes);
        }
        c.ip = rows.get(c.index).map(|r| r.ip);
        drop(passes);
        self.cursor = c;
        rows
    }

    /// Handle one key; returns what the session must do besides redrawing.
    pub(crate) fn on_key(&mut self, key: Key, m: &Model<'_>) -> Action {
        if key == Key::Ctrl('c') {
            return Action::Quit;
        }
        if key == Key::Ctrl('z') {
            return Action::Suspend;
        }
        if let (Key::Alt(c), false) = (key, self.is_editing()) {
            // ESC then a key, sent together (a fast typist, tmux send-keys):
            // no Alt binding exists, so it is Escape followed by that key.
            let _ = self.on_key(Key::Esc, m);
            return self.on_key(Key::Char(c), m);
        }
        match self.modal {
            Modal::FilterLine(_) => {
                self.on_filter_key(key);
                Action::None
            }
            Modal::Filter(_) => {
                self.on_form_key(key);
                Action::None
            }
            Modal::Hook(_) => self.on_hook_key(key, m),
            Modal::Block(ref mut assist) => match key {
                Key::Esc => {
                    self.modal = Modal::None;
                    Action::CloseJob
                }
                Key::Char('q') => Action::Quit,
                key => assist.on_key(key),
            },
            Modal::Help(top) => {
                if matches!(key, Key::Esc | Key::Char('?') | Key::Enter) {
                    self.modal = Modal::None;
                    return Action::None;
                }
                // Scrolling keys scroll the help (clamped when drawn).
                let top = match key {
                    Key::Up | Key::Char('k') => top.saturating_sub(1),
                    Key::Down | Key::Char('j') => top.saturating_add(1),
                    Key::PageUp => top.saturating_sub(10),
                    Key::PageDown => top.saturating_add(10),
                    Key::Home => 0,
                    Key::End => usize::MAX,
                    _ => return self.on_main_key(key, m, None),
                };
                self.modal = Modal::Help(top);
                Action::None
            }
            Modal::Detail(ip) => {
                if matches!(key, Key::Esc | Key::Enter) {
                    self.modal = Modal::None;
                    return Action::None;
                }
                self.on_main_key(key, m, Some(ip))
            }
            Modal::None if self.grouping.shows_groups() => self.on_group_key(key, m),
            Modal::None => {
                let selected = self.sync_cursor(&self.visible_rows(m));
                self.on_main_key(key, m, selected)
            }
        }
    }

    /// Keys of the main screen. In a modal, the ones that act on an address
    /// act on `ip` (the drill-down's), and moving keys are ignored.
    fn on_main_key(&mut self, key: Key, m: &Model<'_>, ip: Option<IpAddr>) -> Action {
        let in_modal = !matches!(self.modal, Modal::None);
        match key {
            Key::Char('q') => return Action::Quit,
            Key::Esc if !in_modal && self.grouping.leave_members() => {}
            Key::Esc => self.status = None,
            Key::Char('?') => self.modal = Modal::Help(0),
            Key::Char('r') => return Action::Refresh,
            Key::Char('c') => return ip.map_or(Action::None, Action::Copy),
            Key::Char('w') => return ip.map_or(Action::None, Action::Whois),
            Key::Char('b') => return ip.map_or(Action::None, Action::Block),
            Key::Char(c) if self.is_hook_key(c) => return self.hook_action(c, ip, m.now),
            _ if in_modal => {}
            Key::Char('s') => {
                self.sort = self.sort.next();
                self.set_status(format!("sorted by {}", self.sort.name()), m.now);
            }
            Key::Char('!') => self.toggle_suspicious(m.now),
            Key::Char('n') => {
                let said = match self.grouping.cycle() {
                    GroupBy::Ip => "one row per address (n groups by network)",
                    GroupBy::Net => {
                        "grouped by network: whois network, else /24 or /64 (n: by ASN)"
                    }
                    GroupBy::Asn => "grouped by ASN (n: by country)",
                    GroupBy::Country => "grouped by country (n: one row per address)",
                };
                self.set_status(said, m.now);
            }
            Key::Char('p') => return Action::ShowPrivate(!m.table.shows_private()),
            Key::Char('/') => self.open_filter_line(),
            Key::Char('f') => {
                let form = FilterForm::new(&self.filter.fields);
                self.modal = Modal::Filter(Box::new(form));
            }
            Key::Tab | Key::BackTab => self.switch_panel(),
            Key::Enter => {
                if let Some(ip) = ip {
                    self.modal = Modal::Detail(ip);
                }
            }
            _ => self.move_key(key, m),
        }
        Action::None
    }

    /// A key in the hook modal: scroll, copy, close, or run a hook again
    /// (for the same address).
    fn on_hook_key(&mut self, key: Key, m: &Model<'_>) -> Action {
        if let Modal::Hook(scroll) = &mut self.modal {
            if scroll.on_key(key) {
                return Action::None;
            }
        }
        match key {
            Key::Esc | Key::Enter => {
                self.modal = Modal::None;
                Action::CloseJob
            }
            Key::Char('c') => Action::CopyOutput,
            Key::Char('q') => Action::Quit,
            Key::Char(c) if self.is_hook_key(c) => self.hook_action(c, m.hook.map(|h| h.ip), m.now),
            _ => Action::None,
        }
    }

    /// Whether a child's output is on screen (its run is kept for it).
    pub(crate) fn shows_output(&self) -> bool {
        matches!(self.modal, Modal::Hook(_) | Modal::Block(_))
    }

    /// Open block assist (the session detects the tools and the context).
    pub(crate) fn open_block(&mut self, assist: BlockAssist) {
        self.modal = Modal::Block(Box::new(assist));
    }

    /// Block assist, when it is open.
    pub(crate) fn block_assist_mut(&mut self) -> Option<&mut BlockAssist> {
        match &mut self.modal {
            Modal::Block(assist) => Some(assist),
            _ => None,
        }
    }

    /// Show the output of the hook the session just started.
    pub(crate) fn open_hook_output(&mut self) {
        self.modal = Modal::Hook(OutputScroll::default());
    }

    /// A configured hook's key, or `1`…`9` (which say when they have none).
    /// The config refuses a hook on a built-in key, so no binding is hidden.
    fn is_hook_key(&self, c: char) -> bool {
        matches!(c, '1'..='9') || self.hooks.iter().any(|(k, _)| *k == c)
    }

    fn hook_action(&mut self, c: char, ip: Option<IpAddr>, now: UnixTime) -> Action {
        let Some(index) = self.hooks.iter().position(|(k, _)| *k == c) else {
            let text = format!(
                "no hook on {c}: add [[actions.hooks]] key = \"{c}\" command = \"… {{ip}}\" to the config"
            );
            self.set_status(text, now);
            return Action::None;
        };
        match ip {
            Some(ip) => Action::Hook { index, ip },
            None => {
                self.set_status("no IP selected", now);
                Action::None
            }
        }
    }

    fn switch_panel(&mut self) {
        self.focus = match self.focus {
            Panel::Table if self.activity_shown => Panel::Activity,
            _ => Panel::Table,
        };
    }

    /// `!`: show only suspicious rows, putting the other filters aside;
    /// pressed again, put them back.
    fn toggle_suspicious(&mut self, now: UnixTime) {
        if self.suspicious {
            self.suspicious = false;
            if let Some(saved) = self.saved.take() {
                self.text_filter = saved.text;
                self.filter = saved.filter;
            }
            self.set_status("suspicious mode off", now);
        } else {
            self.suspicious = true;
            let config_only = StructuredFilter {
                spec: FilterSpec::from_config(&self.filter_config),
                fields: Default::default(),
            };
            self.saved = Some(SavedFilters {
                text: self.text_filter.take(),
                filter: std::mem::replace(&mut self.filter, config_only),
            });
            self.set_status("suspicious mode: only suspicious IPs, with reasons", now);
        }
        self.activity_scroll = 0;
    }

    fn open_filter_line(&mut self) {
        let area = line_editor(self.text_filter.as_deref().unwrap_or(""));
        self.modal = Modal::FilterLine(Box::new(area));
    }

    /// A key while the `/` line is open: Enter applies, Escape dismisses
    /// (the filter in force stays), anything else edits.
    fn on_filter_key(&mut self, key: Key) {
        let Modal::FilterLine(area) = &mut self.modal else {
            return;
        };
        match key {
            Key::Enter => {
                let text = line_text(area).trim();
                self.text_filter = (!text.is_empty()).then(|| text.to_lowercase());
                self.modal = Modal::None;
                self.activity_scroll = 0;
            }
            Key::Esc => self.modal = Modal::None,
            key => edit_line(area, key),
        }
    }

    /// A key while the `f` modal is open: Enter applies what parses (or
    /// shows the errors beside their fields and applies nothing).
    fn on_form_key(&mut self, key: Key) {
        let Modal::Filter(form) = &mut self.modal else {
            return;
        };
        match form.on_key(key, &self.filter_config) {
            filter_form::Outcome::Editing => {}
            filter_form::Outcome::Close => self.modal = Modal::None,
            filter_form::Outcome::Apply(applied) => {
                let (spec, fields) = *applied;
                self.filter = StructuredFilter { spec, fields };
                self.modal = Modal::None;
                self.activity_scroll = 0;
            }
        }
    }

    /// Arrows, j/k, PgUp/PgDn, Home/End in the focused panel.
    fn move_key(&mut self, key: Key, m: &Model<'_>) {
        let page = |n: usize| n.saturating_sub(1).max(1);
        match self.focus {
            Panel::Table => {
                let rows = self.visible_rows(m);
                let last = rows.len().saturating_sub(1);
                let i = self.cursor.index;
                let to = match key {
                    Key::Up | Key::Char('k') => i.saturating_sub(1),
                    Key::Down | Key::Char('j') => (i + 1).min(last),
                    Key::PageUp => i.saturating_sub(page(self.table_page)),
                    Key::PageDown => (i + page(self.table_page)).min(last),
                    Key::Home | Key::Char('g') => 0,
                    Key::End | Key::Char('G') => last,
                    _ => return,
                };
                self.cursor.index = to;
                self.cursor.ip = rows.get(to).map(|r| r.ip);
            }
            Panel::Activity => {
                let back = self.activity_scroll;
                self.activity_scroll = match key {
                    Key::Up | Key::Char('k') => back + 1,
                    Key::Down | Key::Char('j') => back.saturating_sub(1),
                    Key::PageUp => back + page(self.activity_page),
                    Key::PageDown => back.saturating_sub(page(self.activity_page)),
                    Key::Home | Key::Char('g') => usize::MAX,
                    Key::End | Key::Char('G') => 0,
                    _ => return,
                };
            }
        }
    }

    /// Put the cursor back on its address in `rows` (or keep its index when
    /// the address left), and return the address now under it.
    fn sync_cursor(&mut self, rows: &[&Row]) -> Option<IpAddr> {
        let c = &mut self.cursor;
        if let Some(i) = c.ip.and_then(|ip| rows.iter().position(|r| r.ip == ip)) {
            c.index = i;
        } else {
            c.index = c.index.min(rows.len().saturating_sub(1));
        }
        c.ip = rows.get(c.index).map(|r| r.ip);
        c.ip
    }

    /// Draw the whole screen for `m` into `grid` (cleared by the caller).
    pub(crate) fn draw(&mut self, grid: &mut Grid, m: &Model<'_>) {
        if self
            .status
            .as_ref()
            .is_some_and(|(_, at)| m.now - at >= STATUS_SECS)
        {
            self.status = None;
        }
        draw::screen(self, grid, m);
    }
}

/// Whether the quick filter `needle` (lower-case) is in the row's address,
/// or in a path or user agent of its recent requests.
fn row_has_text(row: &Row, table: &IpTable, needle: &[u8], ip_text: &mut String) -> bool {
    use std::fmt::Write as _;
    ip_text.clear();
    let _ = write!(ip_text, "{}", row.ip);
    contains_ignore_case(ip_text.as_bytes(), needle)
        || row
            .org()
            .is_some_and(|org| contains_ignore_case(org.as_bytes(), needle))
        || row.recent.iter().any(|r| {
            contains_ignore_case(table.text(r.path), needle)
                || contains_ignore_case(table.text(r.user_agent), needle)
        })
}

/// ASCII case-insensitive substring test (`needle` already lower-case).
fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

/// A one-line editor holding `text`, the cursor at its end.
fn line_editor(text: &str) -> TextArea<'static> {
    let mut area = TextArea::new(vec![text.to_string()]);
    area.move_cursor(tui_textarea::CursorMove::End);
    area
}

/// The text of a one-line editor.
fn line_text<'a>(area: &'a TextArea<'_>) -> &'a str {
    area.lines().first().map_or("", String::as_str)
}

/// Edit a one-line field with `key` (the `/` line and the `f` modal's
/// fields), up to `MAX_FILTER_CHARS` characters.
fn edit_line(area: &mut TextArea<'_>, key: Key) {
    let len = line_text(area).chars().count();
    if matches!(key, Key::Char(_)) && len >= MAX_FILTER_CHARS {
        return;
    }
    if let Some(input) = edit_input(key) {
        area.input(input);
    }
}

/// Our key as tui-textarea input, for keys that edit one line. Enter, Tab
/// and Ctrl-M are never passed (they would add a line or a tab).
fn edit_input(key: Key) -> Option<Input> {
    let plain = |key| Input {
        key,
        ctrl: false,
        alt: false,
        shift: false,
    };
    Some(match key {
        Key::Char(c) => plain(EditKey::Char(c)),
        Key::Alt(c) => Input {
            alt: true,
            ..plain(EditKey::Char(c))
        },
        // Ctrl-U deletes to the line's head, as in a shell (tui-textarea
        // binds that to Ctrl-J and undo to Ctrl-U).
        Key::Ctrl('u') => Input {
            ctrl: true,
            ..plain(EditKey::Char('j'))
        },
        Key::Ctrl(c) if c.is_ascii_lowercase() && !matches!(c, 'm' | 'j') => Input {
            ctrl: true,
            ..plain(EditKey::Char(c))
        },
        Key::Backspace => plain(EditKey::Backspace),
        Key::Delete => plain(EditKey::Delete),
        Key::Left => plain(EditKey::Left),
        Key::Right => plain(EditKey::Right),
        Key::Home => plain(EditKey::Home),
        Key::End => plain(EditKey::End),
        _ => return None,
    })
}

/// Seconds east of UTC at `t` in the local time zone (0 if unknown).
pub(crate) fn local_utc_offset(t: UnixTime) -> i64 {
    crate::sys::time::local_utc_offset(t)
}

pub(crate) use crate::sys::host::host_name;

#[cfg(test)]
mod tests;
