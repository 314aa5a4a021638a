//! The IP table's columns, shared by the dashboard's left panel and the
//! `--once`/`--for` text table: their order, titles, alignment and what each
//! shows for a row or a group row (`view::groups`). The frontends lay them out (widths, styles, marks).

use std::fmt::Write as _;

use super::format::{write_human_bytes, write_services, write_state_summary};
use super::groups::Group;
use crate::detect::Reasons;
use crate::store::HistoryFigures;
use crate::table::{IpTable, Row};

/// A column of the IP table, as nethergaze 0.2.0 has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Col {
    Ip,
    Cc,
    Org,
    Conns,
    State,
    Svc,
    Reqs,
    Bytes,
    Auth,
    Hx,
    Last,
    /// The detector's reason codes, shown only in suspicious mode: by the
    /// dashboard in `Last`'s place, by the text table beside it.
    Reasons,
    /// A group row's key (network, ASN, country): its first column.
    Group,
    /// How many addresses a group holds.
    Members,
    /// How many of them are suspicious alone.
    Suspects,
    /// Requests in the last minute, summed over a group's members.
    Rpm,
}

impl Col {
    /// Every column, left to right. The reasons sit before `Last`: there the
    /// `--once`/`--for` text table shows them with `--suspicious` (plain text
    /// has the room for both, and a reader of that output wants the why
    /// first); the dashboard shows them in `Last`'s place instead.
    pub(crate) const ALL: [Col; 12] = [
        Col::Ip,
        Col::Cc,
        Col::Org,
        Col::Conns,
        Col::State,
        Col::Svc,
        Col::Reqs,
        Col::Bytes,
        Col::Auth,
        Col::Hx,
        Col::Reasons,
        Col::Last,
    ];

    /// The table's columns, left to right: [`Col::ALL`], with the reasons
    /// only when asked for (the text table with `--suspicious`).
    pub(crate) fn columns(with_reasons: bool) -> impl Iterator<Item = Col> {
        Col::ALL
            .into_iter()
            .filter(move |&c| with_reasons || c != Col::Reasons)
    }

    /// A grouped table's columns (`view::groups`), left to right: the
    /// key, the members, the summed counts; the reasons when asked for.
    pub(crate) const GROUP: [Col; 8] = [
        Col::Group,
        Col::Members,
        Col::Suspects,
        Col::Conns,
        Col::Reqs,
        Col::Rpm,
        Col::Bytes,
        Col::Auth,
    ];

    /// [`Col::GROUP`], then the reasons when asked for.
    pub(crate) fn group_columns(with_reasons: bool) -> impl Iterator<Item = Col> {
        let reasons = with_reasons.then_some(Col::Reasons);
        Col::GROUP.into_iter().chain(reasons)
    }

