"""The library's face: ``Assistant`` (one configuration, loaded once), ``ask()`` and ``Chat``
(a conversation)."""

from __future__ import annotations

import threading
import time
import unicodedata
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from assistant.config import Settings, load_settings, offline_environment
from assistant.errors import CollectionNotFound, EmptyIndex, EmptyQuestion, QuestionTooLong
from assistant.answer.followup import Turn, as_turns, standalone
from assistant.index.scope import Scope
from assistant.types import Answer, DocumentRecord


def clean_question(question: str, limit: int) -> str:
    """Strip control characters and outer whitespace; refuse empty or over-long questions."""
    if not isinstance(question, str):
        raise EmptyQuestion("the question must be text")
    text = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cs", "Co") else ch for ch in question
    )
    text = " ".join(text.split())
    if not any(unicodedata.category(ch) not in ("Cf", "Zs") for ch in text):  # nothing visible
        raise EmptyQuestion("the question is empty: ask something about your documents")
    if len(text) > limit:
        raise QuestionTooLong(
            f"the question is {len(text):,} characters long; the limit is {limit:,} (max_question_chars)"
        )
    return text


class Assistant:
    """Question answering over one collection, with everything loaded once and reused.

    >>> a = Assistant(collection="notes")
    >>> a.ask("What did the report conclude?").text
    """

    def __init__(self, settings: Settings | None = None, **overrides: Any):
        offline_environment()
        self.settings = settings.replace(**overrides) if settings else load_settings(overrides)
        self._lock = threading.RLock()
        self._collection = None
        self._answerer = None
        self._reranker = None  # the reader, when it reranks for another answerer
        self._local = threading.local()  # per-thread state of the question being answered

    # --- parts, loaded on first use -------------------------------------------------
    @property
    def embedder(self):
        from assistant.embed.encoder import embedder_for

        return embedder_for(self.settings)

    def collection(self, refresh: bool = False):
        """The Chroma collection, checked: exists, non-empty, same embedding model."""
        from assistant.index.store import Store

        with self._lock:
            # Opened on every call (one cheap read): notices what other processes changed since.
            col = Store(self.settings).open(self.settings.collection)
            from assistant.embed.encoder import embedding_identity

            # The vector size is compared only where the collection records one (a lookup, not a scan).
            col.check_embeddings(embedding_identity(self.settings),
                                 self.embedder.dimension if col.metadata.get("dimension") else None)
            self._collection = col
            if self._collection.count() == 0:
                raise EmptyIndex(
                    f"collection {self.settings.collection!r} is empty; add documents first: "
                    f"assistant ingest PATH --collection {self.settings.collection}"
                )
            return self._collection

    def retriever(self):
        from assistant.retrieve.retriever import Retriever

        return Retriever(self.settings, self.collection(), self.embedder)

    @property
    def answerer(self):
        with self._lock:
            if self._answerer is None:
                self._answerer = self._make_answerer()
            return self._answerer

    def _make_answerer(self):
        from assistant.answer.base import AnswerTools
        from assistant.index.keyword import keyword_index

        def idf(term: str) -> float:
            # Within ask(): the index of the question being answered (looking it up per term
            # cost a store round trip each; about 20 per question).
            index = getattr(self._local, "keyword", None)
            if index is None:
                index = keyword_index(self.settings, self.collection())
            return index.idf(term)

        tools = AnswerTools(self.embedder, idf)
        s = self.settings
        reader = None
        if s.reader != "off":
            from assistant.answer.reading import ReaderAnswerer, load_reader

            from assistant.answer.extractive import ExtractiveAnswerer

            from assistant.answer.reading import JointGate, SentencePick
            from assistant.errors import ConfigError

            model = load_reader(s.reader)
            joint = None
            if s.reader_mode == "joint":
                joint = JointGate.of(model.config.get("joint"))
                if joint is None:
                    raise ConfigError(f"reader_mode = joint needs a reader calibrated for it ({model.path} has no "
                                      "joint gate). Fix: python -m train.calibrate_joint --write, or reader_mode = spans")
            sentences = ExtractiveAnswerer(tools, s.max_answer_sentences)
            reader = ReaderAnswerer(tools, model, rerank_k=s.rerank_k,
                                    extra_windows=s.reader_extra_windows, max_sentences=s.max_answer_sentences,
                                    sentences=sentences, joint=joint, pick=SentencePick.of(model.config.get("spans")))
        self._reranker = reader
        if s.answerer == "extractive":
            if reader is not None:
                return reader
            from assistant.answer.extractive import ExtractiveAnswerer

            return ExtractiveAnswerer(tools, s.max_answer_sentences)
        from assistant.answer.llm import LLMAnswerer
        from assistant.llm import make_backend

        return LLMAnswerer(make_backend(s), tools, s)

    # --- scopes --------------------------------------------------------------------
    def scope_doc_ids(self, scope: Any = None, collection=None) -> list[str] | None:
        """The documents ``scope`` (a ``Scope`` or a dict) allows: None for all of them.
        Raises ``EmptyScope`` when it matches none, ``BadScope`` when it makes no sense."""
        from assistant.index import manifest
        from assistant.index.scope import doc_ids_in

        scope = Scope.of(scope)
        if scope.empty:
            return None
        col = collection or self.collection()
        # Resolved once per scope and collection state: the questions of a scoped conversation
        # (and the fresh scopes of the web picker) pay for matching the document list once.
        key = (col.name, manifest.stamp_of(col)["generation"], col.count(), scope.key())
        with self._lock:
            cache = self.__dict__.setdefault("_scope_cache", {})
            if key in cache:
                return cache[key]
        chosen = doc_ids_in(scope, manifest.load(self.settings, col))
        with self._lock:
            if len(cache) >= 64:
                cache.pop(next(iter(cache)))
            cache[key] = chosen
        return chosen

    # --- asking ------------------------------------------------------------------
    def ask(self, question: str, *, history: Sequence[Any] | None = None, stream: bool = False,
            scope: Any = None, sources: Any = None, tags: Any = None, where: Any = None, since: Any = None):
        """Answer ``question`` from the collection, citing passages by [n].

        ``history``: earlier turns (``Answer`` objects, (question, answer) pairs or plain
        questions) so that follow-ups like "how many did it injure?" find their subject.
        ``stream=True`` returns ``ask_stream(...)``'s generator instead of an ``Answer``.
        Scope (only these documents; nothing outside is retrieved or cited): ``sources``
        (paths, directories, globs), ``tags``, ``since`` (modified on or after a date),
        ``where`` (a metadata filter, e.g. ``{"file_type": "pdf"}``), or all of it as
        ``scope=Scope(...)`` / a dict. A scope matching no document raises ``EmptyScope``.
        """
        scope = _scope(scope, sources, tags, where, since)
        if stream:
            return self.ask_stream(question, history=history, scope=scope)
        answer = None
        for item in self._answer_events(question, history, scope):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def ask_stream(self, question: str, *, history: Sequence[Any] | None = None, scope: Any = None,
                   sources: Any = None, tags: Any = None, where: Any = None, since: Any = None) -> Iterator[str | Answer]:
        """Answer ``question`` piece by piece: a generator of ``str`` then one ``Answer``.

        Protocol (what the CLI and the web UI consume):

        - zero or more ``str`` items: text to append to what is displayed, in order. Their
          concatenation is exactly the final ``answer.text``: citation markers in them are
          already checked and numbered, so nothing shown has to be taken back. With an LLM they
          come as the model writes (held back only until the first sentence a passage supports,
          and around [n] markers until their sentence ends); the extractive answerer and
          abstentions yield their whole text as one piece.
        - then exactly one ``Answer`` (always the last item): citations, ``abstained``,
          ``timings_ms`` (``rewrite``, ``retrieval``, ``first_token``, ``generate``, ``total``...),
          ``standalone_question``. Render sources from it.
        - errors are raised from the generator: ``AssistantError`` subclasses (``BackendError``
          for an unreachable server, a timeout, a bad key, a missing model, a context window
          too small) carry a one-line message that names the fix. Nothing is recorded on error.

        Scope arguments: as for ``ask``.
        """
        return self._answer_events(question, history, _scope(scope, sources, tags, where, since))

    def _answer_events(self, question: str, history: Sequence[Any] | None, scope: Any = None) -> Iterator[str | Answer]:
        from assistant.answer.base import Question

        started = time.perf_counter()
        text = clean_question(question, self.settings.max_question_chars)
        turns = as_turns(history)
        timings: dict[str, float] = {}
        query, context = standalone(text, turns)
        answerer = self.answerer
        rewrite = getattr(answerer, "rewrite", None)
        mode = self.settings.llm_rewrite
        if rewrite is not None and turns and (mode == "always" or (mode == "followups" and context)):
            t = time.perf_counter()
            rewritten = rewrite(text, turns)
            timings["rewrite"] = (time.perf_counter() - t) * 1000
            if rewritten:
                query, context = rewritten, ""
        from assistant.index.keyword import keyword_index
        from assistant.retrieve.retriever import Retriever

        collection = self.collection()  # opened once per question, for retrieval and answering
        t = time.perf_counter()
        doc_ids = self.scope_doc_ids(scope, collection)
        if scope is not None and not scope.empty:
            timings["scope"] = (time.perf_counter() - t) * 1000
        top_k = self.settings.top_k
        reranker = self._reranker
        k = max(top_k, self.settings.rerank_k) if reranker is not None else top_k
        retrieval = Retriever(self.settings, collection, self.embedder).retrieve(query, k, doc_ids=doc_ids)
        self._local.keyword = keyword_index(self.settings, collection)
        q = Question(
            text=text,
            standalone=query,
            history=[(t.question, t.answer) for t in turns],
            context=context,
            vector=retrieval.query_vector,
            previous_short_answer=turns[-1].subject if context and turns else "",
        )
        hits = retrieval.hits
        stream = getattr(answerer, "answer_stream", None)
        try:
            if answerer is reranker:  # reads, reranks and answers in one pass
                items = _whole(answerer.answer(q, hits, top_k))
            else:
                if reranker is not None:  # a language model writes from the reader's best passages
                    t = time.perf_counter()
                    hits = reranker.rerank(q, hits)
                    timings["rerank"] = (time.perf_counter() - t) * 1000
                hits = hits[:top_k]
                items = stream(q, hits) if stream else _whole(answerer.answer(q, hits))
            for item in items:
                if isinstance(item, Answer):
                    item.standalone_question = query
                    item.scope = scope.to_dict() if scope is not None else {}
                    item.timings_ms = {
                        **timings,
                        "retrieval": retrieval.timings_ms.get("retrieval", 0.0),
                        **item.timings_ms,
                        "total": (time.perf_counter() - started) * 1000,
                    }
                yield item
        finally:
            self._local.keyword = None

    def chat(self, scope: Any = None) -> "Chat":
        return Chat(self, scope=scope)

    def retrieve(self, query: str, k: int | None = None, mode: str = "fused", *, scope: Any = None,
                 sources: Any = None, tags: Any = None, where: Any = None, since: Any = None):
        """Retrieval alone (no answer): the ``k`` best passages, within the scope if given."""
        text = clean_question(query, self.settings.max_question_chars)
        from assistant.retrieve.retriever import Retriever

        collection = self.collection()
        doc_ids = self.scope_doc_ids(_scope(scope, sources, tags, where, since), collection)
        return Retriever(self.settings, collection, self.embedder).retrieve(text, k, mode, doc_ids=doc_ids)

    def tag(self, path: str | Path, tags: Sequence[str]) -> list[DocumentRecord]:
        """Add ``tags`` to the documents at ``path`` (a file or a directory): metadata only,
        nothing is re-embedded. Returns the documents as they are now."""
        from ingest.pipeline import retag

        return retag(self.settings, path, add=tags)

    def untag(self, path: str | Path, tags: Sequence[str]) -> list[DocumentRecord]:
        """Remove ``tags`` from the documents at ``path``."""
        from ingest.pipeline import retag

        return retag(self.settings, path, remove=tags)

    # --- the index ------------------------------------------------------------------
    def ingest(self, paths: Sequence[str | Path], *, prune: bool = False, progress: bool | None = False,
               tags: Sequence[str] = (), on_progress: Callable[[Any], None] | None = None):
        """Index files and directories; ``tags`` are given to every document ingested (added to
        the tags it already has). ``on_progress`` is called with an ``ingest.progress.IngestProgress``
        as files are read (page by page), embedded and written."""
        from ingest.pipeline import Ingestor

        report = Ingestor(self.settings, self.embedder, progress=progress, tags=tags,
                          on_progress=on_progress).ingest_paths(paths, prune=prune)
        self._collection = None
        return report

    def ingest_records(self, records: Iterable[dict[str, Any]], progress: bool | None = False,
                       on_progress: Callable[[Any], None] | None = None):
        from ingest.pipeline import Ingestor

        report = Ingestor(self.settings, self.embedder, progress=progress,
                          on_progress=on_progress).ingest_records(records)
        self._collection = None
        return report

    def sources(self, scope: Any = None, *, sources: Any = None, tags: Any = None, where: Any = None,
                since: Any = None) -> list[DocumentRecord]:
        """Indexed documents, by source; only those in the scope when one is given (a scope
        that matches nothing gives an empty list here, not an error)."""
        from assistant.index import manifest
        from assistant.index.store import Store

        col = Store(self.settings).open(self.settings.collection)
        chosen = _scope(scope, sources, tags, where, since) or Scope()
        return sorted((d for d in manifest.load(self.settings, col).values() if chosen.matches(d)),
                      key=lambda d: d.source)

    def forget(self, path: str | Path) -> list[DocumentRecord]:
        from ingest.pipeline import forget

        removed = forget(self.settings, path)
        self._collection = None
        return removed

    def collections(self) -> list[str]:
        from assistant.index.store import Store

        return Store(self.settings).collection_names()


