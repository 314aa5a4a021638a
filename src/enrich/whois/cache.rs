//! The fetched IANA bootstrap kept on disk, so a restart within a week asks IANA
//! nothing: `<cache dir>/rdap-bootstrap.json` (folder 0700, file 0600), written whole
//! to a temporary file and renamed, so a reader (or a second instance) never sees half
//! a file. Read and written on the worker thread only.
//!
//! The copy decides which servers are asked about every address, so only a
//! file we could have written counts: a regular file (not a link) owned by the
//! user we run as, in a folder not every user may write in. Anything else is
//! ignored (and never written over): it costs one fetch from IANA.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::parse::UnixTime;
use crate::sys::file::{self, Links};

/// The file's name inside the cache folder.
pub(crate) const FILE_NAME: &str = "rdap-bootstrap.json";

/// A stored copy older than this is fetched again (RFC 9224 files change rarely).
pub(crate) const MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Largest cache file read, in bytes: IANA's two files are about 10 KiB together.
const MAX_FILE: u64 = 4 << 20; // 4 MiB

/// The bootstrap files as fetched, with where and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredBootstrap {
    /// The `rdap_bootstrap_url` they came from: a copy from another URL is not used.
    pub(crate) url: String,
    /// When they were fetched.
    pub(crate) fetched_at: UnixTime,
    /// `ipv4.json`'s body, `None` when that file was unusable.
    pub(crate) ipv4: Option<String>,
    /// `ipv6.json`'s body, `None` when that file was unusable.
    pub(crate) ipv6: Option<String>,
}

impl StoredBootstrap {
    /// How much longer this copy is fresh at `now`; `None` once it is [`MAX_AGE`] old,
    /// or when it claims to come from the future (a clock set back: fetch again).
    pub(crate) fn fresh_for(&self, now: UnixTime) -> Option<Duration> {
        let age = u64::try_from(now.checked_sub(self.fetched_at)?).ok()?;
        MAX_AGE
            .checked_sub(Duration::from_secs(age))
            .filter(|d| !d.is_zero())
    }
}

/// The copy stored in `dir` for `url`, if there is a readable one that is still fresh
/// at `now`. Any fault (no file, unreadable, malformed, stale, other URL) is `None`:
/// the caller fetches a new copy.
pub(crate) fn load(dir: &Path, url: &str, now: UnixTime) -> Option<StoredBootstrap> {
    if !is_private(dir) {
        return None;
    }
    let mut stored = file::open_read(&dir.join(FILE_NAME), Links::Refuse).ok()?;
    if !file::is_ours(&stored.metadata().ok()?) {
        return None;
    }
    let mut text = Vec::new();
    file::read_capped(&mut stored, MAX_FILE, &mut text).ok()?;
    let stored: StoredBootstrap = serde_json::from_slice(&text).ok()?;
    (stored.url == url && stored.fresh_for(now).is_some()).then_some(stored)
}

/// Writes `stored` into `dir`, creating the folder (0700) if needed; the file is 0600.
pub(crate) fn save(dir: &Path, stored: &StoredBootstrap) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    if !is_private(dir) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "every user may write in the cache folder",
        ));
    }
    let text = serde_json::to_vec(stored).map_err(io::Error::other)?;
    let tmp = temp_path(dir);
    let written = write_new(&tmp, &text).and_then(|()| fs::rename(&tmp, dir.join(FILE_NAME)));
    if written.is_err() {
        let _ = fs::remove_file(&tmp); // best effort: don't leave litter behind
    }
    written
}

/// A name no other instance uses at the same moment.
fn temp_path(dir: &Path) -> PathBuf {
    dir.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()))
}

fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let _ = fs::remove_file(path); // a leftover from a crashed run with our pid
    let mut file = file::create_private(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Whether `dir` is a folder only trusted users may write in (not one every
/// user may, sticky or not: there another user could leave the file first).
fn is_private(dir: &Path) -> bool {
    matches!(file::world_writable(dir), Ok(None))
}
