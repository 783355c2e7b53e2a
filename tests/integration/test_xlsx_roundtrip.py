"""XLSX export and import, read and written by programs nobody here wrote.

LibreOffice (headless `soffice`, a private profile per test session) opens the export and
saves it again as XLSX (shared strings, its own styles and XML) and as CSV; openpyxl edits
it as a person would, typing numbers, dates, booleans and formulas into cells. Each file
imports with exactly the changes made, and nothing else: IDs with leading zeros, 18-digit
IDs, formula-looking names and names in any script come back as they left.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.styles import PatternFill
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

import jobs.import_overlap
import jobs.imports
from jobs.errors import TransientJobError
from jobs.imports import run_general_import, run_import
from jobs.lifecycle import JobContext, Pipeline, run_job
from schemas.cells import unneutralise
from storage import bulk_writes
from storage.db import unit_of_work
from storage.models import Student
from storage.objects import FolderStore
from tests import factories
from tests.databases import truncate_all
from tests.factories import SmallDistrict
from tests.importing import change_count, export_bytes
from tests.integration.test_import_fast_path import _seen, small_districts
from tests.workbooks import (
    csv_rows,
    export_as,
    finished_any,
    import_file,
    records,
    sheet_rows,
    stored,
    submit_file,
)

EIGHTEEN_DIGITS = "123456789012345678"
EXTRA_STUDENTS = (
    # username, first name, last name, External Assigned ID
    ("zeros", "=1+2", "-Smith", "00123"),
    ("longid", "'quoted", "Ångström-Þór", EIGHTEEN_DIGITS),
    ("arabic", "محمد", "العلي", "0007"),
    ("chinese", "王小明", "李", "+44 20"),
    ("plus", "+Plus", "@Home", "-5"),
)
GRADES = '"PK,K,1,2,3,4,5,6,7,8,9,10,11,12"'
YES_NO = '"Yes,No"'
UNCHANGED_ALL = 4 + len(EXTRA_STUDENTS)


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def roster(sessions: sessionmaker[Session]) -> SmallDistrict:
    """The small district and students whose cells a spreadsheet would mangle."""
    with unit_of_work(sessions) as session:
        roster = factories.small_district(session)
        for username, first, last, external in EXTRA_STUDENTS:
            roster.students.append(
                factories.student(
                    session,
                    roster.north,
                    [roster.class_a],
                    username=username,
                    first_name=first,
                    last_name=last,
                    external_id=external,
                )
            )
        return roster


@pytest.fixture
def ctx(sessions: sessionmaker[Session], tmp_path: Path) -> JobContext:
    return JobContext(sessions=sessions, store=FolderStore(tmp_path / "objects"), batch_rows=2)


Convert = Callable[[bytes, str, str], bytes]


@pytest.fixture(scope="session")
def libreoffice(tmp_path_factory: pytest.TempPathFactory) -> Convert:
    """`convert(data, suffix, filter)`: the file LibreOffice writes after opening `data`
    (saved with `suffix`), converted with `--convert-to filter`."""
    soffice = shutil.which("soffice")
    assert soffice, "LibreOffice (soffice) is installed by scripts/services.sh"
    base = tmp_path_factory.mktemp("libreoffice")
    profile = (base / "profile").as_uri()
    counter = iter(range(1_000_000))

    def convert(data: bytes, suffix: str, filter_: str) -> bytes:
        work = base / f"run{next(counter)}"
        (work / "out").mkdir(parents=True)
        source = work / f"export.{suffix}"
        source.write_bytes(data)
        done = subprocess.run(
            [soffice, f"-env:UserInstallation={profile}", "--headless", "--norestore",
             "--convert-to", filter_, "--outdir", str(work / "out"), str(source)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        written = list((work / "out").iterdir())
        assert done.returncode == 0 and len(written) == 1, (done.stdout, done.stderr)
        return written[0].read_bytes()

    return convert


# --- helpers -----------------------------------------------------------------------------


def _book(data: bytes) -> Any:
    return openpyxl.load_workbook(io.BytesIO(data))


def _saved(book: Any) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _find(sheet: Worksheet, username: str, column: str) -> Any:
    """The cell of `column` in the row of `username`."""
    header = [cell.value for cell in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        if row[header.index("Username")].value == username:
            return row[header.index(column)]
    raise AssertionError(f"no row for {username}")


def _counts(created: int = 0, updated: int = 0, unchanged: int = 0, failed: int = 0) -> Any:
    return {"created": created, "updated": updated, "unchanged": unchanged, "failed": failed}


def _csv_export(ctx: JobContext, roster: SmallDistrict) -> dict[str, dict[str, str]]:
    rows = records(
        [
            [unneutralise(cell) for cell in row]
            for row in csv_rows(export_bytes(ctx, roster, "students"))
        ]
    )
    return {row["Username"]: row for row in rows}


def _full_rows(sheet: Worksheet, width: int) -> list[list[str]]:
    return [
        ["" if value is None else str(value) for value in row]
        for row in sheet.iter_rows(max_col=width, values_only=True)
    ]


# --- LibreOffice -------------------------------------------------------------------------


def test_libreoffice_saves_our_export_again_as_xlsx_and_as_csv_and_both_import_unchanged(
    ctx: JobContext, roster: SmallDistrict, libreoffice: Convert
) -> None:
    # given our XLSX export, opened and saved again by LibreOffice as XLSX and as CSV
    exported = export_as(ctx, roster, "xlsx")
    resaved = libreoffice(exported, "xlsx", "xlsx")
    as_csv = libreoffice(exported, "xlsx", "csv:Text - txt - csv (StarCalc):44,34,76,1")

    # then LibreOffice wrote its own workbook (shared strings), every ID still text
    with zipfile.ZipFile(io.BytesIO(resaved)) as package:
        assert "xl/sharedStrings.xml" in package.namelist()
    table = sheet_rows(resaved)
    ids = [row[5] for row in table[1:]]
    assert {"00123", EIGHTEEN_DIGITS, "0007", "000123", "+44 20", "-5"} <= set(ids)
    assert {"=1+2", "'quoted", "محمد", "王小明", "+Plus"} <= {row[1] for row in table[1:]}
    csv_text = as_csv.decode("utf-8")
    assert "00123" in csv_text and EIGHTEEN_DIGITS in csv_text and "E+17" not in csv_text

    # when both are imported
    from_xlsx = import_file(ctx, roster, resaved)
    from_csv = import_file(ctx, roster, as_csv, filename="export.csv")

    # then every row is unchanged, and nothing was written
    assert from_xlsx.job.error is None and from_csv.job.error is None
    assert from_xlsx.job.counts == _counts(unchanged=UNCHANGED_ALL)
    assert from_csv.job.counts == _counts(unchanged=UNCHANGED_ALL)
    assert {r["Result"] for r in from_xlsx.results + from_csv.results} == {"unchanged"}
    assert change_count(ctx.sessions) == 0


# --- openpyxl edits ----------------------------------------------------------------------


def test_a_workbook_edited_in_openpyxl_imports_with_exactly_its_edits(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given our export with a grade changed, a class added and a number typed into an ID
    book = _book(export_as(ctx, roster, "xlsx"))
    sheet = book["Students"]
    _find(sheet, "jgarcia", "Grade").value = "5"
    _find(sheet, "zeros", "Classes/Groups").value = "Grade 3 - O'Brien;Grade 4 - Muñoz"
    _find(sheet, "anguyen", "External Assigned ID").value = 123456789012
    before = _csv_export(ctx, roster)

    # when
    run = import_file(ctx, roster, _saved(book))

    # then exactly those three rows are updated
    assert run.job.error is None
    assert run.job.counts == _counts(updated=3, unchanged=UNCHANGED_ALL - 3)
    updated = {r["Username"] for r in run.results if r["Result"] == "updated"}
    assert updated == {"jgarcia", "zeros", "anguyen"}
    after = _csv_export(ctx, roster)
    assert after["jgarcia"]["Grade"] == "5"
    assert after["zeros"]["Classes/Groups"] == "Grade 3 - O'Brien;Grade 4 - Muñoz"
    assert after["anguyen"]["External Assigned ID"] == "123456789012"
    with ctx.sessions() as session:
        stored_id = session.scalar(select(Student.external_id).where(Student.username == "anguyen"))
    assert stored_id == "123456789012"
    changed = {
        "jgarcia": {"Grade"},
        "zeros": {"Classes/Groups"},
        "anguyen": {"External Assigned ID"},
    }
    for username, row in after.items():
        left = {k: v for k, v in row.items() if k not in changed.get(username, set())}
        assert left == {k: v for k, v in before[username].items() if k in left}, username


def test_dates_booleans_and_formulas_typed_into_cells_read_as_a_person_means_them(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given a real date cell, a formula in Grade and a boolean in a Yes/No column
    book = _book(export_as(ctx, roster, "xlsx"))
    sheet = book["Students"]
    _find(sheet, "jgarcia", "Birth Date").value = dt.date(2015, 6, 1)
    _find(sheet, "zdangelo", "Grade").value = "=1+2"
    _find(sheet, "formula1", "English Learner").value = True

    # when
    run = import_file(ctx, roster, _saved(book))

    # then the date and the boolean are values, the formula refuses its row
    assert run.job.counts == _counts(updated=2, unchanged=UNCHANGED_ALL - 3, failed=1)
    results = {r["Username"]: r for r in run.results}
    assert results["jgarcia"]["Result"] == "updated"
    assert results["formula1"]["Result"] == "updated"
    assert results["zdangelo"]["Result"] == "failed"
    assert results["zdangelo"]["Errors"].startswith("Grade: a formula, not a value")
    assert results["zdangelo"]["Grade"] == "=1+2"  # the report shows what was typed
    after = _csv_export(ctx, roster)
    assert after["jgarcia"]["Birth Date"] == "2015-06-01"
    assert after["formula1"]["English Learner"] == "Yes"
    assert after["zdangelo"]["Grade"] == "K"


def test_the_students_sheet_is_found_when_not_first_and_formatted_empty_cells_are_ignored(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given a notes sheet put first, and cells formatted but empty far below and right
    book = _book(export_as(ctx, roster, "xlsx"))
    notes = book.create_sheet("Notes", 0)
    notes["A1"] = "Ask the office about row 3"
    book.active = 0
    sheet = book["Students"]
    fill = PatternFill("solid", fgColor="FFFF00")
    for number in range(2, 400):
        sheet.cell(row=number, column=60).fill = fill
        sheet.cell(row=number, column=1).number_format = "@"
    for number in range(400, 2_000, 7):
        sheet.row_dimensions[number].height = 30
        sheet.cell(row=number, column=3).fill = fill

    # when
    run = import_file(ctx, roster, _saved(book))

    # then the Students sheet was read, its data rows only
    assert book.sheetnames[0] == "Notes"
    assert run.job.error is None
    assert run.job.counts == _counts(unchanged=UNCHANGED_ALL)
    assert [int(r["Row"]) for r in run.results] == list(range(2, 2 + UNCHANGED_ALL))


# --- the export as a workbook --------------------------------------------------------------


@pytest.mark.parametrize(
    "request_",
    [
        {},
        {"columns": ("Birth Date", "English Learner", "Gender"), "grade": "3"},
        {"school_admin": True},
    ],
    ids=["every column", "some columns, grade 3", "a school admin's scope"],
)
def test_the_export_is_a_text_celled_workbook_with_the_csv_exports_rows_and_columns(
    ctx: JobContext, roster: SmallDistrict, request_: dict[str, Any]
) -> None:
    # given
    options: dict[str, Any] = {
        "columns": request_.get("columns"),
        "grade": request_.get("grade"),
        "username": roster.school_admin.username if request_.get("school_admin") else None,
    }

    # when the same request is exported as XLSX and as CSV
    book = _book(export_as(ctx, roster, "xlsx", **options))
    csv_table = [
        [unneutralise(cell) for cell in row]
        for row in csv_rows(export_as(ctx, roster, "csv", **options))
    ]

    # then one sheet named after the entity, holding the CSV's cells in the same order
    assert book.sheetnames == ["Students"]
    sheet = book["Students"]
    header = csv_table[0]
    assert _full_rows(sheet, len(header)) == csv_table
    assert sheet.max_row == len(csv_table)
    assert len(csv_table) > 2

    # then the header is bold, frozen and filtered over the data
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    last = openpyxl.utils.get_column_letter(len(header))
    assert sheet.auto_filter.ref == f"A1:{last}{len(csv_table)}"

    # then every data cell is a text cell, the IDs are strings, never numbers
    for row in sheet.iter_rows(min_row=2, max_col=len(header)):
        for cell in row:
            assert cell.number_format == "@", cell.coordinate
            assert cell.value is None or isinstance(cell.value, str), cell.coordinate

    # then Grade and the Yes/No columns carry drop-down lists over their data rows
    lists = {
        str(validation.sqref).split(":")[0]: validation.formula1
        for validation in sheet.data_validations.dataValidation
        if validation.type == "list"
    }
    grade_letter = openpyxl.utils.get_column_letter(header.index("Grade") + 1)
    assert lists[f"{grade_letter}2"] == GRADES
    yes_no = [n for n, title in enumerate(header, start=1) if title == "English Learner"]
    for number in yes_no:
        assert lists[f"{openpyxl.utils.get_column_letter(number)}2"] == YES_NO
    if "Gender" in header:
        gender = openpyxl.utils.get_column_letter(header.index("Gender") + 1)
        assert lists[f"{gender}2"].strip('"').split(",") == ["F", "M", "X"]


# --- both paths, reports, resume -----------------------------------------------------------


def _edited_workbook(ctx: JobContext, roster: SmallDistrict) -> bytes:
    """Our export with an update, a number in an ID, a formula, a bad grade and a new row."""
    book = _book(export_as(ctx, roster, "xlsx"))
    sheet = book["Students"]
    _find(sheet, "jgarcia", "Grade").value = "4"
    _find(sheet, "zdangelo", "External Assigned ID").value = 987654321
    _find(sheet, "formula1", "Grade").value = "=2+2"
    _find(sheet, "anguyen", "Grade").value = "13"
    header = [cell.value for cell in sheet[1]]
    new = dict.fromkeys(header, None) | {
        "First Name": "Nadia",
        "Last Name": "Okafor",
        "Username": "nokafor",
        "Password": "secret12",
        "External Assigned ID": 5551,
        "Grade": 2,
        "Organizations": "North Elementary",
        "Birth Date": dt.date(2018, 2, 3),
    }
    sheet.append([new[title] for title in header])
    return _saved(book)


def _report_tables(ctx: JobContext, files: tuple[bytes | None, bytes | None]) -> list[Any]:
    return [None if data is None else sheet_rows(data) for data in files]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_an_xlsx_file_gives_the_same_rows_reports_roster_and_history_on_both_paths(
    ctx: JobContext, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the same edited workbook imported into two identical fresh rosters
    copies: list[str] = []
    copy_rows = bulk_writes.copy_rows

    def counted(session: Session, table: str, *args: Any) -> None:
        copies.append(table)
        copy_rows(session, table, *args)

    monkeypatch.setattr(bulk_writes, "copy_rows", counted)

    def run(pipeline: Pipeline) -> Any:
        truncate_all(engine)
        roster, _ = small_districts(ctx.sessions)
        data = _edited_workbook(ctx, roster)
        job_id = submit_file(ctx, roster, data)
        run_job(ctx, job_id, pipeline)
        return _seen(ctx, job_id)

    # when
    general = run(run_general_import)
    copied_by_general = len(copies)
    fast = run(run_import)

    # then the fast path wrote through COPY, and both left the same behind
    assert copied_by_general == 0 and "import_row_results" in copies
    assert fast.job[1] == _counts(created=1, updated=2, failed=2)
    assert fast.job == general.job
    assert fast.results == general.results
    assert _report_tables(ctx, fast.files) == _report_tables(ctx, general.files)
    assert fast.changes == general.changes
    assert fast.roster == general.roster


def test_the_reports_of_an_xlsx_import_are_workbooks_and_the_fixed_errors_file_imports(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given an import with updates, refusals and a new student
    run = import_file(ctx, roster, _edited_workbook(ctx, roster))
    result_data = stored(ctx.store, run.job.result_key)
    errors_data = stored(ctx.store, run.job.error_report_key)

    # then both reports are workbooks, listing each row's Result and Errors
    assert run.job.counts == _counts(created=1, updated=2, unchanged=UNCHANGED_ALL - 4, failed=2)
    assert (run.job.result_key or "").endswith("/result.xlsx")
    assert (run.job.error_report_key or "").endswith("/errors.xlsx")
    assert result_data is not None and result_data.startswith(b"PK\x03\x04")
    assert errors_data is not None and errors_data.startswith(b"PK\x03\x04")
    results = {r["Username"]: r for r in run.results}
    assert results["nokafor"]["Result"] == "created"
    assert results["jgarcia"]["Result"] == "updated"
    assert results["zdangelo"]["External Assigned ID"] == "987654321"
    assert [r["Username"] for r in run.errors] == ["formula1", "anguyen"]
    assert run.errors[0]["Errors"].startswith("Grade: a formula, not a value")
    assert run.errors[1]["Errors"].startswith("Grade: '13' is not a grade")

    # when the errors file is fixed in a spreadsheet and uploaded again
    book = _book(errors_data)
    sheet = book.worksheets[0]
    _find(sheet, "formula1", "Grade").value = "5"
    _find(sheet, "anguyen", "Grade").value = "8"
    again = import_file(ctx, roster, _saved(book))

    # then both rows are updated, and the roster shows it
    assert again.job.error is None
    assert again.job.counts == _counts(updated=2)
    after = _csv_export(ctx, roster)
    assert (after["formula1"]["Grade"], after["anguyen"]["Grade"]) == ("5", "8")


def test_an_import_is_recorded_as_the_format_its_content_is(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # when an XLSX and a CSV are uploaded without saying which they are
    xlsx = import_file(ctx, roster, export_as(ctx, roster, "xlsx"), filename="roster.csv")
    csv = import_file(ctx, roster, export_as(ctx, roster, "csv"), filename="roster.xlsx")

    # then the job object says which each was (GET /v1/jobs shows options' "format")
    assert (xlsx.job.options or {}).get("format") == "xlsx"
    assert (csv.job.options or {}).get("format") == "csv"


def test_an_xlsx_stated_to_be_csv_fails_with_a_sentence_saying_what_it_is(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # when
    run = import_file(ctx, roster, export_as(ctx, roster, "xlsx"), file_format="csv")

    # then
    assert run.job.status == "failed"
    assert (run.job.error or "").startswith("The file is an Excel workbook (XLSX), not a CSV file")
    assert change_count(ctx.sessions) == 0


def test_an_xlsx_import_interrupted_between_batches_resumes_without_applying_rows_twice(
    ctx: JobContext, roster: SmallDistrict, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given every student's Last Name edited, and a fault after the second batch committed
    book = _book(export_as(ctx, roster, "xlsx"))
    sheet = book["Students"]
    header = [cell.value for cell in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        row[header.index("Last Name")].value = f"Edited {row[header.index('Username')].value}"
    job_id = submit_file(ctx, roster, _saved(book))
    real = jobs.imports.apply_batch
    calls = {"n": 0}

    def flaky(*args: object, **kwargs: object) -> dict[str, int]:
        calls["n"] += 1
        if calls["n"] == 3:
            raise TransientJobError("The database did not answer")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    for module in (jobs.imports, jobs.import_overlap):
        monkeypatch.setattr(module, "apply_batch", flaky)

    # when the first delivery fails and the broker delivers again
    with pytest.raises(TransientJobError):
        run_job(ctx, job_id, run_import)
    interrupted = finished_any(ctx, job_id)
    run_job(ctx, job_id, run_import)
    resumed = finished_any(ctx, job_id)

    # then the second run began after the checkpoint and changed each record once
    assert (interrupted.job.status, interrupted.job.checkpoint) == ("queued", 5)
    assert resumed.job.status == "completed" and resumed.job.attempts == 2
    assert resumed.job.counts == _counts(updated=UNCHANGED_ALL)
    assert [r["Result"] for r in resumed.results] == ["updated"] * UNCHANGED_ALL
    assert [int(r["Row"]) for r in resumed.results] == list(range(2, 2 + UNCHANGED_ALL))
    assert change_count(ctx.sessions, job_id) == UNCHANGED_ALL
    after = _csv_export(ctx, roster)
    assert {row["Last Name"] for row in after.values()} == {f"Edited {u}" for u in after}
