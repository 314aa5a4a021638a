//! `--generate`: the man page goes through groff and man without a warning, and
//! each completion script is loaded by its shell and asked real questions (which
//! flags start with `--lo`, which values `--log-format` takes).
//!
//! The renderers are checked against the flag table in unit tests
//! (src/cli/generate.rs); here the consumers have the last word.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::harness::{self, nethergaze, run_cmd, Output};

/// The output of `nethergaze --generate KIND`, which must succeed.
fn generate(kind: &str) -> String {
    let mut cmd = nethergaze();
    cmd.args(["--generate", kind]);
    let out = run_cmd(cmd);
    assert!(out.status.success(), "--generate {kind}: {out:?}");
    assert!(out.stderr.is_empty(), "--generate {kind}: {out:?}");
    out.stdout
}

/// `generate(kind)` written to `dir/name`.
fn generate_to(dir: &Path, name: &str, kind: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, generate(kind)).unwrap();
    path
}

/// True when every tool in `bins` is installed. Otherwise prints `SKIP` and returns
/// false, except under `CI=true` (which installs them all), where it panics.
fn have(bins: &[&str]) -> bool {
    let missing: Vec<&str> = bins
        .iter()
        .copied()
        .filter(|b| harness::which(b).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(!ci, "CI=true but not installed: {}", missing.join(", "));
    eprintln!("SKIP: not installed: {}", missing.join(", "));
    false
}

/// Runs `bin args`; asserts exit 0 and nothing on stderr.
fn quietly(bin: &str, args: &[&dyn AsRef<std::ffi::OsStr>], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(harness::bin(bin));
    cmd.args(args.iter().map(|a| a.as_ref()))
        .envs(env.iter().copied());
    let out = run_cmd(cmd);
    assert!(out.status.success(), "{bin} {out:?}");
    assert_eq!(out.stderr, "", "{bin} warned");
    out
}

#[test]
fn unknown_kind_is_a_usage_error() {
    let mut cmd = nethergaze();
    cmd.args(["--generate", "complete-tcsh"]);
    let out = run_cmd(cmd);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "nethergaze: --generate: invalid value `complete-tcsh` \
         (use man, complete-bash, complete-zsh, complete-fish)\n"
    );
    let mut cmd = nethergaze();
    cmd.arg("--generate");
    let out = run_cmd(cmd);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        out.stderr.contains("--generate: needs a value (KIND)"),
        "{out:?}"
    );
}

#[test]
fn generate_needs_no_config_and_help_wins() {
    let mut cmd = nethergaze();
    cmd.args([
        "--config",
        "/nonexistent/nethergaze.toml",
        "--generate",
        "man",
    ]);
    let out = run_cmd(cmd);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.starts_with(".TH NETHERGAZE 1 "), "{out:?}");
    let mut cmd = nethergaze();
    cmd.args(["--generate", "man", "--help"]);
    let out = run_cmd(cmd);
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stdout.contains("Usage: nethergaze [OPTIONS]"),
        "{out:?}"
    );
}

#[test]
fn man_page_renders_without_warnings() {
    if !have(&["groff", "man"]) {
        return;
    }
    let dir = harness::tempdir();
    let page = generate_to(dir.path(), "nethergaze.1", "man");
    // -ww: every warning; -z: no output, only the diagnostics.
    quietly("groff", &[&"-man", &"-Tutf8", &"-ww", &"-z", &page], &[]);
    let env = [
        ("MANWIDTH", "80"),
        ("MANPAGER", "cat"),
        ("LC_ALL", "C.UTF-8"),
    ];
    let out = quietly("man", &[&"--warnings", &"-l", &page], &env);
    let text = &out.stdout;
    for want in [
        "NETHERGAZE(1)",
        "SYNOPSIS",
        "--log-path GLOB",
        "-h, --help",
        "--generate KIND",
        "KEYS",
        "Ctrl+Z",
        "↑ ↓",
        "EXIT STATUS",
        "nethergaze --log-path '/var/log/nginx/*.access.log' --from-start",
    ] {
        assert!(text.contains(want), "man page lacks {want:?}:\n{text}");
    }
    // Plain ASCII hyphens, never U+2010: flags must survive copy and paste.
    assert!(!text.contains('\u{2010}'), "typographic hyphen:\n{text}");
}

