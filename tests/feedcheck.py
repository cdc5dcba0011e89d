"""Checks for published files: JSON Feed 1.1 rules, HTML safety, archive walking.

Independent re-statements of the rules (not calls into feedsvc), so that a bug in the code
under test cannot also hide in its check.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import feedparser
from lxml import etree

ATOM = "{http://www.w3.org/2005/Atom}"
FH = "{http://purl.org/syndication/history/1.0}"

# --- JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/) ---------------------------------

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
_TOP_KEYS = {
    "version", "title", "home_page_url", "feed_url", "description", "user_comment",
    "next_url", "icon", "favicon", "authors", "author", "language", "expired", "hubs", "items",
}  # fmt: skip
_ITEM_KEYS = {
    "id", "url", "external_url", "title", "content_html", "content_text", "summary", "image",
    "banner_image", "date_published", "date_modified", "authors", "author", "tags",
    "language", "attachments",
}  # fmt: skip
# RFC 3339 §5.6 date-time.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})\Z")


def _url(value: Any, where: str) -> None:
    assert isinstance(value, str) and re.match(r"https?://\S+\Z", value), f"{where}: {value!r}"


def _authors(value: Any, where: str) -> None:
    assert isinstance(value, list) and value, f"{where}: authors must be a non-empty array"
    for author in value:
        assert isinstance(author, dict), where
        assert set(author) & {"name", "url", "avatar"}, f"{where}: an empty author"
        assert set(author) <= {"name", "url", "avatar"} or any(k.startswith("_") for k in author), (
            where
        )
        if "url" in author:
            _url(author["url"], f"{where}.url")


def check_json_feed(data: bytes) -> dict[str, Any]:
    """Assert ``data`` is a JSON Feed 1.1 document; return it parsed."""
    doc = json.loads(data.decode("utf-8"))
    assert isinstance(doc, dict)
    assert doc.get("version") == JSON_FEED_VERSION
    assert isinstance(doc.get("title"), str) and doc["title"].strip()
    for key in doc:
        assert key in _TOP_KEYS or key.startswith("_"), f"unknown top-level key {key!r}"
    for key in ("home_page_url", "feed_url"):
        if key in doc:
            _url(doc[key], key)
    if "authors" in doc:
        _authors(doc["authors"], "authors")
    for hub in doc.get("hubs", []):
        assert isinstance(hub.get("type"), str) and hub["type"], hub
        _url(hub.get("url"), "hubs[].url")
    items = doc.get("items")
    assert isinstance(items, list)
    seen: set[str] = set()
    for i, item in enumerate(items):
        where = f"items[{i}]"
        assert isinstance(item, dict), where
        for key in item:
            assert key in _ITEM_KEYS or key.startswith("_"), f"{where}: unknown key {key!r}"
        assert isinstance(item.get("id"), str) and item["id"], f"{where}: id"
        assert item["id"] not in seen, f"{where}: duplicate id {item['id']!r}"
        seen.add(item["id"])
        assert "content_html" in item or "content_text" in item, f"{where}: no content"
        for key in ("content_html", "content_text", "title", "summary"):
            if key in item:
                assert isinstance(item[key], str), f"{where}.{key}"
        for key in ("url", "external_url"):
            if key in item:
                _url(item[key], f"{where}.{key}")
        for key in ("date_published", "date_modified"):
            if key in item:
                assert _RFC3339.match(item[key]), f"{where}.{key}: {item[key]!r}"
                datetime.fromisoformat(item[key].replace("Z", "+00:00"))
        if "authors" in item:
            _authors(item["authors"], f"{where}.authors")
        if "tags" in item:
            assert all(isinstance(t, str) for t in item["tags"]), f"{where}.tags"
        for att in item.get("attachments", []):
            _url(att.get("url"), f"{where}.attachments[].url")
            assert isinstance(att.get("mime_type"), str) and "/" in att["mime_type"], att
            if "size_in_bytes" in att:
                assert isinstance(att["size_in_bytes"], int), att
    return doc


# --- feedparser round trips ---------------------------------------------------------------


def parse_clean(data: bytes, version: str) -> Any:
    """feedparser's view of ``data``; asserts bozo == 0 and the expected format version."""
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == version, parsed.version
    return parsed


