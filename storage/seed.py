"""A realistic synthetic district for demos, benchmarks and tests (`rosterjobs seed`).

First the district is planned in memory: schools, grade groups, classes and educators (a few
tens of thousands of small records even for a million students). Students and their
memberships are never held: they are generated row by row while they are written, and
memberships follow from arithmetic on the plan (student `i` of a grade group is in homeroom
`i mod homerooms`, and every other student also in one second class).

Ids are assigned here rather than by the database, so memberships are written without reading
ids back. On Postgres a range of each table's sequence is reserved up front and rows go in
with `COPY`; on SQLite ids continue from `max(id)` read inside the seeding transaction and
rows go in with `executemany` in chunks. The district is written in one transaction: it
appears complete or not at all. The same arguments and `random_seed` give the same data,
apart from database ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, cast

from sqlalchemy import Connection, Engine, delete, func, insert, select, text

from storage.models import (
    Base,
    ClassGroup,
    ClassStudent,
    District,
    Educator,
    EducatorSchool,
    School,
    Student,
    StudentSchool,
)
from storage.seed_plan import Plan, plan_district
from storage.seed_rows import (
    CLASS_COLUMNS,
    CLASS_PRODUCTS,
    EDUCATOR_COLUMNS,
    PURCHASED,
    STUDENT_COLUMNS,
    IdRanges,
    Row,
    class_educator_rows,
    class_product_rows,
    class_rows,
    class_student_rows,
    educator_rows,
    educator_school_rows,
    school_rows,
    student_rows,
    student_school_rows,
)

CHUNK = 5_000
MAX_STUDENTS = 100_000_000
Write = Callable[[str, Sequence[str], Iterable[Row]], None]


@dataclass(frozen=True)
class SeedSummary:
    district_id: int
    district_admin: str  # username
    school_admins: tuple[str, ...]
    teachers: tuple[str, ...]
    students: int  # students in the district
    created: bool  # False when the district already existed and was left as it was


def seed_district(
    engine: Engine,
    *,
    name: str,
    students: int,
    schools: int | None = None,
    random_seed: int = 0,
    replace: bool = False,
    progress: Callable[[int], None] | None = None,
) -> SeedSummary:
    """Create district `name` with `students` students, or leave an existing one as it is.

    A district whose name matches case-insensitively counts as existing: without `replace`
    its summary (read from the database) is returned with `created=False`; with `replace` it
    is deleted (its job records too) and seeded again. `schools` defaults to one per 500
    students, at most 200. `progress` is called with the number of students written after
    every chunk of 5,000.
    """
    if not 0 <= students <= MAX_STUDENTS:
        raise ValueError(f"students must be between 0 and {MAX_STUDENTS}")
    if schools is not None and schools < 1:
        raise ValueError("a district needs at least one school")
    with engine.connect() as connection:
        existing = _district_named(connection, name)
        if existing is not None and not replace:
            return _stored_summary(connection, existing)
    plan = plan_district(
        name=name,
        students=students,
        schools=schools,
        random_seed=random_seed,
        products=PURCHASED,
        class_products=CLASS_PRODUCTS,
    )
    seed = _seed_postgres if engine.dialect.name == "postgresql" else _seed_sqlite
    return _planned_summary(plan, seed(engine, plan, replace, progress))


_ID_TABLES = ("schools", "educators", "classes", "students")


def _seed_postgres(
    engine: Engine, plan: Plan, replace: bool, progress: Callable[[int], None] | None
) -> int:
    counts = (len(plan.schools), len(plan.educators), len(plan.classes), plan.students)
    firsts = _reserve_postgres_ids(engine, dict(zip(_ID_TABLES, counts, strict=True)))
    with engine.begin() as connection:
        district_id = _insert_district(connection, plan.name, replace)
        _write_district(plan, IdRanges(district_id, *firsts), _copy_writer(connection), progress)
    _analyze(engine)
    return district_id


def _analyze(engine: Engine) -> None:
    """Refresh the planner's statistics after a bulk load: with the counts of empty tables,
    Postgres plans the export's per-student subqueries as scans of whole tables."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))


def _seed_sqlite(
    engine: Engine, plan: Plan, replace: bool, progress: Callable[[int], None] | None
) -> int:
    with engine.begin() as connection:
        # The district insert takes SQLite's write lock, so max(id) stays ours to continue.
        district_id = _insert_district(connection, plan.name, replace)
        firsts = [_next_sqlite_id(connection, table) for table in _ID_TABLES]
        _write_district(plan, IdRanges(district_id, *firsts), _insert_writer(connection), progress)
    return district_id


def _reserve_postgres_ids(engine: Engine, counts: dict[str, int]) -> list[int]:
    """Take `count` consecutive ids from each table's sequence, in a short transaction of its own.

    The table lock conflicts with INSERT's, so no other row can draw from the sequence
    between `nextval` and `setval`; it is held for milliseconds, not for the whole seeding.
    """
    firsts = []
    with engine.begin() as connection:
        for table, count in counts.items():
            connection.execute(text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
            first = connection.execute(
                text("SELECT nextval(pg_get_serial_sequence(:table, 'id'))"), {"table": table}
            ).scalar_one()
            if count > 1:
                connection.execute(
                    text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :last)"),
                    {"table": table, "last": first + count - 1},
                )
            firsts.append(int(first))
    return firsts


