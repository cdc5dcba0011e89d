# ruff: noqa: RUF002
"""Near-duplicate text: boilerplate removal, word shingles, sketches and the similarity rule.

Pure: strings in, numbers out; no I/O, no third-party libraries.

How two bodies are compared (README "Deduplication" documents the same):

1. :func:`content_blocks` splits the HTML into blocks (paragraphs, list items, headings) and
   drops *boilerplate*: ``nav``/``aside``/``footer``/``header``/``figure`` elements, blocks that
   are mostly link text (related links, menus), "Home | News | Sport" navigation lines, and
   short blocks that match :data:`BOILERPLATE_PATTERNS` ("Read more at ...", newsletter and
   copyright footers, "Reporting by ...; Editing by ..." wire credits). Dropping a real
   paragraph only makes a match less likely, never a false one.
2. :func:`profile` turns what is left into the set of its word :data:`SHINGLE_WORDS`-grams
   (hashed to 61 bits) and keeps the :data:`SKETCH_SIZE` smallest hashes as a *bottom-k
   MinHash sketch* (Broder 1997). Bodies with fewer than :data:`MIN_WORDS` words left have no
   profile: too short to judge, they never merge by similarity.
3. The sketch values are the LSH keys (bands of one row) that storage indexes: a stored entry
   is a candidate when it shares at least :data:`MIN_SHARED_KEYS` of them; for Jaccard
   similarity J, the chance that a pair shares fewer is about ``(1-J)^k + k·J·(1-J)^(k-1)``
   (k = 24: 0.2 % at J = 0.3, far below it at the thresholds).
4. :func:`judge` then compares the exact shingle sets. Same story when the number agreement
   veto passes and either

   - Jaccard ``|A ∩ B| / |A ∪ B|`` ≥ :data:`JACCARD_THRESHOLD` (wire copies with edits,
     re-ordered paragraphs, leftover chrome), or
   - containment ``|A ∩ B| / |smaller|`` ≥ :data:`CONTAINMENT_THRESHOLD` and the smaller text
     has at least :data:`MIN_COVER` of the larger one's shingles (a syndication copy cut to
     its first half; an earlier version of a live blog).

   The *number veto*: when both texts carry at least :data:`MIN_NUMBERS` distinct numbers
   (scores, versions, dates, prices), at least :data:`NUMBER_AGREEMENT` of the smaller set
   must appear in the other. Recurring templates (release notes, daily columns, results)
   differ mostly in their numbers; copies of one story keep them.

Titles take no part: two different stories called "Weather update" stay two stories.
"""

from __future__ import annotations

import functools
import hashlib
import html
import re
import sys
import unicodedata
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser

SHINGLE_WORDS = 5
"""Words per shingle. Five-word runs are rarely shared by different stories by chance."""

SKETCH_SIZE = 24
"""Shingle hashes kept per text (bottom-k); each is one LSH key stored in SQLite."""

MIN_SHARED_KEYS = 2
"""Sketch keys a stored entry must share with a new one to be compared at all."""

MIN_WORDS = 40
"""Words of content (after boilerplate removal) a text needs to be compared by similarity."""

JACCARD_THRESHOLD = 0.55
"""Jaccard similarity of shingle sets at or above which two texts are one story."""

CONTAINMENT_THRESHOLD = 0.85
"""Share of the smaller text's shingles found in the larger at or above which it is a cut copy."""

MIN_COVER = 0.3
"""For a containment match, the smaller text must have this share of the larger's shingles."""

MIN_NUMBERS = 2
NUMBER_AGREEMENT = 0.6

BOILERPLATE_MAX_WORDS = 60
"""Blocks longer than this are never dropped by a pattern: they are content."""

