"""An employee's inbox state: which notifications they have read or dismissed."""

from __future__ import annotations

from uuid import UUID

from aggregates.base import Aggregate, Context, on, stable_id
from aggregates.errors import ForbiddenError
from schemas.notifications import NotificationDismissed, NotificationRead


class Inbox(Aggregate):
    read: set[UUID]
    dismissed: set[UUID]

    @staticmethod
    def id_for(employee: str) -> UUID:
        return stable_id("inbox", employee)

    @classmethod
    def of(cls, ctx: Context) -> Inbox:
        if ctx.employee is None:
            raise ForbiddenError("an inbox belongs to an employee")
        inbox = cls.blank(cls.id_for(ctx.employee))
        inbox.read, inbox.dismissed = set(), set()
        return inbox

    def mark_read(self, ctx: Context, notification_id: UUID) -> None:
        if notification_id not in self.read:
            self._record(ctx, NotificationRead(notification_id=notification_id))

    def dismiss(self, ctx: Context, notification_id: UUID) -> None:
        if notification_id not in self.dismissed:
            self._record(ctx, NotificationDismissed(notification_id=notification_id))

    @on(NotificationRead)
    def _read(self, e: NotificationRead) -> None:
        self._ensure_sets()
        self.read.add(e.notification_id)

    @on(NotificationDismissed)
    def _dismissed(self, e: NotificationDismissed) -> None:
        self._ensure_sets()
        self.dismissed.add(e.notification_id)

    def _ensure_sets(self) -> None:
        if self.version == 0:  # replaying from the first event
            self.read, self.dismissed = set(), set()
