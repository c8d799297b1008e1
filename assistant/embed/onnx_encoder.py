"""A fast sentence encoder: the local sentence-transformers model exported to ONNX, once.

``export()`` converts the packaged all-MiniLM-L6-v2 (transformer + mean pooling + L2
normalisation, as its ``modules.json`` says) into one ONNX graph with ``torch.onnx``, and
optionally quantises its weights to int8 (onnxruntime's dynamic quantisation, per channel,
7-bit range: the plain 8-bit range overflows on CPUs without AVX-512 VNNI and costs accuracy).
The export is made from the weights on disk, never downloaded, and cached in a directory named
by a fingerprint of the model files, so a changed model gets a new export.

``OnnxEncoder`` then needs only ``onnxruntime`` and ``tokenizers``: no torch or
sentence-transformers import, which keeps a new process's first answer fast. It encodes in
batches of similar length (little padding) and truncates each text at the model's
``max_seq_length`` before encoding, as sentence-transformers does.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

if TYPE_CHECKING:
    import numpy as np

EXPORT_VERSION = 2  # bump when the export recipe changes: old exports are ignored
OPSET = 17
FILES = {"onnx": "model.onnx", "onnx-int8": "model-int8.onnx"}
# Texts per batch are capped by tokens too, so a batch of long passages stays cache-friendly
# and a batch of short sentences can be large.
MAX_BATCH_TOKENS = 8192


class Unsupported(Exception):
    """The model is not a plain transformer + mean pooling (+ normalise) sentence encoder."""


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def model_layout(model_path: str | Path) -> dict:
    """What the export needs to know about a sentence-transformers directory, or ``Unsupported``."""
    root = Path(model_path)
    modules = _read_json(root / "modules.json")
    if not isinstance(modules, list) or not modules:
        raise Unsupported(f"{root} has no modules.json")
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k not in ("Transformer", "Pooling", "Normalize") for k in kinds):
        raise Unsupported(f"unsupported sentence-transformers modules {kinds}")
    pooling = _read_json(root / modules[1].get("path", "1_Pooling") / "config.json")
    if not pooling.get("pooling_mode_mean_tokens") or any(
        pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens")
    ):
        raise Unsupported("only mean pooling is exported")
    if not (root / "tokenizer.json").exists():
        raise Unsupported(f"{root} has no tokenizer.json")
    st_config = _read_json(root / "sentence_bert_config.json")
    config = _read_json(root / "config.json")
    max_len = int(st_config.get("max_seq_length") or config.get("max_position_embeddings") or 512)
    return {
        "normalize": "Normalize" in kinds,
        "max_seq_length": max_len,
        "dimension": int(pooling.get("word_embedding_dimension") or config.get("hidden_size") or 0),
        "lowercase": bool(st_config.get("do_lower_case", False)),
    }


def fingerprint(model_path: str | Path) -> str:
    """Names the export: the model's config files' content and its weight files' sizes."""
    root = Path(model_path)
    h = hashlib.sha256(f"v{EXPORT_VERSION}".encode())
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        rel = path.relative_to(root).as_posix()
        h.update(rel.encode() + b"\0")
        if path.suffix in (".json", ".txt") and path.stat().st_size < 4_000_000:
            h.update(path.read_bytes())
        else:
            h.update(str(path.stat().st_size).encode())
    return h.hexdigest()[:16]


def export_dir(cache_dir: str | Path, model_path: str | Path) -> Path:
    """``<cache>/<package or folder name>-<fingerprint>``."""
    root = Path(model_path).resolve()
    name = root.name if root.name not in ("model", "models", "") else f"{root.parent.name}-{root.name}"
    return Path(cache_dir) / f"{name}-{fingerprint(root)}"


def exported_file(cache_dir: str | Path, model_path: str | Path, kind: str) -> Path | None:
    """The cached export of ``kind`` ("onnx" or "onnx-int8") if it exists."""
    path = export_dir(cache_dir, model_path) / FILES[kind]
    return path if path.exists() else None


_EXPORT_LOCK = threading.Lock()


def export(model_path: str | Path, cache_dir: str | Path, kind: str = "onnx-int8",
           log: Callable[[str], None] | None = None) -> Path:
    """Export the model to ONNX (and int8) under ``cache_dir``; returns the file for ``kind``.

    Needs torch, transformers and onnx (all installed with the project); takes some seconds,
    once per model. Safe against concurrent exports: files are written under a temporary name
    and renamed into place.
    """
    layout = model_layout(model_path)
    target_dir = export_dir(cache_dir, model_path)
    target = target_dir / FILES[kind]
    with _EXPORT_LOCK:
        if target.exists():
            return target
        target_dir.mkdir(parents=True, exist_ok=True)
        if log:
            log(f"preparing the fast encoder for {Path(model_path).name} (once; stored in {target_dir})")
        fp32 = target_dir / FILES["onnx"]
        if not fp32.exists():
            _export_fp32(Path(model_path), fp32, layout)
        if kind == "onnx-int8":
            _quantize(_fused(fp32, Path(model_path)), target)
        (target_dir / "export.json").write_text(json.dumps({**layout, "export_version": EXPORT_VERSION,
                                                             "source": str(model_path)}, indent=1))
        return target


