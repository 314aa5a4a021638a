//! nethergaze 0.2.0's data carried over: at the first start (our history
//! file or whois cache not there yet, 0.2.0's `history.db` or
//! `whois_cache.json` there) it is imported once and said in one line;
//! `--import-history PATH` does it on demand and exits. The reading itself,
//! and why 0.2.0's files are never written, is `store::import`.
//!
//! 0.2.0 kept both files in its cache folder, `~/.cache/nethergaze` (or its
//! `[cache] cache_dir`); our history lives in `$XDG_STATE_HOME`, so the two
//! meet only when the operator points `--history-db` (or
//! `$XDG_STATE_HOME`) there: history is then off with a message, and
//! 0.2.0's file is left as it was.

use std::path::{Path, PathBuf};

use super::whois::Whois;
use crate::config::Config;
use crate::parse::UnixTime;
use crate::store::import::{self, ImportError, Imported, HISTORY_FILE, WHOIS_FILE};
use crate::store::whois_cache::{self, WhoisCache};
use crate::store::History;

/// 0.2.0's files to import at this start, found before ours are opened.
#[derive(Debug, Default)]
pub(crate) struct Carry {
    history: Option<PathBuf>,
    whois: Option<PathBuf>,
    /// Our history file is 0.2.0's: why it is not used.
    pub(crate) clash: Option<String>,
}

/// The folders 0.2.0 may have used, for `config`.
fn old_folders(config: &Config) -> Vec<PathBuf> {
    import::old_folders(config.old_data_dir.as_deref(), config.cache_dir.as_deref())
}

/// The first of `folders` holding `name` as a file.
fn first_with(folders: &[PathBuf], name: &str) -> Option<PathBuf> {
    folders.iter().map(|d| d.join(name)).find(|p| p.is_file())
}

impl Carry {
    /// What to import at this start: a 0.2.0 file whose counterpart of
    /// ours does not exist yet.
    pub(crate) fn find(config: &Config) -> Carry {
        let folders = old_folders(config);
        let mut carry = Carry::default();
        if let (true, Some(ours)) = (config.history.enabled, config.history.db.as_deref()) {
            let mut old = folders.iter().map(|d| d.join(HISTORY_FILE));
            if let Some(old) = old.find(|old| old.is_file() && import::same_file(ours, old)) {
                carry.clash = Some(clash_message(&old));
            } else if !ours.exists() {
                carry.history = first_with(&folders, HISTORY_FILE);
            }
        }
        if let Some(dir) = config.cache_dir.as_deref() {
            if !dir.join(whois_cache::FILE_NAME).exists() {
                carry.whois = first_with(&folders, WHOIS_FILE);
            }
        }
        carry
    }

    /// Imports what [`Carry::find`] found into `history` and the whois
    /// cache (created for it if whois is off); the one line to say, if
    /// anything was there.
    pub(crate) fn run(
        self,
        history: Option<&mut History>,
        whois: &mut Whois,
        config: &Config,
        now: UnixTime,
    ) -> Option<String> {
        let mut said = Said::default();
        if let (Some(path), Some(history)) = (&self.history, history) {
            said.history(path, import::import_history(history, path, now));
        }
        if let Some(path) = &self.whois {
            match whois_cache(whois, config) {
                Ok(cache) => said.whois(path, import::import_whois(cache, path, now)),
                Err(why) => said.whois(path, Err(ImportError(why))),
            }
        }
        said.line(false)
    }
}

fn clash_message(old: &Path) -> String {
    format!(
        "history: {} is nethergaze 0.2.0's history file; not used, left as it is \
         (history is off): give --history-db another path, its data is imported there",
        old.display()
    )
}

/// The whois cache to import into: the engine's, or one made for it.
fn whois_cache<'a>(whois: &'a mut Whois, config: &Config) -> Result<&'a mut WhoisCache, String> {
    let slot = whois.cache_mut();
    if slot.is_none() {
        let Some(dir) = config.cache_dir.as_deref() else {
            return Err("no cache folder for the whois cache".into());
        };
        let opened = WhoisCache::open(dir, true);
        *slot = opened.cache;
        if slot.is_none() {
            return Err(opened.note.unwrap_or_else(|| "whois cache unusable".into()));
        }
    }
    slot.as_mut().ok_or_else(|| "whois cache unusable".into())
}

/// What the imports did, gathered into one line.
#[derive(Debug, Default)]
struct Said {
    done: Vec<String>,
    failed: Vec<String>,
}

impl Said {
    fn history(&mut self, path: &Path, result: Result<Imported, ImportError>) {
        self.add(path, result, "address", "addresses");
    }

