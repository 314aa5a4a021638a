//! Command line, phase one: a lexopt loop that turns argv into raw flags.
//!
//! Nothing here touches the file system or the environment, and values are
//! kept as given: `config.rs` validates them together with the config file
//! and the environment (as ripgrep's lowargs / hiargs). Every flag the parser
//! knows comes from [`FLAGS`], the same table that renders `--help`, the man
//! page and the shell completions ([`generate`]), so they cannot drift.

pub(crate) mod generate;

use std::ffi::OsString;
use std::path::PathBuf;

use crate::config::ConfigError;

/// The help section a flag is listed under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Group {
    /// Where data comes from: access logs, sshd, sockets.
    Sources,
    /// `--once` / `--for` snapshots and their output.
    Headless,
    /// What is shown and how.
    Display,
    /// GeoIP, whois and history.
    Enrichment,
    /// The config file, help, version and `--generate`.
    Config,
}

impl Group {
    /// Every group, in the order `--help` lists them.
    pub(crate) const ALL: [Group; 5] = [
        Group::Sources,
        Group::Headless,
        Group::Display,
        Group::Enrichment,
        Group::Config,
    ];

    /// The heading used in `--help`.
    pub(crate) fn title(self) -> &'static str {
        match self {
            Group::Sources => "Sources",
            Group::Headless => "Headless",
            Group::Display => "Display",
            Group::Enrichment => "Enrichment",
            Group::Config => "Config",
        }
    }
}

/// Identifies a flag independently of its spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FlagId {
    Config,
    LogPath,
    LogFormat,
    ConnectionsInterval,
    Interface,
    ShowPrivateIps,
    NoGeoip,
    NoWhois,
    AuthLogPath,
    NoAuthLog,
    AuthSource,
    FromStart,
    Since,
    Resume,
    Once,
    For,
    Json,
    MetricsFile,
    Events,
    EventsFile,
    Suspicious,
    GroupBy,
    ProcRoot,
    Demo,
    HistoryDb,
    ImportHistory,
    NoHistory,
    Color,
    Help,
    Version,
    Generate,
    CheckConfig,
}

/// One flag: everything the parser, `--help`, the man page and the shell
/// completions need to know about it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Flag {
    /// Which flag this is.
    pub(crate) id: FlagId,
    /// Long name without the leading `--`.
    pub(crate) long: &'static str,
    /// Short name, if any.
    pub(crate) short: Option<char>,
    /// Name of the value (`GLOB`, `SECS`…), `None` for a switch.
    pub(crate) value: Option<&'static str>,
    /// The closed set of accepted values, empty when free-form.
    pub(crate) choices: &'static [&'static str],
    /// May be given more than once, every value kept (others: last wins).
    pub(crate) repeatable: bool,
    /// Help section.
    pub(crate) group: Group,
    /// One-line help, defaults included.
    pub(crate) help: &'static str,
}

const fn switch(id: FlagId, long: &'static str, group: Group, help: &'static str) -> Flag {
    Flag {
        id,
        long,
        short: None,
        value: None,
        choices: &[],
        repeatable: false,
        group,
        help,
    }
}

const fn valued(
    id: FlagId,
    long: &'static str,
    value: &'static str,
    group: Group,
    help: &'static str,
) -> Flag {
    Flag {
        id,
        long,
        short: None,
        value: Some(value),
        choices: &[],
        repeatable: false,
        group,
        help,
    }
}

/// What a flag's value is, for shell completion: derived from the value's
/// name in [`FLAGS`] so a new flag completes sensibly without a new field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ValueKind {
    /// A switch: no value.
    None,
    /// One of [`Flag::choices`].
    Choice,
    /// A file path or a glob of files.
    File,
    /// A directory.
    Dir,
    /// A network interface name.
    Interface,
    /// Free text or a number: nothing to offer.
    Free,
}

