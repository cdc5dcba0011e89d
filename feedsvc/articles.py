"""Article files (``.txt``, ``.md``/``.markdown``, ``.html``/``.htm``) → :class:`Article`.

This is the only module that reads article files. :func:`parse_article` is pure (bytes in,
an Article out); :func:`scan_directory` and :func:`read_article_file` are the thin I/O shell
around it. Formats:

``.txt``
    The first non-empty line is the title; every following non-empty line is one paragraph
    (the format of ``../shared/examples/articles``). A dateline ("Kathmandu — ...") is just
    the start of the first paragraph. The text is escaped, never interpreted as HTML.
``.md``/``.markdown``
    Optional front matter between ``---`` lines: ``key: value`` lines (a small subset of
    YAML, parsed here; no PyYAML). Keys: title, id, date, updated, author, tags, link,
    summary, lang; other keys are ignored. Lists are ``[a, b]``, ``- item`` lines, or (for
    tags) comma-separated. Inline ``# comments`` are *not* stripped. The body is CommonMark
    with raw HTML escaped, then sanitized anyway.
``.html``/``.htm``
    The title is ``<title>`` or the first ``<h1>`` (which is then removed from the body); the
    body is the content of ``<body>``, sanitized.

The key is the front-matter ``id`` when given, else the path relative to the source directory
with POSIX separators. Dates are aware UTC; a file without a date gets ``published=None`` and
the pipeline fills in the first-seen time.

Incremental scans: :func:`scan_directory` returns a :class:`~feedsvc.models.FileStamp` (size,
mtime, inode, SHA-256) for every file it read successfully; given the stamps of the previous
scan (``known``) it neither reads a file whose stat still matches nor parses one whose bytes
hash the same, and lists such files in ``unchanged`` instead of ``articles``.
"""

from __future__ import annotations

import codecs
import email.utils
import hashlib
import html
import os
import re
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import lxml.etree
import lxml.html
from markdown_it import MarkdownIt

from feedsvc.errors import SourceError
from feedsvc.models import Article, FileStamp, Person
from feedsvc.sanitize import (
    clean_html,
    escape_paragraphs,
    remove_xml_invalid,
    text_title,
)

__all__ = [
    "RACY_NS",
    "SUFFIXES",
    "DirectoryScan",
    "parse_article",
    "read_article_file",
    "scan_directory",
    "stamp_is_fresh",
]

SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
DEFAULT_MAX_BYTES = 5_000_000
_BINARY_SNIFF_BYTES = 8192
_BACKUP_SUFFIXES = (".swp", ".swo", ".bak", ".tmp", ".orig", ".rej", ".part")
# A stamp taken less than this long after the file's mtime is "racy" (the trick git uses for
# its index): a second write within the file system's timestamp granularity (up to 2 s on
# FAT, 1 s on ext3/HFS+, a clock tick elsewhere) can leave size and mtime unchanged, so such a
# file is re-hashed at the next scan instead of being trusted on its stat alone.
RACY_NS = 2_000_000_000
# A file written in place ("open, truncate, write") can be read while only part of it is
# written. A read is kept only if the file did not change while it was read (checked by fstat
# before and after, up to _READ_ATTEMPTS times), and a file modified less than SETTLE_NS before
# it was read is stat'ed again once that much time has passed: if it changed meanwhile it was
# still being written, and it is skipped until the next run instead of storing a torn copy.
_READ_ATTEMPTS = 3
SETTLE_NS = 50_000_000


@dataclass(frozen=True)
class DirectoryScan:
    """The outcome of scanning a directory of article files.

    ``errors`` name files that look like articles but could not be read or parsed;
    ``skipped`` name files that are not articles (hidden, backups, binaries, other suffixes,
    symlinks leaving the directory). Neither stops the scan. ``stamps`` has one stamp per
    article file that is read successfully or known unchanged; ``unchanged`` lists the
    relative paths of files left out of ``articles`` because they are known unchanged.
    """

    articles: tuple[Article, ...]
    errors: tuple[str, ...]
    skipped: tuple[str, ...]
    # Not compared: stamps record when a file was read, which differs between equal scans.
    stamps: tuple[FileStamp, ...] = field(default=(), compare=False)
    unchanged: tuple[str, ...] = ()


