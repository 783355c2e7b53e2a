"""Reading a OneRoster 1.1 file set safely: the zip, its manifest, each file's header.

The upload is copied to a temporary file (a zip's directory is at its end, and object
storage streams cannot seek), never more than `ImportLimits.max_bytes`. Then, before any
row is applied, the whole set is checked and refused with one sentence (`FileRefused`) if:

- it is not a zip, or a member's name leaves the root (`../x.csv`, `/x.csv`) or sits in a
  folder (OneRoster files are at the root), or it holds more members than a set has;
- a member would expand past `MAX_EXPANDED_BYTES`, or more than `MAX_RATIO` times its
  compressed size (a zip bomb); the declared sizes bound what is read, as `zipfile` stops
  at them and checks each member's CRC;
- `manifest.csv` is missing, names a version other than 1.1, gives a file a mode other
  than `bulk`, `delta` or `absent`, lists a file the zip does not hold, or the zip holds a
  file the manifest does not list;
- a file the service reads lacks a column it needs. Header names found in the wild are
  read as the spec's (`ALIASES`); the tables the service does not carry are skipped.
"""

from __future__ import annotations

import csv
import io
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, BinaryIO

from jobs.csv_in import ImportLimits, Opener
from jobs.errors import FileRefused
from schemas.oneroster import FILES, HEADERS, MANIFEST, NOT_CARRIED, VERSION

MAX_MEMBERS = 14
"""A OneRoster 1.1 set: its manifest and at most its 13 tables."""
MAX_RATIO = 200
MAX_EXPANDED_BYTES = 4 * 1024**3
MODES = ("bulk", "delta", "absent")

ALIASES = {
    "parent": "parentSourcedId",
    "orgs": "orgSourcedIds",
    "course": "courseSourcedId",
    "school": "schoolSourcedId",
    "terms": "termSourcedIds",
    "class": "classSourcedId",
    "user": "userSourcedId",
}
"""Header names seen in real files -> the spec's."""

NEEDED = {
    "orgs.csv": ("sourcedId", "name", "type"),
    "academicSessions.csv": ("sourcedId",),
    "courses.csv": ("sourcedId",),
    "classes.csv": ("sourcedId", "title", "schoolSourcedId"),
    "users.csv": ("sourcedId", "role", "username"),
    "enrollments.csv": ("sourcedId", "classSourcedId", "userSourcedId", "role"),
}
"""The columns without which a file cannot be read."""


@dataclass(frozen=True)
class SetFile:
    """One file of the set the service reads: its manifest mode, its header as written and
    as the spec names it (`None` for a column the service does not know), its data rows."""

    name: str
    mode: str
    header: tuple[str, ...]
    columns: tuple[str | None, ...]
    rows: int


@dataclass(frozen=True)
class SetSurvey:
    """The checked set: the files read, in dependency order, and the tables skipped."""

    files: tuple[SetFile, ...]
    skipped: tuple[str, ...]

    def file(self, name: str) -> SetFile | None:
        return next((found for found in self.files if found.name == name), None)

    @property
    def rows(self) -> int:
        return sum(found.rows for found in self.files)


@contextmanager
def opened_set(open_file: Opener, *, limits: ImportLimits) -> Iterator[zipfile.ZipFile]:
    """The upload as a zip, from a temporary copy of at most `limits.max_bytes`."""
    with tempfile.TemporaryFile() as copy:
        with open_file() as raw:
            _copy_within(raw, copy, limits.max_bytes)
        copy.seek(0)
        try:
            zipped = zipfile.ZipFile(copy)
        except zipfile.BadZipFile as err:
            raise FileRefused("The file is not a zip, so it is not a OneRoster file set.") from err
        with zipped:
            yield zipped


def _copy_within(raw: BinaryIO, copy: IO[bytes], max_bytes: int) -> None:
    copied = 0
    while chunk := raw.read(1024 * 1024):
        copied += len(chunk)
        if copied > max_bytes:
            limit = max_bytes // (1024 * 1024)
            raise FileRefused(f"The file set is over the {limit} MiB limit; nothing was imported.")
        copy.write(chunk)


def survey(zipped: zipfile.ZipFile, *, limits: ImportLimits) -> SetSurvey:
    """The whole set checked (see the module's doc); `FileRefused` if it cannot be imported."""
    members = _checked_members(zipped)
    if MANIFEST not in members:
        raise FileRefused("The zip has no manifest.csv at its root, so it is not a OneRoster set.")
    modes = _manifest_modes(zipped)
    _check_listed(modes, members)
    files = tuple(
        _survey_file(zipped, name, modes[name], limits)
        for name in FILES
        if modes.get(name, "absent") != "absent"
    )
    skipped = tuple(sorted(name for name in members if name.removesuffix(".csv") in NOT_CARRIED))
    return SetSurvey(files, skipped)


