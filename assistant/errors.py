"""Errors a user can act on. The CLI prints their message on one line, without a traceback."""


class AssistantError(Exception):
    """Base class: something the user can fix (bad input, missing index, bad configuration)."""


class EmptyQuestion(AssistantError):
    pass


class QuestionTooLong(AssistantError):
    pass


class CollectionNotFound(AssistantError):
    pass


class EmptyIndex(AssistantError):
    pass


class PathNotFound(AssistantError):
    pass


class ConfigError(AssistantError):
    pass


class IngestLocked(AssistantError):
    """Another process is ingesting into the same collection."""


class StoreUnavailable(AssistantError):
    """The Chroma store (directory or server) cannot be opened."""


class BackendError(AssistantError):
    """An answering backend (LLM server, local model) failed in a way the user can fix."""


class EmptyScope(AssistantError):
    """A scope (sources, tags, dates, metadata filter) that selects no document."""


class BadScope(AssistantError):
    """A scope that cannot be understood (an unknown field or operator, a bad date, a bad tag)."""


class ModelFileError(AssistantError):
    """A model file an answerer needs (the calibrated evidence model) is missing or unreadable."""


class EmbeddingServerError(AssistantError):
    """An embedding server (embed_backend = openai:MODEL | ollama:MODEL) failed in a way the user can fix."""
