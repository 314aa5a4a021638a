//! `--generate man|complete-bash|complete-zsh|complete-fish`: the man page and
//! the shell completions, rendered from [`FLAGS`] (the table the parser reads)
//! and the dashboard's [`BINDINGS`], so neither can drift from the program.
//!
//! Every string from those tables is escaped for its target here (roff
//! specials, shell quotes), so the tables stay plain prose.

use std::fmt::Write as _;

use super::{Flag, Group, ValueKind, ENV_BOOLEANS, ENV_VARS, FLAGS, PRECEDENCE};
use crate::config::{
    ConfigError, DEFAULT_ASN_DB, DEFAULT_AUTH_CANDIDATES, DEFAULT_CITY_DB, DEFAULT_LOG_CANDIDATES,
};
use crate::ui::bindings::{BINDINGS, IN_MODALS};

/// The values `--generate` accepts, in the order of [`Kind`].
pub(crate) const KINDS: &[&str] = &["man", "complete-bash", "complete-zsh", "complete-fish"];

/// What `--generate` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A man page (roff, `man -l -` reads it).
    Man,
    /// A bash completion script (`complete -F`).
    Bash,
    /// A zsh completion function (`#compdef`).
    Zsh,
    /// fish `complete` commands.
    Fish,
}

impl Kind {
    /// Every kind, in the order of [`KINDS`].
    pub(crate) const ALL: [Kind; 4] = [Kind::Man, Kind::Bash, Kind::Zsh, Kind::Fish];

    /// The name `--generate` takes for this kind.
    pub(crate) fn name(self) -> &'static str {
        KINDS[self as usize]
    }

    /// The kind named `name`; anything else is a usage error naming the flag.
    pub(crate) fn from_name(name: &str) -> Result<Kind, ConfigError> {
        KINDS
            .iter()
            .position(|k| *k == name)
            .map(|i| Kind::ALL[i])
            .ok_or_else(|| {
                ConfigError::flag(
                    "generate",
                    format!("invalid value `{name}` (use {})", KINDS.join(", ")),
                )
            })
    }
}

/// The whole text for `kind`, ending in a newline.
pub(crate) fn render(kind: Kind) -> String {
    match kind {
        Kind::Man => man(),
        Kind::Bash => bash(),
        Kind::Zsh => zsh(),
        Kind::Fish => fish(),
    }
}

// ---------------------------------------------------------------------------
// Man page

/// Text made safe for roff: a line may not start with `.` or `'` (control
/// lines), `\` starts an escape, `-` would become a typographic hyphen (and
/// break copied flags), quotes would turn curly, and non-ASCII needs a named
/// glyph for groff without preconv.
fn roff(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for (i, c) in text.chars().enumerate() {
        match c {
            '.' | '\'' if i == 0 => {
                out.push_str("\\&");
                out.push(c);
            }
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            '\'' => out.push_str("\\(aq"),
            '`' => out.push_str("\\(ga"),
            '\n' => out.push(' '),
            c if c.is_ascii() => out.push(c),
            c => {
                let _ = write!(out, "\\[u{:04X}]", u32::from(c));
            }
        }
    }
    out
}

fn man() -> String {
    let mut m = String::new();
    let version = roff(env!("CARGO_PKG_VERSION"));
    let _ = writeln!(
        m,
        ".TH NETHERGAZE 1 \"\" \"nethergaze {version}\" \"User Commands\""
    );
    // No hyphenation (flags and paths must stay copyable), ragged right.
    m.push_str(".nh\n.ad l\n");
    m.push_str(".SH NAME\n");
    let _ = writeln!(m, "nethergaze \\- {}", roff(env!("CARGO_PKG_DESCRIPTION")));
    man_synopsis(&mut m);
    man_description(&mut m);
    man_options(&mut m);
    man_keys(&mut m);
    man_files(&mut m);
    man_environment(&mut m);
    man_exit_status(&mut m);
    man_examples(&mut m);
    m.push_str(".SH SEE ALSO\n\\fBss\\fR(8), \\fBjournalctl\\fR(1), \\fBgoaccess\\fR(1)\n");
    m
}