# -- parsing (pure) -------------------------------------------------------------------------


def parse_article(data: bytes, relpath: str, *, origin: str) -> Article:
    """Parse the bytes of one article file; ``relpath`` (POSIX) picks the format and key.

    Raises :class:`SourceError` naming ``origin`` for undecodable UTF-8 (with the byte
    offset), an empty file, bad front matter or a bad date, or an unknown suffix. Does not
    read anything.
    """
    suffix = PurePosixPath(relpath).suffix.lower()
    if suffix not in SUFFIXES:
        raise SourceError(f"{origin}: not an article file (expected one of {', '.join(SUFFIXES)})")
    text = _decode(data, origin)
    if not text.strip():
        raise SourceError(f"{origin}: empty article")
    stem = PurePosixPath(relpath).stem
    if suffix == ".txt":
        return _parse_txt(text, relpath, origin)
    if suffix in (".md", ".markdown"):
        return _parse_markdown(text, relpath, stem, origin)
    return _parse_html(text, relpath, stem, origin)


def _decode(data: bytes, origin: str) -> str:
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        text = data[bom:].decode("utf-8")
    except UnicodeDecodeError as e:
        raise SourceError(f"{origin}: not valid UTF-8 at byte {e.start + bom} ({e.reason})") from e
    # str.splitlines() would also split on \v, \f, U+2028 ...; only CRLF, CR and LF are line
    # endings in a text file.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _plain(s: str) -> str:
    """Plain text (not markup) with whitespace collapsed."""
    return " ".join(remove_xml_invalid(s).split())


def _parse_txt(text: str, relpath: str, origin: str) -> Article:
    lines = [stripped for line in text.split("\n") if (stripped := line.strip())]
    # The title line is plain text: "AT&T <3 Ltd" is a title, not markup.
    title, paragraphs = _plain(lines[0]), lines[1:]
    return Article(
        key=relpath,
        title=title,
        content_html=escape_paragraphs(paragraphs),
        origin=origin,
    )


# -- Markdown ---------------------------------------------------------------------------------

_FRONT_MATTER_OPEN = "---"
_FRONT_MATTER_CLOSE = ("---", "...")
_KEY_VALUE = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)\s*:(?:\s+(.*))?\Z")
_LIST_ITEM = re.compile(r"-\s+(.*)\Z")
_ATX_H1 = re.compile(r" {0,3}#[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*\Z")
_PERSON = re.compile(r"(.*?)\s*<([^<>@\s]+@[^<>\s]+)>\Z")


def _markdown() -> MarkdownIt:
    # "html": False — raw HTML in Markdown is escaped, not passed through (the output still
    # goes through clean_html: markdown-it only vets link schemes, it does not sanitize).
    return MarkdownIt("commonmark", {"html": False})


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _split_list(value: str) -> list[str]:
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    return [item for part in value.split(",") if (item := _unquote(part))]


def _front_matter(lines: list[str], origin: str) -> tuple[dict[str, str | list[str]], list[str]]:
    """Split ``---`` front matter off; return its fields and the remaining body lines."""
    if not lines or lines[0].rstrip() != _FRONT_MATTER_OPEN:
        return {}, lines
    if not any(line.rstrip() in _FRONT_MATTER_CLOSE for line in lines[1:]):
        raise SourceError(f"{origin}: front matter opened with '---' on line 1 is never closed")
    fields: dict[str, str | list[str]] = {}
    list_key: str | None = None
    for number, line in enumerate(lines[1:], start=2):
        if line.rstrip() in _FRONT_MATTER_CLOSE:
            return fields, lines[number:]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if list_key is not None and (item := _LIST_ITEM.match(stripped)):
            current = fields[list_key]
            assert isinstance(current, list)
            current.append(_unquote(item.group(1)))
            continue
        match = _KEY_VALUE.match(stripped)
        if match is None or line[0].isspace():
            raise SourceError(f"{origin}: front matter line {number}: expected 'key: value'")
        key, value = match.group(1).lower(), (match.group(2) or "").strip()
        if value:
            fields[key], list_key = value, None
        else:  # "tags:" followed by "- item" lines
            fields[key], list_key = [], key
    raise AssertionError("unreachable: the closing line was found above")


