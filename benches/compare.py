#!/usr/bin/env python3
"""Side-by-side figures: nethergaze against GoAccess (when installed), same
machine, same run. Run through `make bench-compare`.

    compare.py BINARY [--lines 1000000] [--live-secs 20] [--runs 3] [--live-log both]
               [--live-history] [--no-events]

Batch, for each of two generated combined logs (`genlog.py`'s simple one and
its `--realistic` one): `--once --json --from-start` (median of --runs wall
times) and GoAccess's `-o out.json` over the same file, with the lines each
tool could not parse. Live (--live-log simple, realistic or both): each tool
follows a log while a writer appends at 0, 1 000 and 5 000 lines/s over
20 000 client IPs; CPU is utime+stime over the window from /proc/PID/stat,
peak RSS is VmHWM. --live-history runs nethergaze live with a fresh history
file each time instead of --no-history (the dashboard's own figures, in a
pty: `benches/dashboard.py`).
`ng+events` is the same nethergaze run with `--events-file` (the event
stream written as it goes); --no-events skips it.
"""
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TICKS = os.sysconf("SC_CLK_TCK")


def arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


LOGS = {"simple": [], "realistic": ["--realistic"]}


def generate(path, lines, kind, start=1764000000):
    if not os.path.exists(path):
        subprocess.run([sys.executable, os.path.join(HERE, "genlog.py"), path, str(lines), "--start", str(start), *LOGS[kind]], check=True)


def bench_log(lines, kind):
    """The cached batch log; the realistic one's name carries its generator's
    hash, so an edited generator never reuses a stale file."""
    tag = ""
    if kind == "realistic":
        with open(os.path.join(HERE, "reallog.py"), "rb") as f:
            tag = "-real-" + hashlib.sha256(f.read()).hexdigest()[:8]
    path = os.path.join(os.environ.get("BENCH_DIR", "/tmp"), f"nethergaze-bench{tag}-{lines}.log")
    generate(path, lines, kind)
    return path


def nethergaze_malformed(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True).stdout
    summary = json.loads(out.splitlines()[-1])
    return summary["requests"], summary["malformed"]


def goaccess_failed(out_json):
    with open(out_json) as f:
        general = json.load(f)["general"]
    return general["valid_requests"], general["failed_requests"]


def batch(binary, goaccess, log, kind, lines, runs, work):
    # The parser's throughput: enrichment off, as GoAccess does none (no
    # GeoIP, whois, history, sockets, nor the ~0.1 s of CPU a run as root
    # spends asking nft, iptables, fail2ban and cscli what they block).
    config = os.path.join(work, "batch.toml")
    with open(config, "w") as f:
        f.write("[refresh]\nblocked_interval = 0\n")
    ng_cmd = [binary, "--config", config, "--once", "--json", "--from-start", "--log-path", log, "--no-auth-log", "--no-geoip", "--no-whois", "--no-history", "--proc-root", os.path.join(work, "noproc")]
    ga_cmd = [goaccess, log, "--log-format=COMBINED", "--no-global-config", "--no-progress", "-o", os.path.join(work, "out.json")] if goaccess else None
    print(f"# {kind}: {log}, {lines} lines, {os.path.getsize(log) / 1e6:.0f} MB")
    ng, ga = [], []
    for _ in range(runs):  # interleaved, so a drift of the machine hits both tools alike
        ng.append(wall(ng_cmd))
        if ga_cmd:
            ga.append(wall(ga_cmd))
    ng_med = statistics.median(ng)
    requests, malformed = nethergaze_malformed(ng_cmd)
    print(f"batch  {kind:9} nethergaze  {ng_med:7.2f} s  {lines / ng_med / 1e6:6.2f} M lines/s   ({requests} requests, {malformed} malformed)")
    if ga_cmd:
        ga_med = statistics.median(ga)
        valid, failed = goaccess_failed(os.path.join(work, "out.json"))
        print(f"batch  {kind:9} goaccess    {ga_med:7.2f} s  {lines / ga_med / 1e6:6.2f} M lines/s   ({valid} valid, {failed} failed)   nethergaze is {ga_med / ng_med:.1f}x faster")


