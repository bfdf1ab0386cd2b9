"""The embedded projection runner: follows the event store's log in order, in batches.

Each batch of each projection is applied with its tracking position in one transaction, so a
crash at any point leaves the tables and the position in step; a restart resumes after it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog
from sqlalchemy import Connection, Engine, select, text

from projections.base import Projection, save_position, tracking, tracking_metadata
from projections.writes import execute_events
from schemas.base import Event

log = structlog.get_logger("voronka.projections")


def lock_tracking(conn: Connection) -> None:
    """Serialise writers of read models: the runners and a rebuild's switch."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE projection_tracking IN SHARE ROW EXCLUSIVE MODE"))
    else:  # SQLite takes its write lock at the first write statement, even one that changes no row
        conn.execute(tracking.update().where(text("0 = 1")).values(position=0))
ReadBatch = Callable[[int, int], Sequence[tuple[int, Event]]]  # (after position, limit) -> events


class ProjectionRunner:
    def __init__(self, engine: Engine, read_batch: ReadBatch, projections: Sequence[Projection], create_tables: bool = True) -> None:
        self.engine = engine
        self.read_batch = read_batch
        self.projections = projections
        if create_tables:
            tracking_metadata.create_all(engine)
            for projection in projections:
                projection.metadata.create_all(engine)

    def position(self, projection: Projection) -> int:
        query = select(tracking.c.position).where(
            tracking.c.projection == projection.name, tracking.c.version == projection.version
        )
        with self.engine.connect() as conn:
            return conn.execute(query).scalar() or 0

    def positions(self, conn: Connection | None = None) -> dict[str, int]:
        """Every projection's position, in one query."""
        if conn is None:
            with self.engine.connect() as conn:
                return self.positions(conn)
        query = select(tracking.c.projection, tracking.c.version, tracking.c.position)
        saved = {(name, version): position for name, version, position in conn.execute(query)}
        return {p.name: saved.get((p.name, p.version), 0) for p in self.projections}

    def run_once(self, batch_size: int = 1000) -> int:
        """Read one batch of the log once and apply it to every projection behind it, in one transaction.

        Answers how many events were read (0 when every projection has caught up).
        """
        after = min(self.positions().values(), default=0)
        events = self.read_batch(after, batch_size)
        if not events:
            return 0
        with self.engine.begin() as conn:
            lock_tracking(conn)
            self.apply(conn, events, after)
        log.debug("projection_advanced", position=events[-1][0], events=len(events))
        return len(events)

    def apply(self, conn: Connection, events: Sequence[tuple[int, Event]], after: int, reached: int | None = None) -> None:
        """Apply events read after position `after` to each projection behind them, with its new position: `reached`
        (the events may be a filtered part of the log up to it), by default the last event's.

        Positions are read again under the lock: a rebuild may have switched a projection meanwhile.
        One set back before `after` is left for the next round, which reads from its position.
        """
        reached = events[-1][0] if reached is None else reached
        positions = self.positions(conn)
        for projection in self.projections:
            position = positions[projection.name]
            if position < after or position >= reached:
                continue
            handlers = projection.handlers
            changes = ((event.originator_id, handler(event)) for at, event in events
                       if at > position and (handler := handlers.get(type(event.payload))))  # fmt: skip
            execute_events(conn, changes)
            conn.execute(save_position(projection.name, projection.version, reached))

    def run_until_caught_up(self, batch_size: int = 1000) -> None:
        while self.run_once(batch_size):
            pass
