"""An import batch's stored records are the export's rows: what the import compares against."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from jobs.import_spec import SPECS
from schemas.columns import Entity
from schemas.scope import Role, RosterFilter, Scope
from storage import educators, students
from storage.db import unit_of_work
from storage.models import StudentSchool
from tests import factories


def _roster(sessions: sessionmaker[Session]) -> tuple[int, list[int], list[int]]:
    """A district whose people have no class, one, or several; and schools named alike but
    for case (class names are unique whatever their case, school names are not)."""
    with unit_of_work(sessions) as session:
        roster = factories.small_district(session)
        north, south = roster.north, roster.south
        zebra = factories.class_group(session, south, "Zebra Club", educators=[roster.teacher])
        art = factories.class_group(session, north, "art club", educators=[roster.teacher])
        alone = factories.student(session, north, username="nobody")
        many = factories.student(session, north, [zebra, roster.class_a, art], username="many")
        for name in ("oak", "Oak"):
            school = factories.school(session, roster.district.id, name)
            session.add(StudentSchool(student_id=many.id, school_id=school.id))
        student_ids = [s.id for s in roster.students] + [alone.id, many.id]
        educator_ids = [roster.district_admin.id, roster.teacher.id, roster.other_teacher.id]
        return roster.district.id, student_ids, educator_ids


@pytest.mark.parametrize(
    ("entity", "module"), [(Entity.STUDENTS, students), (Entity.EDUCATORS, educators)]
)
def test_a_batch_loads_each_record_exactly_as_the_export_streams_it(
    sessions: sessionmaker[Session], entity: Entity, module: object
) -> None:
    # given
    district_id, student_ids, educator_ids = _roster(sessions)
    ids = tuple(student_ids if entity is Entity.STUDENTS else educator_ids)
    scope = Scope(district_id, 0, "admin", Role.DISTRICT_ADMIN, frozenset())

    # when
    with sessions() as session:
        loaded = list(SPECS[entity].load(session, scope, ids[1:]))
        streamed = list(
            module.stream_rows(session, scope, RosterFilter(ids=ids[1:]), batch_rows=10)  # type: ignore[attr-defined]
        )

    # then every record of the batch, each the same to the last list cell
    assert len(loaded) == len(ids) - 1
    assert sorted(loaded, key=lambda row: row["id"]) == streamed
    if entity is Entity.STUDENTS:
        many = next(row for row in loaded if row["username"] == "many")
        assert many["classes"][0] == "art club" and many["classes"][-1] == "Zebra Club"
        assert many["schools"][-2:] == ("Oak", "oak")
        assert next(row for row in loaded if row["username"] == "nobody")["classes"] == ()
