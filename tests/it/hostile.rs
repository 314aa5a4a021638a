//! Hostile log text against the real dashboard in a real pseudo-terminal.
//!
//! The test opens the pty itself (`openpty`, 160×45 set with `TIOCSWINSZ`), makes the
//! slave the controlling terminal of `nethergaze` (`setsid` + `TIOCSCTTY`, and its
//! stdin/stdout/stderr), and records every byte the program writes to the master until
//! it exits. The fixtures (tests/data/hostile/README) carry OSC 8/52/0, DCS, APC/PM/SOS,
//! CSI as raw 0x9B and as U+009B, terminal queries (`ESC[>0q`), bidi overrides and
//! zero-width characters in paths and user agents, as combined lines and as Caddy JSON.
//!
//! Asserted on the whole byte stream: it is `ENTER_SEQ`, frames that
//! `ui::diff::audit` accepts, then `LEAVE_SEQ`; an independent scanner here accepts only
//! the sequences the renderer and the terminal guard send (CUP, CUF, SGR, `ESC[2J`,
//! `ESC[H`, modes 1049/25/7/2026) and printable characters, and names the first
//! forbidden sequence it meets. The scanner also drives a tiny screen model, so the
//! test waits for what is drawn (the hostile rows, each drill-down) instead of
//! sleeping, and checks the hostile rows really are on screen. `stty -g` of the slave
//! must be the same before the run and after `q` (and after Ctrl-C).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use nethergaze::ui::diff::audit;
use nethergaze::ui::sanitize::{cell_width, is_cell_char};
use nethergaze::ui::terminal::{ENTER_SEQ, LEAVE_SEQ};

use super::harness::{self, READY_TIMEOUT};

const COLS: u16 = 160;
const LINES: u16 = 45;
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

/// Rows of tests/data/hostile/combined.log (all 12 lines parse).
const COMBINED_IPS: [&str; 12] = [
    "45.56.1.1",
    "45.56.1.2",
    "45.56.1.3",
    "45.56.1.4",
    "45.56.1.5",
    "45.56.1.6",
    "45.56.1.7",
    "45.56.1.8",
    "45.56.1.9",
    "45.56.2.1",
    "45.56.2.2",
    "45.56.2.3",
];
/// Rows of tests/data/hostile/caddy.json.
const CADDY_IPS: [&str; 5] = [
    "45.56.3.1",
    "45.56.3.2",
    "45.56.3.3",
    "45.56.3.4",
    "45.56.3.5",
];
/// Rows the /proc fixture adds to every run.
const PROC_IPS: [&str; 2] = ["8.8.4.4", "2a01:4f8::1"];

// ---------------------------------------------------------------------------
// The pty and the program on it

/// `nethergaze` running on a pty whose master we hold; every byte it writes is
/// collected by a reader thread. Killed (and reaped) when dropped.
struct Dash {
    child: Child,
    master: File,
    slave_path: PathBuf,
    out: Arc<Mutex<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
    /// `stty -g` of the slave before the program started.
    stty_before: String,
}

impl Dash {
    /// Start `nethergaze ARGS` on a fresh 160×45 pty.
    fn start(args: &[&str]) -> Dash {
        let (master, slave) = open_pty(COLS, LINES);
        let slave_path = tty_name(&slave);
        let stty_before = stty_g(&slave_path);
        let child = spawn_on(&slave, args);
        drop(slave); // only the child holds the slave now: its exit ends the reads
        let master = File::from(master);
        let out = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let (mut master, out) = (master.try_clone().unwrap(), Arc::clone(&out));
            thread::spawn(move || read_all(&mut master, &out))
        };
        Dash {
            child,
            master,
            slave_path,
            out,
            reader: Some(reader),
            stty_before,
        }
    }

    /// Type `keys` (raw bytes, as a terminal sends them).
    fn send(&mut self, keys: &[u8]) {
        self.master.write_all(keys).unwrap();
    }

    fn bytes(&self) -> Vec<u8> {
        self.out.lock().unwrap().clone()
    }

    /// Wait until `check` holds for the screen and no byte arrived since the last
    /// look (a frame still being written can pass `check` half-drawn); the screen
    /// is dumped on timeout.
    fn wait_for(&mut self, what: &str, check: impl Fn(&Screen) -> bool) -> Screen {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut seen_len = usize::MAX;
        loop {
            let bytes = self.bytes();
            let screen = drawn(&bytes);
            if bytes.len() == seen_len && check(&screen) {
                return screen;
            }
            seen_len = bytes.len();
            if Instant::now() > deadline || self.exited() {
                panic!("waiting for {what}; the screen:\n{}", screen.text());
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the program has exited (std keeps the status for `finish`).
    fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Wait for the program to exit on its own; returns every byte it wrote and
    /// asserts exit 0 and `stty -g` unchanged.
    fn finish(mut self) -> Vec<u8> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "nethergaze did not exit");
            thread::sleep(Duration::from_millis(20));
        };
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        let bytes = self.bytes();
        assert!(
            status.success(),
            "exit {status}; output tail: {:?}",
            String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(400)..])
        );
        assert_eq!(
            stty_g(&self.slave_path),
            self.stty_before,
            "stty -g of the slave before and after the run"
        );
        bytes
    }
}