def _parse_date(value: str, key: str, origin: str) -> datetime:
    """ISO 8601 / RFC 3339 (or a plain date, or RFC 2822) → aware UTC; naive means UTC."""
    value = _unquote(value)
    parsed: datetime | None = None
    try:
        # RFC 3339 §5.6 allows a lower-case "t"/"z" and a space instead of "T".
        parsed = datetime.fromisoformat(value.upper())
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            parsed = None
    if parsed is None:
        raise SourceError(
            f"{origin}: front matter {key!r}: {value!r} is not a date "
            "(expected ISO 8601, e.g. 2024-05-01 or 2024-05-01T09:30:00+02:00)"
        )
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _scalar(fields: dict[str, str | list[str]], key: str, origin: str) -> str | None:
    value = fields.get(key)
    if value is None:
        return None
    if isinstance(value, list):
        raise SourceError(f"{origin}: front matter {key!r} must be a single value, not a list")
    return _unquote(value) or None


def _list(fields: dict[str, str | list[str]], key: str) -> list[str]:
    value = fields.get(key)
    if value is None:
        return []
    if isinstance(value, list):
        return [v for v in value if v]
    return _split_list(value)


def _person(value: str) -> Person:
    match = _PERSON.match(value.strip())
    if match and match.group(1):
        return Person(name=_plain(_unquote(match.group(1))), email=match.group(2))
    return Person(name=_plain(value))


def _parse_markdown(text: str, relpath: str, stem: str, origin: str) -> Article:
    fields, body_lines = _front_matter(text.split("\n"), origin)
    title = _plain(_scalar(fields, "title", origin) or "")
    if not title:
        # The first ATX "# " heading (outside fenced code) is the title, removed from the body.
        fence: str | None = None
        for index, line in enumerate(body_lines):
            stripped = line.lstrip()
            if stripped.startswith(("```", "~~~")):
                marker = stripped[:3]
                fence = None if fence == marker else (fence or marker)
                continue
            if fence is None and (heading := _ATX_H1.match(line)):
                title = text_title(_markdown().renderInline(heading.group(1)))
                del body_lines[index]
                break
    title = title or stem
    link = _scalar(fields, "link", origin)
    body_html = _markdown().render("\n".join(body_lines))
    dates = {
        key: _parse_date(value, key, origin)
        for key in ("date", "updated")
        if (value := _scalar(fields, key, origin)) is not None
    }
    summary = _scalar(fields, "summary", origin)
    # A single "author:" string is one person even with a comma in it ("Doe, Jane"); several
    # are a list: "[a, b]" or "- item" lines.
    author = fields.get("author")
    authors = _list(fields, "author") if isinstance(author, list) else []
    if isinstance(author, str):
        authors = _split_list(author) if author.strip().startswith("[") else [_unquote(author)]
    return Article(
        key=_scalar(fields, "id", origin) or relpath,
        title=title,
        content_html=clean_html(body_html, base_url=link).strip(),
        link=link,
        summary_html=html.escape(_plain(summary), quote=False) if summary else None,
        published=dates.get("date"),
        updated=dates.get("updated"),
        authors=tuple(_person(a) for a in authors if a.strip()),
        categories=tuple(dict.fromkeys(_plain(t) for t in _list(fields, "tags") if _plain(t))),
        lang=_scalar(fields, "lang", origin),
        origin=origin,
    )


# -- HTML -------------------------------------------------------------------------------------


def _inner_html(element: lxml.etree._Element) -> str:
    parts = [html.escape(element.text or "", quote=False)]
    parts.extend(lxml.html.tostring(child, encoding="unicode") for child in element)
    return "".join(parts)


def _text_of(element: lxml.etree._Element) -> str:
    return "".join(t for t in element.itertext() if isinstance(t, str))


