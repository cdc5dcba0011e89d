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
import unicodedata
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

# One alternation: a single search per block instead of one per pattern.
_BOILERPLATE_RE = re.compile("|".join(f"(?:{p})" for p in BOILERPLATE_PATTERNS), re.IGNORECASE)
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


class _Blocks(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self._text: list[str] = []
        self._link_chars = 0
        self._skip = 0
        self._in_link = 0

    def flush(self) -> None:
        text = _WS_RE.sub(" ", "".join(self._text)).strip()
        if text:
            self.blocks.append(Block(text, self._link_chars))
        self._text, self._link_chars = [], 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_ELEMENTS:
            self._skip += 1
        elif tag == "a":
            self._in_link += 1
        elif tag in _BLOCK_ELEMENTS:
            self.flush()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_ELEMENTS:
            self.flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_ELEMENTS:
            self._skip = max(0, self._skip - 1)
        elif tag == "a":
            self._in_link = max(0, self._in_link - 1)
        elif tag in _BLOCK_ELEMENTS:
            self.flush()

    def handle_data(self, data: str) -> None:
        if self._skip:
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
        self._text.append(data)
        if self._in_link:
            self._link_chars += len(data.strip())


def blocks(markup: str) -> list[Block]:
    """The text blocks of an HTML fragment (or of plain text, one block per line)."""
    parser = _Blocks()
    parser.feed(markup)
    parser.close()
    parser.flush()
    return parser.blocks


def is_boilerplate(block: Block) -> bool:
    """Whether a block is site chrome or wire boilerplate rather than content."""
    text = block.text
    n_words = len(_WORD_RE.findall(text))
    if n_words == 0:
        return True
    if block.link_chars >= 0.6 * len(text):
        return True  # menus, related links, tag lists
    if len(_NAV_SEPARATORS.findall(text)) >= 2 and n_words <= 4 * (
        len(_NAV_SEPARATORS.findall(text)) + 1
    ):
        return True  # "Home | News | Sport | Weather"
    if n_words > BOILERPLATE_MAX_WORDS:
        return False
    lowered = text.lower()
    if not any(sym in text for sym in _TRIGGER_SYMBOLS) and _TRIGGER_WORDS.isdisjoint(
        _WORD_RE.findall(lowered)
    ):
        return False
    return _BOILERPLATE_RE.search(text) is not None


def content_blocks(markup: str) -> list[str]:
    """The blocks of ``markup`` that are content (see the module docstring, step 1)."""
    return [b.text for b in blocks(markup) if not is_boilerplate(b)]


def words(text: str) -> list[str]:
    """NFKC-normalized, case-folded words (letters and digits), punctuation dropped."""
    return _WORD_RE.findall(unicodedata.normalize("NFKC", html.unescape(text)).casefold())


def _hash63(text: str) -> int:
    """A stable 63-bit hash (fits SQLite's signed INTEGER); Python's hash() is salted."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") & _MASK63


_M61 = (1 << 61) - 1  # a Mersenne prime: shingle hashes are polynomials modulo it
_BASE = 0x5BD1E9955BD1E995 % _M61


def shingle_hashes(tokens: list[str]) -> frozenset[int]:
    """Hashes of every run of :data:`SHINGLE_WORDS` tokens (all tokens if there are fewer).

    Each distinct word is hashed once (BLAKE2b); a shingle's hash is the polynomial of its
    word hashes modulo 2^61 - 1 (a Rabin-Karp style rolling hash): as good a spread as
    hashing the joined text, at a fifth of the cost. Stable across runs and machines.
    """
    cache: dict[str, int] = {}
    values = []
    for t in tokens:
        h = cache.get(t)
        if h is None:
            h = cache[t] = _hash63(t) % _M61
        values.append(h)
    k = min(SHINGLE_WORDS, len(values))
    if k == 0:
        return frozenset()
    top = pow(_BASE, k - 1, _M61)  # the weight of the word that leaves the window
    h = 0
    for v in values[:k]:
        h = (h * _BASE + v) % _M61
    out = {h}
    for i in range(k, len(values)):
        h = ((h - values[i - k] * top) * _BASE + values[i]) % _M61
        out.add(h)
    return frozenset(out)


@dataclass(frozen=True)
class Profile:
    """What similarity needs to know about one text."""

    words: int
    shingles: frozenset[int]
    sketch: tuple[int, ...]  # the SKETCH_SIZE smallest shingle hashes, ascending
    numbers: frozenset[str]


@functools.lru_cache(maxsize=1024)
def profile(markup: str) -> Profile | None:
    """The profile of an HTML body, or None when it is too short to judge (< MIN_WORDS).

    Cached (it is pure): the lookup and the plan of one run ask for the same bodies, and
    with a smaller cache the candidates' profiles would evict a large run's own."""
    kept = content_blocks(markup)
    tokens = [w for block in kept for w in words(block)]
    if len(tokens) < MIN_WORDS:
        return None
    shingles = shingle_hashes(tokens)
    numbers = frozenset(m for block in kept for m in _NUMBER_RE.findall(block))
    return Profile(len(tokens), shingles, tuple(sorted(shingles)[:SKETCH_SIZE]), numbers)


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
