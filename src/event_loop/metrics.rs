//! `--metrics-file`: the Prometheus textfile, replaced on its own timer
//! (`[refresh] metrics_interval`) and once more at the end of the run.
//!
//! Each write goes to a temporary file beside the target, then is renamed
//! over it: node-exporter's textfile collector never reads half a file. The
//! temporary name starts with a dot and does not end in `.prom`, so the
//! collector skips it. A failed write is reported once (until a write
//! succeeds again) and never stops the loop.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::engine::Engine;
use crate::sys::timerfd::TimerFd;
use crate::view::metrics::{render, Snapshot};

/// The metrics file, its timer and its reused buffer.
pub(crate) struct MetricsFile {
    path: PathBuf,
    /// `.NAME.tmp.PID` in the same directory (a rename never crosses
    /// file systems).
    tmp: PathBuf,
    pub(super) timer: TimerFd,
    text: Vec<u8>,
    /// The last write failed (and was reported).
    failing: bool,
}

impl MetricsFile {
    /// Written to `path` every `interval`, first one interval from now.
    pub(crate) fn new(path: PathBuf, interval: Duration) -> io::Result<MetricsFile> {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = path.with_file_name(format!(".{name}.tmp.{}", std::process::id()));
        Ok(MetricsFile {
            path,
            tmp,
            timer: TimerFd::periodic(interval)?,
            text: Vec::with_capacity(4096),
            failing: false,
        })
    }

    /// Writes the engine's numbers now. Returns what to tell the operator:
    /// the error of the first failing write after a good one, else `None`.
    pub(crate) fn write(&mut self, engine: &Engine) -> Option<String> {
        self.write_snapshot(&Snapshot {
            table: engine.table(),
            detector: engine.detector(),
            sources: engine.source_reports(),
        })
    }

    fn write_snapshot(&mut self, snapshot: &Snapshot<'_>) -> Option<String> {
        let written = render(&mut self.text, snapshot)
            .and_then(|()| replace(&self.path, &self.tmp, &self.text));
        match written {
            Ok(()) => {
                self.failing = false;
                None
            }
            Err(_) if self.failing => None,
            Err(e) => {
                self.failing = true;
                Some(format!(
                    "cannot write the metrics file {}: {e} (retrying every interval)",
                    self.path.display()
                ))
            }
        }
    }
}

/// Writes `text` to `tmp` and renames it over `path`. `tmp` is not followed
/// if it is a symlink (someone else's file is never truncated), and is
/// removed if anything fails.
fn replace(path: &Path, tmp: &Path, text: &[u8]) -> io::Result<()> {
    let written = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644) // node-exporter runs as its own user
        .custom_flags(libc::O_NOFOLLOW)
        .open(tmp)
        .and_then(|mut file| file.write_all(text))
        .and_then(|()| fs::rename(tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{DetectSettings, Detector};
    use crate::table::IpTable;

    fn write(file: &mut MetricsFile) -> Option<String> {
        let table = IpTable::new(10, false);
        let detector = Detector::new(DetectSettings::default()).unwrap();
        file.write_snapshot(&Snapshot {
            table: &table,
            detector: &detector,
            sources: &[],
        })
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_file_is_replaced_whole_and_no_temporary_file_stays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nethergaze.prom");
        fs::write(&path, "old").unwrap();
        let mut file = MetricsFile::new(path.clone(), Duration::from_secs(3600)).unwrap();
        assert_eq!(write(&mut file), None);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# HELP nethergaze_build_info"), "{text}");
        assert!(text.contains("\nnethergaze_requests_total 0\n"), "{text}");
        assert_eq!(names(dir.path()), ["nethergaze.prom"]);
    }

    #[test]
    fn a_failing_write_is_reported_once_until_one_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("textfile");
        let path = sub.join("nethergaze.prom");
        let mut file = MetricsFile::new(path.clone(), Duration::from_secs(3600)).unwrap();
        let first = write(&mut file).expect("the missing directory is reported");
        assert!(first.contains(&path.display().to_string()), "{first}");
        assert_eq!(write(&mut file), None, "reported once");
        fs::create_dir(&sub).unwrap();
        assert_eq!(write(&mut file), None);
        assert!(path.exists());
        fs::remove_dir_all(&sub).unwrap();
        assert!(
            write(&mut file).is_some(),
            "a new failure is reported again"
        );
    }

    #[test]
    fn a_symlink_at_the_temporary_name_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let path = dir.path().join("n.prom");
        let mut file = MetricsFile::new(path.clone(), Duration::from_secs(3600)).unwrap();
        std::os::unix::fs::symlink(&victim, &file.tmp).unwrap();
        assert!(write(&mut file).is_some());
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        assert!(!path.exists());
    }
}
