"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from storage.models import Base


def test_the_migrated_schema_matches_the_models(engine: Engine) -> None:
    # given a database migrated by `rosterjobs db upgrade` (the fixtures do that)
    with engine.connect() as connection:
        # when
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)

    # then
    assert differences == []
