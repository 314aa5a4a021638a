use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::source::glob::{glob_matches, split_glob};

const EXAMPLE: &str = include_str!("../../config.example.toml");
const HOME: &str = "/nonexistent-nethergaze-home";

/// A probe whose candidates do not exist, so nothing depends on this machine.
fn no_probe() -> Probe {
    Probe {
        log_candidates: vec![
            "/nonexistent-ng/nginx/*.access.log".into(),
            "/nonexistent-ng/nginx/access.log".into(),
        ],
        auth_candidates: vec![PathBuf::from("/nonexistent-ng/auth.log")],
        system_config: PathBuf::from("/nonexistent-ng/etc/nethergaze/config.toml"),
    }
}

/// `load_with` with a fake environment (HOME pointing nowhere, so the real
/// user's config file is never read) and the given probe.
fn run_with(args: &[&str], env: &[(&str, &str)], probe: &Probe) -> Result<Config, ConfigError> {
    let mut vars: HashMap<String, String> = HashMap::from([("HOME".into(), HOME.into())]);
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let env = move |k: &str| vars.get(k).cloned();
    let argv = std::iter::once("nethergaze")
        .chain(args.iter().copied())
        .map(OsString::from);
    match load_with(argv, &env, probe)? {
        Invocation::Run(config) => Ok(config),
        other => panic!("expected a run, got {other:?}"),
    }
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    run_with(args, env, &no_probe())
}

fn ok(args: &[&str], env: &[(&str, &str)]) -> Config {
    run(args, env).unwrap_or_else(|e| panic!("{args:?} {env:?}: {e}"))
}

fn err(args: &[&str], env: &[(&str, &str)]) -> String {
    match run(args, env) {
        Ok(c) => panic!("{args:?} {env:?} loaded: {c:?}"),
        Err(e) => e.to_string(),
    }
}

/// Writes `text` as a config file in a fresh temp dir.
fn file(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    fs::write(&path, text).expect("write config");
    let path = path.to_str().expect("utf-8 temp path").to_string();
    (dir, path)
}

fn with_file(text: &str, args: &[&str], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let (_dir, path) = file(text);
    let mut all = vec!["--config", path.as_str()];
    all.extend_from_slice(args);
    run(&all, env)
}

/// The error for a config file, with the temp path replaced by `F`.
fn file_err(text: &str) -> String {
    let (_dir, path) = file(text);
    match run(&["--config", &path], &[]) {
        Ok(c) => panic!("{text:?} loaded: {c:?}"),
        Err(e) => e.to_string().replace(&path, "F"),
    }
}

/// The warnings a config file gives (it must load), with the temp path
/// replaced by `F`.
fn file_warnings(text: &str) -> Vec<String> {
    let (_dir, path) = file(text);
    match run(&["--config", &path], &[]) {
        Ok(c) => c
            .warnings
            .iter()
            .map(|w| w.to_string().replace(&path, "F"))
            .collect(),
        Err(e) => panic!("{text:?} refused: {e}"),
    }
}

/// The one warning a config file gives.
fn file_warning(text: &str) -> String {
    let warnings = file_warnings(text);
    assert_eq!(warnings.len(), 1, "{text:?}: {warnings:?}");
    warnings[0].clone()
}

// ----------------------------------------------------------------- defaults

#[test]
fn defaults_without_file_env_or_flags() {
    let c = ok(&[], &[]);
    assert_eq!(c.config_file, None);
    assert_eq!(c.log_paths, ["/nonexistent-ng/nginx/*.access.log"]);
    assert_eq!(c.log_format, "auto");
    assert_eq!(c.connections_interval, Duration::from_secs(1));
    assert_eq!(c.interface, None);
    assert!(!c.show_private_ips && !c.from_start && !c.json && !c.suspicious_only);
    assert_eq!(c.max_tracked_ips, 50_000);
    assert_eq!(c.mode, Mode::Dashboard);
    assert_eq!(c.color, ColorChoice::Auto);
    assert_eq!(c.detect.burst_rpm, 60.0);
    assert_eq!((c.detect.min_conns, c.detect.min_auth_failures), (5, 3));
    assert_eq!(c.whois.rdap_bootstrap_url, "https://data.iana.org/rdap/");
    assert_eq!(c.whois.cache_ttl, Duration::from_secs(86_400));
    assert!(c.geoip.enabled && c.whois.enabled && c.history.enabled);
    assert_eq!(c.geoip.city_db, Path::new(DEFAULT_CITY_DB));
    let state = format!("{HOME}/.local/state/nethergaze/history.db");
    assert_eq!(c.history.db.as_deref(), Some(Path::new(&state)));
    let cache = format!("{HOME}/.cache/nethergaze");
    assert_eq!(c.cache_dir.as_deref(), Some(Path::new(&cache)));
    assert_eq!(c.display.max_log_lines, 500);
    assert_eq!(c.display.max_log_entries_per_ip, 100);
    assert!(c.actions.hooks.is_empty() && !c.actions.enable_block_execution);
    // No sshd file among the candidates and no PATH: no source, with a reason.
    assert_eq!(c.auth.source, AuthSource::None);
    assert!(c
        .auth
        .note
        .as_deref()
        .is_some_and(|n| n.contains("/nonexistent-ng/auth.log")));
}

#[test]
fn xdg_variables_move_state_and_cache() {
    let c = ok(&[], &[("XDG_STATE_HOME", "/st"), ("XDG_CACHE_HOME", "/ca")]);
    assert_eq!(
        c.history.db.as_deref(),
        Some(Path::new("/st/nethergaze/history.db"))
    );
    assert_eq!(c.cache_dir.as_deref(), Some(Path::new("/ca/nethergaze")));
    // Relative XDG values are ignored, as the spec says.
    let c = ok(&[], &[("XDG_STATE_HOME", "rel")]);
    let state = format!("{HOME}/.local/state/nethergaze/history.db");
    assert_eq!(c.history.db.as_deref(), Some(Path::new(&state)));
}

// --------------------------------------------------------------- precedence

#[test]
fn precedence_log_format_per_layer() {
    let text = "log_format = \"common\"\n";
    let env = [("NETHERGAZE_LOG_FORMAT", "json")];
    let get = |args: &[&str], env: &[(&str, &str)], text: Option<&str>| {
        let c = match text {
            Some(t) => with_file(t, args, env),
            None => run(args, env),
        };
        c.unwrap_or_else(|e| panic!("{e}")).log_format
    };
    assert_eq!(get(&[], &[], None), "auto");
    assert_eq!(get(&[], &[], Some(text)), "common");
    assert_eq!(get(&[], &env, Some(text)), "json");
    assert_eq!(
        get(&["--log-format", "combined"], &env, Some(text)),
        "combined"
    );
    assert_eq!(get(&["--log-format", "combined"], &[], None), "combined");
}

#[test]
fn precedence_log_path_and_interface() {
    let text = "log_path = \"/file/*.log\"\ninterface = \"file0\"\n";
    let env = [
        ("NETHERGAZE_LOG_PATH", "/env/*.log"),
        ("NETHERGAZE_INTERFACE", "env0"),
    ];
    let c = with_file(text, &[], &[]).expect("file");
    assert_eq!(
        (c.log_paths, c.interface.as_deref()),
        (vec!["/file/*.log".into()], Some("file0"))
    );
    let c = with_file(text, &[], &env).expect("env");
    assert_eq!(
        (c.log_paths, c.interface.as_deref()),
        (vec!["/env/*.log".into()], Some("env0"))
    );
    let flags = [
        "--log-path",
        "/a.log",
        "--log-path",
        "/b/*.log",
        "--interface",
        "cli0",
    ];
    let c = with_file(text, &flags, &env).expect("flags");
    assert_eq!(c.log_paths, ["/a.log", "/b/*.log"]);
    assert_eq!(c.interface.as_deref(), Some("cli0"));
}

#[test]
fn precedence_geoip_and_whois_switches() {
    let text =
        "[geoip]\nenabled = false\ncity_db = \"/file/city.mmdb\"\n[whois]\nenabled = false\n";
    let c = with_file(text, &[], &[]).expect("file");
    assert!(!c.geoip.enabled && !c.whois.enabled);
    assert_eq!(c.geoip.city_db, Path::new("/file/city.mmdb"));
    let env = [
        ("NETHERGAZE_GEOIP_ENABLED", "yes"),
        ("NETHERGAZE_WHOIS_ENABLED", "TRUE"),
        ("NETHERGAZE_GEOIP_CITY_DB", "/env/city.mmdb"),
        ("NETHERGAZE_GEOIP_ASN_DB", "/env/asn.mmdb"),
    ];
    let c = with_file(text, &[], &env).expect("env");
    assert!(c.geoip.enabled && c.whois.enabled);
    assert_eq!(c.geoip.city_db, Path::new("/env/city.mmdb"));
    assert_eq!(c.geoip.asn_db, Path::new("/env/asn.mmdb"));
    let c = with_file(text, &["--no-geoip", "--no-whois"], &env).expect("flags");
    assert!(!c.geoip.enabled && !c.whois.enabled);
    // An empty variable counts as unset.
    let c = with_file(text, &[], &[("NETHERGAZE_GEOIP_ENABLED", "")]).expect("empty");
    assert!(!c.geoip.enabled);
}

