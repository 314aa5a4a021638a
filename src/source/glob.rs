//! Access-log globs: a literal directory and a file-name pattern of `*`,
//! `?` and `[...]`, matched the way a shell (fnmatch) would.

use std::path::Path;

/// Splits a glob into its literal directory and its file-name pattern.
/// `access.log` (no slash) is in `.`.
pub(crate) fn split_glob(glob: &str) -> (&str, &str) {
    match glob.rfind('/') {
        Some(0) => ("/", &glob[1..]),
        Some(i) => (&glob[..i], &glob[i + 1..]),
        None => (".", glob),
    }
}

pub(crate) fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// A glob is usable when it names files in one literal directory.
pub(crate) fn check_glob(glob: &str) -> Result<(), String> {
    if glob.is_empty() {
        return Err("empty glob".into());
    }
    if glob.contains('\0') {
        return Err(format!("`{}` contains a NUL byte", glob.escape_debug()));
    }
    let (dir, name) = split_glob(glob);
    if name.is_empty() {
        return Err(format!("`{glob}` names a directory, not files"));
    }
    if has_wildcard(dir) {
        return Err(format!(
            "`{glob}`: wildcards are allowed only in the file name; the directory `{dir}` must be literal"
        ));
    }
    if unclosed_bracket(name.as_bytes()) {
        return Err(format!("`{glob}`: unclosed `[`"));
    }
    Ok(())
}

fn unclosed_bracket(pat: &[u8]) -> bool {
    let mut i = 0;
    while i < pat.len() {
        if pat[i] == b'[' {
            match class_end(pat, i) {
                Some(end) => i = end,
                None => return true,
            }
        }
        i += 1;
    }
    false
}

/// Index of the `]` closing the class opened at `open`; a `]` right after
/// `[` or `[!` is a member, as in fnmatch.
fn class_end(pat: &[u8], open: usize) -> Option<usize> {
    let mut i = open + 1;
    if pat.get(i) == Some(&b'!') {
        i += 1;
    }
    if pat.get(i) == Some(&b']') {
        i += 1;
    }
    pat.get(i..)?.iter().position(|&b| b == b']').map(|p| i + p)
}

/// fnmatch-style match of a file name against a pattern of `*`, `?` and
/// `[...]` / `[!...]` classes; a leading `.` must be matched literally.
pub(crate) fn glob_matches(pat: &[u8], name: &[u8]) -> bool {
    if name.first() == Some(&b'.') && pat.first() != Some(&b'.') {
        return false;
    }
    // Classic single-backtrack matcher: on mismatch, let the last `*` eat one
    // more byte. Linear enough for file names, and never recursive.
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if let Some(next) = step(pat, p, name[n]) {
            p = next;
            n += 1;
        } else if pat.get(p) == Some(&b'*') {
            star = Some((p, n));
            p += 1;
        } else if let Some((sp, sn)) = star {
            p = sp + 1;
            n = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    pat[p.min(pat.len())..].iter().all(|&b| b == b'*')
}

/// If the pattern element at `p` matches byte `c`, the index after it.
fn step(pat: &[u8], p: usize, c: u8) -> Option<usize> {
    match *pat.get(p)? {
        b'*' => None,
        b'?' => Some(p + 1),
        b'[' => match class_end(pat, p) {
            Some(end) => class_has(&pat[p + 1..end], c).then_some(end + 1),
            None => (c == b'[').then_some(p + 1),
        },
        b => (b == c).then_some(p + 1),
    }
}

fn class_has(class: &[u8], c: u8) -> bool {
    let (negate, body) = match class.split_first() {
        Some((b'!', rest)) => (true, rest),
        _ => (false, class),
    };
    let mut i = 0;
    let mut hit = false;
    while i < body.len() {
        if i + 2 < body.len() && body[i + 1] == b'-' {
            hit |= (body[i]..=body[i + 2]).contains(&c);
            i += 3;
        } else {
            hit |= body[i] == c;
            i += 1;
        }
    }
    hit != negate
}

/// Whether the glob currently matches at least one regular file.
pub(crate) fn glob_has_file(glob: &str) -> bool {
    use std::os::unix::ffi::OsStrExt;
    if check_glob(glob).is_err() {
        return false;
    }
    let (dir, name) = split_glob(glob);
    if !has_wildcard(name) {
        return Path::new(glob).is_file();
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries
        .flatten()
        .any(|e| glob_matches(name.as_bytes(), e.file_name().as_bytes()) && e.path().is_file())
}
