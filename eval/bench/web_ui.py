"""How fast the web chat feels, measured in a real browser with the extractive default.

    .venv/bin/python -m eval.bench.web_ui                 # 3 starts, 3 questions x 3 rounds
    .venv/bin/python -m eval.bench.web_ui --starts 1 --rounds 5
    .venv/bin/python -m eval.bench.web_ui --starts 1 --rounds 1 --upload-pages 70

Prints two tables:
- start: from running ``assistant chat`` to the page being usable (the question box is shown
  and enabled in Chromium), with the first HTTP 200 as a milestone;
- answer: from pressing Enter to the finished answer with its sources shown on the page; the
  first question after a start is reported apart from the warm ones;
- upload (``--upload-pages N``, default 70; 0 skips it): a generated N-page PDF uploaded on the
  Documents tab of a new collection, timed from choosing the file to the first progress shown,
  to the first question about it answered from it (asked through ``/ask`` every 0.3 s while the
  upload runs), and to the upload's result table.

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

from tests.corpora import write_pdf  # noqa: E402
from tests.ui_helpers import (  # noqa: E402
    ANSWER_TIMEOUT_MS,
    DESKTOP,
    bot_messages,
    free_port,
    launch_browser,
    long_pages,
    new_collection,
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


def time_upload(browser, url: str, pdf: Path, collection: str) -> dict[str, float]:
    """Seconds from choosing ``pdf`` on the Documents tab to: the first progress on the page, the
    first answer drawn from the PDF (``/ask``, polled), and the upload's result table."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        page.goto(url)
        page.locator("#question textarea").wait_for()
        new_collection(page, collection)
        page.get_by_role("tab", name="Documents").click()
        out: dict[str, float] = {}
        started = time.perf_counter()
        page.locator("#upload input[type=file]").set_input_files(str(pdf))
        while time.perf_counter() - started < 900:
            elapsed = time.perf_counter() - started
            shown = page.locator("#upload-result .upload-progress")
            if "progress" not in out and shown.count():
                out["progress"] = elapsed
            if "embedding" not in out and shown.count() and "embedding passage" in (shown.first.text_content() or ""):
                out["embedding"] = elapsed
            if "answerable" not in out:
                try:
                    answer = client.predict("What does the record note at station 1-1?", collection, api_name="/ask")
                except Exception:  # the collection has no passages written yet
                    answer = None
                if answer and any(c["source"].endswith(pdf.name) for c in answer.get("citations", [])):
                    out["answerable"] = time.perf_counter() - started
            if page.locator("#upload-result table").count():
                out["done"] = time.perf_counter() - started
                if "answerable" in out:
                    break
            page.wait_for_timeout(300)
        return out
    finally:
        context.close()


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
    parser.add_argument("--upload-pages", type=int, default=70,
                        help="pages of the PDF uploaded in the upload measure (0: skip it)")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from assistant.client import Assistant
    from assistant.samples import sample_files

    work = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    try:
        Assistant(data_dir=work / "data", collection="default").ingest(sample_files())
        http_s, usable_s, first_s, warm_s = [], [], [], []
        upload: dict[str, float] = {}
        pdf = write_pdf(work / f"field-manual-{args.upload_pages}p.pdf", long_pages(args.upload_pages)) \
            if args.upload_pages else None
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
                    if pdf is not None and i == 0:
                        upload = time_upload(browser, f"http://127.0.0.1:{port}/", pdf, "bench-upload")
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
    if upload:
        print(f"\nupload of a {args.upload_pages}-page PDF (generated, text layer), seconds from choosing the file")
        for key, name in (("progress", "first progress shown on the page"),
                          ("embedding", "reading done, embedding shown"),
                          ("answerable", "first answer drawn from the PDF (/ask)"),
                          ("done", "upload result table shown")):
            print(f"{name:<52} {upload.get(key, float('nan')):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
