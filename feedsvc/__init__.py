"""feedsvc: many sources in, one clean, trustworthy Atom feed out."""

from __future__ import annotations

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/feedsvc/feedsvc"
