//! Turning text from the outside world into cell-sized units.
//!
//! Every string that reaches the grid (paths, user agents, usernames, whois
//! and GeoIP text, and our own labels alike) goes through [`Units`]. The
//! invariant it gives the grid: every unit is one printable character of
//! width 1, or one of width 2 (East Asian Wide/Fullwidth, emoji) — so the
//! terminal's cursor and ours move by the same amount, and no byte that a
//! terminal would *act on* can come out of a cell.
//!
//! Decisions:
//! - **Placeholder.** Anything not printable becomes [`PLACEHOLDER`] (U+FFFD
//!   `�`), drawn dim by the grid: C0 controls (ESC, BEL, CR, LF, TAB
//!   included), DEL, C1 (U+0080–U+009F; raw bytes 0x80–0x9F are invalid
//!   UTF-8 and become U+FFFD on decoding), bidi embeddings, overrides,
//!   isolates and marks (U+202A–U+202E, U+2066–U+2069, U+200E/F, U+061C),
//!   zero-width spaces and joiners (U+200B–U+200D, U+2060, U+FEFF), the
//!   soft hyphen, variation selectors, tag characters, invisible fillers
//!   (Hangul fillers) and interlinear annotation marks, line/paragraph
//!   separators, noncharacters, and characters whose width is neither 1
//!   nor 2 (U+17D8 is 3 columns). One placeholder per character, so an
//!   operator can count what was hidden in a path.
//! - **Combining marks** (other zero-width characters: accents, vowel
//!   signs, Hangul medial jamo) are not attached to their base: a run of
//!   them becomes one placeholder after the base. Attaching would need more
//!   than one `char` per cell and trusts the terminal to compose the same
//!   way we count; a run of 200 marks ("Zalgo") costs one cell.
//! - **Wide characters** take two cells. Emoji presentation sequences are
//!   not composed (the variation selector becomes a placeholder), so each
//!   code point is measured alone, the way a terminal does.
//! - Ambiguous-width characters (`…`, `�`, `·`) count as 1, like every
//!   terminal outside a CJK locale.

use unicode_width::UnicodeWidthChar;

/// What a non-printable character becomes (drawn dim).
pub(crate) const PLACEHOLDER: char = '\u{FFFD}';
/// What ends a cut string.
pub(crate) const ELLIPSIS: char = '\u{2026}';

/// One cell-sized piece of sanitised text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unit {
    /// A printable character one cell wide.
    Narrow(char),
    /// A printable character two cells wide.
    Wide(char),
    /// A stand-in for a hidden character (one cell, [`PLACEHOLDER`]).
    Placeholder,
}

impl Unit {
    /// Cells this unit takes: 1 or 2.
    pub(crate) const fn width(self) -> u16 {
        match self {
            Unit::Wide(_) => 2,
            Unit::Narrow(_) | Unit::Placeholder => 1,
        }
    }

    /// The character written to the terminal for this unit.
    pub(crate) const fn ch(self) -> char {
        match self {
            Unit::Narrow(c) | Unit::Wide(c) => c,
            Unit::Placeholder => PLACEHOLDER,
        }
    }
}

/// How a single character is treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Narrow,
    Wide,
    /// Shown as its own placeholder.
    Hidden,
    /// Zero-width combining character: a run collapses into one placeholder.
    Mark,
}

fn classify(c: char) -> Class {
    if (' '..='~').contains(&c) {
        return Class::Narrow; // the common case, no table lookup
    }
    if is_invisible_format(c) {
        return Class::Hidden;
    }
    match c.width() {
        Some(1) => Class::Narrow,
        Some(2) => Class::Wide,
        Some(0) => Class::Mark,
        _ => Class::Hidden, // controls (None) and U+17D8 (3 columns)
    }
}

/// Characters that are invisible, reorder text or are noncharacters, listed
/// so each one gets its own placeholder (most are zero-width, and would
/// otherwise merge into a combining-mark run; a few have width 1 or 2 but
/// draw nothing, which makes them spoofing tools).
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' // soft hyphen
        | '\u{034F}' // combining grapheme joiner
        | '\u{0600}'..='\u{0605}' | '\u{061C}' | '\u{06DD}' | '\u{070F}'
        | '\u{0890}'..='\u{0891}' | '\u{08E2}' // prepended marks, Arabic letter mark
        | '\u{115F}'..='\u{1160}' | '\u{3164}' | '\u{FFA0}' // Hangul fillers
        | '\u{17B4}'..='\u{17B5}' // Khmer inherent vowels
        | '\u{180B}'..='\u{180F}' // Mongolian selectors and vowel separator
        | '\u{200B}'..='\u{200F}' // zero-width space/joiners, LRM, RLM
        | '\u{2028}'..='\u{202E}' // line/paragraph separators, bidi embeddings/overrides
        | '\u{2060}'..='\u{206F}' // word joiner, invisible operators, bidi isolates
        | '\u{FE00}'..='\u{FE0F}' // variation selectors
        | '\u{FEFF}' // byte order mark / zero-width no-break space
        | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation
        | '\u{FFFD}' // an earlier replacement shows as a placeholder too
        | '\u{FDD0}'..='\u{FDEF}' // noncharacters
        | '\u{110BD}' | '\u{110CD}' | '\u{13430}'..='\u{1343F}'
        | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E0FFF}' // tags, variation selectors supplement
    ) || (c as u32) & 0xFFFE == 0xFFFE // U+xFFFE / U+xFFFF noncharacters
}

