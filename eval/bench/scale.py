"""Scale benchmark: a ~100k-chunk collection built, re-ingested and queried for real.

    .venv/bin/python -m eval.bench.scale                          # 100k chunks, embedded Chroma
    .venv/bin/python -m eval.bench.scale --chunks 5000            # quick: about 1-2 minutes
    .venv/bin/python -m eval.bench.scale --server --chunks 20000  # starts `chroma run` itself
    .venv/bin/python -m eval.bench.scale --chroma-url http://127.0.0.1:8000 --chunks 20000
    .venv/bin/python -m eval.bench.scale --synthetic --chunks 1500   # generated text, no eval data

How the collection is made (quote this with any figure from it):

- The base is real text, ingested for real: the SciFact corpus (5,183 abstracts) and the SQuAD
  2.0 dev passages (646), written as Markdown files (title in front matter) and ingested with
  ``Ingestor.ingest_paths``: read, chunked, embedded with the default encoder, written to Chroma.
  Below 4x the base's size only part of the base is used (a quarter of the target, chosen so
  the questions' documents are in it). ``--synthetic`` generates the base instead (fictional
  towns with dates, founders and exports), so the benchmark runs without the eval data.
- The rest are perturbed copies of base documents, as separate files with their own paths and
  titles ("copy 7 of <title>"): about 5% of the words dropped and 3% of adjacent pairs swapped.
  Embedding ~100k chunks would take hours on this machine, so a copy's chunk vectors are NOT
  encoded: each is its base document's chunk vector at the same position plus Gaussian noise
  (``--noise``, per dimension), renormalised. Everything else is real and goes through the same
  pipeline a user's ingest does (discovery, reading, hashing, chunking, the manifest, Chroma
  writes, generations): only ``Ingestor.embed_chunks`` is overridden, to look vectors up.
- Base vectors are cached in ``<data-dir>/base-vectors.npz`` and the built collection under
  ``<data-dir>/<mode>-<source>-<chunks>/``, so re-runs skip the build (``--rebuild`` forces it).

Then, on the built collection:

- re-ingest of the unchanged corpus (the manifest cached on disk, as it normally is; again with
  that cache deleted, so the document list is rebuilt from Chroma's chunk metadata; and as the
  ``assistant ingest`` command in a new process);
- the keyword (BM25) index built from scratch, then one base document changed and re-ingested
  (its chunks really encoded) and the keyword index's incremental rebuild, then the document
  restored and re-ingested again;
- ``ask()`` with the default extractive answerer in a warm process over ``--questions``
  questions (SciFact test claims + SQuAD questions, or the synthetic ones): p50/p95/p99 and the
  per-stage split from ``Answer.timings_ms``; then retrieval alone (``Assistant.retrieve``).

``--server`` starts ``chroma run --path DIR --host 127.0.0.1 --port P`` from this virtualenv,
waits for its heartbeat and stops it at the end; ``--chroma-url`` uses a server already running.
The report is printed, written to ``<data-dir>/report-<mode>-<source>-<chunks>.txt``, and with
``--json PATH`` the figures go to a JSON file. The machine's load average is recorded: on a
shared 2-core machine latency depends on what else runs.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_DATA_DIR = ROOT / ".data" / "bench-scale"
COLLECTION = "scale"
WARMUP = 5


# --- small helpers ------------------------------------------------------------------------

def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def process_peak_rss_mb(pid: int) -> float | None:
    """Another process's peak resident memory (VmHWM), when /proc has it."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def disk_mb(path: Path) -> float:
    """Disk space used under ``path`` (allocated blocks, as du counts them)."""
    total = 0
    if not path.exists():
        return 0.0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                pass
    return total / 1e6


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q))


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return []


class Timer:
    def __enter__(self) -> "Timer":
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started


# --- the base corpus ------------------------------------------------------------------------

@dataclass
class BaseDoc:
    set: str  # scifact | squad | synthetic
    id: str
    title: str
    text: str


@dataclass
class BenchQuestion:
    set: str
    text: str


def _est_chunks(text: str) -> float:
    """Rough chunks per document before chunking (about 1.3 word pieces per word, 180 per chunk)."""
    return max(1.0, len(text.split()) * 1.3 / 180.0)


def real_base(budget_chunks: float, n_questions: int, seed: int) -> tuple[list[BaseDoc], list[BenchQuestion]]:
    """SciFact abstracts + SQuAD passages (all, or about ``budget_chunks`` worth) and questions
    whose documents are in the base: SciFact test claims and SQuAD questions."""
    from eval import beir, squad

    sf_dir = beir.find_dir(None)
    sq_dir = squad.find_dir()
    corpus = list(beir.load_corpus(sf_dir))
    passages = squad.passages(sq_dir)
    queries = beir.load_queries(sf_dir)
    qrels = beir.load_qrels(sf_dir, "test")
    sq_questions = squad.questions(sq_dir, "all")

    total = sum(_est_chunks(d["text"]) for d in corpus) + sum(_est_chunks(p["text"]) for p in passages)
    rng = random.Random(seed)
    if budget_chunks >= total:
        chosen_sf, chosen_sq = corpus, passages
    else:
        # Half the budget each; SciFact documents judged relevant to test claims first, so the
        # claims asked below have their evidence in the collection.
        relevant = {d for rel in qrels.values() for d in rel}
        ordered = [d for d in corpus if d["id"] in relevant] + [d for d in corpus if d["id"] not in relevant]
        chosen_sf, used = [], 0.0
        for d in ordered:
            if used >= budget_chunks / 2:
                break
            chosen_sf.append(d)
            used += _est_chunks(d["text"])
        chosen_sq, used = [], 0.0
        for p in passages:
            if used >= budget_chunks / 2:
                break
            chosen_sq.append(p)
            used += _est_chunks(p["text"])
    docs = [BaseDoc("scifact", d["id"], d["title"], d["text"]) for d in chosen_sf if d["text"].strip()]
    docs += [BaseDoc("squad", p["id"], p["title"], p["text"]) for p in chosen_sq if p["text"].strip()]

    sf_ids = {d.id for d in docs if d.set == "scifact"}
    sq_ids = {d.id for d in docs if d.set == "squad"}
    claims = [queries[q] for q, rel in qrels.items() if q in queries and any(d in sf_ids for d in rel)]
    sq = [q.question for q in sq_questions if q.passage_id in sq_ids]
    rng.shuffle(claims)
    rng.shuffle(sq)
    half = n_questions // 2
    questions = [BenchQuestion("scifact", t) for t in claims[:half]]
    questions += [BenchQuestion("squad", t) for t in sq[: n_questions - len(questions)]]
    return docs, questions


