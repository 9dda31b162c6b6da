"""Keyset pages seek in the (workspace, created_at, id) index: the cursor is part of the index
search, not a filter over every earlier row (a page deep into 50,000 assessments took 24 ms on
PostgreSQL with "a > x OR (a = x AND b > y)", 0.1 ms with a row comparison; bench/scale.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, event, literal_column, select, text

from app.db.models import Assessment
from app.services.common import encode_cursor, page_after


def _plan(engine: Engine, model: Any) -> str:
    explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "

    def as_explain(_c: Any, _cur: Any, sql: str, params: Any, *_: Any) -> tuple[str, Any]:
        return explain + sql, params

    query = page_after(
        select(literal_column("1")).select_from(model).where(model.workspace_id == uuid.uuid4()),
        model.created_at,
        model.id,
        encode_cursor(datetime.now(UTC), uuid.uuid4()),
        100,
    )
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL enable_seqscan = off"))  # tiny test tables
            # with tiny tables another index on workspace_id costs about the same plus a sort,
            # and the planner's choice then depends on the statistics of the moment
            conn.execute(text("SET LOCAL enable_sort = off"))
        event.listen(conn, "before_cursor_execute", as_explain, retval=True)
        return "\n".join(str(row[-1]) for row in conn.execute(query))


def test_the_cursor_is_part_of_the_index_search(engine: Engine) -> None:
    plan = _plan(engine, Assessment)
    if engine.dialect.name == "sqlite":
        assert "(workspace_id=? AND (created_at,id)>(?,?))" in plan, plan
    else:
        index_cond = [line for line in plan.splitlines() if "Index Cond" in line]
        assert index_cond and "created_at" in index_cond[0], plan
        assert "Filter" not in plan, plan