# --- HTML safety -------------------------------------------------------------------------

FORBIDDEN_TAGS = frozenset(
    {
        "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet",
        "form", "input", "button", "textarea", "select", "isindex", "base", "meta", "link",
        "svg", "math", "template", "noscript", "xmp", "plaintext", "marquee", "audio",
        "video", "source", "body", "html", "head",
    }
)  # fmt: skip
FORBIDDEN_ATTRS = frozenset(
    {
        "style", "srcdoc", "formaction", "action", "background", "dynsrc", "lowsrc",
        "srcset", "xlink:href", "xmlns", "data", "codebase", "classid", "http-equiv",
    }
)  # fmt: skip
URL_ATTRS = frozenset({"href", "src", "cite", "poster", "longdesc", "ping"})
_RAW_TAG = re.compile(
    r"<\s*/?\s*(script|style|iframe|object|embed|form|svg|math|base|meta|link|applet|frame"
    r"|frameset|template|noscript|isindex)\b",
    re.I,
)
_DATA_IMAGE = re.compile(r"data:image/(png|gif|jpeg|webp|avif);base64,", re.I)
ACTIVE_SCHEMES = ("javascript:", "vbscript:", "livescript:", "mocha:", "data:")


def squeeze(value: str) -> str:
    """``value`` as a browser reads a URL's scheme: controls and whitespace removed,
    lower-cased."""
    return re.sub(r"[\x00-\x20\x7f]", "", value).lower()


def is_active_url(value: str) -> bool:
    return squeeze(value).startswith(ACTIVE_SCHEMES)


def _inline_image(tag: str, name: str, value: str) -> bool:
    """A base64 raster image in ``<img src>``: the one data: URL that is allowed."""
    return tag == "img" and name == "src" and bool(_DATA_IMAGE.match(squeeze(value)))


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.comments: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def html_problems(fragment: str, *, document: bool = False) -> list[str]:
    """Everything in ``fragment`` that could run script or restyle/replace a page.

    ``document`` allows what a whole page of ours needs in its head (meta, link to
    alternates and the stylesheet). Returns a list of problems, empty when safe.
    """
    problems: list[str] = []
    allowed = {"meta", "link", "html", "head", "body"} if document else set()
    if not document:
        problems.extend(f"raw tag {m.group(0)!r}" for m in _RAW_TAG.finditer(fragment))
    # Attribute values are serialized with "<" and ">" escaped, so a tag is "<...>" and a
    # script URL hidden in any attribute (even one the parser below would not read as a
    # URL) shows up here.
    for tag_text in re.findall(r"<[^<>]*>", fragment):
        if any(s in squeeze(tag_text) for s in ACTIVE_SCHEMES[:-1]):
            problems.append(f"script URL in tag {tag_text!r}")
    parser = _Tags()
    parser.feed(fragment)
    parser.close()
    problems.extend(f"comment {c!r}" for c in parser.comments)
    for tag, attrs in parser.tags:
        if tag in FORBIDDEN_TAGS and tag not in allowed:
            problems.append(f"<{tag}>")
        for name, value in attrs:
            value = value or ""
            forbidden = name in FORBIDDEN_ATTRS and not (document and name == "http-equiv")
            active = name in URL_ATTRS and is_active_url(value)
            if (
                name.startswith("on")
                or forbidden
                or (active and not _inline_image(tag, name, value))
            ):
                problems.append(f"<{tag} {name}={value!r}>")
    return problems


_MARKUP = re.compile(r"<[A-Za-z/!?]")


def text_problems(value: str, where: str) -> list[str]:
    """A plain-text value (title, name, URL, id...) must carry no markup and no script URL."""
    problems = []
    if _MARKUP.search(value):
        problems.append(f"{where}: markup in text {value!r}")
    if is_active_url(value.strip()):
        problems.append(f"{where}: script URL {value!r}")
    return problems


_ATOM_TEXT = {f"{ATOM}content", f"{ATOM}summary", f"{ATOM}title", f"{ATOM}rights"}
_RSS_HTML = {"description", "{http://purl.org/rss/1.0/modules/content/}encoded"}


