"""The corpus of ugly import files (`tests/corpus/`), each imported into the small district.

Every file is as a spreadsheet or a careless hand leaves it: BOM or none, Windows-1252,
CRLF, LF or CR line ends, quoted line breaks, renamed or repeated headers, damaged IDs and
dates, formula cells, blank and ragged rows, the wrong kind of file. `CORPUS` holds one
entry per file: the exact outcome of every data row (and, for refused rows, the key words of
each error), or the words of the job's one error when the whole file is refused.

Database IDs (and the district's id, part of educators' usernames) differ between runs, so
the files name them with placeholders, filled in the file's own encoding before the upload:
`{id:jgarcia}` (a student of the district, by username), `{id:class_a}`, `{id:teacher}`
(the `SmallDistrict` field), `{id:other_anguyen}` (a student of the "Elsewhere" district)
and `{district}`. Expected error words and export cells may use the same placeholders.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jobs.lifecycle import JobContext
from jobs.passwords import verify_password
from schemas.cells import unneutralise
from storage.db import unit_of_work
from storage.models import ImportChange, Student
from storage.objects import FolderStore
from tests import factories
from tests.factories import SmallDistrict
from tests.importing import ImportRun, change_count, export_bytes, run_import_of

CORPUS_DIR = Path(__file__).resolve().parents[1] / "corpus"
ENTITIES = ("students", "educators", "classes")
RECORD_FIELDS = (
    "class_a",
    "class_b",
    "class_c",
    "district_admin",
    "school_admin",
    "teacher",
    "other_teacher",
)
PLACEHOLDER = re.compile(r"\{(id:\w+|district)\}")
SAVE_AS_UTF8 = 'Save it from your spreadsheet as "CSV UTF-8 (Comma delimited)"'


@dataclass(frozen=True)
class Row:
    """What one data row should come to: its outcome, the columns an update changes (as the
    change history names them), or the key words of each error of a refused row.

    An error's key words are fragments separated by `…`: the error starts with the first
    (`"Column: …"`) and holds the others in that order.
    """

    outcome: str
    columns: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


UNCHANGED = Row("unchanged")
CREATED = Row("created")


def updated(*columns: str) -> Row:
    return Row("updated", columns=columns)


def failed(*errors: str) -> Row:
    return Row("failed", errors=errors)


@dataclass(frozen=True)
class Imported:
    """A file the job reads row by row.

    `rows`: spreadsheet row number → expected outcome, for every data row (blank rows are
    absent). `export`: cells of a fresh export afterwards, by Username (Class/Group Name for
    classes); every record the import changed must be listed. `passwords`: a student who can
    now sign in with that password. `warnings`: the job's warnings (a text is a fragment).
    """

    rows: dict[int, Row]
    entity: str = "students"
    encoding: str = "utf-8"
    warnings: dict[str, object] = field(default_factory=dict)
    export: dict[str, dict[str, str]] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Refused:
    """A file the job refuses as a whole: `words` are fragments of its one message."""

    words: tuple[str, ...]
    entity: str = "students"
    encoding: str = "utf-8"


def refused(*words: str, entity: str = "students", encoding: str = "utf-8") -> Refused:
    return Refused(words, entity, encoding)


SCIENTIFIC = "is an ID that a spreadsheet turned into scientific notation"
COLON_HINT = "Use ';' between values, not ':'."
REQUIRED = "is required."

CORPUS: dict[str, Imported | Refused] = {
    "bom_only.csv": refused("The file is empty."),
    "classes_create_and_update.csv": Imported(
        {
            2: updated("Students", "Products"),
            3: updated("Organization", "External Assigned ID", "Products"),
            4: updated("Products"),
            5: CREATED,
        },
        entity="classes",
        export={
            "Grade 3 - O'Brien": {
                "Students": "formula1;jgarcia;zdangelo",
                "Products": "Imagine Language & Literacy;Imagine Reading",
            },
            "Grade 4 - Muñoz": {
                "Organization": "South Middle",
                "External Assigned ID": "B-4",
                "Products": "Imagine Galileo K-12",
            },
            "Grade 7 - Muñoz": {
                "External Assigned ID": "'-7",
                "Educators": "jose.munoz@{district}.example.org",
                "Students": "anguyen",
                "Products": "Imagine Reading",
            },
            "Reading Club": {
                "Organization": "South Middle",
                "External Assigned ID": "RC-1",
                "Educators": "jose.munoz@{district}.example.org;north@{district}.example.org",
                "Students": "anguyen;jgarcia",
                "Products": "Imagine Galileo K-12",
            },
        },
    ),
    "classes_file_imported_as_students.csv": refused(
        "The file has no 'First Name', 'Last Name', 'Username', 'Password'",
        "This looks like a Classes/Groups file; import it as Classes/Groups.",
    ),
    "classes_renames_and_refusals.csv": Imported(
        {
            2: updated("Class/Group Name", "External Assigned ID", "Products"),
            3: failed(
                "Class/Group Name: 'grade 3 - o'brien' is already used by another class/group."
            ),
            4: failed(
                "Organization: no school named 'North Elementary;South Middle' in this district."
            ),
            5: failed(
                "Educators: no educator named 'nobody@example.org' in this district.",
                "Students: no student named 'ghost' in this district.",
                "Products: the district has not purchased Imagine Science.",
            ),
            6: failed(
                "Class/Group Name: 'Music; Choir' contains ';', which separates names in lists",
                "Products: 'Imagine Readng' is not a product",
            ),
        },
        entity="classes",
        export={
            "Grade 4 - Muñoz (Room 12)": {
                "External Assigned ID": "B-4",
                "Products": "Imagine Reading",
            },
            "Grade 7 - Muñoz": {"Organization": "South Middle"},
        },
    ),
    # the export as it was, some names retyped in another case: nothing to change
    "classes_unchanged_export.csv": Imported(
        {2: UNCHANGED, 3: UNCHANGED, 4: UNCHANGED}, entity="classes"
    ),
    "educators_create_and_update.csv": Imported(
        {
            2: updated("Classes/Groups"),
            3: updated("Educator Type", "Organizations", "Classes/Groups"),
            4: UNCHANGED,
            5: CREATED,
        },
        entity="educators",
        export={
            "admin@{district}.example.org": {
                "Educator Type": "Admin",
                "Classes/Groups": "Grade 3 - O'Brien",
            },
            "north@{district}.example.org": {
                "Educator Type": "Teacher",
                "Organizations": "North Elementary;South Middle",
                "Classes/Groups": "Grade 7 - Muñoz",
            },
            "Kim.Lee@{district}.example.org": {
                "First Name": "Kim",
                "Educator Type": "Teacher",
                "Organizations": "South Middle",
                "External Assigned ID": "T-002",
                "Classes/Groups": "Grade 7 - Muñoz",
            },
        },
    ),
    "educators_refusals.csv": Imported(
        {
            2: failed("Username: 'sam.ray' is not an email address"),
            3: failed(
                "Username: 'ADMIN@{district}.example.org' is already used by another educator."
            ),
            4: failed(
                "Educator Type: 'Principal' is not allowed; use one of: Admin, Teacher.",
                f"Organizations: no school named 'North Elementary:South Middle' … {COLON_HINT}",
            ),
            5: failed("Organizations: no school named 'East High' in this district."),
            6: CREATED,
        },
        entity="educators",
        export={
            "ann.bell@{district}.example.org": {
                "Last Name": "Bell",
                "Educator Type": "Teacher",
                "Organizations": "North Elementary",
                "Classes/Groups": "Grade 3 - O'Brien",
            },
            "jose.munoz@{district}.example.org": {"Educator Type": "Teacher"},
        },
    ),
    "empty.csv": refused("The file is empty."),
    "students_blank_first_row.csv": refused(
        "The first row must be the header row, but row 1 of the file is empty."
    ),
    # an emptied Access cell clears access, as an empty optional cell clears any value
    "students_blank_product_access.csv": Imported(
        {2: updated("Imagine Galileo K-12: Access"), 3: UNCHANGED},
        export={"anguyen": {"Imagine Galileo K-12: Access": "No"}},
    ),
    "students_blank_required_cells.csv": Imported(
        {
            2: failed(f"First Name: {REQUIRED}", f"Grade: {REQUIRED}"),
            3: failed(f"Last Name: {REQUIRED}", f"Organizations: {REQUIRED}"),
            4: failed(f"Username: {REQUIRED}", f"External Assigned ID: {REQUIRED}"),
        }
    ),
    "students_bom_then_windows1252.csv": refused(
        "The file starts as UTF-8 text but is not valid UTF-8 further on (byte 0xE9).",
        SAVE_AS_UTF8,
    ),
    "students_colon_separators.csv": Imported(
        {
            2: failed(
                f"Organizations: no school named 'North Elementary:South Middle' … {COLON_HINT}"
            ),
            3: failed(
                "Classes/Groups: no class/group named 'Grade 3 - O'Brien:Grade 4 - Muñoz' … "
                + COLON_HINT
            ),
            4: UNCHANGED,
        }
    ),
    "students_cr_only_line_endings.csv": Imported(
        {2: updated("Grade"), 3: UNCHANGED, 4: CREATED},
        export={
            "jgarcia": {"Grade": "5"},
            "mpower": {"Last Name": "Power", "Grade": "6", "Organizations": "South Middle"},
        },
        passwords={"mpower": "pw12345"},
    ),
    # each row names an existing student by a damaged ID: only the damage is reported
    "students_damaged_database_ids.csv": Imported(
        {
            2: failed(f"Database ID: '1.23E+11' {SCIENTIFIC}"),
            3: failed("Database ID: '=\"{id:zdangelo}\"' is written as a spreadsheet formula"),
        }
    ),
    "students_duplicate_database_ids.csv": Imported(
        {
            2: updated("Grade"),
            3: UNCHANGED,
            # a refused Database ID is the row's one problem: no echo about its own username
            4: failed("Database ID: duplicate of row 2."),
            5: failed("Database ID: duplicate of row 2."),
        },
        export={"jgarcia": {"Grade": "4"}},
    ),
    "students_duplicated_header_column.csv": refused(
        "The column 'Grade' appears twice in the header (columns G and I)."
    ),
    # rows 3, 4 and 6 and the three last ones are blank: skipped, yet numbered
    "students_empty_rows.csv": Imported(
        {2: updated("Grade"), 5: updated("Grade"), 7: UNCHANGED},
        export={"jgarcia": {"Grade": "4"}, "zdangelo": {"Grade": "1"}},
    ),
    "students_excel_workbook.csv": refused(
        "The file starts like a workbook but is damaged, so it cannot be read.",
        "save it as Excel Workbook (.xlsx)",
    ),
    "students_formula_cells_neutralised.csv": Imported(
        {2: UNCHANGED, 3: CREATED},
        export={
            "formula1": {
                "First Name": '\'=HYPERLINK("x")',
                "Last Name": "'-Smith",
                "External Assigned ID": "'+44",
                "Race": "'@risk",
            },
            "kjones": {"Last Name": "'-Jones", "External Assigned ID": "'+1555", "Race": "'=Other"},
        },
    ),
    # formulas as typed, without the export's quote: kept as text, neutralised on export
    "students_formula_cells_raw.csv": Imported(
        {
            2: UNCHANGED,
            3: CREATED,
            4: failed(
                "External Assigned ID: '=\"000778\"' is written as a spreadsheet formula; "
                "write only the ID itself"
            ),
        },
        export={"rawformula": {"First Name": "'=1+2", "Last Name": "'@Jones", "Race": "'+Other"}},
    ),
    "students_header_case_and_spaces.csv": Imported(
        {2: UNCHANGED, 3: UNCHANGED, 4: UNCHANGED, 5: updated("Grade")},
        export={"anguyen": {"Grade": "K"}},
    ),
    "students_header_only.csv": Imported({}),
    # the same refusal whether the ID is another district's student's or nobody's
    "students_id_of_another_district.csv": Imported(
        {
            2: failed(
                "Database ID: no student with Database ID {id:other_anguyen} is in your roster."
            ),
            3: failed("Database ID: no student with Database ID 99999999 is in your roster."),
            4: UNCHANGED,
        }
    ),
    "students_imagine_reading_access.csv": Imported(
        {
            2: failed(
                "Imagine Reading: Access: access to Imagine Reading cannot be removed by an "
                "import; contact Customer Care."
            ),
            3: UNCHANGED,
            4: updated("Imagine Reading: Access", "Imagine Reading: Audio Support"),
        },
        export={
            "jgarcia": {"Imagine Reading: Access": "Yes", "Imagine Reading: Audio Support": "Yes"},
            "anguyen": {"Imagine Reading: Access": "Yes", "Imagine Reading: Audio Support": "No"},
        },
    ),
    # External Assigned IDs 000123 and 000124 saved as 123 and 124
    "students_lost_leading_zeros.csv": Imported(
        {2: UNCHANGED, 3: updated("Grade")},
        export={
            "jgarcia": {"External Assigned ID": "000123"},
            "zdangelo": {"External Assigned ID": "000124", "Grade": "1"},
        },
    ),
    "students_missing_required_columns.csv": refused(
        "The file has no 'Grade', 'Organizations' column(s), which Students files need."
    ),
    "students_new_without_password.csv": Imported(
        {2: failed("Password: is required for a new student."), 3: CREATED},
        export={"bode": {"First Name": "Ben", "External Assigned ID": "000801"}},
        passwords={"bode": "tulip99"},
    ),
    "students_quoted_commas_and_quotes.csv": Imported(
        {2: CREATED, 3: UNCHANGED, 4: updated("Last Name", "Organizations")},
        export={
            "aoneil": {"First Name": 'Anna "Annie"', "Last Name": "O'Neil, Jr."},
            "zdangelo": {
                "Last Name": 'D\'Angelo, "Zoe"',
                "Organizations": "North Elementary;South Middle",
            },
        },
    ),
    "students_quoted_line_breaks.csv": Imported(
        {
            2: failed(
                "First Name: Line breaks are not allowed here; put the whole value on one line."
            ),
            3: failed(
                "Organizations: 'North Elementary\nSouth Middle': Line breaks are not allowed"
            ),
            4: updated("Grade"),
        },
        export={"zdangelo": {"Grade": "1"}},
    ),
    # a report uploaded again: its Row, Result and Errors columns are ignored, unreported
    "students_reuploaded_errors_file.csv": Imported(
        {2: CREATED, 3: UNCHANGED},
        export={"aruiz": {"Last Name": "Ruiz", "Grade": "2"}},
        passwords={"aruiz": "violet7"},
    ),
    # a report uploaded again: its Row, Result and Errors columns are ignored, unreported
    "students_reuploaded_result_file.csv": Imported(
        {2: UNCHANGED, 3: updated("Grade")}, export={"zdangelo": {"Grade": "1"}}
    ),
    "students_scientific_notation_external_ids.csv": Imported(
        {
            2: failed(f"External Assigned ID: '1.23E+11' {SCIENTIFIC}"),
            3: failed(f"External Assigned ID: '4.56789E+11' {SCIENTIFIC}"),
            4: UNCHANGED,
        }
    ),
    # saved by a European Excel: ';' between cells, so the header is one cell
    "students_semicolon_delimited.csv": refused(
        "The file separates its cells with ';' instead of ','"
    ),
    # row 3 stops before Classes/Groups: read as empty (Excel drops trailing empty cells);
    # row 5 has an unquoted comma in its last name, which shifts every later cell
    "students_short_and_long_rows.csv": Imported(
        {
            2: failed(f"Organizations: {REQUIRED}"),
            3: updated("Classes/Groups"),
            4: UNCHANGED,
            5: failed(
                "Grade: '000700' is not a grade",
                "Organizations: no school named '2' in this district.",
                "Classes/Groups: no class/group named 'North Elementary' in this district.",
            ),
        },
        export={"jgarcia": {"Classes/Groups": ""}},
    ),
    "students_short_usernames_and_passwords.csv": Imported(
        {
            2: failed(
                "Username: The value is 2 characters long; at least 3 are required.",
                "Password: A password needs at least 4 characters.",
            ),
            3: failed("Password: A password needs at least 4 characters."),
            4: failed("Username: 'bo li' contains a space; usernames cannot contain spaces."),
            5: updated("Password"),
        },
        passwords={"jgarcia": "n3wpass"},
    ),
    "students_unclosed_quote.csv": refused(
        'Row 3 has a quote mark (") that is never closed', "Close or remove that quote"
    ),
    "students_unknown_class_names.csv": Imported(
        {
            2: UNCHANGED,
            3: failed("Classes/Groups: no class/group named 'Grade 9 - Nobody' in this district."),
            4: failed("Classes/Groups: no class/group named 'Grade 3 – O'Brien' in this district."),
        }
    ),
    "students_unknown_extra_columns.csv": Imported(
        {2: UNCHANGED, 3: updated("Grade")},
        warnings={"unknown_columns": ["Notes", "Teacher Email"]},
        export={"anguyen": {"Grade": "8"}},
    ),
    "students_us_birth_dates.csv": Imported(
        {
            2: UNCHANGED,
            3: updated("Birth Date"),
            4: failed("Birth Date: '3/7/15' has a two-digit year, so the century was lost"),
            5: failed("Birth Date: '2/30/2012' is not a real date"),
        },
        export={"jgarcia": {"Birth Date": "2016-04-09"}, "zdangelo": {"Birth Date": "2019-12-25"}},
    ),
    "students_usernames_taken_in_another_case.csv": Imported(
        {
            2: failed("Username: 'JGarcia' is already used by another student."),
            3: failed("Username: 'ANGUYEN' is already used by another student."),
            4: updated("Username"),
        },
        export={"JGARCIA": {"First Name": "José"}, "zdangelo": {"First Name": "Zoë"}},
    ),
    "students_utf16_unicode_text.csv": refused(
        "The file is saved as UTF-16 text, which import cannot read.",
        SAVE_AS_UTF8,
        encoding="utf-16",
    ),
    "students_utf8_bom_crlf.csv": Imported(
        {2: updated("Grade"), 3: UNCHANGED, 4: CREATED},
        export={
            "jgarcia": {"Grade": "4"},
            "clefevre": {
                "First Name": "Chloé",
                "Last Name": "Lefèvre",
                "Organizations": "South Middle",
                "Classes/Groups": "Grade 7 - Muñoz",
            },
        },
        passwords={"clefevre": "garden42"},
    ),
    "students_utf8_no_bom_lf.csv": Imported(
        {2: updated("First Name"), 3: UNCHANGED},
        export={"zdangelo": {"First Name": "Zoé"}, "anguyen": {"Last Name": "Nguyễn"}},
    ),
    # UTF-8 rows and one Windows-1252 row: either reading garbles names, so none is applied
    "students_utf8_with_one_windows1252_row.csv": refused("UTF-8"),
    # Excel's plain "CSV (Comma delimited)": accents and a curly apostrophe in Windows-1252
    "students_windows1252_crlf.csv": Imported(
        {2: UNCHANGED, 3: updated("Last Name"), 4: CREATED, 5: updated("Last Name")},
        encoding="cp1252",
        warnings={"encoding": "so it was read as Windows-1252"},
        export={
            "jgarcia": {"First Name": "José", "Last Name": "García"},
            "zdangelo": {"Last Name": "D’Angelo"},
            "flefevre": {"First Name": "Françoise", "Last Name": "Lefèvre"},
            # Windows-1252 has no ễ: the spreadsheet saved '?', as the warning says
            "anguyen": {"Last Name": "Nguy?n"},
        },
        passwords={"flefevre": "soleil1"},
    ),
}

BUGS: dict[str, str] = {}  # file name -> what the pipeline gets wrong (strict xfail)


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def roster(sessions: sessionmaker[Session]) -> SmallDistrict:
    with unit_of_work(sessions) as session:
        return factories.small_district(session)


@pytest.fixture
def elsewhere(sessions: sessionmaker[Session], roster: SmallDistrict) -> SmallDistrict:
    """Another district, whose students' IDs must mean nothing to the first one."""
    with unit_of_work(sessions) as session:
        return factories.small_district(session, "Elsewhere")


