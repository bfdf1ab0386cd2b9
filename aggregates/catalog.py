"""The product catalog: products mirror 1C; the catalog knows which are active."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from aggregates.base import Aggregate, Context, on, stable_id
from aggregates.errors import ForbiddenError, InvalidValueError
from schemas.catalog import (
    CatalogImported,
    ProductArchived,
    ProductListed,
    ProductRecord,
    ProductRestored,
    ProductUpdated,
)
from schemas.employees import Role

CATALOG_ID = stable_id("catalog", "main")


def product_id(onec_id: str) -> UUID:
    return stable_id("product", onec_id)


class Product(Aggregate):
    record: ProductRecord
    archived: bool

    @classmethod
    def list(cls, ctx: Context, record: ProductRecord) -> Product:
        product = cls.blank(product_id(record.onec_id))
        product._record(ctx, ProductListed(product=record))
        return product

    def sync(self, ctx: Context, record: ProductRecord) -> str:
        """Bring the product in line with 1C; answers what happened."""
        if self.archived:
            self._record(ctx, ProductRestored(product=record))
            return "restored"
        changed = [f for f in ProductRecord.model_fields if getattr(record, f) != getattr(self.record, f)]
        if not changed:
            return "unchanged"
        self._record(ctx, ProductUpdated(product=record, changed_fields=changed))
        return "updated"

    def archive(self, ctx: Context) -> None:
        if not self.archived:
            self._record(ctx, ProductArchived(onec_id=self.record.onec_id))

    @on(ProductListed)
    def _listed(self, e: ProductListed) -> None:
        self.record, self.archived = e.product, False

    @on(ProductUpdated)
    def _updated(self, e: ProductUpdated) -> None:
        self.record = e.product

    @on(ProductRestored)
    def _restored(self, e: ProductRestored) -> None:
        self.record, self.archived = e.product, False

    @on(ProductArchived)
    def _archived(self, e: ProductArchived) -> None:
        self.archived = True


class Catalog(Aggregate):
    """Knows every product ever imported (by 1C id) and which are active."""

    def __init__(self) -> None:
        super().__init__(CATALOG_ID)
        self.known: set[str] = set()
        self.active: set[str] = set()
        self._active_ids: set[UUID] = set()

    @classmethod
    def blank(cls, id: UUID) -> Catalog:
        return cls()

    def require_products(self, field: str, ids: Iterable[UUID]) -> None:
        unknown = [str(i) for i in ids if i not in self._active_ids]
        if unknown:
            raise InvalidValueError(field, f"not in the product catalog: {', '.join(unknown)}")

    def import_records(
        self, ctx: Context, source: str, records: list[ProductRecord], products: dict[str, Product]
    ) -> tuple[CatalogImported, list[Product]]:
        """Sync the catalog with a 1C file. `products` holds the known products by 1C id.

        Unchanged products give no events, and an import that changes nothing records nothing.
        """
        if not (ctx.is_head_of_sales or ctx.role is Role.INTEGRATION):
            raise ForbiddenError("only the head of sales or an integration may import the catalog")
        outcome: dict[str, list[str]] = {"listed": [], "updated": [], "restored": [], "archived": []}
        touched: list[Product] = []
        for record in records:
            product = products.get(record.onec_id)
            if product is None:
                product, result = Product.list(ctx, record), "listed"
            else:
                result = product.sync(ctx, record)
            if result != "unchanged":
                outcome[result].append(record.onec_id)
                touched.append(product)
        for onec_id in sorted(self.active - {r.onec_id for r in records}):
            products[onec_id].archive(ctx)
            outcome["archived"].append(onec_id)
            touched.append(products[onec_id])
        report = CatalogImported(
            source=source,
            unchanged=len(records) - sum(len(v) for k, v in outcome.items() if k != "archived"),
            without_registry_code=[r.onec_id for r in records if not r.registry_code],
            **outcome,
        )
        if touched:
            self._record(ctx, report)
        return report, touched

    @on(CatalogImported)
    def _imported(self, e: CatalogImported) -> None:
        self.known |= set(e.listed)
        self.active = (self.active | set(e.listed) | set(e.restored)) - set(e.archived)
        self._active_ids = {product_id(i) for i in self.active}