def _scope(scope: Any, sources: Any, tags: Any, where: Any, since: Any):
    """One ``Scope`` from a scope argument and the keyword shortcuts (None: no scope)."""
    if scope is None and sources is None and tags is None and where is None and since is None:
        return None
    return Scope.of(scope, sources=sources, tags=tags, where=where, since=since)


def _whole(answer: Answer) -> Iterator[str | Answer]:
    """An answer that was not generated piece by piece, in the streaming protocol."""
    yield answer.text
    yield answer


_DEFAULT: dict[Settings, Assistant] = {}
_DEFAULT_LOCK = threading.Lock()


def get_assistant(**overrides: Any) -> Assistant:
    """A shared ``Assistant`` for these settings (models and indexes load once per process)."""
    settings = load_settings(overrides)
    with _DEFAULT_LOCK:
        if settings not in _DEFAULT:
            _DEFAULT[settings] = Assistant(settings)
        return _DEFAULT[settings]


def ask(question: str, *, history: Sequence[Any] | None = None, stream: bool = False, scope: Any = None,
        sources: Any = None, tags: Any = None, where: Any = None, since: Any = None, **overrides: Any):
    """Answer a question from your documents, with numbered citations.

    Keyword arguments override configuration (e.g. ``collection="notes"``, ``top_k=8``,
    ``answerer="local"``). ``stream=True`` returns a generator of text pieces ending with the
    ``Answer`` (see ``Assistant.ask_stream``). ``sources``/``tags``/``since``/``where`` (or
    ``scope``) keep the answer to those documents: ``ask(q, tags=["current"])``.
    """
    return get_assistant(**overrides).ask(question, history=history, stream=stream, scope=scope,
                                          sources=sources, tags=tags, where=where, since=since)


