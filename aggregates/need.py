"""The need (Потребность): products a client needs, its duplicate alerts and how it closes."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from aggregates.base import HEAD_OF_SALES, Aggregate, Context, on, stable_id
from aggregates.errors import ConflictError, ForbiddenError, InvalidTransitionError
from schemas.needs import (
    DuplicateAlertDismissed,
    DuplicateWorkFlagged,
    FlagDuplicateWork,
    NeedCancelled,
    NeedClosedAsDuplicate,
    NeedConverted,
    NeedItem,
    NeedItemsChanged,
    NeedOwnerChanged,
    NeedRegistered,
    NeedStatus,
)
from schemas.notifications import NotificationKind


class Need(Aggregate):
    number: str
    owner: str
    status: NeedStatus
    items: list[NeedItem]
    registered: NeedRegistered
    alerts: dict[UUID, DuplicateWorkFlagged]
    dismissed: set[UUID]
    alerted_with: set[UUID]

    @classmethod
    def register(cls, ctx: Context, id: UUID, details: NeedRegistered) -> Need:
        need = cls.blank(id)
        need._record(ctx, details)
        return need

    @property
    def is_open(self) -> bool:
        return self.status is NeedStatus.OPEN

    @property
    def product_ids(self) -> frozenset[UUID]:
        return frozenset(item.product_id for item in self.items)

    @property
    def unresolved_alerts(self) -> list[DuplicateWorkFlagged]:
        return [a for alert_id, a in self.alerts.items() if alert_id not in self.dismissed]

    def change_items(self, ctx: Context, items: list[NeedItem]) -> bool:
        self._require_open("change items")
        self._require_owner_or_head(ctx, "change")
        if items == self.items:
            return False
        self._record(ctx, NeedItemsChanged(items=items))
        return True

    def flag_duplicate(self, ctx: Context, alert: FlagDuplicateWork) -> bool:
        """Raise a duplicate-work alert once per pair of records; False when already raised."""
        if alert.other_id in self.alerted_with or self.status is not NeedStatus.OPEN:
            return False
        self._record(
            ctx,
            DuplicateWorkFlagged(
                alert_id=stable_id("duplicate-alert", f"{self.id}:{alert.other_id}"),
                saved_by=alert.saved_by,
                similarity=Decimal(str(round(alert.similarity, 4))),
                **alert.model_dump(include={"other_id", "other_kind", "other_number", "other_owner", "match", "overlap"}),
            ),
        )
        self._notify(
            ctx,
            NotificationKind.DUPLICATE_NEED,
            [alert.saved_by, alert.other_owner, HEAD_OF_SALES],
            f"Need {self.number} repeats {alert.other_kind} {alert.other_number} ({alert.match} match)",
        )
        return True

    def dismiss_alert(self, ctx: Context, alert_id: UUID, comment: str) -> None:
        self._require_open("dismiss an alert")
        self._require_owner_or_head(ctx, "dismiss alerts on")
        if alert_id not in self.alerts:
            raise ConflictError(f"alert {alert_id} is not on need {self.number}")
        if alert_id in self.dismissed:
            raise ConflictError(f"alert {alert_id} is already dismissed")
        self._record(ctx, DuplicateAlertDismissed(alert_id=alert_id, by=ctx.actor, comment=comment))

    def close_as_duplicate(self, ctx: Context, duplicate_of: UUID, comment: str) -> None:
        self._require_open("close as duplicate")
        self._require_owner_or_head(ctx, "close")
        if duplicate_of == self.id:
            raise ConflictError("a need cannot duplicate itself")
        self._record(ctx, NeedClosedAsDuplicate(duplicate_of=duplicate_of, comment=comment))

    def cancel(self, ctx: Context, reason: str, comment: str) -> None:
        self._require_open("cancel")
        self._require_owner_or_head(ctx, "cancel")
        self._record(ctx, NeedCancelled(reason=reason, comment=comment))

    def convert(self, ctx: Context, deal_id: UUID, override_alert: bool) -> None:
        """Seed 001 step 9: no deal while a duplicate alert is unresolved, unless the head of sales overrides."""
        self._require_open("convert")
        self._require_owner_or_head(ctx, "convert")
        if override_alert and not ctx.is_head_of_sales:
            raise ForbiddenError("only the head of sales may override a duplicate alert")
        pending = self.unresolved_alerts
        if pending and not override_alert:
            first = pending[0]
            raise ConflictError(
                f"need {self.number} has an unresolved duplicate alert {first.alert_id} "
                f"({first.match} match with {first.other_kind} {first.other_number}); "
                "dismiss it or ask the head of sales to override"
            )
        self._record(ctx, NeedConverted(deal_id=deal_id, alert_overridden=bool(pending)))

    def reassign(self, ctx: Context, new_owner: str) -> None:
        if self.status is NeedStatus.OPEN and new_owner != self.owner:
            self._record(ctx, NeedOwnerChanged(previous_owner=self.owner, new_owner=new_owner, by=ctx.actor))

    def _require_open(self, action: str) -> None:
        if self.status is not NeedStatus.OPEN:
            raise InvalidTransitionError(action, self.status, [], why="the need is closed")

    def _require_owner_or_head(self, ctx: Context, verb: str) -> None:
        if ctx.actor != self.owner and not ctx.is_head_of_sales:
            raise ForbiddenError(f"only the need's owner or the head of sales may {verb} this need")

    @on(NeedRegistered)
    def _registered(self, e: NeedRegistered) -> None:
        self.registered, self.number, self.owner, self.items = e, e.number, e.owner, e.items
        self.status = NeedStatus.OPEN
        self.alerts, self.dismissed, self.alerted_with = {}, set(), set()

    @on(NeedItemsChanged)
    def _items_changed(self, e: NeedItemsChanged) -> None:
        self.items = e.items

    @on(DuplicateWorkFlagged)
    def _flagged(self, e: DuplicateWorkFlagged) -> None:
        self.alerts[e.alert_id] = e
        self.alerted_with.add(e.other_id)

    @on(DuplicateAlertDismissed)
    def _dismissed(self, e: DuplicateAlertDismissed) -> None:
        self.dismissed.add(e.alert_id)

    @on(NeedClosedAsDuplicate)
    def _closed_as_duplicate(self, e: NeedClosedAsDuplicate) -> None:
        self.status = NeedStatus.DUPLICATE

    @on(NeedCancelled)
    def _cancelled(self, e: NeedCancelled) -> None:
        self.status = NeedStatus.CANCELLED

    @on(NeedConverted)
    def _converted(self, e: NeedConverted) -> None:
        self.status = NeedStatus.CONVERTED

    @on(NeedOwnerChanged)
    def _owner_changed(self, e: NeedOwnerChanged) -> None:
        self.owner = e.new_owner
