"""`GET /v1/columns/{entity}` and `GET /v1/templates/{entity}`: what the export dialog
shows, and an empty file to fill in for an import."""

from __future__ import annotations

import io
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.auth import ScopeDep
from api.deps import RuntimeDep
from api.errors import field_errors, responses
from api.models import ColumnOut, ColumnsOut, clean_text
from jobs.errors import RequestRefused
from jobs.export import write_table
from jobs.formats import CSV, TABLES, XLSX, layout_of
from schemas.columns import (
    Column,
    Entity,
    UnknownColumns,
    optional_columns,
    required_columns,
    select_columns,
)
from schemas.products import Product
from schemas.scope import Role, Scope
from storage import districts

router = APIRouter(prefix="/v1", tags=["columns"], responses=responses(401, 403, 503))

TEACHERS_AND_EDUCATORS = "Teachers cannot export or import educators; ask an administrator."


@router.get("/columns/{entity}", summary="The columns of an entity's CSV file")
def list_columns(entity: Entity, runtime: RuntimeDep, scope: ScopeDep) -> ColumnsOut:
    """Required columns (always exported, required on import) and optional ones, with the
    description shown on hover; product columns only for the district's products."""
    purchased = _purchased(runtime, scope, entity)
    return ColumnsOut(
        entity=entity,
        label=entity.label,
        required=[_column(column) for column in required_columns(entity)],
        optional=[_column(column) for column in optional_columns(entity, purchased)],
    )


@router.get(
    "/templates/{entity}",
    summary="An empty import template (the header row) as a CSV or XLSX file",
    response_class=Response,
    responses={
        200: {
            "content": {
                CSV.media_type: {"schema": {"type": "string"}},
                XLSX.media_type: {"schema": {"type": "string", "format": "binary"}},
            },
            "description": "The header row; as XLSX also text cells and drop-down lists",
        }
    },
)
def import_template(
    entity: Entity,
    runtime: RuntimeDep,
    scope: ScopeDep,
    columns: Annotated[
        str | None,
        Query(
            max_length=4000,
            description='Optional columns to add, comma-separated ("Birth Date,Gender"); '
            "the required ones are always there.",
        ),
    ] = None,
    file_format: Annotated[
        Literal["csv", "xlsx"],
        Query(alias="format", description="csv, or xlsx (text cells and drop-down lists)."),
    ] = "csv",
) -> Response:
    purchased = _purchased(runtime, scope, entity)
    names = _names(columns)
    try:
        chosen = select_columns(entity, names, purchased)
    except UnknownColumns as err:
        raise field_errors((("query", "columns"), str(err))) from err
    table = TABLES[file_format]
    out = io.BytesIO()
    layout = layout_of(chosen, sheet=entity.value.capitalize())
    write_table(out, chosen, (), table=table, layout=layout)
    filename = f"{entity.value}-template.{table.extension}"
    return Response(
        out.getvalue(),
        media_type=table.media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _purchased(runtime: RuntimeDep, scope: Scope, entity: Entity) -> tuple[Product, ...]:
    if entity is Entity.EDUCATORS and scope.role is Role.TEACHER:
        raise RequestRefused(TEACHERS_AND_EDUCATORS)
    with runtime.jobs.sessions() as session:
        return districts.purchased_products(session, scope.district_id)


def _names(columns: str | None) -> list[str]:
    try:
        text = clean_text(columns or "")
    except ValueError as err:
        raise field_errors((("query", "columns"), str(err))) from err
    return [name.strip() for name in text.split(",") if name.strip()]


def _column(column: Column) -> ColumnOut:
    return ColumnOut(
        header=column.header,
        description=column.description,
        group=column.group,
        product=column.product.value if column.product else None,
        multi=column.multi,
    )