def _drop(element: lxml.etree._Element) -> None:
    """Remove an element and its content but keep its tail text (lxml's drop_tree)."""
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail or ""
    previous = element.getprevious()
    if previous is not None:
        previous.tail = (previous.tail or "") + tail
    else:
        parent.text = (parent.text or "") + tail
    parent.remove(element)


def _parse_html(text: str, relpath: str, stem: str, origin: str) -> Article:
    # Hand lxml bytes with an explicit encoding: it refuses a str that carries an XML
    # encoding declaration, and we have already decided the file is UTF-8.
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True)
    try:
        doc = lxml.html.document_fromstring(text.encode("utf-8"), parser=parser)
    except (lxml.etree.ParserError, ValueError) as e:
        raise SourceError(f"{origin}: cannot parse HTML: {e}") from e
    title = ""
    title_el = doc.find(".//title")
    if title_el is not None:
        title = _plain(_text_of(title_el))
    body = doc.find("body")
    if body is None:  # a document with a <head> only
        body = doc
    if not title:
        h1 = body.find(".//h1")
        if h1 is not None:
            title = _plain(_text_of(h1))
            _drop(h1)  # the title is not repeated as the first line of the content
    base_url: str | None = None
    base_el = doc.find(".//base[@href]")
    if base_el is not None:
        href = (base_el.get("href") or "").strip()
        if href.lower().startswith(("http://", "https://")):
            base_url = href
    lang = (doc.get("lang") or "").strip() or None
    return Article(
        key=relpath,
        title=title or stem,
        content_html=clean_html(_inner_html(body), base_url=base_url).strip(),
        lang=lang,
        origin=origin,
    )


# -- files (I/O) ------------------------------------------------------------------------------


class _NotAnArticle(Exception):
    """Internal: a file to skip with a warning (binary, ...), not an error."""


def _skip_reason(name: str) -> str | None:
    """Why a file name is not an article file, or None when it may be one."""
    if name.startswith("."):
        return "hidden file"
    if name.endswith("~") or (name.startswith("#") and name.endswith("#")):
        return "editor backup"
    lower = name.lower()
    if lower.endswith(_BACKUP_SUFFIXES):
        return "backup or temporary file"
    if not lower.endswith(SUFFIXES):
        return f"not an article file (expected one of {', '.join(SUFFIXES)})"
    return None


def _is_unicode(name: str) -> bool:
    """False for a name whose bytes are not UTF-8 (Python keeps them as lone surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(path: Path | str) -> str:
    """``path`` for a message: undecodable bytes of a file name shown as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def stamp_is_fresh(stamp: FileStamp, size: int, mtime_ns: int, inode: int) -> bool:
    """Whether a file whose stat shows ``size``/``mtime_ns``/``inode`` can be trusted to be
    unchanged since ``stamp`` was taken, without reading it. Pure; see :data:`RACY_NS`."""
    same = (stamp.size, stamp.mtime_ns, stamp.inode) == (size, mtime_ns, inode)
    return same and stamp.seen_ns - stamp.mtime_ns >= RACY_NS


def _same_version(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_ino, a.st_size, a.st_mtime_ns, a.st_ctime_ns) == (
        b.st_ino,
        b.st_size,
        b.st_mtime_ns,
        b.st_ctime_ns,
    )


def _read(path: Path, relpath: str, max_bytes: int) -> tuple[bytes, FileStamp, int]:
    """Read one regular file and stamp it (and its ctime, ns); SourceError for errors,
    _NotAnArticle for skips (including a file that kept changing while it was read)."""
    origin = str(path)
    seen_ns = time.time_ns()  # before the read: a write during the read makes the stamp racy
    try:
        # O_NONBLOCK: never hang on a FIFO that was swapped in after the stat.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            for _ in range(_READ_ATTEMPTS):
                st = os.fstat(f.fileno())
                if not stat.S_ISREG(st.st_mode):
                    raise _NotAnArticle(f"{origin}: skipped: not a regular file")
                f.seek(0)
                data = f.read(max_bytes + 1)
                after = os.fstat(f.fileno())
                whole = len(data) == after.st_size or len(data) > max_bytes
                if whole and _same_version(st, after):
                    break
            else:
                raise _NotAnArticle(
                    f"{origin}: skipped: it changed while it was read (being written?); "
                    "it is read again at the next run"
                )
    except OSError as e:
        raise SourceError(f"{origin}: cannot read: {e.strerror or e}") from e
    if len(data) > max_bytes:
        raise SourceError(f"{origin}: larger than the limit of {max_bytes} bytes")
    if b"\0" in data[:_BINARY_SNIFF_BYTES]:
        raise _NotAnArticle(f"{origin}: skipped: binary file (NUL byte)")
    digest = hashlib.sha256(data).hexdigest()
    stamp = FileStamp(relpath, len(data), st.st_mtime_ns, st.st_ino, digest, seen_ns)
    return data, stamp, st.st_ctime_ns


