//! What 0.2.0 ignored: keys and sections nethergaze does not know are
//! dropped from the parsed file, each with a warning, before serde (which
//! denies unknown keys) reads it.

use super::FileCtx;

/// The keys of every table, for dropping what 0.2.0 would have ignored
/// before serde (which denies unknown keys) sees the file. `""` is the top
/// level; `actions.hooks` is each `[[actions.hooks]]` entry.
const KNOWN_KEYS: [(&str, &[&str]); 11] = [
    (
        "",
        &[
            "log_path",
            "log_format",
            "interface",
            "show_private_ips",
            "trusted_proxies",
            "max_tracked_ips",
            "log",
            "refresh",
            "geoip",
            "whois",
            "auth",
            "cache",
            "filters",
            "actions",
            "history",
        ],
    ),
    (
        "log",
        &[
            "path",
            "format",
            "max_log_lines",
            "max_log_entries_per_ip",
            "follow_symlinks",
            "since",
        ],
    ),
    (
        "refresh",
        &[
            "connections_interval",
            "log_interval",
            "bandwidth_interval",
            "auth_log_interval",
            "metrics_interval",
            "blocked_interval",
        ],
    ),
    ("geoip", &["enabled", "city_db", "asn_db"]),
    (
        "whois",
        &[
            "enabled",
            "cache_ttl",
            "max_workers",
            "rdap_bootstrap_url",
            "whois_server",
        ],
    ),
    (
        "auth",
        &[
            "path",
            "log_path",
            "enabled",
            "log_enabled",
            "interval",
            "log_interval",
            "source",
            "journal_directory",
        ],
    ),
    ("cache", &["dir"]),
    (
        "filters",
        &[
            "cidr_allow",
            "cidr_deny",
            "suspicious_burst_rpm",
            "suspicious_min_conns",
            "suspicious_min_auth_failures",
            "scanner_user_agents",
            "exploit_path_patterns",
            "reason_ttl",
            "static_extensions",
        ],
    ),
    (
        "actions",
        &[
            "enable_block_execution",
            "hooks",
            "fail2ban_jail",
            "cscli_duration",
            "cscli_reason",
            "nft_table",
            "nft_set_v4",
            "nft_set_v6",
        ],
    ),
    ("actions.hooks", &["key", "label", "command", "timeout"]),
    ("history", &["enabled", "db"]),
];

/// Drops the keys of `table` (named `name`, dotted) that nethergaze does
/// not know, each with a warning, and walks into the tables it knows.
pub(super) fn drop_unknown(ctx: &FileCtx, name: &str, table: &mut toml::de::DeTable) {
    let Some((_, known)) = KNOWN_KEYS.iter().find(|(t, _)| *t == name) else {
        return;
    };
    let unknown: Vec<_> = table
        .keys()
        .filter(|key| !known.contains(&key.get_ref().as_ref()))
        .cloned()
        .collect();
    for key in unknown {
        if let Some(value) = table.remove(&key) {
            let msg = unknown_message(name, key.get_ref(), value.get_ref(), known);
            ctx.warn(key.span(), msg);
        }
    }
    for (key, value) in table.iter_mut() {
        let child = match name {
            "" => key.get_ref().to_string(),
            _ => format!("{name}.{}", key.get_ref()),
        };
        match value.get_mut() {
            toml::de::DeValue::Table(t) => drop_unknown(ctx, &child, t),
            toml::de::DeValue::Array(items) => {
                for item in items.iter_mut() {
                    if let toml::de::DeValue::Table(t) = item.get_mut() {
                        drop_unknown(ctx, &child, t);
                    }
                }
            }
            _ => {}
        }
    }
}

/// What the warning for an unknown key says.
fn unknown_message(table: &str, key: &str, value: &toml::de::DeValue, known: &[&str]) -> String {
    if (table, key) == ("cache", "cache_dir") {
        // In 0.2.0's config.example.toml, but its loader read `[cache] dir`.
        return "[cache] cache_dir ignored: 0.2.0 never read it (its loader read \
                `dir`), so its caches stayed in ~/.cache/nethergaze; write `dir` to \
                move nethergaze's cache"
            .into();
    }
    let is_table = match value {
        toml::de::DeValue::Table(_) => true,
        toml::de::DeValue::Array(items) => {
            if !items.is_empty()
                && items
                    .iter()
                    .all(|i| matches!(i.get_ref(), toml::de::DeValue::Table(_)))
            {
                return format!("unknown section [[{key}]] ignored");
            }
            false
        }
        _ => false,
    };
    match table {
        "" if is_table => format!("unknown section [{key}] ignored"),
        "" => format!(
            "unknown key `{key}` at the top level ignored (known: {})",
            known.join(", ")
        ),
        "actions.hooks" => format!(
            "unknown key `{key}` in [[actions.hooks]] ignored (known: {})",
            known.join(", ")
        ),
        t => format!(
            "unknown key `{key}` in [{t}] ignored (known: {})",
            known.join(", ")
        ),
    }
}
