"""Command-line options every command shares (the main CLI's and ``python -m eval``'s)."""

from __future__ import annotations

import argparse
from typing import Any

# Options that are settings, by their ``argparse`` destination (= the setting's name).
SETTING_OPTIONS = ("data_dir", "collection", "chroma_url", "embed_model", "embed_backend", "embed_base_url", "top_k",
                   "answerer", "llm_base_url")


def config_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("configuration")
    g.add_argument("--data-dir", metavar="DIR", help="where the index lives (ASSISTANT_DATA_DIR)")
    g.add_argument("--collection", "-c", metavar="NAME", help="collection to use (ASSISTANT_COLLECTION)")
    g.add_argument("--chroma-url", metavar="URL", help="use a Chroma server instead of the data dir")
    g.add_argument("--embed-model", metavar="MODEL", help="sentence-transformers model path")
    g.add_argument("--embed-backend", metavar="SPEC",
                   help="where embeddings are computed: local (default, in-process), openai:MODEL (any "
                   "OpenAI-compatible /v1/embeddings), ollama:MODEL (ASSISTANT_EMBED_BACKEND)")
    g.add_argument("--embed-base-url", metavar="URL",
                   help="embedding server URL, e.g. http://127.0.0.1:8080/v1 or http://127.0.0.1:11434")
    g.add_argument("--top-k", type=int, metavar="K", help="passages used to answer")
    g.add_argument("--answerer", "--llm", dest="answerer", metavar="SPEC",
                   help="how answers are written: extractive (default, no LLM), local (packaged SmolLM2), "
                   "local:FILE.gguf, openai:MODEL, ollama:MODEL (ASSISTANT_ANSWERER; --llm is the same)")
    g.add_argument("--llm-base-url", metavar="URL",
                   help="LLM server URL, e.g. http://127.0.0.1:8000/v1 or http://127.0.0.1:11434")
    g.add_argument("--config", metavar="FILE", help="config file (TOML)")
    return p


def cli_overrides(args: argparse.Namespace, keys: tuple[str, ...] = SETTING_OPTIONS) -> dict[str, Any]:
    """The settings given on the command line (options left out are not overrides)."""
    return {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}


def scope_options() -> argparse.ArgumentParser:
    """--source/--tag/--since/--where: keep a command to chosen documents."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("scope (only these documents; repeat an option for 'any of')")
    g.add_argument("--source", dest="scope_sources", action="append", metavar="GLOB",
                   help="a file, a directory, or a glob ('*.pdf', '~/notes/2024-*'); repeatable")
    g.add_argument("--tag", dest="scope_tags", action="append", metavar="TAG", help="documents with this tag; repeatable")
    g.add_argument("--since", dest="scope_since", metavar="DATE", help="documents modified on or after DATE (2024-03-01)")
    g.add_argument("--where", dest="scope_where", metavar="JSON",
                   help='a metadata filter, e.g. \'{"file_type": "pdf"}\' or \'{"modified": {"$gte": 1700000000}}\'')
    return p


def scope_from_args(args: argparse.Namespace):
    """The ``Scope`` the scope options describe, or None when none was given."""
    import json

    from assistant.errors import BadScope
    from assistant.index.scope import Scope

    sources, tags = getattr(args, "scope_sources", None), getattr(args, "scope_tags", None)
    since, where = getattr(args, "scope_since", None), getattr(args, "scope_where", None)
    if not (sources or tags or since or where):
        return None
    if where:
        try:
            where = json.loads(where)
        except ValueError as exc:
            raise BadScope(f"--where must be JSON, e.g. '{{\"file_type\": \"pdf\"}}' ({exc})") from None
    return Scope(sources=sources or [], tags=tags or [], since=since, where=where or {})
