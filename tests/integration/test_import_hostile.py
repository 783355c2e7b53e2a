"""Hostile uploads (`tests.hostile.files`), each imported into the small district.

Every file is generated at test time, the big ones as a stream the import reads lazily.
`HOSTILE` holds one expectation per file: the key words of the job's one message when the
whole file is refused, or the exact outcome (and error key words) of every data row. Each
import runs under `tracemalloc` and a clock; the figures are printed (`pytest -s`) and must
stay within generous bounds, so a file cannot make a worker run out of memory or time.
"""

from __future__ import annotations

import csv
import io
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from jobs.csv_in import ImportLimits
from jobs.imports import run_import
from jobs.lifecycle import JobContext, run_job
from schemas.cells import cell_value, unneutralise
from storage.db import unit_of_work
from storage.models import Job
from tests import factories
from tests.factories import SmallDistrict
from tests.hostile.files import FILES, FORMULA_STUDENTS, FORMULAS, MB, GeneratedUploads
from tests.importing import ImportRun, change_count, export_bytes, finished, submit

MAX_TRACED_BYTES = 60 * MB
MAX_SECONDS = 60.0
SAVE_AS_UTF8 = 'Save it from your spreadsheet as "CSV UTF-8 (Comma delimited)"'
CONTROL = "The value contains an invisible control character"
DIRECTION = "The value contains an invisible text-direction character"


@dataclass(frozen=True)
class Refused:
    """The job fails with one message holding each of `words`."""

    words: tuple[str, ...]
    limits: ImportLimits = field(default_factory=ImportLimits)
    entity: str = "students"


@dataclass(frozen=True)
class Imported:
    """The job reads the file row by row. `rows`: row number → (outcome, key words of each
    error); `export`: cells a fresh export shows for a username; every record the job
    created or changed must be listed there."""

    rows: dict[int, tuple[str, tuple[str, ...]]]
    export: dict[str, dict[str, str]] = field(default_factory=dict)
    limits: ImportLimits = field(default_factory=ImportLimits)
    entity: str = "students"


def refused(*words: str, limits: ImportLimits | None = None) -> Refused:
    return Refused(words, limits or ImportLimits())


CREATED: tuple[str, tuple[str, ...]] = ("created", ())
UNCHANGED: tuple[str, tuple[str, ...]] = ("unchanged", ())


def failed(*words: str) -> tuple[str, tuple[str, ...]]:
    return ("failed", words)


UTF16 = refused("The file is saved as UTF-16 text, which import cannot read.", SAVE_AS_UTF8)
UTF32 = refused("The file is saved as UTF-32 text, which import cannot read.", SAVE_AS_UTF8)
WEB_PAGE = refused("The file looks like a web page", "Download the export again")
SAVE_AS_XLSX = "save it as Excel Workbook (.xlsx), and upload it again."
NEVER_CLOSED = 'has a quote mark (") that is never closed'
TOO_MANY_CELLS = "has more than 200 cells, the most a row may have."
CELL_TOO_LONG = "has a cell longer than 10,000 characters, the most a cell may hold."
FORMULA_EXPORT = {
    f"formula{row}": {
        "First Name": f"'{cell_value(first)}",
        "Last Name": f"'{cell_value(last)}",
        "External Assigned ID": f"'{cell_value(external)}",
        "Race": f"'{cell_value(race)}",
        "Home Language": f"'{cell_value(language)}",
    }
    for row, (first, last, external, race, language) in enumerate(FORMULA_STUDENTS, start=3)
}

