"""The pure dedup core: canonical URLs, text normalization, and plan() decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedsvc.dedup import (
    Existing,
    canonical_url,
    derive_atom_id,
    fingerprint,
    is_front_page,
    is_republishable_id,
    lookup_for,
    normalize_text,
    plan,
)
from feedsvc.models import Article, DupRule, Insert, StoredEntry, Unchanged, Update

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
LONG = " ".join(f"word{i}" for i in range(40))


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://Example.COM/a", "https://example.com/a"),
        ("http://example.com:80/a", "https://example.com/a"),
        ("https://example.com:443/a#frag", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com", "https://example.com/"),
        (
            "https://example.com/a?utm_source=x&b=2&a=1&fbclid=z&gclid=q",
            "https://example.com/a?a=1&b=2",
        ),
        ("https://example.com/%7Euser/a%2fb", "https://example.com/~user/a%2Fb"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("https://bücher.example/x", "https://xn--bcher-kva.example/x"),
        ("ftp://example.com/a", None),
        ("not a url", None),
        ("", None),
        (None, None),
        ("http://[::1", None),
        ("http://.", None),
    ],
)
def test_canonical_url(url: str | None, canonical: str | None) -> None:
    assert canonical_url(url) == canonical


@given(
    st.from_regex(
        r"https?://[a-zA-Z0-9.-]{1,20}(:[0-9]{1,5})?(/[a-zA-Z0-9%._~/-]{0,20})?"
        r"(\?[a-z_=&0-9]{0,20})?(#[a-z]{0,5})?",
        fullmatch=True,
    )
)
def test_canonical_url_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    if once is not None:
        assert canonical_url(once) == once


def test_front_page_links_never_merge() -> None:
    assert is_front_page("https://example.com/")
    assert not is_front_page("https://example.com/a")


def test_normalize_text() -> None:
    assert normalize_text("<p>Hello,  <b>World</b>!</p>\n&amp; “more”—text") == (
        "hello world more text"
    )
    assert normalize_text("ＦＵＬＬ width") == "full width"


def art(key: str, **kw: object) -> Article:
    defaults: dict[str, object] = {"title": key, "content_html": f"<p>{LONG} {key}</p>"}
    defaults.update(kw)
    return Article(key=key, **defaults)  # type: ignore[arg-type]


def stored(
    entry_id: int, key: str, article: Article, source: str = "s", story: int = 0
) -> StoredEntry:
    from feedsvc.dedup import content_hash

    return StoredEntry(
        id=entry_id,
        source=source,
        key=key,
        atom_id=f"urn:x:{entry_id}",
        story_id=story or entry_id,
        content_hash=content_hash(article),
        canonical_link=canonical_url(article.link),
        fingerprint=fingerprint(article),
        published=NOW - timedelta(days=1),
        updated=NOW - timedelta(days=1),
        first_seen=NOW - timedelta(days=1),
    )


def test_plan_new_unchanged_updated() -> None:
    a, b = art("a"), art("b")
    existing = Existing(by_key={"a": stored(1, "a", a), "b": stored(2, "b", art("b", title="old"))})
    intents = plan("s", [a, b, art("c")], existing, NOW, feed_id="urn:f")
    assert isinstance(intents[0], Unchanged) and intents[0].entry_id == 1
    assert isinstance(intents[1], Update) and intents[1].entry_id == 2
    assert intents[1].updated == NOW
    new = intents[2]
    assert isinstance(new, Insert) and new.story_of is None and new.rule is None
    assert new.published == NOW and new.updated == NOW
    assert new.atom_id == derive_atom_id("urn:f", "s", "c")


def test_update_always_advances_updated() -> None:
    old = stored(1, "a", art("a", title="old"))
    later = old.updated + timedelta(hours=1)
    # the feed claims an older 'updated' than stored, and the clock is behind: still advances
    intents = plan(
        "s",
        [art("a", updated=old.updated - timedelta(days=3))],
        Existing(by_key={"a": old}),
        old.updated - timedelta(days=2),
        feed_id="f",
    )
    assert isinstance(intents[0], Update) and intents[0].updated > old.updated
    intents = plan("s", [art("a", updated=later)], Existing(by_key={"a": old}), NOW, feed_id="f")
    assert isinstance(intents[0], Update) and intents[0].updated == later


def test_duplicates_join_the_existing_story() -> None:
    original = art("x", link="https://n.example/story")
    existing = Existing(
        by_link={"https://n.example/story": stored(7, "x", original, source="other", story=5)},
        by_fingerprint={fingerprint(art("t")) or "": stored(9, "t", art("t"), source="other")},
        by_original_id={"tag:n.example,2026:1": stored(11, "i", art("i"), source="other")},
    )
    intents = plan(
        "s",
        [
            art("k1", link="http://N.example:80/story?utm_medium=rss"),
            art("k2", content_html=f"<p>{LONG} t</p>", title="another title"),
            art("k3", original_id="tag:n.example,2026:1"),
            art("k4", title="t", content_html="<p>short</p>"),
        ],
        existing,
        NOW,
        feed_id="f",
    )
    got = [(i.story_of, i.rule) for i in intents if isinstance(i, Insert)]
    assert got == [
        (5, DupRule.SAME_LINK),
        (9, DupRule.SAME_TEXT),
        (11, DupRule.SAME_ID),
        (None, None),
    ]


def test_titles_and_short_texts_never_merge() -> None:
    a = art("a", title="Weather update", content_html="<p>Rain today.</p>")
    b = art("b", title="Weather update", content_html="<p>Rain today.</p>")
    intents = plan("s", [a, b], Existing(), NOW, feed_id="f")
    assert all(isinstance(i, Insert) and i.rule is None for i in intents)
    assert fingerprint(a) is None


def test_duplicates_within_one_run_and_repeated_keys() -> None:
    a = art("a", link="https://n.example/1")
    b = art("b", link="https://n.example/1#comments")  # the same text: one story
    c = art("c", link="https://n.example/1", content_html="<p>other words</p>")
    intents = plan("s", [a, b, c, art("a", title="repeat ignored")], Existing(), NOW, feed_id="f")
    assert len(intents) == 3
    second, third = intents[1], intents[2]
    assert isinstance(second, Insert) and second.story_of_key == "a"
    # One source giving one link to entries with different texts (a section page, say) is
    # not evidence of a copy: a false merge is worse than a missed one.
    assert isinstance(third, Insert) and third.story_of_key is None and third.rule is None


def test_front_page_link_is_not_a_duplicate() -> None:
    a = art("a", link="https://n.example/")
    other = " ".join(f"other{i}" for i in range(40))
    b = art("b", link="https://n.example/", content_html=f"<p>{other}</p>")
    intents = plan("s", [a, b], Existing(), NOW, feed_id="f")
    assert all(isinstance(i, Insert) and i.rule is None for i in intents)
    assert lookup_for([a]).links == frozenset()


def test_republished_ids() -> None:
    assert is_republishable_id("tag:example.org,2026:1")
    assert is_republishable_id("https://example.org/a")
    assert not is_republishable_id("12345")
    assert not is_republishable_id("has space:x")
    assert not is_republishable_id(None)
    a = art("g1", original_id="https://example.org/a")
    b = art("g2", original_id="https://example.org/a", content_html=f"<p>{LONG} other</p>")
    # an id already taken by another entry is not reused: the atom:id must stay unique
    intents = plan(
        "s", [a, b], Existing(taken_atom_ids=frozenset({"https://example.org/a"})), NOW, feed_id="f"
    )
    ids = [i.atom_id for i in intents if isinstance(i, Insert)]
    assert ids[0].startswith("urn:uuid:") and ids[0] != ids[1]
