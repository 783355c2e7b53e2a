"""`rosterjobs s3-events`: S3 upload notifications (through SQS) start their imports.

The bucket sends `s3:ObjectCreated:*` events for `<prefix>/imports/` to an SQS queue; this
consumer long-polls the queue, maps each created object to the import awaiting it and
queues that import once (`jobs.uploads.queue_upload`). A message is deleted from SQS only
after it was handled: a test event, an object that belongs to no job, or a duplicate is
acknowledged and logged; if the broker does not take the import's message, the job goes
back to `awaiting_upload` and the SQS message stays, so SQS delivers it again.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from jobs.lifecycle import JobContext, transition
from jobs.uploads import NotAnS3Event, UploadEvent, parse_s3_message, queue_upload
from schemas.jobs import JobStatus
from storage.db import unit_of_work

log = structlog.get_logger("rosterjobs.s3_events")

IMPORTS_FOLDER = "imports/"


@dataclass
class UploadEventConsumer:
    sqs: Any
    queue_url: str
    jobs: JobContext
    bucket: str
    prefix: str
    send_import: Callable[[str], None]

    def poll_once(self, *, wait_seconds: int = 20) -> int:
        """One long poll; answers how many messages were handled (and deleted)."""
        reply = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
        )
        handled = 0
        for message in reply.get("Messages", []):
            self.handle(message["Body"])
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            handled += 1
        return handled

    def run(self, stop: threading.Event) -> None:
        log.info("s3_events.started", queue_url=self.queue_url)
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception as err:  # keep consuming: SQS redelivers what was not deleted
                log.error("s3_events.poll_failed", error=f"{type(err).__name__}: {err}")
                stop.wait(5)

    def handle(self, body: str) -> None:
        try:
            events = parse_s3_message(body)
        except NotAnS3Event as err:
            log.warning("s3_events.not_an_event", reason=str(err))
            return
        if not events:
            log.info("s3_events.ignored", reason="test event or not ObjectCreated")
        for event in events:
            self.on_created(event)

    def on_created(self, event: UploadEvent) -> None:
        key = self._store_key(event)
        if key is None:
            log.info("s3_events.foreign_object", bucket=event.bucket, key=event.key)
            return
        with unit_of_work(self.jobs.sessions) as session:
            job, queued = queue_upload(session, key)
            job_id = job.id if job else None
        if job_id is None:
            log.info("s3_events.unknown_object", key=key)
        elif not queued:
            log.info("s3_events.duplicate", job_id=job_id)
        else:
            self._send(job_id)

    def _send(self, job_id: str) -> None:
        try:
            self.send_import(job_id)
        except Exception:
            with unit_of_work(self.jobs.sessions) as session:
                transition(session, job_id, JobStatus.QUEUED, JobStatus.AWAITING_UPLOAD)
            raise
        log.info("s3_events.import_queued", job_id=job_id)

    def _store_key(self, event: UploadEvent) -> str | None:
        """The event's key relative to the store, if it is an import upload of this store."""
        prefix = f"{self.prefix}/" if self.prefix else ""
        if event.bucket != self.bucket or not event.key.startswith(prefix):
            return None
        key = event.key[len(prefix) :]
        return key if key.startswith(IMPORTS_FOLDER) else None


def run_until_signalled(consumer: UploadEventConsumer) -> None:
    """Consume until SIGTERM or SIGINT; the poll under way finishes first."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    consumer.run(stop)
    log.info("s3_events.stopped")


def queue_arn(sqs: Any, queue_url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def set_up_notifications(s3: Any, sqs: Any, *, bucket: str, prefix: str, queue_url: str) -> None:
    """Let the bucket send `ObjectCreated` events of import uploads to the queue.

    Replaces the bucket's queue notifications with this one, and allows S3 (from this
    bucket only) to send to the queue.
    """
    arn = queue_arn(sqs, queue_url)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    folder = f"{prefix}/{IMPORTS_FOLDER}" if prefix else IMPORTS_FOLDER
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": folder}]}},
                }
            ]
        },
    )
