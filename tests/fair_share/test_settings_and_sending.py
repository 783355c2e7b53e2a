"""`ROSTERJOBS_DISTRICT_MAX_RUNNING` reaches the job context, and a deferred job's message is
sent again as a new, delayed message on its kind's queue (not as a dramatiq retry)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from sqlalchemy.orm import Session, sessionmaker

from storage.objects import FolderStore
from worker.runtime import job_context, job_sender
from worker.settings import Settings, SettingsError

SECRET = {"ROSTERJOBS_SECRET_KEY": "test-secret-key-not-for-production"}


def test_two_jobs_of_a_district_run_at_once_unless_the_setting_says_otherwise(
    tmp_path: Path,
) -> None:
    # given / when
    default = Settings.from_env(SECRET, cwd=tmp_path)
    three = Settings.from_env(SECRET | {"ROSTERJOBS_DISTRICT_MAX_RUNNING": "3"}, cwd=tmp_path)

    # then
    assert (default.district_max_running, three.district_max_running) == (2, 3)


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_a_district_limit_that_is_not_a_positive_whole_number_is_refused(
    tmp_path: Path, value: str
) -> None:
    with pytest.raises(SettingsError, match="ROSTERJOBS_DISTRICT_MAX_RUNNING"):
        Settings.from_env(SECRET | {"ROSTERJOBS_DISTRICT_MAX_RUNNING": value}, cwd=tmp_path)


def test_the_worker_job_context_carries_the_district_limit(tmp_path: Path) -> None:
    # given
    settings = Settings(district_max_running=4, secret_key="x" * 20)

    # when
    ctx = job_context(settings, sessionmaker[Session](), FolderStore(tmp_path / "objects"))

    # then
    assert ctx.district_max_running == 4


def test_a_deferred_jobs_message_comes_back_later_as_a_new_message_without_a_retry() -> None:
    # given a broker with the service's two actors
    broker = StubBroker(middleware=[])
    for kind, queue in (("export_roster", "exports"), ("import_roster", "imports")):
        dramatiq.actor(_never_run, broker=broker, actor_name=kind, queue_name=queue)

    # when an import's message is sent again after 3 s
    before_ms = int(time.time() * 1000)
    job_sender(broker)("import", "job-1", 3000)

    # then it waits in the imports queue's delay queue, as a message of its own
    delayed = list(broker.queues["imports.DQ"].queue)
    assert len(delayed) == 1
    message = dramatiq.Message.decode(delayed[0])
    assert (message.actor_name, message.args) == ("import_roster", ("job-1",))
    assert "retries" not in message.options
    assert message.options["eta"] >= before_ms + 3000


def _never_run(*args: Any) -> None:
    raise AssertionError("the tests only send messages")
