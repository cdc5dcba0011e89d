"""A feedsvc database holding N entries, written straight into SQLite (for figures 4 and 5).

Ingesting a million entries through the pipeline would take longer than the rest of the
benchmark together, and what figures 4 and 5 measure is how publishing and ingesting behave
*with* that many rows stored, not how they got there. So :func:`build` opens the database with
feedsvc's own :class:`~feedsvc.storage.Store` (which creates the schema through its migrations),
then inserts rows shaped like real ones with one ``executemany`` per 10,000 rows in a single
transaction: ``N / 1000`` sources of 1,000 entries each, every entry its own story, with unique
ids, keys, canonical links and fingerprints (so nothing collides with the benchmark corpus),
dates spread over the years before the corpus, and a few hundred bytes of HTML each (a smaller
body than the corpus's keeps a million-row file near 1 GB; the indexes and row counts are
what the lookups and the "newest 50" query depend on). The file is built once per size and
reused (copied) by later runs.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feedsvc.storage import Store, iso

__all__ = ["build"]

PER_SOURCE = 1000
_START = datetime(2016, 1, 1, tzinfo=UTC)
_WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "lambda",
    "mu",
]


def build(path: Path, entries: int, seed: int = 1) -> Path:
    """Create (or reuse) a database at ``path`` holding ``entries`` entries."""
    done = path.with_name(path.name + ".done")
    if path.exists() and done.exists() and done.read_text() == str(entries):
        return path
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    Store(path).close()  # the schema, through feedsvc's migrations
    rng = random.Random(seed)
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")  # a scratch file: rebuilt if a run dies
        conn.execute("BEGIN")
        n_sources = max(1, (entries + PER_SOURCE - 1) // PER_SOURCE)
        created = iso(_START)
        conn.executemany(
            "INSERT INTO sources (name, kind, location, created, feed_info) VALUES (?,?,?,?,?)",
            [
                (
                    f"bulk{s:05d}",
                    "url",
                    f"https://bulk{s}.example/feed.xml",
                    created,
                    json.dumps({"title": f"Bulk {s}", "link": f"https://bulk{s}.example/"}),
                )
                for s in range(n_sources)
            ],
        )
        span = 8 * 365 * 86400  # eight years before 2024, the corpus is later
        batch: list[tuple[object, ...]] = []
        for n in range(1, entries + 1):
            source = (n - 1) // PER_SOURCE
            when = iso(_START + timedelta(seconds=rng.randrange(span)))
            words = " ".join(rng.choice(_WORDS) for _ in range(40))
            link = f"https://bulk{source}.example/{n}"
            batch.append(
                (
                    n,
                    f"bulk{source:05d}",
                    f"tag:bulk{source}.example,2016:{n}",
                    f"tag:bulk{source}.example,2016:{n}",
                    n,
                    f"tag:bulk{source}.example,2016:{n}",
                    link,
                    hashlib.sha256(f"fp{n}".encode()).hexdigest(),
                    hashlib.sha256(f"ch{n}".encode()).hexdigest(),
                    f"Bulk story {n}",
                    link,
                    f"<p>{words} {n}.</p>",
                    when,
                    when,
                    when,
                    when,
                )
            )
            if len(batch) == 10_000:
                _insert(conn, batch)
                batch = []
        if batch:
            _insert(conn, batch)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    done.write_text(str(entries))
    return path


def _insert(conn: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
    conn.executemany(
        """
        INSERT INTO entries (id, source, key, atom_id, story_id, original_id, canonical_link,
            fingerprint, content_hash, title, link, content_html, published, updated,
            first_seen, last_seen)
        VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
        """,
        rows,
    )
