"""The printable PDF roster (`--format pdf`), on SQLite and on Postgres, read back by
poppler's `pdftotext`/`pdfinfo`: every name of a class in any script, the header and the
title on every page, "Page N of M", no Password column, and the row cap."""

from __future__ import annotations

import datetime as dt
import math
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from jobs import formats
from jobs.errors import RequestRefused
from jobs.export import run_export
from jobs.lifecycle import JobContext, run_job
from jobs.pdf_table import PdfTable
from jobs.requests import ExportRequest, submit_export
from jobs.views import job_object
from storage.db import unit_of_work
from storage.models import Job
from storage.objects import FolderStore
from storage.s3 import S3Store
from tests import factories
from tests.factories import SmallDistrict
from tests.pdf_text import pdf_page_count, pdf_pages, words_of

NAMES = (
    ("Zoë", "Ødegård"),
    ("François", "Lefèvre-Núñez"),
    ("Nguyễn", "Thị Hằng"),
    ("محمد", "الحسيني"),
    ("فاطمة", "عبد الله"),
    ("王", "小明"),
    ("李", "华"),
    ("שרה", "כהן"),
    ("Иван", "Петров"),
    ("Αθηνά", "Παπαδοπούλου"),
    ("=1+2", "-Smith"),
)
"""Names a printed roster must show as they are: accents, Arabic, Chinese, Hebrew, Cyrillic,
Greek, and a formula start (exact: nothing runs a PDF, so no `'` before it)."""
CLASS_SIZE = 110
"""Enough rows for three portrait pages."""


@dataclass
class PrintedClass:
    roster: SmallDistrict
    name: str
    usernames: list[str]
    names: list[tuple[str, str]]


@pytest.fixture
def room12(sessions: sessionmaker[Session]) -> PrintedClass:
    with unit_of_work(sessions) as session:
        roster = factories.small_district(session)
        room = factories.class_group(session, roster.north, "Room 12")
        names = [*NAMES, *((f"Sam{i:03d}", f"Reader{i:03d}") for i in range(CLASS_SIZE))]
        names = names[:CLASS_SIZE]
        usernames = []
        for index, (first, last) in enumerate(names):
            username = f"pupil{index:03d}"
            factories.student(
                session, roster.north, [room], first_name=first, last_name=last, username=username
            )
            usernames.append(username)
        return PrintedClass(roster, "Room 12", usernames, names)


@pytest.fixture
def ctx(sessions: sessionmaker[Session], tmp_path: Path) -> JobContext:
    return JobContext(sessions=sessions, store=FolderStore(tmp_path / "objects"), batch_rows=50)


def export_pdf(ctx: JobContext, roster: SmallDistrict, **fields: object) -> Job:
    request = ExportRequest(
        district=str(roster.district.id),
        username=roster.district_admin.username,
        entity="students",
        format="pdf",
        **fields,  # type: ignore[arg-type]
    )
    with unit_of_work(ctx.sessions) as session:
        job_id = submit_export(session, request).id
    run_job(ctx, job_id, run_export)
    with ctx.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def pdf_of(ctx: JobContext, job: Job) -> bytes:
    assert job.status == "completed", job.error
    assert job.result_key is not None and job.result_key.endswith(".pdf")
    with ctx.store.open_read(job.result_key) as raw:
        return raw.read()


def test_every_name_of_a_class_prints_in_its_own_script(
    ctx: JobContext, room12: PrintedClass, tmp_path: Path
) -> None:
    # when
    job = export_pdf(ctx, room12.roster, class_group=room12.name)

    # then
    data = pdf_of(ctx, job)
    assert data.startswith(b"%PDF-")
    text = "\n".join(pdf_pages(data, tmp_path))
    for first, last in room12.names:
        for word in words_of(f"{first} {last}"):
            assert word in text, f"{word!r} is missing from the PDF"
    assert "'=1+2" not in text
    assert job.counts == {"rows": CLASS_SIZE}


def test_the_pages_hold_every_row_once_with_the_header_title_and_page_n_of_m_on_each(
    ctx: JobContext, room12: PrintedClass, tmp_path: Path
) -> None:
    # when
    job = export_pdf(ctx, room12.roster, class_group=room12.name)

    # then
    data = pdf_of(ctx, job)
    pages = pdf_pages(data, tmp_path)
    total = len(pages)
    assert pdf_page_count(data, tmp_path) == total >= 3
    today = dt.datetime.now(dt.UTC).date().isoformat()
    title_words = ("Riverside Unified", "Students", "class/group Room 12", today)
    per_page = []
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {total}" in page
        assert all(word in page for word in title_words), page[:200]
        assert "Database ID" in page and "External Assigned ID" in page and "Organizations" in page
        per_page.append([name for name in room12.usernames if f"{name}\n" in page + "\n"])
    printed = [name for names in per_page for name in names]
    assert sorted(printed) == sorted(room12.usernames)  # every row, once
    rows_per_page = len(per_page[0])
    assert all(len(names) == rows_per_page for names in per_page[:-1])
    assert total == math.ceil(CLASS_SIZE / rows_per_page)


