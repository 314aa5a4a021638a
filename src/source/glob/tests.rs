use super::*;
use std::os::unix::fs::symlink;

fn names(dirs: &[PathBuf], root: &Path) -> Vec<String> {
    let relative = |d: &PathBuf| d.strip_prefix(root).unwrap_or(d).display().to_string();
    dirs.iter().map(relative).collect()
}

fn parts(list: &[&str]) -> Vec<OsString> {
    list.iter().map(OsString::from).collect()
}

#[test]
fn a_directory_pattern_splits_at_its_first_wildcard() {
    let (base, rest) = split_dir_glob(Path::new("/var/log/nginx/*/logs"));
    assert_eq!(base, Path::new("/var/log/nginx"));
    assert_eq!(rest, parts(&["*", "logs"]));
    let (base, rest) = split_dir_glob(Path::new("/var/log/nginx"));
    assert_eq!(base, Path::new("/var/log/nginx"));
    assert!(rest.is_empty());
    let (base, rest) = split_dir_glob(Path::new("site-[ab]"));
    assert_eq!(base, Path::new(""));
    assert_eq!(rest, parts(&["site-[ab]"]));
}

#[test]
fn wildcards_in_directories_are_checked_per_component() {
    assert!(check_glob("/var/log/nginx/*/access.log").is_ok());
    assert!(check_glob("/a/[b]/x.log").is_ok());
    assert!(
        check_glob("/a/[b/c]/x.log").is_err(),
        "a class never spans a /"
    );
    assert!(check_glob("/a/[b/x.log").is_err());
    assert!(check_glob("/a/*/").is_err());
}

#[test]
fn expansion_matches_one_level_a_component_like_glob_glob() -> std::io::Result<()> {
    let root = tempfile::tempdir()?;
    let r = root.path();
    for dir in [
        "a.com",
        "b.com",
        ".hidden",
        "b.com/logs",
        "c.org/logs",
        "a.com/deep/x",
    ] {
        fs::create_dir_all(r.join(dir))?;
    }
    fs::write(r.join("file.com"), "")?; // a file is never a directory match
    let found = expand_dirs(r, &parts(&["*.com"]), false, MAX_GLOB_DIRS);
    assert_eq!(names(&found.leaves, r), ["a.com", "b.com"]);
    assert_eq!(names(&found.parents, r), [""]);
    assert!(!found.capped);

    let found = expand_dirs(r, &parts(&["*", "logs"]), false, MAX_GLOB_DIRS);
    assert_eq!(names(&found.leaves, r), ["b.com/logs", "c.org/logs"]);
    // Every directory a level ranges over is a parent, so a `logs` made
    // later in a.com is seen.
    assert_eq!(names(&found.parents, r), ["", "a.com", "b.com", "c.org"]);

    let found = expand_dirs(r, &parts(&[".*"]), false, MAX_GLOB_DIRS);
    assert_eq!(names(&found.leaves, r), [".hidden"]);

    // glob_has_file sees files below wildcard directories.
    let glob = |tail: &str| format!("{}/{tail}", r.display());
    assert!(!glob_has_file(&glob("*/logs/access.log")));
    fs::write(r.join("c.org/logs/access.log"), "x\n")?;
    assert!(glob_has_file(&glob("*/logs/access.log")));
    assert!(glob_has_file(&glob("*/*/acc*.log")));
    assert!(!glob_has_file(&glob("*.com/*/access.log")));
    Ok(())
}

#[test]
fn expansion_follows_directory_symlinks_only_when_asked() -> std::io::Result<()> {
    let root = tempfile::tempdir()?;
    let r = root.path();
    fs::create_dir_all(r.join("real"))?;
    symlink(r.join("real"), r.join("link"))?;
    let found = expand_dirs(r, &parts(&["*"]), false, MAX_GLOB_DIRS);
    assert_eq!(names(&found.leaves, r), ["real"]);
    let found = expand_dirs(r, &parts(&["*"]), true, MAX_GLOB_DIRS);
    assert_eq!(names(&found.leaves, r), ["link", "real"]);
    Ok(())
}

#[test]
fn expansion_keeps_at_most_cap_directories() -> std::io::Result<()> {
    let root = tempfile::tempdir()?;
    let r = root.path();
    for i in 0..10 {
        fs::create_dir_all(r.join(format!("d{i}/logs")))?;
    }
    let found = expand_dirs(r, &parts(&["*", "logs"]), false, 6);
    assert!(found.capped);
    assert!(found.parents.len() + found.leaves.len() <= 6, "{found:?}");
    let found = expand_dirs(r, &parts(&["*", "logs"]), false, 21);
    assert!(!found.capped);
    assert_eq!(found.leaves.len(), 10);
    Ok(())
}

/// `src/*.rs`-style relative patterns start in the working directory (the
/// package root under `cargo test`), their paths kept relative.
#[test]
fn a_relative_pattern_expands_from_the_working_directory() {
    let found = expand_dirs(Path::new(""), &parts(&["s?c"]), false, MAX_GLOB_DIRS);
    assert_eq!(found.leaves, [PathBuf::from("src")]);
    assert_eq!(found.parents, [PathBuf::new()]);
    assert!(glob_has_file("s*/source/glob.rs"));
}
