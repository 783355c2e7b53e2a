"""Hostile workbooks (`tests.hostile.workbooks`), each imported into the small district.

The XLSX side of `test_import_hostile`: zip bombs, XML entities (expanded or fetched),
millions of shared strings, 16,384 columns, a million formatted empty rows, encrypted,
old-binary, OpenDocument, damaged files, and a CSV that is named `.xlsx`. Every file is
built before the job starts (outside the traced memory) and uploaded under an `.xlsx`
name. A refused file fails the job with one sentence, nothing applied; a file read row by
row gives each row its outcome. Each import runs under `tracemalloc` and a clock, like the
CSV harness; the figures are printed (`pytest -s`). The reader does not depend on the
database, so these run on SQLite alone.
"""

from __future__ import annotations

import io
import json
import time
import tracemalloc
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from jobs.csv_in import ImportLimits
from jobs.imports import run_import
from jobs.lifecycle import JobContext, run_job
from storage.db import unit_of_work
from storage.models import ImportRowResult, Job
from storage.objects import FolderStore
from tests import factories
from tests.factories import SmallDistrict
from tests.hostile.files import MB
from tests.hostile.workbooks import WORKBOOKS
from tests.importing import ImportRun, change_count
from tests.integration.test_import_hostile import (
    CREATED,
    Imported,
    Refused,
    _errors,
    _export,
    _unmatched,
    refused,
)
from tests.workbooks import finished_any, submit_file

MAX_TRACED_BYTES = 60 * MB
MAX_SECONDS = 60.0
SAVE_AS_XLSX = "save it as Excel Workbook (.xlsx), and upload it again."
HARM = "it may be damaged or built to harm"
DOCTYPE = refused("The workbook holds XML declarations (a DOCTYPE)", HARM, SAVE_AS_XLSX)
PASSWD_LINE = "root:x:0:0"
ANN = {"First Name": "Ann", "Last Name": "Lee"}

HOSTILE: dict[str, Refused | Imported] = {
    "zip_bomb_of_three_gigabytes": refused(
        "The workbook unpacks to more than 2,000 MB", HARM, SAVE_AS_XLSX
    ),
    "zip_bomb_declaring_a_small_size": refused("The workbook is damaged", SAVE_AS_XLSX),
    "billion_laughs_in_the_sheet": DOCTYPE,
    "billion_laughs_in_shared_strings": DOCTYPE,
    "billion_laughs_after_a_long_comment_in_the_sheet": DOCTYPE,
    "billion_laughs_after_a_long_comment_in_the_workbook_part": refused(
        "The workbook", SAVE_AS_XLSX
    ),
    "external_entity_in_the_sheet": DOCTYPE,
    "external_entity_in_shared_strings": DOCTYPE,
    "external_entity_after_a_long_comment_in_the_sheet": DOCTYPE,
    "shared_strings_over_the_limit": refused(
        "The workbook holds more than 3,000,000 different texts", "Split it"
    ),
    "two_hundred_thousand_shared_strings": Imported(
        {2: CREATED, 3: CREATED, 4: CREATED},
        export={
            "hostile1": {"First Name": "s199999"},
            "hostile2": {"First Name": "s199998"},
            "hostile3": {"First Name": "s199997"},
        },
    ),
    # 200,000 texts of 1,000 characters: a 1 MB upload that unpacks to 200 MB of text
    "long_shared_strings_unpacking_far_past_the_upload": refused("The workbook", "texts"),
    "a_value_in_column_xfd": refused(
        "Row 2 has a value in column XFD, past the 200 columns a row may have."
    ),
    # the first column past the limit (GS) or the last one (XFD): either tells what to delete
    "values_in_all_16384_columns": refused(
        "Row 2 has a value in column ", ", past the 200 columns a row may have."
    ),
    "formatted_empty_cells_out_to_column_xfd": Imported(
        {2: CREATED, 3: CREATED, 4: CREATED}, export={f"hostile{n}": ANN for n in (1, 2, 3)}
    ),
    "a_million_empty_formatted_rows_after_the_data": Imported(
        {2: CREATED, 3: CREATED, 4: CREATED}, export={f"hostile{n}": ANN for n in (1, 2, 3)}
    ),
    "password_protected_workbook": refused(
        "The workbook is protected by a password, so it cannot be read.", "Remove the password"
    ),
    "excel_97_2003_xls": refused(
        "The file is an Excel 97-2003 workbook (.xls), which import cannot read.", SAVE_AS_XLSX
    ),
    "opendocument_ods": refused(
        "The file is an OpenDocument spreadsheet (.ods), which import cannot read.", SAVE_AS_XLSX
    ),
    "truncated_xlsx": refused("damaged, so it cannot be read", SAVE_AS_XLSX),
    "one_inline_cell_of_fifty_mb": refused("The worksheet has a row longer than"),
    # a 60 KB upload: one text of 60 million characters, held and scanned before any check
    "one_shared_string_of_sixty_mb": refused("longer than"),
    "plain_zip_named_xlsx": refused(
        "The file is a ZIP archive, not a workbook.", "Upload the .xlsx or .csv file itself."
    ),
    "csv_named_xlsx": Imported({2: CREATED, 3: CREATED}, export={"hostile1": ANN, "hostile2": ANN}),
}