/// Sanitised units of a character stream. `Clone` so a caller can measure
/// first and draw second without allocating.
#[derive(Clone, Debug)]
pub(crate) struct Units<I> {
    chars: I,
    in_marks: bool,
}

impl<I: Iterator<Item = char>> Units<I> {
    /// Units of `chars`.
    pub(crate) fn new(chars: I) -> Units<I> {
        Units {
            chars,
            in_marks: false,
        }
    }
}

impl<I: Iterator<Item = char>> Iterator for Units<I> {
    type Item = Unit;

    fn next(&mut self) -> Option<Unit> {
        loop {
            let c = self.chars.next()?;
            let class = classify(c);
            let was_in_marks = std::mem::replace(&mut self.in_marks, class == Class::Mark);
            return Some(match class {
                Class::Narrow => Unit::Narrow(c),
                Class::Wide => Unit::Wide(c),
                Class::Hidden => Unit::Placeholder,
                Class::Mark if was_in_marks => continue,
                Class::Mark => Unit::Placeholder,
            });
        }
    }
}

/// Units of a `&str`.
pub(crate) fn str_units(text: &str) -> Units<std::str::Chars<'_>> {
    Units::new(text.chars())
}

/// Units of raw bytes from the outside world (invalid UTF-8 included).
pub(crate) fn byte_units(bytes: &[u8]) -> Units<LossyChars<'_>> {
    Units::new(LossyChars::new(bytes))
}

/// Cells `units` would take, counting no further than `limit + 1` (enough
/// to tell whether it fits in `limit`).
pub(crate) fn width_up_to<I: Iterator<Item = Unit>>(units: I, limit: usize) -> usize {
    let mut width = 0;
    for unit in units {
        width += usize::from(unit.width());
        if width > limit {
            break;
        }
    }
    width
}

/// Cells `text` takes once sanitised (for right-aligning, centring).
pub(crate) fn text_width(text: &str) -> usize {
    str_units(text).map(|u| usize::from(u.width())).sum()
}

/// The characters of possibly invalid UTF-8, each maximal invalid sequence
/// decoded as one U+FFFD (as `String::from_utf8_lossy`, without allocating).
#[derive(Clone, Debug)]
pub(crate) struct LossyChars<'a> {
    chunks: std::str::Utf8Chunks<'a>,
    valid: std::str::Chars<'a>,
    invalid_pending: bool,
}

impl<'a> LossyChars<'a> {
    /// Characters of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> LossyChars<'a> {
        LossyChars {
            chunks: bytes.utf8_chunks(),
            valid: "".chars(),
            invalid_pending: false,
        }
    }
}

impl Iterator for LossyChars<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        loop {
            if let Some(c) = self.valid.next() {
                return Some(c);
            }
            if std::mem::take(&mut self.invalid_pending) {
                return Some(char::REPLACEMENT_CHARACTER);
            }
            let chunk = self.chunks.next()?;
            self.valid = chunk.valid().chars();
            self.invalid_pending = !chunk.invalid().is_empty();
        }
    }
}

/// Cells a character from a cell takes (1 or 2).
pub fn cell_width(c: char) -> u16 {
    match classify(c) {
        Class::Wide => 2,
        _ => 1,
    }
}

