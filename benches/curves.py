#!/usr/bin/env python3
"""Cost curves (issue 13, item 5), printed as markdown for the README.

    curves.py BINARY [--lines 1000000] [--clients 1000,20000,50000,200000,1000000]
                     [--runs 3] [--sockets 1000,10000,60000] [--socket-runs 3]

1. Lines/s and peak RSS vs distinct clients: for each client pool, a
   realistic log (benches/reallog.py, cached in $BENCH_DIR or /tmp) of
   --lines lines whose clients follow a Zipf mix of exponent 0.5 (flatter
   than a busy site's 1.0, so the large pools really show up: a pool of 1 M
   puts ~560 k distinct clients in 1 M lines). nethergaze reads it with
   `--once --json --from-start`, history, whois, GeoIP and sshd off, and no
   sockets (an empty --proc-root), as `make bench-compare` does; the table
   has `max_tracked_ips` at its default (50 000), so past it rows are
   evicted. Runs are interleaved over the pools (a drift of the shared
   machine hits every pool alike); medians of --runs. lines/s by wall time
   and by CPU time (user+sys: on a busy machine the steadier of the two).
2. Socket dump time vs sockets: benches/synflood.py at --sockets sizes (needs
   root: network namespaces, raw sockets, nft; skipped otherwise), without
   its dashboard and max_tracked_ips runs. --sockets none skips it.
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reallog  # noqa: E402  (benches/reallog.py, beside this file)

ZIPF_EXPONENT = 0.5
DEFAULT_CAP = 50000  # config.rs DEFAULT_MAX_TRACKED_IPS


def arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def generator_tag():
    """Changes whenever reallog.py does, so a stale cached log is never reused."""
    import hashlib

    with open(os.path.join(HERE, "reallog.py"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:8]


def client_log(lines, pool):
    """(path, distinct clients) of the cached log for `pool` clients."""
    base = os.path.join(os.environ.get("BENCH_DIR", "/tmp"),
                        "nethergaze-curve-%s-%d-%d" % (generator_tag(), lines, pool))
    log, truth = base + ".log", base + ".truth.json"
    if not (os.path.exists(log) and os.path.exists(truth)):
        print("generating %s (%d lines, a pool of %d clients)" % (log, lines, pool),
              file=sys.stderr)
        reallog.write(log + ".tmp", lines, pool, 1764000000, truth, exponent=ZIPF_EXPONENT)
        os.rename(log + ".tmp", log)
    with open(truth) as f:
        return log, json.load(f)["clients"]


def run_once(binary, log, work):
    """(wall s, CPU s, peak RSS MiB, rows kept, rows evicted) of one run."""
    out = os.path.join(work, "out.json")
    rss_file = os.path.join(work, "rss")
    cmd = ["/usr/bin/time", "-f", "%U %S %M", "-o", rss_file, binary, "--once", "--json",
           "--from-start", "--log-path", log, "--no-auth-log", "--no-geoip", "--no-whois",
           "--no-history", "--proc-root", os.path.join(work, "noproc")]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": work,
           "XDG_CONFIG_HOME": work}
    start = time.monotonic()
    with open(out, "w") as f:
        subprocess.run(cmd, check=True, stdout=f, stderr=subprocess.DEVNULL, env=env)
    wall = time.monotonic() - start
    with open(rss_file) as f:
        user, system, rss_kib = f.read().split()[-3:]
    rows, evicted = 0, 0
    with open(out) as f:
        for line in f:
            if line.startswith('{"type":"ip"'):
                rows += 1
            elif line.startswith('{"type":"summary"'):
                evicted = json.loads(line)["evicted"]
    return wall, float(user) + float(system), int(rss_kib) / 1024, rows, evicted


def client_curve(binary, lines, pools, runs, work):
    logs = [client_log(lines, pool) for pool in pools]
    results = {pool: [] for pool in pools}
    for _ in range(runs):
        for pool, (log, _) in zip(pools, logs):
            results[pool].append(run_once(binary, log, work))
    print("#### Lines/s and peak RSS vs distinct clients")
    print()
    print("%s realistic lines (benches/reallog.py, Zipf exponent %.1f over the pool), "
          "`--once --json --from-start`, history, whois, GeoIP, sshd and sockets off; "
          "`max_tracked_ips` at its default (%s); medians of %d interleaved runs."
          % (f"{lines:,}", ZIPF_EXPONENT, f"{DEFAULT_CAP:,}", runs))
    print()
    print("| client pool | distinct clients | rows kept | evicted | lines/s (wall) "
          "| lines/s (CPU) | peak RSS |")
    print("|---|---|---|---|---|---|---|")
    for pool, (_, distinct) in zip(pools, logs):
        r = results[pool]
        wall = statistics.median(x[0] for x in r)
        cpu = statistics.median(x[1] for x in r)
        rss = statistics.median(x[2] for x in r)
        rows, evicted = r[-1][3], r[-1][4]
        print("| %s | %s | %s | %s | %.2f M | %.2f M | %.1f MiB |" % (
            f"{pool:,}", f"{distinct:,}", f"{rows:,}", f"{evicted:,}",
            lines / max(wall, 1e-3) / 1e6, lines / max(cpu, 1e-3) / 1e6, rss))
    print()


def socket_curve(binary, sizes, runs):
    print("#### Socket dump time vs sockets")
    print()
    if os.geteuid() != 0:
        print("(skipped: benches/synflood.py needs root)")
        print()
        return
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, "synflood.py"), binary, "--sizes", sizes,
         "--runs", str(runs), "--presses", "0", "--cap", "0"],
        check=True, capture_output=True, text=True).stdout
    print("benches/synflood.py: a SYN flood from loopback addresses in a private network "
          "namespace (four fifths SYN_RECV, one fifth established).")
    print()
    print(out.strip())
    print()


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0]
    return "%s, %d cores, Linux %s; load average %.1f at the start" % (
        model, os.cpu_count() or 0, platform.release(), load)


def main():
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        sys.exit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    lines = arg("--lines", 1000000)
    pools = [int(p) for p in arg("--clients", "1000,20000,50000,200000,1000000").split(",")]
    runs = arg("--runs", 3)
    sizes = arg("--sockets", "1000,10000,60000")
    print("Machine: %s." % machine())
    print()
    with tempfile.TemporaryDirectory(prefix="curves.") as work:
        os.mkdir(os.path.join(work, "noproc"))
        client_curve(binary, lines, pools, runs, work)
    if sizes != "none":
        socket_curve(binary, sizes, arg("--socket-runs", 3))


if __name__ == "__main__":
    main()
