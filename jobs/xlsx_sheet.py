"""A worksheet's rows out of its XML, scanned a block at a time (`jobs.xlsx_in` uses it).

A worksheet is a long run of `<row>` elements of `<c>` cells. Rather than build an element
per cell (several million for a district's file), the scanner matches whole rows, then
their cells, with regular expressions written for the shapes spreadsheets write (Excel,
LibreOffice, Google Sheets, this service's export), namespace prefixes included. Nothing is
ever expanded: only the five predefined entities and character references are decoded, and
the spreadsheet escape `_xHHHH_`. A cell is:

- empty, with or without a style (`<c r="B2" s="3"/>`): nothing, it widens no row;
- a shared string (`t="s"`), an inline string (`t="inlineStr"`, rich text runs joined,
  phonetic runs left out), a formula's string (`t="str"`), a boolean (`t="b"`: Yes/No), an
  error (`t="e"`), an ISO date (`t="d"`), or a number: its shortest text, or `YYYY-MM-DD`
  when its style shows a date;
- a formula (`<f>`): `schemas.cells.formula_cell`, whatever its cached value.
"""

from __future__ import annotations

import codecs
import datetime as dt
import mmap
import re
import tempfile
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO, Protocol

from jobs.csv_in import ImportLimits, Records
from jobs.errors import FileRefused
from jobs.xlsx_out import column_letters
from schemas.cells import formula_cell, neutralise

_BLOCK = 1024 * 1024
_P = r"(?:[\w.-]+:)?"  # a namespace prefix, as some writers put on every element
_ROW = re.compile(rf"<{_P}row\b([^>]*?)(?:/>|>([^<]*(?:<(?!/{_P}row\s*>)[^<]*)*)</{_P}row\s*>)")
"""A row, its content matched as runs of text between tags (far faster than `.*?`)."""
_PREFIXED_ROW = re.compile(r"<[\w.-]+:row\b")
_ROW_NUMBER = re.compile(r"""\br\s*=\s*["'](\d+)["']""")
_CELL = re.compile(
    rf"<{_P}c\b"
    r"""(?:\s+r=["']([A-Za-z]{1,3})\d*["']|\s+t=["'](\w+)["']|\s+s=["'](\d+)["']"""
    r"""|\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*"""
    rf"(?:/>|>(?:<{_P}v>([^<]*)</{_P}v>|<{_P}is><{_P}t>([^<]*)</{_P}t></{_P}is>|(.*?))</{_P}c\s*>)",
    re.S,
)
_VALUE = re.compile(rf"<{_P}v\b[^>]*>(.*?)</{_P}v\s*>", re.S)
_FORMULA = re.compile(rf"<{_P}f\b[^>]*?(?:/>|>(.*?)</{_P}f\s*>)", re.S)
_INLINE = re.compile(rf"<{_P}is\b[^>]*>(.*?)</{_P}is\s*>", re.S)
_TEXT = re.compile(rf"<{_P}t\b[^>]*?(?:/>|>(.*?)</{_P}t\s*>)", re.S)
_PHONETIC = re.compile(rf"<{_P}rPh\b.*?</{_P}rPh\s*>", re.S)
_SHARED = re.compile(rf"<{_P}si\b[^>]*?(?:/>|>([^<]*(?:<(?!/{_P}si\s*>)[^<]*)*)</{_P}si\s*>)")
_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.S)
_ENTITY = re.compile(r"&(?:#[xX]([0-9A-Fa-f]{1,6})|#([0-9]{1,7})|(amp|lt|gt|quot|apos));")
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_DATE_FORMATS = frozenset((*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)))
_FORMAT_NOISE = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.')
_LETTERS: dict[str, int] = {}
_OWN_OPEN = '<c t="inlineStr"><is><t>'
_OWN_CLOSE = "</t></is></c>"
_OWN_SEP = _OWN_CLOSE + _OWN_OPEN
_OWN_EMPTY = _OWN_OPEN + _OWN_CLOSE
_OWN_QUOTED_START = re.compile(r"<t>['=+\-@\t\r]")
_QUOTED_STARTS = frozenset("'=+-@\t\r")
"""First characters `neutralise` may act on (a formula's mark, NUL, is not one)."""


