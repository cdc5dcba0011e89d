"""Property tests (hypothesis) on the pure core, beyond the examples of test_dedup.py and
test_config.py: URL canonicalisation, identity keys, dedup plans (re-ingesting never makes a
second row), dates, and config parsing (only ConfigError, always naming a key)."""

from __future__ import annotations

import email.utils
import string
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from feedsvc.articles import parse_article
from feedsvc.config import parse_config
from feedsvc.dedup import (
    Existing,
    canonical_url,
    content_hash,
    derive_atom_id,
    fingerprint,
    hash_key,
    is_front_page,
    lookup_for,
    plan,
)
from feedsvc.errors import ConfigError, SourceError
from feedsvc.models import Article, Insert, StoredEntry, Unchanged, Update
from feedsvc.parse import parse_feed
from feedsvc.storage import iso, parse_iso

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- URLs --------------------------------------------------------------------------------------

hosts = st.one_of(
    st.from_regex(r"[A-Za-z0-9-]{1,12}(\.[A-Za-z0-9-]{1,12}){0,3}\.?", fullmatch=True),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12),
    st.sampled_from(["[::1]", "127.0.0.1", "bücher.example", "EXAMPLE.COM", ".", "..", "a..b"]),
)
segments = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=8),
    st.sampled_from([".", "..", "%2e%2e", "%7E", "%2f", "%", "%zz", "a b", "~user"]),
)
params = st.tuples(
    st.one_of(
        st.sampled_from(["utm_source", "UTM_Medium", "fbclid", "gclid", "ref", "a", "b"]),
        st.text(string.ascii_letters, min_size=1, max_size=5),
    ),
    st.text(max_size=6),
)


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https", "ftp", "javascript", ""]))
    port = draw(st.one_of(st.none(), st.integers(0, 70000).map(str), st.just("x")))
    path = "/".join(draw(st.lists(segments, max_size=5)))
    query = "&".join(f"{k}={v}" for k, v in draw(st.lists(params, max_size=4)))
    fragment = draw(st.one_of(st.none(), st.text(max_size=5)))
    url = f"{scheme}://{draw(hosts)}{':' + port if port else ''}/{path}"
    if query:
        url += "?" + query
    if fragment is not None:
        url += "#" + fragment
    return url


@FAST
@given(st.one_of(urls(), st.text(max_size=40)))
def test_canonical_url_never_raises_and_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    if once is None:
        return
    assert once.startswith("https://") and "#" not in once
    assert canonical_url(once) == once
    query = once.partition("?")[2]
    keys = [kv.split("=", 1)[0].lower() for kv in query.split("&") if kv]
    assert not any(k.startswith("utm_") or k in ("fbclid", "gclid") for k in keys)


