"""Raw events of one aggregate, as the envelope consumers receive: the auditor's primary source."""

from collections.abc import Callable
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import Engine, or_, select

from projections.audit import chain
from projections.needs import needs
from read_api.visibility import sees_all
from schemas.auth import Caller
from schemas.base import Event
from schemas.envelope import EventEnvelope, envelope

History = Callable[[UUID], list[tuple[int, Event]]]


def build_router(engine: Engine, authenticate: Callable[..., Caller], history: History) -> APIRouter:
    router = APIRouter(tags=["audit"])
    CallerDep = Annotated[Caller, Depends(authenticate)]

    def involved(caller: Caller, aggregate_id: UUID) -> bool:
        """A manager may read the history of a lead they hold or held, or of their own need."""
        who = caller.employee
        lead = select(chain.c.lead_id).where(chain.c.lead_id == aggregate_id, or_(chain.c.employee == who, chain.c.holder_after == who))
        need = select(needs.c.need_id).where(needs.c.need_id == aggregate_id, needs.c.owner == who)
        with engine.connect() as conn:
            return any(conn.execute(q.limit(1)).first() for q in (lead, need))

    @router.get("/events", response_model=list[EventEnvelope], summary="Every stored event of one aggregate, in order")
    def events(aggregate_id: UUID, caller: CallerDep) -> list[EventEnvelope]:
        if not sees_all(caller) and not involved(caller, aggregate_id):
            raise HTTPException(404, f"no events of {aggregate_id}")
        found = [envelope(event, position) for position, event in history(aggregate_id)]
        if not found:
            raise HTTPException(404, f"no events of {aggregate_id}")
        return found

    return router
