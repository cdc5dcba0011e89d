"""Publishing from the database (feedsvc.sitepublish) writes exactly what rendering every
story (feedsvc.publish.render_site) writes, renders a complete archive page only when an
entry on it changed, and keeps the story count right through every kind of change."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from feedsvc.config import load_config
from feedsvc.pipeline import Pipeline
from feedsvc.publish import SourceStories
from feedsvc.publish.site import render_site
from feedsvc.storage import Store

from helpers import body, rss, write_config

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def item(n: int, text: str | None = None, hours: int | None = None) -> dict[str, str]:
    when = T0 + timedelta(hours=n if hours is None else hours)
    return {
        "title": f"Story {n}",
        "link": f"https://wire.example/{n}",
        "guid": f"https://wire.example/{n}",
        "description": text or body(30, f"s{n}x"),
        "pubDate": format_datetime(when, usegmt=True),
    }


class Site:
    """A config with two feed-file sources, "wire" and "extra" (priority 10), a real
    database, and the publish folder; helpers to change the feeds and to publish."""

    def __init__(self, root: Path, feed_keys: str = "max_entries = 4\narchive_page_size = 3"):
        self.root = root
        self.wire: list[dict[str, str]] = []
        self.extra: list[dict[str, str]] = []
        self.wire_title = "Wire"
        self.write()
        path = write_config(
            root,
            '[[sources]]\nname = "wire"\npath = "wire.xml"\n'
            '[[sources]]\nname = "extra"\npath = "extra.xml"\npriority = 10\n',
        )
        text = path.read_text("utf-8").replace(
            'author = "Tester"\n', f'author = "Tester"\n{feed_keys}\n'
        )
        path.write_text(text, "utf-8")
        self.config_path = path
        self.feeds = root / "feeds"

    def write(self) -> None:
        (self.root / "wire.xml").write_bytes(rss(self.wire, title=self.wire_title))
        (self.root / "extra.xml").write_bytes(rss(self.extra, title="Extra"))

    def ingest(self) -> None:
        self.write()
        config = load_config(self.config_path)
        with Store(config.storage.path) as store:
            pipe = Pipeline(config, store)
            try:
                for report in pipe.ingest_all(config.sources):
                    assert report.ok, report.errors
            finally:
                pipe.close()

    def store(self) -> Store:
        return Store(load_config(self.config_path).storage.path)

    def publish(self) -> tuple[int, int]:
        """Publish the site from the database; check every file against rendering every
        story; return (files changed, files in the site)."""
        config = load_config(self.config_path)
        with Store(config.storage.path) as store:
            pipe = Pipeline(config, store)
            result = pipe.publish_site()
            settings = config.feed
            sources = [
                SourceStories(name, tuple(store.source_entries(name, settings.max_entries)))
                for name in store.source_names()
            ]
            expected = render_site(store.stories(), sources, settings)
            count = store.story_count()
            assert count == len(store.stories())
        for rendered in expected.files:
            got = (self.feeds / rendered.path).read_bytes()
            assert got == rendered.data, rendered.path
        assert (result.files, result.entries) == (len(expected.files), expected.entries)
        return len(result.changed), result.files

    def page(self, n: int) -> Path:
        return self.feeds / f"archive/{n}.xml"


def tamper(path: Path) -> bytes:
    """Overwrite ``path`` with other bytes of the same length and restore its mtime: only a
    publish that renders this page again puts the right bytes back."""
    st = path.stat()
    data = path.read_bytes()
    bad = data.replace(b"<title>", b"<titlX>", 1)
    assert bad != data and len(bad) == len(data)
    path.write_bytes(bad)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    return bad


def test_only_the_page_of_an_updated_entry_is_rendered_again(tmp_path: Path) -> None:
    site = Site(tmp_path)
    site.wire = [item(n) for n in range(10)]  # pages 1-3 complete (3 each), story 10 open
    site.ingest()
    site.publish()
    assert [site.page(n).exists() for n in (1, 2, 3, 4)] == [True] * 4

    # Nothing changed: no complete page is rendered (a tampered one stays tampered).
    bad = tamper(site.page(1))
    config = load_config(site.config_path)
    with Store(config.storage.path) as store:
        Pipeline(config, store).publish_site()
    assert site.page(1).read_bytes() == bad

    # Story 4 (on page 2) is updated: page 2 is rendered again, pages 1 and 3 are not.
    bad3 = tamper(site.page(3))
    before2 = site.page(2).read_bytes()
    site.wire[4] = item(4, text=body(30, "edited"))
    site.ingest()
    config = load_config(site.config_path)
    with Store(config.storage.path) as store:
        Pipeline(config, store).publish_site()
    assert site.page(2).read_bytes() != before2
    assert b"edited" in site.page(2).read_bytes()
    assert site.page(1).read_bytes() == bad and site.page(3).read_bytes() == bad3

    # A page whose file is gone or was touched is written again; then all is as rendered.
    site.page(1).unlink()
    st = site.page(3).stat()
    os.utime(site.page(3), ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    site.publish()


def test_settings_and_source_metadata_reach_every_page_they_change(tmp_path: Path) -> None:
    site = Site(tmp_path)
    site.wire = [item(n) for n in range(7)]
    site.ingest()
    site.publish()
    # The wire feed's own title is in every entry's atom:source: every page shows it.
    site.wire_title = "Wire, renamed"
    site.ingest()
    changed, files = site.publish()
    assert b"Wire, renamed" in site.page(1).read_bytes()
    # The feed title is in every document (all but style.css).
    text = site.config_path.read_text("utf-8").replace('title = "Test feed"', 'title = "Other"')
    site.config_path.write_text(text, "utf-8")
    changed, files = site.publish()
    assert changed == files - 1


def test_every_kind_of_change_publishes_what_rendering_everything_gives(tmp_path: Path) -> None:
    """Takeovers, splits, deletions, updates, backdated and new stories, in a random order:
    after each, the files equal a full render, and the story count is right."""
    site = Site(tmp_path, "max_entries = 3\narchive_page_size = 2")
    rng = random.Random(8)
    site.wire = [item(n) for n in range(6)]
    site.ingest()
    site.publish()
    next_n = 6
    for step in range(24):
        action = rng.choice(["new", "backdated", "update", "copy", "delete", "split"])
        if action == "new":
            site.wire.append(item(next_n))
            next_n += 1
        elif action == "backdated":
            site.wire.append(item(next_n, hours=-1000 - step))
            next_n += 1
        elif action == "update" and site.wire:
            i = rng.randrange(len(site.wire))
            site.wire[i] = dict(site.wire[i], description=body(30, f"edit{step}"))
        elif action == "copy" and site.wire:
            # the same story from the higher-priority source takes the story over
            original = rng.choice(site.wire)
            site.extra.append(dict(original, guid=f"extra-{step}"))
        elif action in ("delete", "split"):
            with site.store() as store:
                rows = store.db.execute(
                    "SELECT id, story_id FROM entries WHERE deleted IS NULL ORDER BY id"
                ).fetchall()
                if action == "delete" and rows:
                    store.delete(rng.choice(rows)[0], T0)
                copies = [r for r in rows if r[0] != r[1]]
                if action == "split" and copies:
                    store.split(rng.choice(copies)[0], None, T0)
        site.ingest()
        site.publish()


def test_the_main_feed_alone_is_the_main_feed_of_the_site(tmp_path: Path) -> None:
    site = Site(tmp_path)
    site.wire = [item(n) for n in range(7)] + [item(7, hours=-500)]  # 2 pages, 2 open
    site.ingest()
    site.publish()
    whole = (site.feeds / "atom.xml").read_bytes()
    (site.feeds / "atom.xml").unlink()
    config = load_config(site.config_path)
    with Store(config.storage.path) as store:
        result = Pipeline(config, store).publish_main_feed()
    assert (site.feeds / "atom.xml").read_bytes() == whole
    assert result.files == 1 and result.entries == 5  # 4 newest + the backdated open story


@pytest.mark.parametrize("pages", [1, 50])
def test_story_count_follows_inserts_splits_takeovers_and_deletes(
    tmp_path: Path, pages: int
) -> None:
    site = Site(tmp_path, f"archive_page_size = {pages}")
    site.wire = [item(n) for n in range(5)]
    site.extra = [dict(item(2), guid="x2")]  # a copy that takes story 2 over
    site.ingest()
    with site.store() as store:
        assert store.story_count() == len(store.stories()) == 5
        copy, head = store.db.execute(
            "SELECT id, story_id FROM entries WHERE id != story_id"
        ).fetchone()
        store.split(head, copy, T0)  # the head leaves; its old copy heads the rest
        assert store.story_count() == len(store.stories()) == 6
        store.delete(head, T0)
        assert store.story_count() == len(store.stories()) == 5
        store.db.execute("UPDATE story_count SET n = 99")
        store.db.conn.commit()
    site.publish()  # a whole-site publish notices and corrects a wrong count
    with site.store() as store:
        assert store.story_count() == 5
