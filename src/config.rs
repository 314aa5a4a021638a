//! Configuration, phase two: config file + environment + raw flags → one
//! validated [`Config`], before anything starts.
//!
//! Each source becomes a `Layer` of typed, validated values (`None` = not
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
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

use crate::cli::{self, RawArgs};
use crate::parse::UnixTime;

mod file;
mod limits;

pub(crate) use crate::source::glob::{check_glob, glob_has_file};
use file::read_file_layer;

/// Default access-log globs, in order: the first that matches a file wins.
pub(crate) const DEFAULT_LOG_CANDIDATES: [&str; 4] = [
    "/var/log/nginx/*.access.log",
    "/var/log/nginx/access.log",
    "/var/log/apache2/*access.log",
    "/var/log/caddy/*.log",
];
/// sshd log files tried by `--auth-source auto`, in order.
pub(crate) const DEFAULT_AUTH_CANDIDATES: [&str; 2] = ["/var/log/auth.log", "/var/log/secure"];
/// The system-wide config file, read when the user has none (where fail2ban,
/// CrowdSec and GoAccess users look).
pub(crate) const SYSTEM_CONFIG: &str = "/etc/nethergaze/config.toml";
/// Default `max_tracked_ips`.
pub(crate) const DEFAULT_MAX_TRACKED_IPS: usize = 50_000;
/// Default `[whois] rdap_bootstrap_url`: the folder holding ipv4.json and ipv6.json.
pub(crate) const DEFAULT_RDAP_BOOTSTRAP_URL: &str = "https://data.iana.org/rdap/";
/// Default `[geoip] city_db`.
pub(crate) const DEFAULT_CITY_DB: &str = "/usr/share/GeoIP/GeoLite2-City.mmdb";
/// Default `[geoip] asn_db`.
pub(crate) const DEFAULT_ASN_DB: &str = "/usr/share/GeoIP/GeoLite2-ASN.mmdb";
/// Default `[actions] hooks[].timeout`.
pub(crate) const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `[whois] cache_ttl`: 24 h.
pub(crate) const DEFAULT_WHOIS_CACHE_TTL: Duration = Duration::from_secs(86_400);
/// Default `[refresh] blocked_interval`.
pub(crate) const DEFAULT_BLOCKED_INTERVAL: Duration = Duration::from_secs(30);
/// Default `[refresh] bandwidth_interval`, as 0.2.0's.
pub(crate) const DEFAULT_BANDWIDTH_INTERVAL: Duration = Duration::from_secs(30);
/// Default `[refresh] metrics_interval`: node-exporter's usual scrape period.
pub(crate) const DEFAULT_METRICS_INTERVAL: Duration = Duration::from_secs(15);
/// Default `connections_interval`.
pub(crate) const DEFAULT_CONNECTIONS_INTERVAL: Duration = Duration::from_secs(1);
/// Shortest accepted `connections_interval`: below it the dump costs more than it tells.
#[cfg(test)]
pub(crate) const MIN_CONNECTIONS_INTERVAL: Duration = Duration::from_millis(100);

/// Access-log formats known by name; anything containing `$` is an nginx `log_format`.
pub(crate) const LOG_FORMAT_NAMES: [&str; 5] =
    ["auto", "combined", "common", "vhost_combined", "json"];

/// What `main` should do.
// Built once at start-up, so the size difference between variants is irrelevant.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Invocation {
    /// Start with this configuration.
    Run(Config),
    /// Print this (`--help`) to stdout and exit 0.
    Help(String),
    /// Print this (`--version`) to stdout and exit 0.
    Version(String),
    /// `--check-config`: everything loaded; print the warnings and exit 1 if
    /// there are any, else 0.
    CheckConfig(CheckReport),
}

/// What `--check-config` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CheckReport {
    /// The config file read, if any.
    pub(crate) file: Option<PathBuf>,
    /// Where a config file was looked for when none was found.
    pub(crate) searched: Vec<PathBuf>,
    pub(crate) warnings: Vec<ConfigWarning>,
}

