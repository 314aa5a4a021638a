#!/usr/bin/env python3
"""Side-by-side figures: nethergaze against GoAccess (when installed), same
machine, same run. Run through `make bench-compare`.

    compare.py BINARY [--lines 1000000] [--live-secs 20] [--runs 3]

Batch: `--once --json --from-start` over a generated combined log (median of
--runs wall times) and GoAccess's `-o out.json` over the same file.
Live: each tool follows a log while a writer appends at 0, 1 000 and 5 000
lines/s over 20 000 client IPs; CPU is utime+stime over the window from
/proc/PID/stat, peak RSS is VmHWM.
"""
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


def generate(path, lines, start=1764000000):
    if not os.path.exists(path):
        subprocess.run([sys.executable, os.path.join(HERE, "genlog.py"), path, str(lines), "--start", str(start)], check=True)


def median_wall(cmd, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


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


def main():
    binary = sys.argv[1]
    lines = arg("--lines", 1000000)
    secs = arg("--live-secs", 20)
    runs = arg("--runs", 3)
    work = tempfile.mkdtemp(prefix="ng-bench-")
    big = os.path.join(os.environ.get("BENCH_DIR", "/tmp"), f"nethergaze-bench-{lines}.log")
    generate(big, lines)
    goaccess = shutil.which("goaccess")
    print(f"# {time.strftime('%Y-%m-%d')} on {os.uname().nodename}, {os.cpu_count()} cores; {lines} lines, {os.path.getsize(big) / 1e6:.0f} MB")

    ng_batch = [binary, "--once", "--json", "--from-start", "--log-path", big, "--no-auth-log", "--no-geoip", "--no-whois", "--no-history", "--proc-root", os.path.join(work, "noproc")]
    ng = median_wall(ng_batch, runs)
    print(f"batch  nethergaze  {ng:7.2f} s  {lines / ng / 1e6:6.2f} M lines/s")
    if goaccess:
        ga = median_wall([goaccess, big, "--log-format=COMBINED", "--no-global-config", "--no-progress", "-o", os.path.join(work, "out.json")], runs)
        print(f"batch  goaccess    {ga:7.2f} s  {lines / ga / 1e6:6.2f} M lines/s   nethergaze is {ga / ng:.1f}x faster")

    # Live: 20 000 distinct clients, fresh timestamps so rates are live.
    feed = os.path.join(work, "feed.log")
    subprocess.run([sys.executable, os.path.join(HERE, "genlog.py"), feed, str(5000 * secs + 1000), "--start", str(int(time.time()))], check=True)
    source = writer_lines(feed)
    log = os.path.join(work, "live.log")
    tools = [("nethergaze", [binary, "--for", "1h", "--log-path", log, "--no-auth-log", "--no-geoip", "--no-whois", "--no-history", "--json"])]
    if goaccess:
        tools.append(("goaccess", [goaccess, log, "--log-format=COMBINED", "--no-global-config", "--real-time-html", "--addr=127.0.0.1", "--port=7891", "-o", os.path.join(work, "rt.html")]))
    print(f"{'live':6} {'tool':11} {'lines/s':>8} {'CPU %':>7} {'peak RSS MiB':>13}")
    for rate in (0, 1000, 5000):
        cpus = []
        for name, cmd in tools:
            cpu, rss = live(cmd, log, rate, secs, source)
            cpus.append(cpu)
            print(f"live   {name:11} {rate:8} {cpu:7.2f} {rss:13.1f}")
        if len(cpus) == 2 and cpus[0] > 0 and rate > 0:
            print(f"live   {'':11} {rate:8}   GoAccess uses {cpus[1] / cpus[0]:.1f}x the CPU")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
