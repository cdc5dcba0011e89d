"""The only module that speaks SQL: sqlite-utils over one SQLite file in WAL mode.

Schema changes go through :data:`MIGRATIONS` (``sqlite_utils.Migrations``); a database written
by a newer feedsvc (a migration this code does not know) is refused rather than silently used.
Each source run is one ``BEGIN IMMEDIATE`` transaction (:meth:`Store.transaction`), or one
savepoint of a transaction shared by the runs of a few tenths of a second
(:meth:`Store.grouped`): it either commits every entry and its bookkeeping, or nothing, so a
failed or killed run never leaves half a source behind. Rows leave this module as frozen
dataclasses, never ``sqlite3.Row``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import html
import json
import logging
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import quote

import sqlite_utils
from sqlite_utils.db import Table

from feedsvc import neardup
from feedsvc.dedup import POSTINGS_LIMIT, Candidate, Existing, Lookup, candidate_ids
from feedsvc.errors import StorageError
from feedsvc.filestate import FileState, Signature
from feedsvc.models import (
    DupRule,
    Enclosure,
    FeedInfo,
    FileStamp,
    IngestReport,
    Insert,
    Intent,
    Person,
    PublishedEntry,
    StoredEntry,
    Unchanged,
    Update,
)

log = logging.getLogger("feedsvc.storage")

BUSY_TIMEOUT_S = 30.0
POSTINGS_SQL = "SELECT entry_id FROM dedup_keys WHERE key = ? ORDER BY entry_id DESC LIMIT ?"
"""The near-duplicate candidate lookup: a range read of the ``dedup_keys`` primary key."""
POSTINGS_BATCH = 48
"""Keys looked up per statement (:data:`POSTINGS_BATCH_SQL`; SQLite allows 500 arms)."""
_POSTINGS_ARM = (
    "SELECT * FROM (SELECT key, entry_id FROM dedup_keys WHERE key = ? "
    "ORDER BY entry_id DESC LIMIT ?)"
)
POSTINGS_BATCH_SQL = " UNION ALL ".join([_POSTINGS_ARM] * POSTINGS_BATCH)
""":data:`POSTINGS_SQL` for :data:`POSTINGS_BATCH` keys at once: the same range reads, one
statement (a statement per key cost more than the reads themselves)."""
FTS_COLUMNS = ("title", "summary_html", "content_html")  # indexed for search, in this order
GROUP_COMMIT_S = 0.2  # how long Store.grouped keeps a write transaction open for more runs
SEARCH_INDEX_BATCH = 2000  # entries indexed per write transaction by Store.index_pending
FTS_WEIGHTS = (10.0, 3.0, 1.0)  # bm25 weights of those columns: a word in a title counts most
MIGRATIONS = sqlite_utils.Migrations("feedsvc")


@MIGRATIONS()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE sources (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            location TEXT NOT NULL,
            etag TEXT,
            last_modified TEXT,
            feed_info TEXT,
            last_run TEXT,
            last_success TEXT,
            last_error TEXT,
            error_streak INTEGER NOT NULL DEFAULT 0,
            next_due TEXT,
            created TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE entries (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL REFERENCES sources(name),
            key TEXT NOT NULL,
            atom_id TEXT NOT NULL UNIQUE,
            story_id INTEGER NOT NULL,
            dup_rule TEXT,
            dup_score REAL,
            original_id TEXT,
            canonical_link TEXT,
            fingerprint TEXT,
            content_hash TEXT NOT NULL,
            title TEXT NOT NULL,
            link TEXT,
            content_html TEXT NOT NULL,
            summary_html TEXT,
            published TEXT NOT NULL,
            updated TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            authors TEXT NOT NULL DEFAULT '[]',
            categories TEXT NOT NULL DEFAULT '[]',
            enclosures TEXT NOT NULL DEFAULT '[]',
            lang TEXT,
            rights TEXT,
            origin TEXT,
            UNIQUE (source, key)
        )
        """
    )
    for col in ("story_id", "canonical_link", "fingerprint", "original_id"):
        db.execute(f"CREATE INDEX idx_entries_{col} ON entries({col})")
    db.execute("CREATE INDEX idx_entries_published ON entries(published DESC, atom_id)")
    db.execute(
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            started TEXT NOT NULL,
            finished TEXT NOT NULL,
            new INTEGER NOT NULL,
            updated INTEGER NOT NULL,
            unchanged INTEGER NOT NULL,
            duplicates INTEGER NOT NULL,
            skipped INTEGER NOT NULL,
            not_modified INTEGER NOT NULL,
            errors TEXT NOT NULL,
            warnings TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_runs_source ON runs(source, id DESC)")


@MIGRATIONS()
def m003_fetch_state(db: sqlite_utils.Database) -> None:
    """Issue 4, polite fetching: per-source state beyond the validators of m001."""
    for column in (
        "body_hash TEXT",  # sha256 of the last body parsed; the same bytes are not re-parsed
        "last_status INTEGER",  # the final HTTP status of the last fetch
        "retry_after_until TEXT",  # a publisher's Retry-After (429/503), honoured until then
        "retired TEXT",  # why the source is retired (410 Gone); NULL while it is active
        "retired_at TEXT",
        "redirect_candidate TEXT",  # a permanent-redirect target seen, not yet confirmed
        "redirect_count INTEGER NOT NULL DEFAULT 0",  # consecutive fetches that showed it
        "fetch_url TEXT",  # the URL fetched now (after confirmed 301/308 or autodiscovery) ...
        "fetch_url_for TEXT",  # ... valid while the configured location is still this one
        "discovered_url TEXT",  # the feed an HTML page pointed to (autodiscovery)
        "schedule_reason TEXT",  # why next_due is what it is (interval, backoff, Retry-After)
        "feed_ttl INTEGER",  # the feed's own <ttl>/sy:updatePeriod, seconds, last parsed
    ):
        db.execute(f"ALTER TABLE sources ADD COLUMN {column}")


@MIGRATIONS()
def m004_seen_files(db: sqlite_utils.Database) -> None:
    """Issue 3: what each directory source last saw of each article file (size, mtime, inode,
    hash), so a scan skips files that did not change. Self-contained: one new table."""
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS seen_files (
            source TEXT NOT NULL,
            relpath TEXT NOT NULL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            inode INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            seen_ns INTEGER NOT NULL,
            PRIMARY KEY (source, relpath)
        )
        """
    )


@MIGRATIONS()
def m007_publish_state(db: sqlite_utils.Database) -> None:
    """Issue 7: a change counter bumped by every run that stores something, and the value the
    last complete publish saw, so a process killed between its commit and its publish leaves
    a visible "publish pending" instead of a silently stale feed. Self-contained: one table."""
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS publish_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            changes INTEGER NOT NULL DEFAULT 0,
            published INTEGER NOT NULL DEFAULT 0
        )
        """
    )
    db.execute("INSERT OR IGNORE INTO publish_state (id) VALUES (1)")


@MIGRATIONS()
def m008_feed_files(db: sqlite_utils.Database) -> None:
    """Issue 8, performance: what the last successful run read from a feed file source, so
    that an unchanged file is neither read nor parsed again (see feedsvc.filestate)."""
    db.execute(
        """
        CREATE TABLE feed_files (
            source TEXT PRIMARY KEY,
            path TEXT NOT NULL,  -- the file the record is about (a source may be moved)
            sha256 TEXT NOT NULL,
            size INTEGER,  -- the stat signature; NULL when it was too fresh to trust
            mtime_ns INTEGER,
            ctime_ns INTEGER,
            inode INTEGER,
            entries INTEGER NOT NULL,  -- entries the file gave, reported as unchanged
            reader TEXT NOT NULL  -- the feedsvc version that read it
        )
        """
    )


