#!/bin/sh
# Before the suite (`make test`): which integration tests will skip on this machine,
# and why (a peer program missing, not root). A skipped test prints SKIP into output
# cargo captures and reports "ok", so without this a green run can hide them.
# Under CI=true those skips are failures (tests/it/harness.rs), and this says so.
#
# The peers are read from the tests themselves, so this list cannot drift from them:
#   harness::skip_unless(&["a", "b"])  needs a and b, and root
#   have(&["a"])                        needs a (tests/it/ship.rs)
#   skip_without_NAME()                 needs NAME (e.g. skip_without_tmux)
# `tests/preflight.sh --list` prints "test<TAB>root|-<TAB>peers" for each such test
# (tests/it/preflight.rs checks it against its own reading of the sources).
set -eu
cd "$(dirname "$0")/.."

# One line per skipping test: its function, "root" when skip_unless (which also
# wants root), and its peers. Calls may span lines (rustfmt), so text is joined
# from the call to its closing `)`.
needs() {
    awk '
        function flush(call,   peers, rest, m) {
            root = (call ~ /skip_unless\(/) ? "root" : "-"
            peers = ""
            if (match(call, /skip_without_[A-Za-z0-9_]+\(/)) {
                peers = substr(call, RSTART + 13, RLENGTH - 14)
                gsub(/_/, "-", peers)
            }
            rest = call
            while (match(rest, /"[^"]*"/)) {
                m = substr(rest, RSTART + 1, RLENGTH - 2)
                peers = peers (peers == "" ? "" : " ") m
                rest = substr(rest, RSTART + RLENGTH)
            }
            printf "%s\t%s\t%s\n", test, root, peers
        }
        FNR == 1 { test = ""; open = "" }
        /^[ \t]*(pub(\([a-z]+\))? )?fn [a-z0-9_]+/ {
            line = $0
            sub(/^[ \t]*(pub(\([a-z]+\))? )?fn /, "", line)
            sub(/[^a-z0-9_].*/, "", line)
            # The helpers themselves are not tests.
            if (line != "skip_unless" && line != "have" && line !~ /^skip_without_/) test = line
        }
        open != "" {
            open = open " " $0
            if ($0 ~ /\)/) { flush(open); open = "" }
            next
        }
        /skip_unless\(&\[|[^a-z_]have\(&\[|skip_without_[A-Za-z0-9_]+\(\)/ {
            if ($0 ~ /^[ \t]*(pub(\([a-z]+\))? )?fn /) next
            if ($0 ~ /\]\)|skip_without_[A-Za-z0-9_]+\(\)/) flush($0)
            else open = $0
        }
    ' tests/it/*.rs
}

if [ "${1:-}" = "--list" ]; then
    needs
    exit 0
fi

# Like harness::which: $PATH, then the sbin directories a non-root $PATH lacks.
have_bin() {
    command -v "$1" >/dev/null 2>&1 && return 0
    for dir in /usr/local/sbin /usr/sbin /sbin; do
        [ -x "$dir/$1" ] && return 0
    done
    return 1
}

root=yes
[ "$(id -u)" -eq 0 ] || root=no
missing=$(needs | cut -f3 | tr ' ' '\n' | sort -u | while read -r bin; do
    [ -n "$bin" ] && ! have_bin "$bin" && printf '%s ' "$bin"
done || true)

skips=$(needs | while IFS="$(printf '\t')" read -r test wants_root peers; do
    why=""
    [ "$wants_root" = root ] && [ "$root" = no ] && why="not root"
    for bin in $peers; do
        have_bin "$bin" || why="${why:+$why, }$bin missing"
    done
    [ -n "$why" ] && printf '  %s (%s)\n' "$test" "$why"
done || true)

if [ -z "$skips" ]; then
    echo "preflight: every peer is installed and we are root: no integration test will skip"
    exit 0
fi
echo "preflight: these integration tests will SKIP here (they print SKIP and pass):"
printf '%s\n' "$skips"
[ -n "$missing" ] && echo "  missing programs: $missing(.ci/run installs them on Debian)"
[ "$root" = no ] && echo "  not root: the real-peer tests start daemons and need root (sudo make test)"
if [ "${CI:-}" = true ]; then
    echo "preflight: CI=true: each of these skips is a test FAILURE"
fi
exit 0
