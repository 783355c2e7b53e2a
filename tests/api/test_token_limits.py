"""How long a portal token may live: an `exp` further away than the configured maximum
(`ROSTERJOBS_MAX_TOKEN_SECONDS`, a day by default), or one that is not a whole Unix time,
is refused with 401 and one sentence."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api import create_app
from storage.objects import ObjectStore
from tests.api.helpers import SECRET, api_settings_for, auth, make_runtime
from tests.factories import SmallDistrict
from worker.settings import Settings, SettingsError


def bearer(roster: SmallDistrict, exp: Any) -> dict[str, str]:
    """A token signed with the right key, naming a real educator, with this `exp`."""
    admin = roster.district_admin
    claims = {"district": admin.district_id, "sub": admin.username, "exp": exp}
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


@pytest.fixture
def hour_limited(
    database_url: str, tmp_path: Path, engine: Engine, store: ObjectStore, api_broker: Any
) -> Iterator[TestClient]:
    """The API with `max_token_seconds` set to an hour."""
    settings = api_settings_for(database_url, tmp_path, max_token_seconds=3600)
    with TestClient(create_app(make_runtime(settings, engine, store, api_broker))) as client:
        yield client


def test_a_token_that_lives_longer_than_a_day_is_refused_by_default(
    client: TestClient, roster: SmallDistrict
) -> None:
    # given a token for a day, and one for a day and an hour
    admin = roster.district_admin

    # when
    day = client.get("/v1/jobs", headers=auth(admin, ttl=86_400))
    longer = client.get("/v1/jobs", headers=auth(admin, ttl=90_000))

    # then
    assert day.status_code == 200, day.text
    assert longer.status_code == 401
    assert longer.json()["detail"] == (
        "The token's 'exp' claim is more than 86400 seconds away; ask for a shorter-lived token."
    )
    assert 'error="invalid_token"' in longer.headers["www-authenticate"]


def test_a_token_longer_than_the_configured_maximum_is_refused(
    hour_limited: TestClient, roster: SmallDistrict
) -> None:
    # given the maximum set to an hour
    admin = roster.district_admin

    # when
    hour = hour_limited.get("/v1/jobs", headers=auth(admin, ttl=3600))
    two_hours = hour_limited.get("/v1/jobs", headers=auth(admin, ttl=7200))

    # then
    assert hour.status_code == 200, hour.text
    assert two_hours.status_code == 401
    assert "more than 3600 seconds away" in two_hours.json()["detail"]


@pytest.mark.parametrize(
    "exp",
    [1.5e9, "in-an-hour", str(int(time.time()) + 600), float(int(time.time()) + 600), True],
    ids=["float in the past", "word", "digits in a string", "float in the future", "boolean"],
)
def test_a_token_whose_exp_is_not_a_whole_unix_time_is_refused(
    client: TestClient, roster: SmallDistrict, exp: Any
) -> None:
    # when
    answer = client.get("/v1/jobs", headers=bearer(roster, exp))

    # then
    assert answer.status_code == 401
    assert answer.json()["detail"] == "The token's 'exp' claim must be a whole number of seconds."


def test_the_maximum_token_lifetime_is_read_from_the_environment(tmp_path: Path) -> None:
    # given
    base = {"ROSTERJOBS_SECRET_KEY": SECRET}

    # when
    default = Settings.from_env(base, cwd=tmp_path)
    hour = Settings.from_env(base | {"ROSTERJOBS_MAX_TOKEN_SECONDS": "3600"}, cwd=tmp_path)

    # then
    assert (default.max_token_seconds, hour.max_token_seconds) == (86_400, 3600)
    for bad in ("0", "-5", "a day"):
        with pytest.raises(SettingsError, match="ROSTERJOBS_MAX_TOKEN_SECONDS"):
            Settings.from_env(base | {"ROSTERJOBS_MAX_TOKEN_SECONDS": bad}, cwd=tmp_path)