@MIGRATIONS()
def m004_dedup(db: sqlite_utils.Database) -> None:
    """Near-duplicate index, tombstones and recorded splits (issue 5).

    ``dedup_keys`` is the LSH index: one row per (sketch key, entry), clustered by key so a
    lookup is a range read, never a scan. ``entries.sketch`` remembers an entry's keys so an
    update can remove exactly them. ``entries.deleted`` is the tombstone: the row stays, so a
    re-ingest finds it and later copies join its (unpublished) story. ``dedup_splits``
    records each `dupes split`.
    """
    db.execute("ALTER TABLE entries ADD COLUMN sketch TEXT NOT NULL DEFAULT '[]'")
    db.execute("ALTER TABLE entries ADD COLUMN deleted TEXT")
    db.execute(
        """
        CREATE TABLE dedup_keys (
            key INTEGER NOT NULL,
            entry_id INTEGER NOT NULL,
            PRIMARY KEY (key, entry_id)
        ) WITHOUT ROWID
        """
    )
    db.execute(
        """
        CREATE TABLE dedup_splits (
            id INTEGER PRIMARY KEY,
            entry_id INTEGER NOT NULL,
            story_id INTEGER NOT NULL,
            split_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_dedup_splits_entry ON dedup_splits(entry_id)")
    # Index what is already stored, so entries ingested before this upgrade are found too.
    rows = db.execute("SELECT id, content_html, summary_html FROM entries").fetchall()
    for entry_id, content, summary in rows:
        prof = neardup.compute_profile(content or summary or "")
        if prof is not None:
            _index_sketch(db.conn, entry_id, prof.sketch)


@MIGRATIONS()
def m008_publish_state(db: sqlite_utils.Database) -> None:
    """Issue 8, publishing that scales: what lets a publish read only what it shows.

    - ``story_count`` holds the number of live stories (entries that are their story's
      published copy and not deleted), kept by triggers on ``entries`` whatever statement
      changes it: the main feed needs it to find the open archive page, and counting a
      million rows per publish would cost more than the rest of the publish.
    - ``idx_entries_live_stories`` lists the live stories in the order they were stored,
      with what a published archive page depends on (content hash, updated, source), so
      checking every page for changes reads this index, not the rows.
    - ``idx_entries_source_published`` gives a source's newest entries without sorting all
      of them.
    - ``published_files`` records, per file of the publish folder, a fingerprint of what it
      was rendered from and the size and mtime it was written with: a complete archive page
      (or a per-source feed) whose fingerprint and file are unchanged is not rendered again.
    """
    live_new = "NEW.story_id = NEW.id AND NEW.deleted IS NULL"
    live_old = "OLD.story_id = OLD.id AND OLD.deleted IS NULL"
    db.execute("CREATE TABLE story_count (one INTEGER PRIMARY KEY CHECK (one = 1), n INTEGER)")
    db.execute(
        "INSERT INTO story_count VALUES "
        "(1, (SELECT count(*) FROM entries WHERE story_id = id AND deleted IS NULL))"
    )
    db.execute(
        f"CREATE TRIGGER story_count_insert AFTER INSERT ON entries WHEN {live_new} "
        "BEGIN UPDATE story_count SET n = n + 1; END"
    )
    db.execute(
        f"CREATE TRIGGER story_count_delete AFTER DELETE ON entries WHEN {live_old} "
        "BEGIN UPDATE story_count SET n = n - 1; END"
    )
    db.execute(
        "CREATE TRIGGER story_count_update AFTER UPDATE OF id, story_id, deleted ON entries "
        f"WHEN ({live_new}) != ({live_old}) "
        f"BEGIN UPDATE story_count SET n = n + ({live_new}) - ({live_old}); END"
    )
    db.execute(
        "CREATE INDEX idx_entries_live_stories ON entries(id, content_hash, updated, source) "
        "WHERE story_id = id AND deleted IS NULL"
    )
    db.execute(
        "CREATE INDEX idx_entries_source_published ON entries(source, published DESC, atom_id) "
        "WHERE deleted IS NULL"
    )
    db.execute(
        """
        CREATE TABLE published_files (
            path TEXT PRIMARY KEY,  -- relative to the publish folder
            fingerprint TEXT NOT NULL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL
        )
        """
    )


def _index_sketch(conn: sqlite3.Connection, entry_id: int, sketch: Sequence[int]) -> None:
    conn.execute("UPDATE entries SET sketch = ? WHERE id = ?", [_json_list(sketch), entry_id])
    conn.executemany(
        "INSERT OR IGNORE INTO dedup_keys (key, entry_id) VALUES (?, ?)",
        [(k, entry_id) for k in sketch],
    )


def _unindex_sketch(conn: sqlite3.Connection, entry_id: int) -> None:
    row = conn.execute("SELECT sketch FROM entries WHERE id = ?", [entry_id]).fetchone()
    old = json.loads(row[0]) if row and row[0] else []
    conn.executemany(
        "DELETE FROM dedup_keys WHERE key = ? AND entry_id = ?", [(k, entry_id) for k in old]
    )


@MIGRATIONS()
def m009_entries_fts(db: sqlite_utils.Database) -> None:
    """Issue 9: full-text search of entries (SQLite FTS5, Porter stemming), kept in sync by
    triggers. Self-contained: a new virtual table over ``entries`` and three triggers.

    sqlite-utils creates and fills the index; the triggers are our own because its update
    trigger fires on *any* update of a row, and every run updates ``last_seen`` of every
    unchanged entry: that would re-index each unchanged body on every run. Ours fire only
    when an indexed column changes.
    """
    db.table("entries").enable_fts(
        list(FTS_COLUMNS), fts_version="FTS5", create_triggers=False, tokenize="porter"
    )
    cols = ", ".join(FTS_COLUMNS)
    new = ", ".join(f"new.{c}" for c in FTS_COLUMNS)
    old = ", ".join(f"old.{c}" for c in FTS_COLUMNS)
    delete = (
        f"INSERT INTO entries_fts (entries_fts, rowid, {cols}) VALUES ('delete', old.id, {old});"
    )
    insert = f"INSERT INTO entries_fts (rowid, {cols}) VALUES (new.id, {new});"
    db.execute(f"CREATE TRIGGER entries_fts_ai AFTER INSERT ON entries BEGIN {insert} END")
    db.execute(f"CREATE TRIGGER entries_fts_ad AFTER DELETE ON entries BEGIN {delete} END")
    db.execute(
        f"CREATE TRIGGER entries_fts_au AFTER UPDATE OF {cols} ON entries "
        f"BEGIN {delete} {insert} END"
    )


@MIGRATIONS()
def m010_search_index_later(db: sqlite_utils.Database) -> None:
    """Issue 8: the search index is brought up to date after entries are stored, not in the
    transaction that stores them (indexing each body was a third of what storing cost).

    ``search_pending`` lists the entries the index does not hold yet. The invariant: an
    entry not listed there is in ``entries_fts`` with its current title, summary and body;
    a listed one is not in it at all. The triggers keep that true whatever statement changes
    ``entries``: a new entry is listed; an edit of an indexed column takes the indexed entry
    out of the index (with its old values, as FTS5 needs) and lists it; a deleted entry
    leaves the index or the list. :meth:`Store.index_pending` indexes what is listed (the
    daemon after its runs, ``feedsvc entries --search`` before it searches). Existing
    databases keep their index: nothing is listed on upgrade.
    """
    cols = ", ".join(FTS_COLUMNS)
    old = ", ".join(f"old.{c}" for c in FTS_COLUMNS)
    # One trigger per event, statements in order: SQLite does not promise an order between
    # triggers on the same event, and un-indexing an entry the index does not hold corrupts it.
    unindex = (
        f"INSERT INTO entries_fts (entries_fts, rowid, {cols}) SELECT 'delete', old.id, {old} "
        "WHERE NOT EXISTS (SELECT 1 FROM search_pending WHERE entry_id = old.id);"
    )
    for name in ("entries_fts_ai", "entries_fts_ad", "entries_fts_au"):
        db.execute(f"DROP TRIGGER IF EXISTS {name}")
    db.execute("CREATE TABLE search_pending (entry_id INTEGER PRIMARY KEY)")
    db.execute(
        "CREATE TRIGGER entries_fts_ai AFTER INSERT ON entries "
        "BEGIN INSERT OR IGNORE INTO search_pending (entry_id) VALUES (new.id); END"
    )
    db.execute(
        "CREATE TRIGGER entries_fts_ad AFTER DELETE ON entries "
        f"BEGIN {unindex} DELETE FROM search_pending WHERE entry_id = old.id; END"
    )
    db.execute(
        f"CREATE TRIGGER entries_fts_au AFTER UPDATE OF {cols} ON entries "
        f"BEGIN {unindex} INSERT OR IGNORE INTO search_pending (entry_id) VALUES (new.id); END"
    )


def iso(d: datetime) -> str:
    """Stored form of a datetime: UTC, whole seconds, ``Z``; sorts as text."""
    return d.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(s: str) -> datetime:
    """The inverse of :func:`iso`."""
    if len(s) == 20 and s[10] == "T" and s[19] == "Z":  # iso()'s own form: the fast way
        return datetime.fromisoformat(s)
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _opt_iso(s: str | None) -> datetime | None:
    return parse_iso(s) if s else None


# SQLite result codes (``sqlite_errorname`` prefixes) → what the operator can do about them.
_HINTS = (
    ("SQLITE_FULL", "the disk, or the database's size limit, is full: free space and run again"),
    (
        "SQLITE_READONLY",
        "the database or its folder is read-only: feedsvc writes the file and, beside it, "
        "its -wal and -shm files",
    ),
    (
        "SQLITE_CORRUPT",
        "the file is damaged: run `feedsvc db check`, and restore a backup "
        "(README, 'Database care')",
    ),
    ("SQLITE_NOTADB", "the file is not an SQLite database (or is encrypted or damaged)"),
    ("SQLITE_CANTOPEN", "check that the folder exists and that feedsvc may write in it"),
    ("SQLITE_IOERR", "an I/O error: is the disk full or failing?"),
    ("SQLITE_BUSY", f"another process held the database for more than {BUSY_TIMEOUT_S:.0f} s"),
)


def _hint(e: BaseException) -> str:
    """`` (what to do)`` for an sqlite3 error whose cause the operator can act on, else ""."""
    name = getattr(e, "sqlite_errorname", None) or ""
    for prefix, hint in _HINTS:
        if name.startswith(prefix):
            return f" ({hint})"
    return ""


def _storable(text: str) -> str:
    """``text`` with any lone surrogate (undecodable bytes of a file name) escaped: SQLite
    stores Unicode only, and a message must never be what makes a run fail."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _owe_publish(db: sqlite_utils.Database) -> None:
    """Note, in the transaction that changes what is published, that a publish is owed until
    one records it (m007_publish_state): a process killed between its commit and its publish
    leaves the next ingest to publish."""
    db.execute("UPDATE publish_state SET changes = changes + 1 WHERE id = 1")


def _rollback(conn: sqlite3.Connection) -> None:
    # A failed ROLLBACK (the disk vanished, the file is damaged) must not hide the error that
    # led to it; SQLite rolls back on its own when the connection closes or the process dies.
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _reads(
    method: Callable[Concatenate[Store, _P], _R],
) -> Callable[Concatenate[Store, _P], _R]:
    """Translate sqlite3 errors of a read (a damaged page is only found when it is read)."""

    def wrapper(self: Store, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as e:
            raise StorageError(f"{self.path}: cannot read the database: {e}{_hint(e)}") from e

    functools.update_wrapper(wrapper, method)
    return wrapper


def _use_wal(conn: sqlite3.Connection) -> None:
    """Put the database in WAL mode (once; it is persistent). Switching needs an exclusive
    lock, and SQLite answers BUSY at once, without waiting, when another connection is
    opening the same new database: retry until the busy timeout."""
    if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            busy = (getattr(e, "sqlite_errorname", "") or "").startswith("SQLITE_BUSY")
            if not busy or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def check_schema(path: Path, db: sqlite_utils.Database) -> None:
    """Refuse a database this feedsvc cannot use: one written by a newer feedsvc (a migration
    this code does not know; never silently downgraded) or an SQLite file of something else.
    Reads only."""
    known = {m.name for m in MIGRATIONS._migrations}
    applied = {m.name for m in MIGRATIONS.applied(db)}
    newer = applied - known
    if newer:
        raise StorageError(
            f"{path}: written by a newer feedsvc (unknown schema migrations: "
            f"{', '.join(sorted(newer))}); upgrade feedsvc or restore a backup"
        )
    if not applied:
        foreign = [t for t in db.table_names() if not t.startswith("_sqlite")]
        if foreign and "entries" not in foreign:
            raise StorageError(
                f"{path}: is a SQLite database, but not a feedsvc one "
                f"(tables: {', '.join(sorted(foreign)[:5])})"
            )


@dataclass(frozen=True)
class SourceState:
    """Bookkeeping stored per source."""

    name: str
    kind: str
    location: str
    entries: int
    etag: str | None
    last_modified: str | None
    last_run: datetime | None
    last_success: datetime | None
    last_error: str | None
    error_streak: int
    next_due: datetime | None
    # issue 4 (m003_fetch_state)
    body_hash: str | None = None
    last_status: int | None = None
    retry_after_until: datetime | None = None
    retired: str | None = None
    retired_at: datetime | None = None
    redirect_candidate: str | None = None
    redirect_count: int = 0
    fetch_url: str | None = None
    fetch_url_for: str | None = None
    discovered_url: str | None = None
    schedule_reason: str | None = None
    feed_ttl: int | None = None

    def url_for(self, configured: str) -> str:
        """The URL to fetch for a source configured with ``configured``: a confirmed
        permanent redirect or a discovered feed, unless the configured URL changed since."""
        if self.fetch_url and self.fetch_url_for == configured:
            return self.fetch_url
        return configured


@dataclass(frozen=True)
class SearchHit:
    """One entry found by :meth:`Store.search`."""

    entry: EntryRow
    rank: float  # bm25 relevance, higher is better
    in_title: bool  # every word of the search is in the title
    snippet: str | None  # a passage of the body, matches in [brackets], markup removed


def _entry_filters(
    source: str | None, since: datetime | None, deleted: bool
) -> tuple[list[str], list[Any]]:
    """WHERE terms (on ``e``, the entries table) for the entries listings."""
    where: list[str] = []
    params: list[Any] = []
    if source is not None:
        where.append("e.source = ?")
        params.append(source)
    if since is not None:
        where.append("e.published >= ?")
        params.append(iso(since))
    if not deleted:
        where.append("e.deleted IS NULL")
    return where, params


_FTS_TOKEN = re.compile(r"\S+")


def fts_query(text: str) -> str:
    """An FTS5 query matching every word of ``text``, each taken literally (a quoted string;
    a trailing ``*`` keeps its meaning of "any word starting with")."""
    terms = []
    for token in _FTS_TOKEN.findall(text):
        prefix = token.endswith("*") and len(token) > 1
        word = token.rstrip("*") if prefix else token
        terms.append('"' + word.replace('"', '""') + '"' + ("*" if prefix else ""))
    if not terms:
        raise StorageError("search: give at least one word")
    return " ".join(terms)


def _plain_snippet(snippet: str) -> str:
    """A snippet of indexed HTML as text: tags, and tags cut in half at either end, removed."""
    text = re.sub(r"<[^<>]*>", " ", snippet)
    text = re.sub(r"^[^<>]*>", "", text)
    text = re.sub(r"<[^<>]*$", "", text)
    return " ".join(html.unescape(text).split())


@dataclass(frozen=True)
class RunCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0


def _lost_runs(runs: int) -> str:
    if not runs:
        return ""
    return (
        f" (nor for the {runs} source run(s) before it since the last commit: "
        "they are read again at the next run)"
    )


@dataclass
class _Group:
    """An open group of source runs (:meth:`Store.grouped`)."""

    window: float
    open: bool = False
    began: float = 0.0
    runs: int = 0


class Store:
    """An open feedsvc database. Use as a context manager, or call :meth:`close`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._group: _Group | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S)
        except (OSError, sqlite3.Error) as e:
            raise StorageError(f"{path}: cannot open database: {e}{_hint(e)}") from e
        try:
            self.db = sqlite_utils.Database(conn)
            # Before anything writes: never convert (or migrate) somebody else's database.
            check_schema(self.path, self.db)
            _use_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            # Up to 16 MiB of page cache (allocated only as used; the default is 2 MiB): the
            # near-duplicate index is written at random places, and with a small cache each
            # write reads its page again as the database grows (bench/dedup_bench.py). 16 and
            # 64 MiB measured the same there at 20k entries; 64 MiB made a first ingest of
            # the benchmark corpus peak at 248 MB (bench/run.py figure 7, target 200 MB).
            conn.execute("PRAGMA cache_size=-16384")
            self._migrate()
        except sqlite3.DatabaseError as e:
            conn.close()
            raise StorageError(f"{path}: not a usable feedsvc database: {e}{_hint(e)}") from e
        except StorageError:
            conn.close()
            raise

    def _migrate(self) -> None:
        if not MIGRATIONS.pending(self.db):
            return
        # Several processes may open a new (or older) database at once: apply the migrations
        # under the write lock, where sqlite-utils reads again what is already applied, so
        # each migration runs exactly once. (A deferred transaction would fail at once with
        # SQLITE_BUSY_SNAPSHOT, or apply a migration twice, when another process wins.)
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS.apply(self.db)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _table(self, name: str) -> Table:
        return self.db.table(name)

    # --- source runs -----------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[SourceRun]:
        """One write transaction (``BEGIN IMMEDIATE``): commits on success, rolls back on error.

        Inside :meth:`grouped`, a savepoint of the group's transaction instead: rolled back
        alone on error, committed with the group."""
        if self._group is not None:
            with self._grouped_transaction(self._group) as run:
                yield run
            return
        conn = self.db.conn
        self._begin()
        try:
            yield SourceRun(self)
        except (sqlite3.Error, UnicodeEncodeError) as e:
            _rollback(conn)
            raise self._write_failed(e) from e
        except BaseException:
            _rollback(conn)
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            _rollback(conn)
            raise StorageError(f"{self.path}: commit failed, nothing stored: {e}{_hint(e)}") from e

    def _begin(self) -> None:
        try:
            self.db.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise StorageError(
                f"{self.path}: cannot start a write transaction: {e}{_hint(e)}"
            ) from e

    def _write_failed(self, e: sqlite3.Error | UnicodeEncodeError, lost: str = "") -> StorageError:
        """The error for a write that failed and was rolled back (``lost``: what else was)."""
        if isinstance(e, UnicodeEncodeError):  # a lone surrogate (undecodable bytes) in text
            return StorageError(
                f"{self.path}: write failed, nothing stored{lost}: text that is not valid "
                f"Unicode ({_storable(str(e))})"
            )
        return StorageError(f"{self.path}: write failed, nothing stored{lost}: {e}{_hint(e)}")

    @contextmanager
    def grouped(self, window: float = GROUP_COMMIT_S) -> Iterator[None]:
        """Let the :meth:`transaction` blocks inside share write transactions: each one a
        savepoint (rolled back alone on error), committed together once the group has been
        open ``window`` seconds, at :meth:`flush`, and at the end. A commit writes every page
        it changed to the WAL, and the near-duplicate and link indexes change pages all over
        the file, so committing 0.2 s of sources at once instead of each one costs far less
        (bench/README.md). The write lock is held for the window (other writers wait, readers
        never do); a crash loses at most that window's uncommitted runs, which the next run
        reads again. Nested use is the outer group."""
        if self._group is not None:
            yield
            return
        self._group = _Group(window)
        try:
            yield
        finally:
            group, self._group = self._group, None
            if group.open:
                self._commit_group(group)

    def flush(self) -> None:
        """Commit the open group now (before waiting for something slow, such as a fetch)."""
        if self._group is not None and self._group.open:
            self._commit_group(self._group)

    @contextmanager
    def _grouped_transaction(self, group: _Group) -> Iterator[SourceRun]:
        conn = self.db.conn
        if not group.open:
            self._begin()
            group.began = time.monotonic()
            group.open = True
        conn.execute("SAVEPOINT source_run")
        try:
            yield SourceRun(self)
        except (sqlite3.Error, UnicodeEncodeError) as e:
            raise self._write_failed(e, self._undo_savepoint(group)) from e
        except BaseException:
            self._undo_savepoint(group)
            raise
        conn.execute("RELEASE source_run")
        group.runs += 1
        if time.monotonic() - group.began >= group.window:
            self._commit_group(group, within_run=True)

    def _undo_savepoint(self, group: _Group) -> str:
        """Roll back the failed run's savepoint; when SQLite has already rolled back the
        whole transaction, say what else was lost (as words to add to the error)."""
        conn = self.db.conn
        try:
            conn.execute("ROLLBACK TO source_run")
            conn.execute("RELEASE source_run")
            return ""
        except sqlite3.Error:  # the transaction itself is gone
            _rollback(conn)
            runs, group.open, group.runs = group.runs, False, 0
            return _lost_runs(runs)

    def _commit_group(self, group: _Group, *, within_run: bool = False) -> None:
        """Commit the group; ``within_run``: at the end of a run's block, which the error
        (if any) is reported for, so the others lost are the runs before it."""
        conn = self.db.conn
        runs, group.open, group.runs = group.runs - within_run, False, 0
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            _rollback(conn)
            raise StorageError(
                f"{self.path}: commit failed, nothing stored{_lost_runs(runs)}: {e}{_hint(e)}"
            ) from e

    def record_failure(
        self,
        report: IngestReport,
        kind: str,
        location: str,
        next_due: datetime | None = None,
        *,
        count_failure: bool = True,
        **fetch_state: str | int | datetime | None,
    ) -> None:
        """Record a run that stored nothing (its transaction, if any, was rolled back), with
        any fetch bookkeeping (see :meth:`SourceRun.set_fetch_state`)."""
        with self.transaction() as run:
            run.ensure_source(report.source, kind, location, report.started)
            run.set_fetch_state(report.source, **fetch_state)
            run.record_run(report, next_due, count_failure=count_failure)

    # --- reads -------------------------------------------------------------------------------

    @_reads
    def published(self, limit: int) -> list[PublishedEntry]:
        """The newest ``limit`` stories (one entry per story), newest first."""
        rows = self.db.execute(
            """
            SELECT e.*, s.feed_info AS feed_info FROM entries e
            JOIN sources s ON s.name = e.source
            WHERE e.story_id = e.id AND e.deleted IS NULL
            ORDER BY e.published DESC, e.atom_id ASC
            LIMIT ?
            """,
            [limit],
        ).fetchall()
        cols = [
            d[0]
            for d in self.db.execute(
                "SELECT e.*, s.feed_info AS feed_info FROM entries e "
                "JOIN sources s ON s.name = e.source LIMIT 0"
            ).description
        ]
        return [_published(dict(zip(cols, row, strict=True))) for row in rows]

    @_reads
    def stories(self) -> list[PublishedEntry]:
        """Every story (one entry per story) in the order it was first stored.

        A story stored later always comes after every existing one (rows are numbered as
        they are inserted and never deleted), which is what keeps RFC 5005 archive pages
        stable. Loads them all: memory grows with the number of stories. Deleted stories
        (tombstones) are left out: deleting one is the one thing that changes a complete
        archive page, because the user asked for it to be gone everywhere.
        """
        return self._entries("e.story_id = e.id AND e.deleted IS NULL", "e.id ASC", [])

    @_reads
    def source_entries(self, source: str, limit: int) -> list[PublishedEntry]:
        """The newest ``limit`` entries stored from ``source``, newest first.

        Every entry the source contributed, including copies of stories first published
        from another source (a per-source feed shows what that source said).
        """
        return self._entries(
            "e.source = ? AND e.deleted IS NULL",
            "e.published DESC, e.atom_id ASC LIMIT ?",
            [source, limit],
        )

    @_reads
    def source_names(self) -> list[str]:
        """The names of the sources that have stored entries, sorted."""
        # One index probe per source instead of reading the whole index of entries (every
        # entry's source is a row of sources: entries.source is a foreign key).
        rows = self.db.execute(
            "SELECT name FROM sources s WHERE EXISTS "
            "(SELECT 1 FROM entries e WHERE e.source = s.name) ORDER BY name"
        ).fetchall()
        return [r[0] for r in rows]

    # --- reads for publishing a large database (see m008_publish_state) --------------------

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """A read transaction: every read inside sees the database as of its first read."""
        conn = self.db.conn
        try:
            conn.execute("BEGIN")
        except sqlite3.Error as e:
            raise StorageError(f"{self.path}: cannot start a read: {e}") from e
        try:
            yield
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    def story_count(self) -> int:
        """How many live stories there are (as :meth:`stories` would return), read from the
        count the triggers of m008_publish_state keep."""
        row = self.db.execute("SELECT n FROM story_count").fetchone()
        return int(row[0]) if row else 0

    def last_stories(self, limit: int) -> list[PublishedEntry]:
        """The last ``limit`` of :meth:`stories`, in the same order (oldest first)."""
        if limit <= 0:
            return []
        newest = self._entries(
            "e.story_id = e.id AND e.deleted IS NULL", "e.id DESC LIMIT ?", [limit]
        )
        return newest[::-1]

    def story_keys(self, size: int) -> Iterator[list[tuple[int, str, str]]]:
        """``(id, source, "id content_hash updated source")`` of every story of
        :meth:`stories`, in the same order, ``size`` at a time (the last batch may be
        shorter), streamed from an index (no row is read)."""
        cursor = self.db.conn.execute(
            "SELECT id, source, id || ' ' || content_hash || ' ' || updated || ' ' || source "
            "FROM entries WHERE story_id = id AND deleted IS NULL ORDER BY id"
        )
        while batch := cursor.fetchmany(size):
            yield batch

    def stories_between(self, first: int, last: int) -> list[PublishedEntry]:
        """The stories of :meth:`stories` whose id is from ``first`` to ``last``, in order."""
        return self._entries(
            "e.story_id = e.id AND e.deleted IS NULL AND e.id BETWEEN ? AND ?",
            "e.id ASC",
            [first, last],
        )

    def source_entry_keys(self, source: str, limit: int) -> list[tuple[int, str, str, str]]:
        """``(id, content_hash, updated, atom_id)`` of :meth:`source_entries` (the same
        entries in the same order), without building them."""
        rows = self.db.execute(
            "SELECT id, content_hash, updated, atom_id FROM entries "
            "WHERE source = ? AND deleted IS NULL ORDER BY published DESC, atom_id ASC LIMIT ?",
            [source, limit],
        ).fetchall()
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def feed_info_json(self) -> dict[str, str | None]:
        """Each source's stored feed metadata, as stored (the JSON that becomes
        ``atom:source``)."""
        return dict(self.db.execute("SELECT name, feed_info FROM sources").fetchall())

    def published_files(self) -> dict[str, tuple[str, int, int]]:
        """What :meth:`record_published` recorded: path → (fingerprint, size, mtime_ns)."""
        rows = self.db.execute(
            "SELECT path, fingerprint, size, mtime_ns FROM published_files"
        ).fetchall()
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def record_published(self, files: Sequence[tuple[str, str, int, int]]) -> None:
        """Remember ``(path, fingerprint, size, mtime_ns)`` of files just published."""
        if not files:
            return
        with self.transaction():
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO published_files (path, fingerprint, size, mtime_ns) "
                "VALUES (?, ?, ?, ?)",
                files,
            )

    def recount_stories(self) -> None:
        """Set the story count of m008_publish_state from the stories themselves."""
        with self.transaction():
            self.db.execute(
                "UPDATE story_count SET n = "
                "(SELECT count(*) FROM entries WHERE story_id = id AND deleted IS NULL)"
            )

    def forget_published(self) -> None:
        """Forget every recorded fingerprint (the next publish renders every file)."""
        with self.transaction():
            self.db.execute("DELETE FROM published_files")

    def _entries(self, where: str, order: str, params: list[Any]) -> list[PublishedEntry]:
        # ``where`` and ``order`` are constants of this module, never user input.
        cursor = self.db.execute(
            "SELECT e.*, s.feed_info AS feed_info FROM entries e "
            f"JOIN sources s ON s.name = e.source WHERE {where} ORDER BY {order}",
            params,
        )
        cols = [d[0] for d in cursor.description]
        return [_published(dict(zip(cols, row, strict=True))) for row in cursor.fetchall()]

    @_reads
    def source_states(self) -> list[SourceState]:
        rows = self.db.execute(
            """
            SELECT s.*, (SELECT count(*) FROM entries e WHERE e.source = s.name) AS n
            FROM sources s ORDER BY s.name
            """
        )
        cols = [d[0] for d in rows.description]
        out = []
        for row in rows.fetchall():
            r = dict(zip(cols, row, strict=True))
            out.append(
                SourceState(
                    name=r["name"],
                    kind=r["kind"],
                    location=r["location"],
                    entries=r["n"],
                    etag=r["etag"],
                    last_modified=r["last_modified"],
                    last_run=_opt_iso(r["last_run"]),
                    last_success=_opt_iso(r["last_success"]),
                    last_error=r["last_error"],
                    error_streak=r["error_streak"],
                    next_due=_opt_iso(r["next_due"]),
                    body_hash=r.get("body_hash"),
                    last_status=r.get("last_status"),
                    retry_after_until=_opt_iso(r.get("retry_after_until")),
                    retired=r.get("retired"),
                    retired_at=_opt_iso(r.get("retired_at")),
                    redirect_candidate=r.get("redirect_candidate"),
                    redirect_count=r.get("redirect_count") or 0,
                    fetch_url=r.get("fetch_url"),
                    fetch_url_for=r.get("fetch_url_for"),
                    discovered_url=r.get("discovered_url"),
                    schedule_reason=r.get("schedule_reason"),
                    feed_ttl=r.get("feed_ttl"),
                )
            )
        return out

    @_reads
    def seen_files(self, source: str) -> dict[str, FileStamp]:
        """The file stamps a directory source recorded at its last successful runs."""
        rows = self.db.execute(
            "SELECT relpath, size, mtime_ns, inode, sha256, seen_ns FROM seen_files "
            "WHERE source = ?",
            [source],
        ).fetchall()
        return {r[0]: FileStamp(*r) for r in rows}

    def source_state(self, name: str) -> SourceState | None:
        for state in self.source_states():
            if state.name == name:
                return state
        return None

    def feed_infos(self) -> dict[str, FeedInfo]:
        """The feed metadata (title, site link, ...) last parsed for each source that has any."""
        rows = self.db.execute(
            "SELECT name, feed_info FROM sources WHERE feed_info IS NOT NULL"
        ).fetchall()
        return {name: _feed_info(json.loads(blob)) for name, blob in rows if blob}

    def feed_file(self, source: str, path: str) -> FileState | None:
        """What the last successful run of the feed file source read from ``path``; None when
        there is no record for that path, or when the entries it gave are no longer stored
        (deleted, or a restored database), so that the file is read again."""
        row = self.db.execute(
            """
            SELECT sha256, size, mtime_ns, ctime_ns, inode, entries, reader FROM feed_files f
            WHERE source = ? AND path = ?
                AND (entries = 0 OR EXISTS (SELECT 1 FROM entries e WHERE e.source = f.source))
            """,
            [source, path],
        ).fetchone()
        if row is None:
            return None
        sha, size, mtime, ctime, inode, entries, reader = row
        signature = Signature(size, mtime, ctime, inode) if size is not None else None
        return FileState(sha, signature, entries=entries, reader=reader)

    def index_pending(self, batch: int = SEARCH_INDEX_BATCH) -> int:
        """Bring the search index up to date: index every entry listed in ``search_pending``
        (m010_search_index_later), ``batch`` entries per write transaction so that a big
        backlog never holds the write lock for long. Returns how many were indexed."""
        done = 0
        conn = self.db.conn
        cols = ", ".join(FTS_COLUMNS)
        picked = ", ".join(f"e.{c}" for c in FTS_COLUMNS)
        while True:
            with self.transaction():
                ids = [
                    r[0]
                    for r in conn.execute(
                        "SELECT entry_id FROM search_pending ORDER BY entry_id LIMIT ?", [batch]
                    )
                ]
                if not ids:
                    return done
                listed = json.dumps(ids)
                conn.execute(
                    f"INSERT INTO entries_fts (rowid, {cols}) SELECT e.id, {picked} "
                    "FROM entries e WHERE e.id IN (SELECT value FROM json_each(?))",
                    [listed],
                )
                conn.execute(
                    "DELETE FROM search_pending WHERE entry_id IN (SELECT value FROM json_each(?))",
                    [listed],
                )
            done += len(ids)

    @_reads
    def search_backlog(self) -> int:
        """Entries stored but not in the search index yet (see :meth:`index_pending`)."""
        return int(self.db.execute("SELECT count(*) FROM search_pending").fetchone()[0])

    def search(
        self,
        text: str,
        *,
        source: str | None = None,
        since: datetime | None = None,
        limit: int = 20,
        deleted: bool = False,
    ) -> list[SearchHit]:
        """Stored entries matching ``text``, best first.

        ``text`` is words (all must occur, stemmed: "mills" finds "mill"; ``word*`` is a
        prefix), never FTS5 syntax: quotes and operators in it are taken literally. Ranked
        by: every word in the title first, then bm25 with the title weighed over the summary
        over the body (:data:`FTS_WEIGHTS`), then the newest. ``source`` and ``since`` (on
        the published date) narrow the result; tombstoned entries only with ``deleted``.
        """
        query = fts_query(text)
        try:
            self.index_pending()
        except StorageError as e:  # a read-only database: search what is indexed
            log.warning("search index not brought up to date: %s", e)
        where = [f"AND {w}" for w in _entry_filters(source, since, deleted)[0]]
        params = _entry_filters(source, since, deleted)[1]
        cols = ", ".join(f"e.{c.strip()}" for c in _ENTRY_COLS.split(","))
        weights = ", ".join(str(w) for w in FTS_WEIGHTS)
        sql = f"""
            SELECT {cols}, bm25(entries_fts, {weights}) AS score,
                e.id IN (SELECT rowid FROM entries_fts WHERE entries_fts MATCH ?) AS in_title,
                snippet(entries_fts, {FTS_COLUMNS.index("content_html")}, '[', ']', '...', 12)
            FROM entries_fts JOIN entries e ON e.id = entries_fts.rowid
            WHERE entries_fts MATCH ? {" ".join(where)}
            ORDER BY in_title DESC, score ASC, e.published DESC, e.id DESC
            LIMIT ?
        """
        try:
            rows = self.db.execute(sql, [f"title : ({query})", query, *params, limit]).fetchall()
        except sqlite3.OperationalError as e:  # a query FTS5 cannot take: a clear error
            raise StorageError(f"search {text!r}: {e}") from e
        n = len(_ENTRY_COLS.split(","))
        return [
            SearchHit(
                entry=_entry_row(r[:n]),
                rank=-r[n],
                in_title=bool(r[n + 1]),
                snippet=_plain_snippet(r[n + 2]) if r[n + 2] else None,
            )
            for r in rows
        ]

    @_reads
    def counts(self) -> dict[str, int]:
        """Totals: stored entries, published stories (deleted ones excluded), duplicates."""
        row = self.db.execute(
            "SELECT count(*), sum(story_id = id AND deleted IS NULL), sum(story_id != id) "
            "FROM entries"
        ).fetchone()
        return {"entries": row[0] or 0, "stories": row[1] or 0, "duplicates": row[2] or 0}

    # --- publish state (m007_publish_state) ---------------------------------------------------

    @_reads
    def publish_generation(self) -> int:
        """How many runs have stored a change so far; read it *before* reading what to
        publish, and hand it to :meth:`mark_published` once everything is written."""
        row = self.db.execute("SELECT changes FROM publish_state WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    @_reads
    def publish_pending(self) -> bool:
        """True when a change was stored after the last complete publish (e.g. the process
        that stored it was killed before it published)."""
        row = self.db.execute("SELECT changes > published FROM publish_state").fetchone()
        return bool(row and row[0])

    def mark_published(self, generation: int) -> None:
        """Record that the outputs now show every change up to ``generation``."""
        try:
            self.db.execute(
                "UPDATE publish_state SET published = max(published, ?) WHERE id = 1",
                [generation],
            )
        except sqlite3.Error as e:
            _rollback(self.db.conn)
            raise StorageError(f"{self.path}: cannot record the publish: {e}{_hint(e)}") from e

    # --- explain, undo, delete (feedsvc dupes / entries) ----------------------------------

    def entry(self, ref: str) -> EntryRow | None:
        """The entry ``ref`` names: its numeric id (as listed), else its atom:id."""
        where, value = ("id = ?", int(ref)) if ref.isdigit() else ("atom_id = ?", ref)
        row = self.db.execute(
            f"SELECT {_ENTRY_COLS} FROM entries WHERE {where}", [value]
        ).fetchone()
        return _entry_row(row) if row else None

    def list_entries(
        self,
        source: str | None = None,
        limit: int = 50,
        deleted: bool = False,
        since: datetime | None = None,
    ) -> list[EntryRow]:
        """The newest entries (by published date), optionally of one source and published
        since ``since``; tombstoned ones only when ``deleted``."""
        where, params = _entry_filters(source, since, deleted)
        sql = (
            f"SELECT {_ENTRY_COLS} FROM entries e WHERE {' AND '.join(['1', *where])} "
            "ORDER BY published DESC, id DESC LIMIT ?"
        )
        return [_entry_row(r) for r in self.db.execute(sql, [*params, limit]).fetchall()]

    def stories_with_copies(self, limit: int = 1000) -> list[StoryRow]:
        """Stories with more than one stored copy, newest first (deleted ones left out)."""
        heads = self.db.execute(
            f"""
            SELECT {_ENTRY_COLS} FROM entries h
            WHERE h.story_id = h.id AND h.deleted IS NULL
              AND EXISTS (SELECT 1 FROM entries c WHERE c.story_id = h.id AND c.id != h.id)
            ORDER BY h.published DESC, h.id DESC LIMIT ?
            """,
            [limit],
        ).fetchall()
        out = []
        for head in heads:
            copies = self.db.execute(
                f"SELECT {_ENTRY_COLS} FROM entries WHERE story_id = ? AND id != ? ORDER BY id",
                [head[0], head[0]],
            ).fetchall()
            out.append(StoryRow(_entry_row(head), tuple(_entry_row(c) for c in copies)))
        return out

    def members(self, story_id: int) -> list[EntryRow]:
        rows = self.db.execute(
            f"SELECT {_ENTRY_COLS} FROM entries WHERE story_id = ? ORDER BY id", [story_id]
        ).fetchall()
        return [_entry_row(r) for r in rows]

    def split(self, entry_id: int, new_head: int | None, now: datetime) -> None:
        """Take ``entry_id`` out of its story: it becomes a story of its own, and the split is
        recorded. When it was the story's published copy, ``new_head`` (chosen by the caller,
        see :func:`feedsvc.dedup.choose_head`) becomes the rest's published copy.

        Later ingests keep it split: stored entries are never re-matched (edits are updates of
        a copy in its own story), and the recorded split is what `dupes` reports.
        """
        with self.transaction():
            row = self.db.execute(
                "SELECT story_id FROM entries WHERE id = ?", [entry_id]
            ).fetchone()
            if row is None:
                raise StorageError(f"no entry {entry_id}")
            story = row[0]
            if story == entry_id:
                if new_head is None:
                    raise StorageError(f"entry {entry_id} is the only copy of its story")
                self.db.execute(
                    "UPDATE entries SET story_id = ? WHERE story_id = ? AND id != ?",
                    [new_head, entry_id, entry_id],
                )
                self.db.execute(
                    "UPDATE entries SET dup_rule = NULL, dup_score = NULL WHERE id = ?",
                    [new_head],
                )
            self.db.execute(
                "UPDATE entries SET story_id = id, dup_rule = NULL, dup_score = NULL WHERE id = ?",
                [entry_id],
            )
            self.db.execute(
                "INSERT INTO dedup_splits (entry_id, story_id, split_at) VALUES (?, ?, ?)",
                [entry_id, story, iso(now)],
            )
            _owe_publish(self.db)

    def delete(self, entry_id: int, now: datetime) -> list[int]:
        """Tombstone an entry: it is never published again, and re-ingesting its source does
        not bring it back (the row stays, so it is still recognised). Deleting a story's
        published copy deletes the whole story, every copy. Returns the ids tombstoned now."""
        with self.transaction():
            row = self.db.execute(
                "SELECT story_id FROM entries WHERE id = ?", [entry_id]
            ).fetchone()
            if row is None:
                raise StorageError(f"no entry {entry_id}")
            where = "story_id = ?" if row[0] == entry_id else "id = ?"
            ids = [
                r[0]
                for r in self.db.execute(
                    f"SELECT id FROM entries WHERE {where} AND deleted IS NULL ORDER BY id",
                    [entry_id],
                ).fetchall()
            ]
            self.db.execute(
                f"UPDATE entries SET deleted = ? WHERE {where} AND deleted IS NULL",
                [iso(now), entry_id],
            )
            _owe_publish(self.db)
        return ids

    def dedup_counts(self) -> dict[str, Any]:
        """Live (not deleted) copies per dedup rule, recorded splits, tombstoned entries."""
        rules = {r.value: 0 for r in DupRule}
        for rule, n in self.db.execute(
            "SELECT dup_rule, count(*) FROM entries "
            "WHERE dup_rule IS NOT NULL AND deleted IS NULL GROUP BY dup_rule"
        ).fetchall():
            rules[rule] = n
        splits = self.db.execute("SELECT count(*) FROM dedup_splits").fetchone()[0]
        deleted = self.db.execute(
            "SELECT count(*) FROM entries WHERE deleted IS NOT NULL"
        ).fetchone()[0]
        return {"rules": rules, "splits": splits, "deleted": deleted}


@dataclass(frozen=True)
class EntryRow:
    """One stored entry as `feedsvc entries` and `feedsvc dupes` show it."""

    id: int
    source: str
    key: str
    atom_id: str
    title: str
    link: str | None
    story_id: int
    rule: str | None
    score: float | None
    published: datetime
    first_seen: datetime
    deleted: bool

    @property
    def is_head(self) -> bool:
        """Whether this entry is its story's published copy."""
        return self.story_id == self.id


