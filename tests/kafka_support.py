"""Helpers of the Kafka tests: command histories, relay/worker threads and subprocesses, "caught up", comparisons."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from contextlib import contextmanager
from pathlib import Path
from uuid import UUID

from sqlalchemy import create_engine

from aggregates.lead import Lead
from commands.deps import Deps
from commands.service import CommandService
from commands.store import EventStore
from consumers import kafka_state
from consumers.kafka_topics import consumer, end_offsets
from consumers.runner import ProjectionRunner
from schemas import leads as l
from tests.conftest import SITE, manager, seed_department
from tests.test_projection_properties import ACTIONS, Department, snapshot
from voronka.settings import Settings
from voronka.wiring import all_projections

VORONKA = str(Path(sys.executable).with_name("voronka"))


def play_department(store: EventStore, settings: Settings, operations: int, seed: int = 7) -> Department:
    """A few hundred random valid commands over every kind of aggregate (the property test's department)."""
    department = Department(CommandService(Deps(store, settings.policy())), store)
    rng = random.Random(seed)
    for _ in range(operations):
        department.play(rng.choice(ACTIONS), rng.randint(0, 5))
    return department


class LeadStream:
    """Writes a stream of commands (registrations, contact attempts) until it has stored `events` events."""

    def __init__(self, store: EventStore, settings: Settings, events: int, seconds: float = 0.0) -> None:
        self.store, self.target, self.seconds = store, events, seconds
        self.service = CommandService(Deps(store, settings.policy()))
        self.leads: list[UUID] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> LeadStream:
        seed_department(self.service)
        self.thread.start()
        return self

    def join(self, timeout: float = 600) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the command stream did not finish"
        if self.error:
            raise self.error

    @property
    def done(self) -> bool:
        return not self.thread.is_alive()

    def _run(self) -> None:
        try:
            started, rng, i = time.monotonic(), random.Random(3), 0
            while self.store.max_position() < self.target:
                self.write(i, rng)
                i += 1
                if self.seconds:  # pace the stream over the given time
                    ahead = started + self.seconds * self.store.max_position() / self.target - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)
        except BaseException as exc:  # noqa: BLE001 - reported by join()
            self.error = exc

    def write(self, i: int, rng: random.Random) -> None:
        if i % 3 == 2 and self.leads:
            lead_id = rng.choice(self.leads)
            holder = self.store.get(Lead, lead_id).holder or "anna"
            self.service.handle(l.RecordContactAttempt(lead_id=lead_id, outcome="answered"), manager(holder))
        else:
            contact = {"email": f"client{i}@stream.ru", "name": f"Клиент {i}"}
            self.leads.append(UUID(self.service.handle(l.RegisterInterest(channel="site_form", contact=contact), SITE).id))


def embedded_tables(store: EventStore, settings: Settings, path: Path) -> dict:
    """Every projection's tables as the embedded runner builds them from the whole log (the reference, on SQLite)."""
    projections = all_projections(settings)
    runner = ProjectionRunner(create_engine(f"sqlite:///{path}"), store.read_batch, projections)
    runner.run_until_caught_up(batch_size=5000)
    return comparable(snapshot(runner.engine, projections))


def read_model_tables(settings: Settings) -> dict:
    return comparable(snapshot(create_engine(settings.read_models_url()), all_projections(settings)))


def comparable(tables: dict) -> dict:
    """Rows as both databases give them back: PostgreSQL answers zoned times where SQLite answers naive UTC."""

    def plain(value):
        return value.astimezone(UTC).replace(tzinfo=None) if isinstance(value, datetime) and value.tzinfo else value

    return {name: sorted((tuple(plain(v) for v in row) for row in rows), key=repr) for name, rows in tables.items()}


def use_env(monkeypatch, settings: Settings) -> None:
    """Make `voronka` commands run in this process (CliRunner) see these settings."""
    for name, value in settings_env(settings).items():
        if name.startswith("VORONKA_") and not name.startswith("VORONKA_TEST_"):
            monkeypatch.setenv(name, value)


