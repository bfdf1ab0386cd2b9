"""Inbox: notifications per recipient (an employee or a role), with each employee's read/dismissed state."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, Numeric, String, Table, Uuid

from projections.base import add_row, Projection, utc
from schemas.base import Event
from schemas.counterparties import CounterpartyRegistered
from schemas.needs import DuplicateWorkFlagged
from schemas.notifications import NotificationDismissed, NotificationRead, NotificationRequested

metadata = MetaData()
notices = Table(
    "inbox_notices_v2",
    metadata,
    Column("notification_id", Uuid, primary_key=True),
    Column("recipient", String, primary_key=True),  # employee id or role:<role>
    Column("kind", String, nullable=False),
    Column("summary", String, nullable=False),
    Column("subject_type", String, nullable=False),
    Column("subject_id", Uuid, nullable=False),
    Column("subject_version", Integer, nullable=False),
    Column("created_at", DateTime, nullable=False),
)
alerts = Table(  # what a duplicate-work notice is about; it is recorded just before its notification
    "inbox_alerts_v2",
    metadata,
    Column("need_id", Uuid, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("other_id", Uuid, nullable=False),
    Column("other_kind", String, nullable=False),
    Column("other_number", String, nullable=False),
    Column("other_owner", String),
    Column("match", String, nullable=False),
    Column("similarity", Numeric(5, 4), nullable=False),
    Column("overlap", JSON, nullable=False),
)
parties = Table(  # counterparty names, shown in alerts to those allowed to see them
    "inbox_counterparties_v2",
    metadata,
    Column("counterparty_id", Uuid, primary_key=True),
    Column("name", String, nullable=False),
)
marks = Table(
    "inbox_marks_v2",
    metadata,
    Column("employee", String, primary_key=True),
    Column("notification_id", Uuid, primary_key=True),
    Column("mark", String, primary_key=True),  # read | dismissed
    Column("at", DateTime, nullable=False),
)
InboxProjection = Projection("inbox", 2, metadata)


@InboxProjection.on(NotificationRequested)
def _requested(event: Event):
    p: NotificationRequested = event.payload
    return [
        add_row(notices, notification_id=p.notification_id, recipient=recipient, kind=p.kind, summary=p.summary,
                               subject_type=event.aggregate_type, subject_id=event.originator_id,
                               subject_version=event.originator_version, created_at=utc(event.occurred_at))
        for recipient in p.recipients
    ]  # fmt: skip


def _mark(kind: str):
    def handler(event: Event):
        return [add_row(marks, employee=event.actor, notification_id=event.payload.notification_id, mark=kind,
                                     at=utc(event.occurred_at))]  # fmt: skip

    return handler


InboxProjection.on(NotificationRead)(_mark("read"))
InboxProjection.on(NotificationDismissed)(_mark("dismissed"))


@InboxProjection.on(DuplicateWorkFlagged)
def _alert(event: Event):
    p: DuplicateWorkFlagged = event.payload
    row = dict(need_id=event.originator_id, version=event.originator_version, other_id=p.other_id, other_kind=p.other_kind,
               other_number=p.other_number, other_owner=p.other_owner, match=p.match, similarity=p.similarity,
               overlap=[str(product) for product in p.overlap])  # fmt: skip
    return [add_row(alerts, **row)]


@InboxProjection.on(CounterpartyRegistered)
def _party(event: Event):
    return [add_row(parties, counterparty_id=event.originator_id, name=event.payload.name)]
