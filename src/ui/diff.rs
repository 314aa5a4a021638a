//! Turning the screen that shows one grid into the next, in few bytes.
//!
//! [`diff`] walks both grids row by row and writes only changed cells:
//! - **Cursor.** Tracked while known. Between two changed cells on a row
//!   the cheapest of: nothing (adjacent), rewriting the unchanged cells in
//!   between (when they are narrow and in the current SGR), CUF `ESC[nC`,
//!   or CUP `ESC[row;colH`. After a wide character the cursor is taken as
//!   unknown, so the next write repositions with CUP: a terminal whose
//!   width table disagrees with ours (an emoji newer than its wcwidth) can
//!   then misdraw that one cell but never shift the rest of the row.
//! - **Last column.** Writing the last column leaves a VT100 terminal in
//!   "pending wrap" (it wraps only when the *next* printable character
//!   arrives), so even the bottom-right cell does not scroll; we then treat
//!   the cursor as unknown and always send CUP before the next character.
//!   Nothing relies on auto-wrap, so the terminal guard may also turn it
//!   off (`ESC[?7l`).
//! - **SGR** only when the style changes: the shorter of the minimal
//!   transition (`22`/`24`/`27` to turn attributes off, `39`/`49` for
//!   default colours) and reset-then-set (`0;…`). The SGR state at the
//!   start of a frame is taken as unknown, so whatever else wrote to the
//!   terminal between frames cannot leak a style into ours.
//! - **Continuation cells** (second halves of wide characters) are never
//!   written: the wide character covers them.
//! - **Full redraw** (`ESC[0m ESC[2J`, then every non-blank cell) when the
//!   sizes differ, on the first frame and after [`Renderer::invalidate`].
//! - **No colour** ([`RenderMode::color`] false: `NO_COLOR`, `--color
//!   never`, `TERM=dumb`): colours are dropped, bold, dim, underline and
//!   reverse stay (they are not colours; dim is what marks placeholders).
//! - With [`RenderMode::sync_update`] a non-empty frame is wrapped in
//!   `ESC[?2026h` … `ESC[?2026l` (synchronized update: terminals that know
//!   it paint the frame at once, others ignore the private mode).
//!
//! Nothing here allocates once `out` has grown to a frame's size.

use super::cell::{Cell, Color, Style};
use super::grid::Grid;
use super::sanitize;

/// How frames are encoded for this terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenderMode {
    /// Colours on; off for `NO_COLOR`, `--color never` and `TERM=dumb`.
    pub color: bool,
    /// Wrap frames in synchronized-update marks (DEC private mode 2026).
    pub sync_update: bool,
}

impl Default for RenderMode {
    fn default() -> RenderMode {
        RenderMode {
            color: true,
            sync_update: true,
        }
    }
}

const BEGIN_SYNC: &[u8] = b"\x1b[?2026h";
const END_SYNC: &[u8] = b"\x1b[?2026l";
const CLEAR: &[u8] = b"\x1b[0m\x1b[2J";

/// Append to `out` the bytes that turn a terminal showing `prev` into one
/// showing `next` (a full redraw when their sizes differ). Appends nothing
/// when they look the same.
pub fn diff(prev: &Grid, next: &Grid, mode: RenderMode, out: &mut Vec<u8>) {
    if (prev.width(), prev.height()) != (next.width(), next.height()) {
        return redraw(next, mode, out);
    }
    frame(out, mode, next.width(), |enc| enc.paint(Some(prev), next));
}

/// Append to `out` the bytes that clear the terminal and draw `next`,
/// whatever it showed before.
pub fn redraw(next: &Grid, mode: RenderMode, out: &mut Vec<u8>) {
    frame(out, mode, next.width(), |enc| {
        enc.out.extend_from_slice(CLEAR);
        enc.pen = Some(Style::new());
        enc.paint(None, next);
    });
}

fn frame(out: &mut Vec<u8>, mode: RenderMode, width: u16, paint: impl FnOnce(&mut Encoder)) {
    let start = out.len();
    if mode.sync_update {
        out.extend_from_slice(BEGIN_SYNC);
    }
    let body = out.len();
    let mut enc = Encoder {
        out,
        mode,
        width,
        cursor: None,
        pen: None,
    };
    paint(&mut enc);
    if out.len() == body {
        out.truncate(start); // nothing changed: not even the sync marks
    } else if mode.sync_update {
        out.extend_from_slice(END_SYNC);
    }
}

