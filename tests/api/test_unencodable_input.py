"""Values that JSON or UTF-8 cannot carry back (infinity, NaN, unpaired surrogates) are
refused on their field with one sentence, never answered with a 500.

The bodies are written as bytes: a JSON client refuses to encode such values, but JSON text
can spell them (`1e999` reads as infinity, `"\\ud800"` as a lone surrogate), and Python's
JSON reader accepts `NaN` and `Infinity`. An import file cannot smuggle a surrogate in: the
bytes of an encoded surrogate are not UTF-8, so the file is read as Windows-1252 or refused.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from storage.models import Student
from tests.api.helpers import HEADER, auth, wait_until_finished
from tests.factories import SmallDistrict
from worker.runtime import Runtime

JSON = {"Content-Type": "application/json"}
SURROGATE = "unpaired surrogate"

EXPORT_BODIES = [
    (b'{"entity": 1e999}', "entity", "Input should be"),
    (b'{"entity": -1e999}', "entity", "Input should be"),
    (b'{"entity": NaN}', "entity", "Input should be"),
    (b'{"entity": "\\ud800"}', "entity", SURROGATE),
    (b'{"entity": "students", "filters": {"search": "\\ud800"}}', "filters.search", SURROGATE),
    (b'{"entity": "students", "filters": {"search": "Jos\\udfff"}}', "filters.search", SURROGATE),
    (b'{"entity": "students", "filters": {"school": "\\udbff"}}', "filters.school", SURROGATE),
    (
        b'{"entity": "students", "filters": {"class_group": "\\udc00"}}',
        "filters.class_group",
        SURROGATE,
    ),
    (b'{"entity": "students", "filters": {"product": "\\ud800"}}', "filters.product", SURROGATE),
    (b'{"entity": "students", "filters": {"grade": "\\ud800"}}', "filters.grade", SURROGATE),
    (b'{"entity": "students", "filters": {"search": Infinity}}', "filters.search", "string"),
    (b'{"entity": "students", "filters": {"grade": NaN}}', "filters.grade", "string"),
    (b'{"entity": "students", "columns": ["\\ud800"]}', "columns.0", SURROGATE),
    (b'{"entity": "students", "columns": [1e999]}', "columns.0", "string"),
    (b'{"entity": "students", "ids": [1e999]}', "ids.0", "finite"),
    (b'{"entity": "students", "ids": [NaN]}', "ids.0", "finite"),
    (b'{"entity": "students", "ids": [-Infinity]}', "ids.0", "finite"),
    (b'{"entity": "students", "ids": ["\\ud800"]}', "ids.0", SURROGATE),
    (b'{"entity": "students", "filters": {"\\ud800": "x"}}', "filters", SURROGATE),
    (b'{"entity": "students", "\\udfff": 1e999}', "", SURROGATE),
    # the UTF-8 bytes of a surrogate: Python's JSON reader lets them through as one
    (b'{"entity": "students", "filters": {"search": "\xed\xa0\x80"}}', "filters.search", SURROGATE),
]

IMPORT_BODIES = [
    (b'{"entity": "students", "filename": "\\udfff.csv"}', "filename", SURROGATE),
    (b'{"entity": "students", "filename": "roster\\ud800.csv"}', "filename", SURROGATE),
    (b'{"entity": "students", "filename": 1e999}', "filename", "string"),
    (b'{"entity": "\\udfff"}', "entity", SURROGATE),
    (b'{"entity": Infinity}', "entity", "Input should be"),
    (b'{"entity": "students", "dry_run": NaN}', "dry_run", "boolean"),
    (b'{"entity": "students", "dry_run": "\\ud800"}', "dry_run", "boolean"),
]


def one_refusal(raw: bytes) -> tuple[str, str]:
    """The field at fault (without `body`) and its message, from a 422 that is UTF-8 JSON."""
    answer: dict[str, Any] = json.loads(raw.decode("utf-8"))
    (problem,) = answer["detail"]
    assert set(problem) == {"loc", "msg", "type"}
    assert problem["loc"][0] == "body"
    return ".".join(map(str, problem["loc"][1:])), problem["msg"]


def is_one_sentence(text: str) -> bool:
    return bool(text) and "\n" not in text and not re.search(r"[.;!?] [A-Z]", text)


@pytest.mark.parametrize(("body", "field", "says"), EXPORT_BODIES)
def test_an_export_body_with_a_value_json_cannot_carry_is_a_422_on_its_field(
    client: TestClient, roster: SmallDistrict, body: bytes, field: str, says: str
) -> None:
    # when
    response = client.post(
        "/v1/exports", content=body, headers={**auth(roster.district_admin), **JSON}
    )

    # then
    assert response.status_code == 422, response.text
    at, message = one_refusal(response.content)
    assert at == field
    assert says in message
    assert is_one_sentence(message)


@pytest.mark.parametrize(("body", "field", "says"), IMPORT_BODIES)
def test_an_import_body_with_a_value_json_cannot_carry_is_a_422_on_its_field(
    client: TestClient, roster: SmallDistrict, body: bytes, field: str, says: str
) -> None:
    # when
    response = client.post(
        "/v1/imports", content=body, headers={**auth(roster.district_admin), **JSON}
    )

    # then
    assert response.status_code == 422, response.text
    at, message = one_refusal(response.content)
    assert at == field
    assert says in message
    assert is_one_sentence(message)


def test_a_surrogate_pair_written_as_json_escapes_is_one_character_and_is_accepted(
    client: TestClient, roster: SmallDistrict
) -> None:
    # given a file name with an emoji, as JSON escapes it (U+1F600)
    body = b'{"entity": "students", "filename": "roster \\ud83d\\ude00.csv"}'

    # when
    response = client.post(
        "/v1/imports", content=body, headers={**auth(roster.district_admin), **JSON}
    )

    # then
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "awaiting_upload"


def test_a_body_that_is_not_sent_as_json_and_not_utf8_is_a_422_not_a_500(
    client: TestClient, roster: SmallDistrict
) -> None:
    # when the raw bytes reach validation as they are (no JSON content type)
    response = client.post(
        "/v1/exports",
        content=b"\xff\xfe\xfd entity=students",
        headers={**auth(roster.district_admin), "Content-Type": "text/plain"},
    )

    # then
    assert response.status_code == 422, response.text
    at, message = one_refusal(response.content)
    assert at == ""
    assert is_one_sentence(message)


def name_row(roster: SmallDistrict, first_name: bytes) -> bytes:
    jose = roster.students[0]
    return b",".join(
        [str(jose.id).encode(), first_name, b"Garcia,jgarcia,,000123,5,North Elementary"]
    )


@pytest.mark.parametrize(
    ("bom", "outcome"),
    [(b"", "completed"), (b"\xef\xbb\xbf", "failed")],
    ids=["read-as-windows-1252", "utf8-bom-refused"],
)
def test_an_import_file_holding_an_encoded_surrogate_never_stores_a_lone_surrogate(
    client: TestClient, runtime: Runtime, roster: SmallDistrict, bom: bytes, outcome: str
) -> None:
    # given a file whose name cell holds the UTF-8 form of U+D800 (CESU-8, as some Java
    # and database tools write it): bytes a strict UTF-8 reader cannot decode
    headers = auth(roster.district_admin)
    data = bom + HEADER.encode() + b"\r\n" + name_row(roster, b"Jo\xed\xa0\x80") + b"\r\n"
    created = client.post("/v1/imports", json={"entity": "students"}, headers=headers).json()

    # when
    uploaded = client.put(created["upload"]["url"], content=data)
    job = wait_until_finished(client, created["id"], headers)

    # then the job ends on its own (read as Windows-1252, or refused with one sentence)
    assert uploaded.status_code == 200, uploaded.text
    assert job["status"] == outcome, job["error"]
    with runtime.jobs.sessions() as session:
        names = session.scalars(select(Student.first_name)).all()
    assert all(name == name.encode("utf-8").decode("utf-8") for name in names)
    if outcome == "completed":
        assert "Jo\u00ed\u00a0\u20ac" in names  # 0xED 0xA0 0x80 as Windows-1252: "í", NBSP, "€"
        assert "Windows-1252" in job["warnings"]["encoding"]
    else:
        assert "not valid UTF-8" in job["error"]
        assert "José" in names