/// Runs the bash completion for the words of `line` (the cursor at the end, `=`
/// split off as readline does) and returns COMPREPLY.
fn bash_complete(script: &Path, line: &[&str], cwd: &Path) -> Vec<String> {
    let words = line
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let program = format!(
        "source '{}' && COMP_WORDS=({words}) && COMP_CWORD={} && _nethergaze && \
         for w in \"${{COMPREPLY[@]}}\"; do echo \"$w\"; done",
        script.display(),
        line.len() - 1
    );
    let mut cmd = Command::new(harness::bin("bash"));
    cmd.args(["--norc", "--noprofile", "-c", &program])
        .current_dir(cwd);
    let out = run_cmd(cmd);
    assert!(out.status.success(), "{line:?}: {out:?}");
    assert_eq!(out.stderr, "", "{line:?}");
    out.stdout.lines().map(String::from).collect()
}

#[test]
fn bash_completion_completes_flags_values_and_files() {
    if !have(&["bash"]) {
        return;
    }
    let dir = harness::tempdir();
    let script = generate_to(dir.path(), "nethergaze.bash", "complete-bash");
    quietly("bash", &[&"-n", &script], &[]);
    fs::write(dir.path().join("access.log"), "").unwrap();
    let complete = |line: &[&str]| bash_complete(&script, line, dir.path());
    assert_eq!(
        complete(&["nethergaze", "--lo"]),
        ["--log-path", "--log-format"]
    );
    assert_eq!(
        complete(&["nethergaze", "--log-format", ""]),
        ["auto", "combined", "common", "vhost_combined", "json"]
    );
    assert_eq!(
        complete(&["nethergaze", "--color", "=", "a"]),
        ["auto", "always"]
    );
    assert_eq!(
        complete(&["nethergaze", "--generate", "="]),
        ["man", "complete-bash", "complete-zsh", "complete-fish"]
    );
    assert_eq!(
        complete(&["nethergaze", "--log-path", "acc"]),
        ["access.log"]
    );
    assert_eq!(complete(&["nethergaze", "--for", ""]), Vec::<String>::new());
    assert!(complete(&["nethergaze", "-"]).contains(&"-V".to_string()));
}

#[test]
fn zsh_completion_parses() {
    if !have(&["zsh"]) {
        return;
    }
    let dir = harness::tempdir();
    let script = generate_to(dir.path(), "_nethergaze", "complete-zsh");
    quietly("zsh", &[&"-n", &script], &[]);
    let text = fs::read_to_string(&script).unwrap();
    assert!(text.starts_with("#compdef nethergaze\n"), "{text}");
}

#[test]
fn fish_completion_completes_flags_and_values() {
    if !have(&["fish"]) {
        return;
    }
    let dir = harness::tempdir();
    let script = generate_to(dir.path(), "nethergaze.fish", "complete-fish");
    quietly("fish", &[&"--no-execute", &script], &[]);
    fs::write(dir.path().join("access.log"), "").unwrap();
    let complete = |line: &str| -> Vec<String> {
        let program = format!("source '{}'; complete -C '{line}'", script.display());
        let mut cmd = Command::new(harness::bin("fish"));
        cmd.args(["--no-config", "-c", &program])
            .current_dir(dir.path());
        let out = run_cmd(cmd);
        assert!(out.status.success(), "{line}: {out:?}");
        // Each candidate is `word<TAB>description`.
        out.stdout
            .lines()
            .map(|l| l.split('\t').next().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(complete("nethergaze --lo"), ["--log-format", "--log-path"]);
    assert_eq!(
        complete("nethergaze --log-format "),
        ["auto", "combined", "common", "json", "vhost_combined"]
    );
    assert_eq!(complete("nethergaze --log-path acc"), ["access.log"]);
    assert_eq!(complete("nethergaze --for "), Vec::<String>::new());
}
