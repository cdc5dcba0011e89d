"""Content safety: hostile HTML, titles and URLs fed through real sources (RSS, Atom and JSON
Feed files, .html and .md articles), then every published file checked: Atom, RSS, JSON
Feed, archives, per-source feeds and index.html. Plus feedparser's own sanitizer corpus."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pytest
from feedcheck import html_problems, output_problems
from xss_corpus import HTML_VECTORS, TITLE_VECTORS, URL_VECTORS

from feedsvc.sanitize import clean_html, safe_url

from helpers import run, write_config

ACTIVE = re.compile(rb"(javascript|vbscript|livescript)\s*:", re.I)


def marker(source: str, n: int) -> str:
    """Distinct words per entry, so that no two hostile entries deduplicate into one."""
    return " ".join(f"{source}{n}w{i}" for i in range(12))


def test_the_corpus_is_big_enough() -> None:
    assert len(HTML_VECTORS) >= 40
    assert len(set(HTML_VECTORS)) == len(HTML_VECTORS)


# --- the sanitizer on its own ----------------------------------------------------------------


@pytest.mark.parametrize("vector", HTML_VECTORS)
@pytest.mark.parametrize("base", [None, "https://ok.example/dir/"])
def test_clean_html_neutralizes_every_vector(vector: str, base: str | None) -> None:
    cleaned = clean_html(vector, base_url=base)
    assert html_problems(cleaned) == []
    assert not ACTIVE.search(cleaned.encode())


@pytest.mark.parametrize(
    "base", ["javascript:alert(1)//", "file:///etc/", "ftp://files.example/", "data:text/html,"]
)
def test_relative_urls_never_resolve_to_a_scheme_we_do_not_publish(base: str) -> None:
    # A feed's xml:base is as hostile as its content; nh3 checks schemes only before the
    # relative URL is resolved, so the resolved URL is checked again.
    cleaned = clean_html('<a href="x">x</a><img src="i.png">', base_url=base)
    assert cleaned == '<a rel="noopener noreferrer">x</a><img>'


@pytest.mark.parametrize("url", URL_VECTORS)
def test_safe_url_refuses_script_urls(url: str) -> None:
    assert safe_url(url) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (" https://ok.example/a?b=c ", "https://ok.example/a?b=c"),
        ("HTTP://OK.example/", "HTTP://OK.example/"),
        ("/relative/path", None),
        ("//ok.example/protocol-relative", None),
        ("http:no-host", None),
        ("mailto:a@example.org", None),
        ("http://[::1", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_url(url: str | None, expected: str | None) -> None:
    assert safe_url(url) == expected


def test_safe_url_schemes_can_be_widened() -> None:
    assert safe_url("mailto:a@example.org", frozenset({"mailto"})) == "mailto:a@example.org"


# --- end to end ------------------------------------------------------------------------------


def hostile_rss() -> bytes:
    items = []
    for i, vector in enumerate(HTML_VECTORS):
        html = f"<p>{marker('rss', i)}</p>{vector}"
        items.append(
            f"<item><title>RSS vector {i}</title><guid>urn:xss:rss:{i}</guid>"
            f"<link>https://ok.example/rss/{i}</link>"
            f"<description>{escape(html)}</description>"
            f"<author>{escape(TITLE_VECTORS[i % len(TITLE_VECTORS)])}</author></item>"
        )
    for j, title in enumerate(TITLE_VECTORS):
        items.append(
            f"<item><title>{escape(title)}</title><guid>urn:xss:rss-title:{j}</guid>"
            f"<description>{escape(marker('rsstitle', j))}</description>"
            f"<category>{escape(title)}</category></item>"
        )
    for k, url in enumerate(URL_VECTORS):
        items.append(
            f"<item><title>RSS url {k}</title><link>{escape(url)}</link>"
            f"<guid isPermaLink='false'>{escape(url)}</guid>"
            f"<enclosure url={quoteattr(url)} length='1' type='audio/mpeg'/>"
            f"<description>{escape(marker('rssurl', k))}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(TITLE_VECTORS[0])}</title><link>https://ok.example/</link>"
        "<description>hostile</description>" + "".join(items) + "</channel></rss>"
    ).encode()


def hostile_atom() -> bytes:
    entries = []
    for i, vector in enumerate(HTML_VECTORS):
        html = f"<p>{marker('atom', i)}</p>{vector}"
        entries.append(
            f"<entry><id>urn:xss:atom:{i}</id><title>Atom vector {i}</title>"
            "<updated>2024-01-01T00:00:00Z</updated>"
            f"<content type='html'>{escape(html)}</content>"
            f"<summary type='html'>{escape(vector)}</summary></entry>"
        )
    for j, title in enumerate(TITLE_VECTORS):
        entries.append(
            f"<entry><id>urn:xss:atom-title:{j}</id><title type='html'>{escape(title)}</title>"
            "<updated>2024-01-02T00:00:00Z</updated>"
            f"<content type='text'>{escape(marker('atomtitle', j))}</content></entry>"
        )
    for k, url in enumerate(URL_VECTORS):
        entries.append(
            f"<entry><id>{escape(url) if k == 0 else f'urn:xss:atom-url:{k}'}</id>"
            f"<title>Atom url {k}</title><updated>2024-01-03T00:00:00Z</updated>"
            f"<link rel='alternate' href={quoteattr(url)}/>"
            f"<link rel='enclosure' href={quoteattr(url)} type='audio/mpeg' length='5'/>"
            f"<author><name>Eve</name><uri>{escape(url)}</uri></author>"
            f"<content type='text'>{escape(marker('atomurl', k))}</content></entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        "<id>urn:xss:atom</id><title>Hostile Atom</title><updated>2024-01-03T00:00:00Z</updated>"
        "<link rel='alternate' href='javascript:alert(1)'/>" + "".join(entries) + "</feed>"
    ).encode()


def hostile_json() -> bytes:
    items: list[dict[str, Any]] = []
    for i, vector in enumerate(HTML_VECTORS):
        items.append(
            {
                "id": f"urn:xss:json:{i}",
                "title": f"JSON vector {i}",
                "content_html": f"<p>{marker('json', i)}</p>{vector}",
                "summary": vector,
            }
        )
    for j, title in enumerate(TITLE_VECTORS):
        items.append(
            {"id": f"urn:xss:json-title:{j}", "title": title, "content_text": marker("jt", j)}
        )
    for k, url in enumerate(URL_VECTORS):
        items.append(
            {
                "id": url if k == 0 else f"urn:xss:json-url:{k}",
                "url": url,
                "title": f"JSON url {k}",
                "content_text": marker("jsonurl", k),
                "authors": [{"name": "Eve", "url": url}],
                "attachments": [{"url": url, "mime_type": "audio/mpeg"}],
                "tags": [TITLE_VECTORS[k % len(TITLE_VECTORS)]],
            }
        )
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": TITLE_VECTORS[1],
        "home_page_url": "javascript:alert(1)",
        "items": items,
    }
    return json.dumps(doc).encode()


def hostile_articles(folder: Path) -> None:
    folder.mkdir()
    for i, vector in enumerate(HTML_VECTORS[:10]):
        (folder / f"h{i}.html").write_text(
            f"<html><head><title>{escape(TITLE_VECTORS[i % 5])}</title></head>"
            f"<body><p>{marker('html', i)}</p>{vector}</body></html>",
            encoding="utf-8",
        )
    for i, vector in enumerate(HTML_VECTORS[10:20]):
        (folder / f"m{i}.md").write_text(
            f"---\ntitle: Markdown {i}\nlink: {URL_VECTORS[i % len(URL_VECTORS)]!r}\n---\n"
            f"{marker('md', i)}\n\n{vector}\n\n[click](javascript:alert(1))\n",
            encoding="utf-8",
        )
    (folder / "plain.txt").write_text(
        "<script>alert(1)</script> plain title\n" + "\n".join(HTML_VECTORS[:5]) + "\n",
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("xss")
    (root / "hostile.rss").write_bytes(hostile_rss())
    (root / "hostile.atom").write_bytes(hostile_atom())
    (root / "hostile.json").write_bytes(hostile_json())
    hostile_articles(root / "articles")
    config = write_config(
        root,
        """
        [[sources]]
        name = "rss"
        path = "hostile.rss"
        [[sources]]
        name = "atom"
        path = "hostile.atom"
        [[sources]]
        name = "json"
        path = "hostile.json"
        [[sources]]
        name = "articles"
        path = "articles"
        """,
    )
    text = config.read_text(encoding="utf-8").replace(
        "[feed]\n", "[feed]\nmax_entries = 1000\narchive_page_size = 40\n", 1
    )
    config.write_text(text, encoding="utf-8")
    result = run(config, "ingest")
    assert result.exit_code == 0, result.output
    return root / "feeds"


def test_no_hostile_content_in_any_published_file(hostile_site: Path) -> None:
    assert output_problems(hostile_site) == {}
    names = {str(p.relative_to(hostile_site)) for p in hostile_site.rglob("*") if p.is_file()}
    # every kind of output was checked
    assert {"atom.xml", "rss.xml", "feed.json", "index.html", "archive/1.xml"} <= names
    assert {"sources/rss.xml", "sources/atom.xml", "sources/json.xml"} <= names


FORBIDDEN_RAW = ("script", "style", "iframe", "object", "embed", "form")


def test_no_active_tag_in_the_raw_bytes_of_any_file(hostile_site: Path) -> None:
    # The literal check, format by format: in XML, HTML travels escaped, so a real tag in it
    # would appear as "&lt;script"; in JSON and in the page it would appear as "<script".
    # (Hostile text shown *as text* is escaped once more, "&amp;lt;script", and is fine.)
    for path in hostile_site.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes().lower()
        opener = b"&lt;" if path.suffix == ".xml" else b"<"
        for tag in FORBIDDEN_RAW:
            assert opener + tag.encode() not in data, (path, tag)
        assert not re.search(rb"<[a-z][^>]*\son[a-z]+\s*=", data), path


def test_every_hostile_entry_is_still_published(hostile_site: Path) -> None:
    # Safety must not come from dropping entries: each vector's entry is there, its marker
    # text intact, in the JSON Feed and in the Atom feed.
    doc = json.loads((hostile_site / "feed.json").read_bytes())
    contents = "\n".join(item["content_html"] for item in doc["items"])
    atom = (hostile_site / "atom.xml").read_text(encoding="utf-8")
    for source in ("rss", "atom", "json"):
        for i in range(len(HTML_VECTORS)):
            assert marker(source, i) in contents, (source, i, HTML_VECTORS[i])
            assert marker(source, i) in atom
    for i in range(10):
        assert marker("html", i) in contents and marker("md", i) in contents
    titles = [item["title"] for item in doc["items"]]
    assert "Bold title" in titles and "Scripted title" in titles


def test_links_images_and_text_survive_sanitizing(hostile_site: Path) -> None:
    doc = json.loads((hostile_site / "feed.json").read_bytes())
    by_id = {item["id"]: item for item in doc["items"]}

    def published(vector_start: str) -> str:
        n = next(i for i, v in enumerate(HTML_VECTORS) if v.startswith(vector_start))
        html: str = by_id[f"urn:xss:json:{n}"]["content_html"]
        return html

    assert '<a href="https://ok.example/" rel="noopener noreferrer">click</a>' in published(
        '<a href="https://ok.example/" onclick'
    )
    assert '<img src="https://ok.example/i.png">' in published('<img src="https://ok.example')
    assert "<blockquote>quoted</blockquote>" in published("<blockquote cite=")
    assert "<td>cell</td>" in published("<table background=")


def test_the_feedparser_sanitize_corpus(tmp_path: Path, shared_dir: Path) -> None:
    """Every case of feedparser's own sanitizer suite, ingested as a feed source: whatever
    feedparser's sanitizer removes must not come back through feedsvc."""
    corpus = shared_dir / "corpus" / "feedparser" / "wellformed" / "sanitize"
    if not corpus.is_dir():
        pytest.skip(f"{corpus} is missing")
    files = sorted(corpus.glob("*.xml"))
    assert len(files) > 700
    sources = "".join(
        f'[[sources]]\nname = "san{n:04d}"\npath = "{path.as_posix()}"\n'
        for n, path in enumerate(files)
    )
    config = write_config(tmp_path, sources)
    result = run(config, "ingest", "--quiet")
    assert result.exit_code == 0, result.output[-2000:]
    feeds = tmp_path / "feeds"
    # a case with entries gets a feed of its own (the feed-level cases have none)
    assert len(list((feeds / "sources").glob("*.xml"))) > 500
    assert output_problems(feeds) == {}