/// A config file value that 0.2.0 accepted and this version reads in its own
/// way: the start goes on, the warning says what was done (stderr), and
/// `--check-config` exits 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigWarning {
    pub(crate) path: PathBuf,
    pub(crate) line: usize,
    /// Names the key and says what was done with it.
    pub(crate) msg: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "nethergaze: warning: config file {} line {}: {}",
            self.path.display(),
            self.line,
            self.msg
        )
    }
}

/// How the run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The interactive dashboard (needs a terminal).
    Dashboard,
    /// `--once`: one snapshot, printed.
    Once,
    /// `--for`: live without a screen for this long, then a snapshot.
    For(Duration),
    /// `--events` without `--for`: live without a screen until a
    /// terminating signal, the event stream the only output.
    Stream,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColorChoice {
    /// Colour on a terminal unless `NO_COLOR` is non-empty or `TERM=dumb`.
    Auto,
    /// Always colour (an explicit flag wins over `NO_COLOR`).
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Whether to emit colour, given whether the output is a terminal.
    pub(crate) fn enabled(self, is_tty: bool, env: &dyn Fn(&str) -> Option<String>) -> bool {
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
pub(crate) enum AuthSource {
    /// Tail this file.
    File(PathBuf),
    /// Read `journalctl -f` for sshd.
    Journald,
    /// No sshd events (disabled, or nothing found: see [`AuthConfig::note`]).
    None,
}

/// The sshd source and why it was chosen when that is worth telling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthConfig {
    pub(crate) source: AuthSource,
    /// For the header / summary, e.g. why there is no sshd source.
    pub(crate) note: Option<String>,
    /// journald only: read the journal files in this directory (`journalctl
    /// --directory`), e.g. a rescued system's, instead of this system's.
    pub(crate) journal_directory: Option<PathBuf>,
    /// The user named it (a path, or journald asked for): a failure to
    /// read it sets the exit status; a default that fails is reported only.
    pub(crate) named: bool,
}

/// Suspicious-IP thresholds and extra patterns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DetectConfig {
    /// `burst` when the burst meter exceeds this (`suspicious_burst_rpm`, default 60).
    pub(crate) burst_rpm: f64,
    /// Seconds without new evidence after which a reason fades
    /// (`reason_ttl`, default an hour).
    pub(crate) reason_ttl: UnixTime,
    /// `conns_no_requests` from this many inbound sockets (default 5).
    pub(crate) min_conns: u32,
    /// `auth_failures` from this many failures (default 3).
    pub(crate) min_auth_failures: u32,
    /// Extra scanner user-agent substrings, added to the built-in list.
    pub(crate) scanner_user_agents: Vec<String>,
    /// Extensions of static assets, which count a quarter in the burst rate
    /// (`static_extensions`; each without its dot).
    pub(crate) static_extensions: Vec<String>,
    /// Extra exploit path regexes (each known to compile), added to the built-in ones.
    pub(crate) exploit_path_patterns: Vec<String>,
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
pub(crate) struct GeoipConfig {
    pub(crate) enabled: bool,
    pub(crate) city_db: PathBuf,
    pub(crate) asn_db: PathBuf,
}

/// `[whois]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WhoisConfig {
    /// `false` means no outbound connection at all.
    pub(crate) enabled: bool,
    pub(crate) cache_ttl: Duration,
    /// Accepted for 0.2.0 compatibility; lookups run on one worker thread.
    pub(crate) max_workers: u32,
    /// Always ends with `/`.
    pub(crate) rdap_bootstrap_url: String,
    /// First legacy whois server (`host:port`), asked when RDAP fails.
    pub(crate) whois_server: String,
}

/// `[history]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HistoryConfig {
    pub(crate) enabled: bool,
    /// `None` when no path was given and neither `$XDG_STATE_HOME` nor `$HOME` is set.
    pub(crate) db: Option<PathBuf>,
}

/// One `[[actions.hooks]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hook {
    /// `'1'`..=`'9'`, unique.
    pub(crate) key: char,
    pub(crate) label: String,
    /// Run under `sh -c` with `{ip}` replaced.
    pub(crate) command: String,
    pub(crate) timeout: Duration,
}

