"""The folder store's signed links under real HTTP: two uploads at once to one link, and
the headers a roster download carries.

The overlapping uploads need a real server (uvicorn in a thread): the TestClient reads a
request body whole before the app sees any of it, so two bodies could never be in flight
at once.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest
import uvicorn
from fastapi.testclient import TestClient

from api import create_app
from storage.models import Job
from storage.objects import CSV_CONTENT_TYPE, FolderStore, ObjectStore
from tests.api.helpers import HEADER, auth, edited_file, wait_until_finished
from tests.factories import SmallDistrict
from worker.runtime import Runtime


class WatchedFolder(FolderStore):
    """The real folder store, which also tells the test when a writer holds a key."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.writing = threading.Event()

    @contextmanager
    def open_write(self, key: str, *, content_type: str = CSV_CONTENT_TYPE) -> Iterator[Any]:
        with super().open_write(key, content_type=content_type) as out:
            self.writing.set()
            yield out


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return WatchedFolder(tmp_path / "objects")


@pytest.fixture
def served(runtime: Runtime) -> Iterator[str]:
    """The app behind uvicorn on a socket bound before the server starts (no polling)."""
    listening = socket.create_server(("127.0.0.1", 0))
    config = uvicorn.Config(create_app(runtime), log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listening.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=30)
    listening.close()


def on_server(served: str, link: str) -> str:
    """The link as the API signed it, on the real server (the TestClient's host is fake)."""
    parts = urlsplit(link)
    return f"{served}{parts.path}?{parts.query}"


def stored_upload(runtime: Runtime, job_id: str) -> bytes:
    with runtime.jobs.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.input_key
    with runtime.jobs.store.open_read(job.input_key) as stored:
        return stored.read()


def test_a_second_upload_to_a_link_while_the_first_streams_is_refused_and_the_first_is_kept(
    client: TestClient,
    served: str,
    store: WatchedFolder,
    runtime: Runtime,
    roster: SmallDistrict,
) -> None:
    # given an import awaiting its file, and a first upload that has sent the start of its
    # body and sends the rest only once the second upload has its answer
    headers = auth(roster.district_admin)
    created = client.post("/v1/imports", json={"entity": "students"}, headers=headers).json()
    link = on_server(served, created["upload"]["url"])
    first_file, second_file = edited_file(roster), f"{HEADER}\r\n".encode()
    second_answered = threading.Event()
    answers: dict[str, httpx2.Response] = {}

    def first_body() -> Iterator[bytes]:
        yield first_file[:40]
        second_answered.wait(timeout=60)
        yield first_file[40:]

    def first_upload() -> None:
        answers["first"] = httpx2.put(link, content=first_body(), timeout=60)

    first = threading.Thread(target=first_upload)
    first.start()
    assert store.writing.wait(timeout=60), "the first upload never reached the store"

    # when a second upload to the same link comes in the meantime
    answers["second"] = httpx2.put(link, content=second_file, timeout=60)
    second_answered.set()
    first.join(timeout=60)
    job = wait_until_finished(client, created["id"], headers)

    # then the second is refused in one sentence, the first is stored whole and imported
    assert answers["second"].status_code == 409, answers["second"].text
    assert answers["second"].json()["detail"] == "Another upload to this link is in progress."
    assert answers["first"].status_code == 200, answers["first"].text
    assert stored_upload(runtime, created["id"]) == first_file
    assert job["counts"] == {"created": 0, "updated": 1, "unchanged": 0, "failed": 1}
    assert not [p.name for p in store.root.rglob("*.part")]


def test_a_roster_download_is_neither_cached_nor_sniffed(
    client: TestClient, roster: SmallDistrict
) -> None:
    # given a finished export's signed link
    headers = auth(roster.district_admin)
    created = client.post("/v1/exports", json={"entity": "students"}, headers=headers).json()
    job = wait_until_finished(client, created["id"], headers)

    # when
    download = client.get(job["result_url"])

    # then
    assert download.status_code == 200, download.text
    assert download.headers["cache-control"] == "no-store"
    assert download.headers["x-content-type-options"] == "nosniff"
