"""Run an eval suite: ingest its corpus, ask every question, score the answers.

    from eval import run_suite
    results = run_suite("sample-article", out_dir="eval/out/sample")
    results.metrics["f1"], results.questions[0]["why"]

Where the index lives: a suite with a corpus is ingested into its own collection
(``eval-<suite name>``) under ``<data_dir>/eval``, never into the user's collections; the
ingest is incremental, so a re-run only embeds what changed. A suite without a corpus is
asked of the configured collection as it is (read only).
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

from assistant.config import Settings, load_settings
from assistant.errors import AssistantError, CollectionNotFound, EmptyIndex
from eval import metrics as M
from eval.results import QA_METRICS, EvalResults
from eval.suite import Suite, SuiteQuestion, load_suite, read_records, slug

RANK_DEPTH = 10  # documents ranked for retrieval metrics (nDCG@10, recall@10)
RANK_CHUNKS = 30  # chunks retrieved to find that many distinct documents
ABORT_AFTER = 5  # stop when the first questions all fail: the setup is broken, not the answers


def eval_settings(
    base: Settings,
    suite: Suite,
    *,
    collection: str | None = None,
    answerer: str | None = None,
) -> Settings:
    """The settings an eval runs with: its own data dir and collection when it has a corpus."""
    changes: dict[str, Any] = {}
    if answerer:
        changes["answerer"] = answerer
    if suite.has_corpus or suite.beir is not None:
        # Suites over the same corpus (SQuAD tune/report, SciFact train/test) share one index.
        changes["data_dir"] = base.data_dir / "eval"
        changes["collection"] = collection or f"eval-{slug(suite.corpus_key or suite.name)}"
    elif collection:
        changes["collection"] = collection
    return base.replace(**changes) if changes else base


def apply_corpus(suite: Suite, corpus: str | Path | Sequence[str | Path] | None) -> Suite:
    """Replace the suite's corpus by ``corpus``: files/directories, or a .jsonl(.gz) of records."""
    if not corpus:
        return suite
    items = [corpus] if isinstance(corpus, (str, Path)) else list(corpus)
    paths = [Path(p).expanduser() for p in items]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise AssistantError(f"corpus not found: {', '.join(missing)}")
    records = [p for p in paths if p.name.endswith((".jsonl", ".jsonl.gz"))]
    # Its own collection: the suite's usual index holds a different corpus.
    digest = hashlib.sha1("\n".join(sorted(str(p.resolve()) for p in paths)).encode()).hexdigest()[:8]
    return dataclasses.replace(
        suite,
        corpus_paths=[p for p in paths if p not in records],
        corpus_records=(lambda: (r for p in records for r in read_records(p))) if records else None,
        corpus_label=", ".join(str(p) for p in paths),
        corpus_key=f"{suite.name}-{digest}",
    )


def run_suite(
    suite: str | Path | Suite,
    *,
    corpus: str | Path | Sequence[str | Path] | None = None,
    collection: str | None = None,
    settings: Settings | None = None,
    out_dir: str | Path | None = None,
    limit: int | None = None,
    sample: int | None = None,
    seed: int = 0,
    answerer: str | None = None,
    judge: Any = None,
    progress: bool = False,
    beir_split: str | None = None,
    **overrides: Any,
) -> EvalResults:
    """Run ``suite`` (a path, a shipped suite's name, or a ``Suite``) and score it.

    ``corpus`` replaces the suite's corpus; ``collection`` the eval collection's name;
    ``settings``/``overrides`` configure the assistant as ``Assistant(...)`` would;
    ``limit``/``sample``+``seed`` pick questions; ``answerer`` how answers are written (``extractive``, ``local``, ``openai:MODEL``...);
    ``judge`` is an ``eval.judge`` judge (or a spec string) for the optional LLM judge.
    With ``out_dir``, results.json and report.html are written there.
    """
    suite = apply_corpus(load_suite(suite), corpus)
    base = settings.replace(**overrides) if settings else load_settings(overrides)
    s = eval_settings(base, suite, collection=collection, answerer=answerer)
    if suite.beir is not None:
        from eval.beir import run_beir

        results = run_beir(suite.beir.dir, beir_split or suite.beir.split, settings=s, limit=limit,
                           sample=sample, seed=seed, progress=progress, name=suite.name)
    else:
        if isinstance(judge, str):
            from eval.judge import judge_for

            judge = judge_for(judge, s)
        results = _run_qa(suite, s, limit=limit, sample=sample, seed=seed, judge=judge, progress=progress)
    if out_dir is not None:
        results.write(out_dir)
    return results


