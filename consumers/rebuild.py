"""Rebuild projections from zero beside the live ones, then switch atomically.

The new tables are built in staging areas (attached SQLite files, or PostgreSQL schemas) while the API
keeps reading the live tables. From the store, the projections are split into parts of about equal work,
each filled by its own process reading only the event types its projections handle. Once every part is
filled, one transaction, holding the read models' write lock, brings the staged tables up to the live
position and copies them over the live ones with their tracking position: readers see the old model or
the new one, never a half-built one.
"""

from __future__ import annotations

import gc
import multiprocessing
import queue
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import structlog
from sqlalchemy import Connection, Engine, MetaData, create_engine, delete, event, insert, select, text

from consumers.runner import ProjectionRunner, ReadBatch, lock_tracking
from projections.base import Projection, save_position, tracking, tracking_metadata
from schemas.base import Event

log = structlog.get_logger("voronka.rebuild")
STAGING = "voronka_rebuild"
STAGING_CACHE_KB = 128 * 1024
Progress = Callable[[int], None]  # called with the position reached


class RebuildError(RuntimeError):
    """A part of the rebuild failed; the live tables are untouched."""


# --- staging areas ---------------------------------------------------------------------------------------------


class Staging:
    """One staging area per part: `voronka_rebuild_<n>`, an attached file beside a SQLite read-model
    database, or a schema in PostgreSQL. Disposable: a crashed rebuild starts again."""

    def __init__(self, live: Engine, parts: int) -> None:
        self.url = live.url
        self.sqlite = self.url.get_backend_name() == "sqlite"
        self.schemas = [f"{STAGING}_{n}" for n in range(parts)]

    def file(self, schema: str) -> Path:
        return Path(self.url.database).with_suffix(f".{schema.removeprefix('voronka_')}.sqlite")

    def __enter__(self) -> Staging:
        self.reset()
        return self

    def reset(self) -> None:
        """Empty staging areas (the parts create their tables)."""
        self._drop()
        if not self.sqlite:
            self._run([f"CREATE SCHEMA {schema}" for schema in self.schemas])

    def __exit__(self, *_) -> None:
        self._drop()

    def _drop(self) -> None:
        if self.sqlite:
            for schema in self.schemas:
                self.file(schema).unlink(missing_ok=True)
        else:
            self._run([f"DROP SCHEMA IF EXISTS {schema} CASCADE" for schema in self.schemas])

    def _run(self, statements: list[str]) -> None:
        engine = create_engine(self.url)
        try:
            with engine.begin() as conn:
                for statement in statements:
                    conn.execute(text(statement))
        finally:
            engine.dispose()

    def engine(self) -> Engine:
        """An engine on the read-model database that sees every staging area (for the catch-up and the switch)."""
        return self._engine(self.schemas, cache_kb=0)

    def filling(self, schema: str) -> Engine:
        """An engine for filling one staging area: a bigger page cache keeps the random-key index inserts of a
        large rebuild in memory (the parts share STAGING_CACHE_KB)."""
        return into(self._engine([schema], cache_kb=STAGING_CACHE_KB // len(self.schemas)), schema)

    def _engine(self, schemas: list[str], cache_kb: int) -> Engine:
        engine = create_engine(self.url)
        if self.sqlite:
            files = [(schema, self.file(schema)) for schema in schemas]
            event.listen(engine, "connect", lambda dbapi, _: attach_staging(dbapi, files, cache_kb))
        return engine


def attach_staging(dbapi_connection, files: list[tuple[str, Path]], cache_kb: int) -> None:
    """Staging files skip the journal and fsync: they are disposable."""
    for schema, path in files:
        for statement in (f"ATTACH DATABASE '{path}' AS {schema}", f"PRAGMA {schema}.journal_mode=OFF",
                          f"PRAGMA {schema}.synchronous=OFF", *([f"PRAGMA {schema}.cache_size=-{cache_kb}"] if cache_kb else [])):  # fmt: skip
            dbapi_connection.execute(statement)


def into(engine: Engine, schema: str) -> Engine:
    """The engine with unnamed tables resolved to this staging area."""
    return engine.execution_options(schema_translate_map={None: schema})


@dataclass(frozen=True)
class Part:
    schema: str
    projections: list[Projection]


# --- event sources -----------------------------------------------------------------------------------------------


class EventSource(Protocol):
    """Where a rebuild reads its events: the store's log (`StoreLog`) or the Kafka topic (`consumers.kafka_rebuild`)."""

    def split(self, projections: Sequence[Projection]) -> list[list[Projection]]:
        """The projections in parts, each filled on its own (in a process of its own when there are several)."""

    def fill(self, staging: Staging, parts: list[Part], progress: Progress) -> list[object]:
        """Build every part's staged tables from the first event (the live ones keep serving); answers, per part,
        what the catch-up will need to know of it."""

    def catch_up(self, staging: Connection, part: Part, filled: object) -> int:
        """Under the read models' write lock, bring the part's staged tables up to the live ones; answers the
        position to record for its switched projections."""


def split_by_weight(projections: Sequence[Projection], parts: int, counts: dict[str, int]) -> list[list[Projection]]:
    """Parts of about equal work (events of the types each projection handles), largest first."""
    parts = min(parts, len(projections))
    if parts <= 1:
        return [list(projections)]
    weight = {p.name: sum(counts.get(t, 0) for t in p.topics) for p in projections}
    groups: list[list[Projection]] = [[] for _ in range(parts)]
    loads = [0] * parts
    for projection in sorted(projections, key=lambda p: -weight[p.name]):
        lightest = loads.index(min(loads))
        groups[lightest].append(projection)
        loads[lightest] += weight[projection.name]
    return [group for group in groups if group]


class LogReader(Protocol):
    """What a rebuild needs of the event store (`commands.store.EventStore` is one)."""

    def read_batch(self, after: int, limit: int) -> Sequence[tuple[int, Event]]: ...

    def read_types(self, after: int, limit: int, topics: Sequence[str]) -> tuple[Sequence[tuple[int, Event]], int]: ...

    def topic_counts(self) -> dict[str, int]: ...


class BatchReader:
    """A bare `read_batch` function as a LogReader: it decodes everything and filters afterwards."""

    def __init__(self, read_batch: ReadBatch) -> None:
        self.read_batch = read_batch

    def read_types(self, after: int, limit: int, topics: Sequence[str]) -> tuple[list[tuple[int, Event]], int]:
        events = self.read_batch(after, limit)
        wanted = set(topics)
        return [(at, e) for at, e in events if type(e.payload).__name__ in wanted], events[-1][0] if events else after

    def topic_counts(self) -> dict[str, int]:
        return {}


class StoreLog:
    """The event store's log as a rebuild's source; `open_reader` opens the store (once more in each worker)."""

    def __init__(self, open_reader: Callable[[], LogReader], batch_size: int, workers: int = 1) -> None:
        self.open_reader, self.batch_size, self.workers = open_reader, batch_size, workers
        self.reader = open_reader()

    def split(self, projections: Sequence[Projection]) -> list[list[Projection]]:
        counts = self.reader.topic_counts() if self.workers > 1 else {}
        return split_by_weight(projections, self.workers, counts)

    def fill(self, staging: Staging, parts: list[Part], progress: Progress) -> list[None]:
        """Each part reads the store on its own: in this process when there is one, else in a process of its own,
        progress being the slowest part's."""
        if len(parts) == 1:
            return [self.fill_part(staging, parts[0], progress)]
        with PartProcesses(parts, lambda part, report: self.fill_part(staging, part, report)) as processes:
            return processes.wait(progress)

    def fill_part(self, staging: Staging, part: Part, progress: Progress) -> None:
        """Project every event of the part's types, batch by batch, each with its tracking position."""
        staged = staging.filling(part.schema)
        reader = self.open_reader()
        runner = ProjectionRunner(staged, reader.read_batch, part.projections)
        topics = sorted({topic for p in part.projections for topic in p.topics})
        after = min(runner.positions().values())
        try:
            while True:
                events, reached = reader.read_types(after, self.batch_size, topics)
                if reached <= after:
                    return
                with staged.begin() as conn:
                    lock_tracking(conn)
                    runner.apply(conn, events, after, reached)
                after = reached
                progress(after)
        finally:
            staged.engine.dispose()

    def catch_up(self, staging: Connection, part: Part, filled: None) -> int:
        """Read on from where the part's staged tables are, at least up to the live position (no live event is
        skipped)."""
        read_batch = self.reader.read_batch
        runner = ProjectionRunner(staging.engine, read_batch, part.projections, create_tables=False)
        live = max(live_positions(staging, part.projections), default=0)
        reached = min(runner.positions(staging).values())
        while reached < live and (events := read_batch(reached, self.batch_size)):
            runner.apply(staging, events, reached)
            reached = events[-1][0]
        return reached


class PartProcesses:
    """One forked process per part (forked: the projections need no pickling) running `target(part, report)`;
    `report(position)` tells its progress, and what the target answers is its result. A failed process stops the
    others, and the rebuild fails with its error."""

    def __init__(self, parts: list[Part], target: Callable[[Part, Progress], object]) -> None:
        self.parts = parts
        context = multiprocessing.get_context("fork")
        self.reports = context.Queue()
        self.processes = [context.Process(target=self._run, args=(n, part, target), name=f"rebuild-{part.schema}", daemon=True)
                          for n, part in enumerate(parts)]  # fmt: skip
        self.reached, self.results, self.done = [0] * len(parts), [None] * len(parts), set()

    def __enter__(self) -> PartProcesses:
        for process in self.processes:
            process.start()
        return self

    def __exit__(self, *_) -> None:
        for n, process in enumerate(self.processes):
            if n not in self.done:
                process.terminate()
            process.join()

    def _run(self, n: int, part: Part, target: Callable[[Part, Progress], object]) -> None:
        try:
            result = target(part, lambda at: self.reports.put((n, "progress", at)))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails the rebuild
            self.reports.put((n, "failed", "".join(traceback.format_exception_only(exc)).strip()))
            raise SystemExit(1) from exc
        self.reports.put((n, "done", result))

    def check(self, timeout: float = 0.0) -> bool:
        """Take the reports that came (waiting up to `timeout` for one); raises RebuildError if a part failed. Answers
        whether any came."""
        came = False
        while True:
            try:
                n, kind, value = self.reports.get(timeout=timeout) if timeout else self.reports.get_nowait()
            except queue.Empty:
                dead = [p for i, p in enumerate(self.processes) if i not in self.done and not p.is_alive()]
                if dead and self.reports.empty():
                    raise RebuildError(f"rebuild worker {dead[0].name} stopped with exit code {dead[0].exitcode}") from None
                return came
            came, timeout = True, 0.0
            if kind == "failed":
                raise RebuildError(f"rebuilding {', '.join(p.name for p in self.parts[n].projections)} failed: {value}")
            if kind == "done":
                self.results[n] = value
                self.done.add(n)
            else:
                self.reached[n] = value

    def wait(self, progress: Progress = lambda _: None) -> list[object]:
        """Wait for every part to finish; answers their results."""
        while len(self.done) < len(self.parts):
            if self.check(timeout=0.5):
                progress(min(self.reached))
        return self.results


# --- the rebuild -------------------------------------------------------------------------------------------------


def rebuild(engine: Engine, projections: Sequence[Projection], source: ReadBatch | EventSource,
            progress: Progress = lambda _: None, batch_size: int = 5000) -> int:  # fmt: skip
    """Rebuild these projections from the first event (of the store's log, or of another source); answers the
    position they were switched at."""
    if not hasattr(source, "catch_up"):
        source = StoreLog(lambda read_batch=source: BatchReader(read_batch), batch_size)
    groups = source.split(projections)
    tracking_metadata.create_all(engine)  # a fresh read-model database has no tracking table yet
    with Staging(engine, len(groups)) as staging, fewer_collections():
        parts = [Part(schema, group) for schema, group in zip(staging.schemas, groups, strict=True)]
        filled = source.fill(staging, parts, progress)
        staged = staging.engine()
        with staged.begin() as conn:
            lock_tracking(conn)  # on the live tracking table: the live runners wait for the switch
            reached = []
            for part, state in zip(parts, filled, strict=True):
                conn.execution_options(schema_translate_map={None: part.schema})
                position = source.catch_up(conn, part, state)
                for projection in part.projections:
                    switch(conn, projection, position, part.schema)
                reached.append(position)
        staged.dispose()
    position = min(reached)
    progress(position)
    log.info("projections_rebuilt", projections=[p.name for p in projections], parts=len(parts), position=position)
    return position


@contextmanager
def fewer_collections() -> Iterator[None]:
    """A rebuild holds much long-lived state (applied versions, caches) while it makes short-lived objects by the
    million; at the default thresholds the garbage collector scans the long-lived ones over and over, a quarter of
    a rebuild's time. So it collects less often while a rebuild runs (its part processes inherit that)."""
    before = gc.get_threshold()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def live_schema(conn: Connection) -> str:
    return "main" if conn.dialect.name == "sqlite" else "public"


def live_positions(staging: Connection, projections: Sequence[Projection]) -> list[int]:
    """The live tracking positions of these projections, read through the staging connection."""
    live = tracking.to_metadata(MetaData(), schema=live_schema(staging))
    versions = {p.name: p.version for p in projections}
    rows = staging.execute(select(live.c.projection, live.c.version, live.c.position))
    return [position for name, version, position in rows if versions.get(name) == version]


def switch(conn: Connection, projection: Projection, position: int, schema: str) -> None:
    """Replace the live tables' rows by the staged ones and set the live position, in the caller's transaction.

    Tables are named with their schema on both sides: the connection resolves unnamed ones to staging.
    """
    live_name = live_schema(conn)
    for table in projection.metadata.sorted_tables:
        live, staged = (table.to_metadata(MetaData(), schema=name) for name in (live_name, schema))
        live.create(conn, checkfirst=True)
        conn.execute(delete(live))
        conn.execute(insert(live).from_select(list(live.columns.keys()), select(staged)))
    live_tracking = tracking.to_metadata(MetaData(), schema=live_name)
    conn.execute(save_position(projection.name, projection.version, position, live_tracking))
