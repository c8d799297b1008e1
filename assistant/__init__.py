"""Grounded question answering over your own documents.

    from assistant import ask
    answer = ask("Who was blamed for the drone attack?")
    answer.text, answer.citations, answer.abstained

Heavy libraries (torch, chromadb) load on first use, not on import.

The rooms, lowest first; a module imports only from its own room or the ones before it
(``tests/test_layers.py`` checks it):
  core       config, types, errors, text, sentences (and ``prompts/``)
  embed/     encoders                  index/     Chroma store, manifest, keyword index
  ingest/    read -> chunk -> embed -> write (a top-level package)
  retrieve/  dense + keyword, fusion   llm/       model backends
  answer/    answerers, evidence, citation checks, follow-ups
  client     Assistant, ask(), Chat (this package's public face)
  web/, cli  the ways in (and ``eval/``, ``eval/bench/``, ``train/`` beside them)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assistant.errors import AssistantError
from assistant.types import Answer, Chunk, Citation, DocumentRecord, Hit

if TYPE_CHECKING:
    from assistant.client import Assistant, Chat, ask, get_assistant
    from assistant.config import Settings
    from assistant.index.scope import Scope

__all__ = [
    "Answer", "Assistant", "AssistantError", "Chat", "Chunk", "Citation", "DocumentRecord",
    "Hit", "Scope", "Settings", "ask", "get_assistant", "load_settings",
]


def __getattr__(name: str) -> Any:
    if name in ("Assistant", "Chat", "ask", "get_assistant"):
        from assistant import client

        return getattr(client, name)
    if name == "Scope":
        from assistant.index.scope import Scope

        return Scope
    if name in ("Settings", "load_settings"):
        from assistant import config

        return getattr(config, name)
    raise AttributeError(f"module 'assistant' has no attribute {name!r}")