# --- question answering suites ---------------------------------------------------------------

def _log(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


def _run_qa(suite: Suite, settings: Settings, *, limit, sample, seed, judge, progress) -> EvalResults:
    from assistant.client import Assistant

    started = time.time()
    assistant = Assistant(settings)
    ingest_info: dict[str, Any] = {}
    if suite.has_corpus:
        _log(progress, f"indexing the corpus into {settings.collection!r} under {settings.data_dir}")
        t = time.perf_counter()
        reports = []
        if suite.corpus_paths:
            reports.append(assistant.ingest(suite.corpus_paths, progress=None if progress else False))
        if suite.corpus_records is not None:
            reports.append(assistant.ingest_records(suite.corpus_records(), progress=None if progress else False))
        ingest_info = _merge_ingest(reports, time.perf_counter() - t)
        _log(progress, f"index ready: {ingest_info['summary']}")
        if ingest_info.get("skipped"):
            _log(progress, f"warning: {ingest_info['skipped']} corpus documents were skipped")

    # Load the models and indexes before the clock starts: latency figures are steady state.
    t = time.perf_counter()
    try:
        assistant.ask("What is this collection about?")
    except (EmptyIndex, CollectionNotFound):
        raise  # nothing to ask: say so now, not once per question
    except AssistantError:
        pass  # a question-specific problem; the questions will show it
    warmup_seconds = time.perf_counter() - t

    chosen = suite.select(limit, sample, seed)
    records: list[dict[str, Any]] = []
    t_questions = time.perf_counter()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(chosen), unit="q", desc=f"asking {suite.name}", file=sys.stderr, dynamic_ncols=True)
    try:
        for q in chosen:
            records.append(evaluate_question(assistant, q, judge=judge))
            if bar is not None:
                bar.update(1)
            if len(records) == ABORT_AFTER and all(r.get("error") for r in records):
                raise AssistantError(f"the first {ABORT_AFTER} questions all failed: {records[0]['error']}")
    finally:
        if bar is not None:
            bar.close()
    questions_seconds = time.perf_counter() - t_questions

    metrics = aggregate_qa(records)
    info = {
        "suite": suite.name,
        "description": suite.description,
        "suite_file": str(suite.path) if suite.path else "",
        "corpus": suite.corpus_label or f"(none: asked of collection {settings.collection!r} as it is)",
        "data_dir": str(settings.data_dir),
        "collection": settings.collection,
        "backend": next((r["backend"] for r in records if r.get("backend")), settings.answerer),
        "judge": getattr(judge, "name", "") if judge is not None else "",
        "questions_in_suite": len(suite.questions),
        "questions_run": len(records),
        "limit": limit,
        "sample": sample,
        "seed": seed if sample is not None else None,
        "settings": _settings_summary(settings),
        "ingest": ingest_info,
        "seconds": {
            "ingest": round(ingest_info.get("seconds", 0.0), 2),
            "warmup": round(warmup_seconds, 2),
            "questions": round(questions_seconds, 2),
            "total": round(time.time() - started, 2),
        },
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
    }
    return EvalResults(suite.name, "qa", metrics, records, info)


def _settings_summary(s: Settings) -> dict[str, Any]:
    keys = ("answerer", "embed_model", "embed_backend", "top_k", "fetch_k", "fusion", "rrf_k", "dense_weight", "keyword_weight",
            "chunk_tokens", "chunk_overlap", "max_answer_sentences")
    return {k: str(getattr(s, k)) if isinstance(getattr(s, k), Path) else getattr(s, k) for k in keys if hasattr(s, k)}


