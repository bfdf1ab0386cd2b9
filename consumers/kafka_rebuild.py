"""A rebuild's event source read from the events topic, from offset 0 of every partition.

This process reads the topic once, up to the end offsets seen at the start, with a plain consumer (no
group, so the live workers are not disturbed): it puts each aggregate's events in version order (repeats
skipped, holes parked: `consumers.sequencer`) and hands each event to the parts whose projections read its
type. Each part projects into its staging tables in a process of its own, so reading and projecting run
side by side and every message is fetched and parsed once. An event a part cannot decode or project is dead
for all parts, and its aggregate's later events are left out, as a live worker parks them behind a dead
letter. Under the read models' write lock each part then reads on up to the live workers' stored offsets,
so the switched tables miss nothing the live ones had. The position recorded for the switched projections
is the relay's at the start: every event up to it was acknowledged by the broker before the end offsets
were read.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

import structlog
from kafka import TopicPartition
from sqlalchemy import Connection, Engine, MetaData, select

from consumers import kafka_state
from consumers.kafka_topics import KafkaUnavailable, Topics, consumer, kafka_errors, partitions_of
from consumers.rebuild import Part, PartProcesses, Progress, Staging, live_schema, split_by_weight
from consumers.sequencer import MemoryVersions, Projecting, ProjectionFailed, Record, Sequencer, parse
from consumers.wire import Incoming, PoisonMessage, event_class, read_envelope
from projections.base import Projection

log = structlog.get_logger("voronka.rebuild")
STALL_POLLS = 30  # one-second polls that brought nothing while behind: the broker is gone
QUEUED_BATCHES = 8  # batches handed to a part ahead of its projecting (bounds the memory a slow part can hold up)
Batch = list[tuple[int, int, bytes]]  # (partition, offset, value) of events in their aggregates' order


@dataclass
class PartState:
    """How far a part has read, and its aggregates' applied versions and parked events."""

    reached: dict[int, int]
    versions: MemoryVersions = field(default_factory=MemoryVersions)
    skipped: int = 0


