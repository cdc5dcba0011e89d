"""The faster deduplication code gives exactly what the straightforward code gave.

Issue 8, after issue 5: boilerplate removal, word shingles and sketches were rewritten for
speed (a strict tokenizer in front of html.parser, per-pattern literal checks in front of the
boilerplate regular expression, one word split per block, word hash tables, a bounded sort),
dedup values are computed once per article (on the parse workers for feed files), and the
candidate lookup reads many keys per statement. The old implementations are kept in
``tests/reference_dedup.py``; these tests compare the two on generated input (hypothesis),
on the labelled pairs and on real SQLite, and check the facts about Unicode and regular
expressions that the fast paths rely on, for every code point.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
import sys
import unicodedata
from dataclasses import astuple
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsvc import neardup
from feedsvc.dedup import Existing, body_fingerprint, derive, derive_all, lookup_for, plan
from feedsvc.localread import read_feed_file, read_feed_files
from feedsvc.models import Article
from feedsvc.storage import POSTINGS_BATCH, POSTINGS_BATCH_SQL, POSTINGS_LIMIT, POSTINGS_SQL, Store

import reference_dedup as ref
from helpers import db_rows, rss, run, write_config

DATA = Path(__file__).parent / "data"
PAIRS: list[dict[str, Any]] = json.loads((DATA / "dedup_pairs.json").read_text("utf-8"))["pairs"]
BODIES = [p[side]["html"] for p in PAIRS for side in "ab"]
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
M61 = (1 << 61) - 1


def same_profile(markup: str) -> None:
    new, old = neardup.compute_profile(markup), ref.profile(markup)
    assert (astuple(new) if new else None) == (astuple(old) if old else None), markup


def same_text_words(markup: str) -> bool:
    """The fingerprint's words that come with the profile, if any, are normalize_text's;
    whether they came."""
    profile, words = neardup.profile_and_words(markup)
    assert profile == neardup.compute_profile(markup)
    if words is not None:
        assert " ".join(words) == ref.normalize_text(markup), markup
    return words is not None


def same_blocks(markup: str) -> None:
    new = [astuple(b) for b in neardup.blocks(markup)]
    assert new == [astuple(b) for b in ref.blocks(markup)], markup


# --- generated markup ---------------------------------------------------------------------

WORDS = [
    "the", "story", "Read", "more", "at", "Subscribe", "newsletter", "copyright", "©", "2026",
    "12.5", "3,400", "Home", "|", "News", "•", "»", "...", "…", "(c)", "Reporting", "by",
    "Editing", "related:", "Tags:", "photo:", "ſubscribe", "İ", "ı", "K", "ß", "ﬁ", "é", "É",
    "e\u0301", "Ω", "Σ", "ΟΔΟΣ", "x_y", "a-b", "don't", "“quoted”", "—", "ª", "²", "¼",
    "\u00a0", "\u2009", "\t", "\n", "\v", "\x1c", "&amp;", "&lt;", "&#39;", "&nbsp;", "&amp",
    "&#x41;", "&bogus;", "&", "&#", ">", "<", "< p>", "</>", "\u0130stanbul", "CLICK HERE",
    "all rights reserved", "skip to content", "you may also like", "more from the",
]  # fmt: skip
TAGS = ["p", "P", "div", "a", "A", "nav", "li", "ul", "br", "span", "h1", "em", "figure",
        "script", "style", "Script", "x-y", "td", "blockquote", "footer", "header"]  # fmt: skip
ATTRS = [' href="/x"', " class='c'", " title=\"a>b\"", " title=\"a<b\"", " id=x", " hidden",
         ' data-x = "1"', ' a="1"b="2"', " =x", ' href="x"/', "/", " /", "\v", "\x00",
         ' onclick="a/b"', ' title=""']  # fmt: skip
OTHER = ["<!-- c -->", "<!doctype html>", "<?pi?>", "<![CDATA[x]]>", "</p >", "</ p>", "<p\n>",
         "</a\tx>", "<br/>", "<br />", "<img src=\"x\"/>", "<a href=x/>", "<p", "</p"]  # fmt: skip


@st.composite
def markup(draw: st.DrawFn) -> str:
    pieces: list[str] = []
    for _ in range(draw(st.integers(0, 40))):
        kind = draw(st.integers(0, 9))
        if kind <= 3:
            pieces.append(" ".join(draw(st.lists(st.sampled_from(WORDS), max_size=8))))
        elif kind <= 5:
            tag = draw(st.sampled_from(TAGS))
            attrs = "".join(draw(st.lists(st.sampled_from(ATTRS), max_size=3)))
            close = draw(st.sampled_from([">", "/>", " >", " />"]))
            pieces.append(f"<{tag}{attrs}{close}")
        elif kind <= 7:
            pieces.append(f"</{draw(st.sampled_from(TAGS))}>")
        elif kind == 8:
            pieces.append(draw(st.sampled_from(OTHER)))
        else:
            pieces.append(draw(st.text(max_size=12)))
    return "".join(pieces)


@settings(max_examples=600, deadline=None)
@given(markup())
def test_blocks_and_profiles_are_those_of_the_reference_code(text: str) -> None:
    same_blocks(text)
    same_profile(text)
    same_text_words(text)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_blocks_of_any_text_are_those_of_the_reference_code(text: str) -> None:
    same_blocks(text)
    same_profile(text)
    same_text_words(text)


def test_labelled_pairs_and_long_bodies_match_the_reference_code() -> None:
    rng = random.Random(5)
    bodies = [*BODIES, *(" ".join(rng.sample(BODIES, 3)) for _ in range(20))]
    for body in bodies:
        same_blocks(body)
        same_profile(body)
    # Not vacuous: sanitized bodies take the fast tokenizer, and most give their words.
    assert all(neardup._fast_blocks(b) is not None for b in BODIES)
    assert sum(map(same_text_words, bodies)) > 0.8 * len(bodies)


def test_derived_fingerprints_are_those_of_the_whole_body() -> None:
    for article in pair_articles():
        d = derive(article)
        assert d.fingerprint == body_fingerprint(article.content_html)
        assert d.profile == neardup.compute_profile(article.content_html)


PLAIN_PIECES = ["x", "é", "Yé", "9", " ", ".", "\n", "&amp;", "&#233;", "&gt;", ">", "_"]
PLAIN_TAGS = ["<b>", "</b>", "<p>", "</p>", '<a href="/x">', "</a>", "<nav>", "</nav>", "<br/>",
              '<b title="a>b">', '<i title="c<d">', "</i>"]  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(PLAIN_PIECES + PLAIN_TAGS), max_size=30).map("".join))
def test_the_words_that_come_with_the_profile_are_those_of_normalize_text(text: str) -> None:
    # Plain text and tags, where they mostly do come: a tag that splits a word ("x<b>x" is
    # one word in a block and two in normalize_text), skipped elements, "_", ">" in an
    # attribute value (where normalize_text's tag pattern ends the tag) must be noticed.
    same_text_words(text)
    same_text_words(f"<p>{text}</p>")


def test_skipped_text_keeps_its_place_among_the_words() -> None:
    # A figure or nav is no content for the profile, but normalize_text reads it in place.
    for markup in (
        "<nav>bar</nav><p>foo</p>",
        '<p>a</p>\n<figure><img src="x"><figcaption>b c</figcaption></figure>\n<p>d</p>',
        "<p>a</p><aside>b</aside>",
        "<p>one</p><footer>two</footer><p>three</p><nav>four</nav>",
    ):
        assert same_text_words(markup), markup
    # Skipped text in the middle of a block: its words are not in one piece.
    assert not same_text_words("<p>x <figure>y</figure> z</p>")


def test_whitespace_stays_whitespace_for_normalize_text() -> None:
    """Blocks drop every whitespace character (str.split); normalize_text keeps NFKC of it,
    case-folded: that must hold no word character."""
    word = re.compile(r"[^\W_]")
    for cp in range(sys.maxunicode + 1):
        c = chr(cp)
        if c.isspace():
            assert not word.search(unicodedata.normalize("NFKC", c).casefold()), hex(cp)


@settings(max_examples=800, deadline=None)
@given(
    st.lists(st.sampled_from(WORDS), max_size=70).map(" ".join),
    st.integers(0, 400),
)
def test_boilerplate_verdicts_are_those_of_the_reference_code(text: str, links: int) -> None:
    text = " ".join(text.split())
    block = neardup.Block(text, links)
    assert neardup.is_boilerplate(block) == ref.is_boilerplate(block)
    assert neardup._matches_boilerplate(text) == (neardup._BOILERPLATE_RE.search(text) is not None)


SAMPLES = [
    "Read more at The Courier", "READ THE FULL STORY", "Continues reading", "Full report",
    "Originally published here", "This story was first", "Click HERE", "It ends…",
    "It ends ...", "[ … ]", "ſubscribe now", "Our NEWSLETTER", "Sign up", "signed up",
    "Follow us", "Share this", "Advertisement", "SPONSORED", "Download the app", "© 2026",
    "(C) 2026", "Copyright", "All Rights Reserved", "may not be redistributed",
    "Related stories:", "More from our desk", "Latest in the", "You might also like",
    "Most viewed", "Skip to main content", "Tags: a", "Photo: AP", "Reporting by X",
    "Editing by Y", "Writing by Z", "Additional reporting", "contributed to this report",
    "Ｒead more", "read\u00a0more", "rEAD mORE", "Kopyright", "fılm",
]  # fmt: skip


def test_every_boilerplate_pattern_is_still_found() -> None:
    for text in SAMPLES:
        assert neardup._matches_boilerplate(text) == (
            neardup._BOILERPLATE_RE.search(text) is not None
        ), text
    assert sum(neardup._matches_boilerplate(t) for t in SAMPLES) >= 35


def test_case_folding_of_the_literal_checks_is_what_re_ignorecase_matches() -> None:
    """For every code point: if re.IGNORECASE lets it match an ASCII letter, the fold maps it
    to that letter; nothing matches a needed literal's other characters but themselves."""
    letter = re.compile("[a-z]", re.IGNORECASE)
    others = sorted(
        {c for needs in neardup._PATTERN_NEEDS for lit in needs for c in lit if not c.isalpha()}
    )
    other = re.compile("[" + re.escape("".join(others)) + "]", re.IGNORECASE)
    for cp in range(sys.maxunicode + 1):
        c = chr(cp)
        if letter.fullmatch(c):
            folded = c.translate(neardup._FOLD)
            assert len(folded) == 1 and "a" <= folded <= "z", hex(cp)
            assert re.fullmatch(folded, c, re.IGNORECASE), hex(cp)
        elif other.fullmatch(c):
            assert c in others, hex(cp)
    assert all(lit == lit.lower() for needs in neardup._PATTERN_NEEDS for lit in needs)


