"""The dashboard's words for what it shows: which callers get a refusal as a page, and a
job's options and counts as an operator reads them."""

from __future__ import annotations

import pytest

from api.routes.ops_render import prefers_html, readable
from api.routes.ops_views import columns_text, filters_text, keep_counts_whole

CHROMIUM_NAVIGATION = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)


@pytest.mark.parametrize(
    ("accept", "page"),
    [
        (CHROMIUM_NAVIGATION, True),
        ("text/html", True),
        ("text/html, application/json", True),
        ("application/json", False),
        ("application/json, text/html;q=0.9", False),
        ("*/*", False),
        ("", False),
        ("text/html;q=0", False),
        ("text/html;q=abc", False),
    ],
)
def test_only_a_caller_that_prefers_html_gets_a_refusal_as_a_page(accept: str, page: bool) -> None:
    # when / then
    assert prefers_html(accept) is page


def test_an_exports_filters_read_as_labelled_words_with_a_long_id_list_cut_short() -> None:
    # given
    options = {"grade": "K", "product": "Reading", "search": None, "ids": list(range(1, 26))}

    # when
    text = filters_text(options)

    # then
    assert text == (
        "Grade K · Product Reading · Database IDs 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, "
        "14, 15, 16, 17, 18, 19, 20 and 5 more"
    )


@pytest.mark.parametrize(
    ("columns", "text"),
    [
        (None, "every column"),
        ([], "the required ones only"),
        (["Gender"], "the required ones and Gender"),
    ],
)
def test_an_exports_columns_read_as_words(columns: list[str] | None, text: str) -> None:
    # when / then
    assert columns_text({"columns": columns}) == text


def test_an_option_the_page_does_not_know_is_still_written_as_words_not_json() -> None:
    # when
    shown = [readable(value) for value in (True, False, None, ["a", "b"], {"kept": 3}, 7)]

    # then
    assert shown == ["yes", "no", "", "a, b", "kept 3", "7"]


def test_a_counts_cell_can_break_between_counts_but_not_inside_one() -> None:
    # when
    cell = keep_counts_whole("created 3 · updated 1,204")

    # then
    assert cell == "created\u00a03 · updated\u00a01,204"