impl Flag {
    /// How a shell should complete this flag's value.
    pub(crate) fn value_kind(&self) -> ValueKind {
        let Some(name) = self.value else {
            return ValueKind::None;
        };
        if !self.choices.is_empty() {
            return ValueKind::Choice;
        }
        match name {
            "PATH" | "GLOB" => ValueKind::File,
            "DIR" => ValueKind::Dir,
            "IFACE" => ValueKind::Interface,
            // Numbers and durations (the unit tests keep this list closed).
            _ => ValueKind::Free,
        }
    }
}

/// Every flag nethergaze accepts. The parser looks names up here.
pub(crate) const FLAGS: &[Flag] = &[
    Flag {
        repeatable: true,
        ..valued(
            FlagId::LogPath,
            "log-path",
            "GLOB",
            Group::Sources,
            "HTTP access log(s) to read; a glob, repeatable; - reads standard input \
             (zcat access.log.*.gz | nethergaze --once --log-path -) (default: the first of \
             /var/log/nginx/*.access.log, /var/log/nginx/access.log, \
             /var/log/apache2/*access.log, /var/log/caddy/*.log that matches)",
        )
    },
    Flag {
        choices: &["auto", "combined", "common", "vhost_combined", "json"],
        ..valued(
            FlagId::LogFormat,
            "log-format",
            "FORMAT",
            Group::Sources,
            "auto, combined, common, vhost_combined, json, or an nginx log_format \
             string containing $variables (default: auto, detected per line)",
        )
    },
    switch(
        FlagId::FromStart,
        "from-start",
        Group::Sources,
        "Read logs present at start from their beginning instead of their end",
    ),
    valued(
        FlagId::Since,
        "since",
        "DURATION",
        Group::Sources,
        "Read back DURATION (30m, 1h, 24h) through the logs and their rotated \
         copies (access.log.1, access.log.2.gz, ...) and the journal, oldest first, \
         then follow",
    ),
    valued(
        FlagId::AuthLogPath,
        "auth-log-path",
        "PATH",
        Group::Sources,
        "sshd log file to read (implies --auth-source file)",
    ),
    Flag {
        choices: &["auto", "file", "journald"],
        ..valued(
            FlagId::AuthSource,
            "auth-source",
            "SOURCE",
            Group::Sources,
            "auto, file or journald (default: auto: /var/log/auth.log, else \
             /var/log/secure, else journald when journalctl exists)",
        )
    },
    switch(
        FlagId::NoAuthLog,
        "no-auth-log",
        Group::Sources,
        "Do not read sshd events (wins over --auth-log-path and --auth-source)",
    ),
    valued(
        FlagId::ConnectionsInterval,
        "connections-interval",
        "SECS",
        Group::Sources,
        "Seconds between socket table reads, 0.1 to 86400 (default: 1)",
    ),
    valued(
        FlagId::ProcRoot,
        "proc-root",
        "DIR",
        Group::Sources,
        "Read DIR/net/tcp and DIR/net/tcp6 instead of asking the kernel over netlink",
    ),
    valued(
        FlagId::Interface,
        "interface",
        "IFACE",
        Group::Sources,
        "Network interface for bandwidth figures",
    ),
    switch(
        FlagId::Once,
        "once",
        Group::Headless,
        "Take one snapshot, print it and exit (no screen)",
    ),
    valued(
        FlagId::For,
        "for",
        "DURATION",
        Group::Headless,
        "Run without a screen for DURATION (30s, 5m, 1h; a bare number is seconds; \
         1 to 31536000 seconds, a year), then print a snapshot and exit",
    ),
    switch(
        FlagId::Json,
        "json",
        Group::Headless,
        "Print the snapshot as JSON Lines (with --once or --for)",
    ),
    valued(
        FlagId::MetricsFile,
        "metrics-file",
        "PATH",
        Group::Headless,
        "Write Prometheus metrics to PATH for node-exporter's textfile collector, \
         replaced atomically every [refresh] metrics_interval (default: 15 s) and at \
         the end; with the dashboard too",
    ),
    switch(
        FlagId::Events,
        "events",
        Group::Headless,
        "Write the event stream to stdout instead of a snapshot: one JSON line per event \
         (suspicious, cleared, auth, blocked, source), flushed as it happens; runs without a \
         screen until stopped, or for --for DURATION",
    ),
    valued(
        FlagId::EventsFile,
        "events-file",
        "PATH",
        Group::Headless,
        "Also append the event stream to PATH (created mode 0600), with the dashboard or \
         headless: blocks run from the dashboard land there",
    ),
    switch(
        FlagId::Resume,
        "resume",
        Group::Headless,
        "With --once or --for: read each log on from where the last run with the same \
         history database stopped (the whole log the first time; a rotated log's rest \
         from its copy beside it, access.log.1), so a cron job or timer sees every line \
         once",
    ),
    switch(
        FlagId::Suspicious,
        "suspicious",
        Group::Headless,
        "Only suspicious IPs (in the dashboard: start in suspicious mode)",
    ),
    Flag {
        choices: &crate::view::groups::GroupBy::CHOICES,
        ..valued(
            FlagId::GroupBy,
            "group-by",
            "KIND",
            Group::Headless,
            "One row per network (the whois network, else the /24 or /64), ASN or country, \
             summing its addresses; with --suspicious, groups flagged together or through a \
             member (in the dashboard: start grouped; n cycles)",
        )
    },
    switch(
        FlagId::Demo,
        "demo",
        Group::Sources,
        "Synthetic traffic (a SYN flood, a scanner, an exploit prober, an sshd brute forcer, \
         visitors) written to a temporary directory and read like real logs",
    ),
    switch(
        FlagId::ShowPrivateIps,
        "show-private-ips",
        Group::Display,
        "Also show loopback, private, link-local and other non-global addresses (the \
         dashboard's p key shows or hides them live)",
    ),
    Flag {
        choices: &["auto", "always", "never"],
        ..valued(
            FlagId::Color,
            "color",
            "WHEN",
            Group::Display,
            "auto, always or never (default: auto; NO_COLOR and TERM=dumb also turn it off)",
        )
    },
    switch(
        FlagId::NoGeoip,
        "no-geoip",
        Group::Enrichment,
        "Do not look addresses up in the GeoIP databases",
    ),
    switch(
        FlagId::NoWhois,
        "no-whois",
        Group::Enrichment,
        "No RDAP/whois lookups: no outbound connection at all",
    ),
    valued(
        FlagId::HistoryDb,
        "history-db",
        "PATH",
        Group::Enrichment,
        "History database (default: $XDG_STATE_HOME/nethergaze/history.db)",
    ),
    valued(
        FlagId::ImportHistory,
        "import-history",
        "PATH",
        Group::Enrichment,
        "Import nethergaze 0.2.0's history.db and whois_cache.json (PATH: either file, or \
         the folder holding them) into ours, once, and exit",
    ),
    switch(
        FlagId::NoHistory,
        "no-history",
        Group::Enrichment,
        "Neither read nor write the history database (wins over --history-db)",
    ),
    valued(
        FlagId::Config,
        "config",
        "PATH",
        Group::Config,
        "Config file; must exist when given (default: the first that exists of \
         $XDG_CONFIG_HOME/nethergaze/config.toml, ~/.nethergaze.toml, \
         /etc/nethergaze/config.toml)",
    ),
    switch(
        FlagId::CheckConfig,
        "check-config",
        Group::Config,
        "Check the config file (and the other flags and NETHERGAZE_* variables), print \
         each warning and exit: 0 when clean, 1 when the file has warnings (keys ignored \
         or values adjusted, as a start would print them), 2 on an error",
    ),
    Flag {
        short: Some('h'),
        ..switch(
            FlagId::Help,
            "help",
            Group::Config,
            "Print this help and exit",
        )
    },
    Flag {
        short: Some('V'),
        ..switch(
            FlagId::Version,
            "version",
            Group::Config,
            "Print the version and exit",
        )
    },
    Flag {
        choices: generate::KINDS,
        ..valued(
            FlagId::Generate,
            "generate",
            "KIND",
            Group::Config,
            "Print the man page or a shell completion script and exit (KIND: man, \
             complete-bash, complete-zsh, complete-fish)",
        )
    },
];

