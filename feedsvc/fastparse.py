"""A fast path for plain, well-formed RSS 2.0 and Atom 1.0: lxml instead of feedparser.

:func:`read_simple_feed` turns the bytes of a feed into the *same* field mapping that
:mod:`feedparser` would give for them (the keys :mod:`feedsvc.parse` reads: titles and their
types, links, ids, dates, content, summary, authors, categories, enclosures, rights, language)
so that :mod:`feedsvc.parse` builds its :class:`~feedsvc.models.Article` values from either
source with one code path. It covers the common, boring case only, and returns ``None`` for
anything else, which :mod:`feedsvc.parse` then hands to feedparser:

- the document must be UTF-8 (no other declared charset), well-formed, without a DOCTYPE;
- the root must be ``<rss version="2.0">`` with one ``<channel>``, or an Atom 1.0 ``<feed>``;
- every element must be one this module knows (see ``_RSS_ITEM`` and friends), text elements
  must hold text only (no child elements: no inline XHTML), single-valued ones must appear once;
- no ``xml:base``; ``xml:lang`` only on the root element; Atom text constructs only of type
  text or html; dates only in the strict RFC 822 / RFC 3339 forms below.

Where feedparser has a quirk inside that subset, this module reproduces it, because equality
with feedparser is the contract (``tests/test_fastparse.py`` checks it document by document on
the feedparser corpus and the benchmark corpus): an RSS title that looks like HTML is HTML; an
RSS ``guid`` (isPermaLink) and an Atom ``id`` are resolved against the base URL and stand in as
the entry's link when it has none; the text of most elements goes through feedparser's repair
of UTF-8 read as Latin-1, and its mapping of C1 controls to Windows-1252 characters.

The parser is configured so that hostile documents cannot hurt: entities are not resolved, no
DTD is loaded, nothing is fetched from the network and the tree size limits stay on (billion
laughs and XXE documents are rejected here and left to feedparser, which does not expand
external entities either). Nothing here does I/O; it never raises on bad input (it returns
``None``).
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urljoin

from lxml import etree

__all__ = ["SimpleFeed", "read_simple_feed"]

_ATOM = "{http://www.w3.org/2005/Atom}"
_CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_SY = "{http://purl.org/rss/1.0/modules/syndication/}"
_XML = "{http://www.w3.org/XML/1998/namespace}"
_XML_LANG = _XML + "lang"

_XML_DECL = re.compile(rb"\A<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
# RFC 3023 / 7303: these media types carry XML in the document's own encoding; text/xml
# without a charset means US-ASCII to feedparser, so it is left to feedparser.
_XML_TYPES = frozenset({"application/xml", "application/rss+xml", "application/atom+xml"})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_TEXT_TYPES = {"text": "text/plain", "html": "text/html", "text/plain": "text/plain"}
_TEXT_TYPES["text/html"] = "text/html"

# feedparser's guess that an RSS text element holds HTML needs a closing tag or an entity
# reference; without either it is certainly plain text. With one, feedparser decides.
_MAY_BE_HTML = re.compile(r"</\w+>|&#?\w+;")
# feedparser collapses the slashes after "scheme://" before joining URLs.
_EXTRA_SLASHES = re.compile(r"\A([A-Za-z][A-Za-z0-9+,.\-]*://)/+")
# feedparser "fixes" query strings in <link> text: "&amp;" and "&name;" lose their escaping.
_LINK_ENTITY = re.compile(r"&([A-Za-z0-9_]+);")
# C1 controls that feedparser maps to the Windows-1252 characters they stand for.
_CP1252: dict[int, str] = {}
for _b in range(0x80, 0xA0):
    with contextlib.suppress(UnicodeDecodeError):  # 0x81, 0x8D, 0x8F, 0x90, 0x9D: undefined
        _CP1252[_b] = bytes([_b]).decode("cp1252")

_C1 = re.compile("[\x80-\x9f]")

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_RFC822 = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct"
    r"|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) (GMT|UT|UTC|Z|[+-]\d{4})\Z"
)
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(Z|[+-]\d{2}:\d{2})\Z"
)


class _Unsupported(Exception):
    """Internal: the document is outside the fast path's subset; feedparser takes it."""


@dataclass(frozen=True)
class SimpleFeed:
    """feedparser's view of a document, as plain dicts: ``feed`` and ``entries``."""

    version: str  # "rss20" or "atom10", as feedparser names them
    feed: dict[str, Any]
    entries: list[dict[str, Any]]


_local = threading.local()