def test_str_split_and_re_agree_on_whitespace() -> None:
    space = re.compile(r"\s")
    for cp in range(sys.maxunicode + 1):
        c = chr(cp)
        assert c.isspace() == bool(space.fullmatch(c)), hex(cp)


def test_plain_characters_compose_with_nothing() -> None:
    """NFKC leaves any pair of ASCII and plain characters as it is (so it leaves whole texts
    of them alone), and their case behaves as the fast path assumes."""
    alphabet = [chr(c) for c in range(0x20, 0x7F)] + list(neardup.PLAIN_CHARS)
    assert "é" in neardup.PLAIN_CHARS and "“" in neardup.PLAIN_CHARS
    assert "ß" not in neardup.PLAIN_CHARS and "İ" not in neardup.PLAIN_CHARS
    for a in alphabet:
        for b in alphabet:
            assert unicodedata.normalize("NFKC", a + b) == a + b, (a, b)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.text(alphabet="ab" + neardup.PLAIN_CHARS[:40] + " .,&;Ç", min_size=1, max_size=6),
        max_size=60,
    ).map(" ".join)
)
def test_plain_text_gives_the_words_of_the_reference_code(text: str) -> None:
    assert neardup._content_words(f"<p>{text}</p>")[1] == [
        w for block in ref.content_blocks(f"<p>{text}</p>") for w in ref.words(block)
    ]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", "d", "é", "x_y", "9"]), max_size=40))
