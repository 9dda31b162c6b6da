"""`oca import`: the import service over files and folders, reported in English or Spanish."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from sqlalchemy.orm import Session

from app.catalog import Catalog
from app.config import Settings
from app.excel import Limits
from app.services import imports as svc
from app.services.keys import cli_principal
from app.services.uploads import expand_uploads

SHOWN_PROBLEMS = 5

_STATUS = {
    "en": {s: s for s in ("created", "updated", "revised", "unchanged", "rejected", "checked")},
    "es": {
        "created": "creada",
        "updated": "actualizada",
        "revised": "revisada",
        "unchanged": "sin cambios",
        "rejected": "rechazada",
        "checked": "revisado sin escribir",
    },
}
_COLUMNS = {
    "en": ("file", "status", "round", "overall", "problems"),
    "es": ("archivo", "estado", "ronda", "general", "problemas"),
}


def run_import(
    session: Session,
    catalog: Catalog,
    settings: Settings,
    files: list[Path],
    *,
    workspace: str,
    dry_run: bool,
    create_organizations: bool,
    progress_console: Console,
) -> list[svc.WorkbookResult]:
    """One result per workbook (a zip gives one per member)."""
    limits = Limits(max_bytes=settings.max_upload_bytes)
    principal = cli_principal(session, workspace, create=not dry_run)
    results: list[svc.WorkbookResult] = []
    with Progress(console=progress_console, transient=True) as progress:
        task = progress.add_task("importing", total=len(files))
        for path in files:
            try:
                uploads = expand_uploads([svc.Upload(str(path), path.read_bytes())], limits)
            except svc.UploadRejected as exc:
                results.append(
                    svc.WorkbookResult(str(path), "rejected", dry_run, problems=[exc.problem])
                )
            else:
                results += svc.import_workbooks(
                    session,
                    principal,
                    catalog,
                    uploads,
                    dry_run=dry_run,
                    create_organizations=create_organizations,
                    limits=limits,
                )
            progress.advance(task)
    return results


def _problem_line(p: Any, lang: str) -> str:
    where = f"{p.sheet or ''}{'!' + p.cell if p.cell else ''}"
    return f"{where} {p.es if lang == 'es' else p.en}".strip()


def import_rows(
    results: list[svc.WorkbookResult], lang: str, *, full: bool
) -> list[dict[str, Any]]:
    """Rows of the report: for people (a few problems per workbook) or, ``full``, every field."""
    status = _STATUS["es" if lang == "es" else "en"]
    columns = _COLUMNS["es" if lang == "es" else "en"]
    rows: list[dict[str, Any]] = []
    for r in results:
        if full:
            row = svc.result_json(r)
            row["errors"] = [
                {
                    "sheet": p.sheet,
                    "cell": p.cell,
                    "item": p.item,
                    "code": p.code.value,
                    "detail": p.es if lang == "es" else p.en,
                }
                for p in r.problems
            ]
            rows.append(row)
            continue
        lines = [_problem_line(p, lang) for p in r.problems[:SHOWN_PROBLEMS]]
        more = len(r.problems) - SHOWN_PROBLEMS
        if more > 0:
            lines.append(f"(+{more} more)" if lang == "en" else f"(+{more} más)")
        why = (r.reason or {}).get("es" if lang == "es" else "en")
        label = "checked" if r.dry_run and r.status != "rejected" else r.status
        rows.append(
            dict(
                zip(
                    columns,
                    (
                        r.file,
                        status.get(label, label),
                        r.round,
                        f"{r.overall:.2f}" if r.overall is not None else why,
                        "\n".join(lines) or None,
                    ),
                    strict=True,
                )
            )
        )
    return rows


def import_summary(results: list[svc.WorkbookResult], lang: str) -> str:
    status = _STATUS["es" if lang == "es" else "en"]
    order = ("created", "updated", "revised", "unchanged", "rejected")
    counts = {s: sum(r.status == s for r in results) for s in order}
    text = ", ".join(f"{n} {status[s]}" for s, n in counts.items() if n)
    return text or ("nothing imported" if lang == "en" else "no se importó nada")
