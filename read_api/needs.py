"""Query routes for the needs registry: lists (all / open / closed), single needs, CSV and PDF for printing."""

import csv
import io
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from sqlalchemy import Engine, select

from projections.catalog import products
from projections.needs import needs
from read_api import pdf
from read_api.consistency import Consistency
from read_api.leads import UtcDatetime
from read_api.visibility import sees_all
from schemas.auth import Caller
from schemas.base import Model


class NeedFilter(StrEnum):
    ALL = "all"
    OPEN = "open"
    CLOSED = "closed"


class NeedItemPublic(Model):
    product_id: UUID
    product_name: str | None
    unit: str | None
    quantity: str
    period_start: str
    period_end: str


class NeedPublic(Model):
    need_id: UUID
    number: str
    status: str
    owner: str
    counterparty_id: UUID
    end_customer: str | None
    channel: str
    lead_id: UUID | None
    registered_at: UtcDatetime
    closed_at: UtcDatetime | None
    close_reason: str | None
    close_comment: str | None
    deal_id: UUID | None
    items: list[NeedItemPublic]


class NeedsPage(Model):
    items: list[NeedPublic]
    next_cursor: str | None


PDF_RESPONSES: dict = {
    200: {"content": {"application/pdf": {}}, "description": "A4 PDF with the DejaVu Sans font embedded"},
    503: {"description": "The PDF font is not installed (Debian package fonts-dejavu-core)"},
}


def build_router(
    engine: Engine, authenticate: Callable[..., Caller], consistency: Consistency, font_dir: Path, business_timezone: str
) -> APIRouter:
    zone = ZoneInfo(business_timezone)
    router = APIRouter(tags=["needs"], dependencies=[Depends(consistency.wait)])
    CallerDep = Annotated[Caller, Depends(authenticate)]

    def query(caller: Caller, status: NeedFilter):
        statement = select(needs).order_by(needs.c.number)
        if not sees_all(caller):
            statement = statement.where(needs.c.owner == caller.employee)
        if status is NeedFilter.OPEN:
            statement = statement.where(needs.c.status == "open")
        elif status is NeedFilter.CLOSED:
            statement = statement.where(needs.c.status != "open")
        return statement

    def public(rows) -> list[NeedPublic]:
        ids = {item["product_id"] for row in rows for item in row["items"]}
        with engine.connect() as conn:
            catalog = {str(r.product_id): r for r in conn.execute(select(products).where(products.c.product_id.in_([UUID(i) for i in ids])))}
        result = []
        for row in rows:
            items = [
                NeedItemPublic(
                    product_id=item["product_id"], product_name=getattr(catalog.get(item["product_id"]), "name", None),
                    unit=getattr(catalog.get(item["product_id"]), "unit", None), quantity=item["quantity"],
                    period_start=item["period"]["start"], period_end=item["period"]["end"],
                )  # fmt: skip
                for item in row["items"]
            ]
            result.append(NeedPublic(**{k: v for k, v in row.items() if k not in ("version", "items")}, items=items))
        return result

    @router.get("/needs", response_model=NeedsPage, summary="Needs: a manager's own, or all for the head of sales")
    def list_needs(
        caller: CallerDep,
        status: NeedFilter = NeedFilter.ALL,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> NeedsPage:
        statement = query(caller, status)
        if cursor:
            statement = statement.where(needs.c.number > cursor)
        with engine.connect() as conn:
            rows = conn.execute(statement.limit(limit + 1)).mappings().all()
        page = public(rows[:limit])
        return NeedsPage(items=page, next_cursor=page[-1].number if len(rows) > limit else None)

    @router.get("/needs.csv", summary="Needs as CSV (one line per product)", response_class=Response)
    def needs_csv(caller: CallerDep, status: NeedFilter = NeedFilter.ALL) -> Response:
        with engine.connect() as conn:
            rows = conn.execute(query(caller, status)).mappings().all()
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";")
        writer.writerow(["Номер", "Статус", "Ответственный", "Конечный заказчик", "Канал", "Дата", "Товар", "Кол-во",
                         "Ед.", "Период с", "Период по"])  # fmt: skip
        for need in public(rows):
            for item in need.items:
                writer.writerow([need.number, need.status, need.owner, need.end_customer or "", need.channel,
                                 f"{need.registered_at:%Y-%m-%d}", item.product_name or item.product_id, item.quantity,
                                 item.unit or "", item.period_start, item.period_end])  # fmt: skip
        filename = f"needs-{status}-{datetime.now():%Y%m%d}.csv"
        return Response(("\ufeff" + out.getvalue()).encode(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip

    def visible_need(need_id: UUID, caller: Caller) -> NeedPublic:
        statement = select(needs).where(needs.c.need_id == need_id)
        if not sees_all(caller):
            statement = statement.where(needs.c.owner == caller.employee)  # another's need: 404, it must not leak
        with engine.connect() as conn:
            rows = conn.execute(statement).mappings().all()
        if not rows:
            raise HTTPException(404, f"need {need_id} not found")
        return public(rows)[0]

    def pdf_response(render: Callable[[], bytes], filename: str) -> Response:
        try:
            content = render()
        except pdf.FontUnavailable as error:
            raise HTTPException(503, str(error)) from None
        return Response(content, media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip

    @router.get("/needs.pdf", summary="Needs as a print-ready A4 PDF, one table per need", response_class=Response,
                responses=PDF_RESPONSES)  # fmt: skip
    def needs_pdf(caller: CallerDep, status: NeedFilter = NeedFilter.ALL) -> Response:
        with engine.connect() as conn:
            rows = public(conn.execute(query(caller, status)).mappings().all())
        filename = f"needs-{status}-{datetime.now(zone):%Y%m%d}.pdf"
        return pdf_response(lambda: pdf.needs_list_pdf(rows, status, font_dir, zone), filename)

    # Declared before /needs/{need_id}, which would otherwise take "<id>.pdf" for an id and answer 422.
    @router.get("/needs/{need_id}.pdf", summary="One need as a print-ready A4 PDF", response_class=Response,
                responses=PDF_RESPONSES)  # fmt: skip
    def need_pdf(need_id: UUID, caller: CallerDep) -> Response:
        need = visible_need(need_id, caller)
        return pdf_response(lambda: pdf.need_pdf(need, font_dir, zone), f"{need.number}.pdf")

    @router.get("/needs/{need_id}", response_model=NeedPublic, summary="One need")
    def one_need(need_id: UUID, caller: CallerDep) -> NeedPublic:
        return visible_need(need_id, caller)

    return router
