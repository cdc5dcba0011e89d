"""Publishing: stored stories in, the files of ``feeds/`` out.

One module per job:

- :mod:`.archives` (pure): which stories go into ``atom.xml`` and into which RFC 5005
  archive page;
- :mod:`.atom` (the only feedgen user), :mod:`.rss`, :mod:`.jsonfeed`, :mod:`.page`:
  render one format each, bytes out, deterministic (no clock);
- :mod:`.common`: what the formats share (URLs, heads, value clean-up);
- :mod:`.files`: atomic writes that leave unchanged files alone;
- :mod:`.site`: sequences the above for a whole publish.

Nothing here reads the database or sanitizes HTML: callers pass
:class:`~feedsvc.models.PublishedEntry` values whose HTML is already safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from feedsvc.models import FeedSettings, PublishedEntry
from feedsvc.publish.atom import render_atom
from feedsvc.publish.common import ATOM_FILE, is_valid_iri
from feedsvc.publish.files import write_atomic
from feedsvc.publish.site import PublishResult, SourceStories, publish_site

__all__ = [
    "FEED_FILENAME",
    "PublishResult",
    "SourceStories",
    "is_valid_iri",
    "publish_feed",
    "publish_site",
    "render_atom",
    "write_atomic",
]

FEED_FILENAME = ATOM_FILE


def publish_feed(
    entries: Sequence[PublishedEntry],
    settings: FeedSettings,
    out_dir: Path,
    *,
    self_url: str | None = None,
) -> bool:
    """Render ``entries`` as one plain Atom document and write ``out_dir/atom.xml``; return
    whether the file changed. No archive, alternates or page: see :func:`publish_site`.

    Raises :class:`~feedsvc.errors.PublishError` when the feed cannot be rendered or written.
    """
    data = render_atom(entries, settings, self_url=self_url)
    return write_atomic(out_dir / FEED_FILENAME, data)
