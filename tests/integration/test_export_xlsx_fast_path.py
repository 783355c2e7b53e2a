"""The XLSX export's COPY path on Postgres writes the same cells as the general path.

The general path (rows streamed, each value through its codec, each cell escaped by
`jobs.xlsx_out`) is the reference; the COPY path has Postgres render exact cells
(`storage.export_copy.CELL_RECORDS`) and turns blocks of them into worksheet XML by
replacing bytes. The workbooks differ in bytes (the COPY path leaves out row numbers), so
both are read back, by openpyxl (which nobody here wrote) and by the import's own reader,
and compared cell by cell, with the CSV export's values (its formula quote undone) too.
The ugly district of `test_export_fast_path` serves here as well.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import String, literal, select
from sqlalchemy.orm import Session, sessionmaker

from jobs.csv_in import ImportLimits
from jobs.export import write_copied_xlsx, write_export, write_table
from jobs.formats import XLSX, layout_of
from jobs.requests import ExportRequest, plan_export
from jobs.xlsx_sheet import SheetScanner
from schemas.cells import neutralise, unneutralise
from storage import export_copy
from tests.integration import test_export_fast_path as fast_path
from tests.integration.test_export_fast_path import CELL_TEXT, TWO_COLUMNS, UglyDistrict, data_rows

# the ugly district and its database, shared with the CSV fast path's tests
ugly_engine = fast_path.ugly_engine
ugly = fast_path.ugly
sessions = fast_path.sessions

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # openpyxl on data validation


def exports(sessions: sessionmaker[Session], request: ExportRequest) -> tuple[bytes, bytes, bytes]:
    """The XLSX export by the general path and by COPY, and the CSV export, of one plan."""
    with sessions() as session:
        plan = plan_export(session, request)
        assert export_copy.can_copy(session, plan.columns)
        layout = layout_of(plan.columns, sheet=plan.entity.value.capitalize())
        general, fast, csv_out = io.BytesIO(), io.BytesIO(), io.BytesIO()
        write_export(session, plan, general, batch_rows=7, fast=False, table=XLSX, layout=layout)
        write_export(session, plan, fast, batch_rows=7, table=XLSX, layout=layout)
        write_export(session, plan, csv_out, batch_rows=7, fast=False)
    return general.getvalue(), fast.getvalue(), csv_out.getvalue()


def openpyxl_rows(data: bytes) -> list[list[str]]:
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    return [["" if cell is None else str(cell) for cell in row] for row in sheet.values]


def scanned_rows(data: bytes) -> list[list[str]]:
    """Cells as the import's reader hands them over: neutralised, so that its `cell_value`
    gives back the exact text."""
    with zipfile_part(data) as part:
        scanner = SheetScanner(
            shared=(), date_styles=frozenset(), date1904=False, limits=ImportLimits()
        )
        return [cells for _, cells in scanner.rows(part)]


@contextmanager
def zipfile_part(data: bytes) -> Iterator[BinaryIO]:
    with (
        zipfile.ZipFile(io.BytesIO(data)) as package,
        package.open("xl/worksheets/sheet1.xml") as part,
    ):
        yield part  # type: ignore[misc]


CASES = [
    ("students", "district_admin", None, {}),
    ("students", "school_admin", ("Classes/Groups", "Birth Date"), {"grade": "K"}),
    ("students", "teacher", None, {}),
    ("educators", "district_admin", None, {}),
    ("classes", "district_admin", None, {}),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_copy_path_writes_the_same_workbook_cells_as_the_general_path(
    sessions: sessionmaker[Session],
    ugly: UglyDistrict,
    case: tuple[str, str, tuple[str, ...] | None, dict[str, str]],
) -> None:
    # given an export of the ugliest district there is
    entity, who, columns, filters = case
    request = ExportRequest(
        district=str(ugly.district_id),
        username=getattr(ugly, who),
        entity=entity,
        columns=columns,
        format="xlsx",
        **filters,  # type: ignore[arg-type]
    )

    # when it is written both ways, and as a CSV
    general, fast, csv_bytes = exports(sessions, request)

    # then a spreadsheet reads the same cells from both, and they are the CSV's exact values
    csv_values = [[unneutralise(cell) for cell in row] for row in data_rows(csv_bytes)]
    assert csv_values, "the case exports at least one row"
    read_general, read_fast = openpyxl_rows(general), openpyxl_rows(fast)
    assert read_fast == read_general
    # and the import's reader gives back the exact texts (openpyxl leaves the `_xHHHH_`
    # escape of a carriage return as it is)
    width = len(csv_values[0])
    exact = [[unneutralise(cell) for cell in row] for row in scanned_rows(fast)[1:]]
    assert _padded(exact, width) == csv_values
    exact = [[unneutralise(cell) for cell in row] for row in scanned_rows(general)[1:]]
    assert _padded(exact, width) == csv_values


def _padded(rows: list[list[str]], width: int) -> list[list[str]]:
    return [row + [""] * (width - len(row)) for row in rows]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=CELL_TEXT, second=st.one_of(st.none(), CELL_TEXT))
def test_copied_records_become_the_cells_python_writes_for_any_text(
    sessions: sessionmaker[Session], first: str, second: str | None
) -> None:
    # given one row of any two texts
    python, copied = io.BytesIO(), io.BytesIO()
    row = {"a": first, "b": second}
    sources = {"a": literal(first, String), "b": literal(second, String)}
    statement = select(*export_copy.cells(TWO_COLUMNS, sources, neutralise=False))
    layout = layout_of(TWO_COLUMNS, sheet="Rows")

    # when Python writes it, and Postgres renders it for the XLSX COPY path
    write_table(python, TWO_COLUMNS, [row], table=XLSX, layout=layout)
    with (
        sessions() as session,
        export_copy.copy_records(session, statement, export_copy.CELL_RECORDS) as records,
    ):
        write_copied_xlsx(copied, TWO_COLUMNS, records, layout)

    # then the import's reader hands over exactly those texts from both
    expected = [neutralise(first), neutralise(second or "")]
    for data in (python.getvalue(), copied.getvalue()):
        rows = scanned_rows(data)
        cells = _padded(rows[1:], 2)[0] if len(rows) > 1 else ["", ""]
        assert cells == expected
