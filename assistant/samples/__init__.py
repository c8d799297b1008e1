"""The sample corpus shipped with the project: one news article."""

from pathlib import Path


def sample_dir() -> Path:
    return Path(__file__).resolve().parent


def sample_files() -> list[Path]:
    return sorted(sample_dir().glob("*.txt"))