@st.composite
def web_urls(draw: st.DrawFn) -> str:
    """http(s) URLs with an ASCII host, most of which have a canonical form."""
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "hTTps"]))
    host = draw(st.from_regex(r"[A-Za-z0-9]{1,10}(\.[A-Za-z0-9-]{1,10}){0,3}", fullmatch=True))
    port = draw(st.one_of(st.none(), st.integers(1, 65535)))
    path = "/".join(draw(st.lists(segments, max_size=4)))
    query = "&".join(f"{k}={v}" for k, v in draw(st.lists(params, max_size=3)))
    url = f"{scheme}://{host}{f':{port}' if port else ''}/{path}"
    return url + (f"?{query}" if query else "") + draw(st.sampled_from(["", "#", "#top"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(web_urls())
def test_canonical_url_ignores_scheme_case_host_case_and_fragment(url: str) -> None:
    once = canonical_url(url)
    assume(once is not None and url == url.strip())  # surrounding blanks are trimmed first
    parts = urlsplit(url)
    prefix = f"{parts.scheme}://{parts.netloc}"
    assume(url.startswith(prefix))
    rest = url[len(prefix) :].split("#", 1)[0]
    assume(rest == rest.rstrip())  # a blank before "#" would become the URL's end
    ascii_upper = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)
    variant = f"{parts.scheme.upper()}://{parts.netloc.translate(ascii_upper)}{rest}#other"
    assert canonical_url(variant) == once


# --- identity keys -----------------------------------------------------------------------------

names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20)


@FAST
@given(names, names, names, names)
def test_derived_atom_ids_are_stable_valid_and_distinct(
    source: str, key: str, other_source: str, other_key: str
) -> None:
    a = derive_atom_id("tag:x,2026:f", source, key)
    assert a == derive_atom_id("tag:x,2026:f", source, key)
    assert a.startswith("urn:uuid:") and len(a) == len("urn:uuid:") + 36
    if (source, key) != (other_source, other_key):
        assert a != derive_atom_id("tag:x,2026:f", other_source, other_key)


@FAST
@given(
    st.text(max_size=30),
    st.one_of(st.none(), st.datetimes(timezones=st.just(UTC))),
    st.text(max_size=30),
)
def test_hash_keys(title: str, date: datetime | None, content: str) -> None:
    key = hash_key(title, date, content)
    assert key.startswith("sha256:") and len(key) == 71
    assert key == hash_key(title, date, content)
    assert hash_key(title + "x", date, content) != key


@st.composite
def rss_items(draw: st.DrawFn) -> str:
    parts = []
    if draw(st.booleans()):
        parts.append(f"<guid>{draw(st.sampled_from(['g1', 'g2', 'tag:x,2026:3', '']))}</guid>")
    if draw(st.booleans()):
        parts.append(f"<link>https://e.example/{draw(st.integers(0, 3))}</link>")
    if draw(st.booleans()):
        parts.append(f"<title>{draw(st.sampled_from(['A', 'B', '', 'A &amp; B']))}</title>")
    if draw(st.booleans()):
        parts.append(
            f"<pubDate>{draw(st.sampled_from(['Mon, 02 Nov 2026 10:00:00 GMT', 'junk']))}</pubDate>"
        )
    parts.append(f"<description>{draw(st.sampled_from(['x', 'y', '']))}</description>")
    return "<item>" + "".join(parts) + "</item>"


@FAST
@given(st.lists(rss_items(), max_size=6))
def test_every_parsed_entry_has_an_identity_and_repeats_are_reported(items: list[str]) -> None:
    doc = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        + "".join(items)
        + "</channel></rss>"
    ).encode()
    parsed = parse_feed(doc, origin="gen.xml")
    keys = [a.key for a in parsed.articles]
    assert all(keys)
    assert parse_feed(doc, origin="gen.xml") == parsed  # deterministic
    if len(set(keys)) < len(keys):
        assert any("share the identity" in w for w in parsed.warnings)


# --- dedup plans -------------------------------------------------------------------------------

words = st.lists(
    st.sampled_from(["alpha", "beta", "gamma", "delta", "rain", "ferry", "vote"]),
    min_size=0,
    max_size=40,
)


@st.composite
def articles(draw: st.DrawFn) -> Article:
    key = draw(st.sampled_from([f"k{i}" for i in range(8)]))
    body = " ".join(draw(words))
    return Article(
        key=key,
        title=draw(st.sampled_from(["Same", "Other", ""])),
        content_html=f"<p>{body}</p>" if body else "",
        link=draw(
            st.one_of(
                st.none(),
                st.sampled_from(
                    [
                        "https://n.example/1",
                        "http://N.example:80/1?utm_source=x",
                        "https://n.example/",
                        "https://n.example/2#c",
                    ]
                ),
            )
        ),
        original_id=draw(st.one_of(st.none(), st.sampled_from(["tag:n,2026:1", "12", "urn:x:2"]))),
        published=draw(st.one_of(st.none(), st.just(NOW - timedelta(days=1)))),
    )