def _parser() -> etree.XMLParser:
    # One parser per thread: lxml parser objects must not be shared between threads.
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,  # billion laughs: entity references stay unexpanded
            no_network=True,  # XXE: nothing is ever fetched
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,  # libxml2's depth and size limits stay on
            remove_comments=True,  # feedparser never sees comments either
            remove_pis=True,
            recover=False,
        )
        _local.parser = parser
    return parser


def read_simple_feed(
    data: bytes, *, content_type: str | None, base: str | None
) -> SimpleFeed | None:
    """feedparser's mapping for ``data``, or ``None`` when the document is not plain RSS 2.0 /
    Atom 1.0 in UTF-8 (see the module docstring). ``content_type`` is the HTTP Content-Type
    (None for a local file); ``base`` is the document's URL (None for a local file)."""
    if not _utf8(data, content_type):
        return None
    if base is not None and _urljoin(base, base) != base:
        return None
    try:
        root = etree.fromstring(data, _parser())
    except (etree.XMLSyntaxError, ValueError):
        return None
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        return None
    try:
        if root.tag == "rss":
            return _Rss(base or "").read(root)
        if root.tag == _ATOM + "feed":
            return _Atom(base or "").read(root)
    except _Unsupported:
        return None
    return None


def _utf8(data: bytes, content_type: str | None) -> bool:
    """Whether feedparser would read ``data`` as UTF-8 without any complaint."""
    if content_type is not None:
        mime, _, params = content_type.partition(";")
        if mime.strip().lower() not in _XML_TYPES:
            return False
        charset = None
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "charset":
                charset = value.strip().strip("\"'").lower()
            elif name.strip():
                return False
        if charset not in (None, "utf-8"):
            return False
    head = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if head.lstrip()[:1] != b"<":
        return False
    match = _XML_DECL.match(head)
    return match is None or match.group(1).lower() == b"utf-8"


def _urljoin(base: str, uri: str) -> str:
    uri = _EXTRA_SLASHES.sub(r"\1", uri)
    try:
        return urljoin(base, uri)
    except ValueError:
        return ""


def _repair(text: str) -> str:
    """feedparser's repairs of every text value it expects (mis-decoded UTF-8, C1 controls)."""
    if text.isascii():
        return text
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        text = text.encode("iso-8859-1").decode("utf-8")
    # str.translate looks up every character; C1 controls are rare, so search for one first.
    return text.translate(_CP1252) if _C1.search(text) else text


def _text(el: etree._Element) -> str:
    """The text of an element that must hold text only."""
    if len(el):
        raise _Unsupported(f"child elements in {el.tag}")
    return el.text or ""


def _no_attrs(el: etree._Element, *allowed: str) -> None:
    for name in el.attrib:
        if name not in allowed:
            raise _Unsupported(f"attribute {name!r} on {el.tag!r}")


def _utc_struct(dt: datetime) -> time.struct_time:
    return dt.astimezone(UTC).timetuple()


def _date(text: str) -> time.struct_time:
    """RFC 822 (RSS) or RFC 3339 (Atom) in their plain forms → a UTC struct_time."""
    text = text.strip()
    m = _RFC822.match(text)
    try:
        if m:
            day, month, year, hh, mm, ss, zone = m.groups()
            tz = UTC if zone in ("GMT", "UT", "UTC", "Z") else _offset(zone[0], zone[1:3], zone[3:])
            dt = datetime(int(year), _MONTHS[month], int(day), int(hh), int(mm), int(ss), tzinfo=tz)
            return _utc_struct(dt)
        m = _RFC3339.match(text)
        if m:
            year, month, day, hh, mm, ss, zone = m.groups()
            tz = UTC if zone == "Z" else _offset(zone[0], zone[1:3], zone[4:])
            dt = datetime(int(year), int(month), int(day), int(hh), int(mm), int(ss), tzinfo=tz)
            return _utc_struct(dt)
    except (ValueError, OverflowError) as e:
        raise _Unsupported(f"date {text!r}: {e}") from e
    raise _Unsupported(f"date {text!r} not in a strict form")


def _offset(sign: str, hours: str, minutes: str) -> timezone:
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    if int(hours) > 23 or int(minutes) > 59:
        raise ValueError("offset out of range")
    return timezone(-delta if sign == "-" else delta)


