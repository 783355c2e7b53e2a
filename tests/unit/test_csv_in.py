"""Reading an uploaded file: encodings, line endings, quoting, the header and every limit."""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import tracemalloc
import zipfile
from typing import Any

import pytest

from jobs.csv_in import (
    FileSurvey,
    ImportLimits,
    Opener,
    check_header,
    encoding_warning,
    read_rows,
    survey,
)
from jobs.errors import FileRefused
from schemas.columns import Entity
from schemas.products import Product
from storage.fakes import RecordingStore

CLASSES_HEADER = "Database ID,Class/Group Name,Organization"
STUDENTS_HEADER = (
    "Database ID,First Name,Last Name,Username,Password,External Assigned ID,Grade,Organizations"
)
EDUCATORS_HEADER = "Database ID,First Name,Last Name,Username,Educator Type,Organizations"
MB = 1024 * 1024


def opener(data: bytes) -> Opener:
    return lambda: contextlib.nullcontext(io.BytesIO(data))


def survey_of(
    data: bytes,
    entity: Entity = Entity.CLASSES,
    purchased: frozenset[Product] = frozenset(),
    **limits: int,
) -> FileSurvey:
    return survey(opener(data), entity=entity, purchased=purchased, limits=ImportLimits(**limits))


def rows_of(data: bytes, encoding: str = "utf-8", **limits: int) -> list[tuple[int, list[str]]]:
    return list(read_rows(opener(data), encoding=encoding, limits=ImportLimits(**limits)))


def classes_file(*rows: str, newline: str = "\r\n") -> bytes:
    return newline.join((CLASSES_HEADER, *rows, "")).encode()


class LazyFile(io.RawIOBase):
    """`start`, then `size` bytes of `filler`, made only as they are read."""

    def __init__(self, start: bytes, filler: bytes, size: int) -> None:
        super().__init__()
        self._start = start
        self._filler = filler
        self._left = size
        self.produced = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._start:
            chunk, self._start = self._start[: len(view)], self._start[len(view) :]
        else:
            count = min(len(view), self._left) // len(self._filler)
            chunk = self._filler * count
            self._left -= len(chunk)
        view[: len(chunk)] = chunk
        self.produced += len(chunk)
        return len(chunk)


# Encodings


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["without BOM", "with BOM"])
def test_a_utf8_file_is_read_with_or_without_a_bom(bom: bytes) -> None:
    # given a UTF-8 file with accents
    data = bom + classes_file("1,Français ñ,École Lumière").replace(b"\r\n", b"\n")

    # when it is surveyed and read
    found = survey_of(data)
    rows = rows_of(data, found.encoding)

    # then it is UTF-8, the BOM is not part of the first header, and the text is intact
    assert found.encoding == "utf-8"
    assert found.header.cells[0] == "Database ID"
    assert rows == [(2, ["1", "Français ñ", "École Lumière"])]
    assert encoding_warning(found.encoding) is None


@pytest.mark.parametrize("text", ["Café", "Muñoz", "O’Brien’s class", "Zoë ‘Résumé’ €5"])
def test_a_windows_1252_file_is_read_as_cp1252_with_its_accents(text: str) -> None:
    # given a file saved by Excel's plain "CSV (Comma delimited)"
    data = f"{CLASSES_HEADER}\r\n1,{text},Lincoln\r\n".encode("cp1252")

    # when it is surveyed and read
    found = survey_of(data)
    rows = rows_of(data, found.encoding)

    # then Windows-1252 is detected, the text is right and the report warns about it
    assert found.encoding == "cp1252"
    assert rows == [(2, ["1", text, "Lincoln"])]
    assert "Windows-1252" in (encoding_warning("cp1252") or "")


