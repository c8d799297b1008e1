"""What a reader makes of a file: a title and text sections with their place in the document."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SECTION_SEPARATOR = "\n\n"
HEADING_SEPARATOR = " › "  # between the levels of a section path: "Install › On Linux"


class Unreadable(Exception):
    """This file cannot be ingested; the message says why, in one line."""


@dataclass
class Section:
    """A stretch of a document that chunks never cross.

    ``page`` is the 1-based physical page (PDF page, slide); ``page_label`` the printed page
    number where it differs; ``heading`` the section path ("Intro › Install"); a table's
    ``table_header`` (Markdown header and rule) is repeated at the top of each of its chunks.
    """

    text: str
    page: int | None = None
    heading: str = ""
    page_label: str | None = None
    table_header: str = ""


@dataclass
class ParsedDocument:
    title: str
    sections: list[Section] = field(default_factory=list)

    @property
    def text(self) -> str:
        return SECTION_SEPARATOR.join(s.text for s in self.sections)


def title_from_name(path: Path) -> str:
    return path.stem


def heading_path(stack: list[str]) -> str:
    return HEADING_SEPARATOR.join(h for h in stack if h)


class HeadingStack:
    """The current section path while walking headings of levels 1..6 in document order."""

    def __init__(self) -> None:
        self.levels: list[tuple[int, str]] = []

    def push(self, level: int, title: str) -> None:
        title = " ".join(title.split())
        while self.levels and self.levels[-1][0] >= level:
            self.levels.pop()
        if title:
            self.levels.append((level, title))

    @property
    def path(self) -> str:
        return heading_path([t for _, t in self.levels])


def zip_or_refuse(data: bytes, kind: str) -> None:
    """Office files (.docx, .pptx, .xlsx, .epub, .odt) are zip archives: refuse anything else."""
    import io
    import zipfile

    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise Unreadable(f"not a valid {kind} (not a zip archive)")
