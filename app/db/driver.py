"""Core SELECTs run straight on the driver's connection, for the queries of the hottest paths: the
API key lookup every request makes, and the hot reads' own (a stored score, a series).

Through SQLAlchemy's execution (the compiled-statement cache, the execution context, the cursor
and result objects, the events) looking up an API key by its prefix, an indexed query that
returns one row, cost 23 µs on SQLite and 64–103 µs on PostgreSQL; straight to the driver it
costs 6 and 24–37 µs (docs/benchmarks.md). Here the statement is compiled once per dialect,
its parameters are converted by their own types (a UUID to the text SQLite stores) and sent with
the driver's own ``execute``, and the rows' values are converted by the selected columns' own
types, as SQLAlchemy would convert them both ways. A driver error is raised as SQLAlchemy's
``DBAPIError`` for it, as through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

_Processor = Callable[[Any], Any] | None
AnySelect = Select[*tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    names: tuple[str, ...]  # the parameters, in the order a positional driver takes them
    positional: bool
    binds: tuple[_Processor, ...]  # each parameter's conversion (None: none needed), by names
    fixed: Mapping[str, Any]  # the statement's own values (an IN list's, say), by name
    results: tuple[_Processor, ...]  # each column's conversion of the driver's value
    convert: bool  # some column has a conversion


class DriverQuery:
    """``statement`` (named bind parameters), its rows fetched without SQLAlchemy's execution
    path."""

    def __init__(self, statement: AnySelect) -> None:
        self.statement = statement
        self._plans: dict[type[Dialect], _Plan] = {}

    def first(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        plan, cursor = self._execute(conn, params)
        row = cursor.fetchone()
        return None if row is None else _converted(plan, row)

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        plan, cursor = self._execute(conn, params)
        return [_converted(plan, row) for row in cursor.fetchall()]

    def _execute(self, conn: Connection, params: Mapping[str, Any]) -> tuple[_Plan, Any]:
        dialect = conn.dialect
        plan = self._plans.get(type(dialect))
        if plan is None:
            plan = self._plans.setdefault(type(dialect), self._plan(dialect))
        values = [
            v if p is None or v is None else p(v)
            for p, v in zip(
                plan.binds,
                (params[name] if name in params else plan.fixed[name] for name in plan.names),
                strict=True,
            )
        ]
        args: Any = tuple(values) if plan.positional else dict(zip(plan.names, values, strict=True))
        try:
            return plan, conn.connection.driver_connection.execute(plan.sql, args)  # type: ignore[union-attr]
        except dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(plan.sql, args, exc, dialect.loaded_dbapi.Error) from exc

    def _plan(self, dialect: Dialect) -> _Plan:
        """The SQL in the dialect's parameter style, its parameters' order and conversions, and
        each column's conversion of the driver's value."""
        compiled = self.statement.compile(dialect=dialect)
        by_name = {name: bind for bind, name in compiled.bind_names.items()}
        if any(bind.expanding for bind in by_name.values()):  # SQLAlchemy writes those out
            raise ValueError("an IN list must be of literal() values here, not an expanding one")
        positional = bool(compiled.positional and compiled.positiontup)
        names = tuple(compiled.positiontup or ()) if positional else tuple(by_name)
        binds = tuple(
            by_name[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
        )
        results = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in self.statement.selected_columns
        )
        return _Plan(
            compiled.string,
            names,
            positional,
            binds,
            {name: bind.value for name, bind in by_name.items() if not bind.required},
            results,
            any(p is not None for p in results),
        )


def _converted(plan: _Plan, row: Sequence[Any]) -> tuple[Any, ...]:
    if not plan.convert:
        return tuple(row)
    return tuple(
        v if p is None or v is None else p(v) for p, v in zip(plan.results, row, strict=True)
    )