@dataclass(frozen=True)
class StoryRow:
    """A story with more than one stored copy."""

    head: EntryRow
    copies: tuple[EntryRow, ...]  # the other members, in the order they were stored


_ENTRY_COLS = (
    "id, source, key, atom_id, title, link, story_id, dup_rule, dup_score, published, "
    "first_seen, deleted"
)


def _entry_row(row: Sequence[Any]) -> EntryRow:
    return EntryRow(
        id=row[0],
        source=row[1],
        key=row[2],
        atom_id=row[3],
        title=row[4],
        link=row[5],
        story_id=row[6],
        rule=row[7],
        score=row[8],
        published=parse_iso(row[9]),
        first_seen=parse_iso(row[10]),
        deleted=row[11] is not None,
    )


def _published(r: dict[str, Any]) -> PublishedEntry:
    info = json.loads(r["feed_info"]) if r["feed_info"] else None
    return PublishedEntry(
        atom_id=r["atom_id"],
        title=r["title"],
        content_html=r["content_html"],
        published=parse_iso(r["published"]),
        updated=parse_iso(r["updated"]),
        link=r["link"],
        summary_html=r["summary_html"],
        authors=tuple(Person(*p) for p in json.loads(r["authors"])),
        categories=tuple(json.loads(r["categories"])),
        enclosures=tuple(Enclosure(*e) for e in json.loads(r["enclosures"])),
        lang=r["lang"],
        rights=r["rights"],
        source_info=_feed_info(info) if info else None,
        source_name=r["source"],
    )


