"""Reports a person reads: a terminal summary and a self-contained ``report.html``.

The HTML has no external assets: plots are inline SVG drawn here (score distributions,
latency histogram, outcomes), then a per-question table with the answer, its citations and
why it was scored so. Every piece of text from the suite, the corpus or the answers goes
through ``html.escape``: a document or question can never inject markup into the report.
"""

from __future__ import annotations

import html
import math
import re
from typing import TYPE_CHECKING, Any, Sequence

from eval.metrics import MODE_LABELS, QA_METRICS, RETRIEVAL_METRICS, fmt

if TYPE_CHECKING:
    from eval.results import EvalResults

OUTCOME_ORDER = ("correct", "partial", "wrong", "wrong_abstention", "correct_abstention", "missed_abstention",
                 "answered", "error", "found", "missed")
OUTCOME_LABEL = {
    "correct": "correct", "partial": "partial", "wrong": "wrong", "wrong_abstention": "wrong abstention",
    "correct_abstention": "correct abstention", "missed_abstention": "should have abstained",
    "answered": "answered (no reference)", "error": "error", "found": "relevant found", "missed": "relevant missed",
}
GOOD = {"correct", "correct_abstention", "found"}
BAD = {"wrong", "wrong_abstention", "missed_abstention", "error", "missed"}
METRIC_DOC = {
    "hit@1": "share of questions whose first document retrieved is an expected one",
    "hit@5": "share of questions with an expected source among the top 5 documents retrieved",
    "hit@10": "share of questions with an expected source among the top 10 documents retrieved",
    "recall@5": "share of expected sources among the top 5 documents retrieved",
    "recall@10": "share of expected sources among the top 10 documents retrieved",
    "mrr": "mean of 1/rank of the first expected source (top 10)",
    "ndcg@10": "normalised discounted cumulative gain of the top 10 documents",
    "em": "answer equals an acceptable answer after normalisation (answerable questions)",
    "f1": "best token F1 against the acceptable answers (answerable questions)",
    "containment": "an acceptable answer appears in the answer (all of them for all_required)",
    "citation_precision": "share of cited passages that contain an acceptable answer",
    "citation_recall": "share of answerable questions whose answer is in a cited passage",
    "abstention_precision": "share of abstentions that were on unanswerable questions",
    "abstention_recall": "share of unanswerable questions abstained on",
    "latency_p50_ms": "median time per question, end to end",
    "latency_p95_ms": "95th percentile time per question, end to end",
    "judge_correctness": "LLM judge: share of answers judged correct",
    "judge_faithfulness": "LLM judge: share of answers judged supported by their citations",
    "cited_page": "questions with expected pages whose first citation is on one of them",
}
BEIR_DOC = {"latency_p50_ms": "median retrieval time per query (query embedding included)",
            "latency_p95_ms": "95th percentile retrieval time per query"}


def e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


# --- terminal ---------------------------------------------------------------------------------

