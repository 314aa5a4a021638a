#!/usr/bin/env python3
"""Worst-case memory at the `max_tracked_ips` cap (issue 9, item 9).

    memcap.py BINARY [--clients 60000] [--cap 50000] [--live-secs 70]

Generates a combined log in which every client sends 20 requests (a full
recent-request ring) with maximum-length strings: a 512-byte user agent of
its own, and 512-byte paths, half of them unique to the client and half from
a pool of 64 shared ones (shared text is cheap in the string store but is
copied once per row by a history snapshot). More clients than the cap, so the
table is full and evicting. Then prints peak RSS (/usr/bin/time -v,
"Maximum resident set size", the kernel's high-water mark) for:

  once          --once --json --from-start, no history
  once+history  the same with a fresh history database
  live+history  --for LIVE_SECS following the same log from the start, with
                a history database (one periodic snapshot and one at exit)

Figures are MiB (2^20 bytes). The 64 MiB promise is about the worst of them.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

MAX_STRING = 512  # src/table/intern.rs
RING = 20  # src/table/mod.rs RECENT_REQUESTS
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def ip_of(c):
    if c % 10 == 0:
        return "2a01:4f8:%x:%x::1" % (c >> 16, c & 0xFFFF)
    return "11.%d.%d.%d" % ((c >> 16) & 0xFF, (c >> 8) & 0xFF, c & 0xFF)


def pad(prefix, n):
    return (prefix + "x" * n)[:n]


def generate(path, clients, start=1764000000):
    import time

    shared = [pad("/shared/%02d/" % i, MAX_STRING) for i in range(64)]
    with open(path, "w", encoding="ascii", newline="\n") as f:
        n = 0
        for c in range(clients):
            ip = ip_of(c)
            agent = pad("Mozilla/5.0 (client %d) " % c, MAX_STRING)
            lines = []
            for j in range(RING):
                t = start + n // 50
                n += 1
                g = time.gmtime(t)
                stamp = "%02d/%s/%04d:%02d:%02d:%02d +0000" % (
                    g.tm_mday, MONTHS[g.tm_mon - 1], g.tm_year, g.tm_hour, g.tm_min, g.tm_sec)
                p = shared[(c + j) % 64] if j % 2 == 0 else pad("/u/%d/%d/" % (c, j), MAX_STRING)
                lines.append('%s - - [%s] "GET %s HTTP/1.1" 200 512 "-" "%s"\n' % (ip, stamp, p, agent))
            f.write("".join(lines))


def peak_mib(cmd, cwd):
    """Peak RSS of `cmd` in MiB, from GNU time's "Maximum resident set size"."""
    time_bin = shutil.which("time", path="/usr/bin") or "/usr/bin/time"
    out = subprocess.run([time_bin, "-v", *cmd], cwd=cwd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr)
    if out.returncode != 0 or not m:
        sys.exit(f"{cmd[0]} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return int(m.group(1)) / 1024


def main():
    binary = os.path.abspath(sys.argv[1])
    clients = arg("--clients", 60000)
    cap = arg("--cap", 50000)
    live_secs = arg("--live-secs", 70)
    work = tempfile.mkdtemp(prefix="ng-memcap-")
    try:
        log = os.path.join(work, "access.log")
        generate(log, clients)
        conf = os.path.join(work, "config.toml")
        with open(conf, "w") as f:
            f.write(f"max_tracked_ips = {cap}\n")
        common = [binary, "--config", conf, "--log-path", log, "--from-start", "--no-auth-log",
                  "--no-geoip", "--no-whois", "--proc-root", os.path.join(work, "noproc"), "--json"]
        print(f"# {clients} clients x {RING} requests, {MAX_STRING}-byte paths and user agents, "
              f"max_tracked_ips = {cap}; log {os.path.getsize(log) / 1e6:.0f} MB")
        print(f"{'case':14} {'peak RSS MiB':>12}")
        cases = [
            ("once", ["--once", "--no-history"]),
            ("once+history", ["--once", "--history-db", os.path.join(work, "h1.db")]),
            ("live+history", ["--for", f"{live_secs}s", "--history-db", os.path.join(work, "h2.db")]),
        ]
        for name, extra in cases:
            print(f"{name:14} {peak_mib(common + extra, work):12.1f}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
