//! Opening the files we read and write when the path may hold something else:
//! a FIFO (`open` blocks until a writer comes, and SIGTERM with it), a device
//! (/dev/zero never ends; /dev/null must never be chmod'ed), a symbolic link
//! (we would write, or chmod, its target) or a file far larger than it should be.
//!
//! Every open is `O_NONBLOCK | O_NOCTTY` (std adds `O_CLOEXEC`), then `fstat`
//! on the fd decides: only a regular file passes. procfs and sysfs files are
//! regular files of size 0 that the kernel fills while they are read, so their
//! size bounds nothing: every whole-file read here takes a cap and fails beyond
//! it. Files we write never follow a symbolic link (`O_NOFOLLOW`), and only a
//! file we create gets a mode from us.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of every file we create: ours alone.
pub(crate) const PRIVATE_MODE: u32 = 0o600;

/// Whether the last component of a path may be a symbolic link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Links {
    /// Follow it: a file the operator names for us to read (`--config`,
    /// `/proc/net/tcp`, which is itself reached through the /proc/net link).
    Follow,
    /// Refuse it: a file we write, one only we should have put there, or a log
    /// a glob found (a link there is not the operator's choice).
    Refuse,
}

/// How often [`open_or_create_private`] retries when the file appears or
/// vanishes between its two opens (another instance, or someone racing us).
const RACE_RETRIES: usize = 3;

fn open_flags(links: Links) -> libc::c_int {
    let follow = match links {
        Links::Follow => 0,
        Links::Refuse => libc::O_NOFOLLOW,
    };
    libc::O_NONBLOCK | libc::O_NOCTTY | follow
}

/// Opens `path` read-only without blocking and checks it is a regular file.
pub(crate) fn open_read(path: &Path, links: Links) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(open_flags(links))
        .open(path)
        .map_err(|e| explain_loop(e, links))?;
    check_regular(&file)?;
    Ok(file)
}

/// Creates `path` as a new file, mode 0600 whatever the umask, for reading and
/// writing. Fails if anything is there already, a dangling link included
/// (`O_CREAT | O_EXCL` never follows one).
pub(crate) fn create_private(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(PRIVATE_MODE)
        .custom_flags(open_flags(Links::Refuse))
        .open(path)?;
    // Ours since a moment ago, so ours to chmod: a umask like 0277 would
    // otherwise leave us a file we cannot write.
    if file.metadata()?.permissions().mode() & 0o777 != PRIVATE_MODE {
        file.set_permissions(std::fs::Permissions::from_mode(PRIVATE_MODE))?;
    }
    Ok(file)
}

/// An existing regular file at `path` opened for reading and writing (its mode
/// untouched), or a new one made by [`create_private`]; `true` when created.
/// A symbolic link, device, FIFO, socket or folder is refused.
pub(crate) fn open_or_create_private(path: &Path) -> io::Result<(File, bool)> {
    let mut last = io::Error::from(io::ErrorKind::NotFound);
    for _ in 0..RACE_RETRIES {
        match create_private(path) {
            Ok(file) => return Ok((file, true)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(open_flags(Links::Refuse))
            .open(path);
        match opened {
            Ok(file) => {
                check_regular(&file)?;
                return Ok((file, false));
            }
            // Removed between the two opens: create it after all.
            Err(e) if e.kind() == io::ErrorKind::NotFound => last = e,
            Err(e) => return Err(explain_loop(e, Links::Refuse)),
        }
    }
    Err(last)
}

/// Reads the rest of `file` into `buf` (cleared first), failing with a message
/// naming `cap` when there is more than `cap` bytes. A regular file whose size
/// says it is over the cap is refused before any byte is read.
pub(crate) fn read_capped(file: &mut File, cap: u64, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    let size = file.metadata()?.len();
    if size > cap {
        return Err(too_large(cap, Some(size)));
    }
    buf.reserve(usize::try_from(size).unwrap_or(0));
    // One byte past the cap tells "exactly the cap" from "more".
    file.take(cap.saturating_add(1)).read_to_end(buf)?;
    if buf.len() as u64 > cap {
        buf.clear();
        return Err(too_large(cap, None));
    }
    Ok(())
}

/// The whole of a text file we read once ([`open_read`] + [`read_capped`]).
pub(crate) fn read_text(path: &Path, links: Links, cap: u64) -> io::Result<String> {
    let mut file = open_read(path, links)?;
    let mut buf = Vec::new();
    read_capped(&mut file, cap, &mut buf)?;
    String::from_utf8(buf).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// The folder's mode when every user may write in it (sticky or not): others
/// can then put files beside ours, and without the sticky bit replace ours.
pub(crate) fn world_writable(dir: &Path) -> io::Result<Option<u32>> {
    let mode = std::fs::metadata(dir)?.permissions().mode();
    Ok((mode & 0o002 != 0).then_some(mode & 0o7777))
}

/// Whether the file or folder belongs to the user we run as.
pub(crate) fn is_ours(meta: &Metadata) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    meta.uid() == unsafe { libc::geteuid() }
}

fn check_regular(file: &File) -> io::Result<()> {
    let meta = file.metadata()?;
    if meta.is_file() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            not_regular(&meta),
        ))
    }
}

/// `O_NOFOLLOW` on a link fails with ELOOP, whose text ("too many levels of
/// symbolic links") hides the reason.
fn explain_loop(e: io::Error, links: Links) -> io::Error {
    if links == Links::Refuse && e.raw_os_error() == Some(libc::ELOOP) {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "a symbolic link (not followed: it could point anywhere)",
        )
    } else {
        e
    }
}

