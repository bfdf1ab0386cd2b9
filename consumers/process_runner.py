"""Runs a process manager over the log: rebuilds its state silently up to its position, then acts.

Its position is saved after the commands of a batch are accepted, so a crash can repeat a command
but never skip one; process managers issue only commands that are idempotent.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Engine, select

from consumers.runner import ReadBatch
from projections.base import save_position, tracking, tracking_metadata
from schemas.base import Event


class ProcessManager(Protocol):
    def observe(self, event: Event, act: bool) -> None: ...


class ProcessRunner:
    def __init__(self, engine: Engine, read_batch: ReadBatch, manager: ProcessManager, name: str) -> None:
        self.engine, self.read_batch, self.manager, self.name = engine, read_batch, manager, name
        tracking_metadata.create_all(engine)
        self.seen = 0
        self.acted_until = self._saved_position()

    def _saved_position(self) -> int:
        query = select(tracking.c.position).where(tracking.c.projection == self.name, tracking.c.version == 1)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar() or 0

    def run_once(self, batch_size: int = 1000) -> int:
        events = self.read_batch(self.seen, batch_size)
        for position, event in events:
            self.manager.observe(event, act=position > self.acted_until)
        if events:
            self.seen = events[-1][0]
            if self.seen > self.acted_until:
                self._save(self.seen)
        return len(events)

    def run_until_caught_up(self, batch_size: int = 1000) -> None:
        while self.run_once(batch_size):
            pass

    def _save(self, position: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(save_position(self.name, 1, position))
        self.acted_until = position
