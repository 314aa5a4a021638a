//! What one terminal cell holds: a character and a packed style.
//!
//! A [`Cell`] is 8 bytes (`char` + `u32`), so a 200×50 grid is 80 KB and a
//! frame diff walks two flat arrays. Cells are only created by the grid,
//! which sanitises every character first (see `sanitize`), so a cell never
//! holds a control, a zero-width or a format character.

/// A colour: the terminal's default, or an index into the 256-colour palette
/// (0–7 normal, 8–15 bright, 16–231 the 6×6×6 cube, 232–255 greys).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Color {
    /// The terminal's own foreground or background.
    Default,
    /// A palette index.
    Indexed(u8),
}

impl Color {
    /// Palette index 0.
    pub const BLACK: Color = Color::Indexed(0);
    /// Palette index 1.
    pub const RED: Color = Color::Indexed(1);
    /// Palette index 2.
    pub const GREEN: Color = Color::Indexed(2);
    /// Palette index 3.
    pub const YELLOW: Color = Color::Indexed(3);
    /// Palette index 4.
    pub const BLUE: Color = Color::Indexed(4);
    /// Palette index 5.
    pub const MAGENTA: Color = Color::Indexed(5);
    /// Palette index 6.
    pub const CYAN: Color = Color::Indexed(6);
    /// Palette index 7.
    pub const WHITE: Color = Color::Indexed(7);
    /// Palette index 8 ("bright black"): the usual grey.
    pub const GRAY: Color = Color::Indexed(8);
    /// Palette index 9.
    pub const BRIGHT_RED: Color = Color::Indexed(9);
    /// Palette index 10.
    pub const BRIGHT_GREEN: Color = Color::Indexed(10);
    /// Palette index 11.
    pub const BRIGHT_YELLOW: Color = Color::Indexed(11);
    /// Palette index 12.
    pub const BRIGHT_BLUE: Color = Color::Indexed(12);
    /// Palette index 13.
    pub const BRIGHT_MAGENTA: Color = Color::Indexed(13);
    /// Palette index 14.
    pub const BRIGHT_CYAN: Color = Color::Indexed(14);
    /// Palette index 15.
    pub const BRIGHT_WHITE: Color = Color::Indexed(15);

    /// 0 for the default, index + 1 otherwise (fits 9 bits).
    const fn pack(self) -> u32 {
        match self {
            Color::Default => 0,
            Color::Indexed(i) => i as u32 + 1,
        }
    }

    const fn unpack(bits: u32) -> Color {
        match bits & COLOR_MASK {
            0 => Color::Default,
            n => Color::Indexed((n - 1) as u8),
        }
    }
}

const COLOR_MASK: u32 = 0x1ff;
const FG_SHIFT: u32 = 0;
const BG_SHIFT: u32 = 9;
const BOLD: u32 = 1 << 18;
const DIM: u32 = 1 << 19;
const UNDERLINE: u32 = 1 << 20;
const REVERSE: u32 = 1 << 21;
const ATTRS: u32 = BOLD | DIM | UNDERLINE | REVERSE;

/// Foreground, background and attributes packed in a `u32`:
/// bits 0–8 foreground, 9–17 background (0 = default, else index + 1),
/// 18 bold, 19 dim, 20 underline, 21 reverse. `Style::default()` is the
/// terminal's plain style. Builders are `const`, so views can keep their
/// palette in `const` items.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Style(u32);

impl Style {
    /// The plain style: default colours, no attributes.
    pub const fn new() -> Style {
        Style(0)
    }

    /// This style with foreground `color`.
    pub const fn fg(self, color: Color) -> Style {
        Style((self.0 & !(COLOR_MASK << FG_SHIFT)) | (color.pack() << FG_SHIFT))
    }

    /// This style with background `color`.
    pub const fn bg(self, color: Color) -> Style {
        Style((self.0 & !(COLOR_MASK << BG_SHIFT)) | (color.pack() << BG_SHIFT))
    }

    /// This style, bold.
    pub const fn bold(self) -> Style {
        Style(self.0 | BOLD)
    }

    /// This style, dim (faint).
    pub const fn dim(self) -> Style {
        Style(self.0 | DIM)
    }

    /// This style, underlined.
    pub const fn underline(self) -> Style {
        Style(self.0 | UNDERLINE)
    }

    /// This style, reverse video (how selection shows without colour).
    pub const fn reverse(self) -> Style {
        Style(self.0 | REVERSE)
    }

    /// The foreground colour.
    pub const fn fg_color(self) -> Color {
        Color::unpack(self.0 >> FG_SHIFT)
    }

    /// The background colour.
    pub const fn bg_color(self) -> Color {
        Color::unpack(self.0 >> BG_SHIFT)
    }

    /// Whether bold is set.
    pub const fn is_bold(self) -> bool {
        self.0 & BOLD != 0
    }

    /// Whether dim is set.
    pub const fn is_dim(self) -> bool {
        self.0 & DIM != 0
    }

    /// Whether underline is set.
    pub const fn is_underline(self) -> bool {
        self.0 & UNDERLINE != 0
    }

    /// Whether reverse video is set.
    pub const fn is_reverse(self) -> bool {
        self.0 & REVERSE != 0
    }

    /// Only the attributes: what is drawn when colour is off (`NO_COLOR`).
    pub const fn without_colors(self) -> Style {
        Style(self.0 & ATTRS)
    }
}

/// One cell of the grid: a printable character of width 1, the first half
/// of a wide character, or the continuation (second half) of one. The
/// continuation carries the wide character's style so the two halves never
/// disagree. Only the grid builds cells, which keeps that invariant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    ch: char,
    style: Style,
}

/// Marks the second half of a wide character; NUL never survives
/// sanitising, so it cannot be confused with text.
const CONTINUATION: char = '\0';

impl Cell {
    /// A space in the plain style: what a cleared grid holds.
    pub const BLANK: Cell = Cell {
        ch: ' ',
        style: Style::new(),
    };

    /// A cell holding `ch`, which the caller has sanitised.
    pub(super) const fn new(ch: char, style: Style) -> Cell {
        Cell { ch, style }
    }

    /// The second half of a wide character drawn in `style`.
    pub(super) const fn continuation(style: Style) -> Cell {
        Cell {
            ch: CONTINUATION,
            style,
        }
    }

    /// The character (`'\0'` for a continuation cell).
    pub const fn ch(self) -> char {
        self.ch
    }

    /// The style.
    pub const fn style(self) -> Style {
        self.style
    }

    /// Whether this is the second half of a wide character (never written
    /// to the terminal: the wide character covers it).
    pub const fn is_continuation(self) -> bool {
        self.ch == CONTINUATION
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn style_packs_and_unpacks_every_colour() {
        for i in 0..=255u8 {
            let s = Style::new()
                .fg(Color::Indexed(i))
                .bg(Color::Indexed(255 - i));
            assert_eq!(s.fg_color(), Color::Indexed(i));
            assert_eq!(s.bg_color(), Color::Indexed(255 - i));
            assert!(!s.is_bold() && !s.is_dim() && !s.is_underline() && !s.is_reverse());
        }
        let s = Style::new()
            .fg(Color::RED)
            .fg(Color::Default)
            .bold()
            .reverse();
        assert_eq!(s.fg_color(), Color::Default);
        assert_eq!(s.bg_color(), Color::Default);
        assert!(s.is_bold() && s.is_reverse() && !s.is_dim() && !s.is_underline());
        assert_eq!(s.without_colors(), Style::new().bold().reverse());
        assert_eq!(std::mem::size_of::<Cell>(), 8);
    }
}
