"""Make outside HTML safe to publish, escape plain text, and turn HTML back into text.

This is the only module that uses nh3. Everything here is pure: strings in, strings out, no
I/O. It does not decide *which* text is trusted; callers pass external HTML (feeds, ``.html``
files, rendered Markdown) to :func:`clean_html` and plain text to :func:`escape_paragraphs`.

Non-ASCII text is kept as characters, never turned into entities, so curly quotes and dashes
survive byte for byte. Characters that XML 1.0 cannot carry (C0 controls other than tab, LF and
CR; U+FFFE, U+FFFF) are removed everywhere, because every string produced here may end up in
an Atom document, and a single form feed would make that document unparsable.
"""

from __future__ import annotations

import functools
import html
import re
import threading
from collections.abc import Sequence
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import nh3

__all__ = [
    "clean_html",
    "escape_paragraphs",
    "html_to_text",
    "plain_title",
    "remove_xml_invalid",
    "safe_url",
    "text_title",
]

# XML 1.0 §2.2 Char production: no C0 controls except \t \n \r, no U+FFFE/U+FFFF. (Lone
# surrogates cannot come out of a strict UTF-8 decode, but feed text may carry them.)
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")

_TAGS = frozenset(
    {
        # text-level
        "a", "abbr", "b", "bdi", "bdo", "br", "cite", "code", "data", "del", "dfn", "em",
        "i", "ins", "kbd", "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup",
        "time", "u", "var", "wbr",
        # blocks
        "address", "article", "aside", "blockquote", "dd", "details", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
        "li", "ol", "p", "pre", "section", "summary", "ul",
        # media and tables
        "img", "caption", "col", "colgroup", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
    }
)  # fmt: skip

# Removed together with their content (``tags`` would keep the text of a <script>).
_CLEAN_CONTENT_TAGS = frozenset(
    {
        "applet", "embed", "frame", "frameset", "iframe", "noembed", "noframes", "noscript",
        "object", "script", "style", "template", "title",
    }
)  # fmt: skip

# No on* handlers, no style, no class/id (they would collide with the reader's page). No
# ``cite`` either: nh3 does not check its URL scheme (``<blockquote cite="javascript:...">``
# passes through), and nothing renders it.
_ATTRIBUTES: dict[str, frozenset[str]] = {
    "*": frozenset({"title", "lang", "dir"}),
    "a": frozenset({"href", "hreflang"}),
    "img": frozenset({"src", "alt", "width", "height"}),
    "td": frozenset({"colspan", "rowspan", "headers"}),
    "th": frozenset({"colspan", "rowspan", "headers", "scope"}),
    "col": frozenset({"span"}),
    "colgroup": frozenset({"span"}),
    "ol": frozenset({"start", "reversed"}),
    "li": frozenset({"value"}),
    "time": frozenset({"datetime"}),
    "data": frozenset({"value"}),
    "del": frozenset({"datetime"}),
    "ins": frozenset({"datetime"}),
}

# ``data`` is let through nh3's scheme check only so that _attribute_filter can keep inline
# raster images; it drops every other data: URL (data:text/html is a script vector, and SVG
# can carry script too).
_URL_SCHEMES = frozenset({"http", "https", "mailto", "data"})
_DATA_IMAGE = re.compile(r"data:image/(?:png|gif|jpeg|webp|avif);base64,[A-Za-z0-9+/=\s]*\Z", re.I)


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    # nh3 calls this after its own scheme check (so javascript:/vbscript: are already gone,
    # including entity- and whitespace-obfuscated forms) and before relative URLs are
    # rewritten. It must never raise: nh3 would report the error via sys.unraisablehook.
    if attr in ("href", "src") and _as_browser_reads(value)[:5].lower() == "data:":
        # As a browser reads it: "da\tta:text/html,..." is a data: URL too.
        kept = _as_browser_reads(value)
        if tag == "img" and attr == "src" and _DATA_IMAGE.match(kept):
            return kept
        return None
    return value


def _as_browser_reads(url: str) -> str:
    """``url`` without what the WHATWG URL parser ignores (see :data:`_URL_STRIP`)."""
    return _URL_IGNORED.sub("", url).strip(_URL_STRIP)


# What the WHATWG URL parser ignores before it reads a scheme: leading and trailing C0
# controls and spaces, and ASCII tab/LF/CR anywhere ("java\tscript:" is "javascript:" to a
# browser).
_URL_STRIP = "".join(chr(c) for c in range(0x21))
_URL_IGNORED = re.compile("[\t\n\r]")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")

LINK_SCHEMES = frozenset({"http", "https"})


def _scheme(url: str) -> str | None:
    """The scheme a browser would see in ``url``, lower-cased; None for a relative URL."""
    match = _SCHEME.match(_URL_IGNORED.sub("", url.strip(_URL_STRIP)))
    return match.group(1).lower() if match else None


def safe_url(url: str | None, schemes: frozenset[str] = LINK_SCHEMES) -> str | None:
    """``url`` stripped, if it is an absolute URL with one of ``schemes``; else None.

    For URLs published outside HTML (entry links, enclosures, author and source links),
    which no HTML sanitizer sees: a ``javascript:`` link in a feed's ``<link>`` element
    would otherwise reach every feed reader. The scheme is read the way a browser reads it
    (surrounding controls and spaces, and tabs/newlines inside, are ignored), so obfuscated
    forms are refused too. Relative URLs are refused: there is no base to resolve them
    against once they are published. Characters XML cannot carry are removed; nothing else
    is changed (no normalization, no percent-encoding). Never raises.
    """
    if not url:
        return None
    cleaned = remove_xml_invalid(url).strip(_URL_STRIP)
    if _URL_IGNORED.search(cleaned) or _scheme(cleaned) not in schemes:
        return None
    try:
        parts = urlsplit(cleaned)
    except ValueError:  # an invalid IPv6 literal, for instance
        return None
    if parts.scheme in ("http", "https") and not parts.netloc:
        return None
    return cleaned


