"""The duplicate-work rule: do two product sets describe the same work?"""

from __future__ import annotations

from collections.abc import Set
from uuid import UUID

from schemas.needs import MatchKind


def jaccard(a: Set[UUID], b: Set[UUID]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def match(a: Set[UUID], b: Set[UUID], threshold: float) -> MatchKind | None:
    """Exact: the same set. Similar: both have at least 2 products and Jaccard >= threshold."""
    if a and a == b:
        return MatchKind.EXACT
    if len(a) >= 2 and len(b) >= 2 and jaccard(a, b) >= threshold:
        return MatchKind.SIMILAR
    return None
