"""Roles come from the roster: who is a district admin, a school admin or a teacher."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from jobs.errors import RequestRefused
from jobs.requests import resolve_scope
from schemas.scope import Role
from storage.db import unit_of_work
from tests import factories


def test_roles_follow_the_educator_type_and_the_schools_assigned(
    sessions: sessionmaker[Session],
) -> None:
    # given
    with unit_of_work(sessions) as session:
        roster = factories.small_district(session)

    # when
    with sessions() as session:
        district = str(roster.district.id)
        admin = resolve_scope(session, district, roster.district_admin.username.upper())
        school_admin = resolve_scope(session, district, roster.school_admin.username)
        teacher = resolve_scope(session, roster.district.name, roster.other_teacher.username)

    # then
    assert admin.role is Role.DISTRICT_ADMIN
    assert school_admin.role is Role.SCHOOL_ADMIN
    assert school_admin.school_ids == {roster.north.id}
    # a teacher in every school is still a teacher
    assert teacher.role is Role.TEACHER
    assert teacher.school_ids == {roster.north.id, roster.south.id}


def test_an_educator_of_another_district_is_unknown_here(sessions: sessionmaker[Session]) -> None:
    # given
    with unit_of_work(sessions) as session:
        here = factories.small_district(session, "Here")
        there = factories.small_district(session, "There")

    # when / then
    with sessions() as session, pytest.raises(RequestRefused, match="No educator"):
        resolve_scope(session, str(here.district.id), there.district_admin.username)
