"""How fast the web chat feels, measured in a real browser with the extractive default.

    .venv/bin/python -m eval.bench.web_ui                 # 3 starts, 3 questions x 3 rounds
    .venv/bin/python -m eval.bench.web_ui --starts 1 --rounds 5

Prints two tables:
- start: from running ``assistant chat`` to the page being usable (the question box is shown
  and enabled in Chromium), with the first HTTP 200 as a milestone;
- answer: from pressing Enter to the finished answer with its sources shown on the page; the
  first question after a start is reported apart from the warm ones.

The sample article is ingested into a temporary data dir first (not timed). Needs Debian's
chromium (``/usr/bin/chromium``) and the test extra (playwright).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for tests.ui_helpers

from tests.ui_helpers import (  # noqa: E402
    ANSWER_TIMEOUT_MS,
    bot_messages,
    free_port,
    launch_browser,
    start_chat_process,
    stop,
)

QUESTIONS = [
    "How many targets did the US strike?",
    "What attack were the airstrikes a response to?",
    "Who condemned the airstrikes?",
]


def wait_usable(page, url: str, proc, timeout: float = 180.0) -> tuple[float, float]:
    """Seconds (since now) until the first HTTP 200 and until the question box is usable."""
    import urllib.request

    started = time.perf_counter()
    http_ok = None
    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"assistant chat exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    http_ok = time.perf_counter() - started
                    break
        except OSError:
            time.sleep(0.05)
    if http_ok is None:
        raise TimeoutError("no HTTP 200")
    page.goto(url)
    page.locator("#question textarea:enabled").wait_for(timeout=timeout * 1000)
    return http_ok, time.perf_counter() - started


def time_question(page, question: str) -> float:
    before = bot_messages(page).count()
    box = page.locator("#question textarea")
    box.fill(question)
    started = time.perf_counter()
    box.press("Enter")
    bot_messages(page).nth(before).locator(".answer-meta, .chat-error").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    return time.perf_counter() - started


def fmt(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} (min {min(values):.2f}, max {max(values):.2f})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=3, help="times to start the web chat")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the questions after each start")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from assistant.client import Assistant
    from assistant.samples import sample_files

    work = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    try:
        Assistant(data_dir=work / "data", collection="default").ingest(sample_files())
        http_s, usable_s, first_s, warm_s = [], [], [], []
        with sync_playwright() as playwright:
            browser = launch_browser(playwright)
            for i in range(args.starts):
                port = free_port()
                context = browser.new_context(viewport={"width": 1200, "height": 1000})
                page = context.new_page()
                proc = start_chat_process(work / "data", port, work / f"chat-{i}.log")
                try:
                    http_ok, usable = wait_usable(page, f"http://127.0.0.1:{port}/", proc)
                    http_s.append(http_ok)
                    usable_s.append(usable)
                    for r in range(args.rounds):
                        for j, q in enumerate(QUESTIONS):
                            t = time_question(page, q)
                            (first_s if r == 0 and j == 0 else warm_s).append(t)
                finally:
                    context.close()
                    stop(proc)
                print(f"start {i + 1}: usable after {usable:.2f} s", file=sys.stderr)
            browser.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print("\nweb chat, extractive answerer, sample article (seconds)")
    print(f"{'measure':<52} {'n':>3}  median (min, max)")
    rows = [
        ("start: `assistant chat` -> first HTTP 200", http_s),
        ("start: `assistant chat` -> page usable", usable_s),
        ("answer: Enter -> answer shown (first after start)", first_s),
        ("answer: Enter -> answer shown (warm)", warm_s),
    ]
    for name, values in rows:
        print(f"{name:<52} {len(values):>3}  {fmt(values)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