    fn whois(&mut self, path: &Path, result: Result<Imported, ImportError>) {
        self.add(path, result, "whois answer", "whois answers");
    }

    fn add(&mut self, path: &Path, result: Result<Imported, ImportError>, one: &str, many: &str) {
        match result {
            Ok(Imported::Done {
                rows,
                skipped,
                truncated,
            }) => {
                let noun = if rows == 1 { one } else { many };
                let skipped = match skipped {
                    0 => String::new(),
                    1 => " (1 entry skipped: unusable, or a failed lookup)".into(),
                    n => format!(" ({n} entries skipped: unusable, or failed lookups)"),
                };
                let truncated = if truncated {
                    format!(" (the first {}: the rest left out)", import::MAX_ROWS)
                } else {
                    String::new()
                };
                self.done.push(format!(
                    "{rows} {noun} from {}{skipped}{truncated}",
                    path.display()
                ));
            }
            Ok(Imported::Already { at }) => self.done.push(format!(
                "{} was imported already ({}), not again",
                path.display(),
                crate::parse::time::format_rfc3339(at)
            )),
            Err(e) => self.failed.push(e.to_string()),
        }
    }

    /// The line (`None`: nothing was there). `on_demand` words a failure as
    /// the command's error rather than a start-up note.
    fn line(&self, on_demand: bool) -> Option<String> {
        let mut parts = Vec::new();
        if !self.done.is_empty() {
            parts.push(format!(
                "imported nethergaze 0.2.0's data: {}",
                self.done.join(", ")
            ));
        }
        if !self.failed.is_empty() {
            let retry = if on_demand {
                ""
            } else {
                " (fix it and run --import-history PATH)"
            };
            parts.push(format!(
                "nethergaze 0.2.0's data not imported: {}{retry}",
                self.failed.join("; ")
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// `--import-history PATH`: 0.2.0's history database, its whois cache, or
/// the folder holding them, imported into ours (each file once). `Ok` with
/// the line to say when everything found was imported (or had been);
/// `Err` with it when something could not be.
pub(crate) fn on_demand(config: &Config, path: &Path, now: UnixTime) -> Result<String, String> {
    let (history_file, whois_file) = if path.is_dir() {
        let in_dir = |name| Some(path.join(name)).filter(|p| p.is_file());
        (in_dir(HISTORY_FILE), in_dir(WHOIS_FILE))
    } else if !path.exists() {
        return Err(format!(
            "--import-history: {}: no such file",
            path.display()
        ));
    } else if import::is_sqlite(path) {
        (Some(path.to_path_buf()), None)
    } else {
        (None, Some(path.to_path_buf()))
    };
    if history_file.is_none() && whois_file.is_none() {
        return Err(format!(
            "--import-history: no {HISTORY_FILE} or {WHOIS_FILE} in {}",
            path.display()
        ));
    }
    let mut said = Said::default();
    if let Some(old) = &history_file {
        said.history(old, import_history_into_ours(config, old, now));
    }
    if let Some(old) = &whois_file {
        said.whois(old, import_whois_into_ours(config, old, now));
    }
    let line = said.line(true).unwrap_or_default();
    if said.failed.is_empty() {
        Ok(line)
    } else {
        Err(line)
    }
}

fn import_history_into_ours(
    config: &Config,
    old: &Path,
    now: UnixTime,
) -> Result<Imported, ImportError> {
    let refuse = |why: &str| Err(ImportError(format!("{}: {why}", old.display())));
    if !config.history.enabled {
        return refuse("history is off (--no-history): nowhere to import it");
    }
    let Some(ours) = config.history.db.as_deref() else {
        return refuse("no $XDG_STATE_HOME or $HOME for our history file (give --history-db)");
    };
    if import::same_file(ours, old) {
        return refuse("it is the history file named for us (--history-db): give another");
    }
    let mut history =
        History::open_without_session(ours, now).map_err(|e| ImportError(e.to_string()))?;
    import::import_history(&mut history, old, now)
}

fn import_whois_into_ours(
    config: &Config,
    old: &Path,
    now: UnixTime,
) -> Result<Imported, ImportError> {
    let fail = |why: String| ImportError(format!("{}: {why}", old.display()));
    let dir = config
        .cache_dir
        .as_deref()
        .ok_or_else(|| fail("no cache folder for our whois cache (set [cache] dir)".into()))?;
    let opened = WhoisCache::open(dir, true);
    let mut cache = opened
        .cache
        .ok_or_else(|| fail(opened.note.unwrap_or_default()))?;
    import::import_whois(&mut cache, old, now)
}
