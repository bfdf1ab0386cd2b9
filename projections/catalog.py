"""The product catalog as read model: names and units for lists and prints."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, MetaData, String, Table, Uuid, update

from projections.base import insert, Projection
from schemas.base import Event
from schemas.catalog import ProductArchived, ProductListed, ProductRestored, ProductUpdated

metadata = MetaData()
products = Table(
    "products_v1",
    metadata,
    Column("product_id", Uuid, primary_key=True),
    Column("onec_id", String, nullable=False),
    Column("sku", String, nullable=False),
    Column("name", String, nullable=False),
    Column("unit", String, nullable=False),
    Column("registry_code", String),
    Column("archived", Boolean, nullable=False),
)
CatalogProjection = Projection("catalog", 1, metadata)


def upsert(event: Event, archived: bool):
    r = event.payload.product
    row = dict(product_id=event.originator_id, onec_id=r.onec_id, sku=r.sku, name=r.name, unit=r.unit,
               registry_code=r.registry_code, archived=archived)  # fmt: skip
    return [insert(products).values(**row).on_conflict_do_update(index_elements=["product_id"], set_=row)]


CatalogProjection.on(ProductListed)(lambda e: upsert(e, False))
CatalogProjection.on(ProductUpdated)(lambda e: upsert(e, False))
CatalogProjection.on(ProductRestored)(lambda e: upsert(e, False))
CatalogProjection.on(ProductArchived)(
    lambda e: [update(products).where(products.c.product_id == e.originator_id).values(archived=True)]
)
