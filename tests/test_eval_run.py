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

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
       "TOKENIZERS_PARALLELISM": "false", "ASSISTANT_CONFIG": "/nonexistent/config.toml"}

DOCS = {
    "lighthouse.txt": (
        "The Skerry Point lighthouse was built in 1874 by the engineer Margaret Olsen. "
        "Its lamp can be seen from 22 nautical miles away. "
        "The keeper's cottage now houses a small museum about shipwrecks on the coast."
    ),
    "bakery.md": (
        "# The Corner Bakery\n\nThe Corner Bakery opened in 1962 on Mill Street. "
        "Its best-known loaf is a rye sourdough that proofs for eighteen hours. "
        "The bakery closes every Monday so the ovens can be cleaned."
    ),
    "volcano.txt": (
        "Mount Keldur is a shield volcano in the north of the island. "
        "Its last eruption, in 1913, sent lava flows eleven kilometres to the sea. "
        "Geologists monitor the volcano with nine seismometers."
    ),
}

QUESTIONS = [
    {"id": "year-built", "question": "When was the Skerry Point lighthouse built?", "answers": ["1874"], "sources": ["lighthouse.txt"]},
    {"id": "builder", "question": "Who built the Skerry Point lighthouse?", "answers": ["Margaret Olsen"], "sources": ["lighthouse.txt"]},
    {"id": "proof", "question": "How long does the rye sourdough proof?", "answers": ["eighteen hours", "18 hours"], "sources": ["bakery.md"]},
    {"id": "eruption", "question": "When did Mount Keldur last erupt?", "answers": ["1913"], "sources": ["volcano.txt"]},
    {"id": "follow", "question": "How far did its lava flow?", "turns": ["When did Mount Keldur last erupt?"],
     "answers": ["eleven kilometres"], "sources": ["volcano.txt"]},
    {"id": "both", "question": "When did the bakery open and when was the lighthouse built?", "answers": ["1962", "1874"],
     "all_required": True, "sources": ["bakery.md", "lighthouse.txt"]},
    {"id": "off-topic", "question": "What is the boiling point of mercury?", "answerable": False},
    {"id": "markup", "question": "<script>alert('x')</script> What is the capital of Peru?", "answerable": False},
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval-corpus")
    docs = root / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    (root / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS), encoding="utf-8")
    (root / "tiny.toml").write_text('name = "tiny"\ncorpus = ["docs"]\nquestions = "questions.jsonl"\n')
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
    return run_suite(corpus / "tiny.toml", settings=settings, out_dir=out), out


def test_run_writes_results_json_with_the_metric_names(first_run):
    results, out = first_run
    data = json.loads((out / "results.json").read_text())
    assert set(QA_METRICS) <= set(data["metrics"])
    assert len(data["questions"]) == len(QUESTIONS)
    assert data["metrics"]["questions"] == len(QUESTIONS)
    # the small, distinct documents are found: matching sources by file name works
    assert data["metrics"]["hit@5"] == 1.0
    assert data["metrics"]["recall@10"] == 1.0
    for name in ("em", "f1", "containment", "citation_recall", "abstention_recall"):
        assert 0.0 <= data["metrics"][name] <= 1.0
    assert data["metrics"]["latency_p50_ms"] > 0
    assert data["metrics"]["latency_retrieval_p50_ms"] > 0 and data["metrics"]["latency_answer_p50_ms"] > 0
    assert data["info"]["ingest"]["added"] == 3


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
    follow = by_id["follow"]
    assert "Keldur" in follow["standalone_question"]
    assert len(follow["earlier_answers"]) == 1


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
    again = run_suite(corpus / "tiny.toml", settings=settings, limit=2)
    assert again.info["ingest"]["chunks_written"] == 0 and again.info["ingest"]["unchanged"] == 3
    assert len(again.questions) == 2
    assert again.info["data_dir"] == str(eval_data_dir / "eval")
    assert again.info["collection"] == "eval-tiny"
    # nothing was written to the user's own store
    assert Store(settings).collection_names() == []


def test_suite_without_corpus_is_asked_of_an_existing_collection(corpus, settings, eval_data_dir):
    Assistant(settings.replace(collection="notes")).ingest([corpus / "docs" / "volcano.txt"])
    results = run_suite(corpus / "questions.jsonl", settings=settings, collection="notes", sample=3, seed=4)
    assert results.info["collection"] == "notes" and results.info["data_dir"] == str(eval_data_dir)
    assert len(results.questions) == 3
    assert Store(settings).collection_names() == ["notes"]
    assert [d.source for d in Assistant(settings.replace(collection="notes")).sources()][0].endswith("volcano.txt")
    from assistant.errors import CollectionNotFound

    with pytest.raises(CollectionNotFound, match="'nothing-here' does not exist"):
        run_suite(corpus / "questions.jsonl", settings=settings, collection="nothing-here")


def test_corpus_option_indexes_into_a_collection_of_its_own(corpus, settings, eval_data_dir):
    results = run_suite(corpus / "questions.jsonl", corpus=[corpus / "docs" / "bakery.md"], settings=settings, limit=3)
    assert results.info["collection"].startswith("eval-questions-")
    assert results.info["data_dir"] == str(eval_data_dir / "eval")
    assert results.info["ingest"]["added"] == 1
    # only the bakery is in that index: the lighthouse questions cannot find their source
    assert [q["scores"]["hit@5"] for q in results.questions] == [0.0, 0.0, 1.0]


def test_judge_plumbing_with_a_fake_judge(corpus, settings):
    """The point is the plumbing (prompt, parsing, aggregation, report), not the model."""
    prompts = []

    def complete(prompt: str) -> str:
        prompts.append(prompt)
        answer = prompt.split("<<<ANSWER", 1)[1].split("ANSWER>>>", 1)[0]
        refs = prompt.split("<<<REFERENCE ANSWERS", 1)[1].split("REFERENCE ANSWERS>>>", 1)[0]
        correct = any(r.strip("- \n") and r.strip("- \n") in answer for r in refs.splitlines())
        return f'Sure. {{"correct": {str(correct).lower()}, "faithful": true, "reason": "fake"}}'

    judge = LLMJudge(complete, name="fake")
    results = run_suite(corpus / "tiny.toml", settings=settings, judge=judge, limit=4)
    assert len(prompts) == 4
    assert "When was the Skerry Point lighthouse built?" in prompts[0]
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
    pytest.importorskip("llama_cpp")
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
    base = [str(corpus / "tiny.toml"), "--data-dir", str(data)]
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
    proc = run_cli(str(corpus / "tiny.toml"), "--data-dir", str(tmp_path), "--fail-under", "latency_p95_ms=100")
    assert proc.returncode == 1 and "use --fail-over latency_p95_ms=100" in proc.stderr
    proc = run_cli(str(corpus / "tiny.toml"), "--data-dir", str(tmp_path), "--limit", "1", "--fail-under", "F1=0.5")
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
