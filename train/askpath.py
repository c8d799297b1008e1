"""What the ask-path calibrations share (``calibrate_joint``, ``calibrate_spans``): the held-out
tune articles they fit on, an index of all tune passages to retrieve from, as in the eval, and the
paraphrased tune questions they score but never fit on."""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path


def held_out_articles(ap, squad_dir: str | None, articles: str):
    """(the SQuAD directory, every article's title, the chosen ones); refuses report articles."""
    from eval import squad

    directory = squad.find_dir(squad_dir)
    names = squad.articles(directory)
    first, _, last = articles.partition("-")
    chosen = names[int(first) - 1 : int(last or first)]
    if any(names.index(t) >= squad.TUNE_ARTICLES for t in chosen):
        ap.error("only tune articles (1-11) may be used for calibration")
    return directory, names, chosen


def tune_assistant(directory, names, model: str, data_dir: str | None, prefix: str):
    """An assistant (mode spans, this reader) over every tune passage."""
    from assistant.client import Assistant
    from eval import squad

    data_dir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix=prefix))
    a = Assistant(data_dir=data_dir, collection="squad-tune", reader=model, answerer="extractive",
                  reader_mode="spans")
    a.ingest_records(squad.passages(directory, set(names[: squad.TUNE_ARTICLES])), progress=None)
    return a


def paraphrased_tune(directory) -> list:
    """The 48 reworded tune questions, as SQuAD questions with their gold answers."""
    from eval import squad
    from train import data as D

    by_id = {q.id: q for q in squad.questions(directory, "tune")}
    para = [(p, by_id[p["squad_id"]]) for p in map(json.loads, D.PARAPHRASED.read_text().splitlines())
            if p["squad_id"] in by_id]
    return [dataclasses.replace(q, question=p["question"]) for p, q in para]


def asked(a, questions, log_every: int = 100):
    """Each question retrieved as ``ask`` would: yields (question record, Question, hits)."""
    import sys

    from assistant.answer.base import Question

    for i, q in enumerate(questions):
        retrieval = a.retrieve(q.question, k=a.settings.top_k)
        yield q, Question(q.question, q.question, vector=retrieval.query_vector), retrieval.hits
        if log_every and i % log_every == 0:
            print(f"  {i}/{len(questions)}", file=sys.stderr, flush=True)


def rows_of(args, directory, names, chosen, collect, *, prefix: str, answerable_only: bool = False,
            prepare=None) -> tuple[list, list]:
    """(rows of the chosen articles' questions, rows of the paraphrased tune questions), made by
    ``collect(assistant, questions)`` over a fresh tune index, or read from ``args.cache`` when it
    exists (and written there when it does not). ``prepare(assistant)`` readies the answerer."""
    import pickle

    from eval import squad

    if args.cache and args.cache.exists():
        saved = pickle.loads(args.cache.read_bytes())
        return saved["rows"], saved["para"]
    a = tune_assistant(directory, names, args.model, args.data_dir, prefix)
    if prepare:
        prepare(a)
    qs = [q for q in squad.questions(directory, "tune")
          if q.title in set(chosen) and (q.answerable or not answerable_only)]
    rows = collect(a, qs)
    para_rows = collect(a, paraphrased_tune(directory), log_every=0)
    if args.cache:
        args.cache.write_bytes(pickle.dumps({"rows": rows, "para": para_rows}))
    return rows, para_rows
