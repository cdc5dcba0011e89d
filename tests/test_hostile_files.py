"""Article-file attacks: what a shared inbox folder can contain. Each ends as a stored entry,
a skip with a reason, or an error naming the file — never a crash, never a stopped source,
never a local file from outside the folder in the output. One test per attack."""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from feedsvc.articles import DEFAULT_MAX_BYTES, parse_article, scan_directory
from feedsvc.config import load_config
from feedsvc.pipeline import Pipeline
from feedsvc.storage import Store

from helpers import check_feed, db_rows, run, status_json
from robust import integrity, published_ids, write_config

SECRET = "FEEDSVC-SECRET-OUTSIDE-3b1d"


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, Path]:
    """A config with one folder source ``inbox`` that already holds one good article."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "good.txt").write_text("A good article\n\nIts text.\n", encoding="utf-8")
    config = write_config(tmp_path, '[[sources]]\nname = "inbox"\npath = "inbox"\n')
    return config, inbox


def stored_titles(config: Path) -> set[str]:
    return {
        r[0] for r in db_rows(config.parent / "db/feedsvc.sqlite3", "SELECT title FROM entries")
    }


def test_binary_junk_is_skipped_or_an_error_and_the_rest_is_stored(
    site: tuple[Path, Path],
) -> None:
    config, inbox = site
    junk = bytes(range(256)) * 64  # NUL bytes: a binary file
    (inbox / "junk.txt").write_bytes(junk)
    (inbox / "junk.md").write_bytes(bytes(range(128, 256)) * 64)  # no NUL, not UTF-8
    (inbox / "junk.html").write_bytes(os.urandom(4096).replace(b"\0", b"\1"))
    result = run(config, "ingest")
    assert result.exit_code == 1, result.output  # errors are reported ...
    assert "A good article" in stored_titles(config)  # ... and the good file is stored
    assert "junk.md: not valid UTF-8 at byte 0" in result.output
    doc = status_json(config)
    (source,) = doc["sources"]
    assert "junk.md" in source["last_error"]
    assert "junk.txt" not in source["last_error"]  # binary: skipped, not an error
    check_feed(config.parent / "feeds/atom.xml")


def test_a_huge_file_is_refused_without_being_read(tmp_path: Path, site: tuple[Path, Path]) -> None:
    config, inbox = site
    huge = inbox / "huge.txt"
    with huge.open("wb") as f:  # 2 GiB, sparse: costs no disk
        f.write(b"Huge\n\n")
        f.truncate(2 * 1024**3)
    tracemalloc.start()
    try:
        scan = scan_directory(inbox)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert scan.errors == (f"{huge}: larger than the limit of {DEFAULT_MAX_BYTES} bytes",)
    assert [a.title for a in scan.articles] == ["A good article"]
    assert peak < 4 * DEFAULT_MAX_BYTES, f"{peak} bytes allocated for a refused file"
    result = run(config, "ingest")
    assert result.exit_code == 1
    assert "huge.txt: larger than the limit" in result.output


def test_invalid_utf8_names_the_file_and_the_byte(site: tuple[Path, Path]) -> None:
    config, inbox = site
    (inbox / "latin1.txt").write_bytes("Café\n\nDéjà vu\n".encode("latin-1"))
    (inbox / "overlong.md").write_bytes(b"# Title\n\n\xc0\xaf slash\n")  # overlong "/"
    (inbox / "surrogate.txt").write_bytes(b"T\n\n\xed\xa0\x80 lone surrogate\n")
    result = run(config, "ingest")
    assert result.exit_code == 1
    assert "latin1.txt: not valid UTF-8 at byte 3" in result.output
    assert "overlong.md: not valid UTF-8 at byte 9" in result.output
    assert "surrogate.txt: not valid UTF-8 at byte 3" in result.output
    assert stored_titles(config) == {"A good article"}
    assert integrity(config.parent / "db/feedsvc.sqlite3") == "ok"


def test_symlinks_out_of_the_folder_are_not_followed(
    tmp_path: Path, site: tuple[Path, Path]
) -> None:
    config, inbox = site
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"Secret title\n\n{SECRET}\n", encoding="utf-8")
    (inbox / "leak.txt").symlink_to(outside / "secret.txt")
    (inbox / "leakdir").symlink_to(outside)
    (inbox / "relative.txt").symlink_to(Path("..") / "outside" / "secret.txt")
    (inbox / "passwd.txt").symlink_to("/etc/passwd")
    (inbox / "inside.txt").symlink_to(inbox / "good.txt")  # staying inside is fine
    result = run(config, "ingest")
    assert result.exit_code == 0, result.output
    scan = scan_directory(inbox)
    skipped = "\n".join(scan.skipped)
    for name in ("leak.txt", "leakdir", "relative.txt", "passwd.txt"):
        assert f"{inbox / name}: skipped: symlink to" in skipped
    db = config.parent / "db/feedsvc.sqlite3"
    assert db_rows(db, "SELECT count(*) FROM entries") == [(2,)]  # good.txt and inside.txt
    everything = [p.read_bytes() for p in (config.parent / "feeds").rglob("*") if p.is_file()]
    everything += [p.read_bytes() for p in db.parent.iterdir() if p.is_file()]
    for data in everything:
        assert SECRET.encode() not in data
        assert b"root:x:0:0" not in data


ODD_NAMES = [
    "new\nline.txt",
    "tab\there.txt",
    "-rf.txt",
    "--help.md",
    "-",  # no suffix: skipped
    "spaces  and 'quotes' \"too\".txt",
    "<img src=x onerror=alert(1)>.txt",
    "%2e%2e%2fetc.txt",
    "back\\slash.txt",
    "caf\u00e9 nfc.txt",
    "cafe\u0301 nfd.txt",
    "\u202eevil-rtl.txt",
    "emoji \U0001f600.md",
    "\u65e5\u672c\u8a9e.txt",
    "x" * 251 + ".txt",  # 255 bytes: the longest name ext4 allows
    "\u00e9" * 125 + ".md",  # 250 bytes of UTF-8, 128 characters
    "trailing-dot..txt",
    "UPPER.TXT",
]


def test_odd_file_names_are_ingested_and_published(
    site: tuple[Path, Path], atom_schema_or_none: object
) -> None:
    config, inbox = site
    for i, name in enumerate(ODD_NAMES):
        heading = "# " if name.endswith(".md") else ""  # Markdown: the heading is the title
        (inbox / name).write_text(f"{heading}Odd name {i}\n\nBody {i}.\n", encoding="utf-8")
    # A name that is not UTF-8 at all: an error naming it, the rest still ingested.
    (inbox / os.fsdecode(b"latin1-\xe9.txt")).write_text("Bytes\n\nBody.\n", encoding="utf-8")
    result = run(config, "ingest")
    assert result.exit_code == 1, result.output
    assert "latin1-\\xe9.txt: the file name is not valid UTF-8" in result.output
    expected = {f"Odd name {i}" for i, n in enumerate(ODD_NAMES) if n != "-"}
    assert stored_titles(config) == expected | {"A good article"}
    feed = check_feed(config.parent / "feeds/atom.xml", atom_schema_or_none)
    assert {e.title for e in feed.entries} == expected | {"A good article"}
    published_ids(config.parent / "feeds")  # every published file complete and valid
    status_json(config)  # the messages survive JSON
    # A second run changes nothing: the odd keys round-trip through the database.
    again = run(config, "ingest")
    assert f"{len(expected) + 1} unchanged" in again.output, again.output
    # Named on the command line, after "--", a leading dash is a file, not an option.
    os.chdir(inbox)
    try:
        dashed = run(config, "ingest", "--", "-rf.txt", "--help.md")
    finally:
        os.chdir(config.parent)
    assert dashed.exit_code == 0, dashed.output
    assert dashed.output.count(" 1 new") == 2


@pytest.fixture
def atom_schema_or_none(request: pytest.FixtureRequest) -> object:
    """The Atom RelaxNG validator when ../shared is there, else None (well-formedness only)."""
    try:
        return request.getfixturevalue("atom_schema")
    except pytest.skip.Exception:
        return None


def test_a_file_rewritten_while_it_is_read(tmp_path: Path) -> None:
    """A writer rewrites an article in place (truncate, then two writes with a pause between
    them: an editor that is not atomic), in a loop, while ingests run. No ingest may crash, and
    after each one the stored entry is one of the complete versions, never a torn mix."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    target = inbox / "busy.txt"
    versions = [
        (
            f"Version {v}\n\n" + "".join(f"Paragraph {v}.{i} " * 9 + "\n" for i in range(100))
        ).encode()
        for v in range(3)
    ]  # about 15 KB each: several pages, so a read can overlap a write
    complete = {parse_article(v, "busy.txt", origin="x").content_html for v in versions}
    target.write_bytes(versions[0])
    (inbox / "calm.txt").write_text("Calm\n\nNever changes.\n", encoding="utf-8")
    config = load_config(write_config(tmp_path, '[[sources]]\nname = "in"\npath = "inbox"\n'))

    stop = threading.Event()
    rewrites = 0

    def writer() -> None:
        nonlocal rewrites
        i = 0
        while not stop.is_set():
            data = versions[i % 3]
            fd = os.open(target, os.O_WRONLY | os.O_TRUNC)
            try:
                os.write(fd, data[: len(data) // 2])
                time.sleep(0.002)
                os.write(fd, data[len(data) // 2 :])
            finally:
                os.close(fd)
            i += 1
            rewrites = i
            time.sleep((i % 7) * 0.01)  # sometimes a version stays put long enough to store

    thread = threading.Thread(target=writer, daemon=True)
    seen: set[str] = set()
    outcomes: dict[str, int] = {"stored": 0, "skipped": 0, "error": 0}
    with Store(config.storage.path) as store:
        pipe = Pipeline(config, store)
        thread.start()
        try:
            for _ in range(40):
                report = pipe.ingest(config.sources[0])  # must not raise
                for error in report.errors:
                    # The only acceptable error: the instant the file was truncated to nothing.
                    assert error.endswith("busy.txt: empty article"), error
                    outcomes["error"] += 1
                outcomes["skipped"] += sum(
                    "being written" in w or "changed while" in w for w in report.warnings
                )
                rows = store.db.execute(
                    "SELECT content_html FROM entries WHERE key = 'busy.txt'"
                ).fetchall()
                for (html,) in rows:
                    assert html in complete, "a torn version of the file was stored"
                    seen.add(html)
                    outcomes["stored"] += 1
        finally:
            stop.set()
            thread.join(timeout=10)
        # Once the writer stops, the next run stores its last complete version.
        time.sleep(0.1)
        report = pipe.ingest(config.sources[0])
        assert report.ok, report.errors
        final = store.db.execute("SELECT content_html FROM entries WHERE key = 'busy.txt'")
        assert (
            final.fetchone()[0]
            == parse_article(target.read_bytes(), "busy.txt", origin="x").content_html
        )
    assert rewrites >= 3  # the writer really ran during the ingests
    print(
        f"\nrewritten {rewrites} times during 40 ingests: {outcomes}, {len(seen)} versions stored"
    )