/// The terminal as far as the bytes written so far tell.
struct Encoder<'a> {
    out: &'a mut Vec<u8>,
    mode: RenderMode,
    width: u16,
    /// Where the cursor is, when known: not after a wide character, not
    /// after the last column (pending wrap), not at the start of a frame.
    cursor: Option<(u16, u16)>,
    /// The current SGR, when known.
    pen: Option<Style>,
}

impl Encoder<'_> {
    /// Write every cell of `next` that differs from `prev` (a blank screen
    /// when `None`).
    fn paint(&mut self, prev: Option<&Grid>, next: &Grid) {
        for y in 0..next.height() {
            let row = next.row(y);
            let old = prev.map(|p| p.row(y));
            if old == Some(row) {
                continue; // one slice comparison for the common unchanged row
            }
            for (x, &cell) in row.iter().enumerate() {
                let before = old.and_then(|o| o.get(x)).copied().unwrap_or(Cell::BLANK);
                if cell.is_continuation() || self.looks_same(before, cell) {
                    continue;
                }
                self.move_to(x as u16, y, row);
                self.set_pen(cell.style());
                self.put(cell.ch(), x as u16, y);
            }
        }
    }

    fn effective(&self, style: Style) -> Style {
        if self.mode.color {
            style
        } else {
            style.without_colors()
        }
    }

    fn looks_same(&self, a: Cell, b: Cell) -> bool {
        a.ch() == b.ch() && self.effective(a.style()) == self.effective(b.style())
    }

    fn put(&mut self, ch: char, x: u16, y: u16) {
        let mut buf = [0; 4];
        self.out
            .extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        self.cursor = if sanitize::cell_width(ch) == 2 || x + 1 >= self.width {
            None
        } else {
            Some((x + 1, y))
        };
    }

    /// Bring the cursor to (`x`, `y`) the cheapest way; `row` is the row
    /// being drawn (its unchanged cells may be rewritten to get there).
    fn move_to(&mut self, x: u16, y: u16, row: &[Cell]) {
        let cup = cup_len(x, y);
        match self.cursor {
            Some((cx, cy)) if cy == y && cx == x => return,
            Some((cx, cy)) if cy == y && cx < x => {
                let gap = row.get(usize::from(cx)..usize::from(x)).unwrap_or(&[]);
                let cuf = cuf_len(x - cx);
                match self.rewrite_len(gap) {
                    Some(len) if len <= cuf && len <= cup => return self.rewrite(gap, x, y),
                    _ if cuf < cup => return self.cuf(x - cx, x, y),
                    _ => {}
                }
            }
            _ => {}
        }
        self.cup(x, y);
    }

    /// Bytes to rewrite `gap` as it is, if that leaves the screen as it
    /// was: every cell narrow and in the current SGR.
    fn rewrite_len(&self, gap: &[Cell]) -> Option<usize> {
        let pen = self.pen?;
        let mut len = 0;
        for cell in gap {
            // A continuation marks a wide character: rewriting is not worth it.
            if cell.is_continuation() || self.effective(cell.style()) != pen {
                return None;
            }
            len += cell.ch().len_utf8();
        }
        Some(len)
    }

    fn rewrite(&mut self, gap: &[Cell], x: u16, y: u16) {
        let mut buf = [0; 4];
        for cell in gap {
            self.out
                .extend_from_slice(cell.ch().encode_utf8(&mut buf).as_bytes());
        }
        self.cursor = Some((x, y));
    }

    fn cuf(&mut self, n: u16, x: u16, y: u16) {
        self.out.extend_from_slice(b"\x1b[");
        if n > 1 {
            push_num(self.out, n);
        }
        self.out.push(b'C');
        self.cursor = Some((x, y));
    }

    fn cup(&mut self, x: u16, y: u16) {
        self.out.extend_from_slice(b"\x1b[");
        if (x, y) != (0, 0) {
            push_num(self.out, y + 1);
        }
        if x > 0 {
            self.out.push(b';');
            push_num(self.out, x + 1);
        }
        self.out.push(b'H');
        self.cursor = Some((x, y));
    }

    fn set_pen(&mut self, style: Style) {
        let style = self.effective(style);
        if self.pen == Some(style) {
            return;
        }
        let mut full = Params::default();
        full.push(0);
        full.push_style(style);
        let params = match self.pen {
            Some(old) => {
                let mut minimal = Params::default();
                minimal.push_transition(old, style);
                if minimal.len < full.len {
                    minimal
                } else {
                    full
                }
            }
            None => full,
        };
        self.out.extend_from_slice(b"\x1b[");
        self.out.extend_from_slice(params.as_bytes());
        self.out.push(b'm');
        self.pen = Some(style);
    }
}

