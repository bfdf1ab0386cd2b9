"""The fast path for the commonest projection statements: fixed-shape writes compiled once per database.

Building and compiling an SQLAlchemy construct per event costs far more than executing it (and upserts
are never taken from SQLAlchemy's statement cache). So a handler may answer a `Write`: a template built
once per table, plus this event's values. `execute` compiles each template shape once per dialect, runs
runs of the same shape through the driver's executemany, and leaves any other statement to SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Iterable
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


def newer_template(table: Table, plain: tuple[str, ...], computed: tuple[tuple[str, ClauseElement], ...],
                   when: ClauseElement | None) -> Executable:  # fmt: skip
    """Keyed by the identity of the SQL expressions: they must be module-level constants, built once."""
    key = (table.name, plain, tuple((k, id(v)) for k, v in computed), id(when))
    if key not in _newer_templates:
        pk = list(table.primary_key.columns)[0]
        condition = [pk == bindparam("w_id"), table.c.version < bindparam("w_version"), *([when] if when is not None else [])]
        values = {**{c: bindparam(f"w_{c}") for c in plain}, **dict(computed)}
        if when is None:
            values["version"] = bindparam("w_version")
        _newer_templates[key] = update(table).where(*condition).values(**values)
    return _newer_templates[key]


def add_row(table: Table, **row) -> Write:
    """Insert the row unless its key is there already (a repeated event changes nothing)."""
    return Write(insert_once_template(table), row)


def newer_row(table: Table, aggregate_id, version: int, when: ClauseElement | None = None, **values) -> Write:
    """Set these values on the aggregate's row if the row shows an older version.

    Values may be SQL expressions over the row (e.g. a counter + 1), and `when` an extra condition; both
    must be module-level constants. With `when`, the version is left for the unconditional update after it.
    """
    plain = tuple(k for k, v in values.items() if not isinstance(v, ClauseElement))
    computed = tuple((k, v) for k, v in values.items() if isinstance(v, ClauseElement))
    params = {"w_id": aggregate_id, "w_version": version, **{f"w_{k}": values[k] for k in plain}}
    return Write(newer_template(table, plain, computed, when), params)


_compiled: dict[tuple, tuple[str, list, bool]] = {}


def _prepared(conn: Connection, write: Write) -> tuple[str, list, bool]:
    keys = tuple(write.params)
    schemas = conn.get_execution_options().get("schema_translate_map")  # a rebuild writes into its staging area
    cache_key = (id(write.template), keys, conn.dialect.name, tuple(sorted((schemas or {}).items(), key=str)))
    if cache_key not in _compiled:
        compiled = write.template.compile(dialect=conn.dialect, column_keys=list(keys), schema_translate_map=schemas,
                                          render_schema_translate=bool(schemas))  # fmt: skip
        names = compiled.positiontup if compiled.positional else list(compiled.binds)
        binds = [(name, compiled.binds[name].type.bind_processor(conn.dialect), compiled.binds[name].value) for name in names]
        _compiled[cache_key] = (str(compiled), binds, compiled.positional)
    return _compiled[cache_key]


def _arguments(binds: list, positional: bool, params: dict):
    values = []
    for name, process, constant in binds:  # constants: values written into the template (e.g. a status)
        value = params.get(name, constant)
        values.append((name, process(value) if process else value))
    return [v for _, v in values] if positional else dict(values)


def execute(conn: Connection, statements: Iterable[Executable | Write]) -> None:
    """Run statements in order; consecutive writes of one shape go to the driver as one executemany."""
    cursor = None
    batch: list = []
    shape = None
    for statement in statements:
        if isinstance(statement, Write):
            prepared = _prepared(conn, statement)
            if prepared is not shape and batch:
                cursor = _flush(conn, cursor, shape, batch)
            shape = prepared
            batch.append(_arguments(prepared[1], prepared[2], statement.params))
            continue
        if batch:
            cursor = _flush(conn, cursor, shape, batch)
        conn.execute(statement)
    if batch:
        _flush(conn, cursor, shape, batch)


def _flush(conn: Connection, cursor, shape, batch: list):
    cursor = cursor or conn.connection.cursor()
    cursor.executemany(shape[0], batch)
    batch.clear()
    return cursor