def test_a_windows_1252_byte_far_into_the_file_still_switches_the_whole_file() -> None:
    # given a file whose only non-UTF-8 byte is in its last row, far past the first chunk
    rows = [f"{n},Class {n},School" for n in range(2, 3000)] + ["3000,Señora,School"]
    data = f"{CLASSES_HEADER}\n" + "\n".join(rows) + "\n"

    # when it is surveyed
    found = survey_of(data.encode("cp1252"))

    # then the whole file is read as Windows-1252
    assert found.encoding == "cp1252"
    assert found.rows == 2999
    assert rows_of(data.encode("cp1252"), "cp1252")[-1] == (3000, ["3000", "Señora", "School"])


# Line endings, quoting and row numbers


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_lf_crlf_and_cr_only_line_endings_give_the_same_rows(newline: str) -> None:
    # given the same rows with each kind of line ending
    data = classes_file("1,Math,Lincoln", "2,Art,Adams", newline=newline)

    # when read
    rows = rows_of(data)

    # then each line is one row, numbered as in a spreadsheet
    assert rows == [(2, ["1", "Math", "Lincoln"]), (3, ["2", "Art", "Adams"])]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_quoted_newlines_commas_and_quotes_stay_inside_one_cell(newline: str) -> None:
    # given cells holding a line break, a comma and doubled quotes
    data = classes_file(
        f'1,"Math{newline}Period 2","Lincoln, ""North"""', "2,Art,Adams", newline=newline
    )

    # when read
    rows = rows_of(data)

    # then a quoted line break does not start a new row
    assert rows == [
        (2, ["1", f"Math{newline}Period 2", 'Lincoln, "North"']),
        (3, ["2", "Art", "Adams"]),
    ]


def test_a_blank_row_in_the_middle_is_skipped_but_keeps_the_row_numbers() -> None:
    # given a blank line and a row of empty cells between two rows
    data = classes_file("1,Math,Lincoln", "", " , ,", "2,Art,Adams")

    # when surveyed and read
    found = survey_of(data)
    rows = rows_of(data)

    # then blank rows are not counted, and the next row keeps its spreadsheet number
    assert found.rows == 2
    assert rows == [(2, ["1", "Math", "Lincoln"]), (5, ["2", "Art", "Adams"])]


def test_trailing_blank_rows_are_not_counted() -> None:
    # given a file ending with blank rows, as spreadsheets often save
    data = classes_file("1,Math,Lincoln", ",,", ",,", "")

    # when surveyed
    found = survey_of(data)

    # then only the real row counts
    assert found.rows == 1
    assert rows_of(data) == [(2, ["1", "Math", "Lincoln"])]


def test_a_file_with_only_the_header_has_no_rows() -> None:
    # given a header and nothing else, without a final line break
    data = CLASSES_HEADER.encode()

    # when surveyed
    found = survey_of(data)

    # then it is accepted with no rows
    assert found.rows == 0
    assert rows_of(data) == []


def test_a_nul_inside_a_cell_of_a_text_file_is_passed_on_for_the_row_check() -> None:
    # given an otherwise ordinary file with a NUL in one cell
    data = classes_file("1,Ma\x00th,Lincoln", *(f"{n},Class {n},Adams" for n in range(2, 200)))

    # when surveyed and read
    found = survey_of(data)
    rows = rows_of(data)

    # then the file is accepted and the cell keeps the NUL, for its codec to refuse
    assert found.rows == 199
    assert rows[0] == (2, ["1", "Ma\x00th", "Lincoln"])


@pytest.mark.parametrize("shift", [0, 1], ids=["even", "odd"])
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_a_long_run_of_empty_lines_is_passed_over_and_the_next_row_keeps_its_number(
    newline: str, shift: int
) -> None:
    # given 100,000 empty lines between two rows; shifted by one character, a CRLF falls
    # across the end of a block of text read ahead, or does not
    first = "Math" + "s" * shift
    data = classes_file(f"1,{first},Lincoln", *[""] * 100_000, "2,Art,Adams", newline=newline)

    # when surveyed and read
    found = survey_of(data)
    read = rows_of(data)

    # then only the two rows count, the second one numbered as in a spreadsheet
    assert found.rows == 2
    assert read == [(2, ["1", first, "Lincoln"]), (100_003, ["2", "Art", "Adams"])]


