"""`rosterjobs export --format pdf` as a process, on the embedded defaults: the printable
roster lands at its link, and one over `ROSTERJOBS_PDF_MAX_ROWS` is refused in one line
before any job exists."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from sqlalchemy import func, select

from storage.db import make_engine, session_factory, unit_of_work
from storage.models import Job
from tests import factories
from tests.pdf_text import pdf_pages
from tests.processes import cli_json, run_cli, service_env


def seeded(database_url: str) -> factories.SmallDistrict:
    engine = make_engine(database_url)
    with unit_of_work(session_factory(engine)) as session:
        roster = factories.small_district(session)
    engine.dispose()
    return roster


def export_args(roster: factories.SmallDistrict, *more: str) -> tuple[str, ...]:
    return (
        "export",
        "--district",
        roster.district.name,
        "--as",
        roster.district_admin.username,
        "--entity",
        "students",
        "--format",
        "pdf",
        *more,
    )


def test_the_cli_prints_a_class_to_a_pdf(sqlite_url: str, tmp_path: Path) -> None:
    # given
    roster = seeded(sqlite_url)
    env = service_env(sqlite_url, str(tmp_path / "objects"))

    # when
    job = cli_json(env, *export_args(roster, "--class", "Grade 3 - O'Brien"), cwd=tmp_path)

    # then
    assert job["status"] == "completed", job["error"]
    path = Path(url2pathname(urlsplit(job["result_url"]).path))
    assert path.suffix == ".pdf"
    [page] = pdf_pages(path.read_bytes(), tmp_path)
    assert "Riverside Unified — Students — class/group Grade 3 - O'Brien" in page
    assert "José" in page and "Zoë" in page and "Amélie" not in page
    assert "Page 1 of 1" in page


def test_a_pdf_over_the_cap_is_refused_in_one_line_naming_the_numbers_and_no_job_is_made(
    sqlite_url: str, tmp_path: Path
) -> None:
    # given
    roster = seeded(sqlite_url)
    env = service_env(sqlite_url, str(tmp_path / "objects"), ROSTERJOBS_PDF_MAX_ROWS="3")

    # when
    done = run_cli(env, *export_args(roster), cwd=tmp_path)

    # then
    assert done.returncode == 2
    assert done.stderr == (
        "rosterjobs: A PDF roster holds at most 3 rows and this export has 4; narrow it with "
        "a filter (grade, school, class/group, search) or export a CSV.\n"
    )
    engine = make_engine(sqlite_url)
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0
    engine.dispose()
