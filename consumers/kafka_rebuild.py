"""A rebuild's event source read from the events topic, from offset 0 of every partition.

A plain consumer (no group, so the live workers are not disturbed) is assigned every partition and
reads up to the end offsets seen at the start, applying events in each aggregate's version order
(repeats skipped, holes parked: `consumers.sequencer`) into the staging tables. Under the read
models' write lock it then reads on up to the live workers' stored offsets, so the switched tables
miss nothing the live ones had. The position recorded for the switched projections is the relay's
at the start: every event up to it was acknowledged by the broker before the end offsets were read.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from kafka import TopicPartition
from sqlalchemy import Connection, Engine, MetaData, select

from consumers import kafka_state
from consumers.kafka_topics import KafkaUnavailable, Topics, consumer, kafka_errors, partitions_of
from consumers.rebuild import Progress, live_schema
from consumers.sequencer import DeadLetter, MemoryVersions, Record, Sequencer, parse
from projections.base import Projection

log = structlog.get_logger("voronka.rebuild")
STALL_POLLS = 30  # one-second polls that brought nothing while behind: the broker is gone


class KafkaTopicSource:
    def __init__(self, live: Engine, topics: Topics, batch_size: int = 5000) -> None:
        self.live, self.topics, self.batch_size = live, topics, batch_size
        self.client = None
        self.ends: dict[int, int] = {}
        self.reached: dict[int, int] = {}
        self.position = 0
        self.versions = MemoryVersions()
        self.sequencer: Sequencer | None = None
        self.skipped: list[DeadLetter] = []
        self.idle_polls = 0

    @property
    def total(self) -> int:
        return sum(self.ends.values())

    def open(self) -> KafkaTopicSource:
        """Connect, and note the relay's position and then the end offsets to read up to."""
        kafka_state.metadata.create_all(self.live)
        with self.live.connect() as conn:
            self.position = kafka_state.relay_position(conn, self.topics.events)
        self.client = consumer(self.topics.bootstrap, max_partition_fetch_bytes=8 * 1024 * 1024)
        tps = partitions_of(self.client, self.topics.events)
        with kafka_errors(f"reading {self.topics.events} from the beginning"):
            self.client.assign(tps)
            self.client.seek_to_beginning(*tps)
            self.ends = {tp.partition: end for tp, end in self.client.end_offsets(tps).items()}
        self.reached = dict.fromkeys(self.ends, 0)
        return self

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def fill(self, staging: Engine, projections: Sequence[Projection], progress: Progress) -> None:
        for projection in projections:
            projection.metadata.create_all(staging)
        self.sequencer = Sequencer(projections, self.skipped.append, self.topics.events)
        while self.read_up_to(self.ends, staging):
            progress(sum(self.reached.values()))

    def catch_up(self, staging: Connection, projections: Sequence[Projection]) -> int:
        live = live_offsets(staging, self.topics)
        targets = {p: max(end, live.get(p, 0)) for p, end in self.reached.items()}
        with kafka_errors(f"reading {self.topics.events}"):
            for p, reached in self.reached.items():
                self.client.seek(self.tp(p), reached)
            self.client.resume(*self.client.paused())
        while self.read_up_to(targets, staging):
            pass
        if self.skipped:
            log.warning("rebuild_skipped_dead_letters", count=len(self.skipped),
                        at=[f"{d.record.partition}@{d.record.offset}" for d in self.skipped[:20]])  # fmt: skip
        log.info("kafka_rebuild_caught_up", offsets=self.reached, relay_position=self.position,
                 parked=sum(len(v) for v in self.versions.waiting.values()))  # fmt: skip
        self.close()
        return self.position

    def read_up_to(self, targets: dict[int, int], into: Engine | Connection) -> int:
        """Apply one poll's records below the targets; answers how many (0 once every partition reached its target)."""
        behind = [p for p, target in targets.items() if self.reached[p] < target]
        if not behind:
            return 0
        with kafka_errors(f"reading {self.topics.events}"):
            batch = self.client.poll(timeout_ms=1000, max_records=self.batch_size)
        records = [Record(r.topic, r.partition, r.offset, r.key, r.value, list(r.headers or []))
                   for rs in batch.values() for r in rs if r.offset < targets[r.partition]]  # fmt: skip
        if isinstance(into, Connection):
            self.apply(into, records)
        else:
            with into.begin() as conn:
                self.apply(conn, records)
        done = [self.tp(p) for p in behind if self.reached[p] >= targets[p]]
        if done:  # fetch no further there: what lies beyond the target is read (after a seek) by the catch-up
            self.client.pause(*done)
        self.idle_polls = 0 if batch else self.idle_polls + 1
        if self.idle_polls > STALL_POLLS:
            raise KafkaUnavailable(f"no records from {self.topics.events} for {STALL_POLLS} s while partitions "
                                   f"{behind} are behind {targets}")  # fmt: skip
        return len(records) or len(behind)  # an empty poll while behind: poll again

    def tp(self, partition: int) -> TopicPartition:
        return TopicPartition(self.topics.events, partition)

    def apply(self, conn: Connection, records: list[Record]) -> None:
        for record in records:
            self.sequencer.handle(conn, self.versions, record, parse(record))
            self.reached[record.partition] = record.offset + 1
        self.sequencer.flush(conn)


def live_offsets(staging: Connection, topics: Topics) -> dict[int, int]:
    """The live workers' stored offsets, read through the staging connection (which resolves unnamed tables to staging)."""
    table = kafka_state.offsets.to_metadata(MetaData(), schema=live_schema(staging))
    query = select(table.c.partition, table.c.next_offset).where(table.c.group == topics.group, table.c.topic == topics.events)
    return dict(staging.execute(query).all())