def test_a_crlf_split_across_blocks_of_text_read_ahead_ends_one_row() -> None:
    # given CRLF rows placed so that a CR ends the first 64 KiB of text and its LF starts
    # the next (the header is 43 characters, the first row 22, every other row 32)
    rows = ["1,Math,Lincoln-North", *(f"{n:05},Class {n:05},Lincoln-Sch" for n in range(2, 4001))]
    data = classes_file(*rows)
    assert data[65535:65537] == b"\r\n"

    # when read
    read = rows_of(data)

    # then every row keeps its number: no empty line appeared between the CR and the LF
    assert [number for number, _ in read] == list(range(2, 4002))


def test_blank_rows_of_spaces_tabs_and_commas_are_passed_over_like_empty_lines() -> None:
    # given a spreadsheet's formatted but empty rows, one of them wider than the column limit
    blank = [",,", " , ,\t", "", "," * 500] * 25_000
    data = classes_file("1,Math,Lincoln", *blank, "2,Art,Adams")

    # when read
    rows = rows_of(data)

    # then they are blank rows: skipped, but numbered
    assert rows == [(2, ["1", "Math", "Lincoln"]), (100_003, ["2", "Art", "Adams"])]


def test_empty_lines_inside_a_quoted_cell_stay_in_the_cell() -> None:
    # given a quoted cell holding empty lines
    data = classes_file('1,"Math\r\n\r\n\r\nPeriod 2",Lincoln', "", "2,Art,Adams")

    # when read
    rows = rows_of(data)

    # then they are the cell's, and the rows after it are numbered as in a spreadsheet
    assert rows == [(2, ["1", "Math\r\n\r\n\r\nPeriod 2", "Lincoln"]), (4, ["2", "Art", "Adams"])]


def test_a_refusal_after_a_run_of_empty_lines_names_the_spreadsheet_row() -> None:
    # given a quote never closed in the row after 50,000 empty lines
    data = classes_file("1,Math,Lincoln", *[""] * 50_000, '2,"Art,Adams')

    # when surveyed, then the message names the row a spreadsheet shows
    with pytest.raises(FileRefused, match=r"^Row 50,003 has a quote mark"):
        survey_of(data)


def test_an_endless_file_of_empty_lines_stops_at_the_byte_limit_in_bounded_memory() -> None:
    # given a header and then empty lines without end (a gigabyte, made only as it is read)
    upload = LazyFile(f"{CLASSES_HEADER}\r\n".encode(), b"\r\n", 1024 * MB)

    # when surveyed with a 20 MB limit
    tracemalloc.start()
    try:
        with pytest.raises(FileRefused) as refused:
            survey(
                lambda: contextlib.nullcontext(upload),
                entity=Entity.CLASSES,
                purchased=(),
                limits=ImportLimits(max_bytes=20 * MB),
            )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    # then it is refused at the limit, near the row it reached, having read little past it
    assert "The file is larger than 20 MB, the most one import may read" in refused.value.message
    assert "near row 10,4" in refused.value.message  # 20 MB of CRLF: 10.5 million lines
    assert upload.produced < 21 * MB
    assert peak < 5 * MB


# The header


def test_headers_match_in_any_case_and_with_surrounding_spaces() -> None:
    # when a header written loosely is checked
    header = check_header(
        [" database id ", "CLASS/GROUP NAME", "organization  "],
        entity=Entity.CLASSES,
        purchased=(),
    )

    # then every column is found at its position, and the cells are kept as read
    assert [(position, column.header) for position, column in header.columns] == [
        (0, "Database ID"),
        (1, "Class/Group Name"),
        (2, "Organization"),
    ]
    assert header.cells == (" database id ", "CLASS/GROUP NAME", "organization  ")
    assert header.unknown == ()


