"""The text check every export and import request passes before any query: text that no
database or UTF-8 writer accepts is refused with one sentence naming the field."""

from __future__ import annotations

import pytest

from jobs.errors import RequestRefused
from jobs.requests import ExportRequest, ImportRequest, check_text, text_problem


@pytest.mark.parametrize(
    "text",
    ["José García", "Zoë D'Angelo", "ẞtraße 😀", "", "\\ud800 written out"],
)
def test_text_any_unicode_writer_accepts_has_no_problem(text: str) -> None:
    # when / then
    assert text_problem(text) is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("\udcff", "unpaired surrogate"),  # the byte 0xFF of an argument, via surrogateescape
        ("Jos\ud800", "unpaired surrogate"),  # a JSON "\ud800" escape alone
        ("\udc00\ud800", "unpaired surrogate"),  # two halves in the wrong order
        ("a\x00b", "NUL"),
    ],
)
def test_text_no_database_can_store_has_its_problem_named(text: str, says: str) -> None:
    # when
    problem = text_problem(text)

    # then
    assert problem is not None and says in problem


@pytest.mark.parametrize(
    ("request_", "field", "sentence"),
    [
        (
            ExportRequest("1", "admin", "students", search="\udcff"),
            "filters.search",
            "The search filter is not UTF-8 text (it holds an unpaired surrogate).",
        ),
        (
            ExportRequest("1", "admin", "students", columns=("Birth Date", "G\udce9nero")),
            "columns",
            "A column name is not UTF-8 text (it holds an unpaired surrogate).",
        ),
        (
            ExportRequest("1", "admin", "students", class_group="3\udcb0 B"),
            "filters.class_group",
            "The class/group filter is not UTF-8 text (it holds an unpaired surrogate).",
        ),
        (
            ImportRequest("1", "admin", "students", filename="r\udce9sum\udce9.csv"),
            "filename",
            "The file name is not UTF-8 text (it holds an unpaired surrogate).",
        ),
        (
            ImportRequest("1", "admin\udcff", "students"),
            "username",
            "The username is not UTF-8 text (it holds an unpaired surrogate).",
        ),
    ],
    ids=["search", "columns", "class_group", "filename", "username"],
)
def test_a_request_with_text_that_cannot_be_stored_is_refused_on_its_field(
    request_: ExportRequest | ImportRequest, field: str, sentence: str
) -> None:
    # when
    with pytest.raises(RequestRefused) as refused:
        check_text(request_)

    # then
    assert refused.value.field == field
    assert refused.value.message == sentence


def test_a_request_of_ordinary_text_passes_the_check() -> None:
    # given
    request = ExportRequest("Riverside", "admin", "students", columns=None, search="Zoë")

    # when / then: no refusal
    check_text(request)
