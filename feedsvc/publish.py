"""Render stored stories as one Atom 1.0 document and write it atomically.

This is the only module that imports feedgen (and the only one that builds Atom). It takes
:class:`~feedsvc.models.PublishedEntry` values and :class:`~feedsvc.models.FeedSettings` and
returns bytes; it never reads the database, never decides which entries to publish and never
calls ``datetime.now()``: the same input always gives byte-identical output, so an unchanged
feed is never rewritten and HTTP validators (ETag, Last-Modified) stay stable.

It does not sanitize HTML (``content_html`` and ``summary_html`` are already safe); it only
removes characters that XML 1.0 cannot carry, so that hostile input can never make
publishing fail.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin

from feedgen.ext.base import BaseEntryExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from feedsvc import PROJECT_URL, __version__
from feedsvc.errors import PublishError
from feedsvc.models import FeedInfo, FeedSettings, Person, PublishedEntry

__all__ = ["FEED_FILENAME", "is_valid_iri", "publish_feed", "render_atom", "write_atomic"]

FEED_FILENAME = "atom.xml"

# The feed's atom:updated when there are no entries. Never "now": output must be
# deterministic, and an empty feed has not changed since... ever.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

UNTITLED = "(untitled)"

_XML_NS = "http://www.w3.org/XML/1998/namespace"

# Characters outside the XML 1.0 Char production (§2.2): C0 controls other than TAB, LF and
# CR, lone surrogates and the two non-characters U+FFFE/U+FFFF. lxml refuses them outright
# ("All strings must be XML compatible"), so one stray byte in a feed would otherwise break
# the whole output.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# Value patterns that atom.rng (RFC 4287 appendix B) enforces. XSD patterns are anchored and
# their "." matches anything but CR and LF.
_EMAIL = re.compile(r"[^\r\n]+@[^\r\n]+")  # atomEmailAddress
_MEDIA_TYPE = re.compile(r"[^\r\n]+/[^\r\n]+")  # atomMediaType
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")  # atomLanguageTag

# RFC 3987 §2.2 / RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
_IRI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
# Characters an IRI can never contain literally (RFC 3987 §2.2 excludes them from every
# production; RFC 3986 appendix C lists "<>\"{}|\\^`" as unsafe delimiters), plus controls
# (C0, DEL, C1), surrogates and non-characters. Whitespace is tested separately.
_IRI_FORBIDDEN = re.compile('[\x00-\x1f\x7f-\x9f<>"{}|\\\\^`\ud800-\udfff\ufffe\uffff]')
_IRI_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


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


def _clean(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot represent."""
    return _XML_ILLEGAL.sub("", text)


def _utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime (a bug upstream) is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _language_tag(lang: str | None) -> str | None:
    """``lang`` as an xml:lang value atom.rng accepts, or None ("en_US" becomes "en-US")."""
    if not lang:
        return None
    tag = _clean(lang).strip().replace("_", "-")
    return tag if _LANGUAGE_TAG.fullmatch(tag) else None


def _person(person: Person) -> dict[str, str] | None:
    """A feedgen author dict; None when the name is blank (atom:name is required)."""
    name = _clean(person.name).strip()
    if not name:
        return None
    data = {"name": name}
    email = _clean(person.email or "").strip()
    if _EMAIL.fullmatch(email):  # an invalid atom:email fails the schema: drop it
        data["email"] = email
    uri = _clean(person.uri or "").strip()
    if uri:
        data["uri"] = uri
    return data


def _ordered(entries: Sequence[PublishedEntry]) -> list[PublishedEntry]:
    """Newest ``published`` first, ties broken by ``atom_id``: a total, stable order."""
    by_id = sorted(entries, key=lambda e: e.atom_id)
    return sorted(by_id, key=lambda e: _utc(e.published), reverse=True)