def lag(settings: Settings) -> int | None:
    """Messages of the events topic the workers have not applied yet (None before the topic exists)."""
    engine = create_engine(settings.read_models_url())
    kafka_state.metadata.create_all(engine)
    with engine.connect() as conn:
        stored = kafka_state.stored_offsets(conn, settings.kafka_group, settings.kafka_events_topic)
    client = consumer(settings.kafka_bootstrap)
    try:
        ends = end_offsets(client, settings.kafka_events_topic)
    except Exception:  # noqa: BLE001 - not created yet
        return None
    finally:
        client.close()
    return sum(end - stored.get(p, 0) for p, end in ends.items())


def relay_position(settings: Settings) -> int:
    engine = create_engine(settings.read_models_url())
    kafka_state.metadata.create_all(engine)
    with engine.connect() as conn:
        return kafka_state.relay_position(conn, settings.kafka_events_topic)


def wait_until(condition: Callable[[], bool], timeout: float, what: str, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting until {what}"
        time.sleep(every)


def drained(settings: Settings, store: EventStore) -> bool:
    return relay_position(settings) == store.max_position() and lag(settings) == 0


@contextmanager
def running(target: Callable[[threading.Event], None]):
    """Run a relay's or worker's `run(stop)` in a thread; stop it on exit and re-raise what it raised."""
    stop, failure = threading.Event(), []

    def body() -> None:
        try:
            target(stop)
        except BaseException as exc:  # noqa: BLE001
            failure.append(exc)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(60)
    if failure:
        raise failure[0]


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a `voronka` subprocess these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VORONKA_") or k.startswith("VORONKA_TEST_")}
    values = {"data_dir": settings.data_dir, "store": settings.store, "kafka_bootstrap": settings.kafka_bootstrap,
              "kafka_events_topic": settings.kafka_events_topic, "kafka_dlq_topic": settings.kafka_dlq_topic,
              "kafka_partitions": settings.kafka_partitions, "kafka_group": settings.kafka_group, "log_level": "info",
              "postgres_host": settings.postgres_host, "postgres_port": settings.postgres_port,
              "postgres_db": settings.postgres_db, "postgres_user": settings.postgres_user,
              "postgres_password": settings.postgres_password.get_secret_value()}  # fmt: skip
    if settings.read_model_url:
        values["read_model_url"] = settings.read_model_url
    return env | {f"VORONKA_{k.upper()}": str(v) for k, v in values.items()}


class Subprocess:
    """A `voronka` command in its own process, its output in a file (read when a test fails)."""

    def __init__(self, settings: Settings, *args: str, log: Path) -> None:
        self.args, self.env, self.log_path = [VORONKA, *args], settings_env(settings), log
        self.process: subprocess.Popen | None = None

    def start(self) -> Subprocess:
        self.log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(self.args, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        return self

    def logged(self, text: str) -> bool:
        """Whether this run (not an earlier one into the same file) logged the text."""
        with self.log_path.open("rb") as log:
            log.seek(self.log_start)
            return text.encode() in log.read()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def topic_messages(settings: Settings, topic: str | None = None) -> list:
    """Every message of a topic (the events topic by default), read from the beginning to its end offsets."""
    from consumers.kafka_topics import partitions_of

    client = consumer(settings.kafka_bootstrap)
    try:
        tps = partitions_of(client, topic or settings.kafka_events_topic)
        client.assign(tps)
        client.seek_to_beginning(*tps)
        ends = client.end_offsets(tps)
        found = []
        while any(client.position(tp) < end for tp, end in ends.items()):
            for records in client.poll(timeout_ms=1000).values():
                found.extend(records)
        return found
    finally:
        client.close()


def publish(settings: Settings, messages: list[tuple[bytes, bytes, list]]) -> None:
    """Write raw (key, value, headers) messages to the events topic, as a faulty producer might."""
    from consumers.kafka_topics import ensure_topic, producer

    ensure_topic(settings.kafka_bootstrap, settings.kafka_events_topic, settings.kafka_partitions)
    client = producer(settings.kafka_bootstrap)
    for key, value, headers in messages:
        client.send(settings.kafka_events_topic, key=key, value=value, headers=headers)
    client.flush(30)
    client.close()
