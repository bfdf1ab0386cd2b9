"""Query routes for leads: the lead card and its audit chain."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException
from pydantic import AfterValidator
from sqlalchemy import Engine, or_, select

from projections.audit import chain
from projections.lead_card import cards
from read_api.consistency import Consistency
from read_api.visibility import sees_all
from schemas.auth import Caller
from schemas.base import Model

# Read models keep UTC without a zone (SQLite has none); answers carry it again.
UtcDatetime = Annotated[datetime, AfterValidator(lambda v: v if v.tzinfo else v.replace(tzinfo=UTC))]


class LeadCardPublic(Model):
    lead_id: UUID
    channel: str
    source_detail: str | None
    contact_name: str | None
    contact_email: str | None
    contact_phone: str | None
    company: str | None
    status: str
    holder: str | None
    first_touch: str | None
    registered_at: UtcDatetime
    first_contact_at: UtcDatetime | None
    speed_to_lead_seconds: int | None
    last_activity_at: UtcDatetime
    counterparty_id: UUID | None


class AuditEntryPublic(Model):
    version: int
    event_type: str
    employee: str | None
    holder_after: str | None
    first_touch: bool
    occurred_at: UtcDatetime
    recorded_at: UtcDatetime
    detail: str | None


class LeadAuditPublic(Model):
    lead_id: UUID
    first_touch: str | None
    chain: list[AuditEntryPublic]


def build_router(engine: Engine, authenticate: Callable[..., Caller], consistency: Consistency) -> APIRouter:
    router = APIRouter(prefix="/leads", tags=["leads"], dependencies=[Depends(consistency.wait)])
    CallerDep = Annotated[Caller, Depends(authenticate)]

    def visible(caller: Caller, lead_id: UUID) -> None:
        """Managers see the leads they hold or held; existence must not leak, so others get 404."""
        if sees_all(caller):
            return
        involved = select(chain.c.lead_id).where(
            chain.c.lead_id == lead_id, or_(chain.c.employee == caller.employee, chain.c.holder_after == caller.employee)
        )
        with engine.connect() as conn:
            if conn.execute(involved.limit(1)).first() is None:
                raise HTTPException(404, f"lead {lead_id} not found")

    @router.get("/{lead_id}", response_model=LeadCardPublic, summary="Lead card")
    def lead_card(lead_id: UUID, caller: CallerDep) -> LeadCardPublic:
        visible(caller, lead_id)
        with engine.connect() as conn:
            row = conn.execute(select(cards).where(cards.c.lead_id == lead_id)).mappings().first()
        if row is None:
            raise HTTPException(404, f"lead {lead_id} not found")
        speed = row["first_contact_at"] - row["registered_at"] if row["first_contact_at"] else None
        fields = {k: v for k, v in row.items() if k != "version"}
        return LeadCardPublic(**fields, speed_to_lead_seconds=int(speed.total_seconds()) if speed else None)

    @router.get("/{lead_id}/audit", response_model=LeadAuditPublic, summary="Who first touched the lead, and who had it after")
    def lead_audit(lead_id: UUID, caller: CallerDep) -> LeadAuditPublic:
        visible(caller, lead_id)
        with engine.connect() as conn:
            rows = conn.execute(select(chain).where(chain.c.lead_id == lead_id).order_by(chain.c.version)).mappings().all()
        if not rows:
            raise HTTPException(404, f"lead {lead_id} not found")
        entries = [AuditEntryPublic(**{k: v for k, v in r.items() if k != "lead_id"}) for r in rows]
        first = next((e.employee for e in entries if e.first_touch), None)
        return LeadAuditPublic(lead_id=lead_id, first_touch=first, chain=entries)

    return router
