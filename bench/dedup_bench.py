"""Dedup cost per new entry as the database grows: 10 k, 100 k and 1 M stored entries.

One database is grown in steps; at each size the same kind of batch of new entries (half of
them edited copies of stored entries, half new stories) is deduplicated through the real
code path — ``lookup_for`` (profiles and sketches), ``SourceRun.existing`` (the SQL lookups,
including the LSH postings), ``plan`` and ``SourceRun.apply`` (the writes, key index
included) — inside a transaction that is then rolled back, so every repetition sees the same
database. The database is grown once and snapshotted at each size; the sizes are then
measured in turns (round-robin), so a change in machine load hits every size alike. The
figure that matters is the ratio to the smallest size (flat = the lookup is indexed, not a
scan); "profile" (pure CPU, independent of the database) shows how noisy the machine was.

    python bench/dedup_bench.py            # 10k, 100k, 1M (about 30 minutes, ~6 GB disk)
    python bench/dedup_bench.py --quick    # 2k, 20k (under a minute)

Stored texts are generated: words drawn from a Zipf-like vocabulary with common newsroom
phrases mixed in, so that frequent shingles exist and the per-key cap is exercised.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from feedsvc.dedup import Existing, derive_all, lookup_for, plan
from feedsvc.models import Article, Insert
from feedsvc.storage import Store

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
FEED_ID = "tag:bench.example,2026:feed"
PHRASES = [
    "said in a statement on",
    "according to the report released",
    "did not immediately respond to a request for comment",
    "officials said the investigation was continuing",
    "the company said in a filing",
    "more details will be released later this week",
]


class Texts:
    """Deterministic news-like texts: a Zipf-like vocabulary plus stock phrases."""

    def __init__(self, seed: int, vocabulary: int = 20_000) -> None:
        self.rng = random.Random(seed)
        self.words = [f"w{i:x}" for i in range(vocabulary)]
        self.cum = list(itertools.accumulate(1.0 / (i + 1) ** 1.05 for i in range(vocabulary)))

    def body(self, n_words: int) -> list[str]:
        words = self.rng.choices(self.words, cum_weights=self.cum, k=n_words)
        for _ in range(3):
            at = self.rng.randrange(len(words))
            words[at:at] = self.rng.choice(PHRASES).split()
        return words

    def edited(self, words: list[str], rate: float = 0.03) -> list[str]:
        out = list(words)
        for _ in range(int(len(out) * rate)):
            out[self.rng.randrange(len(out))] = self.rng.choice(self.words[:500])
        return out


def html(words: list[str]) -> str:
    paras = [" ".join(words[i : i + 40]) for i in range(0, len(words), 40)]
    return "\n".join(f"<p>{p}.</p>" for p in paras)


def article(key: str, words: list[str]) -> Article:
    return Article(key=key, title=f"Story {key}", content_html=html(words), link=None)


@dataclass
class Grower:
    store: Store
    texts: Texts
    stored: int = 0
    sample: list[list[str]] | None = None  # stored bodies that batches copy from

    def grow_to(self, n: int, chunk: int = 5000) -> float:
        """Store entries until there are ``n``; returns seconds spent. ``sample`` keeps the
        bodies of the newest 2000 (copies usually follow their original within hours)."""
        t0 = time.perf_counter()
        recent: deque[list[str]] = deque(self.sample or [], maxlen=2000)
        while self.stored < n:
            count = min(chunk, n - self.stored)
            batch = []
            for i in range(self.stored, self.stored + count):
                words = self.texts.body(self.texts.rng.randint(150, 300))
                recent.append(words)
                batch.append(article(f"bg-{i}", words))
            with self.store.transaction() as run:
                run.ensure_source("background", "file", "bench", NOW)
                intents = plan("background", batch, Existing(), NOW, feed_id=FEED_ID)
                run.apply("background", intents, NOW)
            self.stored += count
        self.sample = list(recent)
        return time.perf_counter() - t0


class _Rollback(Exception):
    pass


@dataclass
class Timing:
    FIELDS: ClassVar[tuple[str, ...]] = (
        "per_entry_ms", "lookup_ms", "sql_ms", "plan_ms", "apply_ms", "merged", "copies",
    )  # fmt: skip
    per_entry_ms: float
    lookup_ms: float
    sql_ms: float
    plan_ms: float
    apply_ms: float
    merged: int
    copies: int


def measure(g: Grower, batch: int, reps: int, seed: int) -> Timing:
    """Median over ``reps`` batches; each batch is rolled back afterwards."""
    rng = random.Random(seed)
    results: list[Timing] = []
    assert g.sample
    for rep in range(reps):
        arts, copies = [], 0
        for i in range(batch):
            if i % 2 == 0:
                arts.append(article(f"new-{rep}-{i}", g.texts.edited(rng.choice(g.sample))))
                copies += 1
            else:
                arts.append(article(f"new-{rep}-{i}", g.texts.body(rng.randint(150, 300))))
        t: dict[str, float] = {}
        merged = 0
        try:
            with g.store.transaction() as run:
                run.ensure_source("new", "file", "bench", NOW)
                t0 = time.perf_counter()
                derived = derive_all(arts)  # what the pipeline does (or a parse worker)
                lookup = lookup_for(arts, derived=derived)
                t1 = time.perf_counter()
                existing = run.existing("new", lookup)
                t2 = time.perf_counter()
                intents = plan("new", arts, existing, NOW, feed_id=FEED_ID, derived=derived)
                t3 = time.perf_counter()
                run.apply("new", intents, NOW)
                t4 = time.perf_counter()
                t = {"lookup": t1 - t0, "sql": t2 - t1, "plan": t3 - t2, "apply": t4 - t3}
                merged = sum(1 for x in intents if isinstance(x, Insert) and x.story_of)
                raise _Rollback
        except _Rollback:
            pass
        total = sum(t.values())
        results.append(
            Timing(
                total / batch * 1000,
                t["lookup"] / batch * 1000,
                t["sql"] / batch * 1000,
                t["plan"] / batch * 1000,
                t["apply"] / batch * 1000,
                merged,
                copies,
            )
        )
    results.sort(key=lambda r: r.per_entry_ms)
    return results[len(results) // 2]


def sizes_of(text: str) -> list[int]:
    return [int(s.replace("k", "000").replace("M", "000000")) for s in text.split(",")]


def snapshot(store: Store, to: Path) -> None:
    """Copy the database as it is now (SQLite's online backup: consistent, WAL included)."""
    src = sqlite3.connect(str(store.path))
    dst = sqlite3.connect(str(to))
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def run_bench(sizes: list[int], batch: int, reps: int, directory: Path) -> Iterator[str]:
    """Grow one database through ``sizes`` (snapshotting each), then measure the sizes in
    turns — round-robin, so a change in machine load hits every size alike."""
    sizes = sorted(sizes)
    paths = [directory / f"bench-{n}.sqlite3" for n in sizes]
    samples: list[list[list[str]]] = []
    with Store(paths[-1]) as store:
        g = Grower(store, Texts(seed=1))
        for n, path in zip(sizes, paths, strict=True):
            seconds = g.grow_to(n)
            samples.append(g.sample or [])
            if path != paths[-1]:
                snapshot(store, path)
            yield f"# grown to {n:,} entries in {seconds:.0f} s"
    stores = [Store(p) for p in paths]
    try:
        growers = [
            Grower(s, Texts(seed=2), n, sample)
            for s, n, sample in zip(stores, sizes, samples, strict=True)
        ]
        runs: list[list[Timing]] = [[] for _ in sizes]
        for rep in range(reps):
            for i, g in enumerate(growers):
                runs[i].append(measure(g, batch, 1, seed=rep * 1000 + i))
    finally:
        for s in stores:
            s.close()
    yield (
        f"{'stored':>9}  {'ms/entry':>8}  {'ratio':>5}  {'profile':>7}  {'sql':>6}  "
        f"{'plan':>6}  {'write':>6}  {'db part':>7}  {'copies found':>12}  {'db MB':>6}"
    )
    base: Timing | None = None
    for n, path, timings in zip(sizes, paths, runs, strict=True):
        m = Timing(*(statistics.median(getattr(t, f) for t in timings) for f in Timing.FIELDS))
        base = base or m
        mb = sum(p.stat().st_size for p in directory.glob(path.name + "*")) / 1e6
        db_part = m.sql_ms + m.apply_ms
        yield (
            f"{n:>9,}  {m.per_entry_ms:>8.3f}  {m.per_entry_ms / base.per_entry_ms:>5.2f}  "
            f"{m.lookup_ms:>7.3f}  {m.sql_ms:>6.3f}  {m.plan_ms:>6.3f}  {m.apply_ms:>6.3f}  "
            f"{db_part / (base.sql_ms + base.apply_ms):>6.2f}x  "
            f"{m.merged:>5.0f}/{m.copies:<6.0f}  {mb:>6.0f}"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (2k, 20k): a smoke run")
    ap.add_argument("--sizes", help="comma-separated sizes, e.g. 10k,100k,1M")
    ap.add_argument("--batch", type=int, default=200, help="new entries per measured batch")
    ap.add_argument("--reps", type=int, default=7, help="batches per size (median reported)")
    ap.add_argument("--dir", type=Path, help="where to build the database (default: a temp dir)")
    args = ap.parse_args(argv)
    sizes = sizes_of(args.sizes) if args.sizes else ([2000, 20000] if args.quick else
                                                      [10_000, 100_000, 1_000_000])  # fmt: skip
    if args.quick:
        args.reps = min(args.reps, 3)
    print(f"dedup cost per new entry; batch {args.batch}, median of {args.reps}; python "
          f"{sys.version.split()[0]}", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for line in run_bench(sizes, args.batch, args.reps, Path(tmp)):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
