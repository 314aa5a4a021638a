//! The config file: its serde shape (every table denies unknown keys) and
//! its conversion into a validated `Layer`, with errors that name the key
//! and its line.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::parse::UnixTime;
use crate::sys::file::{read_text, Links};

use super::limits::{self, Limit};
use super::{
    check_glob, check_regex, parse_auth_source, parse_cidr, parse_interval, parse_log_format,
    parse_url, AuthChoice, ConfigError, Hook, Layer, DEFAULT_HOOK_TIMEOUT,
};

/// The config file as written. Every table denies unknown keys.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct FileRoot {
    log_path: Option<Spanned<toml::Value>>,
    log_format: Option<Spanned<String>>,
    interface: Option<String>,
    show_private_ips: Option<bool>,
    trusted_proxies: Option<Vec<Spanned<String>>>,
    max_tracked_ips: Option<Spanned<i64>>,
    log: LogSection,
    refresh: RefreshSection,
    geoip: GeoipSection,
    whois: WhoisSection,
    auth: AuthSection,
    cache: CacheSection,
    filters: FiltersSection,
    actions: ActionsSection,
    history: HistorySection,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct LogSection {
    path: Option<Spanned<toml::Value>>,
    format: Option<Spanned<String>>,
    max_log_lines: Option<Spanned<i64>>,
    max_log_entries_per_ip: Option<Spanned<i64>>,
    follow_symlinks: Option<bool>,
}

