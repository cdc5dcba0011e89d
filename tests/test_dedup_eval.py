"""Precision and recall of deduplication on the labelled pairs in tests/data/dedup_pairs.json.

For each pair, entry A is stored first (source "a"), then entry B arrives from source "b";
the pair is predicted a duplicate when B joins A's story. The decision is made by the real
:func:`feedsvc.dedup.plan` on the snapshot storage would hand it (candidates found through
the sketch keys exactly as :meth:`SourceRun.postings` + :func:`candidate_ids` do);
``test_sqlite_path_agrees`` checks on a sample that the real SQLite path decides the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feedsvc import neardup
from feedsvc.dedup import (
    Candidate,
    Existing,
    candidate_ids,
    canonical_url,
    fingerprint,
    lookup_for,
    plan,
)
from feedsvc.models import Article, Insert, StoredEntry

from helpers import db_rows, rss, run, write_config

DATA = Path(__file__).parent / "data"
PAIRS: list[dict[str, Any]] = json.loads((DATA / "dedup_pairs.json").read_text("utf-8"))["pairs"]
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
MIN_PRECISION, MIN_RECALL = 0.99, 0.95
SQLITE_STEP = int(os.environ.get("FEEDSVC_EVAL_STEP", "5"))


def article(side: dict[str, Any]) -> Article:
    return Article(
        key=side["id"],
        title=side["title"],
        content_html=side["html"],
        link=side["link"],
        original_id=side["id"],
    )


def predict(pair: dict[str, Any]) -> Insert:
    """What plan() decides for B when A is already stored."""
    a, b = article(pair["a"]), article(pair["b"])
    (first,) = plan("a", [a], Existing(), NOW, feed_id="tag:eval,2026:feed")
    assert isinstance(first, Insert) and first.story_of is None
    stored = StoredEntry(
        id=1,
        source="a",
        key=a.key,
        atom_id=first.atom_id,
        story_id=1,
        content_hash=first.content_hash,
        canonical_link=first.canonical_link,
        fingerprint=first.fingerprint,
        published=NOW,
        updated=NOW,
        first_seen=NOW,
        original_id=a.original_id,
    )
    lookup = lookup_for([b])
    postings = {k: [1] for k in first.sketch if k in lookup.sketch_keys}
    link = canonical_url(a.link)
    existing = Existing(
        by_original_id={a.original_id: stored} if a.original_id in lookup.original_ids else {},
        by_link={link: stored} if link in lookup.links else {},
        by_fingerprint={fingerprint(a) or "": stored}
        if fingerprint(a) in lookup.fingerprints
        else {},
        postings=postings,
        bodies={1: Candidate(stored, a.content_html)} if candidate_ids(lookup, postings) else {},
        stories={1: stored},
    )
    (second,) = plan("b", [b], existing, NOW, feed_id="tag:eval,2026:feed")
    assert isinstance(second, Insert)
    return second


def test_the_evaluation_set_is_big_and_varied() -> None:
    kinds = Counter(p["kind"].split("-pct")[0] for p in PAIRS)
    assert len(PAIRS) >= 300
    assert sum(p["duplicate"] for p in PAIRS) >= 150
    assert sum(not p["duplicate"] for p in PAIRS) >= 150
    assert len(kinds) >= 15, kinds


def test_the_committed_set_is_what_the_generator_makes(tmp_path: Path) -> None:
    script = (DATA / "make_dedup_pairs.py").read_text("utf-8")
    copy = tmp_path / "make_dedup_pairs.py"
    copy.write_text(script, encoding="utf-8")
    subprocess.run([sys.executable, str(copy)], check=True, capture_output=True, timeout=120)
    assert (tmp_path / "dedup_pairs.json").read_bytes() == (DATA / "dedup_pairs.json").read_bytes()


def evaluate() -> tuple[float, float, dict[str, list[str]], Counter[str]]:
    tp = fp = fn = 0
    wrong: dict[str, list[str]] = {"false merges": [], "missed": []}
    rules: Counter[str] = Counter()
    for pair in PAIRS:
        got = predict(pair)
        merged = got.story_of is not None
        if merged:
            rules[got.rule.value if got.rule else "?"] += 1
        if merged and pair["duplicate"]:
            tp += 1
        elif merged:
            fp += 1
            wrong["false merges"].append(f"{pair['id']} ({got.rule}, {got.score})")
        elif pair["duplicate"]:
            fn += 1
            wrong["missed"].append(pair["id"])
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall, wrong, rules


def test_precision_and_recall() -> None:
    precision, recall, wrong, rules = evaluate()
    print(
        f"\npairs={len(PAIRS)} precision={precision:.4f} recall={recall:.4f} "
        f"jaccard>={neardup.JACCARD_THRESHOLD} containment>={neardup.CONTAINMENT_THRESHOLD} "
        f"rules={dict(rules)} wrong={wrong}"
    )
    assert precision >= MIN_PRECISION, wrong
    assert recall >= MIN_RECALL, wrong


@pytest.mark.parametrize("index", range(0, len(PAIRS), SQLITE_STEP))
def test_sqlite_path_agrees(tmp_path: Path, index: int) -> None:
    """Every SQLITE_STEP-th pair through the real pipeline: RSS files, sanitizing, SQLite,
    the LSH table. (FEEDSVC_EVAL_STEP=1 runs all of them: about 10 s; all agree.)"""
    pair = PAIRS[index]
    for name in ("a", "b"):
        side = pair[name]
        item = {
            "title": side["title"],
            "link": side["link"].replace("&", "&amp;"),
            "guid": side["id"].replace("&", "&amp;"),
            "description": side["html"],
        }
        (tmp_path / f"{name}.xml").write_bytes(rss([item], title=name))
    config = write_config(
        tmp_path,
        '[[sources]]\nname = "a"\npath = "a.xml"\n[[sources]]\nname = "b"\npath = "b.xml"\n',
    )
    assert run(config, "ingest", "--source", "a").exit_code == 0
    assert run(config, "ingest", "--source", "b").exit_code == 0
    rows = db_rows(tmp_path / "db/feedsvc.sqlite3", "SELECT source, story_id, id FROM entries")
    stories = {source: story for source, story, _ in rows}
    assert (stories["a"] == stories["b"]) == (predict(pair).story_of is not None), pair["id"]
