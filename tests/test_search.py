"""Full-text search of stored entries (SQLite FTS5): real article files, a real database."""

from __future__ import annotations

import json
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


def _integrity(db: Path, against_entries: bool = True) -> None:
    """Raises if the index is damaged or (``against_entries``) disagrees with the entries;
    without it, only the index itself is checked (entries waiting to be indexed are not in
    it yet)."""
    conn = sqlite3.connect(db)
    try:
        conn.execute(
            "INSERT INTO entries_fts(entries_fts, rank) VALUES ('integrity-check', ?)",
            [int(against_entries)],
        )
    finally:
        conn.close()


def test_a_word_in_the_body_is_found_stemmed(tmp_path: Path) -> None:
    _, db = _site(tmp_path)
    with Store(db) as store:
        (hit,) = store.search("bread")
        assert hit.entry.title == "A New Bakery Opens"
        assert hit.snippet == "Fresh [bread] on Market Street from Monday, said the baker."
        assert not hit.in_title and hit.rank > 0
        assert [h.entry.title for h in store.search("flooding")] == [
            "Council Meets on Flood Defences"
        ]
        assert [h.entry.title for h in store.search("bak*")] == ["A New Bakery Opens"]
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
    assert [h.entry.title for h in hits] == ["Harvest Festival Moves Indoors", "Weekly Notes"]
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
        assert [h.entry.title for h in store.search("croissants")] == ["A New Bakery Opens"]
    _integrity(db)
    conn = sqlite3.connect(db)
    try:
        (sql,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'entries_fts_au'"
        ).fetchone()
    finally:
        conn.close()
    assert "AFTER UPDATE OF title, summary_html, content_html ON entries" in sql


def test_filters(tmp_path: Path) -> None:
    _, db = _site(tmp_path)
    with Store(db) as store:
        assert [h.entry.source for h in store.search("old")] == ["wire", "inbox"]
        assert [h.entry.source for h in store.search("old", source="wire")] == ["wire"]
        assert store.search("bread", source="wire") == []
        assert store.search("old", since=datetime(2999, 1, 1, tzinfo=UTC)) == []
        assert len(store.search("old", limit=1)) == 1


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
        conn.execute("DROP TABLE search_pending")
        conn.execute(
            "DELETE FROM _sqlite_migrations "
            "WHERE name IN ('m009_entries_fts', 'm010_search_index_later')"
        )
        conn.commit()
    finally:
        conn.close()
    with Store(db) as store:
        assert [h.entry.title for h in store.search("bread")] == ["A New Bakery Opens"]
    _integrity(db)


# --- through the CLI: `feedsvc entries` ---------------------------------------------------------


def test_entries_search_cli_ranks_title_first_and_shows_the_passage(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "body.txt").write_text(
        "Weekly Notes\n\n" + "The harvest, the harvest, the harvest was early this year.\n"
    )
    (tmp_path / "a" / "title.txt").write_text(
        "Harvest Festival Moves Indoors\n\nRain is expected on Saturday, so the fair goes in.\n"
    )
    config = write_config(tmp_path, '[[sources]]\nname = "a"\npath = "a"\n')
    assert run(config, "ingest").exit_code == 0
    result = run(config, "entries", "--search", "harvests")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["ID", "STORY", "PUBLISHED", "SOURCE", "TITLE"]
    assert lines[1].endswith("Harvest Festival Moves Indoors")
    assert lines[2].strip() == "Rain is expected on Saturday, so the fair goes in."
    assert lines[3].endswith("Weekly Notes")
    assert lines[4].strip().startswith("The [harvest], the [harvest]")
    # `entries list --search` is the same command.
    assert run(config, "entries", "list", "--search", "harvests").output == result.output
    doc = json.loads(run(config, "entries", "--search", "harvest", "--json").output)
    assert [(d["title"], d["in_title"]) for d in doc] == [
        ("Harvest Festival Moves Indoors", True),
        ("Weekly Notes", False),
    ]
    assert {"id", "source", "atom_id", "title", "rank", "in_title", "snippet"} <= set(doc[0])
    assert doc[0]["rank"] > 0
    assert run(config, "entries", "--search", "nothing-like-this").output == "no entries match\n"