/// Length of `ESC[nC`.
fn cuf_len(n: u16) -> usize {
    3 + if n > 1 { num_len(n) } else { 0 }
}

/// Length of the CUP `cup` writes.
fn cup_len(x: u16, y: u16) -> usize {
    let row = if (x, y) == (0, 0) { 0 } else { num_len(y + 1) };
    let col = if x > 0 { 1 + num_len(x + 1) } else { 0 };
    3 + row + col
}

fn num_len(n: u16) -> usize {
    match n {
        0..=9 => 1,
        10..=99 => 2,
        100..=999 => 3,
        1000..=9999 => 4,
        _ => 5,
    }
}

fn push_num(out: &mut Vec<u8>, n: u16) {
    let mut digits = [0u8; 5];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// SGR parameters, `;`-separated, on the stack (at most ~30 bytes).
struct Params {
    buf: [u8; 48],
    len: usize,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            buf: [0; 48],
            len: 0,
        }
    }
}

impl Params {
    fn push(&mut self, n: u8) {
        let mut digits = [0u8; 4];
        let mut i = digits.len();
        let mut n = n;
        loop {
            i -= 1;
            digits[i] = b'0' + n % 10;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if self.len > 0 {
            digits[i - 1] = b';';
            i -= 1;
        }
        let part = &digits[i..];
        if let Some(dst) = self.buf.get_mut(self.len..self.len + part.len()) {
            dst.copy_from_slice(part);
            self.len += part.len();
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Everything `style` sets, after a reset.
    fn push_style(&mut self, style: Style) {
        let on = [
            (style.is_bold(), 1),
            (style.is_dim(), 2),
            (style.is_underline(), 4),
            (style.is_reverse(), 7),
        ];
        for (set, code) in on {
            if set {
                self.push(code);
            }
        }
        if style.fg_color() != Color::Default {
            self.push_color(style.fg_color(), 30);
        }
        if style.bg_color() != Color::Default {
            self.push_color(style.bg_color(), 40);
        }
    }

    /// The changes from `old` to `new`.
    fn push_transition(&mut self, old: Style, new: Style) {
        // 22 clears both bold and dim; re-add the one that stays.
        if (old.is_bold() && !new.is_bold()) || (old.is_dim() && !new.is_dim()) {
            self.push(22);
            if new.is_bold() {
                self.push(1);
            }
            if new.is_dim() {
                self.push(2);
            }
        } else {
            if new.is_bold() && !old.is_bold() {
                self.push(1);
            }
            if new.is_dim() && !old.is_dim() {
                self.push(2);
            }
        }
        if old.is_underline() != new.is_underline() {
            self.push(if new.is_underline() { 4 } else { 24 });
        }
        if old.is_reverse() != new.is_reverse() {
            self.push(if new.is_reverse() { 7 } else { 27 });
        }
        if old.fg_color() != new.fg_color() {
            self.push_color(new.fg_color(), 30);
        }
        if old.bg_color() != new.bg_color() {
            self.push_color(new.bg_color(), 40);
        }
    }

    /// `base` is 30 (foreground) or 40 (background).
    fn push_color(&mut self, color: Color, base: u8) {
        match color {
            Color::Default => self.push(base + 9),
            Color::Indexed(i @ 0..=7) => self.push(base + i),
            Color::Indexed(i @ 8..=15) => self.push(base + 60 + i - 8),
            Color::Indexed(i) => {
                self.push(base + 8);
                self.push(5);
                self.push(i);
            }
        }
    }
}

/// Owns the two grids: the one on screen and the one being drawn.
///
/// Each frame: [`frame`](Self::frame) (a cleared grid to draw the whole
/// screen into), then [`render`](Self::render) (append the bytes to send;
/// the drawn grid becomes the one on screen).
#[derive(Debug)]
pub struct Renderer {
    screen: Grid,
    next: Grid,
    mode: RenderMode,
    /// The terminal may not show `screen`: the next render is a full redraw.
    stale: bool,
}

impl Renderer {
    /// A renderer for a `width`×`height` terminal; the first frame is a
    /// full redraw.
    pub(crate) fn new(width: u16, height: u16, mode: RenderMode) -> Renderer {
        Renderer {
            screen: Grid::new(width, height),
            next: Grid::new(width, height),
            mode,
            stale: true,
        }
    }

    /// The terminal changed size: the next frame has the new size and is
    /// a full redraw.
    pub(crate) fn resize(&mut self, width: u16, height: u16) {
        self.next.resize(width, height);
        self.stale = true;
    }

    /// Forget what the terminal shows (after a suspend, or when something
    /// else wrote to it): the next render is a full redraw.
    pub(crate) fn invalidate(&mut self) {
        self.stale = true;
    }

    /// Change the encoding; redraws fully when it changed.
    #[cfg(test)]
    pub(crate) fn set_mode(&mut self, mode: RenderMode) {
        if mode != self.mode {
            self.mode = mode;
            self.stale = true;
        }
    }

    /// The grid to draw the next frame into, blank.
    pub(crate) fn frame(&mut self) -> &mut Grid {
        self.next.clear();
        &mut self.next
    }

    /// What the terminal shows after the last render.
    #[cfg(test)]
    pub(crate) fn screen(&self) -> &Grid {
        &self.screen
    }

    /// Append to `out` the bytes that show the frame drawn since
    /// [`frame`](Self::frame) (nothing when it equals the screen).
    pub(crate) fn render(&mut self, out: &mut Vec<u8>) {
        if self.stale {
            redraw(&self.next, self.mode, out);
            self.stale = false;
        } else {
            diff(&self.screen, &self.next, self.mode, out);
        }
        std::mem::swap(&mut self.screen, &mut self.next);
        // Keep the size the caller asked for (`resize` set it on `next`).
        let (w, h) = (self.screen.width(), self.screen.height());
        if (self.next.width(), self.next.height()) != (w, h) {
            self.next.resize(w, h);
        }
    }
}

/// Check that `bytes` is something this renderer could have written: valid
/// UTF-8 whose only control character is ESC, each starting one of the
/// sequences above (CUP, CUF, SGR, `ESC[2J`, mode 2026), and whose other
/// characters are cell characters (no C1, bidi, zero-width…). On failure,
/// the byte offset and what is wrong. For tests and fuzz targets.
#[doc(hidden)]
pub fn audit(bytes: &[u8]) -> Result<(), (usize, &'static str)> {
    let text = std::str::from_utf8(bytes).map_err(|e| (e.valid_up_to(), "invalid UTF-8"))?;
    let mut i = 0;
    while let Some(c) = text.get(i..).and_then(|rest| rest.chars().next()) {
        if c == '\x1b' {
            i += audit_csi(&bytes[i..]).map_err(|what| (i, what))?;
        } else if sanitize::is_cell_char(c) {
            i += c.len_utf8();
        } else {
            return Err((i, "character that is not a cell character"));
        }
    }
    Ok(())
}

/// Length of the known CSI sequence at the start of `seq` (which starts
/// with ESC).
fn audit_csi(seq: &[u8]) -> Result<usize, &'static str> {
    if seq.get(1) != Some(&b'[') {
        return Err("ESC not followed by [");
    }
    let private = seq.get(2) == Some(&b'?');
    let start = if private { 3 } else { 2 };
    let params_len = seq[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit() || **b == b';')
        .count();
    let params = &seq[start..start + params_len];
    let end = start + params_len;
    let ok = match (private, seq.get(end)) {
        (true, Some(b'h' | b'l')) => params == b"2026",
        (false, Some(b'H' | b'C' | b'm')) => params.len() <= 32,
        (false, Some(b'J')) => params == b"2",
        _ => false,
    };
    if ok {
        Ok(end + 1)
    } else {
        Err("escape sequence the renderer does not send")
    }
}

#[cfg(test)]
mod tests;