class Model:
    """An in-memory stand-in for storage that applies intents the way storage.py does."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], StoredEntry] = {}
        self.next_id = 1

    def existing(self, source: str, batch: Sequence[Article]) -> Existing:
        lookup = lookup_for(batch)
        by_id: dict[str, StoredEntry] = {}
        by_link: dict[str, StoredEntry] = {}
        by_fp: dict[str, StoredEntry] = {}
        for e in sorted(self.rows.values(), key=lambda e: e.id):
            if e.atom_id in lookup.original_ids:
                by_id.setdefault(e.atom_id, e)
            if e.canonical_link in lookup.links:
                by_link.setdefault(e.canonical_link or "", e)
            if e.fingerprint in lookup.fingerprints:
                by_fp.setdefault(e.fingerprint or "", e)
        return Existing(
            by_key={k: e for (s, k), e in self.rows.items() if s == source and k in lookup.keys},
            by_original_id=by_id,
            by_link=by_link,
            by_fingerprint=by_fp,
            taken_atom_ids=frozenset(e.atom_id for e in self.rows.values()),
        )

    def apply(self, source: str, intents: Sequence[Any], now: datetime) -> None:
        ids: dict[str, int] = {}
        for intent in intents:
            if isinstance(intent, Insert):
                story = intent.story_of
                if story is None and intent.story_of_key is not None:
                    story = ids[intent.story_of_key]
                entry_id = self.next_id
                self.next_id += 1
                key = (source, intent.article.key)
                assert key not in self.rows, "an Insert for a stored key"
                self.rows[key] = StoredEntry(
                    entry_id,
                    source,
                    intent.article.key,
                    intent.atom_id,
                    story or entry_id,
                    intent.content_hash,
                    intent.canonical_link,
                    intent.fingerprint,
                    intent.published,
                    intent.updated,
                    now,
                )
                ids[intent.article.key] = entry_id
            elif isinstance(intent, Update):
                key = (source, intent.article.key)
                old = self.rows[key]
                assert intent.updated > old.updated  # RFC 4287: updated must advance
                self.rows[key] = replace(
                    old,
                    content_hash=intent.content_hash,
                    updated=intent.updated,
                    canonical_link=intent.canonical_link,
                    fingerprint=intent.fingerprint,
                )
                ids[intent.article.key] = old.id
            else:
                ids[intent.key] = intent.entry_id


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["s1", "s2"]), st.lists(articles(), max_size=6)),
        min_size=1,
        max_size=4,
    )
)
def test_plans_keep_one_row_per_identity_and_reingesting_changes_nothing(
    runs: list[tuple[str, list[Article]]],
) -> None:
    model = Model()
    for n, (source, batch) in enumerate(runs):
        now = NOW + timedelta(minutes=n)
        intents = plan(source, batch, model.existing(source, batch), now, feed_id="tag:f")
        assert [i.article.key if not isinstance(i, Unchanged) else i.key for i in intents] == list(
            dict.fromkeys(a.key for a in batch)
        )  # one intent per distinct key, first occurrence, in order
        inserted = [i for i in intents if isinstance(i, Insert)]
        atom_ids = [i.atom_id for i in inserted]
        assert len(set(atom_ids)) == len(atom_ids)
        assert not set(atom_ids) & {e.atom_id for e in model.rows.values()}
        roots = {i.article.key for i in inserted if i.story_of is None and i.story_of_key is None}
        for i in inserted:
            if i.story_of_key is not None:
                assert i.story_of_key in roots
            if i.story_of is not None or i.story_of_key is not None:
                assert i.rule is not None
            if i.canonical_link and is_front_page(i.canonical_link) and i.rule is not None:
                assert i.rule.value != "same-link"  # front pages never merge stories
        model.apply(source, intents, now)
        # The same batch again: every entry is unchanged, nothing is inserted twice.
        again = plan(source, batch, model.existing(source, batch), now, feed_id="tag:f")
        assert all(isinstance(i, Unchanged) for i in again)
    assert len(model.rows) == len({(s, a.key) for s, b in runs for a in b})


@FAST
@given(articles(), st.text(max_size=10))
def test_content_hash_sees_every_published_change(article: Article, title: str) -> None:
    assume(title != article.title)
    assert content_hash(replace(article, title=title)) != content_hash(article)
    assert content_hash(article) == content_hash(replace(article, origin="elsewhere"))
    fp = fingerprint(article)
    assert fp is None or fp == fingerprint(replace(article, title=title))  # titles never count


# --- dates -------------------------------------------------------------------------------------

aware = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.builds(lambda m: timezone(timedelta(minutes=m)), st.integers(-14 * 60, 14 * 60)),
)


@FAST
@given(aware)
def test_stored_dates_round_trip_as_utc_seconds(d: datetime) -> None:
    back = parse_iso(iso(d))
    assert back.tzinfo == UTC
    assert back == d.replace(microsecond=0)


@FAST
@given(aware, st.sampled_from(["iso", "iso-space", "rfc2822", "date-only"]))
def test_front_matter_dates_are_aware_utc(d: datetime, form: str) -> None:
    d = d.replace(microsecond=0)
    text = {
        "iso": d.isoformat(),
        "iso-space": d.isoformat(sep=" "),
        "rfc2822": email.utils.format_datetime(d),
        "date-only": d.date().isoformat(),
    }[form]
    article = parse_article(f"---\ndate: {text}\n---\nBody.\n".encode(), "a.md", origin="a.md")
    assert article.published is not None and article.published.tzinfo == UTC
    if form == "date-only":
        assert article.published == datetime(d.year, d.month, d.day, tzinfo=UTC)
    else:
        assert article.published == d


@FAST
@given(aware)
def test_feed_dates_are_aware_utc(d: datetime) -> None:
    d = d.replace(microsecond=0)
    doc = (
        '<rss version="2.0"><channel><title>T</title><item><guid>g</guid>'
        f"<pubDate>{email.utils.format_datetime(d)}</pubDate></item></channel></rss>"
    ).encode()
    (article,) = parse_feed(doc, origin="d.xml").articles
    assert article.published == d.astimezone(UTC)


@FAST
@given(st.text(max_size=40))
def test_garbage_dates_never_raise_anything_but_a_source_error(value: str) -> None:
    assume("\n" not in value and "\r" not in value and "'" not in value)
    try:
        article = parse_article(f"---\ndate: '{value}'\n---\nB\n".encode(), "a.md", origin="a.md")
    except SourceError as e:
        assert str(e).startswith("a.md: ")
    else:
        assert article.published is None or article.published.tzinfo == UTC


# --- config parsing ----------------------------------------------------------------------------

toml_values = st.recursive(
    st.one_of(
        st.booleans(),
        st.integers(-(2**63), 2**63 - 1),
        st.floats(allow_nan=False),
        st.text(max_size=12),
        st.datetimes(),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
section_keys = st.sampled_from(
    ["feed", "storage", "publish", "server", "fetch", "daemon", "sources", "feeds", "x"]
)
field_names = st.sampled_from(
    [
        "title",
        "id",
        "base_url",
        "max_entries",
        "path",
        "url",
        "name",
        "interval",
        "port",
        "enabled",
        "timeout",
        "max_bytes",
        "watch",
        "hub",
        "titel",
        "bogus",
    ]
)


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for section in draw(st.lists(section_keys, max_size=4, unique=True)):
        if section == "sources":
            raw[section] = draw(
                st.lists(
                    st.one_of(st.dictionaries(field_names, toml_values, max_size=4), toml_values),
                    max_size=3,
                )
            )
        else:
            raw[section] = draw(
                st.one_of(st.dictionaries(field_names, toml_values, max_size=4), toml_values)
            )
    return raw


@settings(max_examples=300, deadline=None)
@given(configs())
def test_config_parsing_raises_only_config_errors_naming_a_key(raw: dict[str, Any]) -> None:
    try:
        config = parse_config(raw, Path("/nonexistent-base"))
    except ConfigError as e:
        message = str(e)
        assert message and ":" in message
        head = message.split(":", 1)[0]
        assert head.split(".")[0].split("[")[0] in {*raw, "sources"} or head in raw, message
    else:
        assert len({s.name for s in config.sources}) == len(config.sources)
        for s in config.sources:
            assert s.interval_seconds >= 1
