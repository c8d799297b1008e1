"""Ingestion: find files -> read -> chunk -> embed -> write to Chroma, incrementally.

A document whose content (and chunking settings) are unchanged since the last run is not
read past its hash and not re-embedded. A changed document's new chunks are written first
and its stale chunks deleted after, so it never disappears from the index mid-update.
Documents are written in small groups: a crash loses at most the group in flight, and the
next run finds those documents incomplete and redoes them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence, Sized

from assistant.config import Settings
from assistant.index import manifest as manifests
from assistant.embed.encoder import Embedder, embedder_for
from assistant.errors import AssistantError, ConfigError, IngestLocked, PathNotFound
from assistant.index.store import ChunkCollection, Store
from assistant.types import Chunk, DocumentRecord
from ingest import ocr
from ingest.progress import ProgressCallback, Tracker
from ingest.chunking import chunk_id, chunk_spans, table_row_groups
from ingest.readers import READERS, SECTION_SEPARATOR, ParsedDocument, Section, Unreadable, parse

GROUP_CHUNKS = 256  # chunks embedded and written together
# Files are written as they are read; small ones are gathered for up to this long first, so
# thousands of tiny files are not written one Chroma call each.
FLUSH_SECONDS = 2.0


@dataclass
class FileResult:
    source: str
    status: str  # added | updated | unchanged | skipped | removed
    reason: str = ""
    chunks: int = 0

    def __post_init__(self) -> None:
        if not _encodable(self.source):  # undecodable bytes in a name: show them as U+FFFD
            self.source = self.source.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


@dataclass
class IngestReport:
    collection: str
    results: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0
    chunks_written: int = 0
    chunks_deleted: int = 0
    retagged: bool = False  # unchanged documents were given new tags (metadata only)
    chunks_retagged: int = 0

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def changed(self) -> bool:
        return bool(self.chunks_written or self.chunks_deleted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "added": self.count("added"),
            "updated": self.count("updated"),
            "unchanged": self.count("unchanged"),
            "skipped": self.count("skipped"),
            "removed": self.count("removed"),
            "chunks_written": self.chunks_written,
            "chunks_deleted": self.chunks_deleted,
            "seconds": round(self.seconds, 2),
            "files": [asdict(r) for r in self.results],
        }

    def summary(self) -> str:
        head = (
            f"{self.collection}: {self.count('added')} added, {self.count('updated')} updated, "
            f"{self.count('unchanged')} unchanged, {self.count('skipped')} skipped"
        )
        if self.count("removed"):
            head += f", {self.count('removed')} removed"
        head += f" ({self.chunks_written} chunks written, {self.seconds:.1f} s)"
        lines = [head]
        for r in self.results:
            if r.status == "skipped":
                lines.append(f"  skipped {r.source}: {r.reason}")
        return "\n".join(lines)


@dataclass
class _Prepared:
    doc: dict[str, Any]  # doc_id, source, title, content_hash, chunks, ingested_at, kind
    chunks: list[Chunk]
    result: FileResult


# --- locking ------------------------------------------------------------------------

@contextlib.contextmanager
def collection_lock(settings: Settings, collection: str) -> Iterator[None]:
    """Only one ingest per collection at a time; a second one refuses with a clear message."""
    import fcntl

    lock_dir = settings.data_dir / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    path = lock_dir / f"{collection}.lock"
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise IngestLocked(
                f"collection {collection!r} is being changed by {holder}; "
                "wait for it to finish and run this again"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)


# --- discovery ------------------------------------------------------------------------

def discover(paths: Sequence[str | Path], resolved: dict[Path, str] | None = None) -> tuple[list[Path], list[FileResult]]:
    """Files to consider under ``paths`` (directories walked recursively, hidden entries and
    symlinked directories skipped), plus skip results for entries that cannot be walked.

    ``resolved``, when given, is filled with each file's resolved path (its document id).
    """
    missing = [str(p) for p in paths if not os.path.lexists(os.path.expanduser(str(p)))]
    if missing:
        raise PathNotFound(f"no such file or directory: {', '.join(missing)}")
    files: list[Path] = []
    problems: list[FileResult] = []
    seen: set[str] = set()

    def add(p: Path, real: str | None = None) -> None:
        key = real or str(p.resolve() if p.exists() else p.absolute())
        if key not in seen:
            seen.add(key)
            files.append(p)
            if resolved is not None and (real or p.exists()):
                resolved[p] = key

    for raw in paths:
        root = Path(os.path.expanduser(str(raw)))
        if root.is_dir():
            def on_error(err: OSError) -> None:
                problems.append(FileResult(str(err.filename), "skipped", f"cannot read directory: {err.strerror}"))

            for dirpath, dirnames, filenames in os.walk(root, onerror=on_error, followlinks=False):
                # Resolved once per directory, not per file: resolving walks every component
                # of the path, which for 50k files took longer than reading them.
                real_dir = os.path.realpath(dirpath)
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for d in dirnames:
                    if os.path.islink(os.path.join(dirpath, d)):  # os.walk will not enter it
                        problems.append(FileResult(
                            os.path.join(dirpath, d), "skipped",
                            "link to a directory: not followed (ingest its target directly)",
                        ))
                for name in sorted(filenames):
                    if not name.startswith("."):
                        full = os.path.join(dirpath, name)
                        add(Path(full), None if os.path.islink(full) else os.path.join(real_dir, name))
        else:
            add(root)
    return files, problems


def doc_id_for_path(path: Path) -> str:
    return str(path.resolve())


# Bumped when readers change what they make of a file (PDF text, sections, tables): files
# ingested before are read again on the next run.
READERS_VERSION = 2


def content_signature(settings: Settings) -> str:
    """Changing any of these invalidates existing chunks."""
    return (f"{settings.embed_model}|{settings.chunk_tokens}|{settings.chunk_overlap}|{settings.embed_title}"
            f"|readers{READERS_VERSION}")


def content_hash(data: bytes, settings: Settings) -> str:
    h = hashlib.sha256(data)
    h.update(b"\x00" + content_signature(settings).encode())
    return h.hexdigest()


# --- the pipeline -----------------------------------------------------------------------

class Ingestor:
    """Ingests files or in-memory records into one collection."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None, progress: bool | None = None,
                 tags: Sequence[str] = (), on_progress: ProgressCallback | None = None):
        from assistant.index.scope import check_tag

        self.settings = settings
        self.embedder = embedder or embedder_for(settings)
        self.progress = progress  # None: a bar when stderr is a terminal
        self.tags = sorted({check_tag(t) for t in tags})  # given to every document ingested
        self._retag: list[tuple[DocumentRecord, list[str]]] = []  # unchanged documents given new tags
        self.on_progress = on_progress  # called with an IngestProgress as the run advances
        self._tracker = Tracker(None, 0)

    # public entry points
    def ingest_paths(self, paths: Sequence[str | Path], *, prune: bool = False) -> IngestReport:
        resolved: dict[Path, str] = {}
        files, problems = discover(paths, resolved)
        with collection_lock(self.settings, self.settings.collection):
            started = time.perf_counter()
            collection = self._open()
            manifest = manifests.load(self.settings, collection)
            current = dict(manifest)
            report = IngestReport(self.settings.collection, results=list(problems))
            self._tracker = Tracker(self.on_progress, len(files) + len(problems))
            for _ in problems:
                self._tracker.left_out()
            prepared = self._prepare_files(files, manifest, report, resolved)
            self._write(collection, prepared, manifest, report, current)
            self._apply_retags(collection, report, current)
            if prune:
                self._prune(collection, manifest, report, current)
            self._finish(collection, report, current)
            report.seconds = time.perf_counter() - started
            return report

    def ingest_records(self, records: Iterable[dict[str, Any]]) -> IngestReport:
        """Ingest corpus records ``{"id", "text", "title"?, "source"?}`` (benchmarks, APIs)."""
        with collection_lock(self.settings, self.settings.collection):
            started = time.perf_counter()
            collection = self._open()
            manifest = manifests.load(self.settings, collection)
            current = dict(manifest)
            report = IngestReport(self.settings.collection)
            self._tracker = Tracker(self.on_progress, len(records) if isinstance(records, Sized) else 0)
            self._write(collection, self._prepare_records(records, manifest, report), manifest, report, current)
            self._apply_retags(collection, report, current)
            self._finish(collection, report, current)
            report.seconds = time.perf_counter() - started
            return report

    def _prepare_records(self, records: Iterable[dict[str, Any]], manifest: dict[str, DocumentRecord],
                         report: IngestReport) -> Iterator[_Prepared]:
        now = _now()
        for rec in records:
            doc_id = _valid_text(str(rec["id"]))
            source = _valid_text(str(rec.get("source") or doc_id))
            text = _valid_text(str(rec.get("text") or ""))
            title = _valid_text(str(rec.get("title") or ""))
            digest = content_hash(f"{title}\x00{text}".encode("utf-8", "surrogatepass"), self.settings)
            if not text.strip():
                report.results.append(FileResult(source, "skipped", "no text"))
                self._tracker.left_out()
                continue
            old = manifest.get(doc_id)
            tags = self._tags_for(old, rec.get("tags") or ())
            if self._unchanged(old, digest, tags, source, report):
                continue
            doc = ParsedDocument(title, [Section(text)])
            item = self._chunk(doc_id, source, doc, digest, "record", now, "updated" if old else "added")
            item.doc["tags"] = tags
            self._tracker.read(len(item.chunks))
            yield item

    # steps
    def _unchanged(self, old: DocumentRecord | None, digest: str, tags: list[str], source: str,
                   report: IngestReport) -> bool:
        """True (and recorded) when the document is indexed completely with this content; new
        tags for it are applied later without re-embedding."""
        if not (old and old.content_hash == digest and old.complete):
            return False
        report.results.append(FileResult(source, "unchanged", chunks=old.chunks))
        if tags != sorted(old.tags):
            self._retag.append((old, tags))
        self._tracker.left_out()
        return True

    def _tags_for(self, old: DocumentRecord | None, extra: Iterable[str] = ()) -> list[str]:
        """A document keeps its tags across updates; this ingest's tags are added."""
        from assistant.index.scope import check_tag

        return sorted(set(old.tags if old else ()) | set(self.tags) | {check_tag(t) for t in extra})

    def _apply_retags(self, collection: ChunkCollection, report: IngestReport, current: dict[str, DocumentRecord]) -> None:
        """Unchanged documents given new tags: their metadata is rewritten, nothing re-embedded."""
        if not self._retag:
            return
        from dataclasses import replace

        collection.bump_generation()
        report.chunks_retagged += collection.set_tags({old.doc_id: tags for old, tags in self._retag})
        for old, tags in self._retag:
            current[old.doc_id] = replace(old, tags=tags)
        self._retag = []
        report.retagged = True

    def _finish(self, collection: ChunkCollection, report: IngestReport, current: dict[str, DocumentRecord]) -> None:
        """Mark the change (caches rebuild) and record the manifest as this ingest left it."""
        if report.changed or report.retagged:
            collection.bump_generation()
            manifests.save(self.settings, collection, current)

    def _open(self) -> ChunkCollection:
        collection = Store(self.settings).open(
            self.settings.collection,
            create=True,
            embed_model=self.settings.embed_model,
            dimension=0,
        )
        built_with = collection.embed_model
        if built_with and built_with != self.settings.embed_model:
            raise ConfigError(
                f"collection {collection.name!r} was built with embedding model {built_with!r}, "
                f"not {self.settings.embed_model!r}; use that model or a new collection"
            )
        return collection

    def _prepare_files(
        self, files: list[Path], manifest: dict[str, DocumentRecord], report: IngestReport,
        resolved: dict[Path, str] | None = None,
    ) -> Iterator[_Prepared]:
        limit = int(self.settings.max_file_mb * 1024 * 1024)
        now = _now()
        for path in files:
            source = str(path)
            if not _encodable(source):
                # Such a name cannot be stored or shown as text (the store and the encoder
                # need valid Unicode), so the file is left out instead of failing the run.
                report.results.append(FileResult(source, "skipped", "the file name is not valid UTF-8: rename the file"))
                self._tracker.left_out()
                continue
            if path.suffix.lower() not in READERS:
                report.results.append(FileResult(source, "skipped", f"unsupported file type {path.suffix or '(no extension)'}"))
                self._tracker.left_out()
                continue
            try:
                st = path.stat()
            except OSError as exc:
                report.results.append(FileResult(source, "skipped", f"cannot read: {exc.strerror or exc}"))
                self._tracker.left_out()
                continue
            if not stat.S_ISREG(st.st_mode):
                report.results.append(FileResult(source, "skipped", "not a regular file"))
                self._tracker.left_out()
                continue
            if st.st_size > limit:
                report.results.append(
                    FileResult(source, "skipped", f"larger than the {self.settings.max_file_mb:g} MB limit (max_file_mb)")
                )
                self._tracker.left_out()
                continue
            try:
                data = path.read_bytes()
            except OSError as exc:
                report.results.append(FileResult(source, "skipped", f"cannot read: {exc.strerror or exc}"))
                self._tracker.left_out()
                continue
            doc_id = (resolved or {}).get(path) or doc_id_for_path(path)
            digest = content_hash(data, self.settings)
            old = manifest.get(doc_id)
            tags = self._tags_for(old)
            if self._unchanged(old, digest, tags, source, report):
                continue
            try:
                with self._ocr_progress(), self._tracker.reading(source):
                    parsed = parse(path, data)
            except Unreadable as exc:
                report.results.append(FileResult(source, "skipped", str(exc)))
                self._tracker.left_out()
                continue
            item = self._chunk(doc_id, doc_id, parsed, digest, "file", now, "updated" if old else "added")
            item.doc.update(file_metadata(doc_id, st.st_mtime), tags=tags)
            self._tracker.read(len(item.chunks))
            yield item

    @contextlib.contextmanager
    def _ocr_progress(self) -> Iterator[None]:
        """While a file is read: OCR shows its pages on a bar, and what it reads is cached
        under the data directory (a re-run or another collection never OCRs the file again)."""
        bars: dict[str, Any] = {}

        def show(label: str, done: int, total: int) -> None:
            if self.progress is False:
                return
            bar = bars.get(label)
            if bar is None:
                from tqdm import tqdm

                bar = bars[label] = tqdm(total=total, unit="page", desc=f"OCR {label}", file=sys.stderr,
                                         disable=None if self.progress is None else False, dynamic_ncols=True)
            bar.update(done - bar.n)

        tokens = (ocr.OCR_PROGRESS.set(show), ocr.OCR_CACHE_DIR.set(self.settings.data_dir / "ocr-cache"))
        try:
            yield
        finally:
            ocr.OCR_PROGRESS.reset(tokens[0])
            ocr.OCR_CACHE_DIR.reset(tokens[1])
            for bar in bars.values():
                bar.close()

    def _chunk(
        self, doc_id: str, source: str, parsed: ParsedDocument, digest: str, kind: str, now: str, status: str
    ) -> _Prepared:
        # The encoder reads title + chunk + 2 special tokens: size chunks so nothing is cut off.
        prefix = self.title_prefix(parsed.title)
        reserved = self.embedder.count_tokens([prefix])[0] + 1 if prefix else 0
        budget = max(min(self.settings.chunk_tokens, self._max_tokens() - 2 - reserved), 16)
        overlap = min(self.settings.chunk_overlap, budget // 2)
        chunks: list[Chunk] = []
        offset = 0
        sections: list[Section] = []
        for section in parsed.sections:  # a table: row groups that each repeat its header
            if section.table_header:
                body = section.text[len(section.table_header):].lstrip("\n")
                sections.extend(
                    Section(t, section.page, section.heading, section.page_label)
                    for t in table_row_groups(section.table_header, body, self.embedder.count_tokens, budget)
                )
            else:
                sections.append(section)
        parsed = ParsedDocument(parsed.title, sections)
        for section in parsed.sections:
            for start, end in chunk_spans(section.text, self.embedder.count_tokens, budget, overlap):
                text = section.text[start:end]
                ordinal = len(chunks)
                chunks.append(
                    Chunk(
                        id=chunk_id(doc_id, ordinal, text),
                        doc_id=doc_id,
                        text=text,
                        source=source,
                        title=parsed.title,
                        ordinal=ordinal,
                        start=offset + start,
                        end=offset + end,
                        page=section.page,
                        section=section.heading,
                        page_label=section.page_label,
                    )
                )
            offset += len(section.text) + len(SECTION_SEPARATOR)
        doc = {
            "doc_id": doc_id,
            "source": source,
            "title": parsed.title,
            "content_hash": digest,
            "chunks": len(chunks),
            "ingested_at": now,
            "kind": kind,
        }
        return _Prepared(doc, chunks, FileResult(source, status, chunks=len(chunks)))

    def _max_tokens(self) -> int:
        try:
            return self.embedder.max_tokens
        except Exception:
            return 256

    def title_prefix(self, title: str) -> str:
        """The title as prefixed to chunks for embedding (at most 24 words), or ""."""
        if not (self.settings.embed_title and title):
            return ""
        return " ".join(title.split()[:24])

    def embedding_text(self, chunk: Chunk) -> str:
        """The text the encoder sees: the title (kept short) then the chunk.

        A chunk that already starts with its title (a Markdown heading) is not given it twice.
        """
        title = self.title_prefix(chunk.title)
        if not title or chunk.text.lstrip("# \t\r\n").startswith(title):
            return chunk.text
        return f"{title}\n{chunk.text}"

    def embed_chunks(self, chunks: Sequence[Chunk], progress=None):
        """Vectors for ``chunks`` (one row each); the scale benchmark overrides this."""
        return self.embedder.embed([self.embedding_text(c) for c in chunks], progress=progress)

    def _write(
        self,
        collection: ChunkCollection,
        prepared: Iterable[_Prepared],
        manifest: dict[str, DocumentRecord],
        report: IngestReport,
        current: dict[str, DocumentRecord],
    ) -> None:
        """Embed and write documents as they are read: a group is written once it holds
        GROUP_CHUNKS chunks or FLUSH_SECONDS have passed since the last write, so each file is
        answerable soon after it is read, while many small files still share a write."""
        bar = None
        if self.progress is not False:
            from tqdm import tqdm

            bar = tqdm(total=0, unit="chunk", desc="embedding", file=sys.stderr,
                       disable=None if self.progress is None else False, dynamic_ncols=True)
        try:
            group: list[_Prepared] = []
            bumped = False
            last_write = time.perf_counter()
            for item in prepared:
                if item.chunks and not bumped:
                    # Before the first write: a crash from here on leaves a stamp no cache matches.
                    collection.bump_generation()
                    bumped = True
                group.append(item)
                if bar is not None:
                    bar.total += len(item.chunks)
                    bar.refresh()
                if (sum(len(p.chunks) for p in group) >= GROUP_CHUNKS
                        or time.perf_counter() - last_write >= FLUSH_SECONDS):
                    self._write_group(collection, group, manifest, report, bar, current)
                    group, last_write = [], time.perf_counter()
            if group:
                self._write_group(collection, group, manifest, report, bar, current)
        finally:
            if bar is not None:
                bar.close()
        self._tracker.done()

    def _write_group(self, collection, group, manifest, report, bar, current) -> None:
        chunks = [c for p in group for c in p.chunks]
        label = group[0].doc["source"] if len(group) == 1 else f"{len(group)} documents"
        advance = self._tracker.embedding(label)

        def embedded(n: int) -> None:
            advance(n)
            if bar is not None:
                bar.update(n)

        vectors = self.embed_chunks(chunks, progress=embedded)
        collection.upsert(chunks, vectors, {p.doc["doc_id"]: p.doc for p in group})
        report.chunks_written += len(chunks)
        # Drop what the new version no longer has (only after the new chunks are in).
        stale_docs = [p for p in group if p.doc["doc_id"] in manifest]
        if stale_docs:
            keep = {c.id for c in chunks}
            old_ids = collection.chunk_ids_of(p.doc["doc_id"] for p in stale_docs)
            stale = [i for i in old_ids if i not in keep]
            collection.delete_ids(stale)
            report.chunks_deleted += len(stale)
        for p in group:
            report.results.append(p.result)
            current[p.doc["doc_id"]] = manifests.record(p.doc, len(p.chunks))
        self._tracker.written(label, len(group))

    def _prune(self, collection: ChunkCollection, manifest: dict[str, DocumentRecord], report: IngestReport,
               current: dict[str, DocumentRecord]) -> None:
        gone = [d for d in manifest.values() if d.kind == "file" and not os.path.exists(d.source)]
        if gone:
            collection.bump_generation()
        for doc in gone:
            ids = collection.chunk_ids_of([doc.doc_id])
            collection.delete_ids(ids)
            current.pop(doc.doc_id, None)
            report.chunks_deleted += len(ids)
            report.results.append(FileResult(doc.source, "removed", "file no longer exists", len(ids)))


def file_metadata(doc_id: str, mtime: float) -> dict[str, Any]:
    """What a file's chunks carry about it besides its text: folder, type, modification time."""
    p = Path(doc_id)
    return {"folder": str(p.parent), "file_type": p.suffix.lower().lstrip("."), "modified": float(int(mtime))}


def _documents_at(manifest: dict[str, DocumentRecord], path: str | Path) -> list[DocumentRecord]:
    """The documents at ``path`` (the file itself, or everything under a directory), matched
    by the path as given and as resolved (a file already deleted from disk matches too)."""
    raw = os.path.abspath(os.path.expanduser(str(path)))
    candidates = {raw, str(Path(raw).resolve())}
    return [
        d
        for d in manifest.values()
        if d.source in candidates
        or d.doc_id in candidates
        or any(d.source.startswith(c.rstrip(os.sep) + os.sep) for c in candidates)
    ]


def retag(settings: Settings, path: str | Path, add: Sequence[str] = (), remove: Sequence[str] = ()) -> list[DocumentRecord]:
    """Add and remove tags of the documents at ``path`` (see ``_documents_at``), changing only
    their chunks' metadata: nothing is re-read or re-embedded, and the keyword index (whose
    text is unchanged) is kept. Returns the matched documents as they are now."""
    from dataclasses import replace

    from assistant.index import keyword
    from assistant.index.scope import check_tag

    add = [check_tag(t) for t in add]
    remove = [check_tag(t) for t in remove]
    if not add and not remove:
        raise AssistantError("give at least one tag")
    with collection_lock(settings, settings.collection):
        collection = Store(settings).open(settings.collection)
        manifest = manifests.load(settings, collection)
        matched = _documents_at(manifest, path)
        if not matched:
            raise PathNotFound(f"nothing indexed at {path} in collection {settings.collection!r}")
        before = keyword.stamp_of(collection)
        changed = []
        for doc in matched:
            tags = sorted((set(doc.tags) | set(add)) - set(remove))
            changed.append(replace(doc, tags=tags))
        todo = [(old, new) for old, new in zip(matched, changed) if sorted(old.tags) != new.tags]
        if todo:
            collection.bump_generation()  # a crash half way leaves a stamp no cache matches
            collection.set_tags({new.doc_id: new.tags for _old, new in todo})
            collection.bump_generation()
            manifest.update({d.doc_id: d for d in changed})
            manifests.save(settings, collection, manifest)
            keyword.carry_over(settings, collection, before)
        return changed


def forget(settings: Settings, path: str | Path) -> list[DocumentRecord]:
    """Remove every document at ``path`` (a file, or everything under a directory).

    Matches by the path as given and as resolved, so a file already deleted from disk can be
    forgotten too. Returns the removed documents; raises ``PathNotFound`` if none matched.
    """
    with collection_lock(settings, settings.collection):
        collection = Store(settings).open(settings.collection)
        manifest = manifests.load(settings, collection)
        matched = _documents_at(manifest, path)
        if not matched:
            raise PathNotFound(f"nothing indexed at {path} in collection {settings.collection!r}")
        collection.bump_generation()
        for doc in matched:
            collection.delete_ids(collection.chunk_ids_of([doc.doc_id]))
        collection.bump_generation()
        manifests.save(settings, collection, {k: v for k, v in manifest.items() if k not in {d.doc_id for d in matched}})
        return matched


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:  # lone surrogates: undecodable bytes in a file name
        return False


def _valid_text(text: str) -> str:
    """``text`` with lone surrogates (which the store and the encoder refuse) replaced."""
    return text if _encodable(text) else text.encode("utf-8", "replace").decode("utf-8")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


__all__ = ["Ingestor", "IngestReport", "FileResult", "discover", "forget", "AssistantError"]
