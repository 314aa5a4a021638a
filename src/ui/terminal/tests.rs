//! Terminal tests run on a real pseudo-terminal (openpty): what the program
//! writes is read back from the master side, and the termios is compared
//! field by field. The panic and suspend cases run the test binary again as
//! a child process (a helper `#[test]` that acts only when its env var is
//! set), since they kill or stop the process.

use super::*;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `ACTIVE` is process-wide: tests that enter a terminal take turns.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

const ENV_PTY: &str = "NETHERGAZE_TEST_PTY";

struct Pty {
    master: OwnedFd,
    slave: OwnedFd,
    path: String,
}

impl Pty {
    fn open() -> Pty {
        let (master, slave) = crate::sys::tty::open_pty().expect("openpty");
        let s = slave.as_raw_fd();
        let path = std::fs::read_link(format!("/proc/self/fd/{s}"))
            .expect("slave path")
            .to_string_lossy()
            .into_owned();
        Pty {
            master,
            slave,
            path,
        }
    }

    fn terminal(&self) -> Terminal {
        Terminal::from_fd(self.slave.try_clone().expect("dup")).expect("a tty")
    }

    fn attr(&self) -> libc::termios {
        get_attr(self.slave.as_raw_fd()).expect("tcgetattr")
    }

    /// Read what the slave side wrote until `done` holds (a hang guard, not
    /// a timing assertion: a correct program is done in milliseconds).
    fn read_until(&self, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut buf = [0u8; 4096];
        while !done(&got) {
            assert!(Instant::now() < deadline, "gave up; got {:?}", text(&got));
            match crate::sys::fd::read(self.master.as_raw_fd(), &mut buf) {
                Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                _ => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        got
    }

    /// Everything written so far, ended by a marker written through `term`:
    /// proves nothing else was written before it.
    fn drain_with_marker(&self, term: &mut Terminal) -> Vec<u8> {
        term.write_frame(b"<MARK>").expect("marker");
        let mut got = self.read_until(|g| g.ends_with(b"<MARK>"));
        got.truncate(got.len() - b"<MARK>".len());
        got
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

type Fields = (u32, u32, u32, u32, u8, [u8; 32], u32, u32);

/// The termios as comparable fields (libc's struct has no PartialEq here).
fn fields(t: &libc::termios) -> Fields {
    (
        t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag, t.c_line, t.c_cc, t.c_ispeed, t.c_ospeed,
    )
}

/// Make the pty's mode distinctive, so "restored" means "as saved" and not
/// "back to the pty default".
fn customise(pty: &Pty) -> libc::termios {
    let mut t = pty.attr();
    t.c_lflag &= !libc::ECHOE;
    t.c_cc[libc::VERASE] = 0x08;
    t.c_cc[libc::VMIN] = 3;
    set_attr(pty.slave.as_raw_fd(), &t).expect("tcsetattr");
    pty.attr()
}

fn assert_raw(t: &libc::termios) {
    assert_eq!(
        t.c_lflag & (libc::ICANON | libc::ECHO | libc::ISIG | libc::IEXTEN),
        0
    );
    assert_eq!(t.c_iflag & (libc::ICRNL | libc::IXON), 0);
    assert_eq!(t.c_oflag & libc::OPOST, 0);
}

#[test]
fn sequences_match_termions() {
    // Ours are consts (the panic hook writes them raw); keep them in step
    // with termion's spellings.
    let enter = format!(
        "{}{}",
        termion::screen::ToAlternateScreen,
        termion::cursor::Hide
    );
    assert!(ENTER_SEQ.starts_with(enter.as_bytes()));
    let leave = format!(
        "{}{}{}",
        termion::style::Reset,
        termion::cursor::Show,
        termion::screen::ToMainScreen
    );
    // Same but for the autowrap switch, and `ESC[0m` spelled `ESC[m`.
    let ours = text(LEAVE_SEQ).replace("\x1b[?7h", "").replace("[0m", "[m");
    assert_eq!(ours, leave);
}

#[test]
fn enter_then_leave_restores_termios_bit_for_bit() {
    let _s = serial();
    let pty = Pty::open();
    let before = customise(&pty);
    let mut term = pty.terminal();
    assert!(!term.is_entered());

    term.enter().expect("enter");
    assert!(term.is_entered());
    assert_raw(&pty.attr());
    assert_eq!(text(&pty.drain_with_marker(&mut term)), text(ENTER_SEQ));

    term.leave().expect("leave");
    assert_eq!(fields(&pty.attr()), fields(&before));
    assert_eq!(text(&pty.drain_with_marker(&mut term)), text(LEAVE_SEQ));

    // Idempotent: a second leave (and the drop after it) writes nothing.
    term.leave().expect("second leave");
    assert_eq!(pty.drain_with_marker(&mut term), b"");
    drop(term);
    assert_eq!(fields(&pty.attr()), fields(&before));
}

#[test]
fn drop_leaves() {
    let _s = serial();
    let pty = Pty::open();
    let before = customise(&pty);
    let mut term = pty.terminal();
    term.enter().expect("enter");
    pty.drain_with_marker(&mut term);
    drop(term);
    assert_eq!(fields(&pty.attr()), fields(&before));
    assert_eq!(
        text(&pty.read_until(|g| g.ends_with(LEAVE_SEQ))),
        text(LEAVE_SEQ)
    );
}

#[test]
fn only_one_terminal_is_entered_at_a_time() {
    let _s = serial();
    let (a, b) = (Pty::open(), Pty::open());
    let before_b = b.attr();
    let mut first = a.terminal();
    let mut second = b.terminal();
    first.enter().expect("enter");
    assert!(second.enter().is_err());
    assert!(!second.is_entered());
    assert_eq!(fields(&b.attr()), fields(&before_b));
    first.leave().expect("leave");
    second.enter().expect("enter after the first left");
    second.leave().expect("leave");
}

#[test]
fn redraw_is_requested_after_enter_and_resume() {
    let _s = serial();
    let pty = Pty::open();
    let before = customise(&pty);
    let mut term = pty.terminal();
    term.enter().expect("enter");
    assert!(term.take_redraw());
    assert!(!term.take_redraw());

    // Resume while entered (stopped by someone else's SIGSTOP; the shell
    // put its own mode back): raw again, screen re-entered, original kept.
    set_attr(pty.slave.as_raw_fd(), &before).expect("tcsetattr");
    pty.drain_with_marker(&mut term);
    term.resume().expect("resume");
    assert!(term.take_redraw());
    assert_raw(&pty.attr());
    assert_eq!(text(&pty.drain_with_marker(&mut term)), text(ENTER_SEQ));

    // Resume after a leave is a full enter.
    term.leave().expect("leave");
    assert_eq!(fields(&pty.attr()), fields(&before));
    pty.drain_with_marker(&mut term);
    term.resume().expect("resume");
    assert!(term.is_entered() && term.take_redraw());
    assert_eq!(text(&pty.drain_with_marker(&mut term)), text(ENTER_SEQ));
    term.leave().expect("leave");
    assert_eq!(fields(&pty.attr()), fields(&before));
}

#[test]
fn size_is_the_pty_window_size() {
    let pty = Pty::open();
    crate::sys::tty::set_window_size(pty.master.as_raw_fd(), 123, 37).expect("TIOCSWINSZ");
    assert_eq!(pty.terminal().size().expect("size"), (123, 37));
}

#[test]
fn a_frame_larger_than_the_tty_buffer_is_written_whole_on_a_nonblocking_fd() {
    let pty = Pty::open();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(&pty.path)
        .expect("open slave");
    let mut term = Terminal::from_fd(file.into()).expect("tty");
    let frame: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let expect_len = frame.len();
    let master = pty.master.try_clone().expect("dup");
    let reader = std::thread::spawn(move || {
        let pty = Pty {
            master,
            slave: pty.slave,
            path: pty.path,
        };
        pty.read_until(|g| g.len() >= expect_len)
    });
    term.write_frame(&frame).expect("frame");
    let got = reader.join().expect("reader");
    assert!(got == frame, "frame differs ({} bytes read)", got.len());
}

#[test]
fn read_input_returns_typed_bytes_and_would_block_when_drained() {
    let pty = Pty::open();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(&pty.path)
        .expect("open slave");
    let mut term = Terminal::from_fd(file.into()).expect("tty");
    // Raw mode by hand (no enter: this test must not take ACTIVE).
    set_attr(term.as_raw_fd(), &raw_of(pty.attr())).expect("raw");
    let typed = b"q\x1b[A\x03";
    write_all(pty.master.as_raw_fd(), typed).expect("typed");
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < typed.len() && Instant::now() < deadline {
        match term.read_input(&mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("read: {e}"),
        }
    }
    assert_eq!(got, typed);
    assert_eq!(
        term.read_input(&mut buf).map_err(|e| e.kind()),
        Err(io::ErrorKind::WouldBlock)
    );
}

// ---- child-process cases ----

/// Run one helper test of this binary as a child, with `ENV_PTY` set.
fn child(helper: &str, pty: &Pty) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args(["--exact", helper, "--nocapture", "--test-threads=1"])
        .env(ENV_PTY, &pty.path)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    cmd
}

fn open_tty(path: &str) -> std::fs::File {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(path)
        .expect("open pty slave")
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Helper for `panic_hook_restores_the_terminal_before_the_message`: enter
/// a terminal on the given pty and panic. Does nothing when run normally.
#[test]
fn child_panics_in_entered_terminal() {
    let Ok(path) = std::env::var(ENV_PTY) else {
        return;
    };
    install_panic_hook();
    let mut term = Terminal::from_fd(open_tty(&path).into()).expect("tty");
    term.enter().expect("enter");
    panic!("boom-from-the-child");
}

#[test]
fn panic_hook_restores_the_terminal_before_the_message() {
    let pty = Pty::open();
    let before = customise(&pty);
    let status = child(
        "ui::terminal::tests::child_panics_in_entered_terminal",
        &pty,
    )
    .stderr(open_tty(&pty.path))
    .status()
    .expect("spawn");
    assert!(!status.success(), "the child test must have panicked");
    let got = pty.read_until(|g| find(g, b"boom-from-the-child").is_some());
    assert_eq!(fields(&pty.attr()), fields(&before));

    // Screen restored first, the message after it on the main screen, and
    // the unwinding Drop did not restore a second time.
    let mut restored = ENTER_SEQ.to_vec();
    restored.extend_from_slice(LEAVE_SEQ);
    assert!(got.starts_with(&restored), "{:?}", text(&got));
    let rest = &got[restored.len()..];
    assert!(find(rest, b"boom-from-the-child").is_some());
    assert!(find(rest, LEAVE_SEQ).is_none(), "{:?}", text(&got));
}

/// Helper for `suspend_stops_the_process_and_resume_reenters`: with the
/// loop's signal mask in place, enter, suspend, and on continuation resume.
#[test]
fn child_suspends_and_resumes() {
    let Ok(path) = std::env::var(ENV_PTY) else {
        return;
    };
    // As in the program: TSTP/CONT/... blocked and routed to a signalfd.
    let _signals = crate::sys::signalfd::SignalFd::open().expect("signalfd");
    let mut term = Terminal::from_fd(open_tty(&path).into()).expect("tty");
    term.enter().expect("enter");
    assert!(term.take_redraw());
    term.suspend().expect("suspend");
    // Here only after the parent's SIGCONT.
    term.resume().expect("resume");
    assert!(term.take_redraw());
    term.write_frame(b"<RESUMED>").expect("frame");
    term.leave().expect("leave");
}

/// Kills a child left stopped if the test fails half way.
struct KillOnDrop(libc::pid_t);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        crate::sys::process::kill(self.0, libc::SIGKILL);
    }
}

#[test]
fn suspend_stops_the_process_and_resume_reenters() {
    let pty = Pty::open();
    let before = customise(&pty);
    // Its own process group, whose parent (we) is in another group of the
    // same session: not orphaned, so SIGTSTP really stops it.
    let mut child = child("ui::terminal::tests::child_suspends_and_resumes", &pty)
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("spawn");
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    let guard = KillOnDrop(pid);

    let status = crate::sys::process::wait_stopped(pid).expect("waitpid");
    assert!(libc::WIFSTOPPED(status), "not stopped: status {status:#x}");
    assert_eq!(libc::WSTOPSIG(status), libc::SIGTSTP);

    // While stopped, the terminal is as it was.
    let mut entered_left = ENTER_SEQ.to_vec();
    entered_left.extend_from_slice(LEAVE_SEQ);
    let got = pty.read_until(|g| g.len() >= entered_left.len());
    assert_eq!(text(&got), text(&entered_left));
    assert_eq!(fields(&pty.attr()), fields(&before));

    assert!(crate::sys::process::kill(pid, libc::SIGCONT));
    let mut again = ENTER_SEQ.to_vec();
    again.extend_from_slice(b"<RESUMED>");
    again.extend_from_slice(LEAVE_SEQ);
    let got = pty.read_until(|g| g.len() >= again.len());
    assert_eq!(text(&got), text(&again));
    let exit = child.wait().expect("wait");
    std::mem::forget(guard);
    assert!(exit.success(), "child test failed: {exit:?}");
    assert_eq!(fields(&pty.attr()), fields(&before));
}

// ---- OSC 52 ----

fn b64(s: &[u8]) -> String {
    let mut out = Vec::new();
    base64_into(s, &mut out);
    text(&out)
}

#[test]
fn base64_matches_rfc4648_vectors() {
    let vectors = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];
    for (plain, coded) in vectors {
        assert_eq!(b64(plain.as_bytes()), coded);
    }
    assert_eq!(b64(&[0xff, 0xfe, 0x00]), "//4A");
}

#[test]
fn osc52_plain_and_for_tmux() {
    assert_eq!(
        text(&osc52_copy("203.0.113.7", false)),
        "\x1b]52;c;MjAzLjAuMTEzLjc=\x07"
    );
    assert_eq!(
        text(&osc52_copy("2001:db8::1", true)),
        "\x1bPtmux;\x1b\x1b]52;c;MjAwMTpkYjg6OjE=\x07\x1b\\"
    );
}

#[test]
fn osc52_for_output_keeps_lines_and_tabs_only() {
    let out = osc52_copy_lines("a\tb\r\n\x1b]0;x\x07\u{9b}c\n", false);
    let want = format!("\x1b]52;c;{}\x07", b64(b"a\tb\n]0;xc\n"));
    assert_eq!(text(&out), want);
}

#[test]
fn osc52_strips_controls_and_caps_length() {
    let hostile = "1.2.3.4\x1b]0;pwned\x07\u{9b}31m\r\n\u{7f}";
    assert_eq!(
        osc52_copy(hostile, false),
        osc52_copy("1.2.3.4]0;pwned31m", false)
    );
    let long = "é".repeat(OSC52_MAX_TEXT);
    let out = osc52_copy(&long, false);
    let payload = &out[7..out.len() - 1];
    assert_eq!(payload.len(), OSC52_MAX_TEXT.div_ceil(3) * 4);
    // Only the framing has control bytes.
    assert!(payload
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b)));
}

#[test]
fn tmux_is_detected_from_a_non_empty_value() {
    use std::ffi::OsStr;
    assert!(in_tmux(Some(OsStr::new("/tmp/tmux-0/default,123,0"))));
    assert!(!in_tmux(Some(OsStr::new(""))));
    assert!(!in_tmux(None));
}
