"""The Chroma store: an embedded on-disk client by default, or a Chroma server.

One Chroma collection per assistant collection, cosine space, embeddings always supplied by
us (a collection never gets Chroma's default embedding function, which downloads a model).

The chunks carry their document's identity, content hash and chunk count in their metadata,
so the index is its own manifest: a document is complete when all its chunks are present.
A crash between two writes leaves an incomplete document, which the next ingest redoes.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence
from urllib.parse import urlparse

from assistant.config import Settings, offline_environment
from assistant.errors import CollectionNotFound, ConfigError, StoreUnavailable
from assistant.types import Chunk, DocumentRecord

if TYPE_CHECKING:
    import numpy as np

PAGE = 2000  # rows per Chroma get() call when scanning a collection (larger pages: faster, more memory)
ID_PAGE = 50_000  # ids per get() call when listing ids only
WRITE_BATCH = 1000  # rows per upsert; Chroma caps batch size


def chunk_metadata(chunk: Chunk, doc: dict[str, Any]) -> dict[str, Any]:
    """What Chroma stores beside a chunk: its location and its document's identity."""
    meta = {
        "doc_id": chunk.doc_id,
        "source": chunk.source,
        "title": chunk.title,
        "ordinal": chunk.ordinal,
        "start": chunk.start,
        "end": chunk.end,
        "doc_hash": doc["content_hash"],
        "doc_chunks": doc["chunks"],
        "ingested_at": doc["ingested_at"],
        "kind": doc.get("kind", "file"),
    }
    if chunk.page is not None:
        meta["page"] = chunk.page  # Chroma metadata cannot hold None
    meta.update(document_metadata(doc))
    if chunk.section:
        meta["section"] = chunk.section
    if chunk.page_label:
        meta["page_label"] = chunk.page_label
    return meta


def document_metadata(doc: dict[str, Any]) -> dict[str, Any]:
    """The document-level fields scopes filter on, as every chunk of the document stores them.
    Tags are one string (``tags_text``): `assistant tag` rewrites it without re-embedding."""
    return {
        "folder": str(doc.get("folder", "")),
        "file_type": str(doc.get("file_type", "")),
        "modified": float(doc.get("modified", 0.0)),
        "tags": tags_text(doc.get("tags", ())),
    }


def tags_text(tags: Iterable[str]) -> str:
    return ",".join(sorted(set(tags)))


def tags_of(meta: dict[str, Any]) -> list[str]:
    text = str(meta.get("tags", "") or "")
    return [t for t in text.split(",") if t]


