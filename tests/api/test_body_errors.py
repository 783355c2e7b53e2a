"""A body that cannot be read is a 400 with one sentence, as the OpenAPI document promises:
malformed JSON says what was expected and where (line and column), bytes that are not UTF-8
say so. Nothing is validated, so there is no field to name."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import auth
from tests.factories import SmallDistrict

ROUTES = ["/v1/exports", "/v1/imports"]

MALFORMED = [
    (
        b'{"entity": "students", "ids": [1, ]}',
        "The body is not valid JSON: expected a value at line 1, column 35.",
    ),
    (
        b'{"entity": "students" "dry_run": true}',
        "The body is not valid JSON: expected ',' or a closing bracket at line 1, column 23.",
    ),
    (
        b"{not json",
        "The body is not valid JSON: expected a name in double quotes at line 1, column 2.",
    ),
    (
        b'{"entity": "students"}\n{"entity": "classes"}',
        "The body is not valid JSON: more text after the JSON value at line 2, column 1.",
    ),
    (
        b'{\n  "entity": "students",\n  "filename": "a\nb.csv"\n}',
        "The body is not valid JSON: a line break or control character inside a string "
        "at line 3, column 17.",
    ),
    (
        b'{"entity": "students", "filename": "roster.csv',
        "The body is not valid JSON: a string that never ends starts at line 1, column 36.",
    ),
    (
        b'{"entity": "students", "filters": {"search": "\\x41"}}',
        "The body is not valid JSON: an invalid backslash escape at line 1, column 47.",
    ),
]

NOT_UTF8 = [
    b'{"entity": "students", "filters": {"search": "Zo\xeb"}}',  # Windows-1252 "Zoë"
    b'{"entity": "students", "filename": "\xff\xfe.csv"}',
    b'{"entity": "students", "filename": "\xed\xa0\x80\xed"}',
]


def problem(response: Any) -> str:
    """The answer's one sentence, checked to be a `Problem` as the OpenAPI document shows."""
    answer = response.json()
    assert set(answer) == {"detail"}
    assert isinstance(answer["detail"], str)
    return str(answer["detail"])


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(("body", "sentence"), MALFORMED)
def test_a_malformed_json_body_is_a_400_saying_what_was_expected_and_where(
    client: TestClient, roster: SmallDistrict, route: str, body: bytes, sentence: str
) -> None:
    # when
    response = client.post(
        route,
        content=body,
        headers={**auth(roster.district_admin), "Content-Type": "application/json"},
    )

    # then
    assert response.status_code == 400, response.text
    assert problem(response) == sentence


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("body", NOT_UTF8)
def test_a_body_that_is_not_utf8_is_a_400_saying_so(
    client: TestClient, roster: SmallDistrict, route: str, body: bytes
) -> None:
    # when
    response = client.post(
        route,
        content=body,
        headers={**auth(roster.district_admin), "Content-Type": "application/json"},
    )

    # then
    assert response.status_code == 400, response.text
    assert problem(response) == "The body is not UTF-8 text."


@pytest.mark.parametrize("route", ROUTES)
def test_a_body_nested_past_what_can_be_read_is_a_400_not_a_500(
    client: TestClient, roster: SmallDistrict, route: str
) -> None:
    # when
    response = client.post(
        route,
        content=b"[" * 100_000,
        headers={**auth(roster.district_admin), "Content-Type": "application/json"},
    )

    # then
    assert response.status_code == 400, response.text
    assert problem(response) == "The body nests arrays or objects too deeply to read."


def test_the_openapi_document_promises_these_400s_as_problems(client: TestClient) -> None:
    # when
    paths = client.get("/openapi.json").json()["paths"]

    # then
    for route in ROUTES:
        answer = paths[route]["post"]["responses"]["400"]
        assert answer["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Problem"
        }
        assert "not JSON" in answer["description"]


def test_a_400_of_the_service_itself_keeps_its_own_sentence(
    client: TestClient, roster: SmallDistrict
) -> None:
    # given an import awaiting its file
    headers = auth(roster.district_admin)
    created = client.post("/v1/imports", json={"entity": "students"}, headers=headers).json()

    # when its upload link receives an empty body
    response = client.put(created["upload"]["url"], content=b"")

    # then
    assert response.status_code == 400, response.text
    assert problem(response) == "The upload is empty; send the CSV file as the body."