/// Only `connections_interval` still matters: logs are followed through
/// inotify and bandwidth is read at each tick. The others are accepted so
/// 0.2.0 files keep loading.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RefreshSection {
    connections_interval: Option<Spanned<f64>>,
    log_interval: Option<Spanned<f64>>,
    bandwidth_interval: Option<Spanned<f64>>,
    auth_log_interval: Option<Spanned<f64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct GeoipSection {
    enabled: Option<bool>,
    city_db: Option<PathBuf>,
    asn_db: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct WhoisSection {
    enabled: Option<bool>,
    cache_ttl: Option<Spanned<i64>>,
    max_workers: Option<Spanned<i64>>,
    rdap_bootstrap_url: Option<Spanned<String>>,
    whois_server: Option<Spanned<String>>,
}

/// 0.2.0's code read `log_path`, `log_enabled`, `log_interval` here while its
/// README documented `path`, `enabled`, `interval`: both spellings work.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct AuthSection {
    path: Option<PathBuf>,
    log_path: Option<PathBuf>,
    enabled: Option<bool>,
    log_enabled: Option<bool>,
    interval: Option<Spanned<f64>>,
    log_interval: Option<Spanned<f64>>,
    source: Option<Spanned<String>>,
    journal_directory: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct CacheSection {
    dir: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct FiltersSection {
    cidr_allow: Option<Vec<Spanned<String>>>,
    cidr_deny: Option<Vec<Spanned<String>>>,
    suspicious_burst_rpm: Option<Spanned<f64>>,
    reason_ttl: Option<Spanned<i64>>,
    suspicious_min_conns: Option<Spanned<i64>>,
    suspicious_min_auth_failures: Option<Spanned<i64>>,
    scanner_user_agents: Option<Vec<Spanned<String>>>,
    static_extensions: Option<Vec<Spanned<String>>>,
    exploit_path_patterns: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct ActionsSection {
    enable_block_execution: Option<bool>,
    hooks: Option<Vec<HookEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HookEntry {
    key: Spanned<toml::Value>,
    label: Option<String>,
    command: Spanned<String>,
    timeout: Option<Spanned<f64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct HistorySection {
    enabled: Option<bool>,
    db: Option<PathBuf>,
}

/// The file's text and path, to turn byte spans into line numbers.
struct FileCtx<'a> {
    path: &'a Path,
    src: &'a str,
}

impl FileCtx<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.src.len());
        self.src.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn err(&self, span: Option<Range<usize>>, msg: String) -> ConfigError {
        ConfigError::File {
            path: self.path.to_path_buf(),
            line: span.map(|s| self.line_of(s.start)),
            msg,
        }
    }

    /// Validates one spanned value; the error names `key` and the value's line.
    fn check<S, T>(
        &self,
        key: &str,
        value: &Spanned<S>,
        f: impl FnOnce(&S) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        f(value.get_ref()).map_err(|m| self.err(Some(value.span()), format!("{key}: {m}")))
    }

    fn opt<S, T>(
        &self,
        key: &str,
        value: &Option<Spanned<S>>,
        f: impl FnOnce(&S) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        value.as_ref().map(|v| self.check(key, v, f)).transpose()
    }

    /// A whole number checked against its row of [`limits`].
    fn count(
        &self,
        limit: &Limit,
        value: &Option<Spanned<i64>>,
    ) -> Result<Option<usize>, ConfigError> {
        self.opt(limit.name, value, |&n| limit.count(n))
    }

    /// A number checked against its row of [`limits`].
    fn number(
        &self,
        limit: &Limit,
        value: &Option<Spanned<f64>>,
    ) -> Result<Option<f64>, ConfigError> {
        self.opt(limit.name, value, |&x| limit.number(x))
    }

    fn list<S, T>(
        &self,
        key: &str,
        values: &Option<Vec<Spanned<S>>>,
        f: impl Fn(&S) -> Result<T, String>,
    ) -> Result<Option<Vec<T>>, ConfigError> {
        values
            .as_ref()
            .map(|vs| vs.iter().map(|v| self.check(key, v, &f)).collect())
            .transpose()
    }
}

/// Largest config file read: a generous config with many hooks and patterns is
/// a few KiB; anything near this is not a config (or is /dev/zero).
const MAX_CONFIG_FILE: u64 = 1 << 20; // 1 MiB

pub(super) fn read_file_layer(path: &Path) -> Result<Layer, ConfigError> {
    // Links followed: configs are often links into a managed tree. A FIFO or a
    // device is refused at once rather than blocking or reading forever.
    let src = read_text(path, Links::Follow, MAX_CONFIG_FILE).map_err(|e| ConfigError::File {
        path: path.to_path_buf(),
        line: None,
        msg: format!("cannot read: {e}"),
    })?;
    parse_file(path, &src)
}

/// Parses and validates a config file's text (`path` is for messages).
fn parse_file(path: &Path, src: &str) -> Result<Layer, ConfigError> {
    let ctx = FileCtx { path, src };
    let root: FileRoot = toml::from_str(src).map_err(|e| toml_error(&ctx, &e))?;
    let mut layer = Layer {
        interface: root.interface.clone(),
        show_private_ips: root.show_private_ips,
        trusted_proxies: ctx.list("trusted_proxies", &root.trusted_proxies, |s| parse_cidr(s))?,
        max_tracked_ips: ctx.count(&limits::MAX_TRACKED_IPS, &root.max_tracked_ips)?,
        ..Layer::default()
    };
    file_log(&ctx, &root, &mut layer)?;
    file_sources(&ctx, &root, &mut layer)?;
    file_filters(&ctx, &root.filters, &mut layer)?;
    file_enrichment(&ctx, &root, &mut layer)?;
    layer.enable_block_execution = root.actions.enable_block_execution;
    if let Some(hooks) = &root.actions.hooks {
        layer.hooks = Some(file_hooks(&ctx, hooks)?);
    }
    Ok(layer)
}

/// Flat `log_path` / `log_format` (0.2.0) and `[log]`; the section wins, as in 0.2.0.
fn file_log(ctx: &FileCtx, root: &FileRoot, layer: &mut Layer) -> Result<(), ConfigError> {
    let log = &root.log;
    let flat_paths = ctx.opt("log_path", &root.log_path, globs_value)?;
    layer.log_paths = ctx
        .opt("[log] path", &log.path, globs_value)?
        .or(flat_paths);
    let flat_format = ctx.opt("log_format", &root.log_format, |s| parse_log_format(s))?;
    layer.log_format = ctx
        .opt("[log] format", &log.format, |s| parse_log_format(s))?
        .or(flat_format);
    layer.max_log_lines = ctx.count(&limits::MAX_LOG_LINES, &log.max_log_lines)?;
    layer.max_log_entries_per_ip =
        ctx.count(&limits::MAX_LOG_ENTRIES_PER_IP, &log.max_log_entries_per_ip)?;
    layer.follow_symlinks = log.follow_symlinks;
    Ok(())
}

/// `[refresh]` and `[auth]`.
fn file_sources(ctx: &FileCtx, root: &FileRoot, layer: &mut Layer) -> Result<(), ConfigError> {
    let r = &root.refresh;
    layer.connections_interval = ctx.opt(
        limits::CONNECTIONS_INTERVAL.name,
        &r.connections_interval,
        |&s| parse_interval(s),
    )?;
    // Ignored, but still checked: a value out of range is a typo.
    ctx.number(&limits::LOG_INTERVAL, &r.log_interval)?;
    ctx.number(&limits::BANDWIDTH_INTERVAL, &r.bandwidth_interval)?;
    ctx.number(&limits::AUTH_LOG_INTERVAL, &r.auth_log_interval)?;

    let a = &root.auth;
    ctx.number(&limits::AUTH_INTERVAL, &a.interval)?;
    ctx.number(&limits::AUTH_LOG_INTERVAL_ALIAS, &a.log_interval)?;
    let twice = |a: &str, b: &str| {
        ctx.err(
            None,
            format!("[auth] `{a}` and `{b}` are the same key; keep one"),
        )
    };
    if a.path.is_some() && a.log_path.is_some() {
        return Err(twice("path", "log_path"));
    }
    if a.enabled.is_some() && a.log_enabled.is_some() {
        return Err(twice("enabled", "log_enabled"));
    }
    layer.auth_path = a.path.clone().or_else(|| a.log_path.clone());
    layer.auth_enabled = a.enabled.or(a.log_enabled);
    let source = ctx.opt("[auth] source", &a.source, |s| parse_auth_source(s))?;
    if let (Some(AuthChoice::Journald), Some(_), Some(s)) = (source, &layer.auth_path, &a.source) {
        return Err(ctx.err(
            Some(s.span()),
            "[auth] source: `journald` while a path is set; remove one".into(),
        ));
    }
    layer.journal_directory.clone_from(&a.journal_directory);
    // A path alone means "this file", as it did in 0.2.0 (and wins over a
    // journal directory); a journal directory alone means journald.
    layer.auth_source = match (source, &layer.auth_path, &a.journal_directory) {
        (None | Some(AuthChoice::Auto), Some(_), _) => Some(AuthChoice::File),
        (None | Some(AuthChoice::Auto), None, Some(_)) => Some(AuthChoice::Journald),
        (s, _, _) => s,
    };
    Ok(())
}

fn file_filters(ctx: &FileCtx, f: &FiltersSection, layer: &mut Layer) -> Result<(), ConfigError> {
    layer.cidr_allow = ctx.list("[filters] cidr_allow", &f.cidr_allow, |s| parse_cidr(s))?;
    layer.cidr_deny = ctx.list("[filters] cidr_deny", &f.cidr_deny, |s| parse_cidr(s))?;
    layer.burst_rpm = ctx.number(&limits::BURST_RPM, &f.suspicious_burst_rpm)?;
    layer.reason_ttl = ctx
        .count(&limits::REASON_TTL, &f.reason_ttl)?
        .map(|n| n as UnixTime);
    let (conns, failures) = (&limits::MIN_CONNS, &limits::MIN_AUTH_FAILURES);
    layer.min_conns = ctx.opt(conns.name, &f.suspicious_min_conns, |&n| conns.count_u32(n))?;
    layer.min_auth_failures = ctx.opt(failures.name, &f.suspicious_min_auth_failures, |&n| {
        failures.count_u32(n)
    })?;
    layer.scanner_user_agents = ctx.list(
        "[filters] scanner_user_agents",
        &f.scanner_user_agents,
        |s: &String| {
            if s.is_empty() {
                Err("an empty pattern would match every user agent".into())
            } else {
                Ok(s.clone())
            }
        },
    )?;
    layer.static_extensions = ctx.list(
        "[filters] static_extensions",
        &f.static_extensions,
        |s: &String| parse_extension(s),
    )?;
    layer.exploit_path_patterns = ctx.list(
        "[filters] exploit_path_patterns",
        &f.exploit_path_patterns,
        |s: &String| check_regex(s).map(|()| s.clone()),
    )?;
    Ok(())
}

/// A static asset's extension, as matched: without a leading dot, in lower
/// case. Only the last extension of a path is compared, so one with a dot
/// inside (`tar.gz`) could never match.
fn parse_extension(s: &str) -> Result<String, String> {
    let e = s.strip_prefix('.').unwrap_or(s);
    if e.is_empty() {
        return Err("an empty extension".into());
    }
    if let Some(c) = e.chars().find(|c| matches!(c, '.' | '/' | '?' | '#')) {
        return Err(format!(
            "{s:?}: `{c}` can't be in an extension (the part after a path's last dot)"
        ));
    }
    Ok(e.to_ascii_lowercase())
}

/// `[geoip]`, `[whois]`, `[history]`, `[cache]`.
fn file_enrichment(ctx: &FileCtx, root: &FileRoot, layer: &mut Layer) -> Result<(), ConfigError> {
    layer.geoip_enabled = root.geoip.enabled;
    layer.city_db = root.geoip.city_db.clone();
    layer.asn_db = root.geoip.asn_db.clone();
    let w = &root.whois;
    layer.whois_enabled = w.enabled;
    layer.cache_ttl = ctx
        .count(&limits::CACHE_TTL, &w.cache_ttl)?
        .map(|n| Duration::from_secs(n as u64));
    let workers = &limits::MAX_WORKERS;
    layer.max_workers = ctx.opt(workers.name, &w.max_workers, |&n| workers.count_u32(n))?;
    layer.rdap_bootstrap_url =
        ctx.opt("[whois] rdap_bootstrap_url", &w.rdap_bootstrap_url, |s| {
            parse_url(s)
        })?;
    layer.whois_server = ctx.opt("[whois] whois_server", &w.whois_server, |s| {
        crate::enrich::whois::legacy::Server::parse(s)
            .map(|_| s.trim().to_owned())
            .ok_or_else(|| "expected host:port".to_owned())
    })?;
    layer.history_enabled = root.history.enabled;
    layer.history_db = root.history.db.clone();
    layer.cache_dir = root.cache.dir.clone();
    Ok(())
}

fn file_hooks(ctx: &FileCtx, entries: &[HookEntry]) -> Result<Vec<Hook>, ConfigError> {
    let mut hooks: Vec<Hook> = Vec::with_capacity(entries.len());
    for e in entries {
        let name = e.label.as_deref().unwrap_or(e.command.get_ref());
        let key = ctx.check("[[actions.hooks]] key", &e.key, |v| hook_key(v, name))?;
        if hooks.iter().any(|h| h.key == key) {
            return Err(ctx.err(
                Some(e.key.span()),
                format!("[[actions.hooks]] key: `{key}` is used by an earlier hook"),
            ));
        }
        let command = ctx.check("[[actions.hooks]] command", &e.command, |c: &String| {
            if c.trim().is_empty() {
                Err("empty command".to_string())
            } else {
                Ok(c.clone())
            }
        })?;
        let timeout = limits::HOOK_TIMEOUT;
        let timeout = ctx.opt(timeout.name, &e.timeout, |&s| timeout.seconds(s))?;
        hooks.push(Hook {
            key,
            label: e.label.clone().unwrap_or_else(|| command.clone()),
            command,
            timeout: timeout.unwrap_or(DEFAULT_HOOK_TIMEOUT),
        });
    }
    Ok(hooks)
}

/// One printable character not taken by a built-in binding (`"z"`, `"4"`),
/// or a digit as an integer for convenience.
/// `name` (the hook's label, else its command) names it in a clash.
fn hook_key(v: &toml::Value, name: &str) -> Result<char, String> {
    let text = match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(n) => n.to_string(),
        other => {
            return Err(format!(
                "expected a one-character string such as \"1\" or \"z\", found {}",
                other.type_str()
            ))
        }
    };
    let mut chars = text.chars();
    let (Some(key), None) = (chars.next(), chars.next()) else {
        return Err(format!("`{text}` is not a single key"));
    };
    if key.is_control() || key.is_whitespace() {
        return Err(format!("`{}` is not a printable key", key.escape_default()));
    }
    match crate::ui::bindings::built_in_action(key) {
        Some(action) => Err(format!(
            "`{key}` is the built-in key for {action}; the hook `{name}` needs another key"
        )),
        None => Ok(key),
    }
}

/// `log_path` / `[log] path`: one glob or an array of globs.
fn globs_value(v: &toml::Value) -> Result<Vec<String>, String> {
    let globs: Vec<String> = match v {
        toml::Value::String(s) => vec![s.clone()],
        toml::Value::Array(items) => items
            .iter()
            .map(|i| match i {
                toml::Value::String(s) => Ok(s.clone()),
                other => Err(format!(
                    "expected a glob string, found {}",
                    other.type_str()
                )),
            })
            .collect::<Result<_, _>>()?,
        other => {
            return Err(format!(
                "expected a glob or an array of globs, found {}",
                other.type_str()
            ))
        }
    };
    if globs.is_empty() {
        return Err("empty array: give at least one glob".into());
    }
    globs.iter().try_for_each(|g| check_glob(g))?;
    Ok(globs)
}

/// Turns toml's error (syntax, unknown key, wrong type, missing key) into
/// one that names the table and key and gives the line.
fn toml_error(ctx: &FileCtx, e: &toml::de::Error) -> ConfigError {
    let span = e.span();
    let start = span.as_ref().map_or(0, |s| s.start);
    let msg = plain_types(e.message());
    let unknown = msg.strip_prefix("unknown field `");
    let table = span
        .as_ref()
        .map(|_| table_at(ctx.src, start, unknown.is_some()));
    let where_ = |t: Option<&str>| match t {
        Some("") => "at the top level".to_string(),
        Some(t) => format!("in [{t}]"),
        None => String::new(),
    };
    if let Some(rest) = unknown {
        let (name, tail) = rest.split_once('`').unwrap_or((rest, ""));
        let hint = tail.trim_start_matches(',').trim();
        let hint = if hint.is_empty() {
            String::new()
        } else {
            format!(" ({hint})")
        };
        // `filters.foo = 1` puts `foo` in [filters], not in the current table.
        let dotted =
            key_at(ctx.src, start).and_then(|k| k.rsplit_once('.').map(|(p, _)| p.to_string()));
        let table = match (table, dotted) {
            (Some(t), Some(p)) if t.is_empty() => Some(p),
            (Some(t), Some(p)) => Some(format!("{t}.{p}")),
            (t, None) => t,
            (None, Some(p)) => Some(p),
        };
        let where_ = where_(table.as_deref());
        return ctx.err(span, format!("unknown key `{name}` {where_}{hint}"));
    }
    let where_ = where_(table.as_deref());
    let key = span.as_ref().and_then(|_| key_at(ctx.src, start));
    let name = match (table.as_deref(), key) {
        (Some("") | None, Some(k)) => Some(k.to_string()),
        (Some(t), Some(k)) => Some(format!("[{t}] {k}")),
        _ => None,
    };
    let label = match (&name, table.as_deref()) {
        (Some(name), _) => format!("{name}: "),
        (None, Some(_)) => format!("{where_}: "),
        (None, None) => String::new(),
    };
    // A number TOML refused for a ranged setting: say the range too.
    let written = span.as_ref().and_then(|s| number_at(ctx.src, s.start));
    let ranged = name.as_deref().and_then(limits::Limit::named);
    let msg = match (ranged, written) {
        (Some(limit), Some(written)) => limit.retell(&msg, written).unwrap_or(msg),
        _ => msg,
    };
    ctx.err(span, format!("{label}{msg}"))
}

/// The number token that starts at byte `start` (TOML's span of a number
/// too large may cover only its first digit).
fn number_at(src: &str, start: usize) -> Option<&str> {
    let rest = src.get(start..)?;
    let len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || "_.+-".contains(c)))
        .unwrap_or(rest.len());
    (len > 0).then(|| &rest[..len])
}

