"""Domain errors. Each says what went wrong and, where it helps, what is allowed instead."""

from __future__ import annotations

from collections.abc import Iterable


class DomainError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(DomainError):
    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key} not found")
        self.kind = kind


class InvalidValueError(DomainError):
    """Input that is well-formed but refers to something unknown or not allowed (422)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class InvalidTransitionError(DomainError):
    """An operation the current state does not allow (409)."""

    def __init__(self, action: str, state: str, allowed: Iterable[str], why: str = "") -> None:
        allowed = sorted(set(allowed))
        detail = f": {why}" if why else ""
        super().__init__(
            f"cannot {action} in state '{state}'{detail}; allowed now: {', '.join(allowed) or 'nothing'}"
        )
        self.action = action
        self.state = state
        self.allowed = allowed


class ConflictError(DomainError):
    """The request clashes with what exists (a duplicate, a concurrent change) (409)."""

    def __init__(self, message: str, existing_id: object | None = None) -> None:
        super().__init__(message)
        self.existing_id = existing_id


class ForbiddenError(DomainError):
    """The actor's role or relation to the record does not permit this (403)."""