class _EntryExtras(BaseEntryExtension):  # type: ignore[misc]  # feedgen is untyped
    """What feedgen 1.0.0 cannot write correctly for an entry: links, xml:lang, atom:source.

    - Links: feedgen's ``atom_entry`` rebinds its loop variable to the new element and so
      drops every attribute but ``href`` (rel, type, length): enclosures would come out as
      alternate links (lkiesow/python-feedgen#135, #143). We write entry links ourselves.
    - ``FeedEntry.source()`` only knows a title and an href (no id, no updated), so
      atom:source is built here too.

    feedgen builds its tree without namespaces and declares the Atom namespace as a plain
    ``xmlns`` attribute on the root, so the elements below are un-namespaced as well: they
    land in the Atom namespace once serialized.
    """

    def __init__(
        self,
        links: Sequence[dict[str, str]],
        lang: str | None,
        source: FeedInfo | None,
    ) -> None:
        self._links = links
        self._lang = lang
        self._source = source

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        if self._lang:
            entry.set(f"{{{_XML_NS}}}lang", self._lang)
        for attrs in self._links:
            etree.SubElement(entry, "link", attrs)
        if self._source is not None:
            _append_source(entry, self._source)
        return entry


def _append_source(entry: etree._Element, info: FeedInfo) -> None:
    """Append atom:source (RFC 4287 §4.2.11) describing the feed an entry came from.

    Only children the schema allows, each at most once where it must be: id (only when it
    is a valid IRI, §4.2.6), title, updated (only when known), link rel=alternate and
    rel=self. An empty atom:source is still valid and still says "republished".
    """
    source = etree.SubElement(entry, "source")
    source_id = _clean(info.id or "").strip()
    if source_id and is_valid_iri(source_id):
        etree.SubElement(source, "id").text = source_id
    title = _clean(info.title or "").strip()
    if title:
        etree.SubElement(source, "title", type="text").text = title
    if info.updated is not None:
        etree.SubElement(source, "updated").text = _utc(info.updated).isoformat()
    for rel, href in (("alternate", info.link), ("self", info.self_link)):
        href = _clean(href or "").strip()
        if href:
            etree.SubElement(source, "link", rel=rel, href=href)


def _extras_factory(
    links: Sequence[dict[str, str]], lang: str | None, source: FeedInfo | None
) -> Callable[[], _EntryExtras]:
    # feedgen instantiates extension classes without arguments; bind ours in a closure.
    def make() -> _EntryExtras:
        return _EntryExtras(links, lang, source)

    return make


def _add_entry(fg: FeedGenerator, item: PublishedEntry) -> None:
    atom_id = _clean(item.atom_id).strip()
    if not atom_id:
        raise PublishError(f"entry {item.atom_id!r} from {item.source_name!r} has no atom:id")
    fe = fg.add_entry(order="append")  # feedgen prepends by default
    fe.id(atom_id)
    fe.title(_clean(item.title).strip() or UNTITLED)
    fe.published(_utc(item.published))
    fe.updated(_utc(item.updated))  # always set: feedgen's default is datetime.now()
    # Links are written by _EntryExtras (feedgen drops their rel/type/length attributes).
    links: list[dict[str, str]] = []
    link = _clean(item.link or "").strip()
    if link:
        links.append({"rel": "alternate", "href": link})
    authors = [a for a in map(_person, item.authors) if a is not None]
    if authors:  # else the entry inherits the feed's author (RFC 4287 §4.2.1)
        fe.author(authors)
    # Always present, even when empty: the entry then needs no alternate link (§4.1.1).
    fe.content(_clean(item.content_html), type="html")
    if item.summary_html:
        fe.summary(_clean(item.summary_html), type="html")
    terms = [t for t in (_clean(c).strip() for c in item.categories) if t]
    if terms:
        fe.category([{"term": t} for t in terms])
    for enc in item.enclosures:
        href = _clean(enc.href).strip()
        if not href:
            continue
        data = {"rel": "enclosure", "href": href}
        if enc.length is not None and enc.length >= 0:
            data["length"] = str(enc.length)
        media_type = _clean(enc.type or "").strip()
        if _MEDIA_TYPE.fullmatch(media_type):  # an invalid type attribute fails the schema
            data["type"] = media_type
        links.append(data)
    rights = _clean(item.rights or "").strip()
    if rights:
        fe.rights(rights)
    factory = _extras_factory(links, _language_tag(item.lang), item.source_info)
    fe.register_extension("feedsvc", factory, atom=True, rss=False)


