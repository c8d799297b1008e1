"""The ONNX export of the packaged encoder against sentence-transformers, on real weights.

The export is made once into the default model cache (what the assistant itself uses, so the
rest of the suite reuses it); sentence-transformers runs the same weights with torch.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.embed import onnx_encoder
from assistant.config import PACKAGED_MODEL, default_model_cache_dir, load_settings
from assistant.embed.encoder import Embedder, get_embedder, resolve_model_path
from assistant.errors import ConfigError

MODEL_PATH = Path(resolve_model_path(PACKAGED_MODEL))

TEXTS = [
    "The lighthouse at Port Amsel was built in 1871 by the engineer Maria Kessel.",
    "How many targets did the US strike?",
    "kerosene",
    "",
    "   ",
    "A",
    "Queens are marked with a dot of paint whose colour encodes the year.",
    "The Hallström glacier retreated 412 metres between 1990 and 2020.",
    "Café au lait, naïve façade, jalapeño, Zürich, smörgåsbord.",
    "东京是日本的首都，人口超过一千万。",
    "Москва — столица России.",
    "def add(a, b):\n    return a + b  # adds two numbers",
    "SELECT name, COUNT(*) FROM users GROUP BY name HAVING COUNT(*) > 1;",
    "!!! ??? ... --- ***",
    "3.14159 2.71828 1.41421 6.02214076e23",
    "Email me at someone@example.com or call +44 20 7946 0958.",
    "I love this 😀🎉 so much!!!",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
    "the quick brown fox jumps over the lazy dog",
    "Mitochondria are the powerhouse of the cell; they produce ATP through oxidative phosphorylation.",
    "In 2019, vaccination coverage for measles fell below 85% in several regions, raising outbreak risk.",
    "Pheromone traps placed in May control codling moths in apple orchards.",
    "The Varden bridge spans 340 metres across the fjord.\nThe Ostby tunnel opened in 1998.",
    "Tab\tseparated\tvalues\tand\nnew\nlines",
    "word " * 40,
    "Supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "The defendant's motion to dismiss was denied because the complaint stated a plausible claim.",
    "Ruth Bader Ginsburg served on the Supreme Court from 1993 until her death in 2020.",
    "Boil the pasta for nine minutes, then toss it with olive oil, garlic and chilli flakes.",
    "A healthy colony holds about forty thousand bees in midsummer.",
]

PASSAGES = [
    "The lighthouse lamp burned whale oil until 1903, when it was converted to kerosene.",
    "The orchard grows seventeen varieties of apple; the oldest tree was planted in 1912.",
    "Survey teams measured the glacier's ice thickness with ground-penetrating radar.",
    "The tunnel opened to traffic in 1998 after six years of construction work.",
    "A healthy bee colony holds about forty thousand bees in midsummer.",
    "Mitochondria produce most of the cell's ATP through oxidative phosphorylation.",
    "The court denied the motion to dismiss the complaint.",
    "Boil pasta for nine minutes and toss it with garlic and olive oil.",
]
QUERIES = [  # (query, index of the passage that answers it)
    ("What fuel did the lighthouse use before kerosene?", 0),
    ("How many apple varieties are in the orchard?", 1),
    ("How was the thickness of the ice measured?", 2),
    ("When did the tunnel open?", 3),
    ("How large is a bee colony in summer?", 4),
    ("Which organelle makes ATP?", 5),
    ("What happened to the motion to dismiss?", 6),
    ("How long should pasta be cooked?", 7),
]


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-12)
    return (a * b).sum(-1)


@pytest.fixture(scope="session")
def export_files(model_cache_dir):
    """The int8 and fp32 exports in the test runs' model cache (made here if missing; slow once)."""
    cache = model_cache_dir
    assert default_model_cache_dir() == cache  # encoders built without settings use it too
    int8 = onnx_encoder.export(MODEL_PATH, cache, "onnx-int8")
    fp32 = onnx_encoder.exported_file(cache, MODEL_PATH, "onnx")
    assert fp32 is not None and int8.exists()
    return {"onnx-int8": int8, "onnx": fp32}


@pytest.fixture(scope="session")
def torch_embedder():
    e = get_embedder(PACKAGED_MODEL, backend="torch")
    assert e.backend == "torch"
    return e


