"""Each speed-up of issue 8 gives exactly what the code it replaced gave.

The reference implementations below are the previous code, kept here so that the property tests
(hypothesis) compare the two on arbitrary input: a stored fingerprint or published title must
never change because feedsvc got faster.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import nh3
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsvc import sanitize
from feedsvc.dedup import canonical_url, normalize_text
from feedsvc.parse import parse_feed
from feedsvc.sanitize import clean_html, plain_title, text_title
from feedsvc.storage import iso, parse_iso

_NON_WORD_RE = re.compile(r"[\W_]+", re.UNICODE)
_TAG_RE = re.compile(r"<[^>]*>")


def reference_normalize_text(text: str) -> str:
    text = html.unescape(_TAG_RE.sub(" ", text))
    text = unicodedata.normalize("NFKC", text).casefold()
    return _NON_WORD_RE.sub(" ", text).strip()


def reference_clean_html(text: str, base_url: str | None = None) -> str:
    """clean_html as it was: one nh3.clean call with every option, per fragment."""
    from urllib.parse import urljoin

    url_relative: nh3.UrlRelative = "pass_through"
    if base_url:
        base = base_url

        def resolve(url: str) -> str | None:
            try:
                return urljoin(base, url)
            except ValueError:
                return None

        url_relative = resolve
    cleaned = nh3.clean(
        sanitize.remove_xml_invalid(text),
        tags=set(sanitize._TAGS),
        clean_content_tags=set(sanitize._CLEAN_CONTENT_TAGS),
        attributes={tag: set(names) for tag, names in sanitize._ATTRIBUTES.items()},
        attribute_filter=sanitize._attribute_filter,
        url_schemes=set(sanitize._URL_SCHEMES),
        url_relative=url_relative,
        strip_comments=True,
    )
    return cleaned.replace("&nbsp;", "\u00a0")


# Text that exercises the interesting classes: markup, entities, NBSP and other compatibility
# characters, underscores, digits in other scripts, combining marks, punctuation, whitespace.
interesting = st.lists(
    st.sampled_from(
        [
            *"aZ_9 \t\n<>/&;#.,!-'\"",
            *["\u00a0", "\u2009", "\u2028", "\ufb01", "\u2460", "\u0663", "\u0301", "\u00e9"],
            *["\u00bd", "\u212a", "\u0130", "\u00df", "\u3000", "\u2014", "\u201c", "&nbsp;"],
            *["&amp;", "&#8217;", "<p>", "</p>", "<br/>", "ǅ", "\u1e9e", "\u0345"],
        ]
    ),
    max_size=80,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(interesting)
def test_normalize_text_is_unchanged(text: str) -> None:
    assert normalize_text(text) == reference_normalize_text(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_normalize_text_is_unchanged_on_any_text(text: str) -> None:
    assert normalize_text(text) == reference_normalize_text(text)


@settings(max_examples=400, deadline=None)
@given(st.one_of(interesting, st.text(max_size=60)))
def test_plain_title_is_text_title_of_the_escaped_text(text: str) -> None:
    assert plain_title(text) == text_title(html.escape(text, quote=False))


html_fragments = st.lists(
    st.sampled_from(
        [
            "<p>",
            "</p>",
            "text ",
            '<a href="/rel/path?a=1&amp;b=2">l</a>',
            '<a href="javascript:alert(1)">x</a>',
            '<img src="data:image/png;base64,iVBOR=" onerror="x()">',
            '<img src="img.png" width="3">',
            "<script>bad()</script>",
            "<b>bold",
            "&nbsp;",
            "\u00a0",
            "<!-- c -->",
            '<a href="http://[::1">bad ipv6</a>',
            "<table><tr><td colspan=2>c</td></tr></table>",
            '<blockquote cite="javascript:x">q</blockquote>',
            "\x0c",
        ]
    ),
    max_size=12,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(html_fragments, st.sampled_from([None, "", "https://site.example/dir/page.html"]))
def test_reusable_cleaners_sanitize_exactly_as_one_shot_cleaning(
    fragment: str, base: str | None
) -> None:
    assert clean_html(fragment, base_url=base) == reference_clean_html(fragment, base)


def test_cleaning_the_corpus_html_is_unchanged(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import corpus as bench_corpus

    info = bench_corpus.generate(tmp_path, feeds=2, entries=10, seed=9)
    from lxml import etree

    checked = 0
    for path in info.files:
        for el in etree.parse(str(path)).iter():
            if el.tag in ("description", "{http://www.w3.org/2005/Atom}content") and el.text:
                for base in (None, "https://x.example/a/b"):
                    assert clean_html(el.text, base) == reference_clean_html(el.text, base)
                checked += 1
    assert checked >= 20
    # and through the whole parse, the stored bodies hash the same as before
    data = info.files[0].read_bytes()
    bodies = [a.content_html for a in parse_feed(data, origin="x").articles]
    assert all(hashlib.sha256(b.encode()).hexdigest() for b in bodies)


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(1000, 1, 1), timezones=st.just(UTC)))
def test_parse_iso_reads_back_iso(when: datetime) -> None:
    text = iso(when)
    assert parse_iso(text) == datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert parse_iso(text).tzinfo is UTC


def test_canonical_url_cache_answers_like_the_function() -> None:
    urls = ["https://A.example:443/x/../y?utm_source=z&b=1#f", "", "mailto:x@y", "http://h/"]
    first = [canonical_url(u) for u in urls]
    assert first == [canonical_url(u) for u in urls]
    assert first == ["https://a.example/y?b=1", None, None, "https://h/"]
