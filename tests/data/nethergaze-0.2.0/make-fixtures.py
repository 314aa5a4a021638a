#!/usr/bin/env python3
"""Writes history.db and whois_cache.json with nethergaze 0.2.0's own code.

The import tests (tests/it/import.rs) read these files as a user's
~/.cache/nethergaze/ left by 0.2.0. They are written by the real 0.2.0
persistence code (nethergaze.persistence.HistoryDB and
nethergaze.enrichment.whois_lookup.WhoisLookupService), not imitated.
Its licence (MIT) is LICENSE-nethergaze-0.2.0 beside this file.

Re-run (from this folder):

    python3 -m venv /tmp/ng02venv
    /tmp/ng02venv/bin/pip install nethergaze==0.2.0
    rm -f history.db whois_cache.json
    /tmp/ng02venv/bin/python make-fixtures.py .

The clock is fixed (2026-11-01 12:00:00 UTC) so the files come out the same
each time. One whois answer is written with the clock at 2100 (a clock gone
wrong): the import clamps its time to now, so the tests see it fresh
whenever they run; the others keep their 2026 age (and are too old for the
default cache_ttl by the time the tests run).
"""

import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nethergaze.enrichment.whois_lookup as whois_lookup
import nethergaze.persistence as persistence
from nethergaze.enrichment.whois_lookup import WhoisLookupService
from nethergaze.models import IPProfile, LogEntry, WhoisInfo
from nethergaze.persistence import HistoryDB

NOW = datetime(2026, 11, 1, 12, 0, 0, tzinfo=timezone.utc)


class FixedDatetime(datetime):
    """datetime.now() at NOW: 0.2.0 stamps last_seen_ever with it."""

    @classmethod
    def now(cls, tz=None):
        return NOW if tz is None else NOW.astimezone(tz)


class FixedTime:
    """time.time() at `at` (NOW by default): 0.2.0 stamps whois answers (_ts) with it."""

    at = NOW

    def __getattr__(self, name):
        return getattr(time, name)

    def time(self):
        return self.at.timestamp()


def entry(ip, path, when, size):
    return LogEntry(
        remote_ip=ip,
        timestamp=when,
        method="GET",
        path=path,
        protocol="HTTP/1.1",
        status_code=200,
        bytes_sent=size,
        referrer="-",
        user_agent="curl/8.0",
    )


def profile(ip, paths, first, size):
    entries = [entry(ip, p, first + timedelta(seconds=i), size) for i, p in enumerate(paths)]
    return IPProfile(
        ip=ip,
        log_entries=entries,
        first_seen=first,
        last_seen=entries[-1].timestamp,
        total_bytes_sent=size * len(entries),
        total_requests=len(entries),
    )


def main(out):
    persistence.datetime = FixedDatetime
    clock = FixedTime()
    whois_lookup.time = clock
    out = Path(out)
    day = timedelta(days=1)

    db = HistoryDB(out / "history.db")
    # 9.9.9.9: three sessions (three runs of 0.2.0), suspicious in one.
    scanner = profile("9.9.9.9", ["/", "/.env", "/wp-login.php"], NOW - 30 * day, 1000)
    db.record_session(scanner, is_suspicious=False)
    db.record_session(scanner, is_suspicious=True)
    db.record_session(scanner, is_suspicious=False)
    # 1.1.1.1: one session, two requests.
    visitor = profile("1.1.1.1", ["/index.html", "/style.css"], NOW - 2 * day, 500)
    db.record_session(visitor)
    db.close()

    service = WhoisLookupService(cache_dir=str(out))
    service._save_to_disk(
        "9.9.9.9",
        WhoisInfo(
            network_name="QUAD9-AS-1",
            network_cidr="9.9.9.0/24",
            description="Quad9",
            abuse_contact="abuse@quad9.net",
        ),
    )
    # A failed lookup as 0.2.0 stores it ("?" everywhere): not an answer.
    service._save_to_disk("1.1.1.1", WhoisInfo())
    # Fetched "in 2100": a clock gone wrong.
    clock.at = datetime(2100, 1, 1, tzinfo=timezone.utc)
    service._save_to_disk(
        "149.112.112.112",
        WhoisInfo(
            network_name="QUAD9-2",
            network_cidr="149.112.112.0/24",
            description="Quad9 \x1b[31mred\x1b[0m",
            abuse_contact="abuse@quad9.net",
        ),
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