fn too_large(cap: u64, size: Option<u64>) -> io::Error {
    let what = match size {
        Some(size) => format!("{} bytes", size),
        None => "endless or growing".into(),
    };
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("too large ({what}; at most {} is read)", size_text(cap)),
    )
}

/// A cap as people write it: `64 MiB`, `4 KiB`, `100 bytes`.
fn size_text(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// Why a path that exists is refused: it is not a regular file. Static, so
/// a source that stays refused does not allocate its message every tick.
pub(crate) fn not_regular(meta: &Metadata) -> &'static str {
    let ft = meta.file_type();
    if ft.is_dir() {
        "not a regular file (a directory)"
    } else if ft.is_fifo() {
        "not a regular file (a FIFO)"
    } else if ft.is_socket() {
        "not a regular file (a socket)"
    } else if ft.is_block_device() || ft.is_char_device() {
        "not a regular file (a device)"
    } else if ft.is_symlink() {
        "not a regular file (a symbolic link)"
    } else {
        "not a regular file"
    }
}

/// A node of /dev/null's device (1:3) at `path` (tests: a device in a
/// temporary folder, so no test ever risks the real one). Needs root.
#[cfg(test)]
pub(crate) fn mknod_null(path: &Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: `c` is a valid NUL-terminated path for the call's duration.
    if unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Make a FIFO at `path` (tests: a path that would block a plain `open`).
#[cfg(test)]
pub(crate) fn mkfifo(path: &Path, mode: libc::mode_t) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: `c` is a valid NUL-terminated path for the call's duration.
    if unsafe { libc::mkfifo(c.as_ptr(), mode) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mkfifo(path: &Path) {
        super::mkfifo(path, 0o600).unwrap();
    }

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        mkfifo(&fifo);
        for links in [Links::Follow, Links::Refuse] {
            let err = open_read(&fifo, links).unwrap_err();
            assert_eq!(err.to_string(), "not a regular file (a FIFO)");
        }
        let err = open_or_create_private(&fifo).unwrap_err();
        assert_eq!(err.to_string(), "not a regular file (a FIFO)");
    }

    /// A node of /dev/null's device (1:3) in a temporary folder, so no test
    /// ever risks the real one. Needs root (`None` without).
    fn mknod_null(path: &Path) -> Option<()> {
        super::mknod_null(path).ok()
    }

    #[test]
    fn devices_are_refused_and_keep_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        let null = dir.path().join("null");
        if mknod_null(&null).is_some() {
            std::fs::set_permissions(&null, std::fs::Permissions::from_mode(0o666)).unwrap();
            let err = open_or_create_private(&null).unwrap_err();
            assert_eq!(err.to_string(), "not a regular file (a device)");
            assert_eq!(mode(&null), 0o666);
        }
        let err = open_read(Path::new("/dev/zero"), Links::Follow).unwrap_err();
        assert_eq!(err.to_string(), "not a regular file (a device)");
    }

    #[test]
    fn links_are_followed_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "text").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(read_text(&link, Links::Follow, 10).unwrap(), "text");
        let err = read_text(&link, Links::Refuse, 10).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        let err = open_or_create_private(&link).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(mode(&target), 0o644, "the target keeps its mode");
        // A dangling link: its target is not created.
        let dangling = dir.path().join("dangling");
        let missing = dir.path().join("missing");
        std::os::unix::fs::symlink(&missing, &dangling).unwrap();
        assert!(open_or_create_private(&dangling).is_err());
        assert!(create_private(&dangling).is_err());
        assert!(!missing.exists());
    }

    #[test]
    fn created_files_are_0600_and_existing_ones_keep_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let (_, created) = open_or_create_private(&path).unwrap();
        assert!(created);
        assert_eq!(mode(&path), 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (_, created) = open_or_create_private(&path).unwrap();
        assert!(!created);
        assert_eq!(mode(&path), 0o644);
    }

    #[test]
    fn reads_stop_at_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![b'x'; 4096]).unwrap();
        assert_eq!(read_text(&path, Links::Follow, 4096).unwrap().len(), 4096);
        let err = read_text(&path, Links::Follow, 4095).unwrap_err();
        assert_eq!(
            err.to_string(),
            "too large (4096 bytes; at most 4095 bytes is read)"
        );
        // procfs: size 0, content made while read; the cap still holds.
        let mut file = open_read(Path::new("/proc/self/maps"), Links::Follow).unwrap();
        let mut buf = Vec::new();
        let err = read_capped(&mut file, 16, &mut buf).unwrap_err();
        assert!(err.to_string().contains("at most 16 bytes"), "{err}");
        assert!(buf.is_empty());
        let mut file = open_read(Path::new("/proc/self/stat"), Links::Follow).unwrap();
        read_capped(&mut file, 1 << 20, &mut buf).unwrap();
        assert!(!buf.is_empty());
    }

    #[test]
    fn world_writable_folders_are_named() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(world_writable(dir.path()).unwrap(), None);
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert_eq!(world_writable(dir.path()).unwrap(), Some(0o1777));
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(world_writable(dir.path()).unwrap(), Some(0o777));
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size_text(64 << 20), "64 MiB");
        assert_eq!(size_text(4 << 10), "4 KiB");
        assert_eq!(size_text(100), "100 bytes");
    }
}