@pytest.fixture(scope="session")
def onnx_embedders(export_files):
    out = {kind: Embedder(PACKAGED_MODEL, backend=kind) for kind in ("onnx-int8", "onnx")}
    for kind, e in out.items():
        assert e.backend == kind
        assert e._onnx.file == export_files[kind]  # the cached export, not a fresh one
    return out


# Texts with (next to) no word pieces the vocabulary knows: int8 weights move their vectors
# most (measured: cosine 0.971 for the emoji sentence, 0.974 for empty text; fp32: 1.000).
# They are held to a lower floor, listed here rather than hidden in a looser bound for all.
WEAK_FOR_INT8 = {"", "   ", "I love this 😀🎉 so much!!!"}


@pytest.mark.parametrize("kind,floor,weak_floor", [("onnx-int8", 0.98, 0.95), ("onnx", 0.999, 0.999)])
def test_onnx_vectors_match_sentence_transformers(kind, floor, weak_floor, onnx_embedders, torch_embedder):
    ref = torch_embedder.embed(TEXTS)
    got = onnx_embedders[kind].embed(TEXTS)
    assert got.shape == ref.shape == (len(TEXTS), 384)
    assert got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-3)  # normalised
    cos = _cos(got, ref)
    for text, c in zip(TEXTS, cos):
        assert c >= (weak_floor if text in WEAK_FOR_INT8 else floor), f"{kind}: cosine {c:.4f} on {text!r}"


@pytest.mark.parametrize("kind", ["onnx-int8", "onnx"])
def test_onnx_finds_the_same_nearest_passage(kind, onnx_embedders, torch_embedder):
    queries = [q for q, _ in QUERIES]
    ref = torch_embedder.embed(queries) @ torch_embedder.embed(PASSAGES).T
    e = onnx_embedders[kind]
    got = e.embed(queries) @ e.embed(PASSAGES).T
    assert list(ref.argmax(1)) == [i for _, i in QUERIES]  # the set itself is unambiguous
    assert list(got.argmax(1)) == list(ref.argmax(1))


@pytest.mark.parametrize("kind,floor", [("onnx-int8", 0.98), ("onnx", 0.999)])
def test_long_texts_are_truncated_like_sentence_transformers(kind, floor, onnx_embedders, torch_embedder):
    e = onnx_embedders[kind]
    long_text = " ".join(
        f"Paragraph {i}: the committee reviewed the budget, the schedule and the staffing plan." for i in range(40)
    )
    assert e.count_tokens([long_text])[0] > 2 * 256
    # Whatever follows the first 256 word pieces is not read: a different ending changes nothing.
    other_end = long_text + " Volcanic eruptions, penguins and jazz saxophones." * 20
    got = e.embed([long_text, other_end])
    assert _cos(got[0], got[1]) > 0.99999
    ref = torch_embedder.embed([long_text, other_end])
    assert _cos(got, ref).min() >= floor
    # ... while the beginning does matter (the comparison above could not pass by accident).
    shifted = e.embed(["Volcanic eruptions, penguins and jazz saxophones. " + long_text])
    assert _cos(got[0], shifted[0]) < 0.99


def test_empty_input(onnx_embedders):
    for e in onnx_embedders.values():
        out = e.embed([])
        assert out.shape == (0, 384) and out.dtype == np.float32
        assert e._onnx.encode([]).shape == (0, 384)


def test_order_is_kept_across_length_sorted_batches(export_files):
    # Small batches, so the length sorting really reorders texts across batches.
    encoder = onnx_encoder.OnnxEncoder(MODEL_PATH, export_files["onnx"])
    texts = TEXTS + [TEXTS[i] + " " + TEXTS[-1 - i] * (i % 4) for i in range(len(TEXTS))]
    together = encoder.encode(texts, batch_size=3)
    alone = np.vstack([encoder.encode([t]) for t in texts])
    assert _cos(together, alone).min() > 0.9999  # padding does not change a text's vector
    shuffled = np.random.default_rng(7).permutation(len(texts))
    again = encoder.encode([texts[i] for i in shuffled], batch_size=5)
    assert _cos(again, together[shuffled]).min() > 0.9999


