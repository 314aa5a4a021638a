use super::*;

fn args(list: &[&str]) -> Vec<OsString> {
    std::iter::once("nethergaze")
        .chain(list.iter().copied())
        .map(OsString::from)
        .collect()
}

fn parse_ok(list: &[&str]) -> RawArgs {
    match parse(args(list)) {
        Ok(raw) => raw,
        Err(e) => panic!("{list:?}: {e}"),
    }
}

fn parse_err(list: &[&str]) -> String {
    match parse(args(list)) {
        Ok(raw) => panic!("{list:?} parsed: {raw:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn every_flag_parses_from_the_table() {
    for flag in FLAGS {
        let mut list = vec![format!("--{}", flag.long)];
        if flag.value.is_some() {
            list.push("x".to_string());
        }
        let refs: Vec<&str> = list.iter().map(String::as_str).collect();
        assert_ne!(parse_ok(&refs), RawArgs::default(), "--{}", flag.long);
    }
}

#[test]
fn table_names_are_unique() {
    for (i, a) in FLAGS.iter().enumerate() {
        for b in &FLAGS[i + 1..] {
            assert_ne!(a.long, b.long);
            assert_ne!(a.id, b.id);
            assert!(a.short.is_none() || a.short != b.short);
        }
    }
}

#[test]
fn values_and_repeats() {
    let raw = parse_ok(&[
        "--log-path",
        "/a/*.log",
        "--log-path=/b/x.log",
        "--for",
        "5m",
        "--color=never",
        "--once",
        "--json",
        "-h",
    ]);
    assert_eq!(raw.log_paths, ["/a/*.log", "/b/x.log"]);
    assert_eq!(raw.for_duration.as_deref(), Some("5m"));
    assert_eq!(raw.color.as_deref(), Some("never"));
    assert!(raw.once && raw.json && raw.help);
    assert!(!raw.suspicious);
}

#[test]
fn last_single_value_wins() {
    let raw = parse_ok(&["--log-format", "common", "--log-format", "json"]);
    assert_eq!(raw.log_format.as_deref(), Some("json"));
}

#[test]
fn usage_errors_name_the_flag() {
    assert!(parse_err(&["--nope"]).contains("unknown flag `--nope`"));
    assert!(parse_err(&["-x"]).contains("unknown flag `-x`"));
    assert!(parse_err(&["stray"]).contains("unexpected argument `stray`"));
    assert!(parse_err(&["--for"]).contains("--for: needs a value (DURATION)"));
    assert_eq!(
        parse_err(&["--once=yes"]),
        "nethergaze: --once: takes no value (got `yes`)"
    );
}

#[test]
fn help_lists_every_flag_under_its_group() {
    let help = help_text();
    for flag in FLAGS {
        assert!(help.contains(&format!("--{}", flag.long)), "{}", flag.long);
    }
    let positions: Vec<usize> = Group::ALL
        .iter()
        .map(|g| {
            help.find(&format!("\n{}:\n", g.title()))
                .unwrap_or(usize::MAX)
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    assert!(help.contains("-h, --help"));
    assert!(help.contains("--for DURATION"));
}

#[test]
fn version_line() {
    assert_eq!(version_text(), "nethergaze 0.3.0");
}

/// Issue 11, item 5: `--help` says what each exit status means.
#[test]
fn help_gives_the_exit_status() {
    let help = help_text();
    let at = help
        .find("Exit status: 0 when every log source was read")
        .expect(&help);
    let rest = &help[at..];
    assert!(
        rest.contains("1 when the snapshot was printed but a log source"),
        "{rest}"
    );
    assert!(rest.contains("the errors go to stderr"), "{rest}");
    assert!(rest.contains("2 for a usage, config or"), "{rest}");
    assert!(help.contains("p key shows or hides them live"), "{help}");
}

#[test]
fn a_unique_prefix_names_its_flag() {
    assert!(parse_ok(&["--no-who"]).no_whois);
    assert!(parse_ok(&["--sus"]).suspicious);
    assert_eq!(parse_ok(&["--log-p", "a.log"]).log_paths, ["a.log"]);
    assert_eq!(parse_ok(&["--log-p=b.log"]).log_paths, ["b.log"]);
    assert_eq!(
        parse_ok(&["--conn=2"]).connections_interval.as_deref(),
        Some("2")
    );
    assert_eq!(
        parse_err(&["--onc=yes"]),
        "nethergaze: --once: takes no value (got `yes`)"
    );
    // Every prefix that only one flag starts with names that flag.
    for flag in FLAGS {
        for end in 1..=flag.long.len() {
            let prefix = &flag.long[..end];
            let owners = FLAGS.iter().filter(|f| f.long.starts_with(prefix)).count();
            if owners == 1 {
                assert_eq!(find_long(prefix).unwrap().id, flag.id, "--{prefix}");
            }
        }
    }
}

#[test]
fn an_exact_name_beats_a_longer_one_it_prefixes() {
    let table = [
        switch(FlagId::For, "for", Group::Headless, ""),
        valued(FlagId::LogFormat, "format", "FMT", Group::Headless, ""),
    ];
    assert!(matches!(resolve_long(&table, "for"), Long::Found(f) if f.id == FlagId::For));
    assert!(matches!(resolve_long(&table, "form"), Long::Found(f) if f.id == FlagId::LogFormat));
    assert!(matches!(resolve_long(&table, "fo"), Long::Ambiguous));
    assert!(matches!(resolve_long(&table, "x"), Long::Unknown));
    assert!(matches!(resolve_long(&table, ""), Long::Unknown));
    // In the real table: `--for` stays `--for`.
    assert_eq!(
        parse_ok(&["--for", "5s"]).for_duration.as_deref(),
        Some("5s")
    );
}

#[test]
fn an_ambiguous_prefix_is_a_usage_error_naming_the_candidates() {
    let err = parse(args(&["--no"])).unwrap_err();
    assert!(matches!(err, ConfigError::Usage(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "nethergaze: ambiguous flag `--no`: could be --no-auth-log, --no-geoip, \
         --no-whois, --no-history (see --help)"
    );
    let err = parse_err(&["--co=x"]);
    assert!(err.contains("ambiguous flag `--co`"), "{err}");
    for name in ["--connections-interval", "--color", "--config"] {
        assert!(err.contains(name), "{err}");
    }
    // Unknown stays unknown, prefix or not.
    assert!(parse_err(&["--no-whoisx"]).contains("unknown flag `--no-whoisx`"));
}

/// Issue 12 item 11: `--help` and the man page give the config search order,
/// the system-wide file last, and offer `--check-config`.
#[test]
fn help_and_man_page_give_the_config_search_order() {
    let order = "$XDG_CONFIG_HOME/nethergaze/config.toml, ~/.nethergaze.toml, \
                 /etc/nethergaze/config.toml";
    let help: String = help_text().split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(help.contains(order), "{help}");
    assert!(help.contains("--check-config"), "{help}");
    let man = generate::render(generate::Kind::from_name("man").expect("man"));
    let files = man.split(".SH FILES").nth(1).expect("FILES section");
    assert!(files.contains("/etc/nethergaze/config.toml"), "{files}");
    assert!(man.contains("\\fB\\-\\-check\\-config\\fR"), "{man}");
}
