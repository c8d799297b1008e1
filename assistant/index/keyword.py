"""BM25 keyword search over a collection's chunks.

The index is built from the chunks stored in Chroma (title + text, stemmed) and cached on
disk under the data directory, tagged with the collection's generation and chunk count;
any ingest or forget changes one of them, and the next query rebuilds the index.

Rebuilding is incremental: each chunk's terms are kept on disk under its id (ids are
content-addressed, so an id always names the same text) with its document's content hash
(which covers the title too), and a rebuild lists the chunk ids (not their metadata), checks
the hashes against the document list (``manifest.py``, cached), and reads and stems only
chunks it has not seen or whose document changed. Re-ingesting one changed file into a
100k-chunk collection re-stems that file, not the collection, and reads no other chunk.
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
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from assistant.config import Settings
from assistant.index.store import ChunkCollection
from assistant.text import terms, terms_batch
from assistant.types import DocumentRecord

if TYPE_CHECKING:
    import numpy as np

K1, B = 0.9, 0.4  # Anserini's BEIR settings
FETCH = 1000  # chunk texts read per Chroma call when stemming new chunks
EMPTY = "\x00"  # bm25s needs every document to have a token


def _cache_dir(settings: Settings, collection: str) -> Path:
    where = "local" if not settings.chroma_url else "server-" + hashlib.sha1(settings.chroma_url.encode()).hexdigest()[:12]
    return settings.data_dir / "keyword" / where / collection


class KeywordIndex:
    """A BM25 index over a fixed snapshot of a collection."""

    def __init__(self, bm25, ids: list[str], stamp: dict[str, Any], df: dict[str, int] | None = None,
                 doc_terms: "list[np.ndarray] | None" = None, vocab: list[str] | None = None,
                 doc_of: "list[int] | None" = None, docs: list[tuple[str, str]] | None = None):
        self.bm25 = bm25
        self.ids = ids
        self.stamp = stamp
        self.df = df or {}
        # For incremental rebuilds: per chunk, its terms as vocabulary ids and its document
        # (an index into ``docs``: (doc_id, content hash) as of when the chunk was stemmed).
        self.doc_terms = doc_terms or []
        self.vocab = vocab or []
        self.doc_of = doc_of if doc_of is not None else []
        self.docs = docs or []
        self._position: dict[str, int] | None = None
        self._masks: dict[frozenset, "np.ndarray"] = {}

    def drop_terms(self) -> None:
        """Free what only a rebuild needs (it is on disk). Which document each row belongs to
        stays: scopes need it."""
        self.doc_terms, self.vocab = [], []

    def mask(self, doc_ids: "Iterable[str]") -> "np.ndarray":
        """Rows of chunks of ``doc_ids`` (a boolean per row), from the row -> document table
        kept with the index: no chunk is read. Cached per scope (questions in one conversation
        reuse it)."""
        import numpy as np

        key = frozenset(doc_ids)
        cached = self._masks.get(key)
        if cached is not None:
            return cached
        allowed = np.fromiter((d in key for d, _ in self.docs), dtype=bool, count=len(self.docs))
        row_doc = np.asarray(self.doc_of, dtype=np.int32)
        out = allowed[row_doc] if len(row_doc) else np.zeros(len(self.ids), dtype=bool)
        if len(self._masks) >= 32:
            self._masks.pop(next(iter(self._masks)))
        self._masks[key] = out
        return out

    @property
    def position(self) -> dict[str, int]:
        """Chunk id -> row in the index."""
        if self._position is None:
            self._position = {cid: i for i, cid in enumerate(self.ids)}
        return self._position

    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term (unseen terms count as rare)."""
        n = max(len(self.ids), 1)
        df = self.df.get(term, 0)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def scores(self, query_terms: Sequence[str]) -> "np.ndarray | None":
        """BM25 of every chunk for these stemmed terms (None when nothing can match)."""
        if not query_terms or not self.ids or self.bm25 is None:
            return None
        known = [t for t in query_terms if t in self.bm25.vocab_dict]
        if not known:
            return None
        return self.bm25.get_scores(known)

    def search(self, query: str, k: int, doc_ids: "Iterable[str] | None" = None) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) best first; chunks sharing no term with the query are left out
        (and, with ``doc_ids``, chunks of other documents)."""
        return self.top(self.within(self.scores(terms(query)), doc_ids), k)

    def within(self, s: "np.ndarray | None", doc_ids: "Iterable[str] | None") -> "np.ndarray | None":
        """``scores()``'s result with rows outside ``doc_ids`` zeroed (None: all rows kept)."""
        import numpy as np

        if s is None or doc_ids is None:
            return s
        return np.where(self.mask(doc_ids), s, 0.0).astype(s.dtype, copy=False)

    def top(self, s: "np.ndarray | None", k: int) -> list[tuple[str, float]]:
        """The ``k`` best of ``scores()``'s result as (chunk id, score), zero scores left out."""
        import numpy as np

        if s is None:
            return []
        k = min(k, len(self.ids))
        top = np.argpartition(-s, k - 1)[:k] if k < len(s) else np.arange(len(s))
        top = top[np.argsort(-s[top], kind="stable")]
        return [(self.ids[int(i)], float(s[i])) for i in top if s[i] > 0]

    def ceiling(self, query_terms: Sequence[str]) -> float:
        """The BM25 of a passage matching every query term many times (each term saturates at
        ``idf * (k1 + 1)``): the best passage's share of it says how much of the query matched."""
        return sum(self.idf(t) for t in query_terms) * (K1 + 1.0)

    # --- building ----------------------------------------------------------------------
    @classmethod
    def build(cls, collection: ChunkCollection, stamp: dict[str, Any],
              previous: "KeywordIndex | None" = None,
              documents: "dict[str, DocumentRecord] | None" = None) -> "KeywordIndex":
        """Index every chunk of ``collection``. With ``previous`` (and ``documents``, the
        collection's document list), chunks ``previous`` has whose document is unchanged keep
        their terms and are not read; the rest are read and stemmed."""
        import bm25s
        import numpy as np

        vocab: list[str] = list(previous.vocab) if previous else []
        vocab_ids = {t: i for i, t in enumerate(vocab)}
        docs: list[tuple[str, str]] = []
        doc_ids: dict[tuple[str, str], int] = {}

        def doc_number(doc_id: str, digest: str) -> int:
            key = (doc_id, digest)
            n = doc_ids.get(key)
            if n is None:
                n = doc_ids[key] = len(docs)
                docs.append(key)
            return n

        def to_ids(toks: list[str]) -> "np.ndarray":
            arr = np.empty(len(toks), dtype=np.int32)
            for j, t in enumerate(toks):
                tid = vocab_ids.get(t)
                if tid is None:
                    tid = vocab_ids[t] = len(vocab)
                    vocab.append(t)
                arr[j] = tid
            return arr

        def stem(rows: list[tuple[str, dict[str, Any], str | None]]) -> list[tuple[str, int, "np.ndarray"]]:
            texts = [f"{meta.get('title', '')}\n{text or ''}" for _, meta, text in rows]
            return [(cid, doc_number(str(meta.get("doc_id", "")), str(meta.get("doc_hash", ""))), to_ids(toks))
                    for (cid, meta, _), toks in zip(rows, terms_batch(texts))]

        ids: list[str] = []
        doc_of: list[int] = []
        doc_terms: list[np.ndarray] = []
        if previous is not None and previous.doc_terms and documents is not None:
            # Which of the previous index's documents are unchanged (same content hash).
            unchanged = [documents.get(d) is not None and documents[d].content_hash == h for d, h in previous.docs]
            position = previous.position
            listed = collection.ids()
            want = [cid for cid in listed
                    if (j := position.get(cid)) is None or not unchanged[previous.doc_of[j]]]
            fresh: dict[str, tuple[str, int, np.ndarray]] = {}
            for start in range(0, len(want), FETCH):
                got = collection.raw.get(ids=want[start : start + FETCH], include=["metadatas", "documents"])
                rows = list(zip(got["ids"], [m or {} for m in got["metadatas"] or []], got["documents"] or []))
                for item in stem(rows):
                    fresh[item[0]] = item
            wanted = set(want)
            for cid in listed:  # in the store's order, as a build from scratch has them
                if cid in wanted:
                    if cid not in fresh:  # deleted meanwhile
                        continue
                    _, number, arr = fresh[cid]
                else:
                    j = position[cid]
                    number, arr = doc_number(*previous.docs[previous.doc_of[j]]), previous.doc_terms[j]
                ids.append(cid)
                doc_of.append(number)
                doc_terms.append(arr)
        else:
            for page in collection.pages(include=("metadatas", "documents")):
                for cid, number, arr in stem(page):
                    ids.append(cid)
                    doc_of.append(number)
                    doc_terms.append(arr)
        if not ids:
            return cls(None, [], stamp)
        return cls._index(ids, doc_terms, vocab, stamp, bm25s, doc_of, docs)

    @classmethod
    def _index(cls, ids, doc_terms, vocab, stamp, bm25s, doc_of, docs) -> "KeywordIndex":
        import numpy as np

        # bm25s wants a dense vocabulary of the terms present; map ours onto it. A chunk with
        # no terms gets the EMPTY token (bm25s needs every document to have one).
        n_vocab = len(vocab)
        lengths = np.fromiter((len(a) for a in doc_terms), dtype=np.int64, count=len(doc_terms))
        flat = np.concatenate(doc_terms).astype(np.int32) if lengths.sum() else np.zeros(0, dtype=np.int32)
        if (lengths == 0).any():
            parts = [a if len(a) else np.asarray([n_vocab], dtype=np.int32) for a in doc_terms]
            flat, lengths = np.concatenate(parts).astype(np.int32), np.maximum(lengths, 1)
        counts = np.bincount(flat, minlength=n_vocab + 1)
        present = np.flatnonzero(counts[:n_vocab])
        remap = np.full(n_vocab + 1, -1, dtype=np.int32)
        remap[present] = np.arange(len(present))
        empty_id = len(present)
        remap[n_vocab] = empty_id
        vocab_dict = {vocab[int(t)]: i for i, t in enumerate(present)}
        vocab_dict[EMPTY] = empty_id
        bm25 = _ArrayBM25(k1=K1, b=B)
        bm25.index((_Corpus(remap[flat], lengths), vocab_dict), show_progress=False)
        df_dense = bm25.doc_frequencies
        df = {vocab[int(t)]: int(df_dense[i]) for i, t in enumerate(present)}
        return cls(bm25, ids, stamp, df, doc_terms, vocab, doc_of, docs)

    # --- disk ---------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        import numpy as np

        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".kw-", dir=directory.parent))
        try:
            if self.bm25 is not None:
                self.bm25.save(str(tmp), show_progress=False)
            (tmp / "ids.json").write_text(json.dumps(self.ids))
            (tmp / "df.json").write_text(json.dumps(self.df))
            (tmp / "stamp.json").write_text(json.dumps(self.stamp))
            if self.doc_terms:
                lengths = np.fromiter((len(a) for a in self.doc_terms), dtype=np.int64, count=len(self.doc_terms))
                np.savez(tmp / "terms.npz", flat=np.concatenate(self.doc_terms).astype(np.int32),
                         offsets=np.concatenate([[0], np.cumsum(lengths)]),
                         doc_of=np.asarray(self.doc_of, dtype=np.int32))
                (tmp / "vocab.json").write_text(json.dumps(self.vocab))
                (tmp / "docs.json").write_text(json.dumps(self.docs))
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
    def load(cls, directory: Path, with_terms: bool = False) -> "KeywordIndex | None":
        """The saved index; ``with_terms`` also loads the per-chunk terms (for a rebuild)."""
        try:
            stamp = json.loads((directory / "stamp.json").read_text())
            ids = json.loads((directory / "ids.json").read_text())
            df = json.loads((directory / "df.json").read_text())
            bm25 = None
            doc_terms: list = []
            vocab: list[str] = []
            doc_of: list[int] = []
            docs: list[tuple[str, str]] = []
            if with_terms and (directory / "terms.npz").exists():
                import numpy as np

                data = np.load(directory / "terms.npz")
                flat, offsets = data["flat"], data["offsets"]
                doc_terms = [flat[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
                doc_of = data["doc_of"]
                vocab = json.loads((directory / "vocab.json").read_text())
                docs = [tuple(d) for d in json.loads((directory / "docs.json").read_text())]
                if not (len(doc_terms) == len(doc_of) == len(ids)):
                    doc_terms, vocab, doc_of, docs = [], [], [], []
            elif ids:
                import bm25s
                import numpy as np

                bm25 = bm25s.BM25.load(str(directory), show_progress=False, mmap=False)
                # Rows -> documents (for scopes); an index saved without them is rebuilt.
                with np.load(directory / "terms.npz") as data:
                    doc_of = data["doc_of"]
                docs = [tuple(d) for d in json.loads((directory / "docs.json").read_text())]
                if len(doc_of) != len(ids):
                    return None
            return cls(bm25, ids, stamp, df, doc_terms, vocab, doc_of, docs)
        except (OSError, ValueError, KeyError):  # missing, partial or an older format: rebuild
            return None

    @staticmethod
    def saved_stamp(directory: Path) -> dict[str, Any] | None:
        try:
            return json.loads((directory / "stamp.json").read_text())
        except (OSError, ValueError):
            return None


class _Corpus(list):
    """Every chunk's terms as one flat array of term ids plus per-chunk lengths (a ``list`` so
    that ``bm25s.BM25.index`` accepts it; only ``_ArrayBM25`` reads it)."""

    def __init__(self, flat, lengths):
        super().__init__()
        self.flat, self.lengths = flat, lengths


def _array_bm25():
    import bm25s
    import numpy as np

    class ArrayBM25(bm25s.BM25):
        """bm25s's index (Lucene BM25: the same formulas and matrix layout), built with array
        operations instead of a Python loop per chunk: at 100k chunks, 1 s instead of 5."""

        def build_index_from_ids(self, unique_token_ids, corpus_token_ids, show_progress=True, leave_progress=False):
            if not isinstance(corpus_token_ids, _Corpus) or self.method != "lucene" or self.idf_method != "lucene":
                return super().build_index_from_ids(unique_token_ids, corpus_token_ids, show_progress, leave_progress)
            flat, lengths = corpus_token_ids.flat, corpus_token_ids.lengths
            n_docs, n_vocab = len(lengths), len(unique_token_ids)
            # (chunk, term) pairs with their counts, sorted by chunk then term. Temporaries are
            # dropped as soon as possible: at 100k chunks each array is tens of megabytes.
            key = np.repeat(np.arange(n_docs, dtype=np.int64) * n_vocab, lengths)
            key += flat
            pairs, tf = np.unique(key, return_counts=True)
            del key
            pair_doc = (pairs // n_vocab).astype(np.int32)
            pair_term = (pairs % n_vocab).astype(np.int32)
            del pairs
            df = np.bincount(pair_term, minlength=n_vocab)
            idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5)).astype(self.dtype)
            tf = tf.astype(self.dtype)
            norm = (self.k1 * ((1 - self.b) + self.b * lengths / lengths.mean())).astype(self.dtype)
            scores = idf[pair_term] * (tf / (norm[pair_doc] + tf))
            del tf
            order = np.argsort(pair_term, kind="stable")  # by term, then chunk: column-major (CSC)
            del pair_term
            indptr = np.zeros(n_vocab + 1, dtype=np.int64)
            np.cumsum(df, out=indptr[1:])
            self.doc_frequencies = df
            self.nonoccurrence_array = None  # Lucene BM25 has none
            return {"data": scores[order].astype(self.dtype, copy=False),
                    "indices": pair_doc[order].astype(self.int_dtype, copy=False),
                    "indptr": indptr, "num_docs": n_docs}

    return ArrayBM25


def _ArrayBM25(**kwargs):
    global _ArrayBM25_class
    if _ArrayBM25_class is None:
        _ArrayBM25_class = _array_bm25()
    return _ArrayBM25_class(**kwargs)


_ArrayBM25_class = None

_MEMO: dict[str, KeywordIndex] = {}
_MEMO_LOCK = threading.Lock()


def keyword_index(settings: Settings, collection: ChunkCollection) -> KeywordIndex:
    """The up-to-date keyword index for ``collection``: from memory, disk, or rebuilt."""
    stamp = {"id": str(collection.raw.id), "generation": collection.generation, "count": collection.count()}
    directory = _cache_dir(settings, collection.name)
    key = str(directory)
    with _MEMO_LOCK:
        cached = _MEMO.get(key)
        if cached is not None and cached.stamp == stamp:
            return cached
        index = KeywordIndex.load(directory) if KeywordIndex.saved_stamp(directory) == stamp else None
        if index is None or index.stamp != stamp:
            from assistant.index import manifest

            previous = cached if cached is not None and cached.doc_terms else KeywordIndex.load(directory, with_terms=True)
            documents = manifest.load(settings, collection) if previous is not None and previous.doc_terms else None
            index = KeywordIndex.build(collection, stamp, previous, documents)
            try:
                index.save(directory)
                index.drop_terms()  # on disk for the next rebuild
            except OSError:
                pass  # a read-only data dir still answers; it just rebuilds next time
        _MEMO[key] = index
        return index


def carry_over(settings: Settings, collection: ChunkCollection, before: dict[str, Any]) -> None:
    """After a change that touched no chunk's text, title or presence (tags), let the saved
    keyword index stand for the collection's new stamp instead of being rebuilt. ``before``:
    the stamp (``{"id", "generation", "count"}``) from before the change."""
    directory = _cache_dir(settings, collection.name)
    after = {"id": str(collection.raw.id), "generation": collection.generation, "count": collection.count()}
    if after["count"] != before.get("count") or KeywordIndex.saved_stamp(directory) != before:
        return
    try:
        tmp = directory / ".stamp.json.tmp"
        tmp.write_text(json.dumps(after))
        os.replace(tmp, directory / "stamp.json")
    except OSError:
        return
    with _MEMO_LOCK:
        cached = _MEMO.get(str(directory))
        if cached is not None and cached.stamp == before:
            cached.stamp = after


def stamp_of(collection: ChunkCollection) -> dict[str, Any]:
    return {"id": str(collection.raw.id), "generation": collection.generation, "count": collection.count()}
