"""The list of indexed documents, cached so a re-ingest of an unchanged corpus takes seconds.

The chunks' metadata in Chroma is the manifest (``ChunkCollection.documents()``), but reading
it means decoding every chunk's metadata: about 10 s for 100k chunks. This module keeps a copy
on disk under the data directory, stamped with the collection's generation and chunk count.
Every ingest bumps the generation before its first write and again at the end, and records the
copy it leaves behind with the final stamp; so any write by anyone else, or an ingest that
crashed half way, changes the stamp, and the next reader rebuilds the copy from Chroma.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

from assistant.config import Settings
from assistant.index.store import ChunkCollection
from assistant.types import DocumentRecord

VERSION = 2  # 2: folder, file_type, modified, tags
_FIELDS = ("doc_id", "source", "title", "content_hash", "chunks", "expected_chunks", "ingested_at", "kind",
           "folder", "file_type", "modified", "tags")


def _path(settings: Settings, collection: str) -> Path:
    where = "local" if not settings.chroma_url else "server-" + hashlib.sha1(settings.chroma_url.encode()).hexdigest()[:12]
    return settings.data_dir / "manifest" / where / f"{collection}.json"


def stamp_of(collection: ChunkCollection) -> dict:
    return {"version": VERSION, "id": str(collection.raw.id), "generation": collection.generation,
            "count": collection.count()}


def load(settings: Settings, collection: ChunkCollection) -> dict[str, DocumentRecord]:
    """Every document of ``collection`` (from the cached copy when its stamp is current)."""
    path = _path(settings, collection.name)
    stamp = stamp_of(collection)
    memo = _MEMO.get(str(path))
    if memo is not None and memo[0] == stamp:  # scoped questions read it every time: keep it
        return dict(memo[1])
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("stamp") == stamp:
            docs = {row[0]: DocumentRecord(*row) for row in data["documents"]}
            _MEMO[str(path)] = (stamp, docs)
            return dict(docs)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    docs = collection.documents()
    save(settings, collection, docs, stamp)
    return docs


_MEMO: dict[str, tuple[dict, dict[str, DocumentRecord]]] = {}


def save(settings: Settings, collection: ChunkCollection, docs: dict[str, DocumentRecord], stamp: dict | None = None) -> None:
    """Record ``docs`` as the manifest of ``collection`` as it is now."""
    path = _path(settings, collection.name)
    stamp = stamp or stamp_of(collection)
    rows = [[getattr(d, f) for f in _FIELDS] for d in docs.values()]
    _MEMO[str(path)] = (stamp, dict(docs))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".manifest-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"stamp": stamp, "documents": rows}, fh, separators=(",", ":"))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only data dir still works; it just scans Chroma each time


def forget(settings: Settings, collection: str) -> None:
    _MEMO.pop(str(_path(settings, collection)), None)
    try:
        _path(settings, collection).unlink()
    except OSError:
        pass


def record(doc: dict, chunks: int) -> DocumentRecord:
    """The manifest entry of a document just written with ``chunks`` chunks."""
    return DocumentRecord(
        doc_id=doc["doc_id"], source=doc["source"], title=doc["title"], content_hash=doc["content_hash"],
        chunks=chunks, expected_chunks=doc["chunks"], ingested_at=doc["ingested_at"], kind=doc.get("kind", "file"),
        folder=str(doc.get("folder", "")), file_type=str(doc.get("file_type", "")),
        modified=float(doc.get("modified", 0.0)), tags=sorted(set(doc.get("tags", ()))),
    )


__all__ = ["load", "save", "forget", "record", "stamp_of", "asdict"]
