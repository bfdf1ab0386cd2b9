"""The caller's inbox: alerts addressed to them or to their role, with read/dismissed state."""

from collections.abc import Callable
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import Connection, Engine, and_, select

from projections.catalog import products
from projections.deals import deals
from projections.inbox import alerts, marks, notices, parties
from projections.needs import needs
from read_api.consistency import Consistency
from read_api.leads import UtcDatetime
from schemas.auth import Caller
from schemas.base import Model
from schemas.employees import Role


class ProductRef(Model):
    product_id: UUID
    name: str | None
    unit_price: Decimal | None = None


class DuplicateDetails(Model):
    """The other record of a duplicate-work alert. Its counterparty and prices are shown only to the head of
    sales, or to the record's own owner."""

    other_kind: str
    other_id: UUID
    other_number: str
    other_owner: str | None
    match: str
    similarity: float
    overlap: list[ProductRef]
    products: list[ProductRef]
    counterparty: str | None = None


class NoticePublic(Model):
    notification_id: UUID
    kind: str
    summary: str
    subject_type: str
    subject_id: UUID
    created_at: UtcDatetime
    read: bool
    dismissed: bool
    details: DuplicateDetails | None = None


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
            return [NoticePublic(**{k: v for k, v in row.items() if k not in ("recipient", "subject_version")},
                                 details=duplicate_details(conn, row, caller)) for row in unique.values()]  # fmt: skip

    return router


def duplicate_details(conn: Connection, notice, caller: Caller) -> DuplicateDetails | None:
    if notice["kind"] != "duplicate_need":
        return None
    alert = conn.execute(select(alerts).where(alerts.c.need_id == notice["subject_id"],
                                              alerts.c.version == notice["subject_version"] - 1)).mappings().first()  # fmt: skip
    if alert is None:
        return None
    table, key = (needs, needs.c.need_id) if alert["other_kind"] == "need" else (deals, deals.c.deal_id)
    other = conn.execute(select(table).where(key == alert["other_id"])).mappings().first()
    privileged = caller.role is Role.HEAD_OF_SALES or alert["other_owner"] == caller.employee
    prices = {line["product_id"]: Decimal(line["unit_price"]) for line in (other or {}).get("lines") or []} if privileged else {}
    listed = [item["product_id"] for item in (other or {}).get("items", [])]
    names = dict(conn.execute(select(products.c.product_id, products.c.name)
                              .where(products.c.product_id.in_([UUID(i) for i in {*listed, *alert["overlap"]}]))).all())  # fmt: skip

    def ref(product_id: str) -> ProductRef:
        return ProductRef(product_id=product_id, name=names.get(UUID(product_id)), unit_price=prices.get(product_id))

    counterparty = None
    if privileged and other is not None:
        counterparty = conn.execute(select(parties.c.name).where(parties.c.counterparty_id == other["counterparty_id"])).scalar()
    return DuplicateDetails(**{k: alert[k] for k in ("other_kind", "other_id", "other_number", "other_owner", "match")},
                            similarity=float(alert["similarity"]), overlap=[ref(p) for p in alert["overlap"]],
                            products=[ref(p) for p in listed], counterparty=counterparty)  # fmt: skip
