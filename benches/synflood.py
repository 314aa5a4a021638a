#!/usr/bin/env python3
"""A SYN flood at scale (issue 13, items 4 and 5): socket dump cost vs sockets.

    synflood.py BINARY [--sizes 1000,10000,60000] [--addresses 20000] [--runs 5]
                       [--presses 10] [--cap 5000]
    synflood.py --hold --sockets N --addresses A     (inside a private netns)

Needs root. For each size, a private network namespace (`ip netns add`) gets
a flood of N TCP sockets from A loopback source addresses (127.1.x.y, all
local on lo), four fifths of them half-open and one fifth established:

  half-open    raw SYNs (an IPPROTO_RAW socket, one per (address, port)) to a
               listener on 127.0.0.1:80 that never accepts, with syncookies
               off and a backlog larger than the flood. Raw SYNs, not
               connect(): each half-open connection is then one SYN_RECV
               socket and nothing else, as in a real flood, where the
               clients' side is on other hosts. The SYN-ACK goes to an
               address with no socket, so the namespace's own stack answers
               with a RST, which would end the half-open connection: an
               nft rule in the namespace drops those RSTs. tcp_synack_retries
               is raised so the SYN_RECV sockets outlive the measurement.
  established  connect() from a socket bound to its own source address to a
               listener on 127.0.0.1:8080 that accepts: two sockets each (the
               client's outbound one, whose remote is 127.0.0.1, and the
               server's inbound one).

Then, in the namespace, for each of --runs rounds (interleaved, so drift on
a shared machine hits every column alike):

  empty    nethergaze --once --json in an empty namespace (the baseline:
           start-up, config, output of nothing)
  netlink  the same in the flood's namespace: one sock_diag dump + table update
  proc     the same with --proc-root /proc: the /proc/net/tcp{,6} fallback
  steady   --for 5 in the flood's namespace: its CPU minus netlink's, per
           second, is what each later tick costs while the flood stands
           (no socket changes: the kernel's counters stand still, so most
           ticks skip the dump, and an identical dump changes nothing)

and prints medians, each minus the empty baseline: "update", the CPU spent
before the first byte of output (perf cpu-clock samples, when perf is
installed: the socket read, the table update and the snapshot's ordering);
the whole run's CPU (user+sys from wait4: adds the JSON of every row) and
wall time; and peak RSS (GNU time) against the 64 MiB `max_tracked_ips`
budget. The first
netlink run's JSON is checked: one row per source address plus 127.0.0.1
(the established clients' outbound sockets), and the SYN_RECV and
ESTABLISHED counts the flood made. Then the dashboard runs in a 200x50 tmux
window in the namespace (a dump every second) and `s` is pressed --presses
times: the time until the status bar shows the next sort order (an upper
bound: the screen is polled with capture-pane), and the dashboard's peak
RSS is read from /proc before it quits. --presses 0: no dashboard.

--cap N (default 5000, 0: none) then runs the largest flood again with
`max_tracked_ips = N` in a config file, fewer than its addresses: --once and
--for 5 must keep at most N rows and say they evicted the rest, and their
peak RSS and the dashboard's (with its key latency) are reported.

Every time here is CPU time except "wall" and the key's: on a shared VM
wall time can be several times CPU time for any program.

`--hold` makes the flood in the current (already private) namespace, prints
one JSON line {"syn_recv":…, "established":…, "addresses":…, "sockets":…}
and keeps the sockets until stdin closes (tests/it/synflood.rs uses it).
"""
import json
import os
import random
import resource
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

HALF_OPEN_PORT = 80
ESTABLISHED_PORT = 8080
SERVER = "127.0.0.1"
BUDGET_MIB = 64  # README: peak RSS at the max_tracked_ips cap stays under 64 MiB


def arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def source_address(k):
    """The k-th client address, 127.1.0.1 upwards (never the server's)."""
    n = k + 1
    return "127.%d.%d.%d" % (1 + (n >> 16), (n >> 8) & 0xFF, n & 0xFF)


def split(sockets):
    """(half-open connections, established connections) for `sockets` sockets:
    four fifths SYN_RECV, one fifth established pairs (2 descriptors each, so
    60 000 sockets fit a 20 000-descriptor limit)."""
    established = sockets // 10
    return sockets - 2 * established, established


