#!/usr/bin/env bash
# `make dist`: nethergaze-VERSION-x86_64-linux-musl.tar.gz and its .sha256 in OUTDIR,
# from the static binary and the files contrib/release/assets.sh wrote to
# OUTDIR/assets. Reproducible for a given commit: sorted names, owner 0, fixed
# modes, every mtime the commit's time (or SOURCE_DATE_EPOCH), gzip without a
# timestamp.
# Usage: contrib/release/dist.sh BINARY VERSION OUTDIR
set -euo pipefail
bin=$1 version=$2 out=$3
root=$(cd "$(dirname "$0")/../.." && pwd)
name=nethergaze-$version
tarball=$name-x86_64-linux-musl.tar.gz
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}

stage=$out/stage
rm -rf "$stage"
dir=$stage/$name
mkdir -p "$dir/contrib"
install -m 755 "$bin" "$dir/nethergaze"
cp "$out/assets/nethergaze.1" "$out/assets/THIRD-PARTY-LICENSES" "$dir/"
cp -r "$out/assets/completions" "$dir/"
cp "$root/config.example.toml" "$root/LICENSE" "$root/README.md" "$dir/"
# contrib/ as an operator needs it: the systemd unit and the fail2ban files (the
# release scripts stay in the source tree).
cp "$root/contrib/nethergaze-events.service" "$dir/contrib/"
cp -r "$root/contrib/fail2ban" "$dir/contrib/"
chmod -R u=rwX,go=rX "$dir"

tar -C "$stage" --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
    -cf - "$name" | gzip -9n >"$out/$tarball"
(cd "$out" && sha256sum "$tarball" >"$tarball.sha256")
rm -rf "$stage"
echo "built $out/$tarball: $(stat -c %s "$out/$tarball") bytes"
