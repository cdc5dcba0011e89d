"""feedsvc.articles: parsing article files and scanning directories of them."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedsvc.articles import (
    SUFFIXES,
    DirectoryScan,
    parse_article,
    read_article_file,
    scan_directory,
)
from feedsvc.errors import SourceError
from feedsvc.models import Person

DATA = Path(__file__).resolve().parent / "data" / "articles"
REPO = Path(__file__).resolve().parents[1]

ECUADOR_TITLE = "US and Ecuador Launch Joint Operations Against “Narco-Terrorist” Groups"


def parse(text: str | bytes, relpath: str = "a.txt") -> object:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return parse_article(data, relpath, origin=f"/inbox/{relpath}")


# -- .txt -------------------------------------------------------------------------------------


def test_shared_example_txt(shared_dir: Path) -> None:
    folder = shared_dir / "examples" / "articles"
    path = folder / "us-ecuador-joint-operations.txt"
    raw = path.read_bytes()
    article = read_article_file(path, folder)

    assert article.title == ECUADOR_TITLE
    assert article.key == "us-ecuador-joint-operations.txt"
    assert article.origin == str(path)
    paragraphs = article.content_html.split("\n")
    assert len(paragraphs) == 9
    assert all(p.startswith("<p>") and p.endswith("</p>") for p in paragraphs)
    assert paragraphs[0].startswith("<p>Kathmandu — The United States")
    assert paragraphs[-1].endswith("did not immediately comment on the military activity.</p>")
    # curly quotes, apostrophes and dashes survive byte for byte
    for phrase in ("“terrorist organizations”", "Washington’s", "— largely involving"):
        assert phrase.encode() in raw
        assert phrase.encode() in article.content_html.encode()
    assert "&#" not in article.content_html
    assert article.published is None


def test_txt_title_and_paragraphs() -> None:
    article = parse("\n\n  Title  here \nFirst para.\n\n   \nSecond < para & more.\n\n\n\n")
    assert article.title == "Title here"
    assert article.content_html == "<p>First para.</p>\n<p>Second &lt; para &amp; more.</p>"


def test_txt_title_is_plain_text_not_markup() -> None:
    assert parse("AT&amp;T <b>buys</b>\nbody").title == "AT&amp;T <b>buys</b>"


def test_txt_title_only_is_allowed() -> None:
    article = parse("Just a title\n\n")
    assert article.title == "Just a title"
    assert article.content_html == ""


@pytest.mark.parametrize("text", ["", "\n\n", "  \r\n\t\n"])
def test_txt_empty_is_an_error(text: str) -> None:
    with pytest.raises(SourceError, match=r"/inbox/a\.txt: empty article"):
        parse(text)


@pytest.mark.parametrize("newline", ["\r\n", "\r", "\n"])
def test_txt_line_endings(newline: str) -> None:
    article = parse(newline.join(["Title", "One", "", "Two", "", ""]))
    assert article.title == "Title"
    assert article.content_html == "<p>One</p>\n<p>Two</p>"


def test_bom_is_stripped() -> None:
    article = parse(b"\xef\xbb\xbfTitle \xe2\x80\x9cq\xe2\x80\x9d\r\nBody\r\n")
    assert article.title == "Title “q”"
    assert article.content_html == "<p>Body</p>"


def test_invalid_utf8_names_file_and_offset() -> None:
    with pytest.raises(SourceError, match=r"/inbox/bad\.txt: not valid UTF-8 at byte 7"):
        parse(b"Title\nA\xff\xfe", "bad.txt")
    with pytest.raises(SourceError, match=r"at byte 10 "):  # offset counts the BOM
        parse(b"\xef\xbb\xbfTitle\nA\xff", "bad.txt")


def test_control_characters_are_removed() -> None:
    article = parse("Ti\x0ctle\nBo\x01dy")
    assert article.title == "Title"
    assert article.content_html == "<p>Body</p>"


def test_unknown_suffix_is_an_error() -> None:
    with pytest.raises(SourceError, match=r"/inbox/a\.pdf: not an article file"):
        parse("x", "a.pdf")


def test_suffix_is_case_insensitive() -> None:
    assert parse("T\nB", "NOTES.TXT").title == "T"


# -- .md --------------------------------------------------------------------------------------


def test_markdown_front_matter() -> None:
    path = DATA / "front-matter.md"
    article = read_article_file(path, DATA)
    assert article.key == "urn:feedsvc:test:bike-lanes-2"
    assert article.title == "Council Approves Bike Lanes: Phase Two"
    assert article.published == datetime(2024, 3, 5, 7, 30, tzinfo=UTC)
    assert article.updated == datetime(2024, 3, 6, tzinfo=UTC)
    assert article.authors == (Person(name="Jane Doe", email="jane@example.org"),)
    assert article.categories == ("transport", "city council", "bikes")
    assert article.link == "https://news.example.org/2024/bike-lanes/"
    assert article.summary_html == "The second phase adds 4 km of protected lanes."
    assert article.lang == "en-GB"
    html = article.content_html
    # the heading stays in the body: the title came from front matter
    assert "<h1>A heading that is not the title</h1>" in html
    assert "7–2" in html
    assert "<script" not in html
    assert "&lt;script&gt;" in html  # raw HTML in Markdown is shown, not run
    assert "javascript:" not in html.replace("[minutes](javascript:", "")  # shown as text
    assert "minutes</a>" not in html
    assert 'href="https://news.example.org/2024/bike-lanes/map.html"' in html
    assert 'src="https://news.example.org/2024/bike-lanes/img/route.png"' in html


def test_markdown_without_front_matter() -> None:
    article = read_article_file(DATA / "no-front-matter.md", DATA)
    assert article.key == "no-front-matter.md"
    assert article.title == "Spring Fair Returns to the Green"
    assert "<h1>" not in article.content_html
    assert "<em>Friday</em>" in article.content_html
    assert "40 stalls — and a “pie contest”" in article.content_html
    assert "# not a heading" in article.content_html  # fenced code is not a title
    assert article.published is None
    assert article.authors == ()
    assert article.categories == ()


def test_markdown_title_falls_back_to_stem() -> None:
    article = parse("Just *text*, no heading.\n", "notes/2024-05-01-market.markdown")
    assert article.title == "2024-05-01-market"
    assert article.key == "notes/2024-05-01-market.markdown"
    assert article.content_html == "<p>Just <em>text</em>, no heading.</p>"


def test_markdown_heading_title_is_plain_text() -> None:
    article = parse("# The *big* day &amp; night\n\nBody\n", "x.md")
    assert article.title == "The big day & night"
    assert article.content_html == "<p>Body</p>"


def test_markdown_raw_html_is_escaped_and_cleaned() -> None:
    article = parse(
        '# T\n\n<img src=x onerror="alert(1)">\n\n[x](javascript:alert(1))\n'
        "[y](JAVASCRIPT:alert(1))\n",
        "x.md",
    )
    assert "<img" not in article.content_html
    assert "href" not in article.content_html


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01t10:00:00z", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01 10:00:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ('"2024-05-01T12:00:00+02:00"', datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("Wed, 01 May 2024 12:00:00 +0200", datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ],
)
def test_markdown_dates_are_aware_utc(value: str, expected: datetime) -> None:
    article = parse(f"---\ndate: {value}\n---\nBody\n", "d.md")
    assert article.published == expected
    assert article.published is not None and article.published.tzinfo is UTC


@pytest.mark.parametrize("key", ["date", "updated"])
def test_markdown_bad_date_names_file_and_key(key: str) -> None:
    with pytest.raises(SourceError, match=rf"/inbox/d\.md: front matter '{key}': 'soon'"):
        parse(f"---\n{key}: soon\n---\nBody\n", "d.md")


def test_markdown_list_forms() -> None:
    article = parse(
        "---\ntags:\n  - one\n  - 'two'\nauthor: [Ann, Bo <bo@example.org>]\n---\nB\n", "l.md"
    )
    assert article.categories == ("one", "two")
    assert article.authors == (Person("Ann"), Person("Bo", email="bo@example.org"))
    article = parse("---\ntags: [a, 'b', a]\nauthor: Doe, Jane\n---\nB\n", "l.md")
    assert article.categories == ("a", "b")
    assert article.authors == (Person("Doe, Jane"),)


def test_markdown_unclosed_front_matter_is_an_error() -> None:
    with pytest.raises(SourceError, match=r"/inbox/u\.md: front matter .* never closed"):
        parse("---\ntitle: x\n\nBody\n", "u.md")


def test_markdown_malformed_front_matter_line_is_an_error() -> None:
    with pytest.raises(SourceError, match=r"/inbox/m\.md: front matter line 3"):
        parse("---\ntitle: x\nthis is not yaml\n---\nBody\n", "m.md")


def test_markdown_front_matter_only() -> None:
    article = parse("---\ntitle: Only metadata\n---\n", "f.md")
    assert article.title == "Only metadata"
    assert article.content_html == ""


# -- .html ------------------------------------------------------------------------------------


def test_html_title_from_title_element() -> None:
    article = read_article_file(DATA / "page.html", DATA)
    assert article.title == "Bridge Repairs Finish Early"
    assert article.key == "page.html"
    assert article.lang == "en"
    html = article.content_html
    assert "<h1>Bridge Repairs Finish Early</h1>" in html  # kept: the title came from <title>
    assert "Crews finished <b>two weeks</b> early — on “Tuesday”." in html
    assert 'src="https://example.org/news/photos/bridge.jpg"' in html  # <base href>
    for bad in ("steal", "onerror", "onclick", "iframe", "javascript", "<form", "<input"):
        assert bad not in html
    assert "Search" in html


def test_html_title_from_first_h1() -> None:
    article = read_article_file(DATA / "h1-only.htm", DATA)
    assert article.title == "Night Market Opens"
    assert article.content_html == "<p>Food stalls line Harbour Road.</p>"


def test_html_without_title_uses_stem_and_keeps_fragment() -> None:
    article = parse("<p>Hello <i>there</i></p>tail", "frag.html")
    assert article.title == "frag"
    assert article.content_html == "<p>Hello <i>there</i></p>tail"


def test_html_with_xml_declaration() -> None:
    source = '<?xml version="1.0" encoding="utf-8"?><html><title>X</title><p>“y”</p></html>'
    article = parse(source, "x.html")
    assert article.title == "X"
    assert "“y”" in article.content_html


# -- files and directories --------------------------------------------------------------------


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def test_scan_directory(tmp_path: Path) -> None:
    root = tmp_path / "inbox"
    outside = write(tmp_path / "secret.txt", "Secret\nDo not read")
    write(root / "b.txt", "B title\nBody")
    write(root / "a.md", "# A title\n\nBody")
    write(root / "sub" / "c.html", "<title>C title</title><p>Body</p>")
    write(root / "sub" / "deeper" / "d.TXT", "D title\nBody")
    write(root / ".hidden.txt", "Hidden\nBody")
    write(root / ".git" / "x.txt", "In git\nBody")
    write(root / "b.txt~", "Backup\nBody")
    write(root / "#b.txt#", "Autosave\nBody")
    write(root / "b.txt.swp", "swap")
    write(root / "b.bak", "bak")
    write(root / "notes.pdf", "%PDF")
    write(root / "image.txt", b"GIF89a\x00\x01")
    write(root / "big.txt", "Big\n" + "x" * 200)
    write(root / "bad.txt", b"Bad\n\xff")
    write(root / "empty.md", "")
    (root / "escape.txt").symlink_to(outside)
    (root / "inside.txt").symlink_to(root / "b.txt")
    (root / "dangling.txt").symlink_to(root / "nowhere.txt")
    (root / "loop").symlink_to(root)

    scan = scan_directory(root, max_bytes=100)

    assert isinstance(scan, DirectoryScan)
    assert [a.key for a in scan.articles] == [
        "a.md",
        "b.txt",
        "inside.txt",
        "sub/c.html",
        "sub/deeper/d.TXT",
    ]
    assert [a.title for a in scan.articles] == [
        "A title",
        "B title",
        "B title",
        "C title",
        "D title",
    ]
    assert all(a.origin and a.origin.startswith(str(root)) for a in scan.articles)
    assert "Secret" not in repr(scan.articles)

    def named(messages: tuple[str, ...], name: str) -> str:
        found = [m for m in messages if m.startswith(f"{root / name}:")]
        assert len(found) == 1, (name, messages)
        return found[0]

    assert "larger than the limit of 100 bytes" in named(scan.errors, "big.txt")
    assert "not valid UTF-8 at byte 4" in named(scan.errors, "bad.txt")
    assert "empty article" in named(scan.errors, "empty.md")
    assert len(scan.errors) == 3

    assert "hidden file" in named(scan.skipped, ".hidden.txt")
    assert "hidden folder" in named(scan.skipped, ".git")
    assert "backup" in named(scan.skipped, "b.txt~")
    assert "backup" in named(scan.skipped, "#b.txt#")
    assert "backup" in named(scan.skipped, "b.txt.swp")
    assert "backup" in named(scan.skipped, "b.bak")
    assert "not an article file" in named(scan.skipped, "notes.pdf")
    assert "binary" in named(scan.skipped, "image.txt")
    assert "outside" in named(scan.skipped, "escape.txt")
    assert "broken symlink" in named(scan.skipped, "dangling.txt")
    assert "already scanned" in named(scan.skipped, "loop")
    assert len(scan.skipped) == 11


def test_scan_directory_is_deterministic(tmp_path: Path) -> None:
    for name in ["z.txt", "m.txt", "a.txt", "k/b.txt"]:
        write(tmp_path / name, f"{name}\nbody")
    first, second = scan_directory(tmp_path), scan_directory(tmp_path)
    assert first == second
    assert [a.key for a in first.articles] == ["a.txt", "k/b.txt", "m.txt", "z.txt"]


def test_scan_directory_skips_fifo(tmp_path: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    os.mkfifo(tmp_path / "pipe.txt")
    scan = scan_directory(tmp_path)  # must not block on the FIFO
    assert scan.articles == ()
    assert scan.errors == ()
    assert scan.skipped == (f"{tmp_path / 'pipe.txt'}: skipped: not a regular file",)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read files without read permission")
def test_scan_directory_reports_unreadable_file(tmp_path: Path) -> None:
    locked = write(tmp_path / "locked.txt", "Locked\nBody")
    locked.chmod(0)
    try:
        scan = scan_directory(tmp_path)
    finally:
        locked.chmod(0o644)
    assert len(scan.errors) == 1
    assert scan.errors[0].startswith(f"{locked}: cannot read")


def test_scan_directory_root_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        scan_directory(tmp_path / "missing")
    file = write(tmp_path / "f.txt", "T\nB")
    with pytest.raises(SourceError, match="is not a directory"):
        scan_directory(file)


def test_read_article_file_uses_posix_relative_key(tmp_path: Path) -> None:
    path = write(tmp_path / "2024" / "05" / "story.txt", "Story\nBody")
    assert read_article_file(path, tmp_path).key == "2024/05/story.txt"


def test_read_article_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not inside"):
        read_article_file(write(tmp_path / "a" / "x.txt", "T\nB"), tmp_path / "b")
    with pytest.raises(SourceError, match=r"x\.pdf: not an article file"):
        read_article_file(write(tmp_path / "x.pdf", "T"), tmp_path)
    with pytest.raises(SourceError, match=r"bin\.txt: not an article: binary"):
        read_article_file(write(tmp_path / "bin.txt", b"\x00\x01"), tmp_path)
    with pytest.raises(SourceError, match=r"missing\.txt: cannot read"):
        read_article_file(tmp_path / "missing.txt", tmp_path)
    with pytest.raises(SourceError, match=r"big\.txt: larger than the limit of 3 bytes"):
        read_article_file(write(tmp_path / "big.txt", "T\nBody"), tmp_path, max_bytes=3)


def test_bundled_articles_parse(tmp_path: Path) -> None:
    inbox = REPO / "articles"
    scan = scan_directory(inbox)
    assert scan.errors == ()
    assert len(scan.articles) >= 3
    for article in scan.articles:
        assert article.title
        assert article.content_html
        assert "fictional" in article.content_html
    md = next(a for a in scan.articles if a.key.endswith(".md"))
    assert md.published is not None and md.published.tzinfo is UTC
    assert md.categories
    # a copy scans the same (nothing depends on the absolute location)
    shutil.copytree(inbox, tmp_path / "copy")
    copy = scan_directory(tmp_path / "copy")
    assert [(a.key, a.content_html) for a in copy.articles] == [
        (a.key, a.content_html) for a in scan.articles
    ]


def test_suffixes() -> None:
    assert SUFFIXES == (".txt", ".md", ".markdown", ".html", ".htm")


def test_scan_directory_reports_read_error_and_continues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = write(tmp_path / "a-locked.txt", "Locked\nBody")
    write(tmp_path / "b-fine.txt", "Fine\nBody")
    real_open = os.open

    def fake_open(path: object, flags: int, *args: int) -> int:
        if Path(str(path)) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", fake_open)
    scan = scan_directory(tmp_path)
    assert scan.errors == (f"{locked}: cannot read: Permission denied",)
    assert [a.title for a in scan.articles] == ["Fine"]


def test_scan_directory_symlink_loop_is_an_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "self.txt").symlink_to(tmp_path / "self.txt")
    write(tmp_path / "ok.txt", "OK\nBody")
    scan = scan_directory(tmp_path)
    assert [a.title for a in scan.articles] == ["OK"]
    assert len(scan.errors) + len(scan.skipped) == 1
    assert (scan.errors + scan.skipped)[0].startswith(f"{tmp_path / 'self.txt'}:")
