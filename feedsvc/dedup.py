"""Identity keys, canonical URLs, fingerprints, and the dedup plan. Pure: no I/O.

:func:`plan` takes the articles of one source run, a snapshot of the stored entries they could
collide with (:class:`Existing`) and ``now``, and returns one :class:`~feedsvc.models.Intent`
per article: insert (as a new story, or as a copy of an existing story), update in place, or
leave unchanged. It never reads the database; the pipeline asks storage for the snapshot and
hands the intents back to storage.

Rules, in order (the first that matches wins; see README "Deduplication"):

1. same source + same identity key → the same entry (update if its content changed);
   same source + new key but the same canonical link and text → the same entry, re-keyed;
2. same original feed id (an absolute IRI) as an entry of another story → same story;
3. same canonical link (see :func:`canonical_url`) → same story, unless the link is a site's
   front page, which many feeds use for every entry;
4. same normalized body text (see :func:`normalize_text`), when the body has at least
   :data:`MIN_FINGERPRINT_WORDS` words → same story. Titles never take part: two different
   stories called "Weather update" stay two stories;
5. similar body text (see :mod:`feedsvc.neardup`: boilerplate dropped, word shingles, a
   bottom-k MinHash sketch as LSH keys for the candidate lookup, then an exact Jaccard or
   containment test with a number-agreement veto) → same story.

Deleted (tombstoned) entries still match, so a copy of a deleted story joins it and stays
unpublished.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from feedsvc import neardup
from feedsvc.models import (
    Article,
    DupRule,
    Insert,
    Intent,
    StoredEntry,
    Unchanged,
    Update,
)
from feedsvc.neardup import Profile

MIN_FINGERPRINT_WORDS = 25
"""Bodies shorter than this are not compared by text: too little to tell two stories apart."""

TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gclsrc",
        "wbraid",
        "gbraid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "yclid",
        "twclid",
        "ttclid",
        "_hsenc",
        "_hsmi",
        "_ga",
        "_gl",
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

TRACKING_PREFIXES = ("utm_",)
"""Query parameter name prefixes that are always tracking parameters."""

INDEX_NAMES = frozenset(
    {
        "index.html",
        "index.htm",
        "index.php",
        "index.shtml",
        "default.htm",
        "default.html",
        "default.asp",
        "default.aspx",
    }
)
"""Directory index documents: ``/news/index.html`` is the page ``/news/`` serves."""


@dataclass(frozen=True)
class UrlRules:
    """Which query parameters :func:`canonical_url` removes (config ``[dedup]``).

    ``names`` are compared case-insensitively; ``prefixes`` match the start of a name;
    ``keep`` wins over both (a site where ``ref`` names the document, not the referrer).
    """

    names: frozenset[str] = TRACKING_PARAMS
    prefixes: tuple[str, ...] = TRACKING_PREFIXES
    keep: frozenset[str] = frozenset()

    def with_config(self, extra: Iterable[str], keep: Iterable[str]) -> UrlRules:
        """These rules plus ``extra`` names (a trailing ``*`` makes a prefix), minus ``keep``."""
        names, prefixes = set(self.names), list(self.prefixes)
        for item in extra:
            item = item.lower()
            if item.endswith("*"):
                prefixes.append(item[:-1])
            else:
                names.add(item)
        return UrlRules(
            frozenset(names), tuple(dict.fromkeys(prefixes)), frozenset(k.lower() for k in keep)
        )

    def is_tracking(self, name: str) -> bool:
        lowered = name.lower()
        if lowered in self.keep:
            return False
        return lowered in self.names or lowered.startswith(self.prefixes)


DEFAULT_URL_RULES = UrlRules()

_DEFAULT_PORTS = {"http": 80, "https": 443}
_TAG_RE = re.compile(r"<[^>]*>")
_NON_WORD_RE = re.compile(r"[\W_]+", re.UNICODE)
_WORD_RE = re.compile(r"[^\W_]+")
_HEX = frozenset("0123456789abcdefABCDEF")
# RFC 3986 §2.3: unreserved characters never need percent-encoding, and §6.2.2.2 lets a
# normalizer decode them. Everything else that is escaped stays escaped (hex upper-cased,
# §6.2.2.1): decoding %2F or %3F would change what the URL means.
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# What may stand literally in a path: unreserved, sub-delims, ":" "@" (RFC 3986 §3.3) and "/".
_PATH_LITERAL = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
_HOST_RE = re.compile(r"^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$")


def is_tracking_param(name: str, rules: UrlRules = DEFAULT_URL_RULES) -> bool:
    return rules.is_tracking(name)


def canonical_url(url: str | None, rules: UrlRules = DEFAULT_URL_RULES) -> str | None:
    """The form of ``url`` used to compare links across sources; None if it is not http(s).

    - scheme: http and https compare equal, so the canonical form always says ``https``;
    - host: lower-cased, a trailing dot dropped, internationalized names in punycode (IDNA),
      ports 80 and 443 dropped, user and password dropped;
    - path: percent-encoding normalized (RFC 3986 §6.2.2: unreserved characters decoded,
      other escapes upper-cased, other characters, including non-ASCII, escaped as UTF-8),
      dot segments removed (§5.2.4); then the **trailing-slash rule**: a final directory
      index name (:data:`INDEX_NAMES`, e.g. ``index.html``) and a trailing ``/`` are dropped,
      so ``/news/``, ``/news`` and ``/news/index.html`` are one page; the root stays ``/``;
    - query: tracking parameters (``rules``) removed, the rest decoded, sorted and
      re-encoded; an empty query is dropped;
    - the fragment is dropped.

    Pure and idempotent: ``canonical_url(canonical_url(u)) == canonical_url(u)``.
    It does not follow redirects or strip ``www.``: two hosts are two sites.
    """
    return _canonical_url(url, rules) if url else None


# Asked twice per article in one source run (lookup_for and plan), like fingerprints.
@functools.lru_cache(maxsize=4096)
def _canonical_url(url: str, rules: UrlRules) -> str | None:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
        hostname = parts.hostname
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not hostname:
        return None
    host = _canonical_host(hostname)
    if host is None:
        return None
    # http and https compare equal, so both default ports go (http on 443 is as rare as it
    # is unlikely to be a different document).
    if port is not None and port not in _DEFAULT_PORTS.values():
        host = f"{host}:{port}"
    path = _trim_index(_remove_dot_segments(_normalize_escapes(parts.path, _PATH_LITERAL)))
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not rules.is_tracking(k)
    ]
    query.sort()
    return urlunsplit(("https", host, path, urlencode(query, quote_via=quote), ""))


def _canonical_host(hostname: str) -> str | None:
    """Lower-cased host, IDNA-encoded; IPv6 literals in brackets; None if not a host name."""
    host = hostname.lower().rstrip(".")
    if ":" in host:  # an IPv6 literal (urlsplit has removed the brackets)
        if not re.fullmatch(r"[0-9a-f:.]+", host):
            return None
        return f"[{host}]"
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return host if _HOST_RE.match(host) else None


def _normalize_escapes(text: str, literal: frozenset[str]) -> str:
    """RFC 3986 §6.2.2.1-2 over one component: see :func:`canonical_url`."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "%" and i + 2 < n and text[i + 1] in _HEX and text[i + 2] in _HEX:
            decoded = chr(int(text[i + 1 : i + 3], 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + text[i + 1 : i + 3].upper())
            i += 3
            continue
        if c in literal:
            out.append(c)
        else:
            out.append("".join(f"%{b:02X}" for b in c.encode("utf-8", "surrogatepass")))
        i += 1
    return "".join(out)


def _trim_index(path: str) -> str:
    """The trailing-slash rule: drop final ``index.html``-like names and empty segments."""
    segments = path.split("/")
    while len(segments) > 1 and (segments[-1] == "" or segments[-1] in INDEX_NAMES):
        segments.pop()
    return "/".join(segments) or "/"


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4: resolve ``.`` and ``..`` segments; the result starts with ``/``."""
    out: list[str] = []
    segments = path.split("/")
    for i, seg in enumerate(segments):
        if seg in (".", ".."):
            if seg == ".." and len(out) > 1:
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
    return body_fingerprint(article.content_html or article.summary_html or "")


def body_fingerprint(body: str) -> str | None:
    """:func:`fingerprint` of a body (see :func:`body_of`)."""
    return _fingerprint_of_words(normalize_text(body).split(" "))


def _fingerprint_of_words(words: list[str]) -> str | None:
    """The fingerprint of a body whose :func:`normalize_text` is ``" ".join(words)``."""
    if len(words) < MIN_FINGERPRINT_WORDS:
        return None
    return hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest()


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
class Candidate:
    """A stored entry with the body text similarity compares against."""

    entry: StoredEntry
    body: str  # its stored content_html, else summary_html


@dataclass(frozen=True)
class Existing:
    """The stored entries a source run could collide with, indexed for :func:`plan`.

    ``by_key`` and ``by_source_link`` hold this source's entries (by identity key, by canonical
    link); the other maps hold entries of any source. ``postings`` maps each sketch key asked
    about to the ids of the entries indexed under it (newest first, at most
    :data:`POSTINGS_LIMIT`); ``bodies`` has the body of every entry :func:`candidate_ids`
    selected and of every ``by_source_link`` entry. ``stories`` holds the published copy
    (story head) of every story an entry above belongs to. ``taken_atom_ids`` are atom ids
    already in use.
    """

    by_key: Mapping[str, StoredEntry] = field(default_factory=dict)
    by_original_id: Mapping[str, StoredEntry] = field(default_factory=dict)
    by_link: Mapping[str, StoredEntry] = field(default_factory=dict)
    by_fingerprint: Mapping[str, StoredEntry] = field(default_factory=dict)
    taken_atom_ids: frozenset[str] = frozenset()
    by_source_link: Mapping[str, StoredEntry] = field(default_factory=dict)
    postings: Mapping[int, Sequence[int]] = field(default_factory=dict)
    bodies: Mapping[int, Candidate] = field(default_factory=dict)
    stories: Mapping[int, StoredEntry] = field(default_factory=dict)


POSTINGS_LIMIT = 64
"""Entries read per sketch key. A key shared by more entries is a common phrase rather than
evidence; capping it keeps the cost of a lookup flat however large the database grows."""

MAX_VERIFY = 8
"""Candidates compared exactly per new entry, those sharing the most sketch keys first."""


@dataclass(frozen=True)
class Lookup:
    """What :func:`plan` will ask about: the pipeline fetches exactly these from storage."""

    keys: frozenset[str]
    original_ids: frozenset[str]
    links: frozenset[str]
    fingerprints: frozenset[str]
    sketches: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # by article key

    @property
    def sketch_keys(self) -> frozenset[int]:
        return frozenset(k for sketch in self.sketches.values() for k in sketch)


def body_of(article: Article) -> str:
    """The text that fingerprints and similarity look at: the content, else the summary."""
    return article.content_html or article.summary_html or ""


@dataclass(frozen=True)
class Derived:
    """What deduplication computes from one article alone: its canonical link, body
    fingerprint, near-duplicate profile and content hash (see :func:`derive`)."""

    canonical_link: str | None
    fingerprint: str | None
    profile: Profile | None
    content_hash: str


def derive(article: Article, rules: UrlRules = DEFAULT_URL_RULES) -> Derived:
    """The :class:`Derived` values of ``article``. Pure and picklable both ways, so it can
    run on the process that parsed the article (:mod:`feedsvc.localread`); :func:`lookup_for`
    and :func:`plan` take them instead of computing each one again. Not cached."""
    body = body_of(article)
    # The profile's pass over the body usually yields the fingerprint's words too.
    profile, words = neardup.profile_and_words(body)
    return Derived(
        canonical_url(article.link, rules),
        body_fingerprint(body) if words is None else _fingerprint_of_words(words),
        profile,
        content_hash(article),
    )


def derive_all(
    articles: Sequence[Article],
    rules: UrlRules = DEFAULT_URL_RULES,
    derived: Sequence[Derived] | None = None,
) -> Sequence[Derived]:
    """``derived`` when it was computed already (one per article), else :func:`derive` of
    each article."""
    if derived is None:
        return [derive(a, rules) for a in articles]
    if len(derived) != len(articles):
        raise ValueError(f"{len(derived)} derived values for {len(articles)} articles")
    return derived


def lookup_for(
    articles: Sequence[Article],
    rules: UrlRules = DEFAULT_URL_RULES,
    derived: Sequence[Derived] | None = None,
) -> Lookup:
    """What :func:`plan` will look up for ``articles`` (``derived``: their :func:`derive`
    values, when the caller has them)."""
    keys, ids, links, fps = set(), set(), set(), set()
    sketches: dict[str, tuple[int, ...]] = {}
    for a, d in zip(articles, derive_all(articles, rules, derived), strict=True):
        keys.add(a.key)
        if is_republishable_id(a.original_id):
            ids.add(a.original_id or "")
        link = d.canonical_link
        if link and not is_front_page(link):
            links.add(link)
        if d.fingerprint:
            fps.add(d.fingerprint)
        if d.profile is not None:
            sketches.setdefault(a.key, d.profile.sketch)
    return Lookup(frozenset(keys), frozenset(ids), frozenset(links), frozenset(fps), sketches)


def rank_candidates(sketch: Sequence[int], postings: Mapping[int, Sequence[int]]) -> list[int]:
    """Entry ids worth comparing with a text of this sketch: those sharing at least
    :data:`~feedsvc.neardup.MIN_SHARED_KEYS` keys, most shared first (then oldest), at most
    :data:`MAX_VERIFY`."""
    shared: dict[int, int] = {}
    for key in sketch:
        for entry_id in postings.get(key, ()):
            shared[entry_id] = shared.get(entry_id, 0) + 1
    ranked = sorted(
        (eid for eid, n in shared.items() if n >= neardup.MIN_SHARED_KEYS),
        key=lambda eid: (-shared[eid], eid),
    )
    return ranked[:MAX_VERIFY]


def candidate_ids(lookup: Lookup, postings: Mapping[int, Sequence[int]]) -> set[int]:
    """Every entry whose body :func:`plan` may compare with one of ``lookup``'s articles."""
    return {eid for sketch in lookup.sketches.values() for eid in rank_candidates(sketch, postings)}


