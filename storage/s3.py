"""`S3Store`: objects in an S3 bucket (or anything speaking S3: moto, MinIO), under a prefix.

Streaming goes through smart_open (multipart writes in 5 MiB parts, aborted on failure;
resumable reads); presigning, HEAD and DELETE use the boto3 client directly. Pass a client from
`make_s3_client` so that endpoint, credentials, SigV4 and retries are configured in one place.

Errors: a missing object is `ObjectNotFound`; an unreachable endpoint, a 5xx or throttling is
`StorageUnavailable` (the botocore error kept as its cause); anything else (access denied,
bad request) propagates as botocore raised it, since retrying will not help.

Every call has timeouts and bounded retries (`NETWORK`), and smart_open's own extra retries
of an unreachable endpoint are cut to one (`_bound_smart_open_retries`). So one call gives
up within about 35 s on an endpoint that refuses or drops connections, 80 s on one that
cannot be reached, and under 3 minutes on one that accepts and never answers; the job's
attempt then fails and its lifecycle retries it, or fails it naming object storage.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast

import boto3
import smart_open.s3
import structlog
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from storage.objects_protocol import (
    CSV_CONTENT_TYPE,
    ObjectNotFound,
    ObjectWriter,
    S3Location,
    StorageUnavailable,
    UploadForm,
    attachment_disposition,
    check_key,
    check_ttl,
    media_type_of,
)

log = structlog.get_logger(__name__)

PART_SIZE = 5 * 1024 * 1024
"""S3's smallest allowed part: keeps a writer's memory at about 5 MiB whatever the file size.
10 000 parts of 5 MiB cap one object at about 48 GiB."""

NETWORK: dict[str, Any] = {
    "retries": {"mode": "standard", "max_attempts": 5},
    "connect_timeout": 5,
    "read_timeout": 30,
    "tcp_keepalive": True,
}
"""Every call: 5 attempts with exponential backoff (standard mode retries 5xx, throttling,
dropped connections and timeouts), a connect that fails within 5 s and a silent endpoint
given up after 30 s (botocore's default is 60 s each, times every attempt)."""
SMART_OPEN_ATTEMPTS = 2
SMART_OPEN_SLEEP_SECONDS = 2

# smart_open's own retries ("... failed after 6 attempts", "failed to read ... after 5 attempts")
_SMART_OPEN_GAVE_UP = re.compile(r"failed .*after \d+ attempts$")
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_THROTTLING_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ServiceUnavailable",
        "InternalError",
    }
)


def make_s3_client(
    endpoint_url: str | None = None, region: str | None = None, *, session: Any = None
) -> Any:
    """A boto3 S3 client that signs with SigV4 and retries transient faults (standard mode).

    Leave `endpoint_url` and `region` as None to let boto3 read `AWS_ENDPOINT_URL`,
    `AWS_REGION`/`AWS_DEFAULT_REGION` and the credentials chain. `session` (a
    `boto3.session.Session`) lets tests pass explicit fake credentials.
    """
    config = Config(signature_version="s3v4", **NETWORK)
    _bound_smart_open_retries()
    session = session if session is not None else boto3.session.Session()
    return session.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


def _bound_smart_open_retries() -> None:
    """smart_open retries a refused connection 6 times, 10 s apart, on top of botocore's own
    retries, while starting or finishing a multipart upload: over a minute and a half per
    call to a dead endpoint. botocore already retries with backoff, and a job that fails is
    retried as a whole, so keep smart_open's layer short. (smart_open documents its `RETRY`
    as the knob for this; it is module-wide, which suits the one S3 endpoint per process.)"""
    smart_open.s3.RETRY.attempts = SMART_OPEN_ATTEMPTS
    smart_open.s3.RETRY.sleep_seconds = SMART_OPEN_SLEEP_SECONDS


def make_sqs_client(
    endpoint_url: str | None = None, region: str | None = None, *, session: Any = None
) -> Any:
    """A boto3 SQS client (for S3 upload events), configured like `make_s3_client`."""
    config = Config(**NETWORK)
    session = session if session is not None else boto3.session.Session()
    return session.client("sqs", endpoint_url=endpoint_url, region_name=region, config=config)


