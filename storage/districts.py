"""Queries of districts, their schools and the products they purchased."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schemas.products import Product
from storage.models import District, PurchasedProduct, School


def find_district(session: Session, ref: str | int) -> District | None:
    """A district by id, or by name (case-insensitive) when `ref` is not a number."""
    if isinstance(ref, int) or str(ref).strip().isdigit():
        return session.get(District, int(ref))
    name = str(ref).strip().lower()
    return session.scalars(select(District).where(func.lower(District.name) == name)).first()


def purchased_products(session: Session, district_id: int) -> tuple[Product, ...]:
    """The district's products in the order of the `Product` enum (the column order)."""
    codes = set(
        session.scalars(
            select(PurchasedProduct.product).where(PurchasedProduct.district_id == district_id)
        )
    )
    return tuple(product for product in Product if product.code in codes)


def school_ids(session: Session, district_id: int) -> frozenset[int]:
    return frozenset(session.scalars(select(School.id).where(School.district_id == district_id)))


def find_school(session: Session, district_id: int, name: str) -> School | None:
    """A school of the district by name, case-insensitive and ignoring surrounding spaces."""
    statement = select(School).where(
        School.district_id == district_id, func.lower(School.name) == name.strip().lower()
    )
    return session.scalars(statement).first()
