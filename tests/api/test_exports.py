"""Exports, columns and templates through the API; requests that name nothing are 422s on
the field at fault."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import auth, wait_until_finished
from tests.factories import SmallDistrict


def table(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_an_export_runs_and_its_file_downloads_through_its_link(
    client: TestClient, roster: SmallDistrict
) -> None:
    # given
    headers = auth(roster.school_admin)
    body = {
        "entity": "students",
        "columns": ["birth date", "Imagine Reading: Access"],
        "filters": {"school": "north elementary", "grade": "KG"},
    }

    # when
    response = client.post("/v1/exports", json=body, headers=headers)
    job = wait_until_finished(client, response.json()["id"], headers)
    download = client.get(job["result_url"])

    # then
    assert response.status_code == 202, response.text
    assert response.json()["status"] in ("queued", "running", "completed")
    assert job["status"] == "completed", job["error"]
    assert download.status_code == 200
    assert download.content.startswith(b"\xef\xbb\xbf")
    assert 'filename="students-' in download.headers["content-disposition"]
    header, *rows = table(download.content)
    assert header[-2:] == ["Birth Date", "Imagine Reading: Access"]
    assert [row[header.index("Username")] for row in rows] == ["zdangelo"]


def test_a_district_admin_exports_every_optional_column_with_columns_null(
    client: TestClient, roster: SmallDistrict
) -> None:
    # given
    headers = auth(roster.district_admin)

    # when
    response = client.post(
        "/v1/exports", json={"entity": "classes", "columns": None}, headers=headers
    )
    job = wait_until_finished(client, response.json()["id"], headers)

    # then
    header, *rows = table(client.get(job["result_url"]).content)
    assert header == [
        "Database ID",
        "Class/Group Name",
        "Organization",
        "External Assigned ID",
        "Educators",
        "Students",
        "Products",
        "Status",
    ]
    assert len(rows) == 3


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"entity": "pupils"}, "entity", "Input should be"),
        ({"colour": "red"}, "colour", "Extra inputs"),
        ({"columns": ["Shoe Size"]}, "columns", "Shoe Size"),
        ({"filters": {"grade": "13"}}, "filters.grade", "13"),
        ({"entity": "classes", "filters": {"grade": "3"}}, "filters.grade", "students"),
        ({"filters": {"school": "Atlantis"}}, "filters.school", "Atlantis"),
        ({"filters": {"product": "Imagine Science"}}, "filters.product", "Imagine Reading"),
        ({"filters": {"class_group": "Nope"}}, "filters.class_group", "Nope"),
        ({"ids": [0]}, "ids.0", "greater than or equal"),
        ({"filters": {"search": "a\u0000b"}}, "filters.search", "NUL"),
    ],
)
def test_a_request_naming_nothing_real_is_refused_on_its_field(
    client: TestClient, roster: SmallDistrict, body: dict[str, Any], field: str, says: str
) -> None:
    # when
    request = {"entity": "students"} | body
    response = client.post("/v1/exports", json=request, headers=auth(roster.district_admin))

    # then
    assert response.status_code == 422, response.text
    problems = response.json()["detail"]
    assert [".".join(map(str, p["loc"][1:])) for p in problems] == [field]
    assert says in problems[0]["msg"]


def test_a_malformed_json_body_is_a_400_saying_where_not_a_500(
    client: TestClient, roster: SmallDistrict
) -> None:
    # when
    response = client.post(
        "/v1/exports",
        content=b"{not json",
        headers={**auth(roster.district_admin), "Content-Type": "application/json"},
    )

    # then the OpenAPI document's 400, with where reading stopped
    assert response.status_code == 400
    assert "line 1, column 2" in response.json()["detail"]


def test_columns_list_required_and_optional_ones_with_only_purchased_products(
    client: TestClient, roster: SmallDistrict
) -> None:
    # when
    response = client.get("/v1/columns/students", headers=auth(roster.teacher))

    # then
    assert response.status_code == 200
    columns = response.json()
    assert columns["label"] == "Students"
    assert [c["header"] for c in columns["required"]][:2] == ["Database ID", "First Name"]
    products = {c["product"] for c in columns["optional"] if c["product"]}
    assert products == {"Imagine Language & Literacy", "Imagine Reading", "Imagine Galileo K-12"}
    reading = next(c for c in columns["optional"] if c["header"] == "Imagine Reading: Access")
    assert "Customer Care" in reading["description"]
    assert reading["group"] == "product"


def test_a_template_is_the_header_row_with_a_bom_and_crlf_as_an_attachment(
    client: TestClient, roster: SmallDistrict
) -> None:
    # when
    response = client.get(
        "/v1/templates/classes",
        params={"columns": "Products, educators"},
        headers=auth(roster.district_admin),
    )
    unknown = client.get(
        "/v1/templates/classes", params={"columns": "Grade"}, headers=auth(roster.district_admin)
    )

    # then
    assert response.status_code == 200
    assert response.content == (
        b"\xef\xbb\xbfDatabase ID,Class/Group Name,Organization,Educators,Products\r\n"
    )
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment;")
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["query", "columns"]
