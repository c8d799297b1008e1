"""Scopes: which documents a question may be answered from.

A scope names documents by source (paths, directories or globs), by tag, by modification
date, and by a metadata filter (``where``, Chroma's operators). Within one field any value
matches (``tags=["a", "b"]``: tagged a or b); the fields combine with AND. A scope is resolved
against the document list (``manifest.py``, cached in memory) into document ids; retrieval
then keeps to them on both sides: a Chroma ``where`` on ``doc_id`` for dense search and a row
mask of the keyword index (``KeywordIndex.mask``), so nothing outside is ever a candidate.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import functools
import json
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from assistant.errors import BadScope, EmptyScope
from assistant.types import DocumentRecord

# Fields a ``where`` filter may name (a document's metadata, as ``assistant sources --json`` shows).
FIELDS = ("doc_id", "source", "title", "folder", "file_type", "modified", "ingested_at", "kind", "tags")
OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin")
_GLOB = set("*?[")


def check_tag(tag: Any) -> str:
    """A tag as stored: trimmed text without commas (tags are kept as one comma-joined string)."""
    if not isinstance(tag, str) or not tag.strip():
        raise BadScope(f"a tag must be non-empty text, not {tag!r}")
    tag = tag.strip()
    if "," in tag:
        raise BadScope(f"a tag cannot contain a comma: {tag!r}")
    return tag


def parse_since(value: Any) -> float | None:
    """``since`` as seconds since the epoch: a number, a date/datetime, or ISO text
    ("2024-03-01", "2024-03-01T12:00"; UTC unless the text names an offset)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise BadScope(f"since must be a date, not {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, _dt.datetime):
        when = value
    elif isinstance(value, _dt.date):
        when = _dt.datetime(value.year, value.month, value.day)
    else:
        try:
            when = _dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise BadScope(f"since must be a date like 2024-03-01 (or 2024-03-01T09:30), not {value!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return when.timestamp()


@dataclass
class Scope:
    """The documents a question may use. An empty ``Scope()`` is the whole collection."""

    sources: list[str] = field(default_factory=list)  # paths, directories or globs
    tags: list[str] = field(default_factory=list)
    since: float | None = None  # modified at or after (seconds since the epoch)
    where: dict[str, Any] = field(default_factory=dict)  # a metadata filter over FIELDS

    def __post_init__(self) -> None:
        if isinstance(self.sources, str):
            self.sources = [self.sources]
        if isinstance(self.tags, str):
            self.tags = [self.tags]
        self.sources = [str(os.fspath(s)) for s in self.sources or []]
        if any(not s.strip() for s in self.sources):
            raise BadScope("a source in a scope must be a path or a glob, not empty")
        self.tags = [check_tag(t) for t in self.tags or []]
        self.since = parse_since(self.since)
        if self.where is None:
            self.where = {}
        if not isinstance(self.where, Mapping):
            raise BadScope(f"where must be a mapping of field to condition, not {type(self.where).__name__}")
        self.where = dict(self.where)
        if self.where:
            _check_where(self.where)

    @classmethod
    def of(cls, value: "Scope | Mapping[str, Any] | None" = None, **parts: Any) -> "Scope":
        """A scope from a ``Scope``, a dict ({"sources", "tags", "since", "where"}) or keywords;
        keywords given (not None) are added to ``value``'s."""
        if isinstance(value, Scope):
            base = value.to_dict()
        elif value is None:
            base = {}
        elif isinstance(value, Mapping):
            unknown = set(value) - {"sources", "tags", "since", "where"}
            if unknown:
                raise BadScope(f"unknown scope field(s) {', '.join(sorted(unknown))}: use sources, tags, since, where")
            base = dict(value)
        else:
            raise BadScope(f"a scope is a Scope or a dict of sources/tags/since/where, not {type(value).__name__}")
        for key, extra in parts.items():
            if extra is None:
                continue
            if key in ("sources", "tags"):
                base[key] = list(base.get(key) or []) + ([extra] if isinstance(extra, (str, os.PathLike)) else list(extra))
            elif key == "where":
                base["where"] = {"$and": [base["where"], dict(extra)]} if base.get("where") else dict(extra)
            else:
                base[key] = extra
        return cls(**base)

    @property
    def empty(self) -> bool:
        """True when the scope does not restrict anything."""
        return not (self.sources or self.tags or self.since is not None or self.where)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.sources:
            out["sources"] = list(self.sources)
        if self.tags:
            out["tags"] = list(self.tags)
        if self.since is not None:
            out["since"] = self.since
        if self.where:
            out["where"] = self.where
        return out

    def key(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, default=str)

    def describe(self) -> str:
        parts = []
        if self.sources:
            parts.append("sources " + ", ".join(self.sources))
        if self.tags:
            parts.append("tags " + ", ".join(self.tags))
        if self.since is not None:
            parts.append("modified since " + _dt.datetime.fromtimestamp(self.since, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
        if self.where:
            parts.append("where " + json.dumps(self.where, default=str))
        return "; ".join(parts) or "everything"

    # --- resolving ----------------------------------------------------------------------
    def matches(self, doc: DocumentRecord) -> bool:
        if self.sources and not any(source_matches(p, doc) for p in self.sources):
            return False
        if self.tags and not set(self.tags) & set(doc.tags):
            return False
        if self.since is not None and not (doc.modified and doc.modified >= self.since):
            return False
        return not self.where or _eval(self.where, doc)

    def select(self, documents: Mapping[str, DocumentRecord]) -> list[str]:
        """The ids of the documents in scope; ``EmptyScope`` (saying why) when there are none."""
        chosen = [d.doc_id for d in documents.values() if self.matches(d)]
        if not chosen:
            raise EmptyScope(self._why_empty(documents))
        return chosen

    def _why_empty(self, documents: Mapping[str, DocumentRecord]) -> str:
        msg = f"no document matches the scope ({self.describe()})"
        known = sorted({t for d in documents.values() for t in d.tags})
        missing = [t for t in self.tags if t not in known]
        if missing:
            msg += f"; no document is tagged {', '.join(repr(t) for t in missing)}"
            msg += f" (tags in use: {', '.join(known)})" if known else " (no document has tags yet: assistant tag PATH TAG)"
        if not documents:
            msg += "; the collection has no documents"
        return msg + "; see what is indexed with: assistant sources"


def source_matches(pattern: str, doc: DocumentRecord) -> bool:
    """A path (the file, or a directory above it), a glob over the full path, or a bare file
    name / name glob ("memo.md", "*.pdf")."""
    is_glob, bare, name_test, full_tests, file_only = _compiled(pattern)
    if bare and name_test(os.path.basename(doc.source)):
        return True
    tests = full_tests if doc.kind == "file" or not bare else full_tests[:1]
    return any(test(name) for test in tests for name in (doc.source, doc.doc_id))


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str):
    """The tests a pattern stands for, built once (a scope is matched against every document)."""
    import re

    pattern = os.path.expanduser(pattern)
    is_glob = bool(_GLOB & set(pattern))
    bare = os.sep not in pattern

    def glob_test(p: str):
        return re.compile(fnmatch.translate(p)).match

    def path_test(p: str):
        under = p.rstrip(os.sep) + os.sep
        return lambda name: name == p or name.startswith(under)

    make = glob_test if is_glob else path_test
    name_test = glob_test(pattern) if is_glob else (lambda base: base == pattern)
    full = [make(pattern)] + ([make(os.path.abspath(pattern))] if os.path.abspath(pattern) != pattern else [])
    return is_glob, bare, name_test, full, None


def _check_where(where: Any, path: str = "where") -> None:
    if not isinstance(where, Mapping) or not where:
        raise BadScope(f"{path} must be a non-empty mapping")
    for key, cond in where.items():
        if key in ("$and", "$or"):
            if not isinstance(cond, (list, tuple)) or not cond:
                raise BadScope(f"{path}.{key} must be a non-empty list of filters")
            for i, sub in enumerate(cond):
                _check_where(sub, f"{path}.{key}[{i}]")
            continue
        if key not in FIELDS:
            raise BadScope(f"unknown metadata field {key!r} in {path}; known: {', '.join(FIELDS)}")
        if isinstance(cond, Mapping):
            for op, arg in cond.items():
                if op not in OPERATORS:
                    raise BadScope(f"unknown operator {op!r} in {path}.{key}; known: {', '.join(OPERATORS)}")
                if op in ("$in", "$nin") and not isinstance(arg, (list, tuple)):
                    raise BadScope(f"{path}.{key}.{op} needs a list")


def _eval(where: Mapping[str, Any], doc: DocumentRecord) -> bool:
    for key, cond in where.items():
        if key == "$and":
            ok = all(_eval(sub, doc) for sub in cond)
        elif key == "$or":
            ok = any(_eval(sub, doc) for sub in cond)
        else:
            value = getattr(doc, key)
            conds = cond.items() if isinstance(cond, Mapping) else [("$eq", cond)]
            ok = all(_compare(value, op, arg) for op, arg in conds)
        if not ok:
            return False
    return True


def _compare(value: Any, op: str, arg: Any) -> bool:
    if isinstance(value, list):  # tags: a condition holds when it holds for one of them
        if op == "$ne":
            return arg not in value
        if op == "$nin":
            return not set(value) & set(arg)
        return any(_compare(v, op, arg) for v in value)
    try:
        if op == "$eq":
            return value == arg
        if op == "$ne":
            return value != arg
        if op == "$in":
            return value in arg
        if op == "$nin":
            return value not in arg
        if op == "$gt":
            return value > arg
        if op == "$gte":
            return value >= arg
        if op == "$lt":
            return value < arg
        if op == "$lte":
            return value <= arg
    except TypeError:
        raise BadScope(f"cannot compare {value!r} with {arg!r} ({op})") from None
    return False


def doc_ids_in(scope: Scope | None, documents: Mapping[str, DocumentRecord]) -> list[str] | None:
    """The document ids ``scope`` allows, or None when it allows everything (no filter at all)."""
    if scope is None or scope.empty:
        return None
    chosen = scope.select(documents)
    return None if len(chosen) == len(documents) else chosen


def all_tags(documents: Iterable[DocumentRecord]) -> list[str]:
    return sorted({t for d in documents for t in d.tags})
