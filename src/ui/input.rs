//! Tty bytes → keys, for input read in pieces by the mio loop.
//!
//! Non-blocking reads split escape sequences anywhere, so the decoder is a
//! byte-at-a-time state machine: feeding a stream in any pieces gives the
//! same keys as feeding it at once. A lone ESC is ambiguous (the Escape key,
//! or the start of a sequence whose rest is late); the loop settles it with a
//! short timer: when [`KeyDecoder::pending_escape`] is true after a read, it
//! arms the timer and calls [`KeyDecoder::flush_timeout`] if no byte came.
//!
//! Memory is bounded: a sequence keeps at most [`SEQ_CAP`] parameter bytes;
//! a longer one (garbage, or a hostile paste) is reported once as
//! [`Key::Unknown`] and skipped to its final byte without buffering.

/// Parameter and intermediate bytes kept for one CSI/SS3 sequence. Real key
/// sequences are at most ~8 (`ESC [ 1 5 ; 2 ~`).
pub(crate) const SEQ_CAP: usize = 16;

/// Most bytes a decoder ever holds between calls: ESC, the introducer,
/// the parameters, and a partial UTF-8 character.
pub const MAX_PENDING: usize = 2 + SEQ_CAP + 4;

/// One key press as the dashboard sees it. Modifiers on special keys
/// (`ESC [ 1 ; 5 A` for Ctrl+Up) are dropped: the key itself is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// A printable character (UTF-8 decoded; never a control character).
    Char(char),
    /// ESC followed by a printable ASCII character (Meta/Alt on most terminals).
    Alt(char),
    /// A C0 control byte other than those with their own key, as its letter:
    /// 0x03 is `Ctrl('c')`, 0x1a is `Ctrl('z')`, 0x00 is `Ctrl(' ')`.
    Ctrl(char),
    Enter,
    Tab,
    /// Shift+Tab (`ESC [ Z`).
    BackTab,
    Esc,
    Backspace,
    Delete,
    Insert,
    Up,
    Down,
    Left,
    Right,
    Home,
    End,
    PageUp,
    PageDown,
    /// Function key 1–20.
    F(u8),
    /// A well-formed or overlong sequence with no meaning here.
    Unknown,
}

const ESC: u8 = 0x1b;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Ground,
    /// After ESC.
    Esc,
    /// After `ESC [`, collecting parameters in `seq`.
    Csi,
    /// After `ESC O`, collecting parameters in `seq`.
    Ss3,
    /// After `ESC [ [` (Linux console F1–F5: `ESC [ [ A` …).
    CsiBracket,
    /// An overlong CSI/SS3 was reported; skip to its final byte.
    Discard,
}

/// Decoder state between reads. See the module doc.
#[derive(Debug)]
pub struct KeyDecoder {
    state: State,
    seq: [u8; SEQ_CAP],
    seq_len: usize,
    utf8: [u8; 4],
    utf8_len: usize,
    utf8_need: usize,
}

impl Default for KeyDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyDecoder {
    /// A decoder with nothing pending.
    pub const fn new() -> KeyDecoder {
        KeyDecoder {
            state: State::Ground,
            seq: [0; SEQ_CAP],
            seq_len: 0,
            utf8: [0; 4],
            utf8_len: 0,
            utf8_need: 0,
        }
    }

    /// Decode `bytes`, calling `out` for every complete key. Bytes of an
    /// unfinished sequence or character are kept for the next call.
    pub fn feed(&mut self, bytes: &[u8], out: &mut impl FnMut(Key)) {
        for &b in bytes {
            self.byte(b, out);
        }
    }

    /// True when an escape sequence is unfinished: the loop should call
    /// [`flush_timeout`](Self::flush_timeout) if nothing more arrives soon.
    pub(crate) fn pending_escape(&self) -> bool {
        self.state != State::Ground
    }