BOILERPLATE_PATTERNS = (
    # syndication cuts and pointers to the original
    r"\bread (?:more|the (?:full|whole|rest|original|complete)\b)",
    r"\bcontinue(?:s)? reading\b",
    r"\b(?:full|original) (?:story|article|report)\b",
    r"\b(?:originally|first) (?:published|appeared)\b",
    r"\bthis (?:story|article|post) (?:was|first|originally|appeared)\b",
    r"\bclick here\b",
    r"…\s*$|\.\.\.\s*$|\[\s*(?:…|\.\.\.)\s*\]",
    # newsletters, social, ads
    r"\bsubscri(?:be|ption)\b",
    r"\bnewsletter\b",
    r"\bsign(?:ed)? up\b",
    r"\bfollow us\b",
    r"\bshare (?:this|on|via)\b",
    r"\badvertis(?:ement|ing)\b",
    r"\bsponsored\b",
    r"\bdownload (?:our|the) app\b",
    # rights
    r"©",
    r"\(c\)\s*\d{4}",
    r"\bcopyright\b",
    r"\ball rights reserved\b",
    r"\bmay not be (?:published|reproduced|broadcast|rewritten|redistributed)\b",
    # site chrome
    r"^\s*related(?: (?:stories|articles|coverage|links|content|reading|topics))?\s*:?",
    r"\b(?:more|latest) (?:from|in|on) (?:this|our|the)\b",
    r"\byou (?:may|might) also (?:like|be interested)\b",
    r"\bmost (?:read|popular|viewed)\b",
    r"\bskip to (?:main )?content\b",
    r"^\s*(?:tags?|topics?|filed under|categories)\s*:",
    r"^\s*(?:photo|image|picture|video|credit|source)\s*:",
    # wire credits
    r"\breporting by\b",
    r"\b(?:editing|writing|compiled) by\b",
    r"\badditional reporting\b",
    r"\bcontributed (?:to )?this report\b",
)
"""Blocks of at most :data:`BOILERPLATE_MAX_WORDS` words matching one of these (regular
expressions, case-insensitive) are dropped."""

# One alternation: what a block matching "a pattern" means (the tests compare against it).
_BOILERPLATE_RE = re.compile("|".join(f"(?:{p})" for p in BOILERPLATE_PATTERNS), re.IGNORECASE)

