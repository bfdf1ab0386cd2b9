"""The fast path for the commonest projection statements: fixed-shape writes compiled once per database.

Building and compiling an SQLAlchemy construct per event costs far more than executing it (and upserts
are never taken from SQLAlchemy's statement cache). So a handler may answer a `Write`: a template built
once per table, plus this event's values. Each template shape is compiled once per dialect; writes of one
shape go to the driver's executemany together (`execute_events` groups them across a batch of events), and
any other statement is left to SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Table, bindparam, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.sql import ClauseElement, Executable


@dataclass(frozen=True, slots=True)
class Write:
    template: Executable
    params: dict[str, Any]


@lru_cache(maxsize=None)
def insert_once_template(table: Table) -> Executable:
    return insert(table).on_conflict_do_nothing()


_newer_templates: dict[tuple, Executable] = {}


def _newer_template(table: Table, values: dict, when: ClauseElement | None) -> Executable:
    pk = list(table.primary_key.columns)[0]
    condition = [pk == bindparam("w_id"), table.c.version < bindparam("w_version"), *([when] if when is not None else [])]
    assigned = {c: v if isinstance(v, ClauseElement) else bindparam(f"w_{c}") for c, v in values.items()}
    if when is None:
        assigned["version"] = bindparam("w_version")
    return update(table).where(*condition).values(**assigned)


def add_row(table: Table, **row) -> Write:
    """Insert the row unless its key is there already (a repeated event changes nothing)."""
    return Write(insert_once_template(table), row)


def newer_row(table: Table, aggregate_id, version: int, when: ClauseElement | None = None, **values) -> Write:
    """Set these values on the aggregate's row if the row shows an older version.

    Values may be SQL expressions over the row (e.g. a counter + 1), and `when` an extra condition; both
    must be module-level constants: templates are keyed by their identity.
    With `when`, the version is left for the unconditional update after it.
    """
    params = {"w_id": aggregate_id, "w_version": version}
    shape = []
    for name, value in values.items():
        if isinstance(value, ClauseElement):
            shape.append((name, id(value)))
        else:
            shape.append(name)
            params["w_" + name] = value
    key = (table.name, tuple(shape), id(when))
    template = _newer_templates.get(key)
    if template is None:
        template = _newer_templates[key] = _newer_template(table, values, when)
    return Write(template, params)


@dataclass(eq=False, slots=True)
class Shape:
    """A template compiled for one database: its SQL, and for each bind its name, processor and constant."""

    sql: str
    binds: list[tuple[str, Any, Any]]
    positional: bool

    def arguments(self, params: dict):
        """The driver's arguments for one write (constants are values written into the template, e.g. a status)."""
        get = params.get
        if self.positional:
            return [process(get(name, constant)) if process else get(name, constant) for name, process, constant in self.binds]
        return {name: process(get(name, constant)) if process else get(name, constant) for name, process, constant in self.binds}


_compiled: dict[tuple, Shape] = {}


class Shapes:
    """Looks up each write's compiled shape for one connection (its dialect and schema translation)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.schemas = conn.get_execution_options().get("schema_translate_map")  # a rebuild writes into its staging area
        self.context = (conn.dialect.name, tuple(sorted((self.schemas or {}).items(), key=str)))

    def of(self, write: Write) -> Shape:
        keys = tuple(write.params)
        cache_key = (id(write.template), keys, self.context)
        shape = _compiled.get(cache_key)
        if shape is None:
            shape = _compiled[cache_key] = self._compile(write.template, keys)
        return shape

    def _compile(self, template: Executable, keys: tuple[str, ...]) -> Shape:
        dialect = self.conn.dialect
        compiled = template.compile(dialect=dialect, column_keys=list(keys), schema_translate_map=self.schemas,
                                    render_schema_translate=bool(self.schemas))  # fmt: skip
        names = compiled.positiontup if compiled.positional else list(compiled.binds)
        binds = [(name, compiled.binds[name].type.bind_processor(dialect), compiled.binds[name].value) for name in names]
        return Shape(str(compiled), binds, compiled.positional)


def execute(conn: Connection, statements: Iterable[Executable | Write]) -> None:
    """Run statements in order; consecutive writes of one shape go to the driver as one executemany."""
    shapes, cursor, batch, shape = Shapes(conn), None, [], None
    for statement in statements:
        if isinstance(statement, Write):
            prepared = shapes.of(statement)
            if prepared is not shape and batch:
                cursor = _flush(conn, cursor, shape, batch)
            shape = prepared
            batch.append(prepared.arguments(statement.params))
            continue
        if batch:
            cursor = _flush(conn, cursor, shape, batch)
        conn.execute(statement)
    if batch:
        _flush(conn, cursor, shape, batch)


def execute_events(conn: Connection, changes: Iterable[tuple[Hashable, Iterable[Executable | Write]]]) -> None:
    """Apply many events' changes, given as (aggregate id, statements) in log order, grouping alike writes.

    Events go into rounds: an aggregate's k-th event here goes to round k, so each round holds at most one
    event per aggregate and the rounds keep every aggregate's own order; that is a reordering across
    aggregates, which projections tolerate by design (the property tests check it). In a round, events
    whose writes have the same shapes run as one executemany per statement; an event with any other
    statement runs on its own. Rows shared across aggregates are only ever created once and counted
    into, which commutes, so grouping the statements of distinct aggregates changes no result.
    """
    shapes = Shapes(conn)
    rounds: list[dict] = []
    seen: dict[Hashable, int] = {}
    for aggregate, statements in changes:
        statements = list(statements)
        if not statements:
            continue
        k = seen[aggregate] = seen.get(aggregate, -1) + 1
        if k == len(rounds):
            rounds.append({})
        groups = rounds[k]
        if all(isinstance(s, Write) for s in statements):
            signature = tuple(shapes.of(s) for s in statements)
            group = groups.get(signature) or groups.setdefault(signature, [[] for _ in signature])
            for rows, shape, write in zip(group, signature, statements):
                rows.append(shape.arguments(write.params))
        else:
            groups.setdefault(None, []).append(statements)
    cursor = None
    for groups in rounds:
        for signature, group in groups.items():
            if signature is None:
                for statements in group:
                    execute(conn, statements)
                continue
            for shape, rows in zip(signature, group):
                cursor = _flush(conn, cursor, shape, rows)


def _flush(conn: Connection, cursor, shape: Shape, batch: list):
    cursor = cursor or conn.connection.cursor()
    cursor.executemany(shape.sql, batch)
    batch.clear()
    return cursor