class _Reader:
    """Shared state of one document: the base URL and the language of text constructs."""

    version = ""

    def __init__(self, base: str) -> None:
        self.base = base
        self.lang: str | None = None

    def _check_root_attrs(self, root: etree._Element, *allowed: str) -> None:
        _no_attrs(root, *allowed, _XML_LANG)
        lang = root.get(_XML_LANG)
        self.lang = lang.replace("_", "-") if lang else None

    def _value(self, el: etree._Element, *, uri: bool = False) -> str:
        """What feedparser's ``pop`` gives for a text element: stripped, URI resolved, repaired."""
        out = _text(el).strip()
        if uri and out:
            out = _urljoin(self.base, out)
        return _repair(out)

    def _detail(self, kind: str) -> dict[str, Any]:
        return {"type": kind, "language": self.lang, "base": self.base}

    def _construct(
        self, ctx: dict[str, Any], key: str, el: etree._Element, kind: str, guess: bool
    ) -> str:
        """A text construct (title, rights, summary ...): value plus ``<key>_detail``."""
        value = self._value(el)
        if guess and _MAY_BE_HTML.search(value):
            raise _Unsupported(f"{key} may be HTML by feedparser's guess")
        ctx[key] = value
        ctx[key + "_detail"] = {**self._detail(kind), "value": value}
        return value

    def _date(self, ctx: dict[str, Any], key: str, el: etree._Element) -> None:
        ctx[key + "_parsed"] = _date(self._value(el))

    def _id(self, ctx: dict[str, Any], el: etree._Element, is_link: bool) -> None:
        value = self._value(el, uri=is_link)
        ctx["id"] = value
        if is_link:
            ctx.setdefault("link", value)

    def _atom_link(self, ctx: dict[str, Any], el: etree._Element) -> None:
        _no_attrs(el, "rel", "href", "type", "hreflang", "title", "length")
        _text(el)
        href = el.get("href")
        if not href:
            raise _Unsupported("link without href")
        # feedparser lower-cases rel and type, and defaults them only when they are absent.
        rel = el.get("rel", "alternate").lower()
        attrs: dict[str, Any] = {str(k): v for k, v in el.attrib.items()}
        attrs["rel"] = rel
        kind = attrs["type"] = el.get(
            "type", "application/atom+xml" if rel == "self" else "text/html"
        ).lower()
        attrs["href"] = _urljoin(self.base, href)
        ctx.setdefault("links", []).append(attrs)
        if rel == "alternate" and _TEXT_TYPES.get(kind, kind) in _HTML_TYPES:
            ctx["link"] = attrs["href"]

    def _tag(self, ctx: dict[str, Any], term: str | None, label: str | None = None) -> None:
        if term or label:
            tag = {"term": term, "scheme": None, "label": label}
            tags = ctx.setdefault("tags", [])
            if tag not in tags:
                tags.append(tag)


