"""The title a printed export carries: whose roster, what, which rows, when.

`Lincoln USD — Students — grade 5, school Lincoln Elementary — 2026-12-07`: the district's
name, the entity, the filter in words (`no filter` for none) and the day it was made.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from schemas.columns import Entity
from schemas.scope import RosterFilter
from storage import districts
from storage.models import ClassGroup, School

ENTITY_WORDS = {
    Entity.STUDENTS: "Students",
    Entity.EDUCATORS: "Educators",
    Entity.CLASSES: "Classes/Groups",
}


def export_title(
    session: Session, *, district_id: int, entity: Entity, roster_filter: RosterFilter, day: dt.date
) -> str:
    district = districts.find_district(session, district_id)
    parts = (
        district.name if district else f"District {district_id}",
        ENTITY_WORDS[entity],
        filter_words(session, roster_filter),
        day.isoformat(),
    )
    return " — ".join(parts)


def filter_words(session: Session, roster_filter: RosterFilter) -> str:
    """The filter as a person would say it: `grade 5, school Lincoln Elementary`."""
    school = session.get(School, roster_filter.school_id) if roster_filter.school_id else None
    found = session.get(ClassGroup, roster_filter.class_id) if roster_filter.class_id else None
    ids = len(roster_filter.ids)
    words = [
        f"grade {roster_filter.grade}" if roster_filter.grade else "",
        f"school {school.name}" if school else "",
        f"class/group {found.name}" if found else "",
        f"product {roster_filter.product.value}" if roster_filter.product else "",
        f"search “{roster_filter.search}”" if roster_filter.search else "",
        f"{ids} selected row{'s' if ids != 1 else ''}" if ids else "",
    ]
    return ", ".join(word for word in words if word) or "no filter"