# For each pattern, literals of which every match contains at least one (lower-case, as
# case-insensitive matching sees them): a block without any of them is not searched with that
# pattern. Searching the alternation costs ~100 us per block; these checks about 3 us.
_PATTERN_NEEDS: tuple[tuple[str, ...], ...] = (
    ("read ",),
    ("continue",),
    ("full ", "original "),
    ("published", "appeared"),
    ("this ",),
    ("click here",),
    ("…", "..."),
    ("subscri",),
    ("newsletter",),
    ("sign",),
    ("follow us",),
    ("share ",),
    ("advertis",),
    ("sponsored",),
    ("download ",),
    ("©",),
    ("(c)",),
    ("copyright",),
    ("all rights reserved",),
    ("may not be ",),
    ("related",),
    ("more ", "latest "),
    (" also ",),
    ("most ",),
    ("skip to ",),
    (":",),
    (":",),
    ("reporting by",),
    (" by",),
    ("additional reporting",),
    ("contributed ",),
)
_PATTERNS = tuple(
    (re.compile(p, re.IGNORECASE), needs)
    for p, needs in zip(BOILERPLATE_PATTERNS, _PATTERN_NEEDS, strict=True)
)
# Case-insensitive matching (re.IGNORECASE, Unicode) lets an ASCII letter match its other
# case and these four characters (tests check this against re for every code point); folding
# them one character for one keeps every position, so a literal a pattern matches somewhere
# is found in the folded text.
_FOLD = {
    **{ord(c): c.lower() for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
    0x130: "i",  # LATIN CAPITAL LETTER I WITH DOT ABOVE
    0x131: "i",  # LATIN SMALL LETTER DOTLESS I
    0x17F: "s",  # LATIN SMALL LETTER LONG S
    0x212A: "k",  # KELVIN SIGN
}
# A block can only match a pattern if it has one of these words or symbols: checking them
# first skips the (slow) regular expression for most paragraphs of real text.
_TRIGGER_WORDS = frozenset(
    [
        "read",
        "continue",
        "continues",
        "full",
        "original",
        "originally",
        "first",
        "this",
        "click",
        "subscribe",
        "subscription",
        "subscribed",
        "newsletter",
        "sign",
        "signed",
        "follow",
        "share",
        "advertisement",
        "advertising",
        "sponsored",
        "download",
        "copyright",
        "rights",
        "published",
        "reproduced",
        "broadcast",
        "rewritten",
        "redistributed",
        "related",
        "more",
        "latest",
        "you",
        "most",
        "skip",
        "tag",
        "tags",
        "topic",
        "topics",
        "filed",
        "categories",
        "photo",
        "image",
        "picture",
        "video",
        "credit",
        "source",
        "reporting",
        "editing",
        "writing",
        "compiled",
        "additional",
        "contributed",
    ]
)
_TRIGGER_SYMBOLS = ("©", "…", "...", "(c)", "(C)")

_SKIP_ELEMENTS = frozenset(
    {"nav", "aside", "footer", "header", "figure", "script", "style", "template", "noscript"}
)
_BLOCK_ELEMENTS = frozenset(
    {
        "address", "article", "blockquote", "br", "caption", "dd", "div", "dl", "dt",
        "figcaption", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li", "main", "ol", "p", "pre",
        "section", "table", "td", "th", "tr", "ul",
    }
)  # fmt: skip
_WORD_RE = re.compile(r"\w+", re.UNICODE)
_NUMBER_RE = re.compile(r"\d+(?:[.,:/]\d+)*")
_NAV_SEPARATORS = re.compile("\\s[|/\u2022\u00b7\u00bb\u203a]\\s")  # bars, bullets, guillemets
_WS_RE = re.compile(r"\s+")
_MASK63 = (1 << 63) - 1


@dataclass(frozen=True)
class Block:
    """One block of text and how much of it is link text."""

    text: str
    link_chars: int


class _Collector:
    """Turns tag and text events into :class:`Block` values (see :func:`blocks`)."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self._text: list[str] = []
        self._link_chars = 0
        self._skip = 0
        self._in_link = 0
        # For normalize_text's words (see _fast_scan): the text skipped, each with the number
        # of blocks before it; whether some was skipped in the middle of a block, and whether
        # a tag inside a block split a word ("foo<b>bar</b>" is one word here).
        self.skipped: list[tuple[int, str]] = []
        self.interleaved = False
        self.joined = False
        self._tail = False  # the block so far ends with a word character

    def flush(self) -> None:
        if not self._text:  # nothing since the last flush (then _link_chars is 0 too)
            return
        # str.split() and re's \s agree on what whitespace is: _WS_RE.sub(" ", t).strip()
        text = " ".join("".join(self._text).split())
        if text:
            self.blocks.append(Block(text, self._link_chars))
        self._text, self._link_chars, self._tail = [], 0, False

    def starttag(self, tag: str) -> None:
        if tag in _SKIP_ELEMENTS:
            self._skip += 1
        elif tag == "a":
            self._in_link += 1
        elif tag in _BLOCK_ELEMENTS:
            self.flush()

    def startendtag(self, tag: str) -> None:
        if tag in _BLOCK_ELEMENTS:
            self.flush()

    def endtag(self, tag: str) -> None:
        if tag in _SKIP_ELEMENTS:
            self._skip = max(0, self._skip - 1)
        elif tag == "a":
            self._in_link = max(0, self._in_link - 1)
        elif tag in _BLOCK_ELEMENTS:
            self.flush()

    def data(self, data: str) -> None:
        if self._skip:
            if not data.isspace():
                if any(not t.isspace() for t in self._text if t):
                    self.interleaved = True
                self.skipped.append((len(self.blocks), data))
            return
        if "\n" in data.strip():
            # Plain-text line breaks inside a block separate lines of navigation or footers.
            lines = data.split("\n")
            for line in lines[:-1]:
                self._add(line)
                self.flush()
            self._add(lines[-1])
        else:
            self._add(data)

    def _add(self, data: str) -> None:
        if data:
            if self._tail and _is_word_char(data[0]):
                self.joined = True
            self._tail = _is_word_char(data[-1])
        self._text.append(data)
        if self._in_link:
            self._link_chars += len(data.strip())


def _is_word_char(c: str) -> bool:
    """Whether ``c`` is a character of :data:`_WORD_RE` (``\\w``)."""
    return c.isalnum() or c == "_"


class _Blocks(HTMLParser):
    """The general tokenizer: the standard library's HTML parser, feeding a collector."""

    def __init__(self, out: _Collector) -> None:
        super().__init__(convert_charrefs=True)
        self.out = out

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.starttag(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.startendtag(tag)

    def handle_endtag(self, tag: str) -> None:
        self.out.endtag(tag)

    def handle_data(self, data: str) -> None:
        self.out.data(data)


# The fast tokenizer accepts only markup in which every "<" starts a plain tag of this
# shape (what sanitized HTML and escaped text consist of): a start tag whose name is
# letters and digits and whose attributes are all double-quoted or bare names, separated by
# HTML whitespace, or an end tag. On such markup html.parser produces exactly these events
# (same tag boundaries, names lower-cased, "/>" as a start-end tag, the text between two
# tags as one unescaped chunk); anything else (comments, declarations, script and style
# elements, unquoted values, a stray "<") goes to html.parser itself.
_HTML_WS = "[ \t\n\r\f]"
_FAST_TAG = re.compile(
    rf"<(?:([a-zA-Z][a-zA-Z0-9]*)(?:{_HTML_WS}+[a-zA-Z_:][-a-zA-Z0-9_:.]*"
    rf'(?:{_HTML_WS}*={_HTML_WS}*"[^"]*")?)*{_HTML_WS}*(/?)>'
    rf"|/([a-zA-Z][-.a-zA-Z0-9:_]*){_HTML_WS}*>)"
)
_CDATA_ELEMENTS = frozenset({"script", "style"})  # html.parser's raw-text elements


def _fast_blocks(markup: str) -> list[Block] | None:
    """:func:`blocks` for markup the fast tokenizer accepts; None for any other markup."""
    scan = _fast_scan(markup)
    return scan[0] if scan is not None else None


def _fast_scan(markup: str) -> tuple[list[Block], list[tuple[int, str]] | None] | None:
    """:func:`_fast_blocks`, and the text it skipped (each with the number of blocks before
    it) when the words of all that, in turn, are those of
    :func:`feedsvc.dedup.normalize_text` (if plain, see :func:`profile_and_words`): when no
    text was skipped inside a block, no tag split a word and the tags are those that
    normalize_text removes; else None for it."""
    out = _Collector()
    find, match = markup.find, _FAST_TAG.match
    pos = 0
    tags = 0
    while True:
        j = find("<", pos)
        if j < 0:
            break
        m = match(markup, j)
        if m is None:
            return None
        tags += 1
        if pos < j:
            out.data(html.unescape(markup[pos:j]))
        name, slash, end = m.groups()
        if name is not None:
            tag = name.lower()
            if tag in _CDATA_ELEMENTS:
                return None
            if slash:
                out.startendtag(tag)
            else:
                out.starttag(tag)
        else:
            tag = end.lower()
            if tag in _CDATA_ELEMENTS:
                return None
            out.endtag(tag)
        pos = m.end()
    if pos < len(markup):
        out.data(html.unescape(markup[pos:]))
    out.flush()
    plain_tags = (
        not out.interleaved
        and not out.joined
        # Each tag holds exactly one ">" (its last) and the text none; the text holds no "<"
        # (the loop found them all): then normalize_text's tag pattern, <[^>]*>, finds these
        # tags and no others. (A ">" in an attribute value or in text: rare, not plain.)
        and markup.count(">") == tags
    )
    return out.blocks, out.skipped if plain_tags else None


def blocks(markup: str) -> list[Block]:
    """The text blocks of an HTML fragment (or of plain text, one block per line)."""
    fast = _fast_blocks(markup)
    if fast is not None:
        return fast
    out = _Collector()
    parser = _Blocks(out)
    parser.feed(markup)
    parser.close()
    out.flush()
    return out.blocks


def is_boilerplate(block: Block) -> bool:
    """Whether a block is site chrome or wire boilerplate rather than content."""
    return _is_boilerplate(block, len(_WORD_RE.findall(block.text)), None)


def _is_boilerplate(block: Block, n_words: int, lowered_words: list[str] | None) -> bool:
    """:func:`is_boilerplate` given the block's word count and, when the caller has them,
    the words of ``block.text.lower()``."""
    text = block.text
    if n_words == 0:
        return True
    if block.link_chars >= 0.6 * len(text):
        return True  # menus, related links, tag lists
    separators = len(_NAV_SEPARATORS.findall(text))
    if separators >= 2 and n_words <= 4 * (separators + 1):
        return True  # "Home | News | Sport | Weather"
    if n_words > BOILERPLATE_MAX_WORDS:
        return False
    if lowered_words is None:
        lowered_words = _WORD_RE.findall(text.lower())
    if not any(sym in text for sym in _TRIGGER_SYMBOLS) and _TRIGGER_WORDS.isdisjoint(
        lowered_words
    ):
        return False
    return _matches_boilerplate(text)


def _matches_boilerplate(text: str) -> bool:
    """``_BOILERPLATE_RE.search(text) is not None``, without running the patterns that
    cannot match: each needs one of its literals (:data:`_PATTERN_NEEDS`) in the text as
    case-insensitive matching sees it (:data:`_FOLD`; position for position)."""
    folded = text.translate(_FOLD)
    return any(
        any(lit in folded for lit in needs) and pattern.search(text) is not None
        for pattern, needs in _PATTERNS
    )


def content_blocks(markup: str) -> list[str]:
    """The blocks of ``markup`` that are content (see the module docstring, step 1)."""
    return [b.text for b in blocks(markup) if not is_boilerplate(b)]


def _plain_char(c: str) -> bool:
    """Whether ``c`` behaves like an ASCII character for :func:`_content_words`: NFKC leaves
    it (and its lower case) alone and it composes with nothing (no combining mark), its
    lower case is one character that is also its case folding, and lower-casing does not
    change whether it is a word character."""
    lower = c.lower()
    return (
        not c.isspace()
        and unicodedata.combining(c) == 0
        and unicodedata.normalize("NFKC", c) == c
        and len(lower) == 1
        and lower == c.casefold()
        and unicodedata.normalize("NFKC", lower) == lower
        and bool(_WORD_RE.match(c)) == bool(_WORD_RE.match(lower))
    )


# Latin letters with diacritics, typographic quotes and dashes and the like: what keeps most
# European text off the general path (tests check the properties the fast path relies on).
PLAIN_CHARS = "".join(
    c for c in map(chr, [*range(0x80, 0x250), *range(0x2010, 0x205F)]) if _plain_char(c)
)
_NOT_PLAIN = re.compile("[^\x00-\x7f" + re.escape(PLAIN_CHARS) + "]")


def _content_words(markup: str) -> tuple[list[str], list[str]]:
    """``content_blocks(markup)`` and the :func:`words` of them all, in one pass."""
    kept, tokens, _ = _content_and_text_words(markup)
    return kept, tokens


def _content_and_text_words(markup: str) -> tuple[list[str], list[str], list[str] | None]:
    """``content_blocks(markup)``, the :func:`words` of them all, and, when they come on the
    way, the words of :func:`feedsvc.dedup.normalize_text` of ``markup`` (else None).

    A block of ASCII and :data:`PLAIN_CHARS` is split into words once: lower-casing it
    keeps every word where it was, so the words of ``text.lower()`` give the count
    :func:`is_boilerplate` needs, its trigger words, and (when there is no ``&`` to
    unescape; NFKC leaves such text alone and case folding is lower-casing there) the
    block's :func:`words`. Other blocks take the general path. Words of several blocks are
    the words of each in turn (see :func:`compute_profile`).

    normalize_text's words are those of every block, boilerplate or not, when all blocks
    are plain and hold no ``_`` (which it does not count as a word character) and the fast
    tokenizer saw the markup as normalize_text does (see :func:`_fast_scan`): it decodes
    entities once, as the blocks did, and turns every tag into a space."""
    scan = _fast_scan(markup)
    skipped: list[tuple[int, str]] | None = None
    if scan is None:
        found = blocks(markup)
    else:
        found, skipped = scan
    text_words_ok = skipped is not None
    kept: list[str] = []
    tokens: list[str] = []
    text_words: list[str] = []
    pending = skipped[::-1] if skipped else []
    for index, block in enumerate(found):
        while pending and pending[-1][0] <= index and text_words_ok:
            text_words_ok = _plain_words(pending.pop()[1], text_words)
        text = block.text
        if _NOT_PLAIN.search(text) is None:
            lowered = _WORD_RE.findall(text.lower())
            if text_words_ok:
                if "_" in text:
                    text_words_ok = False
                else:
                    text_words.extend(lowered)
            if _is_boilerplate(block, len(lowered), lowered):
                continue
            tokens.extend(words(text) if "&" in text else lowered)
        else:
            text_words_ok = False
            if is_boilerplate(block):
                continue
            tokens.extend(words(text))
        kept.append(text)
    while pending and text_words_ok:
        text_words_ok = _plain_words(pending.pop()[1], text_words)
    return kept, tokens, text_words if text_words_ok else None


def _plain_words(text: str, out: list[str]) -> bool:
    """Add the words of ``text`` (lower-cased ``\\w`` runs) to ``out`` if it is plain and has
    no ``_``: what normalize_text makes of it; else False."""
    text = " ".join(text.split())
    if _NOT_PLAIN.search(text) is not None or "_" in text:
        return False
    out.extend(_WORD_RE.findall(text.lower()))
    return True


def words(text: str) -> list[str]:
    """NFKC-normalized, case-folded words (letters and digits), punctuation dropped."""
    return _WORD_RE.findall(unicodedata.normalize("NFKC", html.unescape(text)).casefold())


def _hash63(text: str) -> int:
    """A stable 63-bit hash (fits SQLite's signed INTEGER); Python's hash() is salted."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") & _MASK63


_M61 = (1 << 61) - 1  # a Mersenne prime: shingle hashes are polynomials modulo it
_BASE = 0x5BD1E9955BD1E995 % _M61


# Per word, its hash (mod 2^61 - 1) as one 128-bit little-endian slot: a text's words are
# then one bytes join away from a big integer holding all of them (see shingle_hashes).
# Words recur across texts, so the table outlives one text; bounded: cleared when full.
_WORD_SLOTS: dict[str, bytes] = {}
_WORD_TABLES_MAX = 20_000  # about 3 MB per process
_SLOT = 128  # bits per packed value: a shingle's unreduced sum is below 5 * 2^122 < 2^128
_SHINGLE_POLY = sum(pow(_BASE, k, _M61) << (_SLOT * k) for k in range(SHINGLE_WORDS))
_MASK_SLOTS = 4096  # slot masks precomputed for texts of up to this many words


def _slot_mask(value: int, slots: int) -> int:
    """``value`` in each of ``slots`` 128-bit slots."""
    return int.from_bytes(value.to_bytes(_SLOT // 8, "little") * slots, "little")


_LOW61, _LOW3, _LOW1 = (_slot_mask(v, _MASK_SLOTS) for v in (_M61, 7, 1))


def _learn_words(tokens: Iterable[str]) -> None:
    """Fill :data:`_WORD_SLOTS` for every token not in it yet."""
    table = _WORD_SLOTS
    if len(table) > _WORD_TABLES_MAX:
        table.clear()
    for token in set(tokens).difference(table):
        table[token] = (_hash63(token) % _M61).to_bytes(_SLOT // 8, "little")


def shingle_hashes(tokens: list[str]) -> frozenset[int]:
    """Hashes of every run of :data:`SHINGLE_WORDS` tokens (all tokens if there are fewer).

    Each distinct word is hashed once (BLAKE2b); a shingle's hash is the polynomial of its
    word hashes modulo 2^61 - 1, ``sum(h(w[i+j]) * B^(k-1-j))`` (what a Rabin-Karp rolling
    hash computes): as good a spread as hashing the joined text, at a fraction of the cost.
    Stable across runs and machines.

    All shingles are computed at once, in big-integer arithmetic: the word hashes packed in
    128-bit slots, multiplied by the polynomial ``sum(B^j * 2^(128 j))`` (slot ``i + k - 1``
    of the product is shingle ``i``'s sum, which no slot overflows), then reduced modulo
    2^61 - 1 in every slot at once (2^61 = 1 modulo 2^61 - 1: fold the high bits onto the
    low ones). CPython runs each step in C; a loop over shingles ran three times longer.
    """
    n = len(tokens)
    if n < SHINGLE_WORDS:
        return _few_shingles(tokens)
    _learn_words(tokens)
    words = int.from_bytes(b"".join(map(_WORD_SLOTS.__getitem__, tokens)), "little")
    sums = (words * _SHINGLE_POLY) >> (_SLOT * (SHINGLE_WORDS - 1))
    return _reduce_slots(sums, n - SHINGLE_WORDS + 1)


def _reduce_slots(sums: int, count: int) -> frozenset[int]:
    """The distinct values modulo 2^61 - 1 of the first ``count`` 128-bit slots of ``sums``
    (each slot below 2^125; the slots above them below 2^128)."""
    if count <= _MASK_SLOTS:
        low61, low3, low1 = _LOW61, _LOW3, _LOW1
    else:
        low61, low3, low1 = (_slot_mask(v, count + SHINGLE_WORDS) for v in (_M61, 7, 1))
    # x = a + b * 2^61 + c * 2^122 with a, b < 2^61, c < 8 is congruent to a + b + c.
    r = (sums & low61) + ((sums >> 61) & low61) + ((sums >> 122) & low3)  # < 2^62 + 8
    r = (r & low61) + ((r >> 61) & low3)  # <= 2^61 + 1
    r = (r & low61) + ((r >> 61) & low1)  # <= 2^61 - 1, which stands for 0
    slots = array("Q", r.to_bytes(_SLOT // 8 * max(count, _slots_in(r)), "little"))
    if sys.byteorder == "big":
        slots.byteswap()
    values = frozenset(slots[0 : 2 * count : 2])  # the low 64 bits of each 128-bit slot
    return values if _M61 not in values else (values - {_M61}) | {0}


def _slots_in(value: int) -> int:
    """How many 128-bit slots ``value`` occupies."""
    return -(-value.bit_length() // _SLOT)


def _few_shingles(tokens: list[str]) -> frozenset[int]:
    """:func:`shingle_hashes` of fewer than :data:`SHINGLE_WORDS` tokens: one shingle."""
    if not tokens:
        return frozenset()
    h = 0
    for token in tokens:
        h = (h * _BASE + _hash63(token) % _M61) % _M61
    return frozenset([h])


@dataclass(frozen=True)
class Profile:
    """What similarity needs to know about one text.

    The shingle hashes are kept packed (``packed``: 8 bytes each, ascending), so that a
    profile crosses from a parse worker to the process that stores it as one bytes object:
    pickling a set of ~400 ints, and building it again on the other side, cost more than
    computing the rest of the profile. :attr:`shingles` unpacks them when a comparison
    needs them (:func:`judge`), once per profile. Build profiles with :meth:`of`.
    """

    words: int
    sketch: tuple[int, ...]  # the SKETCH_SIZE smallest shingle hashes, ascending
    numbers: frozenset[str]
    packed: bytes  # every shingle hash, ascending, as unsigned 64-bit machine integers

    @classmethod
    def of(cls, words: int, shingles: Iterable[int], numbers: frozenset[str]) -> Profile:
        """The profile of a text with ``words`` words, these shingle hashes and numbers."""
        ordered = array("Q", sorted(shingles))
        return cls(words, tuple(ordered[:SKETCH_SIZE]), numbers, ordered.tobytes())

    @functools.cached_property
    def shingles(self) -> frozenset[int]:
        """The shingle hashes as a set (unpacked on first use, then kept)."""
        return frozenset(array("Q", self.packed))

    def __getstate__(self) -> dict[str, object]:
        # The unpacked set stays behind: the packed bytes are what crosses processes.
        return {k: v for k, v in self.__dict__.items() if k != "shingles"}


def compute_profile(markup: str) -> Profile | None:
    """The profile of an HTML body, or None when it is too short to judge (< MIN_WORDS)."""
    return profile_and_words(markup)[0]


def profile_and_words(markup: str) -> tuple[Profile | None, list[str] | None]:
    """:func:`compute_profile` of ``markup`` and, when they come on the way (plain text and
    markup, the common case), the words of :func:`feedsvc.dedup.normalize_text` of it
    (``normalize_text(markup) == " ".join(words)``); else None for them."""
    kept, tokens, text_words = _content_and_text_words(markup)
    if len(tokens) < MIN_WORDS:
        return None, text_words
    shingles = shingle_hashes(tokens)
    # The blocks joined by a space give the numbers of each block in turn (a number never
    # spans a space), in one call instead of one per block.
    numbers = frozenset(_NUMBER_RE.findall(" ".join(kept)))
    return Profile.of(len(tokens), shingles, numbers), text_words


def smallest(values: frozenset[int], k: int) -> tuple[int, ...]:
    """``tuple(sorted(values)[:k])`` for hash values spread evenly over [0, 2^61 - 1): only
    those below a bound that about 2k of them pass are sorted (all of them if fewer than k
    pass)."""
    n = len(values)
    if n > 4 * k:
        bound = _M61 * 2 * k // n
        low = [v for v in values if v < bound]
        if len(low) >= k:
            low.sort()
            return tuple(low[:k])
    return tuple(sorted(values)[:k])


PROFILE_CACHE_SIZE = 256
"""Profiles :func:`profile` keeps (about 40 KB each). A run's own articles come with their
profiles (:func:`feedsvc.dedup.derive`); what is asked again are the stored candidates'."""

profile = functools.lru_cache(maxsize=PROFILE_CACHE_SIZE)(compute_profile)
""":func:`compute_profile`, cached (it is pure)."""


@dataclass(frozen=True)
class Verdict:
    """The outcome of comparing two profiles."""

    same: bool
    score: float  # the measure that decided: Jaccard, or containment for a cut copy
    jaccard: float
    containment: float
    reason: str  # "jaccard", "containment", "numbers differ", "below threshold"


def judge(a: Profile, b: Profile) -> Verdict:
    """Whether two texts are one story (see the module docstring, step 4)."""
    inter = len(a.shingles & b.shingles)
    union = len(a.shingles) + len(b.shingles) - inter
    small, large = (a, b) if len(a.shingles) <= len(b.shingles) else (b, a)
    jaccard = inter / union if union else 0.0
    containment = inter / len(small.shingles) if small.shingles else 0.0
    nums_small, nums_large = (
        (a.numbers, b.numbers) if len(a.numbers) <= len(b.numbers) else (b.numbers, a.numbers)
    )
    if len(nums_small) >= MIN_NUMBERS and len(nums_small & nums_large) < NUMBER_AGREEMENT * len(
        nums_small
    ):
        return Verdict(False, jaccard, jaccard, containment, "numbers differ")
    if jaccard >= JACCARD_THRESHOLD:
        return Verdict(True, jaccard, jaccard, containment, "jaccard")
    if containment >= CONTAINMENT_THRESHOLD and len(small.shingles) >= MIN_COVER * len(
        large.shingles
    ):
        return Verdict(True, containment, jaccard, containment, "containment")
    return Verdict(False, max(jaccard, containment), jaccard, containment, "below threshold")


def shared_keys(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """How many sketch keys two sketches share (the LSH candidate test)."""
    return len(set(a) & set(b))
