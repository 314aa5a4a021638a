//! A release (issue 15 item 4): the static binary carries its dependency list
//! (cargo-auditable's `.dep-v0` section) and stays at most 5 MiB; `make dist`'s
//! tarball holds exactly the files an operator needs, verifies against its
//! `.sha256`, is byte-for-byte reproducible and names every linked crate in its
//! licence bundle; `make deb`'s package installs with `dpkg -i` in a clean Debian
//! chroot (debootstrap minbase) and runs there.
//!
//! These tests run against the static musl binary, so `make test-static` runs them
//! (`NETHERGAZE_TEST_BIN` set to it); under a plain `cargo test` they skip. They call
//! the scripts `make dist` and `make deb` call (contrib/release/), on the binary
//! already built, so they add seconds and never rebuild it.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::harness::{self, run_cmd, Output};

const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";
const VERSION: &str = env!("CARGO_PKG_VERSION");
const MAX_STATIC_BYTES: u64 = 5 << 20;
/// The clean Debian root the .deb test installs into, made once by debootstrap
/// and kept (CI machines keep /var/cache between runs).
const CHROOT_CACHE: &str = "/var/cache/nethergaze-test/debian-stable-minbase.tar.gz";

/// The static binary under test, or None (after `SKIP`) when the suite runs
/// against another build.
fn static_binary() -> Option<PathBuf> {
    let bin = harness::nethergaze_bin();
    let wanted = Path::new("target")
        .join(MUSL_TARGET)
        .join("release/nethergaze");
    if bin.ends_with(&wanted) {
        return Some(bin);
    }
    eprintln!("SKIP: the release tests run against the static binary (make test-static)");
    None
}

/// Runs `cmd` from the repository root; asserts it succeeded.
fn ok(mut cmd: Command) -> Output {
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    let shown = format!("{cmd:?}");
    let out = run_cmd(cmd);
    assert!(out.status.success(), "{shown}: {out:?}");
    out
}

fn command(program: impl AsRef<std::ffi::OsStr>, args: &[&dyn AsRef<std::ffi::OsStr>]) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args.iter().map(|a| a.as_ref()));
    cmd
}

fn cargo() -> PathBuf {
    std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from)
}

/// contrib/release/assets.sh then dist.sh into `out`: the tarball's path.
fn make_dist(bin: &Path, out: &Path) -> PathBuf {
    ok(command(
        "contrib/release/assets.sh",
        &[&bin, &MUSL_TARGET, &out.join("assets")],
    ));
    ok(command("contrib/release/dist.sh", &[&bin, &VERSION, &out]));
    out.join(format!("nethergaze-{VERSION}-x86_64-linux-musl.tar.gz"))
}

/// Every `name version` in the static build's normal dependency graph.
fn linked_crates() -> Vec<String> {
    let mut cmd = Command::new(cargo());
    cmd.args(["tree", "--locked", "--target", MUSL_TARGET, "-e", "normal"])
        .args(["--prefix", "none", "--format", "{p}"]);
    let out = ok(cmd);
    let mut crates: Vec<String> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .map(|l| l.replacen(" v", " ", 1))
        .collect();
    crates.sort();
    crates.dedup();
    crates
}

#[test]
fn static_binary_is_at_most_5_mib() {
    let Some(bin) = static_binary() else { return };
    let size = fs::metadata(&bin).unwrap().len();
    assert!(size <= MAX_STATIC_BYTES, "{size} bytes, over 5 MiB");
    eprintln!("static binary: {size} bytes");
}

