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
pub(crate) const MAX_WIDTH: u16 = 2048;
/// Rows a grid holds at most.
pub(crate) const MAX_HEIGHT: u16 = 1024;

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
    pub(crate) fn resize(&mut self, width: u16, height: u16) {
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
    pub(crate) fn row(&self, y: u16) -> &[Cell] {
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
    pub(crate) fn put_char(&mut self, x: u16, y: u16, ch: char, style: Style) -> u16 {
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
    pub(crate) fn set_style(&mut self, rect: Rect, style: Style) {
        self.map_style(rect, |_| style);
    }

    /// Change the style of every cell in `rect` (clipped) with `f`, e.g. to
    /// add reverse video to a selected row; placeholders stay dim.
    pub(crate) fn map_style(&mut self, rect: Rect, f: impl Fn(Style) -> Style) {
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
mod tests;
