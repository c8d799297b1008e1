"""Parts of the machine a test needs (system packages): skipped with the reason when missing on a
developer's machine, a failure under CI=true, where everything must be installed."""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str) -> None:
    """Skip (or, in CI, fail) the running test because ``reason``."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must have every part: see scripts/system-packages)", pytrace=False)
    pytest.skip(reason)


def command(path_or_name: str, package: str) -> str:
    """The full path of an executable, or skip/fail naming the Debian package to install."""
    found = shutil.which(path_or_name)
    if not found:
        missing(f"{path_or_name} is not installed (sudo apt-get install {package}, or run scripts/system-packages as root)")
    return found
