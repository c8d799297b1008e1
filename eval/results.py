"""The results of one eval run: aggregate metrics, per-question records, and what was run.

``results.json`` is ``EvalResults.to_dict()``: ``{"metrics": {name: value}, "questions": [...],
"suite", "kind", "info"}``. Metric names are stable (``hit@5``, ``recall@10``, ``mrr``,
``ndcg@10``, ``em``, ``f1``, ``containment``, ``citation_precision``, ``citation_recall``,
``abstention_precision``, ``abstention_recall``, ``latency_p50_ms``, ``latency_p95_ms``, ...);
a metric that cannot be computed on this run (no unanswerable questions, say) is ``null``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from eval.metrics import QA_METRICS, RETRIEVAL_METRICS, fmt  # noqa: F401 - re-exported
from eval.metrics import lower_is_better

# The names every QA run reports (null when not computable), in display order.
class GateError(AssistantError):
    """A --fail-under / --fail-over gate names a metric the run does not have, or a bad value."""


@dataclass
class EvalResults:
    suite: str
    kind: str  # "qa" or "beir"
    metrics: dict[str, Any] = field(default_factory=dict)
    questions: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)  # files written (results.json, report.html)

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "kind": self.kind,
            "metrics": {k: _clean(v) for k, v in self.metrics.items()},
            "questions": self.questions,
            "info": self.info,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "EvalResults":
        return cls(data.get("suite", ""), data.get("kind", "qa"), dict(data.get("metrics", {})),
                   list(data.get("questions", [])), dict(data.get("info", {})))

    def write(self, out_dir: str | Path) -> dict[str, str]:
        """Write results.json and report.html into ``out_dir``; returns their paths."""
        from eval.report import render_html

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        json_path = out / "results.json"
        html_path = out / "report.html"
        json_path.write_text(self.to_json() + "\n", encoding="utf-8")
        html_path.write_text(render_html(self), encoding="utf-8")
        self.paths = {"results_json": str(json_path), "report_html": str(html_path)}
        return self.paths

    # --- gates ----------------------------------------------------------------------
    def check(self, fail_under: dict[str, float] | None = None, fail_over: dict[str, float] | None = None) -> list[str]:
        """Messages for every gate that fails (empty when all pass)."""
        failures = []
        for name, floor in (fail_under or {}).items():
            value = self._gate_value(name)
            if value is None:
                failures.append(f"{name} could not be computed on this run (no questions it applies to); required >= {floor:g}")
            elif value < floor:
                failures.append(f"{name} = {fmt(value)} is below the required {floor:g}")
        for name, ceiling in (fail_over or {}).items():
            value = self._gate_value(name)
            if value is None:
                failures.append(f"{name} could not be computed on this run; required <= {ceiling:g}")
            elif value > ceiling:
                failures.append(f"{name} = {fmt(value)} is above the allowed {ceiling:g}")
        return failures

    def _gate_value(self, name: str) -> float | None:
        if name not in self.metrics:
            known = ", ".join(sorted(self.metrics))
            raise GateError(f"unknown metric {name!r} in a gate; this run has: {known}")
        value = self.metrics[name]
        return None if value is None else float(value)


KNOWN_METRICS = (*QA_METRICS, "hit@1", "hit@10", "recall@5", "wrong_abstentions", "missed_abstentions",
                 "judge_correctness", "judge_faithfulness", "judge_unreadable", "questions", "answerable",
                 "unanswerable", "abstentions", "correct_abstentions", "errors", "cited_page")


def known_metric(name: str) -> bool:
    """Could a run report ``name``? (Checked before running, so a typo fails fast.)"""
    mode, _, base = name.rpartition(".")
    if mode and mode not in ("dense", "keyword", "fused"):
        return False
    return base in KNOWN_METRICS or re.fullmatch(r"latency_\w+_p(50|95)_ms", base) is not None


def parse_gates(specs: list[str] | None, *, upper: bool = False) -> dict[str, float]:
    """``["f1=0.5", "hit@5=0.9"]`` -> ``{"f1": 0.5, "hit@5": 0.9}`` with readable errors."""
    out: dict[str, float] = {}
    option = "--fail-over" if upper else "--fail-under"
    for spec in specs or []:
        name, sep, value = spec.partition("=")
        name = name.strip()
        if not sep or not name:
            raise GateError(f"{option} expects METRIC=VALUE (e.g. f1=0.5), got {spec!r}")
        try:
            number = float(value)
        except ValueError:
            raise GateError(f"{option} {name}: {value!r} is not a number") from None
        if not math.isfinite(number):
            raise GateError(f"{option} {name}: the value must be a finite number")
        if not known_metric(name):
            raise GateError(f"{option}: unknown metric {name!r}; known: {', '.join(KNOWN_METRICS)} "
                            "(BEIR runs: dense.NAME, keyword.NAME, fused.NAME)")
        if not upper and lower_is_better(name):
            raise GateError(f"{name} is better when lower: use --fail-over {name}={value}")
        out[name] = number
    return out



def _clean(value: Any) -> Any:
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return round(value, 4)
    return value
