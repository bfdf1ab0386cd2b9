"""What the Kafka consumers remember, in the read-model database beside the tables they write.

- `kafka_relay`: per topic, the last store position the broker acknowledged (the relay resumes after it).
- `kafka_offsets`: per group and partition, the next offset to read. Written in the same transaction
  as the projections' changes, so tables and offsets never disagree; Kafka's own committed offsets
  are informational only ("storing offsets outside Kafka").
- `kafka_applied`: per aggregate, the last version applied to the read models. It makes the workers
  idempotent (a repeat is skipped) and answers read-your-writes in Kafka mode.
- `kafka_parked`: events that arrived after a gap in their aggregate's versions (its missing event
  went to the dead letters, or has not arrived yet); applied in order once the gap is filled.
- `kafka_dlq_replays`: dead letters already replayed, by their source message, so none is replayed twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import BigInteger, Column, Connection, DateTime, Integer, LargeBinary, MetaData, String, Table, Uuid
from sqlalchemy import delete, func, select

from projections.base import insert

metadata = MetaData()
relay_positions = Table(
    "kafka_relay",
    metadata,
    Column("topic", String, primary_key=True),
    Column("position", BigInteger, nullable=False),
)
offsets = Table(
    "kafka_offsets",
    metadata,
    Column("group", String, primary_key=True),
    Column("topic", String, primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("next_offset", BigInteger, nullable=False),
)
applied = Table(
    "kafka_applied",
    metadata,
    Column("aggregate_id", Uuid, primary_key=True),
    Column("version", Integer, nullable=False),
)
parked = Table(
    "kafka_parked",
    metadata,
    Column("aggregate_id", Uuid, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("value", LargeBinary, nullable=False),
)
dlq_replays = Table(
    "kafka_dlq_replays",
    metadata,
    Column("source_topic", String, primary_key=True),
    Column("source_partition", Integer, primary_key=True),
    Column("source_offset", BigInteger, primary_key=True),
    Column("dlq_offset", BigInteger, nullable=False),
    Column("replayed_at", DateTime, nullable=False),
)


# --- relay -------------------------------------------------------------------------------------


def relay_position(conn: Connection, topic: str) -> int:
    return conn.execute(select(relay_positions.c.position).where(relay_positions.c.topic == topic)).scalar() or 0


def save_relay_position(conn: Connection, topic: str, position: int) -> None:
    statement = insert(relay_positions).values(topic=topic, position=position)
    conn.execute(statement.on_conflict_do_update(index_elements=["topic"], set_={"position": position}))


# --- worker offsets ----------------------------------------------------------------------------


def stored_offsets(conn: Connection, group: str, topic: str) -> dict[int, int]:
    query = select(offsets.c.partition, offsets.c.next_offset).where(offsets.c.group == group, offsets.c.topic == topic)
    return dict(conn.execute(query).all())


def save_offsets(conn: Connection, group: str, topic: str, next_offsets: dict[int, int]) -> None:
    for partition, next_offset in next_offsets.items():
        statement = insert(offsets).values(group=group, topic=topic, partition=partition, next_offset=next_offset)
        conn.execute(statement.on_conflict_do_update(index_elements=["group", "topic", "partition"],
                                                     set_={"next_offset": next_offset}))  # fmt: skip


# --- applied versions --------------------------------------------------------------------------


def applied_versions(conn: Connection, aggregate_ids: set[UUID]) -> dict[UUID, int]:
    found: dict[UUID, int] = {}
    ids = list(aggregate_ids)
    for start in range(0, len(ids), 500):
        query = select(applied.c.aggregate_id, applied.c.version).where(applied.c.aggregate_id.in_(ids[start : start + 500]))
        found.update(conn.execute(query).all())
    return found


def save_applied(conn: Connection, versions: dict[UUID, int]) -> None:
    if not versions:
        return
    statement = insert(applied)
    conn.execute(statement.on_conflict_do_update(index_elements=["aggregate_id"], set_={"version": statement.excluded.version}),
                 [{"aggregate_id": a, "version": v} for a, v in versions.items()])  # fmt: skip


def applied_version(conn: Connection, aggregate_id: UUID) -> int:
    return conn.execute(select(applied.c.version).where(applied.c.aggregate_id == aggregate_id)).scalar() or 0


# --- parked events -----------------------------------------------------------------------------


def parked_aggregates(conn: Connection) -> set[UUID]:
    return set(conn.execute(select(parked.c.aggregate_id).distinct()).scalars())


def park(conn: Connection, aggregate_id: UUID, version: int, partition: int, offset: int, value: bytes) -> None:
    row = dict(aggregate_id=aggregate_id, version=version, partition=partition, offset=offset, value=value)
    conn.execute(insert(parked).values(**row).on_conflict_do_nothing())


def parked_events(conn: Connection, aggregate_id: UUID) -> list[tuple[int, int, int, bytes]]:
    """(version, partition, offset, value) of the aggregate's parked events, oldest version first."""
    query = select(parked.c.version, parked.c.partition, parked.c.offset, parked.c.value)
    return [tuple(row) for row in conn.execute(query.where(parked.c.aggregate_id == aggregate_id).order_by(parked.c.version))]


def unpark(conn: Connection, aggregate_id: UUID, up_to_version: int) -> None:
    conn.execute(delete(parked).where(parked.c.aggregate_id == aggregate_id, parked.c.version <= up_to_version))


def parked_counts(conn: Connection) -> dict[UUID, int]:
    query = select(parked.c.aggregate_id, func.count()).group_by(parked.c.aggregate_id)
    return dict(conn.execute(query).all())


# --- dead-letter replays -----------------------------------------------------------------------


def replayed_sources(conn: Connection) -> set[tuple[str, int, int]]:
    query = select(dlq_replays.c.source_topic, dlq_replays.c.source_partition, dlq_replays.c.source_offset)
    return {tuple(row) for row in conn.execute(query)}


def record_replay(conn: Connection, source: tuple[str, int, int], dlq_offset: int) -> None:
    row = dict(source_topic=source[0], source_partition=source[1], source_offset=source[2], dlq_offset=dlq_offset,
               replayed_at=datetime.now(UTC).replace(tzinfo=None))  # fmt: skip
    conn.execute(insert(dlq_replays).values(**row).on_conflict_do_nothing())
