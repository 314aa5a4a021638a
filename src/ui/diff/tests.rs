//! The renderer against an oracle: a strict virtual terminal (`ui::vt`)
//! replays every frame over the previous screen and must end up showing
//! the next grid exactly, over thousands of random grid pairs.

use super::*;
use crate::testutil::Rng;
use crate::ui::rect::Rect;
use crate::ui::vt::Vt;

const PLAIN: Style = Style::new();
const COLOR: RenderMode = RenderMode {
    color: true,
    sync_update: false,
};
const MONO: RenderMode = RenderMode {
    color: false,
    sync_update: false,
};

fn diff_bytes(prev: &Grid, next: &Grid, mode: RenderMode) -> Vec<u8> {
    let mut out = Vec::new();
    diff(prev, next, mode, &mut out);
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace('\x1b', "^")
}

/// Grid-shaped draws from the shared test PRNG.
impl Rng {
    fn coord(&mut self, n: u16) -> u16 {
        self.below(u64::from(n) + 2) as u16
    }

    fn style(&mut self) -> Style {
        let mut s = Style::new();
        let color = |rng: &mut Rng| match rng.below(4) {
            0 => Color::Default,
            1 => Color::Indexed(rng.below(8) as u8),
            2 => Color::Indexed(8 + rng.below(8) as u8),
            _ => Color::Indexed(rng.below(256) as u8),
        };
        s = s.fg(color(self)).bg(color(self));
        let attrs: [fn(Style) -> Style; 4] =
            [Style::bold, Style::dim, Style::underline, Style::reverse];
        for attr in attrs {
            if self.below(3) == 0 {
                s = attr(s);
            }
        }
        s
    }
}

/// Text the dashboard will see from hostile logs, plus wide and combining text.
const HOSTILE: &[&str] = &[
    "\x1b]8;;http://evil.example/\x07click\x1b]8;;\x07",
    "\x1b]52;c;cm0gLXJmIH4K\x07",
    "\x1b]0;pwned title\x07",
    "\u{9b}31mred\u{9b}2J",
    "\x1bP+q544e\x1b\\",
    "\x1b[>0q",
    "\x1b[?1049l\x1b[2J\x1b[H",
    "admin\u{202E}gpj.exe",
    "\u{2066}x\u{2069}\u{200B}\u{200D}\u{FEFF}\u{00AD}",
    "bell\x07cr\rlf\ntab\tdel\x7f",
    "日本語のパス",
    "😀🎉 emoji 👨\u{200D}👩\u{200D}👧",
    "e\u{301}\u{302}\u{303} zalgo",
    "Ｆｕｌｌｗｉｄｔｈ",
    "\u{17D8}\u{115F}\u{3164}",
    "GET /index.html HTTP/1.1",
    "Mozilla/5.0 (X11; Linux x86_64)",
    "",
    "x",
];

const HOSTILE_BYTES: &[&[u8]] = &[
    b"\x9b31m raw C1 CSI",
    b"\x90+q\x9c raw DCS",
    b"\x9d0;title\x9c raw OSC",
    b"\xff\xfe\xc0\xaf overlong",
    b"\xe6\x97\xa5\xe6\x9c",
    b"\x1b[2J\x1b]52;c;aGk=\x07",
];

/// Random drawing: what views do, with hostile text.
fn scribble(rng: &mut Rng, grid: &mut Grid, ops: usize) {
    let (w, h) = (grid.width(), grid.height());
    for _ in 0..ops {
        let (x, y) = (rng.coord(w), rng.coord(h));
        let style = rng.style();
        match rng.below(10) {
            0 => grid.fill(Rect::new(x, y, rng.coord(w), rng.coord(h)), style),
            1 => grid.set_style(Rect::new(x, y, rng.coord(w), 1), style),
            2 => drop(grid.put_bytes(x, y, rng.coord(w), rng.pick(HOSTILE_BYTES), style)),
            3 => drop(grid.put_char(x, y, rng.pick(&['│', '日', '\x1b', '…', 'a']), style)),
            4 => grid.map_style(Rect::new(x, y, rng.coord(w), 2), Style::reverse),
            _ => drop(grid.put_str(x, y, rng.coord(w), rng.pick(HOSTILE), style)),
        }
    }
}