def test_unknown_columns_are_reported_and_ignored() -> None:
    # given a students file with a made-up column and a product the district did not buy
    data = (
        STUDENTS_HEADER + ", Nickname ,Imagine Reading: Access,Imagine MyPath: Access\n"
        "1,Ana,Ruiz,aruiz,,S1,3,Lincoln,Annie,Yes,No\n"
    ).encode()

    # when surveyed for a district with Imagine MyPath only
    found = survey_of(data, Entity.STUDENTS, frozenset({Product.MYPATH}))

    # then both are reported, and the purchased product's column is known
    assert found.header.unknown == ("Nickname", "Imagine Reading: Access")
    known = [column.header for _, column in found.header.columns]
    assert "Imagine MyPath: Access" in known
    assert "Imagine Reading: Access" not in known


def test_row_result_and_errors_columns_are_ignored_silently() -> None:
    # given an errors file from an earlier import, uploaded again
    data = f"ROW,{CLASSES_HEADER},result, Errors \r\n2,1,Math,Lincoln,failed,bad\r\n".encode()

    # when surveyed
    found = survey_of(data)

    # then those columns are neither columns nor reported as unknown
    assert found.header.unknown == ()
    assert [position for position, _ in found.header.columns] == [1, 2, 3]


def test_blank_header_cells_are_ignored_with_the_cells_under_them() -> None:
    # given a header with an empty cell between two columns
    header = check_header(
        ["Database ID", "", "Class/Group Name", "  ", "Organization"],
        entity=Entity.CLASSES,
        purchased=(),
    )

    # then the blank positions are not columns and are not reported
    assert [position for position, _ in header.columns] == [0, 2, 4]
    assert header.unknown == ()


# Refusals


STUDENTS_WITHOUT_GRADE = (
    b"Database ID,First Name,Last Name,Username,Password,External Assigned ID\n"
)


