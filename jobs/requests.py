"""Export requests: checked when they are made, and again when the job runs.

`plan_export` turns a request (names, as a person typed them) into an `ExportPlan`
(database ids, the requester's scope, the exact columns), or refuses it with one message
that names the problem; text no database can store (`text_problem`) is refused first.
`submit_export` refuses before any job exists, so a bad request never leaves a job behind;
the worker plans again because the roster may have changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from typing import Any

from sqlalchemy.orm import Session

from jobs.csv_in import Header
from jobs.errors import RequestRefused
from jobs.formats import CSV, READERS, TABLES
from jobs.import_checks import ImportPlan
from jobs.import_spec import SPECS
from jobs.lifecycle import create_job
from jobs.pdf_table import PDF, PDF_MAX_ROWS
from schemas.codecs import CellError, GradeCodec
from schemas.columns import Column, Entity, UnknownColumns, select_columns
from schemas.jobs import JobKind, JobStatus
from schemas.oneroster import ONEROSTER
from schemas.products import Product
from schemas.scope import Role, RosterFilter, Scope
from storage import classes, districts, educators, references, students
from storage.models import Job


@dataclass(frozen=True)
class ExportRequest:
    """What the portal or the CLI asked for. `columns` None means every optional column."""

    district: str
    username: str
    entity: str
    columns: tuple[str, ...] | None = ()
    grade: str | None = None
    school: str | None = None
    class_group: str | None = None
    product: str | None = None
    search: str | None = None
    ids: tuple[int, ...] = ()
    format: str = CSV.name  # a name in `jobs.formats.TABLES`
    include_inactive: bool = False  # deactivated records too (they leave an export otherwise)

    def options(self) -> dict[str, Any]:
        """The request as stored in the job record (JSON)."""
        values = asdict(self)
        values["columns"] = None if self.columns is None else list(self.columns)
        values["ids"] = list(self.ids)
        return values

    @classmethod
    def from_job(cls, job: Job) -> ExportRequest:
        values = dict(job.options)
        columns = values.pop("columns", ())
        ids = values.pop("ids", ())
        return cls(
            **values,
            columns=None if columns is None else tuple(columns),
            ids=tuple(int(i) for i in ids),
        )


@dataclass(frozen=True)
class ExportPlan:
    scope: Scope
    entity: Entity
    columns: tuple[Column, ...]
    roster_filter: RosterFilter


ROW_COUNTS = {
    Entity.STUDENTS: students.count_rows,
    Entity.EDUCATORS: educators.count_rows,
    Entity.CLASSES: classes.count_rows,
}


def submit_export(
    session: Session, request: ExportRequest, *, pdf_max_rows: int = PDF_MAX_ROWS
) -> Job:
    """Check the request and record a queued job (the caller commits, then enqueues). A
    PDF's rows are counted here, so one over `pdf_max_rows` is refused before any job."""
    if request.format == ONEROSTER:
        return create_job(
            session,
            kind=JobKind.EXPORT,
            entity=ONEROSTER,
            scope=plan_oneroster(session, request),
            options=request.options(),
        )
    plan = plan_export(session, request)
    if request.format == PDF.name:
        rows = ROW_COUNTS[plan.entity](session, plan.scope, plan.roster_filter)
        check_row_cap(rows, request.format, pdf_max_rows=pdf_max_rows)
    return create_job(
        session,
        kind=JobKind.EXPORT,
        entity=plan.entity.value,
        scope=plan.scope,
        options=request.options(),
    )


def check_row_cap(rows: int, format_name: str, *, pdf_max_rows: int) -> None:
    """Refuse a PDF of more than `pdf_max_rows` rows (`ROSTERJOBS_PDF_MAX_ROWS`): it is laid
    out whole in memory, and nobody prints more. Checked at submission and by the worker."""
    if format_name == PDF.name and rows > pdf_max_rows:
        raise RequestRefused(
            f"A PDF roster holds at most {pdf_max_rows:,} rows and this export has {rows:,}; "
            "narrow it with a filter (grade, school, class/group, search) or export a CSV.",
            field="format",
        )


def plan_export(session: Session, request: ExportRequest) -> ExportPlan:
    check_text(request)
    scope = resolve_scope(session, request.district, request.username)
    entity = _entity(request.entity)
    if entity is Entity.EDUCATORS and scope.role is Role.TEACHER:
        raise RequestRefused("Teachers cannot export educators; ask an administrator.")
    if request.format not in TABLES:
        known = ", ".join(sorted({*TABLES, ONEROSTER}))
        raise RequestRefused(
            f"There is no export format {request.format!r}; choose {known}.", field="format"
        )
    purchased = districts.purchased_products(session, scope.district_id)
    try:
        columns = select_columns(entity, request.columns, purchased)
    except UnknownColumns as err:
        raise RequestRefused(str(err), field="columns") from err
    roster_filter = _roster_filter(session, request, entity, scope, purchased)
    return ExportPlan(scope, entity, columns, roster_filter)


