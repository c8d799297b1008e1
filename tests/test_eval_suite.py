"""Loading eval suites (JSONL, TOML, YAML, shipped), the SQuAD converter and the BEIR loader."""

import json
from pathlib import Path

import pytest

from eval import beir, squad
from eval.datasets import DataNotFound
from eval.suite import SuiteError, load_suite, pick, shipped_suites
from tests import requires


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_jsonl_suite_with_defaults(tmp_path):
    p = write_jsonl(tmp_path / "qs.jsonl", [
        {"id": "a", "question": "How many?", "answers": ["three"], "sources": ["doc.txt"]},
        {"question": "Capital of Mars?", "answerable": False},
        {"id": "c", "question": "And then?", "answers": ["x", "y"], "all_required": True, "turns": ["First?"], "note": "kept"},
    ])
    s = load_suite(p)
    assert s.name == "qs" and not s.has_corpus
    a, b, c = s.questions
    assert a.answerable and a.answers == ["three"] and a.sources == ["doc.txt"] and not a.all_required
    assert b.id == "q2" and not b.answerable and b.answers == []
    assert c.all_required and c.turns == ["First?"] and c.extra == {"note": "kept"}
    assert c.to_dict()["note"] == "kept"


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"answers": ["x"]}', '"question" must be a non-empty string'),
        ('{"question": "q", "answers": "x", "answerable": "yes"}', '"answerable" must be true or false'),
        ('{"question": "q", "answers": [1]}', '"answers" must be a list of strings'),
        ('{"question": "q", "answerable": false, "answers": ["x"]}', "cannot list answers"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_bad_question_lines_name_the_line(tmp_path, line, message):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"question": "fine", "answers": ["a"]}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(SuiteError) as err:
        load_suite(p)
    assert f"{p}:2" in str(err.value) and message in str(err.value)


def test_duplicate_ids_and_empty_files_are_refused(tmp_path):
    p = write_jsonl(tmp_path / "dup.jsonl", [{"id": "x", "question": "a"}, {"id": "x", "question": "b"}])
    with pytest.raises(SuiteError, match="duplicate question id 'x'"):
        load_suite(p)
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(SuiteError, match="holds no questions"):
        load_suite(tmp_path / "empty.jsonl")


