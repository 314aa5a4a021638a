//! The grid: a flat, row-major array of cells and the drawing primitives
//! views use.
//!
//! Invariant (checked by [`Grid::check_invariants`] in tests and fuzzing):
//! every cell holds one printable character of width 1, or is one half of
//! a wide character — a head (width 2) immediately followed, on the same
//! row, by a continuation cell with the same style. Every primitive keeps
//! it: text is sanitised on the way in, a wide character never straddles
//! the right edge, and overwriting one half of a wide character blanks the
//! other half (as terminals do). Drawing outside the grid is clipped; no
//! primitive panics at any size, 0×0 included.

use super::cell::{Cell, Style};
use super::rect::Rect;
use super::sanitize::{self, Unit, Units, ELLIPSIS, PLACEHOLDER};

/// Columns a grid holds at most: a bogus window size must not make us
/// allocate gigabytes (2048×1024 cells are 16 MiB per grid).
pub const MAX_WIDTH: u16 = 2048;
/// Rows a grid holds at most.
pub const MAX_HEIGHT: u16 = 1024;

/// A screen's worth of cells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grid {
    width: u16,
    height: u16,
    /// `width * height` cells, row after row.
    cells: Vec<Cell>,
}

impl Grid {
    /// A blank grid (dimensions clamped to [`MAX_WIDTH`]×[`MAX_HEIGHT`]).
    pub fn new(width: u16, height: u16) -> Grid {
        let mut grid = Grid {
            width: 0,
            height: 0,
            cells: Vec::new(),
        };
        grid.resize(width, height);
        grid
    }

    /// Change the size and blank every cell; reuses the allocation when
    /// the grid does not grow.
    pub fn resize(&mut self, width: u16, height: u16) {
        self.width = width.min(MAX_WIDTH);
        self.height = height.min(MAX_HEIGHT);
        self.cells.clear();
        self.cells.resize(self.len(), Cell::BLANK);
    }

    /// Blank every cell.
    pub fn clear(&mut self) {
        self.cells.fill(Cell::BLANK);
    }

    /// Columns.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Rows.
    pub fn height(&self) -> u16 {
        self.height
    }

    /// The whole grid as a rectangle.
    pub fn area(&self) -> Rect {
        Rect::new(0, 0, self.width, self.height)
    }

    /// The cell at column `x`, row `y`.
    pub fn cell(&self, x: u16, y: u16) -> Option<Cell> {
        self.row(y).get(usize::from(x)).copied()
    }

    /// Row `y` (empty past the bottom).
    pub fn row(&self, y: u16) -> &[Cell] {
        let w = usize::from(self.width);
        let start = usize::from(y) * w;
        self.cells.get(start..start + w).unwrap_or(&[])
    }

    fn row_mut(&mut self, y: u16) -> &mut [Cell] {
        let w = usize::from(self.width);
        let start = usize::from(y) * w;
        self.cells.get_mut(start..start + w).unwrap_or(&mut [])
    }

    fn len(&self) -> usize {
        usize::from(self.width) * usize::from(self.height)
    }

    /// Draw `text` at (`x`, `y`) in at most `max_width` cells (and no
    /// further than the right edge), sanitised, cut with `…` when it does
    /// not fit. Returns the cells used. Cells past the text are untouched.
    pub fn put_str(&mut self, x: u16, y: u16, max_width: u16, text: &str, style: Style) -> u16 {
        self.put_units(
            x,
            y,
            max_width,
            text.len(),
            sanitize::str_units(text),
            style,
        )
    }

    /// [`put_str`](Self::put_str) for raw bytes from the outside world:
    /// each invalid UTF-8 sequence shows as one placeholder.
    pub fn put_bytes(&mut self, x: u16, y: u16, max_width: u16, bytes: &[u8], style: Style) -> u16 {
        self.put_units(
            x,
            y,
            max_width,
            bytes.len(),
            sanitize::byte_units(bytes),
            style,
        )
    }