fn random_grid(rng: &mut Rng, width: u16, height: u16) -> Grid {
    let mut g = Grid::new(width, height);
    let ops = rng.below(40) as usize;
    scribble(rng, &mut g, ops);
    g
}

/// Replay `bytes` on `vt` and check it shows `grid`; audit the bytes too.
fn replay(vt: &mut Vt, bytes: &[u8], grid: &Grid, color: bool) {
    if let Err((at, what)) = audit(bytes) {
        panic!("audit: {what} at {at} in {}", text(bytes));
    }
    if let Err(e) = vt.feed(bytes).and_then(|()| vt.check_shows(grid, color)) {
        panic!("{e}\nbytes: {}", text(bytes));
    }
}

#[test]
fn oracle_random_grid_pairs() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let mut total = 0;
    for case in 0..3000 {
        let mode = RenderMode {
            color: case % 3 != 0,
            sync_update: case % 2 == 0,
        };
        let (w, h) = (rng.below(31) as u16, rng.below(9) as u16);
        let prev = random_grid(&mut rng, w, h);
        let mut next = prev.clone();
        match rng.below(10) {
            0 => {
                let (w2, h2) = (rng.below(31) as u16, rng.below(9) as u16);
                next = random_grid(&mut rng, w2, h2);
            }
            1 => {}
            _ => {
                let ops = 1 + rng.below(6) as usize;
                scribble(&mut rng, &mut next, ops);
            }
        }
        prev.check_invariants().unwrap();
        next.check_invariants().unwrap();

        let mut vt = Vt::new(w, h);
        let mut out = Vec::new();
        redraw(&prev, mode, &mut out);
        replay(&mut vt, &out, &prev, mode.color);

        out.clear();
        diff(&prev, &next, mode, &mut out);
        if (w, h) != (next.width(), next.height()) {
            vt = Vt::new(next.width(), next.height()); // the terminal resized
        }
        replay(&mut vt, &out, &next, mode.color);
        total += out.len();
    }
    assert!(total > 0);
}

#[test]
fn oracle_frame_sequences_through_the_renderer() {
    let mut rng = Rng(42);
    for mode in [COLOR, MONO, RenderMode::default()] {
        let mut r = Renderer::new(24, 6, mode);
        let mut vt = Vt::new(24, 6);
        let mut state = Grid::new(24, 6);
        let mut out = Vec::new();
        for frame in 0..400 {
            if frame % 97 == 96 {
                let (w, h) = (rng.below(30) as u16, rng.below(8) as u16);
                r.resize(w, h);
                state.resize(w, h);
                vt = Vt::new(w, h);
            }
            if frame % 50 == 49 {
                r.invalidate();
                vt = Vt::new(state.width(), state.height());
            }
            let ops = rng.below(4) as usize;
            scribble(&mut rng, &mut state, ops);
            let g = r.frame();
            g.clone_from(&state);
            out.clear();
            r.render(&mut out);
            replay(&mut vt, &out, &state, mode.color);
            assert_eq!(r.screen(), &state);
        }
    }
}

#[test]
fn a_terminal_that_measures_wide_characters_narrow_stays_aligned() {
    // The cursor is re-placed after every wide character, so a terminal
    // with an older width table differs only in the continuation cells.
    let mut rng = Rng(7);
    for _ in 0..500 {
        let (w, h) = (1 + rng.below(30) as u16, 1 + rng.below(6) as u16);
        let prev = random_grid(&mut rng, w, h);
        let mut next = prev.clone();
        scribble(&mut rng, &mut next, 3);
        let mut vt = Vt::new(w, h).with_narrow_wide();
        let mut out = Vec::new();
        redraw(&prev, COLOR, &mut out);
        vt.feed(&out).unwrap();
        vt.check_shows(&prev, true).unwrap();
        out.clear();
        diff(&prev, &next, COLOR, &mut out);
        vt.feed(&out).unwrap();
        vt.check_shows(&next, true).unwrap();
    }
}

