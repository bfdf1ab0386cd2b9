"""The round-robin rotation that distributes leads nobody received in person."""

from __future__ import annotations

from uuid import UUID

from aggregates.base import Aggregate, Context, on, stable_id
from aggregates.employee import require_head_of_sales
from aggregates.errors import ConflictError
from schemas.employees import JoinedRotation, LeftRotation, MarkedAway, MarkedBack, RotationAdvanced

ROSTER_ID = stable_id("roster", "sales")


class Roster(Aggregate):
    """Members in roster order; the search for the next assignee starts at `next_index` (modulo the size)."""

    def __init__(self) -> None:
        super().__init__(ROSTER_ID)
        self.members: list[str] = []
        self.away: set[str] = set()
        self.next_index = 0

    @classmethod
    def blank(cls, id: UUID) -> Roster:
        return cls()

    def available(self) -> list[str]:
        return [m for m in self.members if m not in self.away]

    def join(self, ctx: Context, employee_id: str) -> None:
        require_head_of_sales(ctx, "change the rotation")
        if employee_id in self.members:
            raise ConflictError(f"{employee_id} is already in the rotation")
        self._record(ctx, JoinedRotation(employee_id=employee_id))

    def leave(self, ctx: Context, employee_id: str) -> None:
        if employee_id in self.members:
            self._record(ctx, LeftRotation(employee_id=employee_id))

    def mark_away(self, ctx: Context, employee_id: str) -> None:
        self._require_member(employee_id)
        if employee_id not in self.away:
            self._record(ctx, MarkedAway(employee_id=employee_id))

    def mark_back(self, ctx: Context, employee_id: str) -> None:
        self._require_member(employee_id)
        if employee_id in self.away:
            self._record(ctx, MarkedBack(employee_id=employee_id))

    def assign(self, ctx: Context, subject_id: UUID) -> str | None:
        """Take the next rotation slot; None when nobody is available."""
        n = len(self.members)
        for step in range(n):
            candidate = self.members[(self.next_index + step) % n]
            if candidate not in self.away:
                self._record(ctx, RotationAdvanced(subject_id=subject_id, assignee=candidate))
                return candidate
        return None

    def _require_member(self, employee_id: str) -> None:
        if employee_id not in self.members:
            raise ConflictError(f"{employee_id} is not in the rotation")

    @on(JoinedRotation)
    def _joined_rotation(self, e: JoinedRotation) -> None:
        self.members.append(e.employee_id)

    @on(LeftRotation)
    def _left_rotation(self, e: LeftRotation) -> None:
        index = self.members.index(e.employee_id)
        self.members.pop(index)
        self.away.discard(e.employee_id)
        if index < self.next_index:
            self.next_index -= 1

    @on(MarkedAway)
    def _marked_away(self, e: MarkedAway) -> None:
        self.away.add(e.employee_id)

    @on(MarkedBack)
    def _marked_back(self, e: MarkedBack) -> None:
        self.away.discard(e.employee_id)

    @on(RotationAdvanced)
    def _rotation_advanced(self, e: RotationAdvanced) -> None:
        # Not wrapped here: someone who joins after the last assignee is next in roster order.
        self.next_index = self.members.index(e.assignee) + 1
