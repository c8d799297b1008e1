"""Command-line options every command shares (the main CLI's and ``python -m eval``'s)."""

from __future__ import annotations

import argparse
from typing import Any

# Options that are settings, by their ``argparse`` destination (= the setting's name).
SETTING_OPTIONS = ("data_dir", "collection", "chroma_url", "embed_model", "top_k", "answerer", "llm_base_url")


def config_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("configuration")
    g.add_argument("--data-dir", metavar="DIR", help="where the index lives (ASSISTANT_DATA_DIR)")
    g.add_argument("--collection", "-c", metavar="NAME", help="collection to use (ASSISTANT_COLLECTION)")
    g.add_argument("--chroma-url", metavar="URL", help="use a Chroma server instead of the data dir")
    g.add_argument("--embed-model", metavar="MODEL", help="sentence-transformers model path")
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
