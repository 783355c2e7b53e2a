"""S3 upload events through SQS (moto's server over HTTP) start their imports, once each."""

from __future__ import annotations

import json
from typing import Any

import pytest
import structlog
from sqlalchemy.orm import Session, sessionmaker

from jobs.lifecycle import JobContext
from jobs.requests import ImportRequest, submit_import
from storage.db import unit_of_work
from storage.models import Job
from storage.s3 import S3Store
from tests import factories
from worker.s3_events import UploadEventConsumer, set_up_notifications

CSV = (
    b"Database ID,First Name,Last Name,Username,Password,External Assigned ID,Grade,"
    b"Organizations\r\n,Ana,Ruiz,aruiz,pass1,901,2,North Elementary\r\n"
)


@pytest.fixture
def consumer(
    sqs: Any, sqs_queue: str, s3_store: S3Store, s3_client: Any, sessions: sessionmaker[Session]
) -> UploadEventConsumer:
    set_up_notifications(
        s3_client, sqs, bucket=s3_store.bucket, prefix=s3_store.prefix, queue_url=sqs_queue
    )
    sent: list[str] = []
    found = UploadEventConsumer(
        sqs=sqs,
        queue_url=sqs_queue,
        jobs=JobContext(sessions=sessions, store=s3_store),
        bucket=s3_store.bucket,
        prefix=s3_store.prefix,
        send_import=sent.append,
    )
    found.sent = sent  # type: ignore[attr-defined]
    return found


def awaiting_import(sessions: sessionmaker[Session]) -> Job:
    with unit_of_work(sessions) as session:
        roster = factories.small_district(session)
        job = submit_import(
            session,
            ImportRequest(str(roster.district.id), roster.district_admin.username, "students"),
        )
        session.flush()
        session.expunge(job)
        return job


def drain(consumer: UploadEventConsumer) -> None:
    while consumer.poll_once(wait_seconds=1):
        pass


def status_of(sessions: sessionmaker[Session], job_id: str) -> str:
    with sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job.status


def test_an_upload_to_the_jobs_key_queues_its_import_exactly_once(
    consumer: UploadEventConsumer, s3_store: S3Store, sessions: sessionmaker[Session]
) -> None:
    # given
    job = awaiting_import(sessions)
    assert job.input_key is not None

    # when the file lands, and the same object is written again (a second event)
    s3_store.client.put_object(Bucket=s3_store.bucket, Key=f"rosterjobs/{job.input_key}", Body=CSV)
    s3_store.client.put_object(Bucket=s3_store.bucket, Key=f"rosterjobs/{job.input_key}", Body=CSV)
    drain(consumer)

    # then
    assert status_of(sessions, job.id) == "queued"
    assert consumer.sent == [job.id]  # type: ignore[attr-defined]


def test_a_replayed_event_after_the_job_started_does_not_queue_it_again(
    consumer: UploadEventConsumer, sqs: Any, sqs_queue: str, s3_store: S3Store,
    sessions: sessionmaker[Session],
) -> None:  # fmt: skip
    # given an import already queued by its upload
    job = awaiting_import(sessions)
    key = f"rosterjobs/{job.input_key}"
    s3_store.client.put_object(Bucket=s3_store.bucket, Key=key, Body=CSV)
    drain(consumer)

    # when S3 delivers the same event late, out of order
    event = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": s3_store.bucket}, "object": {"key": key}},
            }
        ]
    }
    sqs.send_message(QueueUrl=sqs_queue, MessageBody=json.dumps(event))
    drain(consumer)

    # then
    assert consumer.sent == [job.id]  # type: ignore[attr-defined]


def test_test_events_and_objects_of_no_job_are_acknowledged_and_logged(
    consumer: UploadEventConsumer, sqs: Any, sqs_queue: str, s3_store: S3Store
) -> None:
    # given
    sqs.send_message(QueueUrl=sqs_queue, MessageBody=json.dumps({"Event": "s3:TestEvent"}))
    sqs.send_message(QueueUrl=sqs_queue, MessageBody="not json")
    s3_store.client.put_object(
        Bucket=s3_store.bucket, Key="rosterjobs/imports/9/unknown/upload-x.csv", Body=CSV
    )

    # when
    with structlog.testing.capture_logs() as logs:
        drain(consumer)

    # then nothing is queued and the queue is empty
    assert consumer.sent == []  # type: ignore[attr-defined]
    events = {entry["event"] for entry in logs}
    assert {"s3_events.unknown_object", "s3_events.not_an_event"} <= events
    left = sqs.get_queue_attributes(QueueUrl=sqs_queue, AttributeNames=["All"])["Attributes"]
    assert left["ApproximateNumberOfMessages"] == "0"


def test_when_the_broker_refuses_the_job_waits_again_and_the_event_is_kept(
    consumer: UploadEventConsumer, s3_store: S3Store, sessions: sessionmaker[Session]
) -> None:
    # given a broker that does not answer
    def broker_down(job_id: str) -> None:
        raise ConnectionError("redis is down")

    consumer.send_import = broker_down
    job = awaiting_import(sessions)
    s3_store.client.put_object(Bucket=s3_store.bucket, Key=f"rosterjobs/{job.input_key}", Body=CSV)

    # when / then
    with pytest.raises(ConnectionError):
        consumer.poll_once(wait_seconds=1)
    assert status_of(sessions, job.id) == "awaiting_upload"
