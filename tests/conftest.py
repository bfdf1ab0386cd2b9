"""Shared fixtures: a fresh SQLite event store per test, the command service, a small department."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from aggregates.base import Context
from aggregates.catalog import product_id
from commands.deps import Deps
from commands.service import CommandService
from commands.store import EventStore
from schemas.auth import Caller
from schemas.catalog import ImportCatalog, ProductRecord
from schemas.employees import AddToRotation, RegisterEmployee, Role
from voronka.settings import Settings

settings.register_profile("ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

HEAD = Caller(employee="boss", role=Role.HEAD_OF_SALES)
MANAGERS = ("anna", "boris", "vera")
SITE = Caller(employee="system:site", role=Role.INTEGRATION)
PRODUCTS = [f"prod-{i}" for i in range(8)]
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def manager(name: str) -> Caller:
    return Caller(employee=name, role=Role.MANAGER)


def ctx(actor: str = "boss", role: Role = Role.HEAD_OF_SALES, at: datetime = NOW) -> Context:
    return Context(actor, role, at)


def product(i: int):
    return product_id(PRODUCTS[i])


BACKEND = os.environ.get("VORONKA_TEST_BACKEND", "sqlite")


@pytest.fixture
def app_settings(tmp_path: Path) -> Iterator[Settings]:
    """SQLite files in a temporary directory; or, with VORONKA_TEST_BACKEND=postgres, a fresh PostgreSQL database
    for both the event store and the read models."""
    if BACKEND != "postgres":
        yield Settings(data_dir=tmp_path)
        return
    with postgres_database() as (url, name):
        yield Settings(data_dir=tmp_path, store="postgres", postgres_host=url.host, postgres_port=url.port,
                       postgres_db=name, postgres_user=url.username, postgres_password=url.password,
                       read_model_url=url.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False))  # fmt: skip


@contextmanager
def postgres_database():
    """A throw-away database on the test server (VORONKA_TEST_POSTGRES, started by scripts/services.sh)."""
    import uuid

    from sqlalchemy import create_engine, make_url, text

    server = os.environ.get("VORONKA_TEST_POSTGRES")
    if not server:
        if os.environ.get("CI"):
            pytest.fail("VORONKA_TEST_POSTGRES is not set: PostgreSQL tests cannot run (scripts/services.sh starts it)")
        pytest.skip("PostgreSQL is not running here: run scripts/services.sh start")
    url = make_url(server)
    name = f"voronka_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url, name
    finally:
        drop_database(admin, name)
        admin.dispose()


def drop_database(admin, name: str) -> None:
    """Drop a test database; a server process we may not end (e.g. autovacuum) makes us wait and retry."""
    import time
    import warnings

    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    for attempt in range(20):
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except DBAPIError:
            time.sleep(0.25 * (attempt + 1))
    warnings.warn(f"test database {name} could not be dropped; it is left on the test server", stacklevel=2)


@pytest.fixture
def kafka(app_settings: Settings) -> Iterator[Settings]:
    """The test broker (VORONKA_TEST_KAFKA, started by scripts/services.sh), with this test's own topics and consumer
    group in the settings; the topics are deleted afterwards. Tests may change `kafka_partitions` before use."""
    import socket
    import uuid

    server = os.environ.get("VORONKA_TEST_KAFKA")
    reason = "VORONKA_TEST_KAFKA is not set" if not server else None
    if server and not reason:
        host, port = server.split(",")[0].rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), timeout=3).close()
        except OSError as exc:
            reason = f"no Kafka broker answers at {server} ({exc})"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: the Kafka tests cannot run (scripts/services.sh starts the broker)")
        pytest.skip(f"KAFKA TESTS SKIPPED: {reason}; run: eval \"$(bash scripts/services.sh start)\"")
    name = f"test.{uuid.uuid4().hex[:12]}"
    settings = app_settings.model_copy(update={"kafka_bootstrap": server, "kafka_events_topic": f"{name}.events",
                                               "kafka_dlq_topic": f"{name}.dlq", "kafka_group": f"{name}.workers"})  # fmt: skip
    yield settings
    from consumers.kafka_topics import delete_topics

    delete_topics(server, [settings.kafka_events_topic, settings.kafka_dlq_topic])


@pytest.fixture
def store(app_settings: Settings) -> Iterator[EventStore]:
    store = EventStore(app_settings.event_store_env())
    yield store
    store.close()


@pytest.fixture
def service(store: EventStore, app_settings: Settings) -> CommandService:
    return CommandService(Deps(store, app_settings.policy()))


def seed_department(service: CommandService) -> None:
    """A head of sales, three managers in the rotation, and a catalog of eight products."""
    service.handle(RegisterEmployee(employee_id="boss", name="Борис Главный", role=Role.HEAD_OF_SALES,
                                    email="boss@voronka.test"), HEAD)  # fmt: skip
    for name in MANAGERS:
        service.handle(RegisterEmployee(employee_id=name, name=name.title(), role="manager", sales_profile="universal",
                                        email=f"{name}@voronka.test"), HEAD)  # fmt: skip
        service.handle(AddToRotation(employee_id=name), HEAD)
    records = [ProductRecord(onec_id=p, name=f"Шприц {i} мл", registry_code="РЗН 2019/8827") for i, p in enumerate(PRODUCTS)]
    service.handle(ImportCatalog(source="test", records=records), HEAD)


@pytest.fixture
def department(service: CommandService) -> CommandService:
    seed_department(service)
    return service


# --- projection checks ---


def rebuild(projection, store: EventStore, path: Path):
    """A fresh read-model database built by the runner from the whole log."""
    from sqlalchemy import create_engine

    from consumers.runner import ProjectionRunner

    engine = create_engine(f"sqlite:///{path}")
    ProjectionRunner(engine, store.read_batch, [projection]).run_until_caught_up()
    return engine


def deliver(projection, events: list, path: Path):
    """A fresh read-model database fed exactly these events, in this order (repeats included)."""
    from sqlalchemy import create_engine

    from projections.writes import execute

    engine = create_engine(f"sqlite:///{path}")
    projection.metadata.create_all(engine)
    with engine.begin() as conn:
        execute(conn, (change for event in events for change in projection.changes(event)))
    return engine


def rows(engine, table) -> list[tuple]:
    """A table's rows, sorted, with times as naive UTC whichever database they came from."""
    from sqlalchemy import select

    def plain(value):
        return value.astimezone(UTC).replace(tzinfo=None) if isinstance(value, datetime) and value.tzinfo else value

    with engine.connect() as conn:
        return sorted(tuple(plain(v) for v in r) for r in conn.execute(select(table)))


def use_settings(monkeypatch, app_settings: Settings) -> None:
    """Point the CLI (which reads VORONKA_* variables) at the same databases as the test."""
    for name, value in app_settings.model_dump(include={"data_dir", "store", "postgres_host", "postgres_port",
                                                        "postgres_db", "postgres_user", "read_model_url"}).items():  # fmt: skip
        if value is not None:
            monkeypatch.setenv(f"VORONKA_{name.upper()}", str(value))
    monkeypatch.setenv("VORONKA_POSTGRES_PASSWORD", app_settings.postgres_password.get_secret_value())


def logged_events(store: EventStore) -> list:
    return [event for _, event in store.read_batch(0, 1_000_000)]


def bearer(container, employee: str, role: Role = Role.MANAGER, token: str | None = None) -> dict:
    """Request headers: a signed token for this caller, and a consistency token to wait for if given."""
    headers = {"Authorization": f"Bearer {container.tokens.issue(employee, role)}"}
    return headers | ({"X-Consistency-Token": token} if token else {})
