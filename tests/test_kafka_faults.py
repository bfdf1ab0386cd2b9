"""Faults between the store and the read models, each ending with nothing lost and nothing counted twice (the
workers' tables equal a clean embedded rebuild): the relay or a worker killed with SIGKILL at random points,
the broker stopped mid-stream, poison messages (dead letters, parking, replay), and an event of a newer schema
version (the worker stops).

VORONKA_FAULT_EVENTS sets the length of the kill tests' command streams (default 5,000 events; 50,000 for the
full run)."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path
from uuid import UUID

import orjson
import pytest
from sqlalchemy import MetaData, create_engine, delete, select
from typer.testing import CliRunner

from aggregates.lead import Lead
from consumers import kafka_state
from consumers.kafka_rebuild import KafkaTopicSource
from consumers.kafka_worker import KafkaWorker
from consumers.rebuild import rebuild
from consumers.wire import to_message
from projections.base import Projection
from projections.lead_card import cards
from schemas import leads as l
from schemas.leads import ContactAttempted
from tests.conftest import SITE, manager
from tests.kafka_support import (
    LeadStream,
    Subprocess,
    drained,
    embedded_tables,
    lag,
    publish,
    read_model_tables,
    relay_position,
    running,
    topic_messages,
    use_env,
    wait_until,
)
from voronka.cli import app
from voronka.kafka_mode import build_relay, build_worker, topics
from voronka.wiring import all_projections

pytestmark = pytest.mark.integration
FAULT_EVENTS = int(os.environ.get("VORONKA_FAULT_EVENTS", "5000"))
KILLS = 10
REPO = Path(__file__).resolve().parent.parent


def stream_seconds() -> float:
    """Long enough for every kill to land while commands are still coming."""
    return max(25.0, FAULT_EVENTS / 1500)


def assert_nothing_lost_nothing_doubled(settings, store, tmp_path) -> Counter:
    """Every stored event is in the topic (repeats allowed), and the workers' tables equal a clean rebuild."""
    seen = Counter((m.key, orjson.loads(m.value)["aggregate_version"]) for m in topic_messages(settings))
    stored = {(str(e.originator_id).encode(), e.originator_version) for _, e in store.read_batch(0, 10_000_000)}
    assert stored == set(seen), f"missing from the topic: {len(stored - set(seen))}"
    assert read_model_tables(settings) == embedded_tables(store, settings, tmp_path / "embedded.sqlite")
    return Counter(count for count in seen.values())


def test_the_relay_killed_at_random_points_loses_and_doubles_nothing(kafka, store, tmp_path):
    rng = random.Random(1)
    stream = LeadStream(store, kafka, FAULT_EVENTS, stream_seconds()).start()
    worker = build_worker(kafka, "steady")
    kills = 0
    with running(worker.run):
        while kills < KILLS or not stream.done:
            before = relay_position(kafka)
            relay = Subprocess(kafka, "relay", log=tmp_path / "relay.log").start()
            wait_until(lambda: relay_position(kafka) > before or relay.process.poll() is not None or
                       (stream.done and before == store.max_position()), 60, "the relay publishes")  # fmt: skip
            assert relay.process.poll() is None, relay.output()
            time.sleep(rng.uniform(0, 0.4))
            relay.kill()
            kills += 1
        stream.join()
        relay = Subprocess(kafka, "relay", log=tmp_path / "relay.log").start()
        wait_until(lambda: relay.logged("relay_connected") and drained(kafka, store), 180,
                   "the last relay and the worker drained the log")  # fmt: skip
        assert relay.stop() == 0, relay.output()
    repeats = assert_nothing_lost_nothing_doubled(kafka, store, tmp_path)
    assert store.max_position() >= FAULT_EVENTS and kills >= KILLS
    counts = worker.sequencer.counts  # each event applied once; every repeat the relay sent was skipped
    assert counts.applied == store.max_position() and counts.repeated == sum((n - 1) * k for n, k in repeats.items())
    print(f"{kills} relay kills; messages per event: {dict(repeats)}")