def _advance(stored: datetime, candidate: datetime) -> datetime:
    """An ``updated`` that is later than ``stored`` (RFC 4287 §4.2.15: it must change)."""
    return candidate if candidate > stored else stored + timedelta(seconds=1)


@dataclass
class _RunIndex:
    """Stories started earlier in this run, by what a later article could match them on."""

    ids: dict[str, str] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    fps: dict[str, str] = field(default_factory=dict)
    postings: dict[int, list[str]] = field(default_factory=dict)
    profiles: dict[str, neardup.Profile] = field(default_factory=dict)

    def add(
        self, key: str, orig: str | None, link: str | None, fp: str | None, prof: Profile | None
    ) -> None:
        if orig:
            self.ids.setdefault(orig, key)
        if link:
            self.links.setdefault(link, key)
        if fp:
            self.fps.setdefault(fp, key)
        if prof is not None:
            self.profiles[key] = prof
            for k in prof.sketch:
                keys = self.postings.setdefault(k, [])
                keys.append(key)
                if len(keys) > POSTINGS_LIMIT:  # the same cap as storage's: newest kept
                    del keys[0]

    def match(
        self, orig: str | None, link: str | None, fp: str | None, prof: Profile | None
    ) -> tuple[str, DupRule, float] | None:
        for value, table, rule in (
            (orig, self.ids, DupRule.SAME_ID),
            (link, self.links, DupRule.SAME_LINK),
            (fp, self.fps, DupRule.SAME_TEXT),
        ):
            if value is not None and value in table:
                return table[value], rule, 1.0
        if prof is None:
            return None
        shared: dict[str, int] = {}
        for k in prof.sketch:
            for key in self.postings.get(k, ()):
                shared[key] = shared.get(key, 0) + 1
        best: tuple[str, DupRule, float] | None = None
        for key, n in sorted(shared.items(), key=lambda kv: -kv[1])[:MAX_VERIFY]:
            if n < neardup.MIN_SHARED_KEYS:
                continue
            verdict = neardup.judge(prof, self.profiles[key])
            if verdict.same and (best is None or verdict.score > best[2]):
                best = (key, DupRule.SIMILAR_TEXT, verdict.score)
        return best


