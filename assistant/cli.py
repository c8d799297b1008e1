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

from assistant.cli_options import cli_overrides, config_options, scope_from_args, scope_options
from assistant.errors import AssistantError

EPILOG = """\
examples:
  assistant ingest ~/notes ~/papers/*.pdf     index files (directories are walked)
  assistant ask "How many targets did the US strike?"
  assistant ask --json "..."                  machine-readable answer
  assistant ingest memos/new.md --tag current index and tag (--tag is repeatable)
  assistant tag memos/old.md archived         tag later (no re-embedding); untag removes
  assistant ask --tag current "..."           only documents tagged current
  assistant ask --source '*.pdf' --since 2024-03-01 "..."   only PDFs modified since March
  assistant ask --llm local "..."             answer written by the packaged SmolLM2, streamed
  assistant ask --llm ollama:llama3.2 "..."   ... or by a model on an Ollama server
  assistant ask --llm openai:gpt-4o-mini "..." ... or on any OpenAI-compatible server
                                              (--llm-base-url, ASSISTANT_LLM_API_KEY)
  assistant sources                           what is indexed
  assistant forget ~/notes/old.md             remove a document
  assistant config                            effective settings and where they come from
  assistant eval sample-article               score answer accuracy on an eval suite
  assistant chat                              the web chat on http://127.0.0.1:7860 (and the HTTP API)
  assistant serve                             the HTTP API alone (OpenAI-compatible, REST, MCP)
  assistant mcp                               the MCP server on stdio (desktop clients, editors)
  assistant ask --conversation new "..."      start a stored conversation (prints its id)
  assistant history                           stored conversations; history show/export/delete ID

configuration (first wins): command-line options, ASSISTANT_* environment variables,
the config file ($ASSISTANT_CONFIG or ~/.config/assistant/config.toml), defaults.
"""


def build_parser() -> argparse.ArgumentParser:
    common = config_options()
    scoped = scope_options()
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
    p.add_argument("--tag", dest="tags", action="append", default=[], metavar="TAG",
                   help="tag every document ingested (repeatable); tags are kept across updates")

    p = sub.add_parser("ask", parents=[common, scoped], help="answer a question from the index",
                       description="Answer a question with citations [n] to the passages used; "
                       "says so when the documents don't contain the answer.")
    p.add_argument("question", nargs="+", help="the question (quote it, or not)")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--no-stream", action="store_true",
                   help="with an LLM, print the answer when it is complete instead of as it is written")
    p.add_argument("--conversation", metavar="ID",
                   help="continue stored conversation ID (its earlier turns are the history) and record "
                   "this turn; 'new' starts one. See: assistant history")

    p = sub.add_parser("sources", parents=[common, scoped], help="list indexed documents (and their tags)",
                       description="List indexed documents with their tags; the scope options list only "
                       "the documents a question with the same options would use.")
    p.add_argument("--json", action="store_true")

    for name, verb in (("tag", "add"), ("untag", "remove")):
        p = sub.add_parser(name, parents=[common], help=f"{verb} tags of indexed documents (no re-embedding)",
                           description=f"{verb.capitalize()} tags of the documents at PATH (a file, or every "
                           "document under a directory). Only metadata changes: nothing is re-read or re-embedded.")
        p.add_argument("path", metavar="PATH", help="the file or directory as it was ingested")
        p.add_argument("tags", nargs="+", metavar="TAG")
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

    p = sub.add_parser("serve", parents=[common], help="serve the HTTP API and MCP, without the web page",
                       description="Serve the HTTP API on http://127.0.0.1:7860: OpenAI-compatible "
                       "/v1/chat/completions and /v1/models, REST under /api/, MCP (streamable HTTP) at /mcp, "
                       "the OpenAPI schema at /docs. Set api_keys (ASSISTANT_API_KEYS) to require a bearer "
                       "key; listening beyond loopback is refused without a key or a login.")
    p.add_argument("--host", metavar="ADDR", help="address to listen on (ui_host; default 127.0.0.1)")
    p.add_argument("--port", type=int, metavar="PORT", help="port to listen on (ui_port; default 7860)")

    p = sub.add_parser("mcp", parents=[common], help="the MCP server on stdio (for desktop clients, editors)",
                       description="Speak the Model Context Protocol on stdin/stdout: tools ask, search, "
                       "list_documents. Configure your MCP client to run: assistant mcp [--collection NAME]")

    p = sub.add_parser("history", parents=[common], help="stored conversations: list, show, export, delete",
                       description="Conversations are kept in the data directory (conversations.sqlite3); "
                       "the web chat, the HTTP API and ask --conversation add to them.")
    p.add_argument("action", nargs="?", default="list", choices=["list", "show", "export", "delete"])
    p.add_argument("id", nargs="?", metavar="ID", help="the conversation (show, export, delete)")
    p.add_argument("--format", choices=["markdown", "json"], default="markdown", help="export format")
    p.add_argument("--user", default="", help="whose conversations (the web login name; default: no login)")
    p.add_argument("--json", action="store_true")

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
            where = " › ".join([_display_source(c.source), *c.place()])
            where += f", chunk {c.ordinal}"
            lines.append(f'[{c.n}] {where}: "{c.quote}" (score {c.score:.2f})')
    elif answer.related:
        lines.append("Closest passages:")
        for c in answer.related:
            where = " › ".join([_display_source(c.source), *c.place()]) + f", chunk {c.ordinal}"
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
        report = assistant.ingest(paths, prune=args.prune, progress=progress, tags=args.tags)
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.summary())
    return 0


