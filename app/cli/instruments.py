"""`oca instruments`: list, validate, JSON schema, check an authoring workbook."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from app.catalog import CatalogError, load_file
from app.cli.common import (
    JsonOption,
    command,
    fail,
    friendly_errors,
    instrument_catalog,
    new_group,
    out,
    print_rows,
    read_settings,
    session_scope,
)
from app.domain.instrument import Instrument

instruments_app = new_group(
    "Instruments: list, validate, JSON schema; a workspace's own: derive, publish."
)


WorkspaceOption = Annotated[
    str | None,
    typer.Option("--workspace", "-w", help="Also the versions this workspace owns (drafts too)"),
]


@command(instruments_app, "list")
def instruments_list(as_json: JsonOption = False, workspace: WorkspaceOption = None) -> None:
    """List every instrument version in the instruments folder (and a workspace's own)."""
    settings = read_settings()
    status: dict[tuple[str, str], str] = {}
    with friendly_errors():
        catalog = instrument_catalog(settings)
        if workspace is not None:
            from app.services import owned_instruments as owned
            from app.services.keys import cli_principal

            with session_scope(settings, create=False, migrate_first=False) as session:
                principal = cli_principal(session, workspace, create=False)
                rows = owned.owned_rows(session, principal.workspace_id)
                status = {key: r.status for key, r in rows.items()}
                catalog = owned.workspace_catalog(
                    session, catalog, principal.workspace_id, drafts=True
                )
    rows_out = [
        {
            "id": f.instrument.id,
            "version": f.instrument.version,
            "owner": "workspace" if f.owned else "library",
            "status": status.get((f.instrument.id, f.instrument.version), "published"),
            "title": f.instrument.title.en,
            "method": f.instrument.scoring.method.value,
            "dimensions": len(f.instrument.dimensions),
            "items": len(f.instrument.item_keys),
            "hash": f.content_hash if as_json else f.content_hash[:12],
        }
        for f in catalog
    ]
    print_rows(rows_out, as_json, fold=("title",))


def _read_instrument(path: Path) -> Any:
    """An instrument version from a YAML/JSON file or an authoring workbook, or every problem."""
    from app.excel.problems import WorkbookRejected
    from app.services import owned_instruments as owned
    from app.services.authoring import authoring_limits

    data = path.read_bytes()
    if path.suffix.lower() != ".xlsx":
        return owned.read_text(data)
    try:
        return owned.read_workbook(data, authoring_limits())
    except WorkbookRejected as exc:
        lines = [f"{p.sheet or '-'}!{p.cell or '-'}: {p.en}" for p in exc.problems]
        raise fail("\n  ".join([f"{path}: {len(lines)} problem(s):", *lines])) from None


@command(instruments_app, "publish")
def instruments_publish(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="YAML/JSON or authoring .xlsx")],
    workspace: Annotated[str, typer.Option("--workspace", "-w", help="The owning workspace")],
    derived_from: Annotated[
        str | None,
        typer.Option("--derived-from", help="'<id> <version>' it adapts (crosswalk completed)"),
    ] = None,
) -> None:
    """Publish an instrument version of a workspace's own (a draft of the same label is
    replaced first). Every problem is listed with its place; on error nothing is stored."""
    from app.services import owned_instruments as owned
    from app.services.keys import cli_principal

    settings = read_settings()
    with friendly_errors():
        instrument = _read_instrument(path)
        library = instrument_catalog(settings)
        with session_scope(settings, create=False, migrate_first=False) as session:
            principal = cli_principal(session, workspace, create=False)
            key = (instrument.id, instrument.version)
            draft = owned.owned_rows(session, principal.workspace_id).get(key)
            if draft is not None and draft.status == owned.DRAFT:
                row = owned.replace_draft(
                    session, principal, library, *key, instrument, publish_now=True
                )
            else:
                row = owned.create_draft(
                    session,
                    principal,
                    library,
                    instrument,
                    derived_from=derived_from,
                    publish_now=True,
                )
    out.print(
        f"[green]published[/] {row.instrument_id} {row.version} in {workspace} "
        f"({row.content_hash[:12]})",
        highlight=False,
    )


