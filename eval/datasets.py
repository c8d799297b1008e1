"""Where the public evaluation data lives (SciFact, SQuAD 2.0 dev).

The data is not shipped in the package: it is found, in order, at
``$ASSISTANT_EVAL_DATA/<name>`` (a directory holding ``scifact/``, ``squad2-dev/``, ...),
then at ``shared/eval-data/<name>`` or ``eval-data/<name>`` beside the project, its parent
directories, or the current directory's.
"""

from __future__ import annotations

import os
from pathlib import Path

from assistant.errors import AssistantError

ENV = "ASSISTANT_EVAL_DATA"
PROJECT_ROOT = Path(__file__).resolve().parents[1]


class DataNotFound(AssistantError):
    """A benchmark's data directory is missing."""


def candidates(name: str) -> list[Path]:
    out: list[Path] = []
    if os.environ.get(ENV):
        out.append(Path(os.environ[ENV]).expanduser() / name)
    for start in (PROJECT_ROOT, Path.cwd()):
        for base in (start, *start.parents):
            out.append(base / "shared" / "eval-data" / name)
            out.append(base / "eval-data" / name)
    return list(dict.fromkeys(out))


def find_data(name: str, marker: str, path: str | Path | None = None) -> Path:
    """The directory of dataset ``name`` (it must hold the file ``marker``)."""
    if path:
        p = Path(path).expanduser()
        if (p / marker).exists():
            return p
        raise DataNotFound(f"{p} does not look like the {name} data: {marker} is missing")
    looked = candidates(name)
    for c in looked:
        if (c / marker).exists():
            return c
    raise DataNotFound(
        f"the {name} data was not found; set {ENV} to the directory that holds {name}/ "
        f"or pass its path (looked in {looked[0]} and {len(looked) - 1} other places)"
    )
