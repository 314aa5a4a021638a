#!/usr/bin/env python3
"""What the interactive dashboard costs: bytes to the terminal and CPU while a
log grows. Run through `make bench-dashboard` (a measurement, not a test).

    dashboard.py BINARY [BINARY ...] [--secs 30] [--rates 1000,5000]
                        [--cols 200] [--rows 50] [--idle-secs 5] [--headless]
                        [--history] [--log simple|realistic] [--runs 1]
                        [--no-sockets]

The binary runs in a pseudo-terminal opened here (COLSxROWS set with
TIOCSWINSZ, the slave its controlling terminal), following an empty log with
the machine's own /proc; this script drains the master and timestamps every
read. A writer appends combined lines stamped with the wall clock from
genlog.py's clients, paths and agents.

One run per rate in --rates (lines/s for --secs, after --idle-secs with no
lines), each on a fresh dashboard: bytes written to the terminal per 1 s
window (median and max), frames per second, where the bytes went (header and
bars, IP table, activity log, found by following the cursor through the
stream), and CPU % of one core (utime+stime from /proc/PID/stat over the
writing window). The issue's figures: bytes/s at 1 000 lines/s, CPU at 5 000.
--headless adds, per rate, the CPU of `--for 1h --json` on the same feed (no
terminal): the engine alone, so the difference is what drawing costs.
--history runs with a fresh history file (in the run's temporary folder)
instead of --no-history, so the frame's cost with history on is measured.
--log realistic feeds the lines of `genlog.py --realistic` (benches/reallog.py:
Zipf clients, real user agents, query strings, referers) restamped with the
wall clock as they are written, instead of genlog.py's short simple ones.

--no-sockets reads sockets from an empty --proc-root instead of netlink: a
dump walks the kernel's whole TCP hash, every network namespace's sockets
included (10 ms here with 12 000 sockets in another namespace), and how
often the gate lets it run depends on this namespace's counters, which
other programs on the host move, so this isolates the cost of reading and
drawing for A/B runs of those. (For the gate itself, run the binary in a
namespace of its own: a script that runs `exec unshare -n BINARY "$@"`.)

Each run also reports idle CPU (over --idle-secs, before the first line) and
peak RSS (VmHWM at the end). CPU is the sum of every thread's run time from
/proc/PID/task/*/schedstat (nanoseconds), so an idle figure of 0.01 % is
resolved in seconds, which utime+stime's 10 ms ticks cannot do.

Several BINARYs with --runs N: runs interleaved (A B A B ..., each on a fresh
dashboard), then the median per binary and rate and each binary's ratio to
the first, so a drift of the shared machine hits all of them alike.
"""
import fcntl
import os
import random
import re
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import genlog  # noqa: E402  (clients, paths and agents of the batch benchmark)

FRAME_START = b"\x1b[?2026h"
CSI = re.compile(rb"\x1b\[(\??)([0-9;]*)([A-Za-z])")


def history_flags(log):
    """--no-history, or with --history a fresh history file beside the log;
    with --no-sockets, an empty --proc-root beside it too."""
    flags = ["--history-db", log + ".history.db"] if "--history" in sys.argv else ["--no-history"]
    if "--no-sockets" in sys.argv:
        flags += ["--proc-root", os.path.join(os.path.dirname(log), "noproc")]
    return flags


def arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def cpu_seconds(pid):
    """Run time of all the process's threads so far, in seconds (schedstat, ns)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:  # the thread ended meanwhile
            pass
    return total / 1e9


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def realistic_lines(work, count):
    """`count` lines of the realistic log, each split around its time stamp."""
    path = os.path.join(work, "realistic-feed.log")
    if not os.path.exists(path):
        subprocess.run([sys.executable, os.path.join(HERE, "genlog.py"), path, str(count), "--realistic"], check=True)
    out = []
    with open(path) as f:
        for line in f:
            a, b = line.index("["), line.index("]")
            out.append((line[:a + 1], line[b:]))
    return out


class Headless:
    """The same binary without a terminal (`--for 1h --json`), for a CPU baseline."""

    def __init__(self, binary, log):
        self.proc = subprocess.Popen(
            [binary, "--for", "1h", "--json", "--log-path", log, "--no-auth-log", "--no-geoip", "--no-whois", *history_flags(log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.reads = []

    def quit(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def stream(self, t0=None, t1=None):
        return b""


class Dashboard:
    """The binary on a fresh pty; every read from the master is kept with its time."""

    def __init__(self, binary, log, cols, rows):
        master, slave = os.openpty()
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", HOME=tempfile.mkdtemp(prefix="ng-home-"))
        for key in ("TMUX", "NO_COLOR"):
            env.pop(key, None)

        def controlling_tty():
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            [binary, "--log-path", log, "--no-auth-log", "--no-geoip", "--no-whois", *history_flags(log)],
            stdin=slave, stdout=slave, stderr=slave, env=env,
            start_new_session=True, preexec_fn=controlling_tty)
        os.close(slave)
        self.master = master
        self.reads = []  # (monotonic time, bytes)
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self):
        while True:
            try:
                data = os.read(self.master, 1 << 16)
            except OSError:  # EIO: the program exited
                return
            if not data:
                return
            self.reads.append((time.monotonic(), data))

    def quit(self):
        os.write(self.master, b"q")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=5)
        os.close(self.master)

    def stream(self, t0=None, t1=None):
        return b"".join(d for t, d in self.reads if (t0 is None or t >= t0) and (t1 is None or t < t1))


def feeder(log, rate, secs, rng, ips, real=None):
    """Append `rate` combined lines/s to `log` for `secs`, stamped with the wall
    clock: genlog.py's simple lines, or the realistic ones in `real`."""
    written = 0
    t0 = time.monotonic()
    with open(log, "ab", buffering=0) as out:
        while (now := time.monotonic()) - t0 < secs:
            due = int((now - t0) * rate)
            if due > written:
                stamp = genlog.clf_time(int(time.time()))
                chunk = []
                if real:
                    for i in range(written, due):
                        head, tail = real[i % len(real)]
                        chunk.append(head + stamp + tail)
                for _ in range(0 if real else due - written):
                    ip = ips[min(int(rng.paretovariate(1.2)) - 1, len(ips) - 1) if rng.random() < 0.5 else rng.randrange(len(ips))]
                    path = rng.choice(genlog.PROBES) if rng.random() < 0.02 else rng.choice(genlog.PATHS)
                    status = 404 if path in genlog.PROBES else rng.choice([200, 200, 200, 200, 304, 301, 500])
                    chunk.append('%s - - [%s] "GET %s HTTP/1.1" %d %d "-" "%s"\n'
                                 % (ip, stamp, path, status, rng.randrange(100, 60000), rng.choice(genlog.AGENTS)))
                out.write("".join(chunk).encode())
                written = due
            time.sleep(0.01)
    return written


def per_second(reads, t0, secs):
    buckets = [0] * secs
    frames = [0] * secs
    for t, data in reads:
        i = int(t - t0)
        if 0 <= i < secs:
            buckets[i] += len(data)
            frames[i] += data.count(FRAME_START)
    return buckets, frames


def regions(stream, a, b, cols, rows):
    """Bytes of `stream[a:b]` by screen region, following the cursor from the
    start of the stream (CUP/CUF and printed characters; the renderer never
    relies on wrapping). The activity log is right of the `│` that separates
    it from the table on the column-header row."""
    row2 = [" "] * cols
    x = y = 0
    out = {"header and bars": 0, "IP table": 0, "activity log": 0}
    cost = []  # (x, y, nbytes) of each piece inside the window
    pos = 0
    for m in CSI.finditer(stream):
        seg = stream[pos:m.start()]
        for ch in seg.decode("utf-8", "replace"):
            n = len(ch.encode())
            if y == 2 and 0 <= x < cols:
                row2[x] = ch
            if a <= pos < b:
                cost.append((x, y, n))
            pos += n
            x = min(x + 1, cols - 1)
        pos = m.start()
        private, params, final = m.groups()
        nums = [int(p) if p else 1 for p in params.split(b";")] if params else []
        if final == b"H" and not private:
            y, x = (nums + [1, 1])[0] - 1, (nums[1:] + [1])[0] - 1
        elif final == b"C":
            x = min(x + (nums[0] if nums else 1), cols - 1)
        if a <= pos < b:
            cost.append((x, y, m.end() - m.start()))
        pos = m.end()
    sep = "".join(row2).find("│")
    for cx, cy, n in cost:
        if cy < 2 or cy >= rows - 2:
            out["header and bars"] += n
        elif sep >= 0 and cx >= sep:
            out["activity log"] += n
        else:
            out["IP table"] += n
    return out, sep


