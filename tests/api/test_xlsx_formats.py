"""XLSX through the API: an export asked for as `xlsx`, the XLSX import template, and an
import whose stated format is not the file's; unknown formats are 422s naming `format`."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from typing import Any
from xml.etree import ElementTree

import openpyxl
from fastapi.testclient import TestClient

from tests.api.helpers import auth, wait_until_finished
from tests.api.test_imports import create_import
from tests.factories import SmallDistrict
from tests.workbooks import XLSX_MEDIA_TYPE, records, sheet_rows


def _export(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    response = client.post("/v1/exports", json={"entity": "students", **body}, headers=headers)
    assert response.status_code == 202, response.text
    return wait_until_finished(client, response.json()["id"], headers)


def _default_number_format(data: bytes) -> str | None:
    """The number format id of the style a cell without one gets (cellXfs' first)."""
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        styles = ElementTree.fromstring(package.read("xl/styles.xml"))
    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    cell_styles = styles.find(f"{main}cellXfs")
    assert cell_styles is not None
    return cell_styles[0].get("numFmtId")


def _xlsx_export(client: TestClient, roster: SmallDistrict) -> bytes:
    job = _export(client, auth(roster.district_admin), format="xlsx")
    download = client.get(job["result_url"])
    assert download.status_code == 200
    return download.content


def test_an_xlsx_export_downloads_as_a_dated_workbook_that_openpyxl_opens(
    client: TestClient, roster: SmallDistrict
) -> None:
    # given
    headers = auth(roster.district_admin)

    # when
    job = _export(client, headers, format="xlsx", columns=["Birth Date"])
    download = client.get(job["result_url"])

    # then the job says its format, and the file is a workbook named for the day
    assert job["status"] == "completed", job["error"]
    assert job["format"] == "xlsx"
    assert download.status_code == 200
    assert download.headers["content-type"].startswith(XLSX_MEDIA_TYPE)
    disposition = download.headers["content-disposition"]
    named = re.search(r'filename="(students-(\d{4}-\d{2}-\d{2})\.xlsx)"', disposition)
    assert named, disposition
    dt.date.fromisoformat(named.group(2))
    book = openpyxl.load_workbook(io.BytesIO(download.content))
    assert book.sheetnames == ["Students"]
    rows = records(sheet_rows(download.content))
    assert sorted(row["Username"] for row in rows) == [
        "anguyen",
        "formula1",
        "jgarcia",
        "zdangelo",
    ]
    assert {row["External Assigned ID"] for row in rows} >= {"000123", "000124", "+44"}
    assert {row["Birth Date"] for row in rows} == {"2016-04-09", ""}


def test_an_export_in_an_unknown_format_is_a_422_naming_the_format(
    client: TestClient, roster: SmallDistrict
) -> None:
    # when
    response = client.post(
        "/v1/exports",
        json={"entity": "students", "format": "docx"},
        headers=auth(roster.district_admin),
    )

    # then
    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", "format"]
    assert problem["msg"].startswith("There is no export format 'docx'; choose ")
    assert problem["msg"].count(".") == 1 and "xlsx" in problem["msg"]
    assert client.get("/v1/jobs", headers=auth(roster.district_admin)).json()["jobs"] == []


def test_the_xlsx_template_is_a_header_of_text_cells_with_drop_downs_and_no_rows(
    client: TestClient, roster: SmallDistrict
) -> None:
    # when
    response = client.get(
        "/v1/templates/students",
        params={"format": "xlsx", "columns": "Gender,English Learner"},
        headers=auth(roster.district_admin),
    )

    # then
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(XLSX_MEDIA_TYPE)
    assert 'filename="students-template.xlsx"' in response.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = book.worksheets[0]
    header = [cell.value for cell in sheet[1]]
    assert header[:8] == [
        "Database ID",
        "First Name",
        "Last Name",
        "Username",
        "Password",
        "External Assigned ID",
        "Grade",
        "Organizations",
    ]
    assert {"Gender", "English Learner"} <= set(header)
    assert sheet.max_row == 1
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    # a cell a person types into is a text cell: the workbook's default style is "@"
    assert _default_number_format(response.content) == "49"  # the built-in "@"
    lists = {
        str(validation.sqref).split(":")[0]: validation.formula1
        for validation in sheet.data_validations.dataValidation
    }
    letter = openpyxl.utils.get_column_letter
    assert lists[f"{letter(header.index('Grade') + 1)}2"].startswith('"PK,K,1,2,3')
    assert lists[f"{letter(header.index('English Learner') + 1)}2"] == '"Yes,No"'
    assert lists[f"{letter(header.index('Gender') + 1)}2"] == '"F,M,X"'


def test_a_template_in_an_unknown_format_is_a_422(
    client: TestClient, roster: SmallDistrict
) -> None:
    # when
    response = client.get(
        "/v1/templates/students", params={"format": "pdf"}, headers=auth(roster.district_admin)
    )

    # then
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", "format"]


def test_an_import_stated_as_csv_whose_upload_is_a_workbook_fails_saying_what_it_is(
    client: TestClient, roster: SmallDistrict
) -> None:
    # given an import that says it is CSV, and our own XLSX export uploaded to it
    workbook = _xlsx_export(client, roster)
    headers = auth(roster.district_admin)
    created = create_import(client, headers, filename="students.csv", format="csv")

    # when
    client.put(created["upload"]["url"], content=workbook)
    job = wait_until_finished(client, created["id"], headers)

    # then
    assert job["status"] == "failed"
    assert job["error"].startswith("The file is an Excel workbook (XLSX), not a CSV file")
    assert job["format"] == "csv"
    assert job["result_url"] is None


def test_an_uploaded_workbook_imports_and_its_job_and_reports_say_xlsx(
    client: TestClient, roster: SmallDistrict
) -> None:
    # given our XLSX export with one grade changed, uploaded without a stated format
    book = openpyxl.load_workbook(io.BytesIO(_xlsx_export(client, roster)))
    sheet = book["Students"]
    header = [cell.value for cell in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        if row[header.index("Username")].value == "jgarcia":
            row[header.index("Grade")].value = "4"
    edited = io.BytesIO()
    book.save(edited)
    headers = auth(roster.district_admin)
    created = create_import(client, headers, filename="edited.xlsx")

    # when
    client.put(created["upload"]["url"], content=edited.getvalue())
    job = wait_until_finished(client, created["id"], headers)
    result = client.get(job["result_url"])

    # then
    assert job["status"] == "completed", job["error"]
    assert job["counts"] == {"created": 0, "updated": 1, "unchanged": 3, "failed": 0}
    assert result.headers["content-type"].startswith(XLSX_MEDIA_TYPE)
    assert ".xlsx" in result.headers["content-disposition"]
    assert [r["Result"] for r in records(sheet_rows(result.content))].count("updated") == 1
    assert job["format"] == "xlsx"
