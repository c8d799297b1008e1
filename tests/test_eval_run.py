"""Eval runs end to end on real parts: real Chroma, the real embedding model, the real answerer."""

import html
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.client import Assistant
from assistant.config import load_settings
from assistant.index.store import Store
from eval import run_suite
from eval.beir import run_beir
from eval.judge import LLMJudge, parse_verdict
from eval.results import QA_METRICS
from tests import quality_suite

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
       "TOKENIZERS_PARALLELISM": "false", "ASSISTANT_CONFIG": "/nonexistent/config.toml"}

QUESTIONS = quality_suite.QUESTIONS
ANSWERABLE = [q["id"] for q in QUESTIONS if q.get("answerable", True)]

# Floors for the per-question outcomes of the quality suite (tests/quality_suite.py), set below
# what the extractive default gets, so that a regression fails and a better answerer passes.
# Measured with the extractive default (evidence model of the restructure, 2dc7f56):
# 8 of 21 answerable questions answered correctly with a citation from the right document
# (the paraphrased wording defeats it on most of the others: it abstains), 0 answered from a
# near miss, 3 of 8 on-topic unanswerable questions abstained on, both off-topic ones; retrieval
# puts the expected document first for all 21.
FLOORS = {
    "correct_and_cited": 7,  # of 21
    "on_topic_abstentions": 2,  # of 8
    "retrieval_first": 18,  # of 21 (expected document ranked first)
}
CEILINGS = {"answered_from_a_near_miss": 1}  # answerable questions answered from another document


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval-corpus")
    quality_suite.write(root, "quality")
    return root


@pytest.fixture(scope="module")
def eval_data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("eval-data")


@pytest.fixture(scope="module")
def settings(eval_data_dir):
    return load_settings({"data_dir": eval_data_dir}, config_file="/nonexistent/config.toml")


