"""The request and response bodies of `/v1`, as the OpenAPI document shows them.

Request bodies refuse unknown fields. Text fields refuse NUL characters and unpaired
surrogates (the database could not store them), so a bad value is a 422 naming the field,
never a 500.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

from jobs.requests import text_problem
from schemas.columns import Entity
from schemas.jobs import JobKind, JobStatus
from schemas.oneroster import ONEROSTER

MAX_IDS = 10_000
MAX_DATABASE_ID = 2**31 - 1


def clean_text(value: str) -> str:
    """Refuse text the database cannot store: NUL characters and unpaired surrogates (a
    JSON escape such as `"\\ud800"` alone), with the same words as the CLI's refusal."""
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(f"The value {problem}.")
    return value


Grade = Annotated[str, Field(min_length=1, max_length=20), AfterValidator(clean_text)]
Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(clean_text)]
FileName = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(clean_text)]
FormatName = Annotated[str, Field(min_length=1, max_length=32), AfterValidator(clean_text)]


DatabaseId = Annotated[int, Field(ge=1, le=MAX_DATABASE_ID)]


class Body(BaseModel):
    """A request body: unknown fields are refused rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ExportFilters(Body):
    """Narrow the rows of an export; names match as typed in the portal, ignoring case."""

    grade: Grade | None = Field(default=None, description="Students only: PK, K or 1 to 12.")
    school: Name | None = Field(default=None, description="A school (Organization) by name.")
    class_group: Name | None = Field(default=None, description="A class/group by name.")
    product: Name | None = Field(
        default=None, description="Students or classes/groups with this purchased product."
    )
    search: Name | None = Field(
        default=None, description="Name, username or ID contains this text (any case)."
    )


class ExportBody(Body):
    entity: Entity | None = Field(
        default=None, description="What to export; left out for a `oneroster` export."
    )
    columns: list[Name] | None = Field(
        default_factory=list,
        max_length=200,
        description="Optional columns to add (headers, as `GET /v1/columns/{entity}` lists "
        "them); the required ones are always written. `null` means every optional column; "
        "omitted or `[]` means none.",
    )
    filters: ExportFilters = Field(default_factory=ExportFilters)
    ids: list[DatabaseId] = Field(
        default_factory=list,
        max_length=MAX_IDS,
        description="Only these Database IDs (the rows ticked in the portal); empty means all.",
    )
    format: FormatName = Field(
        default="csv",
        description="The file's format: `csv` (the default); `xlsx` (every cell a text cell, "
        "drop-down lists for columns with fixed values); `pdf`, a printable roster "
        "without the Password column, refused (422) over `ROSTERJOBS_PDF_MAX_ROWS` rows "
        "(10,000 by default); or `oneroster`, a OneRoster 1.1 zip of everything in the "
        "requester's scope (no entity, columns or filters).",
    )
    include_inactive: StrictBool = Field(
        default=False,
        description="Deactivated students, educators and classes/groups too (left out otherwise).",
    )


class ImportEntity(Enum):
    """What an imported file holds: one entity's table, or a OneRoster 1.1 set of them."""

    EDUCATORS = Entity.EDUCATORS.value
    STUDENTS = Entity.STUDENTS.value
    CLASSES = Entity.CLASSES.value
    ONEROSTER = ONEROSTER


class ImportBody(Body):
    entity: ImportEntity = Field(
        description="What the file holds; `oneroster` for a OneRoster 1.1 zip."
    )
    dry_run: StrictBool = Field(
        default=False, description="Validate and report exactly as a real run, change nothing."
    )
    filename: FileName = Field(
        default="import.csv", description="The uploaded file's name, kept in the job for reports."
    )
    format: FormatName | None = Field(
        default=None,
        description="csv or xlsx: refuse the file unless it is this format. Left out, the "
        "format is recognised from the file's content (never from its name).",
    )


class RevertBody(Body):
    dry_run: StrictBool = Field(
        default=False, description="Report what the revert would do, change nothing."
    )


class Progress(BaseModel):
    total: int | None = Field(description="Rows to process, once known.")
    processed: int


class JobOut(BaseModel):
    """The job object of DESIGN.md. Links are made afresh on every read and live for the
    configured link lifetime; they download without a token."""

    id: str
    kind: JobKind
    entity: Entity | Literal["oneroster"]
    district_id: int
    requested_by: str = Field(description="The requesting educator's username.")
    status: JobStatus
    dry_run: bool
    format: str | None = Field(
        description="The file's format: an export's as asked (csv, xlsx); an import's as "
        "stated or recognised (null until its file is read)."
    )
    progress: Progress
    counts: dict[str, int] = Field(
        description="Imports: created, updated, unchanged, failed; exports: rows; "
        "reverts: reverted, conflicts, failed."
    )
    counts_by_file: dict[str, dict[str, int]] | None = Field(
        default=None, description="A OneRoster import: each file's counts beside the totals."
    )
    warnings: dict[str, Any]
    result_url: str | None = Field(
        description="Export: the file; import: the result file (every row with its outcome), "
        "in the upload's format."
    )
    error_report_url: str | None = Field(
        description="Import: the refused rows with their errors, ready to fix and upload again."
    )
    error: str | None = Field(description="Why the job failed, in words a teacher can act on.")
    attempts: int
    source_job_id: str | None = Field(
        default=None,
        description="A commit: the dry run it applies; a revert: the import it undoes.",
    )
    committed_by_job_id: str | None = Field(
        default=None, description="A dry run: the import that committed it, if any."
    )
    reverted_by_job_id: str | None = Field(
        default=None, description="An import: the revert that undoes it, if any."
    )
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class UploadTarget(BaseModel):
    """Where to send the import's file, and how.

    `PUT` (folder storage): send the file as the request body to `url`. `POST` (S3): send a
    `multipart/form-data` form to `url` with every entry of `fields`, then the file as the
    field `file` (last). Either way the upload starts the import when folder storage is used;
    with S3 the bucket's upload event starts it, or `POST /v1/imports/{id}/start`.
    """

    method: Literal["PUT", "POST"]
    url: str
    fields: dict[str, str] = Field(description="POST only: form fields to send before `file`.")
    headers: dict[str, str] = Field(description="Headers to send with the upload.")
    max_bytes: int = Field(description="The largest file the import accepts.")
    expires_at: dt.datetime = Field(description="The target refuses uploads after this time.")


class ImportCreated(JobOut):
    upload: UploadTarget


class JobPage(BaseModel):
    jobs: list[JobOut] = Field(description="Newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class ColumnOut(BaseModel):
    header: str = Field(description="Exactly as written in the CSV header.")
    description: str = Field(description="What the export dialog shows on hover.")
    group: str = Field(description="basic, demographics, test settings or product.")
    product: str | None = Field(description="The product a product column belongs to.")
    multi: bool = Field(description="Cells hold several values separated by ';'.")


class ColumnsOut(BaseModel):
    entity: Entity
    label: str = Field(description="The entity's name as the portal shows it.")
    required: list[ColumnOut] = Field(description="Always exported, required on import.")
    optional: list[ColumnOut] = Field(
        description="Chosen per export; product columns only for purchased products."
    )


class Problem(BaseModel):
    """Every refusal other than a validation error: one sentence saying why."""

    detail: str