def plan_oneroster(session: Session, request: ExportRequest) -> Scope:
    """A OneRoster export (`jobs.oneroster_out`) holds every entity of the requester's
    scope: it names no entity, columns, filters or ids, and teachers, who cannot export
    educators, cannot ask for it."""
    check_text(request)
    scope = resolve_scope(session, request.district, request.username)
    if scope.role is Role.TEACHER:
        raise RequestRefused("Teachers cannot export OneRoster files; ask an administrator.")
    if request.entity.strip().lower() not in ("", ONEROSTER):
        message = "A OneRoster export holds every entity; leave the entity out."
        raise RequestRefused(message, field="entity")
    narrowed = (request.grade, request.school, request.class_group, request.product)
    if request.columns or request.ids or request.search or any(v is not None for v in narrowed):
        message = "A OneRoster export takes no columns, filters or ids: it holds your whole scope."
        raise RequestRefused(message, field="format")
    return scope


def resolve_scope(session: Session, district_ref: str, username: str) -> Scope:
    """The requesting educator's scope; the same refusal whether the district or the
    educator is unknown, so a request cannot probe which districts exist."""
    _refuse_unstorable("district", district_ref)
    _refuse_unstorable("username", username)
    district = districts.find_district(session, district_ref)
    educator = educators.find_educator(session, district.id, username) if district else None
    if educator is None:
        raise RequestRefused(f"No educator {username!r} in district {district_ref!r}.")
    return educators.scope_of(session, educator)


def _entity(name: str) -> Entity:
    try:
        return Entity(name.strip().lower())
    except ValueError as err:
        valid = ", ".join(entity.value for entity in Entity)
        message = f"Unknown entity {name!r}; choose one of: {valid}."
        raise RequestRefused(message, field="entity") from err


def _roster_filter(
    session: Session,
    request: ExportRequest,
    entity: Entity,
    scope: Scope,
    purchased: tuple[Product, ...],
) -> RosterFilter:
    _check_filters_apply(request, entity)
    return RosterFilter(
        grade=_grade(request.grade),
        school_id=_school_id(session, scope, request.school),
        class_id=_class_id(session, scope, request.class_group),
        product=_product(request.product, purchased),
        search=(request.search or "").strip() or None,
        ids=request.ids,
        include_inactive=request.include_inactive,
    )


def _check_filters_apply(request: ExportRequest, entity: Entity) -> None:
    if request.grade is not None and entity is not Entity.STUDENTS:
        message = f"The grade filter applies to students, not {entity.value}."
        raise RequestRefused(message, field="filters.grade")
    if request.product is not None and entity is Entity.EDUCATORS:
        message = "The product filter applies to students and classes/groups."
        raise RequestRefused(message, field="filters.product")