def _merge_ingest(reports, seconds: float) -> dict[str, Any]:
    d: dict[str, Any] = {"added": 0, "updated": 0, "unchanged": 0, "skipped": 0, "chunks_written": 0}
    skipped = []
    for r in reports:
        rd = r.to_dict()
        for k in ("added", "updated", "unchanged", "skipped", "chunks_written"):
            d[k] += rd[k]
        skipped += [f"{f['source']}: {f['reason']}" for f in rd["files"] if f["status"] == "skipped"]
    d["seconds"] = seconds
    d["skipped_documents"] = skipped[:20]
    d["summary"] = (f"{d['added']} added, {d['updated']} updated, {d['unchanged']} unchanged, "
                    f"{d['skipped']} skipped, {d['chunks_written']} chunks embedded in {seconds:.1f} s")
    return d


def ask_question(assistant, q: SuiteQuestion):
    """Ask ``q`` (after its earlier turns, in one conversation). Returns (answer, earlier answers)."""
    if not q.turns:
        return assistant.ask(q.question), []
    chat = assistant.chat()
    earlier = [chat.ask(t) for t in q.turns]
    return chat.ask(q.question), earlier


def doc_keys(chunk) -> set[str]:
    """The names a suite may use for a chunk's document: doc id, source, file name."""
    keys = {chunk.doc_id, chunk.source}
    for k in (chunk.source, chunk.doc_id):
        if k:
            keys.add(Path(k).name)
    return {k for k in keys if k}


def ranked_documents(hits, gold: Sequence[str]) -> list[dict[str, Any]]:
    """Retrieved chunks -> distinct documents in rank order, each marked relevant or not."""
    gold_set = set(gold)
    docs: list[dict[str, Any]] = []
    seen: set[str] = set()
    for h in hits:
        c = h.chunk
        if c.doc_id in seen:
            continue
        seen.add(c.doc_id)
        match = sorted(doc_keys(c) & gold_set)
        docs.append({
            "doc": c.doc_id,
            "label": match[0] if match else "",
            "source": c.source,
            "title": c.title,
            "score": round(float(h.score), 4),
            "relevant": bool(match),
        })
        if len(docs) >= RANK_DEPTH:
            break
    return docs


def evaluate_question(assistant, q: SuiteQuestion, judge: Any = None) -> dict[str, Any]:
    """Ask one question and score it; the record explains each score in ``why``."""
    rec: dict[str, Any] = q.to_dict()
    try:
        answer, earlier = ask_question(assistant, q)
    except AssistantError as exc:
        answer, earlier = None, []
        rec["error"] = str(exc)
    except Exception as exc:  # keep going; the record says what broke
        answer, earlier = None, []
        rec["error"] = f"{type(exc).__name__}: {exc}"

    if answer is not None:
        rec.update({
            "answer": answer.text,
            "abstained": bool(answer.abstained),
            "standalone_question": answer.standalone_question or q.question,
            "backend": answer.backend,
            "timings_ms": {k: round(float(v), 1) for k, v in answer.timings_ms.items()},
            "earlier_answers": [a.text for a in earlier],
            "citations": [
                {"n": c.n, "source": c.source, "title": c.title, "quote": c.quote,
                 "passage": c.passage or c.quote, "score": c.score}
                for c in answer.citations
            ],
            "related": [{"source": c.source, "title": c.title, "quote": c.quote, "score": c.score}
                        for c in answer.related],
        })
        try:
            retrieval = assistant.retrieve(rec["standalone_question"], k=RANK_CHUNKS)
            rec["retrieved"] = ranked_documents(retrieval.hits, q.sources)
        except AssistantError as exc:
            rec["retrieved"] = []
            rec["retrieval_error"] = str(exc)
    else:
        rec.update({"answer": "", "abstained": False, "standalone_question": q.question, "backend": "",
                    "timings_ms": {}, "earlier_answers": [], "citations": [], "related": [], "retrieved": []})

    score_record(rec)
    if judge is not None and answer is not None:
        from eval.judge import JudgeInput

        context = "".join(f"(earlier question: {t})\n" for t in q.turns)
        try:
            verdict = judge.judge(JudgeInput(
                question=context + q.question,
                answer=rec["answer"],
                abstained=rec["abstained"],
                passages=[c["passage"] for c in rec["citations"]],
                references=q.answers,
                answerable=q.answerable,
            ))
            rec["judge"] = verdict.to_dict()
        except AssistantError as exc:
            rec["judge"] = {"correct": None, "faithful": None, "reason": f"judge failed: {exc}", "raw": ""}
    return rec


