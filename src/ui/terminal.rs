//! The tty the dashboard draws on: raw mode, alternate screen, and a restore
//! that runs on every way out (`leave`, `Drop`, a panic, a suspend).
//!
//! Decisions, each for a reason:
//! - **Our own `/dev/tty` open** ([`Terminal::open`]), not stdin/stdout: it is
//!   one fd for keys and frames, works whatever stdio is redirected to, and
//!   `O_NONBLOCK` lands on *our* open file description, so the shell never
//!   inherits a non-blocking terminal after we exit.
//! - **No signal handlers.** The loop blocks TERM/INT/HUP/WINCH/TSTP/CONT and
//!   reads them from a signalfd; it calls [`Terminal::leave`],
//!   [`Terminal::suspend`], [`Terminal::resume`] and [`Terminal::size`].
//!   A panic is covered by [`install_panic_hook`], since release builds
//!   abort on panic and run no `Drop`.
//! - **Raw mode is `cfmakeraw`**: no echo, no line editing, no `ISIG` (Ctrl-C
//!   and Ctrl-Z arrive as the bytes 0x03 and 0x1a), no output processing.
//! - **Autowrap off while entered** (`ESC[?7l`), so drawing the bottom-right
//!   cell cannot scroll the screen; turned back on at leave (it is on in
//!   every terminal by default and cannot be queried portably).
//! - **Mouse capture is never enabled**: text selection keeps working.
//! - The saved termios is taken at `enter` and restored bit for bit.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{Mutex, Once, TryLockError};

use crate::sys::tty::{self, get_attr, raw_of, set_attr, stop_self, write_all};

/// Bytes written by `enter`: alternate screen (saving the cursor), cursor
/// hidden, autowrap off, SGR reset, screen cleared.
pub const ENTER_SEQ: &[u8] = b"\x1b[?1049h\x1b[?25l\x1b[?7l\x1b[0m\x1b[H\x1b[2J";

/// Bytes written by `leave`: SGR reset, autowrap on, cursor shown, main
/// screen (restoring the cursor saved by `?1049h`).
pub const LEAVE_SEQ: &[u8] = b"\x1b[0m\x1b[?7h\x1b[?25h\x1b[?1049l";

/// The entered terminal, for the panic hook: its fd and the termios to put
/// back. `Some` exactly while some `Terminal` is entered; whoever takes it
/// (leave or the hook) restores, so the restore happens once.
static ACTIVE: Mutex<Option<Saved>> = Mutex::new(None);

#[derive(Clone, Copy)]
struct Saved {
    fd: RawFd,
    termios: libc::termios,
}

/// Owner of the tty fd and of its mode. See the module doc.
pub(crate) struct Terminal {
    fd: OwnedFd,
    /// The termios found at `enter`, while entered.
    saved: Option<libc::termios>,
    redraw: bool,
}

impl Terminal {
    /// Open the controlling terminal (`/dev/tty`), read-write, non-blocking.
    pub(crate) fn open() -> io::Result<Terminal> {
        Terminal::from_fd(tty::open_controlling()?)
    }

    /// Use `fd`, which must be a tty (tests pass a pty slave). Its file
    /// status flags are left as they are.
    pub(crate) fn from_fd(fd: OwnedFd) -> io::Result<Terminal> {
        if !tty::is_tty(fd.as_raw_fd()) {
            return Err(io::Error::last_os_error());
        }
        Ok(Terminal {
            fd,
            saved: None,
            redraw: true,
        })
    }

    /// True between `enter` and `leave`.
    pub(crate) fn is_entered(&self) -> bool {
        self.saved.is_some()
    }

    /// Save the termios, go raw, switch to the alternate screen. Does nothing
    /// if already entered; fails if another `Terminal` is entered (the panic
    /// hook can restore only one).
    pub(crate) fn enter(&mut self) -> io::Result<()> {
        if self.is_entered() {
            return Ok(());
        }
        let fd = self.fd.as_raw_fd();
        let termios = get_attr(fd)?;
        {
            let mut active = lock_active();
            if active.is_some() {
                return Err(io::Error::other("another terminal is already entered"));
            }
            *active = Some(Saved { fd, termios });
        }
        self.saved = Some(termios);
        if let Err(e) = set_attr(fd, &raw_of(termios)).and_then(|()| write_all(fd, ENTER_SEQ)) {
            // Half entered is worse than not entered: put everything back.
            let _ = self.leave();
            return Err(e);
        }
        self.redraw = true;
        Ok(())
    }