#[test]
fn hostile_text_never_reaches_the_terminal() {
    let mut g = Grid::new(80, HOSTILE.len() as u16 + HOSTILE_BYTES.len() as u16);
    let mut y = 0;
    for s in HOSTILE {
        g.put_str(0, y, 80, s, PLAIN);
        y += 1;
    }
    for b in HOSTILE_BYTES {
        g.put_bytes(0, y, 80, b, PLAIN);
        y += 1;
    }
    let mut out = Vec::new();
    redraw(&g, COLOR, &mut out);
    audit(&out).unwrap();
    // Beyond the grammar check: none of the payloads' introducers is there.
    let printed = String::from_utf8(out.clone()).unwrap();
    for bad in [
        "\x1b]",
        "\x1bP",
        "\x1b\\",
        "\x1b[>",
        "\x1b[?1049",
        "\x07",
        "\u{9b}",
        "\u{202E}",
        "\u{200B}",
    ] {
        assert!(!printed.contains(bad), "{bad:?} reached the terminal");
    }
    assert!(!out.iter().any(|&b| b < 0x20 && b != 0x1b));
    assert_eq!(printed.matches("\x1b[2J").count(), 1);
    let mut vt = Vt::new(g.width(), g.height());
    replay(&mut vt, &out, &g, true);
    assert_eq!(g.row_text(7).trim_end(), "admin�gpj.exe");
}