#[test]
fn precedence_file_only_keys_against_flags() {
    let text = "show_private_ips = false\n[refresh]\nconnections_interval = 2.5\n";
    let c = with_file(text, &[], &[]).expect("file");
    assert_eq!(c.connections_interval, Duration::from_millis(2500));
    let c = with_file(
        text,
        &["--connections-interval", "0.5", "--show-private-ips"],
        &[],
    )
    .expect("flags");
    assert_eq!(c.connections_interval, Duration::from_millis(500));
    assert!(c.show_private_ips);
}

// ----------------------------------------------------------------- example

#[test]
fn metrics_file_is_a_flag_and_its_interval_a_refresh_key() {
    let c = ok(&[], &[]);
    assert_eq!(
        (c.metrics_file, c.metrics_interval),
        (None, Duration::from_secs(15))
    );
    let c = with_file(
        "[refresh]\nmetrics_interval = 2.5\n",
        &[
            "--metrics-file",
            "/var/lib/prometheus/node-exporter/nethergaze.prom",
        ],
        &[],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.metrics_file.as_deref(),
        Some(Path::new(
            "/var/lib/prometheus/node-exporter/nethergaze.prom"
        ))
    );
    assert_eq!(c.metrics_interval, Duration::from_millis(2500));
    for dir in ["/tmp/", "/", ".."] {
        assert_eq!(
            err(&["--metrics-file", dir], &[]),
            format!("nethergaze: --metrics-file: `{dir}` names no file"),
        );
    }
}

#[test]
fn block_targets_default_to_the_old_values_and_load_from_actions() {
    let d = ok(&[], &[]).actions.targets;
    assert_eq!(
        (
            d.fail2ban_jail.as_str(),
            d.cscli_duration.as_str(),
            d.cscli_reason.as_deref()
        ),
        ("sshd", "4h", None)
    );
    assert_eq!(
        (
            d.nft_table.as_str(),
            d.nft_set_v4.as_str(),
            d.nft_set_v6.as_str()
        ),
        ("nethergaze", "blocked4", "blocked6")
    );
    let text = "[actions]\nfail2ban_jail = \"nginx-http-auth\"\ncscli_duration = \"1h30m\"\n\
                cscli_reason = \"seen by nethergaze: burst\"\nnft_table = \"edge.v2\"\n\
                nft_set_v4 = \"bad_v4\"\nnft_set_v6 = \"bad_v6\"\n";
    let t = with_file(text, &[], &[])
        .unwrap_or_else(|e| panic!("{e}"))
        .actions
        .targets;
    assert_eq!(t.fail2ban_jail, "nginx-http-auth");
    assert_eq!(t.cscli_duration, "1h30m");
    assert_eq!(t.cscli_reason.as_deref(), Some("seen by nethergaze: burst"));
    assert_eq!(
        (
            t.nft_table.as_str(),
            t.nft_set_v4.as_str(),
            t.nft_set_v6.as_str()
        ),
        ("edge.v2", "bad_v4", "bad_v6")
    );
}

#[test]
fn block_targets_that_could_mislead_a_command_are_refused_naming_the_key() {
    let cases = [
        ("fail2ban_jail = \"-c/etc/evil\"", "line 2: [actions] fail2ban_jail: \"-c/etc/evil\" starts with `-`"),
        ("fail2ban_jail = \"\"", "line 2: [actions] fail2ban_jail: \"\": 1 to 64 characters"),
        ("nft_table = \"a b\"", "line 2: [actions] nft_table: \"a b\": only letters, digits, `_`, `.` and `-` are allowed"),
        ("nft_set_v4 = \"x;flush ruleset\"", "line 2: [actions] nft_set_v4: \"x;flush ruleset\": only letters, digits, `_`, `.` and `-` are allowed"),
        ("nft_set_v6 = \"blocked4\"", "line 2: [actions] nft_set_v4 and nft_set_v6 are both \"blocked4\": one set per family"),
        ("cscli_duration = \"4 hours\"", "line 2: [actions] cscli_duration: \"4 hours\" is not a cscli duration (such as 4h, 30m, 1h30m, 90s or 1d)"),
        ("cscli_duration = \"0h\"", "line 2: [actions] cscli_duration: \"0h\" is not a cscli duration (such as 4h, 30m, 1h30m, 90s or 1d)"),
        ("cscli_reason = \"two\\nlines\"", "line 2: [actions] cscli_reason: holds a control character (a newline, a tab, an escape…)"),
        ("cscli_reason = \"--type captcha\"", "line 2: [actions] cscli_reason: \"--type captcha\" starts with `-`"),
    ];
    for (line, want) in cases {
        let msg = file_err(&format!("[actions]\n{line}\n"));
        assert_eq!(msg, format!("nethergaze: config file F {want}"), "{line}");
    }
    let long = format!("[actions]\ncscli_reason = \"{}\"\n", "x".repeat(129));
    assert!(file_err(&long).ends_with("cscli_reason: longer than 128 characters"));
    let fits = format!("[actions]\ncscli_reason = \"{}\"\n", "é".repeat(128));
    assert!(
        with_file(&fits, &[], &[]).is_ok(),
        "128 characters, not bytes"
    );
}

