"""``python -m feedsvc``."""

from __future__ import annotations

from feedsvc.cli import main

if __name__ == "__main__":
    main()
