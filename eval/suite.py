"""Eval suites: the questions to ask, their acceptable answers, and the corpus to ask them of.

A suite is either a JSONL file of questions, one a line::

    {"id": "q1", "question": "How many targets did the US strike?",
     "answers": ["over 85 targets", "85"],       # acceptable answers
     "answerable": true,                         # default true; false = should abstain
     "sources": ["us-strikes-iran-militias.txt"],# expected source file names or doc ids
     "all_required": false,                      # true: every answer string must appear
     "turns": ["earlier question", ...],         # a conversation before this question
     "scope": {"tags": ["current"]},             # ask within these documents only (sources,
                                                 # tags, since, where: as ask() takes them)
     "pages": [29, 30]}                          # physical pages that hold the answer (scored as cited_page)

or a small TOML/YAML file naming the corpus and the questions (paths relative to the file)::

    name = "sample-article"
    corpus = ["../../assistant/samples/us-strikes-iran-militias.txt"]   # files or directories
    questions = "sample-article.jsonl"
    # tags = {"memos/new.md" = ["current"]}   tags given to corpus files (for scoped questions)
    # instead of files: records = "corpus.jsonl"  ({"id","title","text"} per line)
    # SQuAD by article range: [squad] articles = "1-11"  (corpus_articles = "all", dir = ...)
    # a BEIR retrieval benchmark: [beir] dir = "...", split = "test"
    # a corpus that is not shipped: fetch = "the command that fetches it" (named when it is missing)

A bare name (``sample-article``) means the suite of that name shipped in ``eval/suites/``.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from assistant.errors import AssistantError

SUITES_DIR = Path(__file__).resolve().parent / "suites"
SUITE_FILE_SUFFIXES = (".toml", ".yaml", ".yml")
KNOWN_QUESTION_KEYS = {"id", "question", "answers", "answerable", "sources", "all_required", "turns", "scope"}
KNOWN_SUITE_KEYS = {"name", "description", "corpus", "questions", "records", "squad", "beir", "tags", "fetch"}


class SuiteError(AssistantError):
    """A suite file that cannot be used, with the place and the reason."""


@dataclass
class SuiteQuestion:
    id: str
    question: str
    answers: list[str] = field(default_factory=list)
    answerable: bool = True
    sources: list[str] = field(default_factory=list)
    all_required: bool = False
    turns: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # other fields, kept for the report
    scope: dict[str, Any] | None = None  # only these documents (assistant.index.scope.Scope fields)

    def to_dict(self) -> dict[str, Any]:
        d = {
            "id": self.id,
            "question": self.question,
            "answers": list(self.answers),
            "answerable": self.answerable,
            "sources": list(self.sources),
            "all_required": self.all_required,
            "turns": list(self.turns),
        }
        if self.scope:
            d["scope"] = dict(self.scope)
        d.update(self.extra)
        return d


@dataclass
class BeirSpec:
    dir: Path
    split: str = "test"


@dataclass
class Suite:
    """Questions plus what to ingest before asking them."""

    name: str
    questions: list[SuiteQuestion] = field(default_factory=list)
    description: str = ""
    path: Path | None = None
    corpus_paths: list[Path] = field(default_factory=list)  # files / directories to ingest
    # Corpus records ({"id", "title", "text"}) to ingest, produced on demand.
    corpus_records: Callable[[], Iterable[dict[str, Any]]] | None = None
    corpus_label: str = ""  # what the corpus is, for the report
    corpus_key: str = ""  # names the eval collection when suites share a corpus (else the suite name)
    beir: BeirSpec | None = None
    corpus_tags: dict[Path, list[str]] = field(default_factory=dict)  # corpus path -> tags to give it

    @property
    def has_corpus(self) -> bool:
        return bool(self.corpus_paths) or self.corpus_records is not None

    def select(self, limit: int | None = None, sample: int | None = None, seed: int = 0) -> list[SuiteQuestion]:
        """The first ``limit`` questions, or a random ``sample`` of them (reproducible by ``seed``)."""
        return pick(self.questions, limit, sample, seed)


def pick(items: list, limit: int | None = None, sample: int | None = None, seed: int = 0) -> list:
    """A random ``sample`` of ``items`` kept in their order (seeded), then the first ``limit``."""
    items = list(items)
    if sample is not None:
        if sample < 1:
            raise SuiteError("--sample must be at least 1")
        rng = random.Random(seed)
        chosen = sorted(rng.sample(range(len(items)), min(sample, len(items))))
        items = [items[i] for i in chosen]
    if limit is not None:
        if limit < 1:
            raise SuiteError("--limit must be at least 1")
        items = items[:limit]
    return items


# --- loading --------------------------------------------------------------------------

def slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")
    return (s or "suite")[:60]


def find_suite(spec: str | Path) -> Path:
    """A path as given, or the shipped suite of that name."""
    p = Path(spec).expanduser()
    if p.exists():
        return p
    if not any(sep in str(spec) for sep in ("/", "\\")):
        for suffix in (*SUITE_FILE_SUFFIXES, ".jsonl"):
            shipped = SUITES_DIR / f"{spec}{suffix}"
            if shipped.exists():
                return shipped
    names = sorted({f.stem for f in SUITES_DIR.glob("*") if f.suffix in (*SUITE_FILE_SUFFIXES, ".jsonl")})
    raise SuiteError(f"no suite {str(spec)!r}: not a file, nor a shipped suite ({', '.join(names)})")


def shipped_suites() -> list[str]:
    return sorted(f.stem for f in SUITES_DIR.glob("*") if f.suffix in SUITE_FILE_SUFFIXES)


def load_suite(spec: str | Path | Suite) -> Suite:
    """Load a suite from a JSONL questions file, a TOML/YAML suite file, or a shipped name."""
    if isinstance(spec, Suite):
        return spec
    path = find_suite(spec)
    if path.is_dir():
        raise SuiteError(f"{path} is a directory; give a .jsonl questions file or a .toml/.yaml suite file")
    if path.suffix.lower() in SUITE_FILE_SUFFIXES:
        return _load_suite_file(path)
    return Suite(name=path.stem, questions=load_questions(path), path=path)


def load_questions(path: Path) -> list[SuiteQuestion]:
    """Questions from a JSONL file; errors name the line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"cannot read questions file {path}: {exc}") from None
    out: list[SuiteQuestion] = []
    seen: set[str] = set()
    for lineno, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SuiteError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
        q = question_from_dict(raw, f"{path}:{lineno}", default_id=f"q{lineno}")
        if q.id in seen:
            raise SuiteError(f"{path}:{lineno}: duplicate question id {q.id!r}")
        seen.add(q.id)
        out.append(q)
    if not out:
        raise SuiteError(f"{path} holds no questions")
    return out