def _resolve(url: str) -> str | None:
    base: str | None = _base.url
    if not base:
        return url
    # nh3 has already refused bad schemes in absolute URLs; check the joined URL again
    # anyway, because urljoin and a browser may disagree about what is "relative" (a base
    # with a script scheme, or a scheme hidden behind characters the WHATWG URL parser strips).
    try:
        joined = urljoin(base, url)
    except ValueError:  # e.g. an invalid IPv6 literal in the URL
        return None
    return joined if _scheme(joined) in _URL_SCHEMES - {"data"} else None


@functools.cache
def _cleaners() -> tuple[nh3.Cleaner, nh3.Cleaner]:
    """Two reusable nh3 cleaners (building one per call costs as much as half a clean):
    one leaves relative URLs as they are, the other resolves them against ``_base.url``."""

    def make(url_relative: nh3.UrlRelative) -> nh3.Cleaner:
        return nh3.Cleaner(
            tags=set(_TAGS),
            clean_content_tags=set(_CLEAN_CONTENT_TAGS),
            attributes={tag: set(names) for tag, names in _ATTRIBUTES.items()},
            attribute_filter=_attribute_filter,
            url_schemes=set(_URL_SCHEMES),
            url_relative=url_relative,
            strip_comments=True,
        )

    return make("pass_through"), make(_resolve)


# The base URL of the clean_html() call running on this thread (see _resolve).
_base = threading.local()


def remove_xml_invalid(s: str) -> str:
    """Remove characters that XML 1.0 forbids (controls, U+FFFE, U+FFFF, lone surrogates)."""
    return _XML_INVALID.sub("", s)


def clean_html(html: str, base_url: str | None = None) -> str:
    """Sanitize an untrusted HTML fragment so that it is safe to publish.

    Keeps common formatting, headings, lists, tables, blockquote, pre/code, figure, links
    (``href`` with http, https or mailto, given ``rel="noopener noreferrer"``) and images
    (``src``, ``alt``, ``title``, ``width``, ``height``; ``src`` may also be a base64
    ``data:image/png|gif|jpeg|webp|avif`` URL). Drops script, style, iframe, object, embed
    and their content; drops form controls but keeps their text; drops every ``on*``,
    ``style``, ``class`` and ``id`` attribute and every other URL scheme. Relative URLs are
    resolved against ``base_url`` when one is given and left relative otherwise.

    It does not fix up semantics (an unclosed ``<b>`` is closed by the HTML5 parser) and it
    does not truncate.
    """
    if base_url:
        # nh3 calls back into Python for each relative URL, on this thread, during clean().
        _base.url = base_url
        try:
            cleaned = _cleaners()[1].clean(remove_xml_invalid(html))
        finally:
            _base.url = None
    else:
        cleaned = _cleaners()[0].clean(remove_xml_invalid(html))
    # The serializer writes U+00A0 as "&nbsp;", an entity XML does not know; the character
    # itself is equivalent HTML and keeps the fragment embeddable in XHTML/XML. (A literal
    # "&nbsp;" in the source text is serialized as "&amp;nbsp;", which this does not touch.)
    return cleaned.replace("&nbsp;", "\u00a0")


def escape_paragraphs(paragraphs: Sequence[str]) -> str:
    """Render plain-text paragraphs as ``<p>…</p>`` lines, escaping ``&``, ``<`` and ``>``.

    Quotes and non-ASCII characters are kept as they are (no entities). Paragraphs are not
    stripped or merged; an empty sequence gives ``""``.
    """
    return "\n".join(
        f"<p>{html.escape(remove_xml_invalid(p), quote=False)}</p>" for p in paragraphs
    )


_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "div",
        "dl", "dt", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table",
        "tbody", "td", "tfoot", "th", "thead", "title", "tr", "ul",
    }
)  # fmt: skip
_SKIP_TAGS = frozenset({"script", "style", "template", "noscript", "iframe", "object", "head"})
_WS = re.compile(r"\s+")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self._current: list[str] = []
        self._skip_depth = 0

    def _break(self) -> None:
        text = _WS.sub(" ", "".join(self._current)).strip()
        if text:
            self.blocks.append(text)
        self._current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self._break()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self._break()

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self._current.append(data)


def html_to_text(html: str) -> str:
    """The plain text of an HTML fragment: tags removed, entities decoded.

    Whitespace inside a block is collapsed to single spaces; block elements (p, li, headings,
    br, table cells, ...) become separate lines joined with ``"\\n"``. The content of script,
    style and head is dropped. Never raises on malformed input; it is not a sanitizer, its
    output is text, not HTML.
    """
    parser = _TextExtractor()
    parser.feed(remove_xml_invalid(html))
    parser.close()
    parser._break()
    return "\n".join(parser.blocks)


def text_title(s: str) -> str:
    """A title as plain text: markup stripped, entities decoded, whitespace collapsed."""
    return _WS.sub(" ", html_to_text(s)).strip()


def plain_title(s: str) -> str:
    """A plain-text title as one line: XML-invalid characters removed, whitespace collapsed.

    Equal to ``text_title(html.escape(s, quote=False))``, but with no HTML parser to run.
    """
    return " ".join(remove_xml_invalid(s).split())