def zip_of(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("students.csv", data)
    return buffer.getvalue()


REFUSED = [
    pytest.param(b"", Entity.CLASSES, {}, ["The file is empty"], id="empty file"),
    pytest.param(b"\xef\xbb\xbf", Entity.CLASSES, {}, ["The file is empty"], id="only a BOM"),
    pytest.param(
        b"\r\n" + classes_file("1,Math,Lincoln"),
        Entity.CLASSES,
        {},
        ["The first row must be the header row", "Database ID, Class/Group Name"],
        id="empty header",
    ),
    pytest.param(
        STUDENTS_WITHOUT_GRADE,
        Entity.STUDENTS,
        {},
        ["The file has no 'Grade', 'Organizations' column(s), which Students files need."],
        id="missing required columns",
    ),
    pytest.param(
        b"Database ID,Class/Group Name,Organization, organization\n1,Math,A,B\n",
        Entity.CLASSES,
        {},
        ["'Organization' appears twice", "columns C and D"],
        id="duplicated column",
    ),
    pytest.param(
        classes_file("1,Math,Lincoln"),
        Entity.STUDENTS,
        {},
        ["This looks like a Classes/Groups file; import it as Classes/Groups."],
        id="a classes file imported as students",
    ),
    pytest.param(
        f"{EDUCATORS_HEADER}\n".encode(),
        Entity.STUDENTS,
        {},
        ["'Password'", "This looks like an Educators file; import it as Educators."],
        id="an educators file imported as students",
    ),
    pytest.param(
        f"{CLASSES_HEADER}\r\n".encode("utf-16"),
        Entity.CLASSES,
        {},
        ["UTF-16", "CSV UTF-8"],
        id="UTF-16 BOM",
    ),
    pytest.param(
        f"{CLASSES_HEADER}\r\n".encode("utf-16-le"),
        Entity.CLASSES,
        {},
        ["UTF-16"],
        id="UTF-16 without BOM",
    ),
    pytest.param(
        f"{CLASSES_HEADER}\r\n".encode("utf-32"),
        Entity.CLASSES,
        {},
        ["UTF-32"],
        id="UTF-32",
    ),
    pytest.param(
        gzip.compress(classes_file("1,Math,Lincoln")),
        Entity.CLASSES,
        {},
        ["gzip"],
        id="gzip",
    ),
    pytest.param(
        zip_of(classes_file("1,Math,Lincoln")),
        Entity.CLASSES,
        {},
        ["ZIP archive or an Excel workbook (.xlsx)", "CSV UTF-8"],
        id="zip or xlsx",
    ),
    pytest.param(
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600),
        Entity.CLASSES,
        {},
        ["Excel 97-2003 workbook (.xls)"],
        id="xls",
    ),
    pytest.param(
        bytes(range(256)) * 8,
        Entity.CLASSES,
        {},
        ["binary data"],
        id="binary",
    ),
    pytest.param(
        b"\n  <!DOCTYPE html>\n<html><body>Session expired</body></html>",
        Entity.CLASSES,
        {},
        ["web page", "error page"],
        id="HTML page",
    ),
    pytest.param(
        b"\xef\xbb\xbf<HTML><head><title>502 Bad Gateway</title>",
        Entity.CLASSES,
        {},
        ["web page"],
        id="HTML page with BOM",
    ),
    pytest.param(
        classes_file('1,"Math,Lincoln', "2,Art,Adams", "3,Music,Adams"),
        Entity.CLASSES,
        {},
        ['Row 2 has a quote mark (") that is never closed'],
        id="unterminated quote",
    ),
    pytest.param(
        classes_file("1,Math,Lincoln") + b"2,Caf\x81,Adams\r\n",
        Entity.CLASSES,
        {},
        ["neither UTF-8 nor Windows-1252", "0x81"],
        id="neither UTF-8 nor Windows-1252",
    ),
    pytest.param(
        b"\xef\xbb\xbf" + f"{CLASSES_HEADER}\r\n1,Café,Lincoln\r\n".encode("cp1252"),
        Entity.CLASSES,
        {},
        ["starts as UTF-8", "0xE9"],
        id="UTF-8 BOM then Windows-1252",
    ),
    pytest.param(
        classes_file("1,A,X", "2,B,X", "", "3,C,X", "4,D,X"),
        Entity.CLASSES,
        {"max_rows": 3},
        ["more rows than the limit of 3", "row 6"],
        id="too many rows",
    ),
    pytest.param(
        classes_file(*(f"{n},Class {n},Lincoln" for n in range(2000))),
        Entity.CLASSES,
        {"max_bytes": 10_000},
        ["larger than 10,000 bytes", "near row"],
        id="too many bytes",
    ),
    pytest.param(
        classes_file("1,Math,Lincoln", "2," + "x" * 21 + ",Adams"),
        Entity.CLASSES,
        {"max_cell_chars": 20},
        ["Row 3 has a cell longer than 20 characters"],
        id="cell over the limit",
    ),
    pytest.param(
        classes_file("1,Math,Lincoln", "2,Art,Adams,,,"),
        Entity.CLASSES,
        {"max_columns": 5},
        ["Row 3 has more than 5 cells"],
        id="too many columns",
    ),
    pytest.param(
        classes_file('1,"Math",Lincoln', '2,"A","B","C","D","E"'),
        Entity.CLASSES,
        {"max_columns": 5},
        ["Row 3 has more than 5 cells"],
        id="too many quoted columns",
    ),
]


@pytest.mark.parametrize(("data", "entity", "limits", "words"), REFUSED)
def test_a_file_that_cannot_be_imported_is_refused_saying_why(
    data: bytes, entity: Entity, limits: dict[str, int], words: list[str]
) -> None:
    # when the file is surveyed
    with pytest.raises(FileRefused) as refused:
        survey_of(data, entity, **limits)

    # then the message says what is wrong
    for word in words:
        assert word in refused.value.message


def test_read_rows_enforces_the_limits_too() -> None:
    # given a file over the row limit
    data = classes_file("1,A,X", "2,B,X", "3,C,X")

    # when it is read without a survey, then it is refused at the first row past the limit
    with pytest.raises(FileRefused, match="more rows than the limit of 2"):
        rows_of(data, max_rows=2)


