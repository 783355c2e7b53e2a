"""How each kind of cell is written on export and read back on import.

A codec turns a stored value into cell text (`to_cell`, where `None` is an empty cell) and
cell text back into a value. `from_cell` reads a cell as uploaded: `schemas.cells.cell_value`
trims its surrounding whitespace, then removes the `'` the export put before a formula start;
`from_value` reads what that leaves (or any value already trimmed), as it is. Reading takes
an empty value as `None` (the import decides whether that clears a value or is missing), and
refuses a bad value with `CellError`, whose message tells a teacher what to write instead.
Messages never name the column (the caller prefixes `"<Column>: "`) and never repeat a
password.

Codecs know the damage spreadsheets do to a CSV file: IDs turned into scientific notation,
dates saved with a two-digit year, whole numbers saved as `123.0`. Such values are refused
with an explanation rather than guessed at. Writing does not neutralise formulas: the export
applies `schemas.cells.neutralise` to what `to_cell` wrote, so that
`from_cell(neutralise(to_cell(v)))` gives `v` back.
"""

from __future__ import annotations

import datetime as dt
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from schemas.cells import FORMULA, cell_value
from schemas.products import Product

T = TypeVar("T")

LIST_SEPARATOR = ";"
_QUOTE_LIMIT = 60

# Excel shows long or E-looking numbers as 1.23E+11 (some locales 1,23E+11); the exponent
# always carries a sign there, which keeps real IDs such as 0503E000 acceptable.
_SCIENTIFIC = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)?[eE][+-][0-9]+")
_FORMULA_TEXT = re.compile(r'="[^"]*"')
_DIGITS = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[+-]?[0-9]*\.[0-9]+|[+-]?[0-9]+\.")
_NEGATIVE = re.compile(r"-[0-9]+")
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
_US_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
_US_DATE_SHORT_YEAR = re.compile(r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{2}")
_EMAIL = re.compile(r"[^@\s;,<>()\[\]\"]{1,64}@[^@\s;,<>()\[\]\"]+")
_DATABASE_ID_MAX = 2**63 - 1
_PROTECTED_START = "\t\r"  # what the export's quote keeps at the start of a value
_DIRECTION_CONTROLS = r"\u202a-\u202e\u2066-\u2069"
_INVISIBLE = re.compile(rf"[\x00-\x08\x0a-\x1f\x7f-\x9f{_DIRECTION_CONTROLS}]")
_DIRECTION_CONTROL = re.compile(rf"[{_DIRECTION_CONTROLS}]")


FORMULA_REFUSED = "a formula, not a value; type the value itself."


class CellError(ValueError):
    """A cell's value cannot be used; `message` says why and what to write instead."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Codec(Protocol[T]):
    """Writes a value as cell text and reads it back; see the module docstring."""

    def to_cell(self, value: T | None) -> str: ...

    def from_cell(self, cell: str) -> T | None: ...

    def from_value(self, value: str) -> T | None: ...


def colon_hint(value: str) -> str | None:
    """The hint to add when a listed reference is not found and ':' was used as a separator."""
    if ":" in value:
        return f"Use '{LIST_SEPARATOR}' between values, not ':'."
    return None


def _quoted(value: str) -> str:
    """The value as shown in a message, cut short so a huge cell keeps the report readable."""
    if len(value) > _QUOTE_LIMIT:
        value = value[: _QUOTE_LIMIT - 1] + "…"
    return f"'{value}'"


def _check_characters(value: str) -> None:
    """Refuse line breaks, invisible control characters (a tab is allowed) and the invisible
    characters that change the direction text is shown in.

    A value may start with tabs and carriage returns: a codec gets one only from behind the
    `'` an export put before it (`cell_value` trims a cell first), so it is a value stored
    that way, and refusing it would fail every such row of an untouched export. A line break
    anywhere else is refused.

    Direction overrides, embeddings and isolates (U+202A to U+202E, U+2066 to U+2069) make a
    value show in another order than it is written (U+202E then "ftg.exe" shows as
    "exe.gtf"), so they are refused. Right-to-left letters (Arabic, Hebrew) need none of them
    and are accepted, as are the direction marks (U+200E, U+200F, U+061C), which reorder
    nothing, and zero-width characters, such as the joiners some scripts and emoji need.

    The message never quotes the value, so the check is safe for passwords.
    """
    if value.isprintable():
        return  # no control, format or line-break character at all: nearly every cell
    body = value.lstrip(_PROTECTED_START)
    if "\n" in body or "\r" in body:
        raise CellError("Line breaks are not allowed here; put the whole value on one line.")
    found = _INVISIBLE.search(body)
    if found is None:
        return
    code = f"U+{ord(found.group()):04X}"
    if _DIRECTION_CONTROL.match(found.group()):
        raise CellError(
            f"The value contains an invisible text-direction character ({code}), which makes "
            "text show in another order than it is written; retype it without that character."
        )
    raise CellError(
        f"The value contains an invisible control character ({code}); "
        "retype it without that character."
    )


def _check_length(value: str, min_len: int, max_len: int) -> None:
    """Refuse a value of the wrong length; the message never quotes the value."""
    if min_len <= len(value) <= max_len:
        return
    length = f"{len(value)} character{'' if len(value) == 1 else 's'}"
    if len(value) > max_len:
        raise CellError(f"The value is {length} long; at most {max_len} are allowed.")
    raise CellError(f"The value is {length} long; at least {min_len} are required.")


def _check_text(value: str, min_len: int, max_len: int) -> None:
    _check_characters(value)
    _check_length(value, min_len, max_len)


def _refuse_spreadsheet_damage(value: str) -> None:
    """Refuse an ID a spreadsheet rewrote: digits lost to E-notation, or a `="…"` formula."""
    if "e" not in value and "E" not in value and "=" not in value:
        return  # neither pattern can match
    if _SCIENTIFIC.fullmatch(value):
        raise CellError(
            f"{_quoted(value)} is an ID that a spreadsheet turned into scientific notation, "
            "which loses digits; restore the original ID (for example from the export) and "
            "format the column as Text before saving."
        )
    if _FORMULA_TEXT.fullmatch(value):
        raise CellError(
            f"{_quoted(value)} is written as a spreadsheet formula; write only the ID itself "
            "and format the column as Text."
        )


class _Cell(ABC, Generic[T]):
    """Reading shared by the single-valued codecs: an empty value is `None`.

    A subclass says in `_read` how a non-empty value becomes a value.
    """

    def from_cell(self, cell: str) -> T | None:
        if cell[:1] == FORMULA:
            raise CellError(FORMULA_REFUSED)
        return self.from_value(cell_value(cell))

    def from_value(self, value: str) -> T | None:
        return self._read(value) if value else None

    @abstractmethod
    def _read(self, value: str) -> T: ...


class _TextCell(_Cell[str]):
    """A codec whose value is written as the text itself."""

    def to_cell(self, value: str | None) -> str:
        return value or ""


@dataclass(frozen=True)
class DatabaseIdCodec(_Cell[int]):
    """The portal's own ID of a record: a positive whole number, never edited by users."""

    def to_cell(self, value: int | None) -> str:
        return "" if value is None else str(value)

    def _read(self, value: str) -> int:
        if value.isascii() and value.isdigit() and 0 < int(value) <= _DATABASE_ID_MAX:
            return int(value)  # what every check below lets through, asked at once
        _refuse_spreadsheet_damage(value)
        if _DECIMAL.fullmatch(value):
            raise CellError(
                f"{_quoted(value)} is not a Database ID: IDs are whole numbers without a "
                "decimal point. Copy the ID unchanged from the export (format the column "
                "as Text)."
            )
        if _NEGATIVE.fullmatch(value) or (_DIGITS.fullmatch(value) and int(value) == 0):
            raise CellError(
                f"{_quoted(value)} is not a Database ID: IDs are positive whole numbers "
                "assigned by the portal. Leave the cell empty to create a new record."
            )
        if not _DIGITS.fullmatch(value):
            raise CellError(
                f"{_quoted(value)} is not a Database ID: IDs are whole numbers assigned by "
                "the portal. Leave the cell empty to create a new record."
            )
        if int(value) > _DATABASE_ID_MAX:
            raise CellError(
                f"{_quoted(value)} is too large to be a Database ID; copy the ID unchanged "
                "from the export."
            )
        return int(value)


@dataclass(frozen=True)
class TextCodec(_TextCell):
    """Free text on one line: names, race, home language, class/group and school names.

    `allow_semicolon=False` is for names that other files list in multi-valued cells, where
    a ';' would split the name in two.
    """

    max_len: int
    min_len: int = 1
    allow_semicolon: bool = True

    def _read(self, value: str) -> str:
        _check_text(value, self.min_len, self.max_len)
        if not self.allow_semicolon and LIST_SEPARATOR in value:
            raise CellError(
                f"{_quoted(value)} contains ';', which separates names in lists; "
                "choose a name without ';'."
            )
        return value


@dataclass(frozen=True)
class StudentUsernameCodec(_TextCell):
    """A student's sign-in name: 3 to 100 characters, no spaces, no ';' (it separates lists).

    The case is kept as written; uniqueness is case-insensitive and checked by the import.
    """

    min_len: int = 3
    max_len: int = 100

    def _read(self, value: str) -> str:
        _check_characters(value)
        # a printable value's only possible space is " " (the others are not printable)
        if " " in value if value.isprintable() else any(map(str.isspace, value)):
            raise CellError(f"{_quoted(value)} contains a space; usernames cannot contain spaces.")
        if LIST_SEPARATOR in value:
            raise CellError(f"{_quoted(value)} contains ';'; usernames cannot contain ';'.")
        _check_length(value, self.min_len, self.max_len)
        return value


@dataclass(frozen=True)
class EmailCodec(_TextCell):
    """An educator's username: an email address of at most 254 characters."""

    max_len: int = 254

    def _read(self, value: str) -> str:
        _check_text(value, 3, self.max_len)
        if not _EMAIL.fullmatch(value) or not _is_domain(value.rpartition("@")[2]):
            raise CellError(
                f"{_quoted(value)} is not an email address; an educator's username is their "
                "email, such as name@school.org."
            )
        return value


def _is_domain(domain: str) -> bool:
    labels = domain.split(".")
    return len(labels) >= 2 and all(labels) and not domain.startswith("-")


@dataclass(frozen=True)
class PasswordCodec(_Cell[str]):
    """A new password (4+ characters, case-sensitive). Exports never carry one.

    `to_cell` always writes an empty cell, whatever it is given, so no code path can put a
    password (or its hash) into an export. Messages never repeat the password.
    """

    min_len: int = 4
    max_len: int = 128

    def to_cell(self, value: str | None) -> str:
        return ""

    def _read(self, value: str) -> str:
        _check_characters(value)
        if len(value) < self.min_len:
            raise CellError(f"A password needs at least {self.min_len} characters.")
        _check_length(value, self.min_len, self.max_len)
        return value


@dataclass(frozen=True)
class ExternalIdCodec(_TextCell):
    """A district's own ID of a record (usually from its SIS): 1 to 64 characters, kept as text.

    Leading zeros are kept; an ID a spreadsheet turned into scientific notation is refused.
    """

    max_len: int = 64

    def _read(self, value: str) -> str:
        _refuse_spreadsheet_damage(value)
        _check_text(value, 1, self.max_len)
        return value


GRADES = ("PK", "K", *(str(grade) for grade in range(1, 13)))
"""Every grade as `GradeCodec` stores and writes it, youngest first."""


def _grade_aliases() -> dict[str, str]:
    aliases = {
        alias: "PK"
        for alias in (
            "pk",
            "pre-k",
            "prek",
            "pre k",
            "prekindergarten",
            "pre-kindergarten",
            "pre kindergarten",
        )
    }
    aliases.update({alias: "K" for alias in ("k", "kg", "kindergarten")})
    aliases.update({str(grade): str(grade) for grade in range(1, 13)})
    aliases.update({f"0{grade}": str(grade) for grade in range(1, 10)})
    return aliases


_GRADES = _grade_aliases()


@dataclass(frozen=True)
class GradeCodec(_TextCell):
    """A grade, stored and written as PK, K or 1 to 12; common spellings are read too."""

    def _read(self, value: str) -> str:
        grade = _GRADES.get(value.casefold())
        if grade is None:
            raise CellError(
                f"{_quoted(value)} is not a grade; use PK, K or 1 to 12 (Pre-K, KG, "
                "Kindergarten and 01 to 09 are also accepted)."
            )
        return grade


_YES = frozenset({"yes", "y", "true"})
_NO = frozenset({"no", "n", "false"})


@dataclass(frozen=True)
class YesNoCodec(_Cell[bool]):
    """A yes/no value, written Yes or No; Y, N, True and False are read too (any case)."""

    def to_cell(self, value: bool | None) -> str:
        if value is None:
            return ""
        return "Yes" if value else "No"

    def _read(self, value: str) -> bool:
        if value.casefold() in _YES:
            return True
        if value.casefold() in _NO:
            return False
        raise CellError(
            f"{_quoted(value)} is not Yes or No; write Yes or No (Y, N, True and False are "
            "also accepted)."
        )


class StatusCodec(_Cell[bool]):
    """Whether a record is active: written Active or Inactive (any case on import)."""

    choices = ("Active", "Inactive")

    def to_cell(self, value: bool | None) -> str:
        if value is None:
            return ""
        return "Active" if value else "Inactive"

    def _read(self, value: str) -> bool:
        folded = value.casefold()
        if folded in ("active", "inactive"):
            return folded == "active"
        raise CellError(f"{_quoted(value)} is not allowed; use Active or Inactive.")


@dataclass(frozen=True)
class DateCodec(_Cell[dt.date]):
    """A date, written YYYY-MM-DD; M/D/YYYY (month first, as US spreadsheets save it) is read too.

    A two-digit year is refused, not guessed: the spreadsheet that wrote it lost the century.
    """

    def to_cell(self, value: dt.date | None) -> str:
        return "" if value is None else value.isoformat()

    def _read(self, value: str) -> dt.date:
        year_month_day = _date_parts(value)
        try:
            return dt.date(*year_month_day)
        except ValueError:
            raise CellError(
                f"{_quoted(value)} is not a real date; check the day and the month "
                "(M/D/YYYY dates are read month first)."
            ) from None


def _date_parts(value: str) -> tuple[int, int, int]:
    iso = _ISO_DATE.fullmatch(value)
    if iso:
        return int(iso[1]), int(iso[2]), int(iso[3])
    us = _US_DATE.fullmatch(value)
    if us:
        return int(us[3]), int(us[1]), int(us[2])
    if _US_DATE_SHORT_YEAR.fullmatch(value):
        raise CellError(
            f"{_quoted(value)} has a two-digit year, so the century was lost (spreadsheets do "
            "that when they save dates); write the full date as YYYY-MM-DD, such as 2015-03-07."
        )
    raise CellError(
        f"{_quoted(value)} is not a date; write it as YYYY-MM-DD, such as 2015-03-07 "
        "(M/D/YYYY is also accepted)."
    )


@dataclass(frozen=True)
class ChoiceCodec(_TextCell):
    """One of a fixed list of values, read case-insensitively and returned as spelled in `choices`.

    `aliases` maps other accepted spellings to a choice, such as Administrator to Admin.
    """

    choices: tuple[str, ...]
    aliases: tuple[tuple[str, str], ...] = ()

    def _read(self, value: str) -> str:
        wanted = value.casefold()
        for spelling, choice in (*((c, c) for c in self.choices), *self.aliases):
            if spelling.casefold() == wanted:
                return choice
        raise CellError(f"{_quoted(value)} is not allowed; use one of: {', '.join(self.choices)}.")


@dataclass(frozen=True)
class MinutesCodec(_Cell[int]):
    """A whole number of minutes between `lo` and `hi`, such as a session time."""

    lo: int
    hi: int

    def to_cell(self, value: int | None) -> str:
        return "" if value is None else str(value)

    def _read(self, value: str) -> int:
        if not _DIGITS.fullmatch(value):
            raise CellError(
                f"{_quoted(value)} is not a whole number of minutes; write a number from "
                f"{self.lo} to {self.hi}."
            )
        minutes = int(value)
        if not self.lo <= minutes <= self.hi:
            raise CellError(
                f"{minutes} minutes is outside the allowed range; write a number from "
                f"{self.lo} to {self.hi}."
            )
        return minutes


def _split_list(value: str) -> list[str]:
    """The cell's items: split on ';', stripped, empty ones and repeats (any case) dropped."""
    items: list[str] = []
    seen: set[str] = set()
    for part in value.split(LIST_SEPARATOR):
        item = part.strip()
        if item and item.casefold() not in seen:
            seen.add(item.casefold())
            items.append(item)
    return items


def _refuse_single_string(value: object) -> None:
    if isinstance(value, str):
        raise TypeError("a list cell needs a sequence of values, not one string")


@dataclass(frozen=True)
class ListCodec:
    """A multi-valued cell: values separated by ';', each read with `item` when given.

    Reading drops empty values and repeats (case-insensitive, the first spelling wins) and
    reports every bad value of the cell at once. A cell with no values reads as `None`.
    """

    item: Codec[str] | None = None

    def to_cell(self, value: Sequence[str] | None) -> str:
        if value is None:
            return ""
        _refuse_single_string(value)
        if self.item is None:
            return LIST_SEPARATOR.join(value)
        return LIST_SEPARATOR.join(self.item.to_cell(item) for item in value)

    def from_cell(self, cell: str) -> tuple[str, ...] | None:
        if cell[:1] == FORMULA:
            raise CellError(FORMULA_REFUSED)
        return self.from_value(cell_value(cell))

    def from_value(self, value: str) -> tuple[str, ...] | None:
        items = _split_list(value)
        if self.item is not None:
            items = _read_items(self.item, items)
        return tuple(items) or None


def _about_item(item: str, message: str) -> str:
    """The message, naming the item unless it already starts by quoting it."""
    quoted = _quoted(item)
    return message if message.startswith(quoted) else f"{quoted}: {message}"


def _read_items(codec: Codec[str], items: list[str]) -> list[str]:
    values: list[str] = []
    problems: list[str] = []
    for item in items:
        try:
            value = codec.from_value(item)
        except CellError as err:
            problems.append(_about_item(item, err.message))
        else:
            if value is not None:
                values.append(value)
    if problems:
        raise CellError(" ".join(problems))
    return values


_PRODUCTS_BY_NAME = {product.value.casefold(): product for product in Product}


@dataclass(frozen=True)
class ProductListCodec:
    """A class/group's products, by the names used in headers (such as Imagine Reading).

    Names match case-insensitively; each product is returned once, in the order written.
    """

    def to_cell(self, value: Sequence[Product] | None) -> str:
        if value is None:
            return ""
        return LIST_SEPARATOR.join(product.value for product in value)

    def from_cell(self, cell: str) -> tuple[Product, ...] | None:
        if cell[:1] == FORMULA:
            raise CellError(FORMULA_REFUSED)
        return self.from_value(cell_value(cell))

    def from_value(self, value: str) -> tuple[Product, ...] | None:
        items = _split_list(value)
        unknown = [item for item in items if item.casefold() not in _PRODUCTS_BY_NAME]
        if unknown:
            raise CellError(" ".join(_unknown_product(item) for item in unknown))
        return tuple(_PRODUCTS_BY_NAME[item.casefold()] for item in items) or None


def _unknown_product(name: str) -> str:
    known = ", ".join(product.value for product in Product)
    message = f"{_quoted(name)} is not a product; the products are {known}."
    hint = colon_hint(name)
    return f"{message} {hint}" if hint else message
