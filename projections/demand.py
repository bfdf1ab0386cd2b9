"""Demand: needed quantities by product, period and outcome — the stated purpose of the needs registry.

One row per (need, product); the outcome follows the need (open, converted, cancelled with its
reason, duplicate). Reports sum the rows, so a changed need simply replaces its rows.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, Integer, MetaData, Numeric, String, Table, Uuid, bindparam, delete, exists, select

from projections.base import add_row, insert, Projection
from projections.writes import Write, newer_row
from schemas.base import Event
from schemas.needs import NeedCancelled, NeedClosedAsDuplicate, NeedConverted, NeedItemsChanged, NeedRegistered

metadata = MetaData()
demand = Table(
    "demand_v1",
    metadata,
    Column("need_id", Uuid, primary_key=True),
    Column("product_id", Uuid, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("quantity", Numeric(14, 3), nullable=False),
    Column("period_start", Date, nullable=False, index=True),
    Column("period_end", Date, nullable=False),
    Column("channel", String, nullable=False),
    Column("outcome", String, nullable=False),
    Column("reason", String),
)
versions = Table(  # the version each need's rows reflect: a repeat or an older event changes nothing
    "demand_need_versions_v1",
    metadata,
    Column("need_id", Uuid, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("channel", String, nullable=False),
    Column("outcome", String, nullable=False),
    Column("reason", String),
)
DemandProjection = Projection("demand", 1, metadata)


COLUMNS = ["need_id", "product_id", "version", "quantity", "period_start", "period_end", "channel", "outcome", "reason"]
ITEM = ["need_id", "product_id", "version", "quantity", "period_start", "period_end"]


def _param(column: str):
    return bindparam(f"w_{column}", type_=demand.c[column].type)


def _head_of_this_need():
    return versions.c.need_id == _param("need_id")


# Statement templates, built once (see projections.writes): one row per item, guarded against repeats.
FIRST_ITEMS = insert(demand).from_select(
    COLUMNS, select(*map(_param, COLUMNS)).where(~exists().where(_head_of_this_need()))
)
NEWER_ITEMS = insert(demand).from_select(
    COLUMNS,
    select(*map(_param, ITEM), versions.c.channel, versions.c.outcome, versions.c.reason)
    .where(_head_of_this_need(), versions.c.version < _param("version")),
)  # fmt: skip
STALE_ITEMS = delete(demand).where(
    demand.c.need_id == _param("need_id"),
    exists().where(_head_of_this_need(), versions.c.version < _param("version")),
)


def _items(event: Event, items, template, **tail) -> list[Write]:
    return [
        Write(template, {"w_need_id": event.originator_id, "w_product_id": item.product_id, "w_version": event.originator_version,
                         "w_quantity": item.quantity, "w_period_start": item.period.start, "w_period_end": item.period.end,
                         **{f"w_{k}": v for k, v in tail.items()}})
        for item in items
    ]  # fmt: skip


@DemandProjection.on(NeedRegistered)
def _registered(event: Event):
    p: NeedRegistered = event.payload
    head = add_row(versions, need_id=event.originator_id, version=event.originator_version, channel=p.channel, outcome="open")
    return [*_items(event, p.items, FIRST_ITEMS, channel=p.channel, outcome="open", reason=None), head]


@DemandProjection.on(NeedItemsChanged)
def _items_changed(event: Event):
    """Replace the need's rows, but only when this event is newer than them."""
    stale = Write(STALE_ITEMS, {"w_need_id": event.originator_id, "w_version": event.originator_version})
    bump = newer_row(versions, event.originator_id, event.originator_version)
    return [stale, *_items(event, event.payload.items, NEWER_ITEMS), bump]


def _outcome(outcome: str, reason=lambda p: None):
    def handler(event: Event):
        values = {"outcome": outcome, "reason": reason(event.payload)}
        return [newer_row(table, event.originator_id, event.originator_version, **values) for table in (demand, versions)]

    return handler


DemandProjection.on(NeedConverted)(_outcome("converted"))
DemandProjection.on(NeedCancelled)(_outcome("cancelled", lambda p: p.reason))
DemandProjection.on(NeedClosedAsDuplicate)(_outcome("duplicate"))
