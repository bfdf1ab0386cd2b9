"""Builds the application from settings; every part can be swapped by passing it in."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import create_engine

from aggregates.errors import (
    ConflictError,
    DomainError,
    ForbiddenError,
    InvalidTransitionError,
    InvalidValueError,
    NotFoundError,
)
from commands import http as command_http
from commands.deps import Deps
from commands.service import CommandService
from commands.store import EventStore, StoreBusyError
from consumers.duplicate_check import DuplicateCheck
from consumers.outbox import Deliverer, OutboxCollector, SmtpSender
from consumers.process_runner import ProcessRunner
from consumers.runner import ProjectionRunner
from consumers.scheduler import Scheduler
from projections.base import Projection
from projections.audit import LeadAuditProjection
from projections.catalog import CatalogProjection
from projections.deals import DealsProjection
from projections.conversion import conversion_projection
from projections.demand import DemandProjection
from projections.funnel import FunnelProjection
from projections.inbox import InboxProjection
from projections.kpi import kpi_projection
from projections.needs import NeedsProjection
from projections.lead_card import LeadCardProjection
from read_api import inbox as inbox_routes, kpi as kpi_routes, reports as report_routes
from read_api import deals as deal_routes, events as event_routes, leads as lead_routes, needs as need_routes
from read_api.consistency import Consistency
from voronka.metrics import Metrics
from voronka.security import TokenCodec, authenticator
from voronka.settings import Settings

log = structlog.get_logger("voronka.http")


PROJECTIONS = [LeadCardProjection, LeadAuditProjection, NeedsProjection, CatalogProjection, DealsProjection,
               DemandProjection, FunnelProjection, InboxProjection]  # fmt: skip


@dataclass
class Container:
    settings: Settings
    store: EventStore
    service: CommandService
    tokens: TokenCodec
    runner: ProjectionRunner
    processes: list[ProcessRunner]
    scheduler: Scheduler
    deliverer: Deliverer

    def projected_position(self) -> int:
        return min(self.runner.positions().values())


def all_projections(settings: Settings) -> list[Projection]:
    """Every read model, the business-time ones in the configured time zone."""
    zone = settings.business_timezone
    return [*PROJECTIONS, conversion_projection(zone), kpi_projection(zone, settings.kpi_short_call_seconds, settings.kpi_long_call_minutes * 60)]


def token_codec(settings: Settings) -> TokenCodec:
    return TokenCodec(settings.secret_key.get_secret_value(), timedelta(hours=settings.token_ttl_hours))


def bootstrap(settings: Settings, store: EventStore | None = None) -> Container:
    store = store or EventStore(settings.event_store_env())
    service = CommandService(Deps(store, settings.policy()))
    engine = create_engine(settings.read_models_url())
    runner = ProjectionRunner(engine, store.read_batch, all_projections(settings))
    duplicate_check = DuplicateCheck(service.handle, settings.similarity_threshold)
    scheduler = Scheduler(
        service.handle, timedelta(minutes=settings.response_sla_minutes), timedelta(hours=settings.follow_up_grace_hours)
    )
    processes = [
        ProcessRunner(engine, store.read_batch, duplicate_check, "duplicate_check"),
        ProcessRunner(engine, store.read_batch, scheduler, "scheduler"),
        ProcessRunner(engine, store.read_batch, OutboxCollector(engine, settings.chat_webhook_url), "outbox"),
    ]
    deliverer = Deliverer(engine, email_sender(settings))
    return Container(settings, store, service, token_codec(settings), runner, processes, scheduler, deliverer)


def email_sender(settings: Settings):
    if settings.smtp_host:
        return SmtpSender(settings.smtp_host, settings.smtp_port, settings.mail_from)

    def unconfigured(*_: str) -> None:
        raise RuntimeError("VORONKA_SMTP_HOST is not set: e-mail waits in the outbox")

    return unconfigured


def step(container: Container) -> int:
    """One round of the embedded consumers: projections, process managers, and once caught up, the clock."""
    progressed = container.runner.run_once() + sum(process.run_once() for process in container.processes)
    if not progressed:
        tick_the_clock(container)
    return progressed


def step_processes(container: Container) -> int:
    """One round of the process managers alone, then the clock: `voronka processes` in the distributed
    deployment, where the Kafka workers build the projections."""
    progressed = sum(process.run_once() for process in container.processes)
    if not progressed:
        tick_the_clock(container)
    return progressed


def tick_the_clock(container: Container) -> None:
    now = datetime.now(UTC)
    container.scheduler.tick(now)
    container.deliverer.deliver_due(now)


def follow_the_log(container: Container, stop: threading.Event, interval: float = 0.05,
                   one_round: Callable[[Container], int] = step) -> None:  # fmt: skip
    """The consumer loop (embedded: `step`; distributed process managers: `step_processes`): catch up, then
    poll the log for new events."""
    while not stop.is_set():
        try:
            if not one_round(container):
                stop.wait(interval)
        except Exception:
            log.exception("consumer_loop_failed")
            stop.wait(1.0)


@asynccontextmanager
async def embedded_projections(app: FastAPI):
    stop = threading.Event()
    thread = threading.Thread(target=follow_the_log, args=(app.state.container, stop), daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()


def create_app(container: Container) -> FastAPI:
    app = FastAPI(
        title="Voronka",
        version="0.1.0",
        description="Event-sourced sales pipeline: commands in, immutable events out.",
        lifespan=embedded_projections if container.settings.consumers == "embedded" else None,  # kafka: the workers project
    )
    app.state.container = container
    authenticate = authenticator(container.tokens)
    app.include_router(command_http.build_router(container.service, authenticate))
    kafka = kafka_reads(container) if container.settings.consumers == "kafka" else None
    consistency = Consistency(container.projected_position, container.settings.consistency_timeout_seconds,
                              kafka.applied_version if kafka else None)  # fmt: skip
    app.include_router(lead_routes.build_router(container.runner.engine, authenticate, consistency))
    app.include_router(need_routes.build_router(container.runner.engine, authenticate, consistency,
                                                container.settings.pdf_font_dir, container.settings.business_timezone))  # fmt: skip
    app.include_router(deal_routes.build_router(container.runner.engine, authenticate, consistency))
    app.include_router(inbox_routes.build_router(container.runner.engine, authenticate, consistency))
    app.include_router(report_routes.build_router(container.runner.engine, authenticate, consistency))
    app.include_router(kpi_routes.build_router(container.runner.engine, authenticate, consistency,
                                               container.settings.kpi_rules(), container.settings.business_timezone,
                                               clock=lambda: container.service.clock()))  # fmt: skip
    app.include_router(event_routes.build_router(container.runner.engine, authenticate, container.store.positioned_history))
    add_error_handlers(app)

    @app.get("/health", tags=["ops"])
    def health() -> dict:
        head = container.store.max_position()
        if kafka:
            return {"status": "ok", "position": head, **kafka.health.report(head)}
        return {"status": "ok", "position": head, "projection_lag": {n: head - p for n, p in container.runner.positions().items()}}

    measured = Metrics()

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        head = container.store.max_position()
        if kafka:
            text = measured.render_kafka(head, kafka.health.report(head))
        else:
            text = measured.render_embedded(head, container.runner.positions())
        return PlainTextResponse(text, media_type=CONTENT_TYPE_LATEST)

    @app.middleware("http")
    async def count_commands(request: Request, call_next):
        response = await call_next(request)
        if request.url.path.startswith("/commands/"):
            outcome = "accepted" if response.status_code < 400 else f"refused_{response.status_code}"
            measured.commands.labels(request.url.path.removeprefix("/commands/"), outcome).inc()
        return response

    return app


def kafka_reads(container: Container):
    """What the API reads in Kafka mode: the workers' applied versions (read-your-writes) and their lag (/health)."""
    from voronka.kafka_mode import KafkaReads

    return KafkaReads.build(container.runner.engine, container.settings)


def add_error_handlers(app: FastAPI) -> None:
    statuses = {
        NotFoundError: 404,
        ForbiddenError: 403,
        InvalidTransitionError: 409,
        ConflictError: 409,
    }

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        if isinstance(exc, InvalidValueError):
            detail = [{"loc": ["body", exc.field], "msg": exc.reason, "type": "value_error"}]
            return JSONResponse({"detail": detail}, status_code=422)
        body: dict = {"detail": exc.message}
        if isinstance(exc, InvalidTransitionError):
            body["allowed"] = exc.allowed
        if isinstance(exc, ConflictError) and exc.existing_id is not None:
            body["existing_id"] = str(exc.existing_id)
        status = next(code for cls, code in statuses.items() if isinstance(exc, cls))
        log.info("command_refused", path=request.url.path, status=status, reason=exc.message)
        return JSONResponse(body, status_code=status)

    @app.exception_handler(StoreBusyError)
    async def store_busy(request: Request, exc: StoreBusyError) -> JSONResponse:
        log.warning("store_busy", path=request.url.path, error=str(exc))
        return JSONResponse({"detail": "the event store is busy; retry shortly"}, status_code=503,
                            headers={"Retry-After": "1"})  # fmt: skip