def test_entries_filters_and_tombstones(tmp_path: Path) -> None:
    config, _ = _site(tmp_path)
    wire = json.loads(run(config, "entries", "--source", "wire", "--json").output)
    assert [d["title"] for d in wire] == ["Millbrook Wheel Turns Again"]
    assert "rank" not in wire[0]  # a listing, not a search
    assert json.loads(run(config, "entries", "--since", "2999-01-01", "--json").output) == []
    assert len(json.loads(run(config, "entries", "--since", "1h", "--json").output)) == 3
    bread = json.loads(run(config, "entries", "--search", "bread", "--json").output)
    assert run(config, "entries", "delete", str(bread[0]["id"])).exit_code == 0
    assert run(config, "entries", "--search", "bread").output == "no entries match\n"
    gone = json.loads(run(config, "entries", "--search", "bread", "--deleted", "--json").output)
    assert [d["deleted"] for d in gone] == [True]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["entries", "--since", "yesterday"], "--since: expected a date"),
        (["entries", "--search", "x", "list"], "options go after the subcommand"),
        (["entries", "--search", "   "], "search: give at least one word"),
    ],
)
def test_entries_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    config, _ = _site(tmp_path)
    result = run(config, *args)
    assert result.exit_code in (1, 2)
    assert message in result.output
    assert result.exit_code == 2 or "search:" in message


# --- the index is brought up to date after storing (issue 8: m010_search_index_later) --------


def _indexed_ids(db: Path) -> set[int]:
    """The entries the index holds (its own per-document table: reading entries_fts itself
    would read the entries table it is built on)."""
    conn = sqlite3.connect(db)
    try:
        return {r[0] for r in conn.execute("SELECT id FROM entries_fts_docsize")}
    finally:
        conn.close()


def test_ingest_leaves_indexing_to_the_first_search(tmp_path: Path) -> None:
    _, db = _site(tmp_path)
    with Store(db) as store:
        assert store.search_backlog() == 3
        assert _indexed_ids(db) == set()  # storing did not index
        assert [h.entry.title for h in store.search("bread")] == ["A New Bakery Opens"]
        assert store.search_backlog() == 0
        assert store.index_pending() == 0  # nothing left to do
    assert len(_indexed_ids(db)) == 3
    _integrity(db)


def test_edits_and_deletes_of_indexed_and_waiting_entries_keep_the_index_whole(
    tmp_path: Path,
) -> None:
    config, db = _site(tmp_path)
    with Store(db) as store:
        assert store.index_pending() == 3
    # An indexed entry edited: it leaves the index with its old words and waits again.
    (tmp_path / "inbox" / "bakery.txt").write_text(
        "A New Bakery Opens\n\nFresh croissants on Market Street from Monday.\n"
    )
    (tmp_path / "wire" / "late.txt").write_text(
        "Ferry Timetable Changes\n\nThe ferry leaves at noon from the harbour steps.\n"
    )
    assert run(config, "ingest").exit_code == 0
    conn = sqlite3.connect(db)
    try:
        waiting = {r[0] for r in conn.execute("SELECT entry_id FROM search_pending")}
        ids = dict(conn.execute("SELECT title, id FROM entries"))
    finally:
        conn.close()
    assert waiting == {ids["A New Bakery Opens"], ids["Ferry Timetable Changes"]}
    assert _indexed_ids(db) == {
        ids["Millbrook Wheel Turns Again"],
        ids["Council Meets on Flood Defences"],
    }
    _integrity(db, against_entries=False)
    # Deleting rows, one indexed and one waiting, leaves neither behind.
    conn = sqlite3.connect(db)
    try:
        conn.execute(
            "DELETE FROM entries WHERE id IN (?, ?)",
            [ids["Millbrook Wheel Turns Again"], ids["Ferry Timetable Changes"]],
        )
        conn.commit()
    finally:
        conn.close()
    with Store(db) as store:
        assert store.search("bread") == []
        assert [h.entry.title for h in store.search("croissants")] == ["A New Bakery Opens"]
        assert store.search("wheel") == [] and store.search("ferry") == []
        assert store.search_backlog() == 0
    _integrity(db)


def test_a_big_backlog_is_indexed_in_batches(tmp_path: Path) -> None:
    _, db = _site(tmp_path)
    with Store(db) as store:
        assert store.index_pending(batch=1) == 3
        assert store.search_backlog() == 0
    _integrity(db)
