"""Render stored stories as one Atom 1.0 document (RFC 4287, with RFC 5005 extras).

This is the only module that imports feedgen. It takes
:class:`~feedsvc.models.PublishedEntry` values, :class:`~feedsvc.models.FeedSettings` and a
:class:`~feedsvc.publish.common.Head` (id, title, self link, other links, whether it is an
RFC 5005 archive document) and returns bytes; it never reads the database, never decides
which entries go into which document and never calls ``datetime.now()``: the same input
always gives byte-identical output, so an unchanged feed is never rewritten and HTTP
validators (ETag, Last-Modified) stay stable.

It does not sanitize HTML (``content_html`` and ``summary_html`` are already safe); it only
removes characters that XML 1.0 cannot carry and URLs whose scheme is not http(s) (a
``javascript:`` entry link is not HTML, so no HTML sanitizer ever saw it), so that hostile
input can never make publishing fail or reach a reader.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from feedsvc import PROJECT_URL, __version__
from feedsvc.errors import PublishError
from feedsvc.models import FeedInfo, FeedSettings, Person, PublishedEntry
from feedsvc.publish.common import (
    ATOM_TYPE,
    EMAIL,
    Head,
    basic_head,
    clean,
    entry_title,
    feed_updated,
    is_valid_iri,
    language_tag,
    media_type,
    newest_first,
    plain,
    public_id,
    utc,
)
from feedsvc.sanitize import safe_url

__all__ = ["FH_NS", "render_atom"]

_XML_NS = "http://www.w3.org/XML/1998/namespace"
FH_NS = "http://purl.org/syndication/history/1.0"  # RFC 5005 §5


def _person(person: Person) -> dict[str, str] | None:
    """A feedgen author dict; None when the name is blank (atom:name is required)."""
    name = plain(person.name)
    if not name:
        return None
    data = {"name": name}
    email = clean(person.email).strip()
    if EMAIL.fullmatch(email):  # an invalid atom:email fails the schema: drop it
        data["email"] = email
    uri = safe_url(person.uri)
    if uri:
        data["uri"] = uri
    return data


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
    rel=self (only http(s) URLs). An empty atom:source is still valid and still says
    "republished".
    """
    source = etree.SubElement(entry, "source")
    source_id = public_id(info.id or "")
    if source_id and is_valid_iri(source_id):
        etree.SubElement(source, "id").text = source_id
    title = plain(info.title)
    if title:
        etree.SubElement(source, "title", type="text").text = title
    if info.updated is not None:
        etree.SubElement(source, "updated").text = utc(info.updated).isoformat()
    for rel, href in (("alternate", info.link), ("self", info.self_link)):
        url = safe_url(href)
        if url:
            etree.SubElement(source, "link", rel=rel, href=url)


def _extras_factory(
    links: Sequence[dict[str, str]], lang: str | None, source: FeedInfo | None
) -> Callable[[], _EntryExtras]:
    # feedgen instantiates extension classes without arguments; bind ours in a closure.
    def make() -> _EntryExtras:
        return _EntryExtras(links, lang, source)

    return make


class _FeedExtras(BaseExtension):  # type: ignore[misc]  # feedgen is untyped
    """The feed-level ``fh:archive`` element of an RFC 5005 archive document (§4)."""

    def extend_ns(self) -> dict[str, str]:
        return {"fh": FH_NS}

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        etree.SubElement(feed, f"{{{FH_NS}}}archive")
        return feed


def _add_entry(fg: FeedGenerator, item: PublishedEntry) -> None:
    atom_id = public_id(item.atom_id)
    if not atom_id:
        raise PublishError(f"entry {item.atom_id!r} from {item.source_name!r} has no atom:id")
    fe = fg.add_entry(order="append")  # feedgen prepends by default
    fe.id(atom_id)
    fe.title(entry_title(item))
    fe.published(utc(item.published))
    fe.updated(utc(item.updated))  # always set: feedgen's default is datetime.now()
    # Links are written by _EntryExtras (feedgen drops their rel/type/length attributes).
    links: list[dict[str, str]] = []
    link = safe_url(item.link)
    if link:
        links.append({"rel": "alternate", "href": link})
    authors = [a for a in map(_person, item.authors) if a is not None]
    if authors:  # else the entry inherits the feed's author (RFC 4287 §4.2.1)
        fe.author(authors)
    # Always present, even when empty: the entry then needs no alternate link (§4.1.1).
    fe.content(clean(item.content_html), type="html")
    if item.summary_html:
        fe.summary(clean(item.summary_html), type="html")
    terms = [t for t in map(plain, item.categories) if t]
    if terms:
        fe.category([{"term": t} for t in terms])
    for enc in item.enclosures:
        href = safe_url(enc.href)
        if not href:
            continue
        data = {"rel": "enclosure", "href": href}
        if enc.length is not None and enc.length >= 0:
            data["length"] = str(enc.length)
        kind = media_type(enc.type)
        if kind:  # an invalid type attribute fails the schema
            data["type"] = kind
        links.append(data)
    rights = plain(item.rights)
    if rights:
        fe.rights(rights)
    factory = _extras_factory(links, language_tag(item.lang), item.source_info)
    fe.register_extension("feedsvc", factory, atom=True, rss=False)


def render_atom(
    entries: Sequence[PublishedEntry],
    settings: FeedSettings,
    *,
    self_url: str | None = None,
    head: Head | None = None,
) -> bytes:
    """The Atom 1.0 document (RFC 4287) for ``entries``, as UTF-8 bytes.

    ``head`` names the document (id, title, self link, other feed-level links, whether it
    is an RFC 5005 archive document); without one it is the plain main feed: ``[feed] id``
    and title, self link ``self_url`` (default ``base_url`` + ``atom.xml``), the HTML
    alternate and the hub, if any. Feed author, subtitle and generator come from
    ``settings``.

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
        return _render(entries, settings, head or basic_head(settings, self_url))
    except (ValueError, etree.LxmlError) as e:
        raise PublishError(f"cannot render the Atom feed: {e}") from e


def _render(entries: Sequence[PublishedEntry], settings: FeedSettings, head: Head) -> bytes:
    ordered = newest_first(entries)
    fg = FeedGenerator()
    fg.id(clean(head.id).strip())
    fg.title(clean(head.title).strip())
    # Feed-level author: entries without their own inherit it (RFC 4287 §4.1.1).
    fg.author({"name": clean(settings.author).strip() or "feedsvc"})
    subtitle = head.subtitle if head.subtitle is not None else settings.subtitle
    if subtitle:
        fg.subtitle(clean(subtitle))
    fg.link(href=clean(head.self_url), rel="self", type=ATOM_TYPE)
    for link in head.links:
        attrs = {"href": clean(link.href), "rel": link.rel}
        if link.type:
            attrs["type"] = link.type
        if link.title:
            attrs["title"] = clean(link.title)
        fg.link(**attrs)
    fg.generator(generator="feedsvc", version=__version__, uri=PROJECT_URL)
    # Always set: feedgen's default is datetime.now(), which would make every run differ.
    fg.updated(feed_updated(ordered))
    if head.archive:
        fg.register_extension("fh", _FeedExtras, None, atom=True, rss=False)
    for item in ordered:
        _add_entry(fg, item)
    data: bytes = fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    return data