class SheetScanner:
    """Rows of one worksheet; `shared` are the workbook's shared strings."""

    def __init__(
        self,
        *,
        shared: Texts,
        date_styles: frozenset[int],
        date1904: bool,
        limits: ImportLimits,
    ) -> None:
        self._shared = shared
        self._dates = frozenset(str(style) for style in date_styles)
        self._epoch = dt.date(1904, 1, 1) if date1904 else dt.date(1899, 12, 30)
        self._limits = limits
        self._most_chars = limits.max_columns * (limits.max_cell_chars + 200) + 4096

    def rows(self, part: BinaryIO) -> Records:
        """The first row there is, then every non-blank row, within the limits."""
        first, count = True, 0
        for number, cells in self._all_rows(part):
            if first:
                first = False
                yield number, cells
                continue
            if not any(cells):
                continue
            count += 1
            if count > self._limits.max_rows:
                raise FileRefused(
                    f"The workbook has more rows than the limit of {self._limits.max_rows:,} "
                    f"for one import (row {number:,} is past it). Split it into smaller files "
                    "and import each one."
                )
            yield number, cells

    def _all_rows(self, part: BinaryIO) -> Iterator[tuple[int, list[str]]]:
        number = 0
        for attributes, inner in _row_elements(part, self._most_chars):
            given = _ROW_NUMBER.search(attributes)
            number = int(given.group(1)) if given else number + 1
            yield number, self._cells(number, inner) if inner else []

    def _cells(self, number: int, inner: str) -> list[str]:
        texts = _own_cells(inner)
        if texts is None:
            texts = self._any_cells(inner)
            quoted = True
        else:  # an escape may stand for a trigger: `_x000D_` is a carriage return
            quoted = "_x" in inner or "&#" in inner or bool(_OWN_QUOTED_START.search(inner))
        while texts and not texts[-1]:
            texts.pop()
        if len(texts) > self._limits.max_columns:
            raise FileRefused(self._too_wide(number, len(texts)))
        if texts and max(map(len, texts)) > self._limits.max_cell_chars:
            raise FileRefused(self._cell_too_long(number))
        if not quoted:
            return texts
        return [neutralise(text) if text and text[0] in _QUOTED_STARTS else text for text in texts]

    def _any_cells(self, inner: str) -> list[str]:
        """Cells of any shape, each where its reference puts it (else after the one before)."""
        found: dict[int, str] = {}
        at = 0
        for letters, kind, style, value, inline, other in _CELL.findall(inner):
            at = _column(letters) if letters else at + 1
            if other:
                text = self._complex(kind, style, other)
            elif inline:
                text = _unescaped(inline)
            elif value:
                text = self._value(kind, style, value)
            else:
                continue
            if text:
                found[at] = text
        if not found:
            return []
        texts = [""] * max(found)
        for at, text in found.items():
            texts[at - 1] = text
        return texts

    def _value(self, kind: str, style: str, value: str) -> str:
        if kind == "s":
            return self._shared_string(value)
        if kind in ("str", "inlineStr", "e"):
            return _unescaped(value)
        if kind == "b":
            return "Yes" if value.strip() in ("1", "true") else "No"
        if kind == "d":
            return value.strip()[:10]
        return self._number(value.strip(), style)

    def _complex(self, kind: str, style: str, inner: str) -> str:
        formula = _FORMULA.search(inner)
        if formula is not None:
            return formula_cell(_unescaped(formula.group(1) or ""))
        if kind == "inlineStr":
            found = _INLINE.search(inner)
            return rich_text(found.group(1)) if found else ""
        found = _VALUE.search(inner)
        return self._value(kind, style, found.group(1)) if found else ""

    def _shared_string(self, value: str) -> str:
        try:
            return self._shared[int(value)]
        except (ValueError, IndexError) as err:
            raise FileRefused(
                "The workbook is damaged: a cell refers to a text that is not in it. Open it "
                "in your spreadsheet, save it as Excel Workbook (.xlsx), and upload it again."
            ) from err

    def _number(self, value: str, style: str) -> str:
        if style in self._dates:
            return self._date(value)
        return number_text(value)

    def _date(self, value: str) -> str:
        try:
            serial = int(float(value))
            if self._epoch.year == 1899 and serial < 61:
                serial += 1  # the 1900 system counts a 29 February 1900 that never was
            return (self._epoch + dt.timedelta(days=serial)).isoformat()
        except (ValueError, OverflowError):
            return value

    def _too_wide(self, number: int, width: int) -> str:
        return (
            f"Row {number:,} has a value in column {column_letters(width)}, past the "
            f"{self._limits.max_columns:,} columns a row may have. Delete the extra "
            "columns and upload again."
        )

    def _cell_too_long(self, number: int) -> str:
        return (
            f"Row {number:,} has a cell longer than {self._limits.max_cell_chars:,} "
            "characters, the most a cell may hold."
        )


