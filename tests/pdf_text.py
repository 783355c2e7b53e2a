"""What a person reading a PDF sees, as poppler's `pdftotext` and `pdfinfo` (Debian's
`poppler-utils`, which nobody here wrote) read it."""

from __future__ import annotations

import re
import subprocess
import unicodedata
from pathlib import Path

_BIDI_MARKS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def pdf_pages(data: bytes, tmp_path: Path) -> list[str]:
    """The text of each page, in reading order, as pdftotext extracts it; NFKC-normalised
    (Arabic presentation forms become letters again) and without bidi control marks."""
    path = tmp_path / "read.pdf"
    path.write_bytes(data)
    done = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"],
        capture_output=True,
        check=True,
        timeout=120,
    )
    text = unicodedata.normalize("NFKC", _BIDI_MARKS.sub("", done.stdout.decode("utf-8")))
    return text.split("\f")[:-1]  # pdftotext ends every page, the last one too, with \f


def pdf_page_count(data: bytes, tmp_path: Path) -> int:
    path = tmp_path / "count.pdf"
    path.write_bytes(data)
    info = subprocess.run(
        ["pdfinfo", str(path)], capture_output=True, check=True, text=True, timeout=60
    ).stdout
    found = re.search(r"^Pages:\s+(\d+)$", info, re.MULTILINE)
    assert found, info
    return int(found.group(1))


def words_of(name: str) -> list[str]:
    """A name's words as pdftotext gives them back (NFKC), each to be found on its own: a
    right-to-left name's words may come out in display order."""
    return unicodedata.normalize("NFKC", name).split()
