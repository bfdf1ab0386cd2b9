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

    def wait(self, x_consistency_token: Annotated[str | None, Header()] = None) -> None:
        if x_consistency_token is None:
            return
        wanted, deadline = position_of(x_consistency_token), time.monotonic() + self.timeout
        while (reached := self.reached()) < wanted:
            if time.monotonic() > deadline:
                raise HTTPException(503, f"read models reached position {reached}, not yet {wanted}")
            time.sleep(0.01)
