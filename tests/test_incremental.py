"""Directory sources do not reread unchanged files: stamps (size, mtime, inode, hash) per file,
kept in the database by the pipeline, used by articles.scan_directory."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from feedsvc.articles import RACY_NS, scan_directory, stamp_is_fresh
from feedsvc.models import FileStamp

from helpers import db_rows, run, write_config


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def aged(path: Path, seconds: float = 60) -> None:
    """Give a file an mtime in the past, so that a stamp taken now is not racy."""
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_a_first_scan_stamps_every_article_it_read(tmp_path: Path) -> None:
    a = write(tmp_path / "a.txt", "A\nbody")
    write(tmp_path / "sub/b.md", "# B\nbody")
    write(tmp_path / "broken.txt", "")  # an error: not stamped, so it is retried
    write(tmp_path / ".hidden.txt", "H\nbody")
    scan = scan_directory(tmp_path)
    stamps = {s.relpath: s for s in scan.stamps}
    assert sorted(stamps) == ["a.txt", "sub/b.md"]
    st = a.stat()
    assert (stamps["a.txt"].size, stamps["a.txt"].mtime_ns, stamps["a.txt"].inode) == (
        st.st_size,
        st.st_mtime_ns,
        st.st_ino,
    )
    assert scan.unchanged == ()
    assert len(scan.articles) == 2 and len(scan.errors) == 1


def test_a_fresh_stamp_means_the_file_is_not_even_read(tmp_path: Path) -> None:
    a = write(tmp_path / "a.txt", "A\nbody")
    aged(a)
    (stamp,) = scan_directory(tmp_path).stamps
    # Poison the remembered hash: if the file were read, the hash would differ and it would be
    # parsed again. A fresh stat match must skip it without reading.
    known = {"a.txt": dataclasses.replace(stamp, sha256="0" * 64)}
    scan = scan_directory(tmp_path, known=known)
    assert scan.articles == ()
    assert scan.unchanged == ("a.txt",)
    assert scan.stamps == (known["a.txt"],)


def test_a_touched_file_is_read_but_not_parsed(tmp_path: Path) -> None:
    a = write(tmp_path / "a.txt", "A\nbody")
    aged(a, 120)
    (stamp,) = scan_directory(tmp_path).stamps
    aged(a, 60)  # touched: new mtime, same bytes
    scan = scan_directory(tmp_path, known={"a.txt": stamp})
    assert scan.articles == ()
    assert scan.unchanged == ("a.txt",)
    (new,) = scan.stamps
    assert new.sha256 == stamp.sha256 and new.mtime_ns != stamp.mtime_ns


def test_an_edit_with_the_same_size_and_mtime_is_caught_while_racy(tmp_path: Path) -> None:
    a = write(tmp_path / "a.txt", "A\nbody one")
    (stamp,) = scan_directory(tmp_path).stamps  # read right after the write: racy
    assert not stamp_is_fresh(stamp, stamp.size, stamp.mtime_ns, stamp.inode)
    st = a.stat()
    a.write_text("A\nbody two", encoding="utf-8")  # same size ...
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))  # ... and the same mtime
    scan = scan_directory(tmp_path, known={"a.txt": stamp})
    assert [x.content_html for x in scan.articles] == ["<p>body two</p>"]


def test_an_edit_is_parsed_and_a_new_file_too(tmp_path: Path) -> None:
    a = write(tmp_path / "a.txt", "A\nbody")
    aged(a)
    known = {s.relpath: s for s in scan_directory(tmp_path).stamps}
    write(tmp_path / "a.txt", "A\nedited body")
    write(tmp_path / "n.txt", "N\nbody")
    scan = scan_directory(tmp_path, known=known)
    assert sorted(x.key for x in scan.articles) == ["a.txt", "n.txt"]
    assert scan.unchanged == ()


def test_stamp_freshness_rules() -> None:
    base = FileStamp("a.txt", 10, 1_000, 7, "h", 1_000 + RACY_NS)
    assert stamp_is_fresh(base, 10, 1_000, 7)
    assert not stamp_is_fresh(base, 11, 1_000, 7)  # size
    assert not stamp_is_fresh(base, 10, 1_001, 7)  # mtime
    assert not stamp_is_fresh(base, 10, 1_000, 8)  # inode (replaced by a rename)
    assert not stamp_is_fresh(dataclasses.replace(base, seen_ns=1_000 + RACY_NS - 1), 10, 1_000, 7)


def test_the_pipeline_keeps_stamps_and_counts_skipped_files_as_unchanged(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    for name in ("a.txt", "b.txt", "c.txt"):
        aged(write(inbox / name, f"{name}\nbody of {name}"))
    config = write_config(tmp_path, '[[sources]]\nname = "in"\npath = "inbox"\n')
    db = tmp_path / "db/feedsvc.sqlite3"
    assert "3 new" in run(config, "ingest").output
    rows = db_rows(db, "SELECT relpath, seen_ns FROM seen_files WHERE source = 'in'")
    assert sorted(r[0] for r in rows) == ["a.txt", "b.txt", "c.txt"]
    seen = dict(rows)

    assert "0 new, 0 updated, 3 unchanged" in run(config, "ingest").output
    # Fresh stamps are not rewritten: the files were not read.
    assert dict(db_rows(db, "SELECT relpath, seen_ns FROM seen_files")) == seen

    (inbox / "b.txt").unlink()
    write(inbox / "c.txt", "c.txt\nnew body")
    out = run(config, "ingest").output
    assert "0 new, 1 updated, 1 unchanged" in out
    assert sorted(r[0] for r in db_rows(db, "SELECT relpath FROM seen_files")) == [
        "a.txt",
        "c.txt",
    ]
    assert db_rows(db, "SELECT count(*) FROM entries") == [(3,)]  # nothing is lost


def test_moving_a_source_to_another_folder_forgets_its_stamps(tmp_path: Path) -> None:
    for folder in ("one", "two"):
        aged(write(tmp_path / folder / "a.txt", f"From {folder}\nbody of {folder}"))
    config = write_config(tmp_path, '[[sources]]\nname = "in"\npath = "one"\n')
    assert "1 new" in run(config, "ingest").output
    config = write_config(tmp_path, '[[sources]]\nname = "in"\npath = "two"\n')
    # Same relative path and (maybe) same stat, but another folder: it is read and updated.
    assert "1 updated" in run(config, "ingest").output
    db = tmp_path / "db/feedsvc.sqlite3"
    assert db_rows(db, "SELECT title FROM entries") == [("From two",)]
