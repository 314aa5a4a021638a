//! A child's output in a modal (a hook's, a block command's): its bytes cut
//! into lines, sanitised by the grid as they enter cells, scrolled back
//! from the end (0 follows new output), and the hook modal itself.

use std::process::ExitStatus;
use std::time::Duration;

use super::draw::Pen;
use super::modal::{frame, Lines};
use super::{Model, Theme};
use crate::actions::CommandOutput;
use crate::ui::{Grid, Rect, Style};

/// Cells between tab stops.
const TAB: u16 = 8;

/// How far an output panel is scrolled back, and its height at the last
/// draw (a page for PgUp / PgDn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutputScroll {
    /// Lines back from the end; 0 follows new output.
    pub(crate) back: usize,
    pub(crate) page: usize,
}

impl Default for OutputScroll {
    fn default() -> OutputScroll {
        OutputScroll { back: 0, page: 10 }
    }
}

impl OutputScroll {
    /// ↑ ↓ j k PgUp PgDn Home End; false for any other key.
    pub(crate) fn on_key(&mut self, key: crate::ui::input::Key) -> bool {
        use crate::ui::input::Key;
        let page = self.page.saturating_sub(1).max(1);
        self.back = match key {
            Key::Up | Key::Char('k') => self.back.saturating_add(1),
            Key::Down | Key::Char('j') => self.back.saturating_sub(1),
            Key::PageUp => self.back.saturating_add(page),
            Key::PageDown => self.back.saturating_sub(page),
            Key::Home | Key::Char('g') => usize::MAX,
            Key::End | Key::Char('G') => 0,
            _ => return false,
        };
        true
    }
}

/// The hook modal's content (`[[actions.hooks]]` `1`…`9`).
pub(super) fn hook(scroll: &mut OutputScroll, t: Theme, g: &mut Grid, area: Rect, m: &Model<'_>) {
    let rect = area.centered(
        area.width.saturating_sub(4).min(120),
        area.height.saturating_sub(2),
    );
    let Some(run) = m.hook else {
        frame(g, rect, " Hook ", " Esc close ", t);
        return;
    };
    let title = format!(" Hook {}: {} · {} ", run.key, run.label, run.ip);
    let inner = frame(g, rect, &title, " Esc close · c copy · ↑↓ scroll ", t);
    let mut lines = Lines::new(g, inner);
    if let Some(mut pen) = lines.next() {
        pen.text("$ ", t.faint())
            .bytes(run.command.as_bytes(), t.faint());
    }
    let state = match run.status() {
        None if run.was_killed() => (format!("stopping (pid {})", run.pid()), t.error()),
        None => (
            format!(
                "running (pid {}, {})",
                run.pid(),
                seconds(run.started.elapsed())
            ),
            t.key(),
        ),
        Some(status) => exit_text(status, run.was_killed(), t),
    };
    state_line(&mut lines, state, run.output(), t);
    let body = lines.rest();
    *scroll = OutputScroll {
        back: draw(g, body, run.output().bytes(), scroll.back, Style::new()),
        page: usize::from(body.height),
    };
}

/// The run's state, and a note when the output was cut.
pub(super) fn state_line(
    lines: &mut Lines<'_>,
    (text, style): (String, Style),
    output: &CommandOutput,
    t: Theme,
) {
    if let Some(mut pen) = lines.next() {
        pen.text(&text, style);
        if output.is_truncated() {
            pen.text(" · output cut (too long)", t.faint());
        }
    }
}

/// `exit 0`, `exit 3`, `killed by signal 9 (timeout or cancelled)`.
pub(super) fn exit_text(status: ExitStatus, killed: bool, t: Theme) -> (String, Style) {
    use std::os::unix::process::ExitStatusExt;
    let why = if killed {
        " (timeout or cancelled)"
    } else {
        ""
    };
    match (status.code(), status.signal()) {
        (Some(0), _) => ("exit 0".into(), t.status(200)),
        (Some(code), _) => (format!("exit {code}{why}"), t.error()),
        (None, Some(sig)) => (format!("killed by signal {sig}{why}"), t.error()),
        (None, None) => ("ended".into(), t.error()),
    }
}

/// `3 s`, `1 min 05 s`.
fn seconds(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s} s")
    } else {
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

/// Draw the lines of `bytes` that fit in `rect`, `back` lines up from the
/// end (clamped); returns the clamped `back`.
pub(super) fn draw(g: &mut Grid, rect: Rect, bytes: &[u8], back: usize, style: Style) -> usize {
    let text = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let page = usize::from(rect.height);
    if text.is_empty() || page == 0 {
        return 0;
    }
    let total = memchr::memchr_iter(b'\n', text).count() + 1;
    let back = back.min(total.saturating_sub(page));
    let first = total.saturating_sub(page + back);
    let shown = text.split(|&b| b == b'\n').skip(first).take(page);
    for (i, line) in shown.enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        put_line(g, rect.row(i as u16), line, style);
    }
    back
}

/// One line of output, tabs to the next stop (other controls become the
/// grid's placeholders).
fn put_line(g: &mut Grid, rect: Rect, line: &[u8], style: Style) {
    let mut pen = Pen::new(g, rect);
    for (n, part) in line.split(|&b| b == b'\t').enumerate() {
        if n > 0 {
            let col = pen.x - rect.x;
            pen.x = (rect.x + (col / TAB + 1) * TAB).min(pen.right);
        }
        pen.bytes(part, style);
    }
}
