//! Log globs: a directory and a file-name pattern of `*`, `?` and `[...]`,
//! matched the way a shell (fnmatch) or Python's `glob.glob` would. The
//! directory may hold wildcards too (`/var/log/nginx/*/access.log`): each
//! component matches one directory level, never across a `/`.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

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

/// A glob is usable when it names files and every `[` is closed.
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
    let parts = dir.split('/').chain([name]);
    if parts
        .into_iter()
        .any(|part| unclosed_bracket(part.as_bytes()))
    {
        return Err(format!("`{glob}`: unclosed `[`"));
    }
    Ok(())
}

/// Splits a directory pattern at its first wildcard component: the literal
/// directory above it, and the components from there on (empty when the
/// directory is literal).
pub(crate) fn split_dir_glob(dir: &Path) -> (PathBuf, Vec<OsString>) {
    let mut base = PathBuf::new();
    let mut parts = Vec::new();
    for part in dir.iter() {
        if parts.is_empty() && !has_wildcard(&part.to_string_lossy()) {
            base.push(part);
        } else {
            parts.push(part.to_os_string());
        }
    }
    (base, parts)
}

/// The directories a directory pattern reaches now, from [`expand_dirs`].
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct DirExpansion {
    /// Directories whose entries a component ranges over: watched, so a
    /// directory created later that matches is found.
    pub(crate) parents: Vec<PathBuf>,
    /// The directories the whole pattern matches, sorted: the file-name
    /// pattern is matched in each.
    pub(crate) leaves: Vec<PathBuf>,
    /// `cap` was reached: directories beyond it were left out.
    pub(crate) capped: bool,
}

/// Walks `parts` (from [`split_dir_glob`]) down from `base`, one level a
/// component, keeping at most `cap` directories (parents and leaves
/// together). Hidden directories match only a component starting with
/// `.`; symlinks to directories are followed only with `follow_symlinks`.
pub(crate) fn expand_dirs(
    base: &Path,
    parts: &[OsString],
    follow_symlinks: bool,
    cap: usize,
) -> DirExpansion {
    let mut found = DirExpansion::default();
    let mut level = vec![base.to_path_buf()];
    for part in parts {
        let mut next = Vec::new();
        for dir in &level {
            if found.parents.len() + next.len() >= cap {
                found.capped = true;
                break;
            }
            found.parents.push(dir.clone());
            let room = cap - found.parents.len() - next.len();
            found.capped |= children(dir, part, follow_symlinks, room, &mut next);
        }
        next.sort();
        level = next;
    }
    found.leaves = level;
    found
}

/// Appends the directories in `dir` that `part` names (at most `room`);
/// true when some were left out for want of room.
fn children(
    dir: &Path,
    part: &OsStr,
    follow_symlinks: bool,
    room: usize,
    out: &mut Vec<PathBuf>,
) -> bool {
    let is_dir = |path: &Path| match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => follow_symlinks && path.is_dir(),
        Ok(m) => m.is_dir(),
        Err(_) => false,
    };
    if !has_wildcard(&part.to_string_lossy()) {
        let path = dir.join(part);
        if !is_dir(&path) {
            return false;
        }
        if room == 0 {
            return true;
        }
        out.push(path);
        return false;
    }
    // A relative pattern's top level is the working directory, named "".
    let listed = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = fs::read_dir(listed) else {
        return false;
    };
    let mut added = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !glob_matches(part.as_bytes(), name.as_bytes()) || !is_dir(&dir.join(&name)) {
            continue;
        }
        if added == room {
            return true;
        }
        out.push(dir.join(name));
        added += 1;
    }
    false
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
    if check_glob(glob).is_err() {
        return false;
    }
    let (dir, name) = split_glob(glob);
    let (base, parts) = split_dir_glob(Path::new(dir));
    if parts.is_empty() && !has_wildcard(name) {
        return Path::new(glob).is_file();
    }
    let dirs = expand_dirs(&base, &parts, true, MAX_GLOB_DIRS).leaves;
    dirs.iter().any(|dir| {
        let Ok(entries) = fs::read_dir(dir) else {
            return false;
        };
        entries
            .flatten()
            .any(|e| glob_matches(name.as_bytes(), e.file_name().as_bytes()) && e.path().is_file())
    })
}

/// The most directories one pattern with wildcard directories is followed
/// in (parents watched for new directories and the directories matched,
/// together): each costs two inotify watches, and the kernel's
/// `max_user_watches` is shared by every program of the user.
pub(crate) const MAX_GLOB_DIRS: usize = 256;

#[cfg(test)]
mod tests;
