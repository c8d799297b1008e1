"""Progress of an ingest run, as events a caller can show (the web chat's upload status, a CLI).

``Ingestor(..., on_progress=callback)`` calls ``callback(IngestProgress)`` while it reads a file
(page by page for PDFs, OCR included), embeds its passages (after every batch) and writes them,
and once at the end. Readers report pages through ``report_pages`` without knowing who listens.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from dataclasses import dataclass, replace
from typing import Callable, Iterator

STAGES = ("reading", "embedding", "written", "done")


@dataclass(frozen=True)
class IngestProgress:
    stage: str  # reading | embedding | written | done
    source: str  # the file being worked on ("" when done)
    files_done: int  # files finished (written, unchanged or skipped)
    files_total: int
    pages_done: int = 0  # of the file being read; 0 when it has no pages or they are not known
    pages_total: int = 0
    chunks_done: int = 0  # passages embedded so far in this run
    chunks_total: int = 0  # passages of the files read so far (grows as files are read)
    chunks_per_second: float = 0.0  # embedding rate so far

    def describe(self) -> str:
        """One line for people, e.g. "2/3 files · reading report.pdf, page 12 of 70"."""
        name = self.source.replace("\\", "/").rsplit("/", 1)[-1]
        head = f"{self.files_done}/{self.files_total} files"
        if self.stage == "done":
            rate = f" ({self.chunks_per_second:.0f} passages/s)" if self.chunks_per_second else ""
            return f"{head} · done: {self.chunks_done} passages indexed{rate}"
        if self.stage == "reading":
            pages = f", page {self.pages_done} of {self.pages_total}" if self.pages_total else ""
            return f"{head} · reading {name}{pages}"
        rate = f", {self.chunks_per_second:.0f}/s" if self.chunks_per_second else ""
        verb = "embedding" if self.stage == "embedding" else "written"
        return f"{head} · {verb} {name}: {self.chunks_done}/{self.chunks_total} passages{rate}"


ProgressCallback = Callable[[IngestProgress], None]

_PAGES: contextvars.ContextVar[Callable[[int, int], None] | None] = contextvars.ContextVar("PAGES", default=None)


def report_pages(done: int, total: int) -> None:
    """Called by a reader after each page it has read (no-op when nobody listens)."""
    listener = _PAGES.get()
    if listener is not None:
        listener(done, total)


class Tracker:
    """Keeps the run's counters and sends an ``IngestProgress`` on every change."""

    def __init__(self, callback: ProgressCallback | None, files_total: int):
        self.callback = callback
        self.state = IngestProgress("reading", "", 0, files_total)
        self._embed_seconds = 0.0
        self._embed_started: float | None = None

    def _send(self, **changes) -> None:
        self.state = replace(self.state, **changes)
        if self.callback is not None:
            self.callback(self.state)

    def _rate(self) -> float:
        seconds = self._embed_seconds + (time.perf_counter() - self._embed_started if self._embed_started else 0.0)
        return self.state.chunks_done / seconds if seconds > 0 and self.state.chunks_done else 0.0

    @contextlib.contextmanager
    def reading(self, source: str) -> Iterator[None]:
        self._send(stage="reading", source=source, pages_done=0, pages_total=0)
        token = _PAGES.set(lambda done, total: self._send(stage="reading", source=source, pages_done=done,
                                                          pages_total=total))
        try:
            yield
        finally:
            _PAGES.reset(token)

    def left_out(self) -> None:
        """A file was skipped or found unchanged: it is done."""
        self._send(files_done=self.state.files_done + 1,
                   files_total=max(self.state.files_total, self.state.files_done + 1))

    def read(self, chunks: int) -> None:
        """A file was read and cut into ``chunks`` passages that now wait to be embedded."""
        self.state = replace(self.state, chunks_total=self.state.chunks_total + chunks)

    def embedding(self, source: str) -> Callable[[int], None]:
        """A callback for the encoder: ``n`` more passages embedded."""
        self._embed_started = time.perf_counter()
        self._send(stage="embedding", source=source)

        def advance(n: int) -> None:
            self.state = replace(self.state, chunks_done=self.state.chunks_done + n)
            self._send(chunks_per_second=self._rate())

        return advance

    def written(self, source: str, files: int) -> None:
        if self._embed_started is not None:
            self._embed_seconds += time.perf_counter() - self._embed_started
            self._embed_started = None
        done = self.state.files_done + files
        self._send(stage="written", source=source, files_done=done,
                   files_total=max(self.state.files_total, done), chunks_per_second=self._rate())

    def done(self) -> None:
        self._send(stage="done", source="", pages_done=0, pages_total=0,
                   files_done=self.state.files_total, chunks_per_second=self._rate())


__all__ = ["IngestProgress", "ProgressCallback", "Tracker", "report_pages", "STAGES"]