def _self_url(settings: FeedSettings) -> str:
    # urljoin("http://h/feeds", "atom.xml") would drop "feeds": base_url names a folder.
    base = settings.base_url if settings.base_url.endswith("/") else settings.base_url + "/"
    return urljoin(base, FEED_FILENAME)


def render_atom(
    entries: Sequence[PublishedEntry], settings: FeedSettings, *, self_url: str | None = None
) -> bytes:
    """The Atom 1.0 document (RFC 4287) for ``entries``, as UTF-8 bytes.

    Entries are sorted newest ``published`` first, ties by ``atom_id`` (callers already pass
    that order; sorting again makes the output independent of it). The feed's ``updated`` is
    the latest entry ``updated``, or 1970-01-01T00:00:00Z for an empty feed: nothing here
    depends on the clock, so equal input gives equal bytes. Every entry carries
    ``content type="html"``; entries with ``source_info`` carry ``atom:source``.

    It does not truncate to ``settings.max_entries`` (the caller chooses what to publish)
    and does not sanitize HTML. Raises :class:`PublishError` when feedgen or lxml reject the
    data (e.g. an empty feed id or title).
    """
    try:
        return _render(entries, settings, self_url)
    except (ValueError, etree.LxmlError) as e:
        raise PublishError(f"cannot render the Atom feed: {e}") from e


def _render(
    entries: Sequence[PublishedEntry], settings: FeedSettings, self_url: str | None
) -> bytes:
    ordered = _ordered(entries)
    fg = FeedGenerator()
    fg.id(_clean(settings.id).strip())
    fg.title(_clean(settings.title).strip())
    # Feed-level author: entries without their own inherit it (RFC 4287 §4.1.1).
    fg.author({"name": _clean(settings.author).strip() or "feedsvc"})
    if settings.subtitle:
        fg.subtitle(_clean(settings.subtitle))
    fg.link(href=_clean(self_url or _self_url(settings)), rel="self", type="application/atom+xml")
    fg.link(href=_clean(settings.base_url), rel="alternate")
    fg.generator(generator="feedsvc", version=__version__, uri=PROJECT_URL)
    # Always set: feedgen's default is datetime.now(), which would make every run differ.
    fg.updated(max((_utc(e.updated) for e in ordered), default=EPOCH))
    for item in ordered:
        _add_entry(fg, item)
    data: bytes = fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    return data


def write_atomic(path: Path, data: bytes) -> bool:
    """Make ``path`` hold exactly ``data``; return whether the file changed.

    When ``path`` already holds these bytes it is left alone (same inode, same mtime), so
    HTTP caches stay valid. Otherwise ``data`` goes to a temporary file in the same folder,
    is flushed and fsync'ed, gets mode 0644 and is renamed over ``path`` (``os.replace``,
    atomic on POSIX): a reader sees the old file or the new one, never half of one. The
    folder is fsync'ed afterwards (best effort) so the rename survives a crash. Parent
    folders are created. Any OSError becomes :class:`PublishError` naming ``path``; the
    temporary file is removed.
    """
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    except OSError as e:
        raise PublishError(f"cannot write {path}: {e}") from e

    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            # mkstemp creates 0600; set the final mode before the rename so that the file
            # is never visible with the wrong permissions.
            os.fchmod(f.fileno(), 0o644)
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise PublishError(f"cannot write {path}: {e}") from e
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    _fsync_dir(path.parent)
    return True


def _fsync_dir(folder: Path) -> None:
    # Persist the rename itself (a directory entry). Not possible everywhere (e.g. Windows,
    # some network file systems): the write has succeeded anyway, so failures are ignored.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def publish_feed(
    entries: Sequence[PublishedEntry],
    settings: FeedSettings,
    out_dir: Path,
    *,
    self_url: str | None = None,
) -> bool:
    """Render ``entries`` and write ``out_dir/atom.xml``; return whether the file changed.

    Raises :class:`PublishError` when the feed cannot be rendered or written.
    """
    data = render_atom(entries, settings, self_url=self_url)
    return write_atomic(out_dir / FEED_FILENAME, data)
