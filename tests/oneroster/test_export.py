"""The OneRoster 1.1 export: the seven files with the spec's headers, references that
resolve inside the set, the roster's counts, roles, grades and scope (SQLite, and Postgres
through COPY)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from jobs.csv_in import ImportLimits
from jobs.errors import RequestRefused
from jobs.lifecycle import JobContext
from jobs.oneroster_out import file_parts, write_set
from jobs.oneroster_zip import opened_set, survey
from jobs.requests import ExportRequest, plan_oneroster, submit_export
from storage.db import unit_of_work
from storage.models import ClassGroup, District, Educator, School, Student
from storage.objects import FolderStore
from storage.oneroster_rows import SetContext
from tests import factories
from tests.factories import SmallDistrict
from tests.oneroster.helpers import OneRosterSet, export_set, read_set

# the v1.1 CSV tables (1EdTech OneRoster v1.1, "CSV Tables"), written out here on purpose
SPEC_HEADERS = {
    "manifest.csv": "propertyName,value",
    "orgs.csv": "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId",
    "academicSessions.csv": "sourcedId,status,dateLastModified,title,type,startDate,endDate,"
    "parentSourcedId,schoolYear",
    "courses.csv": "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,"
    "grades,orgSourcedId,subjects,subjectCodes",
    "classes.csv": "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,"
    "classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods",
    "users.csv": "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,"
    "userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,"
    "password",
    "enrollments.csv": "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,"
    "userSourcedId,role,primary,beginDate,endDate",
}


@pytest.fixture
def roster(sessions: sessionmaker[Session]) -> SmallDistrict:
    with unit_of_work(sessions) as session:
        return factories.small_district(session)


@pytest.fixture
def ctx(sessions: sessionmaker[Session], tmp_path: Path) -> JobContext:
    return JobContext(sessions=sessions, store=FolderStore(tmp_path / "objects"), batch_rows=2)


def assert_references_resolve(found: OneRosterSet) -> None:
    orgs, users = found.by_id("orgs.csv"), found.by_id("users.csv")
    classes, courses = found.by_id("classes.csv"), found.by_id("courses.csv")
    sessions = found.by_id("academicSessions.csv")
    for row in found.rows["orgs.csv"]:
        assert row["parentSourcedId"] in ("", *orgs)
    for row in found.rows["courses.csv"]:
        assert row["orgSourcedId"] in orgs and row["schoolYearSourcedId"] in sessions
    for row in found.rows["classes.csv"]:
        assert row["courseSourcedId"] in courses and row["schoolSourcedId"] in orgs
        assert set(row["termSourcedIds"].split(",")) <= set(sessions)
    for row in found.rows["users.csv"]:
        assert row["orgSourcedIds"] and set(row["orgSourcedIds"].split(",")) <= set(orgs)
    for row in found.rows["enrollments.csv"]:
        assert row["classSourcedId"] in classes, row
        assert row["userSourcedId"] in users, row
        assert row["schoolSourcedId"] == classes[row["classSourcedId"]]["schoolSourcedId"]


def test_each_file_has_the_v1_1_header_in_order_and_the_manifest_lists_them_as_bulk(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # when
    found = export_set(ctx, roster)

    # then
    assert sorted(found.headers) == sorted(SPEC_HEADERS)
    for name, header in SPEC_HEADERS.items():
        assert ",".join(found.headers[name]) == header, name
    manifest = {row["propertyName"]: row["value"] for row in found.rows["manifest.csv"]}
    assert manifest["oneroster.version"] == "1.1"
    assert manifest["manifest.version"] == "1.0"
    for name in SPEC_HEADERS.keys() - {"manifest.csv"}:
        assert manifest[f"file.{name.removesuffix('.csv')}"] == "bulk"
    assert manifest["file.demographics"] == manifest["file.results"] == "absent"
    assert all(
        data.endswith(b"\r\n") and not data.startswith(b"\xef\xbb\xbf")
        for data in found.raw.values()
    )


def test_every_reference_resolves_inside_the_set_and_the_counts_are_the_rosters(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # when
    found = export_set(ctx, roster)

    # then
    assert_references_resolve(found)
    user_ids = [row["sourcedId"] for row in found.rows["users.csv"]]
    assert len(user_ids) == len(set(user_ids)) == 4 + 4  # students, educators
    assert len(found.rows["orgs.csv"]) == 3  # the district and its two schools
    assert len(found.rows["classes.csv"]) == len(found.rows["courses.csv"]) == 3
    assert len(found.rows["academicSessions.csv"]) == 1
    # memberships: A has 1 teacher + 2 students, B 1 + 2, C 1 + 1
    assert len(found.rows["enrollments.csv"]) == 8
    assert found.job.counts == {
        "rows": 3 + 1 + 3 + 3 + 8 + 8,
        "orgs": 3,
        "academicSessions": 1,
        "courses": 3,
        "classes": 3,
        "users": 8,
        "enrollments": 8,
    }
    assert found.job.result_key is not None and found.job.result_key.endswith(".zip")


def test_users_carry_roles_ceds_grades_sis_ids_and_never_a_password(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # when
    found = export_set(ctx, roster)

    # then
    users = {row["username"]: row for row in found.rows["users.csv"]}
    jose, zoe = users["jgarcia"], users["zdangelo"]
    assert (jose["role"], jose["grades"], zoe["grades"]) == ("student", "03", "KG")
    assert (jose["givenName"], jose["familyName"]) == ("José", "García")
    assert (jose["identifier"], jose["userIds"]) == ("000123", "{SIS:000123}")
    assert jose["sourcedId"] == f"student-{roster.students[0].id}"
    assert jose["orgSourcedIds"] == f"school-{roster.north.id}"
    assert users[roster.district_admin.username]["role"] == "administrator"
    teacher = users[roster.teacher.username]
    assert (teacher["role"], teacher["email"]) == ("teacher", roster.teacher.username)
    assert (teacher["identifier"], teacher["userIds"]) == ("T-001", "{SIS:T-001}")
    both = users[roster.other_teacher.username]["orgSourcedIds"]
    assert both == f"school-{roster.north.id},school-{roster.south.id}"
    assert all(row["password"] == "" for row in found.rows["users.csv"])
    assert {row["status"] for row in found.rows["users.csv"]} == {"active"}
    # a OneRoster file is read by programs: cells are exactly as stored
    assert users["formula1"]["givenName"] == '=HYPERLINK("x")'


def test_classes_courses_and_enrollments_follow_the_class_membership(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # when
    found = export_set(ctx, roster)

    # then
    a = found.by_id("classes.csv")[f"class-{roster.class_a.id}"]
    assert (a["title"], a["classCode"], a["classType"]) == ("Grade 3 - O'Brien", "C-1", "scheduled")
    assert a["courseSourcedId"] == f"course-{roster.class_a.id}"
    assert found.by_id("courses.csv")[a["courseSourcedId"]]["title"] == "Grade 3 - O'Brien"
    in_a = {
        (row["userSourcedId"], row["role"], row["primary"])
        for row in found.rows["enrollments.csv"]
        if row["classSourcedId"] == a["sourcedId"]
    }
    assert in_a == {
        (f"educator-{roster.teacher.id}", "teacher", "true"),
        (f"student-{roster.students[0].id}", "student", "false"),
        (f"student-{roster.students[1].id}", "student", "false"),
    }


def test_a_school_admins_set_holds_their_schools_only_and_still_resolves(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # when the North school's admin exports
    found = export_set(ctx, roster, username=roster.school_admin.username)

    # then
    assert [row["name"] for row in found.rows["orgs.csv"]] == [
        "Riverside Unified",
        "North Elementary",
    ]
    assert sorted(row["title"] for row in found.rows["classes.csv"]) == [
        "Grade 3 - O'Brien",
        "Grade 4 - Muñoz",
    ]
    students = {r["username"] for r in found.rows["users.csv"] if r["role"] == "student"}
    assert students == {"jgarcia", "zdangelo", "formula1"}
    # José Muñoz teaches in both schools: only North is named
    munoz = next(
        r for r in found.rows["users.csv"] if r["username"] == roster.other_teacher.username
    )
    assert munoz["orgSourcedIds"] == f"school-{roster.north.id}"
    assert_references_resolve(found)


def test_stored_sis_sourced_ids_are_written_instead_of_the_services(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given records that came from an SIS
    with unit_of_work(ctx.sessions) as session:
        session.execute(update(District).values(sourced_id="D-9"))
        session.execute(update(School).where(School.id == roster.north.id).values(sourced_id="S-N"))
        session.execute(
            update(Student).where(Student.id == roster.students[0].id).values(sourced_id="u-jg")
        )
        session.execute(
            update(ClassGroup).where(ClassGroup.id == roster.class_a.id).values(sourced_id="k-A")
        )

    # when
    found = export_set(ctx, roster)

    # then
    assert found.by_id("orgs.csv")["S-N"]["parentSourcedId"] == "D-9"
    assert found.by_id("users.csv")["u-jg"]["orgSourcedIds"] == "S-N"
    assert found.by_id("classes.csv")["k-A"]["schoolSourcedId"] == "S-N"
    assert ("k-A", "u-jg") in {
        (row["classSourcedId"], row["userSourcedId"]) for row in found.rows["enrollments.csv"]
    }
    assert_references_resolve(found)


def test_deactivated_records_leave_the_set_or_come_as_tobedeleted_when_asked_for(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given José (student) and class C are deactivated
    with unit_of_work(ctx.sessions) as session:
        session.execute(
            update(Student).where(Student.id == roster.students[0].id).values(active=False)
        )
        session.execute(
            update(ClassGroup).where(ClassGroup.id == roster.class_c.id).values(active=False)
        )
        session.execute(
            update(Educator).where(Educator.id == roster.teacher.id).values(active=False)
        )

    # when
    found = export_set(ctx, roster)
    everything = export_set(ctx, roster, include_inactive=True)

    # then
    assert "jgarcia" not in {row["username"] for row in found.rows["users.csv"]}
    assert f"class-{roster.class_c.id}" not in found.by_id("classes.csv")
    assert (
        len(found.rows["enrollments.csv"]) == 8 - 1 - 1 - 2
    )  # José's, Zoë O'Brien's, class C's two
    assert_references_resolve(found)
    jose = everything.by_id("users.csv")[f"student-{roster.students[0].id}"]
    assert (jose["status"], jose["enabledUser"]) == ("tobedeleted", "false")
    assert everything.by_id("classes.csv")[f"class-{roster.class_c.id}"]["status"] == "tobedeleted"
    assert len(everything.rows["enrollments.csv"]) == 8
    assert_references_resolve(everything)


@pytest.mark.parametrize(
    ("username", "fields", "says"),
    [
        ("teacher", {}, "Teachers cannot export OneRoster"),
        ("district_admin", {"entity": "students"}, "leave the entity out"),
        ("district_admin", {"grade": "3"}, "no columns, filters or ids"),
        ("district_admin", {"columns": ("Birth Date",)}, "no columns, filters or ids"),
    ],
)
def test_a_oneroster_export_is_refused_before_any_job_when_it_cannot_be_one(
    ctx: JobContext, roster: SmallDistrict, username: str, fields: dict[str, object], says: str
) -> None:
    # given
    educator, fields = getattr(roster, username), dict(fields)
    request = ExportRequest(
        district=str(roster.district.id),
        username=educator.username,
        entity=str(fields.pop("entity", "")),
        format="oneroster",
        **fields,  # type: ignore[arg-type]
    )

    # when / then
    with unit_of_work(ctx.sessions) as session, pytest.raises(RequestRefused, match=says):
        submit_export(session, request)


class Unseekable(io.RawIOBase):
    """An output that can only be appended to, as an S3 multipart upload."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, chunk: object) -> int:
        view = memoryview(chunk)  # type: ignore[arg-type]
        self.data += view
        return len(view)


