"""No page of the API loads anything from another origin: FastAPI's `/docs` and `/redoc`
(Swagger UI and ReDoc from a CDN, without a Content Security Policy) are not served, while
the OpenAPI document itself still is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from storage.db import unit_of_work
from tests.api.helpers import api_settings_for
from tests.factories import SmallDistrict
from tests.ops_pages.helpers import OPS_TOKEN, job
from worker.settings import Settings

AS_OPERATOR = {"Authorization": f"Bearer {OPS_TOKEN}", "Accept": "text/html,*/*;q=0.8"}
PAGES = ["/", "/docs", "/redoc", "/ops", "/ops/queues", "/ops/workers", "/ops/login"]
"""Every page a browser may be sent to (and the interactive docs' former addresses)."""
FOREIGN_RESOURCE = re.compile(
    r"<(?:script|link|img|iframe|source|embed|object|style)\b[^>]*"
    r"\b(?:src|href|data)\s*=\s*[\"']?\s*(?:https?:)?//",
    re.IGNORECASE,
)
"""A tag that makes the browser fetch from another origin (an absolute or `//` address)."""


@pytest.fixture
def api_settings(database_url: str, tmp_path: Path) -> Settings:
    """With the dashboard on, so its pages are among those walked."""
    return api_settings_for(database_url, tmp_path, ops_token=OPS_TOKEN)


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect"])
def test_the_interactive_api_docs_are_not_served(client: TestClient, path: str) -> None:
    # when
    response = client.get(path)

    # then
    assert response.status_code == 404


def test_the_openapi_document_is_still_served(client: TestClient) -> None:
    # when
    response = client.get("/openapi.json")

    # then
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "rosterjobs"


def test_no_page_of_the_api_loads_anything_from_another_origin(
    client: TestClient, sessions: sessionmaker[Session], roster: SmallDistrict
) -> None:
    # given every page, a job's and a missing one's included, as the operator's browser asks
    with unit_of_work(sessions) as session:
        failed = job(session, roster.district.id, status="failed", error="The file is empty.")
    paths = [*PAGES, f"/ops/jobs/{failed.id}", "/ops/no-such-page"]

    # when
    html = {}
    for path in paths:
        response = client.get(path, headers=AS_OPERATOR)
        if response.headers.get("content-type", "").startswith("text/html"):
            html[path] = response.text

    # then
    assert {"/ops", "/ops/login", f"/ops/jobs/{failed.id}"} <= html.keys()
    assert {path: FOREIGN_RESOURCE.findall(page) for path, page in html.items()} == {
        path: [] for path in html
    }
