//! The config file: its serde shape and its conversion into a validated
//! `Layer`, with errors that name the key and its line.
//!
//! nethergaze 0.2.0 ignored what it did not know and took any number; its
//! files must still start. So an unknown key or section is dropped, and a
//! number 0.2.0 would have taken (a float for an integer, a value out of
//! range) is adjusted, each with one [`ConfigWarning`] naming the key, its
//! line and what was done. What can't mean anything (a type that isn't one,
//! a regex or CIDR that doesn't compile, NaN) is still an error.

use std::cell::RefCell;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::actions::block::BlockTargets;
use crate::parse::UnixTime;
use crate::sys::file::{read_text, Links};

mod unknown;

use super::limits::{self, Limit};
use super::{
    check_glob, check_regex, parse_auth_source, parse_cidr, parse_log_format, parse_url,
    AuthChoice, ConfigError, ConfigWarning, Hook, Layer, DEFAULT_HOOK_TIMEOUT,
};

/// A number where 0.2.0 took any number: an integer, or a float it cut
/// with `int()`. Integers beyond `i64` are kept, to be moved into range.
#[derive(Clone, Copy, Debug)]
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    /// `0` or `0.0`: 0.2.0 gave zero a meaning of its own for some keys.
    fn is_zero(self) -> bool {
        match self {
            Num::Int(n) => n == 0,
            Num::Float(x) => x == 0.0,
        }
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NumVisitor;
        impl serde::de::Visitor<'_> for NumVisitor {
            type Value = Num;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Num, E> {
                Ok(Num::Int(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Num, E> {
                Ok(Num::Int(v.into()))
            }
            fn visit_i128<E>(self, v: i128) -> Result<Num, E> {
                Ok(Num::Int(v))
            }
            fn visit_u128<E>(self, v: u128) -> Result<Num, E> {
                Ok(Num::Int(i128::try_from(v).unwrap_or(i128::MAX)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Num, E> {
                Ok(Num::Float(v))
            }
        }
        d.deserialize_any(NumVisitor)
    }
}

/// The config file as written. Every table denies unknown keys, as a check:
/// `unknown::KNOWN_KEYS` lists the same keys and drops the others first (the
/// config tests load config.example.toml, which sets or names every key,
/// without a warning, and read each table's keys back from the warning).
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
    max_log_lines: Option<Spanned<Num>>,
    max_log_entries_per_ip: Option<Spanned<Num>>,
    follow_symlinks: Option<bool>,
    since: Option<Spanned<String>>,
}

/// `connections_interval` paces the tick, `bandwidth_interval` the vnstat
/// runs; logs are followed through inotify, so the others are accepted only
/// so 0.2.0 files keep loading.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RefreshSection {
    connections_interval: Option<Spanned<f64>>,
    log_interval: Option<Spanned<f64>>,
    bandwidth_interval: Option<Spanned<f64>>,
    auth_log_interval: Option<Spanned<f64>>,
    metrics_interval: Option<Spanned<f64>>,
    /// How often the firewalls are read for addresses already blocked.
    blocked_interval: Option<Spanned<f64>>,
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
    cache_ttl: Option<Spanned<Num>>,
    max_workers: Option<Spanned<Num>>,
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
    suspicious_min_conns: Option<Spanned<Num>>,
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
    fail2ban_jail: Option<Spanned<String>>,
    cscli_duration: Option<Spanned<String>>,
    cscli_reason: Option<Spanned<String>>,
    nft_table: Option<Spanned<String>>,
    nft_set_v4: Option<Spanned<String>>,
    nft_set_v6: Option<Spanned<String>>,
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

/// The file's text and path, to turn byte spans into line numbers, and the
/// warnings gathered while reading it.
struct FileCtx<'a> {
    path: &'a Path,
    src: &'a str,
    warnings: RefCell<Vec<ConfigWarning>>,
}

impl FileCtx<'_> {
    fn warn(&self, span: Range<usize>, msg: String) {
        self.warnings.borrow_mut().push(ConfigWarning {
            path: self.path.to_path_buf(),
            line: self.line_of(span.start),
            msg,
        });
    }

    /// The value as written in the file, cut to 24 characters.
    fn written(&self, span: Range<usize>) -> String {
        limits::shorten(self.src.get(span).unwrap_or("").trim())
    }

    /// A whole number of a key 0.2.0 knew. 0.2.0 took any number: a float
    /// is cut to its integer part (as `int()` did) and a number out of range
    /// moved to the nearer end, with one warning. NaN and infinities are errors.
    fn lenient_count(
        &self,
        limit: &Limit,
        value: &Option<Spanned<Num>>,
    ) -> Result<Option<usize>, ConfigError> {
        let Some(v) = value else { return Ok(None) };
        let written = self.written(v.span());
        let (n, is_float) = match *v.get_ref() {
            Num::Int(n) => (n, false),
            // `as` saturates: 1e300 becomes i128::MAX, then the maximum.
            Num::Float(x) if x.is_finite() => (x.trunc() as i128, true),
            Num::Float(_) => {
                let msg = format!(
                    "{}: {written} is not a whole number (allowed: {})",
                    limit.name,
                    limit.range()
                );
                return Err(self.err(Some(v.span()), msg));
            }
        };
        // The bounds are whole numbers far inside i128: these casts are exact.
        let (min, max) = (limit.min as i128, limit.max as i128);
        let used = n.clamp(min, max);
        let mut why = Vec::new();
        if is_float {
            why.push("is not an integer".to_string());
        }
        if used != n {
            why.push(out_of_range(limit, n < min));
        }
        if !why.is_empty() {
            let msg = format!(
                "{} = {written} {}; using {used}",
                limit.name,
                why.join(" and ")
            );
            self.warn(v.span(), msg);
        }
        Ok(Some(usize::try_from(used).unwrap_or(usize::MAX)))
    }

    /// A number of a key 0.2.0 knew that nethergaze does not use: out of
    /// range, a warning that says so; NaN and infinities are errors.
    fn unused_number(
        &self,
        limit: &Limit,
        value: &Option<Spanned<f64>>,
    ) -> Result<(), ConfigError> {
        let Some(v) = value else { return Ok(()) };
        let x = *v.get_ref();
        if !x.is_finite() {
            return self.number(limit, value).map(|_| ());
        }
        if x < limit.min || x > limit.max {
            let msg = format!(
                "{} = {} {}; not used by nethergaze, ignored",
                limit.name,
                self.written(v.span()),
                out_of_range(limit, x < limit.min),
            );
            self.warn(v.span(), msg);
        }
        Ok(())
    }

    /// A number of a key 0.2.0 knew: out of range, moved to the nearer end
    /// with a warning; NaN and infinities are errors.
    fn lenient_number(
        &self,
        limit: &Limit,
        value: &Option<Spanned<f64>>,
    ) -> Result<Option<f64>, ConfigError> {
        let Some(v) = value else { return Ok(None) };
        let x = *v.get_ref();
        if !x.is_finite() {
            return self.number(limit, value);
        }
        let used = x.clamp(limit.min, limit.max);
        if used != x {
            let msg = format!(
                "{} = {} {}; using {}",
                limit.name,
                self.written(v.span()),
                out_of_range(limit, x < limit.min),
                limits::show(used)
            );
            self.warn(v.span(), msg);
        }
        Ok(Some(used))
    }

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

/// `is below 0.1 (allowed: 0.1 to 86400 seconds)`.
fn out_of_range(limit: &Limit, below: bool) -> String {
    let (side, end) = if below {
        ("below", limit.min)
    } else {
        ("above", limit.max)
    };
    format!(
        "is {side} {} (allowed: {})",
        limits::show(end),
        limit.range()
    )
}

/// Reads and validates a config file: its layer and its warnings.
pub(super) fn read_file_layer(path: &Path) -> Result<(Layer, Vec<ConfigWarning>), ConfigError> {
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
fn parse_file(path: &Path, src: &str) -> Result<(Layer, Vec<ConfigWarning>), ConfigError> {
    let ctx = FileCtx {
        path,
        src,
        warnings: RefCell::new(Vec::new()),
    };
    let mut doc = toml::de::DeTable::parse(src).map_err(|e| toml_error(&ctx, &e))?;
    unknown::drop_unknown(&ctx, "", doc.get_mut());
    let root = FileRoot::deserialize(toml::de::Deserializer::from(doc))
        .map_err(|e| toml_error(&ctx, &e))?;
    let layer = file_layer(&ctx, &root)?;
    let mut warnings = ctx.warnings.into_inner();
    warnings.sort_by_key(|w| w.line);
    Ok((layer, warnings))
}

/// The file's values, validated, as a layer.
fn file_layer(ctx: &FileCtx, root: &FileRoot) -> Result<Layer, ConfigError> {
    let mut layer = Layer {
        interface: root.interface.clone(),
        show_private_ips: root.show_private_ips,
        trusted_proxies: ctx.list("trusted_proxies", &root.trusted_proxies, |s| parse_cidr(s))?,
        max_tracked_ips: ctx.count(&limits::MAX_TRACKED_IPS, &root.max_tracked_ips)?,
        ..Layer::default()
    };
    file_log(ctx, root, &mut layer)?;
    file_sources(ctx, root, &mut layer)?;
    file_filters(ctx, &root.filters, &mut layer)?;
    file_enrichment(ctx, root, &mut layer)?;
    layer.enable_block_execution = root.actions.enable_block_execution;
    if let Some(hooks) = &root.actions.hooks {
        layer.hooks = Some(file_hooks(ctx, hooks)?);
    }
    file_block_targets(ctx, &root.actions, &mut layer)?;
    Ok(layer)
}

/// `[actions]`'s jail, cscli duration and reason, nft table and sets: each
/// reaches a command line, so each is checked strictly.
fn file_block_targets(
    ctx: &FileCtx,
    a: &ActionsSection,
    layer: &mut Layer,
) -> Result<(), ConfigError> {
    let checked =
        |key: &str, value: &Option<Spanned<String>>, f: fn(&str) -> Result<(), String>| {
            ctx.opt(&format!("[actions] {key}"), value, |s: &String| {
                f(s).map(|()| s.clone())
            })
        };
    let name = BlockTargets::check_name;
    layer.fail2ban_jail = checked("fail2ban_jail", &a.fail2ban_jail, name)?;
    layer.nft_table = checked("nft_table", &a.nft_table, name)?;
    layer.nft_set_v4 = checked("nft_set_v4", &a.nft_set_v4, name)?;
    layer.nft_set_v6 = checked("nft_set_v6", &a.nft_set_v6, name)?;
    layer.cscli_duration = checked(
        "cscli_duration",
        &a.cscli_duration,
        BlockTargets::check_duration,
    )?;
    layer.cscli_reason = checked("cscli_reason", &a.cscli_reason, BlockTargets::check_reason)?;
    // One set holds one family: the same name twice would fail at the
    // first block, long after start-up.
    let d = BlockTargets::default();
    let v4 = layer.nft_set_v4.as_deref().unwrap_or(&d.nft_set_v4);
    let v6 = layer.nft_set_v6.as_deref().unwrap_or(&d.nft_set_v6);
    if v4 == v6 {
        let span = a
            .nft_set_v6
            .as_ref()
            .or(a.nft_set_v4.as_ref())
            .map(|v| v.span());
        return Err(ctx.err(
            span,
            format!("[actions] nft_set_v4 and nft_set_v6 are both {v4:?}: one set per family"),
        ));
    }
    Ok(())
}

/// Flat `log_path` / `log_format` (0.2.0) and `[log]`; the section wins, as in 0.2.0.
fn file_log(ctx: &FileCtx, root: &FileRoot, layer: &mut Layer) -> Result<(), ConfigError> {
    let log = &root.log;
    let flat_paths = log_paths(ctx, "log_path", &root.log_path)?;
    layer.log_paths = log_paths(ctx, "[log] path", &log.path)?.or(flat_paths);
    let flat_format = ctx.opt("log_format", &root.log_format, |s| parse_log_format(s))?;
    layer.log_format = ctx
        .opt("[log] format", &log.format, |s| parse_log_format(s))?
        .or(flat_format);
    layer.max_log_lines = match &log.max_log_lines {
        // 0.2.0's panel kept `lines[-0:]`, every line: as many as we keep.
        Some(v) if v.get_ref().is_zero() => {
            let max = limits::MAX_LOG_LINES.max;
            ctx.warn(
                v.span(),
                format!(
                    "[log] max_log_lines = {} meant no limit in 0.2.0; using the maximum, {}",
                    ctx.written(v.span()),
                    limits::show(max)
                ),
            );
            Some(max as usize)
        }
        v => ctx.lenient_count(&limits::MAX_LOG_LINES, v)?,
    };
    layer.max_log_entries_per_ip =
        ctx.lenient_count(&limits::MAX_LOG_ENTRIES_PER_IP, &log.max_log_entries_per_ip)?;
    layer.follow_symlinks = log.follow_symlinks;
    layer.since = ctx.opt("[log] since", &log.since, |s| {
        crate::config::parse_duration(s)
    })?;
    Ok(())
}

/// `log_path` / `[log] path`. An empty string read no access log in 0.2.0
/// (`if config.log_path:`): it still reads none, with a warning.
fn log_paths(
    ctx: &FileCtx,
    key: &str,
    value: &Option<Spanned<toml::Value>>,
) -> Result<Option<Vec<String>>, ConfigError> {
    match value {
        Some(v) if v.get_ref().as_str() == Some("") => {
            let msg =
                format!("{key} = \"\" reads no access log, as in 0.2.0 (sockets and sshd only)");
            ctx.warn(v.span(), msg);
            Ok(Some(Vec::new()))
        }
        v => ctx.opt(key, v, globs_value),
    }
}

/// `[refresh]` and `[auth]`.
fn file_sources(ctx: &FileCtx, root: &FileRoot, layer: &mut Layer) -> Result<(), ConfigError> {
    let r = &root.refresh;
    layer.connections_interval = ctx
        .lenient_number(&limits::CONNECTIONS_INTERVAL, &r.connections_interval)?
        .map(Duration::from_secs_f64);
    // Not used (logs are followed through inotify), but still checked: a
    // value out of range is likely a typo.
    ctx.unused_number(&limits::LOG_INTERVAL, &r.log_interval)?;
    // Paces vnstat (0.2.0's key and meaning).
    layer.bandwidth_interval = ctx
        .lenient_number(&limits::BANDWIDTH_INTERVAL, &r.bandwidth_interval)?
        .map(Duration::from_secs_f64);
    ctx.unused_number(&limits::AUTH_LOG_INTERVAL, &r.auth_log_interval)?;
    layer.metrics_interval = ctx
        .number(&limits::METRICS_INTERVAL, &r.metrics_interval)?
        .map(Duration::from_secs_f64);
    layer.blocked_interval = ctx
        .lenient_number(&limits::BLOCKED_INTERVAL, &r.blocked_interval)?
        .map(Duration::from_secs_f64);

    let a = &root.auth;
    ctx.unused_number(&limits::AUTH_INTERVAL, &a.interval)?;
    ctx.unused_number(&limits::AUTH_LOG_INTERVAL_ALIAS, &a.log_interval)?;
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
    layer.burst_rpm = ctx.lenient_number(&limits::BURST_RPM, &f.suspicious_burst_rpm)?;
    layer.reason_ttl = ctx
        .count(&limits::REASON_TTL, &f.reason_ttl)?
        .map(|n| n as UnixTime);
    let failures = &limits::MIN_AUTH_FAILURES;
    // Every bound fits a u32.
    layer.min_conns = ctx
        .lenient_count(&limits::MIN_CONNS, &f.suspicious_min_conns)?
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
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
    // `max_workers = 0` below may turn it off.
    layer.cache_ttl = ctx
        .lenient_count(&limits::CACHE_TTL, &w.cache_ttl)?
        .map(|n| Duration::from_secs(n as u64));
    layer.max_workers = match &w.max_workers {
        // 0.2.0's `Semaphore(0)` let no lookup run: no whois, no traffic.
        Some(v) if v.get_ref().is_zero() => {
            ctx.warn(
                v.span(),
                format!(
                    "[whois] max_workers = {} let no lookup run in 0.2.0; whois lookups \
                     are off (write [whois] enabled = false)",
                    ctx.written(v.span())
                ),
            );
            layer.whois_enabled = Some(false);
            None
        }
        v => ctx
            .lenient_count(&limits::MAX_WORKERS, v)?
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
    };
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