def test_the_password_column_is_never_printed_though_every_column_was_asked_for(
    ctx: JobContext, room12: PrintedClass, tmp_path: Path
) -> None:
    # when
    job = export_pdf(ctx, room12.roster, class_group=room12.name, columns=None)

    # then
    text = "\n".join(pdf_pages(pdf_of(ctx, job), tmp_path))
    assert "Password" not in text
    assert "Birth Date" in text and "Imagine Reading: Access" in text


def test_a_pdf_over_the_row_cap_is_refused_at_submission_with_the_number_and_no_job(
    ctx: JobContext, room12: PrintedClass
) -> None:
    # given
    request = ExportRequest(
        district=str(room12.roster.district.id),
        username=room12.roster.district_admin.username,
        entity="students",
        format="pdf",
    )

    # when
    with pytest.raises(RequestRefused) as refused, unit_of_work(ctx.sessions) as session:
        submit_export(session, request, pdf_max_rows=100)

    # then: the small district's 4 students and the class's 110
    assert str(refused.value) == (
        "A PDF roster holds at most 100 rows and this export has 114; narrow it with a "
        "filter (grade, school, class/group, search) or export a CSV."
    )
    assert refused.value.field == "format"
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_a_csv_is_not_counted_against_the_pdf_cap(ctx: JobContext, room12: PrintedClass) -> None:
    request = ExportRequest(
        district=str(room12.roster.district.id),
        username=room12.roster.district_admin.username,
        entity="students",
    )
    with unit_of_work(ctx.sessions) as session:
        assert submit_export(session, request, pdf_max_rows=1).id


def test_the_worker_refuses_a_pdf_the_roster_outgrew_after_submission_and_stores_nothing(
    ctx: JobContext, room12: PrintedClass, tmp_path: Path
) -> None:
    # given: submitted under a cap of 200; the worker's cap is 100
    request = ExportRequest(
        district=str(room12.roster.district.id),
        username=room12.roster.district_admin.username,
        entity="students",
        format="pdf",
    )
    with unit_of_work(ctx.sessions) as session:
        job_id = submit_export(session, request, pdf_max_rows=200).id

    # when
    run_job(replace(ctx, pdf_max_rows=100), job_id, run_export)

    # then
    with ctx.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
    assert job.status == "failed"
    assert job.error is not None
    assert job.error.startswith("A PDF roster holds at most 100 rows and this export has 114;")
    assert job.result_key is None
    objects = tmp_path / "objects"
    assert not objects.exists() or not any(p.is_file() for p in objects.rglob("*"))


def test_a_server_without_the_fonts_fails_the_pdf_in_one_sentence_and_stores_nothing(
    ctx: JobContext, room12: PrintedClass, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a server whose font folders are empty
    bare = tmp_path / "no-fonts"
    bare.mkdir()
    monkeypatch.setitem(formats.TABLES, "pdf", PdfTable(font_dirs=(bare,)))

    # when
    job = export_pdf(ctx, room12.roster, class_group=room12.name)

    # then
    assert job.status == "failed"
    assert job.error == (
        "This server lacks the fonts a PDF roster embeds; ask its operators to install the "
        "Debian packages fonts-dejavu-core and fonts-droid-fallback."
    )
    assert job.result_key is None
    objects = tmp_path / "objects"
    assert not objects.exists() or not any(p.is_file() for p in objects.rglob("*"))


def test_cells_print_exactly_even_the_page_count_placeholder_and_line_breaks(
    ctx: JobContext, room12: PrintedClass, tmp_path: Path
) -> None:
    # given
    with unit_of_work(ctx.sessions) as session:
        factories.student(
            session, room12.roster.north, first_name="{nb}", last_name="Line\nBreak", username="nb1"
        )

    # when
    job = export_pdf(ctx, room12.roster, search="nb1")

    # then
    [page] = pdf_pages(pdf_of(ctx, job), tmp_path)
    assert "{nb}" in page and "Line Break" in page
    assert "search “nb1”" in page


def test_a_pdf_exported_to_s3_downloads_through_its_presigned_link_as_a_pdf(
    room12: PrintedClass,
    sessions: sessionmaker[Session],
    s3_store: S3Store,
    s3_client: Any,
    tmp_path: Path,
) -> None:
    # given
    ctx = JobContext(sessions=sessions, store=s3_store, batch_rows=50, link_ttl=600)

    # when
    job = export_pdf(ctx, room12.roster, class_group=room12.name)
    link = job_object(job, s3_store, link_ttl=600)["result_url"]
    with urllib.request.urlopen(link, timeout=30) as response:
        body = response.read()
        disposition = response.headers["Content-Disposition"]

    # then
    assert job.status == "completed", job.error
    assert f'filename="students-{job.created_at:%Y-%m-%d}.pdf"' in disposition
    text = "\n".join(pdf_pages(body, tmp_path))
    assert all(word in text for word in words_of("王 小明 محمد الحسيني Zoë Ødegård"))
    stored = s3_client.head_object(Bucket=s3_store.bucket, Key=s3_store._key(job.result_key or ""))
    assert stored["ContentType"] == "application/pdf"