#[test]
fn static_binary_carries_its_dependency_list() {
    let Some(bin) = static_binary() else { return };
    if harness::skip_unless(&["cargo-auditable", "objcopy", "readelf"]) {
        return;
    }
    let sections = ok(command(harness::bin("readelf"), &[&"-S", &"-W", &bin])).stdout;
    assert!(
        sections.contains(" .dep-v0 "),
        "no .dep-v0 section: {sections}"
    );

    // cargo-auditable's format: zlib-compressed JSON, {"packages":[{"name":…}, …]}.
    let dir = harness::tempdir();
    let section = dir.path().join("dep-v0.zlib");
    let dump = format!(".dep-v0={}", section.display());
    ok(command(
        harness::bin("objcopy"),
        &[
            &"--dump-section",
            &dump,
            &bin,
            &dir.path().join("discarded"),
        ],
    ));
    let mut json = String::new();
    flate2::read::ZlibDecoder::new(fs::File::open(&section).unwrap())
        .read_to_string(&mut json)
        .unwrap();
    let deps: serde_json::Value = serde_json::from_str(&json).unwrap();
    let names: Vec<&str> = deps["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for crate_name in [
        "nethergaze",
        "rusqlite",
        "libsqlite3-sys",
        "flate2",
        "rustls",
    ] {
        assert!(names.contains(&crate_name), "{crate_name} not in {names:?}");
    }
    // Every linked crate is listed, at its locked version.
    let listed: Vec<String> = deps["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p["name"].as_str().unwrap(),
                p["version"].as_str().unwrap()
            )
        })
        .collect();
    for linked in linked_crates() {
        assert!(
            listed.contains(&linked),
            "{linked} not in .dep-v0: {listed:?}"
        );
    }
}

/// A RustSec advisory database holding one advisory, against every rusqlite: a
/// git repository as `cargo audit --db` reads it.
fn advisory_db_against_rusqlite(dir: &Path) -> PathBuf {
    let db = dir.join("advisory-db");
    fs::create_dir_all(db.join("crates/rusqlite")).unwrap();
    fs::write(
        db.join("crates/rusqlite/RUSTSEC-2099-0001.md"),
        "```toml\n[advisory]\nid = \"RUSTSEC-2099-0001\"\npackage = \"rusqlite\"\n\
         date = \"2026-12-07\"\nurl = \"https://example.invalid/nethergaze-test\"\n\n\
         [versions]\npatched = [\">= 999.0.0\"]\n```\n\n\
         # Every rusqlite (nethergaze's release test)\n\n\
         cargo audit must find rusqlite in the binary's embedded dependency list.\n",
    )
    .unwrap();
    for args in [
        &["init", "-q"][..],
        &["add", "-A"],
        &["commit", "-q", "-m", "one advisory"],
    ] {
        let mut git = Command::new(harness::bin("git"));
        git.arg("-C").arg(&db);
        git.args([
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.invalid",
        ]);
        git.args(args);
        ok(git);
    }
    db
}

#[test]
fn cargo_audit_bin_reads_the_dependency_list() {
    let Some(bin) = static_binary() else { return };
    if harness::skip_unless(&["cargo-auditable", "cargo-audit", "git"]) {
        return;
    }
    // A private database (CI has no route to GitHub's advisory-db, and the
    // real one may hold nothing against today's lock): the advisory must be
    // found in the binary alone, without Cargo.lock.
    let dir = harness::tempdir();
    let db = advisory_db_against_rusqlite(dir.path());
    let mut audit = Command::new(cargo());
    audit
        .args(["audit", "--db"])
        .arg(&db)
        .args(["--no-fetch", "--stale", "bin"])
        .arg(&bin)
        .current_dir(dir.path());
    let out = run_cmd(audit);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report = format!("{}{}", out.stdout, out.stderr);
    assert!(report.contains("Found 'cargo auditable' data"), "{report}");
    assert!(report.contains("RUSTSEC-2099-0001"), "{report}");
    let locked = linked_crates()
        .into_iter()
        .find(|c| c.starts_with("rusqlite "))
        .unwrap();
    let version = locked.split(' ').nth(1).unwrap();
    assert!(
        report.contains(&format!("Version:   {version}")),
        "{report}"
    );
}