def _is_html(element: etree._Element) -> bool:
    """Whether an element's text is HTML: Atom text constructs of type "html" (RFC 4287
    §3.1.1.2), and an RSS item's description and content:encoded."""
    if element.tag in _ATOM_TEXT:
        return element.get("type") == "html"
    parent = element.getparent()
    return element.tag in _RSS_HTML and parent is not None and parent.tag == "item"


def xml_problems(data: bytes) -> list[str]:
    """Problems in a published Atom or RSS document: unsafe HTML in its HTML-bearing
    elements, markup or script URLs in every other text and attribute."""
    root = etree.fromstring(data)
    problems: list[str] = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        text = element.text or ""
        if _is_html(element):
            problems.extend(f"{element.tag}: {p}" for p in html_problems(text))
        else:
            problems.extend(text_problems(text, element.tag))
        for name, value in element.attrib.items():
            problems.extend(text_problems(value, f"{element.tag}@{name}"))
    return problems


def json_problems(data: bytes) -> list[str]:
    """The same for a JSON Feed: ``content_html`` is HTML, every other string plain text."""
    problems: list[str] = []

    def walk(value: Any, where: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{where}.{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]")
        elif isinstance(value, str):
            if where.endswith(".content_html"):
                problems.extend(f"{where}: {p}" for p in html_problems(value))
            else:
                problems.extend(text_problems(value, where))

    walk(json.loads(data), "$")
    return problems


def page_problems(data: bytes) -> list[str]:
    """The same for index.html: the whole page is checked as a document."""
    page = data.decode("utf-8")
    problems = html_problems(page, document=True)
    if re.search(r"<\s*script", page, re.I):
        problems.append("a <script> in the page")
    return problems


def output_problems(feeds: Path) -> dict[str, list[str]]:
    """Every problem in every published file below ``feeds``, by file."""
    found: dict[str, list[str]] = {}
    for path in sorted(feeds.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        data = path.read_bytes()
        if path.suffix == ".xml":
            problems = xml_problems(data)
        elif path.suffix == ".json":
            problems = json_problems(data)
        elif path.suffix == ".html":
            problems = page_problems(data)
        else:
            continue
        if problems:
            found[str(path.relative_to(feeds))] = problems
    return found


# --- RFC 5005 archive walking ----------------------------------------------------------------


def link(root: etree._Element, rel: str) -> str | None:
    for element in root.findall(f"{ATOM}link"):
        if element.get("rel") == rel:
            return element.get("href")
    return None


def local(feeds: Path, base_url: str, url: str) -> Path:
    assert url.startswith(base_url), f"{url} is not below {base_url}"
    return feeds / url[len(base_url) :]


def walk_archives(feeds: Path, base_url: str) -> tuple[list[str], list[list[str]]]:
    """Walk ``atom.xml`` and its ``prev-archive`` chain like a subscriber would.

    Returns the ids of the subscription document and the ids of each archive document,
    newest archive first. Asserts the RFC 5005 structure on the way: archive documents
    are marked ``fh:archive``, link ``current`` to the subscription document, link back with
    ``next-archive`` to the document they were reached from, and the chain ends.
    """
    current = etree.parse(str(feeds / "atom.xml")).getroot()
    assert current.find(f"{FH}archive") is None
    current_ids = [e.findtext(f"{ATOM}id") or "" for e in current.iter(f"{ATOM}entry")]
    pages: list[list[str]] = []
    href = link(current, "prev-archive")
    came_from: str | None = None
    for _ in range(100_000):  # bounded: a link cycle fails the test instead of hanging it
        if href is None:
            break
        root = etree.parse(str(local(feeds, base_url, href))).getroot()
        assert root.find(f"{FH}archive") is not None, f"{href} is not marked fh:archive"
        assert link(root, "current") == base_url + "atom.xml"
        assert link(root, "self") == href
        if came_from is not None:
            assert link(root, "next-archive") == came_from
        pages.append([e.findtext(f"{ATOM}id") or "" for e in root.iter(f"{ATOM}entry")])
        came_from, href = href, link(root, "prev-archive")
    else:  # pragma: no cover - only on a cycle
        raise AssertionError("prev-archive links form a cycle")
    return current_ids, pages