fn man_synopsis(m: &mut String) {
    m.push_str(
        ".SH SYNOPSIS\n\
         .B nethergaze\n[\\fIOPTIONS\\fR]\n.br\n\
         .B nethergaze\n\\fB\\-\\-once\\fR | \\fB\\-\\-for\\fR \\fIDURATION\\fR \
         [\\fB\\-\\-json\\fR] [\\fIOPTIONS\\fR]\n.br\n\
         .B nethergaze\n\\fB\\-\\-events\\fR [\\fB\\-\\-for\\fR \\fIDURATION\\fR] \
         [\\fIOPTIONS\\fR]\n.br\n\
         .B nethergaze \\-\\-generate\n\\fIKIND\\fR\n",
    );
}

fn man_description(m: &mut String) {
    let paragraphs = [
        "nethergaze joins three views of one Linux server into one table keyed by client \
         IP, updated in real time: TCP sockets (as ss shows them), HTTP access logs \
         (nginx, Apache, Caddy) and sshd authentication events. It flags what stands out \
         (SYN floods, connections without requests, request bursts, scanners, exploit \
         probes, sshd brute force) and helps the operator act: drill down, whois, copy, \
         block assist and custom hooks.",
        "Without --once or --for it draws an interactive dashboard (stdout must be a \
         terminal). With --once it prints one snapshot and exits; with --for it watches \
         for a while without a screen, then prints the snapshot. --json prints the \
         snapshot as JSON Lines. With --events it writes the event stream instead: one \
         JSON line per event (suspicious, cleared, auth, blocked, source) as it happens, \
         until stopped or for --for DURATION; --events-file appends the same lines to a \
         file, also from the dashboard.",
        "It runs one thread that sleeps in the kernel until something happens: new log \
         lines (inotify), the socket table (netlink sock_diag, or /proc/net/tcp), a key, \
         a signal. Settings come from, in order of precedence:",
    ];
    m.push_str(".SH DESCRIPTION\n");
    for (i, p) in paragraphs.iter().enumerate() {
        if i > 0 {
            m.push_str(".PP\n");
        }
        m.push_str(&roff(p));
        m.push('\n');
    }
    let _ = writeln!(m, "{}.", roff(PRECEDENCE));
}

fn man_options(m: &mut String) {
    m.push_str(".SH OPTIONS\n");
    for group in Group::ALL {
        let _ = writeln!(m, ".SS {}", roff(group.title()));
        for flag in FLAGS.iter().filter(|f| f.group == group) {
            let _ = writeln!(m, ".TP\n{}\n{}", man_tag(flag), roff(flag.help));
        }
    }
}

/// `\fB\-h\fR, \fB\-\-help\fR` or `\fB\-\-for\fR \fIDURATION\fR`.
fn man_tag(flag: &Flag) -> String {
    let mut tag = String::new();
    if let Some(c) = flag.short {
        let _ = write!(tag, "\\fB\\-{}\\fR, ", roff(c.encode_utf8(&mut [0; 4])));
    }
    let _ = write!(tag, "\\fB\\-\\-{}\\fR", roff(flag.long));
    if let Some(value) = flag.value {
        let _ = write!(tag, " \\fI{}\\fR", roff(value));
    }
    tag
}

/// A tagged paragraph: `name` in bold, then what it is.
fn man_item(m: &mut String, name: &str, what: &str) {
    let _ = writeln!(m, ".TP\n\\fB{}\\fR\n{}", roff(name), roff(what));
}

fn man_keys(m: &mut String) {
    m.push_str(".SH KEYS\nIn the dashboard (? shows the same list, with the configured hooks):\n");
    for (keys, what) in BINDINGS {
        man_item(m, keys, what);
    }
    m.push_str(".PP\nIn the modals:\n");
    for (keys, what) in IN_MODALS {
        man_item(m, keys, what);
    }
}