def test_a_cell_quoted_over_many_lines_is_stopped_at_the_cell_limit() -> None:
    # given a quoted cell of many short lines, longer than the cell limit in all
    data = classes_file('1,"' + "line\n" * 3000 + '",Lincoln')

    # when surveyed, then it is refused as a long cell in the row where it starts
    with pytest.raises(FileRefused, match="Row 2 has a cell longer than 10,000 characters"):
        survey_of(data)


@pytest.mark.parametrize(
    ("start", "filler"),
    [(b"1,", b"x"), (b'1,"', b"x"), (b"1,", "é".encode())],
    ids=["unquoted", "quoted", "accented"],
)
def test_a_50_mb_single_line_is_refused_quickly_without_holding_it(
    start: bytes, filler: bytes
) -> None:
    # given a header and then one 50 MB line, made only as it is read
    upload = LazyFile(f"{CLASSES_HEADER}\r\n".encode() + start, filler, 50 * MB)

    # when surveyed
    tracemalloc.start()
    try:
        with pytest.raises(FileRefused) as refused:
            survey(
                lambda: contextlib.nullcontext(upload),
                entity=Entity.CLASSES,
                purchased=(),
                limits=ImportLimits(),
            )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    # then it is refused as a long cell after reading a small part, in bounded memory
    assert "Row 2 has a cell longer than 10,000 characters" in refused.value.message
    assert upload.produced < 10 * MB
    assert peak < 20 * MB


@pytest.mark.parametrize("cell", [b"", b"ab", b'"a"'], ids=["empty", "text", "quoted"])
def test_a_million_columns_are_refused_in_bounded_memory(cell: bytes) -> None:
    # given a row of a million cells
    upload = LazyFile(f"{CLASSES_HEADER}\r\n".encode(), cell + b",", 1_000_000 * (len(cell) + 1))

    # when surveyed
    tracemalloc.start()
    try:
        with pytest.raises(FileRefused) as refused:
            survey(
                lambda: contextlib.nullcontext(upload),
                entity=Entity.CLASSES,
                purchased=(),
                limits=ImportLimits(),
            )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    # then the row is refused for its cells
    assert "Row 2 has more than 200 cells" in refused.value.message
    assert peak < 20 * MB


def test_the_process_wide_csv_field_limit_is_restored_after_every_pass() -> None:
    # given the csv module's setting before any import
    before = csv.field_size_limit()
    good = classes_file("1,Math,Lincoln", "2,Art,Adams")

    # when a file is surveyed, a refused one too, and a read is stopped half way
    survey_of(good)
    with pytest.raises(FileRefused):
        survey_of(b"\x1f\x8b\x08")
    with pytest.raises(FileRefused):
        survey_of(classes_file("1," + "x" * 50 + ",A"), max_cell_chars=10)
    rows = read_rows(opener(good), encoding="utf-8", limits=ImportLimits(max_cell_chars=20))
    next(rows)
    during = csv.field_size_limit()
    rows.close()

    # then the limit applied only while parsing
    assert during == 21
    assert csv.field_size_limit() == before


# Object storage


def test_survey_and_read_rows_stream_the_file_from_an_object_store() -> None:
    # given an upload in Windows-1252 kept in object storage
    store = RecordingStore()
    key = "uploads/7/classes.csv"
    store.objects[key] = f"{CLASSES_HEADER}\r\n1,Español,Lincoln\r\n".encode("cp1252")

    # when it is surveyed, then read
    found = survey(
        lambda: store.open_read(key), entity=Entity.CLASSES, purchased=(), limits=ImportLimits()
    )
    rows = list(
        read_rows(lambda: store.open_read(key), encoding=found.encoding, limits=ImportLimits())
    )

    # then the first pass restarted once for the encoding, and the rows are right
    assert found.encoding == "cp1252"
    assert rows == [(2, ["1", "Español", "Lincoln"])]
    assert store.calls == [("open_read", key)] * 3
