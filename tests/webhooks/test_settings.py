"""The webhook settings are checked when a process starts: a malformed secret or an http://
URL to another machine stops it with one sentence, which never shows the secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.webhooks.receiver import PREVIOUS_SECRET, SECRET
from worker.settings import Settings, SettingsError


def settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"ROSTERJOBS_SECRET_KEY": "k", **env}, cwd=tmp_path)


def test_without_a_webhook_url_nobody_is_notified(tmp_path: Path) -> None:
    assert settings(tmp_path).webhook is None


def test_a_webhook_url_with_its_secret_is_a_target_with_a_ten_second_timeout(
    tmp_path: Path,
) -> None:
    # when
    target = settings(
        tmp_path,
        ROSTERJOBS_WEBHOOK_URL="https://portal.example.org/hooks",
        ROSTERJOBS_WEBHOOK_SECRET=SECRET,
    ).webhook

    # then
    assert target is not None
    assert (target.url, target.secrets, target.timeout_s) == (
        "https://portal.example.org/hooks",
        (SECRET,),
        10.0,
    )
    assert target.retry_schedule_s == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert SECRET not in repr(target) and SECRET not in repr(settings(tmp_path))


def test_during_a_rotation_both_secrets_sign_the_new_one_first(tmp_path: Path) -> None:
    target = settings(
        tmp_path,
        ROSTERJOBS_WEBHOOK_URL="https://portal.example.org/hooks",
        ROSTERJOBS_WEBHOOK_SECRET=SECRET,
        ROSTERJOBS_WEBHOOK_PREVIOUS_SECRET=PREVIOUS_SECRET,
    ).webhook
    assert target is not None and target.secrets == (SECRET, PREVIOUS_SECRET)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ROSTERJOBS_WEBHOOK_SECRET", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),  # no whsec_
        ("ROSTERJOBS_WEBHOOK_SECRET", "whsec_not base64 at all!"),
        ("ROSTERJOBS_WEBHOOK_SECRET", "whsec_c2hvcnQ="),  # 5 bytes
        ("ROSTERJOBS_WEBHOOK_PREVIOUS_SECRET", "whsec_"),
    ],
)
def test_a_malformed_secret_is_refused_in_one_sentence_that_does_not_show_it(
    tmp_path: Path, name: str, value: str
) -> None:
    env = {
        "ROSTERJOBS_WEBHOOK_URL": "https://portal.example.org/hooks",
        "ROSTERJOBS_WEBHOOK_SECRET": SECRET,
    }
    with pytest.raises(SettingsError) as refused:
        settings(tmp_path, **(env | {name: value}))
    message = str(refused.value)
    assert message == f"{name} must be whsec_ followed by the base64 of 24 to 64 random bytes"
    assert value.removeprefix("whsec_") not in message or value == "whsec_"


def test_a_webhook_url_without_its_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^ROSTERJOBS_WEBHOOK_SECRET must be set when"):
        settings(tmp_path, ROSTERJOBS_WEBHOOK_URL="https://portal.example.org/hooks")


@pytest.mark.parametrize(
    "url",
    [
        "http://portal.example.org/hooks",
        "http://10.0.0.5:8080/hooks",
        "ftp://127.0.0.1/x",
        "http://127.0.0.1:port/hooks",
        "portal",
    ],
)
def test_a_webhook_url_that_is_not_https_to_another_machine_is_refused(
    tmp_path: Path, url: str
) -> None:
    with pytest.raises(SettingsError, match=r"^ROSTERJOBS_WEBHOOK_URL must "):
        settings(tmp_path, ROSTERJOBS_WEBHOOK_URL=url, ROSTERJOBS_WEBHOOK_SECRET=SECRET)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9000/hooks", "http://localhost/hooks", "http://[::1]:9000/"]
)
def test_plain_http_is_allowed_to_this_machine(tmp_path: Path, url: str) -> None:
    target = settings(tmp_path, ROSTERJOBS_WEBHOOK_URL=url, ROSTERJOBS_WEBHOOK_SECRET=SECRET)
    assert target.webhook is not None and target.webhook.url == url


def test_the_timeout_and_the_retry_schedule_can_be_set(tmp_path: Path) -> None:
    target = settings(
        tmp_path,
        ROSTERJOBS_WEBHOOK_URL="https://portal.example.org/hooks",
        ROSTERJOBS_WEBHOOK_SECRET=SECRET,
        ROSTERJOBS_WEBHOOK_TIMEOUT_SECONDS="2.5",
        ROSTERJOBS_WEBHOOK_RETRY_SECONDS="1,60",
    ).webhook
    assert target is not None and (target.timeout_s, target.retry_schedule_s) == (2.5, (1, 60))
    with pytest.raises(SettingsError, match="seconds separated by commas"):
        settings(
            tmp_path,
            ROSTERJOBS_WEBHOOK_URL="https://portal.example.org/hooks",
            ROSTERJOBS_WEBHOOK_SECRET=SECRET,
            ROSTERJOBS_WEBHOOK_RETRY_SECONDS="5 min",
        )
