//! The palette. Without colour (`NO_COLOR`, `--color never`, `TERM=dumb`)
//! every style keeps only attributes, and whatever colour alone would say
//! is said by bold, reverse or a marker character instead.

use crate::parse::AuthKind;
use crate::ui::{Color, Style};

/// Styles for every kind of text on the dashboard.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Theme {
    pub(crate) color: bool,
}

impl Theme {
    fn pick(self, colored: Style, plain: Style) -> Style {
        if self.color {
            colored
        } else {
            plain
        }
    }

    /// Top line: host, uptime, totals.
    pub(crate) fn header(self) -> Style {
        self.pick(
            Style::new().fg(Color::BRIGHT_WHITE).bg(Color::BLUE).bold(),
            Style::new().reverse().bold(),
        )
    }

    /// The SUSPICIOUS / filter markers in the header.
    pub(crate) fn marker(self) -> Style {
        self.pick(
            Style::new().fg(Color::BRIGHT_WHITE).bg(Color::RED).bold(),
            Style::new().bold(),
        )
    }

    /// Second line: the top offenders.
    pub(crate) fn offenders(self) -> Style {
        self.pick(
            Style::new().fg(Color::BRIGHT_WHITE).bg(Color::Indexed(52)),
            Style::new().reverse(),
        )
    }

    /// A panel's column header: reverse when the panel has the focus.
    pub(crate) fn column_header(self, focused: bool) -> Style {
        match (focused, self.color) {
            (true, true) => Style::new().fg(Color::BLACK).bg(Color::CYAN).bold(),
            (true, false) => Style::new().reverse().bold(),
            (false, _) => Style::new().bold().underline(),
        }
    }

    /// The row under the cursor.
    pub(crate) fn selected(self, base: Style) -> Style {
        base.reverse()
    }

    /// The `!` marker and the reasons of a suspicious row.
    pub(crate) fn suspicious(self) -> Style {
        self.pick(
            Style::new().fg(Color::BRIGHT_RED).bold(),
            Style::new().bold(),
        )
    }

    /// A row with a breach (an sshd login accepted after failures): the
    /// whole row white on red, the one thing never to miss.
    pub(crate) fn breach(self) -> Style {
        self.pick(
            Style::new().fg(Color::BRIGHT_WHITE).bg(Color::RED).bold(),
            Style::new().reverse().bold(),
        )
    }

    /// Rows tied to us only by our own outbound connections.
    pub(crate) fn outbound(self) -> Style {
        Style::new().dim()
    }

    /// Clock times and other secondary text.
    pub(crate) fn faint(self) -> Style {
        Style::new().dim()
    }

    /// An HTTP status by class: 2xx green, 3xx cyan, 4xx yellow, 5xx red.
    pub(crate) fn status(self, status: u16) -> Style {
        match status {
            200..=299 => self.pick(Style::new().fg(Color::GREEN), Style::new()),
            300..=399 => self.pick(Style::new().fg(Color::CYAN), Style::new()),
            400..=499 => self.pick(Style::new().fg(Color::YELLOW), Style::new().bold()),
            500..=599 => self.pick(Style::new().fg(Color::RED).bold(), Style::new().bold()),
            _ => Style::new(),
        }
    }

    /// An sshd event: failures red, logins green, the rest magenta.
    pub(crate) fn ssh(self, kind: AuthKind) -> Style {
        match kind {
            AuthKind::Failed | AuthKind::InvalidUser | AuthKind::MaxAttempts => self.pick(
                Style::new().fg(Color::BRIGHT_RED).bold(),
                Style::new().bold(),
            ),
            AuthKind::Accepted => self.pick(
                Style::new().fg(Color::GREEN).bold(),
                Style::new().underline(),
            ),
            AuthKind::ClosedPreauth => self.pick(Style::new().fg(Color::MAGENTA), Style::new()),
        }
    }

    /// The stats and hints lines.
    pub(crate) fn bar(self) -> Style {
        self.pick(
            Style::new().fg(Color::WHITE).bg(Color::Indexed(236)),
            Style::new(),
        )
    }

    /// A key name in the hints line or in help.
    pub(crate) fn key(self) -> Style {
        self.pick(
            Style::new().fg(Color::BRIGHT_CYAN).bold(),
            Style::new().bold(),
        )
    }

    /// Errors (sources with errors, a dead row in the drill-down).
    pub(crate) fn error(self) -> Style {
        self.pick(
            Style::new().fg(Color::BRIGHT_RED).bold(),
            Style::new().bold(),
        )
    }

    /// Modal frames and titles.
    pub(crate) fn border(self) -> Style {
        self.pick(Style::new().fg(Color::CYAN), Style::new())
    }

    /// Headings inside modals.
    pub(crate) fn heading(self) -> Style {
        Style::new().bold()
    }
}
