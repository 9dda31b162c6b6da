"""The ``oca`` command. Errors are one readable message and exit code 1 or 2, never a traceback."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.catalog import Catalog, CatalogError, load_catalog, load_file
from app.cli import help as plain_help
from app.config import Settings
from app.db import migrate
from app.db.errors import Busy
from app.db.session import make_engine, make_sessionmaker
from app.domain.errors import DomainError
from app.domain.instrument import Instrument
from app.services.instruments import InstrumentChanged


def _group(help_text: str) -> typer.Typer:
    return typer.Typer(
        help=help_text,
        no_args_is_help=True,
        cls=plain_help.Group,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        add_completion=False,
    )


app = _group("OCA Engine: organizational capacity assessments of civil society organizations.")
instruments_app = _group("Instrument files: list, validate, JSON schema.")
keys_app = _group("API keys: create, list, revoke.")
db_app = _group("Database migrations.")
app.add_typer(instruments_app, name="instruments")
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")


class Lang(StrEnum):
    en = "en"
    es = "es"


LangOption = Annotated[
    Lang, typer.Option(help="Language of the workbook or messages", case_sensitive=False)
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON (one object per row) instead of a table")
]

out = Console()
err = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn known errors into one readable message."""
    try:
        yield
    except CatalogError as exc:
        raise fail("invalid instrument file(s):\n  " + "\n  ".join(exc.problems)) from None
    except (DomainError, Busy, InstrumentChanged) as exc:
        raise fail(exc.detail) from None
    except OSError as exc:
        raise fail(f"{exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}") from None


def _settings() -> Settings:
    return Settings()  # read the environment now: one command, one reading


def command(group: typer.Typer, name: str | None = None) -> Callable[[F], F]:
    """Register a command with the plain help page."""
    decorator: Callable[[F], F] = group.command(name, cls=plain_help.Command)
    return decorator


