//! A tiny, strict terminal emulator for tests: it applies what the renderer
//! sends (CUP, CUF, SGR, `ESC[2J`, mode 2026, printable characters) to a
//! virtual screen, and rejects everything else — any other control or
//! escape sequence, a character that is not a cell character, a printable
//! character while a wrap is pending (a real terminal would wrap, and
//! scroll at the bottom), a wide character that does not fit.
//!
//! Overwriting half of a wide character leaves the other half *broken*
//! (a marker that equals no grid cell) rather than blank, so a renderer
//! that forgets to rewrite it fails the comparison instead of relying on
//! one terminal's repair.

use super::cell::{Cell, Color, Style};
use super::grid::Grid;
use super::sanitize;

/// What a half-erased wide character shows: equals no sanitised cell.
const BROKEN: char = '\u{1}';

/// A virtual terminal screen.
pub(crate) struct Vt {
    width: u16,
    height: u16,
    cells: Vec<Cell>,
    x: u16,
    y: u16,
    pending_wrap: bool,
    pen: Style,
    /// Measure every character as one cell, as a terminal whose wcwidth
    /// is older than ours does for new emoji.
    narrow_wide: bool,
}

impl Vt {
    /// A screen full of junk (`Z`), as a terminal that showed something else.
    pub(crate) fn new(width: u16, height: u16) -> Vt {
        Vt {
            width,
            height,
            cells: vec![Cell::new('Z', Style::new()); usize::from(width) * usize::from(height)],
            x: 0,
            y: 0,
            pending_wrap: false,
            pen: Style::new().fg(Color::Indexed(200)),
            narrow_wide: false,
        }
    }

    /// A screen that measures wide characters as one cell.
    pub(crate) fn with_narrow_wide(mut self) -> Vt {
        self.narrow_wide = true;
        self
    }

