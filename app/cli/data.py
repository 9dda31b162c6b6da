"""`oca demo` and `oca rescore`: demonstration data, and stored scores checked against their
answers."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from app.cli.common import (
    err,
    friendly_errors,
    instrument_catalog,
    link_url,
    out,
    read_settings,
    session_scope,
)

DEMO_PERSON = "demo@example.org"


def demo(
    base_url: Annotated[
        str,
        typer.Option(
            envvar="OCA_PUBLIC_URL", help="Where the web pages are reached (for the link)"
        ),
    ] = "http://127.0.0.1:8000",
) -> None:
    """Create (idempotently) the 'demo' workspace with two cohorts; print an admin key and a link
    for the demo admin to choose a password for the web pages."""
    from app.services.demo import load_demo
    from app.services.keys import cli_principal
    from app.services.people import invite

    settings = read_settings()
    with friendly_errors():
        catalog = instrument_catalog(settings)
        with session_scope(settings, create=True, migrate_first=True, catalog=catalog) as session:
            result = load_demo(session, catalog)
            by = cli_principal(session, "demo", create=False)
            link = invite(session, by, email=DEMO_PERSON, name="Demo admin", role="admin")
    err.print(
        f"demo workspace ready: {result.organizations} organizations in 2 cohorts, "
        f"{result.assessments_created} assessment(s) created this run"
    )
    err.print("admin key for workspace 'demo' (shown once; use as 'Authorization: Bearer <key>'):")
    print(result.key.secret)
    if link.token is None:
        err.print(f"web pages: sign in at {base_url}/sign-in as {DEMO_PERSON}")
    else:
        err.print(f"web pages: open this link to choose a password for {DEMO_PERSON} (one use):")
        err.print(link_url(base_url, link.token), highlight=False, soft_wrap=True)


def rescore(
    write: Annotated[
        bool, typer.Option("--write", help="Store the recomputed scores (default: only report)")
    ] = False,
) -> None:
    """Recompute every stored score from its answers and report any difference."""
    from app.services.assessment_scoring import rescore_all
    from app.services.owned_instruments import every_published_catalog
    from app.services.round_pairs import refresh_pairs

    settings = read_settings()
    with friendly_errors():
        catalog = instrument_catalog(settings)
        with session_scope(settings, create=False, migrate_first=write, catalog=catalog) as session:
            every = every_published_catalog(session, catalog)  # workspaces' own too
            report = rescore_all(session, every, write=write)
            if write and report.changed:
                refresh_pairs(session, catalog)  # the pairs of the rounds scored again
    out.print(f"checked {report.checked} stored score(s); {len(report.changed)} differ")
    if report.changed:
        table = Table("assessment", "stored overall", "recomputed overall")
        for assessment_id, old, new in report.changed:
            table.add_row(assessment_id, str(old), str(new))
        out.print(table)
        if not write:
            raise typer.Exit(3)