def test_toml_and_yaml_suite_files_resolve_paths_relative_to_themselves(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Alpha.")
    write_jsonl(tmp_path / "q.jsonl", [{"question": "What?", "answers": ["Alpha"]}])
    (tmp_path / "s.toml").write_text('name = "mine"\ncorpus = "docs"\nquestions = "q.jsonl"\n')
    (tmp_path / "s.yaml").write_text("name: mine-yaml\ncorpus: [docs/a.txt]\nquestions: q.jsonl\n")
    t = load_suite(tmp_path / "s.toml")
    y = load_suite(tmp_path / "s.yaml")
    assert t.name == "mine" and t.corpus_paths == [tmp_path / "docs"] and len(t.questions) == 1
    assert y.name == "mine-yaml" and y.corpus_paths == [tmp_path / "docs" / "a.txt"]


def test_suite_file_errors_are_readable(tmp_path):
    (tmp_path / "typo.toml").write_text('name = "x"\nquestion = "q.jsonl"\n')
    with pytest.raises(SuiteError, match="unknown key.*question"):
        load_suite(tmp_path / "typo.toml")
    (tmp_path / "gone.toml").write_text('corpus = "nowhere"\nquestions = "q.jsonl"\n')
    with pytest.raises(SuiteError, match="corpus path.*not found"):
        load_suite(tmp_path / "gone.toml")
    (tmp_path / "broken.toml").write_text("name = \n")
    with pytest.raises(SuiteError, match="cannot parse"):
        load_suite(tmp_path / "broken.toml")
    with pytest.raises(SuiteError, match="no suite 'nonexistent'.*sample-article"):
        load_suite("nonexistent")


def test_shipped_sample_article_suite():
    s = load_suite("sample-article")
    assert "sample-article" in shipped_suites()
    assert len(s.questions) >= 15
    assert [p.name for p in s.corpus_paths] == ["us-strikes-iran-militias.txt"]
    assert all(p.exists() for p in s.corpus_paths)
    unanswerable = [q for q in s.questions if not q.answerable]
    follow_ups = [q for q in s.questions if q.turns]
    assert len(unanswerable) >= 4 and len(follow_ups) >= 2
    assert any(q.all_required for q in s.questions)
    # honest: the article holds an acceptable answer of every answerable question (all of them
    # for all_required ones)
    article = s.corpus_paths[0].read_text(encoding="utf-8")
    from eval.metrics import contains_all, contains_answer

    for q in s.questions:
        if q.answerable:
            holds = contains_all(article, q.answers) if q.all_required else contains_answer(article, q.answers)
            assert holds, q.id


def test_pick_limit_and_seeded_sample():
    items = list(range(100))
    assert pick(items, limit=3) == [0, 1, 2]
    a = pick(items, sample=10, seed=1)
    assert a == pick(items, sample=10, seed=1) and a != pick(items, sample=10, seed=2)
    assert a == sorted(a) and len(set(a)) == 10
    assert pick(items, sample=500) == items
    with pytest.raises(SuiteError):
        pick(items, limit=0)


# --- SQuAD -------------------------------------------------------------------------------------

def tiny_squad(tmp_path: Path, n_articles: int = 13) -> Path:
    d = tmp_path / "squad"
    d.mkdir()
    passages, qa = [], []
    for i in range(n_articles):
        pid = f"p{i:04d}"
        passages.append({"_id": pid, "title": f"Article_{i + 1}", "text": f"Article {i + 1} was written in {1900 + i}."})
        qa.append({"id": f"a{i}", "question": f"When was article {i + 1} written?", "passage_id": pid,
                   "title": f"Article_{i + 1}", "is_impossible": False, "answers": [str(1900 + i), str(1900 + i), f"in {1900 + i}"],
                   "answer_starts": [0, 0, 0]})
        qa.append({"id": f"u{i}", "question": f"Who wrote article {i + 1}?", "passage_id": pid, "title": f"Article_{i + 1}",
                   "is_impossible": True, "answers": [], "answer_starts": [], "plausible_answers": ["nobody"]})
    write_jsonl(d / "passages.jsonl", passages)
    write_jsonl(d / "qa.jsonl", qa)
    return d


def test_squad_article_ranges():
    assert squad.parse_articles("1-11", 16) == list(range(11))
    assert squad.parse_articles("12-16", 16) == [11, 12, 13, 14, 15]
    assert squad.parse_articles("12-", 16) == [11, 12, 13, 14, 15]
    assert squad.parse_articles("tune", 16) == list(range(11))
    assert squad.parse_articles("report", 16) == [11, 12, 13, 14, 15]
    assert squad.parse_articles("1-2,5", 16) == [0, 1, 4]
    for bad in ("0-3", "5-2", "1-17", "x"):
        with pytest.raises(ValueError):
            squad.parse_articles(bad, 16)


def test_squad_converter_writes_a_runnable_suite(tmp_path):
    d = tiny_squad(tmp_path)
    out = tmp_path / "out"
    assert squad.main(["convert", "--squad", str(d), "--articles", "12-13", "--out", str(out)]) == 0
    qs = [json.loads(line) for line in (out / "questions.jsonl").open()]
    assert [q["id"] for q in qs] == ["a11", "u11", "a12", "u12"]
    assert qs[0]["answers"] == ["1911", "in 1911"]  # duplicates dropped, order kept
    assert qs[0]["sources"] == ["p0011"] and qs[0]["answerable"]
    assert not qs[1]["answerable"] and qs[1]["answers"] == [] and qs[1]["plausible_answers"] == ["nobody"]
    assert sum(1 for _ in (out / "corpus.jsonl").open()) == 13  # retrieval over every passage
    suite = load_suite(out / "suite.toml")
    assert len(suite.questions) == 4 and suite.corpus_records is not None
    assert len(list(suite.corpus_records())) == 13


def test_squad_suite_section(tmp_path):
    d = tiny_squad(tmp_path)
    (tmp_path / "s.toml").write_text(f'name = "sq"\n[squad]\ndir = "{d}"\narticles = "tune"\ncorpus_articles = "1-11"\n')
    s = load_suite(tmp_path / "s.toml")
    assert len(s.questions) == 22 and s.corpus_key == "squad2-dev-1-11"
    assert len(list(s.corpus_records())) == 11
    (tmp_path / "bad.toml").write_text(f'[squad]\ndir = "{d}"\narticles = "1-40"\n')
    with pytest.raises(SuiteError, match="outside"):
        load_suite(tmp_path / "bad.toml")


def test_squad_data_not_found_is_a_readable_error(tmp_path):
    with pytest.raises(DataNotFound, match="passages.jsonl is missing"):
        squad.find_dir(tmp_path)


def test_shipped_squad_suites_split_the_real_data_by_article():
    directory = requires.eval_data(squad.find_dir)
    tune = load_suite("squad-tune")
    report = load_suite("squad-report")
    # counts from the data's README: the first 11 articles hold 1,910 answerable questions
    assert sum(q.answerable for q in tune.questions) == 1910
    assert len(tune.questions) + len(report.questions) == 6078
    titles = squad.articles(directory)
    assert {q.extra["title"] for q in tune.questions} == set(titles[:11])
    assert {q.extra["title"] for q in report.questions} == set(titles[11:])
    assert tune.corpus_key == report.corpus_key  # one index for both


# --- BEIR --------------------------------------------------------------------------------------

def test_the_reworded_suites_hold_tune_questions_in_new_words_and_keep_the_unanswerable_ones():
    directory = requires.eval_data(squad.find_dir)
    original = {q.id: q for q in squad.questions(directory, "all")}
    titles = squad.articles(directory)
    para, reworded = load_suite("squad-paraphrased"), load_suite("squad-reworded")
    assert (len(para.questions), len(reworded.questions)) == (48, 180)
    for suite, articles in ((para, titles[:11]), (reworded, titles[9:11])):
        for q in suite.questions:
            source = original[q.id.rsplit("-", 1)[0]]
            assert source.title in articles, q.id  # never a report article
            assert q.question != source.question and q.answerable == source.answerable
            assert (q.answers, q.sources) == ((source.answers, [source.passage_id]) if source.answerable else ([], []))
    assert sum(not q.answerable for q in reworded.questions) == 60
    # the calibration set is apart from the 48 it is checked against
    assert not {q.id.rsplit("-", 1)[0] for q in para.questions} & {q.id.rsplit("-", 1)[0] for q in reworded.questions}
    assert reworded.corpus_key == para.corpus_key == "squad2-dev-all"


def test_beir_loader_reads_gzip_corpus_and_splits(tmp_path):
    import gzip

    d = tmp_path / "b"
    (d / "qrels").mkdir(parents=True)
    with gzip.open(d / "corpus.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"_id": "d1", "title": "T", "text": "x"}) + "\n")
    write_jsonl(d / "queries.jsonl", [{"_id": "1", "text": "q one"}, {"_id": "2", "text": "q two"}])
    (d / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\td1\t1\n1\td2\t2\n")
    (d / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\n2\td1\t1\n")
    assert list(beir.load_corpus(d)) == [{"id": "d1", "title": "T", "text": "x"}]
    assert beir.load_qrels(d, "test") == {"1": {"d1": 1.0, "d2": 2.0}}
    assert beir.splits(d) == ["test", "train"]
    with pytest.raises(SuiteError, match="no split 'dev'.*test, train"):
        beir.load_qrels(d, "dev")
    with pytest.raises(SuiteError, match="not a BEIR directory"):
        beir.find_dir(tmp_path)


def test_shipped_scifact_suites_point_at_the_shared_data():
    requires.eval_data(lambda: beir.find_dir(None))
    test = load_suite("scifact-test")
    train = load_suite("scifact-train")
    assert test.beir.split == "test" and train.beir.split == "train"
    assert len(beir.load_qrels(test.beir.dir, "test")) == 300
    assert len(beir.load_qrels(train.beir.dir, "train")) == 809
    assert test.corpus_key == train.corpus_key == "beir-scifact"