@pytest.fixture
def ctx(sessions: sessionmaker[Session], tmp_path: Path) -> JobContext:
    return JobContext(sessions=sessions, store=FolderStore(tmp_path / "objects"), batch_rows=2)


# --- helpers -----------------------------------------------------------------------------

Export = dict[str, dict[str, str]]  # a fresh export's rows by Database ID


@dataclass(frozen=True)
class Snapshot:
    """What exports show: each entity of the district, and the other district's students
    (the only records of it that the corpus names)."""

    district: dict[str, Export]
    elsewhere: Export


def _placeholders(roster: SmallDistrict, elsewhere: SmallDistrict) -> dict[str, str]:
    values = {"district": str(roster.district.id)}
    for name in RECORD_FIELDS:
        values[f"id:{name}"] = str(getattr(roster, name).id)
    for student in roster.students:
        values[f"id:{student.username}"] = str(student.id)
    for student in elsewhere.students:
        values[f"id:other_{student.username}"] = str(student.id)
    return values


def _filled(text: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda match: values[match[1]], text)


def _upload(name: str, encoding: str, values: dict[str, str]) -> bytes:
    """The corpus file with its placeholders filled; every other byte (BOM, line ends, bytes
    the encoding cannot read) is kept as it is."""
    text = (CORPUS_DIR / name).read_bytes().decode(encoding, "surrogateescape")
    return _filled(text, values).encode(encoding, "surrogateescape")