def _no_database_here(url: str) -> str | None:
    """The SQLite file a URL names when that file does not exist yet (else None)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database)
    return None if path.exists() else str(path.resolve())


def database_url(settings: Settings, *, create: bool) -> str:
    """The database this command uses, said on stderr; a command that only reads never creates
    one (run outside the checkout, the default `./var/oca.db` would otherwise appear empty)."""
    url = settings.effective_database_url
    shown = make_url(url).render_as_string(hide_password=True)
    missing = _no_database_here(url)
    if missing and not create:
        raise fail(
            f"no database at {missing}. This command only reads, so it does not create one. "
            "Point OCA_DATABASE_URL or OCA_DATA_DIR at your database, or create a new one with "
            "`oca db upgrade`."
        )
    note = " (new: created now)" if missing else ""
    err.print(f"database: {shown}{note}", highlight=False, soft_wrap=True)
    return url


def _catalog(settings: Settings) -> Catalog:
    return load_catalog(settings.instruments_dir)


@contextmanager
def session_scope(
    settings: Settings,
    *,
    create: bool,
    migrate_first: bool = True,
    catalog: Catalog | None = None,
) -> Iterator[Session]:
    """A session on a migrated database; with a catalog, its versions are checked and recorded
    first (a changed published file stops the command, as it stops `oca serve`). Without
    ``create``, a database that does not exist or has no OCA tables is refused, not made."""
    from app.services.instruments import sync_catalog

    url = database_url(settings, create=create)
    engine = make_engine(url)
    try:
        if not create:
            with engine.connect() as connection:
                if not inspect(connection).has_table("alembic_version"):
                    raise fail(
                        "the database has no OCA tables. This command only reads; create the "
                        "tables with `oca db upgrade` or point OCA_DATABASE_URL at your database."
                    )
        if migrate_first:
            migrate.upgrade(url)
        else:
            with engine.connect() as connection:
                at, head = migrate.current_revision(connection), migrate.head_revision()
            if at != head:
                raise fail(
                    f"the database is at migration {at or 'none'}, this version needs {head}: "
                    "run `oca db upgrade` first"
                )
        with make_sessionmaker(engine)() as session:
            if catalog is not None:
                sync_catalog(session, catalog)
            yield session
    finally:
        engine.dispose()


# --- serve / db ----------------------------------------------------------------------------------


@command(app)
def serve(
    host: Annotated[
        str, typer.Option(metavar="ADDRESS", help="Address to listen on")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(metavar="N", help="Worker processes")] = 1,
    migrate_first: Annotated[
        bool,
        typer.Option(
            "--migrate/--no-migrate", help="Bring the database schema up to date before serving"
        ),
    ] = True,
) -> None:
    """Migrate the database, check instrument files, then serve the API with uvicorn."""
    import uvicorn

    from app.services.stale_scores import refresh_stale_scores

    settings = _settings()
    problems = settings.problems()
    if problems:
        raise fail("cannot start:\n  " + "\n  ".join(problems))
    with friendly_errors():
        catalog = _catalog(settings)
        with session_scope(
            settings, create=True, migrate_first=migrate_first, catalog=catalog
        ) as session:
            # once, before the workers start (each would otherwise find the same work)
            recomputed = refresh_stale_scores(session, catalog)
    if recomputed:
        err.print(f"recomputed {recomputed} stored score(s) made by an older engine")
    out.print(f"OCA Engine on http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    if workers > 1:
        from app.services.metrics import share_metrics_between_workers

        share_metrics_between_workers(settings.data_dir / "metrics")
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


Revision = Annotated[
    str, typer.Argument(metavar="REVISION", help="A migration id, 'head' (newest) or 'base'")
]


@command(db_app, "upgrade")
def db_upgrade(revision: Revision = "head") -> None:
    """Create the database if needed and apply migrations up to REVISION (default: head)."""
    settings = _settings()
    problems = settings.problems()
    if problems:
        raise fail("cannot migrate:\n  " + "\n  ".join(problems))
    with friendly_errors():
        migrate.upgrade(database_url(settings, create=True), revision)
    out.print(f"database at {revision}")


@command(db_app, "downgrade")
def db_downgrade(revision: Revision) -> None:
    """Revert migrations down to REVISION ('base' empties the database)."""
    settings = _settings()
    with friendly_errors():
        migrate.downgrade(database_url(settings, create=False), revision)
    out.print(f"database at {revision}")


# --- instruments ---------------------------------------------------------------------------------


def _print_rows(rows: list[dict[str, Any]], as_json: bool, *, fold: tuple[str, ...] = ()) -> None:
    """A table for people or JSON for programs. Ids, keys and versions are never cut: their
    columns are as wide as their longest value, and only the columns in ``fold`` wrap."""
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False, default=str) + "\n")
        return
    if not rows:
        out.print("(none)")
        return
    table = Table()
    for name in rows[0]:
        widest = max(len(name), *(len(str(r[name])) for r in rows))
        if name in fold:
            table.add_column(name, overflow="fold", min_width=min(widest, 24))
        else:
            table.add_column(name, no_wrap=True, min_width=widest)
    for r in rows:
        table.add_row(*(str(v) if v is not None else "-" for v in r.values()))
    needed = sum(c.min_width or 0 for c in table.columns) + 3 * len(table.columns) + 1
    if needed <= out.width:
        out.print(table)
    else:  # a narrow terminal or a pipe: wider lines rather than cut ids
        Console(width=needed, file=out.file, force_terminal=out.is_terminal).print(table)


@command(instruments_app, "list")
def instruments_list(as_json: JsonOption = False) -> None:
    """List every instrument version in the instruments folder."""
    settings = _settings()
    with friendly_errors():
        catalog = _catalog(settings)
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
    _print_rows(rows, as_json, fold=("title",))


@command(instruments_app, "validate")
def instruments_validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(metavar="FILE", help="Instrument files to check (default: every file)"),
    ] = None,
) -> None:
    """Validate instrument files; print one line per problem, naming file and place."""
    settings = _settings()
    with friendly_errors():
        if not paths:
            catalog = _catalog(settings)
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
        target = _settings().instruments_dir / "schema.json"
        target.write_text(text, encoding="utf-8")
        out.print(f"wrote {target}")
    else:
        sys.stdout.write(text)


@command(app)
def openapi(
    write: Annotated[
        bool,
        typer.Option(
            "--write", help="Write openapi.json at the repository root instead of printing"
        ),
    ] = False,
) -> None:
    """Print (or write) the OpenAPI document: the API contract partners code against."""
    from app.config import REPO_ROOT

    text = openapi_text()
    if write:
        (REPO_ROOT / "openapi.json").write_text(text, encoding="utf-8")
        out.print(f"wrote {REPO_ROOT / 'openapi.json'}")
    else:
        sys.stdout.write(text)


def openapi_text() -> str:
    from app.main import create_app

    document = create_app(Settings(docs_enabled=True)).openapi()
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


# --- keys ----------------------------------------------------------------------------------------


class Role(StrEnum):
    admin = "admin"
    editor = "editor"
    viewer = "viewer"


@command(keys_app, "create")
def keys_create(
    workspace: Annotated[
        str, typer.Option(metavar="NAME", help="Workspace of the key (created if new)")
    ],
    role: Annotated[
        Role, typer.Option(help="admin: keys and members; editor: writes; viewer: reads")
    ] = Role.editor,
    name: Annotated[
        str | None, typer.Option(metavar="LABEL", help="A label to recognize the key by")
    ] = None,
) -> None:
    """Create an API key; the key is printed once and only its hash is stored."""
    from app.services.keys import create_key

    settings = _settings()
    with friendly_errors(), session_scope(settings, create=True) as session:
        created = create_key(session, workspace=workspace, role=role.value, name=name)
    err.print(
        f"key '{created.name}' ({created.role.value}) for workspace '{created.workspace}' — "
        "shown once, store it now:"
    )
    print(created.secret)


@command(keys_app, "list")
def keys_list(
    workspace: Annotated[
        str | None, typer.Option(metavar="NAME", help="Only this workspace's keys")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List keys (never their secrets)."""
    from app.services.keys import list_keys

    settings = _settings()
    with friendly_errors(), session_scope(settings, create=False) as session:
        keys = list_keys(session, workspace)

    def when(moment: Any) -> str | None:
        if moment is None:
            return None
        return str(moment.isoformat()) if as_json else f"{moment:%Y-%m-%d %H:%M}"

    rows = [
        {
            "workspace": k.workspace,
            "name": k.name,
            "prefix": k.prefix,
            "role": k.role,
            "created": when(k.created_at),
            "last used": when(k.last_used_at),
            "revoked": when(k.revoked_at),
        }
        for k in keys
    ]
    _print_rows(rows, as_json, fold=("name",))


