"""Product catalog: reference data imported from 1C, never typed by hand."""

from __future__ import annotations

from pydantic import Field

from schemas.base import Command, EventPayload, Model, ShortText


class ProductRecord(Model):
    """One product as 1C describes it (CommerceML `Товар` or a CSV row)."""

    onec_id: ShortText = Field(description="1C Ид")
    sku: str = Field(default="", max_length=100, description="Артикул")
    name: ShortText
    unit: str = Field(default="шт", max_length=50)
    registry_code: str | None = Field(default=None, max_length=100, description="Roszdravnadzor register code")
    attributes: dict[str, str] = Field(default_factory=dict, description="ЗначенияРеквизитов")


class ImportCatalog(Command):
    """A parsed 1C catalog file (the HTTP route and the CLI parse CommerceML or CSV into this)."""

    source: ShortText = Field(description="File name or exchange id, for the import report")
    records: list[ProductRecord] = Field(min_length=1)


class ProductListed(EventPayload):
    product: ProductRecord


class ProductUpdated(EventPayload):
    product: ProductRecord
    changed_fields: list[str]


class ProductArchived(EventPayload):
    onec_id: str


class ProductRestored(EventPayload):
    product: ProductRecord


class CatalogImported(EventPayload):
    """One import run; lists hold 1C ids."""

    source: str
    listed: list[str]
    updated: list[str]
    archived: list[str]
    restored: list[str]
    unchanged: int
    without_registry_code: list[str] = Field(description="Products in the file lacking a register code")