def chunk_from_record(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    return Chunk(
        id=chunk_id,
        doc_id=str(meta.get("doc_id", "")),
        text=text or "",
        source=str(meta.get("source", "")),
        title=str(meta.get("title", "")),
        ordinal=int(meta.get("ordinal", 0)),
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", 0)),
        page=int(meta["page"]) if "page" in meta else None,
        section=str(meta.get("section", "")),
        page_label=str(meta["page_label"]) if meta.get("page_label") else None,
    )


_CLIENTS: dict[str, Any] = {}
_CLIENTS_LOCK = threading.Lock()
# The generation of each collection as this process's embedded client has it in memory. An
# embedded client loads a collection's vector index once and never sees what other processes
# write afterwards (it would keep returning chunks another process deleted), so a collection
# whose generation moved without us is reopened with a fresh client.
_LOADED_GENERATION: dict[tuple[str, str], int] = {}


def _client_key(settings: Settings) -> str:
    return settings.chroma_url or str(settings.chroma_path.resolve())


def open_client(settings: Settings, *, fresh: bool = False):
    """A Chroma client for the configured store (cached per process; ``fresh``: a new one
    that reads the store from disk again)."""
    offline_environment()
    key = _client_key(settings)
    with _CLIENTS_LOCK:
        if fresh and not settings.chroma_url:
            from chromadb.api.shared_system_client import SharedSystemClient

            _CLIENTS.pop(key, None)
            # Chroma shares one in-memory system per directory; drop it (without stopping it:
            # queries in flight on other threads finish on it) so the new client loads anew.
            SharedSystemClient._identifier_to_system.pop(str(settings.chroma_path), None)
            SharedSystemClient._identifier_to_refcount.pop(str(settings.chroma_path), None)
            for k in [k for k in _LOADED_GENERATION if k[0] == key]:
                del _LOADED_GENERATION[k]
        if key in _CLIENTS:
            return _CLIENTS[key]
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        try:
            if settings.chroma_url:
                url = urlparse(settings.chroma_url)
                client = chromadb.HttpClient(
                    host=url.hostname or "127.0.0.1",
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    settings=chroma_settings,
                )
                client.heartbeat()
            else:
                settings.chroma_path.mkdir(parents=True, exist_ok=True)
                client = chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
        except Exception as exc:  # chromadb raises many types; all mean "cannot open the store"
            where = settings.chroma_url or str(settings.chroma_path)
            hint = (
                "is the server running? (chroma run --path DIR --host 127.0.0.1 --port PORT)"
                if settings.chroma_url
                else "check the data directory's permissions"
            )
            raise StoreUnavailable(f"cannot open the Chroma store at {where}: {exc}; {hint}") from None
        _CLIENTS[key] = client
        return client


def forget_client(settings: Settings) -> None:
    """Drop the cached client (tests that start and stop servers use this)."""
    key = _client_key(settings)
    with _CLIENTS_LOCK:
        _CLIENTS.pop(key, None)


class Store:
    """The collections of one data directory or Chroma server."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.client = open_client(settings)

    @property
    def location(self) -> str:
        return self.settings.chroma_url or str(self.settings.chroma_path)

    def collection_names(self) -> list[str]:
        cols = self.client.list_collections()
        return sorted(c if isinstance(c, str) else c.name for c in cols)

    def open(self, name: str, *, create: bool = False, embed_model: str = "", dimension: int = 0) -> "ChunkCollection":
        """The named collection; created (cosine space) when ``create`` is set. Changes made
        by other processes since this process last read it are picked up."""
        col = self._open(name, create=create, embed_model=embed_model, dimension=dimension)
        key = (_client_key(self.settings), name)
        loaded = _LOADED_GENERATION.get(key)
        if loaded is not None and loaded != col.generation and not self.settings.chroma_url:
            self.client = open_client(self.settings, fresh=True)
            col = self._open(name, create=create, embed_model=embed_model, dimension=dimension)
        _LOADED_GENERATION[key] = col.generation
        return col

    def _open(self, name: str, *, create: bool, embed_model: str, dimension: int) -> "ChunkCollection":
        from chromadb.errors import NotFoundError

        try:
            raw = self.client.get_collection(name, embedding_function=None)
        except (NotFoundError, ValueError):
            if not create:
                raise CollectionNotFound(
                    f"collection {name!r} does not exist in {self.location}; "
                    f"ingest documents first: assistant ingest PATH --collection {name}"
                ) from None
            raw = self.client.get_or_create_collection(
                name,
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,
                metadata={
                    "embed_model": embed_model,
                    "dimension": dimension,
                    "generation": 0,
                    "created_at": _now(),
                },
            )
        store_file = None if self.settings.chroma_url else self.settings.chroma_path / STORE_FILE
        return ChunkCollection(raw, _client_key(self.settings), store_file)

    def delete(self, name: str) -> None:
        self.client.delete_collection(name)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# Embedded Chroma keeps everything but the vector index in this SQLite file: any write, from
# any process or tool, changes it; reading does not.
STORE_FILE = "chroma.sqlite3"
# Counts taken in this process, with the store file's state when taken: (client, collection)
# -> (signature, count).
_COUNTS: dict[tuple[str, str], tuple[tuple[int, int, int], int]] = {}


class ChunkCollection:
    """Chunks and their vectors in one Chroma collection."""

    def __init__(self, raw, client_key: str = "", store_file=None):
        self.raw = raw
        self.name = raw.name
        self.client_key = client_key
        self.store_file = store_file  # embedded store: its database file; None for a server
        self._count: int | None = None

    # --- collection-level facts -------------------------------------------------
    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self.raw.metadata or {})

    @property
    def embed_model(self) -> str:
        return str(self.metadata.get("embed_model", ""))

    @property
    def dimension(self) -> int:
        """The size of the collection's vectors: as recorded, else that of a stored vector
        (collections made before it was recorded), else 0 (nothing stored yet)."""
        recorded = int(self.metadata.get("dimension", 0) or 0)
        if recorded:
            return recorded
        got = self.raw.get(limit=1, include=["embeddings"])
        vectors = got.get("embeddings")
        return len(vectors[0]) if vectors is not None and len(vectors) else 0

    def check_embeddings(self, identity: str, dimension: int | None = None) -> None:
        """Refuse vectors from another model, or of another size, than the collection's own:
        nearest neighbours across two models' vectors are meaningless."""
        built_with = self.embed_model
        have = self.dimension if dimension is not None else 0
        if (built_with and built_with != identity) or (dimension and have and have != dimension):
            was = f"{built_with or 'an unrecorded model'!r}" + (f" ({have} dimensions)" if have else "")
            now = f"{identity!r}" + (f" ({dimension} dimensions)" if dimension else "")
            raise ConfigError(
                f"collection {self.name!r} was built with embeddings from {was}, not {now}. Fix: set embed_backend "
                "(and embed_model) back to what built it, or ingest into a new collection (--collection NAME) "
                "to use the new model; one collection never mixes two models' vectors"
            )

    def record_embeddings(self, identity: str, dimension: int) -> None:
        """Remember the model and vector size (checked by ``check_embeddings`` from then on)."""
        meta = self.metadata
        if meta.get("embed_model") == identity and int(meta.get("dimension", 0) or 0) == dimension:
            return
        meta.update(embed_model=identity, dimension=dimension)
        meta.pop("hnsw:space", None)  # legacy key; configuration holds the space
        self.raw.modify(metadata=meta)

    @property
    def generation(self) -> int:
        """Bumped after every change, so caches (the keyword index) know when to rebuild."""
        return int(self.metadata.get("generation", 0))

    def bump_generation(self) -> None:
        meta = self.metadata
        meta["generation"] = int(meta.get("generation", 0)) + 1
        meta["updated_at"] = _now()
        meta.pop("hnsw:space", None)  # legacy key; configuration holds the space
        self.raw.modify(metadata=meta)
        self._count = None
        _LOADED_GENERATION[(self.client_key, self.name)] = meta["generation"]  # written through this client

    def count(self) -> int:
        """Chunks in the collection, as of this object's first count or its last write.

        Counting is not free (10-16 ms at 100k chunks, a round trip to a server), and a
        question asks several times; the collection is opened anew for each question, so a
        count cached on this object is never older than the question. Writes through this
        object reset it. On an embedded store a count is also reused by later openings in
        this process while the store's file is unchanged on disk (a write by any process or
        tool changes it), so questions in a row count once.
        """
        if self._count is None:
            key = (self.client_key, self.name)
            signature = self._store_signature()  # before counting: a write after it only forces a recount
            known = _COUNTS.get(key)
            if signature is not None and known is not None and known[0] == signature:
                self._count = known[1]
            else:
                self._count = self.raw.count()
                if signature is not None:
                    _COUNTS[key] = (signature, self._count)
        return self._count

    def _store_signature(self) -> tuple[int, int, int] | None:
        """The embedded store file's identity, size and modification time, or None when it
        cannot vouch for an unchanged count: a server, no file, or a file written within the
        last few seconds (a second write within the file system's time resolution, up to 2 s
        on some, could leave its time unchanged)."""
        if self.store_file is None:
            return None
        try:
            st = os.stat(self.store_file)
        except OSError:
            return None
        if time.time_ns() - st.st_mtime_ns < 3_000_000_000:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    # --- writing -------------------------------------------------------------------
    def upsert(self, chunks: Sequence[Chunk], embeddings: "np.ndarray", docs: dict[str, dict[str, Any]]) -> None:
        """Write chunks (idempotent: ids are deterministic)."""
        self._count = None
        for i in range(0, len(chunks), WRITE_BATCH):
            part = chunks[i : i + WRITE_BATCH]
            self.raw.upsert(
                ids=[c.id for c in part],
                embeddings=embeddings[i : i + WRITE_BATCH],
                documents=[c.text for c in part],
                metadatas=[chunk_metadata(c, docs[c.doc_id]) for c in part],
            )

    def delete_ids(self, ids: Sequence[str]) -> None:
        self._count = None
        for i in range(0, len(ids), WRITE_BATCH):
            self.raw.delete(ids=list(ids[i : i + WRITE_BATCH]))

    # --- reading -------------------------------------------------------------------
    def scan(self, include: Sequence[str] = ("metadatas",)) -> Iterator[tuple[str, dict[str, Any], str | None]]:
        """Every (id, metadata, document-or-None) in the collection, page by page."""
        for page in self.pages(include):
            yield from page

    def pages(self, include: Sequence[str] = ("metadatas",)) -> Iterator[list[tuple[str, dict[str, Any], str | None]]]:
        """The collection as lists of (id, metadata, document-or-None), ``PAGE`` at a time."""
        offset = 0
        while True:
            page = self.raw.get(include=list(include), limit=PAGE, offset=offset)
            ids = page["ids"]
            if not ids:
                return
            metas = page.get("metadatas") or [{}] * len(ids)
            texts = page.get("documents") or [None] * len(ids)
            yield [(cid, meta or {}, text) for cid, meta, text in zip(ids, metas, texts)]
            offset += len(ids)
            if len(ids) < PAGE:
                return

    def ids(self) -> list[str]:
        """Every chunk id, in the order ``scan`` gives them (reading no metadata: cheap)."""
        out: list[str] = []
        offset = 0
        while True:
            ids = self.raw.get(include=[], limit=ID_PAGE, offset=offset)["ids"]
            out.extend(ids)
            offset += len(ids)
            if len(ids) < ID_PAGE:
                return out

    def documents(self) -> dict[str, DocumentRecord]:
        """The manifest: every document with its hash and how many of its chunks are present."""
        counts: dict[str, int] = defaultdict(int)
        first: dict[str, dict[str, Any]] = {}
        for _cid, meta, _ in self.scan():
            doc_id = str(meta.get("doc_id", ""))
            counts[doc_id] += 1
            # Chunks of one document normally agree; after an interrupted update they may
            # not, and then the record must not look complete.
            prev = first.get(doc_id)
            if prev is None:
                first[doc_id] = dict(meta)
            elif prev.get("doc_hash") != meta.get("doc_hash"):
                prev["doc_hash"] = "mixed"
        return {
            doc_id: DocumentRecord(
                doc_id=doc_id,
                source=str(meta.get("source", "")),
                title=str(meta.get("title", "")),
                content_hash=str(meta.get("doc_hash", "")),
                chunks=counts[doc_id],
                expected_chunks=int(meta.get("doc_chunks", -1)),
                ingested_at=str(meta.get("ingested_at", "")),
                kind=str(meta.get("kind", "file")),
                folder=str(meta.get("folder", "")),
                file_type=str(meta.get("file_type", "")),
                modified=float(meta.get("modified", 0.0) or 0.0),
                tags=tags_of(meta),
            )
            for doc_id, meta in first.items()
        }

    def chunk_ids_of(self, doc_ids: Iterable[str]) -> list[str]:
        ids: list[str] = []
        wanted = list(dict.fromkeys(doc_ids))
        for i in range(0, len(wanted), 200):
            part = wanted[i : i + 200]
            where = {"doc_id": part[0]} if len(part) == 1 else {"doc_id": {"$in": part}}
            ids.extend(self.raw.get(where=where, include=[])["ids"])
        return ids

    def set_tags(self, doc_tags: dict[str, Sequence[str]]) -> int:
        """Give every chunk of each document its new tags (``{doc_id: tags}``): metadata only,
        nothing is re-embedded; documents are read and written in batches. Returns the chunks changed."""
        self._count = None
        wanted = list(doc_tags)
        changed = 0
        for i in range(0, len(wanted), 200):
            part = wanted[i : i + 200]
            where = {"doc_id": part[0]} if len(part) == 1 else {"doc_id": {"$in": part}}
            got = self.raw.get(where=where, include=["metadatas"])
            ids, metas = [], []
            for cid, meta in zip(got["ids"], got["metadatas"] or []):
                meta = dict(meta or {})
                text = tags_text(doc_tags.get(str(meta.get("doc_id", "")), ()))
                if meta.get("tags", "") != text:
                    meta["tags"] = text
                    ids.append(cid)
                    metas.append(meta)
            for j in range(0, len(ids), WRITE_BATCH):
                self.raw.update(ids=ids[j : j + WRITE_BATCH], metadatas=metas[j : j + WRITE_BATCH])
            changed += len(ids)
        return changed

    def get_chunks(self, ids: Sequence[str], with_embeddings: bool = False) -> dict[str, tuple[Chunk, Any]]:
        """Chunks by id (missing ids are left out), with their vectors when asked."""
        if not ids:
            return {}
        include = ["documents", "metadatas"] + (["embeddings"] if with_embeddings else [])
        got = self.raw.get(ids=list(ids), include=include)
        embs = got.get("embeddings") if with_embeddings else None
        out = {}
        for i, cid in enumerate(got["ids"]):
            vec = embs[i] if embs is not None else None
            out[cid] = (chunk_from_record(cid, got["documents"][i], got["metadatas"][i] or {}), vec)
        return out

    def query(self, embedding: "np.ndarray", k: int, doc_ids: Sequence[str] | None = None) -> list[tuple[Chunk, float]]:
        """Nearest chunks by cosine similarity, best first; only chunks of ``doc_ids`` when given
        (a Chroma ``where``: the filter runs inside the vector search, not after it)."""
        # Chroma returns all chunks when asked for more than it has: no count needed.
        if self._count == 0 or (doc_ids is not None and not doc_ids):
            return []
        where = None
        if doc_ids is not None:
            ids = list(doc_ids)
            where = {"doc_id": ids[0]} if len(ids) == 1 else {"doc_id": {"$in": ids}}
        res = self.raw.query(
            query_embeddings=[embedding],
            n_results=max(k, 1),
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        out = []
        for cid, text, meta, dist in zip(
            res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0]
        ):
            out.append((chunk_from_record(cid, text, meta or {}), 1.0 - float(dist)))
        return out
