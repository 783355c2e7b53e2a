"""Fixtures of the dashboard's page tests: the API's fixtures (real SQLite and Postgres,
folder storage, the in-process broker and its worker thread) with an ops token set, and a
client signed in through the login form."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api import create_app
from tests.api.conftest import api_broker, other_roster, roster, runtime, store
from tests.api.helpers import api_settings_for
from tests.ops_pages.helpers import OPS_TOKEN, sign_in
from worker.runtime import Runtime
from worker.settings import Settings

__all__ = ["api_broker", "other_roster", "roster", "runtime", "store"]


@pytest.fixture
def api_settings(database_url: str, tmp_path: Path) -> Settings:
    return api_settings_for(database_url, tmp_path, ops_token=OPS_TOKEN)


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    """Not signed in."""
    with TestClient(create_app(runtime)) as client:
        yield client


@pytest.fixture
def ops(client: TestClient) -> TestClient:
    """Signed in through the login form: the session cookie is in the client's jar."""
    sign_in(client)
    return client