def cmd_ask(args) -> int:
    question = " ".join(args.question)
    if args.conversation:
        return _ask_in_conversation(args, question)
    assistant = _assistant(args)
    scope = scope_from_args(args)
    if args.json or args.no_stream or assistant.settings.answerer == "extractive":
        answer = assistant.ask(question, scope=scope)
        if args.json:
            _print_json(answer.to_dict())
        else:
            print(format_answer(answer))
        return 0
    # An LLM writes the answer: print it as it comes (pieces are already checked).
    answer, started = None, False
    try:
        for item in assistant.ask_stream(question, scope=scope):
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


def _ask_in_conversation(args, question: str) -> int:
    from assistant.service.http import Service

    service = Service(_resolve(args).settings)
    answer, conv_id = service.ask(question, conversation_id=args.conversation)
    if args.json:
        _print_json({**answer.to_dict(), "conversation_id": conv_id})
    else:
        print(format_answer(answer))
        print(f"\n(conversation {conv_id}; continue with: assistant ask --conversation {conv_id} \"...\")",
              file=sys.stderr)
    return 0


def cmd_history(args) -> int:
    from assistant.conversations import ConversationStore, to_json, to_markdown

    store = ConversationStore.for_settings(_resolve(args).settings)
    if args.action == "list":
        convs = store.list(args.user)
        if args.json:
            _print_json([c.to_dict(with_turns=False) for c in convs])
        elif not convs:
            print("no conversations yet")
        for c in [] if args.json else convs:
            print(f"{c.id}\t{c.updated_at[:16].replace('T', ' ')}\t{c.turns} questions\t{c.title}")
        return 0
    if not args.id:
        raise AssistantError(f"history {args.action} needs a conversation ID; list them with: assistant history")
    if args.action == "delete":
        store.delete(args.id, args.user)
        print(f"deleted conversation {args.id}")
        return 0
    conv = store.get(args.id, args.user)
    if args.action == "export":
        sys.stdout.write(to_json(conv) if args.format == "json" else to_markdown(conv))
    elif args.json:
        _print_json(conv.to_dict())
    else:
        print(f"{conv.title}  ({conv.id}, collection {conv.collection})")
        for a in conv.answers:
            print(f"\n> {a.question}\n{format_answer(a)}")
    return 0


def cmd_serve(args) -> int:
    from assistant.config import resolve
    from assistant.service.server import serve

    settings = resolve(cli=cli_overrides(args), config_file=args.config).settings
    host, port = args.host or settings.ui_host, args.port or settings.ui_port
    print(f"HTTP API on http://{host}:{port}  (OpenAI-compatible /v1, REST /api, MCP /mcp, docs /docs; "
          f"collection {settings.collection!r}; Ctrl+C to stop)", file=sys.stderr)
    serve(settings, host, port, quiet=True)
    return 0


def cmd_mcp(args) -> int:
    from assistant.service.http import Service
    from assistant.service.mcp import run_stdio

    run_stdio(Service(_resolve(args).settings))
    return 0


def cmd_sources(args) -> int:
    scope = scope_from_args(args)
    docs = _assistant(args).sources(scope)
    if args.json:
        _print_json([d.to_dict() for d in docs])
        return 0
    if not docs:
        print("no documents indexed" if scope is None else f"no document matches ({scope.describe()})")
        return 0
    for d in docs:
        flag = "" if d.complete else f"  (incomplete: {d.chunks}/{d.expected_chunks} chunks; re-run ingest)"
        tags = f"\ttags {','.join(d.tags)}" if d.tags else ""
        print(f"{d.source}\t{d.chunks} chunks\tingested {d.ingested_at}{tags}{flag}")
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


def cmd_tag(args) -> int:
    assistant = _assistant(args)
    docs = assistant.tag(args.path, args.tags) if args.command == "tag" else assistant.untag(args.path, args.tags)
    if args.json:
        _print_json([d.to_dict() for d in docs])
    else:
        for d in docs:
            print(f"{d.source}\ttags {','.join(d.tags) or '(none)'}")
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
    else:  # the page and its HTTP API: never open to the network without a key or a login
        from assistant.service.http import check_exposure

        check_exposure(settings, settings.ui_host)
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
    "tag": cmd_tag,
    "untag": cmd_tag,
    "collections": cmd_collections,
    "config": cmd_config,
    "eval": cmd_eval,
    "chat": cmd_chat,
    "serve": cmd_serve,
    "mcp": cmd_mcp,
    "history": cmd_history,
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