    /// One character (a border, a marker); returns the cells used.
    pub fn put_char(&mut self, x: u16, y: u16, ch: char, style: Style) -> u16 {
        let units = Units::new(std::iter::once(ch));
        self.put_units(x, y, u16::MAX, ch.len_utf8(), units, style)
    }

    /// `len` is the input's length in bytes: no unit takes more cells than
    /// it has bytes, so input that short fits without measuring.
    fn put_units<I>(
        &mut self,
        x: u16,
        y: u16,
        max_width: u16,
        len: usize,
        units: Units<I>,
        style: Style,
    ) -> u16
    where
        I: Iterator<Item = char> + Clone,
    {
        if y >= self.height || x >= self.width {
            return 0;
        }
        let room = max_width.min(self.width - x);
        if room == 0 {
            return 0;
        }
        // Measure first (stops one cell past `room`), so a string that fits
        // exactly is not cut and one that does not keeps a cell for `…`.
        let room_cells = usize::from(room);
        let fits =
            len <= room_cells || sanitize::width_up_to(units.clone(), room_cells) <= room_cells;
        let limit = if fits { room } else { room - 1 };
        let row = self.row_mut(y);
        let mut used = 0;
        for unit in units {
            if used + unit.width() > limit {
                break;
            }
            set_unit(row, x + used, unit, style);
            used += unit.width();
        }
        if !fits {
            set_unit(row, x + used, Unit::Narrow(ELLIPSIS), style);
            used += 1;
            if used < room {
                // A wide character had one cell left before the cut: the
                // cell stays blank (a placeholder would read as bad input).
                set_unit(row, x + used, Unit::Narrow(' '), style);
                used += 1;
            }
        }
        used
    }

    /// Blank `rect` (clipped) with spaces in `style`.
    pub fn fill(&mut self, rect: Rect, style: Style) {
        self.fill_char(rect, ' ', style);
    }

    /// Fill `rect` (clipped) with `ch` (sanitised; a wide character becomes
    /// the placeholder, since it would not tile an odd width).
    pub fn fill_char(&mut self, rect: Rect, ch: char, style: Style) {
        let unit = match Units::new(std::iter::once(ch)).next() {
            Some(Unit::Narrow(c)) => Unit::Narrow(c),
            _ => Unit::Placeholder,
        };
        let rect = rect.intersect(self.area());
        for y in rect.y..rect.bottom() {
            let row = self.row_mut(y);
            for x in rect.x..rect.right() {
                set_unit(row, x, unit, style);
            }
        }
    }

    /// Replace the style of every cell in `rect` (clipped); placeholders stay dim.
    pub fn set_style(&mut self, rect: Rect, style: Style) {
        self.map_style(rect, |_| style);
    }

    /// Change the style of every cell in `rect` (clipped) with `f`, e.g. to
    /// add reverse video to a selected row; placeholders stay dim.
    pub fn map_style(&mut self, rect: Rect, f: impl Fn(Style) -> Style) {
        let rect = rect.intersect(self.area());
        if rect.is_empty() {
            return;
        }
        let (x0, x1) = (usize::from(rect.x), usize::from(rect.right()));
        for y in rect.y..rect.bottom() {
            let row = self.row_mut(y);
            for cell in row.get_mut(x0..x1).unwrap_or(&mut []) {
                let mut style = f(cell.style());
                if cell.ch() == PLACEHOLDER {
                    style = style.dim();
                }
                *cell = Cell::new(cell.ch(), style);
            }
            // A wide character cut by the rectangle: both halves follow the head.
            copy_head_style(row, x0);
            copy_head_style(row, x1);
        }
    }

    /// Row `y` as text (wide characters once, continuation cells skipped).
    pub fn row_text(&self, y: u16) -> String {
        self.row(y)
            .iter()
            .filter(|c| !c.is_continuation())
            .map(|c| c.ch())
            .collect()
    }