#[test]
fn example_file_holds_the_defaults() {
    let (_dir, path) = file(EXAMPLE);
    let from_example = run(&["--config", &path], &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(from_example.config_file.as_deref(), Some(Path::new(&path)));
    let defaults = ok(&[], &[]);
    assert_eq!(
        Config {
            config_file: None,
            ..from_example
        },
        defaults
    );
}

/// The example's `# key = value` lines, uncommented.
fn example_uncommented() -> String {
    EXAMPLE
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if rest.starts_with('[') || is_assignment(rest) => rest,
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_assignment(s: &str) -> bool {
    s.split_once(" = ").is_some_and(|(k, _)| {
        !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    })
}

#[test]
fn example_file_examples_parse() {
    let c = with_file(&example_uncommented(), &[], &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.warnings, [], "every key of the example is known");
    // [log] path wins over the flat log_path, as in 0.2.0.
    assert_eq!(c.log_paths, ["/var/log/nginx/*.access.log"]);
    assert_eq!(c.interface.as_deref(), Some("eth0"));
    assert_eq!(c.trusted_proxies.len(), 3);
    assert_eq!(
        c.trusted_proxies[0],
        "127.0.0.1/32".parse::<IpNet>().expect("net")
    );
    assert_eq!(c.filters.cidr_allow.len(), 1);
    assert_eq!(c.filters.cidr_deny.len(), 2);
    assert_eq!(c.detect.scanner_user_agents, ["custom-bot", "evil-crawler"]);
    assert_eq!(
        c.detect.exploit_path_patterns,
        ["/xmlrpc\\.php", "^/vendor/phpunit/"]
    );
    assert_eq!(c.auth.source, AuthSource::File("/var/log/auth.log".into()));
    assert_eq!(
        c.history.db.as_deref(),
        Some(Path::new("/var/lib/nethergaze/history.db"))
    );
    assert_eq!(
        c.cache_dir.as_deref(),
        Some(Path::new("/var/cache/nethergaze"))
    );
    let hooks = &c.actions.hooks;
    assert_eq!(hooks.len(), 2);
    assert_eq!(
        (hooks[0].key, hooks[0].label.as_str()),
        ('1', "Reverse DNS")
    );
    assert_eq!(hooks[0].command, "dig -x {ip}");
    assert_eq!(hooks[1].key, '2');
    assert_eq!(hooks[1].timeout, DEFAULT_HOOK_TIMEOUT);
    assert_eq!(
        c.actions.targets.cscli_reason.as_deref(),
        Some("nethergaze block assist")
    );
}

/// The keys a table accepts, read back from the unknown-key warning.
fn accepted_keys(table_header: &str) -> Vec<String> {
    let msg = file_warning(&format!("{table_header}\nzzz_unknown = 1\n"));
    let (_, list) = msg
        .split_once("(known: ")
        .unwrap_or_else(|| panic!("{msg}"));
    list.trim_end_matches(')')
        .split(", ")
        .map(String::from)
        .collect()
}

#[test]
fn example_documents_every_key() {
    let tables = [
        "",
        "[log]",
        "[refresh]",
        "[geoip]",
        "[whois]",
        "[auth]",
        "[filters]",
        "[history]",
        "[cache]",
        "[actions]",
        "[[actions.hooks]]\nkey = \"1\"\ncommand = \"x\"",
    ];
    // 0.2.0 spellings of [auth] keys are named in prose rather than set.
    let aliases = ["log_path", "log_enabled", "log_interval"];
    for t in tables {
        let keys = accepted_keys(t);
        assert!(!keys.is_empty(), "{t}");
        for k in keys {
            let documented = EXAMPLE.contains(&format!("{k} = "))
                || EXAMPLE.contains(&format!("\n[{k}]\n"))
                || EXAMPLE.contains(&format!(".{k}]]\n"))
                || (aliases.contains(&k.as_str()) && EXAMPLE.contains(&k));
            assert!(documented, "{t} {k} is not in config.example.toml");
        }
    }
}

/// The example's text that documents `key` of `table`: its assignment line
/// (set or commented out) and the comment lines right above it, up to a
/// blank line, a table header or another assignment.
fn documentation_of(table: &str, key: &str) -> String {
    let uncomment = |l: &str| l.strip_prefix("# ").unwrap_or(l).trim_end().to_string();
    let lines: Vec<String> = EXAMPLE.lines().map(uncomment).collect();
    let is_header = |l: &str| l.starts_with('[');
    let start = match table {
        "" => 0,
        t => {
            lines
                .iter()
                .position(|l| l == t)
                .unwrap_or_else(|| panic!("no {t}"))
                + 1
        }
    };
    let end = lines[start..]
        .iter()
        .position(|l| is_header(l))
        .map_or(lines.len(), |i| start + i);
    let at = lines[start..end]
        .iter()
        .position(|l| l.starts_with(&format!("{key} = ")))
        .map(|i| start + i)
        .unwrap_or_else(|| panic!("{table} {key} is not set in config.example.toml"));
    let mut text = lines[at].clone();
    for l in lines[start..at].iter().rev() {
        if l.is_empty() || l == "#" || is_header(l) || is_assignment(l) {
            break;
        }
        text = format!("{l}\n{text}");
    }
    text
}

#[test]
fn every_range_is_documented_beside_its_key_and_flag() {
    for l in limits::ALL {
        if !l.name.starts_with("--") {
            let (table, key) = l.name.rsplit_once(' ').unwrap_or(("", l.name));
            let doc = documentation_of(table, key);
            assert!(
                doc.contains(&l.range()),
                "{}: {doc:?} lacks {:?}",
                l.name,
                l.range()
            );
        }
        if let Some(flag) = l.flag {
            let help = cli::FLAGS.iter().find(|f| f.long == flag).unwrap().help;
            let range = format!("{} to {}", limits::show(l.min), limits::show(l.max));
            assert!(help.contains(&range), "--{flag}: {help:?} lacks {range:?}");
        }
    }
    // The flag's floor is the constant the rest of the code knows.
    assert_eq!(
        limits::CONNECTIONS_INTERVAL.min,
        MIN_CONNECTIONS_INTERVAL.as_secs_f64()
    );
}

#[test]
fn every_range_is_enforced_by_the_file_reader() {
    for l in limits::ALL.iter().filter(|l| !l.name.starts_with("--")) {
        let (table, key) = l.name.rsplit_once(' ').unwrap_or(("", l.name));
        let head = match table {
            "[[actions.hooks]]" => "[[actions.hooks]]\nkey = \"1\"\ncommand = \"x\"\n".to_string(),
            "" => String::new(),
            t => format!("{t}\n"),
        };
        let line = head.lines().count() + 1;
        // Whole numbers just outside each end (every bound is a whole
        // number but 0.1, whose outside is 0).
        let below = if l.min.fract() == 0.0 {
            l.min - 1.0
        } else {
            0.0
        };
        // nethergaze 0.2.0 took any number for its keys: those load, moved
        // to the nearer end with a warning. The keys added since stay strict.
        let strict = [
            "max_tracked_ips",
            "[filters] suspicious_min_auth_failures",
            "[filters] reason_ttl",
            "[[actions.hooks]] timeout",
            "[refresh] metrics_interval",
        ];
        for outside in [below, l.max + 1.0] {
            let text = format!("{head}{key} = {outside}\n");
            if strict.contains(&l.name) {
                let msg = file_err(&text);
                let want = format!(
                    "nethergaze: config file F line {line}: {}: {} is out of range (allowed: {})",
                    l.name,
                    limits::show(outside),
                    l.range()
                );
                assert_eq!(msg, want);
                continue;
            }
            let (side, end) = if outside < l.min {
                ("below", l.min)
            } else {
                ("above", l.max)
            };
            // 0 has meanings of its own for these two (tested below).
            if outside == 0.0 && ["[log] max_log_lines", "[whois] max_workers"].contains(&l.name) {
                continue;
            }
            // 0.2.0's poll intervals: read, checked, not used.
            let unused = [
                "[refresh] log_interval",
                "[refresh] auth_log_interval",
                "[auth] interval",
                "[auth] log_interval",
            ];
            let done = if unused.contains(&l.name) {
                "not used by nethergaze, ignored".to_string()
            } else {
                format!("using {}", limits::show(end))
            };
            let want = format!(
                "nethergaze: warning: config file F line {line}: {} = {} is {side} {} (allowed: {}); {done}",
                l.name,
                limits::show(outside),
                limits::show(end),
                l.range(),
            );
            assert_eq!(file_warning(&text), want);
        }
        for inside in [l.min, l.max] {
            let text = format!("{head}{key} = {inside}\n");
            let (_dir, path) = file(&text);
            run(&["--config", &path], &[]).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
    }
}

/// Issue 9, item 7: each of these passed validation and aborted the dashboard
/// at start, or gave a message that contradicted itself or named no file.
#[test]
fn values_that_crashed_or_confused_are_refused_with_key_line_and_range() {
    let cases = [
        (
            "[[actions.hooks]]\nkey = \"1\"\ncommand = \"x\"\ntimeout = 0\n",
            "line 4: [[actions.hooks]] timeout: 0 is out of range (allowed: 0.1 to 86400 seconds)",
        ),
        (
            "[[actions.hooks]]\nkey = \"1\"\ncommand = \"x\"\ntimeout = 1e308\n",
            "line 4: [[actions.hooks]] timeout: 1e308 is out of range (allowed: 0.1 to 86400 seconds)",
        ),
        (
            "max_tracked_ips = 1e308\n",
            "line 1: max_tracked_ips: 1e308 is not a whole number (allowed: 1 to 1000000 addresses)",
        ),
        (
            "max_tracked_ips = 18446744073709551615\n",
            "line 1: max_tracked_ips: 18446744073709551615 is out of range (allowed: 1 to 1000000 addresses)",
        ),
        (
            "max_tracked_ips = -9223372036854775809\n",
            "line 1: max_tracked_ips: integer `-9223372036854775809` is too small",
        ),
        (
            "[filters]\nsuspicious_burst_rpm = nan\n",
            "line 2: [filters] suspicious_burst_rpm: NaN is out of range",
        ),
        (
            "show_private_ips = true\nlog_format = \"$\"\n",
            "line 2: log_format: log format has no $remote_addr, so lines name no client",
        ),
        (
            "[log]\nformat = \"$remote_addr$status\"\n",
            "line 2: [log] format: log format has $remote_addr directly followed by $status",
        ),
    ];
    for (text, want) in cases {
        let msg = file_err(text);
        assert!(msg.starts_with("nethergaze: config file F "), "{msg}");
        assert!(msg.contains(want), "{text:?}: {msg}");
    }
    // Issue 12 item 11: 0.2.0 took these (any number for its keys); they
    // load, adjusted, and the warning says how, with the range.
    let adjusted = [
        (
            "[log]\nmax_log_lines = 100000000000\n",
            "line 2: [log] max_log_lines = 100000000000 is above 100000 (allowed: 1 to 100000 lines); using 100000",
        ),
        (
            "\n[log]\nmax_log_lines = 9223372036854775807\n",
            "line 3: [log] max_log_lines = 9223372036854775807 is above 100000 (allowed: 1 to 100000 lines); using 100000",
        ),
        (
            "[log]\nmax_log_entries_per_ip = 1.0000000000000000000000000000000000000000001\n",
            "line 2: [log] max_log_entries_per_ip = 1.0000000000000000000000… is not an integer; using 1",
        ),
    ];
    for (text, want) in adjusted {
        let msg = file_warning(text);
        assert!(
            msg.starts_with("nethergaze: warning: config file F "),
            "{msg}"
        );
        assert!(msg.ends_with(want), "{text:?}: {msg}");
    }
    let msg = err(&["--log-format", "$"], &[]);
    assert!(
        msg.starts_with("nethergaze: --log-format: log format has no $remote_addr"),
        "{msg}"
    );
    let msg = err(&[], &[("NETHERGAZE_LOG_FORMAT", "$")]);
    assert!(
        msg.starts_with("nethergaze: NETHERGAZE_LOG_FORMAT: log format has no"),
        "{msg}"
    );
}

// --------------------------------------------------------- nethergaze 0.2.0

#[test]
fn python_readme_style_file_loads() {
    let text = r#"
log_path = "/var/log/nginx/*.access.log"
log_format = "auto"     # auto | combined | common | json
interface = "ens3"
show_private_ips = false

[refresh]
connections_interval = 1.0
log_interval = 0.5
bandwidth_interval = 30.0
auth_log_interval = 2.0

[geoip]
enabled = true
city_db = "/usr/share/GeoIP/GeoLite2-City.mmdb"
asn_db = "/usr/share/GeoIP/GeoLite2-ASN.mmdb"

[whois]
enabled = true
cache_ttl = 86400
max_workers = 3

[filters]
cidr_deny = ["10.0.0.0/8"]
suspicious_burst_rpm = 60
suspicious_min_conns = 5

[auth]
enabled = true
path = "/var/log/custom-auth.log"

[actions]
enable_block_execution = false

[[actions.hooks]]
key = "1"
label = "Reverse DNS"
command = "dig -x {ip}"

[[actions.hooks]]
key = "2"
label = "Ping"
command = "ping -c 3 {ip}"
"#;
    let c = with_file(text, &[], &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.log_paths, ["/var/log/nginx/*.access.log"]);
    assert_eq!(c.interface.as_deref(), Some("ens3"));
    assert_eq!(c.detect.burst_rpm, 60.0);
    assert_eq!(
        c.filters.cidr_deny,
        ["10.0.0.0/8".parse::<IpNet>().expect("net")]
    );
    assert_eq!(
        c.auth.source,
        AuthSource::File("/var/log/custom-auth.log".into())
    );
    assert_eq!(c.actions.hooks.len(), 2);
    assert_eq!(c.actions.hooks[1].command, "ping -c 3 {ip}");
}

#[test]
fn python_code_style_sections_load() {
    // The spellings 0.2.0's loader actually read: [log] path/format, [auth] log_*.
    let text = r#"
[log]
path = "/srv/logs/*.log"
format = "combined"
max_log_lines = 200
max_log_entries_per_ip = 20

[auth]
log_path = "/var/log/secure"
log_enabled = false
log_interval = 5

[cache]
dir = "/tmp/ng-cache"
"#;
    let c = with_file(text, &[], &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.log_paths, ["/srv/logs/*.log"]);
    assert_eq!(c.log_format, "combined");
    assert_eq!(
        (c.display.max_log_lines, c.display.max_log_entries_per_ip),
        (200, 20)
    );
    assert_eq!(c.auth.source, AuthSource::None);
    assert_eq!(c.cache_dir.as_deref(), Some(Path::new("/tmp/ng-cache")));
}

#[test]
fn python_flat_minimal_file_loads() {
    let text = "log_path = \"/var/log/nginx/*.access.log\"\ninterface = \"eth0\"\n";
    let c = with_file(text, &[], &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.log_paths, ["/var/log/nginx/*.access.log"]);
    assert_eq!(c.interface.as_deref(), Some("eth0"));
}

#[test]
fn both_spellings_of_one_auth_key_is_an_error() {
    let msg = file_err("[auth]\npath = \"/a\"\nlog_path = \"/b\"\n");
    assert!(
        msg.contains("[auth] `path` and `log_path` are the same key"),
        "{msg}"
    );
}

// ------------------------------------------------------------- file errors

#[test]
/// 0.2.0 ignored what it did not know: such a key or section is dropped with
/// a warning that names it, its table and its line (issue 12 item 11).
fn unknown_keys_name_the_key_table_and_line() {
    let msg = file_warning("[filters]\ncidr_allow = []\nfoo = 1\n");
    assert!(
        msg.starts_with(
            "nethergaze: warning: config file F line 3: unknown key `foo` in [filters] ignored"
        ),
        "{msg}"
    );
    assert!(
        msg.contains("cidr_deny"),
        "hint lists the known keys: {msg}"
    );
    let msg = file_warning("log_format = \"auto\"\nlog_pth = \"/x\"\n");
    assert!(
        msg.starts_with(
            "nethergaze: warning: config file F line 2: unknown key `log_pth` at the top level ignored"
        ),
        "{msg}"
    );
    let msg = file_warning("[geoip]\nenabled = true\n\n[nope]\nx = 1\ny = 2\n");
    assert_eq!(
        msg,
        "nethergaze: warning: config file F line 4: unknown section [nope] ignored"
    );
    let msg = file_warning("[[actions.hooks]]\nkey = \"1\"\ncommand = \"x\"\ncolour = \"red\"\n");
    assert!(
        msg.starts_with(
            "nethergaze: warning: config file F line 4: unknown key `colour` in [[actions.hooks]] ignored"
        ),
        "{msg}"
    );
    let msg = file_warning(
        "show_private_ips = true
filters.foo = 3
",
    );
    assert!(
        msg.starts_with(
            "nethergaze: warning: config file F line 2: unknown key `foo` in [filters] ignored"
        ),
        "{msg}"
    );
    let msg = file_warning("[[plugins]]\nname = \"a\"\n[[plugins]]\nname = \"b\"\n");
    assert_eq!(
        msg,
        "nethergaze: warning: config file F line 1: unknown section [[plugins]] ignored"
    );
    // The rest of the file still counts.
    let c = with_file("[nope]\nx = 1\n[geoip]\nenabled = false\n", &[], &[]).expect("loads");
    assert!(!c.geoip.enabled);
}

#[test]
fn wrong_types_name_the_key_and_line() {
    let msg = file_err("[filters]\n\nsuspicious_min_conns = \"five\"\n");
    assert!(msg.ends_with("line 3: [filters] suspicious_min_conns: invalid type: string \"five\", expected an integer"), "{msg}");
    let msg = file_err("show_private_ips = \"yes\"\n");
    assert!(
        msg.starts_with("nethergaze: config file F line 1: show_private_ips:"),
        "{msg}"
    );
    let msg = file_err("log_path = 3\n");
    assert!(
        msg.contains("line 1: log_path: expected a glob or an array of globs, found integer"),
        "{msg}"
    );
    let msg = file_err("max_tracked_ips = 0\n");
    assert!(
        msg.contains(
            "line 1: max_tracked_ips: 0 is out of range (allowed: 1 to 1000000 addresses)"
        ),
        "{msg}"
    );
}

#[test]
fn syntax_errors_give_the_line() {
    let msg = file_err("[filters]\ncidr_allow = [\"1.2.3.4/32\"\n\n");
    assert!(msg.starts_with("nethergaze: config file F line "), "{msg}");
    assert!(!msg.contains('\n'), "one line: {msg}");
}

#[test]
fn bad_values_in_the_file_name_key_and_line() {
    let msg = file_err("[filters]\ncidr_deny = [\n  \"10.0.0.0/8\",\n  \"10.0.0.300/8\",\n]\n");
    assert!(
        msg.starts_with(
            "nethergaze: config file F line 4: [filters] cidr_deny: invalid CIDR `10.0.0.300/8`"
        ),
        "{msg}"
    );
    let msg = file_err("trusted_proxies = [\"proxy.example\"]\n");
    assert!(
        msg.contains("line 1: trusted_proxies: invalid CIDR `proxy.example`"),
        "{msg}"
    );
    let msg = file_err("\n[filters]\nexploit_path_patterns = [\"ok\", \"(unclosed\"]\n");
    assert!(
        msg.ends_with(
            "line 3: [filters] exploit_path_patterns: invalid regex `(unclosed`: unclosed group"
        ),
        "{msg}"
    );
    // Wildcard directories are accepted since issue 12 item 14; an
    // unclosed class in one is still an error naming key and line.
    let msg = file_err("log_path = \"/var/[a/*/access.log\"\n");
    assert!(
        msg.contains("line 1: log_path: `/var/[a/*/access.log`: unclosed `[`"),
        "{msg}"
    );
    let msg = file_err("[log]\npath = [\"/ok/*.log\", \"\"]\n");
    assert!(msg.contains("line 2: [log] path: empty glob"), "{msg}");
    let msg = file_err("[log]\nformat = \"fancy\"\n");
    assert!(
        msg.contains("line 2: [log] format: invalid log format `fancy`"),
        "{msg}"
    );
    let msg = file_err("[whois]\nrdap_bootstrap_url = \"ftp://x/\"\n");
    assert!(
        msg.contains("line 2: [whois] rdap_bootstrap_url: invalid URL"),
        "{msg}"
    );
    let msg = file_err("[auth]\nsource = \"syslog\"\n");
    assert!(
        msg.contains("line 2: [auth] source: invalid value `syslog`"),
        "{msg}"
    );
    let msg = file_warning("[refresh]\nconnections_interval = 0\n");
    assert!(
        msg.contains("line 2: [refresh] connections_interval = 0 is below 0.1"),
        "{msg}"
    );
}

#[test]
fn hooks_keys_are_single_free_keys_and_unique() {
    let hook = |key: &str| format!("[[actions.hooks]]\nkey = {key}\ncommand = \"x {{ip}}\"\n");
    let two = format!("{}\n{}", hook("\"4\""), hook("\"4\""));
    let msg = file_err(&two);
    assert!(
        msg.contains("line 6: [[actions.hooks]] key: `4` is used by an earlier hook"),
        "{msg}"
    );
    for bad in ["\"10\"", "\"za\"", "\"\"", "\" \"", "\"\\t\"", "\"q\""] {
        let msg = file_err(&hook(bad));
        assert!(
            msg.contains("line 2: [[actions.hooks]] key:"),
            "{bad}: {msg}"
        );
    }
    for good in ["\"z\"", "\"0\"", "\"a\"", "\"Z\"", "\"é\""] {
        let c = with_file(&hook(good), &[], &[]).expect(good);
        assert_eq!(
            Some(c.actions.hooks[0].key),
            good.trim_matches('"').chars().next()
        );
    }
    let c = with_file(&hook("9"), &[], &[]).expect("integer key");
    assert_eq!(c.actions.hooks[0].key, '9');
    assert_eq!(c.actions.hooks[0].label, "x {ip}");
    let msg = file_err("[[actions.hooks]]\nkey = \"1\"\n");
    assert!(
        msg.contains("line 1: in [actions.hooks]: missing field `command`"),
        "{msg}"
    );
    let msg = file_err("[[actions.hooks]]\nkey = \"1\"\ncommand = \"x\"\ntimeout = 0\n");
    assert!(msg.contains("line 4: [[actions.hooks]] timeout:"), "{msg}");
    let c = with_file(
        "[[actions.hooks]]\nkey = \"1\"\ncommand = \"x\"\ntimeout = 2.5\n",
        &[],
        &[],
    )
    .expect("timeout");
    assert_eq!(c.actions.hooks[0].timeout, Duration::from_millis(2500));
}

#[test]
fn a_hook_on_a_built_in_key_names_the_key_the_hook_and_the_action() {
    let msg = file_err(
        "[[actions.hooks]]\nkey = \"w\"\nlabel = \"ping it\"\ncommand = \"ping -c1 {ip}\"\n",
    );
    assert!(
        msg.contains(
            "line 2: [[actions.hooks]] key: `w` is the built-in key for whois; \
             the hook `ping it` needs another key"
        ),
        "{msg}"
    );
    let msg = file_err("[[actions.hooks]]\nkey = \"/\"\ncommand = \"dig -x {ip}\"\n");
    assert!(
        msg.contains("`/` is the built-in key for quick filter; the hook `dig -x {ip}`"),
        "{msg}"
    );
}

#[test]
fn new_keys_load() {
    let text = r#"
trusted_proxies = ["10.0.0.7", "2001:db8::1/64"]
max_tracked_ips = 1000
[filters]
suspicious_min_auth_failures = 7
[auth]
source = "journald"
[history]
enabled = false
db = "/h.db"
[whois]
rdap_bootstrap_url = "http://127.0.0.1:8080/rdap"
"#;
    let c = with_file(text, &[], &[]).unwrap_or_else(|e| panic!("{e}"));
    let nets: Vec<String> = c.trusted_proxies.iter().map(|n| n.to_string()).collect();
    assert_eq!(nets, ["10.0.0.7/32", "2001:db8::/64"]);
    assert_eq!(c.max_tracked_ips, 1000);
    assert_eq!(c.detect.min_auth_failures, 7);
    assert_eq!(c.auth.source, AuthSource::Journald);
    assert!(!c.history.enabled);
    assert_eq!(c.history.db.as_deref(), Some(Path::new("/h.db")));
    assert_eq!(c.whois.rdap_bootstrap_url, "http://127.0.0.1:8080/rdap/");
}

// ------------------------------------------------------- config discovery

#[test]
fn explicit_config_must_exist() {
    assert_eq!(
        err(&["--config", "/nonexistent-ng/x.toml"], &[]),
        "nethergaze: --config: /nonexistent-ng/x.toml does not exist"
    );
}

/// A FIFO would block `open` forever and /dev/zero would be read until memory
/// runs out: both are refused at once, as is a file over the 1 MiB cap.
#[test]
fn config_that_is_not_a_small_regular_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("fifo.toml");
    crate::sys::file::mkfifo(&fifo, 0o600).expect("mkfifo");
    let fifo = fifo.to_str().expect("utf-8");
    let got = err(&["--config", fifo], &[]);
    assert!(
        got.contains("cannot read: not a regular file (a FIFO)"),
        "{got}"
    );
    let got = err(&["--config", "/dev/zero"], &[]);
    assert!(
        got.contains("cannot read: not a regular file (a device)"),
        "{got}"
    );
    let (_big_dir, big) = file(&format!("# {}\n", "x".repeat(2 << 20)));
    let got = err(&["--config", &big], &[]);
    assert!(
        got.contains("too large") && got.contains("at most 1 MiB"),
        "{got}"
    );
}

#[test]
fn config_found_in_xdg_then_home() {
    let home = tempfile::tempdir().expect("tempdir");
    let home_s = home.path().to_str().expect("utf-8").to_string();
    let dot = home.path().join(".nethergaze.toml");
    fs::write(&dot, "log_format = \"common\"\n").expect("write");
    let env = [("HOME", home_s.as_str())];
    let c = ok(&[], &env);
    assert_eq!(c.config_file.as_deref(), Some(dot.as_path()));
    assert_eq!(c.log_format, "common");
    // ~/.config/nethergaze/config.toml (XDG default) wins over ~/.nethergaze.toml.
    let xdg = home.path().join(".config/nethergaze");
    fs::create_dir_all(&xdg).expect("mkdir");
    fs::write(xdg.join("config.toml"), "log_format = \"json\"\n").expect("write");
    assert_eq!(ok(&[], &env).log_format, "json");
    // $XDG_CONFIG_HOME moves it.
    let other = tempfile::tempdir().expect("tempdir");
    fs::create_dir_all(other.path().join("nethergaze")).expect("mkdir");
    fs::write(
        other.path().join("nethergaze/config.toml"),
        "log_format = \"vhost_combined\"\n",
    )
    .expect("write");
    let other_s = other.path().to_str().expect("utf-8");
    assert_eq!(
        ok(&[], &[env[0], ("XDG_CONFIG_HOME", other_s)]).log_format,
        "vhost_combined"
    );
}

/// Without `--config` and without a file of the user's, the system-wide file
/// (`/etc/nethergaze/config.toml`, the probe's here) is read; the user's wins.
#[test]
fn system_config_is_read_when_the_user_has_none() {
    let etc = tempfile::tempdir().expect("tempdir");
    let system = etc.path().join("config.toml");
    fs::write(&system, "log_format = \"common\"\n").expect("write");
    let probe = Probe {
        system_config: system.clone(),
        ..no_probe()
    };
    let c = run_with(&[], &[], &probe).expect("loads");
    assert_eq!(c.config_file.as_deref(), Some(system.as_path()));
    assert_eq!(c.log_format, "common");
    let home = tempfile::tempdir().expect("tempdir");
    let dot = home.path().join(".nethergaze.toml");
    fs::write(&dot, "log_format = \"json\"\n").expect("write");
    let home_s = home.path().to_str().expect("utf-8");
    let c = run_with(&[], &[("HOME", home_s)], &probe).expect("loads");
    assert_eq!(c.config_file.as_deref(), Some(dot.as_path()));
    // An explicit --config that does not exist is still an error.
    let missing = run_with(&["--config", "/nonexistent-ng/x.toml"], &[], &probe);
    assert!(missing.is_err(), "{missing:?}");
}

/// Issue 12 item 11: each value nethergaze 0.2.0 accepted loads, adjusted as
/// the warning says; one warning per key.
#[test]
fn values_0_2_0_accepted_load_with_one_warning_each() {
    let text = r#"log_path = ""
[log]
max_log_lines = 0
max_log_entries_per_ip = 5.0
[refresh]
connections_interval = 0.05
[whois]
enabled = true
max_workers = 0
cache_ttl = 1e12
[filters]
suspicious_min_conns = 5.9
[cache]
cache_dir = "~/.cache/nethergaze"
"#;
    let (_dir, path) = file(text);
    let c = run(&["--config", &path], &[]).unwrap_or_else(|e| panic!("{e}"));
    let warnings: Vec<String> = c
        .warnings
        .iter()
        .map(|w| format!("{}: {}", w.line, w.msg))
        .collect();
    assert_eq!(
        warnings,
        [
            "1: log_path = \"\" reads no access log, as in 0.2.0 (sockets and sshd only)",
            "3: [log] max_log_lines = 0 meant no limit in 0.2.0; using the maximum, 100000",
            "4: [log] max_log_entries_per_ip = 5.0 is not an integer; using 5",
            "6: [refresh] connections_interval = 0.05 is below 0.1 (allowed: 0.1 to 86400 seconds); using 0.1",
            "9: [whois] max_workers = 0 let no lookup run in 0.2.0; whois lookups are off (write [whois] enabled = false)",
            "10: [whois] cache_ttl = 1e12 is not an integer and is above 31536000 (allowed: 0 to 31536000 seconds); using 31536000",
            "12: [filters] suspicious_min_conns = 5.9 is not an integer; using 5",
            "14: [cache] cache_dir ignored: 0.2.0 never read it (its loader read `dir`), so its caches stayed in ~/.cache/nethergaze; write `dir` to move nethergaze's cache",
        ]
    );
    assert_eq!(c.log_paths, Vec::<String>::new());
    assert!(c.log_paths_named);
    assert_eq!(c.display.max_log_lines, 100_000);
    assert_eq!(c.display.max_log_entries_per_ip, 5);
    assert_eq!(c.connections_interval, MIN_CONNECTIONS_INTERVAL);
    assert!(!c.whois.enabled);
    assert_eq!(c.whois.cache_ttl, Duration::from_secs(31_536_000));
    assert_eq!(c.detect.min_conns, 5);
    assert_eq!(
        c.cache_dir.as_deref(),
        Some(Path::new(HOME).join(".cache/nethergaze").as_path()),
        "cache_dir was not used"
    );
    // 0.2.0's `Semaphore(0.0)` let no lookup run either.
    let c = with_file("[whois]\nmax_workers = 0.0\n", &[], &[]).expect("loads");
    assert!(!c.whois.enabled);
    // A flag still wins over what the file's adjustment chose.
    let c = ok(&["--config", &path, "--log-path", "/x.log"], &[]);
    assert_eq!(c.log_paths, ["/x.log"]);
}

/// What can't mean anything still stops the start, naming key and line.
#[test]
fn values_that_mean_nothing_are_still_errors() {
    for (text, want) in [
        (
            "[log]\nmax_log_lines = nan\n",
            "line 2: [log] max_log_lines: nan is not a whole number (allowed: 1 to 100000 lines)",
        ),
        (
            "[refresh]\nconnections_interval = inf\n",
            "line 2: [refresh] connections_interval: inf is out of range",
        ),
        (
            "[whois]\nmax_workers = \"3\"\n",
            "line 2: [whois] max_workers: invalid type: string \"3\", expected an integer",
        ),
        (
            "[filters]\nexploit_path_patterns = [\"(\"]\n",
            "line 2: [filters] exploit_path_patterns: invalid regex",
        ),
        (
            "[filters]\ncidr_allow = [\"10.0.0.0/33\"]\n",
            "line 2: [filters] cidr_allow: invalid CIDR",
        ),
        ("[nope]\nx = [\n", "line "),
    ] {
        let msg = file_err(text);
        assert!(msg.contains(want), "{text:?}: {msg}");
    }
}

/// `--check-config` loads everything and hands back the warnings instead of
/// a run; errors stay errors.
#[test]
fn check_config_reports_warnings() {
    let check = |args: &[&str]| {
        let argv = std::iter::once("nethergaze")
            .chain(args.iter().copied())
            .map(OsString::from);
        let env = |k: &str| (k == "HOME").then(|| HOME.to_string());
        load_with(argv, &env, &no_probe())
    };
    let (_dir, path) = file("[whois]\nmax_workers = 0\nfoo = 1\n");
    match check(&["--check-config", "--config", &path]) {
        Ok(Invocation::CheckConfig(report)) => {
            assert_eq!(report.file.as_deref(), Some(Path::new(&path)));
            let lines: Vec<usize> = report.warnings.iter().map(|w| w.line).collect();
            assert_eq!(lines, [2, 3]);
        }
        other => panic!("{other:?}"),
    }
    match check(&["--check-config"]) {
        Ok(Invocation::CheckConfig(report)) => {
            assert_eq!(report.file, None);
            assert_eq!(report.warnings, []);
            assert_eq!(report.searched.len(), 3, "{:?}", report.searched);
        }
        other => panic!("{other:?}"),
    }
    let (_bad, bad) = file("[filters]\ncidr_deny = [\"nope\"]\n");
    assert!(check(&["--check-config", "--config", &bad]).is_err());
}

// ------------------------------------------------------------- flag errors

#[test]
fn durations() {
    assert_eq!(
        ok(&["--for", "90"], &[]).mode,
        Mode::For(Duration::from_secs(90))
    );
    assert_eq!(
        ok(&["--for", "30s"], &[]).mode,
        Mode::For(Duration::from_secs(30))
    );
    assert_eq!(
        ok(&["--for=5m"], &[]).mode,
        Mode::For(Duration::from_secs(300))
    );
    assert_eq!(
        ok(&["--for", "1h"], &[]).mode,
        Mode::For(Duration::from_secs(3600))
    );
    assert_eq!(
        err(&["--for", "abc"], &[]),
        "nethergaze: --for: invalid duration `abc` (use 30s, 5m, 1h)"
    );
    for bad in ["", "s", "-5s", "1.5m", "5d", "99999999999999999999h", "5 m"] {
        assert!(
            err(&["--for", bad], &[]).starts_with("nethergaze: --for: invalid duration"),
            "{bad}"
        );
    }
    for long in ["0s", "31536001", "9000000h"] {
        assert_eq!(
            err(&["--for", long], &[]),
            format!("nethergaze: --for: `{long}` is out of range (allowed: 1 to 31536000 seconds)")
        );
    }
    let c = ok(&["--for", "8760h"], &[]);
    assert_eq!(c.mode, Mode::For(Duration::from_secs(31_536_000)));
}

#[test]
fn bad_flag_values_name_the_flag() {
    let cases: [(&[&str], &str); 8] = [
        (&["--log-path", ""], "nethergaze: --log-path: empty glob"),
        (
            &["--log-path", "/var/log/[*/a.log"],
            "nethergaze: --log-path: `/var/log/[*/a.log`: unclosed `[`",
        ),
        (
            &["--log-path", "/var/log/"],
            "nethergaze: --log-path: `/var/log/` names a directory",
        ),
        (
            &["--log-path", "/x/[ab.log"],
            "nethergaze: --log-path: `/x/[ab.log`: unclosed `[`",
        ),
        (
            &["--log-format", "fancy"],
            "nethergaze: --log-format: invalid log format `fancy`",
        ),
        (
            &["--color", "sometimes"],
            "nethergaze: --color: invalid value `sometimes`",
        ),
        (
            &["--auth-source", "syslog"],
            "nethergaze: --auth-source: invalid value `syslog`",
        ),
        (
            &["--connections-interval", "0"],
            "nethergaze: --connections-interval: 0 is out of range (allowed: 0.1 to 86400 seconds)",
        ),
    ];
    for (args, want) in cases {
        let msg = err(args, &[]);
        assert!(msg.starts_with(want), "{args:?}: {msg}");
    }
    let msg = err(&["--connections-interval", "fast"], &[]);
    assert!(msg.contains("invalid number of seconds `fast`"), "{msg}");
}

#[test]
fn log_formats() {
    assert_eq!(ok(&["--log-format", "JSON"], &[]).log_format, "json");
    let nginx = "$remote_addr - [$time_local] \"$request\" $status";
    assert_eq!(ok(&["--log-format", nginx], &[]).log_format, nginx);
}

#[test]
fn bad_env_values_name_the_variable() {
    let msg = err(&[], &[("NETHERGAZE_GEOIP_ENABLED", "maybe")]);
    assert!(
        msg.starts_with("nethergaze: NETHERGAZE_GEOIP_ENABLED: invalid boolean `maybe`"),
        "{msg}"
    );
    let msg = err(&[], &[("NETHERGAZE_LOG_PATH", "/a/[*/b.log")]);
    assert!(
        msg.starts_with("nethergaze: NETHERGAZE_LOG_PATH: `/a/[*/b.log`: unclosed `[`"),
        "{msg}"
    );
    let msg = err(&[], &[("NETHERGAZE_LOG_FORMAT", "xml")]);
    assert!(
        msg.starts_with("nethergaze: NETHERGAZE_LOG_FORMAT: invalid log format `xml`"),
        "{msg}"
    );
    for (v, want) in [
        ("1", true),
        ("Yes", true),
        ("on", true),
        ("0", false),
        ("no", false),
    ] {
        let c = ok(&[], &[("NETHERGAZE_WHOIS_ENABLED", v)]);
        assert_eq!(c.whois.enabled, want, "{v}");
    }
}

#[test]
fn modes_and_conflicts() {
    assert_eq!(ok(&["--once"], &[]).mode, Mode::Once);
    let c = ok(&["--once", "--json", "--suspicious", "--from-start"], &[]);
    assert!(c.json && c.suspicious_only && c.from_start);
    assert_eq!(
        err(&["--once", "--for", "1m"], &[]),
        "nethergaze: --once and --for exclude each other"
    );
    assert_eq!(
        err(&["--json"], &[]),
        "nethergaze: --json: needs --once or --for"
    );
    assert!(ok(&["--suspicious"], &[]).suspicious_only);
    assert!(ok(&["--once", "--resume"], &[]).resume);
    assert!(!ok(&["--once"], &[]).resume);
    assert_eq!(
        err(&["--resume"], &[]),
        "nethergaze: --resume: needs --once or --for"
    );
    assert_eq!(
        err(&["--for", "1m", "--resume", "--no-history"], &[]),
        "nethergaze: --resume: needs the history database, where each log's place is kept \
         (history is off)"
    );
    assert_eq!(ok(&["--color", "never"], &[]).color, ColorChoice::Never);
    let c = ok(&["--proc-root", "/tmp/fixture"], &[]);
    assert_eq!(c.proc_root.as_deref(), Some(Path::new("/tmp/fixture")));
}

/// Issue 14 item 1: `--events` alone runs until stopped, with `--for` for
/// a while; stdout is the stream, so no `--json` or `--once` with it.
/// `--events-file` goes with any mode.
#[test]
fn events_modes_and_conflicts() {
    let c = ok(&["--events"], &[]);
    assert_eq!(c.mode, Mode::Stream);
    assert!(c.events.stdout && c.events.file.is_none());
    let c = ok(&["--events", "--for", "1m"], &[]);
    assert_eq!(c.mode, Mode::For(Duration::from_secs(60)));
    assert!(c.events.stdout);
    let c = ok(&["--events-file", "/tmp/e.ndjson"], &[]);
    assert_eq!(c.mode, Mode::Dashboard);
    assert_eq!(c.events.file.as_deref(), Some(Path::new("/tmp/e.ndjson")));
    assert!(!c.events.stdout);
    assert!(!ok(&[], &[]).events.is_on());
    assert_eq!(
        err(&["--events", "--once"], &[]),
        "nethergaze: --events: follows the logs: use it alone or with --for, not with --once"
    );
    assert_eq!(
        err(&["--events", "--for", "1m", "--json"], &[]),
        "nethergaze: --json: with --events, stdout is the event stream (no snapshot is printed)"
    );
    assert!(ok(&["--events", "--resume"], &[]).resume);
}

#[test]
fn help_and_version_win_over_everything_else() {
    let env = |_: &str| None;
    let argv = |a: &[&str]| {
        std::iter::once("nethergaze")
            .chain(a.iter().copied())
            .map(OsString::from)
            .collect::<Vec<_>>()
    };
    let got = load_with(argv(&["--for", "abc", "--help"]), &env, &no_probe());
    assert!(
        matches!(got, Ok(Invocation::Help(ref h)) if h.contains("--connections-interval SECS"))
    );
    let got = load_with(argv(&["-V", "--config", "/nonexistent"]), &env, &no_probe());
    assert_eq!(got, Ok(Invocation::Version("nethergaze 0.3.0".into())));
}

#[test]
fn history_flags() {
    let c = ok(&["--history-db", "/x.db"], &[]);
    assert!(c.history.enabled);
    assert_eq!(c.history.db.as_deref(), Some(Path::new("/x.db")));
    assert!(
        !ok(&["--history-db", "/x.db", "--no-history"], &[])
            .history
            .enabled
    );
    let c = with_file(
        "[history]\nenabled = false\n",
        &["--history-db", "/y.db"],
        &[],
    )
    .expect("load");
    assert!(
        c.history.enabled,
        "a path on the command line turns history back on"
    );
}

#[test]
fn color_choice() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    };
    assert!(ColorChoice::Auto.enabled(true, &env(&[])));
    assert!(!ColorChoice::Auto.enabled(false, &env(&[])));
    assert!(!ColorChoice::Auto.enabled(true, &env(&[("NO_COLOR", "1")])));
    assert!(ColorChoice::Auto.enabled(true, &env(&[("NO_COLOR", "")])));
    assert!(!ColorChoice::Auto.enabled(true, &env(&[("TERM", "dumb")])));
    assert!(ColorChoice::Always.enabled(false, &env(&[("NO_COLOR", "1")])));
    assert!(!ColorChoice::Never.enabled(true, &env(&[])));
}