def test_shingle_hashes_are_those_of_the_rolling_hash(tokens: list[str]) -> None:
    assert neardup.shingle_hashes(tokens) == ref.shingle_hashes(tokens)


def test_word_tables_are_bounded_and_refilled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(neardup, "_WORD_TABLES_MAX", 3)
    tokens = [f"w{i}" for i in range(40)]
    for _ in range(3):
        assert neardup.shingle_hashes(tokens) == ref.shingle_hashes(tokens)
        assert len(neardup._WORD_SLOTS) <= 40


def test_shingle_hashes_of_long_texts_are_those_of_the_rolling_hash() -> None:
    # Around and beyond the number of words the precomputed slot masks cover.
    rng = random.Random(8)
    vocabulary = [f"w{i}" for i in range(300)] + ["é", "x_y", "9", ""]
    for n in (4, 5, 6, 400, 4095, 4096, 4099, 4100, 4101, 9000):
        tokens = rng.choices(vocabulary, k=n)
        assert neardup.shingle_hashes(tokens) == ref.shingle_hashes(tokens), n


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(0, 5 * (1 << 122) - 1),
            st.sampled_from([0, M61, 2 * M61, 5 * M61, (1 << 125) - 1, 1 << 61, (1 << 122) - 1]),
        ),
        min_size=1,
        max_size=30,
    ),
    st.integers(0, 4),
)
def test_slot_reduction_is_the_remainder_in_every_slot(sums: list[int], extra: int) -> None:
    # Each value is a possible unreduced shingle sum (< 5 * 2^122, as five products of two
    # 61-bit numbers are), including multiples of 2^61 - 1, which must come out as 0; the
    # ``extra`` slots above the counted ones must not disturb them.
    packed = sum(v << (128 * i) for i, v in enumerate(sums))
    count = len(sums) - min(extra, len(sums) - 1)
    assert neardup._reduce_slots(packed, count) == frozenset(v % M61 for v in sums[:count])


