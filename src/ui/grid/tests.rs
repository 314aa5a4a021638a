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
