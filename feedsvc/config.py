"""Load and validate ``config.toml`` into frozen dataclasses.

Every error names the file and the key (``sources[2].interval``) and, for unknown keys, offers a
did-you-mean. Relative paths resolve against the folder of the config file, so a config works
from whatever directory feedsvc is started in. Parsing (:func:`parse_config`) is pure; only
:func:`load_config` reads the file.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from feedsvc.dedup import DEFAULT_URL_RULES, UrlRules
from feedsvc.errors import ConfigError
from feedsvc.models import FeedSettings, Source, SourceKind

DEFAULT_INTERVAL = 3600  # seconds; a source with no `interval` is run hourly
MIN_INTERVAL = 10  # the least interval of a URL source: other people's servers
# A local source (a folder or a feed file) costs only a stat per file when nothing changed
# (feedsvc.articles remembers what it read), so it may run every second: this keeps the
# daemon's tests fast, and the daemon never runs one source twice at once anyway.
MIN_LOCAL_INTERVAL = 1
DEFAULT_CONFIG_NAME = "config.toml"

_SECTIONS: dict[str, frozenset[str]] = {
    "feed": frozenset(
        {"title", "id", "author", "base_url", "subtitle", "max_entries", "hub", "archive_page_size"}
    ),
    "storage": frozenset({"path"}),
    "publish": frozenset({"dir"}),
    "server": frozenset({"host", "port", "max_age", "workers"}),
    "ingest": frozenset({"parse_workers"}),
    "fetch": frozenset(
        {
            "timeout",
            "max_bytes",
            "user_agent",
            "connect_timeout",
            "total_timeout",
            "max_connections",
            "max_per_host",
            "max_delay",
            "refuse_private_addresses",
        }
    ),
    "daemon": frozenset({"watch"}),
    "dedup": frozenset({"tracking_params", "keep_params"}),
}
_SOURCE_KEYS = frozenset({"name", "path", "url", "interval", "enabled", "priority", "tags"})
_TOP_KEYS = frozenset(_SECTIONS) | {"sources"}


def documented_keys() -> list[str]:
    """Every config key as ``section.key`` / ``sources[].key`` (the docs test checks each)."""
    keys = [f"{section}.{key}" for section, names in _SECTIONS.items() for key in sorted(names)]
    return keys + [f"sources[].{key}" for key in sorted(_SOURCE_KEYS)]


_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_INTERVAL_RE = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_PARAM_RE = re.compile(r"^[A-Za-z0-9._\[\]-]{1,64}\*?$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_TAG_MAX = 100  # characters in one tag (an OPML category path segment)


@dataclass(frozen=True)
class StorageSettings:
    path: Path


@dataclass(frozen=True)
class PublishSettings:
    dir: Path


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    max_age: int = 300  # Cache-Control max-age for served feeds, seconds
    # `feedsvc serve` worker processes: 0 = one per CPU (as nginx's `worker_processes auto`).
    # `feedsvc run` always serves from its own process (its /metrics counts the scheduler).
    workers: int = 0


@dataclass(frozen=True)
class FetchSettings:
    timeout: float = 30.0
    max_bytes: int = 20_000_000
    user_agent: str | None = None  # None: "feedsvc/VERSION (+project URL)"
    connect_timeout: float = 10.0
    total_timeout: float = 120.0  # one whole fetch, redirects and body included
    max_connections: int = 10  # requests in flight at once, all hosts together
    max_per_host: int = 2  # requests in flight at once to one host
    max_delay: int = 86_400  # cap on publisher hints and on error backoff, seconds
    refuse_private_addresses: bool = False


@dataclass(frozen=True)
class DaemonSettings:
    watch: bool = True  # run a directory source as soon as a file in it is written


@dataclass(frozen=True)
class IngestSettings:
    # Worker processes that parse local feed files while the main process stores: 0 = one per
    # CPU (none on a single CPU), 1 = parse in the main process, N = N workers.
    parse_workers: int = 0


@dataclass(frozen=True)
class DedupSettings:
    """Config ``[dedup]``: the query parameters canonical links drop (or keep)."""

    url_rules: UrlRules = DEFAULT_URL_RULES


@dataclass(frozen=True)
class Config:
    """A validated configuration. ``path`` is the file it came from (None if built in code)."""

    path: Path | None
    feed: FeedSettings
    storage: StorageSettings
    publish: PublishSettings
    server: ServerSettings
    fetch: FetchSettings
    sources: tuple[Source, ...]
    daemon: DaemonSettings = DaemonSettings()
    ingest: IngestSettings = IngestSettings()
    dedup: DedupSettings = DedupSettings()

    def priorities(self) -> dict[str, int]:
        """Each configured source's ``priority`` (sources not listed have 0)."""
        return {s.name: s.priority for s in self.sources}

    def source(self, name: str) -> Source:
        """The source called ``name``; ConfigError with a did-you-mean if there is none."""
        for src in self.sources:
            if src.name == name:
                return src
        names = [s.name for s in self.sources]
        raise ConfigError(f"no source named {name!r}{_did_you_mean(name, names)}")