HOSTILE: dict[str, Refused | Imported] = {
    "invalid_utf8_undefined_byte_mid_file": refused(
        "The file is neither UTF-8 nor Windows-1252 text (it holds the byte 0x81", SAVE_AS_UTF8
    ),
    "invalid_utf8_cut_letter_after_utf8_letters": refused(
        "The file mixes UTF-8 text with Windows-1252 text (row 2 is UTF-8"
    ),
    "invalid_utf8_after_bom_mid_file": refused(
        "The file starts as UTF-8 text but is not valid UTF-8 further on (byte 0xFF)."
    ),
    "utf16_le_with_bom": UTF16,
    "utf16_be_with_bom": UTF16,
    "utf16_le_without_bom": UTF16,
    "utf32_le_with_bom": UTF32,
    "utf32_be_with_bom": UTF32,
    "nul_bytes_inside_cells": Imported(
        {
            2: failed(f"First Name: {CONTROL} (U+0000)"),
            3: CREATED,
            4: failed(f"Organizations: 'North Elementary\x00': {CONTROL} (U+0000)"),
        },
        export={"hostile1": {"First Name": "Ann"}},
    ),
    "nul_padding_after_header": UTF16,  # half NUL bytes: read as UTF-16 without a BOM
    "control_bytes_after_header": refused("The file holds binary data, not text"),
    "control_characters_in_names": Imported(
        {
            2: failed(f"First Name: {CONTROL} (U+0007)"),
            3: failed(f"Last Name: {CONTROL} (U+001B)"),
            4: CREATED,
        },
        export={"hostile1": {"First Name": "Ann"}},
    ),
    "right_to_left_override_in_names": Imported(
        {
            2: failed(f"First Name: {DIRECTION} (U+202E)"),
            3: failed(f"Last Name: {DIRECTION} (U+202D)"),
            4: failed(f"Last Name: {DIRECTION} (U+2067)"),
        }
    ),
    "right_to_left_names": Imported(
        {2: CREATED, 3: CREATED},
        export={
            "rtl_ar": {"First Name": "محمد", "Last Name": "العلي"},
            "rtl_he": {"First Name": "שרה", "Last Name": "כהן\u200f-Cohen"},
        },
    ),
    "zero_width_joiners_in_names": Imported(
        {2: CREATED, 3: CREATED},
        export={
            "zwj1": {"First Name": "\U0001f469\u200d\U0001f467"},
            "zwj2": {"First Name": "\u0915\u094d\u200d\u0937", "Last Name": "Sharma\u200b"},
        },
    ),
    "unterminated_quote_in_header": refused(f"Row 1 {NEVER_CLOSED}"),
    "unterminated_quote_at_first_data_row": refused(f"Row 2 {NEVER_CLOSED}"),
    "unterminated_quote_near_end": refused(f"Row 502 {NEVER_CLOSED}"),
    "quoted_line_breaks_bomb": refused(f"Row 2 {CELL_TOO_LONG}", "look for a quote mark"),
    "quoted_line_breaks_under_cell_limit": Imported(
        {2: failed("First Name: Line breaks are not allowed here"), 3: CREATED},
        export={"hostile1": {"First Name": "Ann"}},
    ),
    "single_50mb_line": refused(f"Row 2 {CELL_TOO_LONG}"),
    "million_columns": refused(f"Row 2 {TOO_MANY_CELLS}"),
    "million_quoted_columns": refused(f"Row 2 {TOO_MANY_CELLS}"),
    "ten_thousand_empty_header_columns": refused(f"Row 1 {TOO_MANY_CELLS}"),
    "cell_over_the_limit": refused(f"Row 3 {CELL_TOO_LONG}"),
    "cell_at_the_limit": Imported(
        {2: CREATED, 3: failed("First Name: The value is 10000 characters long; at most")},
        export={"hostile1": {"First Name": "Ann"}},
    ),
    "extremely_long_username": Imported(
        {2: failed("Username: The value is 5000 characters long; at most 100 are allowed.")}
    ),
    "extremely_long_educator_email": Imported(
        {2: failed("Username: The value is 302 characters long; at most 254 are allowed.")},
        entity="educators",
    ),
    "rows_over_max_rows": refused(
        "The file has more rows than the limit of 3 for one import (row 5 is past it).",
        limits=ImportLimits(max_rows=3),
    ),
    "rows_at_max_rows": Imported(
        {2: CREATED, 3: CREATED, 4: CREATED},
        export={f"hostile{n}": {"First Name": "Ann"} for n in range(3)},
        limits=ImportLimits(max_rows=3),
    ),
    "empty_lines_under_the_byte_limit": Imported({}),
    "endless_empty_lines": refused(
        "The file is larger than 100 MB, the most one import may read", "Split it"
    ),
    "endless_rows_of_commas": refused(
        "The file is larger than 10 MB, the most one import may read",
        limits=ImportLimits(max_bytes=10 * MB),
    ),
    "a_million_blank_spreadsheet_rows_then_a_row": Imported(
        {1_048_576: CREATED}, export={"hostile1": {"First Name": "Ann"}}
    ),
    "rows_between_long_runs_of_lf_cr_and_crlf_empty_lines": Imported(
        {2: CREATED, 200_003: CREATED, 400_004: CREATED, 600_005: CREATED},
        export={f"hostile{n}": {"First Name": "Ann"} for n in range(1, 5)},
    ),
    "empty_lines_under_a_small_byte_limit": Imported({}, limits=ImportLimits(max_bytes=MB)),
    "endless_empty_lines_past_a_small_byte_limit": refused(
        "The file is larger than 1 MB, the most one import may read",
        limits=ImportLimits(max_bytes=MB),
    ),
    "gzip_named_csv": refused("The file is a compressed (gzip) file, not a CSV file."),
    "zip_named_csv": refused("The file is a ZIP archive, not a workbook.", "Upload the .xlsx"),
    "xlsx_named_csv": refused("The workbook is damaged: xl/_rels/workbook.xml.rels is missing."),
    "xls_named_csv": refused(
        "The file is an Excel 97-2003 workbook (.xls), which import cannot read.", SAVE_AS_XLSX
    ),
    "html_error_page": WEB_PAGE,
    "html_error_page_with_bom": WEB_PAGE,
    "html_error_page_after_blank_lines": WEB_PAGE,
    "html_page_saved_by_a_browser": WEB_PAGE,
    "formula_payloads_in_every_column": Imported(
        {
            2: failed(
                "Database ID: ",
                "Grade: ",
                "Organizations: ",
                "Classes/Groups: ",
                "Birth Date: ",
                "Gender: ",
                "Hispanic or Latino: ",
                "English Learner: ",
                "Special Education: ",
                "Economically Disadvantaged: ",
                "Test Text-to-Speech: ",
                "Test Extended Time: ",
            ),
            **{row: CREATED for row in range(3, 3 + len(FORMULA_STUDENTS))},
        },
        export=FORMULA_EXPORT,
    ),
    "header_only_without_line_end": Imported({}),
    "header_then_blank_lines": Imported({}),
    "bom_only": refused("The file is empty."),
    "bom_then_blank_lines": refused("row 1 of the file is empty"),
    "header_repeated_as_data_row": Imported(
        {
            2: UNCHANGED,
            3: failed(
                "Database ID: 'Database ID' is not a Database ID",
                "Grade: 'Grade' is not a grade",
                "Organizations: no school named 'Organizations' in this district.",
            ),
            4: CREATED,
        },
        export={"hostile1": {"First Name": "Ann"}},
    ),
}

# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def roster(sessions: sessionmaker[Session]) -> SmallDistrict:
    with unit_of_work(sessions) as session:
        return factories.small_district(session)


@pytest.fixture
def store(tmp_path: Path) -> GeneratedUploads:
    return GeneratedUploads(tmp_path / "objects")


# --- helpers -----------------------------------------------------------------------------

Export = dict[str, dict[str, str]]  # a fresh export's rows by Username


@dataclass(frozen=True)
class Measured:
    run: ImportRun
    seconds: float
    peak_bytes: int


def _export(ctx: JobContext, roster: SmallDistrict, entity: str) -> Export:
    text = export_bytes(ctx, roster, entity).decode("utf-8-sig")
    return {row["Username"]: row for row in csv.DictReader(io.StringIO(text, newline=""))}


def _import(ctx: JobContext, store: GeneratedUploads, roster: SmallDistrict, name: str) -> Measured:
    """Upload the generated file (served lazily, never written) and run the real job."""
    expected = HOSTILE[name]
    ids = {student.username: str(student.id) for student in roster.students}
    job_id = submit(ctx, roster, b"", entity=expected.entity)
    with ctx.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.input_key is not None
        store.generate(job.input_key, lambda: FILES[name](ids))
    tracemalloc.start()
    started = time.perf_counter()
    try:
        run_job(ctx, job_id, run_import)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"\n[hostile] {name}: {seconds:.2f} s, peak traced memory {peak / MB:.1f} MB")
    return Measured(finished(ctx, job_id), seconds, peak)


def _errors(cell: str) -> list[str]:
    return unneutralise(cell).split(" | ") if cell else []


def _unmatched(errors: list[str], starts: tuple[str, ...]) -> list[str]:
    """What does not pair up, one error starting with each expected start; empty when all do."""
    left = list(errors)
    missing = []
    for start in starts:
        hit = next((error for error in left if error.startswith(start)), None)
        if hit is None:
            missing.append(f"missing: {start}")
        else:
            left.remove(hit)
    return missing + [f"unexpected: {error}" for error in left]