/// `[actions]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ActionsConfig {
    pub(crate) enable_block_execution: bool,
    pub(crate) hooks: Vec<Hook>,
    /// The jail, cscli duration and reason, nft table and sets the block
    /// commands use.
    pub(crate) targets: crate::actions::block::BlockTargets,
}

/// Display limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DisplayConfig {
    pub(crate) max_log_lines: usize,
    pub(crate) max_log_entries_per_ip: usize,
}

/// The validated configuration of one run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Config {
    /// The config file that was read, if any.
    pub(crate) config_file: Option<PathBuf>,
    /// Access-log globs (checked; wildcards in any component).
    pub(crate) log_paths: Vec<String>,
    /// `log_paths` came from a flag, the environment or the config file
    /// (not the default candidates): a failure to read one sets the exit status.
    pub(crate) log_paths_named: bool,
    /// A name of [`LOG_FORMAT_NAMES`] or an nginx `log_format` string.
    pub(crate) log_format: String,
    pub(crate) from_start: bool,
    /// `--since` / `[log] since`: read back this far through the logs and
    /// their rotated copies at start.
    pub(crate) since: Option<Duration>,
    /// `--resume`: logs start where the last run with this history file
    /// stopped (headless only, history on).
    pub(crate) resume: bool,
    /// `[log] follow_symlinks`: follow a symlink a glob matches (a path
    /// named exactly is always followed).
    pub(crate) follow_symlinks: bool,
    pub(crate) connections_interval: Duration,
    /// `[refresh] bandwidth_interval`: how often vnstat is asked for the
    /// month's totals.
    pub(crate) bandwidth_interval: Duration,
    /// `--metrics-file`: where Prometheus metrics are written, if anywhere.
    pub(crate) metrics_file: Option<PathBuf>,
    /// `[refresh] metrics_interval`: how often the metrics file is replaced.
    pub(crate) metrics_interval: Duration,
    /// `[refresh] blocked_interval`: how often the firewalls and ban
    /// engines are asked which addresses they block (zero: never).
    pub(crate) blocked_interval: Duration,
    /// `None`: the interface of the default route.
    pub(crate) interface: Option<String>,
    pub(crate) show_private_ips: bool,
    pub(crate) trusted_proxies: Vec<IpNet>,
    pub(crate) max_tracked_ips: usize,
    pub(crate) proc_root: Option<PathBuf>,
    /// `--demo`: synthetic traffic replaces the log, auth and socket sources.
    pub(crate) demo: bool,
    pub(crate) mode: Mode,
    pub(crate) json: bool,
    /// `--events` / `--events-file`: where the event stream goes.
    pub(crate) events: crate::engine::events::EventsConfig,
    pub(crate) suspicious_only: bool,
    /// `--group-by`: the table's grouping (`Ip`: none).
    pub(crate) group_by: crate::view::groups::GroupBy,
    pub(crate) color: ColorChoice,
    pub(crate) auth: AuthConfig,
    pub(crate) detect: DetectConfig,
    pub(crate) filters: FilterConfig,
    pub(crate) geoip: GeoipConfig,
    pub(crate) whois: WhoisConfig,
    pub(crate) history: HistoryConfig,
    pub(crate) actions: ActionsConfig,
    pub(crate) display: DisplayConfig,
    /// `[cache] dir`, else `$XDG_CACHE_HOME/nethergaze`, else `~/.cache/nethergaze`.
    pub(crate) cache_dir: Option<PathBuf>,
    /// Where nethergaze 0.2.0 kept its data: `~/.cache/nethergaze` (it did
    /// not read `$XDG_CACHE_HOME`); imported once (`store::import`).
    pub(crate) old_data_dir: Option<PathBuf>,
    /// `--import-history PATH`: import 0.2.0's files and exit.
    pub(crate) import_history: Option<PathBuf>,
    /// What the config file held that was ignored or adjusted; `main`
    /// prints them on stderr before anything starts.
    pub(crate) warnings: Vec<ConfigWarning>,
}

