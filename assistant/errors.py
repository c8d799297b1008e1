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


class ModelFileError(AssistantError):
    """A model file an answerer needs (the calibrated evidence model) is missing or unreadable."""
