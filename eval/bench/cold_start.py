"""Cold start: how long a new process takes to answer, and what it imports on the way.

    .venv/bin/python -m eval.bench.cold_start                    # 5 runs of each, sample article
    .venv/bin/python -m eval.bench.cold_start --runs 9 --json
    .venv/bin/python -m eval.bench.cold_start --data-dir DIR -c NAME --question "..."   # your index

Goal (issue 6): ``assistant ask "question"`` in a new process within 5 s, with the collection
indexed and the ONNX export of the embedding model already made (the first ingest makes it).

Measured, each in its own subprocess (one untimed warm-up run first, so the OS file cache
holds the libraries as it does on a machine in use):

- ``assistant ask --json QUESTION``: wall time, CPU time, peak RSS (``wait4``), and the
  answer's own ``timings_ms.total`` (the question inside the process: retrieval + answering);
  wall minus that is start-up (interpreter, imports, opening the store, loading the encoder).
- ``python -c "import assistant.cli"``: what every command pays before it parses arguments.
- ``python -c pass``: the interpreter alone, for scale.
- one ``python -X importtime -m assistant ask``: the slowest top-level imports (cumulative,
  as imported on the ask path) and whether heavy packages that ``ask`` does not need were
  imported (torch, sentence-transformers, transformers, gradio, llama_index.core, ...).

Without ``--data-dir`` the sample article is ingested into a temporary data dir first (not
timed). Figures are wall-clock on a shared machine: read the median and the minimum.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "How many targets did the US strike?"
# Packages ``ask`` must not need: importing any of them on the ask path is a regression.
HEAVY = ("torch", "sentence_transformers", "transformers", "gradio", "llama_index.core", "llama_cpp",
         "scipy.stats", "sklearn", "pandas", "onnx")
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False", "TOKENIZERS_PARALLELISM": "false",
}


MARK = "\n--modules--\n"
# ``assistant ask`` in this interpreter, then which HEAVY modules it left loaded (an import that
# was attempted and refused leaves no module behind, unlike in ``-X importtime``'s log).
LOADED_AFTER_ASK = (
    "import json, sys\n"
    "from assistant.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    f"print({MARK!r} + json.dumps([m for m in {HEAVY!r} if sys.modules.get(m) is not None]))\n"
    "sys.exit(rc)\n"
)


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(OFFLINE_ENV)
    env["ASSISTANT_CONFIG"] = str(ROOT / "no-such-config.toml")  # the user's config must not change the run
    return env


def run_timed(cmd: list[str], env: dict[str, str]) -> dict:
    """Wall seconds, CPU seconds and peak RSS (MB) of one child process, and its stdout."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=str(ROOT))
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    return {"wall": wall, "rc": proc.returncode, "stdout": out.decode("utf-8", "replace"),
            "stderr": err.decode("utf-8", "replace")}


def run_with_rusage(cmd: list[str], env: dict[str, str]) -> dict:
    """Like ``run_timed`` but with the child's own rusage (peak RSS is per process this way)."""
    started = time.perf_counter()
    out_f = tempfile.TemporaryFile()
    err_f = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdout=out_f, stderr=err_f, env=env, cwd=str(ROOT))
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    out_f.seek(0)
    err_f.seek(0)
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,  # KB on Linux
        "rc": proc.returncode,
        "stdout": out_f.read().decode("utf-8", "replace"),
        "stderr": err_f.read().decode("utf-8", "replace"),
    }


