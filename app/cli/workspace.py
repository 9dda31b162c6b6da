"""`oca workspace export|import|sharing`: move or keep one workspace as one archive file, and
opt it in to (or out of) sharing anonymized scores with peers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from app.cli.common import (
    command,
    err,
    fail,
    friendly_errors,
    instrument_catalog,
    new_group,
    out,
    read_settings,
    session_scope,
)
from app.services.archive import ArchiveError, export_workspace, import_workspace
from app.services.evidence_files import EvidenceFiles
from app.services.evidence_store import store_of

workspace_app = new_group(
    "Workspaces: export one to an archive, import it into another database, share its scores."
)


@contextmanager
def archive_errors() -> Iterator[None]:
    try:
        yield
    except ArchiveError as exc:
        raise fail(exc.detail) from None


@command(workspace_app, "export")
def workspace_export(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The workspace to export")],
    to: Annotated[
        Path, typer.Option("--to", metavar="FILE", help="The archive to write (must not exist)")
    ],
) -> None:
    """Write one archive (zip) of a workspace: its data, revisions, answers, evidence files,
    audit, people."""
    settings = read_settings()
    with (
        archive_errors(),
        friendly_errors(),
        session_scope(settings, create=False, migrate_first=False) as session,
    ):
        report = export_workspace(session, name, to, store_of(settings))
    rows = ", ".join(f"{n} {k}" for k, n in report.counts.items() if n)
    out.print(f"wrote {report.path} ({report.size:,} bytes): {rows}", soft_wrap=True)


@command(workspace_app, "import")
def workspace_import(
    archive: Annotated[Path, typer.Argument(metavar="FILE", help="An archive made by export")],
    as_name: Annotated[
        str | None,
        typer.Option("--as", metavar="NEWNAME", help="Import under this name instead"),
    ] = None,
    keep_keys_active: Annotated[
        bool,
        typer.Option(
            "--keep-keys-active",
            help="Keep the archive's API keys and raters' links working here (default: "
            "imported revoked)",
        ),
    ] = False,
) -> None:
    """Restore an archive into this database, all or nothing (ids kept, scores recomputed)."""
    if not archive.is_file():
        raise fail(f"no such file: {archive}")
    settings = read_settings()
    with archive_errors(), friendly_errors():
        catalog = instrument_catalog(settings)
        with session_scope(settings, create=True, migrate_first=True) as session:
            report = import_workspace(
                session,
                catalog,
                archive,
                files=EvidenceFiles.of(settings),
                name=as_name,
                keep_keys_active=keep_keys_active,
            )
    rows = ", ".join(f"{n} {k}" for k, n in report.counts.items() if n)
    out.print(f"imported workspace '{report.workspace}' ({report.workspace_id}): {rows}")
    out.print(
        f"{report.scores_recomputed} score(s) recomputed from the answers "
        f"({report.scores_time_kept} by the same engine version: computed_at kept)"
    )
    if report.keys_revoked:
        err.print(
            f"{report.keys_revoked} API key(s) imported revoked; create new ones with "
            f"`oca keys create --workspace {report.workspace}` (or import with --keep-keys-active)"
        )
    if report.links_revoked:
        err.print(
            f"{report.links_revoked} rater link(s) imported revoked; issue new ones to the raters "
            "(or import with --keep-keys-active)"
        )
    if report.people_already_here:
        err.print(
            "already had an account here (kept their password): "
            + ", ".join(report.people_already_here)
        )


@command(workspace_app, "sharing")
def workspace_sharing(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The workspace")],
    state: Annotated[
        str | None,
        typer.Argument(
            metavar="STATE", help="on: share anonymized scores; off: stop; omitted: show"
        ),
    ] = None,
) -> None:
    """Show or change whether the workspace shares anonymized scores with sharing peers."""
    from app.services import benchmarks
    from app.services.keys import cli_principal

    if state not in (None, "on", "off"):
        raise fail(f"say 'on' or 'off' (or nothing to show the setting), not '{state}'")
    settings = read_settings()
    with friendly_errors(), session_scope(settings, create=False, migrate_first=True) as session:
        principal = cli_principal(session, name, create=False)
        if state is None:
            shares = benchmarks.sharing(session, principal)
        else:
            shares = benchmarks.set_sharing(session, principal, state == "on").shares_scores
    word = "shares" if shares else "does not share"
    out.print(f"workspace '{name}' {word} its anonymized scores with peers")
