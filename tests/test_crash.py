"""Crash consistency: `feedsvc ingest` SIGKILLed at random moments, at least 30 times.

The realistic case is an update of a site that already exists: a folder of 1,000 articles and
a 300-item feed were ingested and published; then 100 articles arrive, 50 are edited, the feed
gains 100 items and changes 20, and the ingest of that change is killed. Each episode restores
the published site and database of before the change (made with `feedsvc db backup`), kills
one run, kills the re-run that follows it, then lets a third run finish.

After every kill: ``PRAGMA integrity_check`` is ok and every published file is a complete,
valid document (atomic replace: never half a file). After the finished run: the database and
the published files are exactly what one uninterrupted run produces (entries compared as
(source, key, content_hash); every published file's list of ids compared), no temporary file
of a killed publish is left, and no publish is owed — nothing lost, nothing doubled, nothing
left stale.

Kills land after the interpreter's start-up (measured), anywhere up to the length of an
uninterrupted run; the seed (``FEEDSVC_CRASH_SEED``) replays the delays, though where a kill
lands still depends on the machine's speed. A run takes about a second, so the 30 kills stay
well within a minute on a loaded 2-core machine.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from robust import (
    entry_identities,
    feedsvc,
    group_is_gone,
    group_members,
    integrity,
    is_temporary,
    kill_group,
    published_ids,
    rows,
    wait_for,
    write_config,
)

ARTICLES, NEW_ARTICLES, EDITED_ARTICLES = 1000, 100, 50
ITEMS, NEW_ITEMS, CHANGED_ITEMS = 300, 100, 20
KILLS = 30
EPISODE_KILLS = 2  # kills per episode before the run that must converge
SEED = int(os.environ.get("FEEDSVC_CRASH_SEED", "7"))

SOURCES = """\
[[sources]]
name = "inbox"
path = "../src/inbox"

