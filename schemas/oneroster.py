"""The OneRoster 1.1 CSV tables this service reads and writes: file names, headers, values.

A OneRoster file set is a zip of `manifest.csv` and one CSV per table; each table's header
is exactly the v1.1 one, in this order (1EdTech, OneRoster v1.1 CSV Tables). Grades are
CEDS codes (`KG`, `01`…`12`), booleans `true`/`false`, dates RFC 3339.
"""

from __future__ import annotations

import datetime as dt

ONEROSTER = "oneroster"
"""The format's name in requests (`--format oneroster`) and the entity of its jobs."""

VERSION = "1.1"

MANIFEST = "manifest.csv"
MANIFEST_HEADER = ("propertyName", "value")

HEADERS: dict[str, tuple[str, ...]] = {
    "orgs.csv": (
        "sourcedId",
        "status",
        "dateLastModified",
        "name",
        "type",
        "identifier",
        "parentSourcedId",
    ),
    "academicSessions.csv": (
        "sourcedId",
        "status",
        "dateLastModified",
        "title",
        "type",
        "startDate",
        "endDate",
        "parentSourcedId",
        "schoolYear",
    ),
    "courses.csv": (
        "sourcedId",
        "status",
        "dateLastModified",
        "schoolYearSourcedId",
        "title",
        "courseCode",
        "grades",
        "orgSourcedId",
        "subjects",
        "subjectCodes",
    ),
    "classes.csv": (
        "sourcedId",
        "status",
        "dateLastModified",
        "title",
        "grades",
        "courseSourcedId",
        "classCode",
        "classType",
        "location",
        "schoolSourcedId",
        "termSourcedIds",
        "subjects",
        "subjectCodes",
        "periods",
    ),
    "users.csv": (
        "sourcedId",
        "status",
        "dateLastModified",
        "enabledUser",
        "orgSourcedIds",
        "role",
        "username",
        "userIds",
        "givenName",
        "familyName",
        "middleName",
        "identifier",
        "email",
        "sms",
        "phone",
        "agentSourcedIds",
        "grades",
        "password",
    ),
    "enrollments.csv": (
        "sourcedId",
        "status",
        "dateLastModified",
        "classSourcedId",
        "schoolSourcedId",
        "userSourcedId",
        "role",
        "primary",
        "beginDate",
        "endDate",
    ),
}
"""The tables this service writes, in dependency order (a file names only rows of the
files before it, or of itself)."""

FILES = tuple(HEADERS)

NOT_CARRIED = (
    "categories",
    "classResources",
    "courseResources",
    "demographics",
    "lineItems",
    "resources",
    "results",
)
"""The v1.1 tables the service neither writes nor reads (`absent` in its manifest)."""

GRADE_CODES = {"PK": "PK", "K": "KG", **{str(n): f"{n:02d}" for n in range(1, 13)}}
"""A roster grade -> its CEDS code."""

ACTIVE, TOBEDELETED = "active", "tobedeleted"


def school_year(today: dt.date) -> int:
    """The school year a day falls in, named by the calendar year it ends in (OneRoster's
    `schoolYear`): July to June."""
    return today.year + 1 if today.month >= 7 else today.year


def manifest_rows(*, system_name: str) -> list[tuple[str, str]]:
    """The manifest of a bulk set of the `FILES`: every v1.1 table named, ours `bulk`."""
    files = {name.removesuffix(".csv"): "bulk" for name in FILES}
    files |= dict.fromkeys(NOT_CARRIED, "absent")
    rows = [("manifest.version", "1.0"), ("oneroster.version", VERSION)]
    rows += [(f"file.{name}", files[name]) for name in sorted(files, key=str.lower)]
    rows += [("source.systemName", system_name), ("source.systemCode", "")]
    return rows
