"""The rooms hold: data flows one way (ingest -> index -> retrieve -> answer -> present), no
module imports one from a room above its own, and no module imports itself back through others.
Every import counts, also those inside functions (done lazily to keep start-up fast); only
``if TYPE_CHECKING:`` blocks are left out, as they never run."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("assistant", "ingest", "eval", "train", "prompts")

# Rooms from the bottom up: a module may import from its own room and the rooms before it.
ROOMS = [
    ("core", ["prompts", "assistant.errors", "assistant.types", "assistant.text", "assistant.sentences",
              "assistant.config", "assistant.samples"]),
    ("llm", ["assistant.llm"]),
    ("embed", ["assistant.embed"]),
    ("index", ["assistant.index"]),
    ("ingest", ["ingest"]),
    ("retrieve", ["assistant.retrieve"]),
    ("answer", ["assistant.answer"]),
    ("conversations", ["assistant.conversations"]),
    ("library", ["assistant.client", "assistant"]),
    ("ways in", ["assistant.web", "assistant.service", "assistant.cli_options", "assistant.cli", "assistant.__main__",
                 "eval", "assistant.integrations"]),
    ("benchmarks and training", ["eval.bench", "train"]),
]


def room_of(module: str) -> int:
    best, rank = -1, None
    for i, (_, prefixes) in enumerate(ROOMS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    assert rank is not None, f"{module} is in no room: add it to ROOMS"
    return rank


def project_modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``module`` imports (``from pkg import name`` counts as ``pkg.name``
    when that is a module, else as ``pkg``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in modules else node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in found if m in modules and m != module}


def graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def test_no_module_imports_from_a_room_above_its_own():
    wrong = [
        f"{a} ({ROOMS[room_of(a)][0]}) imports {b} ({ROOMS[room_of(b)][0]})"
        for a, targets in graph().items()
        for b in targets
        if room_of(b) > room_of(a)
    ]
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycles():
    edges = graph()
    cycles, state = [], {}

    def walk(node: str, stack: list[str]) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                walk(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            walk(node, [])
    assert not cycles, "\n".join(cycles)


def test_the_checker_sees_a_cycle_and_an_upward_import(tmp_path):
    """The checks above can fail: a two-module package that does both is caught."""
    (tmp_path / "a.py").write_text("from assistant.web import app\n")
    assert imports_of("assistant.index.store", tmp_path / "a.py", {"assistant.web.app": tmp_path / "a.py"}) == {
        "assistant.web.app"
    }
    assert room_of("assistant.web.app") > room_of("assistant.index.store")
    (tmp_path / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import assistant.web.app\n")
    assert imports_of("x", tmp_path / "b.py", {"assistant.web.app": tmp_path / "b.py"}) == set()
