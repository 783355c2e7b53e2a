"""The XLSX export's COPY records become worksheet XML by replacing bytes, block by block,
when nothing in the block needs escaping: an ordinary district's blocks (empty cells
included) must take that way, or the export runs row by row through Python at a quarter of
the speed (`make bench`: `export_xlsx_1m_ratio_vs_csv`)."""

from __future__ import annotations

import io
import zipfile

import pytest

from jobs.tables import TableLayout
from jobs.xlsx_out import XLSX

ORDINARY = [
    ["1001", "José", "García", "jgarcia", "", "000123", "3", "North;South", "", "2015-03-07"],
    ["1002", "Ann", "Lee", "alee", "", "", "K", "North", "Math 5", ""],
]


def sheet_xml(block: bytes) -> str:
    raw = io.BytesIO()
    with XLSX.rows_into(raw, TableLayout(sheet="Students")) as sheet:
        sheet.writerow([f"h{n}" for n in range(10)])
        sheet.write_records(block)
    with zipfile.ZipFile(raw) as package:
        return package.read("xl/worksheets/sheet1.xml").decode()


def records(rows: list[list[str]]) -> bytes:
    return b"".join("\x01".join(row).encode() + b"\n" for row in rows)


def test_ordinary_records_with_empty_cells_become_xml_without_the_row_writer() -> None:
    xml = sheet_xml(records(ORDINARY))

    # the row writer numbers its rows; the byte replacements leave numbers out
    assert xml.count('<row r="') == 1  # the header only
    assert xml.count("<row>") == 2
    assert "<c/>" in xml and "García" in xml


@pytest.mark.parametrize(
    "odd",
    [" leading space", "trailing tab\t", "bell\x07", "_x0041_ look-alike", "\x02quoted\x02"],
)
def test_a_block_with_a_cell_that_needs_escaping_goes_through_the_row_writer(odd: str) -> None:
    rows = [ORDINARY[0], [*ORDINARY[1][:2], odd, *ORDINARY[1][3:]]]

    xml = sheet_xml(records(rows))

    assert xml.count('<row r="') == 3
