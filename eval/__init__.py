"""Evaluation: suites of questions with acceptable answers, scored; public benchmarks.

    from eval import run_suite
    results = run_suite("sample-article", out_dir="eval/out/sample")
    results.metrics["containment"], results.questions[0]["why"]

Also on the command line: ``assistant eval SUITE`` (see ``assistant eval --help``).
Heavy libraries load on first use, not on import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eval.beir import run_beir
    from eval.results import EvalResults
    from eval.runner import run_suite
    from eval.suite import Suite, load_suite

__all__ = ["run_suite", "run_beir", "load_suite", "EvalResults", "Suite"]


def __getattr__(name: str) -> Any:
    if name == "run_suite":
        from eval.runner import run_suite

        return run_suite
    if name == "run_beir":
        from eval.beir import run_beir

        return run_beir
    if name in ("load_suite", "Suite"):
        from eval import suite

        return getattr(suite, name)
    if name == "EvalResults":
        from eval.results import EvalResults

        return EvalResults
    raise AttributeError(f"module 'eval' has no attribute {name!r}")