#[test]
fn audit_rejects_what_the_renderer_never_sends() {
    assert_eq!(
        audit(b"\x1b[2;3H\x1b[0;1;38;5;200mab\x1b[4C\x1b[?2026l"),
        Ok(())
    );
    for bad in [
        &b"\x1b]0;x\x07"[..],
        b"\x1b[>0q",
        b"\x1b[?1049h",
        b"\x1b[3J",
        b"\x1bP",
        b"\x1b",
        b"\x07",
        b"a\rb",
        b"\xc2\x9b",
        b"\x9b",
        "\u{202E}".as_bytes(),
        "\u{200B}".as_bytes(),
    ] {
        assert!(audit(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn same_grids_write_nothing() {
    let mut rng = Rng(3);
    let g = random_grid(&mut rng, 20, 5);
    assert!(diff_bytes(&g, &g, RenderMode::default()).is_empty());
    // In mono, a colour-only change is no change.
    let mut next = g.clone();
    next.map_style(next.area(), |s| s.fg(Color::RED));
    assert!(diff_bytes(&g, &next, MONO).is_empty());
    assert!(!diff_bytes(&g, &next, COLOR).is_empty());
}

#[test]
fn cursor_moves_only_on_gaps() {
    let prev = Grid::new(20, 3);
    let mut next = prev.clone();
    next.put_str(2, 1, 20, "abc", PLAIN);
    assert_eq!(text(&diff_bytes(&prev, &next, COLOR)), "^[2;3H^[0mabc");
    // Top-left: the shortest CUP.
    let mut next = prev.clone();
    next.put_str(0, 0, 20, "x", PLAIN);
    assert_eq!(text(&diff_bytes(&prev, &next, COLOR)), "^[H^[0mx");
    // Two runs on a row: a one-cell gap is rewritten, a long one skipped with CUF.
    let mut next = prev.clone();
    next.put_str(0, 2, 20, "ab", PLAIN);
    next.put_str(3, 2, 20, "c", PLAIN);
    next.put_str(15, 2, 20, "d", PLAIN);
    assert_eq!(text(&diff_bytes(&prev, &next, COLOR)), "^[3H^[0mab c^[11Cd");
    // Different rows: CUP.
    let mut next = prev.clone();
    next.put_str(5, 0, 20, "a", PLAIN);
    next.put_str(5, 1, 20, "b", PLAIN);
    assert_eq!(text(&diff_bytes(&prev, &next, COLOR)), "^[1;6H^[0ma^[2;6Hb");
}

#[test]
fn a_gap_in_another_style_is_skipped_not_rewritten() {
    let mut prev = Grid::new(10, 1);
    prev.put_str(1, 0, 1, "R", PLAIN.fg(Color::RED));
    let mut next = prev.clone();
    next.put_str(0, 0, 1, "a", PLAIN);
    next.put_str(2, 0, 1, "b", PLAIN);
    assert_eq!(text(&diff_bytes(&prev, &next, COLOR)), "^[H^[0ma^[Cb");
}

#[test]
fn sgr_only_on_change_and_minimal() {
    // The shorter of the transition and reset-then-set ("0" on a tie).
    let prev = Grid::new(10, 1);
    let mut next = prev.clone();
    let red = PLAIN.fg(Color::RED).bold();
    next.put_str(0, 0, 2, "ab", red);
    next.put_str(
        2,
        0,
        2,
        "cd",
        red.fg(Color::Indexed(200)).bg(Color::BRIGHT_BLUE),
    );
    next.put_str(4, 0, 1, "e", red.underline());
    next.put_str(5, 0, 1, "f", PLAIN.dim());
    next.put_str(6, 0, 1, "g", PLAIN);
    assert_eq!(
        text(&diff_bytes(&prev, &next, COLOR)),
        "^[H^[0;1;31mab^[38;5;200;104mcd^[4;31;49me^[0;2mf^[0mg"
    );
    // Mono: the same frame with attributes only.
    assert_eq!(
        text(&diff_bytes(&prev, &next, MONO)),
        "^[H^[0;1mabcd^[4me^[0;2mf^[0mg"
    );
}

#[test]
fn the_last_column_is_followed_by_a_cup() {
    let prev = Grid::new(4, 2);
    let mut next = prev.clone();
    next.put_str(0, 0, 4, "abcd", PLAIN);
    next.put_str(0, 1, 4, "efgh", PLAIN); // bottom-right cell included
    assert_eq!(
        text(&diff_bytes(&prev, &next, COLOR)),
        "^[H^[0mabcd^[2Hefgh"
    );
    let mut vt = Vt::new(4, 2);
    vt.feed(&diff_bytes(&Grid::new(4, 2), &next, COLOR))
        .unwrap();
}

#[test]
fn wide_characters_skip_their_continuation_and_reposition() {
    let prev = Grid::new(8, 1);
    let mut next = prev.clone();
    next.put_str(0, 0, 8, "日x本y", PLAIN);
    assert_eq!(
        text(&diff_bytes(&prev, &next, COLOR)),
        "^[H^[0m日^[1;3Hx本^[1;6Hy"
    );
}

#[test]
fn size_change_and_first_frame_redraw_fully() {
    let small = Grid::new(3, 1);
    let mut big = Grid::new(4, 1);
    big.put_str(3, 0, 1, "z", PLAIN.bg(Color::BLUE));
    assert_eq!(
        text(&diff_bytes(&small, &big, COLOR)),
        "^[0m^[2J^[1;4H^[44mz"
    );
    // A blank frame is just the clear.
    let mut out = Vec::new();
    redraw(&Grid::new(0, 0), RenderMode::default(), &mut out);
    assert_eq!(text(&out), "^[?2026h^[0m^[2J^[?2026l");
    // The renderer: full first frame, then diffs, full again on invalidate.
    let mut r = Renderer::new(5, 1, RenderMode::default());
    r.frame().put_str(0, 0, 5, "hi", PLAIN);
    out.clear();
    r.render(&mut out);
    assert!(text(&out).contains("^[2J"));
    r.frame().put_str(0, 0, 5, "hi", PLAIN);
    out.clear();
    r.render(&mut out);
    assert!(out.is_empty(), "{}", text(&out));
    r.invalidate();
    r.frame().put_str(0, 0, 5, "hi", PLAIN);
    r.render(&mut out);
    assert!(text(&out).contains("^[2J"));
    // A mode change redraws too.
    r.set_mode(MONO);
    r.frame().put_str(0, 0, 5, "hi", PLAIN);
    out.clear();
    r.render(&mut out);
    assert_eq!(text(&out), "^[0m^[2J^[Hhi");
}

#[test]
fn rendering_does_not_reallocate_after_warm_up() {
    let mut rng = Rng(11);
    let mut r = Renderer::new(120, 40, RenderMode::default());
    let mut out = Vec::with_capacity(64 << 10);
    let ptr = out.as_ptr();
    for _ in 0..50 {
        let g = r.frame();
        scribble(&mut rng, g, 30);
        out.clear();
        r.render(&mut out);
    }
    assert_eq!(out.as_ptr(), ptr, "out was reallocated");
    assert_eq!(out.capacity(), 64 << 10);
}

#[test]
fn numbers_are_encoded_in_decimal() {
    for n in [0u16, 1, 9, 10, 99, 100, 999, 1000, 9999, 10000, u16::MAX] {
        let mut out = Vec::new();
        push_num(&mut out, n);
        assert_eq!(out, n.to_string().as_bytes());
        assert_eq!(num_len(n), out.len());
    }
    let mut p = Params::default();
    for n in [0u8, 5, 38, 255] {
        p.push(n);
    }
    assert_eq!(p.as_bytes(), b"0;5;38;255");
}