fn man_files(m: &mut String) {
    let logs = DEFAULT_LOG_CANDIDATES.join(", ");
    let auth = DEFAULT_AUTH_CANDIDATES.join(", ");
    let city = format!("{DEFAULT_CITY_DB}, {DEFAULT_ASN_DB}");
    let entries: [(&str, &str); 8] = [
        (
            "$XDG_CONFIG_HOME/nethergaze/config.toml, ~/.nethergaze.toml, \
             /etc/nethergaze/config.toml",
            "The config file: the first that exists, in this order (or --config, which \
             must exist). Every key is documented in config.example.toml. What nethergaze \
             0.2.0 accepted still loads: an unknown key or section is ignored and a number \
             out of range is moved into it, each with a warning on stderr naming the key \
             and its line; --check-config reports them and exits 1.",
        ),
        (
            "$XDG_STATE_HOME/nethergaze/history.db",
            "History (SQLite; default under ~/.local/state). \
             See --history-db and --no-history.",
        ),
        (
            &logs,
            "Access logs read by default: the first pattern that matches (see --log-path).",
        ),
        (
            &auth,
            "sshd logs read by default; else journald (see --auth-source).",
        ),
        (
            &city,
            "GeoIP databases (MaxMind DB format); DB-IP Lite files (dbip-city-lite*.mmdb, \
             dbip-asn-lite*.mmdb) in the same folder are used when these are missing.",
        ),
        (
            "~/.cache/nethergaze/history.db, ~/.cache/nethergaze/whois_cache.json",
            "nethergaze 0.2.0's history and whois answers (also in [cache] dir): imported \
             once, read-only, at the first start that finds them and not ours (see \
             --import-history).",
        ),
        (
            "/proc/net/tcp, /proc/net/tcp6",
            "The socket table when netlink sock_diag is unavailable (see --proc-root).",
        ),
        (
            "$XDG_CACHE_HOME/nethergaze",
            "Cache folder: whois answers (whois.db, SQLite) and the RDAP bootstrap \
             (default ~/.cache/nethergaze, for root without HOME /var/cache/nethergaze; \
             [cache] dir in the config).",
        ),
    ];
    m.push_str(".SH FILES\n");
    for (path, what) in entries {
        let _ = writeln!(m, ".TP\n\\fI{}\\fR\n{}", roff(path), roff(what));
    }
}

fn man_environment(m: &mut String) {
    m.push_str(".SH ENVIRONMENT\n");
    for (name, what) in ENV_VARS {
        man_item(m, name, what);
    }
    let _ = writeln!(
        m,
        ".PP\nBooleans are {}. Flags win over the environment, which wins over the \
         config file.",
        roff(ENV_BOOLEANS)
    );
    let others = [
        (
            "NO_COLOR",
            "When set and not empty, no colour (unless --color always).",
        ),
        ("TERM", "dumb turns colour off (unless --color always)."),
        (
            "HOME, XDG_CONFIG_HOME, XDG_STATE_HOME, XDG_CACHE_HOME",
            "Where the config file, the history database and the cache are looked for \
             (relative XDG values are ignored).",
        ),
        (
            "SSH_CLIENT, SSH_CONNECTION",
            "The address you are connected from: block assist refuses to block it.",
        ),
        (
            "TMUX",
            "Inside tmux, the copy key wraps OSC 52 in tmux's passthrough.",
        ),
        (
            "PATH",
            "Where journalctl and the firewall tools for block assist (ufw, nft, iptables, \
             fail2ban-client, cscli) are found (the sbin folders are searched too).",
        ),
        (
            "NETHERGAZE_IP",
            "Set by nethergaze for custom hooks: the selected address.",
        ),
    ];
    for (name, what) in others {
        man_item(m, name, what);
    }
}

fn man_exit_status(m: &mut String) {
    m.push_str(
        ".SH EXIT STATUS\n.TP\n0\nSuccess: every log source was read (including \
         \\-\\-help, \\-\\-version and \\-\\-generate). A default log location that \
         does not exist (no web server log in any of the default places) is a note in the \
         summary, not a failure.\n.TP\n1\nThe run went through and the snapshot was \
         printed, but a log source could not be read: a path or glob named by \
         \\-\\-log\\-path, \\-\\-auth\\-log\\-path, NETHERGAZE_LOG_PATH or the config \
         file, a default log that exists but cannot be read, or journald asked for with \
         \\-\\-auth\\-source journald. Each error is on stderr (and in the summary's \
         sources), never in the text snapshot. Also 1 when the session could not be \
         saved to history: another instance held the file's lock for the whole wait at \
         exit. And 1 for \\-\\-check\\-config when the config file has warnings.\n.TP\n2\nA usage or config error, or a start\\-up failure \
         (no terminal for the dashboard); the message names the flag, \
         variable or config key. Also 2 when \\-\\-import\\-history could not \
         import a file it was given (0 when it imported everything, or found it \
         imported already).\n",
    );
}

