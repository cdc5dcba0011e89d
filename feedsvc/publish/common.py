"""What every published format shares: file names, URLs, document heads, value clean-up.

Pure: no I/O, no clock. The renderers (:mod:`.atom`, :mod:`.rss`,
:mod:`.jsonfeed`, :mod:`.page`) take the same :class:`~feedsvc.models.PublishedEntry` values
and go through the helpers here, so that a value dropped or rewritten for one format (an
unsafe link, a control character, a hostile id) is dropped or rewritten for all of them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin

from feedsvc.models import FeedSettings, PublishedEntry
from feedsvc.sanitize import remove_xml_invalid, text_title

ATOM_FILE = "atom.xml"
RSS_FILE = "rss.xml"
JSON_FILE = "feed.json"
HTML_FILE = "index.html"
CSS_FILE = "style.css"
ARCHIVE_DIR = "archive"
SOURCES_DIR = "sources"

ATOM_TYPE = "application/atom+xml"
RSS_TYPE = "application/rss+xml"
JSON_TYPE = "application/feed+json"
HTML_TYPE = "text/html"

# The feed's updated time when there are no entries. Never "now": output must be
# deterministic, and an empty feed has not changed since... ever.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

UNTITLED = "(untitled)"

# RFC 3987 §2.2 / RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
_IRI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
# Characters an IRI can never contain literally (RFC 3987 §2.2 excludes them from every
# production; RFC 3986 appendix C lists "<>\"{}|\\^`" as unsafe delimiters), plus controls
# (C0, DEL, C1), surrogates and non-characters. Whitespace is tested separately.
_IRI_FORBIDDEN = re.compile('[\x00-\x1f\x7f-\x9f<>"{}|\\\\^`\ud800-\udfff\ufffe\uffff]')
_IRI_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")

# Schemes that run code when a reader treats an id as a link (feedparser, for one, copies
# an RSS guid or an Atom id into ``link`` when there is no link element).
_ACTIVE_SCHEMES = frozenset({"javascript", "vbscript", "data", "livescript", "mocha"})


def is_valid_iri(s: str) -> bool:
    """Whether ``s`` can be published as an ``atom:id`` (an absolute IRI, RFC 4287 §4.2.6).

    A pragmatic RFC 3987 check: a scheme, a colon and a non-empty rest, with no whitespace,
    no control characters, none of ``<>"{}|\\^``` and only well-formed percent-escapes.
    ``urn:uuid:...``, ``tag:...`` and ``http://...`` pass; ``12345``, ``""`` and ``foo bar``
    do not. It does not check scheme-specific syntax (a ``urn:`` namespace, a host name) and
    it does not normalize; it never raises.
    """
    match = _IRI_SCHEME.match(s)
    if match is None or match.end() == len(s):
        return False
    if any(ch.isspace() for ch in s):
        return False
    return _IRI_FORBIDDEN.search(s) is None and _IRI_BAD_PERCENT.search(s) is None


def public_id(atom_id: str) -> str:
    """The id an entry is published under in every format.

    The stored ``atom_id`` itself, except when its scheme is one that executes
    (``javascript:``, ``vbscript:``, ``data:``): such an id, taken over from a hostile feed,
    becomes a ``urn:uuid`` derived from it, so it is still stable (the same stored id always
    gives the same public id) but can never turn into a clickable script. Nothing is stored.
    """
    stripped = clean(atom_id).strip()
    match = _IRI_SCHEME.match(stripped)
    if match and match.group(0)[:-1].lower() in _ACTIVE_SCHEMES:
        return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, stripped))
    return stripped


def clean(text: str | None) -> str:
    """``text`` without the characters XML 1.0 cannot represent ("" for None)."""
    return remove_xml_invalid(text or "")


# Something that reads as the start of a tag, a comment or a declaration in HTML.
_MARKUP = re.compile(r"<[A-Za-z/!?]")


def plain(text: str | None) -> str:
    """A plain-text value (title, name, category, rights) as it is published: stripped, no
    characters XML cannot carry, and no stray markup.

    Plain-text fields are text by definition, but a value like ``<script>alert(1)</script>``
    (typically HTML that a feed escaped twice) would become live markup in any reader that
    renders titles as HTML. Text that looks like markup (``<`` followed by a letter, ``/``,
    ``!`` or ``?``) is therefore read as HTML once more and reduced to its text, so
    ``<b>Big</b> news`` becomes ``Big news`` and a script's content disappears; ``3 < 5``
    and ``a & b`` are left alone.
    """
    value = clean(text)
    if _MARKUP.search(value):
        value = text_title(value)  # also collapses whitespace
    return value.strip()


def entry_title(entry: PublishedEntry) -> str:
    """An entry's title as published in every format: :func:`plain`, never empty."""
    return plain(entry.title) or UNTITLED