    /// Every row as text, trailing spaces trimmed: what view tests assert.
    pub fn text_lines(&self) -> Vec<String> {
        (0..self.height)
            .map(|y| self.row_text(y).trim_end().to_owned())
            .collect()
    }

    /// Check the cell invariant (see the module docs); a description of
    /// the first violation otherwise. For tests and fuzz targets.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        if self.cells.len() != self.len() {
            return Err(format!(
                "{} cells for {}x{}",
                self.cells.len(),
                self.width,
                self.height
            ));
        }
        for y in 0..self.height {
            check_row(self.row(y)).map_err(|(x, what)| format!("({x}, {y}): {what}"))?;
        }
        Ok(())
    }
}

fn check_row(row: &[Cell]) -> Result<(), (usize, &'static str)> {
    let mut expect_continuation = None;
    for (x, cell) in row.iter().enumerate() {
        match (expect_continuation.take(), cell.is_continuation()) {
            (Some(style), true) if style == cell.style() => continue,
            (Some(_), true) => return Err((x, "continuation styled unlike its head")),
            (Some(_), false) => return Err((x, "wide character without continuation")),
            (None, true) => return Err((x, "continuation without a wide head")),
            (None, false) => {}
        }
        let c = cell.ch();
        if !sanitize::is_cell_char(c) {
            return Err((x, "unsanitised character"));
        }
        if c == PLACEHOLDER && !cell.style().is_dim() {
            return Err((x, "placeholder not dim"));
        }
        if sanitize::cell_width(c) == 2 {
            expect_continuation = Some(cell.style());
        }
    }
    match expect_continuation {
        Some(_) => Err((row.len(), "wide character at the right edge")),
        None => Ok(()),
    }
}

/// Write `unit` at column `x` of `row` (the caller checked it fits),
/// blanking the other half of any wide character it cuts.
fn set_unit(row: &mut [Cell], x: u16, unit: Unit, style: Style) {
    let start = usize::from(x);
    let end = start + usize::from(unit.width());
    if end > row.len() {
        return;
    }
    unpair(row, start, end);
    let style = match unit {
        Unit::Placeholder => style.dim(),
        _ => style,
    };
    row[start] = Cell::new(unit.ch(), style);
    if end - start == 2 {
        row[start + 1] = Cell::continuation(style);
    }
}

/// Before cells `start..end` are overwritten: a wide character with one
/// half inside and one outside loses the outside half (it becomes a space
/// in its old style), so no head is left without its continuation or the
/// reverse.
fn unpair(row: &mut [Cell], start: usize, end: usize) {
    if start > 0 && row.get(start).is_some_and(|c| c.is_continuation()) {
        if let Some(head) = row.get_mut(start - 1) {
            *head = Cell::new(' ', head.style());
        }
    }
    if let Some(after) = row.get_mut(end) {
        if after.is_continuation() {
            *after = Cell::new(' ', after.style());
        }
    }
}

