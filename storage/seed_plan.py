"""The shape of a synthetic district: schools, grade groups, classes and educators.

Pure and deterministic (no database): `plan_district` draws everything from a random
generator seeded with the district's `random_seed`. Students are not planned one by one:
a `GradeGroup` says how many students of one grade a school has and which classes they
fill, so `storage.seed` can generate the students and their memberships as it writes them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from schemas.codecs import GRADES
from schemas.products import Product
from storage.seed_names import (
    ELEMENTARY_SUBJECTS,
    FIRST_NAMES,
    LAST_NAMES,
    SCHOOL_PREFIXES,
    SCHOOL_STEMS,
    SECONDARY_SUBJECTS,
    ascii_slug,
)

ELEMENTARY, MIDDLE, HIGH = GRADES[:7], GRADES[7:10], GRADES[10:]
CLASS_SIZE = 25
STUDENTS_PER_SCHOOL = 500
MAX_DEFAULT_SCHOOLS = 200


@dataclass(frozen=True)
class GradeGroup:
    """The students of one grade in one school, numbered from `first_student` in the district.

    Their classes are `homerooms` classes from `first_class`, then `second_classes` more.
    """

    school: int
    grade: str
    first_student: int
    size: int
    first_class: int
    homerooms: int
    second_classes: int

    def classes_of(self, position: int) -> tuple[int, ...]:
        """Class indexes of the group's student at `position`: a homeroom, every other one a
        second class too, so that students average one and a half classes."""
        homeroom = self.first_class + position % self.homerooms
        if position % 2 == 0 or not self.second_classes:
            return (homeroom,)
        second = self.first_class + self.homerooms + (position // 2) % self.second_classes
        return (homeroom, second)


@dataclass(frozen=True)
class PlannedClass:
    school: int
    grade: str
    name: str
    teacher: int  # index in Plan.educators
    products: tuple[str, ...]  # Product codes
    external_id: str | None


@dataclass(frozen=True)
class PlannedEducator:
    first_name: str
    last_name: str
    username: str
    educator_type: str  # "Admin" or "Teacher"
    school: int | None  # None: every school of the district (the district admin)
    external_id: str | None


@dataclass(frozen=True)
class Plan:
    name: str
    random_seed: int
    products: tuple[Product, ...]
    schools: tuple[str, ...]
    groups: tuple[GradeGroup, ...]
    classes: tuple[PlannedClass, ...]
    educators: tuple[PlannedEducator, ...]  # district admin, school admins, then teachers
    students: int


def plan_district(
    *,
    name: str,
    students: int,
    schools: int | None,
    random_seed: int,
    products: tuple[Product, ...],
    class_products: dict[str, tuple[str, ...]],
) -> Plan:
    """Plan the district; `class_products` lists the product codes a class of each grade may
    have."""
    count = schools or min(MAX_DEFAULT_SCHOOLS, max(1, students // STUDENTS_PER_SCHOOL))
    rng = random.Random(f"{random_seed}:plan")
    bands = school_bands(count)
    school_names = _school_names(rng, [label for label, _ in bands])
    staff = _Staffing(rng, _email_domain(name), school_names, class_products)
    staff.add_educator("Admin", None)
    for school in range(count):
        staff.add_educator("Admin", school)
    groups: list[GradeGroup] = []
    sizes = _group_sizes([grades for _, grades in bands], students)
    for school, school_sizes in enumerate(sizes):
        groups += _plan_school(staff, school, school_sizes, sum(g.size for g in groups))
    return Plan(
        name=name.strip(),
        random_seed=random_seed,
        products=products,
        schools=tuple(school_names),
        groups=tuple(groups),
        classes=tuple(staff.classes),
        educators=tuple(staff.educators),
        students=students,
    )


def school_bands(count: int) -> list[tuple[str, tuple[str, ...]]]:
    """The kind of each school and the grades it teaches: elementary schools first, then
    middle and high; a district of one or two schools has only PK-12 academies."""
    if count < 3:
        return [("Academy", GRADES)] * count
    upper = max(1, count // 5)
    return (
        [("Elementary", ELEMENTARY)] * (count - 2 * upper)
        + [("Middle School", MIDDLE)] * upper
        + [("High School", HIGH)] * upper
    )


def _school_names(rng: random.Random, labels: Sequence[str]) -> list[str]:
    """Unique names: each kind runs through the stems, then again with "North ", "South "…"""
    stems = list(SCHOOL_STEMS)
    rng.shuffle(stems)
    used: dict[str, int] = {}
    names = []
    for label in labels:
        number = used.get(label, 0)
        used[label] = number + 1
        turn, stem = divmod(number, len(stems))
        prefix = SCHOOL_PREFIXES[turn] if turn < len(SCHOOL_PREFIXES) else ""
        suffix = f" {turn + 1}" if turn >= len(SCHOOL_PREFIXES) else ""
        names.append(f"{prefix}{stems[stem]} {label}{suffix}")
    return names


def _email_domain(district: str) -> str:
    words = (ascii_slug(word) for word in district.split())
    slug = "-".join(word for word in words if word)[:40].strip("-")
    return f"{slug or 'district'}.example.org"


def split(total: int, weights: Sequence[float]) -> list[int]:
    """`total` shared in proportion to `weights`, in whole parts that add up to `total`."""
    exact = [total * weight / sum(weights) for weight in weights]
    parts = [int(share) for share in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: parts[i] - exact[i])
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    return parts


def _group_sizes(
    school_grades: Sequence[tuple[str, ...]], students: int
) -> list[list[tuple[str, int]]]:
    """Per school, (grade, students) for each grade it teaches; pre-K is half a grade."""
    per_grade = split(students, [0.5 if grade == "PK" else 1.0 for grade in GRADES])
    shares: dict[str, list[int]] = {}
    for grade, count in zip(GRADES, per_grade, strict=True):
        schools = sum(1 for grades in school_grades if grade in grades)
        shares[grade] = split(count, [1.0] * schools)
    return [[(grade, shares[grade].pop(0)) for grade in grades] for grades in school_grades]


def _plan_school(
    staff: _Staffing, school: int, sizes: Sequence[tuple[str, int]], first_student: int
) -> list[GradeGroup]:
    groups = []
    slots: list[tuple[str, str | None]] = []  # (grade, subject or None for a homeroom)
    for grade, size in sizes:
        if size == 0:
            continue
        homerooms = max(1, round(size / CLASS_SIZE))
        second = max(1, round(size // 2 / CLASS_SIZE)) if size > 1 else 0
        first_class = len(staff.classes) + len(slots)
        groups.append(
            GradeGroup(school, grade, first_student, size, first_class, homerooms, second)
        )
        first_student += size
        subjects = ELEMENTARY_SUBJECTS if grade in ELEMENTARY else SECONDARY_SUBJECTS
        start = staff.rng.randrange(len(subjects))
        slots += [(grade, None)] * homerooms
        slots += [(grade, subjects[(start + k) % len(subjects)]) for k in range(second)]
    staff.add_classes(school, slots)
    return groups


def grade_label(grade: str) -> str:
    return {"PK": "Pre-K", "K": "Kindergarten"}.get(grade, f"Grade {grade}")


class _Staffing:
    """Builds educators and classes, keeping usernames and class names unique."""

    def __init__(
        self,
        rng: random.Random,
        domain: str,
        school_names: Sequence[str],
        class_products: dict[str, tuple[str, ...]],
    ) -> None:
        self.rng = rng
        self.domain = domain
        self.school_names = school_names
        self.class_products = class_products
        self.educators: list[PlannedEducator] = []
        self.classes: list[PlannedClass] = []
        self._usernames: set[str] = set()
        self._class_keys: set[str] = set()

    def add_educator(self, educator_type: str, school: int | None) -> int:
        first = FIRST_NAMES[self.rng.randrange(len(FIRST_NAMES))]
        last = LAST_NAMES[self.rng.randrange(len(LAST_NAMES))]
        number = len(self.educators) + 1
        external_id = f"E{number:06d}" if self.rng.random() < 0.85 else None
        self.educators.append(
            PlannedEducator(
                first, last, self._username(first, last), educator_type, school, external_id
            )
        )
        return number - 1

    def _username(self, first: str, last: str) -> str:
        stem = f"{ascii_slug(first) or 'x'}.{ascii_slug(last) or 'x'}"
        candidate, number = stem, 1
        while candidate in self._usernames:
            number += 1
            candidate = f"{stem}{number}"
        self._usernames.add(candidate)
        return f"{candidate}@{self.domain}"

    def add_classes(self, school: int, slots: Sequence[tuple[str, str | None]]) -> None:
        """The school's classes in order, each teacher taking the next one to three."""
        taken = 0
        while taken < len(slots):
            teacher = self.add_educator("Teacher", school)
            count = self.rng.choice((1, 2, 2, 3))
            for grade, subject in slots[taken : taken + count]:
                taken += 1
                self._add_class(school, grade, subject, teacher, room=100 + taken)

    def _add_class(
        self, school: int, grade: str, subject: str | None, teacher: int, room: int
    ) -> None:
        label = f"{grade_label(grade)} {subject}" if subject else grade_label(grade)
        name = f"{label} - {self.educators[teacher].last_name} - Room {room}"
        if name.lower() in self._class_keys:
            # Rooms are unique within a school, so the school's name makes it unique.
            name = f"{name} ({self.school_names[school]})"
        self._class_keys.add(name.lower())
        external_id = f"C{len(self.classes) + 1:06d}" if self.rng.random() < 0.8 else None
        self.classes.append(
            PlannedClass(school, grade, name, teacher, self._products(grade), external_id)
        )

    def _products(self, grade: str) -> tuple[str, ...]:
        suitable = self.class_products.get(grade, ())
        if not suitable or self.rng.random() >= 0.35:
            return ()
        return tuple(self.rng.sample(suitable, min(len(suitable), self.rng.choice((1, 2)))))
