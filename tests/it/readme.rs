//! The README can't rot (issue 5): every command in its `sh` blocks runs here
//! (`nethergaze …`) or in CI (`.ci/run`, for `make`, `cargo` and the like), every
//! `toml` block is a config the binary accepts, and the dashboard picture has the
//! columns, bars and hints the current build draws.

use std::time::Duration;

use super::dashboard::{shell_quote, skip_without_tmux, Tmux};
use super::harness::{self, Running, Snapshot};

const README: &str = include_str!("../../README.md");
const CI: &str = include_str!("../../.ci/run");

/// A fenced code block: its info string (`sh`, `toml`, …) and its text.
struct Block {
    lang: String,
    body: String,
}

fn blocks() -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for line in README.lines() {
        match (line.strip_prefix("```"), open.take()) {
            (Some(lang), None) => {
                open = Some(Block {
                    lang: lang.trim().to_owned(),
                    body: String::new(),
                })
            }
            (Some(_), Some(done)) => out.push(done),
            (None, Some(mut block)) => {
                block.body.push_str(line);
                block.body.push('\n');
                open = Some(block);
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "an unclosed code block in the README");
    out
}

/// The commands of the `sh` blocks: comments and blank lines dropped,
/// `\` continuations joined.
fn commands() -> Vec<String> {
    let mut out = Vec::new();
    for block in blocks().iter().filter(|b| b.lang == "sh") {
        let mut pending = String::new();
        for line in block.body.lines() {
            let line = line.trim();
            if pending.is_empty() && (line.is_empty() || line.starts_with('#')) {
                continue;
            }
            match line.strip_suffix('\\') {
                Some(head) => pending.push_str(head),
                None => {
                    pending.push_str(line);
                    let command = strip_comment(&std::mem::take(&mut pending));
                    out.push(command);
                }
            }
        }
    }
    out
}

/// `cmd   # what it does` → `cmd` (a `#` inside quotes stays).
fn strip_comment(line: &str) -> String {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '#') if line[..i].ends_with(' ') => return line[..i].trim().to_owned(),
            _ => {}
        }
    }
    line.trim().to_owned()
}

/// Shell words: whitespace-separated, with '…' and "…" quoting (what the
/// README's commands use; no expansions).
fn words(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word: Option<String> = None;
    let mut quote = None;
    for c in command.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (Some(q), _) if c == q => quote = None,
            (None, c) if c.is_whitespace() => out.extend(word.take()),
            (_, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    assert!(quote.is_none(), "unbalanced quote in {command:?}");
    out.extend(word);
    out
}

/// A README command as the test runs it: `--for` shortened to a second, and a
/// command that would open the dashboard run headless for a second instead
/// (the dashboard itself is driven in tmux by tests/it/dashboard.rs).
fn as_run(args: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        out.push(arg.clone());
        if arg == "--for" {
            iter.next();
            out.push("1s".into());
        }
    }
    let ends_by_itself = [
        "--once",
        "--for",
        "--generate",
        "--help",
        "-h",
        "--version",
        "-V",
    ];
    if !out.iter().any(|a| ends_by_itself.contains(&a.as_str())) {
        out.extend(["--for".into(), "1s".into()]);
    }
    out
}

#[test]
fn every_nethergaze_command_in_the_readme_runs() {
    let dir = harness::tempdir();
    let mut ran = 0;
    for command in commands() {
        let words = words(&command);
        if words.first().map(String::as_str) != Some("nethergaze") {
            continue;
        }
        // `> file` redirections: the test reads stdout instead.
        let end = words.iter().position(|w| w == ">").unwrap_or(words.len());
        let args = as_run(&words[1..end]);
        let mut cmd = harness::nethergaze();
        // History and caches go to the test's folder, not the runner's home.
        cmd.env("XDG_STATE_HOME", dir.path().join("state"))
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            .args(&args);
        let out = Running::spawn(cmd).finish(Duration::from_secs(60));
        // Exit 1 with only log sources' errors on stderr: a log the README names
        // that this machine does not have (vhost logs, Caddy, a journal). The
        // snapshot is still printed; anything else is a failure.
        let sources_only = !out.stderr.is_empty()
            && out.stderr.lines().all(|l| {
                l.starts_with("nethergaze: access log ") || l.starts_with("nethergaze: auth log ")
            });
        assert!(
            out.status.success() || (out.status.code() == Some(1) && sources_only),
            "README: {command}\nran {args:?}: {out:?}"
        );
        assert!(
            !out.stdout.trim().is_empty(),
            "README: {command} printed nothing"
        );
        if args.iter().any(|a| a == "--json") {
            let snap = Snapshot::parse(&out.stdout);
            assert_eq!(snap.summary["type"], "summary", "README: {command}");
        }
        ran += 1;
    }
    assert!(
        ran >= 8,
        "only {ran} nethergaze commands found in the README"
    );
}

#[test]
fn every_other_command_in_the_readme_runs_in_ci() {
    let ci_commands: Vec<Vec<String>> = CI
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .map(words)
        .collect();
    let mut checked = 0;
    for command in commands() {
        let words = words(&command);
        if words.first().map(String::as_str) == Some("nethergaze") {
            continue;
        }
        let in_ci = ci_commands.iter().any(|ci| ci.starts_with(&words));
        assert!(
            in_ci,
            "README command {command:?} is neither run by this test nor by .ci/run"
        );
        checked += 1;
    }
    assert!(checked >= 2, "make run and make test at least");
}

