"""A deterministic corpus of realistic feeds for the benchmarks (and the equivalence tests).

``generate(root, feeds=500, entries=60)`` writes ``root/f000.xml`` ... : every even feed is
RSS 2.0, every odd one Atom 1.0; each entry carries 1-5 KB of HTML (paragraphs, links, some
relative, images, lists, a blockquote, entities, non-ASCII text, and markup a sanitizer must
remove: ``<script>``, ``onclick``, ``javascript:`` links, ``style``). About a quarter of the
entries are copies of shared stories: the same article published by several feeds, with the same
link (plus tracking parameters) or the same text under another link, so deduplication has real
work to do. The same arguments always produce byte-identical files.

It does not measure anything; :mod:`bench.run` does. It is a plain module (no feedsvc imports)
so that tests can import it too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

__all__ = ["CorpusInfo", "generate"]

_WORD_TEXT = (
    "market council river budget school harbour election rain bridge museum vaccine "
    "railway festival drought senate orchestra reactor glacier startup court tariff "
    "satellite library vineyard strike ferry census wildfire summit treaty stadium "
    "the of and to in a is that for on with as by at from was were has have been "
    "said officials report new year city people week government plan local data "
    "café naïve résumé Zürich São Paulo Kraków smörgåsbord façade jalapeño"
)
_WORDS = tuple(_WORD_TEXT.split())
_AUTHORS = ("Ana Lima", "Bo Chen", "Chloé Martin", "Dev Patel", "Eve O\u2019Neil", "Finn Berg")
_TAGS = ("politics", "science", "culture", "sport", "business", "climate", "tech", "health")
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class CorpusInfo:
    """What :func:`generate` wrote."""

    files: tuple[Path, ...]
    entries: int  # entries over all files
    shared: int  # entries that are copies of a shared story
    bytes: int  # total size of the files


def _sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(_WORDS) for _ in range(n)]
    words[0] = words[0].capitalize()
    return " ".join(words) + "."


def _body(rng: random.Random, site: str, size: int) -> str:
    """An HTML body of about ``size`` characters."""
    parts: list[str] = []
    total = 0
    n = 0
    while total < size:
        kind = n % 9
        text = " ".join(_sentence(rng, rng.randint(8, 18)) for _ in range(rng.randint(2, 5)))
        if kind == 1:
            chunk = (
                f'<p>{text[:60]} <a href="https://{site}/{rng.randint(1, 9999)}?utm_source=x">'
                f'more</a> and <a href="/local/{rng.randint(1, 99)}">here</a>. {text[60:]}</p>'
            )
        elif kind == 2:
            chunk = (
                f'<p class="lead" style="color:red"><strong>{text[:40]}</strong> '
                f"<em>{text[40:]}</em> &amp; &#8220;quoted&#8221;&nbsp;text</p>"
            )
        elif kind == 3:
            chunk = f"<ul><li>{text[:50]}</li><li>{text[50:100]}</li><li>{text[100:]}</li></ul>"
        elif kind == 4:
            chunk = (
                f'<figure><img src="https://img.{site}/{rng.randint(1, 999)}.jpg" alt="photo" '
                f'width="640" height="480" onload="track()"><figcaption>{text[:80]}'
                "</figcaption></figure>"
            )
        elif kind == 5:
            chunk = f"<blockquote><p>{text}</p></blockquote>"
        elif kind == 6:
            chunk = f"<script>track('{rng.randint(1, 10**6)}')</script><p>{text}</p>"
        elif kind == 7:
            chunk = f'<p><a href="javascript:alert(1)" onclick="x()">{text[:30]}</a> {text}</p>'
        else:
            chunk = f"<p>{text}</p>"
        parts.append(chunk)
        total += len(chunk)
        n += 1
    return "\n".join(parts)


@dataclass(frozen=True)
class _Story:
    title: str
    link: str
    html: str
    published: datetime
    author: str
    tags: tuple[str, ...]


def _story(rng: random.Random, site: str, n: int, when: datetime) -> _Story:
    return _Story(
        title=_sentence(rng, rng.randint(4, 10))[:-1] + rng.choice(("", " — update", " & more")),
        link=f"https://{site}/{when:%Y/%m}/story-{n}",
        html=_body(rng, site, rng.randint(1000, 5000)),
        published=when,
        author=rng.choice(_AUTHORS),
        tags=tuple(rng.sample(_TAGS, rng.randint(0, 3))),
    )


def _rss(feed: int, site: str, items: list[tuple[str, _Story, str]]) -> str:
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>\n'
        f"<title>Feed {feed} — {escape(site)}</title>\n<link>https://{site}/</link>\n"
        f'<atom:link rel="self" href="https://{site}/rss.xml" type="application/rss+xml"/>\n'
        f"<description>News from {site}</description>\n<language>en</language>\n<ttl>30</ttl>\n"
    ]
    for n, (guid, s, link) in enumerate(items):
        out.append("<item>\n")
        out.append(f"<title>{escape(s.title)}</title>\n<link>{escape(link)}</link>\n")
        out.append(f'<guid isPermaLink="false">{escape(guid)}</guid>\n')
        out.append(f"<pubDate>{format_datetime(s.published)}</pubDate>\n")
        out.append(f"<dc:creator>{escape(s.author)}</dc:creator>\n")
        out.extend(f"<category>{t}</category>\n" for t in s.tags)
        if n % 3 == 0:  # description only, as escaped HTML
            out.append(f"<description>{escape(s.html)}</description>\n")
        elif n % 3 == 1:  # description only, as CDATA
            out.append(f"<description><![CDATA[{s.html}]]></description>\n")
        else:  # a short summary and the full text in content:encoded
            out.append(f"<description>{escape(s.title)}: a summary.</description>\n")
            out.append(f"<content:encoded><![CDATA[{s.html}]]></content:encoded>\n")
        if n % 10 == 0:
            out.append(
                f'<enclosure url="https://media.{site}/{n}.mp3" length="{1000 + n}" '
                'type="audio/mpeg"/>\n'
            )
        out.append("</item>\n")
    out.append("</channel>\n</rss>\n")
    return "".join(out)


def _atom(feed: int, site: str, items: list[tuple[str, _Story, str]]) -> str:
    updated = max((s.published for _, s, _ in items), default=_EPOCH)
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
        'xml:lang="en">\n'
        f"<title>Feed {feed} — {escape(site)}</title>\n<id>tag:{site},2026:feed</id>\n"
        f'<link rel="alternate" href="https://{site}/"/>\n'
        f'<link rel="self" href="https://{site}/atom.xml"/>\n'
        f"<updated>{updated:%Y-%m-%dT%H:%M:%SZ}</updated>\n"
    ]
    for n, (guid, s, link) in enumerate(items):
        edited = s.published + timedelta(minutes=n % 7)
        out.append("<entry>\n")
        out.append(f'<title type="text">{escape(s.title)}</title>\n')
        out.append(f'<link rel="alternate" type="text/html" href="{escape(link)}"/>\n')
        out.append(f"<id>{escape(guid)}</id>\n")
        out.append(f"<published>{s.published:%Y-%m-%dT%H:%M:%S+00:00}</published>\n")
        out.append(f"<updated>{edited:%Y-%m-%dT%H:%M:%SZ}</updated>\n")
        out.append(f"<author><name>{escape(s.author)}</name></author>\n")
        out.extend(f'<category term="{t}"/>\n' for t in s.tags)
        if n % 2 == 0:
            out.append(f'<summary type="text">{escape(s.title)}: a summary.</summary>\n')
        out.append(f'<content type="html">{escape(s.html)}</content>\n')
        out.append("</entry>\n")
    out.append("</feed>\n")
    return "".join(out)


def generate(
    root: Path, *, feeds: int = 500, entries: int = 60, seed: int = 8, shared: float = 0.25
) -> CorpusInfo:
    """Write ``feeds`` feed files of ``entries`` entries each into ``root`` (created).

    ``shared`` is the fraction of entries that are copies of a story also published by other
    feeds (half by the same link with tracking parameters, half by the same text under the
    feed's own link).
    """
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    pool_size = max(1, int(feeds * entries * shared / 3))  # each shared story appears ~3 times
    pool = [
        _story(rng, f"wire{n % 7}.example", n, _EPOCH + timedelta(minutes=17 * n))
        for n in range(pool_size)
    ]
    files: list[Path] = []
    total = copies = size = 0
    for f in range(feeds):
        site = f"site{f}.example"
        items: list[tuple[str, _Story, str]] = []
        for n in range(entries):
            when = _EPOCH + timedelta(hours=n * 3 + f % 24, minutes=f % 60)
            if rng.random() < shared:
                s = rng.choice(pool)
                copies += 1
                if rng.random() < 0.5:
                    link = f"{s.link}?utm_source=feed{f}&utm_medium=rss"
                else:
                    link = f"https://{site}/syndicated/{n}"
                guid = f"tag:{site},2026:{n}"
                items.append((guid, s, link))
            else:
                s = _story(rng, site, n, when)
                items.append((f"tag:{site},2026:{n}", s, s.link))
        items.sort(key=lambda it: it[1].published, reverse=True)
        text = _rss(f, site, items) if f % 2 == 0 else _atom(f, site, items)
        path = root / f"f{f:04d}.xml"
        data = text.encode("utf-8")
        path.write_bytes(data)
        files.append(path)
        total += len(items)
        size += len(data)
    return CorpusInfo(files=tuple(files), entries=total, shared=copies, bytes=size)
