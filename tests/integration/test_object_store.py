"""Object storage behaviour, the same on a local folder and on S3 over HTTP (moto's server).

Presigned links are really downloaded with urllib. moto does not enforce link expiry, so the
lifetime is checked in the signed URL itself.
"""

from __future__ import annotations

import io
import os
import urllib.request
from email.message import Message
from email.utils import collapse_rfc2231_value
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from storage.fakes import RecordingStore
from storage.objects import (
    FolderStore,
    ObjectNotFound,
    ObjectStore,
    StorageUnavailable,
    open_store,
)
from storage.s3 import S3Store, make_s3_client
from tests.s3 import fake_credentials

MiB = 1024 * 1024
ROSTER_CSV = "\ufeffDatabase ID,First Name\r\n101,Zoë\r\n102,Élodie\r\n".encode()


class WriteInterrupted(Exception):
    """The export failed half way."""


@pytest.fixture(params=["folder", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "folder":
        return FolderStore(tmp_path / "objects")
    s3_store: S3Store = request.getfixturevalue("s3_store")
    return s3_store


def everything_stored(store: ObjectStore) -> list[str]:
    """Every file below the folder, or every object and unfinished upload in the bucket."""
    if isinstance(store, FolderStore):
        if not store.root.exists():
            return []
        files = (p for p in store.root.rglob("*") if p.is_file())
        return sorted(p.relative_to(store.root).as_posix() for p in files)
    assert isinstance(store, S3Store)
    objects = store.client.list_objects_v2(Bucket=store.bucket).get("Contents", [])
    uploads = store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
    names = [item["Key"] for item in objects] + [f"upload:{u['Key']}" for u in uploads]
    return sorted(name.replace(f"{store.prefix}/", "", 1) for name in names)


def write(store: ObjectStore, key: str, data: bytes) -> None:
    with store.open_write(key) as out:
        out.write(data)


def read(store: ObjectStore, key: str) -> bytes:
    with store.open_read(key) as source:
        return source.read()


def test_written_bytes_read_back_unchanged(store: ObjectStore) -> None:
    # given / when
    write(store, "exports/1/students.csv", ROSTER_CSV)

    # then
    assert read(store, "exports/1/students.csv") == ROSTER_CSV
    assert everything_stored(store) == ["exports/1/students.csv"]


def test_a_file_larger_than_one_upload_part_reads_back_whole(store: ObjectStore) -> None:
    # given: 11 MiB, so S3 receives three parts
    data = os.urandom(11 * MiB)

    # when
    with store.open_write("exports/2/students.csv") as out:
        for start in range(0, len(data), MiB):
            out.write(data[start : start + MiB])

    # then
    assert store.size("exports/2/students.csv") == len(data)
    assert read(store, "exports/2/students.csv") == data


def test_an_empty_file_is_stored_as_an_empty_object(store: ObjectStore) -> None:
    # given / when
    with store.open_write("exports/3/empty.csv"):
        pass

    # then
    assert store.size("exports/3/empty.csv") == 0
    assert read(store, "exports/3/empty.csv") == b""


def test_the_object_is_not_visible_while_it_is_being_written(store: ObjectStore) -> None:
    # given
    with store.open_write("exports/4/students.csv") as out:
        out.write(os.urandom(6 * MiB))

        # when / then: a reader sees nothing yet
        assert not store.exists("exports/4/students.csv")
        with pytest.raises(ObjectNotFound):
            read(store, "exports/4/students.csv")

    # then
    assert store.size("exports/4/students.csv") == 6 * MiB


def test_a_failure_inside_the_write_leaves_nothing_behind(store: ObjectStore) -> None:
    # given / when: more than one part was already sent when the failure happens
    with pytest.raises(WriteInterrupted), store.open_write("exports/5/students.csv") as out:
        out.write(os.urandom(6 * MiB))
        raise WriteInterrupted

    # then: no object, no temp file, no unfinished multipart upload
    assert not store.exists("exports/5/students.csv")
    assert everything_stored(store) == []


def test_a_text_wrapper_closing_the_stream_does_not_publish_a_failed_write(
    store: ObjectStore,
) -> None:
    # given / when: TextIOWrapper closes the binary stream on its way out of the block
    with (
        pytest.raises(WriteInterrupted),
        store.open_write("exports/6/students.csv") as raw,
        io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text,
    ):
        text.write("Database ID,First Name\r\n101,Zoë\r\n")
        raise WriteInterrupted

    # then
    assert everything_stored(store) == []


def test_a_text_wrapper_writes_a_complete_csv(store: ObjectStore) -> None:
    # given / when
    with (
        store.open_write("exports/7/students.csv") as raw,
        io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text,
    ):
        text.write("Database ID,First Name\r\n101,Zoë\r\n102,Élodie\r\n")

    # then
    assert read(store, "exports/7/students.csv") == ROSTER_CSV


def test_a_failed_rewrite_keeps_the_previous_file(store: ObjectStore) -> None:
    # given
    write(store, "exports/8/students.csv", ROSTER_CSV)

    # when
    with pytest.raises(WriteInterrupted), store.open_write("exports/8/students.csv") as out:
        out.write(b"Database ID\r\n")
        raise WriteInterrupted

    # then
    assert read(store, "exports/8/students.csv") == ROSTER_CSV
    assert everything_stored(store) == ["exports/8/students.csv"]


def test_reading_a_missing_file_raises_object_not_found(store: ObjectStore) -> None:
    # given: an empty store

    # when / then
    with pytest.raises(ObjectNotFound):
        read(store, "imports/9/upload.csv")


def test_size_exists_and_delete_follow_the_stored_file(store: ObjectStore) -> None:
    # given: nothing stored yet
    assert store.size("imports/10/upload.csv") is None
    assert not store.exists("imports/10/upload.csv")

    # when
    write(store, "imports/10/upload.csv", ROSTER_CSV)

    # then
    assert store.exists("imports/10/upload.csv")
    assert store.size("imports/10/upload.csv") == len(ROSTER_CSV)

    # when
    store.delete("imports/10/upload.csv")
    store.delete("imports/10/upload.csv")

    # then: gone, and deleting twice was fine
    assert not store.exists("imports/10/upload.csv")
    assert store.size("imports/10/upload.csv") is None


def test_put_file_stores_a_local_file(store: ObjectStore, tmp_path: Path) -> None:
    # given
    local = tmp_path / "report.csv"
    local.write_bytes(ROSTER_CSV)

    # when
    store.put_file("imports/11/result.csv", local)

    # then
    assert read(store, "imports/11/result.csv") == ROSTER_CSV


@pytest.mark.parametrize(
    "key", ["../outside.csv", "exports/../../outside.csv", "/etc/passwd", "exports//a.csv", ""]
)
def test_a_key_that_escapes_the_store_is_refused(store: ObjectStore, key: str) -> None:
    # given / when / then
    with pytest.raises(ValueError, match="object key"):
        write(store, key, ROSTER_CSV)
    assert everything_stored(store) == []


@pytest.mark.parametrize("ttl_seconds", [0, 7 * 24 * 3600 + 1])
def test_a_link_lifetime_outside_what_s3_allows_is_refused(
    store: ObjectStore, ttl_seconds: int
) -> None:
    # given
    write(store, "exports/12/students.csv", ROSTER_CSV)

    # when / then
    with pytest.raises(ValueError, match="link lifetime"):
        store.download_url("exports/12/students.csv", filename="a.csv", ttl_seconds=ttl_seconds)


def test_a_reachable_store_passes_its_check(store: ObjectStore) -> None:
    # given / when / then: no exception
    store.check()


# --- folder only -------------------------------------------------------------------------


def test_a_folder_link_is_the_file_uri_of_the_object(tmp_path: Path) -> None:
    # given
    store = FolderStore(tmp_path / "objects")
    write(store, "exports/13/students.csv", ROSTER_CSV)

    # when
    url = store.download_url("exports/13/students.csv", filename="students.csv", ttl_seconds=60)

    # then
    assert url == (tmp_path / "objects/exports/13/students.csv").as_uri()
    with urllib.request.urlopen(url) as response:
        assert response.read() == ROSTER_CSV


def test_the_temp_file_of_a_killed_writer_is_removed_by_the_next_complete_write(
    tmp_path: Path,
) -> None:
    # given the temp file a writer killed mid-write left beside its key, and another key's
    store = FolderStore(tmp_path / "objects")
    folder = tmp_path / "objects/exports/13"
    folder.mkdir(parents=True)
    abandoned = folder / ".students.csv.k1ll3d.part"
    abandoned.write_bytes(ROSTER_CSV[:10])
    other = folder / ".classes.csv.a1b2c3.part"
    other.write_bytes(b"half")

    # when the key is written again, to its end
    write(store, "exports/13/students.csv", ROSTER_CSV)

    # then only the complete file is left of that key; the other key's temp file stays
    assert sorted(path.name for path in folder.iterdir()) == [
        ".classes.csv.a1b2c3.part",
        "students.csv",
    ]
    assert (folder / "students.csv").read_bytes() == ROSTER_CSV


def test_a_folder_that_cannot_be_created_fails_its_check(tmp_path: Path) -> None:
    # given: a file where the folder should be
    (tmp_path / "objects").write_text("not a folder")
    store = FolderStore(tmp_path / "objects" / "inner")

    # when / then
    with pytest.raises(StorageUnavailable, match="cannot create object folder"):
        store.check()


# --- S3 only -----------------------------------------------------------------------------


@pytest.mark.parametrize("filename", ["students.csv", "élèves.csv"])
def test_a_presigned_link_downloads_the_file_under_its_name(
    s3_store: S3Store, filename: str
) -> None:
    # given
    write(s3_store, "exports/14/students.csv", ROSTER_CSV)

    # when
    url = s3_store.download_url("exports/14/students.csv", filename=filename, ttl_seconds=900)
    with urllib.request.urlopen(url) as response:
        body = response.read()
        disposition = response.headers["Content-Disposition"]
        content_type = response.headers["Content-Type"]

    # then
    assert body == ROSTER_CSV
    assert content_type == "text/csv; charset=utf-8"  # typed by the name's extension
    assert disposition.startswith("attachment;")
    assert saved_filename(disposition) == filename


def test_a_non_ascii_filename_has_an_ascii_fallback_for_old_clients(s3_store: S3Store) -> None:
    # given
    write(s3_store, "exports/15/students.csv", ROSTER_CSV)

    # when
    url = s3_store.download_url("exports/15/students.csv", filename="élèves.csv", ttl_seconds=60)
    with urllib.request.urlopen(url) as response:
        disposition = response.headers["Content-Disposition"]

    # then
    assert saved_filename(disposition, understands_rfc6266=False) == "eleves.csv"
    assert saved_filename(disposition) == "élèves.csv"


def test_a_presigned_link_carries_its_lifetime_in_its_signature(s3_store: S3Store) -> None:
    # given
    write(s3_store, "exports/16/students.csv", ROSTER_CSV)

    # when
    url = s3_store.download_url("exports/16/students.csv", filename="a.csv", ttl_seconds=900)

    # then
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["900"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]


def test_a_written_object_keeps_its_content_type_and_prefix(s3_store: S3Store) -> None:
    # given / when
    with s3_store.open_write("imports/17/errors.csv", content_type="text/csv") as out:
        out.write(ROSTER_CSV)

    # then
    head = s3_store.client.head_object(
        Bucket=s3_store.bucket, Key=f"{s3_store.prefix}/imports/17/errors.csv"
    )
    assert head["ContentType"] == "text/csv"


def test_an_unreachable_s3_endpoint_fails_the_check_as_unavailable() -> None:
    # given: nothing listens on port 1
    client = make_s3_client("http://127.0.0.1:1", "us-east-1", session=fake_credentials())
    store = S3Store(client, "rosterjobs", "prefix")

    # when / then
    with pytest.raises(StorageUnavailable, match="does not answer"):
        store.check()


def test_an_unreachable_s3_endpoint_makes_reads_unavailable() -> None:
    # given
    client = make_s3_client("http://127.0.0.1:1", "us-east-1", session=fake_credentials())
    store = S3Store(client, "rosterjobs", "prefix")

    # when / then
    with pytest.raises(StorageUnavailable):
        store.size("exports/18/students.csv")


def test_a_missing_bucket_fails_the_check(s3_client: Any) -> None:
    # given
    store = S3Store(s3_client, "rosterjobs-no-such-bucket", "")

    # when / then
    with pytest.raises(StorageUnavailable, match="rosterjobs-no-such-bucket"):
        store.check()


def saved_filename(disposition: str, *, understands_rfc6266: bool = True) -> str:
    """The name a browser saves the download under: `filename*` wins when it is understood."""
    header = Message()
    header["Content-Disposition"] = disposition
    names = [v for k, v in header.get_params(header="content-disposition") or [] if k == "filename"]
    extended = [collapse_rfc2231_value(v) for v in names if isinstance(v, tuple)]
    plain = [v for v in names if isinstance(v, str)]
    return extended[0] if extended and understands_rfc6266 else plain[0]


# --- open_store --------------------------------------------------------------------------


def test_a_relative_folder_path_resolves_against_the_base_folder(tmp_path: Path) -> None:
    # given / when
    store = open_store("var/objects", base_dir=tmp_path)

    # then
    assert isinstance(store, FolderStore)
    assert store.describe() == str(tmp_path.resolve() / "var/objects")


def test_an_absolute_folder_path_and_a_file_url_name_the_same_folder(tmp_path: Path) -> None:
    # given
    folder = tmp_path / "shared objects"

    # when
    by_path = open_store(str(folder), base_dir=Path("/elsewhere"))
    by_url = open_store(folder.as_uri(), base_dir=Path("/elsewhere"))

    # then
    assert by_path.describe() == by_url.describe() == str(folder.resolve())


@pytest.mark.parametrize(
    ("url", "described"),
    [
        ("s3://roster-bucket/exports/prod/", "s3://roster-bucket/exports/prod"),
        ("s3://roster-bucket", "s3://roster-bucket"),
    ],
)
def test_an_s3_url_names_the_bucket_and_prefix(url: str, described: str, s3_client: Any) -> None:
    # given / when
    store = open_store(url, base_dir=Path("/unused"), s3_client=s3_client)

    # then
    assert isinstance(store, S3Store)
    assert store.describe() == described


def test_an_s3_store_from_a_url_writes_under_its_prefix(s3_client: Any, s3_bucket: str) -> None:
    # given
    store = open_store(
        f"s3://{s3_bucket}/district-7", base_dir=Path("/unused"), s3_client=s3_client
    )

    # when
    write(store, "exports/19/students.csv", ROSTER_CSV)

    # then
    listed = s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]
    assert [item["Key"] for item in listed] == ["district-7/exports/19/students.csv"]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/objects",
        "gs://bucket/prefix",
        "s3://",
        "s3://key:secret@bucket/prefix",
        "file://otherhost/objects",
        "",
    ],
)
def test_an_unsupported_storage_url_is_refused_with_a_clear_message(url: str) -> None:
    # given / when / then
    with pytest.raises(ValueError, match="storage URL"):
        open_store(url, base_dir=Path("/unused"))