    /// No byte followed in time: settle what is pending. A lone ESC is the
    /// Escape key; `ESC [` / `ESC O` are Alt+`[` / Alt+`O`; a cut sequence is
    /// `Unknown`. A partial UTF-8 character is kept (its rest is not
    /// ambiguous, only late).
    pub fn flush_timeout(&mut self, out: &mut impl FnMut(Key)) {
        let key = match self.state {
            State::Ground | State::Discard => None,
            State::Esc => Some(Key::Esc),
            State::Csi if self.seq_len == 0 => Some(Key::Alt('[')),
            State::Ss3 if self.seq_len == 0 => Some(Key::Alt('O')),
            State::Csi | State::Ss3 | State::CsiBracket => Some(Key::Unknown),
        };
        self.reset_seq();
        if let Some(key) = key {
            out(key);
        }
    }

    /// Bytes held between calls (always ≤ [`MAX_PENDING`]).
    pub fn buffered(&self) -> usize {
        let prefix = match self.state {
            State::Ground | State::Discard => 0,
            State::Esc => 1,
            State::Csi | State::Ss3 => 2,
            State::CsiBracket => 3,
        };
        prefix + self.seq_len + self.utf8_len
    }

    fn reset_seq(&mut self) {
        self.state = State::Ground;
        self.seq_len = 0;
    }

    fn byte(&mut self, b: u8, out: &mut impl FnMut(Key)) {
        match self.state {
            State::Ground => self.ground(b, out),
            State::Esc => self.after_esc(b, out),
            State::Csi | State::Ss3 => self.in_sequence(b, out),
            State::CsiBracket => {
                self.reset_seq();
                match b {
                    b'A'..=b'E' => out(Key::F(b - b'A' + 1)),
                    0x40..=0x7e => out(Key::Unknown),
                    _ => {
                        out(Key::Unknown);
                        self.ground(b, out);
                    }
                }
            }
            State::Discard => {
                if is_final(b) {
                    self.reset_seq();
                } else if !is_param(b) {
                    // The sequence was cut by another byte: that byte is input.
                    self.reset_seq();
                    self.ground(b, out);
                }
            }
        }
    }

    fn ground(&mut self, b: u8, out: &mut impl FnMut(Key)) {
        if self.utf8_need > 0 {
            if b & 0xc0 == 0x80 {
                self.utf8_continue(b, out);
                return;
            }
            // A lead without its continuation: drop it, the byte stands alone.
            self.utf8_len = 0;
            self.utf8_need = 0;
        }
        match b {
            ESC => self.state = State::Esc,
            0x00..=0x1f | 0x7f => out(control_key(b)),
            0x20..=0x7e => out(Key::Char(char::from(b))),
            0xc2..=0xdf => self.utf8_start(b, 2),
            0xe0..=0xef => self.utf8_start(b, 3),
            0xf0..=0xf4 => self.utf8_start(b, 4),
            // Stray continuation bytes, 0xc0/0xc1 and 0xf5.. never start a char.
            _ => {}
        }
    }

    fn utf8_start(&mut self, b: u8, len: usize) {
        self.utf8[0] = b;
        self.utf8_len = 1;
        self.utf8_need = len;
    }

    fn utf8_continue(&mut self, b: u8, out: &mut impl FnMut(Key)) {
        self.utf8[self.utf8_len] = b;
        self.utf8_len += 1;
        if self.utf8_len < self.utf8_need {
            return;
        }
        let bytes = &self.utf8[..self.utf8_len];
        // from_utf8 rejects overlong forms and surrogates: those are dropped.
        if let Some(c) = std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.chars().next())
        {
            out(if c.is_control() {
                Key::Unknown
            } else {
                Key::Char(c)
            });
        }
        self.utf8_len = 0;
        self.utf8_need = 0;
    }

    fn after_esc(&mut self, b: u8, out: &mut impl FnMut(Key)) {
        match b {
            b'[' => self.state = State::Csi,
            b'O' => self.state = State::Ss3,
            // ESC ESC: the first is a plain Escape, the second starts anew.
            ESC => out(Key::Esc),
            0x20..=0x7e => {
                self.state = State::Ground;
                out(Key::Alt(char::from(b)));
            }
            _ => {
                self.state = State::Ground;
                out(Key::Esc);
                self.ground(b, out);
            }
        }
    }

    fn in_sequence(&mut self, b: u8, out: &mut impl FnMut(Key)) {
        if is_param(b) {
            if self.seq_len == SEQ_CAP {
                self.seq_len = 0;
                self.state = State::Discard;
                out(Key::Unknown);
            } else {
                self.seq[self.seq_len] = b;
                self.seq_len += 1;
            }
            return;
        }
        let ss3 = self.state == State::Ss3;
        if !is_final(b) {
            // A control or non-ASCII byte cuts the sequence; it is input itself.
            let cut = if self.seq_len == 0 {
                Key::Alt(if ss3 { 'O' } else { '[' })
            } else {
                Key::Unknown
            };
            self.reset_seq();
            out(cut);
            self.ground(b, out);
            return;
        }
        if !ss3 && b == b'[' && self.seq_len == 0 {
            self.state = State::CsiBracket;
            return;
        }
        let key = if ss3 {
            ss3_key(b)
        } else {
            csi_key(&self.seq[..self.seq_len], b)
        };
        self.reset_seq();
        out(key);
    }
}

