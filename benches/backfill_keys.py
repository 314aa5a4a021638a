#!/usr/bin/env python3
"""The dashboard's answer to keys while `--since` reads back (issue 15 item 1).

    backfill_keys.py DIR [--bin PATH] [--runs 3]

DIR holds a logrotate-style set (make one with `benches/backfill.py --dir DIR`).
Starts the dashboard in a 200×50 tmux pane with `--since 3h` on DIR/access.log,
waits for the stats bar's "reading back" note, then presses `s` four times,
timing each from send-keys until the table's header row changes on screen
(polled every 2 ms), and says whether the read-back was still running. Prints
each run's latencies and the median and maximum.
"""
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def tmux(*args):
    return subprocess.run(["tmux", *args], capture_output=True, text=True).stdout


def screen():
    return tmux("capture-pane", "-p", "-t", "bf")


def main():
    folder = sys.argv[1]
    binary = arg("--bin", os.path.join(ROOT, "target/release/nethergaze"))
    latencies = []
    for run in range(arg("--runs", 3)):
        tmux("kill-session", "-t", "bf")
        command = f"{binary} --since 3h --log-path {folder}/access.log --no-auth-log --no-history --no-whois --no-geoip"
        tmux("new-session", "-d", "-s", "bf", "-x", "200", "-y", "50", command)
        start = time.time()
        while "reading back" not in screen() and time.time() - start < 10:
            time.sleep(0.005)
        shown = "reading back" in screen()
        run_latencies = []
        for key in "ssss":
            before = screen().splitlines()[2]
            sent = time.time()
            tmux("send-keys", "-t", "bf", key)
            while screen().splitlines()[2] == before and time.time() - sent < 2:
                time.sleep(0.002)
            run_latencies.append((time.time() - sent) * 1000)
        still = "reading back" in screen()
        latencies += run_latencies
        print(f"run {run}: progress shown {shown}, still reading back after the keys: {still}, "
              f"key to screen: {[round(ms) for ms in run_latencies]} ms")
        tmux("send-keys", "-t", "bf", "q")
        time.sleep(0.5)
    tmux("kill-session", "-t", "bf")
    print(f"median {statistics.median(latencies):.0f} ms, max {max(latencies):.0f} ms")


if __name__ == "__main__":
    main()
