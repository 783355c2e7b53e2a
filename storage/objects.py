"""Object storage: where export CSVs, uploaded import files and import reports live.

Pipelines see only `ObjectStore`. `open_store` picks the implementation from the one setting
`ROSTERJOBS_STORAGE_URL` (read by the caller at the process edge):

- a folder path (relative paths resolve against `base_dir`) or `file:///absolute/path`
  -> `FolderStore`, the embedded default;
- `s3://bucket[/prefix]` -> `storage.s3.S3Store`, with a client from `make_s3_client()`
  (boto3 reads the usual `AWS_*` variables, `AWS_ENDPOINT_URL` included).

`storage.fakes.RecordingStore` is the in-memory fake for unit tests of pipelines.

Every store follows the same rules, so a pipeline tested on one behaves the same on another:

- keys are relative posix paths (`exports/42/students.csv`); `.`/`..`/empty segments,
  absolute keys and NUL are refused with ValueError;
- an object appears only when its `open_write` block exits cleanly: readers never see half a
  file, and a failed write leaves nothing (not even a temp file or an incomplete upload) and
  keeps the previous object at that key, if any;
- closing the stream that `open_write` yields (a `TextIOWrapper` does so on exit) neither
  publishes nor discards the object; only the end of the with-block does;
- a missing object is `ObjectNotFound`; a store that does not answer is `StorageUnavailable`
  (transient: retry later);
- a folder takes one writer per key at a time: a second `open_write` of a key being written
  raises `WriteInProgress` at once, and leaves the first writer's file alone (S3 has no such
  lock: there the last upload to complete wins).
"""

from __future__ import annotations

import fcntl
import glob
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, cast
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from storage.objects_protocol import (
    CSV_CONTENT_TYPE,
    MAX_LINK_TTL_SECONDS,
    ObjectNotFound,
    ObjectStore,
    ObjectWriter,
    S3Location,
    StorageUnavailable,
    UploadForm,
    WriteInProgress,
    attachment_disposition,
    check_key,
    check_ttl,
    media_type_of,
)

__all__ = [
    "CSV_CONTENT_TYPE",
    "MAX_LINK_TTL_SECONDS",
    "FolderStore",
    "ObjectNotFound",
    "ObjectStore",
    "ObjectWriter",
    "S3Location",
    "StorageUnavailable",
    "UploadForm",
    "WriteInProgress",
    "attachment_disposition",
    "check_key",
    "check_ttl",
    "media_type_of",
    "open_store",
]


def _remove_abandoned_parts(path: Path) -> None:
    """Remove the part files left beside `path` by writers of earlier versions, which named
    them at random (`.students.csv.k2x8q1.part`) and were killed mid-write. A part file whose
    lock is held stays: it is a live writer's, of another key (`students.csv.1`'s part
    matches the pattern too)."""
    for part in path.parent.glob(f".{glob.escape(path.name)}.*.part"):
        _remove_if_abandoned(part)


def _remove_if_abandoned(part: Path) -> None:
    try:
        fd = os.open(part, os.O_RDONLY)
    except FileNotFoundError:  # its writer published or removed it meanwhile
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if _still_at(fd, part):
            part.unlink()
    except BlockingIOError:
        pass
    finally:
        os.close(fd)


def _locked_part(part: Path) -> BinaryIO:
    """Open the key's part file, emptied and locked (`flock`) for this writer alone.

    The lock dies with its process, so a writer killed mid-write blocks nobody: the next
    writer takes its part file over. The part file is the lock, and its writer renames it
    away when it publishes (or removes it when it fails); so a lock won on a file that
    is no longer at `part` is worthless, and the opening starts again.
    Raises WriteInProgress when a live writer holds it.
    """
    while True:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            os.close(fd)
            raise WriteInProgress() from err
        if _still_at(fd, part):
            os.ftruncate(fd, 0)
            return os.fdopen(fd, "wb")
        os.close(fd)