#[test]
fn dist_tarball_holds_the_release_and_verifies() {
    let Some(bin) = static_binary() else { return };
    if harness::skip_unless(&["tar", "gzip", "sha256sum", "python3"]) {
        return;
    }
    let dir = harness::tempdir();
    let out = dir.path().join("dist");
    let tarball = make_dist(&bin, &out);
    let name = tarball.file_name().unwrap().to_str().unwrap().to_owned();

    // Exactly these entries, in this (sorted) order, owned by 0:0.
    let listing = ok(command("tar", &[&"-tzvf", &tarball])).stdout;
    let entries: Vec<&str> = listing
        .lines()
        .map(|l| l.split_whitespace().last().unwrap())
        .collect();
    let want: Vec<String> = [
        "",
        "LICENSE",
        "README.md",
        "THIRD-PARTY-LICENSES",
        "completions/",
        "completions/_nethergaze",
        "completions/nethergaze.bash",
        "completions/nethergaze.fish",
        "config.example.toml",
        "contrib/",
        "contrib/fail2ban/",
        "contrib/fail2ban/filter.d/",
        "contrib/fail2ban/filter.d/nethergaze.conf",
        "contrib/fail2ban/jail.d/",
        "contrib/fail2ban/jail.d/nethergaze.conf",
        "contrib/nethergaze-events.service",
        "nethergaze",
        "nethergaze.1",
    ]
    .iter()
    .map(|e| format!("nethergaze-{VERSION}/{e}"))
    .collect();
    assert_eq!(entries, want, "{listing}");
    for line in listing.lines() {
        assert!(line.contains(" 0/0 "), "not owned by 0/0: {line}");
    }

    // The .sha256 verifies (and would not for another file).
    let mut check = command("sha256sum", &[&"-c", &format!("{name}.sha256")]);
    check.current_dir(&out);
    let verified = run_cmd(check);
    assert!(verified.status.success(), "{verified:?}");
    assert_eq!(verified.stdout, format!("{name}: OK\n"));

    // Unpacked: the very binary under test, and generated files that match it.
    let unpacked = dir.path().join("unpacked");
    fs::create_dir(&unpacked).unwrap();
    ok(command("tar", &[&"-xzf", &tarball, &"-C", &unpacked]));
    let root = unpacked.join(format!("nethergaze-{VERSION}"));
    assert_eq!(
        fs::read(root.join("nethergaze")).unwrap(),
        fs::read(&bin).unwrap()
    );
    let man = ok(command(&bin, &[&"--generate", &"man"])).stdout;
    assert_eq!(fs::read_to_string(root.join("nethergaze.1")).unwrap(), man);
    let version = ok(command(root.join("nethergaze"), &[&"--version"])).stdout;
    assert!(version.contains(VERSION), "{version}");

    // The licence bundle: every linked crate, SQLite's blessing, the texts of
    // ring (with BoringSSL's) and webpki-roots' CDLA.
    let bundle = fs::read_to_string(root.join("THIRD-PARTY-LICENSES")).unwrap();
    for linked in linked_crates()
        .iter()
        .filter(|c| !c.starts_with("nethergaze "))
    {
        assert!(
            bundle.contains(&format!("\n  {linked}: ")),
            "{linked} not in the bundle"
        );
        assert!(
            bundle.contains(&format!("\n{linked}: ")),
            "no licence text for {linked}"
        );
    }
    for text in [
        "May you do good and not evil.",
        "Community Data License Agreement - Permissive - Version 2.0",
        "\nring 0.17.14: LICENSE-BoringSSL\n",
    ] {
        assert!(bundle.contains(text), "no {text:?} in the bundle");
    }

    // Reproducible: a second build is the same bytes.
    let again = make_dist(&bin, &dir.path().join("again"));
    assert!(
        fs::read(&tarball).unwrap() == fs::read(&again).unwrap(),
        "two builds of the tarball differ"
    );
}

/// A clean Debian root (debootstrap minbase) unpacked into `dir`, from the cache,
/// which the first run fills.
fn clean_debian_root(dir: &Path) -> PathBuf {
    let cache = Path::new(CHROOT_CACHE);
    if !cache.exists() {
        let fresh = harness::tempdir();
        let mut boot = Command::new(harness::bin("debootstrap"));
        boot.args(["--variant=minbase", "stable"])
            .arg(fresh.path())
            .arg("http://deb.debian.org/debian");
        ok(boot);
        fs::create_dir_all(cache.parent().unwrap()).unwrap();
        let partial = cache.with_extension("partial");
        ok(command(
            "tar",
            &[
                &"-C",
                &fresh.path(),
                &"--numeric-owner",
                &"-czf",
                &partial,
                &".",
            ],
        ));
        fs::rename(&partial, cache).unwrap();
    }
    let root = dir.join("root");
    fs::create_dir(&root).unwrap();
    ok(command(
        "tar",
        &[&"-C", &root, &"--numeric-owner", &"-xzf", &cache],
    ));
    root
}

