"""A stored event as a Kafka message, and a Kafka message back into an event.

The message is the JSON envelope (`schemas.envelope`), keyed by the aggregate id (per-aggregate
order), with `type`, `schema_version` and `position` repeated in headers. Decoding tells apart a
message that can never be read (poison: goes to the dead letters) from one written by newer code
(a schema version this code does not know: the worker must stop rather than skip it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import orjson
from pydantic import ValidationError

from schemas.base import AS_RECORDED, EVENT_TYPES, Event, EventPayload
from schemas.envelope import EVENT_ID_NAMESPACE, envelope

Headers = list[tuple[str, bytes]]
NAMESPACE_BYTES = EVENT_ID_NAMESPACE.bytes


@dataclass(frozen=True)
class Message:
    key: bytes
    value: bytes
    headers: Headers


def to_message(event: Event, position: int) -> Message:
    value = envelope(event, position).model_dump_json().encode()
    headers = [("type", event.type.encode()), ("schema_version", str(event.payload.schema_version).encode()),
               ("position", str(position).encode())]  # fmt: skip
    return Message(str(event.originator_id).encode(), value, headers)


def message_from_stored(position: int, aggregate_id: UUID, version: int, type_name: str, state: dict[str, Any]) -> Message | None:
    """The same message as `to_message`, built straight from an event's stored state (the relay's fast path: no
    payload validation, no model). None when the stored payload needs upcasting: then decode it and use `to_message`."""
    cls = EVENT_TYPES.get(type_name)
    if cls is None or state["schema_version"] != cls.schema_version:
        return None
    aggregate = str(aggregate_id)
    document = {
        "event_id": event_id(aggregate, version),
        "type": type_name,
        "schema_version": cls.schema_version,
        "aggregate_type": state.get("aggregate_type", ""),
        "aggregate_id": aggregate,
        "aggregate_version": version,
        "position": position,
        "occurred_at": utc_as_z(state["occurred_at"]),
        "recorded_at": utc_as_z(state["recorded_at"]),
        "actor": state["actor"],
        "payload": state["payload"],
    }
    headers = [("type", type_name.encode()), ("schema_version", str(cls.schema_version).encode()),
               ("position", str(position).encode())]  # fmt: skip
    return Message(aggregate.encode(), orjson.dumps(document), headers)


def event_id(aggregate: str, version: int) -> str:
    """`uuid5(EVENT_ID_NAMESPACE, "<aggregate>:<version>")` as text, without building UUID objects (a third faster)."""
    digest = bytearray(hashlib.sha1(NAMESPACE_BYTES + f"{aggregate}:{version}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def utc_as_z(moment: str) -> str:
    """pydantic writes a UTC time with 'Z' where isoformat() writes '+00:00'; the envelope is the same either way."""
    return moment[:-6] + "Z" if moment.endswith("+00:00") else moment


class PoisonMessage(Exception):
    """A message that cannot be read: not JSON, not an envelope, an unknown type, an invalid payload."""


class NewerSchemaError(Exception):
    """An event written by newer code: its schema version is above the one this code knows."""

    def __init__(self, type_name: str, version: int, known: int) -> None:
        super().__init__(f"event type {type_name} has schema version {version}; this code knows up to {known}")
        self.type_name, self.version, self.known = type_name, version, known


class Incoming(NamedTuple):
    """An envelope read far enough to order it: whose event, which version (the payload is decoded later)."""

    aggregate_id: UUID
    version: int
    document: dict[str, Any]


def read_envelope(value: bytes | None) -> Incoming:
    try:
        document = orjson.loads(value or b"")
        return Incoming(UUID(document["aggregate_id"]), int(document["aggregate_version"]), document)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PoisonMessage(f"not an event envelope: {type(exc).__name__}: {exc}") from None


def key_aggregate(key: bytes | None) -> UUID | None:
    """The aggregate a message belongs to, from its key alone (for messages whose value is unreadable)."""
    try:
        return UUID(key.decode()) if key else None
    except (ValueError, UnicodeDecodeError):
        return None


def to_event(incoming: Incoming) -> Event:
    d = incoming.document
    try:
        payload = current_payload(d["type"], int(d["schema_version"]), d["payload"])
        return Event(
            originator_id=incoming.aggregate_id,
            originator_version=incoming.version,
            occurred_at=datetime.fromisoformat(d["occurred_at"]),
            actor=d["actor"],
            payload=payload,
            aggregate_type=d.get("aggregate_type", ""),
            recorded_at=datetime.fromisoformat(d["recorded_at"]),
            position=int(d["position"]),
        )
    except NewerSchemaError:
        raise
    except ValidationError as exc:
        raise PoisonMessage(f"invalid {d.get('type')} payload: {exc.error_count()} error(s): {exc.errors()[0]['msg']} "
                            f"at {'.'.join(map(str, exc.errors()[0]['loc']))}") from None  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise PoisonMessage(f"not an event envelope: {type(exc).__name__}: {exc}") from None


def current_payload(type_name: str, version: int, data: dict[str, Any]) -> EventPayload:
    """The payload in this code's schema version: older ones upcast step by step, newer ones refused."""
    cls = event_class(type_name, version)
    return cls.model_validate(cls.upcast(data, version), context=AS_RECORDED)


def event_class(type_name: str, version: int) -> type[EventPayload]:
    """The payload class of a message's type; PoisonMessage if the type is unknown, NewerSchemaError if the version
    is newer than this code's."""
    cls = EVENT_TYPES.get(type_name)
    if cls is None:
        raise PoisonMessage(f"unknown event type '{type_name}'")
    if version > cls.schema_version:
        raise NewerSchemaError(type_name, version, cls.schema_version)
    return cls