def _export_fp32(model_path: Path, target: Path, layout: dict) -> None:
    import warnings

    import torch
    from transformers import AutoModel

    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover
        pass

    # A local directory (the packaged weights); local_files_only: never a hub lookup.
    model = AutoModel.from_pretrained(str(model_path), local_files_only=True).eval()
    normalize = layout["normalize"]

    class SentenceEncoder(torch.nn.Module):
        def __init__(self, transformer):
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1) if normalize else pooled

    example = torch.ones(2, 8, dtype=torch.long)
    dynamic = {0: "batch", 1: "tokens"}
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                SentenceEncoder(model),
                (example, example, torch.zeros_like(example)),
                str(tmp),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["embedding"],
                dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, "token_type_ids": dynamic,
                              "embedding": {0: "batch"}},
                opset_version=OPSET,
                dynamo=False,  # the TorchScript exporter handles BERT's dynamic shapes without onnxscript
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _fused(fp32: Path, model_path: Path) -> Path:
    """The fp32 graph with onnxruntime's transformer fusions (SkipLayerNorm, BiasGelu), which the
    int8 model runs about 1.5x faster with; the plain graph when the optimiser cannot run."""
    config = _read_json(model_path / "config.json")
    target = fp32.with_name("model-fused.onnx")
    if target.exists():
        return target
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        model = optimize_model(str(fp32), model_type="bert", num_heads=int(config.get("num_attention_heads", 0)),
                               hidden_size=int(config.get("hidden_size", 0)), opt_level=1)
        model.save_model_to_file(str(tmp))
        os.replace(tmp, target)
        return target
    except Exception:  # an unusual graph: quantise the plain one
        return fp32
    finally:
        tmp.unlink(missing_ok=True)


def _quantize(fp32: Path, target: Path) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # "please consider pre-processing" is advice, not a problem
    try:
        import onnx

        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True,
                         # fused operators come from another domain: shape inference cannot type them
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        os.replace(tmp, target)
    finally:
        root.setLevel(level)
        tmp.unlink(missing_ok=True)


class OnnxEncoder:
    """Normalised sentence embeddings from an exported model, with onnxruntime + tokenizers."""

    def __init__(self, model_path: str | Path, onnx_file: str | Path, threads: int = 0):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        layout = model_layout(model_path)
        self.max_seq_length = layout["max_seq_length"]
        self.dimension = layout["dimension"]
        self.normalize = layout["normalize"]
        self.lowercase = layout["lowercase"]
        tok = Tokenizer.from_file(str(Path(model_path) / "tokenizer.json"))
        tok.no_padding()
        tok.enable_truncation(self.max_seq_length)
        self.tokenizer = tok
        self.threads = threads or min(os.cpu_count() or 1, 8)
        self.file = Path(onnx_file)
        self.session = self._session(self.threads)
        self.input_names = {i.name for i in self.session.get_inputs()}
        # Texts encoded one at a time (a question's sentences) are spread over single-threaded
        # runs in parallel: a short input keeps two intra-op threads mostly waiting on each
        # other, two inputs at once keep both cores busy (73 ms against 116 ms for 13 sentences
        # here). Made on first use; the same weights, so the vectors are identical.
        self._singles = None
        self._singles_lock = threading.Lock()

    def _session(self, threads: int):
        return cpu_session(self.file, threads)

    def _single_runner(self):
        """(session with one thread, pool of workers) for parallel one-text runs."""
        if self._singles is None:
            with self._singles_lock:
                if self._singles is None:
                    from concurrent.futures import ThreadPoolExecutor

                    self._singles = (self._session(1),
                                     ThreadPoolExecutor(self.threads, thread_name_prefix="encode-one"))
        return self._singles

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> "np.ndarray":
        """One normalised float32 row per text, in input order."""
        import numpy as np

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        prepared = [t.lower() for t in texts] if self.lowercase else list(texts)
        encodings = self.tokenizer.encode_batch(prepared)
        if batch_size <= 1 and len(texts) > 1 and self.threads > 1:
            session, pool = self._single_runner()
            for i, vec in enumerate(pool.map(lambda e: self._run(session, [e])[0], encodings)):
                out[i] = vec
            return out
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        order = np.argsort(-lengths, kind="stable")  # longest first: the worst batch runs while memory is fresh
        i = 0
        while i < len(order):
            longest = int(lengths[order[i]])
            size = max(1, min(max(batch_size, 1) * 4, MAX_BATCH_TOKENS // max(longest, 1)))
            size = min(size, max(batch_size, 1)) if longest > 64 or batch_size <= 1 else size
            idx = order[i : i + size]
            out[idx] = self._run(self.session, [encodings[j] for j in idx])
            i += len(idx)
        return out

    def _run(self, session, encodings) -> "np.ndarray":
        """One padded batch through ``session``."""
        import numpy as np

        longest = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), longest), dtype=np.int64)
        types = np.zeros_like(ids)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            ids[row, :n] = e.ids
            types[row, :n] = e.type_ids
            mask[row, :n] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return session.run(None, {k: v for k, v in feeds.items() if k in self.input_names})[0]


def cpu_session(file: Path, threads: int):
    """An onnxruntime session on the CPU with ``threads`` intra-op threads that sleep when idle."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Busy-waiting threads steal the CPU from the rest of the pipeline on small machines.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
