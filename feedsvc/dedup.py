"""Identity keys, canonical URLs, fingerprints, and the dedup plan. Pure: no I/O.

:func:`plan` takes the articles of one source run, a snapshot of the stored entries they could
collide with (:class:`Existing`) and ``now``, and returns one :class:`~feedsvc.models.Intent`
per article: insert (as a new story, or as a copy of an existing story), update in place, or
leave unchanged. It never reads the database; the pipeline asks storage for the snapshot and
hands the intents back to storage.

Rules, in order (the first that matches wins; see README "Deduplication"):

1. same source + same identity key → the same entry (update if its content changed);
2. same original feed id (an absolute IRI) as an entry of another story → same story;
3. same canonical link (see :func:`canonical_url`) → same story, unless the link is a site's
   front page, which many feeds use for every entry;
4. same normalized body text (see :func:`normalize_text`), when the body has at least
   :data:`MIN_FINGERPRINT_WORDS` words → same story. Titles never take part: two different
   stories called "Weather update" stay two stories.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from feedsvc.models import (
    Article,
    DupRule,
    Insert,
    Intent,
    StoredEntry,
    Unchanged,
    Update,
)

MIN_FINGERPRINT_WORDS = 25
"""Bodies shorter than this are not compared by text: too little to tell two stories apart."""

TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gclsrc",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "yclid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "ref",
        "ref_src",
        "ref_url",
        "cmpid",
        "ocid",
        "spm",
        "share",
        "s_cid",
        "__twitter_impression",
    }
)
"""Query parameters that identify a click, not a document (besides every ``utm_*``)."""

_DEFAULT_PORTS = {"http": 80, "https": 443}
_TAG_RE = re.compile(r"<[^>]*>")
_NON_WORD_RE = re.compile(r"[\W_]+", re.UNICODE)
_WORD_RE = re.compile(r"[^\W_]+")
# Unreserved characters (RFC 3986 §2.3) never need percent-encoding; normalizing them is
# allowed by §6.2.2.2. Everything else keeps (upper-cased) escapes.
_SAFE_PATH = "/:@!$&'()*+,;=-._~"


def is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered.startswith("utm_") or lowered in TRACKING_PARAMS


def canonical_url(url: str | None) -> str | None:
    """The form of ``url`` used to compare links across sources; None if it is not http(s).

    Scheme and host lower-cased, http and https compared equal (the canonical form always says
    ``https``), the default port dropped, percent-encoding normalized (RFC 3986 §6.2.2), dot
    segments removed, an empty path made ``/``, the fragment dropped, tracking parameters
    removed and the remaining query parameters sorted. Idempotent.
    """
    return _canonical_url(url) if url else None


# Asked twice per article in one source run (lookup_for and plan), like fingerprints.
@functools.lru_cache(maxsize=4096)
def _canonical_url(url: str) -> str | None:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    if not host:  # "http://." has a hostname of "." and no host at all
        return None
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return None
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    path = quote(unquote(parts.path), safe=_SAFE_PATH) or "/"
    path = _remove_dot_segments(path)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not is_tracking_param(k)
    ]
    query.sort()
    return urlunsplit(("https", host, path, urlencode(query, quote_via=quote), ""))


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4, for the common cases of ``.`` and ``..`` segments."""
    out: list[str] = []
    segments = path.split("/")
    for i, seg in enumerate(segments):
        if seg == ".":
            if i == len(segments) - 1:
                out.append("")
            continue
        if seg == "..":
            if len(out) > 1:
                out.pop()
            if i == len(segments) - 1:
                out.append("")
            continue
        out.append(seg)
    result = "/".join(out)
    return result if result.startswith("/") else "/" + result


def is_front_page(canonical: str) -> bool:
    """True for a site's root URL, which feeds often give as every entry's link."""
    parts = urlsplit(canonical)
    return parts.path in ("", "/") and not parts.query


def normalize_text(text: str) -> str:
    """Case-folded, NFKC-normalized text with markup removed and punctuation and runs of
    whitespace replaced by one space."""
    # NFKC maps U+00A0 to a space on its own (it composes with nothing), and it is the one
    # compatibility character common in HTML text; without it most text passes the quick check.
    text = html.unescape(_TAG_RE.sub(" ", text)).replace("\u00a0", " ")
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    text = text.casefold()
    # The same as _NON_WORD_RE.sub(" ", text).strip(), faster: whitespace is never a word
    # character, and a token that is all word characters but "_" (str.isalnum: the same
    # Unicode classes as the regex's \w) needs no regex at all.
    words: list[str] = []
    for token in text.split():
        if token.isalnum():
            words.append(token)
        else:
            words.extend(_WORD_RE.findall(token))
    return " ".join(words)


def fingerprint(article: Article) -> str | None:
    """A hash of the normalized body text, or None when the body is too short to judge."""
    return _body_fingerprint(article.content_html or article.summary_html or "")


# lookup_for() and plan() both ask for every article's fingerprint in one source run; the
# bodies are alive for the run anyway, and the bound keeps what stays cached afterwards small.
@functools.lru_cache(maxsize=4096)
def _body_fingerprint(body: str) -> str | None:
    text = normalize_text(body)
    if len(text.split(" ")) < MIN_FINGERPRINT_WORDS:
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(article: Article) -> str:
    """A hash of everything that is published about ``article``: a change means an update."""

    def iso(d: datetime | None) -> str | None:
        return d.isoformat() if d else None

    doc = [
        article.title,
        article.link,
        article.content_html,
        article.summary_html,
        iso(article.published),
        iso(article.updated),
        [[p.name, p.email, p.uri] for p in article.authors],
        list(article.categories),
        [[e.href, e.length, e.type] for e in article.enclosures],
        article.original_id,
        article.lang,
        article.rights,
    ]
    blob = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


