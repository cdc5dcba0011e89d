"""Sources management: ``feedsvc sources add/remove/enable/disable`` and ``opml import/export``.

Sequencing only: it decides names (:func:`derive_name`), asks :meth:`Pipeline.probe
<feedsvc.pipeline.Pipeline.probe>` to try a source before it is saved, edits the config file
through :mod:`feedsvc.configedit`, reads and writes OPML through :mod:`feedsvc.opml`, and tells
a running daemon to reload (SIGHUP) when the config changed. It prints nothing (the CLI does).
"""

from __future__ import annotations

import os
import re
import signal
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from feedsvc.config import _NAME_RE, Config, parse_interval
from feedsvc.configedit import ConfigEditor
from feedsvc.errors import ConfigError, SourceError
from feedsvc.locks import lock_path_for, running_daemon
from feedsvc.models import FeedInfo, Source, SourceKind
from feedsvc.opml import Subscription
from feedsvc.pipeline import Pipeline, Probe

NAME_MAX = 48  # characters of a derived name (names may be up to 64)
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def slugify(text: str) -> str:
    """Lower-case ASCII letters and digits joined by single hyphens ("Ars Technica — All" →
    "ars-technica-all"); accents are dropped, other scripts vanish (possibly to "")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:NAME_MAX].rstrip("-")


def derive_name(title: str | None, location: str, taken: Iterable[str]) -> str:
    """A source name from a feed's title, else from its URL's host and path (or a file's
    name): slugified, and made unique among ``taken`` with a numeric suffix ("-2", "-3")."""
    base = slugify(title or "")
    if not base:
        if _URL_RE.match(location):
            parts = urlsplit(location)
            host = (parts.hostname or "").removeprefix("www.")
            base = slugify(f"{host} {parts.path}") or "feed"
        else:
            base = slugify(Path(location).stem) or "source"
    used = set(taken)
    name, n = base, 1
    while name in used:
        n += 1
        name = f"{base[: NAME_MAX - len(str(n)) - 1]}-{n}"
    return name


def same_url(a: str, b: str) -> bool:
    """Whether two feed URLs are the same subscription: scheme and host compared without
    case, a trailing slash of the path ignored."""

    def key(url: str) -> tuple[str, str, str, str]:
        p = urlsplit(url.strip())
        return (p.scheme.lower(), (p.netloc or "").lower(), p.path.rstrip("/") or "/", p.query)

    return key(a) == key(b)


def _configured_as(config: Config, kind: str, location: str) -> str | None:
    for src in config.sources:
        if kind == "url" and src.kind is SourceKind.URL and same_url(src.location, location):
            return src.name
        if kind == "path" and src.kind is not SourceKind.URL and src.location == location:
            return src.name
    return None


def _config_relative(config: Config, path: Path) -> str:
    """How a path is written into the config: relative to its folder when inside it."""
    base = config.path.resolve().parent if config.path else Path.cwd()
    try:
        return path.relative_to(base).as_posix() or "."
    except ValueError:
        return str(path)


# --- telling the daemon ----------------------------------------------------------------------


def reload_daemon(config: Config) -> int | None:
    """Send SIGHUP to the daemon running on ``config``'s database, if one is; its pid, else
    None. A pid that is gone or not ours to signal counts as no daemon."""
    pid = running_daemon(lock_path_for(config.storage.path))
    if pid is None or pid == os.getpid():
        return None
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError:
        return None
    return pid


# --- sources add -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Added:
    """A source saved by :func:`add_source`."""

    name: str
    kind: SourceKind
    location: str  # as written into the config
    probe: Probe | None  # None with check=False
    config: Config


def add_source(
    config: Config,
    pipe: Pipeline,
    target: str,
    *,
    name: str | None = None,
    interval: str | None = None,
    tags: Sequence[str] = (),
    check: bool = True,
) -> Added:
    """Add ``target`` (a feed URL, a web page that links to its feed, a feed file or a folder
    of article files) to the config file.

    Unless ``check`` is false it is read or fetched and parsed first, and a source that fails
    is not added (:class:`SourceError`). A page found to link a feed is saved as that feed's
    URL. Without ``name``, one is derived from the feed's title. Raises :class:`ConfigError`
    when the target is already configured or the name is taken or invalid.
    """
    if config.path is None:
        raise ConfigError("sources add: no config file to edit")
    if interval is not None:
        parse_interval(interval, "--interval", 1)
    if _URL_RE.match(target):
        if urlsplit(target).scheme.lower() not in ("http", "https"):
            raise ConfigError(f"{target}: only http:// and https:// URLs can be sources")
        source = Source("new", SourceKind.URL, target)
        key = "url"
    else:
        path = Path(target).expanduser().resolve()
        if not path.exists():
            raise ConfigError(f"{target}: no such file or directory")
        kind = SourceKind.DIRECTORY if path.is_dir() else SourceKind.FILE
        source = Source("new", kind, str(path))
        key = "path"
    existing = _configured_as(config, key, source.location)
    if existing:
        raise ConfigError(f"{target}: already configured as source {existing!r}")
    probe: Probe | None = None
    location = source.location
    if check:
        probe = pipe.probe(source)
        if probe.error is not None:
            raise SourceError(f"{probe.error}; not added (--no-check adds it without trying)")
        location = probe.location
        if probe.discovered_from:
            existing = _configured_as(config, key, location)
            if existing:
                raise ConfigError(
                    f"{target}: links to {location}, already configured as source {existing!r}"
                )
    taken = [s.name for s in config.sources]
    if name is None:
        name = derive_name(probe.title if probe else None, location, taken)
    elif not _NAME_RE.match(name):
        raise ConfigError(
            f"--name: {name!r} must start with a letter or digit and use only letters, "
            "digits, '.', '_' and '-' (at most 64 characters)"
        )
    elif name in taken:
        raise ConfigError(f"--name: a source named {name!r} already exists")
    written = location if key == "url" else _config_relative(config, Path(location))
    fields: dict[str, object] = {"name": name, key: written}
    if interval is not None:
        fields["interval"] = interval
    if tags:
        fields["tags"] = list(dict.fromkeys(tags))
    comment = _one_line(probe.title) if probe and probe.title else None
    comment = comment if comment != name else None
    editor = ConfigEditor(config.path)
    editor.add_source(fields, comment=comment)
    new = editor.save()
    saved = new.source(name)
    return Added(name, saved.kind, written, probe, new)


# --- remove, enable, disable -----------------------------------------------------------------


def remove_source(config: Config, name: str) -> Config:
    """Remove source ``name`` from the config file (its stored entries stay)."""
    assert config.path is not None
    config.source(name)  # a clear error with a did-you-mean
    editor = ConfigEditor(config.path)
    editor.remove_source(name)
    return editor.save()


def set_enabled(config: Config, name: str, enabled: bool) -> tuple[Config, bool]:
    """Enable or disable source ``name`` in the config file; also whether it changed."""
    assert config.path is not None
    config.source(name)
    editor = ConfigEditor(config.path)
    changed = editor.set_enabled(name, enabled)
    return editor.save(), changed


# --- OPML ------------------------------------------------------------------------------------


@dataclass
class Imported:
    """What :func:`import_opml` did (or would do, with ``dry_run``)."""

    added: list[tuple[str, Subscription]] = field(default_factory=list)  # (name, subscription)
    skipped: list[tuple[Subscription, str]] = field(default_factory=list)  # (sub, why)
    config: Config | None = None


def import_opml(
    config: Config,
    subscriptions: Sequence[Subscription],
    *,
    interval: str | None = None,
    dry_run: bool = False,
) -> Imported:
    """Add every subscription that is not configured yet, in one edit of the config file.

    Skipped (with the reason): URLs already configured or seen earlier in the list, and URLs
    that are not http(s). Names come from the outline's title (else the URL), made unique;
    tags from its folders and categories. Nothing is fetched: the next ingest (or
    ``feedsvc doctor``) tries them.
    """
    assert config.path is not None
    if interval is not None:
        parse_interval(interval, "--interval")
    out = Imported()
    taken = [s.name for s in config.sources]
    seen: list[str] = []
    editor = ConfigEditor(config.path)
    for sub in subscriptions:
        scheme = urlsplit(sub.url).scheme.lower()
        existing = _configured_as(config, "url", sub.url)
        if scheme not in ("http", "https"):
            out.skipped.append((sub, "not an http(s) URL"))
        elif existing:
            out.skipped.append((sub, f"already configured as {existing!r}"))
        elif any(same_url(sub.url, u) for u in seen):
            out.skipped.append((sub, "listed twice in the file"))
        else:
            name = derive_name(sub.title, sub.url, taken)
            taken.append(name)
            seen.append(sub.url)
            fields: dict[str, object] = {"name": name, "url": sub.url}
            if interval is not None:
                fields["interval"] = interval
            if sub.tags:
                fields["tags"] = list(sub.tags)
            comment = sub.title if sub.title and sub.title != name else None
            editor.add_source(fields, comment=comment)
            out.added.append((name, sub))
    out.config = editor.validate() if dry_run else editor.save()
    return out


def subscriptions(config: Config, infos: Mapping[str, FeedInfo]) -> list[Subscription]:
    """The URL sources of ``config`` as subscriptions, in config order, titled and linked from
    the feed metadata stored for them (``infos``; the source name when nothing is stored)."""
    out = []
    for s in config.sources:
        if s.kind is SourceKind.URL:
            info = infos.get(s.name)
            title = (info.title if info else None) or s.name
            out.append(Subscription(s.location, title, info.link if info else None, s.tags))
    return out


def _one_line(text: str | None) -> str | None:
    return " ".join((text or "").split()) or None