/// Parameter (0x30–0x3F) and intermediate (0x20–0x2F) bytes of a sequence,
/// except `$`, which rxvt uses as a final byte (`ESC [ 7 $` Shift+Home).
fn is_param(b: u8) -> bool {
    matches!(b, 0x20..=0x3f) && b != b'$'
}

fn is_final(b: u8) -> bool {
    matches!(b, 0x40..=0x7e) || b == b'$'
}

fn control_key(b: u8) -> Key {
    match b {
        b'\r' | b'\n' => Key::Enter,
        b'\t' => Key::Tab,
        0x08 | 0x7f => Key::Backspace,
        0x00 => Key::Ctrl(' '),
        0x01..=0x1a => Key::Ctrl(char::from(b - 1 + b'a')),
        // 0x1c–0x1f: Ctrl+\ ] ^ _ (0x1b is ESC, handled before).
        _ => Key::Ctrl(char::from(b + 0x40)),
    }
}

/// `ESC O x`, also with xterm's old modifier digits (`ESC O 5 A`).
fn ss3_key(b: u8) -> Key {
    match b {
        b'A' => Key::Up,
        b'B' => Key::Down,
        b'C' => Key::Right,
        b'D' => Key::Left,
        b'H' => Key::Home,
        b'F' => Key::End,
        b'M' => Key::Enter,
        b'P'..=b'S' => Key::F(b - b'P' + 1),
        _ => Key::Unknown,
    }
}

fn csi_key(params: &[u8], fin: u8) -> Key {
    match fin {
        b'A' => Key::Up,
        b'B' => Key::Down,
        b'C' => Key::Right,
        b'D' => Key::Left,
        b'H' => Key::Home,
        b'F' => Key::End,
        b'Z' => Key::BackTab,
        b'P'..=b'S' => Key::F(fin - b'P' + 1),
        // vt220 style, with rxvt's modifier finals `$` `^` `@`.
        b'~' | b'$' | b'^' | b'@' => first_param(params).map_or(Key::Unknown, tilde_key),
        _ => Key::Unknown,
    }
}

/// The first parameter, if it is a plain number (no `?`/`<` private marker).
fn first_param(params: &[u8]) -> Option<u16> {
    let digits = params.split(|&b| b == b';').next()?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u16, |n, &d| {
        n.saturating_mul(10).saturating_add(u16::from(d - b'0'))
    }))
}

fn tilde_key(n: u16) -> Key {
    match n {
        1 | 7 => Key::Home,
        2 => Key::Insert,
        3 => Key::Delete,
        4 | 8 => Key::End,
        5 => Key::PageUp,
        6 => Key::PageDown,
        11..=15 => Key::F((n - 10) as u8),
        17..=21 => Key::F((n - 11) as u8),
        23..=26 => Key::F((n - 12) as u8),
        28 | 29 => Key::F((n - 13) as u8),
        31..=34 => Key::F((n - 14) as u8),
        _ => Key::Unknown,
    }
}

#[cfg(test)]
mod tests;
