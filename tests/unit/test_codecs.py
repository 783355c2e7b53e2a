"""What each kind of cell accepts on import, what it writes on export, and what it tells a
teacher when a value cannot be used."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from schemas.cells import neutralise
from schemas.codecs import (
    CellError,
    ChoiceCodec,
    Codec,
    DatabaseIdCodec,
    DateCodec,
    EmailCodec,
    ExternalIdCodec,
    GradeCodec,
    ListCodec,
    MinutesCodec,
    PasswordCodec,
    ProductListCodec,
    StudentUsernameCodec,
    TextCodec,
    YesNoCodec,
    colon_hint,
)
from schemas.products import Product

SCIENTIFIC_MESSAGE = (
    "is an ID that a spreadsheet turned into scientific notation, which loses digits; "
    "restore the original ID (for example from the export) and format the column as Text "
    "before saving."
)


def refusal(codec: Codec[Any], cell: str) -> str:
    with pytest.raises(CellError) as caught:
        codec.from_cell(cell)
    return caught.value.message


ROUND_TRIPS: list[tuple[Codec[Any], Any]] = [
    (DatabaseIdCodec(), 123456789012),
    (TextCodec(100), "Zoë O'Brien-Núñez"),
    (TextCodec(100), "tab\tinside"),
    (TextCodec(100), "\tIndented"),
    (TextCodec(100), "\rCarriage return"),
    (TextCodec(100), "-Smith"),
    (TextCodec(100), "محمد العلي"),
    (TextCodec(100), "כהן\u200f-Cohen"),
    (ExternalIdCodec(), "\t0042"),
    (ExternalIdCodec(), "=7"),
    (StudentUsernameCodec(), "ann.lee_07"),
    (EmailCodec(), "Ms.Lee@school.example.org"),
    (ExternalIdCodec(), "000123"),
    (ExternalIdCodec(), "0503E000"),
    (GradeCodec(), "PK"),
    (GradeCodec(), "K"),
    (GradeCodec(), "12"),
    (YesNoCodec(), True),
    (YesNoCodec(), False),
    (DateCodec(), dt.date(2015, 3, 7)),
    (ChoiceCodec(("F", "M", "X")), "X"),
    (MinutesCodec(5, 120), 20),
    (ListCodec(TextCodec(200)), ("Lincoln Elementary", "Adams Middle")),
    (ListCodec(TextCodec(200)), ("-Math", "'=Art")),
    (ProductListCodec(), (Product.READING, Product.ESPANOL)),
]


@pytest.mark.parametrize(("codec", "value"), ROUND_TRIPS)
def test_an_exported_value_reads_back_as_the_same_value(codec: Codec[Any], value: Any) -> None:
    # given a stored value
    # when it is exported, formula starts neutralised, and the cell is imported again
    cell = neutralise(codec.to_cell(value))
    # then the import reads exactly the stored value
    assert codec.from_cell(cell) == value


ALL_CODECS: list[Codec[Any]] = [
    DatabaseIdCodec(),
    TextCodec(100),
    StudentUsernameCodec(),
    EmailCodec(),
    PasswordCodec(),
    ExternalIdCodec(),
    GradeCodec(),
    YesNoCodec(),
    DateCodec(),
    ChoiceCodec(("F", "M")),
    MinutesCodec(5, 120),
    ListCodec(None),
    ProductListCodec(),
]


@pytest.mark.parametrize("codec", ALL_CODECS)
@pytest.mark.parametrize("cell", ["", "   ", " \t "])
def test_an_empty_cell_reads_as_no_value(codec: Codec[Any], cell: str) -> None:
    # given a cell that is empty or holds only spaces
    # when it is imported
    # then it reads as no value, so the import can clear or keep the field
    assert codec.from_cell(cell) is None


@pytest.mark.parametrize("codec", ALL_CODECS)
def test_no_value_exports_as_an_empty_cell(codec: Codec[Any]) -> None:
    # given a field with no value
    # when it is exported
    # then its cell is empty
    assert codec.to_cell(None) == ""


@pytest.mark.parametrize(
    ("codec", "cell", "value"),
    [
        (DatabaseIdCodec(), "  42 ", 42),
        (TextCodec(100), "  Ana  ", "Ana"),
        (ExternalIdCodec(), " S-0042 ", "S-0042"),
        (PasswordCodec(), "  open sesame  ", "open sesame"),
    ],
)
def test_surrounding_spaces_are_ignored(codec: Codec[Any], cell: str, value: Any) -> None:
    # given a value typed with spaces around it
    # when it is imported
    # then the spaces around it are dropped and those inside are kept
    assert codec.from_cell(cell) == value


# Database ID


@pytest.mark.parametrize("cell", ["1.23E+11", "1,23E+11", "5.03E+02", "1E+15", "4.5e-07"])
def test_scientific_notation_id_is_refused_with_an_explanation(cell: str) -> None:
    # given a Database ID that a spreadsheet displayed and saved in scientific notation
    # when it is imported
    message = refusal(DatabaseIdCodec(), cell)
    # then the teacher learns what happened and how to restore the ID
    assert message == f"'{cell}' {SCIENTIFIC_MESSAGE}"


def test_database_id_with_a_decimal_point_is_refused() -> None:
    # given an ID a spreadsheet saved as a decimal number
    # when it is imported
    message = refusal(DatabaseIdCodec(), "123.0")
    # then it is refused rather than silently rounded
    assert message == (
        "'123.0' is not a Database ID: IDs are whole numbers without a decimal point. "
        "Copy the ID unchanged from the export (format the column as Text)."
    )


@pytest.mark.parametrize("cell", ["0", "-5", "000"])
def test_database_id_of_zero_or_below_is_refused(cell: str) -> None:
    # given an ID that the portal never assigns
    # when it is imported
    message = refusal(DatabaseIdCodec(), cell)
    # then the teacher is told how to create a record instead
    assert message == (
        f"'{cell}' is not a Database ID: IDs are positive whole numbers assigned by the "
        "portal. Leave the cell empty to create a new record."
    )


@pytest.mark.parametrize("cell", ["abc", "12a", "1,234", "#12", "١٢"])
def test_database_id_that_is_not_a_whole_number_is_refused(cell: str) -> None:
    # given an ID with characters other than digits
    # when it is imported
    message = refusal(DatabaseIdCodec(), cell)
    # then the message says what an ID looks like
    assert message == (
        f"'{cell}' is not a Database ID: IDs are whole numbers assigned by the portal. "
        "Leave the cell empty to create a new record."
    )


def test_database_id_too_large_for_the_database_is_refused() -> None:
    # given an ID longer than any the portal assigns
    # when it is imported
    message = refusal(DatabaseIdCodec(), "9" * 20)
    # then it is refused with a message, not a database error
    assert message.endswith(
        "is too large to be a Database ID; copy the ID unchanged from the export."
    )


def test_database_id_with_lost_formatting_keeps_its_number() -> None:
    # given an ID with leading zeros added by hand
    # when it is imported
    # then it names the same record
    assert DatabaseIdCodec().from_cell("0042") == 42


# Text


@pytest.mark.parametrize("cell", ["Ann\nLee", "Ann\r\nLee", "Ann\rLee"])
def test_line_breaks_inside_a_name_are_refused(cell: str) -> None:
    # given a name with a line break typed inside the cell
    # when it is imported
    message = refusal(TextCodec(100), cell)
    # then it is refused with a fix
    assert message == "Line breaks are not allowed here; put the whole value on one line."


@pytest.mark.parametrize(("char", "code"), [("\x00", "0000"), ("\x07", "0007"), ("\x7f", "007F")])
def test_invisible_control_characters_are_refused(char: str, code: str) -> None:
    # given a name carrying an invisible control character
    # when it is imported
    message = refusal(TextCodec(100), f"Ann{char}Lee")
    # then the message names the character so it can be found
    assert message == (
        f"The value contains an invisible control character (U+{code}); retype it without "
        "that character."
    )


@pytest.mark.parametrize("cell", ["'\rAnn\rLee", "'\r\nAnn", "'\rAnn\nLee"])
def test_a_line_break_after_a_leading_carriage_return_is_still_refused(cell: str) -> None:
    # given a name whose leading CR is followed by another line break
    # when it is imported
    message = refusal(TextCodec(100), cell)
    # then the line break inside it is refused
    assert message == "Line breaks are not allowed here; put the whole value on one line."


def test_a_leading_tab_or_cr_is_kept_only_behind_the_export_quote() -> None:
    # given names starting with a tab or CR, as an export writes them and as typed
    exported = ["'\tAnn", "'\rAnn"]
    typed = ["\tAnn", "\rAnn"]
    # when they are imported
    # then the export's are read as stored, the typed ones trimmed
    assert [TextCodec(100).from_cell(cell) for cell in exported] == ["\tAnn", "\rAnn"]
    assert [TextCodec(100).from_cell(cell) for cell in typed] == ["Ann", "Ann"]


DIRECTION_CONTROLS = [chr(code) for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]


@pytest.mark.parametrize("char", DIRECTION_CONTROLS, ids=lambda char: f"U+{ord(char):04X}")
def test_a_character_that_reorders_how_text_is_shown_is_refused(char: str) -> None:
    # given a name carrying an invisible direction override, embedding or isolate
    # when it is imported
    message = refusal(TextCodec(100), f"{char}ftg.exe")
    # then it is refused, naming the character so it can be found
    assert message == (
        f"The value contains an invisible text-direction character (U+{ord(char):04X}), "
        "which makes text show in another order than it is written; retype it without "
        "that character."
    )


@pytest.mark.parametrize("codec", [PasswordCodec(), ExternalIdCodec(), StudentUsernameCodec()])
def test_a_direction_override_is_refused_without_repeating_the_value(codec: Codec[Any]) -> None:
    # given a password, ID or username hiding a right-to-left override
    cell = "secret\u202eword"
    # when it is imported
    message = refusal(codec, cell)
    # then it is refused without quoting the value
    assert "U+202E" in message
    assert "secret" not in message and "word" not in message


@pytest.mark.parametrize(
    "name",
    [
        "محمد",  # Arabic
        "שרה",  # Hebrew
        "כהן\u200f-Cohen",  # a right-to-left mark between Hebrew and Latin
        "\u200eO'Brien",  # a left-to-right mark
        "عبد\u061c الله",  # an Arabic letter mark
        "\u0915\u094d\u200d\u0937",  # a zero-width joiner in Devanagari
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # a zero-width non-joiner in Persian
    ],
)
def test_right_to_left_names_and_the_marks_they_use_are_accepted(name: str) -> None:
    # given a name in a right-to-left script, or with invisible marks that reorder nothing
    # when it is imported
    # then it is read as written
    assert TextCodec(100).from_cell(name) == name


def test_text_longer_than_allowed_is_refused_with_both_lengths() -> None:
    # given a name longer than the field holds
    # when it is imported
    message = refusal(TextCodec(100), "a" * 101)
    # then the message gives the length found and the limit
    assert message == "The value is 101 characters long; at most 100 are allowed."


def test_class_name_with_a_semicolon_is_refused() -> None:
    # given a class/group name with ';', which would split it in the lists of other files
    # when it is imported
    message = refusal(TextCodec(200, allow_semicolon=False), "Math; Period 1")
    # then it is refused
    assert message == (
        "'Math; Period 1' contains ';', which separates names in lists; choose a name without ';'."
    )


# Usernames and passwords


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("ab", "The value is 2 characters long; at least 3 are required."),
        ("ann lee", "'ann lee' contains a space; usernames cannot contain spaces."),
        ("ann;bob", "'ann;bob' contains ';'; usernames cannot contain ';'."),
        ("a" * 101, "The value is 101 characters long; at most 100 are allowed."),
    ],
)
def test_student_username_rules_are_explained(cell: str, message: str) -> None:
    # given a username breaking one of the rules
    # when it is imported
    # then the message states the rule
    assert refusal(StudentUsernameCodec(), cell) == message


def test_student_username_keeps_its_case() -> None:
    # given a username with capitals
    # when it is imported
    # then it is kept as written (uniqueness ignores case elsewhere)
    assert StudentUsernameCodec().from_cell("AnnLee") == "AnnLee"


@pytest.mark.parametrize(
    "cell",
    [
        "ann",
        "ann@",
        "@school.org",
        "ann@school",
        "ann@@school.org",
        "ann lee@school.org",
        "ann@school..org",
        "ann@.school.org",
        "a;b@school.org",
    ],
)
def test_educator_username_must_be_an_email(cell: str) -> None:
    # given an educator username that is not an email address
    # when it is imported
    message = refusal(EmailCodec(), cell)
    # then the message says an email is expected
    assert message == (
        f"'{cell}' is not an email address; an educator's username is their email, such as "
        "name@school.org."
    )


def test_email_longer_than_254_characters_is_refused() -> None:
    # given an address longer than email allows
    # when it is imported
    message = refusal(EmailCodec(), "a@" + "b" * 250 + ".org")
    # then it is refused for its length
    assert message == "The value is 256 characters long; at most 254 are allowed."


@pytest.mark.parametrize("password", ["abc", "  ab  "])
def test_short_password_is_refused_without_repeating_it(password: str) -> None:
    # given a password shorter than 4 characters
    # when it is imported
    message = refusal(PasswordCodec(), password)
    # then the message states the rule and does not show the password
    assert message == "A password needs at least 4 characters."
    assert password.strip() not in message


def test_password_keeps_case_and_inner_spaces() -> None:
    # given a case-sensitive password with a space inside
    # when it is imported
    # then it is read exactly as typed
    assert PasswordCodec().from_cell("Open Sesame") == "Open Sesame"


@pytest.mark.parametrize("value", ["secret", "$2b$12$hash", None])
def test_password_is_never_exported(value: str | None) -> None:
    # given any password value, even one handed over by mistake
    # when it is exported
    # then the cell is empty
    assert PasswordCodec().to_cell(value) == ""


# External Assigned ID


@pytest.mark.parametrize("cell", ["1.23E+11", "5.03E+02"])
def test_scientific_notation_external_id_is_refused_with_an_explanation(cell: str) -> None:
    # given an external ID a spreadsheet turned into scientific notation
    # when it is imported
    message = refusal(ExternalIdCodec(), cell)
    # then the teacher learns how to restore it
    assert message == f"'{cell}' {SCIENTIFIC_MESSAGE}"


@pytest.mark.parametrize("cell", ["0503E000", "12E4", "E+12", "A1.23E+11"])
def test_external_id_that_only_resembles_a_number_is_kept(cell: str) -> None:
    # given an ID a spreadsheet did not convert (no signed exponent, or not only a number)
    # when it is imported
    # then it is kept as written
    assert ExternalIdCodec().from_cell(cell) == cell


def test_external_id_written_as_a_formula_is_refused() -> None:
    # given the ="..." workaround some guides suggest for keeping IDs as text
    # when it is imported
    message = refusal(ExternalIdCodec(), '="0503E000"')
    # then the teacher is asked for the ID itself
    assert message == (
        "'=\"0503E000\"' is written as a spreadsheet formula; write only the ID itself and "
        "format the column as Text."
    )


def test_external_id_longer_than_64_characters_is_refused() -> None:
    # given an external ID over the limit
    # when it is imported
    message = refusal(ExternalIdCodec(), "x" * 65)
    # then the limit is stated
    assert message == "The value is 65 characters long; at most 64 are allowed."


# Grade


@pytest.mark.parametrize(
    ("cell", "grade"),
    [
        ("PK", "PK"),
        ("pk", "PK"),
        ("Pre-K", "PK"),
        ("prek", "PK"),
        ("PreKindergarten", "PK"),
        ("K", "K"),
        ("kg", "K"),
        ("KINDERGARTEN", "K"),
        ("1", "1"),
        ("01", "1"),
        ("09", "9"),
        ("10", "10"),
        ("12", "12"),
    ],
)
def test_grade_spellings_read_as_the_portal_grade(cell: str, grade: str) -> None:
    # given a grade as a SIS or a teacher writes it
    # when it is imported
    # then it reads as the grade the portal stores
    assert GradeCodec().from_cell(cell) == grade


@pytest.mark.parametrize("cell", ["13", "0", "00", "1.0", "Grade 3", "TK", "1-2"])
def test_unknown_grade_is_refused_with_the_accepted_values(cell: str) -> None:
    # given a value that is not a grade of the portal
    # when it is imported
    message = refusal(GradeCodec(), cell)
    # then the message lists what is accepted
    assert message == (
        f"'{cell}' is not a grade; use PK, K or 1 to 12 (Pre-K, KG, Kindergarten and 01 to "
        "09 are also accepted)."
    )


# Yes/No


@pytest.mark.parametrize(
    ("cell", "value"),
    [("Yes", True), ("y", True), ("TRUE", True), ("No", False), ("n", False), ("false", False)],
)
def test_yes_no_spellings_are_read(cell: str, value: bool) -> None:
    # given a yes/no in any of the usual spellings
    # when it is imported
    # then it reads as yes or no
    assert YesNoCodec().from_cell(cell) is value


def test_yes_no_exports_as_words() -> None:
    # given stored yes/no values
    # when they are exported
    # then the cells read Yes and No
    assert (YesNoCodec().to_cell(True), YesNoCodec().to_cell(False)) == ("Yes", "No")


def test_other_yes_no_value_is_refused() -> None:
    # given a value that is neither yes nor no
    # when it is imported
    message = refusal(YesNoCodec(), "maybe")
    # then the accepted values are listed
    assert message == (
        "'maybe' is not Yes or No; write Yes or No (Y, N, True and False are also accepted)."
    )


# Dates


@pytest.mark.parametrize(
    "cell",
    ["2015-03-07", "3/7/2015", "03/07/2015", "2015-3-7"],
)
def test_iso_and_us_dates_read_as_the_same_day(cell: str) -> None:
    # given a birth date as exported or as a US spreadsheet saved it
    # when it is imported
    # then it reads as the same day
    assert DateCodec().from_cell(cell) == dt.date(2015, 3, 7)


def test_date_exports_as_iso() -> None:
    # given a stored date
    # when it is exported
    # then the cell is YYYY-MM-DD
    assert DateCodec().to_cell(dt.date(2009, 11, 5)) == "2009-11-05"


@pytest.mark.parametrize("cell", ["3/7/15", "03/07/09"])
def test_two_digit_year_is_refused_because_the_century_was_lost(cell: str) -> None:
    # given a date a spreadsheet saved with a two-digit year
    # when it is imported
    message = refusal(DateCodec(), cell)
    # then the century is not guessed and the teacher is told why
    assert message == (
        f"'{cell}' has a two-digit year, so the century was lost (spreadsheets do that when "
        "they save dates); write the full date as YYYY-MM-DD, such as 2015-03-07."
    )


@pytest.mark.parametrize("cell", ["2015-02-30", "2/30/2015", "25/12/2015", "2015-13-01"])
def test_impossible_date_is_refused(cell: str) -> None:
    # given a date that does not exist (or a day-first date read month first)
    # when it is imported
    message = refusal(DateCodec(), cell)
    # then it is refused with a hint about the order
    assert message == (
        f"'{cell}' is not a real date; check the day and the month (M/D/YYYY dates are read "
        "month first)."
    )


@pytest.mark.parametrize("cell", ["March 7, 2015", "20150307", "2015/03/07", "07.03.2015"])
def test_unreadable_date_is_refused_with_the_expected_form(cell: str) -> None:
    # given a date in a form the import does not read
    # when it is imported
    message = refusal(DateCodec(), cell)
    # then the expected form is shown
    assert message == (
        f"'{cell}' is not a date; write it as YYYY-MM-DD, such as 2015-03-07 (M/D/YYYY is "
        "also accepted)."
    )


# Choices and minutes


@pytest.mark.parametrize(
    ("cell", "value"),
    [("teacher", "Teacher"), ("ADMIN", "Admin"), ("Administrator", "Admin")],
)
def test_choice_is_read_in_any_case_and_returned_in_its_own_spelling(cell: str, value: str) -> None:
    # given an educator type typed in another case, or the long name of Admin
    codec = ChoiceCodec(("Admin", "Teacher"), aliases=(("Administrator", "Admin"),))
    # when it is imported
    # then it reads as the portal's spelling
    assert codec.from_cell(cell) == value


def test_unknown_choice_is_refused_with_the_allowed_values() -> None:
    # given a gender outside the list
    # when it is imported
    message = refusal(ChoiceCodec(("F", "M", "X")), "Q")
    # then the allowed values are listed
    assert message == "'Q' is not allowed; use one of: F, M, X."


@pytest.mark.parametrize("cell", ["5", "120", "045"])
def test_minutes_within_range_are_read(cell: str) -> None:
    # given a session time within range
    # when it is imported
    # then it reads as that number of minutes
    assert MinutesCodec(5, 120).from_cell(cell) == int(cell)


@pytest.mark.parametrize("cell", ["4", "121", "0"])
def test_minutes_out_of_range_are_refused_with_the_range(cell: str) -> None:
    # given a session time outside 5 to 120
    # when it is imported
    message = refusal(MinutesCodec(5, 120), cell)
    # then the range is stated
    assert message == (
        f"{int(cell)} minutes is outside the allowed range; write a number from 5 to 120."
    )


@pytest.mark.parametrize("cell", ["twenty", "20.0", "-20", "20 min"])
def test_minutes_that_are_not_a_whole_number_are_refused(cell: str) -> None:
    # given a session time that is not a whole number
    # when it is imported
    message = refusal(MinutesCodec(5, 120), cell)
    # then the expected form is stated
    assert message == (f"'{cell}' is not a whole number of minutes; write a number from 5 to 120.")


# Lists


@pytest.mark.parametrize(
    ("cell", "values"),
    [
        ("Lincoln; Adams", ("Lincoln", "Adams")),
        (" Lincoln ;; Adams ; ", ("Lincoln", "Adams")),
        ("Lincoln;lincoln;LINCOLN;Adams", ("Lincoln", "Adams")),
        (";;", None),
    ],
)
def test_list_cell_is_split_on_semicolons_without_blanks_or_repeats(
    cell: str, values: tuple[str, ...] | None
) -> None:
    # given a multi-valued cell as typed by a teacher
    # when it is imported
    # then it reads as the distinct values, first spelling first
    assert ListCodec(TextCodec(200)).from_cell(cell) == values


def test_list_is_exported_joined_by_semicolons_in_the_given_order() -> None:
    # given a stored list
    # when it is exported
    # then the values keep their order
    assert ListCodec(None).to_cell(["Zeta", "Alpha"]) == "Zeta;Alpha"


def test_list_reports_every_bad_value_of_the_cell() -> None:
    # given a list of student usernames with two bad ones
    # when it is imported
    message = refusal(ListCodec(StudentUsernameCodec()), "ann; bo b; amy; c;d")
    # then both problems are reported at once
    assert message == (
        "'bo b' contains a space; usernames cannot contain spaces. "
        "'c': The value is 1 character long; at least 3 are required. "
        "'d': The value is 1 character long; at least 3 are required."
    )


def test_list_refuses_a_single_string_on_export() -> None:
    # given a caller handing one string where a list is expected
    # when it is exported
    # then it fails loudly instead of writing one letter per value
    with pytest.raises(TypeError):
        ListCodec(None).to_cell("Lincoln")


@pytest.mark.parametrize(
    ("value", "hint"),
    [("Math:Science", "Use ';' between values, not ':'."), ("Math", None)],
)
def test_colon_hint_is_given_only_when_a_colon_was_used(value: str, hint: str | None) -> None:
    # given a reference that was not found
    # when the import asks for a hint
    # then a colon used as a separator is pointed out
    assert colon_hint(value) == hint


# Products


def test_products_are_matched_in_any_case_without_repeats() -> None:
    # given a Products cell typed loosely
    cell = "imagine reading; IMAGINE ESPAÑOL ; Imagine Reading"
    # when it is imported
    # then it reads as the products, each once
    assert ProductListCodec().from_cell(cell) == (Product.READING, Product.ESPANOL)


def test_unknown_product_is_named_in_the_refusal() -> None:
    # given a Products cell with a misspelt product
    # when it is imported
    message = refusal(ProductListCodec(), "Imagine Reading; Imagine Readin")
    # then the unknown name and the known ones are given
    assert message.startswith(
        "'Imagine Readin' is not a product; the products are Imagine "
        "Language & Literacy, Imagine Español, "
    )
    assert "':'" not in message


def test_products_separated_by_a_colon_get_the_colon_hint() -> None:
    # given two products separated by ':' instead of ';'
    # when it is imported
    message = refusal(ProductListCodec(), "Imagine Reading:Imagine Lectura")
    # then the teacher is told to use ';'
    assert message.startswith("'Imagine Reading:Imagine Lectura' is not a product;")
    assert message.endswith("Imagine Purpose. Use ';' between values, not ':'.")


def test_products_export_by_their_header_names() -> None:
    # given a class/group's products
    # when they are exported
    # then the cell names them as the headers do
    assert ProductListCodec().to_cell([Product.GALILEO, Product.LANGUAGE_LITERACY]) == (
        "Imagine Galileo K-12;Imagine Language & Literacy"
    )
