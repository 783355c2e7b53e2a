"""Reverting an import from its change history, on SQLite and Postgres: what goes back,
what is deleted, what is a conflict, and what is refused."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import jobs.revert
from jobs.errors import JobConflict
from jobs.lifecycle import JobContext, run_job
from jobs.revert import run_revert
from storage.models import ImportChange, Job
from tests.factories import SmallDistrict
from tests.importing import run_import_of
from tests.revert.helpers import (
    as_csv,
    ask_revert,
    exports,
    finished_revert,
    password_hashes,
    revert,
    rows_of,
)


def edited_students(ctx: JobContext, roster: SmallDistrict) -> str:
    """The students' export as a teacher edits it: names, a grade, schools and classes,
    product settings, a password, and two new students."""
    header, rows = rows_of(exports(ctx, roster)["students"])
    col = {name: i for i, name in enumerate(header)}
    by_name = {row[col["Username"]]: row for row in rows}
    jose, zoe = by_name["jgarcia"], by_name["zdangelo"]
    jose[col["Grade"]] = "4"
    jose[col["First Name"]] = "Josefina"
    jose[col["Organizations"]] = "North Elementary;South Middle"
    jose[col["Classes/Groups"]] = "Grade 7 - Muñoz"
    jose[col["Imagine Language & Literacy: Session Time"]] = "40"
    jose[col["Password"]] = "a-new-password"
    zoe[col["Username"]] = "zoe.d"
    zoe[col["Imagine Language & Literacy: Access"]] = "Yes"
    zoe[col["Imagine Language & Literacy: Language Support"]] = "French"
    zoe[col["Birth Date"]] = "2019-02-03"
    new = ["" for _ in header]
    for name, value in {
        "First Name": "Ana",
        "Last Name": "Novak",
        "Username": "anovak",
        "Password": "first-password",
        "External Assigned ID": "990001",
        "Grade": "2",
        "Organizations": "South Middle",
        "Classes/Groups": "Grade 7 - Muñoz",
        "Imagine Galileo K-12: Access": "Yes",
    }.items():
        new[col[name]] = value
    return as_csv(header, [*rows, new])


def test_a_reverted_import_leaves_all_three_exports_byte_identical_to_before(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given an import that updates, creates, moves schools and classes, and sets passwords
    before, hashes = exports(ctx, roster), password_hashes(ctx)
    imported = run_import_of(ctx, roster, edited_students(ctx, roster))
    assert imported.job.counts["created"] == 1 and imported.job.counts["updated"] == 2
    assert exports(ctx, roster) != before

    # when
    job, results = revert(ctx, imported.job.id, roster.district_admin.username)

    # then
    assert job.status == "completed", (job.error, results)
    assert job.counts == {"reverted": 3, "conflicts": 0, "failed": 0}
    assert exports(ctx, roster) == before
    assert password_hashes(ctx) == hashes
    assert [row["Result"] for row in results] == ["reverted"] * 3
    assert job.source_job_id == imported.job.id


def test_a_classes_import_reverted_leaves_all_three_exports_byte_identical_to_before(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given a classes import: a rename, another school, educators, students and products
    before = exports(ctx, roster)
    header, rows = rows_of(before["classes"])
    col = {name: i for i, name in enumerate(header)}
    first = rows[0]
    first[col["Class/Group Name"]] = "Grade 3 - Renamed"
    first[col["Organization"]] = "South Middle"
    first[col["Educators"]] = f"jose.munoz@{roster.district.id}.example.org"
    first[col["Students"]] = "jgarcia"
    first[col["Products"]] = "Imagine Reading"
    new = ["" for _ in header]
    new[col["Class/Group Name"]] = "Brand New Group"
    new[col["Organization"]] = "North Elementary"
    new[col["Students"]] = "zdangelo"
    imported = run_import_of(ctx, roster, as_csv(header, [*rows, new]), entity="classes")
    assert imported.job.counts["created"] == 1 and imported.job.counts["updated"] == 1

    # when
    job, _ = revert(ctx, imported.job.id, roster.district_admin.username)

    # then
    assert job.counts == {"reverted": 2, "conflicts": 0, "failed": 0}
    assert exports(ctx, roster) == before


def test_values_changed_since_the_import_are_conflicts_named_and_the_rest_goes_back(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given an import, then an educator's hand edits of two of its students (another import)
    before = exports(ctx, roster)
    imported = run_import_of(ctx, roster, edited_students(ctx, roster))
    header, rows = rows_of(exports(ctx, roster)["students"])
    col = {name: i for i, name in enumerate(header)}
    by_name = {row[col["Username"]]: row for row in rows}
    by_name["jgarcia"][col["Grade"]] = "5"
    by_name["zoe.d"][col["Last Name"]] = "Hand-Edited"
    by_name["zoe.d"][col["Imagine Language & Literacy: Language Support"]] = "Spanish"
    edited = [by_name["jgarcia"], by_name["zoe.d"]]
    for row in edited:
        row[col["Password"]] = ""
    assert run_import_of(ctx, roster, as_csv(header, edited)).job.counts["updated"] == 2

    # when
    job, results = revert(ctx, imported.job.id, roster.district_admin.username)

    # then the two are conflicts naming what changed; the rest of them went back
    assert job.status == "completed_with_errors"
    assert job.counts == {"reverted": 1, "conflicts": 2, "failed": 0}
    by_id = {row["Database ID"]: row for row in results}
    jose, zoe = roster.students[0], roster.students[1]
    assert by_id[str(jose.id)]["Result"] == "conflict"
    assert by_id[str(jose.id)]["Not put back"].startswith("Grade: changed since the import")
    assert "First Name" in by_id[str(jose.id)]["Put back"]
    assert by_id[str(zoe.id)]["Not put back"].count("changed since the import") == 1
    assert "Imagine Language & Literacy: Language Support" in by_id[str(zoe.id)]["Not put back"]
    _, after = rows_of(exports(ctx, roster)["students"])
    _, old = rows_of(before["students"])
    now = {row[col["Database ID"]]: row for row in after}
    was = {row[col["Database ID"]]: row for row in old}
    assert now[str(jose.id)][col["Grade"]] == "5"
    assert now[str(jose.id)][col["First Name"]] == was[str(jose.id)][col["First Name"]]
    assert now[str(zoe.id)][col["Username"]] == "zdangelo"


def test_a_dry_run_revert_reports_the_same_counts_and_changes_nothing(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given
    imported = run_import_of(ctx, roster, edited_students(ctx, roster))
    after_import = exports(ctx, roster)

    # when
    job, results = revert(ctx, imported.job.id, roster.district_admin.username, dry_run=True)

    # then
    assert job.counts == {"reverted": 3, "conflicts": 0, "failed": 0}
    assert len(results) == 3 and exports(ctx, roster) == after_import
    # and the real revert may still be made
    real, _ = revert(ctx, imported.job.id, roster.district_admin.username)
    assert real.counts == job.counts


def test_a_revert_writes_its_own_change_history_and_cannot_itself_be_reverted(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given
    imported = run_import_of(ctx, roster, edited_students(ctx, roster))
    job, _ = revert(ctx, imported.job.id, roster.district_admin.username)

    # then
    with ctx.sessions() as session:
        history = session.execute(
            select(ImportChange.column, ImportChange.old_value, ImportChange.new_value).where(
                ImportChange.job_id == job.id, ImportChange.column == "Grade"
            )
        ).all()
    assert history == [("Grade", "4", "3")]
    with pytest.raises(JobConflict, match="A revert cannot itself be reverted"):
        ask_revert(ctx, job.id, roster.district_admin.username)
    with pytest.raises(JobConflict, match="already been reverted"):
        ask_revert(ctx, imported.job.id, roster.district_admin.username)


def test_reading_access_the_import_gave_is_not_removed_and_a_taken_username_stays(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given an import giving Imagine Reading and a new username, then another student
    # taking the username the revert would put back
    header, rows = rows_of(exports(ctx, roster)["students"])
    col = {name: i for i, name in enumerate(header)}
    jose = next(row for row in rows if row[col["Username"]] == "jgarcia")
    jose[col["Username"]] = "jose.g"
    zoe = next(row for row in rows if row[col["Username"]] == "zdangelo")
    zoe[col["Imagine Reading: Access"]] = "Yes"
    imported = run_import_of(ctx, roster, as_csv(header, [jose, zoe]))
    header2, rows2 = rows_of(exports(ctx, roster)["students"])
    other = next(row for row in rows2 if row[col["Username"]] == "anguyen")
    other[col["Username"]] = "jgarcia"
    assert run_import_of(ctx, roster, as_csv(header2, [other])).job.counts["updated"] == 1

    # when
    job, results = revert(ctx, imported.job.id, roster.district_admin.username)

    # then
    notes = {row["Database ID"]: row["Not put back"] for row in results}
    assert job.counts["conflicts"] == 2
    assert "'jgarcia' is now used by another student" in notes[str(roster.students[0].id)]
    assert "cannot be removed by a revert" in notes[str(roster.students[1].id)]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        ("dry_run", "A dry run changed nothing"),
        ("export", "Only an import can be reverted"),
    ],
)
def test_a_dry_run_or_an_export_cannot_be_reverted(
    ctx: JobContext, roster: SmallDistrict, make: str, reason: str
) -> None:
    # given
    if make == "dry_run":
        job_id = run_import_of(ctx, roster, edited_students(ctx, roster), dry_run=True).job.id
    else:
        from jobs.requests import ExportRequest, submit_export
        from storage.db import unit_of_work

        with unit_of_work(ctx.sessions) as session:
            job_id = submit_export(
                session,
                ExportRequest(str(roster.district.id), roster.district_admin.username, "students"),
            ).id

    # when / then
    with pytest.raises(JobConflict, match=reason):
        ask_revert(ctx, job_id, roster.district_admin.username)


def test_a_cancelled_revert_leaves_what_it_reverted_reported_and_the_rest_as_imported(
    ctx: JobContext, roster: SmallDistrict, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a revert whose user cancels while its first batch (two records) is written
    before = exports(ctx, roster)
    imported = run_import_of(ctx, roster, edited_students(ctx, roster))
    after_import = exports(ctx, roster)
    job_id = ask_revert(ctx, imported.job.id, roster.district_admin.username)
    real = jobs.revert.apply_batch

    def cancel_during_first(session: Session, *args: Any, **kwargs: Any) -> None:
        job = session.get(Job, job_id)
        assert job is not None
        job.cancel_requested = True
        real(session, *args, **kwargs)

    monkeypatch.setattr(jobs.revert, "apply_batch", cancel_during_first)

    # when
    run_job(ctx, job_id, run_revert)
    job, results = finished_revert(ctx, job_id)

    # then the first two records are back and reported, the new student is still there
    assert job.status == "cancelled"
    assert job.counts == {"reverted": 2, "conflicts": 0, "failed": 0, "not_processed": 1}
    assert [row["Result"] for row in results] == ["reverted", "reverted"]
    _, now = rows_of(exports(ctx, roster)["students"])
    _, was = rows_of(before["students"])
    _, imported_rows = rows_of(after_import["students"])
    assert now[:-1] == was and now[-1] == imported_rows[-1]
    # and a new revert finishes the work
    finishing, _ = revert(ctx, imported.job.id, roster.district_admin.username)
    assert finishing.counts == {"reverted": 3, "conflicts": 0, "failed": 0}
    assert exports(ctx, roster) == before


def test_an_educators_import_reverted_leaves_all_three_exports_byte_identical_to_before(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given an educators import: a name, a type, schools and classes changed, one created
    before = exports(ctx, roster)
    header, rows = rows_of(before["educators"])
    col = {name: i for i, name in enumerate(header)}
    by_name = {row[col["Username"]]: row for row in rows}
    teacher = by_name[roster.teacher.username]
    teacher[col["Last Name"]] = "Renamed"
    teacher[col["Organizations"]] = "North Elementary;South Middle"
    teacher[col["Classes/Groups"]] = "Grade 7 - Muñoz"
    other = by_name[roster.other_teacher.username]
    other[col["Educator Type"]] = "Admin"
    new = ["" for _ in header]
    for name, value in {
        "First Name": "Lee",
        "Last Name": "Park",
        "Username": f"lee.park@{roster.district.id}.example.org",
        "Educator Type": "Teacher",
        "Organizations": "South Middle",
        "Classes/Groups": "Grade 3 - O'Brien",
    }.items():
        new[col[name]] = value
    imported = run_import_of(ctx, roster, as_csv(header, [*rows, new]), entity="educators")
    assert imported.job.counts["created"] == 1 and imported.job.counts["updated"] == 2

    # when
    job, _ = revert(ctx, imported.job.id, roster.district_admin.username)

    # then
    assert job.counts == {"reverted": 3, "conflicts": 0, "failed": 0}
    assert exports(ctx, roster) == before