    /// The header.
    pub(crate) fn title(self) -> &'static str {
        match self {
            Col::Ip => "IP",
            Col::Cc => "CC",
            Col::Org => "Organization",
            Col::Conns => "Conns",
            Col::State => "State",
            Col::Svc => "Svc",
            Col::Reqs => "Reqs",
            Col::Bytes => "Bytes",
            Col::Auth => "Auth",
            Col::Hx => "Hx",
            Col::Last => "Last path",
            Col::Reasons => "Reasons",
            Col::Group => "Group",
            Col::Members => "Addrs",
            Col::Suspects => "Susp",
            Col::Rpm => "Req/min",
        }
    }

    /// Counts, right-aligned.
    pub(crate) fn is_numeric(self) -> bool {
        matches!(
            self,
            Col::Conns
                | Col::Reqs
                | Col::Bytes
                | Col::Auth
                | Col::Members
                | Col::Suspects
                | Col::Rpm
        )
    }

    /// Text from outside (GeoIP, whois, the log) that plain text output cuts
    /// at this many characters; the dashboard cuts at the column's width.
    pub(crate) fn text_max(self) -> Option<usize> {
        match self {
            Col::Cc | Col::Org => Some(30),
            Col::Last => Some(60),
            _ => None,
        }
    }

    /// Whether the dashboard shows `-` for `text` (no states, no services,
    /// no auth failures); `--once` text keeps the plain value.
    pub(crate) fn is_blank(self, text: &str) -> bool {
        match self {
            Col::State | Col::Svc | Col::Reasons => text.is_empty(),
            Col::Auth => text == "0",
            _ => false,
        }
    }

    /// Appends what the column shows for `v` to `out`, unsanitised (text
    /// from outside is made safe by the frontend: the grid, or
    /// `printable`). `Ip` is the bare address and `Last` the last path:
    /// the frontends add marks and styles to those two.
    pub(crate) fn write(self, v: &RowView<'_>, out: &mut String) {
        let row = v.row;
        // Writing to a String cannot fail.
        let _ = match self {
            Col::Ip => write!(out, "{}", row.ip),
            Col::Cc => write!(out, "{}", v.country().unwrap_or("-")),
            Col::Org => write!(out, "{}", row.org().unwrap_or("-")),
            Col::Conns => write!(out, "{}", v.conns()),
            Col::Reqs => write!(out, "{}", row.requests),
            Col::Auth => write!(out, "{}", row.auth_failures()),
            Col::Hx => match v.history {
                Some(h) => write!(out, "{}", h.sessions),
                None => write!(out, "-"),
            },
            Col::State => {
                write_state_summary(out, row);
                Ok(())
            }
            Col::Svc => {
                // Unbounded: the dashboard fits its column itself.
                write_services(out, row, usize::MAX);
                Ok(())
            }
            Col::Bytes => {
                write_human_bytes(out, row.bytes);
                Ok(())
            }
            Col::Reasons => {
                write_reasons(out, v.reasons);
                Ok(())
            }
            Col::Last => {
                if let Some(path) = v.last_path() {
                    out.push_str(&String::from_utf8_lossy(path));
                }
                Ok(())
            }
            // A group's columns: nothing for one address.
            Col::Group | Col::Members | Col::Suspects | Col::Rpm => Ok(()),
        };
    }

    /// Appends what the column shows for a group row to `out` (the key is
    /// made of digits, letters and punctuation: always safe); nothing for
    /// the columns a group has not.
    pub(crate) fn write_group(self, g: &Group, out: &mut String) {
        // Writing to a String cannot fail.
        let _ = match self {
            Col::Group => write!(out, "{}", g.key),
            Col::Members => write!(out, "{}", g.members),
            Col::Suspects => write!(out, "{}", g.suspicious_members),
            Col::Conns => write!(out, "{}", g.conns),
            Col::Reqs => write!(out, "{}", g.requests),
            Col::Rpm => write!(out, "{}", g.load.rpm),
            Col::Auth => write!(out, "{}", g.auth_failures),
            Col::Bytes => {
                write_human_bytes(out, g.bytes);
                Ok(())
            }
            Col::Reasons => {
                write_reasons(out, g.reasons);
                Ok(())
            }
            _ => Ok(()),
        };
    }
}

/// Reason codes, comma-separated.
fn write_reasons(out: &mut String, reasons: Reasons) {
    for (i, reason) in reasons.iter().enumerate() {
        let sep = if i > 0 { "," } else { "" };
        let _ = write!(out, "{sep}{}", reason.code());
    }
}

/// A row with what its columns need besides the table: the detector's
/// reasons and the lifetime history figures, gathered once per row.
#[derive(Clone, Copy)]
pub(crate) struct RowView<'a> {
    pub(crate) row: &'a Row,
    pub(crate) table: &'a IpTable,
    pub(crate) reasons: Reasons,
    /// `None`: history is off or has no record of the address.
    pub(crate) history: Option<HistoryFigures>,
}

impl<'a> RowView<'a> {
    /// Country code: GeoIP first; whois fills in what it lacks.
    pub(crate) fn country(&self) -> Option<&'a str> {
        let row = self.row;
        let geo = row.geo.as_deref().and_then(|g| g.country.as_deref());
        geo.or_else(|| row.whois.as_deref().and_then(|w| w.country.as_deref()))
    }

    /// Connections: inbound sockets in any state but LISTEN, as the
    /// header's total, "top conns" and JSON `conns` count them (outbound
    /// ones are JSON `conns_out`, and the drill-down's).
    pub(crate) fn conns(&self) -> u32 {
        self.row.sockets().conns_in
    }

    /// The path of the latest request, as logged.
    pub(crate) fn last_path(&self) -> Option<&'a [u8]> {
        self.row.recent.back().map(|r| self.table.text(r.path))
    }
}
