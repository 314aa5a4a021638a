#!/usr/bin/env bash
# The generated files of a release (`make dist`, `make deb`), written into OUTDIR
# from the static binary itself, so they always match it: the man page (plain and
# gzipped for Debian), the bash/zsh/fish completions, the third-party licence
# bundle, and the Debian copyright file (nethergaze's LICENSE, then the bundle).
# Usage: contrib/release/assets.sh BINARY TARGET OUTDIR
set -euo pipefail
bin=$1 target=$2 out=$3
root=$(cd "$(dirname "$0")/../.." && pwd)

rm -rf "$out"
mkdir -p "$out/completions"
"$bin" --generate man >"$out/nethergaze.1"
gzip -9n <"$out/nethergaze.1" >"$out/nethergaze.1.gz"
"$bin" --generate complete-bash >"$out/completions/nethergaze.bash"
"$bin" --generate complete-zsh >"$out/completions/_nethergaze"
"$bin" --generate complete-fish >"$out/completions/nethergaze.fish"
(cd "$root" && python3 contrib/release/third-party-licenses.py "$target" "$out/THIRD-PARTY-LICENSES")
{
    cat "$root/LICENSE"
    printf '\n\n'
    cat "$out/THIRD-PARTY-LICENSES"
} >"$out/copyright"
