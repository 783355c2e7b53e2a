"""Exported cells cannot run as spreadsheet formulas, and import gives back what was exported."""

from __future__ import annotations

from itertools import product

import pytest

from schemas.cells import cell_value, neutralise, unneutralise

TRIGGERS = ["=", "+", "-", "@", "\t", "\r"]
# Triggers, the quote the export adds, and characters that must be left alone.
ALPHABET = [*TRIGGERS, "'", "a", "1", " ", "\n", '"', "\x00"]


def every_string(max_length: int) -> list[str]:
    return [
        "".join(chars)
        for length in range(max_length + 1)
        for chars in product(ALPHABET, repeat=length)
    ]


def test_every_short_string_survives_export_and_import_unchanged() -> None:
    # given every string of up to four characters over triggers, quotes and plain characters
    cells = every_string(4)
    # when each is exported and imported again
    changed = [cell for cell in cells if unneutralise(neutralise(cell)) != cell]
    # then none has changed
    assert changed == []


def test_no_exported_cell_starts_like_a_formula() -> None:
    # given every string of up to four characters
    cells = every_string(4)
    # when each is exported
    exported = [neutralise(cell) for cell in cells]
    # then no cell starts with a character that makes a spreadsheet run it
    assert [cell for cell in exported if cell[:1] in TRIGGERS] == []


@pytest.mark.parametrize(
    ("cell", "exported"),
    [
        ("=SUM(A1:A2)", "'=SUM(A1:A2)"),
        ("+1", "'+1"),
        ("-Smith", "'-Smith"),
        ("@home", "'@home"),
        ("\tindent", "'\tindent"),
        ("\rreturn", "'\rreturn"),
        ("'=already quoted", "''=already quoted"),
        ("''-twice", "'''-twice"),
    ],
)
def test_cells_a_spreadsheet_would_run_get_a_leading_quote(cell: str, exported: str) -> None:
    # given a value starting like a formula, perhaps already behind quotes
    # when it is exported
    # then exactly one quote is added in front
    assert neutralise(cell) == exported


@pytest.mark.parametrize("cell", ["", "Smith", "O'Brien", "'quoted", "''", "a=b", " =x", "'a-b"])
def test_ordinary_cells_are_exported_as_they_are(cell: str) -> None:
    # given a value a spreadsheet shows as text
    # when it is exported
    # then it is written unchanged
    assert neutralise(cell) == cell


@pytest.mark.parametrize(
    ("cell", "imported"),
    [
        ("'-Smith", "-Smith"),
        ("'=1+1", "=1+1"),
        ("''=x", "'=x"),
        ("'Brien", "'Brien"),
        ("'", "'"),
        ("=typed by hand", "=typed by hand"),
    ],
)
def test_import_removes_only_the_quote_the_export_added(cell: str, imported: str) -> None:
    # given a cell from an uploaded file
    # when it is imported
    # then one leading quote is removed only where the export would have added it
    assert unneutralise(cell) == imported


def exportable(value: str) -> bool:
    """No whitespace at the end, and none at the start but the tab or CR a formula quote keeps."""
    return value == value.rstrip() and (value == value.lstrip() or value[0] in "\t\r")


def test_every_value_the_export_writes_is_read_back_as_it_was_stored() -> None:
    # given every short value that has no whitespace a person's typing could have added
    values = [value for value in every_string(4) if exportable(value)]
    # when each is exported and its cell read by an import
    changed = [value for value in values if cell_value(neutralise(value)) != value]
    # then none has changed: a leading tab or CR behind the export's quote is kept
    assert changed == []


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        ("  Ann  ", "Ann"),
        ("\tAnn\r\n", "Ann"),
        ("\t=typed", "=typed"),
        ("  '-Smith ", "-Smith"),
        ("'\tIndented", "\tIndented"),
        ("'\rReturn", "\rReturn"),
        (" '\tkept ", "\tkept"),
        ("'plain", "'plain"),
    ],
)
def test_a_cell_is_trimmed_first_then_loses_the_export_quote(cell: str, value: str) -> None:
    # given a cell from an uploaded file, perhaps typed with spaces around it
    # when it is imported
    # then the spaces around it go, and what the export's quote protected stays
    assert cell_value(cell) == value
