"""The plan workbook coming back: status, progress and the other action fields edited in Excel
update the plan; a row without an action id adds an action (and its priority when the area is
new). All or nothing, and only over the plan the workbook was made from: a workbook exported
before someone else's change is refused (its ETag is stale), so nobody's edit is lost unseen.

The file is read by the same guarded reader as every uploaded workbook (``check_upload``, then
the sandboxed ``extract`` task): nothing is evaluated, formulas are refused.
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from app.catalog import Catalog
from app.db.models import PlanAction
from app.db.session import write_transaction
from app.domain.errors import Invalid, PreconditionFailed
from app.excel.problems import WorkbookRejected
from app.excel.safety import Limits, check_upload
from app.excel.sandbox import SandboxFailure, run_task
from app.services.common import audit, now
from app.services.keys import Principal
from app.services.plan_models import ActionData, PriorityData
from app.services.plan_workbook import COL, FIRST_ROW, META, SHEET, STATUS
from app.services.plans import (
    ACTION_FIELDS,
    get_plan,
    instrument_of,
    lock_plan,
    new_action,
    new_priority,
    plan_etag,
)

Grid = dict[tuple[int, int], Any]
_STATUS_OF = {label.casefold(): key for labels in STATUS.values() for key, label in labels.items()}
_STATUS_OF.update({key: key for key in STATUS["en"]})


def _sheets(data: bytes, limits: Limits) -> dict[str, Grid]:
    params = {
        "max_rows": min(limits.max_rows, 2000),
        "max_columns": min(limits.max_columns, 30),
        "max_sheets": 5,
        "max_text": limits.max_inflated_bytes,
        "meta_sheet": META,
        "cover_row": 1,
        "value_column": 2,
        "table_column": 99,
        "table_header_row": 10_000,
    }
    try:
        check_upload(data, limits)
        result = json.loads(run_task("extract", data, json.dumps(params), limits))
    except WorkbookRejected as rejected:
        raise Invalid(
            "the file cannot be read as a plan workbook",
            errors=[
                {"code": p.code.value, "detail": p.en, "detail_es": p.es} for p in rejected.problems
            ],
        ) from None
    except SandboxFailure:
        raise Invalid("the workbook is too complex to read") from None
    if "problems" in result:
        code = result["problems"][0]["code"]
        raise Invalid(f"not a plan workbook exported by this service ({code})")
    return {
        name: {(int(r), int(c)): (v, k) for r, c, v, k in cells}
        for name, cells in result["sheets"].items()
    }


class _Rows:
    """Cell values of the plan sheet, with every problem collected (not only the first)."""

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.errors: list[dict[str, str]] = []

    def text(self, row: int, field: str) -> str | None:
        value, kind = self.grid.get((row, COL[field]), (None, "v"))
        cell = f"{SHEET}!{'ABCDEFGHIJK'[COL[field] - 1]}{row}"
        if kind == "f":
            self.errors.append({"pointer": cell, "code": "formula", "detail": "a formula"})
            return None
        if isinstance(value, dict):
            value = value.get("date") or value.get("datetime")
        if value is None or str(value).strip() == "":
            return None
        return str(value).strip()

    def fail(self, row: int, field: str, detail: str) -> None:
        cell = f"{SHEET}!{'ABCDEFGHIJK'[COL[field] - 1]}{row}"
        self.errors.append({"pointer": cell, "code": "invalid", "detail": detail})

    def fields(self, row: int) -> dict[str, Any]:
        out: dict[str, Any] = {f: self.text(row, f) for f in ACTION_FIELDS}
        if out["due_on"] is not None:
            try:
                out["due_on"] = date.fromisoformat(out["due_on"][:10])
            except ValueError:
                self.fail(row, "due_on", "a date is written YYYY-MM-DD")
        status = _STATUS_OF.get((out["status"] or "planned").casefold())
        if status is None:
            self.fail(row, "status", "status: planned, in progress, done or dropped")
        out["status"] = status or "planned"
        return out


def import_plan_workbook(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    assessment_id: uuid.UUID,
    data: bytes,
    limits: Limits,
) -> tuple[int, int]:
    """Apply the workbook to the plan; returns (actions updated, actions added)."""
    sheets = _sheets(data, limits)
    meta = {
        v[0]: sheets[META].get((r, 2), (None,))[0] for (r, c), v in sheets[META].items() if c == 1
    }
    grid = sheets.get(SHEET)
    if grid is None or meta.get("assessment") != str(assessment_id):
        raise Invalid("this workbook is the plan of another assessment (or not a plan workbook)")
    last = int(meta.get("last_row") or 0)
    last = max([last, *(r for (r, c) in grid if c in (COL["area"], COL["id"]))])
    updated = added = 0
    with write_transaction(session):
        a, plan = get_plan(session, principal, assessment_id)
        if meta.get("etag") != plan_etag(plan):
            raise PreconditionFailed(
                "the plan changed since this workbook was exported; export it again",
                etag=plan_etag(plan),
            )
        a, plan = lock_plan(session, principal, assessment_id, plan_etag(plan))
        instrument = instrument_of(catalog, a)
        rows = _Rows(grid)
        actions = {str(x.id): x for p in plan.priorities for x in p.actions}
        priorities = {p.area_key: p for p in plan.priorities}
        for row in range(FIRST_ROW, last + 1):
            action_id, area = rows.text(row, "id"), rows.text(row, "area")
            fields = rows.fields(row)
            if action_id is not None:
                action: PlanAction | None = actions.get(action_id)
                if action is None:
                    rows.fail(row, "id", f"action {action_id} is not part of this plan")
                    continue
                if not fields["what"]:
                    rows.fail(row, "what", "an action says what will be done")
                    continue
                changed = {f: v for f, v in fields.items() if getattr(action, f) != v}
                if changed:
                    for f, v in changed.items():
                        setattr(action, f, v)
                    action.updated_at = now()
                    audit(
                        session, principal, "plan.action.update", "plan_action", action.id, changed
                    )
                    updated += 1
                continue
            if area is None:
                continue
            priority = priorities.get(area)
            try:
                if priority is None:
                    note = rows.text(row, "note")
                    priority = new_priority(instrument, plan, PriorityData(area, note), "")
                    priorities[area] = priority
                    session.flush()
                    audit(
                        session,
                        principal,
                        "plan.priority.add",
                        "plan_priority",
                        priority.id,
                        {"area": area},
                    )
                if fields["what"]:
                    new = new_action(priority, ActionData(**fields), "")
                    session.flush()
                    audit(session, principal, "plan.action.add", "plan_action", new.id, fields)
                    added += 1
            except Invalid as exc:
                rows.fail(row, "area", exc.detail)
        if rows.errors:
            raise Invalid(
                f"{len(rows.errors)} cell(s) cannot be read; nothing was changed",
                errors=rows.errors,
            )
    return updated, added
