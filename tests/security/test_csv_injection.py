"""CSV injection: every exported text column writes a formula start neutralised (a leading
`'`), and importing the export again changes nothing. Driven by the column specs, so a new
text column is covered as soon as it is declared."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from schemas.codecs import ExternalIdCodec, TextCodec
from schemas.columns import Column, Entity, columns_for
from schemas.products import Product
from storage.db import unit_of_work
from storage.models import ClassGroup, Educator, Student
from tests.factories import SmallDistrict
from tests.security.walk import admin, exported, imported

TRIGGERS = ("=", "+", "-", "@", pytest.param("\t", id="tab"), pytest.param("\r", id="CR"))
MODELS: dict[Entity, Any] = {
    Entity.STUDENTS: Student,
    Entity.EDUCATORS: Educator,
    Entity.CLASSES: ClassGroup,
}


def text_columns(entity: Entity) -> list[Column]:
    """The free-text columns stored on the entity's own row."""
    model = MODELS[entity]
    return [
        column
        for column in columns_for(entity, list(Product))
        if isinstance(column.codec, TextCodec | ExternalIdCodec)
        and column.attr in model.__table__.columns
    ]


def plant(sessions: sessionmaker[Session], entity: Entity, district_id: int, trigger: str) -> int:
    """Every text cell of the entity's rows starts with `trigger`; answers the row count."""
    model = MODELS[entity]
    with unit_of_work(sessions) as session:
        found = session.scalars(select(model).where(model.district_id == district_id)).all()
        for n, row in enumerate(found):
            for column in text_columns(entity):
                setattr(row, column.attr, f"{trigger}{column.attr}{n}")
            if entity is Entity.CLASSES:
                row.name_key = row.name.lower()
        return len(found)


@pytest.mark.parametrize("trigger", TRIGGERS)
@pytest.mark.parametrize("entity", list(Entity), ids=lambda entity: entity.value)
def test_formula_starts_are_neutralised_on_export_and_restored_by_the_round_trip(
    client: TestClient,
    roster: SmallDistrict,
    sessions: sessionmaker[Session],
    entity: Entity,
    trigger: str,
) -> None:
    # given every text cell of the entity starting like a formula
    count = plant(sessions, entity, roster.district.id, trigger)
    headers = admin(roster)

    # when exported with every column
    optional = client.get(f"/v1/columns/{entity.value}", headers=headers).json()["optional"]
    every_column = {"entity": entity.value, "columns": [column["header"] for column in optional]}
    job, found = exported(client, headers, every_column)

    # then each such cell is written with a leading quote
    assert len(found) == count
    for column in text_columns(entity):
        for n, row in enumerate(sorted(found, key=lambda row: int(row["Database ID"]))):
            assert row[column.header].startswith(f"'{trigger}{column.attr}"), column.header
            assert row[column.header] != f"{trigger}{column.attr}{n}"

    # and importing the export again leaves every row unchanged
    again = imported(client, headers, entity.value, client.get(job["result_url"]).content)
    assert again["status"] == "completed", again
    assert again["counts"].get("unchanged") == count, again["counts"]
    _, after = exported(client, headers, every_column)
    assert after == found