# --- RecordingStore ----------------------------------------------------------------------


def test_the_recording_store_keeps_what_was_written_and_lists_the_calls() -> None:
    # given
    store = RecordingStore()

    # when
    write(store, "exports/20/students.csv", ROSTER_CSV)
    content = read(store, "exports/20/students.csv")
    url = store.download_url("exports/20/students.csv", filename="élèves.csv", ttl_seconds=900)

    # then
    assert content == ROSTER_CSV
    assert store.calls == [
        ("open_write", "exports/20/students.csv"),
        ("open_read", "exports/20/students.csv"),
        ("download_url", "exports/20/students.csv"),
    ]
    assert parse_qs(urlsplit(url).query) == {"filename": ["élèves.csv"], "ttl": ["900"]}


def test_the_recording_store_told_to_fail_writes_keeps_nothing(tmp_path: Path) -> None:
    # given
    store = RecordingStore(fail_writes=True)
    local = tmp_path / "report.csv"
    local.write_bytes(ROSTER_CSV)

    # when / then
    with pytest.raises(StorageUnavailable):
        write(store, "exports/21/students.csv", ROSTER_CSV)
    with pytest.raises(StorageUnavailable):
        store.put_file("imports/21/result.csv", local)

    # then
    assert store.objects == {}
    assert not store.exists("exports/21/students.csv")


def test_the_recording_store_keeps_nothing_when_the_write_fails() -> None:
    # given
    store = RecordingStore()

    # when
    with pytest.raises(WriteInterrupted), store.open_write("exports/22/students.csv") as out:
        out.write(ROSTER_CSV)
        raise WriteInterrupted

    # then
    assert store.objects == {}
    with pytest.raises(ObjectNotFound):
        read(store, "exports/22/students.csv")
