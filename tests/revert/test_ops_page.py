"""The dashboard's job page: the links between an import and its commit and revert, whether
an import can still be reverted, and the Revert action (CSRF, a dry run first, then a
confirmed real revert)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import api_settings_for, auth, wait_until_finished
from tests.factories import SmallDistrict
from tests.ops_pages.conftest import ops
from tests.ops_pages.helpers import OPS_TOKEN, csrf_of, text_of
from tests.revert.test_api import imported
from worker.settings import Settings

__all__ = ["ops"]


@pytest.fixture
def api_settings(database_url: str, tmp_path: Path) -> Settings:
    return api_settings_for(database_url, tmp_path, ops_token=OPS_TOKEN)


def _revert_from_page(ops: TestClient, page_of: str, **fields: str) -> tuple[int, str]:
    page = ops.get(f"/ops/jobs/{page_of}").text
    action = re.search(r'action="(/ops/jobs/[0-9a-f-]+/revert)"', page)
    assert action, "the page offers no revert"
    response = ops.post(
        action.group(1), data={"csrf": csrf_of(page), **fields}, follow_redirects=False
    )
    return response.status_code, response.headers.get("location", "")


def test_an_import_is_reverted_from_its_page_after_a_dry_run_and_a_confirmation(
    ops: TestClient, roster: SmallDistrict
) -> None:
    # given a finished import, whose page offers a dry run of a revert
    headers = auth(roster.district_admin)
    real = imported(ops, roster, dry_run=False)
    assert "Can still be reverted" in text_of(ops.get(f"/ops/jobs/{real['id']}").text)

    # when the operator asks for the dry run
    status, location = _revert_from_page(ops, real["id"], dry_run="1")
    trial_id = location.split("/")[-1].split("?")[0]
    trial = wait_until_finished(ops, trial_id, headers)

    # then its page shows its counts and the link to the import, and offers the real revert
    assert status == 303 and trial["dry_run"] and trial["source_job_id"] == real["id"]
    page = text_of(ops.get(f"/ops/jobs/{trial_id}").text)
    assert "Reverts" in page and "reverted 1" in page.replace("\n", " ")
    # without the confirmation box nothing happens
    status, location = _revert_from_page(ops, trial_id, dry_run="0")
    assert location.endswith("done=revert_unconfirmed")
    # with it, the import is reverted, and its page links to the revert and offers no more
    status, location = _revert_from_page(ops, trial_id, dry_run="0", confirm="yes")
    revert_id = location.split("/")[-1].split("?")[0]
    done = wait_until_finished(ops, revert_id, headers)
    assert done["counts"] == {"reverted": 1, "conflicts": 0, "failed": 0}
    page = text_of(ops.get(f"/ops/jobs/{real['id']}").text)
    assert f"Reverted by {revert_id[:8]}" in page
    assert "Cannot be reverted: This import has already been reverted" in page


def test_a_revert_without_the_csrf_token_is_refused(ops: TestClient, roster: SmallDistrict) -> None:
    real = imported(ops, roster, dry_run=False)

    response = ops.post(f"/ops/jobs/{real['id']}/revert", data={"dry_run": "1"})

    assert response.status_code == 403
    assert "Cannot be reverted" not in ops.get(f"/ops/jobs/{real['id']}").text