def _still_at(fd: int, path: Path) -> bool:
    """Whether the file open as `fd` is still the one at `path`."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


class FolderStore:
    """Objects as files below `root`, the embedded default (`./var/objects`).

    A writer streams into the part file beside the final one (`.students.csv.part`),
    fsyncs it, then renames it over the final one, so the switch is atomic. The part file
    is locked while written: one writer per key at a time, and a second one is refused
    with WriteInProgress rather than left to overwrite, or remove, the first one's file.
    A writer killed mid-write (SIGKILL, out of memory) leaves its part file; the next
    writer of the key takes it over. Files are created owner-readable only (they hold
    roster data).
    `content_type` is not kept: a folder has no metadata, and links serve CSV anyway.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*PurePosixPath(check_key(key)).parts)

    @contextmanager
    def open_write(self, key: str, *, content_type: str = CSV_CONTENT_TYPE) -> Iterator[BinaryIO]:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(f".{path.name}.part")
        file = _locked_part(part)
        try:
            yield cast(BinaryIO, ObjectWriter(file))
            file.flush()
            os.fsync(file.fileno())
            os.replace(part, path)
        except BaseException:
            part.unlink(missing_ok=True)  # still locked: no other writer's file yet
            raise
        finally:
            file.close()  # releases the lock, only now that the part file is gone
        _remove_abandoned_parts(path)
        _fsync_folder(path.parent)

    @contextmanager
    def open_read(self, key: str) -> Iterator[BinaryIO]:
        path = self._path(key)
        try:
            file = path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as err:
            raise ObjectNotFound(f"no object at {key!r} in {self.root}") from err
        with file:
            yield file

    def put_file(self, key: str, path: Path, *, content_type: str = CSV_CONTENT_TYPE) -> None:
        with path.open("rb") as source, self.open_write(key, content_type=content_type) as out:
            while chunk := source.read(1024 * 1024):
                out.write(chunk)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int | None:
        path = self._path(key)
        return path.stat().st_size if path.is_file() else None

    def delete(self, key: str) -> None:
        path = self._path(key)
        if path.is_file():
            path.unlink(missing_ok=True)

    def download_url(self, key: str, *, filename: str, ttl_seconds: int) -> str:
        """The object's `file://` URI; the HTTP layer turns it into a signed link."""
        check_ttl(ttl_seconds)
        return self._path(key).as_uri()

    @property
    def links_reach_clients(self) -> bool:
        return False

    def upload_form(self, key: str, *, max_bytes: int, ttl_seconds: int) -> UploadForm | None:
        """None: a folder takes no uploads of its own; the API receives the file."""
        return None

    def s3_location(self) -> S3Location | None:
        return None

    def describe(self) -> str:
        return str(self.root)

    def check(self) -> None:
        """Create the folder if needed; raise StorageUnavailable if it cannot be written."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StorageUnavailable(f"cannot create object folder {self.root}: {err}") from err
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StorageUnavailable(f"object folder {self.root} is not writable")


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable, not only the file's bytes."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_store(url: str, *, base_dir: Path, s3_client: Any = None) -> ObjectStore:
    """The store that `url` names (see the module docstring for the forms).

    `s3_client` replaces the default `make_s3_client()` client for `s3://` URLs.
    Anything else raises ValueError naming the accepted forms.
    """
    parts = urlsplit(url.strip())
    if parts.scheme == "s3":
        return _s3_store(url, s3_client)
    if parts.scheme == "file":
        return FolderStore(_file_url_path(url))
    if parts.scheme == "" and url.strip():
        return FolderStore(Path(base_dir) / url.strip())
    raise ValueError(
        f"unsupported storage URL {url!r}: use a folder path, file:///absolute/path "
        "or s3://bucket/prefix"
    )


def _file_url_path(url: str) -> Path:
    parts = urlsplit(url.strip())
    if parts.netloc not in {"", "localhost"} or parts.query or parts.fragment:
        raise ValueError(f"storage URL {url!r} must look like file:///absolute/path")
    path = Path(url2pathname(unquote(parts.path)))
    if not path.is_absolute():
        raise ValueError(f"storage URL {url!r} must name an absolute path")
    return path


def _s3_store(url: str, client: Any) -> ObjectStore:
    from storage.s3 import S3Store, make_s3_client

    parts = urlsplit(url.strip())
    if not parts.netloc or "@" in parts.netloc or parts.query or parts.fragment:
        raise ValueError(
            f"storage URL {url!r} must look like s3://bucket/prefix (credentials come from "
            "the AWS_* variables, never from the URL)"
        )
    prefix = parts.path.strip("/")
    if prefix:
        check_key(prefix)
    return S3Store(client if client is not None else make_s3_client(), parts.netloc, prefix)
