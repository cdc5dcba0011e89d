"""OPML subscription lists: read the outlines of a file, write them back out.

Pure: bytes in, :class:`Subscription` values out, and the reverse; no files, no config. Reads
OPML 1.0 and 2.0 as feed readers write them (newsboat's ``-e``/``--export-to-opml2``, Miniflux,
FreshRSS, Feedly, ...): every ``<outline>`` with an ``xmlUrl`` is a subscription, at any depth;
the ``text``/``title`` of the outlines it is nested in (folders) and its OPML 2.0 ``category``
attribute (comma-separated, ``/``-separated paths) become its tags. Writes OPML 2.0 with one
folder outline per first tag, and every tag in ``category``, so an export read back gives the
same subscriptions with the same tags.

It does not decide which subscriptions are new (see :mod:`feedsvc.manage`), and it fetches
nothing. Entities are not expanded and nothing is loaded from the network while parsing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lxml import etree

from feedsvc.errors import FeedsvcError


class OpmlError(FeedsvcError):
    """The file is not an OPML document feedsvc can read."""


@dataclass(frozen=True)
class Subscription:
    """One feed of a subscription list."""

    url: str  # the feed (xmlUrl)
    title: str | None = None
    html_url: str | None = None  # the site (htmlUrl)
    tags: tuple[str, ...] = ()


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True
    )


def _clean(value: str | None) -> str | None:
    value = " ".join((value or "").split())
    return value or None


def _categories(value: str | None) -> list[str]:
    """OPML 2.0 ``category``: comma-separated; each a ``/``-separated path ("/tech/python")."""
    out: list[str] = []
    for part in (value or "").split(","):
        tag = "/".join(p.strip() for p in part.strip().strip("/").split("/") if p.strip())
        if tag:
            out.append(tag)
    return out


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def parse_opml(data: bytes, origin: str = "OPML") -> list[Subscription]:
    """The subscriptions of an OPML document, in document order (duplicates kept: the caller
    decides). Raises :class:`OpmlError` naming ``origin`` when the bytes are not OPML."""
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as e:
        raise OpmlError(f"{origin}: not well-formed XML: {e}") from e
    if not isinstance(root.tag, str) or etree.QName(root).localname != "opml":
        raise OpmlError(f"{origin}: not an OPML document (the root element is not <opml>)")
    body = next((c for c in root if isinstance(c.tag, str) and c.tag == "body"), None)
    if body is None:
        raise OpmlError(f"{origin}: an OPML document without <body>")
    out: list[Subscription] = []

    def walk(parent: etree._Element, folders: tuple[str, ...]) -> None:
        for node in parent:
            if not isinstance(node.tag, str) or node.tag != "outline":
                continue
            label = _clean(node.get("title")) or _clean(node.get("text"))
            url = (node.get("xmlUrl") or node.get("xmlurl") or "").strip()
            if url:
                tags = _unique([*folders, *_categories(node.get("category"))])
                out.append(Subscription(url, label, _clean(node.get("htmlUrl")) or None, tags))
            # A folder's children take its label as a tag; a feed's children (rare) do not.
            walk(node, folders if url or not label else (*folders, label))

    walk(body, ())
    return out


def render_opml(subscriptions: Sequence[Subscription], title: str, created: str) -> bytes:
    """An OPML 2.0 document: subscriptions without tags at the top, the others in a folder
    named by their first tag, every tag also in ``category``. ``created`` is an RFC 822 date
    for ``<dateCreated>`` (passed in, so output is reproducible)."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = created
    body = etree.SubElement(root, "body")
    folders: dict[str, etree._Element] = {}
    for sub in subscriptions:
        parent = body
        if sub.tags:
            first = sub.tags[0]
            if first not in folders:
                folders[first] = etree.SubElement(body, "outline", text=first, title=first)
            parent = folders[first]
        label = sub.title or sub.url
        node = etree.SubElement(parent, "outline", type="rss", text=label, title=label)
        node.set("xmlUrl", sub.url)
        if sub.html_url:
            node.set("htmlUrl", sub.html_url)
        if sub.tags:
            node.set("category", ",".join("/" + t for t in sub.tags))
    out: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return out
