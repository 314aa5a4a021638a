#![no_main]
//! Hostile bytes into a small grid at fuzzer-chosen places and sizes: the
//! cell invariant must hold and the rendered bytes must pass the audit
//! (only the renderer's own escape sequences, only cell characters).
use libfuzzer_sys::fuzz_target;
use nethergaze::ui::{diff, redraw, Grid, RenderMode, Style};

fuzz_target!(|data: &[u8]| {
    let [w, h, x, y, max, rest @ ..] = data else {
        return;
    };
    let (w, h) = (u16::from(*w % 40), u16::from(*h % 8));
    let mut grid = Grid::new(w, h);
    grid.put_bytes(
        u16::from(*x % 48),
        u16::from(*y % 10),
        u16::from(*max),
        rest,
        Style::new(),
    );
    grid.put_str(0, 0, w, &String::from_utf8_lossy(rest), Style::new().bold());
    grid.check_invariants().expect("cell invariant");
    let mut out = Vec::new();
    redraw(&grid, RenderMode::default(), &mut out);
    diff(
        &Grid::new(w, h),
        &grid,
        RenderMode {
            color: false,
            sync_update: false,
        },
        &mut out,
    );
    nethergaze::ui::diff::audit(&out).expect("renderer output");
});