/// One line, in TOML's words rather than Rust's.
fn plain_types(msg: &str) -> String {
    let mut out = msg.trim_end().replace('\n', ": ");
    for (rust, toml) in [
        ("expected i64", "expected an integer"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected an array"),
        ("expected a map", "expected a table"),
    ] {
        out = out.replace(rust, toml);
    }
    if let Some(i) = out.find("expected struct ") {
        out.replace_range(i.., "expected a table");
    }
    if let Some(msg) = beyond_i64(&out) {
        out = msg;
    }
    out
}

/// toml 1 hands an integer beyond i64 to serde as u64, i128 or u128, and
/// serde's message for that ("invalid value: integer `N`, expected i64",
/// "invalid type: integer `N` as i128, ...") reads as a type error. Say it
/// as toml 0.8 did: the number is too large (a ranged key then names its
/// range) or too small.
fn beyond_i64(msg: &str) -> Option<String> {
    if msg == "integer number overflowed" {
        return Some("integer number too large".into());
    }
    let rest = msg
        .strip_prefix("invalid value: integer `")
        .or_else(|| msg.strip_prefix("invalid type: integer `"))?;
    let (n, tail) = rest.split_once('`')?;
    let expected = tail.strip_suffix(", expected an integer")?;
    if !matches!(expected, "" | " as i128" | " as u128") {
        return None;
    }
    let size = if n.starts_with('-') { "small" } else { "large" };
    Some(format!("integer `{n}` is too {size}"))
}

/// The dotted name of the table a byte offset belongs to ("" = top level).
/// On a header line, an unknown key is the header's own name, which belongs
/// to the parent table; any other error there is about the table itself.
fn table_at(src: &str, offset: usize, header_is_parent: bool) -> String {
    let offset = offset.min(src.len());
    let line_start = src.as_bytes()[..offset]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = src[line_start..].lines().next().unwrap_or("");
    if let Some(name) = header_name(line) {
        if !header_is_parent {
            return name;
        }
        return name
            .rsplit_once('.')
            .map_or(String::new(), |(p, _)| p.to_string());
    }
    src[..line_start]
        .lines()
        .rev()
        .find_map(header_name)
        .unwrap_or_default()
}

/// `[a.b]` or `[[a.b]]` → `a.b`.
fn header_name(line: &str) -> Option<String> {
    let t = line.trim_start();
    let t = t.strip_prefix('[')?;
    let t = t.strip_prefix('[').unwrap_or(t);
    let end = t.find(']')?;
    let name: String = t[..end]
        .split('.')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(".");
    Some(name)
}

/// The key assigned on the line holding `offset`, or on the nearest line
/// above it that assigns one (an array value spread over several lines),
/// stopping at a table header.
fn key_at(src: &str, offset: usize) -> Option<String> {
    let offset = offset.min(src.len());
    // `get`: a span off a char boundary gives no key rather than a panic.
    let line_end = src
        .get(offset..)?
        .find('\n')
        .map_or(src.len(), |i| offset + i);
    for line in src.get(..line_end)?.lines().rev() {
        if header_name(line).is_some() {
            return None;
        }
        if let Some((k, _)) = line.split_once('=') {
            let k = k.trim();
            let bare = |c: char| c.is_ascii_alphanumeric() || "_-.\"'".contains(c);
            if !k.is_empty() && k.chars().all(bare) {
                return Some(k.to_string());
            }
        }
    }
    None
}