/// If the cell at `x` is a continuation, give it its head's style.
fn copy_head_style(row: &mut [Cell], x: usize) {
    if x == 0 || !row.get(x).is_some_and(|c| c.is_continuation()) {
        return;
    }
    if let Some(&head) = row.get(x - 1) {
        row[x] = Cell::continuation(head.style());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::cell::Color;

    const PLAIN: Style = Style::new();

    fn grid_with(width: u16, text: &str) -> Grid {
        let mut g = Grid::new(width, 1);
        g.put_str(0, 0, width, text, PLAIN);
        g.check_invariants().unwrap();
        g
    }

    fn line(g: &Grid) -> String {
        g.row_text(0)
    }

    #[test]
    fn text_that_fits_is_not_cut() {
        let mut g = Grid::new(10, 2);
        assert_eq!(g.put_str(2, 1, 5, "hello", PLAIN), 5);
        assert_eq!(g.text_lines(), ["", "  hello"]);
        assert_eq!(g.put_str(0, 0, 3, "", PLAIN), 0);
    }

    #[test]
    fn text_too_long_is_cut_with_an_ellipsis() {
        let mut g = Grid::new(10, 1);
        assert_eq!(g.put_str(0, 0, 5, "hello world", PLAIN), 5);
        assert_eq!(line(&g), "hell…     ");
        // The right edge cuts as max_width does.
        let mut g = Grid::new(6, 1);
        assert_eq!(g.put_str(3, 0, 100, "abcd", PLAIN), 3);
        assert_eq!(line(&g), "   ab…");
        // One cell: just the ellipsis; zero cells: nothing.
        assert_eq!(g.put_str(0, 0, 1, "ab", PLAIN), 1);
        assert_eq!(g.put_str(0, 0, 0, "ab", PLAIN), 0);
        assert_eq!(line(&g), "…  ab…");
    }

    #[test]
    fn wide_characters_take_two_cells_or_a_placeholder_at_the_cut() {
        let g = grid_with(6, "日本");
        assert_eq!(line(&g), "日本  ");
        assert!(g.cell(1, 0).unwrap().is_continuation());
        // "a日本語" is 7 wide; in 4 cells: a, 日, then one cell before the cut.
        let g = grid_with(4, "a日本語");
        assert_eq!(line(&g), "a日…");
        // In 5, the cell 本 cannot have is a space after the cut, not `�`.
        let g = grid_with(5, "a日本語");
        assert_eq!(line(&g), "a日… ");
        assert!(!line(&g).contains(PLACEHOLDER));
        assert_eq!(Grid::new(5, 1).put_str(0, 0, 5, "a日本語", PLAIN), 5);
        // Exactly fitting wide text is not cut.
        assert_eq!(line(&grid_with(4, "日本")), "日本");
        // A wide character alone at the right edge.
        let mut g = Grid::new(3, 1);
        assert_eq!(g.put_char(2, 0, '日', PLAIN), 1);
        assert_eq!(line(&g), "  …");
    }

    #[test]
    fn hostile_text_lands_as_placeholders() {
        let g = grid_with(40, "\x1b]8;;http://x\x07link\x1b]8;;\x07");
        assert_eq!(line(&g).trim_end(), "�]8;;http://x�link�]8;;�");
        let g = grid_with(20, "a\u{202E}b\u{200B}c");
        assert_eq!(line(&g).trim_end(), "a�b�c");
        let mut g = Grid::new(20, 1);
        assert_eq!(g.put_bytes(0, 0, 20, b"\x9b2J\xc2\x9b31m", PLAIN), 7);
        assert_eq!(line(&g).trim_end(), "�2J�31m");
        let placeholder = g.cell(0, 0).unwrap();
        assert_eq!(placeholder.ch(), PLACEHOLDER);
        assert!(placeholder.style().is_dim());
        assert!(!g.cell(1, 0).unwrap().style().is_dim());
    }

    #[test]
    fn overwriting_half_a_wide_character_blanks_the_other_half() {
        let red = PLAIN.fg(Color::RED);
        let mut g = Grid::new(6, 1);
        g.put_str(0, 0, 6, "日本語", red);
        g.put_char(1, 0, 'x', PLAIN); // second half of 日
        assert_eq!(line(&g), " x本語");
        assert_eq!(g.cell(0, 0).unwrap().style(), red);
        g.put_char(2, 0, 'y', PLAIN); // first half of 本
        assert_eq!(line(&g), " xy 語");
        g.put_char(3, 0, '字', PLAIN); // over a blank and the head of 語
        assert_eq!(line(&g), " xy字 ");
        g.check_invariants().unwrap();
        g.fill(Rect::new(4, 0, 1, 1), PLAIN); // second half of 字
        assert_eq!(line(&g), " xy   ");
        g.check_invariants().unwrap();
    }

    #[test]
    fn fill_and_styles_clip_and_keep_pairs() {
        let mut g = Grid::new(4, 3);
        g.fill_char(Rect::new(1, 1, 10, 10), '─', PLAIN.bold());
        assert_eq!(g.text_lines(), ["", " ───", " ───"]);
        g.fill_char(Rect::new(0, 0, 4, 1), '日', PLAIN);
        assert_eq!(g.text_lines()[0], "����");
        g.put_str(0, 2, 4, "日本", PLAIN);
        g.set_style(Rect::new(1, 2, 2, 1), PLAIN.reverse());
        g.check_invariants().unwrap();
        assert_eq!(g.cell(0, 2).unwrap().style(), PLAIN);
        assert_eq!(g.cell(2, 2).unwrap().style(), PLAIN.reverse());
        assert_eq!(g.cell(3, 2).unwrap().style(), PLAIN.reverse());
        g.map_style(g.area(), Style::underline);
        assert!(g.cell(0, 0).unwrap().style().is_dim());
        g.check_invariants().unwrap();
    }

    #[test]
    fn drawing_out_of_bounds_is_clipped() {
        for (w, h) in [(0, 0), (1, 1), (0, 5), (5, 0), (2, 1)] {
            let mut g = Grid::new(w, h);
            for (x, y) in [(0, 0), (1, 0), (0, 1), (u16::MAX, u16::MAX), (w, h)] {
                g.put_str(x, y, u16::MAX, "日本 text\x1b", PLAIN);
                g.put_bytes(x, y, 3, b"\xff\x9b", PLAIN);
                g.put_char(x, y, '字', PLAIN);
                g.fill(Rect::new(x, y, u16::MAX, u16::MAX), PLAIN.bold());
                g.set_style(Rect::new(x, y, 3, 3), PLAIN);
            }
            g.check_invariants().unwrap();
            assert_eq!(g.text_lines().len(), usize::from(g.height()));
            assert_eq!(g.cell(w, h), None);
        }
        let mut g = Grid::new(1, 1);
        g.put_str(0, 0, 5, "日", PLAIN);
        assert_eq!(g.text_lines(), ["…"]);
    }

    #[test]
    fn resize_blanks_and_clamps() {
        let mut g = grid_with(5, "abc");
        g.resize(3, 2);
        assert_eq!(g.text_lines(), ["", ""]);
        g.resize(u16::MAX, u16::MAX);
        assert_eq!((g.width(), g.height()), (MAX_WIDTH, MAX_HEIGHT));
        g.put_str(MAX_WIDTH - 1, MAX_HEIGHT - 1, 9, "x", PLAIN);
        assert_eq!(g.cell(MAX_WIDTH - 1, MAX_HEIGHT - 1).unwrap().ch(), 'x');
        g.resize(0, 0);
        g.clear();
        assert!(g.text_lines().is_empty());
    }

    #[test]
    fn random_drawing_keeps_the_invariant() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % n.max(1)) as u16
        };
        let texts = [
            "日本語",
            "a\u{301}b",
            "😀x",
            "\x1b[31m",
            "plain text",
            "Ｈｉ",
            "\u{17D8}",
        ];
        let mut g = Grid::new(13, 4);
        for _ in 0..5000 {
            let (x, y, w) = (next(15), next(5), next(16));
            let text = texts[usize::from(next(texts.len() as u64))];
            match next(4) {
                0 => drop(g.put_str(x, y, w, text, PLAIN.fg(Color::Indexed(next(256) as u8)))),
                1 => g.fill(Rect::new(x, y, w, next(3)), PLAIN.bold()),
                2 => g.set_style(Rect::new(x, y, w, 1), PLAIN.reverse()),
                _ => drop(g.put_char(x, y, text.chars().next().unwrap_or(' '), PLAIN)),
            }
            g.check_invariants().unwrap();
        }
    }
}
