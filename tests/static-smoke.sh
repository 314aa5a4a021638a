#!/usr/bin/env bash
# Smoke test of the static binary (`make test-static` builds it and runs this; CI
# does on every run). Usage: tests/static-smoke.sh [BINARY]
#
# Checks that it is one self-contained file: `file` says statically linked, `ldd`
# finds no libraries, it is at most 5 MiB, and it does its job under `env -i` (no
# HOME, no PATH, no config): `--once --json` over the /proc and access-log fixtures
# prints the rows tests/data/logs/README promises, with the history database (the
# bundled SQLite) written and read back. As root it then does the same in an empty
# chroot, which proves it needs no file under /etc (resolv.conf, passwd, ssl
# certificates, localtime), no /proc and no /dev.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/target/x86_64-unknown-linux-musl/release/nethergaze}
max_bytes=$((5 << 20)) # 5 MiB
fixtures=$root/tests/data

fail() {
    echo "static-smoke: FAIL: $*" >&2
    exit 1
}
ok() { echo "static-smoke: ok: $*"; }

[ -x "$bin" ] || fail "$bin is not built (run: make static)"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

# --- one self-contained file -------------------------------------------------
what=$(file -b "$bin")
case $what in
*"statically linked"* | *"static-pie linked"*) ok "file: ${what%%, BuildID*}" ;;
*) fail "file says: $what" ;;
esac
# glibc's ldd prints "not a dynamic executable" for static binaries and
# "statically linked" for static-pie ones; either way no library is listed.
libs=$(ldd "$bin" 2>&1 || true)
case $libs in
*"not a dynamic executable"* | *"statically linked"*) ok "ldd: $(echo $libs)" ;;
*) fail "ldd lists libraries: $libs" ;;
esac
size=$(stat -c %s "$bin")
[ "$size" -le "$max_bytes" ] || fail "$size bytes, over 5 MiB ($max_bytes)"
ok "size: $size bytes (limit $max_bytes)"

# cargo-auditable (when `make static` had it) embeds the dependency list that
# `cargo audit bin` and scanners read; tests/it/release.rs decodes it.
if command -v cargo-auditable >/dev/null; then
    readelf -S -W "$bin" | grep -q ' \.dep-v0 ' || fail "no .dep-v0 section (cargo-auditable)"
    ok "the .dep-v0 dependency list is embedded"
elif [ "${CI:-}" = true ]; then
    fail "CI=true but cargo-auditable is not installed"
fi

# --- it does its job with nothing around it -----------------------------------
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Runs the snapshot with an empty environment; $1 is how to start the binary
# (a path, or `chroot DIR /nethergaze`), $2 the fixtures directory as it sees it.
snapshot() {
    local fixtures_seen=$2
    # shellcheck disable=SC2086 # $1 is a command and its arguments
    env -i $1 --once --json --from-start --no-auth-log --no-geoip --no-whois \
        --proc-root "$fixtures_seen/proc" --log-path "$fixtures_seen/logs/combined.log" \
        --history-db "$3"
}

# Asserts that the row of IP in the JSON Lines $1 contains every later argument.
expect_row() {
    local out=$1 ip=$2 row
    shift 2
    row=$(grep -F "\"type\":\"ip\",\"ip\":\"$ip\"," <<<"$out") || fail "no row for $ip in: $out"
    for want in "$@"; do
        [[ $row == *"$want"* ]] || fail "$ip: no $want in $row"
    done
}

# The counts come from tests/data/logs/README and tests/data/proc/README.
check() {
    local label=$1 out=$2 sessions=$3
    expect_row "$out" 185.199.108.153 '"requests":61,' '"peak_rpm":61,' '"reasons":["burst"]'
    expect_row "$out" 45.33.32.156 '"requests":4,' '"bytes":6050,'
    expect_row "$out" 8.8.4.4 '"conns":1,' '"services":["https"]'
    expect_row "$out" 185.199.108.153 "\"history\":{\"sessions\":$sessions,"
    grep -q '^{"type":"summary",' <<<"$out" || fail "$label: no summary line"
    if grep -q '"error":"' <<<"$out"; then fail "$label: a source failed: $out"; fi
    ok "$label: rows, counts and history (session $sessions) as expected"
}

cd /
out=$(snapshot "$bin" "$fixtures" "$work/state/history.db") || fail "env -i run failed"
check "env -i" "$out" 1
# The same lines at another path are new to history (no cursor there): a second
# session. Read once more, they are counted already: still two sessions.
mkdir -p "$work/copy/logs"
cp -r "$fixtures/proc" "$work/copy/proc"
cp "$fixtures/logs/combined.log" "$work/copy/logs/"
out=$(snapshot "$bin" "$work/copy" "$work/state/history.db") || fail "env -i second run failed"
check "env -i, history read back" "$out" 2
out=$(snapshot "$bin" "$work/copy" "$work/state/history.db") || fail "env -i third run failed"
check "env -i, lines counted once" "$out" 2

# --- in an empty root -----------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
    [ "${CI:-}" != true ] || fail "CI=true but not root: cannot test in an empty chroot"
    echo "static-smoke: SKIP: empty-chroot run needs root"
    exit 0
fi
chroot_bin=$(command -v chroot || echo /usr/sbin/chroot)
jail=$work/jail
mkdir -p "$jail/data/logs"
cp "$bin" "$jail/nethergaze"
cp -r "$fixtures/proc" "$jail/data/proc"
cp "$fixtures/logs/combined.log" "$jail/data/logs/"
out=$(snapshot "$chroot_bin $jail /nethergaze" /data /state/history.db) ||
    fail "run in an empty chroot failed"
check "empty chroot" "$out" 1
