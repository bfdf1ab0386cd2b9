"""The caller's inbox: alerts addressed to them or to their role, with read/dismissed state."""

from collections.abc import Callable
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import Engine, and_, select

from projections.inbox import marks, notices
from read_api.consistency import Consistency
from read_api.leads import UtcDatetime
from schemas.auth import Caller
from schemas.base import Model
from schemas.employees import Role


class NoticePublic(Model):
    notification_id: UUID
    kind: str
    summary: str
    subject_type: str
    subject_id: UUID
    created_at: UtcDatetime
    read: bool
    dismissed: bool


def build_router(engine: Engine, authenticate: Callable[..., Caller], consistency: Consistency) -> APIRouter:
    router = APIRouter(tags=["inbox"], dependencies=[Depends(consistency.wait)])

    def marked(caller: Caller, kind: str):
        m = marks.alias(kind)
        on = and_(m.c.notification_id == notices.c.notification_id, m.c.employee == caller.employee, m.c.mark == kind)
        return m, on

    @router.get("/inbox", response_model=list[NoticePublic], summary="Alerts for the caller (newest first)")
    def inbox(caller: Annotated[Caller, Depends(authenticate)], include_dismissed: bool = False) -> list[NoticePublic]:
        if caller.role not in (Role.MANAGER, Role.HEAD_OF_SALES):
            raise HTTPException(403, f"role '{caller.role}' has no inbox")
        read, read_on = marked(caller, "read")
        gone, gone_on = marked(caller, "dismissed")
        statement = (
            select(notices, read.c.at.is_not(None).label("read"), gone.c.at.is_not(None).label("dismissed"))
            .join(read, read_on, isouter=True)
            .join(gone, gone_on, isouter=True)
            .where(notices.c.recipient.in_([caller.employee, f"role:{caller.role}"]))
            .order_by(notices.c.created_at.desc())
        )
        if not include_dismissed:
            statement = statement.where(gone.c.at.is_(None))
        with engine.connect() as conn:
            rows = conn.execute(statement).mappings().all()
        unique = {row["notification_id"]: row for row in rows}  # addressed by name and by role: once
        return [NoticePublic(**{k: v for k, v in row.items() if k != "recipient"}) for row in unique.values()]

    return router
