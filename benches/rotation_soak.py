#!/usr/bin/env python3
"""Rotation soak: lines written against lines counted while a log rotates fast.
Run through `make bench-rotation`.

    rotation_soak.py BINARY [--rate 5000] [--secs 6] [--rotations 1,10]
                            [--modes copytruncate,rename,recreate]

For each mode and rotation rate, a writer appends `--rate` lines/s to
DIR/access.log, one write(2) per line as nginx does, for `--secs` seconds,
while the same thread rotates the log `--rotations` times a second:

  copytruncate  copy to access.log.N, truncate in place (the writer keeps its fd)
  rename        rename to access.log.N, the writer opens a new access.log
  recreate      delete access.log, the writer creates a new one

Writer and rotator share one thread, so no line is written between the copy
and the truncation: every line written was in the file when it was rotated,
and nethergaze should count every one. nethergaze follows the literal path
(`--for 1h --json` on DIR/access.log) and is stopped with SIGTERM once the
writer is done; its summary gives the lines it counted. Each line comes from
its own client address: `counted` is the rows (distinct lines), `lost` is
written minus counted, `twice` the requests counted more than once, and
`malformed` the fragments parsed as lines.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def line(i, stamp):
    # One public client per line (private ones are hidden), so the rows tell
    # lines lost from lines counted twice; a fixed 2023 time keeps rows from
    # ageing out.
    ip = "45.%d.%d.%d" % (i >> 16, (i >> 8) & 255, i & 255)
    return ('%s - - [%s] "GET /soak/%d HTTP/1.1" 200 100 "-" "rotation-soak"\n' % (ip, stamp, i)).encode()


def wait_open(pid, path, timeout=10.0):
    """Until nethergaze holds `path` open (it is then following it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == path:
                    return
        except OSError:
            pass
        time.sleep(0.02)
    sys.exit(f"nethergaze never opened {path}")


def rotate(mode, log, n, fd):
    """Rotate once; returns the writer's fd (new for rename and recreate)."""
    if mode == "copytruncate":
        shutil.copyfile(log, f"{log}.{n}")
        os.truncate(log, 0)
        return fd
    if mode == "rename":
        os.rename(log, f"{log}.{n}")
    else:
        os.unlink(log)
    os.close(fd)
    return os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def soak(binary, mode, rate, per_sec, secs):
    work = tempfile.mkdtemp(prefix="ng-soak-")
    log = os.path.join(work, "access.log")
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.makedirs(os.path.join(work, "noproc"))
    cmd = [binary, "--for", "1h", "--json", "--log-path", log, "--no-auth-log", "--no-geoip",
           "--no-whois", "--no-history", "--proc-root", os.path.join(work, "noproc")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    wait_open(proc.pid, log)
    stamp = "10/Oct/2023:13:00:00 +0000"
    written = rotations = 0
    t0 = time.monotonic()
    while (now := time.monotonic() - t0) < secs:
        for _ in range(int(now * rate) - written):
            os.write(fd, line(written, stamp))
            written += 1
        if int(now * per_sec) > rotations:
            rotations += 1
            fd = rotate(mode, log, rotations, fd)
        time.sleep(0.0005)
    os.close(fd)
    time.sleep(2)  # nethergaze reads on within 50 ms; ticks close drained files
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    summary = next(json.loads(l) for l in out.splitlines() if b'"type":"summary"' in l)
    shutil.rmtree(work, ignore_errors=True)
    for note in {s["note"] for s in summary["sources"] if s.get("note")}:
        print(f"  note: {note}", file=sys.stderr)
    return written, rotations, summary["ips"], summary["requests"] - summary["ips"], summary["malformed"]


def main():
    binary = sys.argv[1]
    rate = arg("--rate", 5000)
    secs = arg("--secs", 6.0)
    per_secs = [int(r) for r in arg("--rotations", "1,10").split(",")]
    modes = arg("--modes", "copytruncate,rename,recreate").split(",")
    print(f"# {time.strftime('%Y-%m-%d')} on {os.uname().nodename}, {os.cpu_count()} cores; "
          f"{rate} lines/s for {secs:g} s")
    print(f"{'mode':13} {'rot/s':>5} {'rotations':>9} {'written':>8} {'counted':>8} {'lost':>6} {'lost %':>7} {'twice':>6} {'malformed':>9}")
    for mode in modes:
        for per_sec in per_secs:
            written, rotations, counted, twice, malformed = soak(binary, mode, rate, per_sec, secs)
            lost = written - counted
            print(f"{mode:13} {per_sec:5} {rotations:9} {written:8} {counted:8} {lost:6} "
                  f"{100 * lost / max(written, 1):6.2f}% {twice:6} {malformed:9}")


if __name__ == "__main__":
    main()
