"""Who sees what: SPEC 4 'Visibility'."""

from fastapi import HTTPException

from schemas.auth import Caller
from schemas.employees import Role

SEE_ALL = {Role.HEAD_OF_SALES, Role.ANALYST, Role.AUDITOR}


def sees_all(caller: Caller) -> bool:
    """True for roles that see every record; a manager sees their own; other roles see no business data."""
    if caller.role in SEE_ALL:
        return True
    if caller.role is not Role.MANAGER:
        raise HTTPException(403, f"role '{caller.role}' sees no business data")
    return False