def summary_table(results: EvalResults) -> str:
    """A plain-text summary: the headline metrics, counts, outcomes and where the reports are."""
    m = results.metrics
    info = results.info
    lines = [f"suite {results.suite}: {info.get('questions_run', len(results.questions))} questions"
             + (f" of {info['questions_in_suite']}" if info.get("questions_in_suite") not in (None, info.get("questions_run")) else "")
             + (f", backend {info['backend']}" if info.get("backend") else "")
             + (f", judge {info['judge']}" if info.get("judge") else "")]
    if results.kind == "beir":
        modes = info.get("modes", [])
        names = list(RETRIEVAL_METRICS) + ["latency_p50_ms", "latency_p95_ms"]
        width = max(len(n) for n in names)
        lines.append(f"{'metric':<{width}}  " + "  ".join(f"{MODE_LABEL(mm):>11}" for mm in modes))
        for n in names:
            lines.append(f"{n:<{width}}  " + "  ".join(f"{fmt(m.get(f'{mm}.{n}')):>11}" for mm in modes))
    else:
        names = [n for n in QA_METRICS] + [n for n in ("judge_correctness", "judge_faithfulness", "cited_page") if n in m]
        width = max(len(n) for n in names)
        for n in names:
            lines.append(f"  {n:<{width}}  {fmt(m.get(n)):>8}")
        stages = latency_stages(m)
        if stages:
            lines.append("  latency p50/p95 by stage (ms): " + ", ".join(
                f"{s} {fmt(m.get(f'latency_{s}_p50_ms'))}/{fmt(m.get(f'latency_{s}_p95_ms'))}" for s in stages))
        lines.append(
            f"  {m.get('answerable', 0)} answerable, {m.get('unanswerable', 0)} unanswerable; "
            f"abstained {m.get('abstentions', 0)} times ({m.get('correct_abstentions', 0)} right, "
            f"{m.get('wrong_abstentions', 0)} wrong), missed {m.get('missed_abstentions', 0)}; "
            f"{m.get('errors', 0)} errors"
        )
        outcomes = _outcomes(results.questions)
        lines.append("  outcomes: " + ", ".join(f"{OUTCOME_LABEL.get(k, k)} {v}" for k, v in outcomes.items()))
    sec = info.get("seconds", {})
    if sec:
        lines.append(f"time: ingest {sec.get('ingest', 0):.1f} s, questions {sec.get('questions', 0):.1f} s, "
                     f"total {sec.get('total', 0):.1f} s")
    for label, key in (("results", "results_json"), ("report", "report_html")):
        if results.paths.get(key):
            lines.append(f"{label}: {results.paths[key]}")
    return "\n".join(lines)


def latency_stages(metrics: dict[str, Any]) -> list[str]:
    """Stage names with latency percentiles in ``metrics`` (``latency_<stage>_p50_ms``)."""
    found = []
    for k in metrics:
        mm = re.fullmatch(r"latency_(.+)_p50_ms", k)
        if mm:
            found.append(mm.group(1))
    return sorted(found)


def MODE_LABEL(mode: str) -> str:  # noqa: N802 - reads as a table
    return MODE_LABELS.get(mode, mode)