def _export(ctx: JobContext, roster: SmallDistrict, entity: str) -> Export:
    text = export_bytes(ctx, roster, entity).decode("utf-8-sig")
    return {row["Database ID"]: row for row in csv.DictReader(io.StringIO(text, newline=""))}


def _snapshot(ctx: JobContext, roster: SmallDistrict, elsewhere: SmallDistrict) -> Snapshot:
    district = {entity: _export(ctx, roster, entity) for entity in ENTITIES}
    return Snapshot(district, _export(ctx, elsewhere, "students"))


def _errors(cell: str) -> list[str]:
    return unneutralise(cell).split(" | ") if cell else []


def _matches(error: str, words: str) -> bool:
    first, *rest = (part.strip() for part in words.split("…"))
    position = len(first) if error.startswith(first) else -1
    for part in rest:
        if position < 0:
            break
        found = error.find(part, position)
        position = found + len(part) if found >= 0 else -1
    return position >= 0


def _unmatched(errors: list[str], expected: tuple[str, ...]) -> list[str]:
    """What does not pair up, one actual error for each expected one; empty when all do."""
    left = list(errors)
    missing = []
    for words in expected:
        hit = next((error for error in left if _matches(error, words)), None)
        if hit is None:
            missing.append(f"missing: {words}")
        else:
            left.remove(hit)
    return missing + [f"unexpected: {error}" for error in left]