def plan(
    source: str,
    articles: Sequence[Article],
    existing: Existing,
    now: datetime,
    *,
    feed_id: str,
    rules: UrlRules = DEFAULT_URL_RULES,
    priorities: Mapping[str, int] | None = None,
    derived: Sequence[Derived] | None = None,
) -> list[Intent]:
    """Decide, for each article of one source run, what storage must do.

    The first occurrence of a key wins; later articles with the same key in the same run are
    ignored (feeds sometimes repeat an item). Articles that are copies of one another within
    the same run join the first one's story. An article with a new key but the canonical link
    and text of one of this source's stored entries is that entry under a new id (the
    publisher moved platforms): an :class:`Update` that re-keys it. A new copy from a source
    with a higher ``priorities`` value than the story's published copy takes its place
    (keeping the story's atom:id). Stored entries are never re-matched: an edit of any copy is
    an update of that copy, in its story.

    ``derived`` are the articles' :func:`derive` values when the caller has them (one per
    article, in order); without them they are computed here.
    """
    prio = priorities or {}
    intents: list[Intent] = []
    seen: set[str] = set()
    run_keys = {a.key for a in articles}
    derived = derive_all(articles, rules, derived)
    shared = _shared_links(articles, derived)
    rekeyed: set[int] = set()
    took: dict[int, str] = {}  # story id → key of the article of this run that took it over
    run = _RunIndex()
    taken = set(existing.taken_atom_ids)
    profiles: dict[int, Profile | None] = {}

    def stored_profile(entry_id: int) -> Profile | None:
        if entry_id not in profiles:
            cand = existing.bodies.get(entry_id)
            profiles[entry_id] = neardup.profile(cand.body) if cand else None
        return profiles[entry_id]

    for article, d in zip(articles, derived, strict=True):
        if article.key in seen:
            continue
        seen.add(article.key)
        chash = d.content_hash
        link = d.canonical_link
        # A link that this source gives to several of its entries names a page, not an
        # article (a section front, a landing page): it must not merge anything.
        linkable = link if link and not is_front_page(link) and link not in shared else None
        fp = d.fingerprint
        prof = d.profile
        sketch = prof.sketch if prof else ()
        stored = existing.by_key.get(article.key)
        if stored is None and linkable:
            stored = _renamed(article, linkable, fp, prof, existing, run_keys, rekeyed)
            if stored is not None:
                rekeyed.add(stored.id)
        if stored is not None:
            rekey = article.key if stored.key != article.key else None
            if stored.content_hash == chash and rekey is None:
                intents.append(Unchanged(stored.id, article.key))
            elif rekey and stored.content_hash in (
                chash,
                content_hash(replace(article, original_id=stored.original_id)),
            ):
                # Only the id changed: nothing published changed, so `updated` stays.
                intents.append(
                    Update(stored.id, article, chash, link, fp, stored.updated, rekey, sketch)
                )
            else:
                intents.append(
                    Update(
                        stored.id,
                        article,
                        chash,
                        link,
                        fp,
                        _advance(stored.updated, article.updated or now),
                        rekey,
                        sketch,
                    )
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

        story_of: int | None = None
        story_of_key: str | None = None
        rule: DupRule | None = None
        score: float | None = None
        takeover: int | None = None
        displaced: str | None = None
        match = _match(source, orig, linkable, fp, prof, existing, stored_profile)
        if match is not None:
            entry, rule, score = match
            story_of = entry.story_id
            head = existing.stories.get(entry.story_id)
            if entry.story_id in took:  # an earlier copy of this run took this story over
                story_of, story_of_key = None, took[entry.story_id]
            elif (
                head is not None
                and not head.deleted
                and prio.get(source, 0) > prio.get(head.source, 0)
            ):
                # The higher-priority copy is published from now on, under the story's id.
                took[head.id] = article.key
                takeover, displaced = head.id, atom_id
                atom_id, published = head.atom_id, head.published
                updated = _advance(head.updated, max(updated, head.updated))
        else:
            in_run = run.match(orig, linkable, fp, prof)
            if in_run is not None:
                story_of_key, rule, score = in_run
            else:
                run.add(article.key, orig, linkable, fp, prof)

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
                score=None if score is None else round(score, 4),
                sketch=sketch,
                takeover=takeover,
                displaced_atom_id=displaced,
            )
        )
    return intents


