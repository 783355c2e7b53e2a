"""Object storage faults under a `rosterjobs worker` process, which reaches moto's S3 server
through a `FaultProxy` the test controls: connections cut in the middle of an export's
multipart upload or of an import's read, 503 answers for a while, or S3 gone for good.

A short fault is absorbed by botocore's retries (and smart_open's resumed reads); a longer
one by the job's own retry; one that outlasts both fails the job naming object storage.
Either way no half-written object is ever visible at the export's key.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from storage.db import session_factory
from storage.models import Job
from storage.s3 import S3Store
from storage.seed import SeedSummary, seed_district
from tests.faults.proxy import Fault, FaultProxy, Way
from tests.faults.services import QUICK_RETRIES, finished
from tests.processes import REDIS_URL, cli_json, service_env, wait_for, worker_process
from tests.s3 import S3_REGION

STUDENTS = 3000
PREFIX = "district-files"


@pytest.fixture
def s3_proxy(s3_server: str) -> Iterator[FaultProxy]:
    endpoint = urlsplit(s3_server)
    proxy = FaultProxy(endpoint.hostname or "127.0.0.1", endpoint.port or 80)
    yield proxy
    proxy.close()


@dataclass(frozen=True)
class Scene:
    """A seeded district, a worker's settings (S3 through the proxy, Redis in this test's
    namespace, quick retries, two attempts a job), and what the test looks through."""

    env: dict[str, str]
    district: SeedSummary
    proxy: FaultProxy
    s3: Any
    bucket: str
    sessions: sessionmaker[Session]
    folder: Path

    def export(self) -> Job:
        """Ask for an export of every column, and wait for its end."""
        return wait_for(self.sessions, export(self.env, self.district, self.folder), finished)

    def stored(self, key: str | None) -> bytes:
        assert key is not None
        return bytes(self.s3.get_object(Bucket=self.bucket, Key=f"{PREFIX}/{key}")["Body"].read())

    def leftovers(self) -> tuple[list[str], list[str]]:
        """The export keys in the bucket, and the multipart uploads never completed nor
        aborted."""
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=f"{PREFIX}/exports/")
        uploads = self.s3.list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])
        return [item["Key"] for item in listed.get("Contents", [])], [u["Key"] for u in uploads]


@pytest.fixture
def scene(
    pg_engine: Engine, s3_store: S3Store, s3_proxy: FaultProxy, redis_namespace: str, tmp_path: Path
) -> Scene:
    """`s3_store` for its fresh bucket and a client that reaches moto directly."""
    env = service_env(
        pg_engine.url.render_as_string(hide_password=False),
        f"s3://{s3_store.bucket}/{PREFIX}",
        ROSTERJOBS_BROKER_URL=REDIS_URL,
        ROSTERJOBS_QUEUE_NAMESPACE=redis_namespace,
        ROSTERJOBS_MAX_ATTEMPTS="2",
        AWS_ENDPOINT_URL=f"http://{s3_proxy.address}",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=S3_REGION,
        **QUICK_RETRIES,
    )
    district = seed_district(pg_engine, name="Copper Basin", students=STUDENTS)
    sessions = session_factory(pg_engine)
    return Scene(env, district, s3_proxy, s3_store.client, s3_store.bucket, sessions, tmp_path)


def export(env: dict[str, str], district: SeedSummary, cwd: Path) -> str:
    who = ("--district", str(district.district_id), "--as", district.district_admin)
    job = cli_json(env, "export", *who, "--entity", "students", "--all-columns", cwd=cwd)
    return str(job["id"])


def rows_of(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_connections_cut_mid_upload_and_503s_are_absorbed_by_retries_and_the_export_is_whole(
    scene: Scene,
) -> None:
    # given a worker whose S3 connection is cut 300 kB into the export's upload, and whose
    # next two requests are answered 503
    with worker_process(scene.env, scene.folder):
        scene.proxy.fail_after_bytes(300_000, Way.UP, then_fail=2, fault=Fault.ANSWER_503)

        # when it exports every column of 3,000 students, and then once more without faults
        job = scene.export()
        clean = scene.export()

    # then the export completed on its first attempt, byte for byte the fault-free one
    assert scene.proxy.triggered and scene.proxy.failed_connections == 2
    assert (job.status, job.attempts, job.counts) == ("completed", 1, {"rows": STUDENTS})
    data = scene.stored(job.result_key)
    assert data == scene.stored(clean.result_key)
    assert len(rows_of(data)) == STUDENTS
    assert scene.leftovers()[1] == []


@pytest.mark.slow
def test_a_fault_that_outlasts_botocores_retries_is_retried_as_a_job_and_no_half_object_shows(
    scene: Scene,
) -> None:
    # given a worker whose S3 upload is cut, and whose next six connections are dropped:
    # more than botocore's five attempts
    with worker_process(scene.env, scene.folder):
        scene.proxy.fail_after_bytes(300_000, Way.UP, then_fail=6, fault=Fault.DROP)

        # when it exports, and then once more without faults
        job = scene.export()
        clean = scene.export()

    # then the job's second attempt wrote it whole, and only whole files were ever stored
    assert scene.proxy.triggered
    assert (job.status, job.attempts, job.counts) == ("completed", 2, {"rows": STUDENTS})
    assert scene.stored(job.result_key) == scene.stored(clean.result_key)
    keys, _ = scene.leftovers()
    assert sorted(keys) == sorted(f"{PREFIX}/{j.result_key}" for j in (job, clean))


@pytest.mark.slow
def test_an_import_whose_download_is_cut_resumes_its_read_and_completes(scene: Scene) -> None:
    # given an exported file that comes back as it was, through a worker whose S3
    # download is cut 200 kB in, and whose next two requests are answered 503
    with worker_process(scene.env, scene.folder):
        upload = scene.folder / "students.csv"
        upload.write_bytes(scene.stored(scene.export().result_key))
        scene.proxy.fail_after_bytes(200_000, Way.DOWN, then_fail=2, fault=Fault.ANSWER_503)

        # when it is imported
        who = ("--district", str(scene.district.district_id), "--as", scene.district.district_admin)
        job_id = cli_json(
            scene.env, "import", str(upload), *who, "--entity", "students", cwd=scene.folder
        )["id"]
        job = wait_for(scene.sessions, job_id, finished)

    # then every row is read, once, and found unchanged
    assert scene.proxy.triggered
    assert job.status == "completed", job.error
    assert job.counts == {"created": 0, "updated": 0, "unchanged": STUDENTS, "failed": 0}
    assert len(rows_of(scene.stored(job.result_key))) == STUDENTS


@pytest.mark.slow
def test_object_storage_gone_for_good_fails_the_export_naming_it_after_its_attempts(
    scene: Scene,
) -> None:
    # given a worker whose S3 endpoint stops answering for good (two attempts a job)
    with worker_process(scene.env, scene.folder):
        scene.proxy.fail_all(Fault.DROP)

        # when an export is asked for
        started = time.monotonic()
        job = scene.export()
        took = time.monotonic() - started

    # then it fails after its two attempts, saying object storage did not answer
    assert job.status == "failed"
    assert job.attempts == 2
    assert job.error is not None and "Object storage did not answer" in job.error
    assert scene.leftovers() == ([], [])
    print(f"failed {took:.1f} s after it was asked for: {job.error}")