def _warnings_match(actual: dict[str, object], expected: dict[str, object]) -> bool:
    if set(actual) != set(expected):
        return False
    return all(
        want in str(actual[key]) if isinstance(want, str) else actual[key] == want
        for key, want in expected.items()
    )


def _history(sessions: sessionmaker[Session], job_id: str) -> set[tuple[int, str]]:
    """The (row, column) pairs of the job's change history."""
    statement = select(ImportChange.row_number, ImportChange.column).where(
        ImportChange.job_id == job_id
    )
    with sessions() as session:
        return {(row, column) for row, column in session.execute(statement)}


def _can_sign_in(ctx: JobContext, roster: SmallDistrict, username: str, password: str) -> bool:
    statement = select(Student.password_hash).where(
        Student.district_id == roster.district.id, Student.username == username
    )
    with ctx.sessions() as session:
        hashed = session.scalars(statement).one()
    return hashed is not None and verify_password(password, hashed)


def _changed(old: Export, new: Export, key: str) -> set[str]:
    """The records (by `key`) a new export shows differently, new ones included."""
    return {row[key] for record_id, row in new.items() if old.get(record_id) != row}


def _cases(kind: type[Imported] | type[Refused]) -> list[object]:
    cases: list[object] = []
    for name, expected in sorted(CORPUS.items()):
        if isinstance(expected, kind):
            reason = BUGS.get(name)
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            cases.append(pytest.param(name, id=name.removesuffix(".csv"), marks=marks))
    return cases