class Chat:
    """Keeps the history of one conversation; each ``ask`` sees the turns before it.

    >>> chat = Chat()
    >>> chat.ask("Who was blamed for the drone attack?")
    >>> chat.ask("How many did it injure?")   # retrieval knows "it" is the drone attack

    ``scope`` (a ``Scope`` or a dict of sources/tags/since/where) holds for every question of
    the conversation, follow-ups included; set ``chat.scope`` to change it.
    """

    def __init__(self, assistant: Assistant | None = None, *, scope: Any = None, **overrides: Any):
        if assistant is None:
            assistant = get_assistant(**overrides)
        self.assistant = assistant
        self.turns: list[Turn] = []
        self.answers: list[Answer] = []
        self.scope = scope

    @property
    def scope(self):
        return self._scope

    @scope.setter
    def scope(self, value: Any) -> None:
        self._scope = None if value is None else Scope.of(value)

    def ask(self, question: str) -> Answer:
        answer = self.assistant.ask(question, history=self.turns, scope=self.scope)
        self._record(answer)
        return answer

    def stream(self, question: str) -> Iterator[str | Answer]:
        """Like ``ask``, piece by piece: ``str`` pieces, then the ``Answer`` (the protocol of
        ``Assistant.ask_stream``). The turn joins the history when the ``Answer`` arrives; a
        failed or abandoned question leaves the history as it was."""
        for item in self.assistant.ask_stream(question, history=list(self.turns), scope=self.scope):
            if isinstance(item, Answer):
                self._record(item)
            yield item

    def _record(self, answer: Answer) -> None:
        self.turns.append(Turn(answer.question, answer.standalone_question, answer.text, answer.short_answer))
        self.answers.append(answer)

    def reset(self) -> None:
        self.turns.clear()
        self.answers.clear()

    @property
    def history(self) -> list[tuple[str, str]]:
        return [(t.question, t.answer) for t in self.turns]


__all__ = ["Assistant", "Chat", "ask", "get_assistant", "Turn", "CollectionNotFound", "Scope"]