def score_record(rec: dict[str, Any]) -> dict[str, Any]:
    """Fill ``scores``, ``outcome`` and ``why`` of a question record (answer already in it)."""
    answers: list[str] = rec.get("answers") or []
    answerable = rec.get("answerable", True)
    all_required = rec.get("all_required", False)
    abstained = rec.get("abstained", False)
    text = rec.get("answer", "") if not abstained else ""
    scores: dict[str, Any] = {}
    why: list[str] = []

    if rec.get("error"):
        why.append(f"error: {rec['error']}")

    # retrieval (only when the suite names the expected sources)
    gold = rec.get("sources") or []
    retrieved = rec.get("retrieved") or []
    if answerable and gold and not rec.get("error"):
        ranked = [d["label"] or f"\x00{d['doc']}" for d in retrieved]
        scores.update(M.retrieval_scores(ranked, gold))
        ranks = [i for i, d in enumerate(retrieved, start=1) if d["relevant"]]
        if ranks:
            found = {d["label"] for d in retrieved if d["relevant"]}
            why.append(f"retrieval: expected source at rank {ranks[0]}"
                       + (f" ({len(found)} of {len(set(gold))} expected sources in the top {RANK_DEPTH})" if len(set(gold)) > 1 else ""))
        else:
            why.append(f"retrieval: no expected source ({', '.join(gold[:3])}) in the top {RANK_DEPTH}")

    # answers
    if answerable and answers:
        s = M.answer_scores(text, answers, all_required)
        scores.update(s)
        refs = M.references(answers, all_required)
        best_ref = max(refs, key=lambda r: M.token_f1(text, r)) if refs else ""
        passages = [c["passage"] for c in rec.get("citations", [])]
        supporting = [c["n"] for c in rec.get("citations", []) if M.citation_supports(c["passage"], answers)]
        if not abstained and not rec.get("error"):
            scores["citations"] = len(passages)
            scores["supporting_citations"] = len(supporting)
        scores["citation_found"] = float(M.citations_found_answer(passages, answers, all_required)) if not abstained else 0.0
        missing = M.missing_answers(text, answers) if all_required else []
        if abstained:
            outcome = "wrong_abstention"
            why.append(f"abstained, but an answer was expected ({_quote_list(answers)})")
        elif rec.get("error"):
            outcome = "error"
        elif s["containment"]:
            outcome = "correct"
            hit = [a for a in answers if M.contains_answer(text, [a])]
            why.append(("contains every required answer" if all_required else f"contains {_q(hit[0])}")
                       + f"; F1 {s['f1']:.2f} against {_q(best_ref)}" + ("; exact match" if s["em"] else ""))
        elif all_required and len(missing) < len(answers):
            outcome = "partial"
            why.append(f"has only some required answers: missing {_quote_list(missing)}; F1 {s['f1']:.2f}")
        else:
            outcome = "partial" if s["f1"] >= 0.5 else "wrong"
            why.append(f"no acceptable answer ({_quote_list(answers)}) in the answer; best F1 {s['f1']:.2f} against {_q(best_ref)}")
        if passages and not abstained:
            unsupported = [c["n"] for c in rec.get("citations", []) if c["n"] not in supporting]
            if supporting:
                why.append("citation " + ", ".join(f"[{n}]" for n in supporting) + " holds the answer"
                           + (f"; {', '.join(f'[{n}]' for n in unsupported)} does not" if unsupported else ""))
            else:
                why.append("no cited passage holds an expected answer")
        elif not abstained and not rec.get("error"):
            why.append("no citations")
    elif answerable:
        outcome = "error" if rec.get("error") else ("wrong_abstention" if abstained else "answered")
        why.append("no reference answers: only retrieval is scored" + ("; it abstained" if abstained else ""))
    else:
        if abstained:
            outcome = "correct_abstention"
            why.append("abstained, as it should: the documents don't answer this")
        elif rec.get("error"):
            outcome = "error"
        else:
            outcome = "missed_abstention"
            why.append("answered, but the documents don't answer this question; it should have abstained")
    rec["scores"] = scores
    rec["outcome"] = outcome
    rec["why"] = why
    top = max((d["score"] for d in retrieved), default=None)
    rec["top_score"] = top
    return rec


