"""Factories for roster rows: valid defaults, every field overridable.

`small_district` builds the roster most tests share: two schools, a district admin, a school
admin of the first school, two teachers, three classes and students whose names carry
accents, apostrophes and formula-looking starts.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from schemas.products import Product
from storage.models import (
    ClassEducator,
    ClassGroup,
    ClassProduct,
    ClassStudent,
    District,
    Educator,
    EducatorSchool,
    PurchasedProduct,
    School,
    Student,
    StudentSchool,
)

_numbers = itertools.count(1)


def district(
    session: Session, name: str | None = None, products: tuple[Product, ...] = ()
) -> District:
    row = District(name=name or f"District {next(_numbers)}")
    session.add(row)
    session.flush()
    for product in products:
        session.add(PurchasedProduct(district_id=row.id, product=product.code))
    return row


def school(session: Session, district_id: int, name: str | None = None) -> School:
    row = School(district_id=district_id, name=name or f"School {next(_numbers)}")
    session.add(row)
    session.flush()
    return row


def educator(session: Session, district_id: int, schools: list[School], **fields: Any) -> Educator:
    n = next(_numbers)
    values: dict[str, Any] = {
        "first_name": "Ada",
        "last_name": f"Teacher{n}",
        "username": f"teacher{n}@example.org",
        "educator_type": "Teacher",
        "external_id": None,
    } | fields
    row = Educator(district_id=district_id, username_key=values["username"].lower(), **values)
    session.add(row)
    session.flush()
    session.add_all(EducatorSchool(educator_id=row.id, school_id=s.id) for s in schools)
    return row


def class_group(
    session: Session,
    school: School,
    name: str | None = None,
    *,
    educators: Sequence[Educator] = (),
    products: tuple[Product, ...] = (),
    external_id: str | None = None,
) -> ClassGroup:
    label = name or f"Class {next(_numbers)}"
    row = ClassGroup(
        district_id=school.district_id,
        school_id=school.id,
        name=label,
        name_key=label.lower(),
        external_id=external_id,
    )
    session.add(row)
    session.flush()
    session.add_all(ClassEducator(class_id=row.id, educator_id=e.id) for e in educators)
    session.add_all(ClassProduct(class_id=row.id, product=p.code) for p in products)
    return row


def student(
    session: Session,
    school: School,
    classes: list[ClassGroup] = (),  # type: ignore[assignment]
    **fields: Any,
) -> Student:
    n = next(_numbers)
    values: dict[str, Any] = {
        "first_name": "Sam",
        "last_name": f"Student{n}",
        "username": f"student{n}",
        "external_id": f"{n:09d}",
        "grade": "3",
    } | fields
    row = Student(district_id=school.district_id, username_key=values["username"].lower(), **values)
    session.add(row)
    session.flush()
    session.add(StudentSchool(student_id=row.id, school_id=school.id))
    session.add_all(ClassStudent(class_id=c.id, student_id=row.id) for c in classes)
    session.flush()
    return row


@dataclass
class SmallDistrict:
    district: District
    north: School
    south: School
    district_admin: Educator
    school_admin: Educator
    teacher: Educator
    other_teacher: Educator
    class_a: ClassGroup
    class_b: ClassGroup
    class_c: ClassGroup
    students: list[Student] = field(default_factory=list)


def small_district(session: Session, name: str = "Riverside Unified") -> SmallDistrict:
    """North school: classes A (teacher) and B (other teacher); South school: class C."""
    products = (Product.LANGUAGE_LITERACY, Product.READING, Product.GALILEO)
    d = district(session, name, products)
    north, south = school(session, d.id, "North Elementary"), school(session, d.id, "South Middle")
    admin = educator(
        session,
        d.id,
        [north, south],
        educator_type="Admin",
        first_name="Dana",
        last_name="Admin",
        username=f"admin@{d.id}.example.org",
    )
    school_admin = educator(
        session,
        d.id,
        [north],
        educator_type="Admin",
        first_name="Noor",
        last_name="North",
        username=f"north@{d.id}.example.org",
    )
    teacher = educator(
        session,
        d.id,
        [north],
        first_name="Zoë",
        last_name="O'Brien",
        username=f"zoe.obrien@{d.id}.example.org",
        external_id="T-001",
    )
    other = educator(
        session,
        d.id,
        [north, south],
        first_name="José",
        last_name="Muñoz",
        username=f"jose.munoz@{d.id}.example.org",
    )
    a = class_group(
        session,
        north,
        "Grade 3 - O'Brien",
        educators=[teacher],
        products=(Product.LANGUAGE_LITERACY,),
        external_id="C-1",
    )
    b = class_group(session, north, "Grade 4 - Muñoz", educators=[other])
    c = class_group(session, south, "Grade 7 - Muñoz", educators=[other], external_id="-7")
    roster = SmallDistrict(d, north, south, admin, school_admin, teacher, other, a, b, c)
    roster.students = [
        student(
            session,
            north,
            [a],
            first_name="José",
            last_name="García",
            username="jgarcia",
            external_id="000123",
            grade="3",
            birth_date=dt.date(2016, 4, 9),
            gender="M",
            hispanic_or_latino=True,
            english_learner=True,
            home_language="Spanish",
            access_ill=True,
            session_time=25,
            ill_language_support="Spanish",
            access_reading=True,
            reading_audio_support=True,
        ),
        student(
            session,
            north,
            [a, b],
            first_name="Zoë",
            last_name="D'Angelo",
            username="zdangelo",
            external_id="000124",
            grade="K",
            gender="F",
            test_text_to_speech=True,
        ),
        student(
            session,
            north,
            [b],
            first_name='=HYPERLINK("x")',
            last_name="-Smith",
            username="formula1",
            external_id="+44",
            grade="4",
            race="@risk",
        ),
        student(
            session,
            south,
            [c],
            first_name="Amélie",
            last_name="Nguyễn",
            username="anguyen",
            external_id="A-77",
            grade="7",
            access_galileo=True,
        ),
    ]
    session.flush()
    return roster