    /// Apply `bytes`; the first thing a real terminal would do differently
    /// from the renderer's model is an error.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Result<(), String> {
        let text = std::str::from_utf8(bytes).map_err(|e| format!("invalid UTF-8: {e}"))?;
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if c == '\x1b' {
                rest = self
                    .escape(rest)
                    .map_err(|e| format!("{e} at {:?}", head(rest)))?;
            } else {
                self.print(c)
                    .map_err(|e| format!("{e} at {:?}", head(rest)))?;
                rest = &rest[c.len_utf8()..];
            }
        }
        Ok(())
    }

    fn escape<'a>(&mut self, seq: &'a str) -> Result<&'a str, String> {
        let body = seq.strip_prefix("\x1b[").ok_or("ESC not followed by [")?;
        let end = body
            .find(|c: char| !(c.is_ascii_digit() || c == ';' || c == '?'))
            .ok_or("unterminated CSI")?;
        let (params, final_byte) = (&body[..end], body.as_bytes()[end]);
        match (params, final_byte) {
            ("?2026", b'h' | b'l') => {}
            (_, b'H') => {
                let mut it = params.split(';').map(param);
                let row = it.next().unwrap_or(Ok(1))?.max(1);
                let col = it.next().unwrap_or(Ok(1))?.max(1);
                self.y = (row - 1).min(self.height.saturating_sub(1));
                self.x = (col - 1).min(self.width.saturating_sub(1));
                self.pending_wrap = false;
            }
            (_, b'C') => {
                let n = param(params)?.max(1);
                self.x = self.x.saturating_add(n).min(self.width.saturating_sub(1));
                self.pending_wrap = false;
            }
            (_, b'm') => self.sgr(params)?,
            ("2", b'J') => {
                let blank = Cell::new(' ', Style::new().bg(self.pen.bg_color()));
                self.cells.fill(blank);
            }
            _ => {
                return Err(format!(
                    "unknown sequence ESC[{params}{}",
                    final_byte as char
                ))
            }
        }
        Ok(&body[end + 1..])
    }

    fn sgr(&mut self, params: &str) -> Result<(), String> {
        let mut it = params.split(';').map(param);
        while let Some(p) = it.next() {
            let p = p?;
            let mut indexed = || -> Result<u8, String> {
                match (it.next(), it.next()) {
                    (Some(Ok(5)), Some(Ok(n))) if n < 256 => Ok(n as u8),
                    _ => Err("bad 38/48 colour".into()),
                }
            };
            self.pen = match p {
                0 => Style::new(),
                1 => self.pen.bold(),
                2 => self.pen.dim(),
                4 => self.pen.underline(),
                7 => self.pen.reverse(),
                22 => attrs(
                    self.pen,
                    false,
                    false,
                    self.pen.is_underline(),
                    self.pen.is_reverse(),
                ),
                24 => attrs(
                    self.pen,
                    self.pen.is_bold(),
                    self.pen.is_dim(),
                    false,
                    self.pen.is_reverse(),
                ),
                27 => attrs(
                    self.pen,
                    self.pen.is_bold(),
                    self.pen.is_dim(),
                    self.pen.is_underline(),
                    false,
                ),
                30..=37 => self.pen.fg(Color::Indexed((p - 30) as u8)),
                90..=97 => self.pen.fg(Color::Indexed((p - 90 + 8) as u8)),
                38 => self.pen.fg(Color::Indexed(indexed()?)),
                39 => self.pen.fg(Color::Default),
                40..=47 => self.pen.bg(Color::Indexed((p - 40) as u8)),
                100..=107 => self.pen.bg(Color::Indexed((p - 100 + 8) as u8)),
                48 => self.pen.bg(Color::Indexed(indexed()?)),
                49 => self.pen.bg(Color::Default),
                _ => return Err(format!("unknown SGR {p}")),
            };
        }
        Ok(())
    }

    fn print(&mut self, c: char) -> Result<(), String> {
        if !sanitize::is_cell_char(c) {
            return Err(format!("{c:?} is not a cell character"));
        }
        if self.pending_wrap {
            return Err("printable character while a wrap is pending".into());
        }
        let w = if self.narrow_wide {
            1
        } else {
            sanitize::cell_width(c)
        };
        if self.x + w > self.width || self.y >= self.height {
            return Err("character does not fit".into());
        }
        let row = usize::from(self.y) * usize::from(self.width);
        let (start, end) = (row + usize::from(self.x), row + usize::from(self.x + w));
        // Half of a wide character overwritten: the other half is broken.
        if self.x > 0 && self.cells[start].is_continuation() {
            self.cells[start - 1] = Cell::new(BROKEN, self.cells[start - 1].style());
        }
        if self.x + w < self.width && self.cells[end].is_continuation() {
            self.cells[end] = Cell::new(BROKEN, self.cells[end].style());
        }
        self.cells[start] = Cell::new(c, self.pen);
        if w == 2 {
            self.cells[start + 1] = Cell::continuation(self.pen);
        }
        self.x += w;
        if self.x >= self.width {
            self.x = self.width - 1;
            self.pending_wrap = true;
        }
        Ok(())
    }

    /// Whether the screen shows `grid` (colours ignored when `color` is
    /// false; with narrow wide characters, continuation cells are skipped,
    /// since such a terminal leaves them as they were).
    pub(crate) fn check_shows(&self, grid: &Grid, color: bool) -> Result<(), String> {
        if (self.width, self.height) != (grid.width(), grid.height()) {
            return Err("size differs".into());
        }
        for y in 0..self.height {
            for (x, want) in grid.row(y).iter().enumerate() {
                let got = self.cells[usize::from(y) * usize::from(self.width) + x];
                if self.narrow_wide && want.is_continuation() {
                    continue;
                }
                let want_style = if color {
                    want.style()
                } else {
                    want.style().without_colors()
                };
                if got.ch() != want.ch() || got.style() != want_style {
                    return Err(format!(
                        "({x}, {y}): screen {got:?}, grid {want:?}\nscreen: {:?}\ngrid:   {:?}",
                        self.row_text(y),
                        grid.row_text(y)
                    ));
                }
            }
        }
        Ok(())
    }

    fn row_text(&self, y: u16) -> String {
        let w = usize::from(self.width);
        let start = usize::from(y) * w;
        self.cells[start..start + w]
            .iter()
            .filter(|c| !c.is_continuation())
            .map(|c| c.ch())
            .collect()
    }
}

fn param(p: &str) -> Result<u16, String> {
    if p.is_empty() {
        return Ok(0);
    }
    p.parse().map_err(|_| format!("bad parameter {p:?}"))
}

fn attrs(pen: Style, bold: bool, dim: bool, underline: bool, reverse: bool) -> Style {
    let mut s = Style::new().fg(pen.fg_color()).bg(pen.bg_color());
    if bold {
        s = s.bold();
    }
    if dim {
        s = s.dim();
    }
    if underline {
        s = s.underline();
    }
    if reverse {
        s = s.reverse();
    }
    s
}

fn head(s: &str) -> &str {
    let end = s.char_indices().nth(12).map_or(s.len(), |(i, _)| i);
    &s[..end]
}