/// The screen `bytes` draw; panics on a forbidden sequence.
fn drawn(bytes: &[u8]) -> Screen {
    let mut screen = Screen::new(COLS, LINES);
    if let Err(v) = scan(bytes, false, &mut screen) {
        panic!("{}", v.describe(bytes));
    }
    screen
}

impl Drop for Dash {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// A pty pair, the window size set on the master with `TIOCSWINSZ`.
fn open_pty(cols: u16, rows: u16) -> (OwnedFd, OwnedFd) {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: out-pointers to two ints; name, termios and winsize may be null.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(r, 0, "openpty: {}", io::Error::last_os_error());
    // SAFETY: both fds are fresh and owned by nobody else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from a valid pointer.
    let r = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    assert_eq!(r, 0, "TIOCSWINSZ: {}", io::Error::last_os_error());
    for fd in [&master, &slave] {
        // SAFETY: F_SETFD on an fd we own; the child gets the slave through dup2.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    (master, slave)
}

fn tty_name(fd: &OwnedFd) -> PathBuf {
    let mut buf = [0 as libc::c_char; 128];
    // SAFETY: buf is writable for its whole length.
    let r = unsafe { libc::ttyname_r(fd.as_raw_fd(), buf.as_mut_ptr(), buf.len()) };
    assert_eq!(r, 0, "ttyname_r");
    // SAFETY: ttyname_r wrote a NUL-terminated string into buf.
    let name = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    PathBuf::from(name.to_str().unwrap())
}

/// `stty -g` run by /bin/sh with the slave (opened again, not as a controlling
/// terminal) as its stdin.
fn stty_g(slave: &Path) -> String {
    let tty = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(slave)
        .unwrap();
    let out = Command::new("/bin/sh")
        .args(["-c", "stty -g"])
        .stdin(tty)
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success(), "stty -g failed");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.trim().is_empty());
    text
}

/// `nethergaze ARGS` in a new session whose controlling terminal is `slave`, which is
/// also its stdin, stdout and stderr.
fn spawn_on(slave: &OwnedFd, args: &[&str]) -> Child {
    let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-home");
    let stdio = || Stdio::from(slave.try_clone().unwrap());
    let mut cmd = harness::nethergaze();
    cmd.args(args)
        .args(["--no-geoip", "--no-whois", "--no-history", "--no-auth-log"])
        .arg("--proc-root")
        .arg(Path::new(DATA).join("proc"))
        .env("TERM", "xterm-256color")
        .env("HOME", &home)
        .env("TZ", "UTC")
        .env_remove("TMUX")
        .env_remove("NO_COLOR")
        .stdin(stdio())
        .stdout(stdio())
        .stderr(stdio());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn().unwrap()
    // `cmd` (and its copies of the slave) is dropped here.
}

/// Append everything read from the master to `out`, until EIO (no slave open).
fn read_all(master: &mut File, out: &Mutex<Vec<u8>>) {
    let mut buf = [0; 1 << 16];
    loop {
        match master.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => out.lock().unwrap().extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return, // EIO: the program and everything it started are gone
        }
    }
}

// ---------------------------------------------------------------------------
// What may reach the terminal

/// A place in the stream that no renderer of ours writes.
#[derive(Debug)]
struct Violation {
    at: usize,
    what: String,
}

impl Violation {
    fn describe(&self, bytes: &[u8]) -> String {
        let from = self.at.saturating_sub(40);
        let to = (self.at + 40).min(bytes.len());
        format!(
            "{} at byte {} of {}: …{:?}…",
            self.what,
            self.at,
            bytes.len(),
            String::from_utf8_lossy(&bytes[from..to])
        )
    }
}

