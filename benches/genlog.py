#!/usr/bin/env python3
"""Deterministic access-log generator for benchmarks (no dependencies).

    genlog.py OUT LINES [--clients N] [--start EPOCH] [--realistic] [--truth FILE]

Writes nginx `combined` lines from ~N client IPs (some IPv6), with probes,
scanner user agents and TLS garbage lines mixed in, one second apart per
~50 lines. The same arguments always give the same bytes.

--realistic writes a log like a busy real site instead (benches/reallog.py:
Zipf clients, real user agents, hundreds of paths with query strings and a
long tail, referers, probes, TLS garbage); --truth FILE (realistic only) also
writes what a parser must find in it, as JSON.
"""
import random
import sys
import time

PATHS = ["/", "/index.html", "/static/app.js", "/static/style.css", "/api/v1/items?page=2",
         "/blog/2026/11/a-long-article-title-about-servers", "/favicon.ico", "/login", "/search?q=rust"]
PROBES = ["/.env", "/wp-login.php", "/../../etc/passwd", "/cgi-bin/luci", "/.git/config", "/phpMyAdmin/"]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
          "curl/8.4.0", "Go-http-client/1.1", "python-requests/2.31"]
SCANNER = "Mozilla/5.0 zgrab/0.x"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def clients(rng, n):
    out = []
    for i in range(n):
        if i % 20 == 0:
            out.append("2a01:4f8:%x:%x::%x" % (rng.randrange(65536), rng.randrange(65536), rng.randrange(65536)))
        else:
            out.append("%d.%d.%d.%d" % (rng.randrange(1, 224), rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)))
    return out


def clf_time(t):
    g = time.gmtime(t)
    return "%02d/%s/%04d:%02d:%02d:%02d +0000" % (g.tm_mday, MONTHS[g.tm_mon - 1], g.tm_year, g.tm_hour, g.tm_min, g.tm_sec)


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    out, lines = args[0], int(args[1])
    n_clients = int(args[args.index("--clients") + 1]) if "--clients" in args else 20000
    start = int(args[args.index("--start") + 1]) if "--start" in args else 1764000000
    if "--realistic" in args:
        import reallog  # benches/reallog.py, beside this file

        truth = args[args.index("--truth") + 1] if "--truth" in args else None
        reallog.write(out, lines, n_clients, start, truth)
        return
    rng = random.Random(42)
    ips = clients(rng, n_clients)
    with open(out, "w", encoding="ascii", newline="\n") as f:
        for i in range(lines):
            t = start + i // 50
            ip = ips[min(int(rng.paretovariate(1.2)) - 1, n_clients - 1) if rng.random() < 0.5 else rng.randrange(n_clients)]
            roll = rng.random()
            if roll < 0.002:
                f.write('%s - - [%s] "\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xfc\\x03\\x03" 400 157 "-" "-"\n' % (ip, clf_time(t)))
                continue
            path = rng.choice(PROBES) if roll < 0.02 else rng.choice(PATHS)
            status = 404 if path in PROBES else rng.choice([200, 200, 200, 200, 304, 301, 500])
            size = 0 if status == 304 else rng.randrange(100, 60000)
            agent = SCANNER if path in PROBES and roll < 0.01 else rng.choice(AGENTS)
            f.write('%s - - [%s] "GET %s HTTP/1.1" %d %d "https://www.example.com/articles/previous-page" "%s"\n'
                    % (ip, clf_time(t), path, status, size, agent))


if __name__ == "__main__":
    main()
