"""SQLAlchemy 2.0 models of the roster and of job records.

Every roster table carries `district_id`: a district is the tenant, and every query is scoped
to one. Student product access and settings are plain columns of `students` (see
`schemas.products`), so an export reads one row per student plus two aggregated lists.
Usernames are unique per district case-insensitively through `username_key` (lower-cased).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
    }


def active_column() -> Any:
    """A record's active flag: a deactivated student, educator or class leaves exports
    (unless asked for) but keeps its usernames and IDs reserved and its history."""
    return mapped_column(Boolean, default=True, server_default=true())


def sourced_id_index(table: str) -> Index:
    """The OneRoster sourcedId an SIS gave the record is unique in its district where set
    (NULLs never collide, on either database)."""
    return Index(f"uq_{table}_district_sourced_id", "district_id", "sourced_id", unique=True)


class District(Base):
    __tablename__ = "districts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sourced_id: Mapped[str | None] = mapped_column(String(255))


class PurchasedProduct(Base):
    __tablename__ = "purchased_products"

    district_id: Mapped[int] = mapped_column(
        ForeignKey("districts.id", ondelete="CASCADE"), primary_key=True
    )
    product: Mapped[str] = mapped_column(String(20), primary_key=True)


class School(Base):
    __tablename__ = "schools"
    __table_args__ = (UniqueConstraint("district_id", "name"), sourced_id_index("schools"))

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    sourced_id: Mapped[str | None] = mapped_column(String(255))


class Educator(Base):
    __tablename__ = "educators"
    __table_args__ = (
        UniqueConstraint("district_id", "username_key"),
        sourced_id_index("educators"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id", ondelete="CASCADE"))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    username: Mapped[str] = mapped_column(String(254))
    username_key: Mapped[str] = mapped_column(String(254))
    educator_type: Mapped[str] = mapped_column(String(10))
    external_id: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = active_column()
    sourced_id: Mapped[str | None] = mapped_column(String(255))


class EducatorSchool(Base):
    __tablename__ = "educator_schools"

    educator_id: Mapped[int] = mapped_column(
        ForeignKey("educators.id", ondelete="CASCADE"), primary_key=True
    )
    school_id: Mapped[int] = mapped_column(
        ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ClassGroup(Base):
    __tablename__ = "classes"
    __table_args__ = (UniqueConstraint("district_id", "name_key"), sourced_id_index("classes"))

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id", ondelete="CASCADE"))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))
    external_id: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = active_column()
    sourced_id: Mapped[str | None] = mapped_column(String(255))


class ClassEducator(Base):
    __tablename__ = "class_educators"

    class_id: Mapped[int] = mapped_column(
        ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True
    )
    educator_id: Mapped[int] = mapped_column(
        ForeignKey("educators.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ClassProduct(Base):
    __tablename__ = "class_products"

    class_id: Mapped[int] = mapped_column(
        ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True
    )
    product: Mapped[str] = mapped_column(String(20), primary_key=True)


class Student(Base):
    __tablename__ = "students"
    __table_args__ = (
        UniqueConstraint("district_id", "username_key"),
        UniqueConstraint("district_id", "external_id"),
        Index("ix_students_district_grade", "district_id", "grade"),
        sourced_id_index("students"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id", ondelete="CASCADE"))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    username: Mapped[str] = mapped_column(String(100))
    username_key: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    external_id: Mapped[str] = mapped_column(String(64))
    grade: Mapped[str] = mapped_column(String(2))
    active: Mapped[bool] = active_column()
    sourced_id: Mapped[str | None] = mapped_column(String(255))
    # demographics
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(1))
    race: Mapped[str | None] = mapped_column(String(100))
    hispanic_or_latino: Mapped[bool | None] = mapped_column(Boolean)
    english_learner: Mapped[bool | None] = mapped_column(Boolean)
    special_education: Mapped[bool | None] = mapped_column(Boolean)
    economically_disadvantaged: Mapped[bool | None] = mapped_column(Boolean)
    home_language: Mapped[str | None] = mapped_column(String(100))
    # test settings
    test_text_to_speech: Mapped[bool | None] = mapped_column(Boolean)
    test_extended_time: Mapped[bool | None] = mapped_column(Boolean)
    # product access (schemas.products.Product.access_attr)
    access_ill: Mapped[bool] = mapped_column(Boolean, default=False)
    access_espanol: Mapped[bool] = mapped_column(Boolean, default=False)
    access_reading: Mapped[bool] = mapped_column(Boolean, default=False)
    access_lectura: Mapped[bool] = mapped_column(Boolean, default=False)
    access_galileo: Mapped[bool] = mapped_column(Boolean, default=False)
    access_mypath: Mapped[bool] = mapped_column(Boolean, default=False)
    access_science: Mapped[bool] = mapped_column(Boolean, default=False)
    access_purpose: Mapped[bool] = mapped_column(Boolean, default=False)
    # product settings (schemas.products.PRODUCT_SETTINGS)
    session_time: Mapped[int | None] = mapped_column(SmallInteger)
    ill_language_support: Mapped[str | None] = mapped_column(String(40))
    espanol_language_support: Mapped[str | None] = mapped_column(String(40))
    reading_audio_support: Mapped[bool | None] = mapped_column(Boolean)
    lectura_audio_support: Mapped[bool | None] = mapped_column(Boolean)
    mypath_language: Mapped[str | None] = mapped_column(String(40))
    science_language: Mapped[str | None] = mapped_column(String(40))
    purpose_language: Mapped[str | None] = mapped_column(String(40))


class StudentSchool(Base):
    __tablename__ = "student_schools"

    student_id: Mapped[int] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), primary_key=True
    )
    school_id: Mapped[int] = mapped_column(
        ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ClassStudent(Base):
    __tablename__ = "class_students"

    class_id: Mapped[int] = mapped_column(
        ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True
    )
    student_id: Mapped[int] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), primary_key=True, index=True
    )


def new_job_id() -> str:
    """Job ids are random UUIDs: they name output objects, so they must not be guessable."""
    return str(uuid.uuid4())


class Job(Base):
    """One export or import request and everything known about its run.

    The row is the source of truth for a job: actors carry only its id. `attempts` counts
    deliveries (a SIGKILLed worker's redelivery counts too), `heartbeat_at` is refreshed
    while a worker runs it, `checkpoint` is the last input row an import committed.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_district_created", "district_id", "created_at"),
        Index("ix_jobs_status_created", "status", "created_at"),
        Index("ix_jobs_input_key", "input_key"),
        Index("ix_jobs_created_id", "created_at", "id"),
        Index("ix_jobs_source_job_id", "source_job_id"),
        Index("ix_jobs_history_kept", "kind", "history_pruned_at", "finished_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_job_id)
    kind: Mapped[str] = mapped_column(String(10))
    entity: Mapped[str] = mapped_column(String(20))
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id", ondelete="CASCADE"))
    requested_by_id: Mapped[int] = mapped_column(Integer)
    requested_by: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(30))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    total: Mapped[int | None] = mapped_column(Integer)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    counts_by_file: Mapped[dict[str, Any] | None] = mapped_column()
    """A OneRoster import's counts file by file ({"users": {"created": 3, …}, …})."""
    warnings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    input_key: Mapped[str | None] = mapped_column(String(500))
    result_key: Mapped[str | None] = mapped_column(String(500))
    error_report_key: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    checkpoint: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[dt.datetime | None] = mapped_column()
    started_at: Mapped[dt.datetime | None] = mapped_column()
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column()
    finished_at: Mapped[dt.datetime | None] = mapped_column()
    # verify, commit, revert (`jobs.follow_ups`)
    source_job_id: Mapped[str | None] = mapped_column(String(36))
    """The dry run a commit applies, or the import a revert undoes."""
    committed_by_job_id: Mapped[str | None] = mapped_column(String(36))
    """A dry run: the import that applies it (`POST /v1/imports/{id}/commit`)."""
    reverted_by_job_id: Mapped[str | None] = mapped_column(String(36))
    """An import: the (real) revert that undoes it."""
    history_pruned_at: Mapped[dt.datetime | None] = mapped_column()
    """When the reaper pruned the import's row results and change history."""


class ImportRowResult(Base):
    """What an import did with one input row; written in the same transaction as the row's
    changes and the job's checkpoint, so a resumed import knows exactly where it was.

    `claimed_name` (a username or class name, case-folded) and `claimed_external_id` are the
    unique keys a valid row takes, so later rows of the same file are checked against them
    (dry runs included).
    """

    __tablename__ = "import_row_results"
    __table_args__ = (
        Index("ix_import_row_results_record", "job_id", "record_id"),
        Index("ix_import_row_results_name", "job_id", "claimed_name"),
        Index("ix_import_row_results_external_id", "job_id", "claimed_external_id"),
    )

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    row_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    outcome: Mapped[str] = mapped_column(String(12))
    errors: Mapped[list[str]] = mapped_column(JSON, default=list)
    record_id: Mapped[int | None] = mapped_column(Integer)
    claimed_name: Mapped[str | None] = mapped_column(String(254))
    claimed_external_id: Mapped[str | None] = mapped_column(String(64))


class ImportChange(Base):
    """One value an import changed, kept so what an import did can be audited and undone.

    Passwords are recorded as changed (`new_value` "(changed)"), never with a value; the
    hash the import replaced and the one it wrote are kept in `old_hash` and `new_hash`,
    which nothing shows, so that a revert can put the old one back (`jobs.revert`).
    """

    __tablename__ = "import_changes"
    __table_args__ = (Index("ix_import_changes_job", "job_id", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(20))
    record_id: Mapped[int] = mapped_column(Integer)
    row_number: Mapped[int] = mapped_column(Integer)
    column: Mapped[str] = mapped_column(String(200))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    old_hash: Mapped[str | None] = mapped_column(String(200))
    new_hash: Mapped[str | None] = mapped_column(String(200))


class WorkerProcess(Base):
    """A worker process as it last reported itself (see `worker.heartbeat`).

    `id` is `host:pid:<8 hex digits>`, unique even when a pid is reused. `heartbeat_at` is
    refreshed every few seconds while the process lives; `stopped_at` is set when it shuts
    down cleanly, so a row with an old heartbeat and no `stopped_at` is a process that died.
    `queues` is the comma-separated names of the queues it consumes; `current_job_ids` the
    jobs it was running at its last heartbeat.
    """

    __tablename__ = "workers"
    __table_args__ = (Index("ix_workers_heartbeat_at", "heartbeat_at"),)

    id: Mapped[str] = mapped_column(String(300), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    queues: Mapped[str] = mapped_column(String(500))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    stopped_at: Mapped[dt.datetime | None] = mapped_column()
    current_job_ids: Mapped[list[str]] = mapped_column(JSON, default=list)

    @property
    def queue_names(self) -> list[str]:
        return [name for name in self.queues.split(",") if name]


class JobEvent(Base):
    """One moment of a job's life, for its timeline (see `storage.job_events`).

    `detail` is an error message or a final status, never roster content.
    """

    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    event: Mapped[str] = mapped_column(String(20))
    attempt: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(Text)


class OpsSession(Base):
    """A browser signed in to the operations dashboard (see `storage.ops_sessions`).

    `id` is the SHA-256 (hex) of the random session id its cookie carries, never the id
    itself, so a copy of the table opens no session. A session ends at `expires_at`, or when
    `revoked_at` is set (signing out, or "Sign out everyone"); the row stays until it expires.
    """

    __tablename__ = "ops_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column()


class WebhookDelivery(Base):
    """One notification of the portal (a job reached a final state), kept until it is
    delivered or given up (see `storage.webhook_deliveries`).

    Written in the same transaction as the job's final state: the outbox. `id` is the
    `webhook-id` every attempt carries, so a receiver can drop duplicates. `status` is
    `pending` until it ends `delivered`, `failed` (retries used up) or `gone` (the receiver
    answered 410). `next_attempt_at` is when a sender may take it: a sender that takes it
    moves it past its own attempt (a lease), so a sender that dies holding it only delays
    it. `step` is its place in the retry schedule (a resend starts it again).
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    step: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column()


class WebhookAttempt(Base):
    """One try at sending a delivery: when, the receiver's status code or the error (a
    timeout, a refused connection), and how long it took (see `storage.webhook_attempts`)."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