_IRI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`\x00-\x1f\x7f]+$")


def is_republishable_id(value: str | None) -> bool:
    """Whether a feed's own entry id can be republished as atom:id (an absolute IRI)."""
    return bool(value) and bool(_IRI_RE.match(value or "")) and len(value or "") <= 2000


def derive_atom_id(feed_id: str, source: str, key: str) -> str:
    """A stable ``urn:uuid`` for an entry that has no republishable id of its own."""
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{feed_id}\x00{source}\x00{key}"))


def hash_key(title: str, date: datetime | None, content: str = "") -> str:
    """The identity of an entry with neither id nor link: a hash of its title and date.

    With neither title nor date either, the content is hashed instead, so that a feed of
    anonymous, undated items does not collapse into its first item.
    """
    raw = f"{title}\x00{date.isoformat() if date else ''}"
    if not title and date is None:
        raw += "\x00" + content
    return "sha256:" + hashlib.sha256(raw.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Existing:
    """The stored entries a source run could collide with, indexed for :func:`plan`.

    ``by_key`` holds this source's entries by identity key; the other maps hold entries of any
    source. ``taken_atom_ids`` are atom ids already in use.
    """

    by_key: Mapping[str, StoredEntry] = field(default_factory=dict)
    by_original_id: Mapping[str, StoredEntry] = field(default_factory=dict)
    by_link: Mapping[str, StoredEntry] = field(default_factory=dict)
    by_fingerprint: Mapping[str, StoredEntry] = field(default_factory=dict)
    taken_atom_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Lookup:
    """What :func:`plan` will ask about: the pipeline fetches exactly these from storage."""

    keys: frozenset[str]
    original_ids: frozenset[str]
    links: frozenset[str]
    fingerprints: frozenset[str]


def lookup_for(articles: Iterable[Article]) -> Lookup:
    keys, ids, links, fps = set(), set(), set(), set()
    for a in articles:
        keys.add(a.key)
        if is_republishable_id(a.original_id):
            ids.add(a.original_id or "")
        link = canonical_url(a.link)
        if link and not is_front_page(link):
            links.add(link)
        fp = fingerprint(a)
        if fp:
            fps.add(fp)
    return Lookup(frozenset(keys), frozenset(ids), frozenset(links), frozenset(fps))


def _advance(stored: datetime, candidate: datetime) -> datetime:
    """An ``updated`` that is later than ``stored`` (RFC 4287 §4.2.15: it must change)."""
    return candidate if candidate > stored else stored + timedelta(seconds=1)


def plan(
    source: str,
    articles: Sequence[Article],
    existing: Existing,
    now: datetime,
    *,
    feed_id: str,
) -> list[Intent]:
    """Decide, for each article of one source run, what storage must do.

    The first occurrence of a key wins; later articles with the same key in the same run are
    ignored (feeds sometimes repeat an item). Articles that are copies of one another within
    the same run join the first one's story.
    """
    intents: list[Intent] = []
    seen: set[str] = set()
    # Stories started earlier in this run, by what they could be matched on.
    run_ids: dict[str, str] = {}
    run_links: dict[str, str] = {}
    run_fps: dict[str, str] = {}
    taken = set(existing.taken_atom_ids)

    for article in articles:
        if article.key in seen:
            continue
        seen.add(article.key)
        chash = content_hash(article)
        link = canonical_url(article.link)
        fp = fingerprint(article)
        stored = existing.by_key.get(article.key)
        if stored is not None:
            if stored.content_hash == chash:
                intents.append(Unchanged(stored.id, article.key))
            else:
                candidate = article.updated or now
                intents.append(
                    Update(stored.id, article, chash, link, fp, _advance(stored.updated, candidate))
                )
            continue

        published = article.published or article.updated or now
        updated = article.updated or published
        if updated < published:
            updated = published

        orig = article.original_id if is_republishable_id(article.original_id) else None
        atom_id = (
            orig if orig and orig not in taken else derive_atom_id(feed_id, source, article.key)
        )
        taken.add(atom_id)

        match = _match(orig, link, fp, existing)
        story_of: int | None = None
        story_of_key: str | None = None
        rule: DupRule | None = None
        if match is not None:
            story_of, rule = match[0].story_id, match[1]
        else:
            for value, table, r in (
                (orig, run_ids, DupRule.SAME_ID),
                (link if link and not is_front_page(link) else None, run_links, DupRule.SAME_LINK),
                (fp, run_fps, DupRule.SAME_TEXT),
            ):
                if value is not None and value in table:
                    story_of_key, rule = table[value], r
                    break
            if story_of_key is None:
                if orig:
                    run_ids[orig] = article.key
                if link and not is_front_page(link):
                    run_links.setdefault(link, article.key)
                if fp:
                    run_fps.setdefault(fp, article.key)

        intents.append(
            Insert(
                article=article,
                atom_id=atom_id,
                content_hash=chash,
                canonical_link=link,
                fingerprint=fp,
                published=published,
                updated=updated,
                story_of=story_of,
                story_of_key=story_of_key,
                rule=rule,
                score=1.0 if rule else None,
            )
        )
    return intents


def _match(
    orig: str | None, link: str | None, fp: str | None, existing: Existing
) -> tuple[StoredEntry, DupRule] | None:
    if orig and orig in existing.by_original_id:
        return existing.by_original_id[orig], DupRule.SAME_ID
    if link and not is_front_page(link) and link in existing.by_link:
        return existing.by_link[link], DupRule.SAME_LINK
    if fp and fp in existing.by_fingerprint:
        return existing.by_fingerprint[fp], DupRule.SAME_TEXT
    return None
