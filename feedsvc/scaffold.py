"""``feedsvc init [DIR]``: a working, commented ``config.toml`` and its folders.

Writes ``config.toml`` from the bundled template (``feedsvc/samples/init-config.toml``, which
documents every key as the repository's ``config.toml`` does; a test keeps the two in step)
with a fresh ``urn:uuid:`` feed id, and creates ``articles/`` (the inbox source), ``feeds/``
and ``db/``. It never overwrites an existing config file and does not ingest anything.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from feedsvc.config import DEFAULT_CONFIG_NAME, load_config
from feedsvc.configedit import atomic_write_text
from feedsvc.errors import ConfigError

FOLDERS = ("articles", "feeds", "db")


def template() -> str:
    """The bundled config template, placeholders included."""
    return resources.files("feedsvc").joinpath("samples/init-config.toml").read_text("utf-8")


def render(title: str, author: str, feed_id: str) -> str:
    """The template with its placeholders filled (as TOML basic strings)."""
    text = template()
    for key, value in (("title", title), ("author", author), ("feed_id", feed_id)):
        text = text.replace(f'"{{{key}}}"', json.dumps(value, ensure_ascii=False))
    return text


@dataclass(frozen=True)
class Scaffold:
    """What :func:`init` made: the config file and the folders it created (not those that
    were already there)."""

    config: Path
    created: tuple[Path, ...]


def init(directory: Path, title: str | None = None) -> Scaffold:
    """Scaffold ``directory`` (created if missing). Raises :class:`ConfigError` when it
    already holds a ``config.toml``, or cannot be written."""
    config = directory / DEFAULT_CONFIG_NAME
    if config.exists():
        raise ConfigError(f"{config}: already exists; not overwritten")
    created: list[Path] = []
    try:
        for folder in (directory, *(directory / f for f in FOLDERS)):
            if not folder.is_dir():
                folder.mkdir(parents=True)
                created.append(folder)
    except OSError as e:
        raise ConfigError(f"{directory}: cannot create folders: {e.strerror or e}") from e
    name = title or directory.resolve().name or "feedsvc"
    atomic_write_text(config, render(name, name, f"urn:uuid:{uuid.uuid4()}"))
    load_config(config)  # the template must load; a broken one is a bug, caught here
    return Scaffold(config, tuple(created))