def run(binary, rate, secs, idle, cols, rows, work, headless=False, real=None):
    log = os.path.join(work, f"live-{rate}-{headless}.log")
    for old in (log, log + ".history.db", log + ".history.db-wal", log + ".history.db-shm"):
        if os.path.exists(old):
            os.remove(old)
    open(log, "wb").close()
    dash = Headless(binary, log) if headless else Dashboard(binary, log, cols, rows)
    time.sleep(2)  # start-up and the first full frame are not what we measure
    t_idle, c_idle = time.monotonic(), cpu_seconds(dash.proc.pid)
    time.sleep(idle)
    rng = random.Random(7)
    ips = genlog.clients(random.Random(42), arg("--clients", 20000))
    t0, c0 = time.monotonic(), cpu_seconds(dash.proc.pid)
    written = feeder(log, rate, secs, rng, ips, real)
    t1, c1 = time.monotonic(), cpu_seconds(dash.proc.pid)
    rss = peak_rss_mib(dash.proc.pid)
    time.sleep(0.5)
    dash.quit()
    idle_bytes = len(dash.stream(t_idle, t0)) / idle if idle else 0.0
    buckets, frames = per_second(dash.reads, t0, secs)
    before = len(dash.stream(None, t0))
    where, sep = regions(dash.stream(), before, before + len(dash.stream(t0, t1)), cols, rows)
    return {
        "rate": rate, "written": written, "elapsed": t1 - t0,
        "cpu": (c1 - c0) / (t1 - t0) * 100,
        "idle_cpu": (c0 - c_idle) / (t0 - t_idle) * 100 if idle else 0.0, "rss": rss,
        "idle_bps": idle_bytes, "buckets": buckets, "frames": frames,
        "where": where, "sep": sep,
    }


def report(r, cols, rows):
    b, f = r["buckets"], r["frames"]
    if not sum(b):
        sys.exit("the dashboard wrote nothing: did it start? (run the binary by hand)")
    total = sum(b)
    print(f"{r['rate']:>6} lines/s ({r['written']} written in {r['elapsed']:.1f} s), {cols}x{rows}:")
    print(f"         bytes/s to the terminal: median {statistics.median(b) / 1000:.1f} kB, max {max(b) / 1000:.1f} kB, mean {total / len(b) / 1000:.1f} kB")
    print(f"         frames/s: median {statistics.median(f)}, max {max(f)}; bytes/frame {total / max(sum(f), 1):.0f}")
    print(f"         idle (no lines) before: {r['idle_bps'] / 1000:.2f} kB/s")
    parts = ", ".join(f"{k} {v / total * 100:.0f} %" for k, v in r["where"].items()) if total else "-"
    print(f"         bytes by region (activity log right of column {r['sep']}): {parts}")
    print(f"         CPU {r['cpu']:.2f} % of one core (all threads' run time), idle before {r['idle_cpu']:.3f} %; peak RSS {r['rss']:.1f} MiB")


def binaries():
    """The positional arguments before the first option."""
    out = []
    for a in sys.argv[1:]:
        if a.startswith("--"):
            break
        out.append(a)
    return out


def compare(bins, rates, runs, run_one):
    """Interleaved runs of every binary; medians and ratios to the first."""
    results = {(b, rate): [] for b in bins for rate in rates}
    for i in range(runs):
        for rate in rates:
            for b in bins:
                r = run_one(b, rate)
                results[(b, rate)].append(r)
                print(f"# run {i + 1}/{runs} {rate} lines/s {b}: CPU {r['cpu']:.2f} %, idle {r['idle_cpu']:.3f} %, peak RSS {r['rss']:.1f} MiB", flush=True)
    print(f"{'lines/s':>7} {'binary':30} {'CPU %':>7} {'idle %':>7} {'RSS MiB':>8}   ratio to {bins[0]}")
    for rate in rates:
        base = None
        for b in bins:
            rs = results[(b, rate)]
            med = [statistics.median(r[k] for r in rs) for k in ("cpu", "idle_cpu", "rss")]
            base = base or med
            ratio = " ".join(f"{m / o:.2f}" if o else "-" for m, o in zip(med, base))
            print(f"{rate:>7} {b[-30:]:30} {med[0]:7.2f} {med[1]:7.3f} {med[2]:8.1f}   {ratio}")


def main():
    bins = binaries()
    if not bins:
        sys.exit(__doc__)
    secs, idle = arg("--secs", 30), arg("--idle-secs", 5)
    cols, rows = arg("--cols", 200), arg("--rows", 50)
    work = tempfile.mkdtemp(prefix="ng-dash-bench-")
    real = realistic_lines(work, 5000 * secs) if arg("--log", "simple") == "realistic" else None
    load = os.getloadavg()
    print(f"# {time.strftime('%Y-%m-%d')} on {os.uname().nodename}, {os.cpu_count()} cores, load {load[0]:.2f}")
    rates = [int(r) for r in arg("--rates", "1000,5000").split(",")]
    if len(bins) > 1 or arg("--runs", 1) > 1:
        compare(bins, rates, arg("--runs", 1), lambda b, rate: run(b, rate, secs, idle, cols, rows, work, real=real))
        return
    binary = bins[0]
    for rate in rates:
        report(run(binary, rate, secs, idle, cols, rows, work, real=real), cols, rows)
        if "--headless" in sys.argv:
            r = run(binary, rate, secs, 0, cols, rows, work, headless=True, real=real)
            print(f"{rate:>6} lines/s headless (--for, no terminal): CPU {r['cpu']:.2f} % of one core")


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main()
