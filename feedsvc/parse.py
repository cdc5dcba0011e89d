"""Feed documents (RSS 0.9x/1.0/2.0, Atom 0.3/1.0, CDF, JSON Feed) → :class:`ParsedFeed`.

The only module that imports :mod:`feedparser`. :func:`parse_feed` takes the bytes a fetch (or a
file read) produced plus the response headers, and returns frozen dataclasses: no feedparser
dict escapes, every date is aware UTC, every HTML string has been through
:func:`feedsvc.sanitize.clean_html` (or was escaped from plain text).

What it does not do: fetch anything (feedparser is handed bytes, never a URL or a path), decide
what is new or a duplicate (:mod:`feedsvc.dedup`), or fill in missing dates (the pipeline uses
the first-seen time).

feedparser 6.0.x has no JSON Feed support, so JSON Feed (https://jsonfeed.org/version/1.1) is
read here with :mod:`json`: a document whose first non-blank byte is ``{`` cannot be XML.
"""

from __future__ import annotations

import html
import io
import json
import re
import time
import xml.sax
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import chardet
import feedparser
import feedparser.encodings

from feedsvc.dedup import hash_key
from feedsvc.errors import ParseError
from feedsvc.fastparse import SimpleFeed, read_simple_feed
from feedsvc.models import Article, Enclosure, FeedInfo, ParsedFeed, Person
from feedsvc.sanitize import clean_html, plain_title, remove_xml_invalid, text_title

__all__ = ["parse_feed"]

# sy:updatePeriod values (RSS 1.0 Syndication module) in seconds; "monthly" and "yearly" are
# approximations, which is all a polling interval needs.
_SY_PERIODS = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 7 * 86400,
    "monthly": 30 * 86400,
    "yearly": 365 * 86400,
}

# feedparser's "bozo" reasons that do not mean the XML was broken.
_BENIGN_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_JSON_FEED_VERSION = "https://jsonfeed.org/version/"
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")

# feedparser asks chardet for the encoding of a document it cannot decode otherwise. chardet
# 5's filter_international_words runs a regex that is quadratic in the length of a run of
# ASCII letters: a broken 100 KB feed holding one such run took minutes to parse (found by
# tests/test_fuzz.py). A run of ASCII letters says nothing about a legacy encoding, so chardet
# sees the document with every run cut to 64 letters. feedparser looks this hook up each time
# it needs it; replacing it here covers every parse (this is the only feedparser user).
_LETTER_RUN = re.compile(rb"[A-Za-z]{65,}")


def _detect_encoding(data: bytes) -> str:
    """chardet's guess for ``data`` ("" for none), in time linear in its length."""
    sample = _LETTER_RUN.sub(lambda m: m.group(0)[:64], data)
    return str(chardet.detect(sample)["encoding"] or "")


if getattr(feedparser.encodings, "lazy_chardet_encoding", None) is not None:
    feedparser.encodings.lazy_chardet_encoding = _detect_encoding


def parse_feed(
    data: bytes,
    *,
    headers: Mapping[str, str] | None = None,
    url: str | None = None,
    origin: str,
    fast: bool = True,
) -> ParsedFeed:
    """Parse one feed document into a :class:`ParsedFeed`.

    ``headers`` are the HTTP response headers (any case); ``url`` is where the document came
    from, used as the base of relative URIs unless ``Content-Location`` says otherwise;
    ``origin`` names the document (a path or URL) in warnings and errors.

    Raises :class:`ParseError` naming ``origin`` when the input is empty, is not a feed at
    all, or breaks feedparser. A feed that is not well-formed but still yields entries is
    accepted with a message in :attr:`ParsedFeed.warnings`. The same bytes and arguments always
    give an equal result.

    Plain RSS 2.0 and Atom 1.0 in UTF-8 are read with lxml (:mod:`feedsvc.fastparse`), everything
    else with feedparser; both give the same result (``fast=False`` forces feedparser, for the
    tests that prove it).
    """
    if not data.strip():
        raise ParseError(f"{origin}: empty document")
    if _looks_like_json(data):
        return _parse_json_feed(data, url=url, origin=origin)
    return _parse_xml_feed(data, headers=headers, url=url, origin=origin, fast=fast)


