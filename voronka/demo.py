"""`voronka demo`: a fresh department with a catalog and a first week of interests, then the API."""

from __future__ import annotations

import random
from functools import partial
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

from rich.console import Console
from rich.progress import track

from aggregates.lead import Lead
from commands.onec_formats import parse_catalog
from commands.service import CommandService
from schemas.auth import Caller
from schemas.catalog import ImportCatalog
from schemas.employees import AddToRotation, RegisterEmployee, Role
from schemas.leads import QualifyLead, RecordContactAttempt, RegisterInterest
from voronka.logging import configure_logging
from voronka.settings import Settings

SAMPLE_CATALOG = Path(__file__).parent / "data" / "sample_catalog.xml"
HEAD = Caller(employee="rop", role=Role.HEAD_OF_SALES)
TEAM = [
    ("ivanova", "Анна Иванова", "generator"),
    ("petrov", "Пётр Петров", "generator"),
    ("sidorova", "Мария Сидорова", "converter"),
    ("kuznetsov", "Олег Кузнецов", "converter"),
    ("smirnova", "Елена Смирнова", "farmer"),
]
CHANNELS = ["email", "site_form", "online_chat", "inbound_call", "callback_request", "exhibition", "b2b_portal"]


def seed(service: CommandService, rng: random.Random, interests: int = 40) -> None:
    """A head of sales, two generators in the rotation, converters, a farmer, the catalog, a week of interests."""
    service.handle(RegisterEmployee(employee_id="rop", name="Роман Орлов", role=Role.HEAD_OF_SALES), HEAD)
    for login, name, profile in TEAM:
        service.handle(RegisterEmployee(employee_id=login, name=name, role=Role.MANAGER, sales_profile=profile), HEAD)
        if profile == "generator":
            service.handle(AddToRotation(employee_id=login), HEAD)
    records = parse_catalog(SAMPLE_CATALOG.read_bytes())
    one_c = Caller(employee="system:1c", role=Role.INTEGRATION)
    service.handle(ImportCatalog(source=SAMPLE_CATALOG.name, records=records), one_c)
    start = datetime.now(UTC) - timedelta(days=7)
    for i in track(range(interests), description="seeding interests"):
        channel = rng.choice(CHANNELS)
        at = start + timedelta(minutes=rng.randint(0, 6 * 24 * 60))
        contact = {"name": f"Клиент {i}", "email": f"zakupki{i}@clinic{i % 13}.ru", "phone": f"+7 495 {1000000 + i}"}
        accepted = service.handle(
            RegisterInterest(channel=channel, occurred_at=at, contact=contact, external_ref=f"demo-{i}",
                             message="Прошу прислать коммерческое предложение"),  # fmt: skip
            Caller(employee=f"system:{channel.replace('_', '-')}", role=Role.INTEGRATION),
        )
        work_lead(service, rng, UUID(accepted.id), at)


def work_lead(service: CommandService, rng: random.Random, lead_id: UUID, registered_at: datetime) -> None:
    holder = service.deps.store.get(Lead, lead_id).holder
    if holder is None or rng.random() > 0.8:
        return
    manager = Caller(employee=holder, role=Role.MANAGER)
    contacted_at = registered_at + timedelta(minutes=rng.randint(5, 240))
    service.handle(RecordContactAttempt(lead_id=lead_id, outcome="answered", occurred_at=contacted_at), manager)
    if rng.random() < 0.5:
        service.handle(QualifyLead(lead_id=lead_id, occurred_at=contacted_at + timedelta(hours=1)), manager)


def run_demo(settings: Settings, console: Console, serve: bool) -> None:
    from voronka.wiring import bootstrap, create_app

    if settings.data_dir.exists():
        shutil.rmtree(settings.data_dir)
    container = bootstrap(settings)
    configure_logging("warning", settings.log_json)  # the seed's thousands of commands stay quiet
    seed(container.service, random.Random(2026))
    container.runner.run_until_caught_up()
    first_lead = next(event.originator_id for _, event in container.store.read(topics=["InterestRegistered"]))
    configure_logging(settings.log_level, settings.log_json)
    url = f"http://{settings.host}:{settings.port}"
    head = container.tokens.issue("rop", Role.HEAD_OF_SALES)
    manager = container.tokens.issue("ivanova", Role.MANAGER)
    say = partial(console.print, soft_wrap=True)  # tokens and commands must stay copyable
    say(f"\n[bold]Voronka demo[/bold] — data in {settings.data_dir}, {container.store.max_position()} events")
    say(f"API: {url}   OpenAPI: {url}/docs\n")
    say(f"Head of sales token (rop):\n  {head}\nManager token (ivanova):\n  {manager}\n")
    say("Try:")
    say(f"  curl -s {url}/health")
    say(
        f"  curl -s -X POST {url}/commands/register-interest -H 'Authorization: Bearer {manager}' "
        "-H 'Content-Type: application/json' "
        """-d '{"channel":"inbound_call","contact":{"name":"Иван","phone":"+7 916 000-00-00"},"message":"Нужны шприцы"}'"""
    )
    say(f"  curl -s {url}/leads/{first_lead}/audit -H 'Authorization: Bearer {head}'\n")
    if serve:
        import uvicorn

        uvicorn.run(create_app(container), host=settings.host, port=settings.port, log_level=settings.log_level)