#[test]
fn every_toml_block_in_the_readme_is_a_valid_config() {
    let dir = harness::tempdir();
    let mut checked = 0;
    for (i, block) in blocks().iter().filter(|b| b.lang == "toml").enumerate() {
        let config = dir.path().join(format!("config-{i}.toml"));
        std::fs::write(&config, &block.body).unwrap();
        let mut cmd = harness::on_fixtures();
        cmd.args([
            "--once",
            "--no-history",
            "--no-whois",
            "--no-geoip",
            "--config",
        ])
        .arg(&config);
        let out = Running::spawn(cmd).finish(Duration::from_secs(30));
        assert!(
            out.status.success(),
            "README toml block {i} is refused:\n{}\n{out:?}",
            block.body
        );
        checked += 1;
    }
    assert!(checked >= 1);
}

/// The first `text` block is the dashboard picture, taken with `--demo`. The
/// demo's traffic is random and timed, so its rows differ run to run; what
/// must match is the frame: the header's start, the table's column titles,
/// the activity panel's title and the hints line, at the picture's size.
#[test]
fn the_dashboard_picture_matches_the_build() {
    if skip_without_tmux() {
        return;
    }
    let picture: Vec<String> = blocks()
        .into_iter()
        .find(|b| b.lang == "text")
        .expect("a dashboard picture in a text block")
        .body
        .lines()
        .map(str::to_owned)
        .collect();
    let width = picture.iter().map(|l| l.chars().count()).max().unwrap();
    let dir = harness::tempdir();
    let script = format!(
        "NO_COLOR=1 HOME={home} {bin} --demo --no-history --no-whois; exec sleep 600",
        home = shell_quote(&dir.path().join("home")),
        bin = shell_quote(&harness::nethergaze_bin()),
    );
    let tmux = Tmux::start(dir.path().join("tmux.sock"), width, picture.len(), &script);
    let screen = tmux.wait_for("the demo's table", |s| {
        s.len() == picture.len() && s.iter().filter(|l| l.starts_with('!')).count() > 3
    });
    tmux.send(&["-l", "q"]);
    let frame = |lines: &[String]| {
        let header = lines[0].split(" │ ").next().unwrap_or_default().to_owned();
        let titles = lines[2].trim_end().to_owned();
        let hints = lines[lines.len() - 1].trim_end().to_owned();
        (header, titles, hints)
    };
    assert_eq!(
        frame(&picture),
        frame(&screen),
        "README picture is stale; a fresh one:\n{}",
        screen.join("\n")
    );
}

/// The README's "How it works" section (the architecture in one page).
fn how_it_works() -> &'static str {
    let start = README
        .find("\n## How it works\n")
        .expect("a How it works section");
    let rest = &README[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    &rest[..end]
}

/// Every `room` the section names in backticks that looks like a path under
/// `src/` (`engine/feed.rs`, `src/net.rs`, `ui/dashboard/`), as written.
fn named_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, chunk) in text.split('`').enumerate() {
        let is_path = chunk.ends_with(".rs") || chunk.ends_with('/');
        if i % 2 == 1 && is_path && !chunk.contains(' ') {
            out.push(chunk.trim_start_matches("src/").to_owned());
        }
    }
    out
}

/// Where a named room is: under `src/`, or under the folder of the bullet it
/// is named in (`session.rs` in the `src/ui/` bullet is `src/ui/session.rs`).
fn room_exists(room: &str, bullet: &str) -> bool {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    if src.join(room).exists() {
        return true;
    }
    named_paths(bullet)
        .iter()
        .filter(|folder| folder.ends_with('/'))
        .any(|folder| src.join(folder).join(room).exists())
}

#[test]
fn how_it_works_names_rooms_that_exist() {
    let section = how_it_works();
    let bullets: Vec<&str> = section.split("\n- ").collect();
    let mut missing = Vec::new();
    for bullet in &bullets {
        for room in named_paths(bullet) {
            if !room_exists(&room, bullet) {
                missing.push(room);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "README's How it works names rooms that don't exist: {missing:?}"
    );
}

#[test]
fn how_it_works_names_every_top_level_room() {
    let named = named_paths(how_it_works());
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut unnamed = Vec::new();
    for entry in std::fs::read_dir(&src).expect("src/") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        // lib.rs lists the modules; testutil.rs is for unit tests. A folder
        // beside a file (`event_loop/` for `event_loop.rs`) is that file's.
        let is_dir = entry.path().is_dir();
        let room = if is_dir {
            format!("{name}/")
        } else {
            name.clone()
        };
        let beside_file = is_dir && src.join(format!("{name}.rs")).exists();
        if ["lib.rs", "testutil.rs"].contains(&name.as_str()) || beside_file {
            continue;
        }
        if !named.iter().any(|n| n == &room || n.starts_with(&room)) {
            unnamed.push(room);
        }
    }
    assert!(
        unnamed.is_empty(),
        "README's How it works doesn't name: {unnamed:?}"
    );
}
