"""The OneRoster import: the service's own export reads back unchanged and rebuilds a
district elsewhere; real-world sets with alias headers and other roles; delta files that
deactivate and bulk files that bring back (SQLite and Postgres)."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from jobs.export import run_export
from jobs.lifecycle import JobContext, run_job
from jobs.requests import ExportRequest, submit_export
from schemas.products import Product
from storage.db import unit_of_work
from storage.models import Job
from storage.objects import FolderStore
from tests import factories
from tests.factories import SmallDistrict
from tests.oneroster.helpers import export_set
from tests.oneroster.importing import import_set


@pytest.fixture
def roster(sessions: sessionmaker[Session]) -> SmallDistrict:
    with unit_of_work(sessions) as session:
        return factories.small_district(session)


@pytest.fixture
def ctx(sessions: sessionmaker[Session], tmp_path: Path) -> JobContext:
    return JobContext(sessions=sessions, store=FolderStore(tmp_path / "objects"), batch_rows=2)


def exported_zip(ctx: JobContext, roster: SmallDistrict) -> bytes:
    found = export_set(ctx, roster)
    with ctx.store.open_read(found.job.result_key or "") as raw:
        return raw.read()


def test_a_districts_own_export_imports_back_with_every_row_unchanged(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given
    data = exported_zip(ctx, roster)

    # when
    done = import_set(ctx, roster.district.id, roster.district_admin.username, data)

    # then
    assert done.job.status == "completed", (done.job.error, done.errors)
    for name, rows in done.results.items():
        assert {row["Result"] for row in rows} == {"unchanged"}, (name, rows)
    assert done.job.counts["unchanged"] == 26
    assert done.job.counts_by_file is not None
    assert done.job.counts_by_file["users"]["unchanged"] == 8


CARRIED = {
    "students": ("Classes/Groups", "Status"),
    "classes": ("External Assigned ID", "Educators", "Students", "Status"),
    "educators": ("External Assigned ID", "Classes/Groups", "Status"),
}
"""The CSV columns OneRoster carries besides the required ones (no demographics, no
products)."""


def csv_rows(ctx: JobContext, roster: SmallDistrict, entity: str) -> list[dict[str, str]]:
    request = ExportRequest(
        district=str(roster.district.id),
        username=roster.district_admin.username,
        entity=entity,
        columns=CARRIED[entity],
    )
    with unit_of_work(ctx.sessions) as session:
        job_id = submit_export(session, request).id
    run_job(ctx, job_id, run_export)
    with ctx.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.result_key is not None
    with ctx.store.open_read(job.result_key) as raw:
        text = raw.read().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    for row in rows:
        del row["Database ID"]
    return sorted(rows, key=lambda row: str(sorted(row.items())))


def test_a_districts_export_rebuilds_it_in_an_empty_district(
    ctx: JobContext, roster: SmallDistrict, sessions: sessionmaker[Session]
) -> None:
    # given district B: one school of the same name and its administrator
    with unit_of_work(sessions) as session:
        b = factories.district(session, "Lakeside", roster_products())
        north = factories.school(session, b.id, "North Elementary")
        admin = factories.educator(
            session, b.id, [north], educator_type="Admin", username="admin@lakeside.org"
        )
        b_roster = SmallDistrict(b, north, north, admin, admin, admin, admin, *([None] * 3))  # type: ignore[arg-type]
    data = exported_zip(ctx, roster)

    # when A's set is imported into B
    done = import_set(ctx, b.id, admin.username, data)

    # then every row applied and B's CSV exports are A's (B's administrator was given the
    # school the set created, as every district administrator is)
    problems = [(n, r["Errors"]) for n, rows in done.errors.items() for r in rows]
    assert done.job.status == "completed", problems
    assert done.job.counts_by_file is not None
    assert done.job.counts_by_file["users"]["created"] == 8
    assert done.job.counts_by_file["orgs"] == {
        "created": 1,
        "updated": 0,
        "unchanged": 2,
        "failed": 0,
    }
    assert done.job.counts_by_file["enrollments"]["created"] == 8
    assert csv_rows(ctx, b_roster, "students") == csv_rows(ctx, roster, "students")
    assert csv_rows(ctx, b_roster, "classes") == csv_rows(ctx, roster, "classes")
    theirs = [r for r in csv_rows(ctx, b_roster, "educators") if r["Username"] != admin.username]
    assert theirs == csv_rows(ctx, roster, "educators")


def roster_products() -> tuple[Product, ...]:
    return (Product.LANGUAGE_LITERACY, Product.READING, Product.GALILEO)


def sis_set(
    files: dict[str, str], modes: dict[str, str] | None = None, *, version: str = "1.1"
) -> bytes:
    modes = modes or {}
    manifest = f"propertyName,value\nmanifest.version,1.0\noneroster.version,{version}\n"
    for name in ("orgs", "academicSessions", "courses", "classes", "users", "enrollments"):
        listed = f"{name}.csv" in files
        manifest += f"file.{name},{modes.get(name, 'bulk') if listed else 'absent'}\n"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.csv", manifest)
        for name, text in files.items():
            archive.writestr(name, text)
    return out.getvalue()


# a set as an SIS writes it: the alias headers, an SIS's own sourcedIds, five roles
SIS = {
    "orgs.csv": "sourcedId,status,dateLastModified,name,type,identifier,parent\n"
    "D1,active,,Riverside Unified,district,,\n"
    "S-NORTH,active,,North Elementary,school,,D1\n"
    "S-EAST,active,,East High,school,,D1\n",
    "academicSessions.csv": "sourcedId,status,dateLastModified,title,type,startDate,endDate,"
    "parentSourcedId,schoolYear\nY27,active,,2026-2027,schoolYear,2026-07-01,2027-06-30,,2027\n",
    "courses.csv": "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,"
    "grades,orgs,subjects,subjectCodes\nC-ALG,active,,Y27,Algebra,ALG,,S-EAST,,\n",
    "classes.csv": "sourcedId,status,dateLastModified,title,grades,course,classCode,"
    "classType,location,school,terms,subjects,subjectCodes,periods\n"
    "K-ALG1,active,,Algebra 1 - P1,09,C-ALG,ALG-1,scheduled,,S-EAST,Y27,,,1\n",
    "users.csv": "sourcedId,status,dateLastModified,enabledUser,orgs,role,username,userIds,"
    "givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n"
    "U-T1,active,,true,S-EAST,teacher,mrivera,{SIS:T-900},Maria,Rivera,,T-900,"
    "mrivera@east.example.org,,,,,\n"
    "U-S1,active,,true,S-EAST,student,kim01,{SIS:900001},Kim,Lee,,,,,,U-P1,09,\n"
    'U-S2,active,,true,"S-EAST,S-NORTH",student,ola02,,Ola,Berg,,900002,,,,,KG,\n'
    "U-A1,active,,true,S-EAST,administrator,boss,,Ada,Boss,,,boss@east.example.org,,,,,\n"
    "U-P1,active,,true,S-EAST,parent,parent1,,Pat,Lee,,,,,,,,\n"
    "U-X1,active,,true,S-EAST,aide,aide1,,Al,Aide,,,,,,,,\n",
    "enrollments.csv": "sourcedId,status,dateLastModified,class,school,user,role,primary,"
    "beginDate,endDate\n"
    "E1,active,,K-ALG1,S-EAST,U-T1,teacher,true,,\n"
    "E2,active,,K-ALG1,S-EAST,U-S1,student,false,,\n"
    "E3,active,,K-ALG1,S-EAST,U-S2,student,false,,\n"
    "E4,active,,K-ALG1,S-EAST,U-X1,aide,false,,\n",
}


def test_an_sis_set_with_alias_headers_and_other_roles_creates_the_roster(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # when
    done = import_set(ctx, roster.district.id, roster.district_admin.username, sis_set(SIS))

    # then
    problems = [(n, r["Errors"]) for n, rows in done.errors.items() for r in rows]
    assert done.job.status == "completed", problems
    by_file = done.job.counts_by_file or {}
    assert by_file["orgs"]["created"] == 1 and by_file["orgs"]["unchanged"] == 2  # North named
    assert by_file["classes"]["created"] == 1
    assert by_file["users"] == {"created": 4, "updated": 0, "unchanged": 2, "failed": 0}
    assert by_file["enrollments"] == {"created": 3, "updated": 0, "unchanged": 1, "failed": 0}
    assert done.job.warnings["skipped"] == {
        "enrollment role aide": 1,
        "user role aide": 1,
        "user role parent": 1,
    }
    students = {r["Username"]: r for r in csv_rows(ctx, roster, "students")}
    assert students["kim01"]["External Assigned ID"] == "900001"  # from {SIS:…}
    assert students["ola02"]["Grade"] == "K"
    assert students["ola02"]["Organizations"] == "East High;North Elementary"
    classes = {r["Class/Group Name"]: r for r in csv_rows(ctx, roster, "classes")}
    assert classes["Algebra 1 - P1"]["Students"] == "kim01;ola02"
    assert classes["Algebra 1 - P1"]["Educators"] == "mrivera@east.example.org"
    educators = {r["Username"]: r for r in csv_rows(ctx, roster, "educators")}
    assert educators["boss@east.example.org"]["Educator Type"] == "Admin"
    assert done.row("users.csv", "U-P1")["Result"] == "unchanged"


def test_a_delta_deactivates_users_and_enrollments_and_a_later_bulk_brings_them_back(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given the SIS set imported
    admin = roster.district_admin.username
    import_set(ctx, roster.district.id, admin, sis_set(SIS))
    delta = {
        "users.csv": "sourcedId,status,dateLastModified,orgSourcedIds,role,username\n"
        "U-S1,tobedeleted,2026-12-01T00:00:00Z,,student,\n",
        "enrollments.csv": "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,"
        "userSourcedId,role\nE3,tobedeleted,2026-12-01T00:00:00Z,K-ALG1,S-EAST,U-S2,student\n",
    }

    # when a delta withdraws Kim and takes Ola out of the class
    done = import_set(
        ctx, roster.district.id, admin, sis_set(delta, {"users": "delta", "enrollments": "delta"})
    )

    # then
    problems = [(n, r["Errors"]) for n, rows in done.errors.items() for r in rows]
    assert done.job.status == "completed", problems
    assert done.outcomes("users.csv") == ["updated"]
    assert done.outcomes("enrollments.csv") == ["updated"]
    students = {r["Username"] for r in csv_rows(ctx, roster, "students")}
    assert "kim01" not in students and "ola02" in students
    classes = {r["Class/Group Name"]: r for r in csv_rows(ctx, roster, "classes")}
    assert classes["Algebra 1 - P1"]["Students"] == "kim01"  # still a member, only inactive

    # and when the next bulk set has them active again, they are back
    again = import_set(ctx, roster.district.id, admin, sis_set(SIS))
    assert again.job.status == "completed"
    assert "kim01" in {r["Username"] for r in csv_rows(ctx, roster, "students")}
    classes = {r["Class/Group Name"]: r for r in csv_rows(ctx, roster, "classes")}
    assert classes["Algebra 1 - P1"]["Students"] == "kim01;ola02"
