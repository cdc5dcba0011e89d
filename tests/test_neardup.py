"""Near-duplicates, stories, explain/undo and tombstones: pure units, then the real CLI over
real feed files and a real SQLite database."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from feedsvc import neardup
from feedsvc.dedup import Candidate, Existing, choose_head, content_hash, plan
from feedsvc.models import Article, DupRule, Insert, StoredEntry, Update
from feedsvc.storage import MIGRATIONS, POSTINGS_SQL

from helpers import check_feed, db_rows, entry_ids, rss, run, status_json, write_config

DATA = Path(__file__).parent / "data"
PAIRS = json.loads((DATA / "dedup_pairs.json").read_text("utf-8"))["pairs"]
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def pair(kind: str, n: int = 0) -> dict[str, Any]:
    return [p for p in PAIRS if p["kind"] == kind][n]


STORY = pair("chrome", 1)  # b is a's text inside navigation, ads, credits, related links
OTHER = pair("same-frame", 0)["a"]  # an unrelated story


# --- pure: boilerplate, profiles, the verdict ---------------------------------------------


def test_boilerplate_blocks_are_dropped_and_content_kept() -> None:
    long_para = (
        "The council also discussed the town newsletter, which will now be printed monthly "
        "and mailed to every household so that residents without internet access can follow "
        "decisions about roads, parks, water rates and the new library building on Main Street "
        "over the coming year, the clerk said, adding that volunteers from the historical "
        "society had offered to help deliver copies to the outlying farms."
    )
    markup = (
        "<nav>Home News Sport</nav><p>Home | News | Local | Sport | Weather</p>"
        "<p>The first paragraph of the story.</p>"
        '<ul><li><a href="/1">Another story</a></li><li><a href="/2">And one more</a></li></ul>'
        "<p>Read more at The Valley Courier.</p><p>© 2026 Harbor Times. All rights reserved.</p>"
        "<p>(Reporting by A. Writer; Editing by B. Editor)</p><p>Advertisement</p>"
        f"<p>{long_para}</p><footer>Contact us</footer>"
    )
    assert neardup.content_blocks(markup) == ["The first paragraph of the story.", long_para]


def test_short_texts_have_no_profile() -> None:
    assert neardup.profile("<p>" + "word " * (neardup.MIN_WORDS - 1) + "</p>") is None
    # boilerplate does not count towards the minimum
    chrome = "<p>Subscribe to our newsletter for more.</p>" * 20
    assert neardup.profile(chrome + "<p>Five words of real text.</p>") is None


def test_verdicts() -> None:
    a = neardup.profile(STORY["a"]["html"])
    b = neardup.profile(STORY["b"]["html"])
    other = neardup.profile(OTHER["html"])
    assert a and b and other
    same = neardup.judge(a, b)
    assert same.same and same.reason == "jaccard" and same.score == 1.0
    assert not neardup.judge(a, other).same
    cut = pair("truncated", 0)
    v = neardup.judge(*(neardup.profile(cut[s]["html"]) for s in "ab"))  # type: ignore[arg-type]
    assert v.same and v.containment > 0.95
    template = [p for p in PAIRS if p["kind"] == "template"][2]  # market reports
    v = neardup.judge(*(neardup.profile(template[s]["html"]) for s in "ab"))  # type: ignore[arg-type]
    assert not v.same


def test_number_veto() -> None:
    text = " ".join(f"w{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(80))
    a = neardup.profile(f"<p>{text} Version 2.4.1 fixes 12 bugs and 3 crashes.</p>")
    b = neardup.profile(f"<p>{text} Version 2.5.0 fixes 9 bugs and 4 crashes.</p>")
    assert a and b
    verdict = neardup.judge(a, b)
    assert not verdict.same and verdict.reason == "numbers differ" and verdict.jaccard > 0.8


def _article(key: str, title: str, html: str, link: str | None = None) -> Article:
    return Article(key=key, title=title, content_html=html, link=link)


def test_titles_alone_never_merge() -> None:
    intents = plan(
        "s",
        [
            _article("1", "Weather update", "<p>Frost tonight in Millbrook.</p>"),
            _article("2", "Weather update", "<p>Frost tonight in Millbrook.</p>"),
            _article("3", "Weather update", STORY["a"]["html"]),
            _article("4", "Weather update", OTHER["html"]),
        ],
        Existing(),
        NOW,
        feed_id="tag:t,2026:f",
    )
    assert all(isinstance(i, Insert) and i.story_of_key is None for i in intents)


def test_copies_within_one_run_join_the_first() -> None:
    intents = plan(
        "s",
        [_article("1", "A", STORY["a"]["html"]), _article("2", "B", STORY["b"]["html"])],
        Existing(),
        NOW,
        feed_id="tag:t,2026:f",
    )
    second = intents[1]
    assert isinstance(second, Insert)
    assert second.story_of_key == "1" and second.rule is DupRule.SIMILAR_TEXT


def test_choose_head() -> None:
    t0, t1 = NOW, NOW.replace(hour=13)
    members = [(3, "low", t0), (5, "high", t1), (4, "low", t0)]
    assert choose_head(members) == 3
    assert choose_head(members, {"high": 1}) == 5
    assert choose_head([]) is None


# --- the real thing: CLI, feed files, SQLite ----------------------------------------------


def feed(path: Path, items: list[dict[str, str]], title: str = "f") -> None:
    esc = [{k: v.replace("&", "&amp;") if k != "description" else v for k, v in i.items()}
           for i in items]  # fmt: skip
    path.write_bytes(rss(esc, title=title))


def item(side: dict[str, Any], guid: str | None = None, **kw: str) -> dict[str, str]:
    out = {
        "title": side["title"],
        "link": side["link"],
        "guid": guid or side["id"],
        "description": side["html"],
    }
    out.update(kw)
    return out


SOURCES = """
[[sources]]
name = "alpha"
path = "alpha.xml"
[[sources]]
name = "beta"
path = "beta.xml"
[[sources]]
name = "gamma"
path = "gamma.xml"
"""


@pytest.fixture
def three(tmp_path: Path) -> Path:
    """A config with three feed-file sources; alpha carries STORY a and OTHER, beta STORY b."""
    feed(tmp_path / "alpha.xml", [item(STORY["a"]), item(OTHER)])
    feed(tmp_path / "beta.xml", [item(STORY["b"])])
    feed(tmp_path / "gamma.xml", [])
    return write_config(tmp_path, SOURCES)


def ids(config: Path) -> dict[str, tuple[int, int]]:
    """source:guid → (entry id, story id)."""
    rows = db_rows(
        config.parent / "db/feedsvc.sqlite3", "SELECT source, key, id, story_id FROM entries"
    )
    return {f"{s}:{k}": (i, st) for s, k, i, st in rows}


def test_similar_text_across_sources_is_one_story(three: Path, atom_schema: Any) -> None:
    result = run(three, "ingest")
    assert result.exit_code == 0, result.output
    assert "beta" in result.output and "1 duplicate" in result.output
    got = ids(three)
    a, b = got[f"alpha:{STORY['a']['id']}"], got[f"beta:{STORY['b']['id']}"]
    assert a[1] == a[0] and b[1] == a[0]
    atom = three.parent / "feeds/atom.xml"
    assert len(entry_ids(atom)) == 2
    check_feed(atom, atom_schema)

    out = run(three, "dupes").output
    assert f"story {a[0]}:" in out and "similar-text  1.00" in out and "* " in out
    doc = json.loads(run(three, "dupes", "--json").output)
    (story,) = doc
    assert [c["id"] for c in story["copies"]] == [a[0], b[0]]
    assert story["copies"][1]["rule"] == "similar-text" and story["copies"][1]["score"] == 1.0

    status = status_json(three)
    assert status["dedup"]["rules"] == {
        "same-id": 0,
        "same-link": 0,
        "same-text": 0,
        "similar-text": 1,
    }
    assert "1 similar-text" in run(three, "status").output


def test_an_edit_of_a_copy_is_an_update_in_its_story(three: Path) -> None:
    run(three, "ingest")
    before = ids(three)
    edited = dict(STORY["b"], html=STORY["b"]["html"].replace("Advertisement", "Ad", 1))
    edited["html"] = edited["html"].replace("</p>", " An added sentence.</p>", 1)
    feed(three.parent / "beta.xml", [item(edited)])
    result = run(three, "ingest", "--source", "beta")
    assert "0 new, 1 updated" in result.output
    assert ids(three) == before


def test_split_undoes_a_merge_and_stays_split(three: Path) -> None:
    run(three, "ingest")
    got = ids(three)
    b_id = got[f"beta:{STORY['b']['id']}"][0]
    result = run(three, "dupes", "split", str(b_id))
    assert result.exit_code == 0, result.output
    assert f"entry {b_id} split from story" in result.output
    assert "published " in result.output and "atom.xml" in result.output
    assert len(entry_ids(three.parent / "feeds/atom.xml")) == 3
    assert "no merged stories" in run(three, "dupes").output

    # Later ingests, with the split copy edited and another copy arriving, keep it split.
    edited = dict(STORY["b"], html=STORY["b"]["html"].replace("</p>", " More.</p>", 1))
    feed(three.parent / "beta.xml", [item(edited)])
    feed(three.parent / "gamma.xml", [item(STORY["a"], guid="gamma-copy")])
    assert run(three, "ingest").exit_code == 0
    after = ids(three)
    assert after[f"beta:{STORY['b']['id']}"] == (b_id, b_id)
    assert after["gamma:gamma-copy"][1] == got[f"alpha:{STORY['a']['id']}"][0]
    assert status_json(three)["dedup"]["splits"] == 1

    # Nothing left to split; unknown entries are usage errors.
    assert run(three, "dupes", "split", str(b_id)).exit_code == 2
    assert run(three, "dupes", "split", "99999").exit_code == 2


def test_splitting_the_published_copy_promotes_another(three: Path) -> None:
    feed(three.parent / "gamma.xml", [item(STORY["a"], guid="gamma-copy")])
    run(three, "ingest")
    got = ids(three)
    head = got[f"alpha:{STORY['a']['id']}"][0]
    beta, gamma = got[f"beta:{STORY['b']['id']}"][0], got["gamma:gamma-copy"][0]
    result = run(three, "dupes", "split", str(head))
    assert result.exit_code == 0
    assert f"entry {beta} is now the published copy" in result.output
    after = ids(three)
    assert after[f"alpha:{STORY['a']['id']}"] == (head, head)
    assert after[f"beta:{STORY['b']['id']}"] == (beta, beta)
    assert after["gamma:gamma-copy"] == (gamma, beta)


def test_deleted_entries_stay_deleted(three: Path) -> None:
    run(three, "ingest")
    got = ids(three)
    head = got[f"alpha:{STORY['a']['id']}"][0]
    atom = three.parent / "feeds/atom.xml"
    listing = run(three, "entries", "list").output
    assert str(head) in listing and STORY["a"]["title"] in listing

    result = run(three, "entries", "delete", str(head))
    assert result.exit_code == 0, result.output
    assert "deleted story" in result.output and "1 other copies" in result.output
    assert len(entry_ids(atom)) == 1

    # Re-ingesting every source, and a new copy from a third source, bring nothing back.
    feed(three.parent / "gamma.xml", [item(STORY["a"], guid="gamma-copy")])
    result = run(three, "ingest")
    assert result.exit_code == 0 and "1 duplicate" in result.output
    assert len(entry_ids(atom)) == 1
    assert STORY["a"]["title"] not in atom.read_text("utf-8")
    assert str(head) not in run(three, "entries", "list").output.split()
    assert "(deleted)" in run(three, "entries", "list", "--deleted").output
    assert status_json(three)["dedup"]["deleted"] == 3
    assert "already deleted" in run(three, "entries", "delete", str(head)).output
    assert run(three, "entries", "delete", "nope").exit_code == 2


def test_deleting_a_copy_keeps_the_story(three: Path) -> None:
    run(three, "ingest")
    beta = ids(three)[f"beta:{STORY['b']['id']}"][0]
    result = run(three, "entries", "delete", str(beta))
    assert f"deleted entry {beta}" in result.output
    assert len(entry_ids(three.parent / "feeds/atom.xml")) == 2
    run(three, "ingest")
    sql = "SELECT deleted IS NOT NULL FROM entries WHERE id = ?"
    assert db_rows(three.parent / "db/feedsvc.sqlite3", sql, beta) == [(1,)]


def test_an_entry_whose_id_changed_is_the_same_entry(three: Path) -> None:
    run(three, "ingest")
    before = ids(three)
    atom = three.parent / "feeds/atom.xml"
    published = entry_ids(atom)
    # The publisher moved platforms: new guids, https links with tracking, same text.
    moved = dict(STORY["a"], link=STORY["a"]["link"] + "?utm_source=newcms")
    feed(three.parent / "alpha.xml", [item(moved, guid="cms2-1"), item(OTHER, guid="cms2-2")])
    result = run(three, "ingest", "--source", "alpha")
    assert result.exit_code == 0
    assert "0 new, 2 updated" in result.output
    after = ids(three)
    assert after["alpha:cms2-1"] == before[f"alpha:{STORY['a']['id']}"]
    assert after["alpha:cms2-2"] == before[f"alpha:{OTHER['id']}"]
    assert entry_ids(atom) == published
    # and the next run sees them by their new ids
    assert "0 new, 0 updated, 2 unchanged" in run(three, "ingest", "--source", "alpha").output


def test_a_higher_priority_copy_is_published_under_the_story_id(tmp_path: Path) -> None:
    feed(tmp_path / "alpha.xml", [item(STORY["a"])])
    feed(tmp_path / "beta.xml", [item(STORY["b"])])
    config = write_config(
        tmp_path,
        '[[sources]]\nname = "alpha"\npath = "alpha.xml"\n'
        '[[sources]]\nname = "beta"\npath = "beta.xml"\npriority = 10\n',
    )
    run(config, "ingest", "--source", "alpha")
    atom = tmp_path / "feeds/atom.xml"
    (story_id,) = entry_ids(atom)
    run(config, "ingest", "--source", "beta")
    assert entry_ids(atom) == [story_id]
    got = ids(config)
    a, b = got[f"alpha:{STORY['a']['id']}"], got[f"beta:{STORY['b']['id']}"]
    assert a[1] == b[0] and b[1] == b[0]
    link = db_rows(
        tmp_path / "db/feedsvc.sqlite3", "SELECT link FROM entries WHERE atom_id = ?", story_id
    )
    assert link == [(STORY["b"]["link"],)]
    out = run(config, "dupes").output
    assert f"*      {b[0]}  beta" in out


def test_upgrade_indexes_entries_stored_before_near_duplicates(tmp_path: Path) -> None:
    """A database from before m004 gets its entries indexed, so new copies still match."""
    db_path = tmp_path / "db/feedsvc.sqlite3"
    db_path.parent.mkdir()
    db = sqlite_utils.Database(sqlite3.connect(str(db_path)))
    MIGRATIONS.apply(db, stop_before="m004_dedup")
    db.execute(
        "INSERT INTO sources (name, kind, location, created) VALUES ('alpha', 'file', 'x', 'now')"
    )
    db.table("entries").insert(
        {"id": 7, "source": "alpha", "key": "old", "atom_id": "urn:x:old", "story_id": 7,
         "content_hash": "h", "title": "t", "content_html": STORY["a"]["html"],
         "published": "2026-01-01T00:00:00Z", "updated": "2026-01-01T00:00:00Z",
         "first_seen": "2026-01-01T00:00:00Z", "last_seen": "2026-01-01T00:00:00Z"}
    )  # fmt: skip
    db.conn.commit()
    db.close()
    feed(tmp_path / "beta.xml", [item(STORY["b"])])
    config = write_config(tmp_path, '[[sources]]\nname = "beta"\npath = "beta.xml"\n')
    assert "1 duplicate" in run(config, "ingest").output
    assert db_rows(db_path, "SELECT story_id FROM entries WHERE source = 'beta'") == [(7,)]


def test_a_link_a_source_gives_to_several_entries_merges_nothing(tmp_path: Path) -> None:
    """Some feeds give every item the same section link: that is not an article's identity."""
    stories = [p["a"] for p in PAIRS if p["kind"] == "same-frame"][:4]
    section = "https://blog.example/news"
    feed(tmp_path / "alpha.xml", [item(s, link=section) for s in stories[:3]])
    config = write_config(tmp_path, '[[sources]]\nname = "alpha"\npath = "alpha.xml"\n')
    assert "3 new, 0 updated, 0 unchanged, 0 duplicate" in run(config, "ingest").output
    feed(tmp_path / "alpha.xml", [item(s, link=section) for s in stories[3:]])
    assert "1 new, 0 updated, 0 unchanged, 0 duplicate" in run(config, "ingest").output
    assert len(entry_ids(tmp_path / "feeds/atom.xml")) == 4


