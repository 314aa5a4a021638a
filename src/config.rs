//! Configuration, phase two: config file + environment + raw flags → one
//! validated [`Config`], before anything starts.
//!
//! Each source becomes a [`Layer`] of typed, validated values (`None` = not
//! set there); layers merge as flags > `NETHERGAZE_*` environment > file, and
//! what is still unset takes its default. Names follow nethergaze 0.2.0: its
//! flat keys (`log_path`, `log_format`, `interface`, `show_private_ips`), its
//! sections and its environment variables keep working. Every error names the
//! flag, variable or key, and for the file its line.
//!
//! The only I/O is reading the config file and [`Probe`]'s look at the machine
//! (which default log glob matches a file, which sshd log exists, whether
//! `journalctl` is on `PATH`); tests substitute the probe.

use std::ffi::OsString;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;
use toml::Spanned;

use crate::cli::{self, RawArgs};

/// Default access-log globs, in order: the first that matches a file wins.
pub const DEFAULT_LOG_CANDIDATES: [&str; 4] = [
    "/var/log/nginx/*.access.log",
    "/var/log/nginx/access.log",
    "/var/log/apache2/*access.log",
    "/var/log/caddy/*.log",
];
/// sshd log files tried by `--auth-source auto`, in order.
pub const DEFAULT_AUTH_CANDIDATES: [&str; 2] = ["/var/log/auth.log", "/var/log/secure"];
/// Default `max_tracked_ips`.
pub const DEFAULT_MAX_TRACKED_IPS: usize = 50_000;
/// Default `[whois] rdap_bootstrap_url`: the folder holding ipv4.json and ipv6.json.
pub const DEFAULT_RDAP_BOOTSTRAP_URL: &str = "https://data.iana.org/rdap/";
/// Default `[geoip] city_db`.
pub const DEFAULT_CITY_DB: &str = "/usr/share/GeoIP/GeoLite2-City.mmdb";
/// Default `[geoip] asn_db`.
pub const DEFAULT_ASN_DB: &str = "/usr/share/GeoIP/GeoLite2-ASN.mmdb";
/// Default `[actions] hooks[].timeout`.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `[whois] cache_ttl`: 24 h.
pub const DEFAULT_WHOIS_CACHE_TTL: Duration = Duration::from_secs(86_400);
/// Default `connections_interval`.
pub const DEFAULT_CONNECTIONS_INTERVAL: Duration = Duration::from_secs(1);
/// Shortest accepted `connections_interval`: below it the dump costs more than it tells.
pub const MIN_CONNECTIONS_INTERVAL: Duration = Duration::from_millis(100);

/// Access-log formats known by name; anything containing `$` is an nginx `log_format`.
pub const LOG_FORMAT_NAMES: [&str; 5] = ["auto", "combined", "common", "vhost_combined", "json"];

/// What `main` should do.
// Built once at start-up, so the size difference between variants is irrelevant.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// Start with this configuration.
    Run(Config),
    /// Print this (`--help`) to stdout and exit 0.
    Help(String),
    /// Print this (`--version`) to stdout and exit 0.
    Version(String),
}

/// How the run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The interactive dashboard (needs a terminal).
    Dashboard,
    /// `--once`: one snapshot, printed.
    Once,
    /// `--for`: live without a screen for this long, then a snapshot.
    For(Duration),
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    /// Colour on a terminal unless `NO_COLOR` is non-empty or `TERM=dumb`.
    Auto,
    /// Always colour (an explicit flag wins over `NO_COLOR`).
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Whether to emit colour, given whether the output is a terminal.
    pub fn enabled(self, is_tty: bool, env: &dyn Fn(&str) -> Option<String>) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                let no_color = env("NO_COLOR").is_some_and(|v| !v.is_empty());
                let dumb = env("TERM").as_deref() == Some("dumb");
                is_tty && !no_color && !dumb
            }
        }
    }
}

/// Where sshd events come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthSource {
    /// Tail this file.
    File(PathBuf),
    /// Read `journalctl -f` for sshd.
    Journald,
    /// No sshd events (disabled, or nothing found: see [`AuthConfig::note`]).
    None,
}

/// The sshd source and why it was chosen when that is worth telling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    pub source: AuthSource,
    /// For the header / summary, e.g. why there is no sshd source.
    pub note: Option<String>,
}

/// Suspicious-IP thresholds and extra patterns.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectConfig {
    /// `burst` when `peak_rpm` exceeds this (`suspicious_burst_rpm`, default 60).
    pub burst_rpm: f64,
    /// `conns_no_requests` from this many inbound sockets (default 5).
    pub min_conns: u32,
    /// `auth_failures` from this many failures (default 3).
    pub min_auth_failures: u32,
    /// Extra scanner user-agent substrings, added to the built-in list.
    pub scanner_user_agents: Vec<String>,
    /// Extra exploit path regexes (each known to compile), added to the built-in ones.
    pub exploit_path_patterns: Vec<String>,
}