def wall(cmd):
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def writer_lines(lines_file):
    with open(lines_file, "rb") as f:
        return f.read().splitlines(keepends=True)


def live(cmd, log, rate, secs, source_lines):
    open(log, "wb").close()
    for old in (log + ".history.db", log + ".history.db-wal", log + ".history.db-shm"):
        if os.path.exists(old):
            os.remove(old)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2)  # start-up is not what we measure
    t0, c0 = time.monotonic(), cpu_ticks(proc.pid)
    written, i = 0, 0
    with open(log, "ab", buffering=0) as out:
        while (now := time.monotonic()) - t0 < secs:
            due = int((now - t0) * rate)
            if due > written:
                chunk = source_lines[i:i + due - written]
                i += len(chunk)
                out.write(b"".join(chunk))
                written += len(chunk)
            time.sleep(0.01)
    time.sleep(1.5)  # let the tool catch up before the CPU reading ends
    elapsed = time.monotonic() - t0
    cpu = (cpu_ticks(proc.pid) - c0) / TICKS / elapsed * 100
    rss = peak_rss_kib(proc.pid) / 1024
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    return cpu, rss


def live_phase(binary, goaccess, kind, secs, work, with_events):
    # 20 000 distinct clients, fresh timestamps so rates are live.
    feed = os.path.join(work, "feed.log")
    subprocess.run([sys.executable, os.path.join(HERE, "genlog.py"), feed, str(5000 * secs + 1000), "--start", str(int(time.time())), *LOGS[kind]], check=True)
    source = writer_lines(feed)
    log = os.path.join(work, "live.log")
    history = ["--history-db", log + ".history.db"] if "--live-history" in sys.argv else ["--no-history"]
    headless = [binary, "--for", "1h", "--log-path", log, "--no-auth-log", "--no-geoip", "--no-whois", *history, "--json"]
    tools = [("nethergaze", headless)]
    if with_events:
        # The same run writing the event stream to a file (issue 14: it must
        # cost nothing measurable at 5 000 lines/s).
        tools.append(("ng+events", headless + ["--events-file", os.path.join(work, "events.ndjson")]))
    if goaccess:
        tools.append(("goaccess", [goaccess, log, "--log-format=COMBINED", "--no-global-config", "--real-time-html", "--addr=127.0.0.1", "--port=7891", "-o", os.path.join(work, "rt.html")]))
    print(f"{'live':6} {'log':9} {'tool':11} {'lines/s':>8} {'CPU %':>7} {'peak RSS MiB':>13}")
    for rate in (0, 1000, 5000):
        cpus = []
        for name, cmd in tools:
            cpu, rss = live(cmd, log, rate, secs, source)
            cpus.append(cpu)
            print(f"live   {kind:9} {name:11} {rate:8} {cpu:7.2f} {rss:13.1f}")
        if goaccess and cpus[0] > 0 and rate > 0:
            print(f"live   {kind:9} {'':11} {rate:8}   GoAccess uses {cpus[-1] / cpus[0]:.1f}x the CPU")


def main():
    binary = sys.argv[1]
    lines = arg("--lines", 1000000)
    secs = arg("--live-secs", 20)
    runs = arg("--runs", 3)
    live_logs = arg("--live-log", "both")
    live_kinds = list(LOGS) if live_logs == "both" else [live_logs]
    if any(kind not in LOGS for kind in live_kinds):
        sys.exit("--live-log: simple, realistic or both")
    work = tempfile.mkdtemp(prefix="ng-bench-")
    goaccess = shutil.which("goaccess")
    version = subprocess.run([goaccess, "--version"], capture_output=True, text=True).stdout.split("\n")[0] if goaccess else "no GoAccess"
    print(f"# {time.strftime('%Y-%m-%d')} on {os.uname().nodename}, {os.cpu_count()} cores; {version}")
    for kind in LOGS:
        batch(binary, goaccess, bench_log(lines, kind), kind, lines, runs, work)
    for kind in live_kinds:
        live_phase(binary, goaccess, kind, secs, work, "--no-events" not in sys.argv)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