class S3Store:
    """Objects at `s3://bucket/prefix/<key>`."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextmanager
    def open_write(self, key: str, *, content_type: str = CSV_CONTENT_TYPE) -> Iterator[BinaryIO]:
        with _translated(key):
            # smart_open.s3.open rather than smart_open.open("s3://..."): the URI layer would
            # infer compression from a `.gz` key and take `?versionId=` out of a key
            writer = smart_open.s3.open(
                self.bucket,
                self._key(key),
                "wb",
                client=self.client,
                client_kwargs={
                    "S3.Client.create_multipart_upload": {"ContentType": content_type},
                    # smart_open replaces an empty upload by a plain PUT
                    "S3.Client.put_object": {"ContentType": content_type},
                },
                min_part_size=PART_SIZE,
            )
            try:
                yield cast(BinaryIO, ObjectWriter(writer))
                writer.close()
            except BaseException:
                _abort(writer, key)
                raise

    @contextmanager
    def open_read(self, key: str) -> Iterator[BinaryIO]:
        with _translated(key):
            reader = smart_open.s3.open(self.bucket, self._key(key), "rb", client=self.client)
            with reader:
                yield cast(BinaryIO, reader)

    def put_file(self, key: str, path: Path, *, content_type: str = CSV_CONTENT_TYPE) -> None:
        with path.open("rb") as source, self.open_write(key, content_type=content_type) as out:
            while chunk := source.read(PART_SIZE):
                out.write(chunk)

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def size(self, key: str) -> int | None:
        try:
            with _translated(key):
                head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ObjectNotFound:
            return None
        return int(head["ContentLength"])

    def delete(self, key: str) -> None:
        with _translated(key):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def download_url(self, key: str, *, filename: str, ttl_seconds: int) -> str:
        """A presigned GET that downloads as `filename` (typed by its extension: text/csv,
        a `.zip` as application/zip) for `ttl_seconds`.

        The answer carries `Cache-Control: no-store`, so no browser or proxy keeps the roster
        data. (S3 has no override for `X-Content-Type-Options: nosniff`, which the folder
        store's links send; the `attachment` disposition already keeps browsers from
        rendering the file.)

        Signed locally: it does not check that the object exists. With temporary credentials
        (an STS or instance role) the link also dies when those credentials expire.
        """
        params = {
            "Bucket": self.bucket,
            "Key": self._key(key),
            "ResponseContentDisposition": attachment_disposition(filename),
            "ResponseContentType": media_type_of(filename).split(";")[0],
            "ResponseCacheControl": "no-store",
        }
        url: str = self.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=check_ttl(ttl_seconds)
        )
        return url

    @property
    def links_reach_clients(self) -> bool:
        """True: a presigned GET works from anywhere until it expires."""
        return True

    def upload_form(self, key: str, *, max_bytes: int, ttl_seconds: int) -> UploadForm:
        """A presigned POST that accepts 1 to `max_bytes` bytes at `key` for `ttl_seconds`.
        S3 enforces the size range; moto does not."""
        post: dict[str, Any] = self.client.generate_presigned_post(
            Bucket=self.bucket,
            Key=self._key(key),
            Conditions=[["content-length-range", 1, max_bytes]],
            ExpiresIn=check_ttl(ttl_seconds),
        )
        fields = {str(name): str(value) for name, value in post["fields"].items()}
        return UploadForm(url=str(post["url"]), fields=fields)

    def s3_location(self) -> S3Location:
        return S3Location(client=self.client, bucket=self.bucket, prefix=self.prefix)

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def check(self) -> None:
        """HEAD the bucket; a missing bucket or refused access fails readiness too."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "?")
            raise StorageUnavailable(f"bucket {self.describe()} answered {code}") from err
        except (BotocoreConnectionError, HTTPClientError) as err:
            raise StorageUnavailable(f"{self.describe()} does not answer: {err}") from err


def _abort(writer: Any, key: str) -> None:
    """Abort the multipart upload without hiding the error that made us abort."""
    try:
        writer.terminate()
    except Exception as err:
        # the bucket's AbortIncompleteMultipartUpload lifecycle rule cleans up eventually
        log.warning("storage.abort_failed", key=key, error=repr(err))


@contextmanager
def _translated(key: str) -> Iterator[None]:
    """Map botocore errors (also when smart_open wraps them) to this package's errors."""
    try:
        yield
    except (ClientError, BotocoreConnectionError, HTTPClientError) as err:
        _raise_translated(err, key)
        raise
    except (OSError, ValueError) as err:
        cause = err.__cause__
        if isinstance(cause, ClientError | BotocoreConnectionError | HTTPClientError):
            _raise_translated(cause, key)
        if isinstance(err, OSError) and _SMART_OPEN_GAVE_UP.search(str(err)):
            raise StorageUnavailable(str(err)) from err
        raise


def _raise_translated(err: Exception, key: str) -> None:
    """Raise ObjectNotFound/StorageUnavailable for `err` when it is one; else return."""
    if isinstance(err, BotocoreConnectionError | HTTPClientError):
        raise StorageUnavailable(f"object storage does not answer: {err}") from err
    if not isinstance(err, ClientError):
        return
    code = str(err.response.get("Error", {}).get("Code", ""))
    status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in _NOT_FOUND_CODES:
        raise ObjectNotFound(f"no object at {key!r}") from err
    if status >= 500 or status == 429 or code in _THROTTLING_CODES:
        raise StorageUnavailable(f"object storage answered {code or status}") from err
