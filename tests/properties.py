"""How many examples a property test draws. Same commit, same verdict: by default hypothesis is
derandomised (its examples are a fixed function of the test), so CI cannot turn red or green by
chance. ``HYPOTHESIS_EXPLORE=N`` draws N fresh random examples per test instead; a failure then
prints the seed that reproduces it (``--hypothesis-seed=...``)."""

from __future__ import annotations

import os

from hypothesis import settings

EXPLORE = int(os.environ.get("HYPOTHESIS_EXPLORE") or 0)

settings.register_profile("repeatable", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile("explore" if EXPLORE else "repeatable")


def examples(default: int) -> int:
    return EXPLORE or default


def describe() -> str:
    if EXPLORE:
        return f"hypothesis: exploring, {EXPLORE} random examples per property test"
    return "hypothesis: derandomised (fixed examples; HYPOTHESIS_EXPLORE=N for N random ones)"