def _settled(reads: list[tuple[Path, FileStamp, int]]) -> set[Path]:
    """The files among ``reads`` (path, stamp, ctime_ns) that were modified less than
    :data:`SETTLE_NS` before they were read and changed since: still being written. Waits
    at most SETTLE_NS once, and only when such a fresh file was read."""
    fresh = [r for r in reads if r[1].seen_ns - max(r[1].mtime_ns, r[2]) < SETTLE_NS]
    if not fresh:
        return set()
    newest = max(max(r[1].mtime_ns, r[2]) for r in fresh)
    wait_ns = newest + SETTLE_NS - time.time_ns()
    if wait_ns > 0:
        time.sleep(min(wait_ns, SETTLE_NS) / 1e9)
    changed: set[Path] = set()
    for path, stamp, ctime_ns in fresh:
        try:
            st = os.stat(path)
        except OSError:
            changed.add(path)
            continue
        if (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns) != (
            stamp.inode,
            stamp.size,
            stamp.mtime_ns,
            ctime_ns,
        ):
            changed.add(path)
    return changed


def _read_settled(path: Path, relpath: str, max_bytes: int) -> tuple[bytes, FileStamp]:
    """:func:`_read` one file, then make sure it was not still being written."""
    data, stamp, ctime_ns = _read(path, relpath, max_bytes)
    if _settled([(path, stamp, ctime_ns)]):
        raise _NotAnArticle(f"{path}: skipped: it is being written; read it again later")
    return data, stamp


def _load(path: Path, relpath: str, max_bytes: int) -> Article:
    """Read and parse one regular file; SourceError for errors, _NotAnArticle for skips."""
    data, _ = _read_settled(path, relpath, max_bytes)
    return parse_article(data, relpath, origin=str(path))


