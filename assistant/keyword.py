"""BM25 keyword search over a collection's chunks.

The index is built from the chunks stored in Chroma (title + text, stemmed) and cached on
disk under the data directory, tagged with the collection's generation and chunk count;
any ingest or forget changes one of them, and the next query rebuilds the index.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.store import ChunkCollection
from assistant.text import terms, terms_batch


def _cache_dir(settings: Settings, collection: str) -> Path:
    where = "local" if not settings.chroma_url else "server-" + hashlib.sha1(settings.chroma_url.encode()).hexdigest()[:12]
    return settings.data_dir / "keyword" / where / collection


class KeywordIndex:
    """A BM25 index over a fixed snapshot of a collection."""

    def __init__(self, bm25, ids: list[str], stamp: dict[str, Any], df: dict[str, int] | None = None):
        self.bm25 = bm25
        self.ids = ids
        self.stamp = stamp
        self.df = df or {}

    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term (unseen terms count as rare)."""
        n = max(len(self.ids), 1)
        df = self.df.get(term, 0)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) best first; chunks sharing no term with the query are left out."""
        q = terms(query)
        if not q or not self.ids or self.bm25 is None:
            return []
        k = min(k, len(self.ids))
        docs, scores = self.bm25.retrieve([q], k=k, show_progress=False, n_threads=1)
        out = []
        for idx, score in zip(docs[0], scores[0]):
            if score > 0:
                out.append((self.ids[int(idx)], float(score)))
        return out

    @classmethod
    def build(cls, collection: ChunkCollection, stamp: dict[str, Any]) -> "KeywordIndex":
        import bm25s

        ids: list[str] = []
        texts: list[str] = []
        for cid, meta, text in collection.scan(include=("metadatas", "documents")):
            ids.append(cid)
            texts.append(f"{meta.get('title', '')}\n{text or ''}")
        if not ids:
            return cls(None, [], stamp)
        tokens = terms_batch(texts)
        df = Counter(t for doc in tokens for t in set(doc))
        # bm25s needs every document to have a token; an empty one gets a placeholder.
        tokens = [t if t else ["\x00"] for t in tokens]
        bm25 = bm25s.BM25(k1=0.9, b=0.4)  # Anserini's BEIR settings
        bm25.index(tokens, show_progress=False)
        return cls(bm25, ids, stamp, dict(df))

    def save(self, directory: Path) -> None:
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".kw-", dir=directory.parent))
        try:
            if self.bm25 is not None:
                self.bm25.save(str(tmp), show_progress=False)
            (tmp / "ids.json").write_text(json.dumps(self.ids))
            (tmp / "df.json").write_text(json.dumps(self.df))
            (tmp / "stamp.json").write_text(json.dumps(self.stamp))
            # Swap in the new directory; a reader sees the old or the new one, never half.
            old = directory.with_name(directory.name + ".old")
            if directory.exists():
                shutil.rmtree(old, ignore_errors=True)
                os.replace(directory, old)
            os.replace(tmp, directory)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> "KeywordIndex | None":
        try:
            stamp = json.loads((directory / "stamp.json").read_text())
            ids = json.loads((directory / "ids.json").read_text())
            df = json.loads((directory / "df.json").read_text())
            bm25 = None
            if ids:
                import bm25s

                bm25 = bm25s.BM25.load(str(directory), show_progress=False)
            return cls(bm25, ids, stamp, df)
        except (OSError, ValueError, KeyError):
            return None


_MEMO: dict[str, KeywordIndex] = {}
_MEMO_LOCK = threading.Lock()


def keyword_index(settings: Settings, collection: ChunkCollection) -> KeywordIndex:
    """The up-to-date keyword index for ``collection``: from memory, disk, or rebuilt."""
    stamp = {"generation": collection.generation, "count": collection.count()}
    directory = _cache_dir(settings, collection.name)
    key = str(directory)
    with _MEMO_LOCK:
        cached = _MEMO.get(key)
        if cached is not None and cached.stamp == stamp:
            return cached
        index = KeywordIndex.load(directory)
        if index is None or index.stamp != stamp:
            index = KeywordIndex.build(collection, stamp)
            try:
                index.save(directory)
            except OSError:
                pass  # a read-only data dir still answers; it just rebuilds next time
        _MEMO[key] = index
        return index
