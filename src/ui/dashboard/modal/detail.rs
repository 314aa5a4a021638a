//! Sections of the drill-down beyond the summary: the address's country by
//! name, its last sshd events.

use super::Lines;
use crate::table::{Row, RECENT_SSH_EVENTS};
use crate::ui::dashboard::activity::{clock, ssh_label};
use crate::ui::dashboard::Dashboard;
use crate::ui::dashboard::Model;
use crate::ui::Style;

/// `country: United Kingdom (GB)`: GeoIP's English name, looked up now for
/// this one address (rows keep the code); without one, the code GeoIP or
/// whois gave (`country: DE (whois)`); `None` when nothing is known.
pub(super) fn country_line(m: &Model<'_>, row: &Row) -> Option<String> {
    let code = row.geo.as_deref().and_then(|g| g.country.as_deref());
    let name = m.geoip.and_then(|g| g.country_name(row.ip));
    let whois = row.whois.as_deref().and_then(|w| w.country.as_deref());
    match (name, code, whois) {
        (Some(name), Some(code), _) => Some(format!("country: {name} ({code})")),
        (Some(name), None, _) => Some(format!("country: {name}")),
        (None, Some(code), _) => Some(format!("country: {code}")),
        (None, None, Some(code)) => Some(format!("country: {code} (whois)")),
        (None, None, None) => None,
    }
}

/// The last sshd events, newest first: time, kind, the user name tried
/// (sanitised as it enters the grid, `…` when it was cut). Uses at most
/// `rows` lines; nothing when the address never spoke to sshd.
pub(super) fn ssh_events(lines: &mut Lines<'_>, d: &Dashboard, row: &Row, rows: u16) {
    let t = d.theme;
    if row.ssh_events().next().is_none() || rows < 2 {
        return;
    }
    lines.text(
        &format!("last {RECENT_SSH_EVENTS} sshd events, newest first"),
        t.heading(),
    );
    for event in row.ssh_events().rev().take(usize::from(rows - 1)) {
        let Some(mut pen) = lines.next() else { break };
        pen.text(&clock(i64::from(event.time), d.utc_offset), t.faint());
        pen.text(&format!(" {:<15} ", ssh_label(event.kind)), Style::new());
        pen.bytes(event.user(), t.heading());
        if event.is_truncated() {
            pen.text("…", t.faint());
        }
    }
    lines.text("", Style::new());
}
