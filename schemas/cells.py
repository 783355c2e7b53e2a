"""Keeping spreadsheets from running exported cells as formulas, and undoing it on import.

A spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`, tab or carriage return as a
formula, even when the CSV quotes it. The export writes such a cell with a leading `'`, which
spreadsheets show as plain text, and the import removes that `'` again, so a name such as
`-Smith` survives the trip unchanged.

The rule must be exactly reversible, also for values that already start with `'`: a run of
leading quotes followed by a trigger character gets one more quote on export and loses one
on import. So `unneutralise(neutralise(x)) == x` for every string `x`. Apply `neutralise` to
the cell text a codec wrote; the codecs read an uploaded cell through `cell_value`, which
trims it before it unneutralises it.
"""

from __future__ import annotations

FORMULA_TRIGGERS = frozenset("=+-@\t\r")
QUOTE = "'"
FORMULA = "\x00"
"""Put by a reader before the text of a cell that holds a formula (an XLSX cell with `<f>`):
the codecs refuse such a cell as a formula, whatever its column, and the reports show the
formula's text. A NUL never reaches a cell otherwise: XML cannot hold one, and the codecs
refuse one in CSV text."""


def formula_cell(formula: str) -> str:
    """The cell a reader passes on for a formula (`formula` without its `=`)."""
    return f"{FORMULA}={formula}"


def is_formula(cell: str) -> bool:
    return cell.startswith(FORMULA)


def formula_text(cell: str) -> str:
    """What a report shows of a cell: the formula as typed, for a formula; else the cell."""
    return cell[1:] if cell.startswith(FORMULA) else cell


def _starts_like_formula(cell: str) -> bool:
    """True when the cell, after any leading quotes, starts with a formula trigger."""
    unquoted = cell.lstrip(QUOTE)
    return bool(unquoted) and unquoted[0] in FORMULA_TRIGGERS


def neutralise(cell: str) -> str:
    """The cell as the export writes it: with a leading `'` when a spreadsheet would run it."""
    return QUOTE + cell if _starts_like_formula(cell) else cell


def unneutralise(cell: str) -> str:
    """The cell as it was before `neutralise`: one leading `'` removed where one was added."""
    if cell.startswith(QUOTE) and _starts_like_formula(cell):
        return cell[1:]
    return cell


def cell_value(cell: str) -> str:
    """The value an uploaded cell holds: trimmed of surrounding whitespace, then unneutralised.

    In that order, because whitespace around a cell is a person's typing, while what follows
    the export's `'` is the stored value itself: a name stored with a leading tab or CR is
    exported as `'<tab>Name` and must come back as `<tab>Name`, or every such row would be
    updated by re-importing an untouched export. Only the start is protected that way:
    whitespace at the end of a value is trimmed like a person's, and so is whitespace at the
    start of a cell that has no such quote.
    """
    return unneutralise(cell.strip())
