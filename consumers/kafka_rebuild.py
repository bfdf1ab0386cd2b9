"""A rebuild's event source read from the events topic, from offset 0 of every partition.

For each part of the projections a plain consumer (no group, so the live workers are not disturbed)
is assigned every partition and reads up to the end offsets seen at the start, applying events in
each aggregate's version order (repeats skipped, holes parked: `consumers.sequencer`) into the part's
staging tables; with several parts each reads the topic in a process of its own and decodes only the
event types its projections handle. Under the read models' write lock each part then reads on up to
the live workers' stored offsets, so the switched tables miss nothing the live ones had. The position
recorded for the switched projections is the relay's at the start: every event up to it was
acknowledged by the broker before the end offsets were read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog
from kafka import TopicPartition
from sqlalchemy import Connection, Engine, MetaData, select

from consumers import kafka_state
from consumers.kafka_topics import KafkaUnavailable, Topics, consumer, kafka_errors, partitions_of
from consumers.rebuild import Part, Progress, Staging, live_schema, split_by_weight
from consumers.sequencer import DeadLetter, MemoryVersions, Record, Sequencer, parse
from projections.base import Projection

log = structlog.get_logger("voronka.rebuild")
STALL_POLLS = 30  # one-second polls that brought nothing while behind: the broker is gone


@dataclass
class PartState:
    """How far a part has read, and its aggregates' applied versions and parked events."""

    reached: dict[int, int]
    versions: MemoryVersions = field(default_factory=MemoryVersions)
    skipped: int = 0


class KafkaTopicSource:
    def __init__(self, live: Engine, topics: Topics, batch_size: int = 5000, workers: int = 1,
                 counts: dict[str, int] | None = None) -> None:  # fmt: skip
        """`counts`: events per type (from the store, when it is at hand) to split the work evenly."""
        self.live, self.topics, self.batch_size = live, topics, batch_size
        self.workers, self.counts = workers, counts or {}
        self.ends: dict[int, int] = {}
        self.position = 0

    @property
    def total(self) -> int:
        return sum(self.ends.values())

    def open(self) -> KafkaTopicSource:
        """Note the relay's position and then the end offsets to read up to."""
        kafka_state.metadata.create_all(self.live)
        with self.live.connect() as conn:
            self.position = kafka_state.relay_position(conn, self.topics.events)
        client = consumer(self.topics.bootstrap)
        try:
            with kafka_errors(f"reading the end offsets of {self.topics.events}"):
                tps = partitions_of(client, self.topics.events)
                self.ends = {tp.partition: end for tp, end in client.end_offsets(tps).items()}
        finally:
            client.close()
        return self

    def split(self, projections: Sequence[Projection]) -> list[list[Projection]]:
        return split_by_weight(projections, self.workers, self.counts)

    def fill_part(self, staging: Staging, part: Part, progress: Progress) -> PartState:
        staged = staging.filling(part.schema)
        for projection in part.projections:
            projection.metadata.create_all(staged)
        reading = PartReading(self, part, PartState(dict.fromkeys(self.ends, 0)))
        try:
            while reading.read_up_to(self.ends, staged):
                progress(sum(reading.state.reached.values()))
        finally:
            reading.close()
            staged.engine.dispose()
        return reading.state

    def catch_up(self, staging: Connection, part: Part, filled: PartState) -> int:
        live = live_offsets(staging, self.topics)
        targets = {p: max(end, live.get(p, 0)) for p, end in filled.reached.items()}
        reading = PartReading(self, part, filled)
        try:
            while reading.read_up_to(targets, staging):
                pass
        finally:
            reading.close()
        if filled.skipped:
            log.warning("rebuild_skipped_dead_letters", projections=[p.name for p in part.projections], count=filled.skipped)
        log.info("kafka_rebuild_caught_up", projections=[p.name for p in part.projections], offsets=filled.reached,
                 relay_position=self.position, parked=sum(len(v) for v in filled.versions.waiting.values()))  # fmt: skip
        return self.position


class PartReading:
    """One part's consumer, from where the part has reached, applying records through its sequencer."""

    def __init__(self, source: KafkaTopicSource, part: Part, state: PartState) -> None:
        self.topic, self.batch_size, self.state = source.topics.events, source.batch_size, state
        self.sequencer = Sequencer(part.projections, self._skip, self.topic)
        self.idle_polls = 0
        self.client = consumer(source.topics.bootstrap, max_partition_fetch_bytes=8 * 1024 * 1024)
        with kafka_errors(f"reading {self.topic}"):
            self.client.assign([self.tp(p) for p in state.reached])
            for p, offset in state.reached.items():
                self.client.seek(self.tp(p), offset)

    def _skip(self, _: DeadLetter) -> None:
        self.state.skipped += 1

    def close(self) -> None:
        self.client.close()

    def tp(self, partition: int) -> TopicPartition:
        return TopicPartition(self.topic, partition)

    def read_up_to(self, targets: dict[int, int], into: Engine | Connection) -> int:
        """Apply one poll's records below the targets; answers how many (0 once every partition reached its target)."""
        reached = self.state.reached
        behind = [p for p, target in targets.items() if reached[p] < target]
        if not behind:
            return 0
        with kafka_errors(f"reading {self.topic}"):
            batch = self.client.poll(timeout_ms=1000, max_records=self.batch_size)
        records = [Record(r.topic, r.partition, r.offset, r.key, r.value, list(r.headers or []))
                   for rs in batch.values() for r in rs if r.offset < targets[r.partition]]  # fmt: skip
        if isinstance(into, Connection):
            self.apply(into, records)
        else:
            with into.begin() as conn:
                self.apply(conn, records)
        done = [self.tp(p) for p in behind if reached[p] >= targets[p]]
        if done:  # fetch no further there
            self.client.pause(*done)
        self.idle_polls = 0 if batch else self.idle_polls + 1
        if self.idle_polls > STALL_POLLS:
            raise KafkaUnavailable(f"no records from {self.topic} for {STALL_POLLS} s while partitions "
                                   f"{behind} are behind {targets}")  # fmt: skip
        return len(records) or len(behind)  # an empty poll while behind: poll again

    def apply(self, conn: Connection, records: list[Record]) -> None:
        for record in records:
            self.sequencer.handle(conn, self.state.versions, record, parse(record))
            self.state.reached[record.partition] = record.offset + 1
        self.sequencer.flush(conn)


def live_offsets(staging: Connection, topics: Topics) -> dict[int, int]:
    """The live workers' stored offsets, read through the staging connection (which resolves unnamed tables to staging)."""
    table = kafka_state.offsets.to_metadata(MetaData(), schema=live_schema(staging))
    query = select(table.c.partition, table.c.next_offset).where(table.c.group == topics.group, table.c.topic == topics.events)
    return dict(staging.execute(query).all())
