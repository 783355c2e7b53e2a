"""Fixtures of the security tests: the API tests' app, runtime and rosters (re-exported
from `tests.api.conftest`, whose fixtures are otherwise visible only under `tests/api`),
with a link lifetime that is not the default, so a link that ignored it would show.

`api_broker` is the API tests' one: dramatiq binds actors to the broker of the first start
in a process, and that one broker serves every suite.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api import create_app
from storage.db import unit_of_work
from storage.s3 import S3Store
from tests import factories
from tests.api import conftest as api_conftest
from tests.api.conftest import api_broker, client, other_roster, roster, runtime, store
from tests.api.helpers import api_settings_for, make_runtime
from tests.factories import SmallDistrict
from worker.settings import Settings

__all__ = ["api_broker", "client", "other_roster", "roster", "runtime", "store"]

LINK_TTL = 321
"""Not the default (900): a link that ignored the setting would show."""


@pytest.fixture
def api_settings(database_url: str, tmp_path: Path) -> Settings:
    return api_settings_for(database_url, tmp_path, link_ttl=LINK_TTL)


@pytest.fixture
def s3_client_app(
    api_settings: Settings, engine: Engine, s3_store: S3Store, api_broker: Any
) -> Iterator[TestClient]:
    """The API on S3 storage (moto's server over HTTP): presigned links."""
    runtime = make_runtime(api_settings, engine, s3_store, api_broker)
    with TestClient(create_app(runtime)) as s3_client_app:
        yield s3_client_app
    api_conftest.drain(api_broker)


@pytest.fixture
def riverside_only(sessions: sessionmaker[Session], roster: SmallDistrict) -> SmallDistrict:
    """District A (`roster`) with a school, a class and a student whose names exist nowhere
    else, so that finding them in district B's answers could only be a leak."""
    with unit_of_work(sessions) as session:
        school = factories.school(session, roster.district.id, "Riverside Only Academy")
        group = factories.class_group(session, school, "Riverside Only Seminar")
        factories.student(
            session,
            school,
            [group],
            first_name="Quillon",
            last_name="Riversidesecret",
            username="qriverside",
            external_id="RIV-ONLY-1",
        )
    return roster
