//! Source health for the summary and the dashboard's sources panel: one
//! [`SourceReport`] per log, the journal, the sockets, GeoIP, history and
//! (while its worker runs) whois, last so the others keep their places.
//! The list is kept, not rebuilt: after each event that can change a source
//! the engine refreshes it in place (counters copied, strings rewritten into
//! their own buffers), so a frame only borrows a slice.
//!
//! A log source is either named by the user (a flag, the environment, the
//! config file) or one of the default candidates. A default that does not
//! exist is a note, not an error; any other error of a log source, and any
//! error of a named one, is a failure: [`Reports::failures`] counts them
//! for the exit status. An unreadable log's error names the fix.

use std::fmt::{self, Write as _};

use super::feed::Core;
use super::history::Keeper;
use super::sockets::{Dumps, SocketReader};
use super::whois::Whois;
use crate::config::Config;
use crate::enrich::geoip::GeoIp;
use crate::headless::SourceReport;
use crate::source::journal::Journal;
use crate::source::logset::SourceStats;
use crate::source::{LogKind, LogSet};

/// How `io::Error` shows ENOENT and EACCES: its text ends with the code.
const NOT_FOUND: &str = "(os error 2)";
const DENIED: &str = "(os error 13)";
/// A glob's placeholder when no file matches it (`source::logset`).
const NO_MATCH: &str = "no file matches";
/// A second name (a symlink, a hard link) of a file read under its first:
/// reported, but nothing went unread.
const SAME_FILE: &str = "same file as ";
/// Appended to a log's "permission denied": Debian and Ubuntu give the `adm`
/// group read access to /var/log/nginx, /var/log/apache2 and auth.log.
const DENIED_FIX: &str =
    " (run as root, or add the user to the adm group: sudo usermod -aG adm USER, then log in again)";

/// The engine's parts a report is read from.
pub(crate) struct Parts<'a> {
    pub(crate) logs: &'a LogSet,
    pub(crate) core: &'a Core,
    pub(crate) journal: Option<&'a Journal>,
    pub(crate) reader: &'a SocketReader,
    pub(crate) dumps: &'a Dumps,
    pub(crate) keeper: &'a Keeper,
    pub(crate) whois: &'a Whois,
}

pub(crate) struct Reports {
    list: Vec<SourceReport>,
    /// `log_format` as configured: `auto`, a name, or a custom format.
    format_spec: String,
    /// GeoIP's entry, rewritten only when its files are (re)opened.
    geoip: Option<SourceReport>,
    /// The user named the access logs / the sshd source (not defaults).
    access_named: bool,
    auth_named: bool,
    /// Log sources failing as of the last refresh (see the module's doc).
    failures: usize,
}

impl Reports {
    pub(crate) fn new(config: &Config) -> Reports {
        Reports {
            list: Vec::new(),
            format_spec: config.log_format.clone(),
            geoip: None,
            access_named: config.log_paths_named,
            auth_named: config.auth.named,
            failures: 0,
        }
    }

    /// Every source, in the summary's order.
    pub(crate) fn as_slice(&self) -> &[SourceReport] {
        &self.list
    }

    /// Log sources that could not be read: named ones with any error,
    /// default ones that exist but fail (journald picked by `auto` is not
    /// counted: it is a fallback, and as a non-root user it often reads
    /// nothing). The exit status is 1 when this is not 0.
    pub(crate) fn failures(&self) -> usize {
        self.failures
    }

    /// GeoIP was opened or its files were checked for replacement.
    pub(crate) fn note_geoip(&mut self, geoip: Option<&GeoIp>) {
        self.geoip = geoip.map(|geoip| SourceReport {
            path: geoip.describe(),
            kind: "geoip",
            format: "mmdb".into(),
            lines: 0,
            malformed: 0,
            error: None,
            note: geoip.note().map(str::to_string),
        });
    }