# --- XML feeds, through feedparser -------------------------------------------------------------


def _parse_xml_feed(
    data: bytes,
    *,
    headers: Mapping[str, str] | None,
    url: str | None,
    origin: str,
    fast: bool = True,
) -> ParsedFeed:
    # feedparser looks headers up by lower-case name only.
    response_headers = {k.lower(): v for k, v in (headers or {}).items()}
    if url and "content-location" not in response_headers:
        response_headers["content-location"] = url
    if "content-type" not in response_headers:
        # With *some* headers but no Content-Type, feedparser assumes iso-8859-1 for a document
        # without an XML declaration (and flags NonXMLContentType), which would garble UTF-8
        # files we only gave a base URL. application/xml means "trust the BOM / XML
        # declaration, else UTF-8" (RFC 7303 §3.2), the same as passing no headers at all.
        response_headers["content-type"] = "application/xml"
    simple = _simple(data, response_headers) if fast else None
    if simple is not None:
        # Plain RSS 2.0 / Atom 1.0: the same mapping as feedparser's, without feedparser.
        feed: Mapping[str, Any] = simple.feed
        raw_entries: list[Mapping[str, Any]] = list(simple.entries)
        bozo, exc = False, None
        version: str | None = simple.version
    else:
        result = _feedparser(data, response_headers, origin)
        feed = _mapping(dict.get(result, "feed"))
        raw_entries = [_mapping(e) for e in dict.get(result, "entries") or ()]
        bozo = bool(dict.get(result, "bozo"))
        exc = dict.get(result, "bozo_exception")
        version = dict.get(result, "version")
    warnings: list[str] = []
    reason = _bozo_reason(exc) if bozo else ""
    # A wrong charset or media type in the headers still leaves a parsed document; only
    # broken XML makes an entry-less, title-less result "not a feed".
    broken = bozo and not isinstance(exc, _BENIGN_BOZO)
    if not raw_entries and not _str(feed.get("title")):
        # Nothing to ingest and no sign of a feed: an HTML page, an error page, random bytes.
        if broken:
            raise ParseError(f"{origin}: not a feed: {reason}")
        if not version:
            raise ParseError(f"{origin}: not a feed: no RSS, Atom or RDF document element")
    if bozo:
        warnings.append(f"{origin}: {reason}")

    feed_lang = _str(feed.get("language"))
    feed_rights = _text(feed, "rights")
    articles = tuple(
        _article(e, url=url, origin=origin, feed_lang=feed_lang, feed_rights=feed_rights)
        for e in raw_entries
    )
    warnings.extend(_duplicate_key_warnings(articles, origin))
    info = FeedInfo(
        title=_text(feed, "title"),
        id=_str(feed.get("id")),
        link=_alternate_link(feed),
        self_link=_self_link(feed),
        updated=_utc(feed.get("updated_parsed")),
    )
    return ParsedFeed(
        info=info, articles=articles, warnings=tuple(warnings), ttl_seconds=_ttl_seconds(feed)
    )


def _simple(data: bytes, headers: Mapping[str, str]) -> SimpleFeed | None:
    """The lxml fast path (:mod:`feedsvc.fastparse`) when the headers leave nothing to
    feedparser's judgement: a Content-Language or a base URL other than plain http(s) does."""
    base = headers.get("content-location")
    if "content-language" in headers or (
        base is not None and not base.startswith(("http://", "https://"))
    ):
        return None
    return read_simple_feed(data, content_type=headers.get("content-type"), base=base)