@settings(max_examples=300, deadline=None)
@given(
    st.frozensets(st.integers(0, (1 << 61) - 2), max_size=400),
    st.integers(1, 40),
)
def test_smallest_is_the_head_of_the_sorted_values(values: frozenset[int], k: int) -> None:
    assert neardup.smallest(values, k) == tuple(sorted(values)[:k])


def test_smallest_of_spread_values() -> None:
    rng = random.Random(1)
    for n in (0, 1, 23, 24, 97, 100, 500, 5000):
        values = frozenset(rng.randrange((1 << 61) - 1) for _ in range(n))
        assert neardup.smallest(values, 24) == tuple(sorted(values)[:24])


# --- derived values: computed once, on the parse workers ----------------------------------


def pair_articles() -> list[Article]:
    out = []
    for i, p in enumerate(PAIRS[:60]):
        for side in "ab":
            s = p[side]
            out.append(Article(key=f"{i}{side}", title=s["title"], content_html=s["html"],
                               link=s["link"], original_id=s["id"]))  # fmt: skip
    return out


def test_plan_with_derived_values_decides_as_without() -> None:
    articles = pair_articles()
    derived = derive_all(articles)
    assert lookup_for(articles, derived=derived) == lookup_for(articles)
    with_derived = plan("s", articles, Existing(), NOW, feed_id="tag:t,2026:f", derived=derived)
    assert with_derived == plan("s", articles, Existing(), NOW, feed_id="tag:t,2026:f")
    with pytest.raises(ValueError, match="derived values"):
        plan("s", articles, Existing(), NOW, feed_id="tag:t,2026:f", derived=derived[1:])


def test_feed_files_come_with_their_derived_values(tmp_path: Path) -> None:
    from feedsvc.dedup import DEFAULT_URL_RULES

    paths = []
    for n in range(3):
        items = [
            {"title": f"T{n}{i}", "link": f"https://a.example/{n}/{i}?utm_source=x",
             "guid": f"g{n}{i}", "description": BODIES[(n * 7 + i) % len(BODIES)]}
            for i in range(5)
        ]  # fmt: skip
        path = tmp_path / f"f{n}.xml"
        path.write_bytes(rss(items))
        paths.append(str(path))
    alone = read_feed_file(paths[0], None, DEFAULT_URL_RULES)
    assert alone.parsed is not None and alone.derived is not None
    assert list(alone.derived) == [derive(a) for a in alone.parsed.articles]
    assert read_feed_file(paths[0]).derived is None  # without rules: not computed
    pooled = list(read_feed_files([(p, None) for p in paths], workers=2, min_pool_bytes=0,
                                  rules=DEFAULT_URL_RULES))  # fmt: skip
    for got in pooled:
        assert got.parsed is not None and got.derived is not None
        assert list(got.derived) == [derive(a) for a in got.parsed.articles]


# --- storage: the batched candidate lookup, rows written with their ids -------------------


def test_batched_postings_are_the_per_key_lookups(tmp_path: Path) -> None:
    rng = random.Random(3)
    with Store(tmp_path / "db.sqlite3") as store:
        keys = [rng.randrange(1 << 60) for _ in range(130)]
        rows = [(k, e) for k in keys for e in rng.sample(range(1, 500), rng.choice([1, 3, 90]))]
        asked = frozenset([*keys[:100], 12345, 67890])  # two keys nobody has
        with store.transaction() as run_:
            run_.db.conn.executemany("INSERT OR IGNORE INTO dedup_keys VALUES (?, ?)", rows)
            batched = run_.postings(asked)
        conn = store.db.conn
        single = {}
        for key in asked:
            found = [r[0] for r in conn.execute(POSTINGS_SQL, [key, POSTINGS_LIMIT])]
            if found:
                single[key] = found
        assert batched == single
        assert max(len(v) for v in batched.values()) == POSTINGS_LIMIT
        plan_rows = conn.execute(
            "EXPLAIN QUERY PLAN " + POSTINGS_BATCH_SQL,
            [v for k in range(POSTINGS_BATCH) for v in (k, POSTINGS_LIMIT)],
        ).fetchall()
    details = " ".join(str(r[-1]) for r in plan_rows)
    assert "SEARCH dedup_keys USING PRIMARY KEY (key=?)" in details, details
    assert "SCAN dedup_keys" not in details and "TEMP B-TREE" not in details, details