# Value patterns that atom.rng (RFC 4287 appendix B) enforces. XSD patterns are anchored and
# their "." matches anything but CR and LF.
EMAIL = re.compile(r"[^\r\n]+@[^\r\n]+")  # atomEmailAddress
_MEDIA_TYPE = re.compile(r"[^\r\n]+/[^\r\n]+")  # atomMediaType
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")  # atomLanguageTag


def language_tag(lang: str | None) -> str | None:
    """``lang`` as a BCP 47-shaped tag (what atom.rng accepts), or None ("en_US" → "en-US")."""
    if not lang:
        return None
    tag = clean(lang).strip().replace("_", "-")
    return tag if _LANGUAGE_TAG.fullmatch(tag) else None


def media_type(value: str | None) -> str | None:
    """``value`` if it looks like a media type (``type/subtype``), else None."""
    text = clean(value).strip()
    return text if _MEDIA_TYPE.fullmatch(text) else None


def utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime (a bug upstream) is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def rfc3339(value: datetime) -> str:
    """``2024-05-03T12:00:00Z``: RFC 3339, UTC, with microseconds only when there are any."""
    return utc(value).isoformat().replace("+00:00", "Z")


def newest_first(entries: Iterable[PublishedEntry]) -> list[PublishedEntry]:
    """Newest ``published`` first, ties broken by ``atom_id``: a total, stable order."""
    by_id = sorted(entries, key=lambda e: e.atom_id)
    return sorted(by_id, key=lambda e: utc(e.published), reverse=True)


def feed_updated(entries: Iterable[PublishedEntry]) -> datetime:
    """A document's updated time: its newest entry ``updated``, or :data:`EPOCH`."""
    return max((utc(e.updated) for e in entries), default=EPOCH)


@dataclass(frozen=True)
class Link:
    """A feed-level link (RFC 4287 §4.2.7): the same data in every format that has one."""

    rel: str
    href: str
    type: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class Head:
    """What tells one published document apart from the others of the same logical feed.

    ``links`` are the feed-level links besides ``rel="self"`` (alternates, hub, RFC 5005
    archive links), in the order they are written. ``archive`` marks an RFC 5005 archive
    document (``fh:archive``). ``subtitle`` None means the feed's own.
    """

    id: str
    title: str
    self_url: str
    links: tuple[Link, ...] = ()
    archive: bool = False
    subtitle: str | None = None


class Urls:
    """The public URL of every published file, from ``[feed] base_url`` (a folder)."""

    def __init__(self, base_url: str) -> None:
        # urljoin("http://h/feeds", "atom.xml") would drop "feeds": base_url names a folder.
        self.base = base_url if base_url.endswith("/") else base_url + "/"

    def of(self, name: str) -> str:
        return urljoin(self.base, name)

    @property
    def atom(self) -> str:
        return self.of(ATOM_FILE)

    @property
    def rss(self) -> str:
        return self.of(RSS_FILE)

    @property
    def json(self) -> str:
        return self.of(JSON_FILE)

    @property
    def html(self) -> str:
        return self.base

    def archive(self, number: int) -> str:
        return self.of(f"{ARCHIVE_DIR}/{number}.xml")

    def source(self, name: str) -> str:
        return self.of(f"{SOURCES_DIR}/{name}.xml")


def basic_head(settings: FeedSettings, self_url: str | None = None) -> Head:
    """The head of a plain feed document: self, the HTML alternate and the hub, if any."""
    urls = Urls(settings.base_url)
    links = [Link("alternate", urls.html, HTML_TYPE)]
    links.extend(hub_links(settings))
    return Head(settings.id, settings.title, self_url or urls.atom, tuple(links))


def hub_links(settings: FeedSettings) -> list[Link]:
    """``rel="hub"`` (WebSub §4) when a hub is configured."""
    return [Link("hub", settings.hub)] if settings.hub else []


def links_of(head: Head, rel: str) -> Sequence[Link]:
    return [link for link in head.links if link.rel == rel]