/// Named byte patterns that must never be written, whatever else the scanner says
/// (so a failure names the attack that got through).
const FORBIDDEN: [(&[u8], &str); 10] = [
    (b"\x1b]", "OSC (ESC ])"),
    (b"\x1bP", "DCS (ESC P)"),
    (b"\x1b_", "APC (ESC _)"),
    (b"\x1b^", "PM (ESC ^)"),
    (b"\x1bX", "SOS (ESC X)"),
    (b"\x1b[>0q", "XTVERSION query"),
    (b"\x1b[6n", "cursor position report query"),
    (b"\x1b[c", "device attributes query"),
    (b"\x1b[21t", "window title report query"),
    (b"\x1bc", "RIS (full reset)"),
];

/// Characters that must never be written: C1 controls, bidi embeddings, overrides
/// and isolates, zero-width characters.
fn forbidden_char(c: char) -> Option<&'static str> {
    match c {
        '\u{80}'..='\u{9f}' => Some("C1 control as UTF-8 (C2 80..C2 9F)"),
        '\u{202a}'..='\u{202e}' => Some("bidi embedding/override"),
        '\u{2066}'..='\u{2069}' => Some("bidi isolate"),
        '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}' => Some("zero-width character"),
        '\0'..='\u{1f}' | '\u{7f}' => Some("C0 control or DEL"),
        _ => None,
    }
}

/// Check `bytes` against every rule above and apply it to `screen`. With `complete`
/// false, a sequence cut off at the end is left for later (the stream is still
/// growing); with `complete` true it is a violation.
fn scan(bytes: &[u8], complete: bool, screen: &mut Screen) -> Result<(), Violation> {
    for (pattern, what) in FORBIDDEN {
        if let Some(at) = find(bytes, pattern) {
            return Err(Violation {
                at,
                what: format!("forbidden {what}"),
            });
        }
    }
    let mut i = 0;
    while i < bytes.len() {
        let step = if bytes[i] == 0x1b {
            csi(&bytes[i..], screen)
        } else {
            text(&bytes[i..], screen)
        };
        match step {
            Ok(Some(n)) => i += n,
            Ok(None) if !complete => return Ok(()),
            Ok(None) => return Err(violation(i, "sequence cut off at the end")),
            Err(what) => return Err(violation(i, what)),
        }
    }
    Ok(())
}

