"""The embedded projection runner: follows the event store's log in order, in batches.

Each batch of each projection is applied with its tracking position in one transaction, so a
crash at any point leaves the tables and the position in step; a restart resumes after it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog
from sqlalchemy import Engine, select

from projections.base import Projection, save_position, tracking, tracking_metadata
from schemas.base import Event

log = structlog.get_logger("voronka.projections")
ReadBatch = Callable[[int, int], Sequence[tuple[int, Event]]]  # (after position, limit) -> events


class ProjectionRunner:
    def __init__(self, engine: Engine, read_batch: ReadBatch, projections: Sequence[Projection]) -> None:
        self.engine = engine
        self.read_batch = read_batch
        self.projections = projections
        tracking_metadata.create_all(engine)
        for projection in projections:
            projection.metadata.create_all(engine)

    def position(self, projection: Projection) -> int:
        query = select(tracking.c.position).where(
            tracking.c.projection == projection.name, tracking.c.version == projection.version
        )
        with self.engine.connect() as conn:
            return conn.execute(query).scalar() or 0

    def positions(self) -> dict[str, int]:
        """Every projection's position, in one query."""
        query = select(tracking.c.projection, tracking.c.version, tracking.c.position)
        with self.engine.connect() as conn:
            saved = {(name, version): position for name, version, position in conn.execute(query)}
        return {p.name: saved.get((p.name, p.version), 0) for p in self.projections}

    def run_once(self, batch_size: int = 1000) -> int:
        """Read one batch of the log once and apply it to every projection behind it, in one transaction.

        Answers how many events were read (0 when every projection has caught up).
        """
        positions = self.positions()
        events = self.read_batch(min(positions.values(), default=0), batch_size)
        if not events or events[-1][0] <= min(positions.values()):
            return 0
        last = events[-1][0]
        with self.engine.begin() as conn:
            for projection in self.projections:
                for position, event in events:
                    if position > positions[projection.name]:
                        for statement in projection.changes(event):
                            conn.execute(statement)
                reached = max(last, positions[projection.name])
                conn.execute(save_position(projection.name, projection.version, reached))
        log.debug("projection_advanced", position=last, events=len(events))
        return len(events)

    def run_until_caught_up(self, batch_size: int = 1000) -> None:
        while self.run_once(batch_size):
            pass
