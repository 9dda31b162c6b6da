"""`oca export xlsform`: an instrument version as an XLSForm for KoboToolbox or ODK Central."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli import _catalog, _settings, command, export_app, fail, friendly_errors, out


@command(export_app, "xlsform")
def export_xlsform(
    instrument: Annotated[
        str, typer.Argument(metavar="INSTRUMENT", help="Instrument id, e.g. oca")
    ],
    version: Annotated[
        str | None, typer.Option(metavar="VERSION", help="Instrument version (default: the newest)")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--to", "-o", "--output", metavar="FILE",
                     help="File to write (default: ID-VERSION-xlsform.xlsx in this folder)"),
    ] = None,
) -> None:  # fmt: skip
    """Write an XLSForm of an instrument version, to collect in the field (Kobo, ODK)."""
    from app.services.xlsform import xlsform_workbook

    with friendly_errors():
        catalog = _catalog(_settings())
        f = catalog.latest(instrument) if version is None else catalog.get(instrument, version)
        if f is None:
            known = ", ".join(sorted({x.instrument.id for x in catalog}))
            raise fail(
                f"unknown instrument or version: {instrument} {version or ''}".strip()
                + f" (instruments: {known}; `oca instruments list` shows the versions)"
            )
        name, data = xlsform_workbook(catalog, f.instrument.id, f.instrument.version)
        target = output or Path(name)
        target.write_bytes(data)
    out.print(f"wrote {target}")