// ----------------------------------------------------- default log path

#[test]
fn default_log_path_is_the_first_candidate_with_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    for sub in ["nginx", "apache2", "caddy"] {
        fs::create_dir(d.join(sub)).expect("mkdir");
    }
    // nginx: only a non-matching file, a hidden match and a directory match.
    fs::write(d.join("nginx/other.log"), "").expect("write");
    fs::write(d.join("nginx/.hidden.access.log"), "").expect("write");
    fs::create_dir(d.join("nginx/dir.access.log")).expect("mkdir");
    fs::write(d.join("apache2/site_access.log"), "").expect("write");
    fs::write(d.join("caddy/x.log"), "").expect("write");
    let root = d.to_str().expect("utf-8");
    let candidates: Vec<String> = [
        "nginx/*.access.log",
        "nginx/access.log",
        "apache2/*access.log",
        "caddy/*.log",
    ]
    .iter()
    .map(|c| format!("{root}/{c}"))
    .collect();
    assert_eq!(resolve_default_log_path(&candidates), candidates[2]);
    // The plain file name wins once it exists, being earlier in the list.
    fs::write(d.join("nginx/access.log"), "").expect("write");
    assert_eq!(resolve_default_log_path(&candidates), candidates[1]);
    // Through load_with, with the probe injected.
    let probe = Probe {
        log_candidates: candidates.clone(),
        ..no_probe()
    };
    let c = run_with(&[], &[], &probe).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.log_paths, [candidates[1].clone()]);
    // Nothing matches: the first candidate, so its source reports it missing.
    let none: Vec<String> = candidates.iter().map(|c| format!("{c}.nope")).collect();
    assert_eq!(resolve_default_log_path(&none), none[0]);
}

