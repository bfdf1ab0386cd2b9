"""Inbox: notifications per recipient (an employee or a role), with each employee's read/dismissed state."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, MetaData, String, Table, Uuid
from sqlalchemy.dialects.sqlite import insert

from projections.base import Projection, utc
from schemas.base import Event
from schemas.notifications import NotificationDismissed, NotificationRead, NotificationRequested

metadata = MetaData()
notices = Table(
    "inbox_notices_v1",
    metadata,
    Column("notification_id", Uuid, primary_key=True),
    Column("recipient", String, primary_key=True),  # employee id or role:<role>
    Column("kind", String, nullable=False),
    Column("summary", String, nullable=False),
    Column("subject_type", String, nullable=False),
    Column("subject_id", Uuid, nullable=False),
    Column("created_at", DateTime, nullable=False),
)
marks = Table(
    "inbox_marks_v1",
    metadata,
    Column("employee", String, primary_key=True),
    Column("notification_id", Uuid, primary_key=True),
    Column("mark", String, primary_key=True),  # read | dismissed
    Column("at", DateTime, nullable=False),
)
InboxProjection = Projection("inbox", 1, metadata)


@InboxProjection.on(NotificationRequested)
def _requested(event: Event):
    p: NotificationRequested = event.payload
    return [
        insert(notices).values(notification_id=p.notification_id, recipient=recipient, kind=p.kind, summary=p.summary,
                               subject_type=event.aggregate_type, subject_id=event.originator_id,
                               created_at=utc(event.occurred_at)).on_conflict_do_nothing()
        for recipient in p.recipients
    ]  # fmt: skip


def _mark(kind: str):
    def handler(event: Event):
        return [insert(marks).values(employee=event.actor, notification_id=event.payload.notification_id, mark=kind,
                                     at=utc(event.occurred_at)).on_conflict_do_nothing()]  # fmt: skip

    return handler


InboxProjection.on(NotificationRead)(_mark("read"))
InboxProjection.on(NotificationDismissed)(_mark("dismissed"))