def test_two_higher_priority_copies_in_one_run(tmp_path: Path) -> None:
    feed(tmp_path / "alpha.xml", [item(STORY["a"])])
    copy2 = dict(STORY["a"], link=STORY["a"]["link"] + "-syndicated")
    feed(tmp_path / "beta.xml", [item(STORY["b"]), item(copy2, guid="beta-2")])
    config = write_config(
        tmp_path,
        '[[sources]]\nname = "alpha"\npath = "alpha.xml"\n'
        '[[sources]]\nname = "beta"\npath = "beta.xml"\npriority = 1\n',
    )
    run(config, "ingest", "--source", "alpha")
    (story_id,) = entry_ids(tmp_path / "feeds/atom.xml")
    result = run(config, "ingest", "--source", "beta")
    assert result.exit_code == 0 and "2 duplicate" in result.output, result.output
    got = ids(config)
    head = got[f"beta:{STORY['b']['id']}"][0]
    assert {story for _, story in got.values()} == {head}
    assert entry_ids(tmp_path / "feeds/atom.xml") == [story_id]


def test_a_renamed_entry_without_feed_ids_is_rekeyed() -> None:
    """Entries keyed by their link (no guid): the link moves to https, nothing else changes."""
    old = Article(key="http://a.example/x", title="T", content_html=STORY["a"]["html"],
                  link="http://a.example/x")  # fmt: skip
    (first,) = plan("s", [old], Existing(), NOW, feed_id="tag:t,2026:f")
    assert isinstance(first, Insert)
    stored = StoredEntry(1, "s", old.key, first.atom_id, 1, content_hash(old),
                         first.canonical_link, first.fingerprint, NOW, NOW, NOW)  # fmt: skip
    new = Article(key="https://a.example/x", title="T", content_html=STORY["a"]["html"],
                  link="https://a.example/x")  # fmt: skip
    existing = Existing(
        by_source_link={first.canonical_link or "": stored},
        bodies={1: Candidate(stored, old.content_html)},
    )
    (intent,) = plan("s", [new], existing, NOW, feed_id="tag:t,2026:f")
    assert isinstance(intent, Update) and intent.rekey == new.key and intent.entry_id == 1


def test_the_candidate_lookup_is_an_index_search_not_a_scan(three: Path) -> None:
    run(three, "ingest")
    plan_rows = db_rows(
        three.parent / "db/feedsvc.sqlite3", "EXPLAIN QUERY PLAN " + POSTINGS_SQL, 1, 64
    )
    details = " ".join(str(r[-1]) for r in plan_rows)
    assert "SEARCH dedup_keys USING PRIMARY KEY (key=?)" in details, details
    assert "SCAN" not in details and "TEMP B-TREE" not in details, details