/// The `NETHERGAZE_*` environment variables the config reads, as (name, what
/// it sets): the `--help` footer and the man page's ENVIRONMENT list them.
pub(crate) const ENV_VARS: [(&str, &str); 7] = [
    ("NETHERGAZE_LOG_PATH", "access log glob(s), like --log-path"),
    ("NETHERGAZE_LOG_FORMAT", "like --log-format"),
    ("NETHERGAZE_INTERFACE", "like --interface"),
    (
        "NETHERGAZE_GEOIP_ENABLED",
        "boolean; false is like --no-geoip",
    ),
    (
        "NETHERGAZE_WHOIS_ENABLED",
        "boolean; false is like --no-whois",
    ),
    ("NETHERGAZE_GEOIP_CITY_DB", "GeoIP city database path"),
    ("NETHERGAZE_GEOIP_ASN_DB", "GeoIP ASN database path"),
];

/// How the environment's booleans are spelled.
pub(crate) const ENV_BOOLEANS: &str = "1/true/yes/on or 0/false/no/off";

/// The order in which settings override each other.
pub(crate) const PRECEDENCE: &str = "flags > NETHERGAZE_* environment > config file > defaults";

/// Raw flags as given on the command line; `None` / empty when absent.
/// Values are not validated here.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct RawArgs {
    pub(crate) config: Option<PathBuf>,
    pub(crate) log_paths: Vec<String>,
    pub(crate) log_format: Option<String>,
    pub(crate) connections_interval: Option<String>,
    pub(crate) interface: Option<String>,
    pub(crate) show_private_ips: bool,
    pub(crate) no_geoip: bool,
    pub(crate) no_whois: bool,
    pub(crate) auth_log_path: Option<PathBuf>,
    pub(crate) no_auth_log: bool,
    pub(crate) auth_source: Option<String>,
    pub(crate) from_start: bool,
    pub(crate) resume: bool,
    pub(crate) once: bool,
    pub(crate) for_duration: Option<String>,
    /// `--since DURATION`, checked by the config.
    pub(crate) since: Option<String>,
    pub(crate) json: bool,
    pub(crate) metrics_file: Option<PathBuf>,
    pub(crate) events: bool,
    pub(crate) events_file: Option<PathBuf>,
    pub(crate) suspicious: bool,
    pub(crate) group_by: Option<String>,
    pub(crate) proc_root: Option<PathBuf>,
    pub(crate) demo: bool,
    pub(crate) history_db: Option<PathBuf>,
    pub(crate) no_history: bool,
    pub(crate) import_history: Option<PathBuf>,
    pub(crate) color: Option<String>,
    pub(crate) help: bool,
    pub(crate) version: bool,
    pub(crate) generate: Option<String>,
    pub(crate) check_config: bool,
}

