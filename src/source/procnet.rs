//! The /proc fallback for sockets: `<root>/net/tcp` and `tcp6` read whole,
//! then parsed by [`parse_proc_net_tcp`].

use std::io;
use std::path::{Path, PathBuf};

use crate::parse::sockets::{parse_proc_net_tcp, Family, ProcStats, SocketEntry};
use crate::sys::file::{self, Links};

/// Outcome of one [`ProcNetReader::read`]: each file on its own, so a missing
/// `tcp6` (IPv6 disabled) does not hide the IPv4 table.
#[derive(Debug)]
pub(crate) struct ProcReadResult {
    pub(crate) v4: io::Result<ProcStats>,
    pub(crate) v6: io::Result<ProcStats>,
}

impl ProcReadResult {
    /// Lines and malformed lines over the files that could be read.
    pub(crate) fn stats(&self) -> ProcStats {
        let mut total = ProcStats::default();
        for stats in [&self.v4, &self.v6].into_iter().flatten() {
            total.add(*stats);
        }
        total
    }
}

/// Reads `<root>/net/tcp` and `<root>/net/tcp6` into one reused buffer.
///
/// The fallback when netlink sock_diag is refused, and what `--proc-root DIR`
/// reads (fixtures, a container's /proc).
#[derive(Debug)]
pub(crate) struct ProcNetReader {
    buf: Vec<u8>,
    root: PathBuf,
}

impl Default for ProcNetReader {
    fn default() -> Self {
        Self::new("/proc")
    }
}

impl ProcNetReader {
    /// Initial buffer size; /proc/net/tcp is 150 bytes a socket, so this holds
    /// a few hundred sockets before the buffer first grows.
    const INITIAL_BUF: usize = 64 << 10; // 64 KiB

    /// Largest table read: 150 bytes a socket, so about 450 000 sockets, far
    /// past a busy box's tens of thousands (a few MiB), and still a bound when
    /// `--proc-root` holds something else (a link to /dev/zero is refused as a
    /// device; a huge or endless file stops here).
    pub(crate) const MAX_TABLE: u64 = 64 << 20; // 64 MiB

    /// A reader of `<root>/net/tcp{,6}`; `root` is `/proc` on a live system.
    pub(crate) fn new(root: impl Into<PathBuf>) -> Self {
        ProcNetReader {
            buf: Vec::with_capacity(Self::INITIAL_BUF),
            root: root.into(),
        }
    }

    /// The directory standing for `/proc`.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// Read both tables, calling `out` for every socket. An error on one file
    /// (missing, unreadable) is returned for that file; the other is still read.
    pub(crate) fn read(&mut self, out: &mut impl FnMut(SocketEntry)) -> ProcReadResult {
        let v4 = self.read_one("net/tcp", Family::V4, out);
        let v6 = self.read_one("net/tcp6", Family::V6, out);
        ProcReadResult { v4, v6 }
    }

    fn read_one(
        &mut self,
        name: &str,
        family: Family,
        out: &mut impl FnMut(SocketEntry),
    ) -> io::Result<ProcStats> {
        // One open + whole read per table: the kernel builds the text as we read,
        // so reading it whole is the only consistent view it offers. Links are
        // followed (/proc/net is one); a FIFO or a device is refused unopened.
        let mut table = file::open_read(&self.root.join(name), Links::Follow)?;
        let read = file::read_capped(&mut table, Self::MAX_TABLE, &mut self.buf);
        if read.is_err() && self.buf.capacity() > Self::INITIAL_BUF {
            self.buf = Vec::with_capacity(Self::INITIAL_BUF); // don't keep a refused file's pages
        }
        read?;
        Ok(parse_proc_net_tcp(&self.buf, family, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/proc");

    #[test]
    fn reader_reads_both_fixture_files() {
        let mut reader = ProcNetReader::new(FIXTURE);
        let mut got = Vec::new();
        let result = reader.read(&mut |e| got.push(e));
        assert_eq!(result.v4.expect("tcp").lines, 11);
        assert_eq!(result.v6.expect("tcp6").lines, 7);
        assert_eq!(got.len(), 16);
        assert!(got
            .iter()
            .all(|e| !matches!(e.local.ip(), IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some())));
    }

    #[test]
    fn reader_missing_file_is_an_error_for_that_file_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("net")).expect("mkdir");
        std::fs::copy(format!("{FIXTURE}/net/tcp"), dir.path().join("net/tcp")).expect("copy");
        let mut reader = ProcNetReader::new(dir.path());
        let mut n = 0;
        let result = reader.read(&mut |_| n += 1);
        assert_eq!(result.v4.as_ref().map(|s| s.lines).ok(), Some(11));
        let err = result.v6.as_ref().expect_err("tcp6 is missing");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert_eq!(n, 10);
        assert_eq!(
            result.stats(),
            ProcStats {
                lines: 11,
                malformed: 1
            }
        );

        // No /proc at all: two errors, no panic, no sockets.
        let mut reader = ProcNetReader::new(dir.path().join("absent"));
        let result = reader.read(&mut |_| n += 1);
        assert!(result.v4.is_err() && result.v6.is_err());
        assert_eq!(n, 10);
    }

    /// What `--proc-root` may hold instead of a table: a FIFO (would block
    /// `open` for ever), a link to /dev/zero (endless), a file over the cap.
    /// Each is an error for that table, at once; the other table still reads.
    #[test]
    fn reader_refuses_special_and_oversized_tables() {
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path().join("net");
        std::fs::create_dir(&net).unwrap();
        crate::sys::file::mkfifo(&net.join("tcp"), 0o600).unwrap();
        std::os::unix::fs::symlink("/dev/zero", net.join("tcp6")).unwrap();
        let mut reader = ProcNetReader::new(dir.path());
        let result = reader.read(&mut |_| {});
        let v4 = result.v4.expect_err("a FIFO is refused").to_string();
        assert_eq!(v4, "not a regular file (a FIFO)");
        let v6 = result.v6.expect_err("a device is refused").to_string();
        assert_eq!(v6, "not a regular file (a device)");

        std::fs::remove_file(net.join("tcp")).unwrap();
        let big = std::fs::File::create(net.join("tcp")).unwrap();
        big.set_len(ProcNetReader::MAX_TABLE + 1).unwrap(); // sparse: costs no disk
        let result = reader.read(&mut |_| {});
        let v4 = result.v4.expect_err("over the cap").to_string();
        assert!(v4.contains("at most 64 MiB"), "{v4}");
        assert!(reader.buf.capacity() <= ProcNetReader::INITIAL_BUF);
    }

    #[test]
    fn reader_reads_live_proc() {
        // The live table exists on any Linux; its content is not ours to assert,
        // only that every line of it reads.
        let mut reader = ProcNetReader::default();
        let result = reader.read(&mut |_| {});
        assert_eq!(result.v4.expect("/proc/net/tcp").malformed, 0);
    }
}
