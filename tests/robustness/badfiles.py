"""Bad documents for the robustness tests, written on the fly: each one with what ingesting it
must give (``ingested``, with a phrase its text must contain, or ``skipped``, with a phrase the
reason must contain)."""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tests import corpora


@dataclass
class Case:
    name: str  # path relative to the corpus root, as it will appear in the report
    outcome: str  # "ingested" | "skipped"
    expect: str  # a phrase of the stored text (ingested) or of the reason (skipped)
    what: str  # the bad input, in words (for the report)


def _pdf_bytes(tmp: Path) -> bytes:
    return corpora.write_pdf(tmp / "_source.pdf").read_bytes()


def _encrypted(pdf: bytes, user_password: str, algorithm: str) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def write_bad_corpus(root: Path, scratch: Path) -> list[Case]:
    """Good documents of every format plus every bad input we know; returns the cases."""
    root.mkdir(parents=True, exist_ok=True)
    scratch.mkdir(parents=True, exist_ok=True)
    corpora.write_all_formats(root)
    cases = [
        Case("lighthouse.txt", "ingested", "whale oil", "a good .txt"),
        Case("orchard.md", "ingested", "seventeen varieties", "a good .md"),
        Case("glacier.html", "ingested", "412 metres", "a good .html"),
        Case("bridges.pdf", "ingested", "Varden bridge", "a good .pdf"),
        Case("bees.docx", "ingested", "forty thousand bees", "a good .docx"),
    ]

    def add(name: str, data: bytes, outcome: str, expect: str, what: str) -> None:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        cases.append(Case(name, outcome, expect, what))

    add("zero-bytes.txt", b"", "skipped", "empty file", "zero-byte file")
    add("only-whitespace.md", b" \n\t\n   \n", "skipped", "empty file", "whitespace only")
    add("binary.txt", bytes(range(256)) * 16, "skipped", "binary content", "binary bytes named .txt")
    add("photo.txt", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + os.urandom(4000), "skipped", "binary content",
        "a JPEG named .txt")
    add("invalid-utf8.txt", b"The ferry to Lindholm leaves at 7 o'clock \xff\xfe\xfa from pier 4.\n",
        "ingested", "ferry to Lindholm leaves", "invalid UTF-8 bytes in ASCII text")
    add("mixed-encodings.txt",
        "The café on Quay Street serves crème brûlée every Sunday.\n".encode("utf-8")
        + "The naïve façade of the old mill was repainted in 1988.\n".encode("latin-1"),
        "ingested", "café on Quay Street serves crème brûlée", "UTF-8 and Latin-1 lines in one file")
    add("windows-1252.txt", "Überall naïve Grüße: the mill façade was repainted.".encode("cp1252"),
        "ingested", "Überall naïve Grüße", "short Windows-1252 text")
    add("utf16.txt", "The kiln at Brennhaug fires pottery at 1280 degrees.".encode("utf-16"),
        "ingested", "kiln at Brennhaug", "UTF-16 with a byte-order mark")
    add("late-nul.txt", b"The mill pond froze in January. " * 300 + b"\x00 Then it thawed.",
        "ingested", "mill pond froze", "a NUL byte after the first 8 KB")
    add("scripts-only.html", b"<html><head><script>var a = 1;</script></head><body></body></html>",
        "skipped", "no visible text", "HTML with no visible text")
    depth = 20_000
    add("deeply-nested.html",
        ("<html><body>" + "<div>" * depth + "The heron nests at the bottom of the page." + "</div>" * depth
         + "</body></html>").encode(),
        "ingested", "heron nests at the bottom", f"HTML nested {depth:,} elements deep")

    pdf = _pdf_bytes(scratch)
    add("truncated.pdf", pdf[: len(pdf) // 2], "skipped", "truncated PDF", "a PDF cut in half")
    add("locked-rc4.pdf", _encrypted(pdf, "secret", "RC4-128"), "skipped", "encrypted PDF (needs a password)",
        "a PDF encrypted with a password (RC4)")
    add("locked-aes.pdf", _encrypted(pdf, "secret", "AES-256"), "skipped", "encrypted PDF (needs a password)",
        "a PDF encrypted with a password (AES-256)")
    add("no-copy-aes.pdf", _encrypted(pdf, "", "AES-256"), "ingested", "Ostby tunnel",
        "a PDF encrypted with an owner password only (AES-256)")
    add("not-a-zip.docx", b"this is not a zip archive", "skipped", "not a zip archive", "a .docx that is not a zip")
    other_zip = io.BytesIO()
    with zipfile.ZipFile(other_zip, "w") as z:
        z.writestr("notes.txt", "a zip, but not a Word document")
    add("other-zip.docx", other_zip.getvalue(), "skipped", "corrupt .docx", "a .docx that is a zip of something else")
    add("picture.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "skipped", "corrupt or unreadable image",
        "a PNG with a header and nothing else")
    add("data.bin", b"\x00\x01 raw bytes", "skipped", "unsupported file type .bin", "an unsupported type")

    # 50 MB of real text: over the default max_file_mb (20), refused before it is read.
    block = b"The archive holds many ledgers of grain prices from the harbour. " * 16384
    with open(root / "huge.txt", "wb") as fh:
        while fh.tell() < 50 * 1024 * 1024:
            fh.write(block)
    cases.append(Case("huge.txt", "skipped", "larger than the 20 MB limit (max_file_mb)", "a 50 MB text file"))

    # Deeply nested directories: 60 levels are walked; past PATH_MAX the branch is skipped.
    deep = root / "deep"
    for i in range(60):
        deep = deep / f"level{i:02d}"
    deep.mkdir(parents=True)
    (deep / "bottom.txt").write_text("The deepest note says the old well is forty metres deep.")
    cases.append(Case(str((deep / "bottom.txt").relative_to(root)), "ingested", "old well is forty metres deep",
                      "a file 60 directories deep"))
    too_deep = _make_too_deep(root / "too-deep", levels=450)
    cases.append(Case(too_deep, "skipped", "cannot read directory: File name too long",
                      "directories nested past PATH_MAX (4,500 characters)"))

    # Links: a file loop, a directory loop, a dangling link; a named pipe with a .txt name.
    os.symlink("loop-b.txt", root / "loop-a.txt")
    os.symlink("loop-a.txt", root / "loop-b.txt")
    cases.append(Case("loop-a.txt", "skipped", "Too many levels of symbolic links", "a symlink loop (file)"))
    cases.append(Case("loop-b.txt", "skipped", "Too many levels of symbolic links", "a symlink loop (file)"))
    os.symlink(".", root / "self")
    cases.append(Case("self", "skipped", "link to a directory: not followed", "a symlink loop (directory)"))
    os.symlink("nowhere.txt", root / "dangling.txt")
    cases.append(Case("dangling.txt", "skipped", "No such file or directory", "a dangling symlink"))
    os.mkfifo(root / "pipe.txt")
    cases.append(Case("pipe.txt", "skipped", "not a regular file", "a named pipe called .txt"))

    # A file name that is not valid UTF-8 (bytes from a Latin-1 system).
    odd = os.fsdecode(b"caf\xe9-menu.txt")
    (root / odd).write_text("The café menu lists nine kinds of soup.")
    cases.append(Case("caf\ufffd-menu.txt", "skipped", "file name is not valid UTF-8", "a file name in Latin-1 bytes"))
    return cases


def _make_too_deep(top: Path, levels: int) -> str:
    """Directories nested deeper than PATH_MAX allows to name (made relative to open directory
    handles); returns the report name of the first directory that cannot be read."""
    top.mkdir()
    fd = os.open(top, os.O_RDONLY)
    names = []
    try:
        for i in range(levels):
            name = f"level{i:04d}"
            names.append(name)
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        note = os.open("lost.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(note, b"Nobody can reach this note.")
        os.close(note)
    finally:
        os.close(fd)
    return "too-deep"  # the skipped entry's path starts with this