fn man_examples(m: &mut String) {
    let examples: [(&str, &[&str]); 9] = [
        ("The dashboard on this machine's logs:", &["nethergaze"]),
        (
            "nginx virtual hosts, including the lines already there:",
            &["nethergaze --log-path '/var/log/nginx/*.access.log' --from-start"],
        ),
        (
            "A headless snapshot for cron or a fleet, as JSON Lines:",
            &["nethergaze --once --json --suspicious"],
        ),
        (
            "An attack spread over a network: one row per /24 (or /64, or whois network), \
             flagged when its addresses together cross the thresholds:",
            &["nethergaze --once --from-start --group-by net --suspicious"],
        ),
        (
            "From cron or a systemd timer, every log line once: each run reads on where the \
             last one stopped (the history database keeps each log's place):",
            &["nethergaze --once --json --resume"],
        ),
        (
            "Watch five minutes without a screen, then print:",
            &["nethergaze --for 5m --json"],
        ),
        (
            "The event stream, for journald, fail2ban or jq:",
            &["nethergaze --events --events-file /var/log/nethergaze/events.ndjson"],
        ),
        ("Synthetic traffic to try the dashboard:", &["nethergaze --demo"]),
        (
            "Install the man page and the completions:",
            &[
                "nethergaze --generate man > /usr/local/share/man/man1/nethergaze.1",
                "nethergaze --generate complete-bash > /etc/bash_completion.d/nethergaze",
                "nethergaze --generate complete-zsh > /usr/local/share/zsh/site-functions/_nethergaze",
                "nethergaze --generate complete-fish > ~/.config/fish/completions/nethergaze.fish",
            ],
        ),
    ];
    m.push_str(".SH EXAMPLES\n");
    for (i, (what, commands)) in examples.iter().enumerate() {
        if i > 0 {
            m.push_str(".PP\n");
        }
        let _ = writeln!(m, "{}\n.PP\n.RS 4\n.nf", roff(what));
        for command in *commands {
            let _ = writeln!(m, "\\fB{}\\fR", roff(command));
        }
        m.push_str(".fi\n.RE\n");
    }
}

// ---------------------------------------------------------------------------
// Shell completions

/// The first clause of a flag's help: completion menus want one short line.
fn short_help(help: &str) -> &str {
    let end = [" (", "; "]
        .iter()
        .filter_map(|sep| help.find(sep))
        .min()
        .unwrap_or(help.len());
    &help[..end]
}

/// `--log-path` and, when there is one, `-h`.
fn spellings(flag: &Flag) -> Vec<String> {
    let mut out = vec![format!("--{}", flag.long)];
    if let Some(c) = flag.short {
        out.push(format!("-{c}"));
    }
    out
}

/// Flags whose value completes as `kind`, as a bash `case` pattern.
fn bash_pattern(kind: ValueKind) -> Option<String> {
    let names: Vec<String> = FLAGS
        .iter()
        .filter(|f| f.value_kind() == kind)
        .flat_map(spellings)
        .collect();
    (!names.is_empty()).then(|| names.join("|"))
}

