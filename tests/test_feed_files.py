"""Unchanged feed files are skipped; the others are parsed, in worker processes when asked.

Real files, real SQLite, real worker processes. ``read_feed_file`` is driven with recorded
states to show *how* a file was skipped (without reading it: stat signature; without parsing
it: same SHA-256); the pipeline and the CLI show that the reports, the rows and the published
feed are what they were before the skip existed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedsvc.config import parse_config
from feedsvc.errors import ConfigError
from feedsvc.filestate import SETTLE_NS, FileState, Signature, trusted
from feedsvc.localread import read_feed_file, read_feed_files, workers_for
from feedsvc.models import Source, SourceKind
from feedsvc.pipeline import Pipeline
from feedsvc.storage import Store

from helpers import body, db_rows, rss, run, write_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import corpus as bench_corpus

FIXED = datetime(2026, 6, 1, tzinfo=UTC)


def old_file(path: Path, data: bytes) -> Path:
    """Write ``data`` and date the file a minute back (settled: its stat can be trusted)."""
    path.write_bytes(data)
    past = time.time() - 60
    os.utime(path, (past, past))
    return path


def feed(n: int, seed: str = "s") -> bytes:
    return rss(
        [
            {
                "title": f"T{i}",
                "link": f"https://a.example/{seed}/{i}",
                "description": body(30, f"{seed}{i}"),
            }
            for i in range(n)
        ]
    )


def test_a_settled_unchanged_file_is_not_even_read(tmp_path: Path) -> None:
    path = old_file(tmp_path / "f.xml", feed(3))
    first = read_feed_file(str(path))
    assert first.parsed is not None and first.state is not None
    assert first.state.entries == 3 and first.state.signature is not None
    # A record whose hash does not match the bytes: only a skip by stat can call it unchanged.
    known = dataclasses.replace(first.state, sha256="0" * 64)
    again = read_feed_file(str(path), known)
    assert again.unchanged and again.parsed is None and again.state == known


def test_a_touched_file_with_the_same_bytes_is_read_but_not_parsed(tmp_path: Path) -> None:
    path = old_file(tmp_path / "f.xml", feed(3))
    first = read_feed_file(str(path))
    assert first.state is not None
    os.utime(path, (time.time() - 30, time.time() - 30))  # touched: stat differs, bytes same
    again = read_feed_file(str(path), first.state)
    assert again.unchanged and again.parsed is None
    assert again.state is not None and again.state.signature != first.state.signature
    assert again.state.sha256 == first.state.sha256 and again.state.entries == 3


def test_an_edited_file_is_parsed(tmp_path: Path) -> None:
    path = old_file(tmp_path / "f.xml", feed(3))
    first = read_feed_file(str(path))
    assert first.state is not None
    old_file(path, feed(4))
    again = read_feed_file(str(path), first.state)
    assert not again.unchanged and again.parsed is not None
    assert len(again.parsed.articles) == 4


def test_a_fresh_file_is_not_trusted_by_stat_and_another_version_rereads(tmp_path: Path) -> None:
    path = tmp_path / "f.xml"
    path.write_bytes(feed(2))  # mtime: now
    first = read_feed_file(str(path))
    assert first.state is not None and first.state.signature is None
    settled = old_file(path, feed(2))
    state = read_feed_file(str(settled)).state
    assert state is not None and state.signature is not None
    other_version = dataclasses.replace(state, reader="0.0.0")
    assert read_feed_file(str(path), other_version).parsed is not None


def test_trusted_is_the_racy_clean_rule() -> None:
    sig = Signature(size=1, mtime_ns=10_000_000_000, ctime_ns=1, inode=1)
    assert trusted(sig, sig.mtime_ns + SETTLE_NS) == sig
    assert trusted(sig, sig.mtime_ns + SETTLE_NS - 1) is None


def test_unreadable_and_broken_files_are_errors_that_name_them(tmp_path: Path) -> None:
    missing = read_feed_file(str(tmp_path / "nope.xml"))
    assert missing.error and "nope.xml: cannot read feed file" in missing.error
    broken = old_file(tmp_path / "broken.xml", b"<html><body>not a feed</body></html>")
    got = read_feed_file(str(broken))
    assert got.error and "broken.xml" in got.error and got.state is None


def config_for(tmp_path: Path, paths: list[Path], workers: int = 1) -> Path:
    sources = "".join(f'[[sources]]\nname = "f{i}"\npath = "{p}"\n' for i, p in enumerate(paths))
    return write_config(tmp_path, sources, f"[ingest]\nparse_workers = {workers}\n")


def test_second_ingest_reports_and_stores_as_before(tmp_path: Path) -> None:
    a = old_file(tmp_path / "a.xml", feed(3, "a"))
    b = old_file(tmp_path / "b.xml", feed(2, "b"))
    config = config_for(tmp_path, [a, b])
    assert run(config, "ingest").exit_code == 0
    db = tmp_path / "db/feedsvc.sqlite3"
    atom = (tmp_path / "feeds/atom.xml").read_bytes()
    rows = db_rows(db, "SELECT id, key, content_hash, last_seen FROM entries ORDER BY id")

    second = run(config, "ingest")
    assert second.exit_code == 0
    assert "0 new, 0 updated, 3 unchanged" in second.output
    assert "0 new, 0 updated, 2 unchanged" in second.output
    assert "nothing changed" in second.output
    assert (tmp_path / "feeds/atom.xml").read_bytes() == atom
    assert db_rows(db, "SELECT id, key, content_hash, last_seen FROM entries ORDER BY id") == rows
    assert db_rows(db, "SELECT count(*) FROM feed_files WHERE size IS NOT NULL") == [(2,)]

    old_file(a, feed(3, "a").replace(b"T1<", b"T1 edited<"))
    third = run(config, "ingest")
    assert "0 new, 1 updated, 2 unchanged" in third.output
    assert "0 new, 0 updated, 2 unchanged" in third.output


def test_deleted_entries_make_the_file_read_again(tmp_path: Path) -> None:
    a = old_file(tmp_path / "a.xml", feed(3, "a"))
    config = parse_config({"feed": {"id": "tag:t.example,2026:f"}}, tmp_path)
    source = Source("a", SourceKind.FILE, str(a))
    with Store(config.storage.path) as store:
        pipe = Pipeline(config, store)
        assert pipe.ingest(source).new == 3
        assert store.feed_file("a", str(a)) is not None
        store.db.execute("DELETE FROM entries")
        assert store.feed_file("a", str(a)) is None  # its entries are gone: not trusted
        assert pipe.ingest(source).new == 3
        # a record for another path (the source was moved) is not used either
        assert store.feed_file("a", str(tmp_path / "elsewhere.xml")) is None


def test_worker_processes_yield_the_same_results_in_order(tmp_path: Path) -> None:
    paths = [old_file(tmp_path / f"f{i}.xml", feed(2 + i, f"w{i}")) for i in range(5)]
    jobs: list[tuple[str, FileState | None]] = [(str(p), None) for p in paths]
    jobs.insert(2, (str(tmp_path / "missing.xml"), None))
    inline = list(read_feed_files(jobs, workers=1))
    pooled = list(read_feed_files(jobs, workers=2, min_pool_bytes=0))
    assert [r.path for r in pooled] == [path for path, _ in jobs]
    assert pooled == inline
    assert pooled[2].error is not None and pooled[3].parsed is not None


def test_parsing_on_workers_stores_exactly_what_parsing_inline_stores(tmp_path: Path) -> None:
    info = bench_corpus.generate(tmp_path / "corpus", feeds=20, entries=60, seed=5)
    assert info.bytes > 4_000_000  # enough for the pool to be used (MIN_POOL_BYTES)
    past = time.time() - 60
    for p in info.files:
        os.utime(p, (past, past))
    dumps = []
    for workers in (1, 2):
        folder = tmp_path / f"w{workers}"
        folder.mkdir()
        config = parse_config(
            {
                "feed": {"id": "tag:t.example,2026:f"},
                "ingest": {"parse_workers": workers},
                "sources": [{"name": p.stem, "path": str(p)} for p in info.files],
            },
            folder,
        )
        with Store(config.storage.path) as store:
            pipe = Pipeline(config, store, clock=lambda: FIXED)
            reports = pipe.ingest_all(config.sources)
        assert all(r.ok for r in reports)
        conn = sqlite3.connect(config.storage.path)
        try:
            dumps.append(
                conn.execute(
                    "SELECT source, key, atom_id, story_id, dup_rule, content_hash, "
                    "canonical_link, fingerprint, title, content_html, published FROM entries "
                    "ORDER BY id"
                ).fetchall()
            )
        finally:
            conn.close()
    assert len(dumps[0]) == info.entries
    assert dumps[0] == dumps[1]


def test_parse_workers_setting(tmp_path: Path) -> None:
    assert workers_for(0, 2) == 2 and workers_for(0, 1) == 1 and workers_for(0, None) == 1
    assert workers_for(3, 1) == 3
    assert parse_config({"ingest": {"parse_workers": 4}}, tmp_path).ingest.parse_workers == 4
    with pytest.raises(ConfigError, match=r"ingest\.parse_workers"):
        parse_config({"ingest": {"parse_workers": -1}}, tmp_path)
    with pytest.raises(ConfigError, match="did you mean 'parse_workers'"):
        parse_config({"ingest": {"parse_worker": 1}}, tmp_path)


def test_feed_file_hash_is_of_the_bytes(tmp_path: Path) -> None:
    data = feed(1)
    path = old_file(tmp_path / "f.xml", data)
    state = read_feed_file(str(path)).state
    assert state is not None and state.sha256 == hashlib.sha256(data).hexdigest()
