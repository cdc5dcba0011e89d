"""Frozen dataclasses that cross module boundaries.

Nothing here does I/O. Every datetime is timezone-aware UTC; every HTML string is already
safe to publish (sanitized by :mod:`feedsvc.sanitize` or escaped from plain text).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


class SourceKind(enum.Enum):
    """What a source points at."""

    DIRECTORY = "directory"  # a folder of article files (.txt, .md, .html)
    FILE = "file"  # a local feed document (RSS, Atom, RDF, JSON Feed, ...)
    URL = "url"  # a feed fetched over HTTP(S)
    ARTICLE = "article"  # one article file named on the command line (`ingest PATH`)


@dataclass(frozen=True)
class Source:
    """A configured (or ad-hoc) source of entries."""

    name: str
    kind: SourceKind
    location: str  # absolute path for DIRECTORY/FILE, the URL for URL
    interval_seconds: int = 3600
    enabled: bool = True
    priority: int = 0  # higher wins: its copy of a story is the one published
    tags: tuple[str, ...] = ()  # labels, e.g. the categories of an OPML import (issue 9)

    @property
    def path(self) -> Path:
        """The filesystem path of a DIRECTORY or FILE source."""
        return Path(self.location)


@dataclass(frozen=True)
class FileStamp:
    """What was seen of one article file the last time it was read successfully.

    A directory source skips a file whose size, mtime and inode still match its stamp (and
    re-hashes one whose stamp is "racy", see :func:`feedsvc.articles.stamp_is_fresh`), so an
    unchanged inbox costs a ``stat`` per file, not a read and a parse.
    """

    relpath: str  # POSIX path relative to the source directory
    size: int
    mtime_ns: int
    inode: int
    sha256: str  # of the file's bytes
    seen_ns: int  # wall clock (ns since the epoch) just before the file was read


@dataclass(frozen=True)
class Person:
    """An author or contributor (RFC 4287 §3.2)."""

    name: str
    email: str | None = None
    uri: str | None = None


@dataclass(frozen=True)
class Enclosure:
    """A linked media file (podcast episode, image, ...)."""

    href: str
    length: int | None = None
    type: str | None = None


@dataclass(frozen=True)
class FeedInfo:
    """Metadata of an external feed, republished as ``atom:source`` (RFC 4287 §4.2.11)."""

    title: str | None = None
    id: str | None = None
    link: str | None = None  # the feed's alternate (HTML) link
    self_link: str | None = None
    updated: datetime | None = None


@dataclass(frozen=True)
class Article:
    """One normalized entry, from an article file or a feed, before storage.

    ``key`` is the identity within its source: the feed's id/guid, else the canonical link,
    else a hash of title + date; for article files an id from front matter, else the path
    relative to the source directory.
    """

    key: str
    title: str
    content_html: str  # sanitized (feeds) or escaped (article files) HTML; may be ""
    link: str | None = None
    summary_html: str | None = None
    published: datetime | None = None  # None: the pipeline uses the first-seen time
    updated: datetime | None = None
    authors: tuple[Person, ...] = ()
    categories: tuple[str, ...] = ()
    enclosures: tuple[Enclosure, ...] = ()
    original_id: str | None = None  # the feed's own id/guid, republished if a valid IRI
    lang: str | None = None
    rights: str | None = None
    origin: str | None = None  # what it came from, for messages: a file path or feed URL


@dataclass(frozen=True)
class ParsedFeed:
    """The result of parsing one feed document."""

    info: FeedInfo
    articles: tuple[Article, ...]
    warnings: tuple[str, ...] = ()  # e.g. "not well-formed XML (line 3): ..." when bozo
    ttl_seconds: int | None = None  # RSS <ttl> / sy:updatePeriod, when the feed states one


@dataclass(frozen=True)
class FetchResult:
    """What a fetch of a URL returned."""

    url: str  # the final URL after redirects
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes  # empty on 304
    etag: str | None = None
    last_modified: str | None = None
    redirects: tuple[tuple[int, str], ...] = ()  # each hop followed: (status, target URL)

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class DupRule(enum.Enum):
    """Why an entry was attached to an existing story instead of starting one."""

    SAME_ID = "same-id"
    SAME_LINK = "same-link"
    SAME_TEXT = "same-text"
    SIMILAR_TEXT = "similar-text"


@dataclass(frozen=True)
class StoredEntry:
    """The part of a stored entry that deduplication decisions need."""

    id: int
    source: str
    key: str
    atom_id: str
    story_id: int  # == id when this entry is its story's published copy
    content_hash: str
    canonical_link: str | None
    fingerprint: str | None
    published: datetime
    updated: datetime
    first_seen: datetime
    original_id: str | None = None
    deleted: bool = False  # tombstoned by `feedsvc entries delete`; never published again


@dataclass(frozen=True)
class Insert:
    """Store a new entry: a new story, or a copy of ``story_of`` (an existing entry id)."""

    article: Article
    atom_id: str  # the id this entry is published under if it is (or becomes) a story
    content_hash: str
    canonical_link: str | None
    fingerprint: str | None
    published: datetime
    updated: datetime
    story_of: int | None = None  # entry id of an existing entry whose story this joins
    story_of_key: str | None = None  # or: the key of an earlier Insert in the same plan
    rule: DupRule | None = None
    score: float | None = None
    sketch: tuple[int, ...] = ()  # near-duplicate LSH keys to index (see feedsvc.neardup)
    takeover: int | None = None  # entry id of the story head this entry replaces (priority)
    displaced_atom_id: str | None = None  # the atom id the replaced head takes instead


@dataclass(frozen=True)
class Update:
    """Store changed content for an existing entry, in place (same id, same atom:id)."""

    entry_id: int
    article: Article
    content_hash: str
    canonical_link: str | None
    fingerprint: str | None
    updated: datetime
    rekey: str | None = None  # the entry's new identity key, when its id changed
    sketch: tuple[int, ...] = ()


@dataclass(frozen=True)
class Unchanged:
    """The entry is already stored with the same content."""

    entry_id: int
    key: str


Intent = Insert | Update | Unchanged


@dataclass(frozen=True)
class IngestReport:
    """The outcome of one source run; failures are values, never exceptions."""

    source: str
    started: datetime
    finished: datetime
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0  # new entries attached to an existing story
    skipped: int = 0  # files that are not articles, skipped with a warning
    not_modified: bool = False  # a URL that answered 304
    errors: tuple[str, ...] = ()  # each names the file, URL or source
    warnings: tuple[str, ...] = field(default=())
    held: str | None = None  # why the source was not fetched at all (retired, Retry-After)
    notes: tuple[str, ...] = ()  # what the fetch did: moved, discovered, same bytes, ...

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def changed(self) -> bool:
        return self.new > 0 or self.updated > 0


@dataclass(frozen=True)
class FeedSettings:
    """The outbound feed's own metadata (config ``[feed]``)."""

    title: str = "feedsvc"
    id: str = "urn:feedsvc:default"  # a stable IRI; never change it once subscribers exist
    author: str = "feedsvc"
    base_url: str = "http://127.0.0.1:8080/"  # where feeds/ is served; self link = base + atom.xml
    subtitle: str | None = None
    max_entries: int = 50
    hub: str | None = None  # a WebSub hub: advertised in every feed, pinged after changes
    archive_page_size: int = 50  # entries per RFC 5005 archive page (feeds/archive/N.xml)


@dataclass(frozen=True)
class PublishedEntry:
    """A story as it is published: what :mod:`feedsvc.publish` renders."""

    atom_id: str  # stable forever once assigned
    title: str
    content_html: str  # already safe HTML
    published: datetime
    updated: datetime
    link: str | None = None
    summary_html: str | None = None
    authors: tuple[Person, ...] = ()
    categories: tuple[str, ...] = ()
    enclosures: tuple[Enclosure, ...] = ()
    lang: str | None = None
    rights: str | None = None
    source_info: FeedInfo | None = None  # set for entries republished from an external feed
    source_name: str = ""  # the feedsvc source it came from
