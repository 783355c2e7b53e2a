"""How a printed table falls onto pages: column widths, line breaks inside cells, the rows
of each page. Plain arithmetic on text widths (millimetres), given by a `Measure`; the
drawing is `jobs.pdf_table`'s.

The order: each column as wide as its widest cell (at most `MAX_COLUMN`); when that is
wider than the page, each column gives up width in proportion to what it can spare down to
its longest word (so a name breaks between words, a header wherever it must); cells wrap
into at most `MAX_LINES` lines; rows are dealt onto pages, and the page count is known
before the first page is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

PAD_X, PAD_Y = 1.0, 0.8
MIN_COLUMN, MAX_COLUMN = 8.0, 65.0
MAX_LINES = 6
"""A body cell prints on at most this many lines; a longer one ends in `…`."""
HEADER_MAX_LINES = 10


class Measure(Protocol):
    @property
    def line(self) -> float:
        """The height of one line of text."""
        ...

    def width(self, text: str) -> float: ...


def column_bounds(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    head: Measure,
    body: Measure,
    upright: bool = True,
) -> tuple[list[float], list[float]]:
    """Each column's natural width (its widest cell, at most `MAX_COLUMN`) and the least it
    may be given (its cells' longest word). An upright header counts as a cell and wraps
    wherever it must; a header turned on its side (`upright=False`) needs one line's width."""
    natural, least = [], []
    floor = MIN_COLUMN if upright else head.line + 2 * PAD_X
    for i, name in enumerate(header):
        cells = [row[i] for row in rows]
        widest = max([head.width(name) if upright else 0.0, *map(body.width, cells)])
        natural.append(max(floor, min(widest, MAX_COLUMN) + 2 * PAD_X))
        word = max([0.0, *(body.width(part) for cell in cells for part in cell.split())])
        least.append(min(natural[-1], max(floor, min(word, MAX_COLUMN) + 2 * PAD_X)))
    return natural, least


def fit(natural: Sequence[float], least: Sequence[float], room: float) -> list[float]:
    """`natural` when it fits `room`, else each column narrowed in proportion to what it
    can give up down to `least`, else `least` scaled down to fit."""
    if sum(natural) <= room:
        return list(natural)
    spare, give = room - sum(least), sum(natural) - sum(least)
    if spare <= 0:
        return [width * room / sum(least) for width in least]
    return [low + (high - low) * spare / give for high, low in zip(natural, least, strict=True)]


def wrap(text: str, room: float, measure: Measure, *, max_lines: int = MAX_LINES) -> list[str]:
    """`text` in lines no wider than `room`, broken at spaces (and inside a word too long
    for a line), at most `max_lines` of them, the last ending in `…` when text is left.
    Lines past the last are never measured: a 10,000-character cell costs a few lines."""
    if measure.width(text) <= room:
        return [text]
    lines = _lines(text, room, measure, enough=max_lines + 1)
    if len(lines) <= max_lines:
        return lines
    last = lines[max_lines - 1]
    while last and measure.width(last + "…") > room:
        last = last[:-1]
    return [*lines[: max_lines - 1], last + "…"]


def _lines(text: str, room: float, measure: Measure, *, enough: int) -> list[str]:
    """The first `enough` lines of `text` broken to `room` (all of them when fewer)."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if measure.width(candidate) <= room:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = word
        while len(lines) < enough and len(line) > 1 and measure.width(line) > room:
            head = longest_fitting(line, room, measure)
            lines.append(head)
            line = line[len(head) :]
        if len(lines) >= enough:
            return lines
    return [*lines, line]


def longest_fitting(text: str, room: float, measure: Measure) -> str:
    """The longest start of `text` no wider than `room` (one character at least)."""
    end = 1
    while end < len(text) and measure.width(text[: end + 1]) <= room:
        end += 1
    return text[:end]


def row_height(cells: Sequence[Sequence[str]], line: float) -> float:
    """The height of a row whose cells are wrapped into these lines."""
    return max([1, *(len(lines) for lines in cells)]) * line + 2 * PAD_Y


def paginate(heights: Sequence[float], room: float) -> list[tuple[int, int]]:
    """The rows each page holds, as `(start, end)`, filling each page up to `room`; a
    page holds one row at least, and there is one page (with no rows) for no rows."""
    pages: list[tuple[int, int]] = []
    start, used = 0, 0.0
    for index, height in enumerate(heights):
        if used + height > room and index > start:
            pages.append((start, index))
            start, used = index, 0.0
        used += height
    pages.append((start, len(heights)))
    return pages
