"""The two object stores an export can be killed over, seen from outside the worker: whether
the final key holds an object, what it holds, and what a killed writer left beside it.

`KeyWatch` looks at the final key from a thread of the test, continuously, while the first
worker writes and after it is killed, until the job has finished.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError

from storage.models import utcnow
from storage.objects import FolderStore, ObjectStore
from storage.s3 import S3Store


@dataclass(frozen=True)
class Leftover:
    """Something a killed writer left that is not the object: a temp file or an incomplete
    multipart upload, with the bytes it holds."""

    name: str
    size: int
    parts: int | None
    """The parts an incomplete multipart upload holds; None for a temp file."""


class Target(Protocol):
    @property
    def storage_url(self) -> str:
        """`ROSTERJOBS_STORAGE_URL` of the worker processes."""
        ...

    @property
    def env(self) -> dict[str, str]:
        """What else the worker processes need to reach the store."""
        ...

    @property
    def look_every(self) -> float:
        """Seconds between two looks at a key: a stat is cheap, a HEAD costs moto a few ms."""
        ...

    def store(self) -> ObjectStore: ...

    def exists(self, key: str) -> bool: ...

    def read(self, key: str) -> bytes: ...

    def leftovers(self, key: str) -> list[Leftover]: ...


@dataclass(frozen=True)
class FolderTarget:
    root: Path

    @property
    def storage_url(self) -> str:
        return str(self.root)

    @property
    def env(self) -> dict[str, str]:
        return {}

    @property
    def look_every(self) -> float:
        return 0.005

    def store(self) -> ObjectStore:
        return FolderStore(self.root)

    def exists(self, key: str) -> bool:
        return (self.root / key).is_file()

    def read(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def leftovers(self, key: str) -> list[Leftover]:
        """The folder store's temp files for `key` (`.<name>.<random>.part`)."""
        path = self.root / key
        temps = sorted(path.parent.glob(f".{path.name}.*.part"))
        return [Leftover(temp.name, temp.stat().st_size, None) for temp in temps]


@dataclass(frozen=True)
class S3Target:
    client: Any
    bucket: str
    prefix: str
    env: dict[str, str]

    @property
    def storage_url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    @property
    def look_every(self) -> float:
        return 0.02

    def store(self) -> ObjectStore:
        return S3Store(self.client, self.bucket, self.prefix)

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as err:
            if err.response["Error"]["Code"] in ("404", "NoSuchKey"):
                return False
            raise
        return True

    def read(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        return body

    def leftovers(self, key: str) -> list[Leftover]:
        """Incomplete multipart uploads at `key`, with the parts they hold."""
        listed = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=self._key(key))
        return [self._upload(upload) for upload in listed.get("Uploads", [])]

    def _upload(self, upload: dict[str, Any]) -> Leftover:
        listed = self.client.list_parts(
            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
        )
        parts = listed.get("Parts", [])
        return Leftover(upload["UploadId"], sum(part["Size"] for part in parts), len(parts))

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}"


@dataclass(frozen=True)
class Sighting:
    at: dt.datetime
    content: bytes


class KeyWatch:
    """Looks at one key every few milliseconds from a thread, until stopped: how often it
    looked (and found nothing), and when the object first appeared with what it held."""

    def __init__(self, target: Target, key: str) -> None:
        self.target, self.key = target, key
        self.looks: list[dt.datetime] = []
        self.first: Sighting | None = None
        self._seen = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> KeyWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def wait_seen(self, timeout: float) -> None:
        """Wait until the object has been seen at the key. A job's end is no proof that the
        watcher has looked since the object appeared: stopping it then races its next look."""
        assert self._seen.wait(timeout), f"nothing appeared at {self.key} in {timeout} s"

    def looks_between(self, start: dt.datetime, end: dt.datetime) -> int:
        return sum(1 for at in self.looks if start <= at < end)

    def _watch(self) -> None:
        while not self._stop.is_set() and self.first is None:
            at = utcnow()
            if self.target.exists(self.key):
                self.first = Sighting(at, self.target.read(self.key))
                self._seen.set()
            else:
                self.looks.append(at)
            time.sleep(self.target.look_every)
