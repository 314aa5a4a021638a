//! The table grouped (`n`): one row a network, ASN or country
//! (`view::groups`), Enter lists a group's members (the address table
//! filtered to it; Esc comes back), `b` offers its network to block assist.
//!
//! The groups are rebuilt from the rows shown at each draw and each key,
//! into the [`Grouper`] kept here: no allocation per row per frame.

use std::net::IpAddr;

use ipnet::IpNet;

use super::draw::Pen;
use super::table::{col_width, put_cell};
use super::{Action, Dashboard, Model, Panel, SortKey};
use crate::table::Row;
use crate::ui::input::Key;
use crate::ui::{Grid, Rect};
use crate::view::columns::Col;
use crate::view::groups::{default_network, Group, GroupBy, GroupKey, Grouper};

/// The grouping, the group whose members are listed, and the cursor.
#[derive(Default)]
pub(crate) struct Grouping {
    pub(super) by: GroupBy,
    /// Enter on a group: the address table shows only its members.
    pub(super) members_of: Option<GroupKey>,
    grouper: Grouper,
    /// Indices into the grouper's groups: those shown, in the table's order.
    shown: Vec<u32>,
    /// The group under the cursor (followed across rebuilds), and its index
    /// as a fallback when it leaves.
    cursor: Option<GroupKey>,
    index: usize,
    scroll: usize,
}

impl Grouping {
    /// Whether the table shows groups (grouped and no group opened).
    pub(crate) fn shows_groups(&self) -> bool {
        self.by != GroupBy::Ip && self.members_of.is_none()
    }

    /// Whether `row` is in the table: always, unless a group is opened.
    pub(super) fn admits(&self, row: &Row) -> bool {
        self.members_of
            .is_none_or(|key| GroupKey::of(row, key.by()) == Some(key))
    }

    /// `n`: the next grouping (address, network, ASN, country).
    pub(super) fn cycle(&mut self) -> GroupBy {
        self.by = self.by.next();
        self.members_of = None;
        self.cursor = None;
        self.index = 0;
        self.by
    }

    /// Esc in a group's member list: back to the groups. Whether it was.
    pub(super) fn leave_members(&mut self) -> bool {
        self.members_of.take().is_some()
    }

    /// Group `rows` (the table's, filtered) for `m`, honouring suspicious
    /// mode and the sort; put the cursor back on its group.
    pub(super) fn rebuild(
        &mut self,
        rows: &[&Row],
        m: &Model<'_>,
        suspicious: bool,
        sort: SortKey,
    ) {
        let end = m.table.window_end(m.now);
        let groups = self
            .grouper
            .group(rows.iter().copied(), m.detector, self.by, end);
        self.shown.clear();
        let flagged = |g: &Group| !suspicious || g.is_suspicious();
        self.shown
            .extend((0..groups.len() as u32).filter(|&i| flagged(&groups[i as usize])));
        if sort != SortKey::Conns {
            // The grouper's order is Conns'; the others by their count.
            let count = |g: &Group| match sort {
                SortKey::Requests => g.requests,
                SortKey::Bytes => g.bytes,
                SortKey::Auth => g.auth_failures,
                SortKey::Conns | SortKey::Services => g.conns,
                SortKey::Ip => 0,
            };
            self.shown.sort_by(|&a, &b| {
                let (a, b) = (&groups[a as usize], &groups[b as usize]);
                count(b).cmp(&count(a)).then_with(|| a.key.cmp(&b.key))
            });
        }
        let at = self.cursor.and_then(|key| {
            self.shown
                .iter()
                .position(|&i| groups[i as usize].key == key)
        });
        self.index = at.unwrap_or(self.index.min(self.shown.len().saturating_sub(1)));
        self.cursor = self.selected().map(|g| g.key);
    }

    /// The group under the cursor, as of the last rebuild.
    fn selected(&self) -> Option<&Group> {
        let i = *self.shown.get(self.index)?;
        self.grouper.groups().get(i as usize)
    }

    /// Cursor keys; whether `key` was one.
    fn move_key(&mut self, key: Key, page: usize) -> bool {
        let last = self.shown.len().saturating_sub(1);
        let page = page.saturating_sub(1).max(1);
        let i = self.index;
        self.index = match key {
            Key::Up | Key::Char('k') => i.saturating_sub(1),
            Key::Down | Key::Char('j') => (i + 1).min(last),
            Key::PageUp => i.saturating_sub(page),
            Key::PageDown => (i + page).min(last),
            Key::Home | Key::Char('g') => 0,
            Key::End | Key::Char('G') => last,
            _ => return false,
        };
        self.cursor = self.selected().map(|g| g.key);
        true
    }
}

/// What block assist is offered for a group: the member to open it on and
/// the network to preselect (a network group's own; an ASN's or a
/// country's busiest member's /24 or /64: whois does not know the prefixes
/// an AS announces), with a note when it is not the whole group.
fn block_offer(g: &Group) -> (IpAddr, IpNet, Option<String>) {
    match g.key {
        GroupKey::Net(net) => (g.top_member, net, None),
        key => {
            let net = default_network(g.top_member);
            let note = format!(
                "{key}: block assist offers its busiest network, {net} (n groups by network)"
            );
            (g.top_member, net, Some(note))
        }
    }
}

