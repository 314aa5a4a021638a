//! `tests/preflight.sh` (run by `make test` before the suite) says which tests will
//! skip here (issue 11, item 8). It reads the peers from the tests; this checks its
//! reading against one done here, so a peer added to a test is never left out.

use std::collections::BTreeSet;
use std::fs;
use std::process::Command;

use super::harness::{self, run_cmd};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// `(test, needs root, peers)` for every skipping call in tests/it, read here line
/// by line: the harness's skip with a list (root too), ship.rs's `have` with a
/// list, and the `skip_without_` helpers (the peer is in the name). The patterns
/// are spelled in pieces so this file does not match itself.
fn skipping_calls() -> BTreeSet<(String, bool, Vec<String>)> {
    let unless = concat!("skip_unless", "(&[");
    let have = concat!("have", "(&[");
    let without = concat!("skip_", "without_");
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut found = BTreeSet::new();
    for entry in fs::read_dir(format!("{ROOT}/tests/it")).unwrap() {
        let text = fs::read_to_string(entry.unwrap().path()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut test = String::new();
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i].trim_start();
            let def = ["fn ", "pub fn ", "pub(super) fn ", "pub(crate) fn "]
                .iter()
                .find_map(|p| line.strip_prefix(p));
            if let Some(def) = def {
                let name: String = def.chars().take_while(|&c| ident(c)).collect();
                if name != "skip_unless" && name != "have" && !name.starts_with(without) {
                    test = name;
                }
                i += 1;
                continue;
            }
            if let Some(at) = line.find(without) {
                let after = &line[at + without.len()..];
                let name: String = after.chars().take_while(|&c| ident(c)).collect();
                if after[name.len()..].starts_with("()") {
                    found.insert((test.clone(), false, vec![name.replace('_', "-")]));
                }
            }
            for (pattern, root) in [(unless, true), (have, false)] {
                let Some(at) = line.find(pattern) else {
                    continue;
                };
                if line[..at].chars().last().is_some_and(ident) && pattern == have {
                    continue;
                }
                let mut call = line[at + pattern.len()..].to_owned();
                while !call.contains(']') {
                    i += 1;
                    call.push_str(lines[i]);
                }
                let list = &call[..call.find(']').unwrap()];
                let peers = list.split('"').skip(1).step_by(2).map(str::to_owned);
                found.insert((test.clone(), root, peers.collect()));
            }
            i += 1;
        }
    }
    found
}

#[test]
fn preflight_lists_every_test_that_can_skip_and_its_peers() {
    let mut cmd = Command::new("sh");
    cmd.arg(format!("{ROOT}/tests/preflight.sh")).arg("--list");
    let out = run_cmd(cmd);
    assert!(out.status.success(), "{out:?}");
    let listed: BTreeSet<(String, bool, Vec<String>)> = out
        .stdout
        .lines()
        .map(|line| {
            let mut cols = line.split('\t');
            let test = cols.next().unwrap().to_owned();
            let root = cols.next() == Some("root");
            let peers = cols
                .next()
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_owned);
            (test, root, peers.collect())
        })
        .collect();
    let want = skipping_calls();
    assert!(
        want.len() >= 10,
        "only {} skipping calls found: {want:?}",
        want.len()
    );
    assert_eq!(listed, want);
}

/// Run as `nobody`, it names the tests that need root; it never fails the build.
#[test]
fn preflight_says_which_tests_skip_without_root() {
    if harness::skip_unless(&["setpriv"]) {
        return;
    }
    let mut cmd = Command::new(harness::bin("setpriv"));
    cmd.args([
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        "--",
        "sh",
    ])
    .arg(format!("{ROOT}/tests/preflight.sh"))
    .env("CI", "true");
    let out = run_cmd(cmd);
    assert!(out.status.success(), "{out:?}");
    for (test, root, _) in skipping_calls().iter().filter(|c| c.1) {
        assert!(*root);
        assert!(
            out.stdout.contains(&format!("  {test} (not root")),
            "{test}: {out:?}"
        );
    }
    assert!(
        out.stdout
            .contains("CI=true: each of these skips is a test FAILURE"),
        "{out:?}"
    );
}