@command(keys_app, "revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(metavar="KEY", help="The key's prefix or id")],
) -> None:
    """Revoke a key; it stops working at once."""
    from app.services.keys import revoke_key

    settings = _settings()
    with friendly_errors(), session_scope(settings, create=False) as session:
        info = revoke_key(session, key)
    out.print(f"revoked key '{info.name}' ({info.prefix}) of workspace '{info.workspace}'")


# --- data ----------------------------------------------------------------------------------------


DEMO_PERSON = "demo@example.org"


@command(app)
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

    settings = _settings()
    with friendly_errors():
        catalog = _catalog(settings)
        with session_scope(settings, create=True, catalog=catalog) as session:
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
        err.print(f"{base_url.rstrip('/')}/links/{link.token}", highlight=False, soft_wrap=True)


@command(app)
def rescore(
    write: Annotated[
        bool, typer.Option("--write", help="Store the recomputed scores (default: only report)")
    ] = False,
) -> None:
    """Recompute every stored score from its answers and report any difference."""
    from app.services.assessment_scoring import rescore_all

    settings = _settings()
    with friendly_errors():
        catalog = _catalog(settings)
        with session_scope(settings, create=False, catalog=catalog) as session:
            report = rescore_all(session, catalog, write=write)
    out.print(f"checked {report.checked} stored score(s); {len(report.changed)} differ")
    if report.changed:
        table = Table("assessment", "stored overall", "recomputed overall")
        for assessment_id, old, new in report.changed:
            table.add_row(assessment_id, str(old), str(new))
        out.print(table)
        if not write:
            raise typer.Exit(3)


