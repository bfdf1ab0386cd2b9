"""Store → relay → Kafka → projection workers gives the embedded runner's tables; the topic is readable from
outside (kcat) and validates against the exported envelope schema; read-your-writes, rebuild and the relay's
lease in Kafka mode. Needs the test broker (see the `kafka` fixture)."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time

import pytest
from fastapi.testclient import TestClient
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
from jsonschema import Draft202012Validator
from sqlalchemy import create_engine, delete
from typer.testing import CliRunner

from consumers.lease import Lease
from projections.lead_card import cards
from schemas.employees import Role
from tests.conftest import bearer
from tests.kafka_support import (
    LeadStream,
    drained,
    embedded_tables,
    play_department,
    read_model_tables,
    running,
    use_env,
    wait_until,
)
from voronka.cli import app
from voronka.kafka_mode import build_relay, build_worker
from voronka.wiring import bootstrap, create_app

pytestmark = pytest.mark.integration


def test_one_partition_one_worker_builds_the_embedded_tables(kafka, store, tmp_path):
    settings = kafka.model_copy(update={"kafka_partitions": 1})
    play_department(store, settings, operations=400)
    assert store.max_position() > 300
    relay, worker = build_relay(settings, store), build_worker(settings, "only")
    with running(relay.run), running(worker.run):
        wait_until(lambda: drained(settings, store), 60, "the worker applied every event")
    assert worker.sequencer.counts.applied == store.max_position() and worker.sequencer.counts.dead == 0
    assert read_model_tables(settings) == embedded_tables(store, settings, tmp_path / "embedded.sqlite")
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    config = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, settings.kafka_events_topic)])
    admin.close()
    created = config["topic"][settings.kafka_events_topic]
    assert created["cleanup.policy"]["value"] == "delete" and created["retention.ms"]["value"] == "-1"  # never compacted


def test_three_partitions_two_workers_share_the_partitions_and_build_the_embedded_tables(kafka, store, tmp_path):
    settings = kafka.model_copy(update={"kafka_partitions": 3})
    workers = [build_worker(settings, "first"), build_worker(settings, "second")]
    relay = build_relay(settings, store)
    with running(workers[0].run), running(workers[1].run):
        wait_until(lambda: all(w.consumer and w.consumer.assignment() for w in workers), 60, "both workers hold partitions")
        play_department(store, settings, operations=400, seed=11)
        with running(relay.run):
            wait_until(lambda: drained(settings, store), 90, "the workers applied every event")
    assert all(w.sequencer.counts.applied > 0 for w in workers), [w.sequencer.counts for w in workers]
    assert sum(w.sequencer.counts.applied for w in workers) == store.max_position()
    assert workers[0].assigned_ever | workers[1].assigned_ever == {0, 1, 2}
    assert read_model_tables(settings) == embedded_tables(store, settings, tmp_path / "embedded.sqlite")


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed (Debian package kcat)")
def test_kcat_reads_envelopes_that_validate_against_the_exported_schema(kafka, store, tmp_path, monkeypatch):
    play_department(store, kafka, operations=60)
    build_relay(kafka, store).run_until_caught_up()
    monkeypatch.setenv("VORONKA_DATA_DIR", str(tmp_path))
    assert CliRunner().invoke(app, ["schemas", "export", str(tmp_path / "schemas")]).exit_code == 0
    validator = Draft202012Validator(json.loads((tmp_path / "schemas" / "envelope.json").read_text()))
    out = subprocess.run(["kcat", "-C", "-b", kafka.kafka_bootstrap, "-t", kafka.kafka_events_topic, "-e", "-J", "-q"],
                         capture_output=True, text=True, timeout=60, check=True).stdout  # fmt: skip
    messages = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert len(messages) == store.max_position()
    for message in messages:
        envelope = json.loads(message["payload"])
        validator.validate(envelope)
        headers = dict(zip(message["headers"][::2], message["headers"][1::2], strict=True))
        assert headers == {"type": envelope["type"], "schema_version": str(envelope["schema_version"]),
                           "position": str(envelope["position"])}  # fmt: skip
        assert message["key"] == envelope["aggregate_id"]
    assert sorted(json.loads(m["payload"])["position"] for m in messages) == list(range(1, store.max_position() + 1))


def test_in_kafka_mode_a_token_waits_for_its_aggregate_version_and_health_shows_the_lag(kafka, store):
    settings = kafka.model_copy(update={"consumers": "kafka", "consistency_timeout_seconds": 0.5})
    container = bootstrap(settings, store)
    head = bearer(container, "boss", Role.HEAD_OF_SALES)
    site = bearer(container, "system:site", Role.INTEGRATION)
    with TestClient(create_app(container)) as client:  # kafka mode: serving does not project anything itself
        boss = {"employee_id": "boss", "name": "Boss", "role": "head_of_sales"}
        assert client.post("/commands/register-employee", json=boss, headers=head).status_code == 200
        lead = client.post("/commands/register-interest", json={"channel": "email", "contact": {"email": "a@b.ru"}},
                           headers=site).json()  # fmt: skip
        waiting = client.get(f"/leads/{lead['id']}", headers=head | {"X-Consistency-Token": lead["token"]})
        assert waiting.status_code == 503 and waiting.json()["detail"]["wanted"] >= 1, waiting.text
        assert client.get("/leads/" + lead["id"], headers=head | {"X-Min-Position": "1"}).status_code == 400
        relay, worker = build_relay(settings, store), build_worker(settings, "api-test")
        with running(relay.run), running(worker.run):
            deadline = time.monotonic() + 30  # each request waits 0.5 s; the worker may still be joining its group
            while (answer := client.get(f"/leads/{lead['id']}", headers=head | {"X-Consistency-Token": lead["token"]})
                   ).status_code == 503 and time.monotonic() < deadline:  # fmt: skip
                pass
            assert answer.status_code == 200 and answer.json()["channel"] == "email"
            wait_until(lambda: drained(settings, store), 30, "the worker caught up")
            health = client.get("/health").json()
            metrics = client.get("/metrics").text
        assert health["relay_position"] == store.max_position() and health["relay_lag"] == 0
        assert set(health["consumer_lag"]) == {"0", "1", "2"} and sum(health["consumer_lag"].values()) == 0
        assert "voronka_relay_lag_events 0.0" in metrics and "voronka_kafka_up 1.0" in metrics
        assert all(f'voronka_consumer_lag_messages{{partition="{p}"}} 0.0' in metrics for p in "012")
        assert "voronka_projection_lag_events{" not in metrics  # the embedded runner's positions mean nothing here


def test_rebuild_from_kafka_replaces_damaged_tables_with_the_embedded_ones(kafka, store, tmp_path, monkeypatch):
    play_department(store, kafka, operations=200, seed=5)
    relay, worker = build_relay(kafka, store), build_worker(kafka, "live")
    with running(relay.run), running(worker.run):
        wait_until(lambda: drained(kafka, store), 60, "the worker caught up")
    engine = create_engine(kafka.read_models_url())  # its cards deleted below: the rebuild from offset 0 must repair them
    use_env(monkeypatch, kafka)
    embedded = embedded_tables(store, kafka, tmp_path / "embedded.sqlite")
    for workers in ("3", "1"):  # the projections in three parts, each read by its own process; then all in this one
        with engine.begin() as conn:
            conn.execute(delete(cards))
        result = CliRunner().invoke(app, ["projections", "rebuild", "--all", "--source", "kafka", "--workers", workers])
        assert result.exit_code == 0, result.output
        assert f"at position {store.max_position()}" in result.output
        assert read_model_tables(kafka) == embedded
    monkeypatch.setenv("VORONKA_CONSUMERS", "kafka")
    status = CliRunner().invoke(app, ["projections", "status"], env={"COLUMNS": "200"})
    assert status.exit_code == 0 and f"relay → Kafka │ {store.max_position()}" in status.output, status.output
    assert status.output.count("│ partition ") == kafka.kafka_partitions
    monkeypatch.setenv("VORONKA_CONSUMERS", "embedded")
    monkeypatch.setenv("VORONKA_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    unreachable = CliRunner().invoke(app, ["projections", "rebuild", "--all", "--source", "kafka"])
    assert unreachable.exit_code == 1 and "Kafka is not available" in unreachable.output


def test_a_second_relay_waits_for_the_lease_and_takes_over_when_the_first_is_gone(kafka, store):
    first, second = Lease(create_engine(kafka.read_models_url()), kafka.data_dir, "relay.t"), None
    assert first.acquire(threading.Event())
    second = Lease(create_engine(kafka.read_models_url()), kafka.data_dir, "relay.t")
    stop, took = threading.Event(), []
    waiter = threading.Thread(target=lambda: took.append(second.acquire(stop, poll=0.05)))
    waiter.start()
    time.sleep(0.5)
    assert not took  # still waiting while the first holds it
    first.release()
    waiter.join(10)
    assert took == [True] and second.held()
    second.release()


def test_a_worker_joining_and_one_leaving_mid_stream_neither_skip_nor_double_apply(kafka, store, tmp_path):
    settings = kafka.model_copy(update={"kafka_partitions": 3})
    stream = LeadStream(store, settings, 3000, seconds=8).start()
    first, second = build_worker(settings, "first"), build_worker(settings, "second")
    with running(build_relay(settings, store).run), running(first.run):
        wait_until(lambda: first.sequencer.counts.applied > 200, 30, "the first worker applies events")
        with running(second.run):  # a rebalance while events flow
            wait_until(lambda: second.sequencer.counts.applied > 200, 30, "the second worker got partitions")
        stream.join()
        wait_until(lambda: drained(settings, store), 60, "everything applied")
    assert first.sequencer.counts.applied + second.sequencer.counts.applied == store.max_position()
    assert second.assigned_ever and first.assigned_ever == {0, 1, 2}
    assert read_model_tables(settings) == embedded_tables(store, settings, tmp_path / "embedded.sqlite")
