"""The feedsvc exception hierarchy, and nothing else.

Every error that feedsvc raises on purpose derives from :class:`FeedsvcError`, so callers
(the CLI, the daemon) can tell an expected failure (bad config, a broken source) from a bug.
"""

from __future__ import annotations


class FeedsvcError(Exception):
    """Root of every error feedsvc raises deliberately."""


class ConfigError(FeedsvcError):
    """The configuration file is missing, malformed, or has a bad key or value."""


class SourceError(FeedsvcError):
    """A source cannot be read (a missing directory, an unreadable article file, ...)."""


class FetchError(SourceError):
    """A URL source could not be fetched (network error, HTTP error, size limit, ...)."""


class ParseError(SourceError):
    """A document could not be parsed into entries."""


class StorageError(FeedsvcError):
    """The database cannot be opened, is corrupt, or a write failed."""


class PublishError(FeedsvcError):
    """The outbound feed could not be generated or written."""


class NetworkError(FetchError):
    """No HTTP response arrived at all: DNS failure, refused connection, timeout, reset."""