/// A start-up error; `main` prints it to stderr and exits 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConfigError {
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
pub(crate) struct Probe {
    /// Access-log globs tried when none is configured, in order.
    pub(crate) log_candidates: Vec<String>,
    /// sshd log files tried by `auto`, in order.
    pub(crate) auth_candidates: Vec<PathBuf>,
    /// The config file read when the user has none ([`SYSTEM_CONFIG`]).
    pub(crate) system_config: PathBuf,
}

impl Probe {
    /// The real paths of a Debian / RHEL / Caddy box.
    pub(crate) fn system() -> Self {
        Probe {
            log_candidates: DEFAULT_LOG_CANDIDATES.map(String::from).to_vec(),
            auth_candidates: DEFAULT_AUTH_CANDIDATES.map(PathBuf::from).to_vec(),
            system_config: PathBuf::from(SYSTEM_CONFIG),
        }
    }
}

/// Parses the command line, reads the config file and the environment
/// (through `env`, so tests can fake it) and validates everything.
pub(crate) fn load(
    args: impl IntoIterator<Item = OsString>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Invocation, ConfigError> {
    load_with(args, env, &Probe::system())
}

/// [`load`] with the machine probe given explicitly.
pub(crate) fn load_with(
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
    let searched = config_candidates(env, probe);
    let (config_file, file, warnings) = match config_path(raw.config.as_deref(), &searched)? {
        Some(path) => {
            let (layer, warnings) = read_file_layer(&path)?;
            (Some(path), layer, warnings)
        }
        None => (None, Layer::default(), Vec::new()),
    };
    let merged = flag_layer(&raw)?.over(env_layer(env)?).over(file);
    let mut config = finish(&raw, merged, config_file, env, probe)?;
    if raw.check_config {
        return Ok(Invocation::CheckConfig(CheckReport {
            file: config.config_file,
            searched,
            warnings,
        }));
    }
    config.warnings = warnings;
    Ok(Invocation::Run(config))
}

// ---------------------------------------------------------------------------
// Layers and merging

/// One source's values, validated; `None` = this source does not set it.
#[derive(Debug, Default, Clone, PartialEq)]
struct Layer {
    log_paths: Option<Vec<String>>,
    log_format: Option<String>,
    follow_symlinks: Option<bool>,
    since: Option<Duration>,
    connections_interval: Option<Duration>,
    bandwidth_interval: Option<Duration>,
    metrics_interval: Option<Duration>,
    blocked_interval: Option<Duration>,
    interface: Option<String>,
    show_private_ips: Option<bool>,
    trusted_proxies: Option<Vec<IpNet>>,
    max_tracked_ips: Option<usize>,
    auth_enabled: Option<bool>,
    auth_path: Option<PathBuf>,
    auth_source: Option<AuthChoice>,
    journal_directory: Option<PathBuf>,
    burst_rpm: Option<f64>,
    reason_ttl: Option<UnixTime>,
    min_conns: Option<u32>,
    min_auth_failures: Option<u32>,
    scanner_user_agents: Option<Vec<String>>,
    static_extensions: Option<Vec<String>>,
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
    whois_server: Option<String>,
    history_enabled: Option<bool>,
    history_db: Option<PathBuf>,
    enable_block_execution: Option<bool>,
    hooks: Option<Vec<Hook>>,
    fail2ban_jail: Option<String>,
    cscli_duration: Option<String>,
    cscli_reason: Option<String>,
    nft_table: Option<String>,
    nft_set_v4: Option<String>,
    nft_set_v6: Option<String>,
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
            log_paths, log_format, follow_symlinks, since, connections_interval, interface, show_private_ips,
            bandwidth_interval, blocked_interval,
            trusted_proxies, max_tracked_ips, auth_enabled, auth_path, auth_source,
            journal_directory,
            burst_rpm, reason_ttl, min_conns, min_auth_failures, scanner_user_agents,
            static_extensions,
            exploit_path_patterns, cidr_allow, cidr_deny, geoip_enabled, city_db, asn_db,
            whois_enabled, cache_ttl, max_workers, rdap_bootstrap_url, whois_server,
            history_enabled,
            history_db, enable_block_execution, hooks, max_log_lines,
            max_log_entries_per_ip, cache_dir,
            fail2ban_jail, cscli_duration, cscli_reason, nft_table, nft_set_v4, nft_set_v6,
            metrics_interval,
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
    if let Some(v) = &raw.since {
        layer.since = Some(parse_duration(v).map_err(|m| ConfigError::flag("since", m))?);
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
    check_resume(raw, mode, &m)?;
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
    let log_paths_named = m.log_paths.is_some();
    let log_paths = match m.log_paths {
        Some(paths) => paths,
        None => vec![resolve_default_log_path(&probe.log_candidates)],
    };
    Ok(Config {
        config_file,
        log_paths,
        log_paths_named,
        log_format: m.log_format.unwrap_or_else(|| "auto".to_string()),
        from_start: raw.from_start,
        since: m.since,
        resume: raw.resume,
        follow_symlinks: m.follow_symlinks.unwrap_or(false),
        connections_interval: m
            .connections_interval
            .unwrap_or(DEFAULT_CONNECTIONS_INTERVAL),
        bandwidth_interval: m.bandwidth_interval.unwrap_or(DEFAULT_BANDWIDTH_INTERVAL),
        metrics_file: metrics_file(raw)?,
        metrics_interval: m.metrics_interval.unwrap_or(DEFAULT_METRICS_INTERVAL),
        blocked_interval: m.blocked_interval.unwrap_or(DEFAULT_BLOCKED_INTERVAL),
        interface: m.interface,
        show_private_ips: m.show_private_ips.unwrap_or(false),
        trusted_proxies: m.trusted_proxies.unwrap_or_default(),
        max_tracked_ips: m.max_tracked_ips.unwrap_or(DEFAULT_MAX_TRACKED_IPS),
        proc_root: raw.proc_root.clone(),
        demo: raw.demo,
        mode,
        json: raw.json,
        events: crate::engine::events::EventsConfig {
            stdout: raw.events,
            file: raw.events_file.clone(),
        },
        suspicious_only: raw.suspicious,
        group_by: group_by(raw)?,
        color,
        auth,
        detect: DetectConfig {
            burst_rpm: m.burst_rpm.unwrap_or(60.0),
            reason_ttl: m.reason_ttl.unwrap_or(crate::detect::DEFAULT_REASON_TTL),
            min_conns: m.min_conns.unwrap_or(5),
            min_auth_failures: m.min_auth_failures.unwrap_or(3),
            scanner_user_agents: m.scanner_user_agents.unwrap_or_default(),
            static_extensions: m.static_extensions.unwrap_or_else(|| {
                crate::detect::DEFAULT_STATIC_EXTENSIONS
                    .iter()
                    .map(|e| e.to_string())
                    .collect()
            }),
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
            whois_server: m
                .whois_server
                .unwrap_or_else(|| crate::enrich::whois::DEFAULT_WHOIS_SERVER.to_string()),
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
            targets: block_targets(
                m.fail2ban_jail,
                m.cscli_duration,
                m.cscli_reason,
                m.nft_table,
                m.nft_set_v4,
                m.nft_set_v6,
            ),
        },
        display: DisplayConfig {
            max_log_lines: m.max_log_lines.unwrap_or(500),
            max_log_entries_per_ip: m.max_log_entries_per_ip.unwrap_or(100),
        },
        cache_dir: m.cache_dir.or_else(|| xdg("XDG_CACHE_HOME", ".cache")),
        old_data_dir: home(".cache/nethergaze"),
        import_history: raw.import_history.clone(),
        warnings: Vec::new(),
    })
}

/// `--metrics-file`: a file name is needed (the temporary file is written
/// beside it and renamed over it).
fn metrics_file(raw: &RawArgs) -> Result<Option<PathBuf>, ConfigError> {
    let Some(path) = &raw.metrics_file else {
        return Ok(None);
    };
    let names_a_file =
        path.file_name().is_some() && !path.as_os_str().as_encoded_bytes().ends_with(b"/");
    if !names_a_file {
        return Err(ConfigError::flag(
            "metrics-file",
            format!("`{}` names no file", path.display()),
        ));
    }
    Ok(Some(path.clone()))
}

/// `[actions]`'s block targets, each key's default where it is not set.
fn block_targets(
    fail2ban_jail: Option<String>,
    cscli_duration: Option<String>,
    cscli_reason: Option<String>,
    nft_table: Option<String>,
    nft_set_v4: Option<String>,
    nft_set_v6: Option<String>,
) -> crate::actions::block::BlockTargets {
    let d = crate::actions::block::BlockTargets::default();
    crate::actions::block::BlockTargets {
        fail2ban_jail: fail2ban_jail.unwrap_or(d.fail2ban_jail),
        cscli_duration: cscli_duration.unwrap_or(d.cscli_duration),
        cscli_reason: cscli_reason.or(d.cscli_reason),
        nft_table: nft_table.unwrap_or(d.nft_table),
        nft_set_v4: nft_set_v4.unwrap_or(d.nft_set_v4),
        nft_set_v6: nft_set_v6.unwrap_or(d.nft_set_v6),
    }
}

fn mode(raw: &RawArgs) -> Result<Mode, ConfigError> {
    let mode = match (&raw.for_duration, raw.once) {
        (Some(_), true) => {
            return Err(ConfigError::usage("--once and --for exclude each other"));
        }
        (Some(v), false) => Mode::For(parse_duration(v).map_err(|m| ConfigError::flag("for", m))?),
        (None, true) => Mode::Once,
        (None, false) if raw.events => Mode::Stream,
        (None, false) => Mode::Dashboard,
    };
    if raw.events && raw.once {
        return Err(ConfigError::flag(
            "events",
            "follows the logs: use it alone or with --for, not with --once",
        ));
    }
    if raw.events && raw.json {
        return Err(ConfigError::flag(
            "json",
            "with --events, stdout is the event stream (no snapshot is printed)",
        ));
    }
    if raw.json && mode == Mode::Dashboard {
        return Err(ConfigError::flag("json", "needs --once or --for"));
    }
    Ok(mode)
}

/// `--group-by`: net, asn or country (none: one row an address).
fn group_by(raw: &RawArgs) -> Result<crate::view::groups::GroupBy, ConfigError> {
    use crate::view::groups::GroupBy;
    match raw.group_by.as_deref() {
        None => Ok(GroupBy::Ip),
        Some(v) => GroupBy::parse(v).ok_or_else(|| {
            ConfigError::flag("group-by", format!("`{v}` is not one of net, asn, country"))
        }),
    }
}

/// `--resume` reads on from history's cursors: it needs a headless run
/// (the dashboard's place is the logs' end) and the history file.
fn check_resume(raw: &RawArgs, mode: Mode, m: &Layer) -> Result<(), ConfigError> {
    if !raw.resume {
        return Ok(());
    }
    if mode == Mode::Dashboard {
        return Err(ConfigError::flag("resume", "needs --once or --for"));
    }
    if m.history_enabled == Some(false) {
        return Err(ConfigError::flag(
            "resume",
            "needs the history database, where each log's place is kept (history is off)",
        ));
    }
    Ok(())
}

/// An XDG base directory from the environment; relative values are ignored,
/// as the XDG spec says.
fn xdg_dir(env: &dyn Fn(&str) -> Option<String>, var: &str) -> Option<PathBuf> {
    env(var).map(PathBuf::from).filter(|p| p.is_absolute())
}

/// Where a config file is looked for without `--config`, in order: the XDG
/// path, `~/.nethergaze.toml`, then the system-wide file.
fn config_candidates(env: &dyn Fn(&str) -> Option<String>, probe: &Probe) -> Vec<PathBuf> {
    let home = env("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
    let xdg = xdg_dir(env, "XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|h| h.join(".config")));
    [
        xdg.map(|d| d.join("nethergaze").join("config.toml")),
        home.map(|h| h.join(".nethergaze.toml")),
        Some(probe.system_config.clone()),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// `--config PATH` (must exist), else the first of `candidates` that exists,
/// else no file.
fn config_path(
    explicit: Option<&Path>,
    candidates: &[PathBuf],
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
    Ok(candidates.iter().find(|p| p.exists()).cloned())
}

/// The first glob of `candidates` that matches a regular file; if none
/// does, the first one (so the source reports it missing).
pub(crate) fn resolve_default_log_path(candidates: &[String]) -> String {
    candidates
        .iter()
        .find(|c| glob_has_file(c))
        .or(candidates.first())
        .cloned()
        .unwrap_or_else(|| DEFAULT_LOG_CANDIDATES[0].to_string())
}

fn resolve_auth(m: &Layer, env: &dyn Fn(&str) -> Option<String>, probe: &Probe) -> AuthConfig {
    let mut auth = resolve_auth_source(m, env, probe);
    if auth.source == AuthSource::Journald {
        auth.journal_directory.clone_from(&m.journal_directory);
    }
    auth
}

fn resolve_auth_source(
    m: &Layer,
    env: &dyn Fn(&str) -> Option<String>,
    probe: &Probe,
) -> AuthConfig {
    // Named: a path given, or journald asked for; `auto` and `file` alone
    // pick among the default candidates.
    let named = m.auth_path.is_some() || m.auth_source == Some(AuthChoice::Journald);
    let plain = |source| AuthConfig {
        source,
        note: None,
        journal_directory: None,
        named,
    };
    if m.auth_enabled == Some(false) {
        return AuthConfig {
            note: Some("sshd events off (--no-auth-log or [auth] enabled = false)".into()),
            named: false,
            ..plain(AuthSource::None)
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
                    note: Some("no sshd log file given".into()),
                    ..plain(AuthSource::None)
                },
            }
        }
        AuthChoice::Journald if journalctl => plain(AuthSource::Journald),
        AuthChoice::Journald => AuthConfig {
            note: Some("journalctl is not on PATH".into()),
            ..plain(AuthSource::Journald)
        },
        AuthChoice::Auto => match m.auth_path.clone().or_else(existing) {
            Some(p) => plain(AuthSource::File(p)),
            None if journalctl => plain(AuthSource::Journald),
            None => AuthConfig {
                source: AuthSource::None,
                journal_directory: None,
                note: Some(format!(
                    "no sshd log: {} missing and journalctl not on PATH",
                    probe
                        .auth_candidates
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                named,
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
// Value validators, shared by flags, environment and file. They return the
// message without the key; the caller says which key.

/// `30s`, `5m`, `1h`, or bare seconds, within [`limits::RUN_FOR`].
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
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
    let secs = i64::try_from(secs).unwrap_or(i64::MAX);
    limits::RUN_FOR
        .count(secs)
        .map(|n| Duration::from_secs(n as u64))
        // The user's spelling (`9000000h`) rather than its seconds.
        .map_err(|_| {
            format!(
                "`{s}` is out of range (allowed: {})",
                limits::RUN_FOR.range()
            )
        })
}

/// Seconds as a decimal number, for `--connections-interval`.
fn parse_interval_text(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("invalid number of seconds `{s}`"))?;
    parse_interval(secs)
}

/// A refresh interval, within [`limits::CONNECTIONS_INTERVAL`].
fn parse_interval(secs: f64) -> Result<Duration, String> {
    limits::CONNECTIONS_INTERVAL.seconds(secs)
}

/// A network or a bare address (as a /32 or /128); host bits are cleared,
/// as Python's `ip_network(strict=False)` did.
pub(crate) fn parse_cidr(s: &str) -> Result<IpNet, String> {
    let t = s.trim();
    if let Ok(net) = t.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    t.parse::<std::net::IpAddr>()
        .map(|ip| IpNet::from(ip.to_canonical()))
        .map_err(|_| format!("invalid CIDR `{s}` (use e.g. 203.0.113.0/24 or 2001:db8::/32)"))
}

/// The named formats or an nginx `log_format` string (anything with `$`).
/// A format string is compiled here, so a bad one is refused with the key
/// (and the config file's line) that holds it.
pub(crate) fn parse_log_format(s: &str) -> Result<String, String> {
    if s.contains('$') {
        crate::parse::access::AccessParser::new(s, Vec::new()).map_err(|e| e.to_string())?;
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
pub(crate) fn check_regex(pattern: &str) -> Result<(), String> {
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

#[cfg(test)]
mod tests;
