use super::*;

#[test]
fn kinds_round_trip_and_unknown_is_a_usage_error() {
    for (name, kind) in KINDS.iter().zip(Kind::ALL) {
        assert_eq!(Kind::from_name(name).unwrap(), kind);
    }
    let err = Kind::from_name("complete-tcsh").unwrap_err().to_string();
    assert_eq!(
        err,
        "nethergaze: --generate: invalid value `complete-tcsh` \
         (use man, complete-bash, complete-zsh, complete-fish)"
    );
}

#[test]
fn the_flag_offers_every_kind() {
    let flag = FLAGS.iter().find(|f| f.long == "generate").unwrap();
    assert_eq!(flag.choices, KINDS);
    assert_eq!(flag.value_kind(), ValueKind::Choice);
}

#[test]
fn only_numbers_complete_as_free_text() {
    for flag in FLAGS {
        if flag.value_kind() == ValueKind::Free {
            let name = flag.value.unwrap_or("");
            assert!(
                ["SECS", "DURATION"].contains(&name),
                "--{}: what should {name} complete as? (see Flag::value_kind)",
                flag.long
            );
        }
    }
}

/// The words bash offers for an empty or `-` prefix (the last compgen list).
fn bash_words(bash: &str) -> Vec<&str> {
    let start = bash.rfind("compgen -W '").unwrap() + "compgen -W '".len();
    let len = bash[start..].find('\'').unwrap();
    bash[start..start + len].split(' ').collect()
}

/// Whether a `case` pattern of the bash script names `flag`.
fn bash_case_has(bash: &str, flag: &str) -> bool {
    bash.lines()
        .filter_map(|l| l.trim_start().strip_suffix(')'))
        .any(|pattern| pattern.split('|').any(|p| p == flag))
}

#[test]
fn every_flag_is_in_every_output() {
    let man = render(Kind::Man);
    let [bash, zsh, fish] = [Kind::Bash, Kind::Zsh, Kind::Fish].map(render);
    for flag in FLAGS {
        let long = format!("--{}", flag.long);
        assert!(man.contains(&man_tag(flag)), "man: {long}");
        assert!(man.contains(&roff(flag.help)), "man help: {long}");
        assert!(bash_words(&bash).contains(&long.as_str()), "bash: {long}");
        if flag.value.is_some() {
            assert!(bash_case_has(&bash, &long), "bash case: {long}");
        }
        assert!(zsh.contains(&format!("--{}", flag.long)), "zsh: {long}");
        assert!(
            fish.contains(&format!(" -l {} ", flag.long)),
            "fish: {long}"
        );
        if let Some(c) = flag.short {
            assert!(man.contains(&format!("\\fB\\-{c}\\fR")), "man: -{c}");
            assert!(
                bash_words(&bash).contains(&format!("-{c}").as_str()),
                "bash: -{c}"
            );
            assert!(zsh.contains(&format!("{{-{c},")), "zsh: -{c}");
            assert!(fish.contains(&format!(" -s {c} ")), "fish: -{c}");
        }
    }
}

#[test]
fn man_has_every_section_group_binding_and_env_var() {
    let man = render(Kind::Man);
    for section in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "KEYS",
        "FILES",
        "ENVIRONMENT",
        "EXIT STATUS",
        "EXAMPLES",
    ] {
        assert!(man.contains(&format!("\n.SH {section}\n")), "{section}");
    }
    let mut last = 0;
    for group in Group::ALL {
        let at = man.find(&format!("\n.SS {}\n", group.title())).unwrap();
        assert!(at > last, "{group:?} out of order");
        last = at;
    }
    for (keys, what) in BINDINGS.iter().chain(&IN_MODALS) {
        assert!(
            man.contains(&format!("\\fB{}\\fR\n{}\n", roff(keys), roff(what))),
            "{keys}"
        );
    }
    for (name, _) in ENV_VARS {
        assert!(man.contains(&roff(name)), "{name}");
    }
    for name in ["NO_COLOR", "XDG_STATE_HOME", "SSH_CLIENT", "TMUX"] {
        assert!(man.contains(&roff(name)), "{name}");
    }
}

#[test]
fn man_lines_never_start_a_stray_request() {
    let man = render(Kind::Man);
    let requests = [
        ".TH", ".SH", ".SS", ".TP", ".PP", ".B", ".br", ".RS", ".RE", ".nf", ".fi", ".nh", ".ad",
    ];
    for line in man.lines() {
        assert!(!line.is_empty(), "blank line in the man page");
        if line.starts_with('.') {
            let request = line.split(' ').next().unwrap_or(line);
            assert!(requests.contains(&request), "unexpected request: {line}");
        }
        assert!(!line.starts_with('\''), "{line}");
        assert!(line.is_ascii(), "non-ASCII: {line}");
    }
}

#[test]
fn roff_escapes_its_specials() {
    assert_eq!(roff(".hidden"), "\\&.hidden");
    assert_eq!(roff("'quote"), "\\&'quote");
    assert_eq!(roff("a.b 'c'"), "a.b \\(aqc\\(aq");
    assert_eq!(roff("--log-path"), "\\-\\-log\\-path");
    assert_eq!(roff("C:\\dir"), "C:\\edir");
    assert_eq!(roff("↑ …"), "\\[u2191] \\[u2026]");
    assert_eq!(roff("`x`"), "\\(gax\\(ga");
}

#[test]
fn completions_offer_values() {
    let bash = render(Kind::Bash);
    assert!(bash.contains("--log-format)\n            COMPREPLY=($(compgen -W 'auto combined common vhost_combined json'"));
    assert!(bash.contains("--color)\n            COMPREPLY=($(compgen -W 'auto always never'"));
    let zsh = render(Kind::Zsh);
    assert!(
        zsh.contains("'*--log-path=[HTTP access log(s) to read]:GLOB:_files'"),
        "{zsh}"
    );
    assert!(zsh.contains(":KIND:(man complete-bash complete-zsh complete-fish)'"));
    assert!(zsh.contains("'(-h --help)'{-h,--help}'[Print this help and exit]'"));
    let fish = render(Kind::Fish);
    assert!(fish.contains("-l color -x -a 'auto always never'"));
    assert!(fish.contains("-l config -r -F"));
    assert!(fish.contains("-l proc-root -x -a '(__fish_complete_directories)'"));
}

#[test]
fn shell_quoting() {
    assert_eq!(
        zsh_quote("a'b [c]: d\\ $v `x`"),
        "a'\\''b \\[c\\]\\: d\\\\ \\$v \\`x\\`"
    );
    assert_eq!(fish_quote("it's \\"), "it\\'s \\\\");
    assert_eq!(short_help("HTTP log; a glob (default: x)"), "HTTP log");
    assert_eq!(short_help("plain"), "plain");
}

/// Issue 11, item 5: the man page says when the exit status is 1 besides history.
#[test]
fn man_exit_status_covers_unread_sources() {
    let man = render(Kind::Man);
    let at = man.find("\n.SH EXIT STATUS\n").unwrap();
    let section = &man[at..man[at + 1..]
        .find("\n.SH ")
        .map_or(man.len(), |e| at + 1 + e)];
    for said in [
        "every log source was read",
        "is a note in the summary, not a failure",
        "a log source could not be read",
        "Each error is on stderr",
        "held the file's lock",
    ] {
        assert!(section.contains(said), "{said}: {section}");
    }
}
