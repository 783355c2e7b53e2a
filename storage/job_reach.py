"""Which jobs an educator may see (`api.job_access` answers with it; a commit or a revert
asks it too, from the CLI as from the API):

- a district admin: every job of the district;
- a school admin: their own jobs, and those requested by teachers whose schools are all
  among the admin's schools;
- a teacher: the jobs they requested.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, false, or_, select
from sqlalchemy.orm import Session

from schemas.scope import Role, Scope
from storage.models import Educator, EducatorSchool, Job


def visible_to(scope: Scope) -> ColumnElement[bool]:
    """The jobs `scope` may see, as a condition on `Job`."""
    in_district = Job.district_id == scope.district_id
    mine = Job.requested_by_id == scope.educator_id
    if scope.role is Role.DISTRICT_ADMIN:
        return in_district
    if scope.role is Role.TEACHER:
        return and_(in_district, mine)
    return and_(in_district, or_(mine, _teacher_only_in(scope.school_ids)))


def _teacher_only_in(school_ids: frozenset[int]) -> ColumnElement[bool]:
    if not school_ids:
        return false()
    is_teacher = exists().where(
        Educator.id == Job.requested_by_id, Educator.educator_type == "Teacher"
    )
    inside = exists().where(
        EducatorSchool.educator_id == Job.requested_by_id,
        EducatorSchool.school_id.in_(school_ids),
    )
    outside = exists().where(
        EducatorSchool.educator_id == Job.requested_by_id,
        EducatorSchool.school_id.not_in(school_ids),
    )
    return and_(is_teacher, inside, ~outside)


def may_see(session: Session, scope: Scope, job_id: str) -> bool:
    """Whether `scope` may see the job (of its own district)."""
    found = session.scalar(select(Job.id).where(Job.id == job_id, visible_to(scope)))
    return found is not None