/// CIDR filters applied to what is shown.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FilterConfig {
    /// When non-empty, only addresses inside one of these are shown.
    pub cidr_allow: Vec<IpNet>,
    /// Addresses inside one of these are hidden.
    pub cidr_deny: Vec<IpNet>,
}

/// `[geoip]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeoipConfig {
    pub enabled: bool,
    pub city_db: PathBuf,
    pub asn_db: PathBuf,
}

/// `[whois]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhoisConfig {
    /// `false` means no outbound connection at all.
    pub enabled: bool,
    pub cache_ttl: Duration,
    /// Accepted for 0.2.0 compatibility; lookups run on one worker thread.
    pub max_workers: u32,
    /// Always ends with `/`.
    pub rdap_bootstrap_url: String,
}

/// `[history]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryConfig {
    pub enabled: bool,
    /// `None` when no path was given and neither `$XDG_STATE_HOME` nor `$HOME` is set.
    pub db: Option<PathBuf>,
}

/// One `[[actions.hooks]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// `'1'`..=`'9'`, unique.
    pub key: char,
    pub label: String,
    /// Run under `sh -c` with `{ip}` replaced.
    pub command: String,
    pub timeout: Duration,
}

/// `[actions]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActionsConfig {
    pub enable_block_execution: bool,
    pub hooks: Vec<Hook>,
}

/// Display limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisplayConfig {
    pub max_log_lines: usize,
    pub max_log_entries_per_ip: usize,
}

/// The validated configuration of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The config file that was read, if any.
    pub config_file: Option<PathBuf>,
    /// Access-log globs (directory part literal, checked).
    pub log_paths: Vec<String>,
    /// A name of [`LOG_FORMAT_NAMES`] or an nginx `log_format` string.
    pub log_format: String,
    pub from_start: bool,
    pub connections_interval: Duration,
    /// `None`: the interface of the default route.
    pub interface: Option<String>,
    pub show_private_ips: bool,
    pub trusted_proxies: Vec<IpNet>,
    pub max_tracked_ips: usize,
    pub proc_root: Option<PathBuf>,
    pub mode: Mode,
    pub json: bool,
    pub suspicious_only: bool,
    pub color: ColorChoice,
    pub auth: AuthConfig,
    pub detect: DetectConfig,
    pub filters: FilterConfig,
    pub geoip: GeoipConfig,
    pub whois: WhoisConfig,
    pub history: HistoryConfig,
    pub actions: ActionsConfig,
    pub display: DisplayConfig,
    /// `[cache] dir`, else `$XDG_CACHE_HOME/nethergaze`, else `~/.cache/nethergaze`.
    pub cache_dir: Option<PathBuf>,
}