def _renamed(
    article: Article,
    link: str,
    fp: str | None,
    prof: Profile | None,
    existing: Existing,
    run_keys: set[str],
    rekeyed: set[int],
) -> StoredEntry | None:
    """The stored entry of this source that ``article`` is, under a new id: same canonical
    link and the same text (identical, or similar by :func:`neardup.judge`). None if the
    old id is still in this run (then they are two items) or there is no such entry."""
    stored = existing.by_source_link.get(link)
    if stored is None or stored.key in run_keys or stored.id in rekeyed:
        return None
    if fp is not None and fp == stored.fingerprint:
        return stored
    cand = existing.bodies.get(stored.id)
    if cand is None:
        return None
    if prof is None:  # short texts: only an identical text will do
        return stored if normalize_text(body_of(article)) == normalize_text(cand.body) else None
    theirs = neardup.profile(cand.body)
    return stored if theirs is not None and neardup.judge(prof, theirs).same else None


def _shared_links(articles: Sequence[Article], derived: Sequence[Derived]) -> frozenset[str]:
    """Canonical links that two or more different articles of this run carry."""
    keys_by_link: dict[str, set[str]] = {}
    for a, d in zip(articles, derived, strict=True):
        link = d.canonical_link
        if link:
            keys_by_link.setdefault(link, set()).add(a.key)
    return frozenset(link for link, keys in keys_by_link.items() if len(keys) > 1)


