"""The OneRoster export pipeline: plan → count → query → zip → link.

1. plan: the request checked again against today's roster (`plan_oneroster`): an
   administrator's scope, no entity, no filters or columns;
2. count: each file's rows (`storage.oneroster_rows.count_rows`), their sum the job's total;
3. query and write, file by file in dependency order (`schemas.oneroster.FILES`), each one
   a member of one zip streamed to object storage: on Postgres each file's selects run as
   `COPY … (FORMAT csv)`, elsewhere their rows are streamed `batch_rows` at a time through
   Python's csv module; both write the same bytes (UTF-8 without a BOM, CRLF, cells exactly
   as stored: a OneRoster file is read by programs, so formula starts are not neutralised).
   `zipfile` writes to a stream it cannot seek with data descriptors, compressing as it
   goes, so no member is ever held whole;
4. progress is stored after every `batch_rows` rows (at most every
   `ctx.export_progress_s`), which is also where a cancel is noticed.

Running it twice rewrites the same key, so a redelivered export is harmless.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO, TypeVar

import structlog
from sqlalchemy import Select
from sqlalchemy.orm import Session

from jobs.lifecycle import JobContext, Outcome, report_progress
from jobs.requests import ExportRequest, plan_oneroster
from schemas.jobs import JobStatus
from schemas.oneroster import HEADERS, MANIFEST, MANIFEST_HEADER, manifest_rows, school_year
from storage import export_copy, oneroster_rows
from storage.models import Job
from storage.oneroster_rows import SetContext

log = structlog.get_logger("rosterjobs.jobs")

T = TypeVar("T")
MEDIA_TYPE = "application/zip"
COMPRESS_LEVEL = 1
"""Deflate's fastest level: a roster's CSV shrinks to about a fifth either way, and the
higher levels cost several times the time for a few per cent."""
FLUSH_BYTES = 256 * 1024
ZIP64_ROW_BYTES = 400
"""A generous size of one row: a member whose rows could pass 2 GiB is written as ZIP64."""
SYSTEM_NAME = "rosterjobs"

FileParts = list[tuple[str, list[Select[Any]]]]


def run_oneroster_export(ctx: JobContext, job: Job) -> Outcome:
    key = oneroster_key(job)
    request = ExportRequest.from_job(job)
    moment = job.started_at or dt.datetime.now(dt.UTC)
    with ctx.sessions() as session:
        scope = plan_oneroster(session, request)
        district_id = oneroster_rows.district_sourced_id(session, scope.district_id)
        year = school_year(moment.date())
        context = SetContext(
            scope=scope,
            include_inactive=request.include_inactive,
            modified=rfc3339(moment),
            district_sourced_id=district_id,
            session_sourced_id=f"session-{year}",
        )
        files = file_parts(context, year)
        expected = {name: oneroster_rows.count_rows(session, parts) for name, parts in files}
        total = sum(expected.values())
        report_progress(ctx, job.id, processed=0, total=total)
        progress = _Progress(ctx, job.id)
        with ctx.store.open_write(key, content_type=MEDIA_TYPE) as raw:
            written = write_set(
                session, files, raw, batch_rows=ctx.batch_rows, progress=progress, sizes=expected
            )
    rows = sum(written.values())
    report_progress(ctx, job.id, processed=rows, total=rows, done=True)
    counts = {"rows": rows} | {name.removesuffix(".csv"): n for name, n in written.items()}
    return Outcome(JobStatus.COMPLETED, counts=counts, result_key=key)


def oneroster_key(job: Job) -> str:
    """Where the export's zip lives; the job's random id makes the key unguessable."""
    return f"exports/{job.district_id}/{job.id}/oneroster.zip"


def rfc3339(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def file_parts(context: SetContext, year: int) -> FileParts:
    """Each file of the set with the selects of its rows, in `HEADERS` order."""
    return [
        ("orgs.csv", oneroster_rows.orgs(context)),
        ("academicSessions.csv", oneroster_rows.academic_sessions(context, year)),
        ("courses.csv", oneroster_rows.courses(context)),
        ("classes.csv", oneroster_rows.class_rows(context)),
        ("users.csv", oneroster_rows.users(context)),
        ("enrollments.csv", oneroster_rows.enrollments(context)),
    ]


def write_set(
    session: Session,
    files: FileParts,
    raw: BinaryIO,
    *,
    batch_rows: int,
    progress: _Progress | None = None,
    sizes: dict[str, int] | None = None,
    fast: bool = True,
) -> dict[str, int]:
    """Write the manifest and the files into one zip in `raw`; answers each file's rows.
    The row source is chosen once: COPY on Postgres (unless `fast` is False: the general
    path, the reference the fast one is tested against), else the row stream."""
    copied = fast and session.get_bind().dialect.name == "postgresql"
    log.info("export.rendering", path="copy" if copied else "rows", format="oneroster")
    seen = progress or _Progress(None, "")
    written: dict[str, int] = {}
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as zipped:
        with zipped.open(MANIFEST, "w") as member:
            _write_rows(member, [MANIFEST_HEADER, *manifest_rows(system_name=SYSTEM_NAME)])
        for name, parts in files:
            big = (sizes or {}).get(name, 0) * ZIP64_ROW_BYTES >= zipfile.ZIP64_LIMIT
            with zipped.open(name, "w", force_zip64=big) as member:
                member.write((",".join(HEADERS[name]) + "\r\n").encode())
                written[name] = sum(
                    _write_part(
                        session, part, member, copied=copied, batch_rows=batch_rows, seen=seen
                    )
                    for part in parts
                )
    return written


def _write_part(
    session: Session,
    part: Select[Any],
    member: IO[bytes],
    copied: bool,
    *,
    batch_rows: int,
    seen: _Progress,
) -> int:
    if copied:
        with export_copy.copy_records(session, part) as records:
            return _write_records(member, seen(records))
    result = session.execute(part.execution_options(yield_per=batch_rows))
    cells = ([("" if value is None else value) for value in row] for row in result)
    return _write_rows(member, seen(cells))


def _write_rows(member: IO[bytes], rows: Iterable[Any]) -> int:
    """Rows through Python's csv module (RFC 4180, CRLF), UTF-8 without a BOM."""
    text = io.TextIOWrapper(member, encoding="utf-8", newline="", write_through=False)
    out, written = csv.writer(text), 0
    try:
        for row in rows:
            out.writerow(row)
            written += 1
        text.flush()
    finally:
        text.detach()
    return written


def _write_records(member: IO[bytes], records: Iterable[memoryview]) -> int:
    """COPY's records with CRLF for their final LF (line breaks inside quoted cells stay as
    they are, as csv leaves them)."""
    pending, written = bytearray(), 0
    for record in records:
        pending += record[:-1]
        pending += b"\r\n"
        written += 1
        if len(pending) >= FLUSH_BYTES:
            member.write(bytes(pending))
            pending.clear()
    member.write(bytes(pending))
    return written


@dataclass
class _Progress:
    """Counts the rows of every file as they go by and stores the running total after a
    batch, at most every `ctx.export_progress_s` (None: a caller that stores nothing)."""

    ctx: JobContext | None
    job_id: str
    processed: int = 0
    last: float = field(default_factory=time.monotonic)

    def __call__(self, rows: Iterable[T], /) -> Iterator[T]:
        ctx = self.ctx
        for row in rows:
            yield row
            self.processed += 1
            if ctx is None or self.processed % ctx.batch_rows:
                continue
            if time.monotonic() - self.last >= ctx.export_progress_s:
                report_progress(ctx, self.job_id, processed=self.processed)
                self.last = time.monotonic()