@command(instruments_app, "derive")
def instruments_derive(
    instrument_id: Annotated[str, typer.Argument(metavar="ID", help="The instrument, e.g. oca")],
    version: Annotated[str, typer.Argument(metavar="VERSION", help="The version to adapt")],
    new_version: Annotated[str, typer.Argument(metavar="NEW", help="e.g. 2015.2-local")],
    workspace: Annotated[str, typer.Option("--workspace", "-w", help="The owning workspace")],
    output: Annotated[
        Path | None, typer.Option("--out", help="Write the draft's YAML here, to edit")
    ] = None,
) -> None:
    """Create a draft adapting a library version (or one of the workspace's own); edit its YAML
    and publish it with `oca instruments publish FILE --workspace W`."""
    from app.services import owned_instruments as owned
    from app.services.keys import cli_principal

    settings = read_settings()
    with friendly_errors():
        library = instrument_catalog(settings)
        with session_scope(settings, create=False, migrate_first=False) as session:
            principal = cli_principal(session, workspace, create=False)
            row = owned.derive(session, principal, library, instrument_id, version, new_version)
            text = row.content or ""
        if output is not None:
            output.write_text(text, encoding="utf-8")
    out.print(
        f"[green]draft[/] {row.instrument_id} {row.version} derived from {instrument_id} "
        f"{version}" + (f", written to {output}" if output else ""),
        highlight=False,
    )


@command(instruments_app, "validate")
def instruments_validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(metavar="FILE", help="Instrument files to check (default: every file)"),
    ] = None,
) -> None:
    """Validate instrument files; print one line per problem, naming file and place."""
    settings = read_settings()
    with friendly_errors():
        if not paths:
            catalog = instrument_catalog(settings)
            out.print(f"[green]ok[/] {len(catalog.files)} instrument version(s) valid")
            return
        problems: list[str] = []
        for path in paths:
            try:
                f = load_file(path)
                out.print(f"[green]ok[/] {path}: {f.instrument.id} {f.instrument.version}")
            except CatalogError as exc:
                problems += [f"{exc.path}: {p}" for p in exc.problems]
        if problems:
            raise fail("\n  ".join(["invalid instrument file(s):", *problems]))


@command(instruments_app, "check-authoring")
def instruments_check_authoring(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="An authoring workbook (.xlsx)")],
    as_json: JsonOption = False,
) -> None:
    """Check an edited authoring workbook; print what it holds, or every problem with its place."""
    from app.excel.problems import WorkbookRejected
    from app.services.authoring import check_authoring

    with friendly_errors():
        data = path.read_bytes()
    try:
        summary = check_authoring(data)
    except WorkbookRejected as exc:
        lines = [
            f"{p.sheet or '-'}!{p.cell or '-'}: {p.en}" if p.sheet else p.en for p in exc.problems
        ]
        raise fail("\n  ".join([f"{path}: {len(lines)} problem(s):", *lines])) from None
    row = {
        "id": summary.id,
        "version": summary.version,
        "title": summary.title_en,
        "method": summary.method,
        "dimensions": summary.dimensions,
        "areas": summary.areas,
        "items": summary.items,
    }
    if as_json:
        out.print_json(json.dumps(row))
        return
    out.print(
        f"[green]ok[/] {path}: {summary.id} {summary.version}, {summary.dimensions} dimension(s), "
        f"{summary.areas} area(s), {summary.items} item(s)",
        highlight=False,
        soft_wrap=True,
    )


def instrument_schema() -> dict[str, Any]:
    schema = Instrument.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://oca-engine.org/schemas/instrument.json"
    return schema


def schema_text() -> str:
    return json.dumps(instrument_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


@command(instruments_app, "schema")
def instruments_schema(
    write: Annotated[
        bool, typer.Option("--write", help="Write instruments/schema.json instead of printing")
    ] = False,
) -> None:
    """Print (or write) the JSON Schema of instrument files, generated from the model."""
    text = schema_text()
    if write:
        target = read_settings().instruments_dir / "schema.json"
        target.write_text(text, encoding="utf-8")
        out.print(f"wrote {target}")
    else:
        sys.stdout.write(text)
