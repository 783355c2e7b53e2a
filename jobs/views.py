"""The job object of DESIGN.md, as the CLI's `--json` and the HTTP API show it.

Links are made fresh on every read, so they always have their full lifetime. By default
they are the store's own (`download_url`: a presigned GET for S3, a `file://` URI for a
folder); the HTTP API passes `links` to hand out its signed download URLs instead.
"""

from __future__ import annotations

import datetime as dt
import posixpath
from collections.abc import Callable
from typing import Any

from storage.models import Job
from storage.objects import ObjectStore

LinkMaker = Callable[[str, str], str]
"""(object key, attachment filename) -> a download URL valid for the link lifetime."""


def job_object(
    job: Job, store: ObjectStore, *, link_ttl: int, links: LinkMaker | None = None
) -> dict[str, Any]:
    def link(key: str, filename: str) -> str:
        if links is not None:
            return links(key, filename)
        return store.download_url(key, filename=filename, ttl_seconds=link_ttl)

    return {
        "id": job.id,
        "kind": job.kind,
        "entity": job.entity,
        "district_id": job.district_id,
        "requested_by": job.requested_by,
        "status": job.status,
        "dry_run": job.dry_run,
        "format": (job.options or {}).get("format") or ("csv" if job.kind == "export" else None),
        "progress": {"total": job.total, "processed": job.processed},
        "counts": dict(job.counts or {}),
        "counts_by_file": job.counts_by_file,
        "warnings": dict(job.warnings or {}),
        "result_url": _link(link, job.result_key, output_name(job, "result")),
        "error_report_url": _link(link, job.error_report_key, output_name(job, "errors")),
        "error": job.error,
        "attempts": job.attempts,
        "source_job_id": job.source_job_id,
        "committed_by_job_id": job.committed_by_job_id,
        "reverted_by_job_id": job.reverted_by_job_id,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
    }


def output_name(job: Job, which: str) -> str:
    """The attachment filename of an output, without its extension (the object's key has
    it): `students-2026-11-28` for an export, `students-import-errors-2026-11-28` for an
    import's errors file, `students-revert-result-2026-11-28` for a revert's result file."""
    day = f"{job.created_at:%Y-%m-%d}"
    if job.kind == "export":
        return f"{job.entity}-{day}"
    if job.kind == "revert":
        return f"{job.entity}-revert-{which}-{day}"
    return f"{job.entity}-import-{which}-{day}"


def _link(link: LinkMaker, key: str | None, stem: str) -> str | None:
    """A link that downloads `key` as `stem` plus the key's extension (`.csv`, `.xlsx`)."""
    return link(key, stem + posixpath.splitext(key)[1]) if key else None


def _iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.isoformat()
