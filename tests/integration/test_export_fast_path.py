"""The export's COPY path on Postgres writes exactly the bytes of the general path.

The general path (rows streamed, each value through its codec, `neutralise`, Python's csv
module) is the reference. The roster here is as ugly as a district gets: accents, quotes,
commas, line breaks, formula starts, values that already start with `'`, NULLs beside empty
strings, school names differing only in case, non-ASCII names whose lower case sorts
differently from their upper case, every product and every product setting, students with
no class and one in every class, and a neighbouring district with the same names whose
students' ids are interleaved with the ugly district's. Each case exports one entity with
one column selection, as one requester, with one filter, both ways.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, String, column, literal, select, values
from sqlalchemy.orm import Session, sessionmaker

import jobs.export
from jobs.export import run_export, write_copied_csv, write_csv, write_export
from jobs.lifecycle import JobContext, run_job
from jobs.requests import ExportRequest, plan_export, submit_export
from schemas.codecs import TextCodec
from schemas.columns import BASIC, Column
from schemas.products import Product
from storage import export_copy
from storage.db import make_engine, session_factory, unit_of_work
from storage.listing import LIST_SEPARATOR, split_list
from storage.models import ClassGroup, Job, School, Student, StudentSchool
from storage.objects import FolderStore
from tests import factories
from tests.databases import truncate_all

UGLY_TEXTS = (
    "José",
    'Quote "Q" Quote',
    "Comma, Name",
    "Line\nBreak",
    "Carriage\rReturn",
    "Windows\r\nBreak",
    "=1+1",
    "+44",
    "-Smith",
    "@risk",
    "\tTabbed",
    "\rReturned",
    "'plain",
    "'=already",
    "''+twice",
    "'",
    "",
    "İsmail",
    "ΣΑΣ",
    "Nguyễn",
    '"',
    ",",
    " spaced ",
)
SCHOOL_NAMES = (
    "Lincoln",
    "LINCOLN",
    "lincoln",
    "École Nord",
    "école nord",
    "Étude",
    "elm",
    "İstanbul",
    "istanbul",
    "=Sum School",
    'Zoo, "Annex"',
    "Line\nBreak School",
)
CLASS_NAMES = (
    'Math, "Honors"',
    "-Science",
    "'=Art",
    "École",
    "étude",
    "Zèbre",
    "\tTabbed",
    "Line\r\nBreak",
    "Ωmega",
    "apple",
    "Banana",
)
USERNAME_STARTS = ("=u", "-u", "'u", "Émile", "émilie", "Zed", "édith", "u", "@u", "Ü")


@dataclass(frozen=True)
class UglyDistrict:
    district_id: int
    district_admin: str
    school_admin: str
    teacher: str
    student_ids: tuple[int, ...]
    everywhere_id: int
    """A student of every school, the names of some differing only in case, and every class."""
    neighbour_id: int
    neighbour_admin: str


@pytest.fixture(scope="module")
def ugly_engine(postgres_database_url: str) -> Iterator[Engine]:
    """One ugly roster for the whole module (it is only read), emptied at the end."""
    engine = make_engine(postgres_database_url)
    yield engine
    truncate_all(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def ugly(ugly_engine: Engine) -> UglyDistrict:
    with unit_of_work(session_factory(ugly_engine)) as session:
        return build_ugly_district(session)


@pytest.fixture
def sessions(ugly_engine: Engine) -> sessionmaker[Session]:
    return session_factory(ugly_engine)


def build_ugly_district(session: Session) -> UglyDistrict:
    district = factories.district(session, "Ugly Unified", tuple(Product))
    schools = [factories.school(session, district.id, name) for name in SCHOOL_NAMES]
    admin = factories.educator(
        session, district.id, schools, educator_type="Admin", first_name="=Dana", last_name=""
    )
    school_admin = factories.educator(
        session, district.id, schools[:4], educator_type="Admin", external_id=""
    )
    teachers = [
        factories.educator(
            session,
            district.id,
            schools[n % 3 :: 3],
            first_name=text,
            last_name=UGLY_TEXTS[-1 - n],
            username=f"{USERNAME_STARTS[n % len(USERNAME_STARTS)]}{n}@x{district.id}.example.org",
            external_id=(None, "", "'-1", "T,1")[n % 4],
        )
        for n, text in enumerate(UGLY_TEXTS[:8])
    ]
    classes = [
        factories.class_group(
            session,
            schools[n % len(schools)],
            name,
            educators=teachers[n % 3 : n % 3 + 2],
            products=tuple(Product)[n % 8 : n % 8 + n % 4],
            external_id=(None, "", "+1", "0012")[n % 4],
        )
        for n, name in enumerate(CLASS_NAMES)
    ]
    neighbour = Neighbour.build(session)
    students = []
    for n in range(60):
        students.append(ugly_student(session, n, schools, classes))
        if n % 20 == 0:
            neighbour.add_student(session, n)
    everywhere = factories.student(session, schools[0], classes, username="everywhere")
    session.add_all(StudentSchool(student_id=everywhere.id, school_id=s.id) for s in schools[1:])
    neighbour.add_student(session, 60)
    return UglyDistrict(
        district.id,
        admin.username,
        school_admin.username,
        teachers[0].username,
        tuple(student.id for student in students),
        everywhere.id,
        neighbour.district_id,
        neighbour.admin,
    )


@dataclass(frozen=True)
class Neighbour:
    """Another district with the ugly district's school and class names, its students
    linked to several of them."""

    district_id: int
    admin: str
    schools: list[School]
    classes: list[ClassGroup]

    @classmethod
    def build(cls, session: Session) -> Neighbour:
        district = factories.district(session, "Neighbour Unified")
        schools = [factories.school(session, district.id, name) for name in SCHOOL_NAMES]
        classes = [factories.class_group(session, schools[0], name) for name in CLASS_NAMES]
        admin = factories.educator(session, district.id, schools, educator_type="Admin")
        return cls(district.id, admin.username, schools, classes)

    def add_student(self, session: Session, n: int) -> None:
        school = self.schools[n % len(self.schools)]
        student = factories.student(session, school, self.classes[n % 3 :: 2])
        session.add_all(
            StudentSchool(student_id=student.id, school_id=other.id)
            for other in self.schools[n % 4 :: 3]
            if other.id != school.id
        )
        session.flush()


def ugly_student(
    session: Session, n: int, schools: list[School], classes: list[ClassGroup]
) -> Student:
    """The n-th student: every field cycles through its ugly values at its own pace."""
    texts, maybe = UGLY_TEXTS, (None, True, False)
    start = USERNAME_STARTS[n % len(USERNAME_STARTS)]
    student = factories.student(
        session,
        schools[n % len(schools)],
        [classes[(n * 7 + k) % len(classes)] for k in range(n % 4)],
        first_name=texts[n % len(texts)],
        last_name=texts[(n * 5 + 3) % len(texts)],
        username=f"{start}{n}",
        external_id=f"{texts[(n * 3) % len(texts)]}{n}"[:64],
        grade=("PK", "K", "3", "12")[n % 4],
        birth_date=(None, dt.date(2016, 4, 9), dt.date(1, 1, 1), dt.date(9999, 12, 31))[n % 4],
        gender=(None, "F", "M", "X")[n % 4],
        race=(None, "", "'", "=x", "a,b", texts[n % len(texts)])[n % 6],
        hispanic_or_latino=maybe[n % 3],
        english_learner=maybe[(n + 1) % 3],
        special_education=maybe[(n + 2) % 3],
        economically_disadvantaged=maybe[n % 3],
        home_language=(None, "", "Spanish", "-Hmong", texts[n % len(texts)])[n % 5],
        test_text_to_speech=maybe[(n // 3) % 3],
        test_extended_time=maybe[(n // 2) % 3],
        **product_fields(n),
    )
    extra = [school for k, school in enumerate(schools) if (n + k) % 5 == 0]
    for school in extra:
        if school.id != schools[n % len(schools)].id:
            session.add(StudentSchool(student_id=student.id, school_id=school.id))
    session.flush()
    return student


def product_fields(n: int) -> dict[str, Any]:
    """Access to each product and every setting, NULLs and odd stored values included."""
    fields: dict[str, Any] = {
        product.access_attr: bool((n >> k) & 1) for k, product in enumerate(Product)
    }
    maybe = (None, True, False)
    languages = (None, "", "Spanish", "Portuguese (Brazil)", "=bad", "English")
    return fields | {
        "session_time": (None, 5, 20, 120, -5)[n % 5],
        "ill_language_support": languages[n % 6],
        "espanol_language_support": languages[(n + 1) % 6],
        "reading_audio_support": maybe[n % 3],
        "lectura_audio_support": maybe[(n + 1) % 3],
        "mypath_language": languages[(n + 2) % 6],
        "science_language": languages[(n + 3) % 6],
        "purpose_language": languages[(n + 4) % 6],
    }


def both_paths(sessions: sessionmaker[Session], request: ExportRequest) -> tuple[bytes, bytes]:
    """The export's bytes by the general path and by COPY, from the same plan."""
    with sessions() as session:
        plan = plan_export(session, request)
        assert export_copy.can_copy(session, plan.columns)
        general, fast = io.BytesIO(), io.BytesIO()
        write_export(session, plan, general, batch_rows=7, fast=False)
        write_export(session, plan, fast, batch_rows=7)
    return general.getvalue(), fast.getvalue()