def test_texts_encoded_one_at_a_time_in_parallel_get_their_own_vectors(export_files):
    # batch_size=1 runs single texts side by side on one-thread sessions (the answerer's
    # sentences): each must come back in its place, exactly as when encoded on its own.
    encoder = onnx_encoder.OnnxEncoder(MODEL_PATH, export_files["onnx-int8"], threads=2)
    distinct = list(dict.fromkeys(t.lower() for t in TEXTS if t.strip()))  # the model is uncased
    texts = distinct + [f"{t} Then {i} more." for i, t in enumerate(TEXTS)] + ["a longer sentence " * 9]
    parallel = encoder.encode(texts, batch_size=1)
    assert encoder._singles is not None  # the parallel path ran
    sequential = np.vstack([encoder.encode([t]) for t in texts])
    assert np.array_equal(parallel, sequential)
    assert _cos(parallel[:-1], parallel[1:]).max() < 0.9999  # distinct texts, distinct rows


def _model_copy(parent: Path) -> Path:
    """The packaged model as ``parent/model``: config files copied, weights linked."""
    dst = parent / MODEL_PATH.name
    for src in MODEL_PATH.rglob("*"):
        target = dst / src.relative_to(MODEL_PATH)
        if src.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.suffix == ".json":
            shutil.copyfile(src, target)
        else:
            target.symlink_to(src)
    return dst


def test_a_changed_model_gets_a_new_fingerprint(tmp_path, export_files, model_cache_dir):
    cache = model_cache_dir
    same = _model_copy(tmp_path / "a" / MODEL_PATH.parent.name)  # named like the package's
    assert onnx_encoder.fingerprint(same) == onnx_encoder.fingerprint(MODEL_PATH)  # content, not location
    assert onnx_encoder.exported_file(cache, same, "onnx-int8") == export_files["onnx-int8"]

    changed = _model_copy(tmp_path / "b")
    config = json.loads((changed / "config.json").read_text())
    config["layer_norm_eps"] = 1e-6
    (changed / "config.json").write_text(json.dumps(config))
    assert onnx_encoder.fingerprint(changed) != onnx_encoder.fingerprint(MODEL_PATH)
    assert onnx_encoder.export_dir(cache, changed) != onnx_encoder.export_dir(cache, MODEL_PATH)
    assert onnx_encoder.exported_file(cache, changed, "onnx-int8") is None  # would be exported anew

    resized = _model_copy(tmp_path / "c")
    (resized / "model.safetensors").unlink()
    (resized / "model.safetensors").write_bytes(b"\0" * 1024)  # other weights, other size
    assert onnx_encoder.fingerprint(resized) != onnx_encoder.fingerprint(MODEL_PATH)


def test_a_bad_backend_is_a_config_error():
    with pytest.raises(ConfigError, match="embed_backend"):
        Embedder(PACKAGED_MODEL, backend="tensorflow")
    with pytest.raises(ConfigError, match="embed_backend"):
        load_settings({"embed_backend": "tensorflow"})


def test_an_unsupported_model_cannot_be_exported(tmp_path):
    odd = _model_copy(tmp_path)
    pooling = odd / "1_Pooling" / "config.json"
    cfg = json.loads(pooling.read_text())
    cfg.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    pooling.write_text(json.dumps(cfg))
    with pytest.raises(onnx_encoder.Unsupported):
        onnx_encoder.model_layout(odd)
    # Asked for explicitly, ONNX on such a model is a readable configuration error.
    e = Embedder(str(odd), backend="onnx", cache_dir=tmp_path / "cache")
    with pytest.raises(ConfigError, match="embed_backend=onnx"):
        e.embed(["text"])
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.onnx"))


def test_auto_falls_back_to_sentence_transformers_when_the_export_cannot_be_made(tmp_path, torch_embedder):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should be")
    e = Embedder(PACKAGED_MODEL, backend="auto", cache_dir=blocker / "models")
    with pytest.warns(UserWarning, match="ONNX encoder is unavailable"):
        vectors = e.embed(TEXTS[:5])
    assert e.backend == "torch"
    assert _cos(vectors, torch_embedder.embed(TEXTS[:5])).min() > 0.9999
    # The same failure with the backend named explicitly is an error, not a silent fallback.
    strict = Embedder(PACKAGED_MODEL, backend="onnx-int8", cache_dir=blocker / "models")
    with pytest.raises(ConfigError, match="embed_backend=onnx-int8"):
        strict.embed(["text"])


def test_auto_uses_the_int8_export_for_the_packaged_model(export_files):
    e = Embedder(PACKAGED_MODEL, backend="auto")
    assert e.backend == "onnx-int8"
    assert e._model is None  # sentence-transformers was not loaded