def _cases(kind: type[Imported] | type[Refused]) -> list[str]:
    return [name for name, expected in sorted(HOSTILE.items()) if isinstance(expected, kind)]


def _context(sessions: sessionmaker[Session], store: GeneratedUploads, name: str) -> JobContext:
    limits = HOSTILE[name].limits
    return JobContext(sessions=sessions, store=store, batch_rows=2, import_limits=limits)


# --- tests -------------------------------------------------------------------------------


def test_every_generated_hostile_file_has_exactly_one_expectation() -> None:
    # then
    assert set(FILES) == set(HOSTILE)
    assert len(FILES) >= 25


@pytest.mark.parametrize("name", _cases(Refused))
def test_a_hostile_file_fails_the_job_with_a_clear_message_quickly_and_changes_nothing(
    sessions: sessionmaker[Session], store: GeneratedUploads, roster: SmallDistrict, name: str
) -> None:
    # given
    expected = HOSTILE[name]
    assert isinstance(expected, Refused)
    ctx = _context(sessions, store, name)
    before = _export(ctx, roster, expected.entity)

    # when
    measured = _import(ctx, store, roster, name)

    # then the job failed with one message a teacher can act on
    run = measured.run
    assert run.job.status == "failed", run.job.counts
    error = run.job.error or ""
    assert [words for words in expected.words if words not in error] == [], error
    assert run.results == [] and run.errors == []

    # then nothing was applied
    assert change_count(ctx.sessions, run.job.id) == 0
    assert _export(ctx, roster, expected.entity) == before

    # then the worker kept its memory and time
    assert measured.peak_bytes < MAX_TRACED_BYTES
    assert measured.seconds < MAX_SECONDS


@pytest.mark.parametrize("name", _cases(Imported))
def test_a_hostile_file_read_row_by_row_gives_every_row_exactly_its_expected_outcome(
    sessions: sessionmaker[Session], store: GeneratedUploads, roster: SmallDistrict, name: str
) -> None:
    # given
    expected = HOSTILE[name]
    assert isinstance(expected, Imported)
    ctx = _context(sessions, store, name)
    before = _export(ctx, roster, expected.entity)

    # when
    measured = _import(ctx, store, roster, name)

    # then the job ended with the counts of its rows
    run = measured.run
    tally = Counter(outcome for outcome, _ in expected.rows.values())
    assert run.job.error is None
    assert run.job.status == ("completed_with_errors" if tally["failed"] else "completed")
    assert run.job.counts == {o: tally[o] for o in ("created", "updated", "unchanged", "failed")}

    # then every row has its outcome, and each refused row exactly its errors
    assert [int(result["Row"]) for result in run.results] == sorted(expected.rows)
    for number, (outcome, words) in expected.rows.items():
        errors = _errors(run.errors_of(number))
        assert run.outcome(number) == outcome, (number, errors)
        assert _unmatched(errors, words) == [], f"row {number}"

    # then only the created records are new, each as the export shows it
    after = _export(ctx, roster, expected.entity)
    created = {username for username in after if username not in before}
    assert created == {u for u in expected.export if u not in before}
    assert {u: row for u, row in after.items() if u in before} == before
    for username, cells in expected.export.items():
        assert {column: after[username][column] for column in cells} == cells, username

    # then the worker kept its memory and time
    assert measured.peak_bytes < MAX_TRACED_BYTES
    assert measured.seconds < MAX_SECONDS


def test_formula_payloads_are_stored_as_plain_text_and_neutralised_again_by_a_fresh_export(
    sessions: sessionmaker[Session], store: GeneratedUploads, roster: SmallDistrict
) -> None:
    # given
    ctx = _context(sessions, store, "formula_payloads_in_every_column")

    # when
    _import(ctx, store, roster, "formula_payloads_in_every_column")

    # then no exported cell of the new students starts a formula without the export's quote
    text = export_bytes(ctx, roster, "students").decode("utf-8-sig")
    rows = [row for row in csv.reader(io.StringIO(text, newline="")) if "formula" in row[3]]
    assert len(rows) == len(FORMULA_STUDENTS) + 1  # the district's own formula1 too
    for row in rows:
        for cell in row:
            assert not cell or cell[0] not in "=+-@\t\r", row
    assert any(cell == f"'{FORMULAS[0]}" for row in rows for cell in row)
