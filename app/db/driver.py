"""Core SELECTs run straight on the driver's connection, for the queries of the hottest paths: the
API key lookup every request makes, and the hot reads' own (a stored score, a series).

Through SQLAlchemy's execution (the compiled-statement cache, the execution context, the cursor
and result objects, the events) looking up an API key by its prefix, an indexed query that
returns one row, cost 23 µs on SQLite and 64–103 µs on PostgreSQL; straight to the driver it
costs 6 and 24–37 µs, and the read of a stored score a fifth less CPU in all (docs/benchmarks.md).

Here a statement is compiled once per engine's dialect; its parameters are converted by their own
types (a UUID to the text SQLite stores) and sent with the driver's own ``execute``; the rows'
values are converted by the selected columns' own types, given the types the driver reports, as
SQLAlchemy converts them both ways. A driver error is raised as SQLAlchemy raises it: its
``DBAPIError`` for it, parameters hidden as the engine says, a lost connection invalidated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

_Processor = Callable[[Any], Any] | None
AnySelect = Select[*tuple[Any, ...]]


class _Plan:
    """A statement compiled for one dialect: its SQL, its parameters (the caller's and its own)
    with their conversions, and, once a cursor has described them, its columns' conversions."""

    __slots__ = (
        "binds",
        "described",
        "dialect",
        "fixed",
        "keys",
        "names",
        "results",
        "sql",
        "types",
    )

    def __init__(self, statement: AnySelect, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        by_name = {name: bind for bind, name in compiled.bind_names.items()}
        for name, bind in by_name.items():
            if bind.expanding or bind.literal_execute:  # SQLAlchemy writes those at each call
                raise ValueError(
                    f"parameter {name!r} is written out by SQLAlchemy at each execution; "
                    "an IN list here must be of literal() values"
                )
        self.sql = compiled.string
        positional = bool(compiled.positional and compiled.positiontup)
        self.names: tuple[str, ...] = (
            tuple(compiled.positiontup or ()) if positional else tuple(by_name)
        )
        escaped = compiled.escaped_bind_names
        # None: positional; else the names the SQL gives the parameters (some are escaped)
        self.keys = None if positional else tuple(escaped.get(n, n) for n in self.names)
        self.binds: tuple[_Processor, ...] = tuple(
            by_name[name].type.dialect_impl(dialect).bind_processor(dialect) for name in self.names
        )
        self.fixed = {n: b.effective_value for n, b in by_name.items() if not b.required}
        self.dialect = dialect
        self.types = tuple(c.type.dialect_impl(dialect) for c in statement.selected_columns)
        self.described = False  # the columns' conversions are made at the first rows
        self.results: tuple[_Processor, ...] | None = None  # None: no column needs one

    def arguments(self, params: Mapping[str, Any]) -> Any:
        values = [
            v if p is None else p(v)
            for p, v in zip(
                self.binds,
                (params[n] if n in params else self.fixed[n] for n in self.names),
                strict=True,
            )
        ]
        return tuple(values) if self.keys is None else dict(zip(self.keys, values, strict=True))

    def processors(self, description: Sequence[Sequence[Any]]) -> tuple[_Processor, ...] | None:
        """The columns' conversions, None when no column needs one; some need the type the
        driver reports (PostgreSQL's numbers), so they are made at the first rows."""
        if not self.described:
            made = tuple(
                t.result_processor(self.dialect, described[1])
                for t, described in zip(self.types, description, strict=True)
            )
            self.results = made if any(p is not None for p in made) else None
            self.described = True
        return self.results


class DriverQuery:
    """``statement`` (named bind parameters), its rows fetched without SQLAlchemy's execution
    path."""

    def __init__(self, statement: AnySelect) -> None:
        self.statement = statement
        self._plans: dict[Dialect, _Plan] = {}  # per engine: a dialect holds its JSON codecs

    def first(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        rows = self._rows(conn, params, one=True)
        return rows[0] if rows else None

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        return self._rows(conn, params, one=False)

    def _rows(
        self, conn: Connection, params: Mapping[str, Any], *, one: bool
    ) -> list[tuple[Any, ...]]:
        dialect = conn.dialect
        plan = self._plans.get(dialect)
        if plan is None:
            plan = self._plans.setdefault(dialect, _Plan(self.statement, dialect))
        args = plan.arguments(params)
        driver = conn.connection.driver_connection
        cursor = None
        try:
            cursor = driver.execute(plan.sql, args)  # type: ignore[union-attr]
            if one:
                row = cursor.fetchone()
                rows = [] if row is None else [row]
            else:
                rows = cursor.fetchall()
            description = cursor.description
        except dialect.loaded_dbapi.Error as exc:
            lost = dialect.is_disconnect(exc, driver, cursor)
            if lost:
                conn.invalidate(exc)
            raise DBAPIError.instance(
                plan.sql,
                args,
                exc,
                dialect.loaded_dbapi.Error,
                hide_parameters=conn.engine.hide_parameters,
                connection_invalidated=lost,
                dialect=dialect,
            ) from exc
        if not rows:
            return []
        processors = plan.processors(description)
        if processors is None:
            return [tuple(row) for row in rows]
        return [
            tuple(
                v if p is None or v is None else p(v) for p, v in zip(processors, row, strict=True)
            )
            for row in rows
        ]