def _outcomes(records: Sequence[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in records:
        counts[r.get("outcome", "?")] = counts.get(r.get("outcome", "?"), 0) + 1
    return {k: counts[k] for k in sorted(counts, key=lambda k: OUTCOME_ORDER.index(k) if k in OUTCOME_ORDER else 99)}


# --- SVG plots --------------------------------------------------------------------------------

PASSAGES_UP_TO = 500  # questions; above this the report leaves whole passages to results.json
PALETTE = ("#3b6ea5", "#d9822b", "#4a9a5b", "#b04a5a", "#7b5ea7")


def svg_histogram(
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
    xlabel: str,
    bins: int = 10,
    lo: float | None = None,
    hi: float | None = None,
    markers: Sequence[tuple[str, float]] = (),
    width: int = 460,
    height: int = 220,
) -> str:
    """Overlaid histograms of one or more named series, as an inline SVG."""
    values = [v for _, vals in series for v in vals if v is not None and math.isfinite(v)]
    pad_l, pad_r, pad_t, pad_b = 40, 12, 28 + (14 * len(series) if len(series) > 1 else 0), 40
    out = [f'<svg class="plot" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'role="img" aria-label="{e(title)}"><title>{e(title)}</title>',
           f'<text x="{width / 2}" y="16" text-anchor="middle" class="pt">{e(title)}</text>']
    if not values:
        out.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="pl">no data</text></svg>')
        return "".join(out)
    lo = min(values) if lo is None else lo
    hi = max(values) if hi is None else hi
    if hi <= lo:
        hi = lo + 1.0
    step = (hi - lo) / bins
    counts = []
    for _, vals in series:
        c = [0] * bins
        for v in vals:
            if v is None or not math.isfinite(v):
                continue
            i = min(bins - 1, max(0, int((v - lo) / step)))
            c[i] += 1
        counts.append(c)
    top = max(max(c) for c in counts) or 1
    pw, ph = width - pad_l - pad_r, height - pad_t - pad_b
    bw = pw / bins
    n = len(series)
    for si, c in enumerate(counts):
        color = PALETTE[si % len(PALETTE)]
        for i, count in enumerate(c):
            if not count:
                continue
            h = ph * count / top
            x = pad_l + i * bw + si * bw / n
            y = pad_t + ph - h
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(bw / n - 1, 1):.1f}" height="{h:.1f}" '
                       f'fill="{color}"><title>{e(series[si][0])}: {count} in '
                       f'[{lo + i * step:.3g}, {lo + (i + 1) * step:.3g})</title></rect>')
    # axes and ticks
    out.append(f'<line x1="{pad_l}" y1="{pad_t + ph}" x2="{pad_l + pw}" y2="{pad_t + ph}" class="ax"/>')
    out.append(f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{pad_t + ph}" class="ax"/>')
    for i in range(0, bins + 1, max(1, bins // 5)):
        x = pad_l + i * bw
        out.append(f'<text x="{x:.1f}" y="{pad_t + ph + 14}" text-anchor="middle" class="pl">{_tick(lo + i * step)}</text>')
    out.append(f'<text x="{pad_l - 6}" y="{pad_t + 4}" text-anchor="end" class="pl">{top}</text>')
    out.append(f'<text x="{pad_l - 6}" y="{pad_t + ph}" text-anchor="end" class="pl">0</text>')
    out.append(f'<text x="{pad_l + pw / 2}" y="{height - 6}" text-anchor="middle" class="pl">{e(xlabel)}</text>')
    for label, value in markers:
        if value is None or not lo <= value <= hi:
            continue
        x = pad_l + pw * (value - lo) / (hi - lo)
        out.append(f'<line x1="{x:.1f}" y1="{pad_t}" x2="{x:.1f}" y2="{pad_t + ph}" class="mk"/>'
                   f'<text x="{x + 3:.1f}" y="{pad_t + 10}" class="pl">{e(label)}</text>')
    if n > 1:  # legend between the title and the plot area
        for si, (name, _) in enumerate(series):
            y = 30 + si * 14
            out.append(f'<rect x="{pad_l + pw - 150}" y="{y - 8}" width="10" height="10" fill="{PALETTE[si % len(PALETTE)]}"/>'
                       f'<text x="{pad_l + pw - 136}" y="{y + 1}" class="pl">{e(name)}</text>')
    out.append("</svg>")
    return "".join(out)


def _tick(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) < 1e-9:
        return "0"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _display_max(values: Sequence[float]) -> float | None:
    """Upper end of a latency axis: the 99th percentile, so one cold start does not squash the rest."""
    from eval.metrics import percentile

    p99 = percentile(values, 99)
    return None if p99 is None else max(p99 * 1.05, 1.0)


def nice_range(values: Sequence[float], step: float) -> tuple[float, float, int]:
    """(lo, hi, bins) covering ``values`` on multiples of ``step``."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return 0.0, 1.0, 10
    lo = math.floor(min(vals) / step) * step
    hi = math.ceil(max(vals) / step) * step
    if hi <= lo:
        hi = lo + step
    return lo, hi, max(1, round((hi - lo) / step))


def svg_bars(items: Sequence[tuple[str, float]], *, title: str, width: int = 460, height: int | None = None,
             value_format: str = "{:g}", colors: Sequence[str] | None = None) -> str:
    """Horizontal bars, one per (label, value)."""
    height = height or 36 + 22 * max(len(items), 1)
    pad_l, pad_r = 170, 50
    top = max((v for _, v in items), default=0) or 1
    out = [f'<svg class="plot" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{e(title)}"><title>{e(title)}</title>',
           f'<text x="{width / 2}" y="16" text-anchor="middle" class="pt">{e(title)}</text>']
    for i, (label, value) in enumerate(items):
        y = 28 + i * 22
        w = (width - pad_l - pad_r) * (value / top)
        color = (colors[i] if colors else PALETTE[0])
        out.append(f'<text x="{pad_l - 6}" y="{y + 12}" text-anchor="end" class="pl">{e(label)}</text>'
                   f'<rect x="{pad_l}" y="{y}" width="{max(w, 0):.1f}" height="16" fill="{color}"/>'
                   f'<text x="{pad_l + w + 4:.1f}" y="{y + 12}" class="pl">{e(value_format.format(value))}</text>')
    out.append("</svg>")
    return "".join(out)


# --- HTML -----------------------------------------------------------------------------------------

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#555} table{border-collapse:collapse;width:100%} th,td{border-bottom:1px solid #eee;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f6f6f6;position:sticky;top:0} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.metrics td:first-child{font-family:ui-monospace,monospace} .plots{display:flex;flex-wrap:wrap;gap:18px}
.plot{background:#fafafa;border:1px solid #eee} .pt{font-size:13px;font-weight:600} .pl{font-size:11px;fill:#444}
.ax{stroke:#888} .mk{stroke:#c33;stroke-dasharray:3 3}
.o{display:inline-block;padding:1px 6px;border-radius:9px;font-size:12px;white-space:nowrap}
.good{background:#dff3e3;color:#19602c} .bad{background:#fbe3e4;color:#8a1f29} .meh{background:#fff1d6;color:#7a5200}
.cit{margin:4px 0 0 0;padding-left:18px;color:#333;font-size:13px} .cit li{margin:2px 0}
.why{margin:0;padding-left:16px;font-size:13px;color:#333} .muted{color:#777} .q{font-weight:600}
.ok{color:#19602c} .no{color:#8a1f29} details summary{cursor:pointer;color:#3b6ea5}
#filter{margin:8px 0}
"""

FILTER_JS = """
document.getElementById('only-bad').addEventListener('change',function(){
  var on=this.checked;document.querySelectorAll('tr.row').forEach(function(r){
    r.style.display=(on&&r.dataset.good==='1')?'none':'';});});
"""


def render_html(results: EvalResults) -> str:
    info = results.info
    parts = [
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>{e('eval: ' + results.suite)}</title><style>{CSS}</style></head><body>",
        f"<h1>Eval report: {e(results.suite)}</h1>",
        f"<p class=\"meta\">{e(info.get('description', ''))}</p>",
        _run_facts(results),
    ]
    if results.kind == "beir":
        parts += _beir_body(results)
    else:
        parts += _qa_body(results)
    parts.append(f"<script>{FILTER_JS}</script></body></html>")
    return "\n".join(parts)


def _run_facts(results: EvalResults) -> str:
    info = results.info
    facts = [
        ("started", info.get("started_at")),
        ("questions", f"{info.get('questions_run')}" + (f" of {info.get('questions_in_suite') or info.get('queries_in_split')}")),
        ("selection", _selection(info)),
        ("backend", info.get("backend")),
        ("judge", info.get("judge") or None),
        ("corpus", info.get("corpus")),
        ("index", f"collection {info.get('collection')} in {info.get('data_dir')}"),
        ("ingest", (info.get("ingest") or {}).get("summary")),
        ("settings", ", ".join(f"{k}={v}" for k, v in (info.get("settings") or {}).items())),
        ("wall time", ", ".join(f"{k} {v:.1f} s" for k, v in (info.get("seconds") or {}).items())),
    ]
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts if v not in (None, ""))
    return f"<table class=\"facts\">{rows}</table>"


def _selection(info: dict[str, Any]) -> str:
    if info.get("sample"):
        return f"random sample of {info['sample']} (seed {info.get('seed')})"
    if info.get("limit"):
        return f"first {info['limit']}"
    return "all"


def _metric_rows(metrics: dict[str, Any], names: Sequence[str]) -> str:
    return "".join(
        f"<tr><td>{e(n)}</td><td class=\"num\">{e(fmt(metrics.get(n)))}</td><td class=\"muted\">{e(METRIC_DOC.get(n, ''))}</td></tr>"
        for n in names
    )


def _outcome_badge(outcome: str) -> str:
    cls = "good" if outcome in GOOD else "bad" if outcome in BAD else "meh"
    return f"<span class=\"o {cls}\">{e(OUTCOME_LABEL.get(outcome, outcome))}</span>"


def _qa_body(results: EvalResults) -> list[str]:
    m = results.metrics
    qs = results.questions
    names = list(QA_METRICS) + [n for n in ("judge_correctness", "judge_faithfulness", "cited_page") if n in m]
    stage_names = [f"latency_{s}_{p}_ms" for s in latency_stages(m) for p in ("p50", "p95")]
    parts = ["<h2>Metrics</h2>", "<table class=\"metrics\"><tr><th>metric</th><th>value</th><th>meaning</th></tr>",
             _metric_rows(m, names + stage_names), "</table>"]
    parts.append(
        f"<p>{e(m.get('answerable'))} answerable and {e(m.get('unanswerable'))} unanswerable questions; "
        f"{e(m.get('abstentions'))} abstentions ({e(m.get('correct_abstentions'))} right, "
        f"{e(m.get('wrong_abstentions'))} on answerable questions); {e(m.get('missed_abstentions'))} unanswerable "
        f"questions answered anyway; {e(m.get('errors'))} errors. Answer metrics are over answerable questions; "
        f"an abstention there scores 0.</p>")

    answerable = [q for q in qs if q.get("answerable", True) and "f1" in q.get("scores", {})]
    f1 = [q["scores"]["f1"] for q in answerable]
    top_ans = [q["top_score"] for q in qs if q.get("answerable", True) and q.get("top_score") is not None]
    top_un = [q["top_score"] for q in qs if not q.get("answerable", True) and q.get("top_score") is not None]
    totals = [q["timings_ms"]["total"] for q in qs if q.get("timings_ms", {}).get("total") is not None]
    outcomes = _outcomes(qs)
    plots = [
        svg_bars([(OUTCOME_LABEL.get(k, k), v) for k, v in outcomes.items()], title="Outcomes",
                 colors=[("#4a9a5b" if k in GOOD else "#b04a5a" if k in BAD else "#d9822b") for k in outcomes]),
        svg_histogram([("answerable", f1)], title="Token F1 of answers (answerable questions)", xlabel="F1",
                      lo=0, hi=1, markers=[("mean", m.get("f1"))]),
        svg_histogram([("answerable", top_ans), ("unanswerable", top_un)],
                      title="Best retrieved cosine: answerable vs unanswerable", xlabel="cosine similarity of the top passage",
                      **dict(zip(("lo", "hi", "bins"), nice_range(top_ans + top_un, 0.05)))),
        svg_histogram([("total", totals)], title="Latency per question", xlabel="milliseconds (slower ones in the last bin)",
                      bins=15, lo=0, hi=_display_max(totals), markers=[("p50", m.get("latency_p50_ms")), ("p95", m.get("latency_p95_ms"))]),
    ]
    stage_p50 = [(s, m[f"latency_{s}_p50_ms"]) for s in latency_stages(m) if m.get(f"latency_{s}_p50_ms") is not None]
    if stage_p50:
        plots.append(svg_bars(stage_p50, title="Median latency by stage (ms)", value_format="{:.1f}"))
    parts += ["<h2>Plots</h2>", "<div class=\"plots\">", *plots, "</div>"]

    parts.append("<h2>Questions</h2>")
    if len(qs) > PASSAGES_UP_TO:
        parts.append(f"<p class=\"muted\">{len(qs)} questions: whole cited passages are left out of this page "
                     "to keep it small; they are in results.json.</p>")
    parts.append("<label id=\"filter\"><input type=\"checkbox\" id=\"only-bad\"> show only questions not scored as right</label>")
    parts.append("<table><tr><th>#</th><th>question</th><th>expected</th><th>answer and citations</th>"
                 "<th>scores</th><th>outcome and why</th></tr>")
    for i, q in enumerate(qs, start=1):
        parts.append(_qa_row(i, q, with_passages=len(qs) <= PASSAGES_UP_TO))
    parts.append("</table>")
    return parts


def _qa_row(i: int, q: dict[str, Any], with_passages: bool = True) -> str:
    turns = "".join(f"<div class=\"muted\">earlier: {e(t)}</div>" for t in q.get("turns", []))
    standalone = q.get("standalone_question")
    rewritten = (f"<div class=\"muted\">retrieved with: {e(standalone)}</div>"
                 if standalone and standalone != q.get("question") else "")
    if q.get("answerable", True):
        expected = "<br>".join(e(a) for a in q.get("answers", [])) or "<span class=\"muted\">(none given)</span>"
        if q.get("all_required"):
            expected = "<div class=\"muted\">all of:</div>" + expected
        if q.get("sources"):
            expected += f"<div class=\"muted\">from: {e(', '.join(q['sources']))}</div>"
    else:
        expected = "<span class=\"muted\">unanswerable: should abstain</span>"
    cits = ""
    if q.get("citations"):
        items = []
        for c in q["citations"]:
            holds = "" if not q.get("answerable", True) or not q.get("answers") else (
                " <span class=\"ok\">holds the answer</span>" if _holds(c, q) else " <span class=\"no\">no answer in it</span>")
            items.append(f"<li>[{e(c['n'])}] <b>{e(_short_source(c['source']))}</b> (cosine {e(c['score'])}){holds}: "
                         f"“{e(c['quote'])}”"
                         + (f"<details><summary>passage</summary>{e(c['passage'])}</details>" if with_passages else "")
                         + "</li>")
        cits = "<ol class=\"cit\">" + "".join(items) + "</ol>"
    elif q.get("related"):
        cits = "<div class=\"muted\">closest passages offered: " + "; ".join(
            e(_short_source(r["source"])) for r in q["related"]) + "</div>"
    judge = ""
    if q.get("judge"):
        j = q["judge"]
        judge = (f"<div class=\"muted\">judge: correct={e(fmt(j.get('correct')))}, "
                 f"faithful={e(fmt(j.get('faithful')))}; {e(j.get('reason'))}</div>")
    scores = q.get("scores", {})
    shown = [(k, scores[k]) for k in ("em", "f1", "containment", "citation_found", "hit@5", "mrr", "ndcg@10") if k in scores]
    if "citations" in scores:
        shown.append(("cited/holding", f"{scores['citations']}/{scores['supporting_citations']}"))
    lat = q.get("timings_ms", {}).get("total")
    if lat is not None:
        shown.append(("ms", f"{lat:.0f}"))
    score_html = "<br>".join(f"{e(k)} {e(fmt(v) if not isinstance(v, str) else v)}" for k, v in shown)
    why = "<ul class=\"why\">" + "".join(f"<li>{e(w)}</li>" for w in q.get("why", [])) + "</ul>"
    outcome = q.get("outcome", "")
    good = "1" if outcome in GOOD else "0"
    return (f"<tr class=\"row\" data-good=\"{good}\"><td class=\"num\">{i}<div class=\"muted\">{e(q.get('id'))}</div></td>"
            f"<td>{turns}<div class=\"q\">{e(q.get('question'))}</div>{rewritten}</td>"
            f"<td>{expected}</td><td>{e(q.get('answer'))}{cits}{judge}</td>"
            f"<td class=\"num\">{score_html}</td><td>{_outcome_badge(outcome)}{why}</td></tr>")


def _holds(citation: dict[str, Any], q: dict[str, Any]) -> bool:
    from eval.metrics import citation_supports

    return citation_supports(citation.get("passage", ""), q.get("answers", []))


def _short_source(source: str) -> str:
    return source.rsplit("/", 1)[-1] if "/" in source else source


def _beir_body(results: EvalResults) -> list[str]:
    m = results.metrics
    info = results.info
    modes = info.get("modes", [])
    header = "".join(f"<th>{e(MODE_LABEL(mm))}</th>" for mm in modes)
    rows = "".join(
        f"<tr><td>{e(n)}</td>" + "".join(f"<td class=\"num\">{e(fmt(m.get(f'{mm}.{n}')))}</td>" for mm in modes)
        + f"<td class=\"muted\">{e(BEIR_DOC.get(n) or METRIC_DOC.get(n, ''))}</td></tr>"
        for n in (*RETRIEVAL_METRICS, "latency_p50_ms", "latency_p95_ms")
    )
    parts = ["<h2>Metrics</h2>", f"<table class=\"metrics\"><tr><th>metric</th>{header}<th>meaning</th></tr>{rows}</table>",
             f"<p>Split <b>{e(info.get('split'))}</b> of {e(info.get('beir_dir'))}. Documents are ranked by their "
             "best chunk. Tune on train; report on test.</p>"]
    qs = results.questions
    plots = [svg_bars([(MODE_LABEL(mm), m.get(f"{mm}.ndcg@10") or 0.0) for mm in modes], title="nDCG@10 by mode",
                      value_format="{:.3f}")]
    plots.append(svg_histogram([(MODE_LABEL(mm), [q["modes"][mm]["scores"]["ndcg@10"] for q in qs]) for mm in modes],
                               title="nDCG@10 per query", xlabel="nDCG@10", lo=0, hi=1))
    lat = {mm: [q["modes"][mm]["latency_ms"] for q in qs] for mm in modes}
    plots.append(svg_histogram([(MODE_LABEL(mm), lat[mm]) for mm in modes], title="Retrieval latency per query",
                               xlabel="milliseconds (slower ones in the last bin)", bins=15, lo=0,
                               hi=_display_max([v for vals in lat.values() for v in vals])))
    parts += ["<h2>Plots</h2>", "<div class=\"plots\">", *plots, "</div>", "<h2>Queries</h2>",
              "<label id=\"filter\"><input type=\"checkbox\" id=\"only-bad\"> show only queries whose relevant "
              "documents were all missed by the main mode</label>",
              "<table><tr><th>#</th><th>query</th><th>relevant</th>"
              + "".join(f"<th>{e(MODE_LABEL(mm))}: top 5</th>" for mm in modes) + "<th>why</th></tr>"]
    for i, q in enumerate(qs, start=1):
        cells = []
        for mm in modes:
            md = q["modes"][mm]
            docs = "".join(
                f"<li class=\"{'ok' if d['relevant'] else ''}\">{e(d['doc'])}{' ✓' if d['relevant'] else ''} "
                f"<span class=\"muted\">{e(d['title'][:70])}</span></li>" for d in md["retrieved"][:5])
            cells.append(f"<td>nDCG@10 {e(fmt(md['scores']['ndcg@10']))}<ol class=\"cit\">{docs}</ol></td>")
        good = "1" if q.get("outcome") == "found" else "0"
        why = "<ul class=\"why\">" + "".join(f"<li>{e(w)}</li>" for w in q.get("why", [])) + "</ul>"
        parts.append(f"<tr class=\"row\" data-good=\"{good}\"><td class=\"num\">{i}<div class=\"muted\">{e(q['id'])}</div></td>"
                     f"<td>{e(q['question'])}</td><td>{e(', '.join(q['relevant']))}</td>{''.join(cells)}"
                     f"<td>{_outcome_badge(q.get('outcome', ''))}{why}</td></tr>")
    parts.append("</table>")
    return parts