    /// Bring every entry up to date, in place.
    pub(crate) fn refresh(&mut self, parts: &Parts<'_>) {
        let mut at = 0;
        self.failures = 0;
        for (i, source) in parts.logs.sources().iter().enumerate() {
            let kind = source.kind.code();
            let report = entry(&mut self.list, &mut at, kind);
            let (format, named) = match source.kind {
                LogKind::Access => (
                    format_name(&self.format_spec, parts.core.format_seen(i)),
                    self.access_named,
                ),
                LogKind::Auth => (FormatName::Text("sshd"), self.auth_named),
            };
            log_source(report, source, format);
            explain(report, named);
            let unread = report
                .error
                .as_ref()
                .is_some_and(|e| !e.starts_with(SAME_FILE));
            self.failures += usize::from(unread);
        }
        if let Some(journal) = parts.journal {
            let report = entry(&mut self.list, &mut at, "auth");
            let stats = journal.stats();
            set(&mut report.path, format_args!("journald"));
            set(&mut report.format, format_args!("sshd"));
            report.lines = stats.lines;
            report.malformed = stats.malformed;
            report.error.clone_from(&stats.error);
            report.note = None;
            self.failures += usize::from(self.auth_named && report.error.is_some());
        }
        let report = entry(&mut self.list, &mut at, "sockets");
        parts.dumps.report(parts.reader, report);
        if let (Some(report), Some(geoip)) = (self.geoip.as_mut(), parts.core.geoip.as_ref()) {
            // A lookup may find a corrupt spot after the files opened: the
            // note follows (compared first, so nothing is allocated per event).
            if report.note.as_deref() != geoip.note() {
                report.note = geoip.note().map(str::to_string);
            }
        }
        if let Some(geoip) = &self.geoip {
            entry(&mut self.list, &mut at, "geoip").clone_from(geoip);
        }
        if let Some(path) = parts.keeper.path() {
            let report = entry(&mut self.list, &mut at, "history");
            if report.path.is_empty() {
                // The file never changes: its name is written once.
                report.path = path.display().to_string();
                report.format = "sqlite".into();
            }
            report.error.clone_from(parts.keeper.error());
        }
        if parts.whois.is_enabled() {
            let report = entry(&mut self.list, &mut at, "whois");
            parts.whois.report(report, parts.core.now);
        }
        self.list.truncate(at);
    }
}

/// The entry at `*at` (reused, or new), for a source of `kind`; `*at` moves on.
fn entry<'a>(
    list: &'a mut Vec<SourceReport>,
    at: &mut usize,
    kind: &'static str,
) -> &'a mut SourceReport {
    if *at == list.len() {
        list.push(blank(kind));
    }
    let report = &mut list[*at];
    *at += 1;
    reset_if_other(report, kind);
    report
}

/// An entry that held another kind of source starts over (an entry's
/// fixed text is written only when it is empty).
fn reset_if_other(report: &mut SourceReport, kind: &'static str) {
    if report.kind != kind {
        *report = blank(kind);
    }
}

fn blank(kind: &'static str) -> SourceReport {
    SourceReport {
        path: String::new(),
        kind,
        format: String::new(),
        lines: 0,
        malformed: 0,
        error: None,
        note: None,
    }
}

