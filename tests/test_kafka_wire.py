"""The Kafka message of an event, and the per-aggregate ordering of what workers receive (no broker needed)."""

from __future__ import annotations

from collections import Counter
from uuid import uuid4

import orjson
import pytest
from sqlalchemy import create_engine

from consumers.sequencer import MemoryVersions, Record, Sequencer, parse
from consumers.wire import NewerSchemaError, PoisonMessage, read_envelope, to_event, to_message
from tests.kafka_support import play_department
from tests.test_projection_properties import snapshot
from voronka.kafka_mode import store_messages
from voronka.wiring import all_projections


def test_the_relays_fast_path_writes_exactly_the_envelope_of_the_full_decoding(store, app_settings):
    play_department(store, app_settings, operations=150)
    fast = store_messages(store)(0, 100_000)
    full = [(position, to_message(event, position)) for position, event in store.read_batch(0, 100_000)]
    assert len(fast) == store.max_position() > 100
    assert fast == full


def test_a_message_decodes_back_into_the_event(store, app_settings):
    play_department(store, app_settings, operations=40)
    for position, event in store.read_batch(0, 100_000):
        assert to_event(read_envelope(to_message(event, position).value)) == event


def test_what_cannot_be_read_is_poison_and_a_newer_schema_version_is_not(store, app_settings):
    play_department(store, app_settings, operations=10)
    position, event = store.read_batch(0, 1)[0]
    document = orjson.loads(to_message(event, position).value)
    for value in (b"", b"\xff", b"[]", b'{"aggregate_id": "nope", "aggregate_version": 1}'):
        with pytest.raises(PoisonMessage):
            read_envelope(value)
    for broken in ({"type": "NoSuchEvent"}, {"payload": {"unexpected": 1}}, {"occurred_at": "yesterday"}):
        with pytest.raises(PoisonMessage):
            to_event(read_envelope(orjson.dumps(document | broken)))
    with pytest.raises(NewerSchemaError, match=f"{event.type} has schema version 99; this code knows up to 1"):
        to_event(read_envelope(orjson.dumps(document | {"schema_version": 99})))


def test_repeats_are_skipped_gaps_parked_and_applied_in_order_once_filled(store, app_settings, tmp_path):
    play_department(store, app_settings, operations=120, seed=3)
    projections = all_projections(app_settings)
    messages = [to_message(event, position) for position, event in store.read_batch(0, 100_000)]
    records = [Record("t", 0, i, m.key, m.value) for i, m in enumerate(messages)]
    versions_of = Counter(read_envelope(r.value).aggregate_id for r in records)
    held_back = next(r for r in records if versions_of[read_envelope(r.value).aggregate_id] >= 3
                     and read_envelope(r.value).version == 2)  # arrives late, after its successors  # fmt: skip
    shuffled = [r for r in records if r is not held_back] + [r for r in records[:40] if r is not held_back] + [held_back]
    dead = []
    sequencer, versions = Sequencer(projections, dead.append), MemoryVersions()
    engine = create_engine(f"sqlite:///{tmp_path / 'kafka.sqlite'}")
    for p in projections:
        p.metadata.create_all(engine)
    with engine.begin() as conn:
        for record in shuffled:
            sequencer.handle(conn, versions, record, parse(record))
        sequencer.flush(conn)
    assert not dead and not versions.waiting
    counts = sequencer.counts
    assert counts.applied == store.max_position() and counts.repeated > 30 and counts.parked > 0
    reference = create_engine(f"sqlite:///{tmp_path / 'embedded.sqlite'}")
    from consumers.runner import ProjectionRunner

    ProjectionRunner(reference, store.read_batch, projections).run_until_caught_up()
    assert snapshot(engine, projections) == snapshot(reference, projections)


def test_a_poison_message_goes_to_the_dead_letters_with_its_aggregate_from_the_key():
    dead = []
    aggregate = uuid4()
    record = Record("t", 2, 7, str(aggregate).encode(), b"garbage")
    Sequencer([], dead.append).handle(None, MemoryVersions(), record, parse(record))
    assert dead[0].aggregate_id == aggregate and dead[0].version is None and "not an event envelope" in dead[0].error
