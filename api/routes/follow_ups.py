"""`POST /v1/imports/{id}/commit` and `POST /v1/jobs/{id}/revert`: a new job made from a
finished one (`jobs.commit`, `jobs.revert_requests`).

Who may: whoever may see the job (404 for another district's, 403 outside the educator's
reach) and import its entity (403). A job that does not allow it now answers 409 with the
reason: not a finished dry run, already committed, not a finished import, a dry run, a
revert, already reverted, or history pruned after `ROSTERJOBS_IMPORT_HISTORY_DAYS`.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from api.auth import ScopeDep
from api.deps import RuntimeDep, SignerDep
from api.errors import refused, responses
from api.job_access import job_for
from api.models import JobOut, RevertBody
from api.queueing import send_or_fail
from api.views import fresh_view
from jobs.commit import submit_commit
from jobs.errors import JobConflict
from jobs.messages import IMPORT, REVERT
from jobs.revert_requests import submit_revert
from schemas.scope import Scope
from storage.db import unit_of_work
from storage.models import Job
from worker.runtime import Runtime

router = APIRouter(prefix="/v1", responses=responses(401, 403, 404, 409, 503))

FollowUp = Callable[[Session, Job, Scope], Job]


@router.post(
    "/imports/{job_id}/commit",
    status_code=202,
    tags=["imports"],
    summary="Apply a finished dry run's upload for real",
)
def commit_dry_run(
    job_id: str, request: Request, runtime: RuntimeDep, signer: SignerDep, scope: ScopeDep
) -> JobOut:
    """A new import of the same stored upload (nothing is uploaded again), queued at once;
    its `source_job_id` is the dry run. Where its results differ from the dry run's (the
    roster changed in between) its warnings say which rows. 409 unless the job is a dry run
    that finished (`completed` or `completed_with_errors`) and was not committed yet."""
    new_id = _follow_up(runtime, scope, job_id, submit_commit)
    send_or_fail(runtime, IMPORT.actor_name, new_id)
    return fresh_view(runtime, signer, request, new_id)


@router.post(
    "/jobs/{job_id}/revert",
    status_code=202,
    tags=["jobs"],
    summary="Revert a finished import from its change history",
    responses=responses(400),
)
def revert_import(
    job_id: str,
    *,
    request: Request,
    runtime: RuntimeDep,
    signer: SignerDep,
    scope: ScopeDep,
    body: RevertBody | None = None,
) -> JobOut:
    """A new `revert` job, queued at once: every value still as the import wrote it goes
    back, the records it created are deleted unless changed since, and the rest is reported
    per record as a conflict (counts `reverted`, `conflicts`, `failed`; `result_url` lists
    each record). With `"dry_run": true` it reports and changes nothing. An import is
    reverted at most once; 409 for a dry run, an unfinished import, a revert, or an import
    whose history was pruned."""
    dry_run = body.dry_run if body else False
    days = runtime.settings.import_history_days

    def make(session: Session, source: Job, requester: Scope) -> Job:
        return submit_revert(session, source, requester, dry_run=dry_run, history_days=days)

    new_id = _follow_up(runtime, scope, job_id, make)
    send_or_fail(runtime, REVERT.actor_name, new_id)
    return fresh_view(runtime, signer, request, new_id)


def _follow_up(runtime: Runtime, scope: Scope, job_id: str, make: FollowUp) -> str:
    with unit_of_work(runtime.jobs.sessions) as session:
        source = job_for(session, scope, job_id, lock=True)
        try:
            return make(session, source, scope).id
        except JobConflict as err:
            raise refused(409, err.message) from err