/// Parses argv (the program name first, as `std::env::args_os()` gives it).
pub(crate) fn parse(args: impl IntoIterator<Item = OsString>) -> Result<RawArgs, ConfigError> {
    let mut parser = lexopt::Parser::from_iter(args);
    let mut raw = RawArgs::default();
    while let Some(arg) = parser.next().map_err(usage)? {
        let flag = match arg {
            lexopt::Arg::Long(name) => find_long(name)?,
            lexopt::Arg::Short(c) => find_short(c)?,
            lexopt::Arg::Value(v) => {
                return Err(ConfigError::usage(format!(
                    "unexpected argument `{}` (see --help)",
                    v.to_string_lossy()
                )))
            }
        };
        let value = match flag.value {
            Some(_) => Some(parser.value().map_err(|e| flag_err(flag, e))?),
            None => None,
        };
        store(&mut raw, flag, value)?;
    }
    Ok(raw)
}

fn find_long(name: &str) -> Result<&'static Flag, ConfigError> {
    match resolve_long(FLAGS, name) {
        Long::Found(flag) => Ok(flag),
        Long::Unknown => Err(ConfigError::usage(format!(
            "unknown flag `--{name}` (see --help)"
        ))),
        Long::Ambiguous => {
            let candidates: Vec<String> = prefixed(FLAGS, name)
                .map(|f| format!("--{}", f.long))
                .collect();
            Err(ConfigError::usage(format!(
                "ambiguous flag `--{name}`: could be {} (see --help)",
                candidates.join(", ")
            )))
        }
    }
}

