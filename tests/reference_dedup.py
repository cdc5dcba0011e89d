"""The straightforward implementations that the faster ones in feedsvc.neardup and
feedsvc.storage replaced (issue 8, after issue 5): kept here, as they were, so that the tests
can show that the fast ones give exactly the same results (tests/test_dedup_fast.py)."""

from __future__ import annotations

import html
import re
import unicodedata
from html.parser import HTMLParser

from feedsvc.neardup import (
    _BLOCK_ELEMENTS,
    _BOILERPLATE_RE,
    _M61,
    _NAV_SEPARATORS,
    _NUMBER_RE,
    _SKIP_ELEMENTS,
    _TRIGGER_SYMBOLS,
    _TRIGGER_WORDS,
    _WORD_RE,
    BOILERPLATE_MAX_WORDS,
    MIN_WORDS,
    SHINGLE_WORDS,
    Block,
    Profile,
    _hash63,
)

_BASE = 0x5BD1E9955BD1E995 % _M61
_WS_RE = re.compile(r"\s+")


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
    parser = _Blocks()
    parser.feed(markup)
    parser.close()
    parser.flush()
    return parser.blocks


def is_boilerplate(block: Block) -> bool:
    text = block.text
    n_words = len(_WORD_RE.findall(text))
    if n_words == 0:
        return True
    if block.link_chars >= 0.6 * len(text):
        return True
    if len(_NAV_SEPARATORS.findall(text)) >= 2 and n_words <= 4 * (
        len(_NAV_SEPARATORS.findall(text)) + 1
    ):
        return True
    if n_words > BOILERPLATE_MAX_WORDS:
        return False
    lowered = text.lower()
    if not any(sym in text for sym in _TRIGGER_SYMBOLS) and _TRIGGER_WORDS.isdisjoint(
        _WORD_RE.findall(lowered)
    ):
        return False
    return _BOILERPLATE_RE.search(text) is not None


def content_blocks(markup: str) -> list[str]:
    return [b.text for b in blocks(markup) if not is_boilerplate(b)]


def words(text: str) -> list[str]:
    return _WORD_RE.findall(unicodedata.normalize("NFKC", html.unescape(text)).casefold())


def shingle_hashes(tokens: list[str]) -> frozenset[int]:
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
    top = pow(_BASE, k - 1, _M61)
    h = 0
    for v in values[:k]:
        h = (h * _BASE + v) % _M61
    out = {h}
    for i in range(k, len(values)):
        h = ((h - values[i - k] * top) * _BASE + values[i]) % _M61
        out.add(h)
    return frozenset(out)


def profile(markup: str) -> Profile | None:
    kept = content_blocks(markup)
    tokens = [w for block in kept for w in words(block)]
    if len(tokens) < MIN_WORDS:
        return None
    shingles = shingle_hashes(tokens)
    numbers = frozenset(m for block in kept for m in _NUMBER_RE.findall(block))
    return Profile.of(len(tokens), shingles, numbers)


_TAG_RE = re.compile(r"<[^>]*>")
_NON_WORD_RE = re.compile(r"[\W_]+", re.UNICODE)


def normalize_text(text: str) -> str:
    """feedsvc.dedup.normalize_text as it was first written."""
    text = html.unescape(_TAG_RE.sub(" ", text))
    text = unicodedata.normalize("NFKC", text).casefold()
    return _NON_WORD_RE.sub(" ", text).strip()
