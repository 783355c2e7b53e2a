"""Commit and revert through the HTTP API: the jobs they make, and every refusal in one
sentence (403 outside the educator's reach, 404 for another district, 409 for a job that
does not allow it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import auth, edited_file, wait_until_finished
from tests.factories import SmallDistrict


def imported(
    client: TestClient, roster: SmallDistrict, *, dry_run: bool, educator: Any = None
) -> dict[str, Any]:
    """An import of the API tests' edited file (one row updated, one refused), finished."""
    headers = auth(educator or roster.district_admin)
    created = client.post(
        "/v1/imports", json={"entity": "students", "dry_run": dry_run}, headers=headers
    ).json()
    assert client.put(created["upload"]["url"], content=edited_file(roster)).status_code == 200
    return wait_until_finished(client, created["id"], headers)


def test_a_committed_dry_run_applies_the_same_upload_once_and_only_once(
    client: TestClient, roster: SmallDistrict, tmp_path: Path
) -> None:
    # given a finished dry run
    headers = auth(roster.district_admin)
    dry_run = imported(client, roster, dry_run=True)

    # when the portal commits it
    response = client.post(f"/v1/imports/{dry_run['id']}/commit", headers=headers)

    # then a real import of the same upload, naming its dry run, with the same results
    assert response.status_code == 202, response.text
    commit = wait_until_finished(client, response.json()["id"], headers)
    assert commit["source_job_id"] == dry_run["id"] and commit["dry_run"] is False
    assert (
        commit["counts"]
        == dry_run["counts"]
        == {
            "created": 0,
            "updated": 1,
            "unchanged": 0,
            "failed": 1,
        }
    )
    assert "differs_from_dry_run" not in commit["warnings"]
    uploads = list((tmp_path / "objects" / "imports").rglob("upload-*"))
    assert len(uploads) == 1
    shown = client.get(f"/v1/jobs/{dry_run['id']}", headers=headers).json()
    assert shown["committed_by_job_id"] == commit["id"]
    again = client.post(f"/v1/imports/{dry_run['id']}/commit", headers=headers)
    assert again.status_code == 409
    assert again.json() == {
        "detail": f"This dry run has already been committed, as job {commit['id']}."
    }


def test_a_commit_says_which_rows_came_out_differently_when_the_roster_changed(
    client: TestClient, roster: SmallDistrict
) -> None:
    # given a dry run, then a change to the roster that makes its refused row valid
    headers = auth(roster.district_admin)
    dry_run = imported(client, roster, dry_run=True)
    fixed = imported(client, roster, dry_run=False)
    assert fixed["counts"]["updated"] == 1

    # when
    response = client.post(f"/v1/imports/{dry_run['id']}/commit", headers=headers)
    commit = wait_until_finished(client, response.json()["id"], headers)

    # then the row the other import already applied is unchanged now, and said so
    assert commit["counts"]["unchanged"] == 1
    assert commit["warnings"]["differs_from_dry_run"].startswith(
        "1 row(s) came out differently from the dry run (rows 2)"
    )


def test_only_a_finished_dry_run_can_be_committed(
    client: TestClient, roster: SmallDistrict
) -> None:
    # given a real import, and a dry run still waiting for its upload
    headers = auth(roster.district_admin)
    real = imported(client, roster, dry_run=False)
    waiting = client.post(
        "/v1/imports", json={"entity": "students", "dry_run": True}, headers=headers
    ).json()

    # when / then
    not_dry = client.post(f"/v1/imports/{real['id']}/commit", headers=headers)
    assert not_dry.status_code == 409
    assert not_dry.json()["detail"] == "Only a dry run can be committed; this job is not one."
    unfinished = client.post(f"/v1/imports/{waiting['id']}/commit", headers=headers)
    assert unfinished.status_code == 409
    assert unfinished.json()["detail"] == (
        "Only a finished dry run can be committed; this one is awaiting_upload."
    )


def test_a_revert_through_the_api_puts_the_import_back_and_is_made_once(
    client: TestClient, roster: SmallDistrict
) -> None:
    # given a finished import, and the dry-run counts first, as the dashboard shows them
    headers = auth(roster.district_admin)
    real = imported(client, roster, dry_run=False)
    trial = client.post(f"/v1/jobs/{real['id']}/revert", json={"dry_run": True}, headers=headers)
    assert trial.status_code == 202, trial.text
    trial_job = wait_until_finished(client, trial.json()["id"], headers)
    assert trial_job["counts"] == {"reverted": 1, "conflicts": 0, "failed": 0}

    # when
    response = client.post(f"/v1/jobs/{real['id']}/revert", headers=headers)

    # then
    assert response.status_code == 202, response.text
    job = wait_until_finished(client, response.json()["id"], headers)
    assert job["kind"] == "revert" and job["source_job_id"] == real["id"]
    assert job["counts"] == {"reverted": 1, "conflicts": 0, "failed": 0}
    result = client.get(job["result_url"])
    assert result.status_code == 200
    assert b"Grade" in result.content
    listed = client.get("/v1/jobs", params={"kind": "revert"}, headers=headers).json()["jobs"]
    assert {j["id"] for j in listed} == {job["id"], trial_job["id"]}
    twice = client.post(f"/v1/jobs/{real['id']}/revert", headers=headers)
    assert twice.status_code == 409
    assert twice.json() == {"detail": f"This import has already been reverted, by job {job['id']}."}
    revert_of_revert = client.post(f"/v1/jobs/{job['id']}/revert", headers=headers)
    assert revert_of_revert.status_code == 409
    assert revert_of_revert.json() == {"detail": "A revert cannot itself be reverted."}


def test_a_dry_run_and_an_unfinished_import_cannot_be_reverted(
    client: TestClient, roster: SmallDistrict
) -> None:
    headers = auth(roster.district_admin)
    dry_run = imported(client, roster, dry_run=True)
    waiting = client.post("/v1/imports", json={"entity": "students"}, headers=headers).json()

    refused_dry = client.post(f"/v1/jobs/{dry_run['id']}/revert", headers=headers)
    refused_waiting = client.post(f"/v1/jobs/{waiting['id']}/revert", headers=headers)

    assert refused_dry.status_code == refused_waiting.status_code == 409
    assert refused_dry.json() == {
        "detail": "A dry run changed nothing, so there is nothing to revert."
    }
    assert refused_waiting.json() == {
        "detail": "Only a finished import can be reverted; this one is awaiting_upload."
    }


def test_a_teacher_cannot_revert_or_commit_an_admins_job_and_another_district_sees_none(
    client: TestClient, roster: SmallDistrict, other_roster: SmallDistrict
) -> None:
    # given an administrator's import and dry run
    real = imported(client, roster, dry_run=False)
    dry_run = imported(client, roster, dry_run=True)
    teacher, stranger = auth(roster.teacher), auth(other_roster.district_admin)

    # when / then
    for path in (f"/v1/jobs/{real['id']}/revert", f"/v1/imports/{dry_run['id']}/commit"):
        forbidden = client.post(path, headers=teacher)
        assert forbidden.status_code == 403
        assert forbidden.json() == {
            "detail": "This job was requested by an educator outside your reach."
        }
        hidden = client.post(path, headers=stranger)
        assert hidden.status_code == 404
        assert hidden.json() == {"detail": "No such job."}
