"""``assistant eval``: run a suite or a BEIR benchmark, print a summary, write the reports.

``assistant/cli.py`` registers the subcommand and hands the parsed arguments to ``run``;
``python -m eval`` is the same command on its own.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from assistant.errors import AssistantError

GATE_FAILED = 3

DESCRIPTION = """\
Score answer accuracy on an eval suite: ingest its corpus (incrementally, so a re-run is
fast), ask every question, score the answers, and write results.json and report.html.

SUITE is a .jsonl file of questions, a .toml/.yaml suite file naming a corpus and questions,
or the name of a shipped suite (see --list). A suite with a corpus is indexed in its own
collection (eval-<suite name>) under <data dir>/eval: your own collections are never touched.
A suite without one is asked of --collection as it is.
"""

EPILOG = """\
examples:
  assistant eval sample-article                      the bundled article's questions
  assistant eval sample-article --fail-under containment=0.7 --fail-under abstention_recall=0.5
  assistant eval squad-tune --sample 200 --seed 1    SQuAD 2.0 tune articles, a quick sample
  assistant eval my-questions.jsonl --corpus ~/notes --out reports/notes
  assistant eval --beir ../shared/eval-data/scifact --split test   dense, BM25 and fused retrieval
  assistant eval scifact-test --limit 50 --json

metrics (results.json "metrics"): hit@5 recall@10 mrr ndcg@10 em f1 containment
  citation_precision citation_recall abstention_precision abstention_recall
  latency_p50_ms latency_p95_ms (and latency_<stage>_p50_ms, wrong_abstentions, ...);
  BEIR runs add dense.*, keyword.* and fused.* per mode.
exit status: 0 ok, 1 error, 3 a --fail-under/--fail-over gate failed.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("suite", nargs="?", metavar="SUITE", help="suite file or shipped suite name")
    p.add_argument("--corpus", action="append", metavar="PATH",
                   help="ingest these files/directories (or a .jsonl of {id,title,text} records) "
                        "instead of the suite's corpus; repeatable")
    p.add_argument("--judge", nargs="?", const="auto", metavar="SPEC",
                   help="also grade answers with an LLM judge (prompts/judge.md): local, openai:MODEL[@URL], "
                        "ollama:MODEL[@URL]; bare --judge uses the configured LLM")
    p.add_argument("--out", metavar="DIR", help="where results.json and report.html go (default eval/out/SUITE)")
    pick = p.add_mutually_exclusive_group()
    pick.add_argument("--limit", type=int, metavar="N", help="only the first N questions")
    pick.add_argument("--sample", type=int, metavar="N", help="a random sample of N questions (see --seed)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed for --sample (default 0)")
    p.add_argument("--fail-under", action="append", metavar="METRIC=VALUE", default=[],
                   help="exit 3 when METRIC is below VALUE (e.g. f1=0.5); repeatable")
    p.add_argument("--fail-over", action="append", metavar="METRIC=VALUE", default=[],
                   help="exit 3 when METRIC is above VALUE (e.g. latency_p95_ms=2000); repeatable")
    p.add_argument("--beir", metavar="DIR", help="run a BEIR-format retrieval benchmark from DIR instead of a suite")
    p.add_argument("--split", choices=("test", "train", "dev"), help="BEIR qrels split (default test; tune on train)")
    p.add_argument("--list", action="store_true", help="list the shipped suites and exit")
    p.add_argument("--json", action="store_true", help="print metrics, run facts and report paths as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")


def run(args: argparse.Namespace) -> int:
    from eval.results import GateError, parse_gates
    from eval.suite import SUITES_DIR, Suite, BeirSpec, load_suite, shipped_suites, slug

    if args.list:
        for name in shipped_suites():
            try:
                s = load_suite(name)
                what = s.description or f"{len(s.questions)} questions"
            except AssistantError as exc:
                what = f"(unavailable: {exc})"
            print(f"{name:<20} {what}")
        print(f"(in {SUITES_DIR})")
        return 0

    fail_under = parse_gates(args.fail_under)
    fail_over = parse_gates(args.fail_over, upper=True)
    if args.beir:
        if args.suite:
            raise AssistantError("give either SUITE or --beir DIR, not both")
        from eval.beir import find_dir

        directory = find_dir(args.beir)
        suite: Any = Suite(name=f"beir-{directory.name}-{args.split or 'test'}", beir=BeirSpec(directory, args.split or "test"),
                           corpus_key=f"beir-{directory.name}")
    elif args.suite:
        suite = load_suite(args.suite)
        if args.split and suite.beir is None:
            raise AssistantError("--split applies to BEIR benchmarks only")
    else:
        raise AssistantError("name a suite (assistant eval --list shows the shipped ones) or --beir DIR")

    settings = _settings(args)
    out_dir = Path(args.out) if args.out else Path("eval") / "out" / slug(suite.name)
    quiet = args.quiet or args.json
    judge = None
    if args.judge:
        from eval.judge import judge_for
        from eval.runner import eval_settings

        judge = judge_for(args.judge, eval_settings(settings, suite, answerer=getattr(args, "answerer", None)))

    from eval.runner import run_suite

    results = run_suite(
        suite,
        corpus=args.corpus,
        collection=args.collection,
        settings=settings,
        out_dir=out_dir,
        limit=args.limit,
        sample=args.sample,
        seed=args.seed,
        answerer=getattr(args, "answerer", None),
        judge=judge,
        progress=not quiet,
        beir_split=args.split,
    )
    try:
        failures = results.check(fail_under, fail_over)
    except GateError:
        raise
    if args.json:
        print(json.dumps({
            "suite": results.suite,
            "kind": results.kind,
            "metrics": results.to_dict()["metrics"],
            "gates": {"fail_under": fail_under, "fail_over": fail_over, "failures": failures},
            "paths": results.paths,
            "info": results.info,
        }, indent=2, ensure_ascii=False, default=str))
    else:
        from eval.report import summary_table

        print(summary_table(results))
    if failures:
        for f in failures:
            print(f"FAILED: {f}", file=sys.stderr)
        return GATE_FAILED
    if (fail_under or fail_over) and not args.json:
        print(f"gates passed: {', '.join([f'{k}>={v:g}' for k, v in fail_under.items()] + [f'{k}<={v:g}' for k, v in fail_over.items()])}")
    return 0


def _settings(args: argparse.Namespace):
    """The configured settings (command line > env > config file), without the collection:
    an eval picks its own unless --collection names one."""
    from assistant.cli_options import cli_overrides
    from assistant.config import resolve

    cli = cli_overrides(args, ("data_dir", "chroma_url", "embed_model", "top_k"))
    return resolve(cli=cli, config_file=getattr(args, "config", None)).settings


def build_parser() -> argparse.ArgumentParser:
    from assistant.cli_options import config_options

    p = argparse.ArgumentParser(prog="python -m eval", description=DESCRIPTION, epilog=EPILOG,
                                parents=[config_options()], formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