/// A start-up error; `main` prints it to stderr and exits 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The command line as a whole (unknown flag, stray argument, conflict).
    Usage(String),
    /// The value of one flag (long name without `--`).
    Flag { flag: &'static str, msg: String },
    /// The value of one environment variable.
    Env { var: &'static str, msg: String },
    /// The config file; `msg` names the key.
    File {
        path: PathBuf,
        line: Option<usize>,
        msg: String,
    },
}

impl ConfigError {
    pub(crate) fn usage(msg: impl Into<String>) -> Self {
        ConfigError::Usage(msg.into())
    }

    pub(crate) fn flag(flag: &'static str, msg: impl Into<String>) -> Self {
        ConfigError::Flag {
            flag,
            msg: msg.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Usage(msg) => write!(f, "nethergaze: {msg}"),
            ConfigError::Flag { flag, msg } => write!(f, "nethergaze: --{flag}: {msg}"),
            ConfigError::Env { var, msg } => write!(f, "nethergaze: {var}: {msg}"),
            ConfigError::File { path, line, msg } => {
                write!(f, "nethergaze: config file {}", path.display())?;
                if let Some(line) = line {
                    write!(f, " line {line}")?;
                }
                write!(f, ": {msg}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// What config building may look at on this machine. Tests substitute it.
#[derive(Debug, Clone)]
pub struct Probe {
    /// Access-log globs tried when none is configured, in order.
    pub log_candidates: Vec<String>,
    /// sshd log files tried by `auto`, in order.
    pub auth_candidates: Vec<PathBuf>,
}

impl Probe {
    /// The real paths of a Debian / RHEL / Caddy box.
    pub fn system() -> Self {
        Probe {
            log_candidates: DEFAULT_LOG_CANDIDATES.map(String::from).to_vec(),
            auth_candidates: DEFAULT_AUTH_CANDIDATES.map(PathBuf::from).to_vec(),
        }
    }
}

/// Parses the command line, reads the config file and the environment
/// (through `env`, so tests can fake it) and validates everything.
pub fn load(
    args: impl IntoIterator<Item = OsString>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Invocation, ConfigError> {
    load_with(args, env, &Probe::system())
}

/// [`load`] with the machine probe given explicitly.
pub fn load_with(
    args: impl IntoIterator<Item = OsString>,
    env: &dyn Fn(&str) -> Option<String>,
    probe: &Probe,
) -> Result<Invocation, ConfigError> {
    let raw = cli::parse(args)?;
    if raw.help {
        return Ok(Invocation::Help(cli::help_text()));
    }
    if raw.version {
        return Ok(Invocation::Version(cli::version_text()));
    }
    let (config_file, file) = match config_path(raw.config.as_deref(), env)? {
        Some(path) => {
            let layer = read_file_layer(&path)?;
            (Some(path), layer)
        }
        None => (None, Layer::default()),
    };
    let merged = flag_layer(&raw)?.over(env_layer(env)?).over(file);
    finish(&raw, merged, config_file, env, probe).map(Invocation::Run)
}

// ---------------------------------------------------------------------------
// Layers and merging

/// One source's values, validated; `None` = this source does not set it.
#[derive(Debug, Default, Clone, PartialEq)]
struct Layer {
    log_paths: Option<Vec<String>>,
    log_format: Option<String>,
    connections_interval: Option<Duration>,
    interface: Option<String>,
    show_private_ips: Option<bool>,
    trusted_proxies: Option<Vec<IpNet>>,
    max_tracked_ips: Option<usize>,
    auth_enabled: Option<bool>,
    auth_path: Option<PathBuf>,
    auth_source: Option<AuthChoice>,
    burst_rpm: Option<f64>,
    min_conns: Option<u32>,
    min_auth_failures: Option<u32>,
    scanner_user_agents: Option<Vec<String>>,
    exploit_path_patterns: Option<Vec<String>>,
    cidr_allow: Option<Vec<IpNet>>,
    cidr_deny: Option<Vec<IpNet>>,
    geoip_enabled: Option<bool>,
    city_db: Option<PathBuf>,
    asn_db: Option<PathBuf>,
    whois_enabled: Option<bool>,
    cache_ttl: Option<Duration>,
    max_workers: Option<u32>,
    rdap_bootstrap_url: Option<String>,
    history_enabled: Option<bool>,
    history_db: Option<PathBuf>,
    enable_block_execution: Option<bool>,
    hooks: Option<Vec<Hook>>,
    max_log_lines: Option<usize>,
    max_log_entries_per_ip: Option<usize>,
    cache_dir: Option<PathBuf>,
}

/// `--auth-source` / `[auth] source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthChoice {
    Auto,
    File,
    Journald,
}

macro_rules! over {
    ($hi:ident, $lo:ident; $($field:ident),* $(,)?) => {
        Layer { $($field: $hi.$field.or($lo.$field)),* }
    };
}

impl Layer {
    /// `self` wins wherever it sets a value.
    fn over(self, lower: Layer) -> Layer {
        let (hi, lo) = (self, lower);
        over!(hi, lo;
            log_paths, log_format, connections_interval, interface, show_private_ips,
            trusted_proxies, max_tracked_ips, auth_enabled, auth_path, auth_source,
            burst_rpm, min_conns, min_auth_failures, scanner_user_agents,
            exploit_path_patterns, cidr_allow, cidr_deny, geoip_enabled, city_db, asn_db,
            whois_enabled, cache_ttl, max_workers, rdap_bootstrap_url, history_enabled,
            history_db, enable_block_execution, hooks, max_log_lines,
            max_log_entries_per_ip, cache_dir,
        )
    }
}

/// The flags that have a config or environment counterpart.
fn flag_layer(raw: &RawArgs) -> Result<Layer, ConfigError> {
    let on = |set: bool| set.then_some(true);
    let off = |set: bool| set.then_some(false);
    let mut layer = Layer {
        show_private_ips: on(raw.show_private_ips),
        geoip_enabled: off(raw.no_geoip),
        whois_enabled: off(raw.no_whois),
        interface: raw.interface.clone(),
        ..Layer::default()
    };
    if !raw.log_paths.is_empty() {
        for glob in &raw.log_paths {
            check_glob(glob).map_err(|m| ConfigError::flag("log-path", m))?;
        }
        layer.log_paths = Some(raw.log_paths.clone());
    }
    if let Some(v) = &raw.log_format {
        layer.log_format =
            Some(parse_log_format(v).map_err(|m| ConfigError::flag("log-format", m))?);
    }
    if let Some(v) = &raw.connections_interval {
        let d = parse_interval_text(v).map_err(|m| ConfigError::flag("connections-interval", m))?;
        layer.connections_interval = Some(d);
    }
    flag_auth(raw, &mut layer)?;
    // A path given on the command line means "do keep history", unless
    // --no-history says otherwise on the same command line: the "no" wins.
    layer.history_db = raw.history_db.clone();
    layer.history_enabled = match (raw.no_history, raw.history_db.is_some()) {
        (true, _) => Some(false),
        (false, true) => Some(true),
        (false, false) => None,
    };
    Ok(layer)
}

/// `--no-auth-log` wins over `--auth-log-path` / `--auth-source`, as it did in
/// nethergaze 0.2.0; `--auth-log-path` with `--auth-source journald` is an error.
fn flag_auth(raw: &RawArgs, layer: &mut Layer) -> Result<(), ConfigError> {
    let choice = match &raw.auth_source {
        Some(v) => Some(parse_auth_source(v).map_err(|m| ConfigError::flag("auth-source", m))?),
        None => None,
    };
    if raw.auth_log_path.is_some() && choice == Some(AuthChoice::Journald) {
        return Err(ConfigError::usage(
            "--auth-log-path and --auth-source journald exclude each other",
        ));
    }
    layer.auth_path = raw.auth_log_path.clone();
    layer.auth_source = choice.or(raw.auth_log_path.as_ref().map(|_| AuthChoice::File));
    if raw.no_auth_log {
        layer.auth_enabled = Some(false);
    } else if layer.auth_source.is_some() {
        layer.auth_enabled = Some(true);
    }
    Ok(())
}

/// The `NETHERGAZE_*` variables of nethergaze 0.2.0. An empty value counts as unset.
fn env_layer(env: &dyn Fn(&str) -> Option<String>) -> Result<Layer, ConfigError> {
    let get = |var: &str| env(var).filter(|v| !v.is_empty());
    let bool_var = |var: &'static str| -> Result<Option<bool>, ConfigError> {
        get(var)
            .map(|v| parse_env_bool(&v).map_err(|msg| ConfigError::Env { var, msg }))
            .transpose()
    };
    let mut layer = Layer {
        interface: get("NETHERGAZE_INTERFACE"),
        geoip_enabled: bool_var("NETHERGAZE_GEOIP_ENABLED")?,
        whois_enabled: bool_var("NETHERGAZE_WHOIS_ENABLED")?,
        city_db: get("NETHERGAZE_GEOIP_CITY_DB").map(PathBuf::from),
        asn_db: get("NETHERGAZE_GEOIP_ASN_DB").map(PathBuf::from),
        ..Layer::default()
    };
    if let Some(glob) = get("NETHERGAZE_LOG_PATH") {
        let var = "NETHERGAZE_LOG_PATH";
        check_glob(&glob).map_err(|msg| ConfigError::Env { var, msg })?;
        layer.log_paths = Some(vec![glob]);
    }
    if let Some(v) = get("NETHERGAZE_LOG_FORMAT") {
        let var = "NETHERGAZE_LOG_FORMAT";
        layer.log_format = Some(parse_log_format(&v).map_err(|msg| ConfigError::Env { var, msg })?);
    }
    Ok(layer)
}

// ---------------------------------------------------------------------------
// Final assembly

fn finish(
    raw: &RawArgs,
    m: Layer,
    config_file: Option<PathBuf>,
    env: &dyn Fn(&str) -> Option<String>,
    probe: &Probe,
) -> Result<Config, ConfigError> {
    let mode = mode(raw)?;
    let color = match &raw.color {
        Some(v) => parse_color(v).map_err(|msg| ConfigError::flag("color", msg))?,
        None => ColorChoice::Auto,
    };
    let auth = resolve_auth(&m, env, probe);
    let home = |rel: &str| {
        env("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| Path::new(&h).join(rel))
    };
    let xdg = |var: &str, fallback: &str| {
        xdg_dir(env, var)
            .or_else(|| home(fallback))
            .map(|d| d.join("nethergaze"))
    };
    let log_paths = match m.log_paths {
        Some(paths) => paths,
        None => vec![resolve_default_log_path(&probe.log_candidates)],
    };
    Ok(Config {
        config_file,
        log_paths,
        log_format: m.log_format.unwrap_or_else(|| "auto".to_string()),
        from_start: raw.from_start,
        connections_interval: m
            .connections_interval
            .unwrap_or(DEFAULT_CONNECTIONS_INTERVAL),
        interface: m.interface,
        show_private_ips: m.show_private_ips.unwrap_or(false),
        trusted_proxies: m.trusted_proxies.unwrap_or_default(),
        max_tracked_ips: m.max_tracked_ips.unwrap_or(DEFAULT_MAX_TRACKED_IPS),
        proc_root: raw.proc_root.clone(),
        mode,
        json: raw.json,
        suspicious_only: raw.suspicious,
        color,
        auth,
        detect: DetectConfig {
            burst_rpm: m.burst_rpm.unwrap_or(60.0),
            min_conns: m.min_conns.unwrap_or(5),
            min_auth_failures: m.min_auth_failures.unwrap_or(3),
            scanner_user_agents: m.scanner_user_agents.unwrap_or_default(),
            exploit_path_patterns: m.exploit_path_patterns.unwrap_or_default(),
        },
        filters: FilterConfig {
            cidr_allow: m.cidr_allow.unwrap_or_default(),
            cidr_deny: m.cidr_deny.unwrap_or_default(),
        },
        geoip: GeoipConfig {
            enabled: m.geoip_enabled.unwrap_or(true),
            city_db: m.city_db.unwrap_or_else(|| DEFAULT_CITY_DB.into()),
            asn_db: m.asn_db.unwrap_or_else(|| DEFAULT_ASN_DB.into()),
        },
        whois: WhoisConfig {
            enabled: m.whois_enabled.unwrap_or(true),
            cache_ttl: m.cache_ttl.unwrap_or(DEFAULT_WHOIS_CACHE_TTL),
            max_workers: m.max_workers.unwrap_or(3),
            rdap_bootstrap_url: m
                .rdap_bootstrap_url
                .unwrap_or_else(|| DEFAULT_RDAP_BOOTSTRAP_URL.to_string()),
        },
        history: HistoryConfig {
            enabled: m.history_enabled.unwrap_or(true),
            db: m
                .history_db
                .or_else(|| xdg("XDG_STATE_HOME", ".local/state").map(|d| d.join("history.db"))),
        },
        actions: ActionsConfig {
            enable_block_execution: m.enable_block_execution.unwrap_or(false),
            hooks: m.hooks.unwrap_or_default(),
        },
        display: DisplayConfig {
            max_log_lines: m.max_log_lines.unwrap_or(500),
            max_log_entries_per_ip: m.max_log_entries_per_ip.unwrap_or(100),
        },
        cache_dir: m.cache_dir.or_else(|| xdg("XDG_CACHE_HOME", ".cache")),
    })
}

fn mode(raw: &RawArgs) -> Result<Mode, ConfigError> {
    let mode = match (&raw.for_duration, raw.once) {
        (Some(_), true) => {
            return Err(ConfigError::usage("--once and --for exclude each other"));
        }
        (Some(v), false) => Mode::For(parse_duration(v).map_err(|m| ConfigError::flag("for", m))?),
        (None, true) => Mode::Once,
        (None, false) => Mode::Dashboard,
    };
    if raw.json && mode == Mode::Dashboard {
        return Err(ConfigError::flag("json", "needs --once or --for"));
    }
    Ok(mode)
}

/// An XDG base directory from the environment; relative values are ignored,
/// as the XDG spec says.
fn xdg_dir(env: &dyn Fn(&str) -> Option<String>, var: &str) -> Option<PathBuf> {
    env(var).map(PathBuf::from).filter(|p| p.is_absolute())
}

/// `--config PATH` (must exist), else the XDG path, else `~/.nethergaze.toml`,
/// else no file.
fn config_path(
    explicit: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<PathBuf>, ConfigError> {
    if let Some(path) = explicit {
        if !path.exists() {
            return Err(ConfigError::flag(
                "config",
                format!("{} does not exist", path.display()),
            ));
        }
        return Ok(Some(path.to_path_buf()));
    }
    let home = env("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
    let xdg = xdg_dir(env, "XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|h| h.join(".config")));
    let candidates = [
        xdg.map(|d| d.join("nethergaze").join("config.toml")),
        home.map(|h| h.join(".nethergaze.toml")),
    ];
    Ok(candidates.into_iter().flatten().find(|p| p.exists()))
}

/// The first glob of `candidates` that matches a regular file; if none
/// does, the first one (so the source reports it missing).
pub fn resolve_default_log_path(candidates: &[String]) -> String {
    candidates
        .iter()
        .find(|c| glob_has_file(c))
        .or(candidates.first())
        .cloned()
        .unwrap_or_else(|| DEFAULT_LOG_CANDIDATES[0].to_string())
}

fn resolve_auth(m: &Layer, env: &dyn Fn(&str) -> Option<String>, probe: &Probe) -> AuthConfig {
    let plain = |source| AuthConfig { source, note: None };
    if m.auth_enabled == Some(false) {
        return AuthConfig {
            source: AuthSource::None,
            note: Some("sshd events off (--no-auth-log or [auth] enabled = false)".into()),
        };
    }
    let existing = || probe.auth_candidates.iter().find(|p| p.exists()).cloned();
    let journalctl = on_path("journalctl", env);
    match m.auth_source.unwrap_or(AuthChoice::Auto) {
        AuthChoice::File => {
            let path = m.auth_path.clone().or_else(existing);
            let first = probe.auth_candidates.first().cloned();
            match path.or(first) {
                Some(p) => plain(AuthSource::File(p)),
                None => AuthConfig {
                    source: AuthSource::None,
                    note: Some("no sshd log file given".into()),
                },
            }
        }
        AuthChoice::Journald if journalctl => plain(AuthSource::Journald),
        AuthChoice::Journald => AuthConfig {
            source: AuthSource::Journald,
            note: Some("journalctl is not on PATH".into()),
        },
        AuthChoice::Auto => match m.auth_path.clone().or_else(existing) {
            Some(p) => plain(AuthSource::File(p)),
            None if journalctl => plain(AuthSource::Journald),
            None => AuthConfig {
                source: AuthSource::None,
                note: Some(format!(
                    "no sshd log: {} missing and journalctl not on PATH",
                    probe
                        .auth_candidates
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            },
        },
    }
}

/// Whether an executable `name` is in one of `$PATH`'s directories.
fn on_path(name: &str, env: &dyn Fn(&str) -> Option<String>) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = env("PATH") else {
        return false;
    };
    path.split(':').filter(|d| !d.is_empty()).any(|dir| {
        std::fs::metadata(Path::new(dir).join(name))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

// ---------------------------------------------------------------------------
// Globs

/// Splits a glob into its literal directory and its file-name pattern.
/// `access.log` (no slash) is in `.`.
pub fn split_glob(glob: &str) -> (&str, &str) {
    match glob.rfind('/') {
        Some(0) => ("/", &glob[1..]),
        Some(i) => (&glob[..i], &glob[i + 1..]),
        None => (".", glob),
    }
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// A glob is usable when it names files in one literal directory.
pub fn check_glob(glob: &str) -> Result<(), String> {
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
    if has_wildcard(dir) {
        return Err(format!(
            "`{glob}`: wildcards are allowed only in the file name; the directory `{dir}` must be literal"
        ));
    }
    if unclosed_bracket(name.as_bytes()) {
        return Err(format!("`{glob}`: unclosed `[`"));
    }
    Ok(())
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
pub fn glob_matches(pat: &[u8], name: &[u8]) -> bool {
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
pub fn glob_has_file(glob: &str) -> bool {
    use std::os::unix::ffi::OsStrExt;
    if check_glob(glob).is_err() {
        return false;
    }
    let (dir, name) = split_glob(glob);
    if !has_wildcard(name) {
        return Path::new(glob).is_file();
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries
        .flatten()
        .any(|e| glob_matches(name.as_bytes(), e.file_name().as_bytes()) && e.path().is_file())
}

// ---------------------------------------------------------------------------
// Value validators, shared by flags, environment and file. They return the
// message without the key; the caller says which key.

/// `30s`, `5m`, `1h`, or bare seconds; more than zero.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration `{s}` (use 30s, 5m, 1h)");
    let (digits, unit) = match s.as_bytes().last() {
        Some(b's') => (&s[..s.len() - 1], 1),
        Some(b'm') => (&s[..s.len() - 1], 60),
        Some(b'h') => (&s[..s.len() - 1], 3600),
        _ => (s, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let secs = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .ok_or_else(bad)?;
    if secs == 0 {
        return Err(format!("duration `{s}` must be more than zero"));
    }
    Ok(Duration::from_secs(secs))
}

/// Seconds as a decimal number, for `--connections-interval`.
fn parse_interval_text(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("invalid number of seconds `{s}`"))?;
    parse_interval(secs)
}

/// A refresh interval: at least [`MIN_CONNECTIONS_INTERVAL`], at most a day.
fn parse_interval(secs: f64) -> Result<Duration, String> {
    let min = MIN_CONNECTIONS_INTERVAL.as_secs_f64();
    if !(min..=86_400.0).contains(&secs) {
        return Err(format!("{secs} s is out of range ({min} to 86400 seconds)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A network or a bare address (as a /32 or /128); host bits are cleared,
/// as Python's `ip_network(strict=False)` did.
pub fn parse_cidr(s: &str) -> Result<IpNet, String> {
    let t = s.trim();
    if let Ok(net) = t.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    t.parse::<std::net::IpAddr>()
        .map(|ip| IpNet::from(ip.to_canonical()))
        .map_err(|_| format!("invalid CIDR `{s}` (use e.g. 203.0.113.0/24 or 2001:db8::/32)"))
}

/// The named formats or an nginx `log_format` string (anything with `$`).
pub fn parse_log_format(s: &str) -> Result<String, String> {
    if s.contains('$') {
        return Ok(s.to_string());
    }
    let name = s.trim().to_ascii_lowercase();
    if LOG_FORMAT_NAMES.contains(&name.as_str()) {
        return Ok(name);
    }
    Err(format!(
        "invalid log format `{s}` (use {}, or an nginx log_format string with $variables)",
        LOG_FORMAT_NAMES.join(", ")
    ))
}

/// Compiles the pattern once to prove it is valid.
pub fn check_regex(pattern: &str) -> Result<(), String> {
    regex_automata::meta::Regex::new(pattern)
        .map(|_| ())
        .map_err(|e| {
            // The syntax error's Display is a multi-line drawing; its last
            // `error: ` line is the part worth a one-line message.
            let why = e
                .syntax_error()
                .map(|se| se.to_string())
                .and_then(|t| {
                    t.lines()
                        .rev()
                        .find_map(|l| l.strip_prefix("error: "))
                        .map(String::from)
                })
                .unwrap_or_else(|| e.to_string());
            format!("invalid regex `{pattern}`: {why}")
        })
}

fn parse_color(s: &str) -> Result<ColorChoice, String> {
    match s {
        "auto" => Ok(ColorChoice::Auto),
        "always" => Ok(ColorChoice::Always),
        "never" => Ok(ColorChoice::Never),
        _ => Err(format!("invalid value `{s}` (use auto, always or never)")),
    }
}

fn parse_auth_source(s: &str) -> Result<AuthChoice, String> {
    match s {
        "auto" => Ok(AuthChoice::Auto),
        "file" => Ok(AuthChoice::File),
        "journald" => Ok(AuthChoice::Journald),
        _ => Err(format!("invalid value `{s}` (use auto, file or journald)")),
    }
}

/// 0.2.0 took 1/true/yes as true and anything else as false; a value that is
/// neither clearly true nor clearly false is now an error rather than a guess.
fn parse_env_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!(
            "invalid boolean `{s}` (use 1/true/yes/on or 0/false/no/off)"
        )),
    }
}

fn parse_url(s: &str) -> Result<String, String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !s.contains(char::is_whitespace) => {
            Ok(if s.ends_with('/') {
                s.to_string()
            } else {
                format!("{s}/")
            })
        }
        _ => Err(format!("invalid URL `{s}` (use http:// or https://)")),
    }
}

// ---------------------------------------------------------------------------
// The file

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
    suspicious_min_conns: Option<Spanned<i64>>,
    suspicious_min_auth_failures: Option<Spanned<i64>>,
    scanner_user_agents: Option<Vec<Spanned<String>>>,
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

fn read_file_layer(path: &Path) -> Result<Layer, ConfigError> {
    let src = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
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
        max_tracked_ips: ctx.opt("max_tracked_ips", &root.max_tracked_ips, |&n| {
            at_least(n, 1)
        })?,
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
    let positive = |&n: &i64| at_least(n, 1);
    layer.max_log_lines = ctx.opt("[log] max_log_lines", &log.max_log_lines, positive)?;
    layer.max_log_entries_per_ip = ctx.opt(
        "[log] max_log_entries_per_ip",
        &log.max_log_entries_per_ip,
        positive,
    )?;
    Ok(())
}

/// `[refresh]` and `[auth]`.
fn file_sources(ctx: &FileCtx, root: &FileRoot, layer: &mut Layer) -> Result<(), ConfigError> {
    let r = &root.refresh;
    layer.connections_interval = ctx.opt(
        "[refresh] connections_interval",
        &r.connections_interval,
        |&s| parse_interval(s),
    )?;
    let ignored = |&s: &f64| non_negative(s);
    ctx.opt("[refresh] log_interval", &r.log_interval, ignored)?;
    ctx.opt(
        "[refresh] bandwidth_interval",
        &r.bandwidth_interval,
        ignored,
    )?;
    ctx.opt("[refresh] auth_log_interval", &r.auth_log_interval, ignored)?;

    let a = &root.auth;
    ctx.opt("[auth] interval", &a.interval, ignored)?;
    ctx.opt("[auth] log_interval", &a.log_interval, ignored)?;
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
    // A path alone means "this file", as it did in 0.2.0.
    layer.auth_source = match (source, &layer.auth_path) {
        (None | Some(AuthChoice::Auto), Some(_)) => Some(AuthChoice::File),
        (s, _) => s,
    };
    Ok(())
}

fn file_filters(ctx: &FileCtx, f: &FiltersSection, layer: &mut Layer) -> Result<(), ConfigError> {
    layer.cidr_allow = ctx.list("[filters] cidr_allow", &f.cidr_allow, |s| parse_cidr(s))?;
    layer.cidr_deny = ctx.list("[filters] cidr_deny", &f.cidr_deny, |s| parse_cidr(s))?;
    layer.burst_rpm = ctx.opt(
        "[filters] suspicious_burst_rpm",
        &f.suspicious_burst_rpm,
        |&r| {
            if r.is_finite() && r > 0.0 {
                Ok(r)
            } else {
                Err(format!("{r} must be a number above 0"))
            }
        },
    )?;
    let count = |&n: &i64| at_least(n, 1).and_then(|n| u32::try_from(n).map_err(|e| e.to_string()));
    layer.min_conns = ctx.opt(
        "[filters] suspicious_min_conns",
        &f.suspicious_min_conns,
        count,
    )?;
    layer.min_auth_failures = ctx.opt(
        "[filters] suspicious_min_auth_failures",
        &f.suspicious_min_auth_failures,
        count,
    )?;
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
    layer.exploit_path_patterns = ctx.list(
        "[filters] exploit_path_patterns",
        &f.exploit_path_patterns,
        |s: &String| check_regex(s).map(|()| s.clone()),
    )?;
    Ok(())
}

/// `[geoip]`, `[whois]`, `[history]`, `[cache]`.
fn file_enrichment(ctx: &FileCtx, root: &FileRoot, layer: &mut Layer) -> Result<(), ConfigError> {
    layer.geoip_enabled = root.geoip.enabled;
    layer.city_db = root.geoip.city_db.clone();
    layer.asn_db = root.geoip.asn_db.clone();
    let w = &root.whois;
    layer.whois_enabled = w.enabled;
    layer.cache_ttl = ctx.opt("[whois] cache_ttl", &w.cache_ttl, |&n| {
        at_least(n, 0).map(|n| Duration::from_secs(n as u64))
    })?;
    layer.max_workers = ctx.opt("[whois] max_workers", &w.max_workers, |&n| {
        at_least(n, 1).and_then(|n| u32::try_from(n).map_err(|e| e.to_string()))
    })?;
    layer.rdap_bootstrap_url =
        ctx.opt("[whois] rdap_bootstrap_url", &w.rdap_bootstrap_url, |s| {
            parse_url(s)
        })?;
    layer.history_enabled = root.history.enabled;
    layer.history_db = root.history.db.clone();
    layer.cache_dir = root.cache.dir.clone();
    Ok(())
}

fn file_hooks(ctx: &FileCtx, entries: &[HookEntry]) -> Result<Vec<Hook>, ConfigError> {
    let mut hooks: Vec<Hook> = Vec::with_capacity(entries.len());
    for e in entries {
        let key = ctx.check("[[actions.hooks]] key", &e.key, hook_key)?;
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
        let timeout = ctx.opt("[[actions.hooks]] timeout", &e.timeout, |&s| {
            if s.is_finite() && s > 0.0 && s <= 86_400.0 {
                Ok(Duration::from_secs_f64(s))
            } else {
                Err(format!("{s} must be between 0 and 86400 seconds"))
            }
        })?;
        hooks.push(Hook {
            key,
            label: e.label.clone().unwrap_or_else(|| command.clone()),
            command,
            timeout: timeout.unwrap_or(DEFAULT_HOOK_TIMEOUT),
        });
    }
    Ok(hooks)
}

/// `"1"`..`"9"`, or the integer for convenience.
fn hook_key(v: &toml::Value) -> Result<char, String> {
    let text = match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(n) => n.to_string(),
        other => {
            return Err(format!(
                "expected a string \"1\"..\"9\", found {}",
                other.type_str()
            ))
        }
    };
    match text.as_bytes() {
        [c @ b'1'..=b'9'] => Ok(char::from(*c)),
        _ => Err(format!("`{text}` is not a key from 1 to 9")),
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

fn at_least(n: i64, min: i64) -> Result<usize, String> {
    if n < min {
        return Err(format!("{n} must be at least {min}"));
    }
    usize::try_from(n).map_err(|e| e.to_string())
}

fn non_negative(s: f64) -> Result<f64, String> {
    if s.is_finite() && s >= 0.0 {
        Ok(s)
    } else {
        Err(format!("{s} must be a number of seconds, 0 or more"))
    }
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
    let label = match (table.as_deref(), key) {
        (Some("") | None, Some(k)) => format!("{k}: "),
        (Some(t), Some(k)) => format!("[{t}] {k}: "),
        (Some(_), None) => format!("{where_}: "),
        (None, None) => String::new(),
    };
    ctx.err(span, format!("{label}{msg}"))
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
    out
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
    let line_end = src[offset..].find('\n').map_or(src.len(), |i| offset + i);
    for line in src[..line_end].lines().rev() {
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

#[cfg(test)]
mod tests;
