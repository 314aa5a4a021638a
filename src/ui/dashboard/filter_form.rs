//! The structured filter modal (`f`): one edited line per part of a
//! [`FilterSpec`], parsed when Enter is pressed. A field that does not
//! parse shows its error right under it and nothing is applied; the filter
//! in force stays until a whole form parses.

use tui_textarea::TextArea;

use super::modal::{frame, text_field, Lines};
use super::{edit_line, line_editor, line_text, Theme};
use crate::config::FilterConfig;
use crate::ui::filter::{FilterError, FilterField, FilterFields, FilterSpec};
use crate::ui::input::Key;
use crate::ui::{Grid, Rect, Style};

/// The fields, top to bottom.
pub(crate) const FIELDS: [FilterField; 7] = [
    FilterField::States,
    FilterField::Status,
    FilterField::MinRpm,
    FilterField::CidrAllow,
    FilterField::CidrDeny,
    FilterField::Text,
    FilterField::Blocked,
];

/// The text of every field, in [`FIELDS`] order.
pub(crate) type FieldTexts = [String; FIELDS.len()];

/// Cells before a field's text: the longest label and a space.
const LABEL_W: u16 = 14;
/// Widest the modal gets.
const MAX_WIDTH: u16 = 84;

/// What a key did to the form.
#[derive(Debug)]
pub(crate) enum Outcome {
    Editing,
    /// Escape: close, change nothing.
    Close,
    /// Enter and every field parsed: this filter, typed as these texts.
    Apply(Box<(FilterSpec, FieldTexts)>),
}

/// The modal's state: the fields being edited, which one has the cursor,
/// and the errors of the last Enter.
pub(crate) struct FilterForm {
    fields: [TextArea<'static>; FIELDS.len()],
    focus: usize,
    errors: Vec<FilterError>,
}

impl FilterForm {
    /// A form holding `texts` (the filter in force, as it was typed).
    pub(crate) fn new(texts: &FieldTexts) -> FilterForm {
        FilterForm {
            fields: std::array::from_fn(|i| line_editor(&texts[i])),
            focus: 0,
            errors: Vec::new(),
        }
    }

    /// Tab / Shift-Tab (and ↑ ↓) move between fields, Enter applies,
    /// Ctrl+L clears (0.2.0's Clear button), Escape closes, anything else
    /// edits the field with the cursor.
    pub(crate) fn on_key(&mut self, key: Key, config: &FilterConfig) -> Outcome {
        let n = FIELDS.len();
        match key {
            Key::Esc => return Outcome::Close,
            Key::Tab | Key::Down => self.focus = (self.focus + 1) % n,
            Key::BackTab | Key::Up => self.focus = (self.focus + n - 1) % n,
            Key::Enter => return self.apply(config),
            Key::Ctrl('l') => return self.clear(config),
            key => edit_line(&mut self.fields[self.focus], key),
        }
        Outcome::Editing
    }

    /// Empty every field and apply that: no filter of the form's (the
    /// config's lists still apply, as with empty fields).
    fn clear(&mut self, config: &FilterConfig) -> Outcome {
        self.fields = std::array::from_fn(|_| line_editor(""));
        self.errors.clear();
        self.focus = 0;
        self.apply(config)
    }

    fn apply(&mut self, config: &FilterConfig) -> Outcome {
        let t: [&str; FIELDS.len()] = std::array::from_fn(|i| line_text(&self.fields[i]));
        let fields = FilterFields {
            states: t[0],
            status: t[1],
            min_rpm: t[2],
            cidr_allow: t[3],
            cidr_deny: t[4],
            text: t[5],
            blocked: t[6],
        };
        match FilterSpec::parse(&fields, config) {
            Ok(spec) => Outcome::Apply(Box::new((spec, t.map(|s| s.trim().to_string())))),
            Err(errors) => {
                // The cursor goes to the first field to fix.
                if let Some(i) = FIELDS.iter().position(|f| errors[0].field == *f) {
                    self.focus = i;
                }
                self.errors = errors;
                Outcome::Editing
            }
        }
    }

    fn error_of(&self, field: FilterField) -> Option<&FilterError> {
        self.errors.iter().find(|e| e.field == field)
    }

    /// The modal, centred in `area`. With room, each field has a line
    /// under it for its error (or an example); on short screens the fields
    /// take one line each, a bad one is marked `✗` and its error takes the
    /// last line.
    pub(super) fn draw(&self, t: Theme, g: &mut Grid, area: Rect, config: &FilterConfig) {
        // Fields, the last line, the frame.
        let roomy_height = FIELDS.len() as u16 * 2 + 3;
        let roomy = area.height >= roomy_height;
        let height = if roomy {
            roomy_height
        } else {
            FIELDS.len() as u16 + 3
        };
        let rect = area.centered(area.width.saturating_sub(2).min(MAX_WIDTH), height);
        let title = " Filter (all parts must match) ";
        let hint = " Enter apply · Ctrl+L clear · Esc cancel ";
        let inner = frame(g, rect, title, hint, t);
        let mut lines = Lines::new(g, inner);
        for (i, &field) in FIELDS.iter().enumerate() {
            self.field_line(&mut lines, t, i, roomy);
            if roomy {
                match self.error_of(field) {
                    Some(e) => lines.text(&format!("  ✗ {e}"), t.error()),
                    None => lines.text(&format!("  {}", example(field)), t.faint()),
                }
            }
        }
        let last = match (roomy, self.errors.first()) {
            (false, Some(e)) => (format!("✗ {e}"), t.error()),
            _ => (config_note(config), t.faint()),
        };
        lines.text(&last.0, last.1);
    }

    fn field_line(&self, lines: &mut Lines<'_>, t: Theme, i: usize, roomy: bool) {
        let field = FIELDS[i];
        let Some(mut pen) = lines.next() else { return };
        let focused = i == self.focus;
        let bad = self.error_of(field).is_some();
        let mark = match (bad, focused) {
            (true, _) if !roomy => "✗",
            (_, true) => "›",
            _ => " ",
        };
        let label_style = if bad { t.error() } else { t.key() };
        let x0 = pen.x;
        pen.text(mark, label_style).text(field.label(), label_style);
        pen.x = (x0 + LABEL_W).min(pen.right);
        let rect = Rect::new(pen.x, pen.y, pen.room(), 1);
        let style = if focused {
            Style::new().bold().underline()
        } else {
            Style::new().underline()
        };
        // The field's whole width underlined, so an empty field shows.
        pen.grid.set_style(rect, style);
        text_field(pen.grid, rect, &self.fields[i], focused, style);
    }
}

/// What a field accepts, shown under it until an error takes the place.
fn example(field: FilterField) -> &'static str {
    match field {
        FilterField::States => "e.g. SYN_RECV,ESTABLISHED",
        FilterField::Status => "e.g. 4xx,5xx or 400-499 or 404",
        FilterField::MinRpm => "requests per minute, e.g. 60",
        FilterField::CidrAllow => "only these networks, e.g. 203.0.113.0/24, 2001:db8::/32",
        FilterField::CidrDeny => "hide these networks",
        FilterField::Text => "in the IP, path or user agent",
        FilterField::Blocked => {
            "yes: already blocked (nft, iptables, ufw, fail2ban, CrowdSec) · no · any"
        }
    }
}

/// The config's lists apply whatever the form says: say so.
fn config_note(config: &FilterConfig) -> String {
    let (a, d) = (config.cidr_allow.len(), config.cidr_deny.len());
    if a + d == 0 {
        "empty fields: no constraint".into()
    } else {
        format!("empty: no constraint · config's cidr_allow {a}, cidr_deny {d} always apply")
    }
}