def _own_cells(inner: str) -> list[str] | None:
    """The texts of a row as this service's export writes it (inline strings in column
    order, `<c/>` for an empty cell), None for a row of any other shape: split at the
    tags, it is this shape exactly when no text is left holding a `<`."""
    body = inner.replace("<c/>", _OWN_EMPTY)
    if not (body.startswith(_OWN_OPEN) and body.endswith(_OWN_CLOSE)):
        return None
    texts = body[len(_OWN_OPEN) : -len(_OWN_CLOSE)].split(_OWN_SEP)
    if "<" in "".join(texts):
        return None
    if "&" in inner or "_x" in inner:
        return [_unescaped(text) for text in texts]
    return texts


def _row_elements(part: BinaryIO, most_chars: int) -> Iterator[tuple[str, str]]:
    """`(attributes, inner XML)` of each `<row>`, block by block; a row that would hold more
    than `most_chars` characters is refused, so memory stays bounded.

    Rows are split at `</row>` (five times faster than matching each); a worksheet whose
    elements carry a namespace prefix is matched row by row instead."""
    pending = ""
    split: bool | None = None
    for text in _decoded(part):
        pending += text
        if split is None:
            split = _PREFIXED_ROW.search(pending) is None
        rows, pending = _split_rows(pending) if split else _matched_rows(pending)
        yield from rows
        if len(pending) > most_chars + _BLOCK:
            raise FileRefused(
                f"The worksheet has a row longer than {most_chars:,} characters, more than a "
                "row of the most columns and cells an import reads. Delete the extra columns "
                "and upload again."
            )


def _split_rows(text: str) -> tuple[list[tuple[str, str]], str]:
    """The rows `text` completes, and the rest: each piece before a `</row>` ends with its
    row's opening and content, after any rows without content (`<row r="9"/>`), as do the
    pieces after the last `</row>` but one still open."""
    parts = text.split("</row>")
    rest = parts.pop()
    rows: list[tuple[str, str]] = []
    for piece in parts:
        start = _last_row_start(piece)
        if start < 0:
            continue  # not a row: nothing a spreadsheet writes
        if start > 0:
            rows.extend((m.group(1), "") for m in _ROW.finditer(piece, 0, start))
        close = piece.find(">", start)
        rows.append((piece[start + 4 : close], piece[close + 1 :]))
    start = _last_row_start(rest)
    if start > 0:
        rows.extend((m.group(1), "") for m in _ROW.finditer(rest, 0, start))
        rest = rest[start:]
    return rows, rest


def _last_row_start(text: str) -> int:
    """Where the last `<row` element (not `<rowBreaks`) starts, -1 if none."""
    start = text.rfind("<row")
    while start >= 0 and text[start + 4 : start + 5] not in (" ", ">", "/", "\t", "\n", "\r"):
        start = text.rfind("<row", 0, start)
    return start


def _matched_rows(text: str) -> tuple[list[tuple[str, str]], str]:
    rows, end = [], 0
    for match in _ROW.finditer(text):
        rows.append((match.group(1), match.group(2) or ""))
        end = match.end()
    return rows, text[end:]


def _decoded(part: BinaryIO) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8")()
    while True:
        block = part.read(_BLOCK)
        try:
            yield decoder.decode(block, final=not block)
        except UnicodeDecodeError as err:
            raise FileRefused(
                "The workbook is damaged: its worksheet is not UTF-8 text. Open it in your "
                "spreadsheet, save it as Excel Workbook (.xlsx), and upload it again."
            ) from err
        if not block:
            return


class Texts(Protocol):
    """Texts by their number, as cells refer to shared strings."""

    def __getitem__(self, index: int, /) -> str: ...