// ----------------------------------------------------------------- auth

fn fake_journalctl(dir: &Path) -> String {
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).expect("mkdir");
    let exe = bin.join("journalctl");
    fs::write(&exe, "#!/bin/sh\n").expect("write");
    fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).expect("chmod");
    bin.to_str().expect("utf-8").to_string()
}

#[test]
fn auth_auto_prefers_files_then_journald() {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = Probe {
        auth_candidates: vec![dir.path().join("auth.log"), dir.path().join("secure")],
        ..no_probe()
    };
    let path = fake_journalctl(dir.path());
    let path_env = [("PATH", path.as_str())];
    let source = |args: &[&str], env: &[(&str, &str)]| {
        run_with(args, env, &probe)
            .unwrap_or_else(|e| panic!("{e}"))
            .auth
    };
    assert_eq!(source(&[], &path_env).source, AuthSource::Journald);
    let a = source(&[], &[("PATH", "/nonexistent-ng/bin")]);
    assert_eq!(a.source, AuthSource::None);
    assert!(a.note.is_some());
    fs::write(dir.path().join("secure"), "").expect("write");
    assert_eq!(
        source(&[], &path_env).source,
        AuthSource::File(dir.path().join("secure"))
    );
    fs::write(dir.path().join("auth.log"), "").expect("write");
    assert_eq!(
        source(&[], &path_env).source,
        AuthSource::File(dir.path().join("auth.log"))
    );
    // Explicit choices.
    assert_eq!(
        source(&["--auth-source", "journald"], &path_env).source,
        AuthSource::Journald
    );
    let a = source(&["--auth-source", "journald"], &[]);
    assert_eq!(a.source, AuthSource::Journald);
    assert!(a.note.as_deref().is_some_and(|n| n.contains("journalctl")));
    let a = source(&["--auth-log-path", "/x/auth"], &path_env);
    assert_eq!(a.source, AuthSource::File("/x/auth".into()));
}