/// What a long name (without `--`, without `=value`) names in a table.
#[derive(Debug)]
enum Long<'t> {
    Found(&'t Flag),
    Unknown,
    Ambiguous,
}

/// The flag `name` names: the one spelled exactly so, else the only one it
/// is a prefix of (`--no-who` for `--no-whois`, as 0.2.0's argparse took).
fn resolve_long<'t>(table: &'t [Flag], name: &str) -> Long<'t> {
    if let Some(flag) = table.iter().find(|f| f.long == name) {
        return Long::Found(flag);
    }
    let mut matches = prefixed(table, name);
    match (matches.next(), matches.next()) {
        (Some(flag), None) => Long::Found(flag),
        (None, _) => Long::Unknown,
        (Some(_), Some(_)) => Long::Ambiguous,
    }
}

/// The flags whose long name starts with `name` (none for an empty name).
fn prefixed<'t, 'n>(
    table: &'t [Flag],
    name: &'n str,
) -> impl Iterator<Item = &'t Flag> + use<'t, 'n> {
    table
        .iter()
        .filter(move |f| !name.is_empty() && f.long.starts_with(name))
}

fn find_short(c: char) -> Result<&'static Flag, ConfigError> {
    FLAGS
        .iter()
        .find(|f| f.short == Some(c))
        .ok_or_else(|| ConfigError::usage(format!("unknown flag `-{c}` (see --help)")))
}

fn usage(e: lexopt::Error) -> ConfigError {
    match e {
        lexopt::Error::UnexpectedValue { option, value } => {
            let flag = option.trim_start_matches('-');
            let msg = format!("takes no value (got `{}`)", value.to_string_lossy());
            match resolve_long(FLAGS, flag) {
                Long::Found(f) => ConfigError::flag(f.long, msg),
                Long::Unknown | Long::Ambiguous => ConfigError::usage(format!("{option}: {msg}")),
            }
        }
        other => ConfigError::usage(other.to_string()),
    }
}

fn flag_err(flag: &Flag, e: lexopt::Error) -> ConfigError {
    let msg = match e {
        lexopt::Error::MissingValue { .. } => {
            format!("needs a value ({})", flag.value.unwrap_or("VALUE"))
        }
        other => other.to_string(),
    };
    ConfigError::flag(flag.long, msg)
}

/// Records one flag occurrence. `value` is `Some` exactly when the flag takes one.
fn store(raw: &mut RawArgs, flag: &Flag, value: Option<OsString>) -> Result<(), ConfigError> {
    let text = || utf8(flag, value.clone());
    let path = || value.clone().map(PathBuf::from);
    match flag.id {
        FlagId::Config => raw.config = path(),
        FlagId::LogPath => raw.log_paths.extend(text()?),
        FlagId::LogFormat => raw.log_format = text()?,
        FlagId::ConnectionsInterval => raw.connections_interval = text()?,
        FlagId::Interface => raw.interface = text()?,
        FlagId::ShowPrivateIps => raw.show_private_ips = true,
        FlagId::NoGeoip => raw.no_geoip = true,
        FlagId::NoWhois => raw.no_whois = true,
        FlagId::AuthLogPath => raw.auth_log_path = path(),
        FlagId::NoAuthLog => raw.no_auth_log = true,
        FlagId::AuthSource => raw.auth_source = text()?,
        FlagId::FromStart => raw.from_start = true,
        FlagId::Since => raw.since = text()?,
        FlagId::Resume => raw.resume = true,
        FlagId::Once => raw.once = true,
        FlagId::For => raw.for_duration = text()?,
        FlagId::Json => raw.json = true,
        FlagId::MetricsFile => raw.metrics_file = path(),
        FlagId::Events => raw.events = true,
        FlagId::EventsFile => raw.events_file = path(),
        FlagId::Suspicious => raw.suspicious = true,
        FlagId::GroupBy => raw.group_by = text()?,
        FlagId::ProcRoot => raw.proc_root = path(),
        FlagId::Demo => raw.demo = true,
        FlagId::HistoryDb => raw.history_db = path(),
        FlagId::ImportHistory => raw.import_history = path(),
        FlagId::NoHistory => raw.no_history = true,
        FlagId::Color => raw.color = text()?,
        FlagId::Help => raw.help = true,
        FlagId::Version => raw.version = true,
        FlagId::Generate => raw.generate = text()?,
        FlagId::CheckConfig => raw.check_config = true,
    }
    Ok(())
}