class _Once:
    """Refuses a second occurrence of a single-valued element (feedparser's rules for repeats
    depend on order and depth; they are left to feedparser)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, tag: str) -> None:
        if tag in self.seen:
            raise _Unsupported(f"{tag} repeated")
        self.seen.add(tag)


class _Rss(_Reader):
    version = "rss20"

    def read(self, root: etree._Element) -> SimpleFeed:
        if root.get("version") != "2.0":
            raise _Unsupported("not RSS 2.0")
        self._check_root_attrs(root, "version")
        _text_only_whitespace(root)
        channels = list(root)
        if len(channels) != 1 or channels[0].tag != "channel":
            raise _Unsupported("not one channel")
        channel = channels[0]
        _no_attrs(channel)
        feed: dict[str, Any] = {}
        if self.lang:
            feed["language"] = self.lang
        entries: list[dict[str, Any]] = []
        once = _Once()
        handlers: dict[str, Callable[[etree._Element], object]] = {
            "title": lambda el: self._construct(feed, "title", el, "text/plain", True),
            "link": lambda el: self._channel_link(feed, el),
            "description": lambda el: _text(el),
            "language": lambda el: feed.__setitem__("language", self._value(el)),
            "copyright": lambda el: self._construct(feed, "rights", el, "text/plain", True),
            "lastBuildDate": lambda el: self._date(feed, "updated", el),
            "pubDate": lambda el: self._date(feed, "published", el),
            "ttl": lambda el: feed.__setitem__("ttl", self._value(el)),
            _SY + "updatePeriod": lambda el: feed.__setitem__("sy_updateperiod", self._value(el)),
            _SY + "updateFrequency": lambda el: feed.__setitem__(
                "sy_updatefrequency", self._value(el)
            ),
            _ATOM + "link": lambda el: self._atom_link(feed, el),
        }
        ignored = {"generator", "docs", "webMaster", "managingEditor", _SY + "updateBase"}
        for el in channel:
            tag = el.tag
            if tag == "item":
                entries.append(self._item(el))
                continue
            if not isinstance(tag, str):
                raise _Unsupported("entity reference or other node")
            handler = handlers.get(tag)
            if handler is not None:
                _no_attrs(el, *(("rel", "href", "type") if tag == _ATOM + "link" else ()))
                if tag != _ATOM + "link":
                    once(tag)
                handler(el)
            elif tag == "category":
                _no_attrs(el, "domain")
                self._tag(feed, self._value(el) or None)
            elif tag in ignored:
                _no_attrs(el)
                _text(el)
                once(tag)
            else:
                raise _Unsupported(f"channel element {tag}")
        return SimpleFeed(self.version, feed, entries)

    def _channel_link(self, feed: dict[str, Any], el: etree._Element) -> None:
        value = _LINK_ENTITY.sub(r"&\1", self._value(el, uri=True))
        feed["link"] = value
        feed.setdefault("links", []).append({"rel": "alternate", "type": "text/html"})
        feed["links"][-1]["href"] = value

    def _item(self, item: etree._Element) -> dict[str, Any]:
        _no_attrs(item)
        entry: dict[str, Any] = {}
        once = _Once()
        for el in item:
            tag = el.tag
            if not isinstance(tag, str):
                raise _Unsupported("entity reference or other node")
            if tag == "category":
                _no_attrs(el, "domain")
                self._tag(entry, self._value(el) or None)
                continue
            if tag == "enclosure":
                self._enclosure(entry, el)
                continue
            if tag in ("author", _DC + "creator"):
                _no_attrs(el)
                self._author(entry, el)
                continue
            if tag == _ATOM + "link":
                self._atom_link(entry, el)
                continue
            once(tag)
            if tag == "guid":
                _no_attrs(el, "isPermaLink")
                self._id(entry, el, is_link=el.get("isPermaLink", "true") == "true")
                continue
            _no_attrs(el)
            if tag == "title":
                self._construct(entry, "title", el, "text/plain", True)
            elif tag == "link":
                value = self._value(el, uri=True).replace("&amp;", "&")
                value = _LINK_ENTITY.sub(r"&\1", value)
                entry.setdefault("links", []).append({"rel": "alternate", "type": "text/html"})
                entry["link"] = value
                if value:
                    entry["links"][-1]["href"] = value
            elif tag == "description":
                self._construct(entry, "summary", el, "text/html", False)
            elif tag == _CONTENT + "encoded":
                value = self._value(el)
                entry.setdefault("content", []).append(
                    {**self._detail("text/html"), "value": value}
                )
                entry.setdefault("summary", value)
            elif tag == "pubDate":
                self._date(entry, "published", el)
            elif tag == "comments":
                entry["comments"] = self._value(el, uri=True)
            else:
                raise _Unsupported(f"item element {tag}")
        return entry

    def _enclosure(self, entry: dict[str, Any], el: etree._Element) -> None:
        _no_attrs(el, "url", "length", "type")
        _text(el)
        attrs: dict[str, Any] = {str(k): v for k, v in el.attrib.items() if k != "url"}
        if "type" in attrs:
            attrs["type"] = attrs["type"].lower()
        if el.get("url"):
            attrs["href"] = el.get("url")
        elif "url" in el.attrib:
            raise _Unsupported("enclosure with an empty url")
        attrs["rel"] = "enclosure"
        entry.setdefault("links", []).append(attrs)

    def _author(self, entry: dict[str, Any], el: etree._Element) -> None:
        value = self._value(el)
        if "@" in value:  # feedparser splits "name (email)" forms with its own rules
            raise _Unsupported("author with an email address")
        detail: dict[str, Any] = {}
        entry.setdefault("authors", []).append(detail)
        entry["author"] = value
        if value:
            detail["name"] = value
            entry.setdefault("author_detail", detail)


class _Atom(_Reader):
    version = "atom10"

    def read(self, root: etree._Element) -> SimpleFeed:
        self._check_root_attrs(root)
        feed: dict[str, Any] = {}
        if self.lang:
            feed["language"] = self.lang
        entries: list[dict[str, Any]] = []
        once = _Once()
        _text_only_whitespace(root)
        for el in root:
            tag = el.tag
            if not isinstance(tag, str):
                raise _Unsupported("entity reference or other node")
            if tag == _ATOM + "entry":
                entries.append(self._entry(el))
            elif tag == _ATOM + "link":
                self._atom_link(feed, el)
            elif tag == _ATOM + "category":
                self._category(feed, el)
            elif tag == _ATOM + "author":
                self._person(feed, el)
            elif tag in (_ATOM + "title", _ATOM + "rights", _ATOM + "subtitle"):
                once(tag)
                key = tag[len(_ATOM) :]
                self._atom_text(feed, key, el)
            elif tag == _ATOM + "id":
                once(tag)
                _no_attrs(el)
                self._id(feed, el, is_link=True)
            elif tag == _ATOM + "updated":
                once(tag)
                _no_attrs(el)
                self._date(feed, "updated", el)
            elif tag in (_ATOM + "generator", _ATOM + "icon", _ATOM + "logo"):
                once(tag)
                _no_attrs(el, "uri", "version")
                _text(el)
            else:
                raise _Unsupported(f"feed element {tag}")
        return SimpleFeed(self.version, feed, entries)

    def _atom_text(self, ctx: dict[str, Any], key: str, el: etree._Element) -> None:
        _no_attrs(el, "type")
        kind = _TEXT_TYPES.get((el.get("type") or "text").lower())
        if kind is None:
            raise _Unsupported(f"{key} of type {el.get('type')}")
        if key == "subtitle":
            _text(el)
            return
        self._construct(ctx, key, el, kind, False)

    def _category(self, ctx: dict[str, Any], el: etree._Element) -> None:
        _no_attrs(el, "term", "scheme", "label")
        if _text(el).strip():
            raise _Unsupported("category with text")
        term, scheme, label = el.get("term"), el.get("scheme"), el.get("label")
        if term or scheme or label:
            tag = {"term": term, "scheme": scheme, "label": label}
            tags = ctx.setdefault("tags", [])
            if tag not in tags:
                tags.append(tag)

    def _person(self, ctx: dict[str, Any], el: etree._Element) -> None:
        _no_attrs(el)
        if "authors" in ctx:  # feedparser mixes a second author up with the first one's email
            raise _Unsupported("several authors")
        if (el.text or "").strip():
            raise _Unsupported("text in author")
        detail: dict[str, Any] = {}
        ctx.setdefault("authors", []).append(detail)
        once = _Once()
        for child in el:
            tag = child.tag
            if not isinstance(tag, str) or (child.tail or "").strip():
                raise _Unsupported("mixed content in author")
            _no_attrs(child)
            once(tag)
            if tag == _ATOM + "name":
                detail["name"] = _text(child).strip()
            elif tag == _ATOM + "email":
                detail["email"] = _text(child).strip()
            elif tag == _ATOM + "uri":
                detail["href"] = self._value(child, uri=True)
            else:
                raise _Unsupported(f"author element {tag}")
        if detail:
            ctx["author_detail"] = detail

    def _entry(self, entry_el: etree._Element) -> dict[str, Any]:
        _no_attrs(entry_el)
        _text_only_whitespace(entry_el)
        entry: dict[str, Any] = {}
        once = _Once()
        for el in entry_el:
            tag = el.tag
            if not isinstance(tag, str):
                raise _Unsupported("entity reference or other node")
            if tag == _ATOM + "link":
                self._atom_link(entry, el)
            elif tag == _ATOM + "category":
                self._category(entry, el)
            elif tag == _ATOM + "author":
                self._person(entry, el)
            else:
                once(tag)
                if tag in (_ATOM + "title", _ATOM + "rights"):
                    self._atom_text(entry, tag[len(_ATOM) :], el)
                elif tag == _ATOM + "summary":
                    self._atom_text(entry, "summary", el)
                elif tag == _ATOM + "content":
                    self._content(entry, el)
                elif tag == _ATOM + "id":
                    _no_attrs(el)
                    self._id(entry, el, is_link=True)
                elif tag in (_ATOM + "published", _ATOM + "updated"):
                    _no_attrs(el)
                    self._date(entry, tag[len(_ATOM) :], el)
                else:
                    raise _Unsupported(f"entry element {tag}")
        return entry

    def _content(self, entry: dict[str, Any], el: etree._Element) -> None:
        _no_attrs(el, "type")
        kind = _TEXT_TYPES.get((el.get("type") or "text").lower())
        if kind is None:
            raise _Unsupported(f"content of type {el.get('type')}")
        value = self._value(el)
        entry.setdefault("content", []).append({**self._detail(kind), "value": value})
        entry.setdefault("summary", value)


def _text_only_whitespace(el: etree._Element) -> None:
    """Container elements hold elements; stray text between them is feedparser's business."""
    if (el.text or "").strip() or any((child.tail or "").strip() for child in el):
        raise _Unsupported(f"text in {el.tag}")