class KafkaTopicSource:
    def __init__(self, live: Engine, topics: Topics, batch_size: int = 1000, workers: int = 1,
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

    def fill(self, staging: Staging, parts: list[Part], progress: Progress) -> list[PartState]:
        """Read the topic here and hand each part's events to its process; answers each part's state for the
        catch-up. An event a part could not decode or project is dead for every part, as it is for a live worker,
        which parks its aggregate's later events: so if a part gave up on one, the parts are filled once more
        with those aggregates stopped before it (events fail the same way every time: two fills at most)."""
        given_up: dict[UUID, int] = {}
        while True:
            state, found = self._fill_once(staging, parts, progress, given_up)
            if found.keys() <= given_up.keys():
                return [PartState(dict(state.reached), state.versions.copy(), state.skipped) for _ in parts]
            keep_earliest(given_up, found)
            log.warning("kafka_rebuild_fills_again", reason="events no part may apply", aggregates=len(given_up))
            staging.reset()

    def _fill_once(self, staging: Staging, parts: list[Part], progress: Progress,
                   given_up: dict[UUID, int]) -> tuple[PartState, dict[UUID, int]]:  # fmt: skip
        inboxes = [multiprocessing.get_context("fork").Queue(maxsize=QUEUED_BATCHES) for _ in parts]
        for inbox in inboxes:  # a failed rebuild leaves batches unread: exit without waiting to flush them
            inbox.cancel_join_thread()
        targets = {part.schema: inbox for part, inbox in zip(parts, inboxes, strict=True)}
        with PartProcesses(parts, lambda part, _: self.project_part(staging, part, targets[part.schema])) as processes:
            state = PartState(dict.fromkeys(self.ends, 0))
            router = Router([{topic for p in part.projections for topic in p.topics} for part in parts], self.topics.events, given_up)
            reading = TopicReading(self, state.reached)
            try:
                while (records := reading.poll(self.ends)) is not None:
                    for record in records:
                        router.handle(None, state.versions, record, parse(record))
                    for inbox, batch in zip(inboxes, router.take(), strict=True):
                        if batch:
                            send(processes, inbox, batch)
                    processes.check()
                    progress(reading.total)
            finally:
                reading.close()
            for inbox in inboxes:
                send(processes, inbox, None)
            found: dict[UUID, int] = {}
            for part_gave_up in processes.wait():
                keep_earliest(found, part_gave_up)
        state.skipped = router.counts.dead
        return state, found

    def project_part(self, staging: Staging, part: Part, inbox) -> dict[UUID, int]:
        """In the part's process: project the batches handed over into its staging tables, one transaction each;
        answers the aggregates it gave up on, with the version it could not apply."""
        staged = staging.filling(part.schema)
        for projection in part.projections:
            projection.metadata.create_all(staged)
        projecting, given_up = Projecting(part.projections), {}
        try:
            while (batch := inbox.get()) is not None:
                with staged.begin() as conn:
                    for partition, offset, value in batch:
                        incoming = read_envelope(value)
                        if incoming.aggregate_id in given_up:
                            continue
                        try:
                            projecting.apply(incoming)
                        except (PoisonMessage, ProjectionFailed) as exc:
                            given_up[incoming.aggregate_id] = incoming.version
                            log.warning("rebuild_skipped_aggregate", error=str(exc), aggregate_id=str(incoming.aggregate_id),
                                        version=incoming.version, partition=partition, offset=offset)  # fmt: skip
                    projecting.flush(conn)
        finally:
            staged.engine.dispose()
        return given_up

    def catch_up(self, staging: Connection, part: Part, filled: PartState) -> int:
        live = live_offsets(staging, self.topics)
        targets = {p: max(end, live.get(p, 0)) for p, end in filled.reached.items()}
        sequencer = Sequencer(part.projections, lambda _: None, self.topics.events)
        reading = TopicReading(self, filled.reached)
        try:
            while (records := reading.poll(targets)) is not None:
                for record in records:
                    sequencer.handle(staging, filled.versions, record, parse(record))
                sequencer.flush(staging)
        finally:
            reading.close()
        skipped = filled.skipped + sequencer.counts.dead
        if skipped:
            log.warning("rebuild_skipped_dead_letters", projections=[p.name for p in part.projections], count=skipped)
        log.info("kafka_rebuild_caught_up", projections=[p.name for p in part.projections], offsets=filled.reached,
                 relay_position=self.position, parked=sum(len(v) for v in filled.versions.waiting.values()))  # fmt: skip
        return self.position


class Router(Sequencer):
    """Puts the topic's events in each aggregate's version order and hands each to the parts that read its type."""

    def __init__(self, wanted: list[set[str]], topic: str, given_up: dict[UUID, int]) -> None:
        """`given_up`: aggregates a part could not apply, and from which version (dead letters, for every part)."""
        super().__init__([], lambda _: None, topic)
        self.wanted, self.given_up = wanted, given_up
        self.batches: list[Batch] = [[] for _ in wanted]
        self.routes: dict[tuple[str, int], list[Batch]] = {}  # by (type, schema version)

    def _deliver(self, incoming: Incoming, record: Record) -> None:
        if incoming.version >= self.given_up.get(incoming.aggregate_id, incoming.version + 1):
            raise ProjectionFailed("a part of this rebuild could not apply it")
        name, version = incoming.document.get("type"), incoming.document.get("schema_version")
        routes = self.routes.get((name, version)) if isinstance(name, str) and isinstance(version, int) else None
        if routes is None:
            try:
                event_class(name, int(version))  # an unknown type is poison; a newer version stops the rebuild
            except (TypeError, ValueError):
                raise PoisonMessage(f"not an event envelope: schema_version {version!r}") from None
            routes = self.routes[(name, version)] = [batch for batch, types in zip(self.batches, self.wanted) if name in types]
        for batch in routes:
            batch.append((record.partition, record.offset, record.value))

    def take(self) -> list[Batch]:
        """Each part's events since the last take."""
        taken = [list(batch) for batch in self.batches]
        for batch in self.batches:
            batch.clear()
        return taken


class TopicReading:
    """A consumer outside the group, assigned every partition from the offsets reached (which it moves on)."""

    def __init__(self, source: KafkaTopicSource, reached: dict[int, int]) -> None:
        self.topic, self.batch_size, self.reached = source.topics.events, source.batch_size, reached
        self.idle_polls = 0
        self.client = consumer(source.topics.bootstrap, max_partition_fetch_bytes=8 * 1024 * 1024)
        with kafka_errors(f"reading {self.topic}"):
            self.client.assign([self.tp(p) for p in reached])
            for p, offset in reached.items():
                self.client.seek(self.tp(p), offset)

    @property
    def total(self) -> int:
        return sum(self.reached.values())

    def close(self) -> None:
        self.client.close()

    def tp(self, partition: int) -> TopicPartition:
        return TopicPartition(self.topic, partition)

    def poll(self, targets: dict[int, int]) -> list | None:
        """One poll's records below the targets (empty if none came yet); None once every partition reached its target."""
        reached = self.reached
        behind = [p for p, target in targets.items() if reached[p] < target]
        if not behind:
            return None
        with kafka_errors(f"reading {self.topic}"):
            batch = self.client.poll(timeout_ms=1000, max_records=self.batch_size)
        records = [r for rs in batch.values() for r in rs if r.offset < targets[r.partition]]
        for record in records:
            reached[record.partition] = record.offset + 1
        done = [self.tp(p) for p in behind if reached[p] >= targets[p]]
        if done:  # fetch no further there
            self.client.pause(*done)
        self.idle_polls = 0 if batch else self.idle_polls + 1
        if self.idle_polls > STALL_POLLS:
            raise KafkaUnavailable(f"no records from {self.topic} for {STALL_POLLS} s while partitions "
                                   f"{behind} are behind {targets}")  # fmt: skip
        return records


def send(processes: PartProcesses, inbox, batch: Batch | None) -> None:
    """Hand a batch to a part, waiting while it is QUEUED_BATCHES behind, and failing if a part failed."""
    while True:
        try:
            inbox.put(batch, timeout=0.5)
            return
        except queue.Full:
            processes.check()


def keep_earliest(given_up: dict[UUID, int], found: dict[UUID, int]) -> None:
    """Add the aggregates found given up, each from the earliest version any part could not apply."""
    for aggregate, version in found.items():
        given_up[aggregate] = min(version, given_up.get(aggregate, version))


def live_offsets(staging: Connection, topics: Topics) -> dict[int, int]:
    """The live workers' stored offsets, read through the staging connection (which resolves unnamed tables to staging)."""
    table = kafka_state.offsets.to_metadata(MetaData(), schema=live_schema(staging))
    query = select(table.c.partition, table.c.next_offset).where(table.c.group == topics.group, table.c.topic == topics.events)
    return dict(staging.execute(query).all())
