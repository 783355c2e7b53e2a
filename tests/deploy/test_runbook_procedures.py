"""The runbook's repair procedures, run as an operator would: its SQL on a real Postgres
after real imports, its requeue snippet against a real Redis. A runbook that no longer
matches the schema or the runtime fails here, not during an incident."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from sqlalchemy import select, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from jobs.lifecycle import JobContext
from storage.db import unit_of_work
from storage.models import Student
from storage.objects import FolderStore
from tests import factories
from tests.deploy import files
from tests.factories import SmallDistrict
from tests.importing import ImportRun, export_bytes, run_import_of
from tests.processes import REDIS_URL, service_env


@pytest.fixture
def roster(pg_sessions: sessionmaker[Session]) -> SmallDistrict:
    with unit_of_work(pg_sessions) as session:
        return factories.small_district(session)


@pytest.fixture
def ctx(pg_sessions: sessionmaker[Session], tmp_path: Path) -> JobContext:
    return JobContext(sessions=pg_sessions, store=FolderStore(tmp_path / "objects"), batch_rows=2)


@pytest.fixture
def psql(postgres_url: str) -> Iterator[psycopg.Connection]:
    """A plain connection, like psql's: autocommit until the runbook says BEGIN."""
    url = make_url(postgres_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        yield conn


def run_block(conn: psycopg.Connection, marker: str, job_id: str) -> list[list[tuple]]:  # type: ignore[type-arg]
    """Run a runbook SQL block as psql would after `\\set job '<job_id>'`; answers the
    rows of each statement that returned some."""
    sql = files.runbook_block(marker).replace(":'job'", f"'{job_id}'")
    results = []
    with conn.cursor() as cursor:
        cursor.execute(sql.encode())
        while True:
            if cursor.description is not None:
                results.append(cursor.fetchall())
            if not cursor.nextset():
                break
    return results


def undo(conn: psycopg.Connection, job_id: str) -> list[str]:
    """The runbook's whole undo of one import, committed; answers the NOTICEs."""
    notices: list[str] = []
    conn.add_notice_handler(lambda notice: notices.append(notice.message_primary or ""))
    for marker in ("sql: undo-values", "sql: undo-links", "sql: undo-created"):
        run_block(conn, marker, job_id)
    conn.execute("COMMIT")
    return notices


def table(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def as_csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


def edit(rows: list[list[str]], key: str, changes: dict[str, str], *, by: str) -> None:
    """Change cells of the row whose `by` column is `key`, by header."""
    header = rows[0]
    row = next(r for r in rows[1:] if r[header.index(by)] == key)
    for column, value in changes.items():
        row[header.index(column)] = value


def import_students_edits(ctx: JobContext, roster: SmallDistrict) -> ImportRun:
    """A wrong import touching every kind of column: text, keyed, date, Yes/No, minutes,
    memberships, a password, and a new record."""
    rows = table(export_bytes(ctx, roster, "students"))
    edit(
        rows,
        "jgarcia",
        {
            "First Name": "Josué",
            "Grade": "KG",
            "Birth Date": "5/1/2016",
            "Hispanic or Latino": "No",
            "Imagine Language & Literacy: Session Time": "30",
            "Organizations": "North Elementary;south middle",
            "Classes/Groups": "Grade 3 - O'Brien;grade 7 - muñoz",
            "Password": "new-secret",
        },
        by="Username",
    )
    edit(
        rows,
        "zdangelo",
        {"Username": "Zoe.Dangelo", "Gender": "X", "Imagine Galileo K-12: Access": "Yes"},
        by="Username",
    )
    edit(rows, "anguyen", {"External Assigned ID": "A-78", "Race": "Asian"}, by="Username")
    new = ["" for _ in rows[0]]
    for column, value in {
        "First Name": "Nia",
        "Last Name": "New",
        "Username": "nnew",
        "Password": "first-pass",
        "External Assigned ID": "N-1",
        "Grade": "2",
        "Organizations": "North Elementary",
    }.items():
        new[rows[0].index(column)] = value
    rows.append(new)
    run = run_import_of(ctx, roster, as_csv(rows))
    assert run.job.counts == {"created": 1, "updated": 3, "unchanged": 1, "failed": 0}, run.results
    return run


def import_classes_edits(ctx: JobContext, roster: SmallDistrict) -> ImportRun:
    rows = table(export_bytes(ctx, roster, "classes"))
    edit(
        rows,
        "Grade 4 - Muñoz",
        {
            "Organization": "south middle",
            "External Assigned ID": "C-4",
            "Educators": f"{roster.teacher.username};{roster.other_teacher.username}",
        },
        by="Class/Group Name",
    )
    edit(
        rows,
        "Grade 7 - Muñoz",
        {"Class/Group Name": "Grade 7 - Muñoz (old)"},
        by="Class/Group Name",
    )
    run = run_import_of(ctx, roster, as_csv(rows), entity="classes")
    assert run.job.counts["updated"] == 2, run.results
    return run


def exports(ctx: JobContext, roster: SmallDistrict) -> dict[str, bytes]:
    return {entity: export_bytes(ctx, roster, entity) for entity in ("students", "classes")}


def test_the_runbooks_undo_puts_the_roster_back_as_it_was_before_the_imports(
    ctx: JobContext, roster: SmallDistrict, psql: psycopg.Connection
) -> None:
    # given the roster as exported, then a wrong students import and a wrong classes import
    before = exports(ctx, roster)
    students = import_students_edits(ctx, roster)
    classes = import_classes_edits(ctx, roster)
    assert exports(ctx, roster) != before

    # when the runbook's undo is run for each, the later one first
    notices = undo(psql, classes.job.id) + undo(psql, students.job.id)

    # then every export reads as before (passwords are never exported), and nothing was
    # reported as left alone
    after = exports(ctx, roster)
    assert table(after["students"]) == table(before["students"])
    assert table(after["classes"]) == table(before["classes"])
    assert not notices


def test_the_runbooks_undo_leaves_alone_a_value_changed_after_the_import(
    ctx: JobContext,
    roster: SmallDistrict,
    psql: psycopg.Connection,
    pg_sessions: sessionmaker[Session],
) -> None:
    # given a wrong import, after which someone corrected a first name by hand
    run = import_students_edits(ctx, roster)
    with unit_of_work(pg_sessions) as session:
        session.execute(
            update(Student).where(Student.username == "jgarcia").values(first_name="Pepe")
        )

    # when the runbook's undo is run
    notices = undo(psql, run.job.id)

    # then the hand-made value stays, the rest of the row is restored, and the operator is told
    with pg_sessions() as session:
        jose = session.scalars(select(Student).where(Student.username == "jgarcia")).one()
        assert (jose.first_name, jose.grade, jose.session_time) == ("Pepe", "3", 25)
    assert len(notices) == 1 and "First Name" in notices[0]


def test_the_runbooks_listing_shows_each_change_and_the_passwords_to_reset(
    ctx: JobContext, roster: SmallDistrict, psql: psycopg.Connection
) -> None:
    # given a wrong import
    run = import_students_edits(ctx, roster)

    # when the runbook's listing and password queries are run
    changes, later = run_block(psql, "sql: list-changes", run.job.id)
    sql = files.RUNBOOK.read_text().split("**Passwords.**", 1)[1]
    query = sql.split("```sql", 1)[1].split("```", 1)[0].replace(":'job'", f"'{run.job.id}'")
    passwords = psql.execute(query.encode()).fetchall()

    # then the listing has every changed value of the job with its outcome, no later import
    # touched them, and the two students whose password was set are named
    changed = {(row[1], row[4], row[5], row[6]) for row in changes}
    assert ("updated", "Grade", "3", "K") in changed
    assert ("updated", "First Name", "José", "Josué") in changed
    assert ("created", "Username", None, "nnew") in changed
    assert ("updated", "Password", None, "(changed)") in changed
    assert later == []
    assert {username for _, username in passwords} == {"jgarcia", "nnew"}


def test_the_runbooks_snippet_sends_a_new_message_for_the_job(
    tmp_path: Path, redis_namespace: str
) -> None:
    # given a worker's settings, on a Redis queue namespace of this test's own
    env = service_env(
        f"sqlite:///{tmp_path / 'rosterjobs.db'}",
        str(tmp_path / "objects"),
        ROSTERJOBS_BROKER_URL=REDIS_URL,
        ROSTERJOBS_QUEUE_NAMESPACE=redis_namespace,
    )
    block = textwrap.dedent(files.runbook_block("snippet: send-message"))
    code = block.split("python -c '", 1)[1].split("\n'", 1)[0]

    # when it is run for an import, as the runbook says
    done = subprocess.run(
        [sys.executable, "-c", code, "import_roster", "job-123"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # then one message for that job waits on the imports queue, where workers look
    assert done.returncode == 0, done.stderr
    client = redis.Redis.from_url(REDIS_URL)
    waiting = client.lrange(f"{redis_namespace}:imports", 0, -1)
    bodies = [client.hget(f"{redis_namespace}:imports.msgs", mid) for mid in waiting]
    assert len(bodies) == 1 and bodies[0] is not None
    message = json.loads(bodies[0])
    assert (message["actor_name"], message["args"]) == ("import_roster", ["job-123"])
