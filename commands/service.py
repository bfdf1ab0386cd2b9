"""The command service: authorise, run the use case, retry where safe, answer {id, position, token}."""

from __future__ import annotations

import base64
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from aggregates.base import Context
from aggregates.errors import ConflictError, ForbiddenError
from commands.deps import Deps
from commands.routing import COMMANDS
from commands.store import ConcurrencyError, StoreBusyError
from schemas.auth import Caller
from schemas.base import Command, CommandAccepted

log = structlog.get_logger("voronka.commands")
MAX_ATTEMPTS = 30


def make_token(aggregate_id: str, version: int, position: int) -> str:
    """Opaque to clients; the query side reads position (embedded) or aggregate@version (Kafka)."""
    return base64.urlsafe_b64encode(f"{position}:{aggregate_id}:{version}".encode()).decode().rstrip("=")


class CommandService:
    def __init__(self, deps: Deps, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.deps = deps
        self.clock = clock

    def handle(self, command: Command, caller: Caller) -> CommandAccepted:
        route = COMMANDS[type(command)]
        name = type(command).__name__
        if caller.role not in route.roles:
            raise ForbiddenError(f"role '{caller.role}' may not {name}")
        ctx = Context(caller.employee, caller.role, command.occurred_at or self.clock())
        outcome = self._run(route, command, ctx)
        log.info("command_accepted", command=name, actor=caller.employee, id=str(outcome.id), position=outcome.position)
        return CommandAccepted(
            id=str(outcome.id),
            position=outcome.position,
            token=make_token(str(outcome.id), outcome.version, outcome.position),
            warnings=outcome.warnings,
            report=outcome.report,
        )

    def _run(self, route, command: Command, ctx: Context):
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return route.handler(command, ctx, self.deps)
            except ConcurrencyError:
                if not route.retry or attempt == MAX_ATTEMPTS:
                    raise ConflictError("the record was changed concurrently; reload it and try again") from None
                time.sleep(random.uniform(0, 0.001 * attempt))  # jitter: racing writers stop colliding in step
            except StoreBusyError:
                if attempt == MAX_ATTEMPTS:
                    raise
                time.sleep(min(0.01 * 2**attempt, 0.5))
            log.debug("command_retried", command=type(command).__name__, attempt=attempt)
        raise AssertionError("unreachable")