#[test]
fn deb_installs_and_runs_in_a_clean_debian_chroot() {
    let Some(_bin) = static_binary() else { return };
    if harness::skip_unless(&["cargo-deb", "debootstrap", "dpkg-deb", "chroot", "python3"]) {
        return;
    }
    // What `make deb` runs after `make static`: the assets, then cargo-deb.
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    ok(command(
        "contrib/release/assets.sh",
        &[
            &harness::nethergaze_bin(),
            &MUSL_TARGET,
            &manifest_dir.join("target/dist/assets"),
        ],
    ));
    let dir = harness::tempdir();
    let mut deb_cmd = Command::new(cargo());
    deb_cmd
        .args([
            "deb",
            "--no-build",
            "--no-strip",
            "--target",
            MUSL_TARGET,
            "--output",
        ])
        .arg(dir.path());
    ok(deb_cmd);
    let deb = dir.path().join(format!("nethergaze_{VERSION}-1_amd64.deb"));
    assert!(deb.exists(), "no {}", deb.display());

    // Static: no dependency; in section net.
    let info = ok(command("dpkg-deb", &[&"--info", &deb])).stdout;
    let depends = info.lines().find_map(|l| l.trim().strip_prefix("Depends:"));
    assert_eq!(depends.map(str::trim).unwrap_or(""), "", "{info}");
    assert!(info.contains(" Section: net\n"), "{info}");

    let root = clean_debian_root(dir.path());
    fs::copy(&deb, root.join("tmp/nethergaze.deb")).unwrap();
    let chroot = |args: &[&str]| -> Output {
        let mut cmd = Command::new(harness::bin("chroot"));
        cmd.arg(&root)
            .args(args)
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        ok(cmd)
    };
    chroot(&["dpkg", "-i", "/tmp/nethergaze.deb"]);
    let version = chroot(&["nethergaze", "--version"]).stdout;
    assert_eq!(
        version.split_whitespace().nth(1),
        Some(VERSION),
        "{version}"
    );

    let files = chroot(&["dpkg", "-L", "nethergaze"]).stdout;
    for path in [
        "/usr/bin/nethergaze",
        "/usr/share/man/man1/nethergaze.1.gz",
        "/usr/share/bash-completion/completions/nethergaze",
        "/usr/share/zsh/vendor-completions/_nethergaze",
        "/usr/share/fish/vendor_completions.d/nethergaze.fish",
        "/lib/systemd/system/nethergaze-events.service",
        "/usr/share/doc/nethergaze/examples/config.example.toml",
        "/usr/share/doc/nethergaze/examples/fail2ban/filter.d/nethergaze.conf",
        "/usr/share/doc/nethergaze/examples/fail2ban/jail.d/nethergaze.conf",
        "/usr/share/doc/nethergaze/copyright",
    ] {
        assert!(
            files.lines().any(|l| l == path),
            "{path} not in dpkg -L: {files}"
        );
        assert!(root.join(&path[1..]).is_file(), "{path} not installed");
    }
    // The man page is the binary's own, gzipped; the copyright file holds the bundle.
    let mut man = String::new();
    flate2::read::GzDecoder::new(
        fs::File::open(root.join("usr/share/man/man1/nethergaze.1.gz")).unwrap(),
    )
    .read_to_string(&mut man)
    .unwrap();
    assert!(
        man.starts_with(".TH NETHERGAZE 1"),
        "{}",
        &man[..man.len().min(200)]
    );
    let copyright = fs::read_to_string(root.join("usr/share/doc/nethergaze/copyright")).unwrap();
    assert!(
        copyright.contains("May you do good and not evil."),
        "no SQLite blessing"
    );
    assert!(copyright.contains("rusqlite"), "no crate list");
}
