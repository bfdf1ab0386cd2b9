"""Read-your-writes: a query carrying a command's token waits (bounded) until the read models caught up."""

import base64
import time
from collections.abc import Callable
from typing import Annotated
from uuid import UUID

from fastapi import Header, HTTPException


def position_of(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        return int(text.split(":", 1)[0])
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(422, "X-Consistency-Token is not a token answered by a command") from None


def aggregate_version_of(token: str) -> tuple[str, int]:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        _, aggregate_id, version = text.split(":")
        return str(UUID(aggregate_id)), int(version)
    except ValueError:  # also UnicodeDecodeError and a wrong number of parts
        raise HTTPException(422, "X-Consistency-Token is not a token answered by a command") from None


class Consistency:
    """Embedded consumers: wait for a log position. Kafka workers (`applied_version` given): positions are not
    comparable across partitions, so wait until the token's aggregate is applied at the token's version."""

    def __init__(self, reached: Callable[[], int], timeout: float = 2.0,
                 applied_version: Callable[[str], int] | None = None) -> None:  # fmt: skip
        self.reached = reached
        self.timeout = timeout
        self.applied_version = applied_version

    def wait(
        self,
        x_consistency_token: Annotated[str | None, Header(description="A command's token: wait until it is applied")] = None,
        x_min_position: Annotated[int | None, Header(ge=0, description="Wait until this log position is applied")] = None,
    ) -> None:
        if self.applied_version is not None:
            self.wait_for_aggregate(x_consistency_token, x_min_position)
            return
        wanted = max(position_of(x_consistency_token) if x_consistency_token else 0, x_min_position or 0)
        if not wanted:
            return
        deadline = time.monotonic() + self.timeout
        while (reached := self.reached()) < wanted:
            if time.monotonic() > deadline:
                raise HTTPException(503, {"message": f"read models reached position {reached}, not yet {wanted}",
                                          "position": reached, "wanted": wanted}, headers={"Retry-After": "1"})  # fmt: skip
            time.sleep(0.01)

    def wait_for_aggregate(self, token: str | None, min_position: int | None) -> None:
        if min_position is not None:
            raise HTTPException(400, "X-Min-Position needs the embedded consumers; with Kafka workers send the "
                                     "command's X-Consistency-Token")  # fmt: skip
        if not token:
            return
        aggregate_id, wanted = aggregate_version_of(token)
        deadline = time.monotonic() + self.timeout
        while (applied := self.applied_version(aggregate_id)) < wanted:
            if time.monotonic() > deadline:
                raise HTTPException(503, {"message": f"read models applied {aggregate_id} up to version {applied}, not yet {wanted}",
                                          "aggregate_id": aggregate_id, "version": applied, "wanted": wanted},
                                    headers={"Retry-After": "1"})  # fmt: skip
            time.sleep(0.01)
