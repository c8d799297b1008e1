"""Choose the reader's abstention threshold where it is used: on the ask path, over retrieval.

    python -m train.calibrate_reader [--model DIR] [--articles 10-11] [--write]

The reader's training calibrates its no-answer score on gold windows; at question time it reads
the windows retrieval found, among passages of other articles. This runs the default answerer
(``ReaderAnswerer``) on SQuAD 2.0 tune articles held out from the reader's training (10-11 by
default; retrieval over all tune passages), records the best window's answer score and whether
its span is right, and picks the threshold with the best SQuAD 2.0-style overall F1 (an
abstention scores 1 on an unanswerable question, 0 otherwise): ``answer_threshold`` for
``reader_mode = full`` (the reader decides every question) and ``rescue_threshold`` for
``reader_mode = hybrid`` (chosen on the questions the sentence model abstains on). ``--write``
stores both in the model's ``reader_config.json``. Never run on the report articles (12-16).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="packaged", help="reader model directory (default: the packaged one)")
    ap.add_argument("--articles", default="10-11", help="tune articles to calibrate on (1-based, inclusive)")
    ap.add_argument("--squad", help="SQuAD directory (default: the shared eval data)")
    ap.add_argument("--data-dir", help="index location (default: a temporary directory)")
    ap.add_argument("--limit", type=int, help="only the first N questions")
    ap.add_argument("--write", action="store_true", help="store the chosen threshold in the model's config")
    args = ap.parse_args(argv)

    from assistant.answer.base import Question
    from assistant.answer.reader import MODEL_DIR
    from assistant.client import Assistant
    from assistant.config import offline_environment
    from eval import metrics as M
    from eval import squad

    offline_environment()
    directory = squad.find_dir(args.squad)
    names = squad.articles(directory)
    first, _, last = args.articles.partition("-")
    chosen = names[int(first) - 1 : int(last or first)]
    if any(names.index(t) >= squad.TUNE_ARTICLES for t in chosen):
        ap.error("only tune articles (1-11) may be used for calibration")
    data_dir = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="calibrate-reader-"))
    a = Assistant(data_dir=data_dir, collection="squad-tune", reader=args.model, answerer="extractive",
                  reader_mode="hybrid")
    a.ingest_records(squad.passages(directory, set(names[: squad.TUNE_ARTICLES])), progress=None)
    qs = [q for q in squad.questions(directory, "tune") if q.title in set(chosen)][: args.limit]
    reader = a.answerer
    rows = []  # (answerable, reader's best score, its span F1, the sentence model abstained)
    for i, q in enumerate(qs):
        retrieval = a.retrieve(q.question, k=a.settings.top_k)
        question = Question(q.question, q.question, vector=retrieval.query_vector)
        reading = reader.read(question, retrieval.hits, k=reader.rescue_k)
        best = reading.best()
        score = best.reading.answer_score if best else 0.0
        f1 = M.best_f1(best.reading.span_text, q.answers) if best and q.answerable else 0.0
        sentences_abstain = reader.sentences.answer(question, retrieval.hits).abstained
        rows.append((q.answerable, score, f1, sentences_abstain))
        if i % 100 == 0:
            print(f"{i}/{len(qs)}", file=sys.stderr, flush=True)

    def overall(threshold: float, subset) -> tuple[float, float, float]:
        """SQuAD 2.0-style F1 over ``subset`` when the reader abstains below ``threshold``
        (an abstention scores 1 on an unanswerable question), with abstention precision/recall."""
        total, abstain_right, abstained = 0.0, 0, 0
        for answerable, score, f1, _ in subset:
            if score < threshold:
                abstained += 1
                total += 0.0 if answerable else 1.0
                abstain_right += 0 if answerable else 1
            else:
                total += f1
        unanswerable = sum(1 for r in subset if not r[0])
        return total / max(len(subset), 1), abstain_right / max(abstained, 1), abstain_right / max(unanswerable, 1)

    def best_threshold(subset) -> float:
        grid = sorted({0.0, 1.01, *(round(r[1], 4) for r in subset)})
        return max(grid, key=lambda t: overall(t, subset)[0])

    # mode "full": the reader decides every question; "hybrid": only where the sentence model abstains
    full_t = best_threshold(rows)
    abstained = [r for r in rows if r[3]]
    rescue_t = best_threshold(abstained)
    f1, precision, recall = overall(full_t, rows)
    r_f1, r_precision, r_recall = overall(rescue_t, abstained)
    has = [r for r in rows if r[0]]
    print(json.dumps({
        "questions": len(rows), "answerable": len(has), "articles": chosen, "read_candidates": reader.rescue_k,
        "full": {"threshold": full_t, "overall_f1": round(f1, 4), "abstention_precision": round(precision, 4),
                 "abstention_recall": round(recall, 4),
                 "hasans_f1_forced": round(sum(r[2] for r in has) / max(len(has), 1), 4),
                 "always_abstain_f1": round(overall(1.01, rows)[0], 4),
                 "never_abstain_f1": round(overall(0.0, rows)[0], 4)},
        "hybrid": {"sentence_model_abstained": len(abstained),
                   "of_them_answerable": sum(1 for r in abstained if r[0]),
                   "rescue_threshold": rescue_t, "overall_f1_on_those": round(r_f1, 4),
                   "abstention_precision_on_those": round(r_precision, 4),
                   "abstention_recall_on_those": round(r_recall, 4),
                   "always_abstain_f1_on_those": round(overall(1.01, abstained)[0], 4)},
    }, indent=2))
    if args.write:
        path = (MODEL_DIR if args.model == "packaged" else Path(args.model)) / "reader_config.json"
        config = json.loads(path.read_text())
        config["answer_threshold"] = full_t
        config["rescue_threshold"] = rescue_t
        config["answer_threshold_source"] = (f"python -m train.calibrate_reader --articles {args.articles} "
                                             f"(ask path, {reader.rescue_k} candidates read)")
        path.write_text(json.dumps(config, indent=2) + "\n")
        print(f"wrote answer_threshold {full_t} and rescue_threshold {rescue_t} to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
