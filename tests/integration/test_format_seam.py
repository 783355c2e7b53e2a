"""A file format is one module plus one registration (`jobs.formats`): a reader chosen by
the file's content, never its name, and a table format that the export and the import's
reports write through.

The proof is a format nobody ships: tab-separated text, declared in this file and
registered for the test alone. An import of a TSV file (uploaded under a `.csv` name) is
read by it and reported in it; an export asked for as `tsv` is written in it, with the same
rows as the CSV export.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pytest
from sqlalchemy.orm import Session, sessionmaker

from jobs import formats
from jobs.csv_in import FileSurvey, ImportLimits, Opener, Records, check_header
from jobs.export import run_export
from jobs.formats import PLAIN, TableFormat, TableLayout, TableRows
from jobs.lifecycle import JobContext, run_job
from jobs.requests import ExportRequest, submit_export
from schemas.columns import Entity
from schemas.products import Product
from storage.db import unit_of_work
from storage.models import Job
from storage.objects import FolderStore
from tests import factories
from tests.factories import SmallDistrict
from tests.importing import export_bytes, run_import_of

HEADER = (
    "Database ID",
    "First Name",
    "Last Name",
    "Username",
    "Password",
    "External Assigned ID",
    "Grade",
    "Organizations",
)


class _TabRows:
    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw

    def writerow(self, cells: object, /) -> None:
        self._raw.write(("\t".join(cells) + "\n").encode())  # type: ignore[arg-type]


@dataclass(frozen=True)
class TsvTable:
    name: str = "tsv"
    extension: str = "tsv"
    media_type: str = "text/tab-separated-values"
    neutralised: bool = True
    most_rows: int | None = None

    @contextmanager
    def rows_into(self, raw: BinaryIO, layout: TableLayout = PLAIN) -> Iterator[TableRows]:
        yield _TabRows(raw)


TSV = TsvTable()


class TsvReader:
    """Tab-separated UTF-8 text, recognised by a tab in its first line."""

    name = "tsv"
    description = "a TSV file"

    def __init__(self) -> None:
        self.reports: TableFormat = TSV

    def recognises(self, head: bytes) -> bool:
        return b"\t" in head.split(b"\n", 1)[0]

    def survey(
        self,
        open_file: Opener,
        *,
        entity: Entity,
        purchased: Collection[Product],
        limits: ImportLimits,
    ) -> FileSurvey:
        lines = self._lines(open_file)
        header = check_header(lines[0].split("\t"), entity=entity, purchased=purchased)
        return FileSurvey(encoding="utf-8", rows=len(lines) - 1, header=header)

    def read_rows(self, open_file: Opener, survey: FileSurvey, *, limits: ImportLimits) -> Records:
        for number, line in enumerate(self._lines(open_file)[1:], start=2):
            yield number, line.split("\t")

    def warnings(self, survey: FileSurvey) -> dict[str, object]:
        return {}

    @staticmethod
    def _lines(open_file: Opener) -> list[str]:
        with open_file() as raw:
            return raw.read().decode("utf-8").splitlines()


@pytest.fixture
def roster(sessions: sessionmaker[Session]) -> SmallDistrict:
    with unit_of_work(sessions) as session:
        return factories.small_district(session)


@pytest.fixture
def ctx(sessions: sessionmaker[Session], tmp_path: Path) -> JobContext:
    return JobContext(sessions=sessions, store=FolderStore(tmp_path / "objects"), batch_rows=2)


@pytest.fixture
def tsv_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one registration a new format needs: its reader ahead of CSV, its table by name."""
    monkeypatch.setattr(formats, "READERS", (TsvReader(), *formats.READERS))
    monkeypatch.setitem(formats.TABLES, TSV.name, TSV)


@pytest.mark.usefixtures("tsv_registered")
def test_a_registered_reader_takes_its_files_by_content_and_reports_in_its_own_format(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given a TSV update of one student's grade, uploaded under a .csv name
    jose = roster.students[0]
    header = "\t".join(HEADER)
    row = f"{jose.id}\tJosé\tGarcía\tjgarcia\t\t000123\t4\tNorth Elementary"
    bad = f"{jose.id + 1000}\tNo\tOne\tnobody\t\t999\t4\tNorth Elementary"

    # when
    run = run_import_of(ctx, roster, f"{header}\n{row}\n{bad}\n")

    # then the TSV reader read it, and both reports are TSV files
    assert run.job.counts == {"created": 0, "updated": 1, "unchanged": 0, "failed": 1}
    assert run.job.result_key and run.job.result_key.endswith("/result.tsv")
    assert run.job.error_report_key and run.job.error_report_key.endswith("/errors.tsv")
    with ctx.store.open_read(run.job.result_key) as raw:
        lines = raw.read().decode().splitlines()
    assert lines[0].split("\t")[-3:] == ["Row", "Result", "Errors"]
    assert lines[1].split("\t")[-3:-1] == ["2", "updated"]


def test_without_the_registration_the_same_file_is_refused_by_the_csv_reader(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given the same TSV file, and only the formats the service ships
    header = "\t".join(HEADER)

    # when
    run = run_import_of(ctx, roster, f"{header}\n")

    # then CSV, the last reader asked, reads it as CSV and refuses its header
    assert run.job.status == "failed"
    assert run.job.error and "Database ID" in run.job.error


@pytest.mark.usefixtures("tsv_registered")
def test_an_export_asked_for_in_a_registered_format_is_written_in_it_with_the_same_rows(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    # given
    request = ExportRequest(
        district=str(roster.district.id),
        username=roster.district_admin.username,
        entity="students",
        format="tsv",
    )

    # when
    with unit_of_work(ctx.sessions) as session:
        job_id = submit_export(session, request).id
    run_job(ctx, job_id, run_export)

    # then its key names the format, and its rows are the CSV export's
    with ctx.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.result_key is not None
    assert job.result_key.endswith("/students.tsv")
    with ctx.store.open_read(job.result_key) as raw:
        tsv = [line.split("\t") for line in raw.read().decode().splitlines()]
    as_csv = export_bytes(ctx, roster).decode("utf-8-sig").splitlines()
    assert len(tsv) == len(as_csv) == len(roster.students) + 1
    assert [cells[0] for cells in tsv] == [line.split(",")[0] for line in as_csv]


def test_an_export_in_a_format_nobody_registered_is_refused_before_any_job(
    ctx: JobContext, roster: SmallDistrict
) -> None:
    request = ExportRequest(
        district=str(roster.district.id),
        username=roster.district_admin.username,
        entity="students",
        format="tsv",
    )

    with unit_of_work(ctx.sessions) as session, pytest.raises(Exception) as refused:
        submit_export(session, request)

    known = ", ".join(sorted({*formats.TABLES, "oneroster"}))  # csv, oneroster, pdf, xlsx
    assert str(refused.value) == f"There is no export format 'tsv'; choose {known}."