def data_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))[1:]


@dataclass(frozen=True)
class Case:
    """One export: entity, requester, optional columns (None: all), filters."""

    entity: str
    who: str
    columns: tuple[str, ...] | None
    filters: dict[str, Any]

    def __str__(self) -> str:
        columns = "every" if self.columns is None else ",".join(self.columns) or "required"
        return f"{self.entity}-{self.who}-{columns}-{self.filters}"


EVERY = None
REQUIRED: tuple[str, ...] = ()
CASES = [
    Case("students", "district_admin", EVERY, {}),
    Case("students", "district_admin", REQUIRED, {}),
    Case("students", "district_admin", ("Classes/Groups", "Birth Date", "Race"), {}),
    Case("students", "district_admin", EVERY, {"grade": "K"}),
    Case("students", "district_admin", EVERY, {"school": "lincoln"}),
    Case("students", "district_admin", EVERY, {"class_group": "École"}),
    Case("students", "district_admin", EVERY, {"product": "Imagine Español"}),
    Case("students", "district_admin", EVERY, {"search": "'"}),
    Case("students", "district_admin", EVERY, {"search": "é"}),
    Case("students", "district_admin", EVERY, {"ids": "first_and_last"}),
    Case("students", "school_admin", EVERY, {}),
    Case("students", "school_admin", ("Imagine Lectura: Audio Support",), {"grade": "PK"}),
    Case("students", "teacher", EVERY, {}),
    Case("students", "teacher", REQUIRED, {"search": "u"}),
    Case("students", "teacher", ("Classes/Groups",), {"grade": "3"}),
    Case("students", "school_admin", ("Classes/Groups",), {"class_group": "-Science"}),
    Case("students", "school_admin", ("Classes/Groups",), {"ids": "first_and_last"}),
    Case("educators", "district_admin", EVERY, {}),
    Case("educators", "district_admin", REQUIRED, {}),
    Case("educators", "district_admin", EVERY, {"school": "École Nord"}),
    Case("educators", "district_admin", EVERY, {"class_group": "Ωmega"}),
    Case("educators", "district_admin", EVERY, {"search": "@x"}),
    Case("educators", "school_admin", EVERY, {}),
    Case("educators", "school_admin", ("Classes/Groups",), {"search": "@x"}),
    Case("classes", "district_admin", EVERY, {}),
    Case("classes", "district_admin", REQUIRED, {}),
    Case("classes", "district_admin", ("Products",), {"product": "Imagine Reading"}),
    Case("classes", "district_admin", EVERY, {"search": "é"}),
    Case("classes", "school_admin", EVERY, {}),
    Case("classes", "teacher", EVERY, {}),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_copy_path_writes_the_same_bytes_as_the_general_path(
    sessions: sessionmaker[Session], ugly: UglyDistrict, case: Case
) -> None:
    # given
    filters = case.filters
    if filters.get("ids") == "first_and_last":
        filters = {"ids": (ugly.student_ids[-1], ugly.student_ids[0])}
    request = ExportRequest(
        district=str(ugly.district_id),
        username=getattr(ugly, case.who),
        entity=case.entity,
        columns=case.columns,
        **filters,
    )

    # when
    general, fast = both_paths(sessions, request)

    # then
    assert data_rows(general), "the case exports at least one row"
    assert fast == general


def test_names_differing_only_in_case_are_listed_in_one_order_on_both_paths(
    sessions: sessionmaker[Session], ugly: UglyDistrict
) -> None:
    # given
    request = ExportRequest(
        district=str(ugly.district_id),
        username=ugly.district_admin,
        entity="students",
        ids=(ugly.everywhere_id,),
    )

    # when
    general, fast = both_paths(sessions, request)

    # then
    assert fast == general
    assert data_rows(fast)[0][7] == ";".join(
        [
            "'=Sum School",
            "elm",
            "istanbul",
            "İstanbul",
            "LINCOLN",
            "Lincoln",
            "lincoln",
            "Line\nBreak School",
            'Zoo, "Annex"',
            "École Nord",
            "école nord",
            "Étude",
        ]
    )


def test_a_student_of_every_class_has_them_all_in_one_order_on_both_paths(
    sessions: sessionmaker[Session], ugly: UglyDistrict
) -> None:
    # given
    request = ExportRequest(
        district=str(ugly.district_id),
        username=ugly.district_admin,
        entity="students",
        columns=("Classes/Groups",),
    )

    # when
    general, fast = both_paths(sessions, request)

    # then
    assert fast == general
    classes = {row[0]: row[-1] for row in data_rows(fast)}
    assert classes[str(ugly.everywhere_id)] == "'" + ";".join(
        [
            "\tTabbed",
            "'=Art",
            "-Science",
            "apple",
            "Banana",
            "Line\r\nBreak",
            'Math, "Honors"',
            "Zèbre",
            "École",
            "étude",
            "Ωmega",
        ]
    )
    assert classes[str(ugly.student_ids[0])] == "", "the first student is in no class"


@pytest.mark.parametrize("entity", ["students", "educators"])
def test_a_district_beside_one_with_the_same_names_exports_only_its_own_on_both_paths(
    sessions: sessionmaker[Session], ugly: UglyDistrict, entity: str
) -> None:
    # given the neighbour's students have ids between the ugly district's
    request = ExportRequest(
        district=str(ugly.neighbour_id), username=ugly.neighbour_admin, entity=entity, columns=EVERY
    )

    # when
    general, fast = both_paths(sessions, request)

    # then
    assert fast == general
    listed = {row[0] for row in data_rows(fast)}
    assert str(ugly.everywhere_id) not in listed
    assert len(listed) == (4 if entity == "students" else 1)


def test_a_fast_export_reports_progress_batch_by_batch_and_stops_at_a_cancel(
    sessions: sessionmaker[Session],
    ugly: UglyDistrict,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given the user cancels once the third batch of 7 rows has been reported
    ctx = JobContext(sessions=sessions, store=FolderStore(tmp_path), batch_rows=7)
    request = ExportRequest(
        district=str(ugly.district_id), username=ugly.district_admin, entity="students"
    )
    with unit_of_work(sessions) as session:
        job_id = submit_export(session, request).id
    reported: list[int | None] = []
    real = jobs.export.report_progress

    def cancel_at_21(ctx: JobContext, job_id: str, **progress: Any) -> None:
        reported.append(progress.get("processed"))
        if progress.get("processed") == 21:
            with unit_of_work(ctx.sessions) as session:
                job = session.get(Job, job_id)
                assert job is not None
                job.cancel_requested = True
        real(ctx, job_id, **progress)

    monkeypatch.setattr(jobs.export, "report_progress", cancel_at_21)

    # when
    run_job(ctx, job_id, run_export)

    # then
    with sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        assert (job.status, job.processed, job.total) == ("cancelled", 21, 61)
    assert reported == [0, 7, 14, 21]
    assert not any(tmp_path.rglob("*.csv"))


def test_after_a_cancelled_copy_the_next_export_of_the_same_worker_runs_in_full(
    sessions: sessionmaker[Session],
    ugly: UglyDistrict,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given an export cancelled in the middle of its COPY, on a pool of one connection
    engine = make_engine(str(sessions.kw["bind"].url.render_as_string(hide_password=False)))
    engine.pool = engine.pool.recreate()
    ctx = JobContext(sessions=session_factory(engine), store=FolderStore(tmp_path), batch_rows=7)
    request = ExportRequest(
        district=str(ugly.district_id), username=ugly.district_admin, entity="students"
    )
    with unit_of_work(ctx.sessions) as session:
        cancelled, following = (
            submit_export(session, request).id,
            submit_export(session, request).id,
        )
    real = jobs.export.report_progress

    def cancel_first(ctx: JobContext, job_id: str, **progress: Any) -> None:
        if job_id == cancelled and progress.get("processed") == 7:
            with unit_of_work(ctx.sessions) as session:
                record = session.get(Job, job_id)
                assert record is not None
                record.cancel_requested = True
        real(ctx, job_id, **progress)

    monkeypatch.setattr(jobs.export, "report_progress", cancel_first)
    run_job(ctx, cancelled, run_export)

    # when
    run_job(ctx, following, run_export)

    # then
    with ctx.sessions() as session:
        first, second = session.get(Job, cancelled), session.get(Job, following)
        assert first is not None and second is not None
        assert (first.status, second.status, second.counts) == (
            "cancelled",
            "completed",
            {"rows": 61},
        )
    engine.dispose()


# --- the SQL rendering against Python's, on any text -------------------------------------

CELL_TEXT = st.text(
    st.one_of(
        st.sampled_from("'=+-@\t\r\n,\" ;aAéÉİΣ"),
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    ),
    max_size=8,
)
TWO_COLUMNS = (
    Column("A", "a", True, "", TextCodec(100), BASIC),
    Column("B", "b", True, "", TextCodec(100), BASIC),
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=CELL_TEXT, second=st.one_of(st.none(), CELL_TEXT))
def test_copy_neutralises_and_quotes_any_text_as_python_does(
    sessions: sessionmaker[Session], first: str, second: str | None
) -> None:
    # given
    python, copied = io.BytesIO(), io.BytesIO()
    row = {"a": first, "b": second}
    statement = select(
        *export_copy.cells(TWO_COLUMNS, {"a": literal(first, String), "b": literal(second, String)})
    )

    # when
    write_csv(python, TWO_COLUMNS, [row])
    with sessions() as session, export_copy.copy_records(session, statement) as records:
        write_copied_csv(copied, TWO_COLUMNS, records)

    # then
    assert copied.getvalue() == python.getvalue()


LISTABLE_NAME = CELL_TEXT.filter(lambda name: LIST_SEPARATOR not in name)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(names=st.lists(LISTABLE_NAME, min_size=1))
def test_copy_orders_any_names_as_the_general_path_does(
    sessions: sessionmaker[Session], names: list[str]
) -> None:
    # given
    listed = values(column("name", String), name="listed").data([(name,) for name in names])
    statement = select(export_copy.joined(listed.c.name, *export_copy.list_order(listed.c.name)))

    # when
    with sessions() as session:
        joined = session.scalar(statement)

    # then
    assert joined == ";".join(split_list(LIST_SEPARATOR.join(names)))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    schools=st.lists(LISTABLE_NAME, min_size=1, max_size=6, unique=True),
    classes=st.lists(LISTABLE_NAME, max_size=6, unique_by=str.lower),
)
def test_a_whole_district_lists_any_school_and_class_names_as_the_general_path_does(
    sessions: sessionmaker[Session], schools: list[str], classes: list[str]
) -> None:
    # given a district (never committed) whose students are in some or all of them
    with sessions() as session:
        district = factories.district(session)
        rows = [factories.school(session, district.id, name) for name in schools]
        groups = [factories.class_group(session, rows[0], name) for name in classes]
        admin = factories.educator(session, district.id, rows, educator_type="Admin")
        for n in range(3):
            student = factories.student(session, rows[-1], groups[n:])
            session.add_all(
                StudentSchool(student_id=student.id, school_id=school.id) for school in rows[n:-1]
            )
        session.flush()
        request = ExportRequest(
            district=str(district.id), username=admin.username, entity="students"
        )
        plan = plan_export(session, request)
        general, fast = io.BytesIO(), io.BytesIO()

        # when
        write_export(session, plan, general, batch_rows=2, fast=False)
        write_export(session, plan, fast, batch_rows=2)
        session.rollback()

    # then
    assert fast.getvalue() == general.getvalue()