def read_article_file(path: Path, root: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Article:
    """Read one article file; its key is its path relative to ``root`` (POSIX separators).

    For ``feedsvc ingest FILE``. Unlike :func:`scan_directory` nothing is skipped silently:
    a file that is not an article (suffix, binary, not a regular file), too large,
    unreadable or unparsable raises :class:`SourceError` naming it.
    """
    try:
        rel = path.relative_to(root)
    except ValueError:
        try:
            rel = path.resolve().relative_to(root.resolve())
        except ValueError:
            raise SourceError(f"{path}: not inside {root}") from None
    if not path.name.lower().endswith(SUFFIXES):
        raise SourceError(f"{path}: not an article file (expected one of {', '.join(SUFFIXES)})")
    try:
        return _load(path, rel.as_posix(), max_bytes)
    except _NotAnArticle as e:
        raise SourceError(str(e).replace(": skipped: ", ": not an article: ")) from None


def scan_directory(
    root: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    known: Mapping[str, FileStamp] | None = None,
) -> DirectoryScan:
    """Read every article file under ``root``, recursively, in sorted (deterministic) order.

    Skips with a message in ``skipped``: hidden files and folders, editor backups, other
    suffixes, binaries (a NUL byte in the first 8 KiB), non-regular files, broken symlinks
    and symlinks that resolve outside ``root`` (never followed). Files over ``max_bytes``,
    unreadable and unparsable files are reported in ``errors`` and the scan goes on. Raises
    :class:`SourceError` only when ``root`` itself is missing or not a directory.

    ``known`` maps relative paths to the stamps of an earlier scan of the same directory: a
    file whose stat matches its fresh stamp is not read, one whose bytes hash the same is not
    parsed; both go to ``unchanged`` (with their stamp in ``stamps``) instead of ``articles``.
    """
    if not root.is_dir():
        what = "does not exist" if not root.exists() else "is not a directory"
        raise SourceError(f"{root}: article directory {what}")
    real_root = root.resolve()
    articles: list[Article] = []
    errors: list[str] = []
    skipped: list[str] = []
    stamps: list[FileStamp] = []
    unchanged: list[str] = []
    visited: set[Path] = {real_root}
    reads: list[tuple[Path, FileStamp, int, Article | SourceError | None]] = []

    def walk(directory: Path, rel: PurePosixPath) -> None:
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            errors.append(f"{directory}: cannot list directory: {e.strerror or e}")
            return
        for entry in entries:
            path, relpath = directory / entry.name, rel / entry.name
            if not _is_unicode(entry.name):
                # Its key and messages could not be stored (SQLite text is Unicode).
                errors.append(
                    f"{printable(path)}: the file name is not valid UTF-8; rename it to ingest it"
                )
                continue
            if entry.name.startswith("."):
                kind = "folder" if entry.is_dir(follow_symlinks=False) else "file"
                skipped.append(f"{path}: skipped: hidden {kind}")
                continue
            try:
                if entry.is_symlink():
                    target = path.resolve()
                    if not target.is_relative_to(real_root):
                        skipped.append(f"{path}: skipped: symlink to {target}, outside {root}")
                        continue
                    if not target.exists():
                        skipped.append(f"{path}: skipped: broken symlink")
                        continue
                is_dir = entry.is_dir()
            except (OSError, RuntimeError) as e:  # RuntimeError: a symlink loop (3.11)
                errors.append(f"{path}: cannot inspect: {e}")
                continue
            if is_dir:
                real = path.resolve()
                if real in visited:  # a symlink back into a folder already scanned
                    skipped.append(f"{path}: skipped: folder already scanned as {real}")
                    continue
                visited.add(real)
                walk(path, relpath)
                continue
            reason = _skip_reason(entry.name)
            if reason is not None:
                skipped.append(f"{path}: skipped: {reason}")
                continue
            key = relpath.as_posix()
            previous = known.get(key) if known is not None else None
            if previous is not None:
                try:
                    st = entry.stat()
                except OSError as e:
                    errors.append(f"{path}: cannot inspect: {e.strerror or e}")
                    continue
                if stamp_is_fresh(previous, st.st_size, st.st_mtime_ns, st.st_ino):
                    stamps.append(previous)
                    unchanged.append(key)
                    continue
            try:
                data, stamp, ctime_ns = _read(path, key, max_bytes)
            except _NotAnArticle as e:
                skipped.append(str(e))
                continue
            except SourceError as e:
                errors.append(str(e))
                continue
            outcome: Article | SourceError | None = None  # None: same bytes as last time
            if previous is None or stamp.sha256 != previous.sha256:
                try:
                    outcome = parse_article(data, key, origin=str(path))
                except SourceError as e:
                    outcome = e
            reads.append((path, stamp, ctime_ns, outcome))

    walk(root, PurePosixPath())
    # Decided only now, once files that were just written have had time to settle: a file
    # still being written is skipped (no stamp: the next run reads it), never stored torn.
    changing = _settled([(path, stamp, ctime) for path, stamp, ctime, _ in reads])
    for path, stamp, _, outcome in reads:
        if path in changing:
            skipped.append(
                f"{path}: skipped: it is being written; it is read again at the next run"
            )
        elif isinstance(outcome, SourceError):
            errors.append(str(outcome))
        else:
            if outcome is None:
                unchanged.append(stamp.relpath)  # touched or rewritten with the same bytes
            else:
                articles.append(outcome)
            stamps.append(stamp)
    return DirectoryScan(
        articles=tuple(articles),
        errors=tuple(errors),
        skipped=tuple(skipped),
        stamps=tuple(stamps),
        unchanged=tuple(unchanged),
    )
