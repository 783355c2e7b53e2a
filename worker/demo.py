"""`rosterjobs demo`: the main job on the embedded defaults, start to end.

Seeds a demo district under ./var (once), then exports its students with every column as
the district admin, through the same queue, worker and pipeline as any other export.
"""

from __future__ import annotations

from jobs.requests import ExportRequest, submit_export
from jobs.views import job_object
from storage.db import unit_of_work, upgrade
from storage.seed import seed_district
from worker.progress import wait_for_job
from worker.runtime import Runtime, embedded_worker

DEMO_DISTRICT = "Demo District"


def run_demo(rt: Runtime, *, students: int) -> int:
    upgrade(rt.engine)
    print(f"seeding {DEMO_DISTRICT!r} with {students} students (once)…", flush=True)
    summary = seed_district(rt.engine, name=DEMO_DISTRICT, students=students, random_seed=7)
    request = ExportRequest(
        district=str(summary.district_id),
        username=summary.district_admin,
        entity="students",
        columns=None,
    )
    with unit_of_work(rt.jobs.sessions) as session:
        job_id = submit_export(session, request).id
    print(f"exporting students as {summary.district_admin} (job {job_id})…", flush=True)
    rt.broker.get_actor("export_roster").send(job_id)
    if rt.settings.embedded_broker:
        with embedded_worker(rt):
            status = wait_for_job(rt.jobs, job_id)
    else:
        status = wait_for_job(rt.jobs, job_id)
    return _report(rt, job_id, status)


def _report(rt: Runtime, job_id: str, status: str) -> int:
    with rt.jobs.sessions() as session:
        from storage import job_records

        job = job_records.get(session, job_id)
        assert job is not None
        view = job_object(job, rt.jobs.store, link_ttl=rt.settings.link_ttl)
    if status != "completed":
        print(f"export {status}: {view['error']}")
        return 1
    print(f"exported {view['counts'].get('rows', 0)} students")
    print(f"students CSV: {view['result_url']}")
    return 0
