"""The embedded projection runner: follows the event store's log in order, in batches.

Each batch of each projection is applied with its tracking position in one transaction, so a
crash at any point leaves the tables and the position in step; a restart resumes after it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog
from sqlalchemy import Engine, select
from sqlalchemy.dialects.sqlite import insert

from projections.base import Projection, tracking, tracking_metadata
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

    def run_once(self, batch_size: int = 1000) -> int:
        """Apply at most one batch to every projection; answers how many events were applied."""
        return sum(self._advance(projection, batch_size) for projection in self.projections)

    def run_until_caught_up(self, batch_size: int = 1000) -> None:
        while self.run_once(batch_size):
            pass

    def _advance(self, projection: Projection, batch_size: int) -> int:
        events = self.read_batch(self.position(projection), batch_size)
        if not events:
            return 0
        with self.engine.begin() as conn:
            for _, event in events:
                for statement in projection.changes(event):
                    conn.execute(statement)
            last = events[-1][0]
            conn.execute(
                insert(tracking)
                .values(projection=projection.name, version=projection.version, position=last)
                .on_conflict_do_update(index_elements=["projection", "version"], set_={"position": last})
            )
        log.debug("projection_advanced", projection=projection.name, position=last, events=len(events))
        return len(events)