def test_the_fast_and_general_paths_write_the_same_files_into_an_unseekable_stream(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given cells csv and COPY must both quote
    with unit_of_work(ctx.sessions) as session:
        factories.student(session, roster.north, first_name='Ann, "Jr."', last_name="Two\r\nLines")
    request = ExportRequest(
        str(roster.district.id), roster.district_admin.username, "", format="oneroster"
    )
    outputs = []
    with ctx.sessions() as session:
        scope = plan_oneroster(session, request)
        context = SetContext(scope, False, "2026-01-02T03:04:05Z", "district-x", "session-2026")
        for fast in (True, False):
            # when
            out = Unseekable()
            write_set(session, file_parts(context, 2026), out, batch_rows=2, fast=fast)  # type: ignore[arg-type]
            outputs.append(bytes(out.data))

    # then
    for data in outputs:
        with zipfile.ZipFile(io.BytesIO(data)) as zipped:
            assert all(info.flag_bits & 0x08 for info in zipped.infolist())  # data descriptors
    assert read_set(outputs[0])[2] == read_set(outputs[1])[2]
    assert b'"Ann, ""Jr."""' in read_set(outputs[0])[2]["users.csv"]


def test_the_exported_set_passes_the_imports_checks_file_for_file(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given
    found = export_set(ctx, roster)
    assert found.job.result_key is not None
    limits = ImportLimits()

    # when
    with opened_set(
        lambda: ctx.store.open_read(found.job.result_key or ""), limits=limits
    ) as archive:
        checked = survey(archive, limits=limits)

    # then
    assert [(f.name, f.mode, f.rows) for f in checked.files] == [
        (name, "bulk", len(found.rows[name])) for name in SPEC_HEADERS if name != "manifest.csv"
    ]
    assert all(None not in f.columns for f in checked.files)
