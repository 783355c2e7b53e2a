"""What every object store is: the `ObjectStore` protocol, its errors and the rules each
implementation shares (key and link-lifetime checks, the writer stream, the download name).

Its own module so that the implementations (`storage.objects.FolderStore`,
`storage.s3.S3Store`, `storage.fakes.RecordingStore`) depend on it and not on one another:
`storage.objects.open_store` picks among them. `storage.objects` re-exports every name, the
place callers import them from.
"""

from __future__ import annotations

import io
import unicodedata
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol
from urllib.parse import quote

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"


MAX_LINK_TTL_SECONDS = 7 * 24 * 3600
"""SigV4 presigned URLs live at most 7 days; S3 rejects longer ones only when they are used."""


class _DocumentedError(Exception):
    """Base whose docstring is the default message."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(args or (self.__doc__,)))


class ObjectNotFound(_DocumentedError, LookupError):
    """No object is stored at this key."""


class StorageUnavailable(_DocumentedError, RuntimeError):
    """Object storage did not answer; try again later."""


class WriteInProgress(_DocumentedError, RuntimeError):
    """Another writer is storing an object at this key."""


@dataclass(frozen=True)
class UploadForm:
    """A presigned POST: the client posts `fields`, then the file as the field `file`, to
    `url`; the store itself checks the signature, the lifetime and the size range."""

    url: str
    fields: dict[str, str]


@dataclass(frozen=True)
class S3Location:
    """The bucket behind a store, for what must speak to the bucket itself (its upload
    notifications, `rosterjobs s3-events`): a configured boto3 client, the bucket and the
    prefix every key of the store lives under."""

    client: Any
    bucket: str
    prefix: str


class ObjectStore(Protocol):
    """Where job files are kept: a folder on this machine or an S3 bucket.

    What differs between the stores is asked of the store, never of its class:
    `links_reach_clients`, `upload_form` and `s3_location` say what it can do.
    """

    @property
    def links_reach_clients(self) -> bool:
        """Whether `download_url` gives a link that a client elsewhere can follow (S3's
        presigned GET). A folder's `file://` URI does not: the API signs links of its own
        for it and serves the file itself."""
        ...

    def open_write(
        self, key: str, *, content_type: str = CSV_CONTENT_TYPE
    ) -> AbstractContextManager[BinaryIO]:
        """Stream a new object to `key`.

        The object appears at `key` only when the with-block exits without an exception; on an
        exception nothing new is left at `key` (and no dangling multipart upload or temp file).
        """
        ...

    def open_read(self, key: str) -> AbstractContextManager[BinaryIO]:
        """Stream the object at `key`; raises ObjectNotFound when there is none."""
        ...

    def put_file(self, key: str, path: Path, *, content_type: str = CSV_CONTENT_TYPE) -> None:
        """Store a local file at `key`, with the same all-or-nothing rule as `open_write`."""
        ...

    def exists(self, key: str) -> bool:
        """Whether an object is stored at `key`."""
        ...

    def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when there is no object at `key`."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object at `key`; an absent object is not an error."""
        ...

    def download_url(self, key: str, *, filename: str, ttl_seconds: int) -> str:
        """A link to the object that downloads as `filename`, valid for `ttl_seconds`."""
        ...

    def upload_form(self, key: str, *, max_bytes: int, ttl_seconds: int) -> UploadForm | None:
        """A form a client can post a file of 1 to `max_bytes` bytes to, straight into the
        store at `key`, for `ttl_seconds`; None when the store takes no such uploads (a
        folder: the API receives the file and writes it with `open_write`)."""
        ...

    def s3_location(self) -> S3Location | None:
        """The bucket behind the store, or None when the store is not a bucket."""
        ...

    def describe(self) -> str:
        """Where objects go, for logs and readiness checks (never contains secrets)."""
        ...

    def check(self) -> None:
        """Raise StorageUnavailable when the store does not answer."""
        ...


class ObjectWriter(io.BufferedIOBase):
    """The stream `open_write` yields.

    Writes go straight to the pending object. `close()` only ends writing: the store publishes
    the object (or discards it) when the with-block exits, so wrapping this stream in a
    `TextIOWrapper` that closes it early cannot publish a half-written file.
    """

    def __init__(self, target: Any) -> None:
        super().__init__()
        self._target = target

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer, /) -> int:
        if self.closed:
            raise ValueError("write to a closed object writer")
        written: int = self._target.write(data)
        return written


def check_key(key: str) -> str:
    """Return `key` if it is a relative posix path that stays inside the store, else ValueError."""
    if not isinstance(key, str) or not key or "\x00" in key:
        raise ValueError(f"object key must be a non-empty string without NUL: {key!r}")
    if any(part in {"", ".", ".."} for part in key.split("/")):
        raise ValueError(
            f"object key must be a relative path without '.', '..' or empty parts: {key!r}"
        )
    return key


def check_ttl(ttl_seconds: int) -> int:
    """Return `ttl_seconds` when a download link can live that long; else ValueError."""
    if not 1 <= ttl_seconds <= MAX_LINK_TTL_SECONDS:
        raise ValueError(
            f"link lifetime must be 1..{MAX_LINK_TTL_SECONDS} seconds, got {ttl_seconds}"
        )
    return ttl_seconds


MEDIA_TYPES = {
    ".csv": CSV_CONTENT_TYPE,
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pdf": "application/pdf",
    ".zip": "application/zip",
}


def media_type_for(filename: str) -> str:
    """The Content-Type a download of `filename` is served with, by its extension."""
    extension = filename[filename.rfind(".") :].lower() if "." in filename else ""
    return MEDIA_TYPES.get(extension, "application/octet-stream")


def attachment_disposition(filename: str) -> str:
    """A Content-Disposition that downloads as `filename` (RFC 6266).

    Browsers that understand `filename*` get the exact UTF-8 name ("élèves.csv"); older
    clients get an ASCII look-alike ("eleves.csv").
    """
    if not filename:
        raise ValueError("download filename must not be empty")
    fallback = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    fallback = "".join(
        ch if ch.isprintable() and ch not in '"\\/' else "_" for ch in fallback
    ).strip()
    encoded = quote(filename, safe="")
    return f"attachment; filename=\"{fallback or 'download'}\"; filename*=UTF-8''{encoded}"
