"""`RecordingStore`: an in-memory `ObjectStore` for unit tests of pipelines.

It keeps the same rules as the real stores (key checks, all-or-nothing writes, ObjectNotFound)
and records every call as `(method, key)` so a test can assert what a pipeline touched.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, cast
from urllib.parse import quote, urlencode

from storage.objects_protocol import (
    CSV_CONTENT_TYPE,
    ObjectNotFound,
    ObjectWriter,
    S3Location,
    StorageUnavailable,
    UploadForm,
    check_key,
    check_ttl,
)


@dataclass
class RecordingStore:
    """Objects in a dict; `calls` lists `(method, key)` in call order (`("check", "")`).

    With `fail_writes` set, `open_write` runs the with-block, then raises StorageUnavailable
    instead of storing (as a store that fails at the last moment would), and `put_file`
    raises the same: nothing new is stored either way.
    """

    fail_writes: bool = False
    objects: dict[str, bytes] = field(default_factory=dict)
    content_types: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def _record(self, method: str, key: str) -> str:
        self.calls.append((method, key))
        return check_key(key)

    @contextmanager
    def open_write(self, key: str, *, content_type: str = CSV_CONTENT_TYPE) -> Iterator[BinaryIO]:
        self._record("open_write", key)
        buffer = io.BytesIO()
        yield cast(BinaryIO, ObjectWriter(buffer))
        self._store(key, buffer.getvalue(), content_type)

    @contextmanager
    def open_read(self, key: str) -> Iterator[BinaryIO]:
        self._record("open_read", key)
        if key not in self.objects:
            raise ObjectNotFound(f"no object at {key!r}")
        with io.BytesIO(self.objects[key]) as reader:
            yield reader

    def put_file(self, key: str, path: Path, *, content_type: str = CSV_CONTENT_TYPE) -> None:
        self._record("put_file", key)
        self._store(key, path.read_bytes(), content_type)

    def exists(self, key: str) -> bool:
        self._record("exists", key)
        return key in self.objects

    def size(self, key: str) -> int | None:
        self._record("size", key)
        data = self.objects.get(key)
        return None if data is None else len(data)

    def delete(self, key: str) -> None:
        self._record("delete", key)
        self.objects.pop(key, None)
        self.content_types.pop(key, None)

    def download_url(self, key: str, *, filename: str, ttl_seconds: int) -> str:
        """`memory://recording/<key>?filename=…&ttl=…`, so tests can see what was asked."""
        self._record("download_url", key)
        query = urlencode({"filename": filename, "ttl": check_ttl(ttl_seconds)})
        return f"memory://recording/{quote(key)}?{query}"

    @property
    def links_reach_clients(self) -> bool:
        """False, as for a folder: its `memory://` links reach no client."""
        return False

    def upload_form(self, key: str, *, max_bytes: int, ttl_seconds: int) -> UploadForm | None:
        """None, as for a folder: uploads come through `open_write`."""
        self._record("upload_form", key)
        check_ttl(ttl_seconds)
        return None

    def s3_location(self) -> S3Location | None:
        return None

    def describe(self) -> str:
        return "memory://recording"

    def check(self) -> None:
        self.calls.append(("check", ""))

    def _store(self, key: str, data: bytes, content_type: str) -> None:
        if self.fail_writes:
            raise StorageUnavailable(f"writes are set to fail (key {key!r})")
        self.objects[key] = data
        self.content_types[key] = content_type
