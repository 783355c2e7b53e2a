"""How a printed table falls onto pages (`jobs.pdf_layout`), with every character 1 mm wide
and lines 4 mm high."""

from __future__ import annotations

from jobs.pdf_layout import PAD_X, column_bounds, fit, paginate, row_height, wrap
from jobs.pdf_table import PdfRows


class Millimetres:
    line = 4.0

    def width(self, text: str) -> float:
        return float(len(text))


MM = Millimetres()


def test_a_cell_that_fits_stays_one_line() -> None:
    assert wrap("Ada Lovelace", 12, MM) == ["Ada Lovelace"]


def test_a_long_cell_breaks_between_words_and_inside_a_word_too_long_for_a_line() -> None:
    assert wrap("North Elementary; South Middle", 12, MM) == [
        "North",
        "Elementary;",
        "South Middle",
    ]
    assert wrap("Kindergartenclass", 6, MM) == ["Kinder", "garten", "class"]


def test_a_cell_past_the_most_lines_ends_in_an_ellipsis() -> None:
    assert wrap("ab cd ef gh", 3, MM, max_lines=3) == ["ab", "cd", "ef…"]
    assert len(wrap("word " * 100, 10, MM)) == 6
    assert wrap("x" * 10_000, 3, MM) == ["xxx"] * 5 + ["xx…"]


def test_columns_keep_their_natural_widths_when_they_fit() -> None:
    natural, least = column_bounds(["ID", "Name"], [["1", "Ada Lovelace"]], head=MM, body=MM)
    assert natural == [8.0, 12 + 2 * PAD_X]  # the least a column gets (8 mm), the widest cell
    assert fit(natural, least, 100) == natural


def test_columns_too_wide_give_up_width_in_proportion_down_to_their_longest_word() -> None:
    natural, least = [40.0, 20.0], [10.0, 10.0]
    assert fit(natural, least, 45) == [28.75, 16.25]  # 25 mm spare shared 30:10
    assert fit(natural, least, 10) == [5.0, 5.0]  # below every longest word: scaled


def test_a_header_on_its_side_does_not_widen_its_column() -> None:
    header = ["Imagine Reading: Access"]
    natural, _ = column_bounds(header, [["Yes"]], head=MM, body=MM, upright=False)
    assert natural == [max(MM.line + 2 * PAD_X, 3 + 2 * PAD_X)]


def test_rows_fill_each_page_and_no_rows_still_make_one_page() -> None:
    assert paginate([10.0] * 7, 30) == [(0, 3), (3, 6), (6, 7)]
    assert paginate([], 30) == [(0, 0)]
    assert paginate([50.0, 5.0], 30) == [(0, 1), (1, 2)]  # a row taller than a page: alone
    assert row_height([["a"], ["b", "c"]], 4.0) == 8.0 + 2 * 0.8


def test_the_password_column_is_left_out_of_every_row() -> None:
    rows = PdfRows()
    rows.writerow(["Database ID", "Password", "Username"])
    rows.writerow(["1", "", "ada"])
    assert rows.header == ["Database ID", "Username"]
    assert rows.rows == [["1", "ada"]]