fn violation(at: usize, what: impl Into<String>) -> Violation {
    Violation {
        at,
        what: what.into(),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One printable character at the start of `rest`: its length, `None` if cut off.
fn text(rest: &[u8], screen: &mut Screen) -> Result<Option<usize>, String> {
    let len = match rest[0] {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        b => return Err(format!("raw byte {b:#04x} outside valid UTF-8")),
    };
    let Some(seq) = rest.get(..len) else {
        return Ok(None);
    };
    let c = std::str::from_utf8(seq)
        .map_err(|_| format!("invalid UTF-8 {seq:02x?}"))?
        .chars()
        .next()
        .unwrap_or('\0');
    if let Some(what) = forbidden_char(c) {
        return Err(format!("{what}: U+{:04X}", c as u32));
    }
    if !is_cell_char(c) {
        return Err(format!("not a cell character: U+{:04X}", c as u32));
    }
    screen.put(c);
    Ok(Some(len))
}

/// One escape sequence at the start of `rest` (which starts with ESC): its length,
/// `None` if cut off, or why it is not one the dashboard sends.
fn csi(rest: &[u8], screen: &mut Screen) -> Result<Option<usize>, String> {
    match rest.get(1) {
        None => return Ok(None),
        Some(b'[') => {}
        Some(&b) => return Err(format!("ESC {:?} (not a CSI)", b as char)),
    }
    let private = rest.get(2) == Some(&b'?');
    let start = 2 + usize::from(private);
    let params_len = rest[start.min(rest.len())..]
        .iter()
        .take_while(|b| b.is_ascii_digit() || **b == b';')
        .count();
    let end = start + params_len;
    let Some(&fin) = rest.get(end) else {
        return Ok(None);
    };
    let params = std::str::from_utf8(&rest[start..end]).unwrap_or("");
    let nums: Vec<u16> = params.split(';').map(|p| p.parse().unwrap_or(1)).collect();
    match (private, fin) {
        (true, b'h' | b'l') if ["1049", "25", "7", "2026"].contains(&params) => {}
        (false, b'm') => {}
        (false, b'J') if params == "2" => screen.clear(),
        (false, b'H') if nums.len() <= 2 => {
            let row = nums.first().copied().unwrap_or(1).max(1);
            let col = nums.get(1).copied().unwrap_or(1).max(1);
            screen.goto(col - 1, row - 1);
        }
        (false, b'C') if nums.len() == 1 => screen.forward(nums[0].max(1)),
        _ => {
            let seq = String::from_utf8_lossy(&rest[..=end]).into_owned();
            return Err(format!("CSI the renderer does not send: {seq:?}"));
        }
    }
    Ok(Some(end + 1))
}

/// What a terminal shows, as far as the allowed sequences go (autowrap is off).
struct Screen {
    width: u16,
    cells: Vec<char>,
    x: u16,
    y: u16,
}

impl Screen {
    fn new(width: u16, height: u16) -> Screen {
        Screen {
            width,
            cells: vec![' '; usize::from(width) * usize::from(height)],
            x: 0,
            y: 0,
        }
    }

    fn clear(&mut self) {
        self.cells.fill(' ');
    }

    fn goto(&mut self, x: u16, y: u16) {
        (self.x, self.y) = (x, y);
    }

    fn forward(&mut self, n: u16) {
        self.x = (self.x + n).min(self.width - 1);
    }

    fn put(&mut self, c: char) {
        let at = usize::from(self.y) * usize::from(self.width) + usize::from(self.x);
        if let Some(cell) = self.cells.get_mut(at) {
            *cell = c;
        }
        let w = cell_width(c);
        if w == 2 {
            if let Some(cell) = self.cells.get_mut(at + 1) {
                *cell = '\0'; // covered by the wide character
            }
        }
        self.x = (self.x + w).min(self.width - 1);
    }

    fn rows(&self) -> Vec<String> {
        self.cells
            .chunks(usize::from(self.width))
            .map(|row| row.iter().filter(|c| **c != '\0').collect())
            .collect()
    }

    fn text(&self) -> String {
        self.rows().join("\n")
    }

    /// The addresses in the IP column of the table (rows between the header and
    /// the two bottom lines; the first cell holds the `!` marker).
    fn table_ips(&self) -> Vec<String> {
        let rows = self.rows();
        rows[3..rows.len() - 2]
            .iter()
            .filter_map(|r| {
                let table = r.get(1..)?.split('│').next()?; // left of the activity log
                table.split_whitespace().next().map(str::to_owned)
            })
            .collect()
    }

    /// The address in the drill-down's title (`┌─ IP ─…`), when one is open.
    fn detail_ip(&self) -> Option<String> {
        let rows = self.rows();
        if !rows.iter().any(|r| names_recent_requests(r)) {
            return None;
        }
        let title = rows
            .iter()
            .find_map(|r| r.split_once("┌─ ").map(|(_, t)| t))?;
        title.split_whitespace().next().map(str::to_owned)
    }
}

/// Whether a screen row holds the drill-down's "last N requests" heading (N
/// is the row's ring, 20 or `max_log_entries_per_ip` once opened).
fn names_recent_requests(row: &str) -> bool {
    row.match_indices("last ").any(|(at, _)| {
        let rest = &row[at + 5..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        digits > 0 && rest[digits..].starts_with(" requests")
    })
}

/// Every rule over the finished stream: one `ENTER_SEQ` first, one `LEAVE_SEQ` last,
/// frames in between that the crate's own `audit` accepts, and nothing the scanner
/// here rejects.
fn assert_clean(bytes: &[u8]) -> Screen {
    let mut screen = Screen::new(COLS, LINES);
    if let Err(v) = scan(bytes, true, &mut screen) {
        panic!("{}", v.describe(bytes));
    }
    assert!(
        bytes.starts_with(ENTER_SEQ),
        "the stream starts with ENTER_SEQ"
    );
    assert!(bytes.ends_with(LEAVE_SEQ), "the stream ends with LEAVE_SEQ");
    let frames = &bytes[ENTER_SEQ.len()..bytes.len() - LEAVE_SEQ.len()];
    if let Err((at, what)) = audit(frames) {
        let v = violation(at + ENTER_SEQ.len(), format!("ui::diff::audit: {what}"));
        panic!("{}", v.describe(bytes));
    }
    screen
}

// ---------------------------------------------------------------------------
// The tests

/// Run the dashboard on `log`, wait for every row in `ips`, open and close the
/// drill-down of every row, quit with `q`; returns every byte written, checked.
fn drive(log_args: &[&str], ips: &[&str], fragments: &[(&str, &str)]) -> Vec<u8> {
    let mut args = vec!["--from-start"];
    args.extend_from_slice(log_args);
    let mut dash = Dash::start(&args);
    let want: Vec<&str> = ips.iter().chain(&PROC_IPS).copied().collect();
    let screen = dash.wait_for("every hostile row", |s| {
        let shown = s.table_ips();
        want.iter().all(|ip| shown.iter().any(|s| s == ip))
    });
    let text = screen.text();
    assert!(text.contains("nethergaze"), "the header is drawn");
    // The hostile text is drawn, with its controls as placeholders.
    assert!(text.contains('\u{FFFD}'), "{text}");

    let rows = screen.table_ips().len();
    let mut seen = Vec::new();
    for i in 0..rows {
        if i > 0 {
            dash.send(b"j");
        }
        dash.send(b"\r");
        let screen = dash.wait_for("a drill-down", |s| s.detail_ip().is_some());
        let ip = screen.detail_ip().unwrap_or_default();
        let text = screen.text();
        for (_, fragment) in fragments.iter().filter(|(owner, _)| *owner == ip) {
            assert!(
                text.contains(fragment),
                "drill-down of {ip} shows {fragment:?}:\n{text}"
            );
        }
        seen.push(ip);
        dash.send(b"\r");
        dash.wait_for("the drill-down to close", |s| s.detail_ip().is_none());
    }
    seen.sort();
    let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(seen, want, "a drill-down for every row");

    dash.send(b"q");
    let bytes = dash.finish();
    assert_clean(&bytes);
    bytes
}

#[test]
fn hostile_combined_lines_never_reach_the_terminal() {
    let log = format!("{DATA}/hostile/combined.log");
    let fragments = [
        ("45.56.1.1", "click me"),
        ("45.56.1.3", "You have been pwned"),
        ("45.56.1.8", ")tnegA-resU"),
        ("45.56.1.9", "Good\u{FFFD}Bot"),
        // nginx's own escapes stay literal text: never decoded into ESC
        ("45.56.2.2", "\\x1B[2J"),
    ];
    let bytes = drive(
        &["--log-path", &log, "--log-format", "combined"],
        &COMBINED_IPS,
        &fragments,
    );
    assert!(!bytes.is_empty());
}

#[test]
fn hostile_caddy_json_never_reaches_the_terminal() {
    // `auto` detects the JSON; its `\u001b` escapes decode to real ESC bytes,
    // which reach the screen only as placeholders.
    let log = format!("{DATA}/hostile/caddy.json");
    let fragments = [("45.56.3.1", "\u{FFFD}]52;c;"), ("45.56.3.5", "0;t")];
    drive(&["--log-path", &log], &CADDY_IPS, &fragments);
}

#[test]
fn ctrl_c_leaves_the_terminal_as_it_was() {
    let log = format!("{DATA}/hostile/combined.log");
    let mut dash = Dash::start(&["--from-start", "--log-path", &log]);
    dash.wait_for("the header", |s| s.text().contains("nethergaze"));
    dash.send(b"\x03");
    // `finish` compares `stty -g` of the slave before and after.
    let bytes = dash.finish();
    assert_clean(&bytes);
}

#[test]
fn the_scanner_rejects_what_the_fixtures_carry() {
    // The oracle itself: each attack, written raw, is caught and named.
    let attacks: [(&[u8], &str); 9] = [
        (b"\x1b]8;;http://x\x1b\\", "OSC"),
        (b"\x1b]52;c;eA==\x07", "OSC"),
        (b"\x1bP+q544e\x1b\\", "DCS"),
        (b"\x1b_Gf=1\x1b\\", "APC"),
        (b"\x1b[>0q", "XTVERSION"),
        (b"a\x9b2J", "raw byte 0x9b"),
        ("\u{9b}2J".as_bytes(), "C1 control"),
        ("x\u{202e}y".as_bytes(), "bidi"),
        ("x\u{200d}y".as_bytes(), "zero-width"),
    ];
    for (bytes, want) in attacks {
        let mut screen = Screen::new(COLS, LINES);
        let err = scan(bytes, true, &mut screen).unwrap_err();
        assert!(err.what.contains(want), "{bytes:?}: {}", err.what);
    }
    let mut screen = Screen::new(COLS, LINES);
    let ok = [
        ENTER_SEQ,
        b"\x1b[?2026h\x1b[3;7H\x1b[0;1;38;5;208mok\x1b[2C\xef\xbf\xbd",
    ]
    .concat();
    scan(&ok, true, &mut screen).unwrap();
    assert!(screen.rows()[2].starts_with("      ok  \u{FFFD}"));
}
