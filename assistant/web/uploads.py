"""Files uploaded through the web chat: checked, named safely, kept under the data dir, ingested.

An upload is stored as ``<data_dir>/uploads/<collection>/<safe name>`` and ingested from there,
so uploading the same file again is "unchanged". A different file under a name already taken
is kept beside it as ``name (2).ext`` (two different ``report.pdf`` both stay answerable);
remove the one you no longer want. Names are reduced to a plain file name (no directories, no
``..``, no control characters), so an upload can never be written outside that folder.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from assistant.config import Settings
from ingest.readers import SUPPORTED_SUFFIXES

MAX_NAME_CHARS = 120


@dataclass
class UploadResult:
    name: str  # the stored (sanitised) file name, or the name as given when refused
    status: str  # added | updated | unchanged | skipped
    reason: str = ""
    chunks: int = 0


def upload_dir(settings: Settings, collection: str | None = None) -> Path:
    return settings.data_dir / "uploads" / (collection or settings.collection)


def safe_filename(name: str) -> str:
    """A file name that is safe to create in the uploads folder.

    Keeps the last path component only (``../../etc/passwd`` -> ``passwd``), normalises
    Unicode, replaces anything but letters, digits, space, ``.``, ``_``, ``-`` and ``()``, drops
    leading dots (no hidden files, no ``..``), and keeps the extension when shortening.
    """
    name = unicodedata.normalize("NFKC", str(name))
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch if (ch.isalnum() or ch in " ._-()") else "_" for ch in name)
    name = re.sub(r"\s+", " ", name).strip(" ._")
    name = re.sub(r"_{2,}", "_", name)
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    suffix = suffix[:16]
    stem = stem[: MAX_NAME_CHARS - len(suffix) - 1].rstrip(" .") or "upload"
    return f"{stem}.{suffix}" if suffix else stem


def supported_types_text() -> str:
    return ", ".join(SUPPORTED_SUFFIXES)


def check_upload(name: str, size: int, settings: Settings) -> str:
    """Why this upload is refused ("" when it is acceptable)."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        return f"unsupported file type {suffix or '(no extension)'}; supported: {supported_types_text()}"
    limit = min(settings.ui_max_upload_mb, settings.max_file_mb)
    if size > limit * 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB is over the {limit:g} MB upload limit"
    if size == 0:
        return "empty file"
    return ""


def store_and_ingest(
    assistant,
    files: Sequence[tuple[str, str | Path]],
    progress: Callable[[int, int, str], None] | None = None,
    on_progress: Callable[[int, Any], None] | None = None,
    on_result: Callable[[int, UploadResult], None] | None = None,
) -> list[UploadResult]:
    """Store uploaded files ``(original name, temp path)`` and ingest each into ``assistant``'s
    collection, one after the other (each is answerable once its own result is in). Returns one
    result per file, in order; a refused or unreadable file is "skipped" with the reason and
    leaves the index and the uploads folder as they were. ``on_progress(i, IngestProgress)``
    follows file ``i`` being read, embedded and written; ``on_result(i, result)`` gets its result."""
    settings = assistant.settings
    folder = upload_dir(settings)
    results: list[UploadResult] = []
    if len(files) > settings.ui_max_upload_files:
        extra = files[settings.ui_max_upload_files :]
        files = files[: settings.ui_max_upload_files]
    else:
        extra = []
    seen: set[str] = set()

    def done(i: int, result: UploadResult) -> None:
        results.append(result)
        if on_result:
            on_result(i, result)

    for i, (original, temp_path) in enumerate(files):
        if progress:
            progress(i, len(files), original)
        name = safe_filename(original)
        try:
            data = Path(temp_path).read_bytes()
        except OSError as exc:
            done(i, UploadResult(name, "skipped", f"cannot read the upload: {exc.strerror or exc}"))
            continue
        reason = check_upload(name, len(data), settings)
        if not reason and name in seen:
            reason = "a file with the same name is in this upload already"
        if reason:
            done(i, UploadResult(name, "skipped", reason))
            continue
        seen.add(name)
        follow = (lambda event, i=i: on_progress(i, event)) if on_progress else None
        done(i, _store_one(assistant, folder, name, data, follow))
    for original, _ in extra:
        results.append(
            UploadResult(safe_filename(original), "skipped",
                         f"more than {settings.ui_max_upload_files} files in one upload (ui_max_upload_files)")
        )
    if progress:
        progress(len(files), len(files), "")
    return results


def _destination(folder: Path, name: str, data: bytes) -> Path:
    """The stored file holding exactly ``data`` under ``name`` or ``name (n)``, else the first
    of those names that is free."""
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    for n in range(1, 10_000):
        candidate = folder / (name if n == 1 else f"{stem} ({n}){dot}{suffix}")
        try:
            if not candidate.exists():
                return candidate
            if candidate.is_file() and candidate.stat().st_size == len(data) and candidate.read_bytes() == data:
                return candidate
        except OSError:
            continue
    raise OSError(f"too many uploads named {name}")


def _store_one(assistant, folder: Path, name: str, data: bytes,
               on_progress: Callable[[Any], None] | None = None) -> UploadResult:
    folder.mkdir(parents=True, exist_ok=True)
    try:
        dest = _destination(folder, name, data)
    except OSError as exc:
        return UploadResult(name, "skipped", str(exc))
    name = dest.name
    # Belt and braces: the name is already a plain file name.
    if dest.resolve().parent != folder.resolve():
        return UploadResult(name, "skipped", "bad file name")
    existed = dest.is_file()  # then it holds these very bytes: an unchanged re-upload
    if not existed:
        tmp = folder / f".{name}.partial"
        tmp.write_bytes(data)
        os.replace(tmp, dest)
    try:
        report = assistant.ingest([dest], on_progress=on_progress) if on_progress else assistant.ingest([dest])
    except Exception:
        _discard(dest, existed)
        raise
    result = next((r for r in report.results), None)
    if result is None:
        _discard(dest, existed)
        return UploadResult(name, "skipped", "nothing was ingested")
    if result.status == "skipped":
        _discard(dest, existed)
        return UploadResult(name, "skipped", result.reason)
    return UploadResult(name, result.status, result.reason, result.chunks)


def _discard(dest: Path, existed: bool) -> None:
    """Put the uploads folder back as it was before a failed upload."""
    if not existed:
        try:
            dest.unlink(missing_ok=True)
        except OSError:
            pass


def is_upload(settings: Settings, source: str) -> bool:
    """True when ``source`` is a file stored by the web chat (safe to delete with the document)."""
    try:
        root = (settings.data_dir / "uploads").resolve()
        return Path(source).resolve().is_relative_to(root)
    except (OSError, ValueError):
        return False


__all__ = ["UploadResult", "safe_filename", "check_upload", "store_and_ingest", "upload_dir", "is_upload"]