/// Whether `c` may be written to the terminal as a cell's content: what
/// tests and fuzzers assert about every character the renderer emits.
pub fn is_cell_char(c: char) -> bool {
    c == PLACEHOLDER || matches!(classify(c), Class::Narrow | Class::Wide)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(s: &str) -> Vec<Unit> {
        str_units(s).collect()
    }

    fn shown(s: &str) -> String {
        str_units(s).map(Unit::ch).collect()
    }

    #[test]
    fn printable_ascii_passes_through() {
        let all: String = (' '..='~').collect();
        assert_eq!(shown(&all), all);
        assert_eq!(text_width(&all), 95);
    }

    #[test]
    fn controls_become_one_placeholder_each() {
        for c in ('\0'..' ').chain(['\u{7f}']).chain('\u{80}'..='\u{9f}') {
            assert_eq!(units(&c.to_string()), [Unit::Placeholder], "{:?}", c);
        }
        assert_eq!(shown("a\x1b[31mb\tc\r\n"), "a�[31mb�c��");
    }

    #[test]
    fn bidi_zero_width_and_format_characters_become_placeholders() {
        let hidden = [
            '\u{202A}',
            '\u{202B}',
            '\u{202C}',
            '\u{202D}',
            '\u{202E}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{200E}',
            '\u{200F}',
            '\u{061C}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{FE0F}',
            '\u{E0041}',
            '\u{2028}',
            '\u{2029}',
            '\u{3164}',
            '\u{115F}',
            '\u{FFFF}',
            '\u{1FFFE}',
            '\u{FDD0}',
            '\u{17D8}',
            '\u{FFFD}',
            '\u{E0100}',
        ];
        for c in hidden {
            // Each is its own placeholder, even when several follow each other.
            let s: String = ['x', c, c, 'y'].iter().collect();
            assert_eq!(shown(&s), "x��y", "{:?}", c);
            assert!(!is_cell_char(c) || c == PLACEHOLDER, "{:?}", c);
        }
        // "evil.exe" spelled backwards by an RLO stays in logical order.
        assert_eq!(shown("\u{202E}exe.live"), "�exe.live");
    }

    #[test]
    fn a_run_of_combining_marks_is_one_placeholder() {
        assert_eq!(shown("e\u{301}"), "e�");
        assert_eq!(shown("e\u{301}\u{302}\u{303}x"), "e�x");
        assert_eq!(shown("\u{301}"), "�");
        let zalgo: String = std::iter::once('a').chain(['\u{336}'; 200]).collect();
        assert_eq!(text_width(&zalgo), 2);
        // A listed format character between marks splits the run.
        assert_eq!(shown("e\u{301}\u{200B}\u{301}"), "e���");
    }

    #[test]
    fn wide_characters_take_two_cells() {
        assert_eq!(units("日本"), [Unit::Wide('日'), Unit::Wide('本')]);
        assert_eq!(units("😀"), [Unit::Wide('😀')]);
        assert_eq!(units("Ｈ"), [Unit::Wide('Ｈ')]);
        assert_eq!(text_width("a日b😀"), 6);
        // Emoji presentation sequences are not composed.
        assert_eq!(units("❤\u{FE0F}"), [Unit::Narrow('❤'), Unit::Placeholder]);
        assert_eq!(text_width("👨\u{200D}👩"), 5);
    }

    #[test]
    fn invalid_utf8_is_one_replacement_per_maximal_sequence() {
        let bytes = b"a\x9b31mb\xe2\x82c\xff\xfe\xf0\x9f\x98\x80";
        let chars: String = LossyChars::new(bytes).collect();
        assert_eq!(chars, String::from_utf8_lossy(bytes));
        let shown: String = byte_units(bytes).map(Unit::ch).collect();
        assert_eq!(shown, "a�31mb�c��😀");
        // C1 CSI encoded as UTF-8 (U+009B) is caught too.
        let shown: String = byte_units("\u{9b}2J".as_bytes()).map(Unit::ch).collect();
        assert_eq!(shown, "�2J");
    }

    #[test]
    fn lossy_chars_matches_std_on_random_bytes() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            let mut bytes = [0u8; 12];
            for b in &mut bytes {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // Mostly high bytes, where UTF-8 goes wrong.
                *b = (seed as u8) | if seed & 0x100 != 0 { 0x80 } else { 0 };
            }
            let ours: String = LossyChars::new(&bytes).collect();
            assert_eq!(ours, String::from_utf8_lossy(&bytes), "{:x?}", bytes);
        }
    }

    #[test]
    fn width_up_to_stops_early() {
        assert_eq!(width_up_to(str_units("abcdef"), 3), 4);
        assert_eq!(width_up_to(str_units("ab"), 3), 2);
        assert_eq!(width_up_to(str_units(""), 0), 0);
    }

    #[test]
    fn every_unit_is_a_cell_char() {
        // Every code point in the BMP and the emoji planes, in one string.
        let all: String = (0u32..0x2_0000).filter_map(char::from_u32).collect();
        // No character takes more cells than its UTF-8 bytes (the grid's
        // shortcut for short strings relies on it).
        for c in all.chars() {
            assert!(
                text_width(c.encode_utf8(&mut [0; 4])) <= c.len_utf8(),
                "{:?}",
                c
            );
        }
        for unit in str_units(&all) {
            let c = unit.ch();
            assert!(is_cell_char(c), "{:?}", c);
            let w = match unit {
                Unit::Placeholder => 1,
                _ => c.width().unwrap_or(0),
            };
            assert_eq!(w, usize::from(unit.width()), "{:?}", c);
        }
    }
}
