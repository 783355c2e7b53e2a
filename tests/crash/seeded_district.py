"""A seeded district for the crash tests that stop or kill workers: its settings, an
import file of its students as an administrator would edit it, and what is stored of it,
to compare a stopped or killed run with an uninterrupted one."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jobs.lifecycle import JobContext
from storage.db import make_engine, session_factory
from storage.models import ImportChange, Job, School, Student, StudentSchool
from storage.objects import FolderStore
from storage.seed import SeedSummary, seed_district
from tests.crash import helpers
from tests.crash.helpers import embedded, worker_env
from tests.processes import cli_json

BATCH_ROWS = 10
GRADES = ["PK", "K", *(str(grade) for grade in range(1, 13))]
HEADER = [
    "Database ID", "First Name", "Last Name", "Username", "Password", "External Assigned ID",
    "Grade", "Organizations",
]  # fmt: skip
ADDED = 20


@dataclass(frozen=True)
class Roster:
    """One seeded district: its settings, its database and its object storage folder."""

    env: dict[str, str]
    sessions: sessionmaker[Session]
    district: SeedSummary
    objects: Path
    cwd: Path

    @property
    def who(self) -> list[str]:
        return ["--district", str(self.district.district_id), "--as", self.district.district_admin]

    def job(self, job_id: str) -> Job:
        with self.sessions() as session:
            job = session.get(Job, job_id)
            assert job is not None
            return job

    def read(self, key: str | None) -> bytes:
        assert key is not None
        return (self.objects / key).read_bytes()


@contextmanager
def roster(
    database_url: str,
    tmp_path: Path,
    label: str,
    namespace: str,
    *,
    students: int,
    settings: dict[str, str] | None = None,
) -> Iterator[Roster]:
    """A district of `students` seeded in `database_url`, with `tests.crash.helpers`
    worker settings (`BATCH_ROWS` rows a batch) and `settings` over them."""
    engine = make_engine(database_url)
    district = seed_district(engine, name="Crash Unified", students=students, random_seed=6)
    objects = tmp_path / label / "objects"
    objects.mkdir(parents=True)
    env = worker_env(database_url, str(objects), namespace, batch_rows=BATCH_ROWS)
    env |= settings or {}
    try:
        yield Roster(env, session_factory(engine), district, objects, objects.parent)
    finally:
        engine.dispose()


def export_everything(side: Roster) -> bytes:
    """The students with every column, exported by the command itself (no worker)."""
    job = cli_json(
        embedded(side.env), "export", *side.who, "--entity", "students", "--all-columns",
        cwd=side.cwd,
    )  # fmt: skip
    return side.read(side.job(job["id"]).result_key)


def edited_file(side: Roster) -> bytes:
    """The district's students with every grade moved on by one and every 97th one made
    invalid, then 20 new students: an import file as an administrator would write it."""
    with side.sessions() as session:
        places: dict[int, list[str]] = {}
        for student_id, school in session.execute(
            select(StudentSchool.student_id, School.name)
            .join(School, School.id == StudentSchool.school_id)
            .order_by(School.name)
        ):
            places.setdefault(student_id, []).append(school)
        students = list(session.scalars(select(Student).order_by(Student.id)))
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for number, student in enumerate(students, start=1):
        grade = "13" if number % 97 == 0 else GRADES[(GRADES.index(student.grade) + 1) % 14]
        ids = (student.id, student.first_name, student.last_name, student.username)
        school = ";".join(places[student.id])
        writer.writerow([*ids, "", student.external_id, grade, school])
    for number in range(ADDED):
        names = ("", "Added", f"Student {number}", f"added-student-{number}")
        writer.writerow([*names, f"Sunflower-{number}", f"ADDED{number:04d}", "3", school])
    assert students, "the district has no students"
    return out.getvalue().encode("utf-8-sig")


def roster_rows(side: Roster) -> list[tuple[object, ...]]:
    """Every stored value of the district's students and their schools (password hashes,
    salted afresh in each database, apart)."""
    columns = [column for column in Student.__table__.columns if column.name != "password_hash"]
    with side.sessions() as session:
        students = session.execute(select(*columns).order_by(Student.id))
        places = session.execute(
            select(StudentSchool.student_id, StudentSchool.school_id).order_by(
                StudentSchool.student_id, StudentSchool.school_id
            )
        )
        return [tuple(row) for row in students] + [tuple(row) for row in places]


def import_file(side: Roster, data: bytes) -> str:
    """Upload `data` and queue its import with `rosterjobs import`, for a worker to run."""
    upload = side.cwd / "students-edited.csv"
    upload.write_bytes(data)
    args = ("import", str(upload), *side.who, "--entity", "students")
    job_id: str = cli_json(side.env, *args, cwd=side.cwd)["id"]
    return job_id


def import_uninterrupted(side: Roster, data: bytes, *, batch_rows: int = BATCH_ROWS) -> Job:
    """The same import run to its end in this process, `batch_rows` rows a batch."""
    ctx = JobContext(sessions=side.sessions, store=FolderStore(side.objects), batch_rows=batch_rows)
    path = side.objects.parent / "students-edited.csv"
    path.write_bytes(data)
    return helpers.import_uninterrupted(ctx, side.district, path)


def changes(side: Roster, job_id: str) -> list[tuple[int, str, str | None, str | None]]:
    """Every value the import changed, in order: a row applied twice would change twice."""
    statement = (
        select(ImportChange.row_number, ImportChange.column, ImportChange.old_value)
        .add_columns(ImportChange.new_value)
        .where(ImportChange.job_id == job_id)
        .order_by(ImportChange.row_number, ImportChange.column)
    )
    with side.sessions() as session:
        return [(row, column, old, new) for row, column, old, new in session.execute(statement)]
