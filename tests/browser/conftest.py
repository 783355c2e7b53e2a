"""The production shape on one machine, for the dashboard in a real browser: Postgres,
Redis, `rosterjobs api` and one `rosterjobs worker` process (one thread, so a second job
waits in the queue while the first runs), and Debian's Chromium driven by Playwright.

Chromium is installed by `scripts/services.sh` (`make test` runs it first); a missing
browser is a failure, never a skip, like a missing Postgres or Redis.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.processes import (
    REDIS_URL,
    Portal,
    api_process,
    run_cli,
    service_env,
    worker_process,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OPS_TOKEN = "ops-token-for-the-browser-test-0123456789"
STUDENTS = 30_000
"""With 5 rows a batch, an export of this many students runs for several seconds on
Postgres: long enough to watch its progress bar move (at the default 1,000 rows a batch,
or even 50, it is over in about a second)."""


@dataclass(frozen=True)
class Stack:
    base: str
    portal: Portal
    admin: str
    database_url: str
    namespace: str


@pytest.fixture
def stack(postgres_url: str, redis_namespace: str, tmp_path: Path) -> Iterator[Stack]:
    env = service_env(
        postgres_url,
        str(tmp_path / "objects"),
        ROSTERJOBS_BROKER_URL=REDIS_URL,
        ROSTERJOBS_QUEUE_NAMESPACE=redis_namespace,
        ROSTERJOBS_OPS_TOKEN=OPS_TOKEN,
        ROSTERJOBS_BATCH_ROWS="5",
        ROSTERJOBS_EXPORT_PROGRESS_SECONDS="0",
        ROSTERJOBS_HEARTBEAT_SECONDS="1",
    )
    seeded = run_cli(
        env, "seed", "--district", "Lakeside", "--students", str(STUDENTS), "--json", cwd=tmp_path
    )
    assert seeded.returncode == 0, seeded.stderr
    admin = json.loads(seeded.stdout)["district_admin"]
    issued = run_cli(env, "token", "--district", "Lakeside", "--as", admin, cwd=tmp_path)
    assert issued.returncode == 0, issued.stderr
    with (
        api_process(env, tmp_path, ready="/ops/login") as base,
        worker_process(env, tmp_path, processes=1, threads=1),
    ):
        portal = Portal(base, issued.stdout.strip())
        yield Stack(base, portal, admin, postgres_url, redis_namespace)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/services.sh (make test does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