_SYLLABLES = "ka lo ver mi ta sen dor al bri nu eth gar pol ien sa ru mon tel vi ros an que hal dri".split()
_STRUCTURES = "bridge cathedral lighthouse library observatory museum harbour tower aqueduct theatre".split()
_PRODUCTS = "copper wool salt timber glass olive oil paper silk tin honey barley cheese".split()
_ORGS = "university guild orchestra hospital academy railway company observatory society".split()
_ADJ = "narrow quiet crowded ancient painted windy steep busy shaded cobbled".split()
_FIRST = "Anna Tomas Ilse Marek Odile Pavel Rosa Emil Greta Lorenz Mira Jonas Vera Anton".split()


def _name(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(parts)).capitalize()


def synthetic_base(budget_chunks: float, n_questions: int, seed: int) -> tuple[list[BaseDoc], list[BenchQuestion]]:
    """Generated documents about fictional towns (each with dates, founders, exports: facts a
    question can ask for), and questions about them. No data files needed."""
    rng = random.Random(seed)
    docs: list[BaseDoc] = []
    facts: list[list[str]] = []
    used = 0.0
    seen: set[str] = set()
    while used < budget_chunks:
        place = _name(rng, 3)
        if place in seen:
            continue
        seen.add(place)
        structure, product, org = rng.choice(_STRUCTURES), rng.choice(_PRODUCTS), rng.choice(_ORGS)
        founder = f"{rng.choice(_FIRST)} {_name(rng, 2)}"
        builder = f"{rng.choice(_FIRST)} {_name(rng, 2)}"
        river = _name(rng, 2)
        year, year2 = rng.randint(1200, 1950), rng.randint(1200, 1950)
        people, km = rng.randint(2, 900) * 1000, rng.randint(5, 400)
        sentences = [
            f"{place} is a town on the river {river}.",
            f"The {structure} of {place} was built in {year} by the architect {builder}.",
            f"The main export of {place} is {product}, shipped mostly by barge.",
            f"{founder} founded the {org} of {place} in {year2}.",
            f"About {people:,} people live in {place} today.",
            f"The river {river} flows for {km} kilometres before it reaches the sea.",
        ]
        filler = [
            f"Visitors to {place} often mention its {rng.choice(_ADJ)} streets and {rng.choice(_ADJ)} markets.",
            f"In winter the {rng.choice(_ADJ)} squares of {place} are used for fairs and concerts.",
            f"Local historians have written several books about the {rng.choice(_ADJ)} quarter near the {structure}.",
            f"Trains connect {place} with the {rng.choice(_ADJ)} towns further along the {river} valley.",
            f"The town council meets every month in a hall close to the {rng.choice(_ADJ)} market square.",
            f"Most houses in the old centre have {rng.choice(_ADJ)} courtyards and tiled roofs.",
        ]
        body = sentences + filler * 2
        rng.shuffle(body)
        text = " ".join(body[:8]) + "\n\n" + " ".join(body[8:])
        docs.append(BaseDoc("synthetic", f"town-{len(docs):04d}", f"The town of {place}", text))
        facts.append([
            f"When was the {structure} of {place} built?",
            f"What is the main export of {place}?",
            f"Who founded the {org} of {place}?",
            f"How many people live in {place}?",
            f"How long is the river {river}?",
        ])
        used += _est_chunks(text)
    questions = []
    order = list(range(len(facts)))
    rng.shuffle(order)
    i = 0
    while len(questions) < n_questions and order:
        doc_facts = facts[order[i % len(order)]]
        questions.append(BenchQuestion("synthetic", doc_facts[(i // len(order)) % len(doc_facts)]))
        i += 1
    return docs, questions


# --- the corpus on disk ----------------------------------------------------------------------

def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:120] or "doc"


def doc_file_text(title: str, text: str) -> str:
    title = " ".join(title.split())
    return f"---\ntitle: {title}\n---\n{text}\n" if title else text + "\n"


def perturb(text: str, rng: random.Random, drop: float = 0.05, swap: float = 0.03) -> str:
    """``text`` with about ``drop`` of its words removed and ``swap`` of adjacent pairs swapped
    (paragraph breaks kept)."""
    paragraphs = text.split("\n\n")
    out = []
    for para in paragraphs:
        words = para.split()
        kept = [w for w in words if rng.random() >= drop] or words[:1]
        i = 0
        while i < len(kept) - 1:
            if rng.random() < swap:
                kept[i], kept[i + 1] = kept[i + 1], kept[i]
                i += 2
            else:
                i += 1
        out.append(" ".join(kept))
    return "\n\n".join(out)


def base_path(corpus: Path, doc: BaseDoc) -> Path:
    return corpus / "base" / doc.set / f"{_safe(doc.id)}.md"


def copy_path(corpus: Path, n: int, doc: BaseDoc) -> Path:
    return corpus / "copies" / f"c{n:03d}" / doc.set / f"{_safe(doc.id)}.md"


def base_of_copy(rel: str) -> str | None:
    """``copies/c007/scifact/12.md`` -> ``base/scifact/12.md``."""
    parts = rel.split("/")
    if len(parts) >= 3 and parts[0] == "copies":
        return "/".join(["base"] + parts[2:])
    return None


# --- vectors: the real encoder for base chunks, perturbed lookups for copies --------------------

class VectorBook:
    """Base chunk vectors by (path relative to the corpus, ordinal, text hash), kept on disk."""

    def __init__(self, path: Path):
        self.path = path
        self.exact: dict[tuple[str, int, str], "Any"] = {}
        self.by_position: dict[tuple[str, int], "Any"] = {}
        self.last_ordinal: dict[str, int] = {}
        self.dirty = False
        self._load()

    def _load(self) -> None:
        import numpy as np

        if not self.path.exists():
            return
        try:
            data = np.load(self.path, allow_pickle=False)
            keys, vecs = data["keys"], data["vectors"]
        except (OSError, ValueError, KeyError):
            return
        for key, vec in zip(keys, vecs):
            rel, ordinal, digest = str(key).split("\x1f")
            self._add(rel, int(ordinal), digest, vec)

    def _add(self, rel: str, ordinal: int, digest: str, vec) -> None:
        self.exact[(rel, ordinal, digest)] = vec
        self.by_position.setdefault((rel, ordinal), vec)  # the first (original) version
        self.last_ordinal[rel] = max(self.last_ordinal.get(rel, 0), ordinal)

    def put(self, rel: str, ordinal: int, digest: str, vec) -> None:
        if (rel, ordinal, digest) not in self.exact:
            self._add(rel, ordinal, digest, vec)
            self.dirty = True

    def save(self) -> None:
        import numpy as np

        if not self.dirty or not self.exact:
            return
        keys = np.asarray([f"{r}\x1f{o}\x1f{d}" for (r, o, d) in self.exact])
        vecs = np.vstack(list(self.exact.values())).astype(np.float32)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.stem + ".tmp.npz")
        np.savez(tmp, keys=keys, vectors=vecs)
        os.replace(tmp, self.path)
        self.dirty = False

    def for_copy(self, base_rel: str, ordinal: int):
        last = self.last_ordinal.get(base_rel)
        if last is None:
            return None
        return self.by_position.get((base_rel, min(ordinal, last)))


def _text_digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def make_ingestor(settings, corpus: Path, book: VectorBook, noise: float, stats: dict[str, int], progress=False):
    """An ``Ingestor`` whose ``embed_chunks`` encodes base chunks (once: they are cached) and
    gives a copy's chunks its base chunk's vector plus noise. Nothing else is changed."""
    import numpy as np

    from ingest.pipeline import Ingestor

    corpus_root = str(corpus.resolve()) + os.sep

    class ScaleIngestor(Ingestor):
        def embed_chunks(self, chunks, progress=None):
            dim = None
            rows: list[Any] = [None] * len(chunks)
            need: list[int] = []
            keys: list[tuple[str, int, str] | None] = [None] * len(chunks)
            for i, c in enumerate(chunks):
                rel = c.doc_id[len(corpus_root):] if c.doc_id.startswith(corpus_root) else None
                if rel is None:
                    need.append(i)
                    continue
                base_rel = base_of_copy(rel)
                if base_rel is not None:
                    vec = book.for_copy(base_rel, c.ordinal)
                    if vec is not None:
                        rng = np.random.default_rng(int(c.id[:15], 16))
                        v = np.asarray(vec, dtype=np.float32) + rng.normal(0.0, noise, len(vec)).astype(np.float32)
                        rows[i] = v / np.linalg.norm(v)
                        stats["copied"] = stats.get("copied", 0) + 1
                        continue
                    need.append(i)
                    continue
                key = (rel, c.ordinal, _text_digest(self.embedding_text(c)))
                keys[i] = key
                vec = book.exact.get(key)
                if vec is not None:
                    rows[i] = vec
                    stats["cached"] = stats.get("cached", 0) + 1
                else:
                    need.append(i)
            if len(need) < len(chunks) and progress:
                progress(len(chunks) - len(need))
            if need:
                encoded = super().embed_chunks([chunks[i] for i in need], progress=progress)
                stats["encoded"] = stats.get("encoded", 0) + len(need)
                for i, vec in zip(need, encoded):
                    rows[i] = vec
                    if keys[i] is not None:
                        book.put(*keys[i], np.asarray(vec, dtype=np.float32))
            dim = len(rows[0]) if rows else 0
            return np.vstack(rows).astype(np.float32) if rows else np.zeros((0, dim), dtype=np.float32)

    return ScaleIngestor(settings, progress=progress)


# --- the Chroma server -------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_heartbeat(url: str, timeout: float = 90.0, proc: subprocess.Popen | None = None) -> None:
    import urllib.request

    deadline = time.time() + timeout
    last = ""
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"chroma run exited early with code {proc.returncode}")
        for path in ("/api/v2/heartbeat", "/api/v1/heartbeat"):
            try:
                with urllib.request.urlopen(url + path, timeout=2) as r:
                    if r.status == 200:
                        return
            except Exception as exc:  # not up yet
                last = str(exc)
        time.sleep(0.3)
    raise RuntimeError(f"the Chroma server at {url} gave no heartbeat within {timeout:.0f} s ({last})")


@contextlib.contextmanager
def chroma_server(path: Path, log: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """``chroma run --path path`` on a free loopback port, stopped on exit."""
    exe = Path(sys.executable).with_name("chroma")
    if not exe.exists():
        found = shutil.which("chroma")
        if not found:
            raise RuntimeError("the chroma executable is missing (pip install chromadb)")
        exe = Path(found)
    port = _free_port()
    path.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, ANONYMIZED_TELEMETRY="False")
    with open(log, "ab") as fh:
        proc = subprocess.Popen([str(exe), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                                stdout=fh, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_heartbeat(url, proc=proc)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the benchmark ------------------------------------------------------------------------------

@dataclass
class Config:
    chunks: int = 100_000
    data_dir: Path = DEFAULT_DATA_DIR
    synthetic: bool = False
    questions: int = 200
    noise: float = 0.02
    seed: int = 13
    server: bool = False
    chroma_url: str = ""
    rebuild: bool = False
    cli: bool = True  # also time `assistant ingest` in a new process
    profile: int = 0  # print the top N functions of a cProfile of the ask loop
    progress: bool = False
    base_share: float = 0.25  # the base is at most this share of the target

    @property
    def source(self) -> str:
        return "synthetic" if self.synthetic else "real"

    @property
    def mode(self) -> str:
        if self.chroma_url:
            return "url-" + hashlib.sha1(self.chroma_url.encode()).hexdigest()[:8]
        return "server" if self.server else "embedded"

    @property
    def label(self) -> str:
        return f"{self.mode}-{self.source}-{self.chunks}"


@dataclass
class Report:
    config: dict[str, Any]
    environment: dict[str, Any] = field(default_factory=dict)
    build: dict[str, Any] = field(default_factory=dict)
    reingest: dict[str, Any] = field(default_factory=dict)
    keyword: dict[str, Any] = field(default_factory=dict)
    ask: dict[str, Any] = field(default_factory=dict)
    retrieval: dict[str, Any] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in
                ("config", "environment", "build", "reingest", "keyword", "ask", "retrieval", "memory", "notes")}


def encoder_signature(settings) -> str:
    """The encoder the base vectors come from (model, backend, export recipe): cached base
    vectors are only reused with the same one."""
    from assistant.embed import onnx_encoder
    from assistant.embed.encoder import embedder_for

    backend = embedder_for(settings).backend
    recipe = f"export-v{onnx_encoder.EXPORT_VERSION}" if backend.startswith("onnx") else ""
    return f"{settings.embed_model}|{backend}|{recipe}"


def _settings(cfg: Config, index_dir: Path, chroma_url: str):
    from assistant.config import load_settings

    return load_settings({"data_dir": index_dir, "collection": COLLECTION, "chroma_url": chroma_url})


def _log(cfg: Config, msg: str) -> None:
    if cfg.progress:
        print(f"[bench-scale {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def build(cfg: Config, settings, corpus: Path, index_dir: Path, book: VectorBook, report: Report) -> None:
    """Write the corpus (base + copies) and ingest it, unless this exact build is cached."""
    from assistant.index import manifest as manifests
    from assistant.index.store import Store

    marker = index_dir / "build.json"
    corpus_meta = corpus_meta_path(corpus)
    if marker.exists() and corpus_meta.exists() and not cfg.rebuild:
        try:
            built = json.loads(marker.read_text())
            col = Store(settings).open(COLLECTION)
            if col.count() == built.get("chunks"):
                report.build = {**built, "cached": True}
                return
        except Exception:  # anything off: build again
            pass
    # Whatever is there is stale or half built: start over, so the build figures are a whole
    # build's (the corpus files are kept; base vectors come from their cache).
    from assistant.index.store import open_client

    if settings.chroma_url:
        with contextlib.suppress(Exception):
            Store(settings).delete(COLLECTION)
    for sub in ("manifest", "keyword", "chroma", "locks"):
        shutil.rmtree(index_dir / sub, ignore_errors=True)
    marker.unlink(missing_ok=True)
    if not settings.chroma_url:
        open_client(settings, fresh=True)  # the cached client saw the deleted directory
    if cfg.rebuild:
        shutil.rmtree(corpus, ignore_errors=True)

    t_all = time.perf_counter()
    base_docs, questions = load_base(cfg)
    corpus.mkdir(parents=True, exist_ok=True)
    if not corpus_meta.exists():
        shutil.rmtree(corpus / "copies", ignore_errors=True)
        for d in base_docs:
            p = base_path(corpus, d)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(doc_file_text(d.title, d.text), encoding="utf-8")

    stats: dict[str, int] = {}
    _log(cfg, f"ingesting the base ({len(base_docs)} documents; encoding what is not cached)")
    ingestor = make_ingestor(settings, corpus, book, cfg.noise, stats, progress=None if cfg.progress else False)
    with Timer() as t_base:
        base_report = ingestor.ingest_paths([corpus / "base"])
    book.save()
    base_chunks = base_report.chunks_written + sum(r.chunks for r in base_report.results if r.status == "unchanged")
    encoded = stats.get("encoded", 0)

    if not corpus_meta.exists():
        _log(cfg, "writing perturbed copies")
        col = Store(settings).open(COLLECTION)
        docs = manifests.load(settings, col)
        chunks_of = {}
        base_root = str((corpus / "base").resolve())
        for rec in docs.values():
            if rec.doc_id.startswith(base_root):
                chunks_of[os.path.relpath(rec.doc_id, corpus.resolve())] = rec.chunks
        total = sum(chunks_of.values())
        n, copies_written = 0, 0
        rng = random.Random(cfg.seed)
        ordered = sorted(base_docs, key=lambda d: (d.set, d.id))
        while total < cfg.chunks:
            n += 1
            for d in ordered:
                if total >= cfg.chunks:
                    break
                rel = os.path.relpath(base_path(corpus, d), corpus)
                if rel not in chunks_of:
                    continue
                title = f"copy {n} of {d.title}" if d.title else f"copy {n}"
                p = copy_path(corpus, n, d)
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(doc_file_text(title, perturb(d.text, rng)), encoding="utf-8")
                total += chunks_of[rel]
                copies_written += 1
        corpus_meta.write_text(json.dumps({
            "source": cfg.source, "target_chunks": cfg.chunks, "base_documents": len(base_docs),
            "copy_rounds": n, "copies": copies_written, "seed": cfg.seed,
            "questions": [[q.set, q.text] for q in questions],
        }))

    _log(cfg, "ingesting the copies (vectors looked up, not encoded)")
    ingestor = make_ingestor(settings, corpus, book, cfg.noise, stats, progress=None if cfg.progress else False)
    with Timer() as t_copies:
        full = ingestor.ingest_paths([corpus])
    seconds = time.perf_counter() - t_all
    col = Store(settings).open(COLLECTION)
    meta = json.loads(corpus_meta.read_text())
    report.build = {
        "cached": False,
        "built_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "chunks": col.count(),
        "documents": len(manifests.load(settings, col)),
        "base_documents": len(base_docs),
        "base_chunks": base_chunks,
        "base_encoded_chunks": encoded,
        "base_seconds": round(t_base.seconds, 1),
        "copy_documents": meta["copies"],
        "copy_chunks": full.chunks_written,
        "copy_seconds": round(t_copies.seconds, 1),
        "copy_chunks_per_second": round(full.chunks_written / t_copies.seconds, 1) if t_copies.seconds else None,
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(peak_rss_mb(), 0),
        "noise": cfg.noise,
        "encoder": report.environment.get("encoder", ""),
    }
    marker.write_text(json.dumps(report.build))


def load_base(cfg: Config) -> tuple[list[BaseDoc], list[BenchQuestion]]:
    budget = max(cfg.chunks * cfg.base_share, 10)
    if cfg.synthetic:
        return synthetic_base(budget, cfg.questions, cfg.seed)
    return real_base(budget, cfg.questions, cfg.seed)


def corpus_meta_path(corpus: Path) -> Path:
    """What was generated (outside the corpus directory, which is ingested whole)."""
    return corpus.with_name(corpus.name + ".json")


def questions_of(corpus: Path) -> list[BenchQuestion]:
    meta = json.loads(corpus_meta_path(corpus).read_text())
    return [BenchQuestion(s, t) for s, t in meta["questions"]]


def reingest_figures(cfg: Config, settings, corpus: Path, index_dir: Path, book: VectorBook, report: Report) -> None:
    """Re-ingest unchanged (warm manifest, cold manifest, CLI), keyword first build, one change."""
    from assistant.index import keyword as kw
    from assistant.index import manifest as manifests
    from assistant.index.store import Store

    def ingest():
        stats: dict[str, int] = {}
        ing = make_ingestor(settings, corpus, book, cfg.noise, stats)
        with Timer() as t:
            r = ing.ingest_paths([corpus])
        return r, t.seconds, stats

    _log(cfg, "re-ingest, nothing changed")
    r, secs, _ = ingest()
    report.reingest["unchanged"] = {"seconds": round(secs, 2), "documents": len(r.results),
                                    "unchanged": r.count("unchanged"), "chunks_written": r.chunks_written}
    # The document list rebuilt from Chroma (what happens after another process wrote).
    manifests.forget(settings, COLLECTION)
    r, secs, _ = ingest()
    report.reingest["unchanged_manifest_rebuilt"] = {"seconds": round(secs, 2), "chunks_written": r.chunks_written}
    if cfg.cli:
        _log(cfg, "re-ingest with the CLI in a new process")
        cmd = [sys.executable, "-m", "assistant", "ingest", str(corpus), "--collection", COLLECTION,
               "--data-dir", str(index_dir), "--json"]
        if settings.chroma_url:
            cmd += ["--chroma-url", settings.chroma_url]
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False",
                   TOKENIZERS_PARALLELISM="false")
        with Timer() as t:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(ROOT))
        fig: dict[str, Any] = {"seconds": round(t.seconds, 2), "exit_code": proc.returncode}
        if proc.returncode == 0:
            out = json.loads(proc.stdout)
            fig.update(chunks_written=out["chunks_written"], unchanged=out["unchanged"], reported_seconds=out["seconds"])
        else:
            fig["error"] = (proc.stderr or proc.stdout).strip()[-400:]
        report.reingest["unchanged_cli"] = fig

    # Keyword index from scratch (what the first question after a build pays).
    _log(cfg, "keyword index: first build")
    col = Store(settings).open(COLLECTION)
    shutil.rmtree(kw._cache_dir(settings, COLLECTION), ignore_errors=True)
    kw._MEMO.clear()
    with Timer() as t:
        index = kw.keyword_index(settings, col)
    report.keyword["first_build_seconds"] = round(t.seconds, 2)
    report.keyword["chunks"] = len(index.ids)
    report.keyword["disk_mb"] = round(disk_mb(kw._cache_dir(settings, COLLECTION)), 1)
    kw._MEMO.clear()
    with Timer() as t:
        kw.keyword_index(settings, Store(settings).open(COLLECTION))
    report.keyword["load_seconds"] = round(t.seconds, 2)

    # One document changed: a base document, so its chunks are really encoded.
    target = sorted((corpus / "base").rglob("*.md"))[0]
    original = target.read_bytes()
    try:
        _log(cfg, f"one document changed: {target.relative_to(corpus)}")
        target.write_bytes(original.rstrip(b"\n") + b"\n\nThis paragraph was added by the scale benchmark to change the document.\n")
        r, secs, stats = ingest()
        report.reingest["one_changed"] = {
            "seconds": round(secs, 2), "updated": r.count("updated"), "unchanged": r.count("unchanged"),
            "chunks_written": r.chunks_written, "chunks_deleted": r.chunks_deleted,
            "chunks_encoded": stats.get("encoded", 0), "document": str(target.relative_to(corpus)),
        }
        with Timer() as t:
            kw.keyword_index(settings, Store(settings).open(COLLECTION))
        report.keyword["incremental_rebuild_seconds"] = round(t.seconds, 2)
    finally:
        target.write_bytes(original)
    r, secs, stats = ingest()
    report.reingest["restored"] = {"seconds": round(secs, 2), "updated": r.count("updated"),
                                   "chunks_written": r.chunks_written, "chunks_deleted": r.chunks_deleted}
    with Timer() as t:
        kw.keyword_index(settings, Store(settings).open(COLLECTION))
    report.keyword["incremental_rebuild_after_restore_seconds"] = round(t.seconds, 2)


def latency_figures(cfg: Config, settings, questions: list[BenchQuestion], report: Report) -> None:
    """``ask()`` and ``retrieve()`` over the questions in one warm process.

    ``ask()`` runs twice over the questions: as a user's process runs it (the extractive
    answerer remembers sentence vectors, so a passage met by an earlier question costs
    nothing the next time), then with that memory emptied before every question (every
    sentence encoded afresh). CPU time per question is recorded beside the wall time: on a
    shared machine the wall time also counts waiting for a core.
    """
    from assistant.client import Assistant

    a = Assistant(settings)
    texts = [q.text for q in questions]
    for q in texts[:WARMUP]:  # load the encoder, the keyword index, the evidence model
        a.ask(q)
    answerer = a.answerer
    profiler = None
    if cfg.profile:
        import cProfile

        profiler = cProfile.Profile()

    def ask_all(fresh: bool, into: dict[str, Any]) -> None:
        walls: list[float] = []
        cpus: list[float] = []
        stages: dict[str, list[float]] = {}
        answered = cited = 0
        hits0, misses0 = getattr(answerer, "cache_hits", 0), getattr(answerer, "cache_misses", 0)
        into["load_before"] = loadavg()
        if profiler is not None and not fresh:
            profiler.enable()
        for q in texts:
            if fresh and hasattr(answerer, "_vectors"):
                answerer._vectors.clear()
            t, c = time.perf_counter(), time.process_time()
            ans = a.ask(q)
            walls.append((time.perf_counter() - t) * 1000)
            cpus.append((time.process_time() - c) * 1000)
            for k, v in ans.timings_ms.items():
                stages.setdefault(k, []).append(v)
            if not ans.abstained:
                answered += 1
                if ans.citations and all(f"[{c.n}]" in ans.text for c in ans.citations):
                    cited += 1
        if profiler is not None and not fresh:
            profiler.disable()
        into.update(_summary(walls))
        into["cpu_p50_ms"] = round(percentile(cpus, 50), 1)
        into["cpu_p95_ms"] = round(percentile(cpus, 95), 1)
        into["questions"] = len(texts)
        into["answered"] = answered
        into["answered_with_citations"] = cited
        into["stages_ms"] = {k: {"p50": round(percentile(v, 50), 1), "p95": round(percentile(v, 95), 1)}
                             for k, v in stages.items()}
        n = max(len(texts), 1)
        into["sentences_encoded_per_question"] = round((getattr(answerer, "cache_misses", 0) - misses0) / n, 1)
        into["sentences_reused_per_question"] = round((getattr(answerer, "cache_hits", 0) - hits0) / n, 1)
        into["load_after"] = loadavg()

    ask_all(False, report.ask)
    report.ask["no_reuse"] = {}
    ask_all(True, report.ask["no_reuse"])
    if profiler is not None:
        import io
        import pstats

        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(cfg.profile)
        report.ask["profile"] = buf.getvalue()

    scope_figures(a, settings, texts, report)

    walls, cpus, stages = [], [], {}
    for q in texts:
        t, c = time.perf_counter(), time.process_time()
        r = a.retrieve(q)
        walls.append((time.perf_counter() - t) * 1000)
        cpus.append((time.process_time() - c) * 1000)
        for k, v in r.timings_ms.items():
            stages.setdefault(k, []).append(v)
    report.retrieval.update(_summary(walls))
    report.retrieval["cpu_p50_ms"] = round(percentile(cpus, 50), 1)
    report.retrieval["cpu_p95_ms"] = round(percentile(cpus, 95), 1)
    report.retrieval["stages_ms"] = {k: {"p50": round(percentile(v, 50), 1), "p95": round(percentile(v, 95), 1)}
                                     for k, v in stages.items()}
    report.retrieval["load_after"] = loadavg()


def scope_figures(a, settings, texts: list[str], report: Report) -> None:
    """What a scope costs: ``ask()`` over the same questions unscoped and within three scopes
    (a folder of about a tenth of the documents, by tag; the base documents, by directory; one
    document by name), each question's citations checked to lie inside the scope."""
    from assistant.index import manifest

    docs = list(manifest.load(settings, a.collection()).values())
    folders = sorted({d.folder for d in docs if "/copies/" in d.source})
    scopes: dict[str, dict[str, Any]] = {}
    if folders:
        if any("bench-scope" in d.tags for d in docs):  # a cached build, tagged by an earlier run
            a.untag(folders[0], ["bench-scope"])
        t = time.perf_counter()
        tagged = a.tag(folders[0], ["bench-scope"])
        report.ask.setdefault("scoped", {})["tag_seconds"] = round(time.perf_counter() - t, 2)
        scopes["tag (one copy folder)"] = {"scope": {"tags": ["bench-scope"]}, "documents": len(tagged)}
    base = sorted({d.folder for d in docs if "/base" in d.folder})
    if base:
        base_dir = os.path.commonpath(base)
        scopes["directory (the base documents)"] = {
            "scope": {"sources": [base_dir]}, "documents": sum(1 for d in docs if d.folder.startswith(base_dir))}
    one = docs[len(docs) // 2]
    scopes["one document (glob on its name)"] = {"scope": {"sources": [f"*/{Path(one.source).name}"]},
                                                  "documents": sum(1 for d in docs if Path(d.source).name == Path(one.source).name)}
    out = report.ask.setdefault("scoped", {})
    out["documents"] = len(docs)
    out["unscoped"] = {}
    for name, spec in [("unscoped", None), *scopes.items()]:
        walls: list[float] = []
        stages: dict[str, list[float]] = {}
        inside = True
        allowed = None if spec is None else set(a.scope_doc_ids(spec["scope"]) or [d.doc_id for d in docs])
        for q in texts:
            t = time.perf_counter()
            ans = a.ask(q, scope=spec["scope"] if spec else None)
            walls.append((time.perf_counter() - t) * 1000)
            for k in ("scope", "retrieval", "answer"):
                if k in ans.timings_ms:
                    stages.setdefault(k, []).append(ans.timings_ms[k])
            if allowed is not None:
                cited = {c.source for c in ans.citations} | {c.source for c in ans.related}
                inside = inside and cited <= allowed
        entry = {**_summary(walls), "documents": spec["documents"] if spec else len(docs),
                 "stages_ms": {k: {"p50": round(percentile(v, 50), 1), "p95": round(percentile(v, 95), 1)}
                               for k, v in stages.items()}}
        if spec is not None:
            entry["scope"] = spec["scope"]
            entry["citations_inside_scope"] = inside
        out[name] = entry


def _summary(walls: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(walls, 50), 1), "p95_ms": round(percentile(walls, 95), 1),
            "p99_ms": round(percentile(walls, 99), 1), "mean_ms": round(sum(walls) / max(len(walls), 1), 1),
            "max_ms": round(max(walls), 1) if walls else float("nan")}


def run(cfg: Config) -> Report:
    """Build (or reuse) the collection and measure it; returns the figures."""
    from assistant.config import offline_environment

    offline_environment()
    cfg.data_dir = Path(cfg.data_dir).resolve()
    report = Report(config={k: str(v) if isinstance(v, Path) else v for k, v in cfg.__dict__.items()})
    report.environment = {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_at_start": loadavg(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    corpus = cfg.data_dir / f"corpus-{cfg.source}-{cfg.chunks}"
    index_dir = cfg.data_dir / cfg.label
    index_dir.mkdir(parents=True, exist_ok=True)
    encoder = encoder_signature(_settings(cfg, index_dir, ""))
    report.environment["encoder"] = encoder
    book = VectorBook(cfg.data_dir / f"base-vectors-{hashlib.sha1(encoder.encode()).hexdigest()[:10]}.npz")

    with contextlib.ExitStack() as stack:
        url = cfg.chroma_url
        server_pid = None
        if cfg.server and not url:
            _log(cfg, "starting chroma run")
            url, proc = stack.enter_context(chroma_server(index_dir / "chroma-server", index_dir / "chroma-server.log"))
            server_pid = proc.pid
        settings = _settings(cfg, index_dir, url)
        if url:
            from assistant.index.store import forget_client

            stack.callback(forget_client, settings)
        report.environment["store"] = url or "embedded"
        build(cfg, settings, corpus, index_dir, book, report)
        report.memory["after_build_mb"] = round(peak_rss_mb(), 0)
        reingest_figures(cfg, settings, corpus, index_dir, book, report)
        report.memory["after_reingest_mb"] = round(peak_rss_mb(), 0)
        # Disk: the whole data dir of this run (Chroma, or the server's directory, plus the
        # keyword index and manifest caches); a remote server's own disk is not seen.
        report.build["index_disk_mb"] = round(disk_mb(index_dir), 1)
        report.build["chroma_disk_mb"] = round(disk_mb(index_dir / ("chroma-server" if cfg.server else "chroma")), 1)
        report.build["keyword_disk_mb"] = round(disk_mb(index_dir / "keyword"), 1)
        report.build["corpus_disk_mb"] = round(disk_mb(corpus), 1)
        _log(cfg, "asking")
        latency_figures(cfg, settings, questions_of(corpus), report)
        report.memory["after_queries_mb"] = round(peak_rss_mb(), 0)
        if server_pid:
            report.memory["server_peak_mb"] = process_peak_rss_mb(server_pid)
    report.environment["load_at_end"] = loadavg()
    report.notes.append(
        f"{report.build.get('base_chunks')} base chunks were embedded with the default encoder; the other "
        f"{report.build.get('copy_chunks')} chunks are perturbed copies whose vectors are their base chunk's "
        f"vector plus Gaussian noise (sigma {cfg.noise} per dimension), renormalised, not encoded. "
        "Reading, chunking, the manifest, Chroma, BM25, fusion and answering all ran for real."
    )
    if report.build.get("cached"):
        report.notes.append(f"build figures are from the cached build of {report.build.get('built_at')}")
        built_with = report.build.get("encoder") or "an encoder not recorded (an older build)"
        if built_with != report.environment.get("encoder"):
            report.notes.append(f"the cached collection's vectors were made with {built_with}; questions were "
                                f"encoded with {report.environment.get('encoder')}")
    return report


# --- presentation ---------------------------------------------------------------------------

def table(rows: list[tuple[str, str]], title: str) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join([title, "-" * len(title)] + [f"  {k:<{width}}  {v}" for k, v in rows])


def format_report(r: Report) -> str:
    c, b, ri, kw, a, rt, m, e = r.config, r.build, r.reingest, r.keyword, r.ask, r.retrieval, r.memory, r.environment
    out = [f"Scale benchmark: {c['chunks']:,} chunks target, {('synthetic' if c['synthetic'] else 'SciFact + SQuAD')} base, "
           f"store {e.get('store')}, encoder {e.get('encoder')}",
           f"machine: {e['cpus']} CPUs, load average at start {e['load_at_start']}, at end {e.get('load_at_end')}", ""]
    out.append(table([
        ("chunks in collection", f"{b['chunks']:,}"),
        ("documents", f"{b['documents']:,} ({b['base_documents']:,} base, {b['copy_documents']:,} copies)"),
        ("base chunks (encoded for real)", f"{b['base_chunks']:,} ({b['base_encoded_chunks']:,} encoded in this build, "
                                            f"rest from the vector cache), {b['base_seconds']} s"),
        ("copy chunks (vectors looked up)", f"{b['copy_chunks']:,} in {b['copy_seconds']} s "
                                             f"({b['copy_chunks_per_second']} chunks/s through the pipeline)"),
        ("build total", f"{b['seconds']} s" + (f" (cached build of {b['built_at']})" if b.get("cached") else "")),
        ("peak RSS during build", f"{b['peak_rss_mb']:.0f} MB"),
        ("disk: all / Chroma / BM25 index", f"{b['index_disk_mb']} MB / {b['chroma_disk_mb']} MB / {b['keyword_disk_mb']} MB "
                                            f"(the corpus files: {b['corpus_disk_mb']} MB)"),
    ], "Build"))
    out.append("")
    rows = [
        ("unchanged (manifest cached)", f"{ri['unchanged']['seconds']} s, {ri['unchanged']['chunks_written']} chunks written, "
                                       f"{ri['unchanged']['unchanged']:,} of {ri['unchanged']['documents']:,} documents unchanged"),
        ("unchanged (manifest rebuilt from Chroma)", f"{ri['unchanged_manifest_rebuilt']['seconds']} s, "
                                                    f"{ri['unchanged_manifest_rebuilt']['chunks_written']} chunks written"),
    ]
    if "unchanged_cli" in ri:
        cl = ri["unchanged_cli"]
        rows.append(("unchanged, `assistant ingest` (new process)",
                     f"{cl['seconds']} s wall" + (f" ({cl.get('reported_seconds')} s in the ingest), "
                                                  f"{cl.get('chunks_written')} chunks written" if cl["exit_code"] == 0
                                                  else f" FAILED: {cl.get('error')}")))
    oc = ri["one_changed"]
    rows.append(("one document changed", f"{oc['seconds']} s: {oc['updated']} updated, {oc['chunks_written']} chunks written "
                                         f"({oc['chunks_encoded']} encoded), {oc['chunks_deleted']} deleted"))
    rows.append(("changed back", f"{ri['restored']['seconds']} s: {ri['restored']['updated']} updated, "
                                 f"{ri['restored']['chunks_written']} written"))
    out.append(table(rows, "Re-ingest"))
    out.append("")
    out.append(table([
        ("first build (from Chroma)", f"{kw['first_build_seconds']} s over {kw['chunks']:,} chunks, {kw['disk_mb']} MB on disk"),
        ("load from disk (new process)", f"{kw['load_seconds']} s"),
        ("incremental rebuild after the change", f"{kw['incremental_rebuild_seconds']} s"),
        ("incremental rebuild after changing it back", f"{kw['incremental_rebuild_after_restore_seconds']} s"),
    ], "Keyword index (BM25)"))
    out.append("")
    head = f"  {'':<34}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'mean ms':>8}{'max ms':>8}{'CPU p50':>9}{'CPU p95':>9}"
    out += ["Query latency (warm process; wall time, and this process's CPU time)", "-" * 68, head]
    nr = a.get("no_reuse") or {}
    rows = [(f"ask() x{a['questions']}", a)]
    if nr:
        rows.append(("ask(), no sentence reuse", nr))
    rows.append(("retrieve() alone", rt))
    for name, d in rows:
        out.append(f"  {name:<34}{d['p50_ms']:>8}{d['p95_ms']:>8}{d['p99_ms']:>8}{d['mean_ms']:>8}{d['max_ms']:>8}"
                   f"{d.get('cpu_p50_ms', ''):>9}{d.get('cpu_p95_ms', ''):>9}")
    out.append(f"  answered {a['answered']} of {a['questions']} ({a['answered_with_citations']} with every citation marked in "
               f"the text); load average during ask {a['load_before']} -> {a['load_after']}")
    out.append(f"  sentences encoded per question: {a.get('sentences_encoded_per_question')} "
               f"(+{a.get('sentences_reused_per_question')} remembered from earlier questions); "
               f"without reuse {nr.get('sentences_encoded_per_question')}")
    sc = a.get("scoped") or {}
    if sc:
        out.append("")
        out.append(f"  scoped ask() (same questions; {sc.get('documents'):,} documents; tagging the folder "
                   f"took {sc.get('tag_seconds')} s, nothing re-embedded)")
        for name, d in sc.items():
            if isinstance(d, dict) and "p50_ms" in d:
                inside = "" if "citations_inside_scope" not in d else (
                    ", every citation inside" if d["citations_inside_scope"] else ", CITATION OUTSIDE THE SCOPE")
                split = ", ".join(f"{k} {v['p50']}/{v['p95']}" for k, v in d.get("stages_ms", {}).items())
                out.append(f"    {name:<34} p50 {d['p50_ms']} ms, p95 {d['p95_ms']} ms "
                           f"({d['documents']:,} documents{inside}; p50/p95 ms: {split})")
    out.append("")
    out.append("  stages (p50 / p95 ms)")
    for title, stages in (("ask", a["stages_ms"]), ("no reuse", nr.get("stages_ms", {})), ("retrieve", rt["stages_ms"])):
        if stages:
            parts = [f"{k} {v['p50']}/{v['p95']}" for k, v in stages.items()]
            out.append(f"    {title:<9} " + ", ".join(parts))
    out.append("")
    mem = [("after build", m.get("after_build_mb")), ("after re-ingests", m.get("after_reingest_mb")),
           ("after queries", m.get("after_queries_mb"))]
    line = ", ".join(f"{k} {v:.0f} MB" for k, v in mem if v is not None)
    if m.get("server_peak_mb"):
        line += f"; Chroma server process peak {m['server_peak_mb']:.0f} MB"
    out.append(f"Peak RSS of this process: {line}")
    out.append("")
    out += [f"Note: {n}" for n in r.notes]
    if a.get("profile"):
        out += ["", "cProfile of the ask loop (cumulative)", a["profile"]]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m eval.bench.scale",
        description=__doc__.split("\n\n")[0] + " Builds (or reuses) a collection of about --chunks chunks from "
        "SciFact + SQuAD (or generated text) plus perturbed copies, then times re-ingestion, the keyword index, "
        "ask() and retrieval. See the module docstring (or eval/README.md) for how copies are made.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Copies' vectors are their base chunk's vector plus noise (not encoded); everything else runs for real.",
    )
    p.add_argument("--chunks", type=int, default=100_000, help="target size of the collection (default 100000)")
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                   help="where corpora, collections, the base-vector cache and reports live (default .data/bench-scale)")
    p.add_argument("--synthetic", action="store_true",
                   help="generate the base text instead of reading SciFact and SQuAD (no eval data needed)")
    p.add_argument("--questions", type=int, default=200, help="questions asked for the latency figures (default 200)")
    p.add_argument("--noise", type=float, default=0.02,
                   help="per-dimension Gaussian noise added to a copy's vectors before renormalising (default 0.02)")
    p.add_argument("--seed", type=int, default=13, help="seed of the copies and the question sample")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--server", action="store_true",
                   help="start `chroma run` on a free loopback port and run everything against it")
    g.add_argument("--chroma-url", metavar="URL", default="", help="use a Chroma server already running at URL")
    p.add_argument("--rebuild", action="store_true", help="rebuild the corpus and collection even if cached")
    p.add_argument("--no-cli", action="store_true", help="skip timing `assistant ingest` in a new process")
    p.add_argument("--profile", type=int, default=0, metavar="N",
                   help="cProfile the ask loop and print its top N functions by cumulative time")
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    p.add_argument("--quiet", action="store_true", help="no progress messages on stderr")
    args = p.parse_args(argv)
    if args.chunks < 100:
        p.error("--chunks must be at least 100")
    cfg = Config(chunks=args.chunks, data_dir=args.data_dir, synthetic=args.synthetic, questions=args.questions,
                 noise=args.noise, seed=args.seed, server=args.server, chroma_url=args.chroma_url,
                 rebuild=args.rebuild, cli=not args.no_cli, profile=args.profile, progress=not args.quiet)
    from assistant.errors import AssistantError

    try:
        report = run(cfg)
    except (AssistantError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    text = format_report(report)
    print(text)
    out = Path(cfg.data_dir) / f"report-{cfg.label}.txt"
    out.write_text(text + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