def test_a_worker_killed_at_random_points_loses_and_doubles_nothing(kafka, store, tmp_path):
    rng = random.Random(2)
    stream = LeadStream(store, kafka, FAULT_EVENTS, stream_seconds()).start()
    relay = build_relay(kafka, store)
    kills = 0

    def applied_offsets() -> int:
        engine = create_engine(kafka.read_models_url())
        kafka_state.metadata.create_all(engine)
        with engine.connect() as conn:
            return sum(kafka_state.stored_offsets(conn, kafka.kafka_group, kafka.kafka_events_topic).values())

    with running(relay.run):
        while kills < KILLS or not stream.done:
            before = applied_offsets()
            worker = Subprocess(kafka, "worker", "--name", "w1", log=tmp_path / "worker.log").start()
            wait_until(lambda: applied_offsets() > before or worker.process.poll() is not None or
                       (stream.done and lag(kafka) == 0), 60, "the worker applies events")  # fmt: skip
            assert worker.process.poll() is None, worker.output()
            time.sleep(rng.uniform(0, 0.4))
            worker.kill()
            kills += 1
        stream.join()
        worker = Subprocess(kafka, "worker", "--name", "w1", log=tmp_path / "worker.log").start()
        wait_until(lambda: worker.logged("worker_started") and drained(kafka, store), 180, "the last worker drained the topic")
        assert worker.stop() == 0, worker.output()
    assert_nothing_lost_nothing_doubled(kafka, store, tmp_path)
    assert kills >= KILLS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def own_broker(tmp_path):
    """A broker of this test's own (scripts/services.sh with a private state directory and ports), so stopping it
    disturbs no other test; it reuses the jars the main broker's start resolved."""
    if shutil.which("java") is None:
        if os.environ.get("CI"):
            pytest.fail("java is missing: scripts/services.sh start installs it")
        pytest.skip("BROKER-RESTART TEST SKIPPED: no java here; run scripts/services.sh start")
    services = tmp_path / "services"
    (services / "kafka").mkdir(parents=True)
    libs = REPO / ".services" / "kafka" / "libs"
    if libs.is_dir():
        (services / "kafka" / "libs").symlink_to(libs)
    env = os.environ | {"VORONKA_SERVICES_DIR": str(services), "VORONKA_TEST_KAFKA_PORT": str(free_port()),
                        "VORONKA_TEST_KAFKA_CONTROLLER_PORT": str(free_port())}  # fmt: skip

    def services_sh(command: str) -> str:
        done = subprocess.run(["bash", str(REPO / "scripts" / "services.sh"), command], env=env, capture_output=True,
                              text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    bootstrap = services_sh("start-kafka").strip().split("=", 1)[1]
    yield bootstrap, services_sh
    services_sh("stop-kafka")


def test_the_broker_stopped_mid_stream_the_relay_and_worker_catch_up(kafka, store, tmp_path, own_broker):
    bootstrap, services_sh = own_broker
    settings = kafka.model_copy(update={"kafka_bootstrap": bootstrap})
    stream = LeadStream(store, settings, 4000, seconds=20).start()
    relay, worker = build_relay(settings, store), build_worker(settings, "survivor")
    with running(relay.run), running(worker.run):
        wait_until(lambda: relay_position(settings) > 300 and worker.sequencer.counts.applied > 0, 60, "the pipeline runs")
        services_sh("stop-kafka")
        stored_while_down = store.max_position()
        time.sleep(4)
        assert store.max_position() > stored_while_down  # commands are unaffected: they only write the store
        published_while_down = relay_position(settings)
        services_sh("start-kafka")
        stream.join()
        wait_until(lambda: drained(settings, store), 120, "the relay and the worker caught up after the outage")
    assert relay_position(settings) > published_while_down
    repeats = assert_nothing_lost_nothing_doubled(settings, store, tmp_path)
    counts = worker.sequencer.counts
    assert counts.applied == store.max_position() and counts.repeated == sum((n - 1) * k for n, k in repeats.items())


# --- poison messages --------------------------------------------------------------------------------------------


def lead_with_history(service, store, n: int) -> UUID:
    lead_id = UUID(service.handle(l.RegisterInterest(channel="email", contact={"email": f"p{n}@poison.ru"}), SITE).id)
    for outcome in ("no_answer", "busy", "answered"):
        holder = store.get(Lead, lead_id).holder
        service.handle(l.RecordContactAttempt(lead_id=lead_id, outcome=outcome), manager(holder))
    return lead_id


def exploding_projection(victim: UUID) -> Projection:
    """A projection with a bug that only one aggregate's contact attempt triggers."""
    projection = Projection("exploding", 1, MetaData())

    @projection.on(ContactAttempted)
    def _explode(event):
        if event.originator_id == victim:
            raise RuntimeError("boom on purpose")
        return []

    return projection


def test_poison_goes_to_the_dead_letters_its_aggregate_is_parked_and_a_replay_applies_the_rest(kafka, department, store,
                                                                                                tmp_path, monkeypatch):  # fmt: skip
    garbage, invalid, bug = (lead_with_history(department, store, n) for n in range(3))
    messages = []
    for position, event in store.read_batch(0, 100_000):
        message = to_message(event, position)
        value = message.value
        if (event.originator_id, event.originator_version) == (garbage, 3):
            value = b"\xff\x00 not json at all"
        elif (event.originator_id, event.originator_version) == (invalid, 3):
            value = orjson.dumps(orjson.loads(value) | {"payload": {"outcome": "teleported"}})
        messages.append((message.key, value, message.headers))
    publish(kafka, messages)

    engine = create_engine(kafka.read_models_url())
    buggy = KafkaWorker(engine, [*all_projections(kafka), exploding_projection(bug)], topics(kafka), "buggy")
    with running(buggy.run):
        wait_until(lambda: lag(kafka) == 0, 60, "the worker went through the topic")
    assert buggy.sequencer.counts.dead == 3

    dead = topic_messages(kafka, kafka.kafka_dlq_topic)
    headers = [dict(m.headers) for m in dead]
    assert {UUID(h["aggregate_id"].decode()) for h in headers} == {garbage, invalid, bug}
    errors = {UUID(h["aggregate_id"].decode()): h["error"].decode() for h in headers}
    assert "not an event envelope" in errors[garbage]
    assert "invalid ContactAttempted payload" in errors[invalid]
    assert "projection exploding failed: RuntimeError: boom on purpose" in errors[bug]
    sources = {(h["source_topic"].decode(), int(h["source_partition"]), int(h["source_offset"])) for h in headers}
    poisoned_positions = {str(store.position_of(lead, 3)).encode() for lead in (garbage, invalid, bug)}
    assert sources == {(m.topic, m.partition, m.offset) for m in topic_messages(kafka)
                       if dict(m.headers)["position"] in poisoned_positions}  # fmt: skip
    with engine.connect() as conn:
        applied = kafka_state.applied_versions(conn, {garbage, invalid, bug})
        parked = kafka_state.parked_counts(conn)
    final_versions = {lead: store.get(Lead, lead).version for lead in (garbage, invalid, bug)}
    assert applied == {garbage: 2, invalid: 2, bug: 2}  # stopped before the poison
    assert parked == {lead: version - 3 for lead, version in final_versions.items()}  # everything after it waits
    assert final_versions[garbage] > 3
    assert_a_rebuild_from_kafka_gives_up_where_the_worker_did(kafka, store, engine, [*all_projections(kafka), exploding_projection(bug)])

    use_env(monkeypatch, kafka)
    cli = CliRunner()
    listing = cli.invoke(app, ["dlq", "list"])
    assert listing.exit_code == 0 and "3 dead letter(s)" in listing.output, listing.output
    offsets = {UUID(h["aggregate_id"].decode()): m.offset for m, h in zip(dead, headers, strict=True)}
    for lead in (garbage, invalid):  # the messages themselves were damaged: publish the store's events instead
        replayed = cli.invoke(app, ["dlq", "replay", "--offset", str(offsets[lead]), "--from-store"])
        assert replayed.exit_code == 0 and "replayed 1 dead letter(s)" in replayed.output, replayed.output
    fixed_code = cli.invoke(app, ["dlq", "replay", "--all"])  # the bug is fixed: the original message will do
    assert fixed_code.exit_code == 0 and "replayed 1 dead letter(s)" in fixed_code.output
    assert "2 already replayed before" in " ".join(fixed_code.output.split())

    fixed = build_worker(kafka, "fixed")
    with running(fixed.run):
        wait_until(lambda: lag(kafka) == 0, 60, "the fixed worker applied the replays")
    with engine.connect() as conn:
        assert kafka_state.applied_versions(conn, {garbage, invalid, bug}) == final_versions
        assert kafka_state.parked_counts(conn) == {}
    assert read_model_tables(kafka) == embedded_tables(store, kafka, tmp_path / "embedded.sqlite")

    end_before = len(topic_messages(kafka))
    again = cli.invoke(app, ["dlq", "replay", "--all"])
    assert again.exit_code == 0 and "replayed 0 dead letter(s)" in " ".join(again.output.split()) and len(topic_messages(kafka)) == end_before
    assert cli.invoke(app, ["dlq", "replay"]).exit_code == 1
    assert cli.invoke(app, ["dlq", "replay", "--offset", "999"]).exit_code == 1
    monkeypatch.setenv("VORONKA_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    down = cli.invoke(app, ["dlq", "list"])
    assert down.exit_code == 1 and "Kafka is not available" in down.output and "Traceback" not in down.output


def assert_a_rebuild_from_kafka_gives_up_where_the_worker_did(settings, store, engine, projections) -> None:
    """Each part of the rebuild decodes only its own event types, yet an event any part cannot apply is left out,
    with its aggregate's later events, by every part: the tables equal the live worker's, which parked them all."""
    live = read_model_tables(settings)
    with engine.begin() as conn:
        conn.execute(delete(cards))
    for workers in (3, 1):
        source = KafkaTopicSource(engine, topics(settings), workers=workers, counts=store.topic_counts())
        rebuild(engine, projections, source.open())
        assert read_model_tables(settings) == live


def test_an_event_of_a_newer_schema_version_stops_the_worker_and_a_rebuild_with_a_clear_error(kafka, department, store, tmp_path,
                                                                                          monkeypatch):  # fmt: skip
    lead_id = lead_with_history(department, store, 9)
    messages = []
    for position, event in store.read_batch(0, 100_000):
        message = to_message(event, position)
        value = message.value
        if (event.originator_id, event.originator_version) == (lead_id, 3):
            value = orjson.dumps(orjson.loads(value) | {"schema_version": 7})
        messages.append((message.key, value, message.headers))
    publish(kafka, messages)
    worker = Subprocess(kafka, "worker", log=tmp_path / "worker.log").start()
    try:
        code = worker.process.wait(60)
    finally:
        worker.stop()
    output = " ".join(worker.output().split())  # the console wraps long lines
    assert code == 3, output
    assert "ContactAttempted has schema version 7; this code knows up to 1" in output and "Traceback" not in output
    assert f"aggregate {lead_id} version 3" in output
    with create_engine(kafka.read_models_url()).connect() as conn:
        assert kafka_state.applied_version(conn, lead_id) < 3  # nothing after it was applied, nothing skipped
        assert not conn.execute(select(kafka_state.parked)).all()
    use_env(monkeypatch, kafka)
    before = read_model_tables(kafka)
    result = CliRunner().invoke(app, ["projections", "rebuild", "--all", "--source", "kafka", "--workers", "2"])
    output = " ".join(result.output.split())
    assert result.exit_code == 1 and "ContactAttempted has schema version 7; this code knows up to 1" in output, output
    assert "Traceback" not in output and read_model_tables(kafka) == before