fn bash() -> String {
    let mut s = String::from(
        "# bash completion for nethergaze (nethergaze --generate complete-bash)\n\
         _nethergaze() {\n\
         \x20   local cur prev i=$COMP_CWORD\n\
         \x20   COMPREPLY=()\n\
         \x20   cur=${COMP_WORDS[i]}\n\
         \x20   prev=\n\
         \x20   # --flag=value: bash splits the words at '=' (COMP_WORDBREAKS).\n\
         \x20   if [[ $cur == = ]]; then\n\
         \x20       cur=\n\
         \x20       prev=${COMP_WORDS[i-1]}\n\
         \x20   elif (( i > 1 )) && [[ ${COMP_WORDS[i-1]} == = ]]; then\n\
         \x20       prev=${COMP_WORDS[i-2]}\n\
         \x20   elif (( i > 0 )); then\n\
         \x20       prev=${COMP_WORDS[i-1]}\n\
         \x20   fi\n\
         \x20   case $prev in\n",
    );
    for flag in FLAGS.iter().filter(|f| f.value_kind() == ValueKind::Choice) {
        let _ = writeln!(
            s,
            "        {})\n            COMPREPLY=($(compgen -W '{}' -- \"$cur\"))\n            return 0 ;;",
            spellings(flag).join("|"),
            flag.choices.join(" ")
        );
    }
    let actions = [
        (
            ValueKind::File,
            "local IFS=$'\\n'\n            compopt -o filenames 2>/dev/null\n            COMPREPLY=($(compgen -f -- \"$cur\"))",
        ),
        (
            ValueKind::Dir,
            "local IFS=$'\\n'\n            compopt -o filenames 2>/dev/null\n            COMPREPLY=($(compgen -d -- \"$cur\"))",
        ),
        (
            ValueKind::Interface,
            "COMPREPLY=($(compgen -W \"$(command ls /sys/class/net 2>/dev/null)\" -- \"$cur\"))",
        ),
        (ValueKind::Free, ":"),
    ];
    for (kind, action) in actions {
        if let Some(pattern) = bash_pattern(kind) {
            let _ = writeln!(
                s,
                "        {pattern})\n            {action}\n            return 0 ;;"
            );
        }
    }
    let words: Vec<String> = FLAGS.iter().flat_map(spellings).collect();
    let _ = write!(
        s,
        "    esac\n    COMPREPLY=($(compgen -W '{}' -- \"$cur\"))\n}}\n\
         complete -F _nethergaze nethergaze\n",
        words.join(" ")
    );
    s
}

/// Text for a zsh `_arguments` spec inside single quotes: `'` closes the
/// quote; `[`, `]`, `:`, `\`, `$` and backquote are special to `_arguments`
/// (the set clap_complete escapes).
fn zsh_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\'' => out.push_str("'\\''"),
            '[' | ']' | ':' | '\\' | '$' | '`' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn zsh_spec(flag: &Flag) -> String {
    let desc = zsh_quote(short_help(flag.help));
    let value = match (flag.value, flag.value_kind()) {
        (Some(name), ValueKind::Choice) => format!(":{name}:({})", flag.choices.join(" ")),
        (Some(name), ValueKind::File) => format!(":{name}:_files"),
        (Some(name), ValueKind::Dir) => format!(":{name}:_files -/"),
        (Some(name), ValueKind::Interface) => format!(":{name}:_net_interfaces"),
        (Some(name), _) => format!(":{name}: "),
        (None, _) => String::new(),
    };
    let eq = if flag.value.is_some() { "=" } else { "" };
    let long = flag.long;
    match flag.short {
        Some(c) => format!("'(-{c} --{long})'{{-{c},--{long}{eq}}}'[{desc}]{value}'"),
        None if flag.repeatable => format!("'*--{long}{eq}[{desc}]{value}'"),
        None => format!("'--{long}{eq}[{desc}]{value}'"),
    }
}

fn zsh() -> String {
    let mut s = String::from(
        "#compdef nethergaze\n\
         # zsh completion for nethergaze (nethergaze --generate complete-zsh)\n\
         _nethergaze() {\n    _arguments -s -S",
    );
    for flag in FLAGS {
        let _ = write!(s, " \\\n        {}", zsh_spec(flag));
    }
    s.push_str("\n}\n_nethergaze \"$@\"\n");
    s
}

/// fish single-quoted text: only `'` and `\` need escaping.
fn fish_quote(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\'', "\\'")
}

fn fish() -> String {
    let mut s = String::from(
        "# fish completion for nethergaze (nethergaze --generate complete-fish)\n\
         complete -c nethergaze -f\n",
    );
    for flag in FLAGS {
        s.push_str("complete -c nethergaze");
        if let Some(c) = flag.short {
            let _ = write!(s, " -s {c}");
        }
        let _ = write!(s, " -l {}", flag.long);
        match flag.value_kind() {
            ValueKind::None => {}
            ValueKind::Choice => {
                let _ = write!(s, " -x -a '{}'", fish_quote(&flag.choices.join(" ")));
            }
            ValueKind::File => s.push_str(" -r -F"),
            ValueKind::Dir => s.push_str(" -x -a '(__fish_complete_directories)'"),
            ValueKind::Interface => s.push_str(" -x -a '(__fish_print_interfaces)'"),
            ValueKind::Free => s.push_str(" -x"),
        }
        let _ = writeln!(s, " -d '{}'", fish_quote(short_help(flag.help)));
    }
    s
}

#[cfg(test)]
mod tests;
