"""A bounded fuzz run over parse + normalise: mutated corpus files through the public parser
(:func:`feedsvc.parse.parse_feed`, whatever parser it uses inside), the dedup plan, and the
Atom renderer.

Seeds are the feedparser corpus (``../shared``), or this repository's test feeds when it is
absent. Mutations: byte flips, truncation, splices of two documents, repeated slices, and
hostile snippets (entities, CDATA ends, NUL and invalid UTF-8, deep nesting, huge attributes,
a BOM in the middle, a wrong encoding declaration). Each result must be a clean ParseError
naming the document, or a ParsedFeed whose entries have an identity, aware UTC dates and
sanitized HTML, and that plans and renders into well-formed Atom.

Deterministic: ``FEEDSVC_FUZZ_SEED`` (default 7) and ``FEEDSVC_FUZZ_BUDGET`` documents
(default 300; the README shows a longer run). A failure prints the seed and the document
number, and writes the document to the test's tmp folder.
"""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from feedsvc.dedup import Existing, plan
from feedsvc.errors import ParseError
from feedsvc.models import FeedSettings, Insert, PublishedEntry
from feedsvc.parse import parse_feed
from feedsvc.publish import render_atom

from conftest import DATA

SEED = int(os.environ.get("FEEDSVC_FUZZ_SEED", "7"))
BUDGET = int(os.environ.get("FEEDSVC_FUZZ_BUDGET", "300"))
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
SETTINGS = FeedSettings(id="tag:fuzz.example,2026:feed", title="Fuzz")

SNIPPETS = [
    b"&",
    b"&amp",
    b"&#0;",
    b"&#xD800;",
    b"&#99999999;",
    b"&nbsp;",
    b"]]>",
    b"<![CDATA[",
    b"\x00",
    b"\xff\xfe",
    b"\xc3\x28",
    b"\xef\xbb\xbf",
    b"<!--",
    b"<script>alert(1)</script>",
    b'<a href="javascript:alert(1)">x</a>',
    b'<img src=x onerror="alert(1)">',
    b"<" * 50,
    b"<div>" * 3000,
    b' x="' + b"A" * 100_000 + b'"',
    b'<?xml version="1.0" encoding="koi8-r"?>',
    b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>',
    b"<title>",
    b"</item>",
    b"<entry>",
    b"<item><title>injected</title></item>",
    "\u202e\u0000\ufffe".encode("utf-8", "surrogatepass"),
]


def seeds() -> list[tuple[str, bytes]]:
    root = Path(os.environ.get("FEEDSVC_SHARED", DATA.parents[2] / "shared")) / "corpus"
    files = sorted(p for p in (root / "feedparser").rglob("*.xml") if p.is_file())
    if not files:
        files = sorted(p for p in (DATA / "feeds").iterdir() if p.is_file())
    return [(p.name, p.read_bytes()) for p in files]


def mutate(rng: random.Random, data: bytes, other: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        at = rng.randint(0, len(out))
        if op == 0 and out:  # flip bytes
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(len(out))
                out[i] = rng.randrange(256)
        elif op == 1:  # truncate
            del out[at:]
        elif op == 2:  # splice another document in
            j = rng.randint(0, len(other))
            out[at:at] = other[j : j + rng.randint(1, 2000)]
        elif op == 3 and out:  # repeat a slice
            piece = bytes(out[at : at + rng.randint(1, 200)])
            out[at:at] = piece * rng.randint(2, 50)
        elif op == 4:  # a hostile snippet
            out[at:at] = rng.choice(SNIPPETS)
        else:  # delete a slice
            del out[at : at + rng.randint(1, 500)]
    return bytes(out)


def normalise(parsed_articles: tuple[object, ...], feed_title: str | None) -> bytes:
    """Plan the entries as new, build what would be published, and render it."""
    intents = plan("fuzz", list(parsed_articles), Existing(), NOW, feed_id=SETTINGS.id)  # type: ignore[arg-type]
    entries = [
        PublishedEntry(
            atom_id=i.atom_id,
            title=i.article.title,
            content_html=i.article.content_html,
            published=i.published,
            updated=i.updated,
            link=i.article.link,
            summary_html=i.article.summary_html,
            authors=i.article.authors,
            categories=i.article.categories,
            enclosures=i.article.enclosures,
            lang=i.article.lang,
            rights=i.article.rights,
        )
        for i in intents
        if isinstance(i, Insert)
    ]
    return render_atom(entries, SETTINGS)


def test_fuzz_parse_and_normalise(tmp_path: Path) -> None:
    corpus = seeds()
    if not corpus:
        pytest.skip("no seed documents")
    rng = random.Random(SEED)
    outcomes = {"parsed": 0, "rejected": 0, "entries": 0}
    for n in range(BUDGET):
        name, data = rng.choice(corpus)
        doc = mutate(rng, data, rng.choice(corpus)[1])
        origin = f"fuzz-{SEED}-{n}-{name}"
        try:
            try:
                parsed = parse_feed(
                    doc,
                    headers=rng.choice(
                        [
                            {},
                            {"content-type": "text/xml"},
                            {"content-type": "application/xml; charset=iso-8859-1"},
                        ]
                    ),
                    url=rng.choice([None, "https://fuzz.example/feed"]),
                    origin=origin,
                )
            except ParseError as e:
                assert origin in str(e)
                outcomes["rejected"] += 1
                continue
            outcomes["parsed"] += 1
            for article in parsed.articles:
                outcomes["entries"] += 1
                assert article.key
                for d in (article.published, article.updated):
                    assert d is None or d.tzinfo == UTC
                html = (article.content_html + (article.summary_html or "")).lower()
                assert "<script" not in html and "javascript:" not in html
                assert " onerror=" not in html
            atom = normalise(parsed.articles, parsed.info.title)
            etree.fromstring(atom)  # well-formed, whatever went in
        except Exception:
            (tmp_path / f"{origin}.xml").write_bytes(doc)
            print(
                f"\nfuzz failure: FEEDSVC_FUZZ_SEED={SEED}, document {n} ({name}), "
                f"saved as {tmp_path / (origin + '.xml')}"
            )
            raise
    print(f"\nfuzz: seed {SEED}, {BUDGET} mutated documents from {len(corpus)} seeds: {outcomes}")