    /// Restore the terminal as `enter` found it: SGR reset, cursor shown,
    /// main screen, termios bit for bit. Idempotent; also a no-op when the
    /// panic hook already restored. Both steps are tried; the first error is
    /// returned.
    pub(crate) fn leave(&mut self) -> io::Result<()> {
        if self.saved.take().is_none() {
            return Ok(());
        }
        let fd = self.fd.as_raw_fd();
        let mine = {
            let mut active = lock_active();
            match *active {
                Some(saved) if saved.fd == fd => active.take(),
                _ => None,
            }
        };
        match mine {
            Some(saved) => restore(saved),
            None => Ok(()),
        }
    }

    /// Ctrl-Z (the byte 0x1a in raw mode) or SIGTSTP from the signalfd:
    /// leave, then stop the process as the shell expects. Returns once the
    /// process is continued; then call [`resume`](Self::resume) (the SIGCONT
    /// that continued us also shows up in the signalfd, and a second
    /// `resume` is harmless).
    ///
    /// How we stop: SIGTSTP is blocked (it feeds the signalfd) and we install
    /// no handler, so we consume any pending SIGTSTP, unblock it in this
    /// thread, `raise` it (thread-directed, so it is delivered here before
    /// `raise` returns: default action, stop), and block it again. SIGTSTP,
    /// not SIGSTOP, because the kernel discards SIGTSTP for an orphaned
    /// process group (nobody could `fg` us; we simply go on) and honours an
    /// inherited `SIG_IGN` (a shell without job control); the shell then
    /// reports "Stopped" as for any Ctrl-Z. SIGCONT continues a stopped
    /// process even while blocked.
    pub(crate) fn suspend(&mut self) -> io::Result<()> {
        let left = self.leave();
        stop_self();
        self.redraw = true;
        left
    }

    /// After SIGCONT (or after [`suspend`](Self::suspend) returns): enter
    /// again and ask for a full redraw. If still entered (we were stopped by
    /// someone else's SIGSTOP, and the shell may have reset the tty), raw
    /// mode and the screen switch are re-applied, keeping the termios saved
    /// at the first `enter`.
    pub(crate) fn resume(&mut self) -> io::Result<()> {
        self.redraw = true;
        match self.saved {
            None => self.enter(),
            Some(termios) => {
                let fd = self.fd.as_raw_fd();
                set_attr(fd, &raw_of(termios))?;
                write_all(fd, ENTER_SEQ)
            }
        }
    }

    /// True once after `enter`, `resume`, `suspend` or a failed frame: the
    /// screen content is unknown and the next frame must repaint everything.
    pub(crate) fn take_redraw(&mut self) -> bool {
        std::mem::take(&mut self.redraw)
    }

    /// `(cols, rows)` from `TIOCGWINSZ`. Either may be 0 on a pty nobody
    /// sized; callers lay out for any size.
    pub(crate) fn size(&self) -> io::Result<(u16, u16)> {
        termion::terminal_size_fd(&self.fd)
    }

    /// Write one frame, in one `write` unless the tty takes it in parts
    /// (looping on partial writes and `EINTR`; on `EAGAIN` waiting for
    /// `POLLOUT`). If the tty does not drain for [`WRITE_STALL_MS`](crate::sys::tty::WRITE_STALL_MS), gives up
    /// with `WouldBlock` and requests a full redraw, so the loop never hangs
    /// on a stalled link; a cut escape sequence is harmless since the next
    /// frame starts with a fresh one (ESC aborts any sequence in progress).
    pub(crate) fn write_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        let res = write_all(self.fd.as_raw_fd(), frame);
        if res.is_err() {
            self.redraw = true;
        }
        res
    }

    /// Read available input bytes (retrying `EINTR`). With the fd from
    /// [`open`](Self::open) this is non-blocking: `WouldBlock` means drained.
    pub(crate) fn read_input(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        crate::sys::fd::read(self.fd.as_raw_fd(), buf)
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.leave();
    }
}

