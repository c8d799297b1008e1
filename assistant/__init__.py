"""Grounded question answering over your own documents.

    from assistant import ask
    answer = ask("Who was blamed for the drone attack?")
    answer.text, answer.citations, answer.abstained

Heavy libraries (torch, chromadb) load on first use, not on import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assistant.errors import AssistantError
from assistant.types import Answer, Chunk, Citation, DocumentRecord, Hit

if TYPE_CHECKING:
    from assistant.api import Assistant, ask, get_assistant
    from assistant.chat import Chat
    from assistant.config import Settings

__all__ = [
    "Answer", "Assistant", "AssistantError", "Chat", "Chunk", "Citation", "DocumentRecord",
    "Hit", "Settings", "ask", "get_assistant", "load_settings",
]


def __getattr__(name: str) -> Any:
    if name in ("Assistant", "ask", "get_assistant"):
        from assistant import api

        return getattr(api, name)
    if name == "Chat":
        from assistant.chat import Chat

        return Chat
    if name in ("Settings", "load_settings"):
        from assistant import config

        return getattr(config, name)
    raise AttributeError(f"module 'assistant' has no attribute {name!r}")