[[sources]]
name = "wire"
path = "../src/wire.xml"
"""


def write_articles(inbox: Path, numbers: range, edition: str = "") -> None:
    inbox.mkdir(parents=True, exist_ok=True)
    for i in numbers:
        words = " ".join(f"w{i}x{j}" for j in range(60))
        (inbox / f"a{i:04d}.txt").write_text(
            f"Article {i}\n\n{words}\n\nA second paragraph of article {i}.{edition}\n",
            encoding="utf-8",
        )


def write_wire(path: Path, count: int, changed: int = 0) -> None:
    items = []
    for i in range(count):
        words = " ".join(f"v{i}y{j}" for j in range(60))
        if i < changed:
            words += " (corrected)"
        items.append(
            f"<item><title>Item {i}</title><link>https://wire.example/{i}</link>"
            f"<guid>https://wire.example/{i}</guid>"
            f"<pubDate>Mon, 02 Nov 2026 {i % 24:02d}:{i % 60:02d}:00 GMT</pubDate>"
            f"<description>&lt;p&gt;{words}&lt;/p&gt;</description></item>"
        )
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title>'
        "<link>https://wire.example/</link><description>d</description>"
        + "".join(items)
        + "</channel></rss>",
        encoding="utf-8",
    )


def run_to_end(config: Path, *args: str) -> float:
    started = time.monotonic()
    done = subprocess.run(feedsvc(config, *args), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return time.monotonic() - started


def state(root: Path) -> tuple[set[tuple[str, str, str]], dict[str, list[str]]]:
    return entry_identities(root / "db/feedsvc.sqlite3"), published_ids(root / "feeds")


def kill_one_run(config: Path, delay: float) -> float | None:
    """Start an ingest and SIGKILL it after ``delay`` seconds. None when it was killed; how
    long it ran when it finished first (within a poll interval)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        feedsvc(config, "ingest", "-q"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    while time.monotonic() - started < delay:
        if proc.poll() is not None:  # finished before the kill: not a kill
            assert proc.returncode == 0
            return time.monotonic() - started
        time.sleep(min(0.01, max(0.0, delay - (time.monotonic() - started))))
    if proc.poll() is not None:
        assert proc.returncode == 0
        return time.monotonic() - started
    proc.kill()  # SIGKILL, the main process only
    proc.wait(timeout=30)
    # Anything the ingest started (worker processes) must not outlive it for long.
    deadline = time.monotonic() + 10
    while not group_is_gone(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if not group_is_gone(proc.pid):
        kill_group(proc)
        raise AssertionError("processes started by the killed ingest outlived it")
    return None


def where_it_landed(db: Path, before: dict[str, int], after: dict[str, int]) -> str:
    """Which phase a kill interrupted, judged from what it left behind."""
    counts = dict(rows(db, "SELECT source, count(*) FROM entries GROUP BY source"))
    done = [name for name in after if counts.get(name) == after[name] != before[name]]
    if not done:
        return "before any commit"
    if len(done) < len(after):
        return "between the two sources' commits"
    if rows(db, "SELECT changes > published FROM publish_state")[0][0]:
        return "after the commits, before the publish was complete"
    return "after the publish"


def test_sigkill_at_random_moments_never_corrupts_and_always_converges(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_articles(src / "inbox", range(ARTICLES))
    write_wire(src / "wire.xml", ITEMS)
    reference = tmp_path / "reference"
    reference.mkdir()
    ref_config = write_config(reference, SOURCES, feed_id="crash")
    run_to_end(ref_config, "ingest", "-q")
    # The site before the change, saved the way an operator would save it.
    snapshot = tmp_path / "before"
    shutil.copytree(reference / "feeds", snapshot / "feeds")
    run_to_end(ref_config, "db", "backup", str(snapshot / "feedsvc.sqlite3"))
    before = dict(
        rows(snapshot / "feedsvc.sqlite3", "SELECT source, count(*) FROM entries GROUP BY source")
    )

    # The change.
    write_articles(src / "inbox", range(ARTICLES, ARTICLES + NEW_ARTICLES))
    write_articles(src / "inbox", range(0, ARTICLES, ARTICLES // EDITED_ARTICLES), " Edited.")
    write_wire(src / "wire.xml", ITEMS + NEW_ITEMS, changed=CHANGED_ITEMS)
    full = run_to_end(ref_config, "ingest", "-q")
    expected_entries, expected_files = state(reference)
    after = dict(
        rows(
            reference / "db/feedsvc.sqlite3", "SELECT source, count(*) FROM entries GROUP BY source"
        )
    )
    assert after == {"inbox": ARTICLES + NEW_ARTICLES, "wire": ITEMS + NEW_ITEMS}
    assert len(expected_files) > 30  # atom.xml, rss, json, page, archive pages, per source
    started = time.monotonic()
    run_to_end(ref_config, "status")
    startup = time.monotonic() - started  # kills before this would only interrupt imports

    rng = random.Random(SEED)
    crash = tmp_path / "crash"
    landed: Counter[str] = Counter()
    kills = attempts = episodes = 0
    earliest = 0.8 * startup
    latest = full  # adapted as runs are seen to finish sooner or later than that
    while kills < KILLS:
        episodes += 1
        shutil.rmtree(crash, ignore_errors=True)
        shutil.copytree(snapshot / "feeds", crash / "feeds")
        (crash / "db").mkdir()
        shutil.copy(snapshot / "feedsvc.sqlite3", crash / "db/feedsvc.sqlite3")  # the restore
        config = write_config(crash, SOURCES, feed_id="crash")
        db = crash / "db/feedsvc.sqlite3"
        for _ in range(EPISODE_KILLS):
            attempts += 1
            assert attempts < KILLS * 4, f"only {kills} of {attempts} runs could be killed"
            finished = kill_one_run(config, rng.uniform(earliest, max(latest, earliest + 0.05)))
            if finished is not None:
                # The run ended before the kill: its state is final, the episode is over.
                latest = max(earliest + 0.05, 0.9 * min(latest, finished))
                break
            kills += 1
            latest = min(1.5 * full, latest * 1.05)
            assert integrity(db) == "ok", f"kill {kills}"
            published_ids(crash / "feeds")  # every published file complete and valid
            landed[where_it_landed(db, before, after)] += 1

        run_to_end(config, "ingest", "-q")
        got_entries, got_files = state(crash)
        assert got_entries == expected_entries, f"episode {episodes}: entries differ"
        assert got_files.keys() == expected_files.keys(), f"episode {episodes}: files differ"
        for name, ids in expected_files.items():
            assert got_files[name] == ids, f"episode {episodes}: {name} lists other ids"
        leftovers = [p for p in (crash / "feeds").rglob("*") if is_temporary(p)]
        assert leftovers == [], "temporary files of killed publishes were not removed"
        assert integrity(db) == "ok"
        assert rows(db, "SELECT changes = published FROM publish_state") == [(1,)]
    print(
        f"\ncrash: {kills} SIGKILLs survived in {episodes} episodes (an uninterrupted run: "
        f"{full:.2f} s, of which {startup:.2f} s start-up); where they landed: {dict(landed)}"
    )
    assert kills >= KILLS


def test_a_killed_ingest_leaves_no_parse_workers_behind(tmp_path: Path) -> None:
    """Feed files big enough to be parsed on worker processes ([ingest] parse_workers); the
    ingest is SIGKILLed while its workers run. They, the forkserver and the resource tracker
    must all be gone within seconds (they used to wait forever on a pipe)."""
    if not os.path.isdir("/proc"):
        pytest.skip("needs /proc to list a process group")
    sources = ""
    for f in range(3):  # about 7 MB in all: over the size that starts worker processes
        write_wire(tmp_path / f"big{f}.xml", 2500)
        sources += f'[[sources]]\nname = "big{f}"\npath = "big{f}.xml"\n\n'
    config = write_config(tmp_path, sources, extra="[ingest]\nparse_workers = 2\n")
    proc = subprocess.Popen(
        feedsvc(config, "ingest", "-q"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # Wait until the workers are there (the ingest itself, a forkserver, a resource
        # tracker, two workers), then kill the ingest alone.
        wait_for("the parse workers", lambda: len(group_members(proc.pid)) >= 4 or proc.poll())
        assert proc.poll() is None, "the ingest finished before its workers could be seen"
        proc.kill()
        proc.wait(timeout=30)
        wait_for("the workers to exit", lambda: group_is_gone(proc.pid), deadline_s=20)
    finally:
        kill_group(proc)
