"""The action plan as an Excel workbook: one sheet, one row per action, in English or Spanish.

Priorities without actions still get a row, so every chosen area is visible to whoever opens it.
The last two columns (area key, action id) and a hidden sheet (the plan's ETag) let the workbook
come back: ``app.services.plan_import`` reads it to update the plan.
"""

from __future__ import annotations

import io
import uuid
from datetime import date

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy.orm import Session

from app.catalog import Catalog
from app.services.filenames import safe_filename
from app.services.keys import Principal
from app.services.plan_models import ActionRead
from app.services.plans import get_plan, plan_etag, plan_read

HEADERS = {
    "en": (
        "Area",
        "Priority note",
        "Action",
        "Who",
        "Due",
        "Resources / TA",
        "Status",
        "Progress",
        "Overdue",
        "Area key",
        "Action id",
    ),
    "es": (
        "Área",
        "Nota de la prioridad",
        "Acción",
        "Responsable",
        "Fecha límite",
        "Recursos / asistencia técnica",
        "Estado",
        "Avance",
        "Atrasada",
        "Clave del área",
        "Id de la acción",
    ),
}
STATUS = {
    "en": {
        "planned": "planned",
        "in_progress": "in progress",
        "done": "done",
        "dropped": "dropped",
    },
    "es": {
        "planned": "planificada",
        "in_progress": "en curso",
        "done": "hecha",
        "dropped": "descartada",
    },
}
YES = {"en": "yes", "es": "sí"}
SHEET, META = "Plan", "_plan"
FIRST_ROW = 2
COL = {
    "note": 2,
    "what": 3,
    "who": 4,
    "due_on": 5,
    "resources": 6,
    "status": 7,
    "progress": 8,
    "area": 10,
    "id": 11,
}


def plan_workbook(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    assessment_id: uuid.UUID,
    lang: str,
    today: date,
) -> tuple[str, bytes]:
    a, plan = get_plan(session, principal, assessment_id)
    view = plan_read(session, catalog, a, plan, today)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = SHEET
    ws.append(list(HEADERS[lang]))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for p in view.priorities:
        title = (p.title or {}).get(lang, p.area)
        rows: list[ActionRead | None] = list(p.actions) or [None]
        for x in rows:
            if x is None:
                ws.append([title, p.note, None, None, None, None, None, None, None, p.area])
                continue
            ws.append(
                [
                    title,
                    p.note,
                    x.what,
                    x.who,
                    x.due_on,
                    x.resources,
                    STATUS[lang][x.status],
                    x.progress,
                    YES[lang] if x.overdue else "",
                    p.area,
                    str(x.id),
                ]
            )
            if x.due_on is not None:
                ws.cell(ws.max_row, 5).number_format = "yyyy-mm-dd"
    end = ws.max_row
    if view.performance:
        ws.append([])
        label = "Performance metric" if lang == "en" else "Métrica de desempeño"
        ws.append([label, view.performance.metric, view.performance.value])
    meta = wb.create_sheet(META)
    for row in (
        ("sheet", SHEET),
        ("etag", plan_etag(plan)),
        ("assessment", str(a.id)),
        ("lang", lang),
        ("last_row", end),
    ):
        meta.append(list(row))
    meta.sheet_state = "hidden"
    widths = (28, 28, 40, 18, 12, 28, 14, 30, 10, 18, 38)
    for col, width in zip("ABCDEFGHIJK", widths, strict=True):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    name = safe_filename("plan", a.instrument_id, a.round, ext="xlsx")
    return name, out.getvalue()
