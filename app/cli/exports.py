"""`oca export`: Excel files: templates and XLSForms of an instrument version, and exports of an
assessment, a series or a cohort."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from app.catalog import Catalog, InstrumentFile
from app.cli.common import (
    Lang,
    LangOption,
    command,
    fail,
    friendly_errors,
    instrument_catalog,
    new_group,
    out,
    read_settings,
    session_scope,
)

export_app = new_group("Excel files: templates and exports.")

Output = Annotated[
    Path | None,
    typer.Option("-o", "--output", metavar="FILE", help="File to write (default: a name made "
                 "from the data, in this folder)"),
]  # fmt: skip
InstrumentArgument = Annotated[
    str, typer.Argument(metavar="INSTRUMENT", help="Instrument id, e.g. oca")
]
VersionOption = Annotated[
    str | None, typer.Option(metavar="VERSION", help="Instrument version (default: the newest)")
]
Workspace = Annotated[str, typer.Option(metavar="NAME", help="Workspace the data belongs to")]
InstrumentOption = Annotated[str, typer.Option(metavar="ID", help="Instrument id, e.g. oca")]


def _instrument_file(catalog: Catalog, instrument: str, version: str | None) -> InstrumentFile:
    """The version asked for (default: the newest), or a message naming the known instruments."""
    f = catalog.latest(instrument) if version is None else catalog.get(instrument, version)
    if f is None:
        known = ", ".join(sorted({x.instrument.id for x in catalog}))
        raise fail(
            f"unknown instrument or version: {instrument} {version or ''}".strip()
            + f" (instruments: {known}; `oca instruments list` shows the versions)"
        )
    return f


@command(export_app, "template")
def export_template(
    instrument: InstrumentArgument,
    version: VersionOption = None,
    lang: LangOption = Lang.en,
    output: Output = None,
) -> None:
    """Write a locked Excel template of an instrument version, to fill offline."""
    from app.excel import build_template

    settings = read_settings()
    with friendly_errors():
        f = _instrument_file(instrument_catalog(settings), instrument, version)
        target = output or Path(f"{f.instrument.id}-{f.instrument.version}-{lang.value}.xlsx")
        target.write_bytes(build_template(f.instrument, f.content_hash, lang.value))
    out.print(f"wrote {target}")


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise fail(f"{what} must be an id like 0f8c…-…; got {value!r}") from None


def _write_export(make: Callable[..., tuple[str, bytes]], output: Path | None, *args: Any) -> None:
    settings = read_settings()
    with friendly_errors():
        catalog = instrument_catalog(settings)
        with session_scope(settings, create=False, migrate_first=False, catalog=catalog) as session:
            from app.services.keys import cli_principal

            principal = cli_principal(session, args[0], create=False)
            name, data = make(session, principal, catalog, *args[1:])
        target = output or Path(name)
        target.write_bytes(data)
    out.print(f"wrote {target}")


@command(export_app, "assessment")
def export_assessment(
    assessment_id: Annotated[str, typer.Argument(metavar="ASSESSMENT_ID", help="The assessment")],
    workspace: Workspace,
    lang: LangOption = Lang.en,
    output: Output = None,
) -> None:
    """An assessment: cover, answers with labels, scores, risk, native charts."""
    from app.services.exports import assessment_workbook

    aid = _uuid(assessment_id, "ASSESSMENT_ID")
    _write_export(assessment_workbook, output, workspace, aid, lang.value)


@command(export_app, "series")
def export_series(
    organization_id: Annotated[
        str, typer.Argument(metavar="ORGANIZATION_ID", help="The organization")
    ],
    workspace: Workspace,
    instrument: InstrumentOption,
    lang: LangOption = Lang.en,
    output: Output = None,
) -> None:
    """An organization's series: a table over rounds, a line chart, a radar."""
    from app.services.exports import series_workbook

    oid = _uuid(organization_id, "ORGANIZATION_ID")
    _write_export(series_workbook, output, workspace, oid, instrument, lang.value)


@command(export_app, "cohort")
def export_cohort(
    cohort_id: Annotated[str, typer.Argument(metavar="COHORT_ID", help="The cohort")],
    workspace: Workspace,
    instrument: InstrumentOption,
    baseline: Annotated[
        str, typer.Option(metavar="ROUND", help="Round label (or assessment id) to compare from")
    ] = "baseline",
    endline: Annotated[
        str, typer.Option(metavar="ROUND", help="Round label (or assessment id) to compare to")
    ] = "endline",
    raw: Annotated[
        bool, typer.Option("--raw", help="Raw data instead: one row per assessment")
    ] = False,
    csv: Annotated[bool, typer.Option("--csv", help="With --raw: CSV instead of xlsx")] = False,
    lang: LangOption = Lang.en,
    output: Output = None,
) -> None:
    """A cohort comparison (or, with --raw, the cohort's raw data as xlsx or CSV)."""
    from app.services import exports

    cid = _uuid(cohort_id, "COHORT_ID")
    if raw and csv:

        def make_csv(*args: Any) -> tuple[str, bytes]:
            name, chunks = exports.cohort_raw_csv(*args)
            return name, "".join(chunks).encode("utf-8")

        _write_export(make_csv, output, workspace, cid, instrument)
    elif raw:
        _write_export(exports.cohort_raw, output, workspace, cid, instrument, lang.value)
    else:
        _write_export(
            exports.cohort_workbook,
            output,
            workspace,
            cid,
            instrument,
            baseline,
            endline,
            None,
            lang.value,
        )


@command(export_app, "xlsform")
def export_xlsform(
    instrument: InstrumentArgument,
    version: VersionOption = None,
    output: Annotated[
        Path | None,
        typer.Option("--to", "-o", "--output", metavar="FILE",
                     help="File to write (default: ID-VERSION-xlsform.xlsx in this folder)"),
    ] = None,
) -> None:  # fmt: skip
    """Write an XLSForm of an instrument version, to collect in the field (Kobo, ODK)."""
    from app.services.xlsform import xlsform_workbook

    with friendly_errors():
        catalog = instrument_catalog(read_settings())
        f = _instrument_file(catalog, instrument, version)
        name, data = xlsform_workbook(catalog, f.instrument.id, f.instrument.version)
        target = output or Path(name)
        target.write_bytes(data)
    out.print(f"wrote {target}")


@command(export_app, "authoring")
def export_authoring(
    instrument: InstrumentArgument,
    version: VersionOption = None,
    output: Annotated[
        Path | None,
        typer.Option("--to", "-o", "--output", metavar="FILE",
                     help="File to write (default: ID-VERSION-authoring.xlsx in this folder)"),
    ] = None,
) -> None:  # fmt: skip
    """Write the authoring workbook of an instrument version, to edit it in Excel."""
    from app.services.authoring import authoring_workbook

    with friendly_errors():
        catalog = instrument_catalog(read_settings())
        f = _instrument_file(catalog, instrument, version)
        name, data = authoring_workbook(catalog, f.instrument.id, f.instrument.version)
        target = output or Path(name)
        target.write_bytes(data)
    out.print(f"wrote {target}")
