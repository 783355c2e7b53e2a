"""Who is asking (their role and reach) and which rows they asked for.

The role comes from the roster, never from the request: an `Admin` assigned to every school
of the district is a district admin, an `Admin` with some schools is a school admin of those,
a `Teacher` reaches the classes they are assigned to and those classes' students.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from schemas.products import Product


class Role(Enum):
    DISTRICT_ADMIN = "district admin"
    SCHOOL_ADMIN = "school admin"
    TEACHER = "teacher"


@dataclass(frozen=True)
class Scope:
    """The requesting educator and the part of the district they may see and change."""

    district_id: int
    educator_id: int
    username: str
    role: Role
    school_ids: frozenset[int]


@dataclass(frozen=True)
class RosterFilter:
    """Filters of an export, resolved to database ids (names are checked before a job runs).

    `include_inactive` keeps deactivated students, educators and classes in the rows (they
    leave an export otherwise)."""

    grade: str | None = None
    school_id: int | None = None
    class_id: int | None = None
    product: Product | None = None
    search: str | None = None
    ids: tuple[int, ...] = ()
    include_inactive: bool = False
