"""The ``assistant`` command: a thin layer over the Python API.

Every command accepts the configuration options (--data-dir, --collection, ...); they win
over ASSISTANT_* environment variables and the config file. Errors print one line on
stderr and exit non-zero, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from assistant.cli_options import cli_overrides, config_options
from assistant.errors import AssistantError

EPILOG = """\
examples:
  assistant ingest ~/notes ~/papers/*.pdf     index files (directories are walked)
  assistant ask "How many targets did the US strike?"
  assistant ask --json "..."                  machine-readable answer
  assistant ask --llm local "..."             answer written by the packaged SmolLM2, streamed
  assistant ask --llm ollama:llama3.2 "..."   ... or by a model on an Ollama server
  assistant ask --llm openai:gpt-4o-mini "..." ... or on any OpenAI-compatible server
                                              (--llm-base-url, ASSISTANT_LLM_API_KEY)
  assistant sources                           what is indexed
  assistant forget ~/notes/old.md             remove a document
  assistant config                            effective settings and where they come from
  assistant eval sample-article               score answer accuracy on an eval suite
  assistant chat                              the web chat on http://127.0.0.1:7860

configuration (first wins): command-line options, ASSISTANT_* environment variables,
the config file ($ASSISTANT_CONFIG or ~/.config/assistant/config.toml), defaults.
"""


def build_parser() -> argparse.ArgumentParser:
    common = config_options()
    parser = argparse.ArgumentParser(
        prog="assistant",
        description="Answers questions from your own documents, with numbered citations. Runs offline.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("ingest", parents=[common], help="add or update documents in the index",
                       description="Index files (.txt .md .pdf .html .docx); directories are walked recursively. "
                       "Unchanged files are skipped; changed ones replaced; unreadable ones skipped with a reason.")
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or directories")
    p.add_argument("--sample", action="store_true", help="ingest the bundled sample article")
    p.add_argument("--prune", action="store_true", help="also remove documents whose files are gone")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    p = sub.add_parser("ask", parents=[common], help="answer a question from the index",
                       description="Answer a question with citations [n] to the passages used; "
                       "says so when the documents don't contain the answer.")
    p.add_argument("question", nargs="+", help="the question (quote it, or not)")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--no-stream", action="store_true",
                   help="with an LLM, print the answer when it is complete instead of as it is written")

    p = sub.add_parser("sources", parents=[common], help="list indexed documents")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("forget", parents=[common], help="remove a document (or a directory's documents)")
    p.add_argument("path", help="the file or directory as it was ingested")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("collections", parents=[common], help="list collections")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("chat", parents=[common], help="open the web chat in your browser",
                       description="Serve the web chat (Gradio) on http://127.0.0.1:7860: ask questions, "
                       "see each answer's sources, upload and remove documents. Only this machine can "
                       "reach it unless you choose --host 0.0.0.0 or --share. Set ui_username and "
                       "ui_password (config file or ASSISTANT_UI_* variables) to require a login.")
    p.add_argument("--host", metavar="ADDR", help="address to listen on (ui_host; default 127.0.0.1)")
    p.add_argument("--port", type=int, metavar="PORT", help="port to listen on (ui_port; default 7860)")
    p.add_argument("--share", action="store_true",
                   help="also make a public gradio.live link (needs internet; anyone with the link can use it)")

    p = sub.add_parser("config", parents=[common], help="show the effective configuration")
    p.add_argument("--json", action="store_true")

    from eval import cli as eval_cli  # light: argparse only

    p = sub.add_parser("eval", parents=[common], help="score answer accuracy on an eval suite or benchmark",
                       description=eval_cli.DESCRIPTION, epilog=eval_cli.EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    eval_cli.add_arguments(p)
    return parser


def _resolve(args: argparse.Namespace):
    from assistant.config import resolve

    return resolve(cli=cli_overrides(args), config_file=args.config)


def _assistant(args: argparse.Namespace):
    from assistant.client import Assistant

    return Assistant(_resolve(args).settings)


def _display_source(source: str) -> str:
    return Path(source).name if os.sep in source else source


def format_answer(answer) -> str:
    sources = format_sources(answer)
    head = f"Answer: {answer.short_answer}\n\n" if answer.short_answer and not answer.abstained else ""
    return head + answer.text + ("\n\n" + sources if sources else "")


def format_sources(answer) -> str:
    """The citation list (or, when abstaining, the closest passages) printed under an answer."""
    lines: list[str] = []
    if answer.citations:
        for c in answer.citations:
            where = _display_source(c.source)
            where += f", page {c.page}" if c.page else ""
            where += f", chunk {c.ordinal}"
            lines.append(f'[{c.n}] {where}: "{c.quote}" (score {c.score:.2f})')
    elif answer.related:
        lines.append("Closest passages:")
        for c in answer.related:
            where = _display_source(c.source) + (f", page {c.page}" if c.page else "") + f", chunk {c.ordinal}"
            lines.append(f'- {where}: "{c.quote}" (score {c.score:.2f})')
    return "\n".join(lines)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def cmd_ingest(args) -> int:
    paths = list(args.paths)
    if args.sample:
        from assistant.samples import sample_files

        paths.extend(str(p) for p in sample_files())
    if not paths and not args.prune:
        raise AssistantError("nothing to ingest: give one or more paths (or --sample)")
    assistant = _assistant(args)
    progress = False if (args.quiet or args.json) else None
    if not paths:  # --prune alone
        report = assistant.ingest([], prune=True, progress=progress)
    else:
        report = assistant.ingest(paths, prune=args.prune, progress=progress)
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.summary())
    return 0


def cmd_ask(args) -> int:
    question = " ".join(args.question)
    assistant = _assistant(args)
    if args.json or args.no_stream or assistant.settings.answerer == "extractive":
        answer = assistant.ask(question)
        if args.json:
            _print_json(answer.to_dict())
        else:
            print(format_answer(answer))
        return 0
    # An LLM writes the answer: print it as it comes (pieces are already checked).
    answer, started = None, False
    try:
        for item in assistant.ask_stream(question):
            if isinstance(item, str):
                sys.stdout.write(item)
                sys.stdout.flush()
                started = True
            else:
                answer = item
    finally:
        if started:
            print()
    sources = format_sources(answer) if answer else ""
    if sources:
        print("\n" + sources)
    return 0


def cmd_sources(args) -> int:
    docs = _assistant(args).sources()
    if args.json:
        _print_json([d.to_dict() for d in docs])
        return 0
    if not docs:
        print("no documents indexed")
        return 0
    for d in docs:
        flag = "" if d.complete else f"  (incomplete: {d.chunks}/{d.expected_chunks} chunks; re-run ingest)"
        print(f"{d.source}\t{d.chunks} chunks\tingested {d.ingested_at}{flag}")
    print(f"{len(docs)} documents, {sum(d.chunks for d in docs)} chunks")
    return 0


def cmd_forget(args) -> int:
    removed = _assistant(args).forget(args.path)
    if args.json:
        _print_json([d.to_dict() for d in removed])
    else:
        for d in removed:
            print(f"removed {d.source} ({d.chunks} chunks)")
    return 0


def cmd_collections(args) -> int:
    names = _assistant(args).collections()
    if args.json:
        _print_json(names)
    else:
        print("\n".join(names) if names else "no collections")
    return 0


def cmd_chat(args) -> int:
    from assistant.config import resolve

    cli = cli_overrides(args)
    if args.host:
        cli["ui_host"] = args.host
    if args.port is not None:
        cli["ui_port"] = args.port
    settings = resolve(cli=cli, config_file=args.config).settings
    from assistant.web.app import launch

    if args.share:
        print("warning: --share makes this chat reachable by anyone with the link", file=sys.stderr)
    elif settings.ui_host not in ("127.0.0.1", "localhost", "::1") and not settings.ui_username:
        print(f"warning: listening on {settings.ui_host} without a login (set ui_username/ui_password)",
              file=sys.stderr)
    demo = launch(settings, share=args.share, quiet=True, block=False)
    print(f"web chat on http://{settings.ui_host}:{settings.ui_port}  (collection {settings.collection!r}; "
          "Ctrl+C to stop)", file=sys.stderr)
    if args.share and getattr(demo, "share_url", None):
        print(f"public link: {demo.share_url}", file=sys.stderr)
    try:
        demo.block_thread()
    finally:
        demo.close()
    return 0


def cmd_config(args) -> int:
    from assistant.config import describe

    resolved = _resolve(args)
    rows = describe(resolved)
    if args.json:
        _print_json({"config_file": str(resolved.config_file), "settings": rows})
        return 0
    width = max(len(r["name"]) for r in rows)
    print(f"config file: {resolved.config_file}{'' if resolved.config_file.exists() else ' (not present)'}")
    for r in rows:
        print(f"{r['name']:<{width}}  {r['value']}  [{r['origin']}]")
    return 0


def cmd_eval(args) -> int:
    from eval.cli import run

    return run(args)


COMMANDS = {
    "ingest": cmd_ingest,
    "ask": cmd_ask,
    "sources": cmd_sources,
    "forget": cmd_forget,
    "collections": cmd_collections,
    "config": cmd_config,
    "eval": cmd_eval,
    "chat": cmd_chat,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