def _feedparser(data: bytes, headers: dict[str, str], origin: str) -> Any:
    try:
        # A file-like object: given bytes, feedparser 6.0 first tries open(data) as a *path*.
        # Relative URIs inside HTML are not resolved (nor the HTML re-serialized) by feedparser:
        # the sanitizer resolves the ones it keeps, against the same base (see _to_html), and
        # the fast path hands it the same untouched HTML.
        return feedparser.parse(
            io.BytesIO(data),
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as e:  # feedparser bugs on hostile input: a bad source, not our crash
        raise ParseError(f"{origin}: feedparser failed: {type(e).__name__}: {e}") from e


def _article(
    entry: Mapping[str, Any],
    *,
    url: str | None,
    origin: str,
    feed_lang: str | None,
    feed_rights: str | None,
) -> Article:
    title = _text(entry, "title") or ""
    link = _alternate_link(entry)
    published = _utc(entry.get("published_parsed"))
    updated = _utc(entry.get("updated_parsed"))
    original_id = _str(entry.get("id"))
    base = link or url

    contents = [_mapping(c) for c in entry.get("content") or ()]
    best = max(contents, key=lambda c: len(_str(c.get("value")) or ""), default=None)
    best_value = _str(best.get("value")) if best else None
    summary_detail = _mapping(entry.get("summary_detail"))
    summary_value = _str(entry.get("summary"))
    summary_type = _str(summary_detail.get("type")) or "text/html"

    summary_html: str | None = None
    if best is not None and best_value:
        content_html = _to_html(best_value, _str(best.get("type")), _str(best.get("base")) or base)
        if summary_value and summary_value != best_value:
            summary_html = _to_html(
                summary_value, summary_type, _str(summary_detail.get("base")) or base
            )
    elif summary_value:
        content_html = _to_html(
            summary_value, summary_type, _str(summary_detail.get("base")) or base
        )
    else:
        content_html = ""

    lang = (
        (_str(best.get("language")) if best else None)
        or _str(summary_detail.get("language"))
        or _str(_mapping(entry.get("title_detail")).get("language"))
        or feed_lang
    )
    return Article(
        key=original_id or link or hash_key(title, published or updated, content_html),
        title=title,
        content_html=content_html,
        link=link,
        summary_html=summary_html or None,
        published=published,
        updated=updated,
        authors=_authors(entry),
        categories=_categories(entry),
        enclosures=_enclosures(entry),
        original_id=original_id,
        lang=lang,
        # RFC 4287 §4.2.10: an entry without atom:rights is covered by the feed's.
        rights=_text(entry, "rights") or feed_rights,
        origin=origin,
    )


def _bozo_reason(exc: object) -> str:
    """A one-line, human-readable account of why feedparser set ``bozo``."""
    if isinstance(exc, xml.sax.SAXParseException):
        return (
            f"not well-formed XML (line {exc.getLineNumber()}, column {exc.getColumnNumber()}): "
            f"{exc.getMessage()}"
        )
    if isinstance(exc, feedparser.CharacterEncodingOverride | feedparser.CharacterEncodingUnknown):
        return f"character encoding problem: {exc}"
    if isinstance(exc, feedparser.NonXMLContentType):
        return f"not served as XML: {exc}"
    if exc is None:
        return "not well-formed"
    return f"not well-formed: {exc}" if str(exc) else f"not well-formed: {type(exc).__name__}"


def _alternate_link(d: Mapping[str, Any]) -> str | None:
    for link in d.get("links") or ():
        link = _mapping(link)
        if (_str(link.get("rel")) or "alternate") == "alternate" and _str(link.get("href")):
            return _str(link.get("href"))
    # feedparser copies an RSS guid (isPermaLink) or an Atom id into "link" when there is no
    # link element; only an http(s) one is a link to follow (not "tag:" or "urn:" ids).
    fallback = _str(d.get("link"))
    if fallback and urlsplit(fallback).scheme.lower() in ("http", "https"):
        return fallback
    return None


def _self_link(d: Mapping[str, Any]) -> str | None:
    for link in d.get("links") or ():
        link = _mapping(link)
        if link.get("rel") == "self" and _str(link.get("href")):
            return _str(link.get("href"))
    return None


def _authors(entry: Mapping[str, Any]) -> tuple[Person, ...]:
    raw: Iterable[Any] = entry.get("authors") or (
        [entry["author_detail"]] if entry.get("author_detail") else ()
    )
    people: list[Person] = []
    for a in raw:
        a = _mapping(a)
        name, email, uri = _collapse(a.get("name")), _str(a.get("email")), _str(a.get("href"))
        if not (name or email):
            continue
        person = Person(name=name or email or "", email=email, uri=uri)
        if person not in people:
            people.append(person)
    return tuple(people)


def _categories(entry: Mapping[str, Any]) -> tuple[str, ...]:
    terms = (
        _collapse(_mapping(t).get("term")) or _collapse(_mapping(t).get("label"))
        for t in entry.get("tags") or ()
    )
    return _unique(t for t in terms if t)


def _enclosures(entry: Mapping[str, Any]) -> tuple[Enclosure, ...]:
    out: list[Enclosure] = []
    for link in entry.get("links") or ():
        link = _mapping(link)
        href = _str(link.get("href"))
        if link.get("rel") != "enclosure" or not href or any(e.href == href for e in out):
            continue
        out.append(
            Enclosure(href=href, length=_int(link.get("length")), type=_str(link.get("type")))
        )
    return tuple(out)


def _ttl_seconds(feed: Mapping[str, Any]) -> int | None:
    """RSS 2.0 ``<ttl>`` (minutes), else sy:updatePeriod / sy:updateFrequency, in seconds."""
    ttl = _int(feed.get("ttl"))
    if ttl:
        return ttl * 60
    period = _SY_PERIODS.get((_str(feed.get("sy_updateperiod")) or "").lower())
    if period is None:
        return None
    frequency = _int(feed.get("sy_updatefrequency"))
    return max(1, period // (frequency or 1))


# --- JSON Feed ---------------------------------------------------------------------------------


def _looks_like_json(data: bytes) -> bool:
    return data.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"{"


def _parse_json_feed(data: bytes, *, url: str | None, origin: str) -> ParsedFeed:
    """JSON Feed 1.0 / 1.1 (https://jsonfeed.org/version/1.1); JSON is UTF-8 (RFC 8259 §8.1)."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ParseError(f"{origin}: not a feed: invalid JSON: {e}") from e
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith(_JSON_FEED_VERSION):
        raise ParseError(f"{origin}: not a feed: JSON without a JSON Feed version")
    home = _abs(doc.get("home_page_url"), url)
    feed_url = _abs(doc.get("feed_url"), url)
    feed_lang = _str(doc.get("language"))
    items = doc.get("items")
    warnings: list[str] = []
    if not isinstance(items, list):
        items = []
        warnings.append(f"{origin}: JSON Feed without an items list")
    articles: list[Article] = []
    for n, item in enumerate(items):
        if isinstance(item, dict):
            articles.append(_json_article(item, url=url, origin=origin, feed_lang=feed_lang))
        else:
            warnings.append(f"{origin}: JSON Feed item {n} is not an object, skipped")
    warnings.extend(_duplicate_key_warnings(articles, origin))
    info = FeedInfo(
        title=_plain_title(doc.get("title")), link=home, self_link=feed_url, updated=None
    )
    return ParsedFeed(info=info, articles=tuple(articles), warnings=tuple(warnings))


def _json_article(
    item: Mapping[str, Any], *, url: str | None, origin: str, feed_lang: str | None
) -> Article:
    raw_id = item.get("id")
    # JSON Feed 1.0 allowed numeric ids "coerced to a string"; a bool is not an id.
    original_id = _str(str(raw_id)) if isinstance(raw_id, str | int) else None
    if isinstance(raw_id, bool):
        original_id = None
    link = _abs(item.get("url"), url)
    title = _plain_title(item.get("title")) or ""
    published = _iso_utc(item.get("date_published"))
    updated = _iso_utc(item.get("date_modified"))
    base = link or url
    content_html = ""
    if _str(item.get("content_html")):
        content_html = clean_html(str(item["content_html"]), base_url=base)
    elif _str(item.get("content_text")):
        content_html = _plain_to_html(str(item["content_text"]))
    summary = _str(item.get("summary"))
    summary_html = _plain_to_html(summary) if summary else None
    if not content_html and summary_html:
        content_html, summary_html = summary_html, None

    raw_authors = item.get("authors")
    if not isinstance(raw_authors, list):
        raw_authors = [item["author"]] if isinstance(item.get("author"), dict) else []
    people: list[Person] = []
    for a in raw_authors:
        if isinstance(a, dict) and _collapse(a.get("name")):
            person = Person(name=_collapse(a.get("name")) or "", uri=_abs(a.get("url"), url))
            if person not in people:
                people.append(person)
    tags = item.get("tags")
    enclosures: list[Enclosure] = []
    for att in item.get("attachments") or ():
        href = _abs(att.get("url"), url) if isinstance(att, dict) else None
        if href and not any(e.href == href for e in enclosures):
            enclosures.append(
                Enclosure(
                    href=href,
                    length=_int(att.get("size_in_bytes")),
                    type=_str(att.get("mime_type")),
                )
            )
    return Article(
        key=original_id or link or hash_key(title, published or updated),
        title=title,
        content_html=content_html,
        link=link,
        summary_html=summary_html,
        published=published,
        updated=updated,
        authors=tuple(people),
        categories=_unique(_collapse(t) or "" for t in tags if isinstance(t, str))
        if isinstance(tags, list)
        else (),
        enclosures=tuple(enclosures),
        original_id=original_id,
        lang=_str(item.get("language")) or feed_lang,
        origin=origin,
    )


def _iso_utc(value: object) -> datetime | None:
    """An RFC 3339 date → aware UTC; a date without an offset is taken as UTC."""
    text = _str(value)
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


# --- small helpers -----------------------------------------------------------------------------


def _mapping(value: object) -> Mapping[str, Any]:
    # dict.get, not FeedParserDict.get: the latter maps "updated" to "published" with a
    # DeprecationWarning (feedparser issue 310), and we want exactly what the document said.
    return {k: dict.get(value, k) for k in value} if isinstance(value, dict) else {}


def _str(value: object) -> str | None:
    """A stripped, non-empty string, else None."""
    if not isinstance(value, str):
        return None
    return value.strip() or None


def _collapse(value: object) -> str | None:
    """A string with its whitespace collapsed, non-empty, else None."""
    if not isinstance(value, str):
        return None
    return " ".join(value.split()) or None


def _int(value: object) -> int | None:
    """A non-negative integer from an int or a string of ASCII digits, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    text = _str(value)
    if text and text.isascii() and text.isdigit():
        try:
            return int(text)
        except ValueError:  # more digits than int() accepts from a string
            return None
    return None


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _abs(value: object, base: str | None) -> str | None:
    text = _str(value)
    if not text:
        return None
    return urljoin(base, text) if base else text


def _utc(value: object) -> datetime | None:
    """feedparser's ``*_parsed`` (a struct_time already in UTC) → aware UTC, or None.

    Guards against impossible values feedparser passes through (year 0, a leap second).
    """
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime(*value[:5], min(value.tm_sec, 59), tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _text(d: Mapping[str, Any], name: str) -> str | None:
    """A feedparser text construct (``title``, ``rights``, ...) as a plain text line."""
    value = _str(d.get(name))
    if not value:
        return None
    kind = _str(_mapping(d.get(f"{name}_detail")).get("type")) or "text/plain"
    if kind not in _HTML_TYPES:
        # "<" in plain text is a character, not a tag. (The same as text_title() of the
        # escaped text, without an HTML parser: tests/test_fastpaths.py holds them equal.)
        return plain_title(value) or None
    return text_title(value) or None


def _plain_title(value: object) -> str | None:
    text = _str(value)
    if not text:
        return None
    return plain_title(text) or None


def _to_html(value: str, kind: str | None, base: str | None) -> str:
    if (kind or "text/html") in _HTML_TYPES:
        return clean_html(value, base_url=base)
    return _plain_to_html(value)


def _plain_to_html(text: str) -> str:
    """Plain text → escaped HTML: blank lines separate paragraphs, newlines become ``<br>``."""
    paragraphs = _PARAGRAPH_BREAK.split(
        remove_xml_invalid(text).strip().replace("\r\n", "\n").replace("\r", "\n")
    )
    return "".join(
        "<p>"
        + "<br>".join(html.escape(line.strip(), quote=False) for line in p.split("\n"))
        + "</p>"
        for p in paragraphs
        if p.strip()
    )


def _duplicate_key_warnings(articles: Sequence[Article], origin: str) -> Iterator[str]:
    seen: set[str] = set()
    reported: set[str] = set()
    for a in articles:
        if a.key in seen and a.key not in reported:
            reported.add(a.key)
            yield f"{origin}: several entries share the identity {a.key!r}; the first one is kept"
        seen.add(a.key)
