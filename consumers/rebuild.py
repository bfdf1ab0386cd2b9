"""Rebuild projections from zero beside the live ones, then switch atomically.

The new tables are built in a staging area (an attached SQLite file, or a PostgreSQL schema) while
the API keeps reading the live tables. Once the rebuild has caught up, one transaction, holding the
read models' write lock, brings the staged tables up to the live position and copies them over the
live ones with their tracking position: readers see the old model or the new one, never a half-built one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import structlog
from sqlalchemy import Connection, Engine, MetaData, create_engine, delete, event, insert, select, text

from consumers.runner import ProjectionRunner, ReadBatch, lock_tracking
from projections.base import Projection, save_position, tracking, tracking_metadata

log = structlog.get_logger("voronka.rebuild")
STAGING = "voronka_rebuild"
STAGING_CACHE_KB = 256 * 1024
Progress = Callable[[int], None]  # called with the position reached


def attach_staging(dbapi_connection, path: Path) -> None:
    """The staging file is disposable (a crashed rebuild starts again), so it skips the journal and fsync;
    a bigger page cache keeps the random-key index inserts of a large rebuild in memory."""
    for statement in (f"ATTACH DATABASE '{path}' AS {STAGING}", f"PRAGMA {STAGING}.journal_mode=OFF",
                      f"PRAGMA {STAGING}.synchronous=OFF", f"PRAGMA {STAGING}.cache_size=-{STAGING_CACHE_KB}"):  # fmt: skip
        dbapi_connection.execute(statement)


@contextmanager
def staging_engine(engine: Engine):
    """An engine on the same read-model database whose tables resolve to the staging area."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        path = Path(url.database).with_suffix(".rebuild.sqlite")
        path.unlink(missing_ok=True)
        staged = create_engine(url)
        event.listen(staged, "connect", lambda dbapi, _: attach_staging(dbapi, path))
    else:
        staged = create_engine(url)
        with staged.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {STAGING} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {STAGING}"))
    try:
        yield staged
    finally:
        if url.get_backend_name() != "sqlite":
            with staged.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {STAGING} CASCADE"))
        staged.dispose()
        if url.get_backend_name() == "sqlite":
            path.unlink(missing_ok=True)


class EventSource(Protocol):
    """Where a rebuild reads its events: the store's log (`StoreLog`) or the Kafka topic (`consumers.kafka_rebuild`)."""

    def fill(self, staging: Engine, projections: Sequence[Projection], progress: Progress) -> None:
        """Build the staged tables from the first event (the live ones keep serving)."""

    def catch_up(self, staging: Connection, projections: Sequence[Projection]) -> int:
        """Under the read models' write lock, bring the staged tables up to the live ones; answers the position to
        record for the switched projections."""


class StoreLog:
    def __init__(self, read_batch: ReadBatch, batch_size: int) -> None:
        self.read_batch, self.batch_size = read_batch, batch_size
        self.runner: ProjectionRunner | None = None

    def fill(self, staging: Engine, projections: Sequence[Projection], progress: Progress) -> None:
        self.runner = ProjectionRunner(staging, self.read_batch, projections)
        while self.runner.run_once(self.batch_size):
            progress(min(self.runner.positions().values()))

    def catch_up(self, staging: Connection, projections: Sequence[Projection]) -> int:
        return catch_up(staging, self.runner, self.read_batch, self.batch_size)


def rebuild(engine: Engine, projections: Sequence[Projection], read_batch: ReadBatch | EventSource,
            progress: Progress = lambda _: None, batch_size: int = 5000) -> int:  # fmt: skip
    """Rebuild these projections from the first event (of the store's log, or of another source); answers the
    position they were switched at."""
    source = read_batch if hasattr(read_batch, "catch_up") else StoreLog(read_batch, batch_size)
    tracking_metadata.create_all(engine)  # a fresh read-model database has no tracking table yet
    with staging_engine(engine) as staged:
        into_staging = staged.execution_options(schema_translate_map={None: STAGING})
        source.fill(into_staging, projections, progress)
        with staged.begin() as conn:
            lock_tracking(conn)  # on the live tracking table: the live runners wait for the switch
            conn.execution_options(schema_translate_map={None: STAGING})
            position = source.catch_up(conn, projections)
            for projection in projections:
                switch(conn, projection, position)
    progress(position)
    log.info("projections_rebuilt", projections=[p.name for p in projections], position=position)
    return position


def catch_up(staging: Connection, runner: ProjectionRunner, read_batch: ReadBatch, batch_size: int) -> int:
    """Under the lock, bring the staged tables at least up to the live position (no live event is skipped)."""
    live = max(live_positions(staging, runner.projections), default=0)
    reached = min(runner.positions(staging).values())
    while reached < live and (events := read_batch(reached, batch_size)):
        runner.apply(staging, events, reached)
        reached = events[-1][0]
    return reached


def live_schema(conn: Connection) -> str:
    return "main" if conn.dialect.name == "sqlite" else "public"


def live_positions(staging: Connection, projections: Sequence[Projection]) -> list[int]:
    """The live tracking positions of these projections, read through the staging connection."""
    live = tracking.to_metadata(MetaData(), schema=live_schema(staging))
    versions = {p.name: p.version for p in projections}
    rows = staging.execute(select(live.c.projection, live.c.version, live.c.position))
    return [position for name, version, position in rows if versions.get(name) == version]


def switch(conn: Connection, projection: Projection, position: int) -> None:
    """Replace the live tables' rows by the staged ones and set the live position, in the caller's transaction.

    Tables are named with their schema on both sides: the connection resolves unnamed ones to staging.
    """
    schema = live_schema(conn)
    for table in projection.metadata.sorted_tables:
        live, staged = (table.to_metadata(MetaData(), schema=name) for name in (schema, STAGING))
        live.create(conn, checkfirst=True)
        conn.execute(delete(live))
        conn.execute(insert(live).from_select(list(live.columns.keys()), select(staged)))
    live_tracking = tracking.to_metadata(MetaData(), schema=schema)
    conn.execute(save_position(projection.name, projection.version, position, live_tracking))
