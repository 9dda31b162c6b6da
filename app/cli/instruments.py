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
)
from app.domain.instrument import Instrument

instruments_app = new_group("Instrument files: list, validate, JSON schema.")


@command(instruments_app, "list")
def instruments_list(as_json: JsonOption = False) -> None:
    """List every instrument version in the instruments folder."""
    settings = read_settings()
    with friendly_errors():
        catalog = instrument_catalog(settings)
    rows = [
        {
            "id": f.instrument.id,
            "version": f.instrument.version,
            "title": f.instrument.title.en,
            "method": f.instrument.scoring.method.value,
            "dimensions": len(f.instrument.dimensions),
            "items": len(f.instrument.item_keys),
            "hash": f.content_hash if as_json else f.content_hash[:12],
        }
        for f in catalog
    ]
    print_rows(rows, as_json, fold=("title",))


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
