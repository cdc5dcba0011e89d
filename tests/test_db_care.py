"""Database care: `feedsvc db check`, `feedsvc db backup` and the README's restore procedure;
damaged, foreign and newer databases; a full disk; a read-only folder; many processes opening
a new database at once. Every failure is a one-line error and an exit status, never a
traceback (the CLI runs in-process with exceptions propagating), and never a change to a file
feedsvc could not use."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from feedsvc.config import load_config
from feedsvc.pipeline import Pipeline
from feedsvc.storage import MIGRATIONS, Store

from helpers import check_feed, run
from robust import (
    entry_identities,
    feedsvc,
    free_port,
    integrity,
    published_ids,
    rows,
    wait_for,
    write_config,
)

KNOWN = [m.name for m in MIGRATIONS._migrations]


def article(folder: Path, name: str, words: int = 20) -> None:
    body = " ".join(f"{name}-w{i}" for i in range(words))
    tmp = folder / f".{name}.tmp"
    tmp.write_text(f"Article {name}\n\n{body}\n", encoding="utf-8")
    tmp.replace(folder / f"{name}.txt")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A config whose folder source has 20 articles, ingested and published."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(20):
        article(inbox, f"a{i:02d}")
    config = write_config(tmp_path, '[[sources]]\nname = "inbox"\npath = "inbox"\n')
    result = run(config, "ingest")
    assert result.exit_code == 0, result.output
    return config


def database(config: Path) -> Path:
    return config.parent / "db/feedsvc.sqlite3"


def entry_count(db: Path) -> int:
    """Entries stored so far (0 while the database is still being created)."""
    try:
        return int(rows(db, "SELECT count(*) FROM entries")[0][0])
    except sqlite3.OperationalError:
        return 0


def fingerprint(db: Path) -> str:
    """The bytes of a database and of its -wal file, if any."""
    digest = hashlib.sha256(db.read_bytes())
    wal = db.with_name(db.name + "-wal")
    if wal.exists():
        digest.update(wal.read_bytes())
    return digest.hexdigest()


# --- db check ----------------------------------------------------------------------------------


def test_db_check_reports_integrity_and_schema(site: Path) -> None:
    result = run(site, "db", "check")
    assert result.exit_code == 0, result.output
    assert "integrity  ok" in result.output
    assert f"schema     {KNOWN[-1]} ({len(KNOWN)} migrations applied, 0 pending" in result.output
    assert "entries    20" in result.output
    doc = json.loads(run(site, "db", "check", "--json").output)
    assert doc == {
        "path": str(database(site)),
        "ok": True,
        "size_bytes": database(site).stat().st_size,
        "journal_mode": "wal",
        "integrity": ["ok"],
        "schema": {"version": KNOWN[-1], "applied": KNOWN, "pending": [], "unknown": []},
        "entries": 20,
        "problems": [],
    }


def test_db_check_changes_nothing_not_even_a_pending_upgrade(site: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(old)
    try:
        conn.execute("CREATE TABLE entries (id INTEGER PRIMARY KEY)")  # an old layout
        conn.commit()
    finally:
        conn.close()
    before = fingerprint(old)
    doc = json.loads(run(site, "db", "check", "--json", str(old)).output)
    assert doc["schema"]["pending"] == KNOWN and doc["ok"]
    assert fingerprint(old) == before


def damage(db: Path, how: str) -> None:
    """Damage a (checkpointed) database file the way disks and people do."""
    data = db.read_bytes()
    if how == "random-bytes":
        db.write_bytes(os.urandom(len(data)))
    elif how == "truncated":
        db.write_bytes(data[: len(data) // 3])
    elif how == "damaged-pages":
        with db.open("r+b") as f:  # overwrite the pages of the entries table (not page 1)
            f.seek(4096 * 3)
            f.write(os.urandom(len(data) - 4096 * 3))
    elif how == "foreign":
        db.unlink()
        conn = sqlite3.connect(db)
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
        conn.commit()
        conn.close()
    elif how == "newer-schema":
        conn = sqlite3.connect(db)
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('feedsvc', 'm999_from_the_future', '2099-01-01')"
        )
        conn.commit()
        conn.close()


EXPECTED = {
    "random-bytes": "file is not a database",
    "truncated": "database disk image is malformed",
    "damaged-pages": "database disk image is malformed",
    "foreign": "is a SQLite database, but not a feedsvc one (tables: users)",
    "newer-schema": "written by a newer feedsvc (unknown schema migrations: m999_from_the_future)",
}


@pytest.mark.parametrize("how", list(EXPECTED))
def test_a_damaged_foreign_or_newer_database_is_a_clear_error(site: Path, how: str) -> None:
    db = database(site)
    with Store(db):
        pass  # closing the last connection checkpoints the WAL into the file
    damage(db, how)
    (site.parent / "inbox" / "new.txt").write_text("New\n\nText.\n", encoding="utf-8")
    before = fingerprint(db)
    for command in (["ingest"], ["publish"], ["status"], ["db", "check"], ["db", "backup", "b"]):
        result = run(site, *command)  # an exception would propagate: no traceback allowed
        assert result.exit_code == 1, (command, result.output)
        assert EXPECTED[how] in result.output, (command, result.output)
        if how != "damaged-pages":  # a readable file that cannot be used is left untouched
            assert fingerprint(db) == before, command
    assert not (site.parent / "b").exists()
    if how == "newer-schema":
        doc = json.loads(run(site, "db", "check", "--json").output)
        assert doc["schema"]["unknown"] == ["m999_from_the_future"] and not doc["ok"]


def test_many_processes_opening_a_new_database_at_once(tmp_path: Path) -> None:
    """Migrations are applied once, under the write lock, whoever opens the file first (4
    openers raced: "duplicate column name", "database is locked")."""
    failures: list[str] = []
    for r in range(25):
        db = tmp_path / f"new-{r}.sqlite3"
        barrier = threading.Barrier(4)

        def open_it(path: Path = db, gate: threading.Barrier = barrier) -> None:
            gate.wait()
            try:
                with Store(path):
                    pass
            except Exception as e:  # recorded and asserted below
                failures.append(str(e))

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert [n for (n,) in rows(db, "SELECT name FROM _sqlite_migrations ORDER BY id")] == KNOWN
    assert failures == []


# --- backup and restore ------------------------------------------------------------------------


def test_backup_refuses_to_overwrite(site: Path, tmp_path: Path) -> None:
    dest = tmp_path / "backup.sqlite3"
    first = run(site, "db", "backup", str(dest))
    assert first.exit_code == 0, first.output
    assert "20 entries" in first.output and "integrity ok" in first.output
    dest.write_bytes(b"something the user wants to keep")
    again = run(site, "db", "backup", str(dest))
    assert again.exit_code == 1
    assert "already exists (pass --force to overwrite it)" in again.output
    assert dest.read_bytes() == b"something the user wants to keep"
    forced = run(site, "db", "backup", "--force", str(dest))
    assert forced.exit_code == 0, forced.output
    assert entry_identities(dest) == entry_identities(database(site))
    itself = run(site, "db", "backup", "--force", str(database(site)))
    assert itself.exit_code == 1 and "is the database itself" in itself.output
    nowhere = run(site, "db", "backup", str(tmp_path / "missing" / "b.sqlite3"))
    assert nowhere.exit_code == 1 and "cannot" in nowhere.output
    assert [p.name for p in tmp_path.glob(".*.tmp")] == []


@contextlib.contextmanager
def daemon(config: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    log = config.parent / "daemon.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            feedsvc(config, "run"),
            cwd=config.parent,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        yield proc
        assert proc.poll() is None, log.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_backup_while_the_daemon_writes_and_the_documented_restore(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    port = free_port()
    config = write_config(
        tmp_path,
        '[[sources]]\nname = "inbox"\npath = "inbox"\ninterval = "1s"\n',
        extra=f"max_entries = 1000\n\n[server]\nport = {port}\n",
    )
    backups = tmp_path / "backups"
    backups.mkdir()
    db = database(config)
    stop = threading.Event()

    def writer() -> None:  # articles keep arriving; the daemon's watcher ingests them
        i = 0
        while not stop.wait(0.02):
            article(inbox, f"w{i:04d}", words=200)
            i += 1

    counts: list[int] = []
    with daemon(config, port):
        wait_for("the database", db.exists)
        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        try:
            for n in range(5):
                previous = counts[-1] if counts else 0
                wait_for("new entries", lambda: entry_count(db) > previous)  # noqa: B023
                dest = backups / f"{n}.sqlite3"
                done = subprocess.run(
                    feedsvc(config, "db", "backup", str(dest)),
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                assert done.returncode == 0, done.stderr
                check = subprocess.run(
                    feedsvc(config, "db", "check", "--json", str(dest)),
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                doc = json.loads(check.stdout)
                assert doc["ok"] and doc["journal_mode"] == "delete", doc
                counts.append(doc["entries"])
        finally:
            stop.set()
            thread.join(timeout=10)
    assert counts == sorted(counts) and counts[0] > 0, counts  # each a consistent snapshot
    assert not list(backups.glob("*-wal")), "a backup is one self-contained file"

    # The README's restore procedure: stop the daemon (done), check the backup, move the
    # damaged database and its -wal/-shm aside, copy the backup in, check, publish.
    chosen = backups / "2.sqlite3"
    assert run(config, "db", "check", str(chosen)).exit_code == 0
    damage(db, "random-bytes")
    aside = tmp_path / "damaged"
    aside.mkdir()
    for f in db.parent.glob("feedsvc.sqlite3*"):
        if not f.name.endswith(".lock"):
            shutil.move(f, aside / f.name)
    shutil.copy(chosen, db)
    assert run(config, "db", "check").exit_code == 0
    assert entry_identities(db) == entry_identities(chosen)
    result = run(config, "publish")
    assert result.exit_code == 0, result.output
    feed = check_feed(config.parent / "feeds/atom.xml")
    assert len(feed.entries) == counts[2]
    # And the next ingest brings back what arrived after the backup.
    result = run(config, "ingest")
    assert result.exit_code == 0, result.output
    assert rows(db, "SELECT count(*) FROM entries")[0][0] == len(list(inbox.glob("*.txt")))


# --- a full disk -------------------------------------------------------------------------------


def test_a_full_database_stores_nothing_and_loses_nothing(site: Path) -> None:
    """``PRAGMA max_page_count`` set by the test on the very connection the pipeline writes
    through: the database is "full" after one more page."""
    config = load_config(site)
    db = database(site)
    before = entry_identities(db)
    inbox = site.parent / "inbox"
    for i in range(200):
        article(inbox, f"big{i:03d}", words=400)
    with Store(db) as store:
        pages = store.db.execute("PRAGMA page_count").fetchone()[0]
        store.db.execute(f"PRAGMA max_page_count = {pages + 1}")
        pipe = Pipeline(config, store)
        report = pipe.ingest(config.sources[0])
        pipe.close()
    (error,) = report.errors
    assert "nothing stored: database or disk is full" in error, error
    assert "free space and run again" in error
    assert integrity(db) == "ok"
    assert entry_identities(db) == before  # nothing half-stored, nothing lost
    # With space again, the next run stores everything.
    result = run(site, "ingest")
    assert result.exit_code == 0, result.output
    assert "200 new" in result.output
    assert integrity(db) == "ok"


def test_a_full_disk_during_a_cli_ingest(site: Path) -> None:
    """A real `feedsvc ingest` process that may not write a file beyond the database's size
    plus 64 KiB (RLIMIT_FSIZE: every write past it fails with EFBIG, as on a full disk)."""
    db = database(site)
    with Store(db):
        pass  # checkpointed: the WAL starts empty
    before = entry_identities(db)
    published_before = published_ids(site.parent / "feeds")
    inbox = site.parent / "inbox"
    for i in range(200):
        article(inbox, f"big{i:03d}", words=400)
    limit = db.stat().st_size + 65536

    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write instead of dying
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run(
        feedsvc(site, "ingest"),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=small_disk,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert "nothing stored" in done.stdout and "is the disk full" in done.stdout, done.stdout
    assert integrity(db) == "ok"
    assert entry_identities(db) == before
    assert published_ids(site.parent / "feeds") == published_before
    result = run(site, "ingest")
    assert result.exit_code == 0 and "200 new" in result.output, result.output


# --- read-only folders -------------------------------------------------------------------------


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make ``folder`` read-only for feedsvc: its mode when not root; ``chattr +i`` as root
    (root ignores modes). Skips the test when neither is possible here."""
    if os.geteuid() != 0:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(mode)
        return
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: cannot make a folder read-only")
    done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i is not possible here: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_read_only_database_folder(site: Path) -> None:
    db = database(site)
    with Store(db):
        pass  # closed cleanly: no -wal or -shm beside it
    (site.parent / "inbox" / "new.txt").write_text("New\n\nText.\n", encoding="utf-8")
    before = fingerprint(db)
    with read_only(db.parent):
        result = run(site, "ingest")
        assert result.exit_code == 1
        assert "may write in it" in result.output or "read-only" in result.output, result.output
        check = run(site, "db", "check")  # read-only media can still be checked
        assert check.exit_code == 0, check.output
    assert fingerprint(db) == before
    assert integrity(db) == "ok"
    result = run(site, "ingest")
    assert result.exit_code == 0 and "1 new" in result.output


def test_a_read_only_publish_folder_is_published_once_writable(site: Path) -> None:
    feeds = site.parent / "feeds"
    (site.parent / "inbox" / "new.txt").write_text("Arrived\n\nText.\n", encoding="utf-8")
    with read_only(feeds):
        result = run(site, "ingest")
        assert result.exit_code == 1
        assert "cannot write" in result.output  # not published, and said so ...
    titles = rows(database(site), "SELECT title FROM entries")
    assert ("Arrived",) in titles  # ... but stored
    assert "Arrived" not in (feeds / "atom.xml").read_text(encoding="utf-8")
    # Nothing changed since, but the publish is still owed: the next run makes it.
    result = run(site, "ingest")
    assert result.exit_code == 0, result.output
    assert "published" in result.output
    assert "Arrived" in (feeds / "atom.xml").read_text(encoding="utf-8")
    assert [p for p in feeds.rglob(".*")] == []