impl AsRawFd for Terminal {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

crate::sys::impl_fd_source!(Terminal);

/// Install (once) a panic hook that restores the entered terminal, then
/// runs the previous hook, so the message lands on the normal screen.
/// Call before `enter`.
pub(crate) fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_from_panic();
            previous(info);
        }));
    });
}

/// Take the active terminal, if any, and restore it. The lock is only ever
/// held for a few instructions by `enter`/`leave` on the loop's thread, so a
/// short spin covers a panic on another thread; if it stays busy we skip
/// rather than deadlock inside a panic.
fn restore_from_panic() {
    for _ in 0..1_000 {
        let taken = match ACTIVE.try_lock() {
            Ok(mut active) => active.take(),
            Err(TryLockError::Poisoned(p)) => p.into_inner().take(),
            Err(TryLockError::WouldBlock) => {
                std::thread::yield_now();
                continue;
            }
        };
        if let Some(saved) = taken {
            let _ = restore(saved);
        }
        return;
    }
}

fn lock_active() -> std::sync::MutexGuard<'static, Option<Saved>> {
    ACTIVE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Leave bytes first (written while still raw, so nothing is translated),
/// then the saved termios. Both are attempted.
fn restore(saved: Saved) -> io::Result<()> {
    let wrote = write_all(saved.fd, LEAVE_SEQ);
    let set = set_attr(saved.fd, &saved.termios);
    wrote.and(set)
}

/// OSC 52 "copy to clipboard" for `text`, base64-encoded; with `tmux`, wrapped
/// in tmux's DCS passthrough (inner ESC doubled). Control characters (C0, DEL,
/// C1) are dropped from `text` first, and it is cut to [`OSC52_MAX_TEXT`]
/// bytes, so the result is always one well-formed sequence.
pub(crate) fn osc52_copy(text: &str, tmux: bool) -> Vec<u8> {
    osc52(text, tmux, |c| !c.is_control())
}

/// As [`osc52_copy`], but line breaks and tabs are kept (a command's
/// output). Inside the base64 payload they cannot act on the terminal.
pub(crate) fn osc52_copy_lines(text: &str, tmux: bool) -> Vec<u8> {
    osc52(text, tmux, |&c| !c.is_control() || c == '\n' || c == '\t')
}

fn osc52(text: &str, tmux: bool, keep: fn(&char) -> bool) -> Vec<u8> {
    let mut clean = String::with_capacity(text.len().min(OSC52_MAX_TEXT));
    for c in text.chars().filter(keep) {
        if clean.len() + c.len_utf8() > OSC52_MAX_TEXT {
            break;
        }
        clean.push(c);
    }
    let mut out = Vec::with_capacity(clean.len() * 4 / 3 + 24);
    if tmux {
        out.extend_from_slice(b"\x1bPtmux;\x1b");
    }
    out.extend_from_slice(b"\x1b]52;c;");
    base64_into(clean.as_bytes(), &mut out);
    out.push(0x07);
    if tmux {
        out.extend_from_slice(b"\x1b\\");
    }
    out
}

/// Text cut for OSC 52: terminals cap the sequence (xterm ~100 KB, some
/// much less); an address or a hook's output line fits many times over.
pub(crate) const OSC52_MAX_TEXT: usize = 32 << 10; // 32 KiB

/// Whether `$TMUX` (passed in, for tests) says we run inside tmux.
pub(crate) fn in_tmux(tmux_env: Option<&std::ffi::OsStr>) -> bool {
    tmux_env.is_some_and(|v| !v.is_empty())
}

fn base64_into(bytes: &[u8], out: &mut Vec<u8>) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sextet = |n: u32, shift: u32| ALPHABET[((n >> shift) & 63) as usize];
    for chunk in bytes.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = b(0) << 16 | b(1) << 8 | b(2);
        out.push(sextet(n, 18));
        out.push(sextet(n, 12));
        out.push(if chunk.len() > 1 { sextet(n, 6) } else { b'=' });
        out.push(if chunk.len() > 2 { sextet(n, 0) } else { b'=' });
    }
}

#[cfg(test)]
mod tests;
