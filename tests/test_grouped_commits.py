"""Source runs committed in groups (``Store.grouped``, issue 8): each run a savepoint that fails
alone, the group committed by time, at ``flush`` and at the end. Real SQLite files; a second
connection plays the other process that reads the database meanwhile."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedsvc.errors import StorageError
from feedsvc.storage import Store

from helpers import run, write_config

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _sources_seen_by_another_connection(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sources")}
    finally:
        conn.close()


def _add(store: Store, name: str) -> None:
    with store.transaction() as tx:
        tx.ensure_source(name, "directory", f"/{name}", NOW)


def test_a_group_commits_when_its_window_has_passed_at_flush_and_at_the_end(
    tmp_path: Path,
) -> None:
    db = tmp_path / "g.sqlite3"
    with Store(db) as store:
        with store.grouped(window=3600):
            _add(store, "a")
            _add(store, "b")
            assert _sources_seen_by_another_connection(db) == set()  # not committed yet
            store.flush()
            assert _sources_seen_by_another_connection(db) == {"a", "b"}
            _add(store, "c")
            assert _sources_seen_by_another_connection(db) == {"a", "b"}
        assert _sources_seen_by_another_connection(db) == {"a", "b", "c"}  # the end
        with store.grouped(window=0):  # every run is past the window: committed at once
            _add(store, "d")
            assert "d" in _sources_seen_by_another_connection(db)


def test_a_failing_run_is_rolled_back_alone(tmp_path: Path) -> None:
    db = tmp_path / "g.sqlite3"
    with Store(db) as store, store.grouped(window=3600):
        _add(store, "before")
        failing = pytest.raises(StorageError, match="write failed, nothing stored")
        with failing, store.transaction() as tx:
            tx.ensure_source("broken", "directory", "/broken", NOW)
            store.db.conn.execute("INSERT INTO no_such_table VALUES (1)")
        # Not a database error: rolled back too.
        with pytest.raises(RuntimeError), store.transaction() as tx:
            tx.ensure_source("interrupted", "directory", "/i", NOW)
            raise RuntimeError("stop")
        _add(store, "after")
    assert _sources_seen_by_another_connection(db) == {"before", "after"}


def test_nested_groups_are_the_outer_one(tmp_path: Path) -> None:
    db = tmp_path / "g.sqlite3"
    with Store(db) as store, store.grouped(window=3600):
        with store.grouped(window=0):
            _add(store, "a")
        assert _sources_seen_by_another_connection(db) == set()
    assert _sources_seen_by_another_connection(db) == {"a"}


def test_an_ingest_with_a_broken_source_stores_the_others(tmp_path: Path) -> None:
    """Through the CLI: the runs of one ingest share commits, a broken feed file fails alone."""
    for name in ("one", "two"):
        (tmp_path / f"{name}.xml").write_text(
            f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{name}</title><link>https://{name}.example/</link>
<item><title>{name} story</title><link>https://{name}.example/story</link>
<description>Something happened in {name}.</description></item>
</channel></rss>
""",
            encoding="utf-8",
        )
    (tmp_path / "broken.xml").write_bytes(b"\x00\x01 not a feed at all")
    config = write_config(
        tmp_path,
        """
        [[sources]]
        name = "one"
        path = "one.xml"
        [[sources]]
        name = "broken"
        path = "broken.xml"
        [[sources]]
        name = "two"
        path = "two.xml"
        """,
    )
    result = run(config, "ingest")
    assert result.exit_code == 1, result.output
    conn = sqlite3.connect(tmp_path / "db" / "feedsvc.sqlite3")
    try:
        titles = {r[0] for r in conn.execute("SELECT title FROM entries")}
        errors = dict(conn.execute("SELECT name, last_error FROM sources"))
    finally:
        conn.close()
    assert titles == {"one story", "two story"}
    assert errors["one"] is None and errors["two"] is None
    assert "broken.xml" in errors["broken"]
