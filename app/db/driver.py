"""A Core SELECT run straight on the driver's connection, for the one query every request makes.

Through SQLAlchemy's execution (the compiled-statement cache, the execution context, the cursor
and result objects, the events) looking up an API key by its prefix, an indexed query that
returns one row, cost 23 µs on SQLite and 64–103 µs on PostgreSQL; straight to the driver it
costs 6 and 24–37 µs (docs/benchmarks.md), on every request of every route. Here the statement
is compiled once per dialect, sent with the driver's own ``execute``, and the row's values are
converted by the selected columns' own types, as a SQLAlchemy result would convert them. A
driver error is raised as SQLAlchemy's ``DBAPIError`` for it, as through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

_Processor = Callable[[Any], Any] | None
AnySelect = Select[*tuple[Any, ...]]


class DriverQuery:
    """``statement`` (named bind parameters whose values need no conversion: texts, numbers),
    its first row fetched without SQLAlchemy's execution path."""

    def __init__(self, statement: AnySelect) -> None:
        self.statement = statement
        self._plans: dict[type[Dialect], tuple[str, tuple[str, ...] | None, list[_Processor]]] = {}

    def first(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        dialect = conn.dialect
        plan = self._plans.get(type(dialect))
        if plan is None:
            plan = self._plans.setdefault(type(dialect), self._plan(dialect))
        sql, order, processors = plan
        args: Any = params if order is None else tuple(params[name] for name in order)
        try:
            row = conn.connection.driver_connection.execute(sql, args).fetchone()  # type: ignore[union-attr]
        except dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(sql, args, exc, dialect.loaded_dbapi.Error) from exc
        if row is None:
            return None
        return tuple(
            v if p is None or v is None else p(v) for p, v in zip(processors, row, strict=True)
        )

    def _plan(self, dialect: Dialect) -> tuple[str, tuple[str, ...] | None, list[_Processor]]:
        """The SQL in the dialect's parameter style, the order of positional parameters (None:
        named), and each column's conversion of the driver's value (None: none needed)."""
        compiled = self.statement.compile(dialect=dialect)
        order = (
            tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
        )
        processors: list[_Processor] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in self.statement.selected_columns
        ]
        return compiled.string, order, processors
