"""`oca import`: the import service over files and folders, reported in English or Spanish."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from sqlalchemy.orm import Session

from app.catalog import Catalog
from app.cli.common import (
    JsonOption,
    Lang,
    err,
    fail,
    friendly_errors,
    instrument_catalog,
    out,
    print_rows,
    read_settings,
    session_scope,
)
from app.config import Settings

if TYPE_CHECKING:  # the import service and openpyxl load when a command runs, not for --help
    from app.services import imports as svc

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


def _workbook_paths(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*")
                if p.suffix.lower() in (".xlsx", ".zip") and not p.name.startswith(("~$", "."))
            )
        elif path.exists():
            found.append(path)
        else:
            raise fail(f"no such file or folder: {path}")
    return found


def import_(
    paths: Annotated[
        list[Path], typer.Argument(metavar="PATH", help="Workbooks (.xlsx, .zip) or folders")
    ],
    workspace: Annotated[str, typer.Option(metavar="NAME", help="Workspace to import into")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every workbook and report, but write nothing")
    ] = False,
    create_organizations: Annotated[
        bool,
        typer.Option(
            "--create-organizations",
            help="Create the organizations that workbooks name but that do not exist yet",
        ),
    ] = False,
    lang: Annotated[
        Lang, typer.Option(help="Language of the report and its problems", case_sensitive=False)
    ] = Lang.en,
    as_json: JsonOption = False,
) -> None:
    """Import filled workbooks; each is all-or-nothing. Exit code 1 if any was rejected."""
    settings = read_settings()
    files = _workbook_paths(paths)
    if not files:
        raise fail("no .xlsx or .zip files found")
    with friendly_errors():
        catalog = instrument_catalog(settings)
        with session_scope(
            settings, create=not dry_run, migrate_first=not dry_run, catalog=catalog
        ) as session:
            results = run_import(
                session,
                catalog,
                settings,
                files,
                workspace=workspace,
                dry_run=dry_run,
                create_organizations=create_organizations,
                progress_console=err,
            )
    rejected = report_import(results, lang.value, dry_run=dry_run, as_json=as_json)
    if rejected:
        raise typer.Exit(1)


def report_import(results: list[Any], lang: str, *, dry_run: bool, as_json: bool) -> int:
    rows = import_rows(results, lang, full=as_json)
    if as_json:
        print_rows(rows, True)
    else:
        if dry_run:
            out.print(
                "dry run: nothing was written" if lang == "en" else "prueba: no se escribió nada"
            )
        print_rows(rows, False, fold=("problems", "problemas", "overall", "general"))
        out.print(import_summary(results, lang))
    return sum(r.status == "rejected" for r in results)


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
    from app.excel import Limits
    from app.services import imports as svc
    from app.services.keys import cli_principal
    from app.services.uploads import expand_uploads

    limits = Limits(max_bytes=settings.max_upload_bytes)
    from app.services.owned_instruments import workspace_catalog

    principal = cli_principal(session, workspace, create=not dry_run)
    catalog = workspace_catalog(session, catalog, principal.workspace_id)
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
    from app.services.imports import result_json

    status = _STATUS["es" if lang == "es" else "en"]
    columns = _COLUMNS["es" if lang == "es" else "en"]
    rows: list[dict[str, Any]] = []
    for r in results:
        if full:
            row = result_json(r)
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