#[test]
fn auth_conflicts() {
    // --no-auth-log wins, as in 0.2.0.
    let c = ok(&["--no-auth-log", "--auth-log-path", "/x"], &[]);
    assert_eq!(c.auth.source, AuthSource::None);
    let msg = err(&["--auth-log-path", "/x", "--auth-source", "journald"], &[]);
    assert_eq!(
        msg,
        "nethergaze: --auth-log-path and --auth-source journald exclude each other"
    );
    // A file path is overridden by a command-line source.
    let c = with_file(
        "[auth]\npath = \"/f\"\n",
        &["--auth-source", "journald"],
        &[],
    )
    .expect("load");
    assert_eq!(c.auth.source, AuthSource::Journald);
    // A command-line path turns a file's `enabled = false` back on.
    let c = with_file("[auth]\nenabled = false\n", &["--auth-log-path", "/p"], &[]).expect("load");
    assert_eq!(c.auth.source, AuthSource::File("/p".into()));
    let msg = file_err("[auth]\npath = \"/f\"\nsource = \"journald\"\n");
    assert!(
        msg.contains("line 3: [auth] source: `journald` while a path is set"),
        "{msg}"
    );
}

#[test]
fn auth_journal_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = fake_journalctl(dir.path());
    let env = [("PATH", path.as_str())];
    // Alone it means journald, reading that directory.
    let c = with_file("[auth]\njournal_directory = \"/mnt/j\"\n", &[], &env).expect("load");
    assert_eq!(c.auth.source, AuthSource::Journald);
    assert_eq!(c.auth.journal_directory, Some("/mnt/j".into()));
    let text = "[auth]\nsource = \"journald\"\njournal_directory = \"/mnt/j\"\n";
    let c = with_file(text, &[], &env).expect("load");
    assert_eq!(c.auth.journal_directory, Some("/mnt/j".into()));
    // This system's journal otherwise.
    let c = ok(&["--auth-source", "journald"], &env);
    assert_eq!(c.auth.journal_directory, None);
    // A file source from the command line wins and has no journal directory.
    let c = with_file(
        "[auth]\njournal_directory = \"/mnt/j\"\n",
        &["--auth-log-path", "/p"],
        &env,
    )
    .expect("load");
    assert_eq!(c.auth.source, AuthSource::File("/p".into()));
    assert_eq!(c.auth.journal_directory, None);
    // So does a file source in the same file.
    for (text, path) in [
        (
            "[auth]\npath = \"/f\"\njournal_directory = \"/mnt/j\"\n",
            "/f",
        ),
        (
            "[auth]\nsource = \"file\"\njournal_directory = \"/mnt/j\"\n",
            "/nonexistent-ng/auth.log",
        ),
    ] {
        let c = with_file(text, &[], &env).expect("load");
        assert_eq!(c.auth.source, AuthSource::File(path.into()), "{text}");
        assert_eq!(c.auth.journal_directory, None, "{text}");
    }
}