impl Dashboard {
    /// A key on the grouped table: the cursor, Enter (members), `b` (block
    /// the group's network); the rest as on the address table, with no
    /// address selected.
    pub(super) fn on_group_key(&mut self, key: Key, m: &Model<'_>) -> Action {
        let rows = self.visible_rows(m);
        self.grouping.rebuild(&rows, m, self.suspicious, self.sort);
        if self.focus == Panel::Table && self.grouping.move_key(key, self.table_page) {
            return Action::None;
        }
        let selected = self.grouping.selected().copied();
        match (key, selected) {
            (Key::Enter, Some(g)) => {
                self.grouping.members_of = Some(g.key);
                self.cursor.ip = None;
                self.cursor.index = 0;
                let s = if g.members == 1 { "" } else { "es" };
                let said = format!(
                    "{}: {} address{s} (Esc: back to the groups)",
                    g.key, g.members
                );
                self.set_status(said, m.now);
                Action::None
            }
            (Key::Char('b'), Some(g)) => {
                let (ip, net, note) = block_offer(&g);
                if let Some(note) = note {
                    self.set_status(note, m.now);
                }
                Action::BlockNet(ip, net)
            }
            _ => self.on_main_key(key, m, None),
        }
    }
}

/// The grouped table: the group columns (`Col::GROUP`), the reasons in
/// suspicious mode, the cursor's group highlighted.
pub(super) fn draw(d: &mut Dashboard, g: &mut Grid, rect: Rect) {
    if rect.is_empty() {
        return;
    }
    let t = d.theme;
    let (head, body) = rect.split_top(1);
    let focused = d.focus == Panel::Table;
    g.fill(head, t.column_header(focused));
    let key_width = key_width(&d.grouping);
    let mut x = rect.x;
    let right = rect.x.saturating_add(rect.width);
    let mut cols: smallvec::SmallVec<[(Col, u16, u16); 10]> = smallvec::SmallVec::new();
    for col in Col::group_columns(d.suspicious) {
        if x >= right {
            break;
        }
        let w = match col {
            Col::Group => key_width,
            Col::Reasons => right - x,
            col => col_width(col, key_width),
        }
        .min(right - x);
        cols.push((col, x, w));
        x = x.saturating_add(w).saturating_add(1);
    }
    for &(col, x, w) in &cols {
        // The key's title leaves a cell for the mark, as " IP" does.
        let (title, x, w) = match col {
            Col::Group => (d.grouping.by.title(), x + 1, w.saturating_sub(1)),
            col => (col.title(), x, w),
        };
        put_cell(
            g,
            x,
            head.y,
            w,
            title,
            col.is_numeric(),
            t.column_header(focused),
        );
    }

    let page = usize::from(body.height);
    d.table_page = page;
    let grouping = &mut d.grouping;
    if grouping.index < grouping.scroll {
        grouping.scroll = grouping.index;
    } else if page > 0 && grouping.index >= grouping.scroll + page {
        grouping.scroll = grouping.index + 1 - page;
    }
    grouping.scroll = grouping
        .scroll
        .min(grouping.shown.len().saturating_sub(page));
    if grouping.shown.is_empty() {
        let text = match d.suspicious {
            true => "no suspicious group (press ! to show all, n to ungroup)",
            false => "no group: no address matches (n ungroups)",
        };
        g.put_str(
            body.x + 1,
            body.y,
            body.width.saturating_sub(1),
            text,
            t.faint(),
        );
        return;
    }
    let groups = grouping.grouper.groups();
    let visible = grouping
        .shown
        .iter()
        .enumerate()
        .skip(grouping.scroll)
        .take(page);
    for (i, &at) in visible {
        let group = &groups[at as usize];
        let y = body.y + (i - grouping.scroll) as u16;
        let style = match group.is_suspicious() {
            true => t.suspicious(),
            false => crate::ui::Style::new(),
        };
        for &(col, x, w) in &cols {
            let cell = &mut d.cell;
            cell.clear();
            if col == Col::Group {
                cell.push(if group.is_suspicious() { '!' } else { ' ' });
            }
            col.write_group(group, cell);
            match col {
                Col::Group | Col::Reasons => {
                    Pen::new(g, Rect::new(x, y, w, 1)).text(cell, style);
                }
                col => put_cell(g, x, y, w, cell, col.is_numeric(), Default::default()),
            }
        }
        if i == grouping.index {
            g.map_style(Rect::new(rect.x, y, rect.width, 1), |s| t.selected(s));
        }
    }
}

/// Width of the key column: the longest key shown and its mark, at least
/// the title's.
fn key_width(grouping: &Grouping) -> u16 {
    use std::fmt::Write as _;
    let groups = grouping.grouper.groups();
    let mut text = String::new();
    let mut widest = grouping.by.title().len() + 1;
    for &i in &grouping.shown {
        text.clear();
        let _ = write!(text, "{}", groups[i as usize].key);
        widest = widest.max(text.len() + 1);
    }
    widest.min(44) as u16
}

#[cfg(test)]
pub(crate) fn shown_keys(d: &Dashboard) -> Vec<String> {
    let groups = d.grouping.grouper.groups();
    d.grouping
        .shown
        .iter()
        .map(|&i| groups[i as usize].key.to_string())
        .collect()
}