def _run(
    ctx: JobContext, roster: SmallDistrict, elsewhere: SmallDistrict, name: str
) -> tuple[ImportRun, dict[str, str]]:
    expected = CORPUS[name]
    values = _placeholders(roster, elsewhere)
    data = _upload(name, expected.encoding, values)
    return run_import_of(ctx, roster, data, entity=expected.entity), values


# --- tests -------------------------------------------------------------------------------


def test_every_file_of_the_corpus_has_exactly_one_expectation() -> None:
    # given
    files = {path.name for path in CORPUS_DIR.iterdir() if path.is_file()}

    # then
    assert files == set(CORPUS)
    assert set(BUGS) <= files
    assert len(files) >= 30


@pytest.mark.parametrize("name", _cases(Refused))
def test_a_file_that_cannot_be_imported_fails_the_job_with_one_message_and_changes_nothing(
    ctx: JobContext, roster: SmallDistrict, elsewhere: SmallDistrict, name: str
) -> None:
    # given
    expected = CORPUS[name]
    assert isinstance(expected, Refused)
    before = _snapshot(ctx, roster, elsewhere)

    # when
    run, _ = _run(ctx, roster, elsewhere, name)

    # then
    assert run.job.status == "failed", run.job.counts
    error = run.job.error or ""
    assert [words for words in expected.words if words not in error] == [], error
    assert run.results == [] and run.errors == []
    assert change_count(ctx.sessions, run.job.id) == 0
    assert _snapshot(ctx, roster, elsewhere) == before