// ------------------------------------------------------------------ globs

/// Oracle: straightforward recursion over the pattern.
fn naive_match(pat: &[u8], name: &[u8]) -> bool {
    match pat.first() {
        None => name.is_empty(),
        Some(b'*') => (0..=name.len()).any(|i| naive_match(&pat[1..], &name[i..])),
        Some(b'?') => !name.is_empty() && naive_match(&pat[1..], &name[1..]),
        Some(b'[') => match pat.iter().skip(2).position(|&b| b == b']') {
            Some(p) => {
                let close = p + 2;
                let (neg, set) = match pat[1] {
                    b'!' => (true, &pat[2..close]),
                    _ => (false, &pat[1..close]),
                };
                let hit = |c: u8| {
                    let mut i = 0;
                    let mut found = false;
                    while i < set.len() {
                        if i + 2 < set.len() && set[i + 1] == b'-' {
                            found |= set[i] <= c && c <= set[i + 2];
                            i += 3;
                        } else {
                            found |= set[i] == c;
                            i += 1;
                        }
                    }
                    found != neg
                };
                name.first().is_some_and(|&c| hit(c)) && naive_match(&pat[close + 1..], &name[1..])
            }
            None => name.first() == Some(&b'[') && naive_match(&pat[1..], &name[1..]),
        },
        Some(&c) => name.first() == Some(&c) && naive_match(&pat[1..], &name[1..]),
    }
}

