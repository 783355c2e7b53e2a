"""Guessing the operations token: five wrong tries a minute per address, then 429 until the
window passes; another address is not held back; a token too short to resist guessing is
refused when the service starts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import create_app
from tests.ops_pages.helpers import OPS_TOKEN, sign_in
from tests.processes import run_cli, service_env
from worker.runtime import Runtime
from worker.settings import Settings, SettingsError

WRONG = "not-the-ops-token-but-long-enough-0123456789"
ELSEWHERE = ("203.0.113.7", 50000)


@pytest.fixture
def app(runtime: Runtime) -> FastAPI:
    return create_app(runtime)


@pytest.fixture
def guesser(app: FastAPI) -> Iterator[TestClient]:
    """A browser at one address."""
    with TestClient(app) as guesser:
        yield guesser


@pytest.fixture
def colleague(app: FastAPI) -> Iterator[TestClient]:
    """A browser at another address, talking to the same API process."""
    with TestClient(app, client=ELSEWHERE) as colleague:
        yield colleague


def test_the_sixth_wrong_token_within_a_minute_gets_429_at_the_login_form(
    guesser: TestClient,
) -> None:
    # given five wrong tokens, each refused as such
    first_five = [sign_in(guesser, WRONG).status_code for _ in range(5)]

    # when
    sixth = sign_in(guesser, WRONG)

    # then
    assert first_five == [401] * 5
    assert sixth.status_code == 429
    assert 1 <= int(sixth.headers["retry-after"]) <= 60
    assert "Too many wrong operations tokens came from your address" in sixth.text
    assert "set-cookie" not in sixth.headers


def test_while_refused_even_the_right_token_from_that_address_waits(
    guesser: TestClient,
) -> None:
    # given
    for _ in range(5):
        sign_in(guesser, WRONG)

    # when
    response = sign_in(guesser, OPS_TOKEN)

    # then
    assert response.status_code == 429
    assert guesser.get("/ops", follow_redirects=False).status_code == 303


def test_the_right_token_from_another_address_still_signs_in(
    guesser: TestClient, colleague: TestClient
) -> None:
    # given one address held back
    for _ in range(6):
        sign_in(guesser, WRONG)

    # when
    response = sign_in(colleague, OPS_TOKEN)

    # then
    assert response.status_code == 303
    assert colleague.get("/ops", follow_redirects=False).status_code == 200


def test_right_tokens_do_not_count_as_guesses(guesser: TestClient) -> None:
    # given an operator who signs in many times
    for _ in range(10):
        assert sign_in(guesser, OPS_TOKEN).status_code == 303

    # when they then mistype the token four times
    answers = [sign_in(guesser, WRONG).status_code for _ in range(4)]

    # then each is an ordinary refusal
    assert answers == [401] * 4


def test_wrong_bearer_tokens_on_the_dashboard_count_as_guesses_too(
    guesser: TestClient, colleague: TestClient
) -> None:
    # given
    wrong = {"Authorization": f"Bearer {WRONG}"}
    first_five = [guesser.get("/ops", headers=wrong).status_code for _ in range(5)]

    # when
    sixth = guesser.get("/ops", headers=wrong)
    right_elsewhere = colleague.get("/ops", headers={"Authorization": f"Bearer {OPS_TOKEN}"})

    # then
    assert first_five == [401] * 5
    assert sixth.status_code == 429
    assert sixth.headers["retry-after"].isdigit()
    assert right_elsewhere.status_code == 200


def test_a_short_ops_token_stops_the_api_at_start_with_one_sentence(
    sqlite_url: str, tmp_path: Path
) -> None:
    # given a token of 31 characters, one short of the minimum
    env = service_env(sqlite_url, str(tmp_path / "objects"), ROSTERJOBS_OPS_TOKEN="x" * 31)

    # when
    done = run_cli(env, "api", "--port", "1", cwd=tmp_path, timeout=60)

    # then it never serves, and says why in one line
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "rosterjobs: ROSTERJOBS_OPS_TOKEN must be at least 32 characters long"
    ]


def test_an_ops_token_of_32_characters_is_accepted(tmp_path: Path) -> None:
    # given
    env = {"ROSTERJOBS_SECRET_KEY": "a-secret", "ROSTERJOBS_OPS_TOKEN": "t" * 32}

    # when
    settings = Settings.from_env(env, cwd=tmp_path)

    # then
    assert settings.ops_token == "t" * 32


def test_an_ops_token_of_31_characters_is_refused_in_one_sentence(tmp_path: Path) -> None:
    # given
    env = {"ROSTERJOBS_SECRET_KEY": "a-secret", "ROSTERJOBS_OPS_TOKEN": "t" * 31}

    # when
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env, cwd=tmp_path)

    # then
    assert str(refused.value) == "ROSTERJOBS_OPS_TOKEN must be at least 32 characters long"