class SharedStrings:
    """A workbook's shared strings, kept in a temporary file and read back through a memory
    map, with only their ends in memory (eight bytes each, however long they are)."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by `close`)
        self._ends = array("Q", [0])
        self._view: mmap.mmap | bytes = b""
        self.chars = 0

    def add(self, text: str) -> None:
        data = text.encode("utf-8", "surrogatepass")
        self._file.write(data)
        self._ends.append(self._ends[-1] + len(data))
        self.chars += len(text)

    def ready(self) -> SharedStrings:
        self._file.flush()
        if self._ends[-1]:
            self._view = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        return self

    def __len__(self) -> int:
        return len(self._ends) - 1

    def __getitem__(self, index: int, /) -> str:
        if not 0 <= index < len(self._ends) - 1:
            raise IndexError(index)
        start, end = self._ends[index], self._ends[index + 1]
        return self._view[start:end].decode("utf-8", "surrogatepass")

    def close(self) -> None:
        if isinstance(self._view, mmap.mmap):
            self._view.close()
        self._file.close()


@contextmanager
def read_shared_strings(part: BinaryIO, *, most: int, limits: ImportLimits) -> Iterator[Texts]:
    """Every shared string in order, within the limits: at most `most` of them, each no
    longer than a cell may be, all together no more characters than the upload limit
    allows a file (so memory and the temporary file stay bounded)."""
    strings = SharedStrings()
    try:
        for inner in _elements(part, _SHARED, most_chars=64 * limits.max_cell_chars + 4096):
            strings.add(rich_text(inner))
            if len(strings) > most:
                raise FileRefused(
                    f"The workbook holds more than {most:,} different texts, more than an "
                    "import reads. Split it into smaller files, or save it as CSV UTF-8, "
                    "and upload again."
                )
            if strings.chars > limits.max_bytes:
                raise FileRefused(
                    f"The workbook's texts add up to more than {limits.max_bytes:,} "
                    "characters, more than one import may read. Split it into smaller files "
                    "and import each one."
                )
        yield strings.ready()
    finally:
        strings.close()


def _elements(part: BinaryIO, pattern: re.Pattern[str], *, most_chars: int) -> Iterator[str]:
    """The first group of each match of `pattern`, block by block; an element longer than
    `most_chars` is refused (so no block is scanned again and again)."""
    pending = ""
    for text in _decoded(part):
        pending += text
        end = 0
        for match in pattern.finditer(pending):
            yield match.group(1) or ""
            end = match.end()
        pending = pending[end:]
        if len(pending) > most_chars + _BLOCK:
            raise FileRefused(
                "The workbook holds a text far longer than any cell may be. Open it in your "
                "spreadsheet, save it as Excel Workbook (.xlsx), and upload it again."
            )


def rich_text(inner: str) -> str:
    """The text of a string item: its `<t>` runs joined, phonetic runs left out."""
    if inner.startswith("<t>") and inner.endswith("</t>") and "<" not in inner[3:-4]:
        return _unescaped(inner[3:-4])
    if "rPh" in inner:
        inner = _PHONETIC.sub("", inner)
    return "".join(_unescaped(text) for text in _TEXT.findall(inner))


def _unescaped(text: str) -> str:
    if "<" in text:
        text = _CDATA.sub(lambda m: m.group(1).replace("&", "&amp;"), text)
    if "&" in text:
        text = _ENTITY.sub(_entity, text)
    if "_x" in text:
        text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return text


def _entity(match: re.Match[str]) -> str:
    hexadecimal, decimal, name = match.groups()
    if name:
        return _NAMED[name]
    code = int(hexadecimal, 16) if hexadecimal else int(decimal)
    return chr(code) if code <= 0x10FFFF else match.group()


def number_text(value: str) -> str:
    """A number cell as a person reads it: `123` (never `123.0`), a 12-digit number whole,
    a fraction at its shortest; past 15 digits, where a spreadsheet has already lost the
    rest, as the spreadsheet shows it (`1.23456789012346E+17`), so the import says so."""
    if value.isdigit() and len(value) <= 15:
        return value.lstrip("0") or "0"
    try:
        number = float(value)
    except ValueError:
        return value
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    if abs(number) >= 1e15:
        return f"{number:.15G}".replace("E+", "E+")
    return repr(number)


def is_date_format(format_id: int, code: str | None) -> bool:
    """Whether a number format shows a date (built-in ids, or a code with d, m or y outside
    its quoted text, escapes and brackets)."""
    if code is None:
        return format_id in _DATE_FORMATS
    bare = _FORMAT_NOISE.sub("", code).casefold()
    return bare != "general" and any(letter in bare for letter in "dmy")


def _column(letters: str) -> int:
    found = _LETTERS.get(letters)
    if found is None:
        found = 0
        for letter in letters.upper():
            found = found * 26 + ord(letter) - 64
        _LETTERS[letters] = found
    return found