fn words(alphabet: &[&str], max: usize) -> Vec<String> {
    let mut all = vec![String::new()];
    let mut last = vec![String::new()];
    for _ in 0..max {
        last = last
            .iter()
            .flat_map(|w| alphabet.iter().map(move |a| format!("{w}{a}")))
            .collect();
        all.extend(last.iter().cloned());
    }
    all
}

#[test]
fn glob_matcher_agrees_with_the_oracle() {
    // Classes here never start with `]` or `!]`, where the oracle's simpler
    // parsing would differ on purpose.
    let patterns = words(&["a", "b", "*", "?", "[ab]", "[!a]", "[a-c]", "."], 4);
    let names = words(&["a", "b", "c", "."], 5);
    for p in &patterns {
        for n in &names {
            let (p, n) = (p.as_bytes(), n.as_bytes());
            let dot_rule = n.first() == Some(&b'.') && p.first() != Some(&b'.');
            let want = !dot_rule && naive_match(p, n);
            assert_eq!(glob_matches(p, n), want, "{:?} {:?}", p, n);
        }
    }
}

#[test]
fn glob_examples() {
    assert!(glob_matches(b"*.access.log", b"example.com.access.log"));
    assert!(!glob_matches(b"*.access.log", b"access.log"));
    assert!(glob_matches(b"*access.log", b"access.log"));
    assert!(!glob_matches(b"*.log", b".hidden.log"));
    assert!(glob_matches(b"[]x].log", b"].log"));
    assert!(glob_matches(b"[!]x].log", b"a.log"));
    assert_eq!(
        split_glob("/var/log/nginx/*.log"),
        ("/var/log/nginx", "*.log")
    );
    assert_eq!(split_glob("/x.log"), ("/", "x.log"));
    assert_eq!(split_glob("x.log"), (".", "x.log"));
    assert!(check_glob("relative/*.log").is_ok());
    // Wildcards in directories are allowed since issue 12 item 14 (as
    // Python's glob.glob); an unclosed class there is still refused.
    assert!(check_glob("/a/[b]/x.log").is_ok());
    assert!(check_glob("/a/[b/x.log").is_err());
}

#[test]
fn cidr_parsing_is_lenient_like_python() {
    assert_eq!(
        parse_cidr("10.1.2.3/8").map(|n| n.to_string()),
        Ok("10.0.0.0/8".into())
    );
    assert_eq!(
        parse_cidr(" ::ffff:1.2.3.4 ").map(|n| n.to_string()),
        Ok("1.2.3.4/32".into())
    );
    assert!(parse_cidr("10.0.0.0/33").is_err());
    assert!(parse_cidr("").is_err());
}

/// Issue 12, items 16 and 17: `reason_ttl` and `static_extensions`.
#[test]
fn reason_ttl_and_static_extensions() {
    let c = with_file("", &[], &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.detect.reason_ttl, 3600);
    assert!(c.detect.static_extensions.iter().any(|e| e == "woff2"));
    let text = "[filters]\nreason_ttl = 600\nstatic_extensions = [\"CSS\", \".js\"]\n";
    let c = with_file(text, &[], &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.detect.reason_ttl, 600);
    assert_eq!(c.detect.static_extensions, ["css", "js"]);
    let c = with_file("[filters]\nstatic_extensions = []\n", &[], &[]).unwrap();
    assert!(
        c.detect.static_extensions.is_empty(),
        "every request in full"
    );
    for (bad, why) in [
        ("\"\"", "an empty extension"),
        ("\"tar.gz\"", "`.` can't be"),
    ] {
        let msg = file_err(&format!("[filters]\nstatic_extensions = [{bad}]\n"));
        assert!(
            msg.contains("[filters] static_extensions") && msg.contains(why),
            "{msg}"
        );
    }
}

/// `--group-by` (issue 15 item 3): net, asn or country; anything else names
/// the flag. A hook on `n`, the grouping key added since 0.2.0, still loads.
#[test]
fn group_by_takes_its_three_kinds_and_n_stays_free_for_hooks() {
    use crate::view::groups::GroupBy;
    assert_eq!(ok(&[], &[]).group_by, GroupBy::Ip);
    for (v, by) in [
        ("net", GroupBy::Net),
        ("asn", GroupBy::Asn),
        ("country", GroupBy::Country),
    ] {
        assert_eq!(ok(&["--once", "--group-by", v], &[]).group_by, by);
    }
    let msg = err(&["--once", "--group-by", "ip"], &[]);
    assert!(
        msg.contains("--group-by") && msg.contains("not one of net, asn, country"),
        "{msg}"
    );
    let c = with_file(
        "[[actions.hooks]]\nkey = \"n\"\ncommand = \"x {ip}\"\n",
        &[],
        &[],
    )
    .expect("a hook on n");
    assert_eq!(c.actions.hooks[0].key, 'n');
}