@pytest.mark.parametrize("name", _cases(Imported))
def test_a_file_read_row_by_row_gives_every_row_exactly_its_expected_outcome(
    ctx: JobContext, roster: SmallDistrict, elsewhere: SmallDistrict, name: str
) -> None:
    # given
    expected = CORPUS[name]
    assert isinstance(expected, Imported)
    before = _snapshot(ctx, roster, elsewhere)

    # when
    run, values = _run(ctx, roster, elsewhere, name)

    # then the job: its status, counts and warnings
    tally = Counter(row.outcome for row in expected.rows.values())
    assert run.job.error is None
    assert run.job.status == ("completed_with_errors" if tally["failed"] else "completed")
    assert run.job.counts == {o: tally[o] for o in ("created", "updated", "unchanged", "failed")}
    assert _warnings_match(run.job.warnings, expected.warnings), run.job.warnings

    # then the result file: every data row by its spreadsheet row number, with its errors
    assert [int(result["Row"]) for result in run.results] == sorted(expected.rows)
    for number, row in expected.rows.items():
        assert run.outcome(number) == row.outcome, (number, run.errors_of(number))
        wanted = tuple(_filled(words, values) for words in row.errors)
        assert _unmatched(_errors(run.errors_of(number)), wanted) == [], f"row {number}"

    # then the errors file: exactly the refused rows, with the same errors
    refused_rows = [result["Errors"] for result in run.results if result["Result"] == "failed"]
    assert [result["Errors"] for result in run.errors] == refused_rows

    # then the change history: the updated columns of each updated row, and the created rows
    created = {number for number, row in expected.rows.items() if row.outcome == "created"}
    history = _history(ctx.sessions, run.job.id)
    assert {(number, column) for number, column in history if number not in created} == {
        (number, column) for number, row in expected.rows.items() for column in row.columns
    }
    assert {number for number, _ in history} >= created

    # then the roster, as fresh exports show it
    after = _snapshot(ctx, roster, elsewhere)
    assert after.elsewhere == before.elsewhere, "the other district changed"
    if not history:
        assert after == before
    key = "Class/Group Name" if expected.entity == "classes" else "Username"
    old, new = before.district[expected.entity], after.district[expected.entity]
    shown = {row[key]: row for row in new.values()}
    export = {_filled(record, values): cells for record, cells in expected.export.items()}
    assert len(new) == len(old) + len(created)
    assert _changed(old, new, key) <= set(export)
    for record, cells in export.items():
        assert {column: shown[record][column] for column in cells} == {
            column: _filled(cell, values) for column, cell in cells.items()
        }, record
    for username, password in expected.passwords.items():
        assert _can_sign_in(ctx, roster, username, password), username