def _feed_info(d: dict[str, Any]) -> FeedInfo:
    return FeedInfo(
        title=d.get("title"),
        id=d.get("id"),
        link=d.get("link"),
        self_link=d.get("self_link"),
        updated=_opt_iso(d.get("updated")),
    )


def _stored(r: dict[str, Any]) -> StoredEntry:
    return StoredEntry(
        id=r["id"],
        source=r["source"],
        key=r["key"],
        atom_id=r["atom_id"],
        story_id=r["story_id"],
        content_hash=r["content_hash"],
        canonical_link=r["canonical_link"],
        fingerprint=r["fingerprint"],
        published=parse_iso(r["published"]),
        updated=parse_iso(r["updated"]),
        first_seen=parse_iso(r["first_seen"]),
        original_id=r["original_id"],
        deleted=r["deleted"] is not None,
    )


_STORED_COLS = (
    "id, source, key, atom_id, story_id, content_hash, canonical_link, fingerprint, "
    "published, updated, first_seen, original_id, deleted"
)


class SourceRun:
    """Operations inside one write transaction (see :meth:`Store.transaction`)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    def _select(
        self, where: str, values: Sequence[str], extra: Sequence[str] = ()
    ) -> list[StoredEntry]:
        out: list[StoredEntry] = []
        names = _STORED_COLS.split(", ")
        vals = list(values)
        # SQLite limits bound parameters per statement; chunk large lookups.
        for i in range(0, max(len(vals), 1), 500):
            chunk = vals[i : i + 500]
            if not chunk:
                break
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT {_STORED_COLS} FROM entries WHERE {where.format(marks=marks)}"
            for row in self.db.execute(sql, [*extra, *chunk]).fetchall():
                out.append(_stored(dict(zip(names, row, strict=True))))
        return out

    def existing(self, source: str, lookup: Lookup) -> Existing:
        """The snapshot :func:`feedsvc.dedup.plan` needs, read inside this transaction."""
        by_key = {
            e.key: e
            for e in self._select("source = ? AND key IN ({marks})", sorted(lookup.keys), [source])
        }

        def first_by(column: str, values: frozenset[str]) -> dict[str, StoredEntry]:
            found: dict[str, StoredEntry] = {}
            names = {"original_id": 0, "canonical_link": 0, "fingerprint": 0}
            assert column in names
            rows = self.db.execute(
                "SELECT " + column + ", id FROM entries WHERE " + column + " IN "
                "(SELECT value FROM json_each(?)) ORDER BY id",
                [json.dumps(sorted(values))],
            ).fetchall()
            ids: dict[str, int] = {}
            for value, entry_id in rows:
                ids.setdefault(value, entry_id)
            if ids:
                entries = {
                    e.id: e for e in self._select("id IN ({marks})", [str(i) for i in ids.values()])
                }
                for value, entry_id in ids.items():
                    found[value] = entries[entry_id]
            return found

        taken_rows = self.db.execute(
            "SELECT atom_id FROM entries WHERE atom_id IN (SELECT value FROM json_each(?))",
            [json.dumps(sorted(lookup.original_ids))],
        ).fetchall()
        by_source_link: dict[str, StoredEntry] = {}
        for e in self._select(
            "source = ? AND canonical_link IN ({marks}) ORDER BY id", sorted(lookup.links), [source]
        ):
            by_source_link.setdefault(e.canonical_link or "", e)
        postings = self.postings(lookup.sketch_keys)
        wanted = candidate_ids(lookup, postings) | {e.id for e in by_source_link.values()}
        bodies = self.bodies(wanted)
        by_original_id = first_by("original_id", lookup.original_ids)
        by_link = first_by("canonical_link", lookup.links)
        by_fingerprint = first_by("fingerprint", lookup.fingerprints)
        story_ids = {
            e.story_id
            for group in (by_original_id, by_link, by_fingerprint)
            for e in group.values()
        } | {c.entry.story_id for c in bodies.values()}
        stories = {e.id: e for e in self._select("id IN ({marks})", [str(i) for i in story_ids])}
        return Existing(
            by_key=by_key,
            by_original_id=by_original_id,
            by_link=by_link,
            by_fingerprint=by_fingerprint,
            taken_atom_ids=frozenset(r[0] for r in taken_rows),
            by_source_link=by_source_link,
            postings=postings,
            bodies=bodies,
            stories=stories,
        )

    def postings(self, keys: frozenset[int]) -> dict[int, list[int]]:
        """For each sketch key, the newest :data:`POSTINGS_LIMIT` entries indexed under it.

        One range read of the ``dedup_keys`` primary key per key: the cost depends on the
        number of keys asked about, not on the number of entries stored.
        """
        out: dict[int, list[int]] = {}
        ordered = sorted(keys)
        conn = self.db.conn
        for i in range(0, len(ordered), POSTINGS_BATCH):
            chunk = ordered[i : i + POSTINGS_BATCH]
            # Padded with -1, which is never a key (sketch keys are hashes >= 0).
            chunk += [-1] * (POSTINGS_BATCH - len(chunk))
            params = [v for key in chunk for v in (key, POSTINGS_LIMIT)]
            for key, entry_id in conn.execute(POSTINGS_BATCH_SQL, params):
                out.setdefault(key, []).append(entry_id)
        for ids in out.values():
            ids.sort(reverse=True)  # newest first, as POSTINGS_SQL gives them
        return out

    def bodies(self, ids: set[int]) -> dict[int, Candidate]:
        """The stored entries ``ids`` with their bodies, for exact similarity checks."""
        out: dict[int, Candidate] = {}
        names = [*_STORED_COLS.split(", "), "content_html", "summary_html"]
        cols = _STORED_COLS + ", content_html, summary_html"
        for i in range(0, len(ids), 500):
            chunk = sorted(ids)[i : i + 500]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT {cols} FROM entries WHERE id IN ({marks})"
            for row in self.db.execute(sql, chunk).fetchall():
                r = dict(zip(names, row, strict=True))
                out[r["id"]] = Candidate(_stored(r), r["content_html"] or r["summary_html"] or "")
        return out

    def ensure_source(self, name: str, kind: str, location: str, now: datetime) -> None:
        self.db.execute(
            """
            INSERT INTO sources (name, kind, location, created) VALUES (?, ?, ?, ?)
            ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, location = excluded.location
            """,
            [name, kind, location, iso(now)],
        )

    def set_feed_info(self, name: str, info: FeedInfo | None) -> None:
        blob = None
        if info is not None:
            blob = json.dumps(
                {
                    "title": info.title,
                    "id": info.id,
                    "link": info.link,
                    "self_link": info.self_link,
                    "updated": iso(info.updated) if info.updated else None,
                },
                sort_keys=True,
                ensure_ascii=False,
            )
        self.db.execute("UPDATE sources SET feed_info = ? WHERE name = ?", [blob, name])

    def record_files(
        self, source: str, changed: Sequence[FileStamp], gone: Sequence[str] = ()
    ) -> None:
        """Store the stamps of files read in this run and forget files no longer there."""
        self.db.conn.executemany(
            """
            INSERT INTO seen_files (source, relpath, size, mtime_ns, inode, sha256, seen_ns)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(source, relpath) DO UPDATE SET size = excluded.size,
                mtime_ns = excluded.mtime_ns, inode = excluded.inode,
                sha256 = excluded.sha256, seen_ns = excluded.seen_ns
            """,
            [
                (source, f.relpath, f.size, f.mtime_ns, f.inode, f.sha256, f.seen_ns)
                for f in changed
            ],
        )
        self.db.conn.executemany(
            "DELETE FROM seen_files WHERE source = ? AND relpath = ?",
            [(source, relpath) for relpath in gone],
        )

    def forget_files(self, source: str) -> None:
        """Forget every file stamp of a source (its location changed)."""
        self.db.execute("DELETE FROM seen_files WHERE source = ?", [source])

    def set_validators(self, name: str, etag: str | None, last_modified: str | None) -> None:
        self.db.execute(
            "UPDATE sources SET etag = ?, last_modified = ? WHERE name = ?",
            [etag, last_modified, name],
        )

    def set_fetch_state(self, name: str, **values: str | int | datetime | None) -> None:
        """Update the fetch bookkeeping columns of m003_fetch_state (datetimes stored as ISO)."""
        unknown = set(values) - _FETCH_COLUMNS
        if unknown:
            raise ValueError(f"not fetch-state columns: {sorted(unknown)}")
        if not values:
            return
        names = sorted(values)
        params = [iso(v) if isinstance(v, datetime) else v for v in (values[n] for n in names)]
        assignments = ", ".join(f"{n} = ?" for n in names)
        self.db.execute(f"UPDATE sources SET {assignments} WHERE name = ?", [*params, name])

    def apply(self, source: str, intents: Sequence[Intent], now: datetime) -> RunCounts:
        """Carry out a dedup plan. Returns what was done."""
        counts = {"new": 0, "updated": 0, "unchanged": 0, "duplicates": 0}
        ids_by_key: dict[str, int] = {}
        conn = self.db.conn
        # New rows get the id SQLite would choose (the largest id + 1: ids are never reused
        # while that row exists, and this transaction holds the write lock), given up front so
        # that a new story's story_id and the sketch go in with the row instead of two UPDATEs.
        next_id: int | None = None
        keys: list[tuple[int, int]] = []
        for intent in intents:
            if isinstance(intent, Unchanged):
                counts["unchanged"] += 1
                ids_by_key[intent.key] = intent.entry_id
                self.db.execute(
                    "UPDATE entries SET last_seen = ? WHERE id = ?", [iso(now), intent.entry_id]
                )
            elif isinstance(intent, Update):
                counts["updated"] += 1
                ids_by_key[intent.article.key] = intent.entry_id
                row = _article_columns(intent.article)
                row.update(
                    content_hash=intent.content_hash,
                    canonical_link=intent.canonical_link,
                    fingerprint=intent.fingerprint,
                    original_id=intent.article.original_id,
                    updated=iso(intent.updated),
                    last_seen=iso(now),
                )
                if intent.rekey is not None:
                    row["key"] = intent.rekey
                _update_row(self.db.conn, "entries", intent.entry_id, row)
                _unindex_sketch(self.db.conn, intent.entry_id)
                _index_sketch(self.db.conn, intent.entry_id, intent.sketch)
            elif isinstance(intent, Insert):
                story = intent.story_of
                if story is None and intent.story_of_key is not None:
                    story = ids_by_key[intent.story_of_key]
                if next_id is None:
                    next_id = conn.execute(
                        "SELECT coalesce(max(id), 0) + 1 FROM entries"
                    ).fetchone()[0]
                entry_id, next_id = next_id, next_id + 1
                row = {"id": entry_id, **_article_columns(intent.article)}
                row.update(
                    source=source,
                    key=intent.article.key,
                    atom_id=intent.atom_id,
                    story_id=story if story is not None else entry_id,
                    dup_rule=intent.rule.value if intent.rule else None,
                    dup_score=intent.score,
                    original_id=intent.article.original_id,
                    content_hash=intent.content_hash,
                    canonical_link=intent.canonical_link,
                    fingerprint=intent.fingerprint,
                    published=iso(intent.published),
                    updated=iso(intent.updated),
                    first_seen=iso(now),
                    last_seen=iso(now),
                    sketch=_json_list(intent.sketch),
                )
                if story is None:
                    counts["new"] += 1
                else:
                    # A copy shares its story's tombstone: a deleted story stays deleted.
                    found = conn.execute("SELECT deleted FROM entries WHERE id = ?", [story])
                    head = found.fetchone()
                    row["deleted"] = head[0] if head else None
                    counts["duplicates"] += 1
                if intent.takeover is not None:
                    # Free the story's atom id: the displaced head takes the new entry's own.
                    self.db.execute(
                        "UPDATE entries SET atom_id = ? WHERE id = ?",
                        [intent.displaced_atom_id, intent.takeover],
                    )
                _insert_row(conn, "entries", row)
                keys.extend((k, entry_id) for k in intent.sketch)
                if intent.takeover is not None:
                    self.db.execute(
                        "UPDATE entries SET story_id = ? WHERE story_id = ?",
                        [entry_id, intent.takeover],
                    )
                    self.db.execute(
                        "UPDATE entries SET dup_rule = NULL, dup_score = NULL WHERE id = ?",
                        [entry_id],
                    )
                    self.db.execute(
                        "UPDATE entries SET dup_rule = ?, dup_score = ? WHERE id = ?",
                        [row["dup_rule"], row["dup_score"], intent.takeover],
                    )
                ids_by_key[intent.article.key] = entry_id
        # The new entries' near-duplicate keys, in key order: one pass along the index
        # instead of a jump to a random page of it for each key (~2x cheaper, measured).
        keys.sort()
        conn.executemany("INSERT OR IGNORE INTO dedup_keys (key, entry_id) VALUES (?, ?)", keys)
        if counts["new"] or counts["updated"] or counts["duplicates"]:
            _owe_publish(self.db)
        return RunCounts(**counts)

    def set_feed_file(self, source: str, path: str, state: FileState) -> None:
        """Record what this run read from the feed file source's ``path``."""
        sig = state.signature
        self.db.execute(
            """
            INSERT OR REPLACE INTO feed_files
                (source, path, sha256, size, mtime_ns, ctime_ns, inode, entries, reader)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                source,
                path,
                state.sha256,
                *((sig.size, sig.mtime_ns, sig.ctime_ns, sig.inode) if sig else (None,) * 4),
                state.entries,
                state.reader,
            ],
        )

    def record_run(
        self, report: IngestReport, next_due: datetime | None = None, *, count_failure: bool = True
    ) -> None:
        """Log the run and update the source's bookkeeping. A failed run with
        ``count_failure=False`` (our network was down) leaves the error streak as it was."""
        self.db.table("runs").insert(
            {
                "source": report.source,
                "started": iso(report.started),
                "finished": iso(report.finished),
                "new": report.new,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "duplicates": report.duplicates,
                "skipped": report.skipped,
                "not_modified": int(report.not_modified),
                "errors": json.dumps([_storable(e) for e in report.errors], ensure_ascii=False),
                "warnings": json.dumps([_storable(w) for w in report.warnings], ensure_ascii=False),
            }
        )
        if report.ok:
            self.db.execute(
                """
                UPDATE sources SET last_run = ?, last_success = ?, last_error = NULL,
                    error_streak = 0, next_due = coalesce(?, next_due) WHERE name = ?
                """,
                [iso(report.finished), iso(report.finished), _opt(next_due), report.source],
            )
        else:
            self.db.execute(
                """
                UPDATE sources SET last_run = ?, last_error = ?, error_streak = error_streak + ?,
                    next_due = coalesce(?, next_due) WHERE name = ?
                """,
                [
                    iso(report.finished),
                    _storable("; ".join(report.errors)),
                    int(count_failure),
                    _opt(next_due),
                    report.source,
                ],
            )


_FETCH_COLUMNS = frozenset(
    {
        "body_hash",
        "last_status",
        "retry_after_until",
        "retired",
        "retired_at",
        "redirect_candidate",
        "redirect_count",
        "fetch_url",
        "fetch_url_for",
        "discovered_url",
        "schedule_reason",
        "feed_ttl",
        "etag",
        "last_modified",
    }
)


@functools.lru_cache(maxsize=64)
def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


@functools.lru_cache(maxsize=64)
def _update_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?"


def _insert_row(conn: sqlite3.Connection, table: str, row: dict[str, Any]) -> int:
    """Insert one row; its new id. (sqlite-utils' Table.insert inspects the table's schema on
    every call, which cost more than the insert itself; the statement text is cached here and
    in sqlite3's statement cache.)"""
    cursor = conn.execute(_insert_sql(table, tuple(row)), tuple(row.values()))
    return int(cursor.lastrowid or 0)


def _update_row(conn: sqlite3.Connection, table: str, row_id: int, row: dict[str, Any]) -> None:
    conn.execute(_update_sql(table, tuple(row)), (*row.values(), row_id))


def _opt(d: datetime | None) -> str | None:
    return iso(d) if d else None


# json.dumps(x, ensure_ascii=False) builds a new encoder per call; this is the same encoder.
_JSON_UNICODE = json.JSONEncoder(ensure_ascii=False)


def _json_list(items: Sequence[Any], unicode: bool = False) -> str:
    """``json.dumps(list(items))`` (with ``ensure_ascii=False`` when ``unicode``)."""
    if not items:
        return "[]"
    return _JSON_UNICODE.encode(list(items)) if unicode else json.dumps(list(items))


def _article_columns(a: Any) -> dict[str, Any]:
    return {
        "title": a.title,
        "link": a.link,
        "content_html": a.content_html,
        "summary_html": a.summary_html,
        "authors": _json_list([[p.name, p.email, p.uri] for p in a.authors], unicode=True),
        "categories": _json_list(a.categories, unicode=True),
        "enclosures": _json_list([[e.href, e.length, e.type] for e in a.enclosures]),
        "lang": a.lang,
        "rights": a.rights,
        "origin": a.origin,
    }


# --- database care: check and backup (``feedsvc db ...``) ------------------------------------


def _read_only_uri(path: Path, immutable: bool = False) -> str:
    return "file:" + quote(str(path.resolve())) + "?mode=ro" + ("&immutable=1" if immutable else "")


def _open_for_check(path: Path) -> sqlite3.Connection:
    """A read-only connection. In a folder nobody may write (read-only media, a locked-down
    backup folder) SQLite cannot create the -shm file a WAL database needs; with no -wal file
    beside it the database file is complete, and is read as immutable instead."""
    try:
        conn = sqlite3.connect(_read_only_uri(path), uri=True, timeout=BUSY_TIMEOUT_S)
        conn.execute("PRAGMA schema_version").fetchone()
        return conn
    except sqlite3.Error as e:
        name = getattr(e, "sqlite_errorname", "") or ""
        wal = path.with_name(path.name + "-wal")
        if not name.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY")) or wal.exists():
            raise
    return sqlite3.connect(_read_only_uri(path, immutable=True), uri=True)


@dataclass(frozen=True)
class DatabaseCheck:
    """What :func:`check_database` found. ``problems`` is empty when the database is fine."""

    path: Path
    size_bytes: int
    journal_mode: str | None
    integrity: tuple[str, ...]  # ("ok",) or what PRAGMA integrity_check reported (at most 100)
    applied: tuple[str, ...]  # schema migrations applied, oldest first
    pending: tuple[str, ...]  # known migrations not applied yet (done at the next write open)
    unknown: tuple[str, ...]  # applied migrations this feedsvc does not know (a newer feedsvc)
    entries: int | None
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def schema_version(self) -> str | None:
        """The schema version: the last migration this feedsvc registers among those applied
        (migrations merged from several branches may have been applied in another order),
        or the last one applied when this feedsvc knows none of them."""
        known = [m.name for m in MIGRATIONS._migrations if m.name in self.applied]
        if known:
            return known[-1]
        return self.applied[-1] if self.applied else None


def check_database(path: Path) -> DatabaseCheck:
    """Check a feedsvc database without changing it (opened read-only, never migrated).

    Runs ``PRAGMA integrity_check`` and compares the applied schema migrations with the ones
    this feedsvc knows. A damaged, foreign or newer database is reported in ``problems``;
    raises :class:`StorageError` only when ``path`` is not there or cannot be opened at all.
    """
    if not path.is_file():
        raise StorageError(f"{path}: no database file there")
    size = path.stat().st_size
    problems: list[str] = []
    journal: str | None = None
    integrity: tuple[str, ...] = ()
    applied: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    entries: int | None = None
    try:
        conn = _open_for_check(path)
    except sqlite3.Error:
        try:  # what is wrong with it is found, and reported, by the checks below
            conn = sqlite3.connect(_read_only_uri(path), uri=True, timeout=BUSY_TIMEOUT_S)
        except sqlite3.Error as e:
            raise StorageError(f"{path}: cannot open database: {e}{_hint(e)}") from e
    try:
        db = sqlite_utils.Database(conn, execute_plugins=False, recursive_triggers=False)
        try:
            journal = str(conn.execute("PRAGMA journal_mode").fetchone()[0])
            rows = conn.execute("PRAGMA integrity_check(100)").fetchall()
            # One row may hold several lines; keep at most 100 lines in all.
            integrity = tuple(line for r in rows for line in str(r[0]).splitlines())[:100]
        except sqlite3.Error as e:
            problems.append(f"not a readable SQLite database: {e}{_hint(e)}")
        if integrity and integrity != ("ok",):
            problems.append(f"integrity check failed ({len(integrity)} line(s) of findings)")
        if not problems:
            try:
                names = [m.name for m in MIGRATIONS.applied(db)]
                known = [m.name for m in MIGRATIONS._migrations]
                applied = tuple(names)
                pending = tuple(n for n in known if n not in names)
                unknown = tuple(n for n in names if n not in known)
                check_schema(path, db)
                if "entries" in db.table_names():
                    entries = int(conn.execute("SELECT count(*) FROM entries").fetchone()[0])
                else:
                    problems.append("no feedsvc tables (an empty database)")
            except StorageError as e:
                problems.append(str(e).removeprefix(f"{path}: "))
            except sqlite3.Error as e:
                problems.append(f"cannot read the schema: {e}{_hint(e)}")
    finally:
        conn.close()
    return DatabaseCheck(
        path=path,
        size_bytes=size,
        journal_mode=journal,
        integrity=integrity,
        applied=applied,
        pending=pending,
        unknown=unknown,
        entries=entries,
        problems=tuple(problems),
    )


def backup_database(source: Path, dest: Path, *, force: bool = False) -> DatabaseCheck:
    """Copy the database ``source`` to ``dest`` with SQLite's online backup API.

    Safe while a daemon or an ingest writes: the copy is one consistent snapshot (a single
    backup step under one read transaction; WAL writers are not blocked). The copy is a
    self-contained file (rollback journal mode, no -wal beside it), checked with
    ``integrity_check`` before it is renamed into place, so ``dest`` is never a partial or
    damaged backup. Refuses to overwrite an existing ``dest`` unless ``force``. Returns the
    check of the copy.
    """
    if not source.is_file():
        raise StorageError(f"{source}: no database file there")
    if dest.exists() and not force:
        raise StorageError(f"{dest}: already exists (pass --force to overwrite it)")
    if dest.exists() and dest.resolve() == source.resolve():
        raise StorageError(f"{dest}: is the database itself")
    if dest.exists() and not dest.is_file():
        raise StorageError(f"{dest}: is not a file")
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.tmp")
    try:
        src = sqlite3.connect(_read_only_uri(source), uri=True, timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error as e:
        raise StorageError(f"{source}: cannot open database: {e}{_hint(e)}") from e
    try:
        try:
            check_schema(source, sqlite_utils.Database(src, execute_plugins=False))
            target = sqlite3.connect(str(tmp))
        except sqlite3.Error as e:
            raise StorageError(f"{source}: cannot back up: {e}{_hint(e)}") from e
        except OSError as e:
            raise StorageError(f"{dest}: cannot write the backup: {e.strerror or e}") from e
        try:
            src.backup(target)  # pages=-1: the whole database in one step, one snapshot
            target.execute("PRAGMA journal_mode=DELETE")
        except sqlite3.Error as e:
            raise StorageError(f"{source} → {dest}: backup failed: {e}{_hint(e)}") from e
        finally:
            target.close()
        copy = check_database(tmp)
        if not copy.ok:
            raise StorageError(f"{dest}: the copy is not sound: {'; '.join(copy.problems)}")
        try:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, dest)
        except OSError as e:
            raise StorageError(f"{dest}: cannot write the backup: {e.strerror or e}") from e
    finally:
        src.close()
        with contextlib.suppress(OSError):
            tmp.unlink()
    return dataclasses.replace(copy, path=dest)