def sh(*cmd, stdin=None):
    subprocess.run(cmd, check=True, input=stdin, text=True, stdout=subprocess.DEVNULL)


def sysctl(name, value):
    with open("/proc/sys/" + name.replace(".", "/"), "w") as f:
        f.write(str(value))


def prepare_namespace():
    """lo up, syncookies off, backlogs larger than any flood here, RSTs to the
    half-open listener dropped."""
    sh("ip", "link", "set", "lo", "up")
    sysctl("net.ipv4.tcp_syncookies", 0)
    sysctl("net.core.somaxconn", 262144)
    sysctl("net.ipv4.tcp_max_syn_backlog", 262144)
    sysctl("net.ipv4.tcp_synack_retries", 10)
    sh("nft", "-f", "-", stdin=(
        "table inet synflood {\n"
        "  chain out { type filter hook output priority 0;\n"
        "    tcp dport %d tcp flags & rst == rst drop\n  }\n}\n" % HALF_OPEN_PORT))
    # Two descriptors per established connection; the half-open ones need none.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def syn_packet(src, sport, dst, dport):
    """An IPv4 header and a TCP SYN (no options), checksums filled."""
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    seq = random.getrandbits(32)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x02, 65535, 0, 0)
    pseudo = s + d + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    # Total length, id and header checksum are filled by the kernel (IP_HDRINCL).
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64,
                     socket.IPPROTO_TCP, 0, s, d)
    return ip + tcp


def half_open_peers():
    """(remote address, port) in /proc/net/tcp's hex of every SYN_RECV socket
    on the half-open listener's port."""
    peers = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[3] == "03" and fields[1].endswith(":%04X" % HALF_OPEN_PORT):
                peers.add(fields[2])
    return peers


def proc_hex(address, port):
    return "%s:%04X" % (socket.inet_aton(address)[::-1].hex().upper(), port)


def send_syns(wanted):
    """Raw SYNs until every (source, port) in `wanted` is a SYN_RECV socket.
    A burst can overflow loopback's receive backlog (netdev_max_backlog, not
    per namespace), so the missing ones are sent again."""
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    missing = wanted
    for _ in range(20):
        for src, sport in missing:
            raw.sendto(syn_packet(src, sport, SERVER, HALF_OPEN_PORT), (SERVER, 0))
        time.sleep(0.2)
        present = half_open_peers()
        missing = [w for w in missing if proc_hex(*w) not in present]
        if not missing:
            break
    raw.close()
    if missing:
        sys.exit("synflood: %d of %d SYNs never became SYN_RECV sockets"
                 % (len(missing), len(wanted)))


