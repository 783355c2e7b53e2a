"""Object keys are unguessable: job ids are random UUID4s and every key holds its job's id;
an upload target accepts only its own key."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from jobs.import_report import report_keys
from storage.objects import ObjectStore
from tests.factories import SmallDistrict
from tests.security.walk import admin, exported, imported, student_file


def test_job_ids_are_random_uuid4s_and_every_key_holds_its_jobs_id(
    client: TestClient, roster: SmallDistrict
) -> None:
    # when
    export, _ = exported(client, admin(roster), {"entity": "students"})
    job = imported(client, admin(roster), "students", student_file([",A,B,ab1,,1,3,X"]))
    ids = [export["id"], job["id"]]
    # then
    for job_id in ids:
        parsed = uuid.UUID(job_id)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
    assert len(set(ids)) == 2
    result, errors = report_keys(roster.district.id, job["id"])
    assert job["id"] in result and job["id"] in errors
    for link in (export["result_url"], job["result_url"], job["error_report_url"]):
        assert any(job_id in link for job_id in ids)


def test_a_signed_upload_for_one_import_cannot_write_another_imports_key(
    client: TestClient, roster: SmallDistrict, store: ObjectStore
) -> None:
    # given two imports awaiting their files
    x, y = (
        client.post("/v1/imports", json={"entity": "students"}, headers=admin(roster)).json()
        for _ in range(2)
    )
    # when x's signed PUT is pointed at y
    sent = client.put(x["upload"]["url"].replace(x["id"], y["id"]), content=student_file([]))
    # then
    assert sent.status_code == 403
    y_now = client.get(f"/v1/jobs/{y['id']}", headers=admin(roster)).json()
    assert y_now["status"] == "awaiting_upload"
    assert not any(y["id"] in str(path) for path in store.root.rglob("*"))  # type: ignore[attr-defined]