def question_from_dict(raw: Any, where: str, default_id: str = "") -> SuiteQuestion:
    if not isinstance(raw, dict):
        raise SuiteError(f"{where}: expected a JSON object per line")
    question = raw.get("question")
    if not isinstance(question, str) or not question.strip():
        raise SuiteError(f"{where}: \"question\" must be a non-empty string")

    def strings(key: str) -> list[str]:
        value = raw.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SuiteError(f"{where}: \"{key}\" must be a list of strings")
        return value

    def flag(key: str, default: bool) -> bool:
        value = raw.get(key, default)
        if not isinstance(value, bool):
            raise SuiteError(f"{where}: \"{key}\" must be true or false")
        return value

    scope = raw.get("scope")
    if scope is not None:
        from assistant.errors import AssistantError as _Bad
        from assistant.index.scope import Scope

        try:
            scope = Scope.of(scope).to_dict()
        except _Bad as exc:
            raise SuiteError(f"{where}: bad \"scope\": {exc}") from None
    answerable = flag("answerable", True)
    answers = strings("answers")
    if not answerable and answers:
        raise SuiteError(f"{where}: an unanswerable question (answerable: false) cannot list answers")
    return SuiteQuestion(
        id=str(raw.get("id") or default_id),
        question=question,
        answers=answers,
        answerable=answerable,
        sources=strings("sources"),
        all_required=flag("all_required", False),
        turns=strings("turns"),
        scope=scope or None,
        extra={k: v for k, v in raw.items() if k not in KNOWN_QUESTION_KEYS},
    )


def _read_suite_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"cannot read suite file {path}: {exc}") from None
    try:
        if path.suffix.lower() == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # tomllib / yaml parse errors
        raise SuiteError(f"{path}: cannot parse: {exc}") from None
    if not isinstance(data, dict):
        raise SuiteError(f"{path}: expected a table of settings (name, corpus, questions, ...)")
    unknown = set(data) - KNOWN_SUITE_KEYS
    if unknown:
        raise SuiteError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(KNOWN_SUITE_KEYS))}")
    return data


