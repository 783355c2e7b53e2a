"""Rows of a synthetic district (`storage.seed`), generated one at a time from its plan.

Each generator yields tuples in the order of its table's column list (`STUDENT_COLUMNS`, …),
with ids taken from the ranges in `IdRanges`. Students are drawn from one random stream in
plan order, so the same plan always yields the same students; their memberships follow from
the plan's grade groups without any random draw.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass

from schemas.codecs import GRADES
from schemas.products import PRODUCT_SETTINGS, SESSION_TIME_DEFAULT, Product
from storage.seed_names import FIRST_NAMES, HOME_LANGUAGES, LAST_NAMES, RACES, ascii_slug
from storage.seed_plan import Plan

Row = tuple[object, ...]

# The district's purchases; the other products stay unpurchased, as in most districts.
PURCHASED = (
    Product.LANGUAGE_LITERACY,
    Product.ESPANOL,
    Product.READING,
    Product.GALILEO,
    Product.MYPATH,
)
# Birth dates fit the grades of the 2025-26 school year, a constant so that seeding is repeatable.
SCHOOL_YEAR = 2025


@dataclass(frozen=True)
class IdRanges:
    """The district's id and the first id of the range each table's rows take."""

    district: int
    school: int
    educator: int
    klass: int
    student: int


# Share of a grade's students given each purchased product: (share, lowest, highest grade).
_ACCESS = {
    Product.LANGUAGE_LITERACY: (0.7, "PK", "5"),
    Product.ESPANOL: (0.15, "PK", "5"),
    Product.READING: (0.35, "K", "5"),
    Product.GALILEO: (0.6, "K", "12"),
    Product.MYPATH: (0.5, "2", "12"),
}
_SESSION_TIMES = (5, 10, 15, 25, 30, 45, 60, 90, 120)


def _access_rates(grade: str) -> tuple[float, ...]:
    """Chance of access to each product in `Product` order; none to unpurchased products."""
    position = GRADES.index(grade)
    rates = []
    for product in Product:
        share, lowest, highest = _ACCESS.get(product, (0.0, "PK", "12"))
        taught = GRADES.index(lowest) <= position <= GRADES.index(highest)
        rates.append(share if product in PURCHASED and taught else 0.0)
    return tuple(rates)


_RATES = {grade: _access_rates(grade) for grade in GRADES}
CLASS_PRODUCTS = {
    grade: tuple(p.code for p, rate in zip(Product, _RATES[grade], strict=True) if rate)
    for grade in GRADES
}


@dataclass(frozen=True)
class _SettingColumn:
    attr: str
    kind: str
    choices: tuple[str, ...]
    products: tuple[int, ...]  # positions in `Product` order of the products that use it


def _setting_columns() -> tuple[_SettingColumn, ...]:
    """One per settings column; `Session Time` is shared by two products."""
    order = list(Product)
    columns: dict[str, _SettingColumn] = {}
    for setting in PRODUCT_SETTINGS:
        known = columns[setting.attr].products if setting.attr in columns else ()
        products = (*known, order.index(setting.product))
        columns[setting.attr] = _SettingColumn(
            setting.attr, setting.kind, setting.choices, products
        )
    return tuple(columns.values())


_SETTINGS = _setting_columns()

STUDENT_COLUMNS = (
    "id",
    "district_id",
    "first_name",
    "last_name",
    "username",
    "username_key",
    "password_hash",
    "external_id",
    "grade",
    "birth_date",
    "gender",
    "race",
    "hispanic_or_latino",
    "english_learner",
    "special_education",
    "economically_disadvantaged",
    "home_language",
    "test_text_to_speech",
    "test_extended_time",
    *(product.access_attr for product in Product),
    *(column.attr for column in _SETTINGS),
)
EDUCATOR_COLUMNS = (
    "id",
    "district_id",
    "first_name",
    "last_name",
    "username",
    "username_key",
    "educator_type",
    "external_id",
)
CLASS_COLUMNS = ("id", "district_id", "school_id", "name", "name_key", "external_id")

_FIRST = tuple((name, ascii_slug(name) or "x") for name in FIRST_NAMES)
_LAST = tuple((name, (ascii_slug(name) or "x")[:20]) for name in LAST_NAMES)
# Earliest birth date of each grade's cohort: grade 1 turns 6 by September 1 of the school year.
_BIRTH_START = {
    grade: dt.date(SCHOOL_YEAR - 5 - position, 9, 2).toordinal()
    for position, grade in enumerate(GRADES)
}


@dataclass(frozen=True)
class _Shuffle:
    """A one-to-one map of the `width`-digit numbers that makes neighbours look unrelated.

    `i -> (i * a + b) mod 10**width` is one-to-one because `a` shares no factor with 10, and
    so is reading the digits backwards; two rounds of it scatter both the first and the last
    digits of consecutive numbers, with no memory of the numbers already given.
    """

    width: int
    multiplier: int
    offset: int

    @classmethod
    def drawn(cls, width: int, rng: random.Random) -> _Shuffle:
        # About 0.618 * 10**width (far from any simple fraction), odd and not a multiple of 5.
        multiplier = int(0.6180339887 * 10**width) | 1
        multiplier += 2 if multiplier % 5 == 0 else 0
        return cls(width, multiplier, rng.randrange(10**width))

    def __call__(self, index: int) -> str:
        modulus = 10**self.width
        once = f"{(index * self.multiplier + self.offset) % modulus:0{self.width}d}"
        return f"{(int(once[::-1]) * self.multiplier + self.offset) % modulus:0{self.width}d}"


@dataclass(frozen=True)
class _Codes:
    """Username numbers (four digits or more) and nine-digit external ids, zero-padded as SIS
    ids are, so that about one in ten starts with a zero."""

    username: _Shuffle
    external_id: _Shuffle

    @classmethod
    def drawn(cls, students: int, rng: random.Random) -> _Codes:
        width = max(4, len(str(students)))
        return cls(_Shuffle.drawn(width, rng), _Shuffle.drawn(9, rng))


def student_rows(plan: Plan, ids: IdRanges) -> Iterator[Row]:
    rng = random.Random(f"{plan.random_seed}:students")
    codes = _Codes.drawn(plan.students, rng)
    for group in plan.groups:
        for index in range(group.first_student, group.first_student + group.size):
            yield _student_row(rng, codes, index, group.grade, ids)


def _student_row(rng: random.Random, codes: _Codes, index: int, grade: str, ids: IdRanges) -> Row:
    """One row in `STUDENT_COLUMNS` order; the username is unique by its number."""
    first, first_slug = _FIRST[int(rng.random() * len(_FIRST))]
    last, last_slug = _LAST[int(rng.random() * len(_LAST))]
    if rng.random() < 0.1:  # some rosters keep capitals: uniqueness is case-insensitive
        username = f"{first_slug[0].upper()}{last_slug.capitalize()}{codes.username(index)}"
    else:
        username = f"{first_slug[0]}{last_slug}{codes.username(index)}"
    demographics = _demographics(rng, grade)
    return (
        ids.student + index,
        ids.district,
        first,
        last,
        username,
        username.lower(),
        None,
        codes.external_id(index),
        grade,
        *demographics,
        *_test_settings(rng),
        *_product_values(rng, grade, demographics[-1]),
    )


def _demographics(rng: random.Random, grade: str) -> Row:
    """Birth date … home language; all empty for about one student in eight."""
    if rng.random() < 0.12:
        return (None,) * 8
    held_back = 365 if rng.random() < 0.03 else 0
    birth = dt.date.fromordinal(_BIRTH_START[grade] + int(rng.random() * 365) - held_back)
    draw = rng.random()
    gender = "F" if draw < 0.485 else "M" if draw < 0.97 else "X"
    race = RACES[int(rng.random() * len(RACES))] if rng.random() < 0.95 else None
    hispanic = rng.random() < 0.27
    language = "Spanish" if hispanic and rng.random() < 0.5 else None
    language = language or HOME_LANGUAGES[int(rng.random() * len(HOME_LANGUAGES))]
    learner = language != "English" and rng.random() < 0.6
    return (
        birth,
        gender,
        race,
        hispanic,
        learner,
        rng.random() < 0.14,
        rng.random() < 0.45,
        language,
    )


def _test_settings(rng: random.Random) -> Row:
    if rng.random() < 0.2:
        return (None, None)
    return (rng.random() < 0.1, rng.random() < 0.08)


def _product_values(rng: random.Random, grade: str, home_language: object) -> Row:
    """Access to each product, then each setting: set where a product using it is given."""
    access = tuple(rng.random() < rate for rate in _RATES[grade])
    settings = tuple(
        _setting(rng, column, home_language) if any(access[i] for i in column.products) else None
        for column in _SETTINGS
    )
    return access + settings


def _setting(rng: random.Random, column: _SettingColumn, home_language: object) -> object:
    if column.kind == "minutes":
        return SESSION_TIME_DEFAULT if rng.random() < 0.7 else rng.choice(_SESSION_TIMES)
    if column.kind == "yes_no":
        return rng.random() < 0.6
    if home_language in column.choices and rng.random() < 0.8:
        return home_language
    return column.choices[0] if rng.random() < 0.85 else rng.choice(column.choices)


def school_rows(plan: Plan, ids: IdRanges) -> Iterator[Row]:
    for position, name in enumerate(plan.schools):
        yield (ids.school + position, ids.district, name)


def educator_rows(plan: Plan, ids: IdRanges) -> Iterator[Row]:
    for position, e in enumerate(plan.educators):
        yield (
            ids.educator + position,
            ids.district,
            e.first_name,
            e.last_name,
            e.username,
            e.username.lower(),
            e.educator_type,
            e.external_id,
        )


def educator_school_rows(plan: Plan, ids: IdRanges) -> Iterator[Row]:
    for position, educator in enumerate(plan.educators):
        every_school = range(len(plan.schools))
        for school in every_school if educator.school is None else (educator.school,):
            yield (ids.educator + position, ids.school + school)


def class_rows(plan: Plan, ids: IdRanges) -> Iterator[Row]:
    for position, c in enumerate(plan.classes):
        school = ids.school + c.school
        yield (ids.klass + position, ids.district, school, c.name, c.name.lower(), c.external_id)


def class_educator_rows(plan: Plan, ids: IdRanges) -> Iterator[Row]:
    for position, c in enumerate(plan.classes):
        yield (ids.klass + position, ids.educator + c.teacher)


def class_product_rows(plan: Plan, ids: IdRanges) -> Iterator[Row]:
    for position, c in enumerate(plan.classes):
        for code in c.products:
            yield (ids.klass + position, code)


def student_school_rows(plan: Plan, ids: IdRanges) -> Iterator[Row]:
    for group in plan.groups:
        school = ids.school + group.school
        for index in range(group.first_student, group.first_student + group.size):
            yield (ids.student + index, school)


def class_student_rows(plan: Plan, ids: IdRanges) -> Iterator[Row]:
    for group in plan.groups:
        for position in range(group.size):
            student = ids.student + group.first_student + position
            for index in group.classes_of(position):
                yield (ids.klass + index, student)
