//! Renderer benchmarks on a 200×50 dashboard-like frame: the IP table on
//! the left, the live log on the right, header and status bars.
//!
//! - `full_frame`: clear + draw every cell from a blank screen (first
//!   frame, resize, after Ctrl-Z);
//! - `one_line`: one line of the log panel changed (a counter ticking);
//! - `panel_scroll`: the log panel scrolled by one line (every panel row
//!   changes: the steady state while lines arrive);
//! - `draw`: the views' side, putting all the frame's text into a grid.
//!
//! Throughput is the bytes written to the terminal per frame (printed too).
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

use nethergaze::ui::{diff, redraw, Color, Grid, Rect, RenderMode, Style};

const WIDTH: u16 = 200;
const HEIGHT: u16 = 50;
/// Columns of the IP table; the log panel takes the rest.
const TABLE_WIDTH: u16 = 120;

const PATHS: [&str; 6] = [
    "/",
    "/static/app.3f9a1c.js",
    "/api/v1/login",
    "/wp-login.php",
    "/search?q=nethergaze+rust&page=2",
    "/.env",
];
const STATUS: [(u16, Color); 4] = [
    (200, Color::GREEN),
    (304, Color::CYAN),
    (404, Color::YELLOW),
    (500, Color::RED),
];

/// One log panel line, `n` picking its content.
fn log_line(n: usize) -> (String, Style) {
    let (status, color) = STATUS[n % STATUS.len()];
    let text = format!(
        "17:41:{:02} 203.0.113.{:<3} GET {} {} {}",
        n % 60,
        n % 250,
        PATHS[n % PATHS.len()],
        status,
        1000 + n * 37 % 90_000
    );
    (text, Style::new().fg(color))
}

/// Draw a whole dashboard frame; `first_log` is the oldest log line shown.
fn draw(grid: &mut Grid, first_log: usize) {
    grid.clear();
    let (header, rest) = grid.area().split_top(2);
    let (body, footer) = rest.split_bottom(1);
    let (table, log) = body.split_left(TABLE_WIDTH);
    let bar = Style::new().reverse();
    grid.fill(header, bar);
    grid.put_str(0, 0, WIDTH, "nethergaze  web-01  up 3h12m  IPs 1204  conns 388  est 201  req 98321  req/min 812  rx 1.2 MB/s tx 9.8 MB/s", bar.bold());
    grid.put_str(0, 1, WIDTH, "req/s 13.5  new conn/s 4.1  top req: 198.51.100.7 (120/min) 203.0.113.9 (80/min)  top conns: 192.0.2.44 (61)", bar);
    let head = Style::new().bold().underline();
    grid.put_str(table.x, table.y, table.width, "IP                                       CC Organization          Conns State Svc    Reqs   Bytes Auth Hx Last path", head);
    for dy in 1..table.height {
        let y = table.y + dy;
        let i = usize::from(dy);
        let style = if i % 7 == 0 {
            Style::new().fg(Color::RED).bold()
        } else {
            Style::new()
        };
        let ip = format!("{}203.0.113.{}", if i % 7 == 0 { "!" } else { " " }, i);
        grid.put_str(table.x, y, 41, &ip, style);
        grid.put_str(table.x + 41, y, 3, "DE", style);
        grid.put_str(table.x + 44, y, 22, "Example Hosting GmbH & Co. KG", style);
        let row = format!(
            "{:>5} {:>5} {:<5} {:>6} {:>7} {:>4} {:>2} ",
            i * 3,
            "6E",
            "https",
            i * 101,
            i * 4096,
            i % 5,
            i % 3
        );
        let x = table.x + 66;
        let used = grid.put_str(x, y, 40, &row, style.fg(Color::CYAN));
        grid.put_str(
            x + used,
            y,
            table.right() - (x + used),
            PATHS[i % PATHS.len()],
            style.dim(),
        );
    }
    grid.fill_char(
        Rect::new(log.x, log.y, 1, log.height),
        '│',
        Style::new().fg(Color::GRAY),
    );
    for dy in 0..log.height {
        let (text, style) = log_line(first_log + usize::from(dy));
        grid.put_str(log.x + 1, log.y + dy, log.width - 1, &text, style);
    }
    grid.fill(footer, bar);
    grid.put_str(footer.x, footer.y, footer.width, "lines 1204331  malformed 12  sources ok 3/3   q quit  / filter  f filters  ! suspicious  ? help", bar);
}

fn frame(first_log: usize) -> Grid {
    let mut grid = Grid::new(WIDTH, HEIGHT);
    draw(&mut grid, first_log);
    grid
}

fn bench_render(c: &mut Criterion) {
    let mode = RenderMode::default();
    let mono = RenderMode {
        color: false,
        ..mode
    };
    let base = frame(0);
    let mut one_line = base.clone();
    one_line.put_str(
        TABLE_WIDTH + 1,
        20,
        WIDTH - TABLE_WIDTH - 1,
        "17:41:59 198.51.100.7  GET /wp-login.php 404 512",
        Style::new().fg(Color::YELLOW),
    );
    let scrolled = frame(1);

    let mut out = Vec::with_capacity(64 << 10);
    let mut group = c.benchmark_group("render_200x50");
    let cases: [(&str, &Grid, RenderMode, bool); 5] = [
        ("full_frame", &base, mode, true),
        ("full_frame_mono", &base, mono, true),
        ("one_line", &one_line, mode, false),
        ("panel_scroll", &scrolled, mode, false),
        ("unchanged", &base, mode, false),
    ];
    for (name, next, mode, full) in cases {
        let encode = |out: &mut Vec<u8>| {
            out.clear();
            if full {
                redraw(next, mode, out);
            } else {
                diff(&base, next, mode, out);
            }
        };
        encode(&mut out);
        eprintln!("render_200x50/{name}: {} bytes per frame", out.len());
        group.throughput(Throughput::Bytes(out.len() as u64));
        group.bench_function(name, |b| b.iter(|| encode(black_box(&mut out))));
    }
    group.finish();

    let mut grid = Grid::new(WIDTH, HEIGHT);
    c.bench_function("draw_200x50", |b| {
        b.iter(|| draw(black_box(&mut grid), 7));
    });
}

criterion_group!(benches, bench_render);
criterion_main!(benches);