def _grade(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return GradeCodec().from_cell(value)
    except CellError as err:
        raise RequestRefused(f"Grade filter: {err.message}", field="filters.grade") from err


def _school_id(session: Session, scope: Scope, name: str | None) -> int | None:
    """A school filter: it must exist, and be one of a school admin's or teacher's schools."""
    if name is None:
        return None
    school = districts.find_school(session, scope.district_id, name)
    if school is None:
        message = f"No school named {name!r} in this district."
        raise RequestRefused(message, field="filters.school")
    if scope.role is not Role.DISTRICT_ADMIN and school.id not in scope.school_ids:
        raise RequestRefused(f"The school {school.name!r} is outside your schools.")
    return school.id


def _class_id(session: Session, scope: Scope, name: str | None) -> int | None:
    """A class/group filter: it must exist, and be within the requester's reach."""
    if name is None:
        return None
    found = classes.find_class(session, scope.district_id, name)
    if found is None:
        message = f"No class/group named {name!r} in this district."
        raise RequestRefused(message, field="filters.class_group")
    if not _reaches_class(session, scope, found.id, found.school_id):
        raise RequestRefused(f"The class/group {found.name!r} is outside your reach.")
    return found.id


def _reaches_class(session: Session, scope: Scope, class_id: int, school_id: int) -> bool:
    if scope.role is Role.DISTRICT_ADMIN:
        return True
    if scope.role is Role.SCHOOL_ADMIN:
        return school_id in scope.school_ids
    return class_id in references.taught_class_ids(session, scope.educator_id)


def _product(name: str | None, purchased: tuple[Product, ...]) -> Product | None:
    if name is None:
        return None
    wanted = name.strip().lower()
    for product in purchased:
        if wanted in (product.value.lower(), product.code):
            return product
    names = ", ".join(product.value for product in purchased) or "none"
    message = f"The district has no product {name!r}; it has: {names}."
    raise RequestRefused(message, field="filters.product")


@dataclass(frozen=True)
class ImportRequest:
    """An uploaded file to import as `entity` on behalf of `username`."""

    district: str
    username: str
    entity: str
    dry_run: bool = False
    filename: str = "import.csv"
    format: str | None = None
    """The format the requester says the file is (a reader's name); None: recognised."""

    def options(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_job(cls, job: Job) -> ImportRequest:
        return cls(**job.options)


@dataclass(frozen=True)
class ImportTarget:
    """Who imports what, before the file's header is known."""

    scope: Scope
    entity: Entity
    purchased: tuple[Product, ...]

    def plan(self, session: Session, job: Job, header: Header) -> ImportPlan:
        columns: dict[str, Column] = {}
        for _, column in header.columns:
            columns.setdefault(column.attr, column)
        taught = (
            references.taught_class_ids(session, self.scope.educator_id)
            if self.scope.role is Role.TEACHER
            else frozenset()
        )
        return ImportPlan(
            job_id=job.id,
            scope=self.scope,
            spec=SPECS[self.entity],
            header=header,
            columns=columns,
            purchased=self.purchased,
            dry_run=job.dry_run,
            taught_class_ids=taught,
        )


def plan_import(session: Session, request: ImportRequest) -> ImportTarget:
    check_text(request)
    scope = resolve_scope(session, request.district, request.username)
    entity = _entity(request.entity)
    if entity is Entity.EDUCATORS and scope.role is Role.TEACHER:
        raise RequestRefused("Teachers cannot import educators; ask an administrator.")
    readers = sorted(reader.name for reader in READERS)
    if request.format is not None and request.format not in readers:
        raise RequestRefused(
            f"There is no import format {request.format!r}; choose {', '.join(readers)}, or "
            "leave it out to have the file recognised.",
            field="format",
        )
    return ImportTarget(scope, entity, districts.purchased_products(session, scope.district_id))


def plan_oneroster_import(session: Session, request: ImportRequest) -> Scope:
    """A OneRoster import (`jobs.oneroster_in`) touches every entity: administrators only,
    as for the export."""
    check_text(request)
    scope = resolve_scope(session, request.district, request.username)
    if scope.role is Role.TEACHER:
        raise RequestRefused("Teachers cannot import OneRoster files; ask an administrator.")
    if request.format not in (None, ONEROSTER):
        message = "A OneRoster import is a OneRoster zip; leave the format out."
        raise RequestRefused(message, field="format")
    return scope


def submit_import(session: Session, request: ImportRequest) -> Job:
    """Check the request and record a job awaiting its upload; its input key is set."""
    oneroster = request.entity.strip().lower() == ONEROSTER
    if oneroster:
        scope, entity = plan_oneroster_import(session, request), ONEROSTER
    else:
        target = plan_import(session, request)
        scope, entity = target.scope, target.entity.value
    job = create_job(
        session,
        kind=JobKind.IMPORT,
        entity=entity,
        scope=scope,
        options=request.options(),
        dry_run=request.dry_run,
        status=JobStatus.AWAITING_UPLOAD,
    )
    job.input_key = import_key(job.district_id, job.id, request.filename)
    return job


def import_key(district_id: int, job_id: str, filename: str) -> str:
    """Where an import's upload lands: the job's random id makes the key unguessable."""
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in filename)[-100:]
    return f"imports/{district_id}/{job_id}/upload-{name.lstrip('.') or 'file.csv'}"


# Text that no database or UTF-8 file can hold

_UNPAIRED_SURROGATE = re.compile(r"[\ud800-\udfff]")
NOT_UTF8 = "is not UTF-8 text (it holds an unpaired surrogate)"

# A request's text fields: what a person calls each one, and its field in the API's body
# (a field missing here is called by its attribute's name).
_TEXT_FIELDS = {
    "district": ("The district", "district"),
    "username": ("The username", "username"),
    "entity": ("The entity", "entity"),
    "columns": ("A column name", "columns"),
    "grade": ("The grade filter", "filters.grade"),
    "school": ("The school filter", "filters.school"),
    "class_group": ("The class/group filter", "filters.class_group"),
    "product": ("The product filter", "filters.product"),
    "search": ("The search filter", "filters.search"),
    "filename": ("The file name", "filename"),
}


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored nor written back as UTF-8, or None when it can.

    An unpaired surrogate is what Python makes of bytes that are not UTF-8 (a command-line
    argument, decoded with surrogateescape) or of a JSON escape such as `"\\ud800"`; a pair
    of escapes becomes one character, so any surrogate left in a `str` is unpaired. Neither
    the database nor any UTF-8 writer (the job record, a log line, an answer) accepts it.
    """
    if "\x00" in value:
        return "holds a NUL character, which cannot be stored"
    if _UNPAIRED_SURROGATE.search(value):
        return NOT_UTF8
    return None


def check_text(request: ExportRequest | ImportRequest) -> None:
    """Refuse a request whose text could not be stored, naming the field (RequestRefused).

    Checked before any query, so such text never reaches the database: the CLI and the
    worker come this way, and the API's body models apply `text_problem` themselves.
    """
    for name, value in _text_values(request):
        _refuse_unstorable(name, value)


def _refuse_unstorable(name: str, value: str) -> None:
    problem = text_problem(value)
    if problem is not None:
        label, field = _TEXT_FIELDS.get(name, (f"The {name.replace('_', ' ')}", name))
        raise RequestRefused(f"{label} {problem}.", field=field)


def _text_values(request: ExportRequest | ImportRequest) -> Iterator[tuple[str, str]]:
    for spec in fields(request):
        value = getattr(request, spec.name)
        values = value if isinstance(value, tuple) else (value,)
        yield from ((spec.name, text) for text in values if isinstance(text, str))
