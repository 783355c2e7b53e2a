"""The export pipeline on SQLite and on Postgres, checked cell by cell against the roster."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

import jobs.export
from jobs.errors import RequestRefused
from jobs.export import run_export
from jobs.lifecycle import JobContext, run_job
from jobs.requests import ExportRequest, submit_export
from storage.db import unit_of_work
from storage.fakes import RecordingStore
from storage.models import Job
from storage.objects import FolderStore, ObjectStore
from tests import factories
from tests.factories import SmallDistrict


@pytest.fixture
def roster(sessions: sessionmaker[Session]) -> SmallDistrict:
    with unit_of_work(sessions) as session:
        return factories.small_district(session)


@pytest.fixture
def ctx(sessions: sessionmaker[Session], tmp_path: Path) -> JobContext:
    # two rows a batch, so even the small roster streams in several batches
    return JobContext(sessions=sessions, store=FolderStore(tmp_path / "objects"), batch_rows=2)


def export(
    ctx: JobContext, roster: SmallDistrict, username: str | None = None, **fields: object
) -> Job:
    request = ExportRequest(
        district=str(roster.district.id),
        username=username or roster.district_admin.username,
        **fields,  # type: ignore[arg-type]
    )
    with unit_of_work(ctx.sessions) as session:
        job_id = submit_export(session, request).id
    run_job(ctx, job_id, run_export)
    with ctx.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def read_csv(store: ObjectStore, key: str | None) -> tuple[bytes, list[dict[str, str]]]:
    assert key is not None
    with store.open_read(key) as raw:
        data = raw.read()
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    return data, rows


def by_username(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {row["Username"]: row for row in rows}


def test_students_export_with_every_column_matches_the_roster_cell_by_cell(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # when
    job = export(ctx, roster, entity="students", columns=None)

    # then
    assert job.status == "completed", job.error
    assert (job.total, job.processed, job.counts) == (4, 4, {"rows": 4})
    data, rows = read_csv(ctx.store, job.result_key)
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    header = data.decode("utf-8-sig").split("\r\n")[0].split(",")
    assert header[:8] == [
        "Database ID",
        "First Name",
        "Last Name",
        "Username",
        "Password",
        "External Assigned ID",
        "Grade",
        "Organizations",
    ]
    assert "Imagine Language & Literacy: Session Time" in header
    assert "Imagine Reading: Audio Support" in header
    assert not any(name.startswith("Imagine Español") for name in header)  # not purchased
    jose, zoe = by_username(rows)["jgarcia"], by_username(rows)["zdangelo"]
    assert jose["Database ID"] == str(roster.students[0].id)
    assert (jose["First Name"], jose["Last Name"]) == ("José", "García")
    assert jose["Password"] == ""
    assert jose["External Assigned ID"] == "000123"
    assert jose["Birth Date"] == "2016-04-09"
    assert (jose["Gender"], jose["Hispanic or Latino"], jose["Home Language"]) == (
        "M",
        "Yes",
        "Spanish",
    )
    assert jose["Economically Disadvantaged"] == ""
    assert jose["Imagine Language & Literacy: Access"] == "Yes"
    assert jose["Imagine Language & Literacy: Session Time"] == "25"
    assert jose["Imagine Language & Literacy: Language Support"] == "Spanish"
    assert jose["Imagine Reading: Audio Support"] == "Yes"
    assert jose["Imagine Galileo K-12: Access"] == "No"
    assert jose["Organizations"] == "North Elementary"
    assert (zoe["First Name"], zoe["Last Name"], zoe["Grade"]) == ("Zoë", "D'Angelo", "K")
    assert zoe["Classes/Groups"] == "Grade 3 - O'Brien;Grade 4 - Muñoz"
    assert zoe["Test Text-to-Speech"] == "Yes"


def test_cells_a_spreadsheet_would_run_as_formulas_are_neutralised(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # when
    job = export(ctx, roster, entity="students", columns=("Race",))

    # then
    _, rows = read_csv(ctx.store, job.result_key)
    formula = by_username(rows)["formula1"]
    assert formula["First Name"] == '\'=HYPERLINK("x")'
    assert formula["Last Name"] == "'-Smith"
    assert formula["External Assigned ID"] == "'+44"
    assert formula["Race"] == "'@risk"


def test_only_the_required_columns_are_written_when_none_are_asked_for(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # when
    job = export(ctx, roster, entity="classes")

    # then
    _, rows = read_csv(ctx.store, job.result_key)
    assert list(rows[0]) == ["Database ID", "Class/Group Name", "Organization"]


def test_a_teacher_exports_only_the_students_of_their_classes(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # when
    job = export(ctx, roster, username=roster.teacher.username, entity="students")

    # then
    _, rows = read_csv(ctx.store, job.result_key)
    assert sorted(by_username(rows)) == ["jgarcia", "zdangelo"]


def test_a_school_admin_exports_the_classes_of_their_school_with_members_and_products(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # when
    job = export(ctx, roster, username=roster.school_admin.username, entity="classes", columns=None)

    # then
    _, rows = read_csv(ctx.store, job.result_key)
    assert [row["Class/Group Name"] for row in rows] == ["Grade 3 - O'Brien", "Grade 4 - Muñoz"]
    first = rows[0]
    assert first["Organization"] == "North Elementary"
    assert first["Educators"] == roster.teacher.username
    assert first["Students"] == "jgarcia;zdangelo"
    assert first["Products"] == "Imagine Language & Literacy"
    assert first["External Assigned ID"] == "C-1"


def test_an_admin_exports_educators_with_their_schools_and_classes(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # when
    job = export(ctx, roster, entity="educators", columns=None)

    # then
    _, rows = read_csv(ctx.store, job.result_key)
    other = by_username(rows)[roster.other_teacher.username]
    assert other["Organizations"] == "North Elementary;South Middle"
    assert other["Classes/Groups"] == "Grade 4 - Muñoz;Grade 7 - Muñoz"
    assert other["Educator Type"] == "Teacher"
    assert by_username(rows)[roster.district_admin.username]["Educator Type"] == "Admin"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"grade": "kindergarten"}, ["zdangelo"]),
        ({"school": "south middle"}, ["anguyen"]),
        ({"class_group": "Grade 4 - Muñoz"}, ["formula1", "zdangelo"]),
        ({"product": "Imagine Galileo K-12"}, ["anguyen"]),
        ({"search": "garcía"}, ["jgarcia"]),
    ],
)
def test_filters_narrow_the_students_exported(
    ctx: JobContext, roster: SmallDistrict, fields: dict[str, object], expected: list[str]
) -> None:
    # when
    job = export(ctx, roster, entity="students", **fields)

    # then
    _, rows = read_csv(ctx.store, job.result_key)
    assert sorted(by_username(rows)) == expected


def test_explicit_database_ids_export_only_those_rows(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given
    ticked = (roster.students[3].id, roster.students[0].id)

    # when
    job = export(ctx, roster, entity="students", ids=ticked)

    # then
    _, rows = read_csv(ctx.store, job.result_key)
    assert [int(row["Database ID"]) for row in rows] == sorted(ticked)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"entity": "educators", "as_teacher": True}, "Teachers cannot export educators"),
        (
            {"entity": "students", "columns": ("Shoe Size",)},
            "Unknown column for Students: 'Shoe Size'",
        ),
        (
            {"entity": "students", "columns": ("Imagine Español: Access",)},
            "'Imagine Español: Access'",
        ),
        ({"entity": "students", "school": "Atlantis High"}, "No school named 'Atlantis High'"),
        ({"entity": "students", "class_group": "Nope"}, "No class/group named 'Nope'"),
        ({"entity": "students", "grade": "13"}, "Grade filter"),
        ({"entity": "students", "product": "Imagine Lectura"}, "has no product 'Imagine Lectura'"),
        ({"entity": "classes", "grade": "3"}, "grade filter applies to students"),
        ({"entity": "pupils"}, "Unknown entity 'pupils'"),
    ],
)
def test_a_bad_request_is_refused_with_a_clear_message_and_leaves_no_job(
    ctx: JobContext, roster: SmallDistrict, fields: dict[str, object], message: str
) -> None:
    # given
    fields = dict(fields)
    username = roster.teacher.username if fields.pop("as_teacher", False) else None
    request = ExportRequest(
        district=str(roster.district.id),
        username=username or roster.district_admin.username,
        **fields,  # type: ignore[arg-type]
    )

    # when / then
    with (
        pytest.raises(RequestRefused, match=message.replace("(", r"\(")),
        unit_of_work(ctx.sessions) as session,
    ):
        submit_export(session, request)
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0


@pytest.mark.parametrize(
    ("who", "fields", "message"),
    [
        ("school_admin", {"school": "South Middle"}, "'South Middle' is outside your schools"),
        ("teacher", {"class_group": "Grade 7 - Muñoz"}, "'Grade 7 - Muñoz' is outside your reach"),
    ],
)
def test_a_filter_outside_the_requesters_reach_is_refused_not_silently_emptied(
    ctx: JobContext, roster: SmallDistrict, who: str, fields: dict[str, str], message: str
) -> None:
    # given
    educator = getattr(roster, who)
    request = ExportRequest(
        district=str(roster.district.id), username=educator.username, entity="students",
        **fields,  # type: ignore[arg-type]
    )  # fmt: skip

    # when / then
    with (
        pytest.raises(RequestRefused, match=message) as refused,
        unit_of_work(ctx.sessions) as session,
    ):
        submit_export(session, request)
    assert refused.value.field is None  # forbidden, not invalid


@pytest.mark.parametrize(
    ("district", "username"), [("999999", "admin"), ("", "nobody@example.org")]
)
def test_an_unknown_district_or_educator_is_refused_the_same_way(
    ctx: JobContext, roster: SmallDistrict, district: str, username: str
) -> None:
    # given
    request = ExportRequest(
        district=district or str(roster.district.id), username=username, entity="students"
    )

    # when / then
    with pytest.raises(RequestRefused, match="No educator"), unit_of_work(ctx.sessions) as session:
        submit_export(session, request)


def test_an_export_whose_storage_fails_leaves_no_object_and_ends_failed_naming_the_service(
    sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given a store that refuses every write, and a single attempt allowed
    store = RecordingStore(fail_writes=True)
    ctx = JobContext(sessions=sessions, store=store, batch_rows=2, max_attempts=1)

    # when
    job = export(ctx, roster, entity="students")

    # then
    assert job.status == "failed"
    assert job.error is not None and "Object storage did not answer" in job.error
    assert not store.exists(f"exports/{roster.district.id}/{job.id}/students.csv")


def test_a_finished_export_is_not_run_again_when_its_message_is_redelivered(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given
    job = export(ctx, roster, entity="students")

    # when the broker delivers the same message again
    run_job(ctx, job.id, run_export)

    # then
    with ctx.sessions() as session:
        again = session.get(Job, job.id)
        assert again is not None
        assert (again.status, again.attempts) == ("completed", 1)


@pytest.mark.parametrize(("every", "after_batches"), [(0.0, True), (3600.0, False)])
def test_an_export_stores_its_progress_after_a_batch_at_most_as_often_as_set(
    ctx: JobContext,
    roster: SmallDistrict,
    monkeypatch: pytest.MonkeyPatch,
    every: float,
    after_batches: bool,
) -> None:
    # given students in batches of 2, and progress stored after every batch or at most
    # once an hour
    progress: list[int | None] = []
    report = jobs.export.report_progress

    def recorded(ctx: JobContext, job_id: str, **kwargs: Any) -> None:
        if not kwargs.get("done"):
            progress.append(kwargs.get("processed"))
        report(ctx, job_id, **kwargs)

    monkeypatch.setattr(jobs.export, "report_progress", recorded)
    ctx = replace(ctx, export_progress_s=every)

    # when
    job = export(ctx, roster, entity="students")

    # then the batches' progress was stored as often as allowed, and the job completed
    assert job.status == "completed" and job.processed == len(roster.students)
    batches = list(range(2, len(roster.students) + 1, 2))
    assert len(batches) >= 2
    assert [p for p in progress if p] == (batches if after_batches else [])
