"""Read-your-writes: a query carrying a command's token waits (bounded) until the read models caught up."""

import base64
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Header, HTTPException


def position_of(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        return int(text.split(":", 1)[0])
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(422, "X-Consistency-Token is not a token answered by a command") from None


class Consistency:
    def __init__(self, reached: Callable[[], int], timeout: float = 2.0) -> None:
        self.reached = reached
        self.timeout = timeout

    def wait(
        self,
        x_consistency_token: Annotated[str | None, Header(description="A command's token: wait until it is applied")] = None,
        x_min_position: Annotated[int | None, Header(ge=0, description="Wait until this log position is applied")] = None,
    ) -> None:
        wanted = max(position_of(x_consistency_token) if x_consistency_token else 0, x_min_position or 0)
        if not wanted:
            return
        deadline = time.monotonic() + self.timeout
        while (reached := self.reached()) < wanted:
            if time.monotonic() > deadline:
                raise HTTPException(503, {"message": f"read models reached position {reached}, not yet {wanted}",
                                          "position": reached, "wanted": wanted}, headers={"Retry-After": "1"})  # fmt: skip
            time.sleep(0.01)
