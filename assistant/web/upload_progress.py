"""An upload being indexed, as the page shows it while it runs: per file, pages read and passages
embedded (from ``ingest.progress.IngestProgress``), one bar for the whole upload, and each file's
result as soon as it is written (from then on it is answerable).

The indexing runs in a thread; the page's event polls ``UploadRun`` and re-renders.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from assistant.web.render import escape_text

POLL_SECONDS = 0.25


class UploadRun:
    """One upload of ``names`` into a collection, indexed by ``work(on_progress, on_result)``."""

    def __init__(self, names: list[str], work: Callable[..., Any]):
        self.names = names
        self.batch = uuid.uuid4().hex[:8]
        self.started = time.monotonic()
        self.current: dict[int, Any] = {}  # file index -> its latest IngestProgress
        self.results: dict[int, Any] = {}  # file index -> its UploadResult
        self.outcome: Any = None
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, args=(work,), name="upload", daemon=True)

    def start(self) -> "UploadRun":
        self._thread.start()
        return self

    def _run(self, work) -> None:
        try:
            self.outcome = work(self._progress, self._result)
        except BaseException as exc:  # shown on the page by the poller; logged there
            self.error = exc

    def _progress(self, i: int, event: Any) -> None:
        with self._lock:
            self.current[i] = event

    def _result(self, i: int, result: Any) -> None:
        with self._lock:
            self.results[i] = result

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, seconds: float = POLL_SECONDS) -> None:
        self._thread.join(seconds)

    def files_written(self) -> int:
        with self._lock:
            return sum(1 for r in self.results.values() if r.status in ("added", "updated"))

    # --- what the page shows -------------------------------------------------------------------
    def file_line(self, i: int) -> tuple[str, float]:
        """(what file ``i`` is at, in words; how far it is, 0..1)."""
        result = self.results.get(i)
        if result is not None:
            detail = result.reason or (f"{result.chunks} passage{'s' if result.chunks != 1 else ''}"
                                       if result.chunks else "")
            return f"{result.status}{': ' + detail if detail else ''}", 1.0
        event = self.current.get(i)
        if event is None:
            return "waiting", 0.0
        if event.stage == "reading":
            if event.pages_total:
                return (f"reading page {event.pages_done} of {event.pages_total}",
                        0.5 * event.pages_done / event.pages_total)
            return "reading", 0.1
        if event.stage == "embedding":
            total = max(event.chunks_total, 1)
            rate = f" ({event.chunks_per_second:.0f}/s)" if event.chunks_per_second else ""
            return (f"embedding passage {event.chunks_done} of {event.chunks_total}{rate}",
                    0.5 + 0.5 * min(event.chunks_done, total) / total)
        return "writing", 0.98

    def fraction(self) -> float:
        with self._lock:
            parts = [self.file_line(i)[1] for i in range(len(self.names))]
        return sum(parts) / max(len(parts), 1)

    def html(self) -> str:
        with self._lock:
            lines = [(name, *self.file_line(i)) for i, name in enumerate(self.names)]
            done = len(self.results)
        percent = round(100 * sum(f for _, _, f in lines) / max(len(lines), 1))
        seconds = time.monotonic() - self.started
        rows = "".join(
            f'<li><span class="upload-file">{escape_text(Path(name).name)}</span> · '
            f'<span class="upload-stage">{escape_text(text)}</span></li>'
            for name, text, _ in lines
        )
        head = (f"Indexing {done} of {len(lines)} file{'s' if len(lines) != 1 else ''} done · {percent}% · "
                f"{seconds:.0f} s")
        return (
            f'<div class="upload-progress" data-batch="{self.batch}">'
            f'<div class="upload-head">{escape_text(head)}</div>'
            f'<progress max="100" value="{percent}" aria-label="indexing progress"></progress>'
            f'<ul class="upload-files">{rows}</ul>'
            '<div class="upload-note">You can ask questions meanwhile: what is indexed already is answerable.</div>'
            "</div>"
        )

    def note(self) -> str:
        """The line the Chat tab shows while this upload runs."""
        with self._lock:
            done = len(self.results)
        return (f'<div id="indexing-note-text">Indexing under way: {done} of {len(self.names)} '
                f"file{'s' if len(self.names) != 1 else ''} done ({round(100 * self.fraction())}%). "
                "You can ask meanwhile; what is indexed already is answered from.</div>")


__all__ = ["UploadRun", "POLL_SECONDS"]
