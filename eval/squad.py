"""SQuAD 2.0 (the CS224N dev subset in ../shared/eval-data/squad2-dev): passages and questions.

The split rule comes from the data's README: tune on the first 11 articles (file order),
report on the last 5. Nothing may be tuned by looking at report-split scores.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DIR = Path(os.environ.get("ASSISTANT_SQUAD_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "eval-data" / "squad2-dev"))
TUNE_ARTICLES = 11


@dataclass
class SquadQuestion:
    id: str
    question: str
    passage_id: str
    title: str
    answerable: bool
    answers: list[str] = field(default_factory=list)
    plausible: list[str] = field(default_factory=list)


def find_dir(path: str | Path | None = None) -> Path:
    candidates = [Path(path)] if path else [DEFAULT_DIR, Path.cwd().parent / "shared" / "eval-data" / "squad2-dev"]
    for c in candidates:
        if (c / "passages.jsonl").exists():
            return c
    raise FileNotFoundError(f"SQuAD data not found (looked in {', '.join(map(str, candidates))}); pass --squad DIR")


def articles(directory: Path) -> list[str]:
    """Article titles in file order."""
    seen: list[str] = []
    for line in (directory / "passages.jsonl").open(encoding="utf-8"):
        title = json.loads(line)["title"]
        if title not in seen:
            seen.append(title)
    return seen


def passages(directory: Path, titles: set[str] | None = None) -> list[dict]:
    """Passages as ingest records: {"id", "title", "text"}."""
    out = []
    for line in (directory / "passages.jsonl").open(encoding="utf-8"):
        p = json.loads(line)
        if titles is None or p["title"] in titles:
            out.append({"id": p["_id"], "title": p["title"], "text": p["text"]})
    return out


def questions(directory: Path, split: str = "tune") -> list[SquadQuestion]:
    """Questions of the tune split (first 11 articles), the report split (last 5) or all."""
    names = articles(directory)
    if split == "tune":
        keep = set(names[:TUNE_ARTICLES])
    elif split == "report":
        keep = set(names[TUNE_ARTICLES:])
    elif split == "all":
        keep = set(names)
    else:
        raise ValueError(f"split must be tune, report or all, not {split!r}")
    out = []
    for line in (directory / "qa.jsonl").open(encoding="utf-8"):
        q = json.loads(line)
        if q["title"] not in keep:
            continue
        out.append(
            SquadQuestion(
                id=q["id"],
                question=q["question"],
                passage_id=q["passage_id"],
                title=q["title"],
                answerable=not q["is_impossible"],
                answers=list(dict.fromkeys(q["answers"])),
                plausible=list(dict.fromkeys(q.get("plausible_answers") or [])),
            )
        )
    return out


PARAPHRASED_FILE = Path(__file__).resolve().parent / "data" / "squad_paraphrased_tune.jsonl"


def paraphrased_tune(directory: Path) -> list[SquadQuestion]:
    """Tune-split questions reworded by this project away from their passage's words.

    SQuAD questions were written looking at the passage, so they share many words with it and
    flatter keyword search. These 48 paraphrases (answers and gold passages unchanged) measure
    what happens when a user's wording differs from the document's. Tune split only.
    """
    by_id = {q.id: q for q in questions(directory, "tune")}
    out = []
    for line in PARAPHRASED_FILE.open(encoding="utf-8"):
        rec = json.loads(line)
        original = by_id[rec["squad_id"]]
        out.append(
            SquadQuestion(
                id=original.id + "-para",
                question=rec["question"],
                passage_id=original.passage_id,
                title=original.title,
                answerable=True,
                answers=original.answers,
            )
        )
    return out