def _load_suite_file(path: Path) -> Suite:
    data = _read_suite_file(path)
    base = path.parent
    suite = Suite(name=str(data.get("name") or path.stem), description=str(data.get("description") or ""), path=path)

    def rel(value: Any, key: str) -> Path:
        if not isinstance(value, str) or not value:
            raise SuiteError(f"{path}: \"{key}\" must be a path")
        p = Path(value).expanduser()
        return p if p.is_absolute() else (base / p)

    corpus = data.get("corpus")
    if corpus is not None:
        items = [corpus] if isinstance(corpus, str) else corpus
        if not isinstance(items, list):
            raise SuiteError(f"{path}: \"corpus\" must be a path or a list of paths")
        suite.corpus_paths = [rel(c, "corpus") for c in items]
        missing = [str(p) for p in suite.corpus_paths if not p.exists()]
        if missing:
            fetch = f"; fetch it with: {data['fetch']}" if data.get("fetch") else ""
            raise SuiteError(f"{path}: corpus path(s) not found: {', '.join(missing)}{fetch}")
        suite.corpus_label = ", ".join(p.name for p in suite.corpus_paths)
    tags = data.get("tags")
    if tags is not None:
        if not isinstance(tags, dict) or not all(
                isinstance(v, list) and all(isinstance(t, str) for t in v) for v in tags.values()):
            raise SuiteError(f"{path}: \"tags\" must be a table of corpus path = [\"tag\", ...]")
        suite.corpus_tags = {rel(k, "tags"): list(v) for k, v in tags.items()}
        missing = [str(p) for p in suite.corpus_tags if not p.exists()]
        if missing:
            raise SuiteError(f"{path}: tagged path(s) not found: {', '.join(missing)}")
    if data.get("records") is not None:
        records_path = rel(data["records"], "records")
        if not records_path.exists():
            raise SuiteError(f"{path}: records file not found: {records_path}")
        suite.corpus_records = lambda: read_records(records_path)
        suite.corpus_label = records_path.name
    if data.get("questions") is not None:
        suite.questions = load_questions(rel(data["questions"], "questions"))
    if data.get("squad") is not None:
        _squad_section(suite, data["squad"], path)
    if data.get("beir") is not None:
        _beir_section(suite, data["beir"], path)
    if not suite.questions and suite.beir is None:
        raise SuiteError(f"{path}: names no questions (questions = \"file.jsonl\", [squad] or [beir])")
    return suite


def _squad_section(suite: Suite, section: Any, path: Path) -> None:
    from eval import squad

    if not isinstance(section, dict):
        raise SuiteError(f"{path}: [squad] must be a table (articles, corpus_articles, dir)")
    directory = squad.find_dir(_data_dir(section.get("dir"), path))
    articles = str(section.get("articles", "tune"))
    corpus_articles = str(section.get("corpus_articles", "all"))
    subset = str(section.get("set", "original"))
    try:
        reworded = {"paraphrased-tune": squad.paraphrased_tune,  # the project's rewordings of 48 tune questions
                    "reworded-calib": squad.reworded_calib}  # and of 180 more, a third of them unanswerable
        if subset in reworded:
            records = [{"id": q.id, "question": q.question, "answers": q.answers, "answerable": q.answerable,
                        "sources": [q.passage_id] if q.answerable else [], "title": q.title}
                       | ({"plausible_answers": q.plausible} if q.plausible else {})
                       for q in reworded[subset](directory)]
        elif subset == "original":
            records = squad.suite_records(directory, articles)
        else:
            raise ValueError(f"unknown [squad] set {subset!r}: use original, paraphrased-tune or reworded-calib")
        squad.titles_for(directory, corpus_articles)
    except ValueError as exc:
        raise SuiteError(f"{path}: {exc}") from None
    suite.questions = [question_from_dict(r, f"{path} [squad] {r['id']}") for r in records]
    suite.corpus_records = lambda: squad.corpus_records(directory, corpus_articles)
    suite.corpus_label = f"SQuAD 2.0 dev passages (articles {corpus_articles}) from {directory}"
    suite.corpus_key = f"squad2-dev-{corpus_articles}"
    if not suite.description:
        suite.description = f"SQuAD 2.0 dev, questions of articles {articles}"


def find_beir_dir(path: str | Path | None = None, name: str = "scifact") -> Path:
    """A BEIR directory: ``path``, or the shared eval data's ``name``."""
    from eval.datasets import find_data

    if path is not None:
        p = Path(path).expanduser()
        if not (p / "queries.jsonl").exists():
            raise SuiteError(f"{p} is not a BEIR directory: queries.jsonl is missing")
        return p
    return find_data(name, "queries.jsonl")


def _beir_section(suite: Suite, section: Any, path: Path) -> None:
    if not isinstance(section, dict):
        raise SuiteError(f"{path}: [beir] must be a table (dir, split)")
    directory = find_beir_dir(_data_dir(section.get("dir"), path), section.get("name", "scifact"))
    split = str(section.get("split", "test"))
    suite.beir = BeirSpec(directory, split)
    suite.corpus_label = f"BEIR {directory.name} corpus from {directory}"
    suite.corpus_key = f"beir-{directory.name}"


def _data_dir(value: Any, path: Path) -> Path | None:
    if not value:
        return None
    p = Path(str(value)).expanduser()
    return p if p.is_absolute() else path.parent / p


def read_records(path: Path) -> Iterable[dict[str, Any]]:
    """Corpus records ``{"id", "title"?, "text"}`` (BEIR's ``_id`` also accepted) from JSONL or .jsonl.gz."""
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SuiteError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            rid = rec.get("id", rec.get("_id"))
            if rid is None or not isinstance(rec.get("text"), str):
                raise SuiteError(f"{path}:{lineno}: a record needs \"id\" and \"text\"")
            yield {"id": str(rid), "title": str(rec.get("title") or ""), "text": rec["text"],
                   **({"source": rec["source"]} if rec.get("source") else {})}