def _q(text: str, limit: int = 60) -> str:
    text = " ".join(str(text).split())
    return "'" + (text if len(text) <= limit else text[: limit - 1] + "…") + "'"


def _quote_list(items: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(_q(a) for a in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def aggregate_qa(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Suite-level metrics from scored question records (see ``results.QA_METRICS``)."""
    out: dict[str, Any] = {name: None for name in QA_METRICS}
    with_answers = [r for r in records if r.get("answerable", True) and r.get("answers")]
    with_sources = [r for r in records if "ndcg@10" in r.get("scores", {})]

    for name in ("hit@1", "hit@5", "hit@10", "recall@5", "recall@10", "mrr", "ndcg@10"):
        out[name] = M.mean(r["scores"][name] for r in with_sources)
    for name in ("em", "f1", "containment"):
        out[name] = M.mean(r["scores"][name] for r in with_answers)

    answered = [r for r in with_answers if "citations" in r["scores"]]
    cited = sum(r["scores"]["citations"] for r in answered)
    supporting = sum(r["scores"]["supporting_citations"] for r in answered)
    out["citation_precision"] = M.ratio(supporting, cited)
    out["citation_recall"] = M.mean(r["scores"]["citation_found"] for r in with_answers)

    counted = [r for r in records if not r.get("error")]
    out.update(M.abstention_metrics((r.get("answerable", True), r.get("abstained", False)) for r in counted))
    counts = M.abstention_counts((r.get("answerable", True), r.get("abstained", False)) for r in counted)

    out.update(M.latency_metrics([r["timings_ms"] for r in records if r.get("timings_ms")]))

    judged = [r for r in records if r.get("judge")]
    if judged:
        # Correctness over every judged answer; faithfulness over real answers (an abstention
        # claims nothing, so it is faithful by definition and would only inflate the figure).
        out["judge_correctness"] = M.mean(
            float(r["judge"]["correct"]) for r in judged if r["judge"].get("correct") is not None)
        out["judge_faithfulness"] = M.mean(
            float(r["judge"]["faithful"]) for r in judged
            if not r.get("abstained") and r["judge"].get("faithful") is not None)
        out["judge_unreadable"] = sum(
            1 for r in judged if r["judge"].get("correct") is None and r["judge"].get("faithful") is None)

    out["questions"] = len(records)
    out["answerable"] = counts["answerable"] + sum(1 for r in records if r.get("error") and r.get("answerable", True))
    out["unanswerable"] = counts["unanswerable"] + sum(1 for r in records if r.get("error") and not r.get("answerable", True))
    out["abstentions"] = counts["abstentions"]
    out["correct_abstentions"] = counts["correct_abstentions"]
    out["errors"] = sum(1 for r in records if r.get("error"))
    return out


def iter_outcomes(records: Iterable[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in records:
        counts[r.get("outcome", "?")] = counts.get(r.get("outcome", "?"), 0) + 1
    return counts