/// Values that end up in text (globs, formats, numbers) must be UTF-8;
/// paths need not be.
fn utf8(flag: &Flag, value: Option<OsString>) -> Result<Option<String>, ConfigError> {
    value
        .map(|v| {
            v.into_string().map_err(|v| {
                ConfigError::flag(
                    flag.long,
                    format!("`{}` is not valid UTF-8", v.to_string_lossy()),
                )
            })
        })
        .transpose()
}

/// The `--version` line.
pub(crate) fn version_text() -> String {
    format!("nethergaze {}", env!("CARGO_PKG_VERSION"))
}

/// The complete `--help` text, rendered from [`FLAGS`].
pub(crate) fn help_text() -> String {
    let mut out = format!(
        "{}\n{}\n\nUsage: nethergaze [OPTIONS]\n",
        version_text(),
        env!("CARGO_PKG_DESCRIPTION")
    );
    let width = FLAGS.iter().map(|f| spelling(f).len()).max().unwrap_or(0);
    for group in Group::ALL {
        out.push('\n');
        out.push_str(group.title());
        out.push_str(":\n");
        for flag in FLAGS.iter().filter(|f| f.group == group) {
            let left = format!("  {:<width$}  ", spelling(flag));
            push_wrapped(&mut out, &left, flag.help);
        }
    }
    out.push('\n');
    push_wrapped(&mut out, "", &format!("Precedence: {PRECEDENCE}."));
    let names: Vec<&str> = ENV_VARS.iter().map(|(name, _)| *name).collect();
    let env = format!(
        "Environment: {} (booleans: {ENV_BOOLEANS}).",
        names.join(", ")
    );
    push_wrapped(&mut out, "", &env);
    push_wrapped(&mut out, "", EXIT_STATUS);
    out
}

/// The exit status, for `--help` (the man page says it at length).
const EXIT_STATUS: &str = "Exit status: 0 when every log source was read (a default location \
     that does not exist is only a note); 1 when the snapshot was printed but a log source \
     could not be read (a path you named, a default log that exists, or journald you asked \
     for; the errors go to stderr) or history lost this session, and for --check-config \
     when the config file has warnings; 2 for a usage, config or start-up error, or a \
     file --import-history could not import.";

/// Help lines stay within this many columns (the left column permitting).
const HELP_WIDTH: usize = 100;

/// Appends `left` then `text` word-wrapped, continuation lines indented
/// under the first.
fn push_wrapped(out: &mut String, left: &str, text: &str) {
    let indent = left.len();
    let room = HELP_WIDTH.saturating_sub(indent).max(30);
    out.push_str(left);
    let mut col = 0;
    for word in text.split_whitespace() {
        if col > 0 && col + 1 + word.len() > room {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            col = 0;
        }
        if col > 0 {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += word.len();
    }
    out.push('\n');
}

/// `-h, --help` or `    --for DURATION`: the left column of a help line.
fn spelling(flag: &Flag) -> String {
    let short = match flag.short {
        Some(c) => format!("-{c}, "),
        None => "    ".to_string(),
    };
    match flag.value {
        Some(v) => format!("{short}--{} {v}", flag.long),
        None => format!("{short}--{}", flag.long),
    }
}

#[cfg(test)]
mod tests;