def _match(
    source: str,
    orig: str | None,
    link: str | None,
    fp: str | None,
    prof: Profile | None,
    existing: Existing,
    stored_profile: Callable[[int], Profile | None],
) -> tuple[StoredEntry, DupRule, float] | None:
    if orig and orig in existing.by_original_id:
        return existing.by_original_id[orig], DupRule.SAME_ID, 1.0
    # A stored entry of this same source with this link (and another key: it was not renamed)
    # means the source reuses the link for different entries: then it proves nothing.
    if link and link in existing.by_link and existing.by_link[link].source != source:
        return existing.by_link[link], DupRule.SAME_LINK, 1.0
    if fp and fp in existing.by_fingerprint:
        return existing.by_fingerprint[fp], DupRule.SAME_TEXT, 1.0
    if prof is None:
        return None
    best: tuple[StoredEntry, DupRule, float] | None = None
    for entry_id in rank_candidates(prof.sketch, existing.postings):
        cand = existing.bodies.get(entry_id)
        theirs = stored_profile(entry_id)
        if cand is None or theirs is None:
            continue
        verdict = neardup.judge(prof, theirs)
        if verdict.same and (best is None or verdict.score > best[2]):
            best = (cand.entry, DupRule.SIMILAR_TEXT, verdict.score)
    return best


def choose_head(
    members: Sequence[tuple[int, str, datetime]], priorities: Mapping[str, int] | None = None
) -> int | None:
    """The entry that should be a story's published copy, from ``(id, source, first_seen)``
    triples: the highest source priority, then the earliest seen, then the lowest id."""
    prio = priorities or {}
    if not members:
        return None
    return min(members, key=lambda m: (-prio.get(m[1], 0), m[2], m[0]))[0]