SLOW = frozenset(
    {
        "shared_strings_over_the_limit",
        "long_shared_strings_unpacking_far_past_the_upload",
        "a_million_empty_formatted_rows_after_the_data",
        "one_shared_string_of_sixty_mb",
    }
)
"""Cases that take over half a minute under `tracemalloc`: `make test-slow` runs them."""
SECONDS = {"a_million_empty_formatted_rows_after_the_data": 180.0}
"""A longer bound where `tracemalloc`'s cost per allocation dominates (a million rows)."""
READER = {"csv_named_xlsx": "csv"}
"""The format each read file is recognised as, when not XLSX."""

# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture
def roster(sessions: sessionmaker[Session]) -> SmallDistrict:
    with unit_of_work(sessions) as session:
        return factories.small_district(session)


@pytest.fixture
def ctx(sessions: sessionmaker[Session], tmp_path: Path) -> JobContext:
    return JobContext(
        sessions=sessions,
        store=FolderStore(tmp_path / "objects"),
        batch_rows=2,
        import_limits=ImportLimits(),
    )


# --- helpers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    run: ImportRun
    seconds: float
    peak_bytes: int


def _import(ctx: JobContext, roster: SmallDistrict, name: str) -> Measured:
    data = WORKBOOKS[name]()
    job_id = submit_file(ctx, roster, data, filename=f"{name}.xlsx")
    del data
    tracemalloc.start()
    started = time.perf_counter()
    try:
        run_job(ctx, job_id, run_import)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"\n[hostile xlsx] {name}: {seconds:.2f} s, peak traced memory {peak / MB:.1f} MB")
    return Measured(finished_any(ctx, job_id), seconds, peak)


def _everything_the_job_shows(ctx: JobContext, job_id: str) -> str:
    """The job record, its stored row results and its reports, as one text."""
    with ctx.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        results = session.query(ImportRowResult).filter(ImportRowResult.job_id == job_id).all()
        shown = [job.error, job.warnings, job.counts, job.options]
        shown += [(r.errors, r.claimed_name, r.claimed_external_id) for r in results]
    run = finished_any(ctx, job_id)
    return json.dumps([shown, run.results, run.errors], default=str, ensure_ascii=False)


def _cases(kind: type[Imported] | type[Refused]) -> list[object]:
    return [
        pytest.param(name, marks=(pytest.mark.slow,) if name in SLOW else ())
        for name, expected in sorted(HOSTILE.items())
        if isinstance(expected, kind)
    ]


# --- tests -------------------------------------------------------------------------------


def test_every_generated_hostile_workbook_has_exactly_one_expectation() -> None:
    # then
    assert set(WORKBOOKS) == set(HOSTILE)


def test_the_zip_bomb_is_a_few_mb_that_unpacks_to_gigabytes() -> None:
    # when
    data = WORKBOOKS["zip_bomb_of_three_gigabytes"]()

    # then it is what a zip bomb is: tiny, and a valid zip that declares gigabytes
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        sheet = package.getinfo("xl/worksheets/sheet1.xml")
    assert len(data) < 4 * MB
    assert sheet.file_size > 3 * 1024 * MB


@pytest.mark.parametrize("name", _cases(Refused))
def test_a_hostile_workbook_fails_the_job_with_a_clear_message_quickly_and_changes_nothing(
    ctx: JobContext, roster: SmallDistrict, name: str
) -> None:
    # given
    expected = HOSTILE[name]
    assert isinstance(expected, Refused)
    before = _export(ctx, roster, expected.entity)

    # when
    measured = _import(ctx, roster, name)

    # then the job failed with one message a teacher can act on
    run = measured.run
    assert run.job.status == "failed", (run.job.counts, run.results[:3])
    error = run.job.error or ""
    assert [words for words in expected.words if words not in error] == [], error
    assert error.count(". ") <= 3 and "\n" not in error and "Traceback" not in error
    assert run.results == [] and run.errors == []

    # then nothing was applied, and no file's content was fetched into the job
    assert change_count(ctx.sessions, run.job.id) == 0
    assert _export(ctx, roster, expected.entity) == before
    assert PASSWD_LINE not in _everything_the_job_shows(ctx, run.job.id)

    # then the worker kept its memory and time
    assert measured.peak_bytes < MAX_TRACED_BYTES
    assert measured.seconds < SECONDS.get(name, MAX_SECONDS)


@pytest.mark.parametrize("name", _cases(Imported))
def test_a_hostile_workbook_read_row_by_row_gives_every_row_exactly_its_expected_outcome(
    ctx: JobContext, roster: SmallDistrict, name: str
) -> None:
    # given
    expected = HOSTILE[name]
    assert isinstance(expected, Imported)
    before = _export(ctx, roster, expected.entity)

    # when
    measured = _import(ctx, roster, name)

    # then the job ended with the counts of its rows, read as the format the content is
    run = measured.run
    tally = Counter(outcome for outcome, _ in expected.rows.values())
    assert run.job.error is None
    assert run.job.status == ("completed_with_errors" if tally["failed"] else "completed")
    assert run.job.counts == {o: tally[o] for o in ("created", "updated", "unchanged", "failed")}
    assert (run.job.result_key or "").endswith(f".{READER.get(name, 'xlsx')}")

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
    assert measured.seconds < SECONDS.get(name, MAX_SECONDS)
