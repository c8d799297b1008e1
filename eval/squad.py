"""SQuAD 2.0 (the CS224N dev subset in ../shared/eval-data/squad2-dev): passages and questions.

The split rule comes from the data's README: tune on the first 11 articles (file order),
report on the last 5. Nothing may be tuned by looking at report-split scores.

Also a converter to the eval suite format, by article range::

    python -m eval.squad convert --articles 1-11 --out eval/out/squad-tune
    python -m eval.squad convert --articles 12-16 --out eval/out/squad-report

writes ``questions.jsonl`` (suite records), ``corpus.jsonl`` (passages as ingest records)
and ``suite.toml`` naming both, ready for ``assistant eval eval/out/squad-tune/suite.toml``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from eval.datasets import find_data

DEFAULT_DIR = Path(os.environ.get("ASSISTANT_SQUAD_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "eval-data" / "squad2-dev"))
TUNE_ARTICLES = 11
NAME = "squad2-dev"


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
    """The SQuAD directory: ``path``, ``$ASSISTANT_SQUAD_DIR``, or the shared eval data."""
    if path is None and os.environ.get("ASSISTANT_SQUAD_DIR"):
        path = os.environ["ASSISTANT_SQUAD_DIR"]
    return find_data(NAME, "passages.jsonl", path)


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
REWORDED_FILE = Path(__file__).resolve().parent / "data" / "squad_reworded_calib.jsonl"


def paraphrased_tune(directory: Path) -> list[SquadQuestion]:
    """Tune-split questions reworded by this project away from their passage's words.

    SQuAD questions were written looking at the passage, so they share many words with it and
    flatter keyword search. These 48 paraphrases (answers and gold passages unchanged) measure
    what happens when a user's wording differs from the document's. Tune split only.
    """
    return _reworded(directory, PARAPHRASED_FILE, "-para")


def reworded_calib(directory: Path) -> list[SquadQuestion]:
    """180 questions of the held-out tune articles 10-11 (120 answerable, 60 not), reworded by
    this project the same way, unanswerable ones keeping their trick: for fitting and checking
    gates on reworded questions, apart from the 48 above. Tune split only."""
    return _reworded(directory, REWORDED_FILE, "-reworded")


def _reworded(directory: Path, path: Path, suffix: str) -> list[SquadQuestion]:
    by_id = {q.id: q for q in questions(directory, "tune")}
    out = []
    for line in path.open(encoding="utf-8"):
        rec = json.loads(line)
        original = by_id[rec["squad_id"]]
        out.append(replace(original, id=original.id + suffix, question=rec["question"]))
    return out


# --- article ranges and the suite format ----------------------------------------------

def parse_articles(spec: str | None, count: int) -> list[int]:
    """0-based article indices for a range spec (1-based, inclusive, file order).

    ``"1-11"``, ``"12-16"``, ``"12-"``, ``"3"``, ``"1-3,7"``, ``"all"``, ``"tune"`` (1-11),
    ``"report"`` (12-last).
    """
    spec = (spec or "all").strip().lower()
    if spec == "all":
        return list(range(count))
    if spec == "tune":
        return list(range(min(TUNE_ARTICLES, count)))
    if spec == "report":
        return list(range(TUNE_ARTICLES, count))
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo_s, hi_s = part.split("-", 1)
                lo, hi = int(lo_s), int(hi_s) if hi_s.strip() else count
            else:
                lo = hi = int(part)
        except ValueError:
            raise ValueError(f"bad article range {spec!r}: use e.g. 1-11, 12-16, 12-, all, tune or report") from None
        if not 1 <= lo <= hi <= count:
            raise ValueError(f"article range {part!r} is outside 1-{count}")
        out.extend(i - 1 for i in range(lo, hi + 1) if i - 1 not in out)
    return out


def titles_for(directory: Path, spec: str | None) -> list[str]:
    names = articles(directory)
    return [names[i] for i in parse_articles(spec, len(names))]


def suite_records(directory: Path, articles_spec: str | None = "tune") -> list[dict]:
    """Questions of the chosen articles in the eval suite format.

    Answerable questions carry their distinct annotator answers and the gold passage id as
    ``sources``; unanswerable ones carry ``answerable: false`` (and SQuAD's plausible answers,
    which are wrong by construction, for the report).
    """
    keep = set(titles_for(directory, articles_spec))
    out = []
    for line in (directory / "qa.jsonl").open(encoding="utf-8"):
        q = json.loads(line)
        if q["title"] not in keep:
            continue
        rec = {
            "id": q["id"],
            "question": q["question"],
            "answers": list(dict.fromkeys(q["answers"])),
            "answerable": not q["is_impossible"],
            "sources": [q["passage_id"]] if not q["is_impossible"] else [],
            "title": q["title"],
        }
        if q.get("plausible_answers"):
            rec["plausible_answers"] = list(dict.fromkeys(q["plausible_answers"]))
        out.append(rec)
    return out


def corpus_records(directory: Path, articles_spec: str | None = "all") -> list[dict]:
    """Passages of the chosen articles as ingest records (default: all 646, the retrieval corpus)."""
    keep = set(titles_for(directory, articles_spec))
    return passages(directory, keep)


def convert(directory: Path, articles_spec: str, out_dir: Path, corpus_articles: str = "all") -> dict[str, Path]:
    """Write questions.jsonl, corpus.jsonl and suite.toml for the chosen articles."""
    out_dir.mkdir(parents=True, exist_ok=True)
    questions_path = out_dir / "questions.jsonl"
    corpus_path = out_dir / "corpus.jsonl"
    suite_path = out_dir / "suite.toml"
    with questions_path.open("w", encoding="utf-8") as fh:
        for rec in suite_records(directory, articles_spec):
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    with corpus_path.open("w", encoding="utf-8") as fh:
        for rec in corpus_records(directory, corpus_articles):
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    name = f"squad-{articles_spec.replace(',', '_')}"
    suite_path.write_text(
        f'name = "{name}"\n'
        f'description = "SQuAD 2.0 dev (CS224N subset), questions of articles {articles_spec}, '
        f'retrieval over the passages of articles {corpus_articles}"\n'
        'questions = "questions.jsonl"\n'
        'records = "corpus.jsonl"\n',
        encoding="utf-8",
    )
    return {"questions": questions_path, "corpus": corpus_path, "suite": suite_path}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m eval.squad",
        description="Convert SQuAD 2.0 dev to the eval suite format, by article range "
        "(tune on articles 1-11, report on 12-16).",
    )
    sub = ap.add_subparsers(dest="command", required=True)
    c = sub.add_parser("convert", help="write questions.jsonl, corpus.jsonl and suite.toml")
    c.add_argument("--squad", metavar="DIR", help="SQuAD 2.0 dev directory (default: the shared eval data)")
    c.add_argument("--articles", default="tune", help="question articles: 1-11, 12-16, tune, report, all")
    c.add_argument("--corpus-articles", default="all", help="passages to ingest (default all 646)")
    c.add_argument("--out", required=True, metavar="DIR", help="output directory")
    sub.add_parser("articles", help="list the articles in file order").add_argument("--squad", metavar="DIR")
    args = ap.parse_args(argv)
    try:
        directory = find_dir(args.squad)
        if args.command == "articles":
            for i, title in enumerate(articles(directory), start=1):
                split = "tune" if i <= TUNE_ARTICLES else "report"
                print(f"{i:>3}  {split:<6}  {title}")
            return 0
        paths = convert(directory, args.articles, Path(args.out), args.corpus_articles)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # DataNotFound and other AssistantErrors: one line
        from assistant.errors import AssistantError

        if isinstance(exc, AssistantError):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        raise
    n = sum(1 for _ in paths["questions"].open())
    print(f"wrote {n} questions to {paths['questions']}, corpus to {paths['corpus']}, suite {paths['suite']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
