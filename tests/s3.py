"""Pytest plugin: S3 over real HTTP, served by moto in this process.

Fixtures:
- `s3_server` (session): the endpoint URL of a `ThreadedMotoServer` on 127.0.0.1, so presigned
  links can be fetched by urllib, a browser or another process;
- `s3_client` (session): a `make_s3_client` client for it, with fake credentials passed
  explicitly (the environment is left alone);
- `s3_bucket`: a fresh, uniquely named bucket, emptied and removed after the test;
- `s3_store`: an `S3Store` on that bucket under the prefix `rosterjobs`;
- `sqs` (session) and `sqs_queue`: an SQS client of the same server and a fresh queue.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from storage.s3 import S3Store, make_s3_client, make_sqs_client

S3_REGION = "us-east-1"
S3_PREFIX = "rosterjobs"


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def fake_credentials() -> Any:
    """A boto3 session with moto's fake credentials, passed explicitly (the environment is
    left alone)."""
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=S3_REGION
    )


@pytest.fixture(scope="session")
def s3_client(s3_server: str) -> Any:
    return make_s3_client(s3_server, S3_REGION, session=fake_credentials())


@pytest.fixture(scope="session")
def sqs(s3_server: str) -> Any:
    """An SQS client of the same moto server (S3 upload events go through it)."""
    return make_sqs_client(s3_server, S3_REGION, session=fake_credentials())


@pytest.fixture
def sqs_queue(sqs: Any) -> Iterator[str]:
    """A fresh SQS queue's URL, deleted after the test."""
    url = str(sqs.create_queue(QueueName=f"uploads-{uuid.uuid4().hex[:8]}")["QueueUrl"])
    yield url
    sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def s3_bucket(s3_client: Any) -> Iterator[str]:
    bucket = f"rosterjobs-test-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=bucket)
    yield bucket
    _remove_bucket(s3_client, bucket)


@pytest.fixture
def s3_store(s3_client: Any, s3_bucket: str) -> S3Store:
    return S3Store(s3_client, s3_bucket, S3_PREFIX)


def _remove_bucket(client: Any, bucket: str) -> None:
    """Free moto's memory: large test objects would otherwise pile up for the session."""
    for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])
    client.delete_bucket(Bucket=bucket)
