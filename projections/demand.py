"""Demand: needed quantities by product, period and outcome — the stated purpose of the needs registry.

One row per (need, product); the outcome follows the need (open, converted, cancelled with its
reason, duplicate). Reports sum the rows, so a changed need simply replaces its rows.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, Integer, MetaData, Numeric, String, Table, Uuid, delete, literal, select, union_all, update
from sqlalchemy.sql import Executable

from projections.base import insert, Projection
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


def _item_rows(event: Event, items, tail: tuple, where) -> Executable:
    """Insert one row per item; `tail` gives channel, outcome and reason; `where` guards against repeats."""
    parts = [
        select(
            literal(event.originator_id, Uuid), literal(item.product_id, Uuid), literal(event.originator_version),
            literal(item.quantity, Numeric(14, 3)), literal(item.period.start, Date), literal(item.period.end, Date),
            *tail,
        ).where(where)
        for item in items
    ]  # fmt: skip
    return insert(demand).from_select(COLUMNS, union_all(*parts))


def _head(need_id):
    return select(versions).where(versions.c.need_id == need_id)


@DemandProjection.on(NeedRegistered)
def _registered(event: Event):
    p: NeedRegistered = event.payload
    tail = (literal(p.channel), literal("open"), literal(None, String))
    first_time = ~_head(event.originator_id).exists()
    head = insert(versions).values(need_id=event.originator_id, version=event.originator_version, channel=p.channel,
                                   outcome="open").on_conflict_do_nothing()  # fmt: skip
    return [_item_rows(event, p.items, tail, first_time), head]


@DemandProjection.on(NeedItemsChanged)
def _items_changed(event: Event):
    """Replace the need's rows, but only when this event is newer than them."""
    newer = versions.c.version < event.originator_version
    stale = _head(event.originator_id).where(newer).exists()
    replace = delete(demand).where(demand.c.need_id == event.originator_id, stale)
    tail = (versions.c.channel, versions.c.outcome, versions.c.reason)
    copy = _item_rows(event, event.payload.items, tail, (versions.c.need_id == event.originator_id) & newer)
    bump = update(versions).where(versions.c.need_id == event.originator_id, newer).values(version=event.originator_version)
    return [replace, copy, bump]


def _outcome(outcome: str, reason=lambda p: None):
    def handler(event: Event):
        newer = versions.c.version < event.originator_version
        values = {"outcome": outcome, "reason": reason(event.payload)}
        return [
            update(demand).where(demand.c.need_id == event.originator_id, demand.c.version < event.originator_version)
            .values(version=event.originator_version, **values),
            update(versions).where(versions.c.need_id == event.originator_id, newer)
            .values(version=event.originator_version, **values),
        ]  # fmt: skip

    return handler


DemandProjection.on(NeedConverted)(_outcome("converted"))
DemandProjection.on(NeedCancelled)(_outcome("cancelled", lambda p: p.reason))
DemandProjection.on(NeedClosedAsDuplicate)(_outcome("duplicate"))