def test_new_rows_carry_their_story_and_sketch(tmp_path: Path) -> None:
    """Rows are inserted with the id SQLite would give them, a new story's story_id is its
    own id, a copy's is its story's, and entries.sketch lists exactly its dedup_keys."""
    story = BODIES[0]
    (tmp_path / "a.xml").write_bytes(rss([
        {"title": "A", "link": "https://a.example/1", "guid": "a1", "description": story},
        {"title": "B", "link": "https://a.example/2", "guid": "a2", "description": BODIES[3]},
    ]))  # fmt: skip
    (tmp_path / "b.xml").write_bytes(rss([
        {"title": "A", "link": "https://a.example/1?utm_source=b", "guid": "b1",
         "description": story},
    ]))  # fmt: skip
    config = write_config(
        tmp_path,
        f"""
        [[sources]]
        name = "a"
        path = "{tmp_path / "a.xml"}"
        [[sources]]
        name = "b"
        path = "{tmp_path / "b.xml"}"
        """,
    )
    assert run(config, "ingest").exit_code == 0
    db = tmp_path / "db/feedsvc.sqlite3"
    rows = db_rows(db, "SELECT id, source, key, story_id, sketch FROM entries ORDER BY id")
    assert [r[0] for r in rows] == [1, 2, 3]
    by_key = {r[2]: r for r in rows}
    assert by_key["a1"][3] == by_key["a1"][0] and by_key["a2"][3] == by_key["a2"][0]
    assert by_key["b1"][3] == by_key["a1"][0]
    conn = sqlite3.connect(db)
    try:
        for entry_id, *_, sketch in rows:
            keys = sorted(r[0] for r in conn.execute(
                "SELECT key FROM dedup_keys WHERE entry_id = ?", [entry_id]))  # fmt: skip
            assert sorted(json.loads(sketch)) == keys and len(keys) == neardup.SKETCH_SIZE
    finally:
        conn.close()


def test_fetched_feeds_parsed_on_workers_are_stored_as_parsed_inline(
    tmp_path: Path, feed_server: Any
) -> None:
    """Enough URL sources to parse their bodies on worker processes: what is stored (and
    the failure of a body that is not a feed) equals what parsing on the main thread gives."""
    from feedsvc.pipeline import MIN_POOL_FEEDS

    names = []
    for n in range(MIN_POOL_FEEDS + 2):
        items = [
            {"title": f"T{n}-{i}", "link": f"https://a.example/{n}/{i}", "guid": f"g{n}-{i}",
             "description": BODIES[(n * 3 + i) % 40]}  # copies across feeds: dedup works
            for i in range(4)
        ]  # fmt: skip
        feed_server.add(f"/f{n}.xml", rss(items), headers={"Content-Type": "application/rss+xml"})
        names.append(f"f{n}")
    feed_server.add("/bad.xml", b"this is not a feed", headers={"Content-Type": "text/plain"})
    names.append("bad")
    sources = "".join(
        f'[[sources]]\nname = "{name}"\nurl = "{feed_server.url(f"/{name}.xml")}"\n'
        for name in names
    )
    tables = []
    for workers in (1, 2):
        root = tmp_path / f"w{workers}"
        root.mkdir()
        config = write_config(root, sources, f"[ingest]\nparse_workers = {workers}\n")
        result = run(config, "ingest")
        assert result.exit_code == 1  # the bad feed
        db = root / "db/feedsvc.sqlite3"
        rows = db_rows(db, "SELECT id, story_id, source, key, content_hash, sketch FROM entries")
        stories: dict[int, set[tuple[str, str]]] = {}
        for _, story, source, key, *_ in rows:
            stories.setdefault(story, set()).add((source, key))
        # Feeds are stored in the order their fetches finish: which copy heads a story may
        # differ from run to run, what is stored and which entries are one story may not.
        tables.append(
            (
                sorted(tuple(r[2:]) for r in rows),
                sorted(sorted(group) for group in stories.values()),
                db_rows(db, "SELECT name, last_error FROM sources ORDER BY name"),
            )
        )
    assert tables[0] == tables[1]
    entries, stories_, errors = tables[1]
    assert len(entries) == 4 * (MIN_POOL_FEEDS + 2)
    assert len(stories_) < len(entries)  # copies across feeds were merged
    assert "not a feed" in dict(errors)["bad"]
