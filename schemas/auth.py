"""Who is calling: what a verified bearer token says."""

from __future__ import annotations

from schemas.base import Actor, Model
from schemas.employees import Role


class Caller(Model):
    employee: Actor
    role: Role