def summarise(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def parse_importtime(text: str) -> list[dict]:
    """Rows of ``-X importtime`` output: module, depth, self and cumulative seconds."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cum_us, name = line[len("import time:"):].split("|", 2)
        name = name.rstrip()[1:]  # one space follows the bar
        depth = (len(name) - len(name.lstrip())) // 2
        rows.append({"module": name.strip(), "depth": depth, "self": int(self_us) / 1e6,
                     "cumulative": int(cum_us) / 1e6})
    return rows


def top_imports(rows: list[dict], n: int) -> list[dict]:
    """The slowest imports made directly by the ask path (top level of the import tree)."""
    tops = [r for r in rows if r["depth"] == 0 and not r["module"].startswith(("encodings", "site"))]
    return sorted(tops, key=lambda r: -r["cumulative"])[:n]


def ensure_index(args, env) -> tuple[Path, str, Path | None]:
    if args.data_dir:
        return Path(args.data_dir), args.collection, None
    tmp = Path(tempfile.mkdtemp(prefix="bench-cold-"))
    assistant = str(Path(sys.executable).with_name("assistant"))
    t = time.perf_counter()
    res = run_timed([assistant, "ingest", "--sample", "--data-dir", str(tmp), "-c", args.collection, "-q"], env)
    if res["rc"] != 0:
        sys.exit(f"ingest failed: {res['stderr'].strip()}")
    print(f"indexed the sample article into {tmp} ({time.perf_counter() - t:.1f} s, not timed below; "
          "it also makes the ONNX export if missing)", file=sys.stderr)
    return tmp, args.collection, tmp


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="timed runs of each command (default 5)")
    ap.add_argument("--data-dir", help="an existing data dir to ask (default: a temporary one with the sample)")
    ap.add_argument("--collection", "-c", default="sample", help="collection to ask (default sample)")
    ap.add_argument("--question", default=QUESTION)
    ap.add_argument("--top", type=int, default=12, help="slowest imports to list (default 12)")
    ap.add_argument("--no-warmup", action="store_true", help="time the very first run too")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)

    env = child_env()
    py = sys.executable
    assistant = str(Path(py).with_name("assistant"))
    data_dir, collection, tmp = ensure_index(args, env)
    try:
        ask_cmd = [assistant, "ask", "--json", "--data-dir", str(data_dir), "-c", collection, args.question]
        commands = {
            "assistant ask": ask_cmd,
            "import assistant.cli": [py, "-c", "import assistant.cli"],
            "python -c pass": [py, "-c", "pass"],
        }
        results: dict[str, list[dict]] = {name: [] for name in commands}
        if not args.no_warmup:
            for cmd in commands.values():
                run_with_rusage(cmd, env)
        for _ in range(max(args.runs, 1)):
            for name, cmd in commands.items():  # interleaved: drift on a shared machine hits all alike
                r = run_with_rusage(cmd, env)
                if r["rc"] != 0:
                    sys.exit(f"{name} failed (exit {r['rc']}): {r['stderr'].strip()[-800:]}")
                results[name].append(r)

        in_process = []
        for r in results["assistant ask"]:
            answer = json.loads(r["stdout"])
            in_process.append(answer.get("timings_ms", {}).get("total", 0.0) / 1000)
        imp = run_timed([py, "-X", "importtime", "-m", "assistant", *ask_cmd[1:]], env)
        rows = parse_importtime(imp["stderr"])
        imported = {r["module"] for r in rows}
        loaded = run_timed([py, "-c", LOADED_AFTER_ASK, *ask_cmd[1:]], env)
        if loaded["rc"] != 0:
            sys.exit(f"ask failed: {loaded['stderr'].strip()[-800:]}")
        heavy = json.loads(loaded["stdout"].rsplit(MARK, 1)[1])
        report = {
            "question": args.question,
            "data_dir": str(data_dir),
            "runs": {
                name: {
                    "wall_s": summarise([r["wall"] for r in rs]),
                    "cpu_s": summarise([r["cpu"] for r in rs]),
                    "peak_rss_mb": summarise([r["rss_mb"] for r in rs]),
                }
                for name, rs in results.items()
            },
            "ask_in_process_s": summarise(in_process),
            "ask_startup_s": summarise([r["wall"] - t for r, t in zip(results["assistant ask"], in_process)]),
            "imports_total_self_s": sum(r["self"] for r in rows),
            "modules_imported": len(imported),
            "top_imports": top_imports(rows, args.top),
            "heavy_imported": heavy,
        }
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"Cold start, {args.runs} runs each (seconds; RSS in MB), question {args.question!r}\n")
    print(f"{'command':<24} {'wall med':>9} {'wall min':>9} {'wall max':>9} {'cpu med':>8} {'peak RSS':>9}")
    for name, r in report["runs"].items():
        print(f"{name:<24} {r['wall_s']['median']:9.2f} {r['wall_s']['min']:9.2f} {r['wall_s']['max']:9.2f} "
              f"{r['cpu_s']['median']:8.2f} {r['peak_rss_mb']['median']:9.0f}")
    ip, su = report["ask_in_process_s"], report["ask_startup_s"]
    print(f"\nassistant ask = start-up {su['median']:.2f} s (median) + the question in process "
          f"{ip['median']:.2f} s (retrieval + answer, first-use loading included)")
    print(f"goal: assistant ask <= 5 s: {'met' if report['runs']['assistant ask']['wall_s']['median'] <= 5 else 'NOT met'}"
          f" (median {report['runs']['assistant ask']['wall_s']['median']:.2f} s)")
    print(f"\nImports on the ask path (python -X importtime, one run; its own overhead inflates them): "
          f"{report['modules_imported']} modules, {report['imports_total_self_s']:.2f} s in total")
    print(f"{'module (top level)':<40} {'cumulative':>10} {'self':>8}")
    for r in report["top_imports"]:
        print(f"{r['module']:<40} {r['cumulative']:10.3f} {r['self']:8.3f}")
    heavy = report["heavy_imported"]
    print(f"\nheavy packages imported by ask: {', '.join(heavy) if heavy else 'none'} "
          f"(checked: {', '.join(HEAVY)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
