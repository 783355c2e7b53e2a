"""Reading a OneRoster set (`jobs.oneroster_zip`): the service's own export reads back, alias
headers are read as the spec's, and every bad set is refused with one sentence before any
row is read."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

import pytest

from jobs.csv_in import ImportLimits
from jobs.errors import FileRefused
from jobs.oneroster_zip import SetSurvey, opened_set, read_file, survey

MANIFEST = (
    "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\n"
    "file.orgs,bulk\nfile.users,delta\nfile.enrollments,absent\n"
)
ORGS = (
    "sourcedId,status,dateLastModified,name,type,identifier,parent\no1,active,,North,school,,d1\n"
)
USERS = (
    "sourcedId,status,enabledUser,orgs,role,username,givenName\nu1,active,true,o1,student,ann,Ann\n"
)


def zipped(files: dict[str, bytes | str], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def opener(data: bytes) -> object:
    @contextmanager
    def open_file() -> Iterator[BinaryIO]:
        yield io.BytesIO(data)

    return open_file


def surveyed(data: bytes, limits: ImportLimits | None = None) -> SetSurvey:
    limits = limits or ImportLimits()
    with opened_set(opener(data), limits=limits) as archive:  # type: ignore[arg-type]
        return survey(archive, limits=limits)


GOOD = {"manifest.csv": MANIFEST, "orgs.csv": ORGS, "users.csv": USERS}


def test_a_set_with_alias_headers_reads_as_the_specs_columns() -> None:
    # when
    data = zipped(GOOD)
    limits = ImportLimits()
    with opened_set(opener(data), limits=limits) as archive:  # type: ignore[arg-type]
        found = survey(archive, limits=limits)
        users = found.file("users.csv")
        assert users is not None
        rows = list(read_file(archive, users))

    # then
    assert [(f.name, f.mode, f.rows) for f in found.files] == [
        ("orgs.csv", "bulk", 1),
        ("users.csv", "delta", 1),
    ]
    assert rows == [
        (
            2,
            {
                "sourcedId": "u1",
                "status": "active",
                "enabledUser": "true",
                "orgSourcedIds": "o1",
                "role": "student",
                "username": "ann",
                "givenName": "Ann",
            },
        )
    ]
    orgs = found.file("orgs.csv")
    assert orgs is not None and "parentSourcedId" in orgs.columns


BAD_SETS = [
    ({"orgs.csv": ORGS}, "no manifest.csv at its root"),
    (
        {**GOOD, "manifest.csv": MANIFEST.replace("1.1", "1.0")},
        "states version 1.0; only OneRoster 1.1",
    ),
    ({**GOOD, "manifest.csv": MANIFEST.replace("1.1", "1.2")}, "states version 1.2"),
    (
        {**GOOD, "manifest.csv": MANIFEST + "file.classes,bulk\n"},
        "lists classes.csv as bulk, but the zip does not hold it",
    ),
    (
        {**GOOD, "courses.csv": "sourcedId\nc1\n"},
        "holds courses.csv, which the manifest does not list",
    ),
    ({**GOOD, "manifest.csv": MANIFEST.replace("delta", "full")}, "gives file.users as 'full'"),
    ({**GOOD, "../x.csv": "a\n"}, "named '../x.csv' outside its root"),
    ({**GOOD, **{f"x{n}.csv": "a\n" for n in range(13)}}, "a OneRoster 1.1 set has at most 14"),
    ({**GOOD, "/etc/x.csv": "a\n"}, "outside its root"),
    ({**GOOD, "sis/users.csv": USERS}, "holds folders ('sis/users.csv')"),
    ({**GOOD, "users.csv": USERS.replace("role", "kind")}, "users.csv has no column role"),
    (
        {**GOOD, "users.csv": b"sourcedId,role,username\n\xff\xfe,x,y\n"},
        "not readable CSV text in UTF-8",
    ),
]


@pytest.mark.parametrize(("files", "says"), BAD_SETS)
def test_a_bad_set_is_refused_with_one_sentence(files: dict[str, str], says: str) -> None:
    with pytest.raises(FileRefused) as refused:
        surveyed(zipped(files))
    assert says in refused.value.message
    assert refused.value.message.count(". ") == 0  # one sentence


def test_a_file_that_is_not_a_zip_is_refused() -> None:
    with pytest.raises(FileRefused, match="not a zip"):
        surveyed(b"sourcedId,name\n1,x\n")


def test_a_zip_bomb_is_refused_before_anything_is_expanded() -> None:
    # given a member that expands a thousand times
    bomb = zipped({**GOOD, "users.csv": USERS + "x" * 50 * 1024 * 1024})

    # when / then
    with pytest.raises(FileRefused, match="looks like a zip bomb"):
        surveyed(bomb)


def test_a_set_over_the_size_limit_is_refused() -> None:
    # given a set of random-looking bytes bigger than the limit
    data = zipped(
        {**GOOD, "users.csv": USERS + bytes(range(256)).hex() * 5000}, method=zipfile.ZIP_STORED
    )

    # when / then
    with pytest.raises(FileRefused, match="over the 1 MiB limit"):
        surveyed(data, ImportLimits(max_bytes=1024 * 1024))
