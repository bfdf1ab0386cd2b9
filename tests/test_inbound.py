"""Inbound integration topics against a real broker, and `voronka processes` on its own.

The Kafka tests need VORONKA_TEST_KAFKA (scripts/services.sh start): without it they fail under CI
and are skipped, with the reason, elsewhere.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest
from typer.testing import CliRunner

from commands.store import StoreBusyError
from consumers.inbound import Backoff, InboundConsumer, InboundTopics, connect, ensure_topics
from schemas import counterparties as c, needs as n
from tests.conftest import HEAD, logged_events, manager, product, use_settings
from voronka.cli import app

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def kafka() -> str:
    server = os.environ.get("VORONKA_TEST_KAFKA")
    if not server:
        reason = "VORONKA_TEST_KAFKA is not set: the inbound Kafka tests cannot run (scripts/services.sh start)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return server


@pytest.fixture
def topics(kafka: str) -> Iterator[InboundTopics]:
    """Topics of this test alone, deleted afterwards."""
    from consumers.kafka_topics import delete_topics

    tag = uuid.uuid4().hex[:10]
    names = InboundTopics(f"test.{tag}.interests", f"test.{tag}.calls", f"test.{tag}.dlq", partitions=2)
    ensure_topics(kafka, names.specs())  # messages are sent before the consumer starts (and creates them)
    yield names
    delete_topics(kafka, [names.interests, names.calls, names.dlq])


@pytest.fixture
def start(kafka: str, topics: InboundTopics, department) -> Iterator[Callable[..., InboundConsumer]]:
    """Starts inbound consumers on the test's topics; each test has its own group unless told otherwise."""
    started: list[InboundConsumer] = []

    def starter(handle=None, group: str | None = None) -> InboundConsumer:
        consumer = connect(kafka, topics, handle or department.handle, group=group or f"test-{uuid.uuid4().hex[:10]}",
                           backoff=Backoff(first=0.01, longest=0.05))  # fmt: skip
        started.append(consumer)
        return consumer

    yield starter
    for consumer in started:
        consumer.close()


@pytest.fixture
def send(kafka: str) -> Iterator[Callable[..., tuple[int, int]]]:
    """Sends one message and answers its (partition, offset)."""
    from consumers.kafka_topics import producer

    client = producer(kafka)

    def sender(topic: str, value: bytes | dict, key: bytes = b"k", **options) -> tuple[int, int]:
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()
        meta = client.send(topic, key=key, value=raw, **options).get(timeout=10)
        return meta.partition, meta.offset

    yield sender
    client.close()


def settle(consumer: InboundConsumer, count: int, timeout: float = 30.0) -> None:
    """Poll until `count` messages were stored or dead-lettered (and their offsets committed)."""
    deadline, settled = time.monotonic() + timeout, 0
    while settled < count:
        assert time.monotonic() < deadline, f"only {settled} of {count} messages settled in {timeout} s"
        settled += consumer.poll_once(timeout_ms=200)


def dead_letters(kafka: str, topic: str, count: int, timeout: float = 15.0) -> list:
    from kafka import TopicPartition

    from consumers.kafka_topics import consumer

    reader = consumer(kafka)
    reader.assign([TopicPartition(topic, 0)])
    reader.seek_to_beginning()
    found: list = []
    deadline = time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        for records in reader.poll(timeout_ms=200).values():
            found.extend(records)
    reader.close()
    return found


def headers(record) -> dict[str, str]:
    return {name: value.decode() for name, value in record.headers}


def interests(store) -> list:
    return [e.payload for e in logged_events(store) if e.type == "InterestRegistered"]


def web_form(ref: str, **changes) -> dict:
    return {"source": "website", "channel": "site_form", "external_ref": ref, "message": "Нужны перчатки",
            "contact": {"name": "Ирина", "email": "zakupki@gkb7.ru", "phone": "+7 495 123-45-67"}, **changes}  # fmt: skip


def pbx_call(call_id: str, employee: str = "anna") -> dict:
    return {"pbx_call_id": call_id, "employee": employee, "direction": "inbound", "phone": "+7 495 765-43-21",
            "started_at": "2026-11-23T09:15:00+03:00", "duration_seconds": 95, "outcome": "answered"}  # fmt: skip


def committed(consumer: InboundConsumer, topic: str, partition: int) -> int | None:
    from kafka import TopicPartition

    return consumer.consumer.committed(TopicPartition(topic, partition))


# --- interests ---


def test_a_replayed_web_form_creates_one_lead_at_the_time_it_was_sent(start, send, topics, store):
    sent_at = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)
    partition, _ = send(topics.interests, web_form("form-1001"), timestamp_ms=int(sent_at.timestamp() * 1000))
    send(topics.interests, web_form("form-1001"))
    consumer = start()
    settle(consumer, 2)
    [lead] = interests(store)
    assert (lead.external_ref, lead.received_by, lead.channel) == ("form-1001", "system:website", "site_form")
    [registered] = [e for e in logged_events(store) if e.type == "InterestRegistered"]
    assert registered.occurred_at == sent_at  # business time: when the form was sent, not when it was taken
    assert committed(consumer, topics.interests, partition) == 2  # both offsets committed after storing

    settle(start(), 2)  # another group replays the whole topic: still one lead
    assert len(interests(store)) == 1