/// A log source's format as the summary names it.
enum FormatName<'a> {
    Text(&'a str),
    /// `auto`, with the format its lines were last seen in.
    Auto(&'a str),
}

/// The configured format, with the detected one for `auto`: `auto(combined)`.
fn format_name<'a>(spec: &'a str, seen: Option<&'static str>) -> FormatName<'a> {
    match seen {
        Some(seen) if spec == "auto" => FormatName::Auto(seen),
        _ if spec.contains('$') => FormatName::Text("custom"),
        _ => FormatName::Text(spec),
    }
}

fn log_source(report: &mut SourceReport, source: &SourceStats, format: FormatName<'_>) {
    set(&mut report.path, format_args!("{}", source.path.display()));
    match format {
        FormatName::Text(name) => set(&mut report.format, format_args!("{name}")),
        FormatName::Auto(seen) => set(&mut report.format, format_args!("auto({seen})")),
    }
    report.lines = source.lines;
    report.malformed = source.malformed;
    report.error.clone_from(&source.error);
    report.note.clone_from(&source.note);
}

/// A log source's error for the operator: a default location that does not
/// exist becomes a note (a Caddy-only box has no nginx log); "permission
/// denied" says how to get access. Rewrites in place, as `set` does.
fn explain(report: &mut SourceReport, named: bool) {
    let Some(error) = report.error.as_mut() else {
        return;
    };
    if !named && (error.ends_with(NOT_FOUND) || error == NO_MATCH) {
        let note = report.note.get_or_insert_with(String::new);
        set(
            note,
            format_args!(
                "{error}: a default location, not used (--log-path or --auth-log-path names a log)"
            ),
        );
        report.error = None;
    } else if error.ends_with(DENIED) {
        error.push_str(DENIED_FIX);
    }
}

/// Rewrite `text` in its own buffer (no allocation once it is large enough).
fn set(text: &mut String, args: fmt::Arguments<'_>) {
    text.clear();
    let _ = text.write_fmt(args);
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::path::Path;

    use super::*;
    use crate::config::{load_with, Invocation, Probe};
    use crate::engine::Engine;

    /// An engine over `args` where the default access log is `default_log`
    /// (nothing else of this machine is probed), logs read once.
    fn engine(args: &[&str], default_log: &Path) -> Engine {
        let env = |key: &str| (key == "HOME").then(|| "/nonexistent-nethergaze-home".to_string());
        let probe = Probe {
            log_candidates: vec![default_log.display().to_string()],
            auth_candidates: Vec::new(),
            system_config: std::path::PathBuf::new(),
        };
        let proc = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/proc");
        let base = [
            "nethergaze",
            "--once",
            "--no-geoip",
            "--no-whois",
            "--no-history",
            "--no-auth-log",
            "--proc-root",
            proc,
        ];
        let argv = base.iter().chain(args).map(OsString::from);
        let config = match load_with(argv, &env, &probe) {
            Ok(Invocation::Run(config)) => config,
            other => panic!("{args:?}: {other:?}"),
        };
        let mut engine = Engine::new(&config).expect("engine");
        engine.read_logs_now();
        engine
    }

    fn access(engine: &Engine) -> &SourceReport {
        let found = engine.source_reports().iter().find(|r| r.kind == "access");
        found.expect("an access source")
    }

    #[test]
    fn a_default_log_that_does_not_exist_is_a_note_not_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        for default in [
            dir.path().join("nginx/access.log"),
            dir.path().join("*.log"),
        ] {
            let engine = engine(&[], &default);
            let report = access(&engine);
            assert_eq!(report.error, None, "{default:?}: {report:?}");
            let note = report.note.as_deref().unwrap_or_default();
            assert!(note.contains("a default location, not used"), "{note}");
            assert_eq!(engine.source_failures(), 0);
        }
    }

    #[test]
    fn a_named_log_that_does_not_exist_is_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let named = dir.path().join("access.log");
        let named = named.to_str().unwrap();
        let engine = engine(&["--log-path", named], &dir.path().join("default.log"));
        let report = access(&engine);
        let error = report.error.as_deref().unwrap_or_default();
        assert!(error.ends_with(NOT_FOUND), "{report:?}");
        assert_eq!(report.note, None);
        assert_eq!(engine.source_failures(), 1);
        // A glob the user named that matches nothing fails too.
        let glob = format!("{}/*.log", dir.path().display());
        let engine = engine_for_glob(&glob, dir.path());
        assert_eq!(access(&engine).error.as_deref(), Some(NO_MATCH));
        assert_eq!(engine.source_failures(), 1);
    }

    fn engine_for_glob(glob: &str, dir: &Path) -> Engine {
        engine(&["--log-path", glob], &dir.join("default.log"))
    }

    #[test]
    fn a_default_log_that_exists_but_cannot_be_read_is_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the log should be: it exists, it is not readable as a log.
        let default = dir.path().join("access.log");
        std::fs::create_dir(&default).unwrap();
        let engine = engine(&[], &default);
        assert!(access(&engine).error.is_some(), "{:?}", access(&engine));
        assert_eq!(engine.source_failures(), 1);
    }

    #[test]
    fn a_second_name_of_a_file_read_is_reported_but_not_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("a.log");
        std::fs::write(&log, "").unwrap();
        std::os::unix::fs::symlink(&log, dir.path().join("b.log")).unwrap();
        let (a, b) = (log.to_str().unwrap(), dir.path().join("b.log"));
        let engine = engine(
            &["--log-path", a, "--log-path", b.to_str().unwrap()],
            &dir.path().join("default.log"),
        );
        let errors: Vec<_> = engine
            .source_reports()
            .iter()
            .filter_map(|r| r.error.as_deref())
            .collect();
        assert!(
            errors.iter().any(|e| e.starts_with(SAME_FILE)),
            "{errors:?}"
        );
        assert_eq!(engine.source_failures(), 0);
    }

    #[test]
    fn permission_denied_names_the_fix_once() {
        let mut report = blank("access");
        for _ in 0..3 {
            // Refreshed again and again: the hint is added to the fresh text only.
            report.error = Some("Permission denied (os error 13)".into());
            explain(&mut report, true);
        }
        let error = report.error.as_deref().unwrap_or_default();
        assert!(
            error.contains("adm group") && error.contains("run as root"),
            "{error}"
        );
        assert_eq!(error.matches("adm group").count(), 1, "{error}");
        // Unreadable is unreadable, default or named: still an error.
        report.error = Some("directory /var/log/nginx: Permission denied (os error 13)".into());
        explain(&mut report, false);
        assert!(report
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("adm group"));
    }
}
