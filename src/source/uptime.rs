//! The system's uptime for the header (did the box just reboot?), from
//! `/proc/uptime` (under `--proc-root` when given), read on each tick.

use std::fs::File;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use crate::parse::UnixTime;

/// When the system booted, as of the last reading.
pub(crate) struct Uptime {
    path: PathBuf,
    /// Kept open: a tick rereads it without a path lookup or an allocation.
    file: Option<File>,
    booted: Option<UnixTime>,
}

impl Uptime {
    /// `/proc/uptime`, or `uptime` under `proc_root`; nothing is read yet.
    pub(crate) fn open(proc_root: Option<&Path>) -> Uptime {
        let path = proc_root.unwrap_or(Path::new("/proc")).join("uptime");
        Uptime {
            path,
            file: None,
            booted: None,
        }
    }

    /// Read the uptime again and derive the boot time from `now`. A file
    /// that cannot be read leaves the uptime unknown (the header says so).
    pub(crate) fn on_tick(&mut self, now: UnixTime) {
        if self.file.is_none() {
            self.file = File::open(&self.path).ok();
        }
        let secs = self.file.as_mut().and_then(read_seconds);
        if secs.is_none() {
            self.file = None;
        }
        self.booted = secs.map(|s| now - s);
    }

    /// When the system booted (`None` until read, or when unreadable).
    pub(crate) fn booted(&self) -> Option<UnixTime> {
        self.booted
    }
}

/// Whole seconds of the first field of `/proc/uptime` (`350735.47 234388.90`).
fn read_seconds(file: &mut File) -> Option<UnixTime> {
    file.rewind().ok()?;
    let mut buf = [0u8; 64];
    let n = file.read(&mut buf).ok()?;
    parse_seconds(&buf[..n])
}

fn parse_seconds(text: &[u8]) -> Option<UnixTime> {
    let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || !matches!(text.get(digits), Some(b'.' | b' ' | b'\n')) {
        return None;
    }
    std::str::from_utf8(&text[..digits]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_first_field_in_whole_seconds() {
        assert_eq!(parse_seconds(b"350735.47 234388.90\n"), Some(350_735));
        assert_eq!(parse_seconds(b"12 3\n"), Some(12));
        assert_eq!(parse_seconds(b""), None);
        assert_eq!(parse_seconds(b"x1.0 2.0\n"), None);
        assert_eq!(parse_seconds(b"12x 2.0\n"), None);
    }

    #[test]
    fn boot_time_follows_the_file_under_proc_root() {
        let dir = tempfile::tempdir().unwrap();
        let mut up = Uptime::open(Some(dir.path()));
        up.on_tick(1_000_000);
        assert_eq!(up.booted(), None, "no file: unknown");
        std::fs::write(dir.path().join("uptime"), "100.99 5.00\n").unwrap();
        up.on_tick(1_000_000);
        assert_eq!(up.booted(), Some(999_900));
        // Rewritten in place (as the kernel's file reads anew each time).
        std::fs::write(dir.path().join("uptime"), "160.10 5.00\n").unwrap();
        up.on_tick(1_000_060);
        assert_eq!(up.booted(), Some(999_900));
    }
}