def _checked_members(zipped: zipfile.ZipFile) -> set[str]:
    infos = zipped.infolist()
    if len(infos) > MAX_MEMBERS:
        raise FileRefused(
            f"The zip holds {len(infos)} files; a OneRoster 1.1 set has at most {MAX_MEMBERS}."
        )
    names: set[str] = set()
    for info in infos:
        name = info.filename
        if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/"):
            raise FileRefused(f"The zip holds a file named {name!r} outside its root; refused.")
        if "/" in name or "\\" in name:
            raise FileRefused(
                f"The zip holds folders ({name!r}); the OneRoster files must sit at its root."
            )
        if info.file_size > MAX_EXPANDED_BYTES or info.file_size > MAX_RATIO * max(
            info.compress_size, 1024
        ):
            raise FileRefused(
                f"{name} would expand to {info.file_size:,} bytes from {info.compress_size:,}: "
                "the zip looks like a zip bomb, so nothing was imported."
            )
        if name in names:
            raise FileRefused(f"The zip holds {name} twice.")
        names.add(name)
    return names


def _manifest_modes(zipped: zipfile.ZipFile) -> dict[str, str]:
    """`file.<table>` of the manifest as {file name: mode}, after checking its version."""
    properties: dict[str, str] = {}
    for _, row in _rows(zipped, MANIFEST):
        if len(row) >= 2:
            properties[row[0].strip()] = row[1].strip()
    version = properties.get("oneroster.version")
    if version != VERSION:
        stated = f"version {version}" if version else "no oneroster.version"
        raise FileRefused(f"The manifest states {stated}; only OneRoster {VERSION} is read.")
    modes: dict[str, str] = {}
    for key, value in properties.items():
        if not key.startswith("file."):
            continue
        mode = value.lower()
        if mode not in MODES:
            raise FileRefused(f"The manifest gives {key} as {value!r}; use bulk, delta or absent.")
        modes[f"{key.removeprefix('file.')}.csv"] = mode
    return modes


def _check_listed(modes: dict[str, str], members: set[str]) -> None:
    for name, mode in sorted(modes.items()):
        if mode != "absent" and name not in members:
            raise FileRefused(f"The manifest lists {name} as {mode}, but the zip does not hold it.")
    for name in sorted(members - {MANIFEST}):
        if modes.get(name, "absent") == "absent":
            raise FileRefused(f"The zip holds {name}, which the manifest does not list.")


def _survey_file(zipped: zipfile.ZipFile, name: str, mode: str, limits: ImportLimits) -> SetFile:
    rows = _rows(zipped, name)
    first = next(rows, None)
    if first is None:
        raise FileRefused(f"{name} is empty; it needs at least its header row.")
    header = tuple(first[1])
    columns = tuple(spec_name(cell) for cell in header)
    missing = [needed for needed in NEEDED[name] if needed not in columns]
    if missing:
        raise FileRefused(f"{name} has no column {', '.join(missing)}; nothing was imported.")
    count = 0
    for count, _ in enumerate(rows, start=1):
        if count > limits.max_rows:
            raise FileRefused(f"{name} has more than {limits.max_rows:,} rows.")
    return SetFile(name, mode, header, columns, count)


_SPEC_NAMES = {column.casefold(): column for header in HEADERS.values() for column in header}
_SPEC_NAMES |= {alias.casefold(): column for alias, column in ALIASES.items()}


def spec_name(cell: str) -> str | None:
    """The spec's name of a header cell (any case, spaces ignored, aliases read as theirs)."""
    return _SPEC_NAMES.get(cell.strip().casefold())


def _rows(zipped: zipfile.ZipFile, name: str) -> Iterator[tuple[int, list[str]]]:
    """`(row number, cells)` of a member, header = row 1, blank rows left out; UTF-8 with
    or without a BOM."""
    with zipped.open(name) as member:
        text = io.TextIOWrapper(member, encoding="utf-8-sig", newline="")
        try:
            for number, cells in enumerate(csv.reader(text, strict=True), start=1):
                if any(cell.strip() for cell in cells):
                    yield number, cells
        except (UnicodeDecodeError, csv.Error) as err:
            raise FileRefused(f"{name} is not readable CSV text in UTF-8 ({err}).") from err
        except zipfile.BadZipFile as err:
            raise FileRefused(f"{name} is damaged in the zip ({err}).") from err


def read_file(zipped: zipfile.ZipFile, found: SetFile) -> Iterator[tuple[int, dict[str, str]]]:
    """The data rows of a surveyed file as {spec column: cell}, with their row numbers."""
    rows = _rows(zipped, found.name)
    next(rows, None)
    for number, cells in rows:
        yield (
            number,
            {
                column: cells[at].strip() if at < len(cells) else ""
                for at, column in enumerate(found.columns)
                if column is not None
            },
        )


def raw_rows(zipped: zipfile.ZipFile, name: str) -> Iterator[tuple[int, list[str]]]:
    """A member's rows as written (the header first), for the reports."""
    return _rows(zipped, name)