def make_flood(sockets, addresses):
    """The flood in the current namespace; returns (what it made, objects to keep)."""
    prepare_namespace()
    half_open, established = split(sockets)
    keep = []
    for port in (HALF_OPEN_PORT, ESTABLISHED_PORT):
        listener = socket.socket()
        listener.bind((SERVER, port))
        listener.listen(262144)
        keep.append(listener)
    send_syns([(source_address(i % addresses), 10000 + i // addresses)
               for i in range(half_open)])
    for j in range(established):
        client = socket.socket()
        client.bind((source_address(j % addresses), 0))
        client.connect((SERVER, ESTABLISHED_PORT))
        server, _ = keep[1].accept()
        keep += [client, server]
    made = {"syn_recv": half_open, "established": established,
            "addresses": min(addresses, max(half_open, established)),
            "sockets": half_open + 2 * established}
    return made, keep


def hold():
    if os.geteuid() != 0:
        sys.exit("synflood.py --hold needs root")
    made, keep = make_flood(arg("--sockets", 3000), arg("--addresses", 1000))
    print(json.dumps(made), flush=True)
    sys.stdin.read()  # until the caller closes it
    del keep


def timed(cmd, env, out=subprocess.DEVNULL):
    """(wall s, CPU s, peak RSS MiB) of one run; `out` gets its stdout.

    Wall and CPU (user+sys, the kernel's dump work included) from wait4 on
    `ip netns exec`, which execs the command; peak RSS from GNU time's %M
    (wait4's ru_maxrss would count the Python parent's pages that the
    child had before its exec)."""
    rss_file = os.path.join(env["HOME"], "rss")
    cmd = ["/usr/bin/time", "-f", "%M", "-o", rss_file, *cmd]
    start = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.monotonic() - start
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    if p.returncode not in (0, 1):  # 1: a note about a log source is fine here
        sys.exit("%s failed (%d): %s" % (cmd, p.returncode, err[-2000:]))
    with open(rss_file) as f:
        rss_kib = int(f.read().split()[-1])
    return wall, usage.ru_utime + usage.ru_stime, rss_kib / 1024


PERF_HZ = 10000


def cpu_before_output(cmd, tmp):
    """CPU ms (perf cpu-clock samples at PERF_HZ) the run spent before its
    first write to stdout: start-up, the socket read and the table update,
    and the snapshot's ordering, but not the JSON output. None without perf."""
    if not shutil.which("perf"):
        return None
    data = os.path.join(tmp, "perf.data")
    ns_prefix, inner = cmd[:4], cmd[4:]  # ip netns exec NS
    subprocess.run([*ns_prefix, "perf", "record", "-q", "-F", str(PERF_HZ), "-e", "cpu-clock",
                    "-e", "syscalls:sys_enter_write", "-o", data, *inner],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    out = subprocess.run(["perf", "script", "-i", data, "-F", "time,event"],
                         capture_output=True, text=True, check=True).stdout
    samples = 0
    for line in out.splitlines():
        if "sys_enter_write" in line:
            # The first write is the first JSON line (stderr is quiet here).
            return samples * 1000 / PERF_HZ
        if "cpu-clock" in line:
            samples += 1
    return None


def peak_rss_of_children(pid):
    """Peak RSS (VmHWM, MiB) of the first child of `pid`, or None."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            child = int(f.read().split()[0])
        with open("/proc/%d/status" % child) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, IndexError, ValueError):
        pass
    return None


def key_latency(ns, binary, flags, env, presses):
    """ms from `tmux send-keys s` (the next sort order) until the status bar
    names it, for the dashboard in a 200x50 tmux window in namespace `ns`
    while the flood's sockets are dumped every second; the screen is polled
    with capture-pane (about 10 ms a poll here), so each figure is an upper
    bound. Returns (latencies, the dashboard's peak RSS in MiB or None);
    nothing without tmux or presses. (Not `p`: hidden private addresses are
    not tracked, so showing them again waits for the next dump.)"""
    if not shutil.which("tmux") or presses == 0:
        return [], None
    sock = os.path.join(env["HOME"], "tmux.sock")
    tmux = ["tmux", "-S", sock]
    dash = [f for f in flags if f not in ("--once", "--json")]
    cmd = " ".join(["ip", "netns", "exec", ns, "env", "HOME=" + env["HOME"], binary, *dash])
    subprocess.run([*tmux, "new-session", "-d", "-s", "ng", "-x", "200", "-y", "50",
                    cmd + "; exec sleep 600"], check=True)

    def screen():
        return subprocess.run([*tmux, "capture-pane", "-p", "-t", "ng"],
                              capture_output=True, text=True).stdout

    def sort_order():
        """The status bar's `sort: …`, once the flood's rows are on screen."""
        text = screen()
        if "!127.1." not in text:
            return None
        for line in text.splitlines():
            if "sort:" in line:
                return line.split("sort:", 1)[1].split("\u2502", 1)[0].strip()
        return None

    def wait_for(done, what, limit=30.0):
        start = time.monotonic()
        while not done():
            if time.monotonic() - start > limit:
                sys.exit("synflood: the dashboard did not %s in %.0f s:\n%s"
                         % (what, limit, screen()))

    latencies, rss = [], None
    try:
        wait_for(lambda: sort_order() is not None, "show the flood's rows")
        time.sleep(2)  # a few dumps in: the steady state, not start-up
        for i in range(presses):
            time.sleep(0.1 + (i % 7) * 0.13)  # at different points of the 1 s tick
            before = sort_order()
            start = time.monotonic()
            subprocess.run([*tmux, "send-keys", "-t", "ng", "-l", "s"], check=True)
            wait_for(lambda: sort_order() not in (None, before), "change the sort order")
            latencies.append(1000 * (time.monotonic() - start))
        pane = subprocess.run([*tmux, "list-panes", "-t", "ng", "-F", "#{pane_pid}"],
                              capture_output=True, text=True).stdout.split()
        rss = peak_rss_of_children(int(pane[0])) if pane else None
    finally:
        subprocess.run([*tmux, "kill-server"], stderr=subprocess.DEVNULL)
    return latencies, rss


def ip_rows(path):
    return [json.loads(l) for l in open(path) if l.startswith('{"type":"ip"')]


def summary(path):
    return [json.loads(l) for l in open(path) if l.startswith('{"type":"summary"')][-1]


def check_rows(path, made):
    rows = ip_rows(path)
    syn_recv = sum(r["states"].get("SYN_RECV", 0) for r in rows)
    est = sum(r["states"].get("ESTABLISHED", 0) for r in rows)
    want_rows = made["addresses"] + (1 if made["established"] else 0)
    ok = (len(rows), syn_recv, est) == (want_rows, made["syn_recv"], 2 * made["established"])
    if not ok:
        sys.exit("synflood: nethergaze saw %d rows, %d SYN_RECV, %d ESTABLISHED; made %s"
                 % (len(rows), syn_recv, est, made))


STEADY_SECS = 5


def capped_run(ns, binary, flags, env, tmp, made, cap, presses):
    """The flood against `max_tracked_ips = cap`: rows kept, evicted, RSS."""
    config = os.path.join(tmp, "capped.toml")
    with open(config, "w") as f:
        f.write("max_tracked_ips = %d\n" % cap)
    flags = [*flags, "--config", config]
    once = ["ip", "netns", "exec", ns, binary, *flags]
    steady = [f if f != "--once" else "--for" for f in once]
    steady.insert(steady.index("--for") + 1, str(STEADY_SECS))
    out = {}
    for name, cmd in (("once", once), ("steady", steady)):
        path = os.path.join(tmp, "capped.json")
        with open(path, "w") as f:
            _, cpu, rss = timed(cmd, env, f)
        rows, evicted = len(ip_rows(path)), summary(path)["evicted"]
        if rows > cap or evicted == 0:
            sys.exit("synflood: at max_tracked_ips = %d, %s kept %d rows and evicted %d"
                     % (cap, name, rows, evicted))
        out[name] = (rows, evicted, rss, cpu)
    out["keys"] = key_latency(ns, binary, flags, env, presses)
    return out


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def bench():
    if os.geteuid() != 0:
        sys.exit("synflood.py needs root (network namespaces, raw sockets, nft)")
    binary = os.path.abspath(sys.argv[1])
    sizes = [int(s) for s in arg("--sizes", "1000,10000,60000").split(",")]
    addresses = arg("--addresses", 20000)
    runs = arg("--runs", 5)
    tmp = tempfile.mkdtemp(prefix="synflood.")
    log = os.path.join(tmp, "access.log")
    open(log, "w").close()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "XDG_CONFIG_HOME": tmp}
    flags = ["--once", "--json", "--show-private-ips", "--no-history", "--no-whois",
             "--no-geoip", "--no-auth-log", "--log-path", log]
    base = "ngflood%d" % os.getpid()
    empty = base + "e"
    sh("ip", "netns", "add", empty)
    sh("ip", "netns", "exec", empty, "ip", "link", "set", "lo", "up")
    results = []
    try:
        for size in sizes:
            ns = "%s_%d" % (base, size)
            sh("ip", "netns", "add", ns)
            holder = subprocess.Popen(
                ["ip", "netns", "exec", ns, sys.executable, os.path.abspath(__file__),
                 "--hold", "--sockets", str(size), "--addresses", str(min(addresses, size))],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            try:
                made = json.loads(holder.stdout.readline() or "null")
                if not made:
                    sys.exit("synflood: the flood of %d sockets failed" % size)
                inside = ["ip", "netns", "exec", ns, binary, *flags]
                first = os.path.join(tmp, "first.json")
                with open(first, "w") as out:
                    timed(inside, env, out)
                check_rows(first, made)
                outside = ["ip", "netns", "exec", empty, binary, *flags]
                proc = inside + ["--proc-root", "/proc"]
                steady = [f if f != "--once" else "--for" for f in inside]
                steady.insert(steady.index("--for") + 1, str(STEADY_SECS))
                cols = {"empty": [], "netlink": [], "proc": [], "steady": []}
                for _ in range(runs):
                    for name, cmd in (("empty", outside), ("netlink", inside), ("proc", proc)):
                        cols[name].append((*timed(cmd, env), cpu_before_output(cmd, tmp)))
                    cols["steady"].append((*timed(steady, env), None))
                med = {k: [median([r[i] for r in v]) if v[0][i] is not None else None
                           for i in range(4)] for k, v in cols.items()}
                # Per round, steady minus netlink: the median of differences
                # drifts less than a difference of medians on a busy machine.
                med["tick"] = median([(s[1] - n[1]) / STEADY_SECS
                                      for s, n in zip(cols["steady"], cols["netlink"])])
                med["keys"] = key_latency(ns, binary, flags, env, arg("--presses", 10))
                cap = arg("--cap", 5000)
                if size == max(sizes) and 0 < cap < made["addresses"]:
                    med["capped"] = (cap, capped_run(ns, binary, flags, env, tmp, made, cap,
                                                     arg("--presses", 10)))
                results.append((size, made, med))
            finally:
                holder.stdin.close()
                holder.wait()
                sh("ip", "netns", "del", ns)
    finally:
        sh("ip", "netns", "del", empty)
    report(results, runs)


def report(results, runs):
    """Markdown table of medians, each figure minus the empty namespace's."""
    print("medians of %d runs, each minus the same run in an empty namespace; "
          "update = CPU before the first output byte (perf cpu-clock: the socket "
          "read + table update + the snapshot's ordering); run = the whole run "
          "(+ JSON of every row); wall = the whole run's wall time" % runs)
    print()
    print("| sockets (SYN_RECV + established) | addresses | netlink: update / run CPU, wall "
          "| /proc: update / run CPU, wall | steady tick CPU | peak RSS netlink, /proc |")
    print("|---|---|---|---|---|---|")

    def figures(m, e):
        update = "-" if m[3] is None else "%.0f ms" % (m[3] - e[3])
        return "%s / %.0f ms, %.0f ms" % (update, 1000 * (m[1] - e[1]), 1000 * (m[0] - e[0]))

    for size, made, med in results:
        e = med["empty"]
        tick = med["tick"]
        print("| %d (%d + %d) | %d | %s | %s | %.1f ms/s | %.1f, %.1f MiB |" % (
            made["sockets"], made["syn_recv"], 2 * made["established"], made["addresses"],
            figures(med["netlink"], e), figures(med["proc"], e), 1000 * tick,
            med["netlink"][2], med["proc"][2]))
    print()
    print("steady tick = (CPU of --for %d - CPU of --once) / %d s, in the same namespace "
          "(median over the rounds)" % (STEADY_SECS, STEADY_SECS))
    print()
    for size, made, med in results:
        keys, rss = med["keys"]
        keys = sorted(keys)
        if keys:
            print("dashboard, %d sockets: a key's effect on screen in %.0f ms median, "
                  "%.0f ms at most (%d presses, tmux capture-pane polling included); "
                  "peak RSS %s" % (made["sockets"], median(keys), keys[-1], len(keys),
                                   "-" if rss is None else "%.1f MiB" % rss))
    for size, made, med in results:
        if "capped" in med:
            cap, c = med["capped"]
            keys, rss = c["keys"]
            keys = sorted(keys)
            print()
            print("max_tracked_ips = %d, %d sockets from %d addresses: --once kept %d rows "
                  "(evicted %d), peak RSS %.1f MiB; --for %d kept %d rows (evicted %d), "
                  "peak RSS %.1f MiB; dashboard: %s, peak RSS %s" % (
                      cap, made["sockets"], made["addresses"], c["once"][0], c["once"][1],
                      c["once"][2], STEADY_SECS, c["steady"][0], c["steady"][1],
                      c["steady"][2],
                      "a key's effect in %.0f ms median, %.0f ms at most" % (
                          median(keys), keys[-1]) if keys else "not run",
                      "-" if rss is None else "%.1f MiB" % rss))
    worst = max(max(m["netlink"][2], m["proc"][2]) for _, _, m in results)
    e = results[0][2]["empty"]
    print()
    print("empty namespace: %.0f ms wall, %.0f ms CPU, %.1f MiB; peak RSS at most %.1f MiB "
          "(budget %d MiB at the max_tracked_ips cap): %s" % (
              1000 * e[0], 1000 * e[1], e[2], worst, BUDGET_MIB,
              "within" if worst <= BUDGET_MIB else "OVER"))


if __name__ == "__main__":
    if "--hold" in sys.argv:
        hold()
    elif len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        sys.exit(__doc__)
    else:
        bench()
