"""Catalog import from 1C: idempotent, archives what vanished, reports products without a register code."""

from __future__ import annotations

from dataclasses import replace

from aggregates.base import Context
from aggregates.catalog import Product, product_id
from commands.deps import Deps, Outcome
from schemas.catalog import ImportCatalog


def import_catalog(cmd: ImportCatalog, ctx: Context, deps: Deps) -> Outcome:
    catalog = deps.catalog()
    known = {onec_id: deps.store.get(Product, product_id(onec_id)) for onec_id in catalog.known}
    report, changed = catalog.import_records(ctx, cmd.source, cmd.records, known)
    outcome = deps.save(catalog, *changed)
    return replace(outcome, report=report.model_dump(mode="json"))