def _next_sqlite_id(connection: Connection, table: str) -> int:
    column = Base.metadata.tables[table].c.id
    return int(connection.execute(select(func.coalesce(func.max(column), 0) + 1)).scalar_one())


def _district_named(connection: Connection, name: str) -> int | None:
    statement = select(District.id).where(func.lower(District.name) == name.strip().lower())
    return connection.execute(statement).scalar()


def _insert_district(connection: Connection, name: str, replace: bool) -> int:
    existing = _district_named(connection, name) if replace else None
    if existing is not None:
        _delete_district(connection, existing)
    statement = insert(District).values(name=name.strip()).returning(District.id)
    return int(connection.execute(statement).scalar_one())


def _delete_district(connection: Connection, district_id: int) -> None:
    """Delete the district; memberships first, in bulk, so the cascades find nothing to do."""
    classes = select(ClassGroup.id).where(ClassGroup.district_id == district_id)
    students = select(Student.id).where(Student.district_id == district_id)
    educators = select(Educator.id).where(Educator.district_id == district_id)
    for table, column, ids in (
        (ClassStudent, ClassStudent.class_id, classes),
        (StudentSchool, StudentSchool.student_id, students),
        (EducatorSchool, EducatorSchool.educator_id, educators),
    ):
        connection.execute(delete(table).where(column.in_(ids)))
    connection.execute(delete(ClassGroup).where(ClassGroup.district_id == district_id))
    connection.execute(delete(Student).where(Student.district_id == district_id))
    connection.execute(delete(District).where(District.id == district_id))


def _copy_writer(connection: Connection) -> Write:
    from psycopg import Connection as PsycopgConnection
    from psycopg import sql

    driver = cast("PsycopgConnection[Any]", connection.connection.driver_connection)

    def write(table: str, columns: Sequence[str], rows: Iterable[Row]) -> None:
        names = sql.SQL(", ").join(sql.Identifier(column) for column in columns)
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table), names)
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    return write


def _insert_writer(connection: Connection) -> Write:
    def write(table: str, columns: Sequence[str], rows: Iterable[Row]) -> None:
        statement = insert(Base.metadata.tables[table])
        for chunk in _chunks(rows):
            connection.execute(statement, [dict(zip(columns, row, strict=True)) for row in chunk])

    return write


def _chunks(rows: Iterable[Row]) -> Iterator[list[Row]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, CHUNK)):
        yield chunk


def _write_district(
    plan: Plan, ids: IdRanges, write: Write, progress: Callable[[int], None] | None
) -> None:
    """Every table of the district, parents before the rows that refer to them."""
    purchased = [(ids.district, product.code) for product in plan.products]
    write("purchased_products", ("district_id", "product"), purchased)
    write("schools", ("id", "district_id", "name"), school_rows(plan, ids))
    write("educators", EDUCATOR_COLUMNS, educator_rows(plan, ids))
    write("educator_schools", ("educator_id", "school_id"), educator_school_rows(plan, ids))
    write("classes", CLASS_COLUMNS, class_rows(plan, ids))
    write("class_educators", ("class_id", "educator_id"), class_educator_rows(plan, ids))
    write("class_products", ("class_id", "product"), class_product_rows(plan, ids))
    done = 0
    for chunk in _chunks(student_rows(plan, ids)):
        write("students", STUDENT_COLUMNS, chunk)
        done += len(chunk)
        if progress is not None:
            progress(done)
    write("student_schools", ("student_id", "school_id"), student_school_rows(plan, ids))
    write("class_students", ("class_id", "student_id"), class_student_rows(plan, ids))


def _planned_summary(plan: Plan, district_id: int) -> SeedSummary:
    admins = [e.username for e in plan.educators if e.educator_type == "Admin"]
    teachers = tuple(e.username for e in plan.educators if e.educator_type == "Teacher")
    return SeedSummary(
        district_id, admins[0], tuple(admins[1:]), teachers, plan.students, created=True
    )


def _stored_summary(connection: Connection, district_id: int) -> SeedSummary:
    """The summary of a stored district, read back the way `_planned_summary` builds it.

    The district admin is the first Admin (by id) assigned to every school: in a district of
    one school its school admin is assigned to every school too, and comes after.
    """
    schools = connection.execute(
        select(func.count()).select_from(School).where(School.district_id == district_id)
    ).scalar_one()
    assigned = (
        select(func.count()).where(EducatorSchool.educator_id == Educator.id).scalar_subquery()
    )
    mine = Educator.district_id == district_id
    admins = connection.execute(
        select(Educator.username, assigned)
        .where(mine, Educator.educator_type == "Admin")
        .order_by(Educator.id)
    ).all()
    district_admin = next((user for user, count in admins if schools and count == schools), "")
    teachers = connection.execute(
        select(Educator.username)
        .where(mine, Educator.educator_type == "Teacher")
        .order_by(Educator.id)
    ).scalars()
    students = connection.execute(
        select(func.count()).select_from(Student).where(Student.district_id == district_id)
    ).scalar_one()
    return SeedSummary(
        district_id,
        district_admin,
        tuple(u for u, _ in admins if u != district_admin),
        tuple(teachers),
        students,
        created=False,
    )
