#!/usr/bin/env python3
"""Backfill throughput: `nethergaze --once --since 1h` over a logrotate-style set of
a busy site (issue 15 item 1).

    backfill.py [--bin PATH] [--lines-per-hour N] [--runs K] [--dir DIR]

Makes, in DIR (a temporary folder by default), three hours of benches/reallog.py's
realistic log at N lines an hour (default 1 000 000): `access.log.2.gz` (3 h to 2 h
ago, compressed by the real gzip), `access.log.1` (2 h to 30 min ago: the cut of
--since 1h falls in it) and `access.log` (the last 30 min). Then times K runs
(default 5) of

    nethergaze --once --json --since 1h --log-path DIR/access.log --no-auth-log \\
        --no-history --no-whois --no-geoip --proc-root EMPTY

and prints the median wall time and the lines an hour it reads back per second.
Use a release build (the default --bin is target/release/nethergaze) on a quiet
machine; compare builds side by side in one run (--bin twice, interleaved). With
--dir the set stays, for `benches/backfill_keys.py DIR` (the dashboard's answer to
keys during the read-back).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reallog  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAMP = re.compile(r"\[[^\]]*\]")


def make_set(folder, per_hour, now):
    """The three files, each line's time spread evenly over its span."""
    raw = os.path.join(folder, "raw.log")
    lines = 3 * per_hour
    reallog.write(raw, lines, max(1000, per_hour // 50), now - 3 * 3600)
    parts = [("access.log.2", 3 * 3600, 2 * 3600), ("access.log.1", 2 * 3600, 1800),
             ("access.log", 1800, 0)]
    with open(raw, encoding="ascii") as src:
        i = 0
        for name, start, end in parts:
            t_from, t_to = now - start, now - end
            path = os.path.join(folder, name)
            with open(path, "w", encoding="ascii", newline="\n") as out:
                while True:
                    t = now - 3 * 3600 + i * 3600 // per_hour
                    if t >= t_to or i >= lines:
                        break
                    line = src.readline()
                    stamp = "[%s]" % reallog.clf_time(t)
                    out.write(STAMP.sub(lambda _m: stamp, line, count=1))
                    i += 1
            os.utime(path, (t_to, t_to))
            if name.endswith(".2"):
                subprocess.run(["gzip", "-f", path], check=True)
                os.utime(path + ".gz", (t_to, t_to))
    os.remove(raw)


def run_once(binary, folder, proc_root):
    cmd = [binary, "--once", "--json", "--since", "1h", "--log-path",
           os.path.join(folder, "access.log"), "--no-auth-log", "--no-history",
           "--no-whois", "--no-geoip", "--proc-root", proc_root]
    started = time.monotonic()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    elapsed = time.monotonic() - started
    summary = json.loads(out.strip().splitlines()[-1])
    return elapsed, summary["lines"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", action="append", help="nethergaze binary (repeatable: A/B)")
    ap.add_argument("--lines-per-hour", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", help="where the set is made (kept); a temporary folder by default")
    args = ap.parse_args()
    binaries = args.bin or [os.path.join(ROOT, "target/release/nethergaze")]
    with tempfile.TemporaryDirectory(prefix="ng-backfill-") as tmp:
        folder = args.dir or tmp
        os.makedirs(folder, exist_ok=True)
        proc_root = os.path.join(tmp, "proc")
        os.makedirs(os.path.join(proc_root, "net"), exist_ok=True)
        for name in ("tcp", "tcp6"):
            with open(os.path.join(proc_root, "net", name), "w", encoding="ascii") as f:
                f.write("  sl  local_address rem_address   st\n")
        now = int(time.time())
        print("making 3 h at %d lines/h in %s ..." % (args.lines_per_hour, folder), flush=True)
        make_set(folder, args.lines_per_hour, now)
        times = {b: [] for b in binaries}
        lines = {}
        for _ in range(args.runs):
            for b in binaries:  # interleaved, so noise hits every build alike
                elapsed, n = run_once(b, folder, proc_root)
                times[b].append(elapsed)
                lines[b] = n
        for b in binaries:
            median = statistics.median(times[b])
            print("%s: median %.3f s over %d runs, %d lines read back, %.2f M lines/s"
                  % (b, median, args.runs, lines[b], lines[b] / median / 1e6))


if __name__ == "__main__":
    main()