def test_invalid_messages_go_to_the_dead_letters_naming_the_field_and_the_consumer_goes_on(kafka, start, send, topics, store):
    sent = [
        send(topics.interests, web_form("form-1", channel="fax")),  # refused by the domain: unknown channel
        send(topics.interests, b"{not json"),
        send(topics.interests, web_form("form-2", external_ref=None)),  # a redelivery would register twice
        send(topics.interests, web_form("form-3", source="Web Site")),
        send(topics.interests, web_form("form-4")),
    ]
    consumer = start()
    settle(consumer, 5)
    assert [lead.external_ref for lead in interests(store)] == ["form-4"]
    letters = dead_letters(kafka, topics.dlq, 4)
    assert [r.value for r in letters[:2]] == [json.dumps(web_form("form-1", channel="fax")).encode(), b"{not json"]
    errors = [headers(r)["error"] for r in letters]
    assert errors[0].startswith("channel: unknown value 'fax'") and errors[1].startswith("message: not JSON")
    assert errors[2].startswith("external_ref: ") and errors[3].startswith("source: String should match pattern")
    origin = [(headers(r)["source_topic"], int(headers(r)["source_partition"]), int(headers(r)["source_offset"])) for r in letters]
    assert origin == [(topics.interests, p, o) for p, o in sent[:4]]
    assert committed(consumer, topics.interests, sent[-1][0]) == sent[-1][1] + 1


def test_a_busy_store_is_retried_with_back_off_and_never_dead_lettered(kafka, start, send, topics, store, department):
    attempts = []

    def busy_twice(command, caller):
        attempts.append(command)
        if len(attempts) <= 2:
            raise StoreBusyError("database is locked")
        return department.handle(command, caller)

    send(topics.interests, web_form("form-77"))
    settle(start(busy_twice), 1)
    assert len(attempts) == 3 and [lead.external_ref for lead in interests(store)] == ["form-77"]
    assert dead_letters(kafka, topics.dlq, 1, timeout=2.0) == []


# --- calls ---


def test_a_replayed_pbx_call_logs_one_call_and_an_unknown_employee_is_dead_lettered(kafka, start, send, topics, store):
    send(topics.calls, pbx_call("pbx-555"))
    send(topics.calls, pbx_call("pbx-555"))
    send(topics.calls, pbx_call("pbx-556", employee="nobody"))
    send(topics.calls, {k: v for k, v in pbx_call("pbx-557").items() if k != "pbx_call_id"})
    settle(start(), 4)
    calls = [e.payload for e in logged_events(store) if e.type == "CallLogged"]
    assert [(call.pbx_call_id, call.employee) for call in calls] == [("pbx-555", "anna")]
    errors = [headers(r)["error"] for r in dead_letters(kafka, topics.dlq, 2)]
    assert errors[0] == "employee: unknown employee 'nobody'" and errors[1].startswith("pbx_call_id: Field required")


def test_an_unreachable_broker_is_a_clear_error_without_a_traceback(monkeypatch, tmp_path):
    monkeypatch.setenv("VORONKA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VORONKA_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    result = CliRunner().invoke(app, ["inbound"])
    assert result.exit_code == 1 and "Kafka is not reachable" in result.output and "Traceback" not in result.output


# --- voronka processes ---


def test_processes_alone_raise_the_duplicate_alert_and_stop_cleanly_on_sigterm(department, store, app_settings, monkeypatch):
    from voronka.wiring import bootstrap

    client = UUID(department.handle(c.RegisterCounterparty(counterparty={"inn": "7707083893", "kpp": "773601001", "name": "ООО Клиника"},
                                                           owner="anna"), HEAD).id)  # fmt: skip
    items = [{"product_id": product(i), "quantity": 3, "period": {"start": "2026-12-01", "end": "2026-12-31"}} for i in (0, 1)]
    for who in ("anna", "boris"):
        department.handle(n.RegisterNeed(counterparty_id=client, items=items), manager(who))
    use_settings(monkeypatch, app_settings)
    process = subprocess.Popen([sys.executable, "-c", "from voronka.cli import app; app()", "processes"], cwd=REPO,
                               env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not list(store.read(topics=["DuplicateWorkFlagged"])):
            assert process.poll() is None and time.monotonic() < deadline, "no duplicate alert from `voronka processes`"
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=20)[0]
    finally:
        process.kill()
    assert process.returncode == 0 and "processes_stopped" in output and "Traceback" not in output, output
    assert len(list(store.read(topics=["DuplicateWorkFlagged"]))) == 1
    positions = bootstrap(app_settings).runner.positions()
    assert set(positions.values()) == {0}, positions  # the projections were left to the Kafka workers
