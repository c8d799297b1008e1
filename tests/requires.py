"""Parts of the machine a test needs: skipped with the reason when missing on a developer's
machine, a failure under CI=true, where everything must be there (system packages from
scripts/system-packages, the [llm] extra from scripts/setup --dev, ../shared/eval-data)."""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str, fix: str = "see scripts/system-packages") -> None:
    """Skip (or, in CI, fail) the running test because ``reason``."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must have every part: {fix})", pytrace=False)
    pytest.skip(reason)


def command(path_or_name: str, package: str) -> str:
    """The full path of an executable, or skip/fail naming the Debian package to install."""
    found = shutil.which(path_or_name)
    if not found:
        missing(f"{path_or_name} is not installed (sudo apt-get install {package}, or run scripts/system-packages as root)")
    return found


def module(name: str, install: str = "scripts/setup --dev installs the [llm] extra") -> None:
    """The Python module ``name`` can be imported, or skip/fail saying how to install it."""
    if importlib.util.find_spec(name) is None:
        missing(f"the Python module {name} is not installed ({install})", install)


def eval_data(find):
    """``find()`` from eval/ (it raises DataNotFound), or skip/fail: the shared benchmarks
    (../shared/eval-data) are on every CI machine."""
    from eval.datasets import DataNotFound

    try:
        return find()
    except DataNotFound as exc:
        missing(f"the shared eval data is not on this machine: {exc}", "../shared/eval-data beside the clone")