def _did_you_mean(word: str, choices: list[str] | frozenset[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if choices:
        return f" (expected one of: {', '.join(sorted(choices))})"
    return ""


def parse_interval(value: object, key: str, minimum: int = MIN_INTERVAL) -> int:
    """``"90s"``, ``"15m"``, ``"1h"``, ``"1d"`` or a number of seconds → seconds."""
    if isinstance(value, bool):
        raise ConfigError(f'{key}: expected a duration such as "15m", got {value!r}')
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and (m := _INTERVAL_RE.match(value)):
        seconds = int(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ConfigError(
            f'{key}: expected a duration such as "90s", "15m", "1h" or "1d", got {value!r}'
        )
    if seconds < minimum:
        raise ConfigError(f"{key}: must be at least {minimum}s, got {value!r}")
    return seconds


class _Section:
    """Typed access to one table of the config, naming the key in every error."""

    def __init__(self, where: str, data: Mapping[str, Any], allowed: frozenset[str]) -> None:
        self.where = where
        self.data = data
        for key in data:
            if key not in allowed:
                raise ConfigError(f"{self.key(key)}: unknown key{_did_you_mean(key, allowed)}")

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.data.get(name, default)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{self.key(name)}: expected a non-empty string, got {value!r}")
        return value.strip()

    def whole(self, name: str, default: int, lo: int, hi: int) -> int:
        value = self.data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ConfigError(
                f"{self.key(name)}: expected a whole number from {lo} to {hi}, got {value!r}"
            )
        return value

    def number(self, name: str, default: float, lo: float, hi: float) -> float:
        value = self.data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            raise ConfigError(
                f"{self.key(name)}: expected a number from {lo} to {hi}, got {value!r}"
            )
        return float(value)

    def strings(self, name: str, pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
        """An optional array of strings, each matching ``pattern`` (``what`` describes it)."""
        value = self.data.get(name, [])
        if not isinstance(value, list):
            raise ConfigError(f"{self.key(name)}: expected an array of strings, got {value!r}")
        for item in value:
            if not isinstance(item, str) or not pattern.match(item):
                raise ConfigError(f"{self.key(name)}: expected {what}, got {item!r}")
        return tuple(value)

    def flag(self, name: str, default: bool) -> bool:
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.key(name)}: expected true or false, got {value!r}")
        return value


def _table(raw: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{name}: expected a table ([{name}]), got {type(value).__name__}")
    return value


def _check_url(value: str, key: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{key}: expected an http:// or https:// URL, got {value!r}")
    return value


def _opt_url(value: str | None, key: str) -> str | None:
    return None if value is None else _check_url(value, key)


def _check_iri(value: str, key: str) -> str:
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", value):
        raise ConfigError(
            f'{key}: expected an absolute IRI such as "urn:uuid:...", "tag:example.org,2026:feed"'
            f' or "https://example.org/feed", got {value!r}'
        )
    return value


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path)


def parse_source(
    data: object, where: str, base: Path, *, default_interval: int = DEFAULT_INTERVAL
) -> Source:
    """Validate one ``[[sources]]`` table."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table ([[sources]]), got {type(data).__name__}")
    sec = _Section(where, data, _SOURCE_KEYS)
    name = sec.text("name")
    if name is None:
        raise ConfigError(f"{where}.name: missing (every source needs a unique name)")
    if not _NAME_RE.match(name):
        raise ConfigError(
            f"{where}.name: {name!r} must start with a letter or digit and use only letters, "
            "digits, '.', '_' and '-' (at most 64 characters)"
        )
    path, url = sec.text("path"), sec.text("url")
    if (path is None) == (url is None):
        raise ConfigError(f"{where}: give exactly one of 'path' or 'url' (source {name!r})")
    interval = parse_interval(
        data.get("interval", default_interval),
        sec.key("interval"),
        MIN_INTERVAL if url is not None else MIN_LOCAL_INTERVAL,
    )
    enabled = sec.flag("enabled", True)
    priority = sec.whole("priority", 0, -1000, 1000)
    tags = _tags(data.get("tags", []), sec.key("tags"))
    if url is not None:
        location = _check_url(url, sec.key("url"))
        return Source(name, SourceKind.URL, location, interval, enabled, priority, tags)
    assert path is not None
    resolved = _resolve(base, path).resolve()
    # The kind is fixed by what is on disk now; a path that does not exist yet is taken as a
    # directory (an inbox to be created), and reading it reports the problem per source.
    kind = SourceKind.FILE if resolved.is_file() else SourceKind.DIRECTORY
    return Source(name, kind, str(resolved), interval, enabled, priority, tags)


def _tags(value: object, key: str) -> tuple[str, ...]:
    """``tags``: an array of non-empty strings (OPML categories), kept in order, once each."""
    if not isinstance(value, list):
        raise ConfigError(f'{key}: expected an array of strings such as ["news", "tech"]')
    out: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip() or len(item) > _TAG_MAX:
            raise ConfigError(
                f"{key}: expected non-empty strings of at most {_TAG_MAX} characters, got {item!r}"
            )
        if item.strip() not in out:
            out.append(item.strip())
    return tuple(out)


def parse_config(raw: Mapping[str, Any], base: Path, path: Path | None = None) -> Config:
    """Validate a parsed TOML document. ``base`` is the folder relative paths resolve from."""
    for key in raw:
        if key not in _TOP_KEYS:
            raise ConfigError(f"{key}: unknown section{_did_you_mean(key, _TOP_KEYS)}")

    feed = _Section("feed", _table(raw, "feed"), _SECTIONS["feed"])
    defaults = FeedSettings()
    base_url = feed.text("base_url", defaults.base_url) or defaults.base_url
    _check_url(base_url, "feed.base_url")
    if not base_url.endswith("/"):
        base_url += "/"
    settings = FeedSettings(
        title=feed.text("title", defaults.title) or defaults.title,
        id=_check_iri(feed.text("id", defaults.id) or defaults.id, "feed.id"),
        author=feed.text("author", defaults.author) or defaults.author,
        base_url=base_url,
        subtitle=feed.text("subtitle"),
        max_entries=feed.whole("max_entries", defaults.max_entries, 1, 10_000),
        hub=_opt_url(feed.text("hub"), "feed.hub"),
        archive_page_size=feed.whole("archive_page_size", defaults.archive_page_size, 1, 10_000),
    )

    storage = _Section("storage", _table(raw, "storage"), _SECTIONS["storage"])
    publish = _Section("publish", _table(raw, "publish"), _SECTIONS["publish"])
    server = _Section("server", _table(raw, "server"), _SECTIONS["server"])
    fetch = _Section("fetch", _table(raw, "fetch"), _SECTIONS["fetch"])
    daemon = _Section("daemon", _table(raw, "daemon"), _SECTIONS["daemon"])
    ingest = _Section("ingest", _table(raw, "ingest"), _SECTIONS["ingest"])
    dedup = _Section("dedup", _table(raw, "dedup"), _SECTIONS["dedup"])
    param = "a query parameter name (letters, digits, . _ - [ ]; a trailing * for a prefix)"
    url_rules = DEFAULT_URL_RULES.with_config(
        dedup.strings("tracking_params", _PARAM_RE, param),
        dedup.strings("keep_params", _PARAM_RE, param),
    )

    sources_raw = raw.get("sources", [])
    if not isinstance(sources_raw, list):
        raise ConfigError("sources: expected an array of tables ([[sources]])")
    sources = tuple(parse_source(s, f"sources[{i}]", base) for i, s in enumerate(sources_raw))
    seen: set[str] = set()
    for i, src in enumerate(sources):
        if src.name in seen:
            raise ConfigError(f"sources[{i}].name: duplicate source name {src.name!r}")
        seen.add(src.name)

    return Config(
        path=path,
        feed=settings,
        storage=StorageSettings(_resolve(base, storage.text("path", "db/feedsvc.sqlite3") or "")),
        publish=PublishSettings(_resolve(base, publish.text("dir", "feeds") or "")),
        server=ServerSettings(
            host=server.text("host", "127.0.0.1") or "127.0.0.1",
            port=server.whole("port", 8080, 0, 65535),
            max_age=server.whole("max_age", 300, 0, 86400 * 7),
            workers=server.whole("workers", 0, 0, 64),
        ),
        fetch=FetchSettings(
            timeout=fetch.number("timeout", 30.0, 0.1, 600.0),
            max_bytes=fetch.whole("max_bytes", 20_000_000, 1024, 2_000_000_000),
            user_agent=fetch.text("user_agent"),
            connect_timeout=fetch.number("connect_timeout", 10.0, 0.1, 600.0),
            total_timeout=fetch.number("total_timeout", 120.0, 1.0, 3600.0),
            max_connections=fetch.whole("max_connections", 10, 1, 256),
            max_per_host=fetch.whole("max_per_host", 2, 1, 64),
            max_delay=parse_interval(fetch.data.get("max_delay", "24h"), "fetch.max_delay"),
            refuse_private_addresses=fetch.flag("refuse_private_addresses", False),
        ),
        sources=sources,
        daemon=DaemonSettings(watch=daemon.flag("watch", True)),
        ingest=IngestSettings(parse_workers=ingest.whole("parse_workers", 0, 0, 64)),
        dedup=DedupSettings(url_rules),
    )


def load_config(path: Path) -> Config:
    """Read and validate a config file; every failure is a ConfigError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found (pass -c/--config, or run feedsvc where config.toml is)"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read config: {e}") from e
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from e
    try:
        return parse_config(raw, path.resolve().parent, path)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


ARTICLE_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm"})


def _adhoc_name(config: Config, path: Path) -> str:
    """``cli:`` + the path relative to the config's folder (absolute when outside it), so the
    same file ingested again from any working directory keeps its identity."""
    base = config.path.resolve().parent if config.path else Path.cwd()
    try:
        return f"cli:{path.relative_to(base)}"
    except ValueError:
        return f"cli:{path}"


def adhoc_sources(config: Config, paths: list[Path]) -> list[Source]:
    """Sources for ``feedsvc ingest PATH...``: one per path.

    A path that is already a configured source is that source (so its entries keep their
    identity); a directory is a directory source; a file with an article suffix is a single
    article; any other file is read as a feed document.
    """
    by_location = {s.location: s for s in config.sources if s.kind is not SourceKind.URL}
    out: list[Source] = []
    for p in paths:
        try:
            str(p).encode("utf-8")
        except UnicodeEncodeError:
            shown = os.fsencode(p).decode("utf-8", "backslashreplace")
            raise ConfigError(f"{shown}: the path is not valid UTF-8; rename it") from None
        resolved = p.resolve()
        if str(resolved) in by_location:
            out.append(by_location[str(resolved)])
            continue
        if not resolved.exists():
            raise ConfigError(f"{p}: no such file or directory")
        if resolved.is_dir():
            kind = SourceKind.DIRECTORY
        elif resolved.suffix.lower() in ARTICLE_SUFFIXES:
            kind = SourceKind.ARTICLE
        else:
            kind = SourceKind.FILE
        out.append(
            Source(_adhoc_name(config, resolved), kind, str(resolved), DEFAULT_INTERVAL, True)
        )
    return out