# --- Excel ---------------------------------------------------------------------------------------

export_app = _group("Excel files: templates and exports.")
app.add_typer(export_app, name="export")
Output = Annotated[
    Path | None,
    typer.Option("-o", "--output", metavar="FILE", help="File to write (default: a name made "
                 "from the data, in this folder)"),
]  # fmt: skip


@command(export_app, "template")
def export_template(
    instrument: Annotated[
        str, typer.Argument(metavar="INSTRUMENT", help="Instrument id, e.g. oca")
    ],
    version: Annotated[
        str | None, typer.Option(metavar="VERSION", help="Instrument version (default: the newest)")
    ] = None,
    lang: LangOption = Lang.en,
    output: Output = None,
) -> None:
    """Write a locked Excel template of an instrument version, to fill offline."""
    from app.excel import build_template

    settings = _settings()
    with friendly_errors():
        catalog = _catalog(settings)
        f = catalog.latest(instrument) if version is None else catalog.get(instrument, version)
        if f is None:
            known = ", ".join(sorted({x.instrument.id for x in catalog}))
            raise fail(
                f"unknown instrument or version: {instrument} {version or ''}".strip()
                + f" (instruments: {known}; `oca instruments list` shows the versions)"
            )
        target = output or Path(f"{f.instrument.id}-{f.instrument.version}-{lang.value}.xlsx")
        target.write_bytes(build_template(f.instrument, f.content_hash, lang.value))
    out.print(f"wrote {target}")


Workspace = Annotated[str, typer.Option(metavar="NAME", help="Workspace the data belongs to")]
InstrumentOption = Annotated[str, typer.Option(metavar="ID", help="Instrument id, e.g. oca")]


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise fail(f"{what} must be an id like 0f8c…-…; got {value!r}") from None


def _write_export(make: Callable[..., tuple[str, bytes]], output: Path | None, *args: Any) -> None:
    settings = _settings()
    with friendly_errors():
        catalog = _catalog(settings)
        with session_scope(settings, create=False, catalog=catalog) as session:
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


@command(app, "import")
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
    from app.cli.imports import run_import

    settings = _settings()
    files = _workbook_paths(paths)
    if not files:
        raise fail("no .xlsx or .zip files found")
    with friendly_errors():
        catalog = _catalog(settings)
        with session_scope(settings, create=not dry_run, catalog=catalog) as session:
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
    from app.cli.imports import import_rows, import_summary

    rows = import_rows(results, lang, full=as_json)
    if as_json:
        _print_rows(rows, True)
    else:
        if dry_run:
            out.print(
                "dry run: nothing was written" if lang == "en" else "prueba: no se escribió nada"
            )
        _print_rows(rows, False, fold=("problems", "problemas", "overall", "general"))
        out.print(import_summary(results, lang))
    return sum(r.status == "rejected" for r in results)


def main() -> None:
    app()


# Command groups in their own modules register themselves on `app` (after everything above).
from app.cli import users  # noqa: E402, F401, I001
from app.cli import workspace as workspace_commands  # noqa: E402, F401
from app.cli import xlsform as xlsform_commands  # noqa: E402, F401


if __name__ == "__main__":
    main()