@pytest.fixture(scope="module")
def first_run(corpus, settings, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    return run_suite(corpus / "quality.toml", settings=settings, out_dir=out), out


def test_run_writes_results_json_with_the_metric_names(first_run):
    results, out = first_run
    data = json.loads((out / "results.json").read_text())
    assert set(QA_METRICS) <= set(data["metrics"])
    assert len(data["questions"]) == len(QUESTIONS)
    assert data["metrics"]["questions"] == len(QUESTIONS)
    # The suite-level figures are the means of the per-question ones.
    records = data["questions"]
    for name in ("hit@5", "recall@10", "mrr"):
        per = [r["scores"][name] for r in records if name in r["scores"]]
        assert len(per) == len(ANSWERABLE) and data["metrics"][name] == pytest.approx(sum(per) / len(per), abs=1e-3)
    for name in ("containment", "f1"):
        per = [r["scores"][name] for r in records if r["answerable"]]
        assert data["metrics"][name] == pytest.approx(sum(per) / len(per), abs=1e-3)
    unanswerable = [r for r in records if not r["answerable"]]
    assert data["metrics"]["abstention_recall"] == pytest.approx(
        sum(r["abstained"] for r in unanswerable) / len(unanswerable), abs=1e-3)
    assert data["metrics"]["latency_p50_ms"] > 0
    assert data["metrics"]["latency_retrieval_p50_ms"] > 0 and data["metrics"]["latency_answer_p50_ms"] > 0
    ingest = data["info"]["ingest"]
    # Every corpus file indexed, by this run or (in a shuffled order) by an earlier test of the module.
    assert ingest["added"] + ingest["unchanged"] == len(quality_suite.DOCS) and ingest["skipped"] == 0


def test_per_question_records_are_consistent_with_the_answers(first_run):
    from eval.metrics import contains_all, contains_answer

    results, _ = first_run
    by_id = {q["id"]: q for q in results.questions}
    for q in results.questions:
        assert q["outcome"] and q["why"]
        assert q["timings_ms"]["total"] > 0
        if q["answerable"]:
            text = "" if q["abstained"] else q["answer"]
            expected = contains_all(text, q["answers"]) if q["all_required"] else contains_answer(text, q["answers"])
            assert q["scores"]["containment"] == float(expected)
            assert (q["outcome"] == "correct") == expected
        else:
            assert q["outcome"] == ("correct_abstention" if q["abstained"] else "missed_abstention")
        for c in q["citations"]:
            assert c["passage"] and c["source"].endswith((".txt", ".md"))
    # the follow-up went through the conversation: retrieval used the earlier question
    follow = by_id["keldur-follow-up"]
    assert "Keldur" in follow["standalone_question"]
    assert len(follow["earlier_answers"]) == 1


def _table(records) -> str:
    """The per-question outcomes, for a failure message."""
    return "\n".join(f"  {r['id']:<20} {r['outcome']:<19} {r['answer'][:90]!r}" for r in records)


def _cited_sources(rec) -> set[str]:
    return {Path(c["source"]).name for c in rec["citations"]}


def test_retrieval_ranks_each_expected_document_among_its_near_misses(first_run):
    """Every answerable question's document is in the top 5 of 12, where its near miss (the
    other lighthouse, the other bakery...) shares most of its words; most are first."""
    results, _ = first_run
    first = []
    for rec in (r for r in results.questions if r["answerable"]):
        ranks = {d["label"]: i for i, d in enumerate(rec["retrieved"], start=1) if d["relevant"]}
        for source in rec["sources"]:
            assert ranks.get(source, 99) <= 5, (rec["id"], source, [d["source"] for d in rec["retrieved"][:5]])
        assert rec["scores"]["hit@5"] == 1.0
        if min(ranks.values()) == 1:
            first.append(rec["id"])
    assert len(first) >= FLOORS["retrieval_first"], first


def test_answer_outcomes_per_question_meet_the_floors(first_run):
    """Per question: answered with the expected answer, cited from the document that holds it;
    an on-topic question the documents don't answer abstained on; off-topic ones always."""
    results, _ = first_run
    recs = {r["id"]: r for r in results.questions}
    table = _table(results.questions)
    correct_and_cited, near_miss = [], []
    for qid in ANSWERABLE:
        rec = recs[qid]
        if rec["abstained"]:
            assert rec["outcome"] == "wrong_abstention" and not rec["citations"]
            continue
        cited = _cited_sources(rec)
        assert cited, (qid, rec["answer"])  # an answer always cites
        if not cited & set(rec["sources"]):
            near_miss.append(qid)
        holding = [c for c in rec["citations"] if Path(c["source"]).name in rec["sources"]
                   and any(a.lower() in c["passage"].lower() for a in rec["answers"])]
        if rec["outcome"] == "correct" and holding:
            correct_and_cited.append(qid)
    assert len(correct_and_cited) >= FLOORS["correct_and_cited"], f"{correct_and_cited}\n{table}"
    assert len(near_miss) <= CEILINGS["answered_from_a_near_miss"], f"{near_miss}\n{table}"

    on_topic = [qid for qid in quality_suite.ON_TOPIC_UNANSWERABLE if recs[qid]["abstained"]]
    assert len(on_topic) >= FLOORS["on_topic_abstentions"], f"{on_topic}\n{table}"
    for qid in quality_suite.OFF_TOPIC:
        assert recs[qid]["outcome"] == "correct_abstention", f"{qid}\n{table}"
    for rec in results.questions:  # what an abstention looks like, whatever was asked
        if rec["abstained"]:
            assert not rec["citations"] and rec["related"] and rec["answer"].startswith("The documents don't say")


def test_report_html_has_plots_table_and_escapes_text(first_run):
    results, out = first_run
    page = (out / "report.html").read_text()
    assert page.count("<svg") >= 4  # outcomes, F1, cosine, latency (+ stages)
    assert "Latency per question" in page and "Token F1" in page
    assert "<script>alert" not in page  # the question's markup is shown, not run
    assert html.escape("<script>alert('x')</script>", quote=True) in page
    for q in results.questions:
        assert html.escape(q["question"], quote=True) in page
        for w in q["why"]:
            assert html.escape(w, quote=True) in page
    assert page.count('<tr class="row"') == len(QUESTIONS)


def test_rerun_is_incremental_and_keeps_evals_out_of_user_collections(first_run, corpus, settings, eval_data_dir):
    again = run_suite(corpus / "quality.toml", settings=settings, limit=2)
    assert again.info["ingest"]["chunks_written"] == 0 and again.info["ingest"]["unchanged"] == len(quality_suite.DOCS)
    assert len(again.questions) == 2
    assert again.info["data_dir"] == str(eval_data_dir / "eval")
    assert again.info["collection"] == "eval-quality"
    # nothing was written to the user's own store
    assert Store(settings).collection_names() == []


def test_suite_without_corpus_is_asked_of_an_existing_collection(corpus, settings, tmp_path):
    own = settings.replace(data_dir=tmp_path / "data")  # a user's store of its own: the module's stays empty
    Assistant(own.replace(collection="notes")).ingest([corpus / "docs" / "mount-keldur.txt"])
    results = run_suite(corpus / "questions.jsonl", settings=own, collection="notes", sample=3, seed=4)
    assert results.info["collection"] == "notes" and results.info["data_dir"] == str(own.data_dir)
    assert len(results.questions) == 3
    assert Store(own).collection_names() == ["notes"]
    assert [d.source for d in Assistant(own.replace(collection="notes")).sources()][0].endswith("mount-keldur.txt")
    from assistant.errors import CollectionNotFound

    with pytest.raises(CollectionNotFound, match="'nothing-here' does not exist"):
        run_suite(corpus / "questions.jsonl", settings=own, collection="nothing-here")


def test_corpus_option_indexes_into_a_collection_of_its_own(corpus, settings, eval_data_dir):
    results = run_suite(corpus / "questions.jsonl", corpus=[corpus / "docs" / "corner-bakery.md"], settings=settings, limit=3)
    assert results.info["collection"].startswith("eval-questions-")
    assert results.info["data_dir"] == str(eval_data_dir / "eval")
    assert results.info["ingest"]["added"] == 1
    # only the Corner Bakery is in that index: the lighthouse questions cannot find their source
    assert [q["scores"]["hit@5"] for q in results.questions] == [0.0, 0.0, 1.0]


def test_judge_plumbing_with_a_fake_judge(corpus, settings, tmp_path):
    """The point is the plumbing (prompt, parsing, aggregation, report), not the model."""
    settings = settings.replace(data_dir=tmp_path / "data")  # the module's index is first_run's to make
    prompts = []

    def complete(prompt: str) -> str:
        prompts.append(prompt)
        answer = prompt.split("<<<ANSWER", 1)[1].split("ANSWER>>>", 1)[0]
        refs = prompt.split("<<<REFERENCE ANSWERS", 1)[1].split("REFERENCE ANSWERS>>>", 1)[0]
        correct = any(r.strip("- \n") and r.strip("- \n") in answer for r in refs.splitlines())
        return f'Sure. {{"correct": {str(correct).lower()}, "faithful": true, "reason": "fake"}}'

    judge = LLMJudge(complete, name="fake")
    results = run_suite(corpus / "quality.toml", settings=settings, judge=judge, limit=4)
    assert len(prompts) == 4
    assert QUESTIONS[0]["question"] in prompts[0]
    assert "- 1874" in prompts[0]
    assert "{{" not in prompts[0]
    judged = [q["judge"] for q in results.questions]
    expected = sum(q["judge"]["correct"] for q in results.questions) / 4
    assert results.metrics["judge_correctness"] == pytest.approx(expected)
    assert all(j["reason"] == "fake" for j in judged)
    results.write(settings.data_dir / "judged")
    page = (settings.data_dir / "judged" / "report.html").read_text()
    assert "judge_correctness" in page and "judge: correct=" in page


def test_parse_verdict_variants():
    v = parse_verdict('{"correct": true, "faithful": false, "reason": "r"}')
    assert (v.correct, v.faithful, v.reason) == (True, False, "r")
    v = parse_verdict("correct: yes\nfaithful: no")
    assert (v.correct, v.faithful) == (True, False)
    v = parse_verdict("I think it is fine.")
    assert v.correct is None and v.faithful is None and "could not be read" in v.reason


def test_local_judge_runs_the_packaged_model():
    from tests import requires

    requires.module("llama_cpp")
    from eval.judge import JudgeInput, completer_for

    judge = LLMJudge(completer_for("local", max_tokens=12), name="local")
    v = judge.judge(JudgeInput("When was the lighthouse built?", "It was built in 1874 [1].", False,
                               ["The lighthouse was built in 1874."], ["1874"]))
    assert v.raw.strip()  # the model answered; whether a 135M model grades well is not the point


def test_judge_backend_unreachable_is_a_readable_error():
    from assistant.errors import BackendError
    from eval.judge import completer_for

    complete = completer_for("openai:some-model@http://127.0.0.1:9/v1", timeout=3)
    with pytest.raises(BackendError, match="cannot reach http://127.0.0.1:9/v1/chat/completions"):
        complete("hello")


# --- BEIR end to end --------------------------------------------------------------------------

def write_beir(root: Path) -> Path:
    d = root / "mini-beir"
    (d / "qrels").mkdir(parents=True)
    docs = {
        "d1": ("Aspirin and heart attacks", "Daily low-dose aspirin reduces the risk of a first heart attack in older adults."),
        "d2": ("Vitamin D and bones", "Vitamin D supplements increase bone mineral density in postmenopausal women."),
        "d3": ("Sleep and memory", "Deep sleep consolidates declarative memory in young adults."),
        "d4": ("Coffee and liver", "Coffee consumption is associated with a lower risk of liver cirrhosis."),
        "d5": ("Exercise and depression", "Aerobic exercise reduces symptoms of mild depression."),
        "d6": ("Salt and blood pressure", "Reducing dietary sodium lowers blood pressure in hypertensive patients."),
    }
    (d / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": k, "title": t, "text": x, "metadata": {}}) + "\n" for k, (t, x) in docs.items()))
    queries = {"q1": "Aspirin prevents heart attacks.", "q2": "Vitamin D makes bones denser.",
               "q3": "Sleep helps memory.", "q4": "Coffee protects the liver from cirrhosis."}
    (d / "queries.jsonl").write_text("".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in queries.items()))
    (d / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\td3\t1\n")
    (d / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\nq4\td4\t1\n")
    return d


def test_beir_benchmark_scores_each_retrieval_mode(tmp_path, settings):
    d = write_beir(tmp_path)
    s = settings.replace(data_dir=tmp_path / "beir-data", collection="eval-beir-mini")
    results = run_beir(d, "test", settings=s, out_dir=tmp_path / "out")
    m = results.metrics
    assert results.kind == "beir" and len(results.questions) == 3
    for mode in ("dense", "keyword", "fused"):
        # six unrelated abstracts: every mode puts the cited one first
        assert m[f"{mode}.ndcg@10"] == pytest.approx(1.0), mode
        assert m[f"{mode}.recall@10"] == 1.0
        assert m[f"{mode}.latency_p50_ms"] > 0
    assert m["ndcg@10"] == m["fused.ndcg@10"]
    train = run_beir(d, "train", settings=s)
    assert [q["id"] for q in train.questions] == ["q4"] and train.info["ingest"]["chunks_written"] == 0
    page = (tmp_path / "out" / "report.html").read_text()
    assert "nDCG@10 by mode" in page and "BM25" in page
    assert json.loads((tmp_path / "out" / "results.json").read_text())["metrics"]["keyword.ndcg@10"] == 1.0


# --- the command line ---------------------------------------------------------------------------

def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "assistant", "eval", *args], capture_output=True, text=True,
                          env=ENV, cwd=cwd or ROOT, timeout=900)


@pytest.mark.slow
def test_sample_article_suite_passes_its_gate(tmp_path):
    """The shipped suite through `assistant eval`, gated at honest thresholds a little below what
    the extractive default scores (see the closing note of the eval issue)."""
    out = tmp_path / "out"
    # Measured with the extractive default (evidence model of c225e66): containment 0.842 (16 of
    # 19), citation recall 0.895, F1 0.244, abstention recall 0.857 (6 of 7), precision 0.75,
    # hit@5 1.0. Each floor allows about one or two questions to go the other way; move them
    # deliberately when the answerer changes.
    gates = ["containment=0.7", "citation_precision=0.9", "citation_recall=0.75", "abstention_recall=0.7",
             "abstention_precision=0.6", "hit@5=0.95", "f1=0.2"]
    args = ["sample-article", "--data-dir", str(tmp_path / "data"), "--out", str(out), "--json"]
    for g in gates:
        args += ["--fail-under", g]
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    printed = json.loads(proc.stdout)
    assert printed["gates"]["failures"] == []
    saved = json.loads((out / "results.json").read_text())
    assert saved["metrics"]["containment"] == printed["metrics"]["containment"]
    assert (out / "report.html").exists()
    assert saved["metrics"]["questions"] >= 15


def test_fail_under_gate_exits_non_zero_with_a_message(tmp_path, corpus, capsys):
    """Through the command's entry point in-process (the subprocess path is covered above)."""
    from assistant.cli import main
    from eval.results import fmt

    data = tmp_path / "data"
    base = [str(corpus / "quality.toml"), "--data-dir", str(data)]
    assert main(["eval", *base, "--out", str(tmp_path / "a"), "--json", "--fail-under", "hit@5=0.9"]) == 0
    got = json.loads(capsys.readouterr().out)["metrics"]
    above = round(got["containment"] + 0.05, 3)
    floor = round(got["abstention_recall"] - 0.01, 3) if got["abstention_recall"] else 0.0
    code = main(["eval", *base, "--out", str(tmp_path / "b"), "-q",
                 "--fail-under", f"containment={above}", "--fail-under", f"abstention_recall={floor}"])
    err = capsys.readouterr().err
    assert code == 3, err
    assert f"FAILED: containment = {fmt(got['containment'])} is below the required {above:g}" in err
    assert "abstention_recall" not in err  # that gate passed
    assert (tmp_path / "b" / "results.json").exists()  # the reports are written either way


def test_cli_errors_are_one_line(tmp_path, corpus):
    proc = run_cli("no-such-suite", "--data-dir", str(tmp_path))
    assert proc.returncode == 1 and proc.stderr.startswith("error: no suite 'no-such-suite'")
    assert "Traceback" not in proc.stderr
    proc = run_cli(str(corpus / "quality.toml"), "--data-dir", str(tmp_path), "--fail-under", "latency_p95_ms=100")
    assert proc.returncode == 1 and "use --fail-over latency_p95_ms=100" in proc.stderr
    proc = run_cli(str(corpus / "quality.toml"), "--data-dir", str(tmp_path), "--limit", "1", "--fail-under", "F1=0.5")
    assert proc.returncode == 1 and "unknown metric 'F1'" in proc.stderr


def test_judge_http_backends_speak_their_protocols():
    """The point is the wire protocol of the two HTTP judges (a real model is issue 3's business)."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from eval.judge import completer_for

    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.path, body, self.headers.get("Authorization")))
            verdict = '{"correct": true, "faithful": true, "reason": "ok"}'
            if self.path == "/v1/chat/completions":
                reply = {"choices": [{"message": {"role": "assistant", "content": verdict}}]}
            elif self.path == "/api/chat":
                reply = {"message": {"role": "assistant", "content": verdict}, "done": True}
            else:
                self.send_response(404)
                self.end_headers()
                return
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        openai = LLMJudge(completer_for(f"openai:judge-model@{base}/v1"))
        ollama = LLMJudge(completer_for(f"ollama:judge-model@{base}"))
        from eval.judge import JudgeInput

        item = JudgeInput("Q?", "A [1]", False, ["passage"], ["A"])
        assert openai.judge(item).correct is True
        assert ollama.judge(item).faithful is True
    finally:
        server.shutdown()
    (p1, b1, _), (p2, b2, _) = seen
    assert p1 == "/v1/chat/completions" and b1["model"] == "judge-model" and b1["temperature"] == 0
    assert b1["messages"][0]["role"] == "user" and "<<<ANSWER\nA [1]\nANSWER>>>" in b1["messages"][0]["content"]
    assert p2 == "/api/chat" and b2["stream"] is False and b2["model"] == "judge-model"
