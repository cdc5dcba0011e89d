"""Full-text search of stored entries (SQLite FTS5): real article files, a real database."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedsvc.errors import StorageError
from feedsvc.storage import Store, fts_query

from helpers import run, write_config

MILL = (
    "Millbrook Wheel Turns Again\n\n"
    "The old wheel on the river turned for the first time in ten years.\n"
)
FLOOD = (
    "Council Meets on Flood Defences\n\n"
    "Councillors heard that the mill race, the mill pond and the old mill dam all need work "
    "before winter; the mills of the valley were flooded twice.\n"
)
BAKERY = "A New Bakery Opens\n\nFresh bread on Market Street from Monday, said the baker.\n"


def _site(tmp_path: Path) -> tuple[Path, Path]:
    layout = {"inbox": {"flood.txt": FLOOD, "bakery.txt": BAKERY}, "wire": {"mill.txt": MILL}}
    for folder, files in layout.items():
        (tmp_path / folder).mkdir()
        for name, text in files.items():
            (tmp_path / folder / name).write_text(text, encoding="utf-8")
    config = write_config(
        tmp_path,
        """
        [[sources]]
        name = "inbox"
        path = "inbox"
        [[sources]]
        name = "wire"
        path = "wire"
        """,
    )
    assert run(config, "ingest").exit_code == 0
    return config, tmp_path / "db" / "feedsvc.sqlite3"


def _integrity(db: Path) -> None:
    conn = sqlite3.connect(db)
    try:  # raises if the index and the entries disagree
        conn.execute("INSERT INTO entries_fts(entries_fts, rank) VALUES ('integrity-check', 1)")
    finally:
        conn.close()


def test_a_word_in_the_body_is_found_stemmed(tmp_path: Path) -> None:
    _, db = _site(tmp_path)
    with Store(db) as store:
        (hit,) = store.search("bread")
        assert hit.title == "A New Bakery Opens"
        assert hit.snippet == "Fresh [bread] on Market Street from Monday, said the baker."
        assert not hit.in_title and hit.score is not None and hit.score > 0
        assert [h.title for h in store.search("flooding")] == ["Council Meets on Flood Defences"]
        assert [h.title for h in store.search("bak*")] == ["A New Bakery Opens"]
        assert store.search("bread flood") == []  # every word must occur


def test_title_beats_a_body_full_of_the_word(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "body.txt").write_text(
        "Weekly Notes\n\n" + "harvest " * 40 + "\n" + "The harvest, the harvest, the harvest.\n"
    )
    (tmp_path / "a" / "title.txt").write_text(
        "Harvest Festival Moves Indoors\n\nRain is expected on Saturday, so the fair goes in.\n"
    )
    config = write_config(tmp_path, '[[sources]]\nname = "a"\npath = "a"\n')
    assert run(config, "ingest").exit_code == 0
    with Store(tmp_path / "db" / "feedsvc.sqlite3") as store:
        hits = store.search("harvest")
    assert [h.title for h in hits] == ["Harvest Festival Moves Indoors", "Weekly Notes"]
    assert [h.in_title for h in hits] == [True, False]


def test_the_index_follows_edits_and_survives_unchanged_runs(tmp_path: Path) -> None:
    config, db = _site(tmp_path)
    (tmp_path / "inbox" / "bakery.txt").write_text(
        "A New Bakery Opens\n\nFresh croissants on Market Street from Monday.\n"
    )
    assert run(config, "ingest").exit_code == 0
    assert run(config, "ingest").exit_code == 0  # unchanged: last_seen updates only
    with Store(db) as store:
        assert store.search("bread") == []
        assert [h.title for h in store.search("croissants")] == ["A New Bakery Opens"]
    _integrity(db)
    conn = sqlite3.connect(db)
    try:
        (sql,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'entries_fts_au'"
        ).fetchone()
    finally:
        conn.close()
    assert "AFTER UPDATE OF title, summary_html, content_html ON entries" in sql


def test_filters_and_newest_first_without_text(tmp_path: Path) -> None:
    _, db = _site(tmp_path)
    with Store(db) as store:
        assert {h.source for h in store.search(None)} == {"inbox", "wire"}
        assert {h.source for h in store.search(None, source="wire")} == {"wire"}
        assert store.search("bread", source="wire") == []
        assert store.search(None, since=datetime(2999, 1, 1, tzinfo=UTC)) == []
        assert len(store.search(None, limit=2)) == 2
        newest = store.search(None)
        assert [h.published for h in newest] == sorted((h.published for h in newest), reverse=True)


def test_search_text_is_never_fts_syntax(tmp_path: Path) -> None:
    _, db = _site(tmp_path)
    assert fts_query('mill AND "pond" NEAR(') == '"mill" "AND" """pond""" "NEAR("'
    assert fts_query("bak* *") == '"bak"* "*"'
    with Store(db) as store:
        assert store.search('NEAR( "unbalanced') == []
        assert store.search("title:mill") == []  # no column filter smuggled in
        with pytest.raises(StorageError, match="at least one word"):
            store.search("   ")


def test_an_older_database_is_indexed_on_upgrade(tmp_path: Path) -> None:
    _, db = _site(tmp_path)
    conn = sqlite3.connect(db)
    try:  # back to the schema before this migration, entries kept
        for name in ("entries_fts_ai", "entries_fts_ad", "entries_fts_au"):
            conn.execute(f"DROP TRIGGER {name}")
        conn.execute("DROP TABLE entries_fts")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm009_entries_fts'")
        conn.commit()
    finally:
        conn.close()
    with Store(db) as store:
        assert [h.title for h in store.search("bread")] == ["A New Bakery Opens"]
    _integrity(db)
