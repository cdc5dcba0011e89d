"""What feedsvc remembers about a feed file, and when that lets it skip the file. Pure.

After a successful run of a feed file source feedsvc records the SHA-256 of the file's bytes
and its stat signature (size, mtime, ctime, inode), with the feedsvc version that read it.
The next run skips a file without reading it when the signature is unchanged, and without
parsing it when its bytes hash the same; a new feedsvc version reads everything once again
(its parser or sanitizer may give different results).

The signature is only trusted when the file's mtime was at least :data:`SETTLE_NS` older than
the moment it was taken: a file written in the same clock tick as it was checked could change
again without its mtime moving (git's "racily clean" problem). ctime cannot be set by a user
and changes with every write or ``utime``, so a touched or replaced file is always re-read.

Nothing here does I/O; the callers stat and read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from feedsvc import __version__

SETTLE_NS = 2_000_000_000
"""A signature is trusted only for files last modified this long before the check."""

READER_VERSION = __version__
"""Recorded with each file: another version re-reads the file instead of skipping it."""


@dataclass(frozen=True)
class Signature:
    """The parts of ``os.stat`` that change whenever a file's content can have changed."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int

    @classmethod
    def of(cls, st: os.stat_result) -> Signature:
        return cls(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


@dataclass(frozen=True)
class FileState:
    """What was recorded about a file after the last successful run that read it."""

    sha256: str
    signature: Signature | None = None  # None: not trusted (the file was too fresh)
    entries: int = 0  # the entries the file gave, reported as unchanged when it is skipped
    reader: str = READER_VERSION


def trusted(signature: Signature, checked_ns: int) -> Signature | None:
    """``signature`` if it may be trusted next time (taken at ``checked_ns``), else None."""
    return signature if checked_ns - signature.mtime_ns >= SETTLE_NS else None


def unchanged_by_stat(known: FileState | None, signature: Signature) -> bool:
    """Whether a file can be skipped without even reading it."""
    return (
        known is not None
        and known.reader == READER_VERSION
        and known.signature is not None
        and known.signature == signature
    )


def unchanged_by_hash(known: FileState | None, sha256: str) -> bool:
    """Whether a file that was read can be skipped without parsing it."""
    return known is not None and known.reader == READER_VERSION and known.sha256 == sha256
