"""The event contract: stored form, schema versions, personal-data marks, JSON Schema export."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest
from eventsourcing.persistence import StoredEvent

import schemas
from aggregates.base import Event
from commands.mapper import EventMapper, UnknownEventError
from schemas.base import PERSONAL_DATA_KEY, EventPayload
from schemas.leads import ContactData, InterestRegistered
from tests.conftest import NOW
from voronka.schema_export import export_schemas


class FollowUpBooked(EventPayload):
    """A test-only event whose v1 had `when` where v2 has `due`."""

    schema_version: ClassVar[int] = 2
    due: str

    @staticmethod
    def upcast_v1_v2(data: dict) -> dict:
        return {"due": data.pop("when")}


def mapper() -> EventMapper:
    return EventMapper(transcoder=None)  # the mapper serialises with orjson itself


def test_an_event_survives_the_store_unchanged():
    import uuid

    payload = InterestRegistered(
        channel="site_form", source_detail=None, contact=ContactData(name="Ирина", email="I@GKB7.RU"),
        message="шприцы", received_by="system:site", external_ref="f-1",
    )  # fmt: skip
    event = Event(uuid.uuid4(), 1, NOW, "system:site", payload)
    stored = mapper().to_stored_event(event)
    assert stored.topic == "InterestRegistered"
    back = mapper().to_domain_event(stored)
    assert (back.payload, back.occurred_at, back.actor) == (payload, NOW, "system:site")
    assert back.recorded_at is not None and back.payload.contact.email == "I@gkb7.ru"


def test_an_older_schema_version_is_upcast_on_read():
    import uuid

    state = {"schema_version": 1, "occurred_at": NOW.isoformat(), "recorded_at": NOW.isoformat(),
             "actor": "anna", "payload": {"when": "2026-12-01"}}  # fmt: skip
    stored = StoredEvent(uuid.uuid4(), 1, "FollowUpBooked", json.dumps(state).encode())
    assert mapper().to_domain_event(stored).payload == FollowUpBooked(due="2026-12-01")


def test_a_newer_schema_version_is_refused_with_a_clear_error():
    import uuid

    state = {"schema_version": 3, "occurred_at": NOW.isoformat(), "recorded_at": NOW.isoformat(),
             "actor": "anna", "payload": {"due": "x"}}  # fmt: skip
    with pytest.raises(UnknownEventError, match="schema version 3; this code knows up to 2"):
        mapper().to_domain_event(StoredEvent(uuid.uuid4(), 1, "FollowUpBooked", json.dumps(state).encode()))


def test_an_unknown_event_type_is_refused():
    import uuid

    with pytest.raises(UnknownEventError, match="unknown event type 'Nope'"):
        mapper().to_domain_event(StoredEvent(uuid.uuid4(), 1, "Nope", b"{}"))


def test_every_event_type_has_a_schema_version_and_is_registered_once():
    assert len(schemas.EVENT_TYPES) >= 60
    assert all(cls.schema_version >= 1 for cls in schemas.EVENT_TYPES.values())
    with pytest.raises(TypeError, match="defined twice"):
        type("InterestRegistered", (EventPayload,), {"__annotations__": {}})


def test_personal_data_is_marked_in_the_json_schema():
    contact = ContactData.model_json_schema()["properties"]
    assert all(PERSONAL_DATA_KEY in json.dumps(contact[f]) for f in ("name", "email", "phone"))
    assert PERSONAL_DATA_KEY not in json.dumps(contact["company"])


def test_schemas_export_writes_events_commands_and_the_envelope(tmp_path):
    written = export_schemas(tmp_path)
    names = {p.relative_to(tmp_path).as_posix() for p in written}
    assert "envelope.json" in names and "events/InterestRegistered.v1.json" in names
    assert "commands/RegisterInterest.json" in names
    document = json.loads((tmp_path / "events/DealStageChanged.v1.json").read_text())
    assert document["x-event-type"] == "DealStageChanged" and "to_stage" in document["properties"]
