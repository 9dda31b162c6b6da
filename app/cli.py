"""The ``oca`` command. Errors are one readable message and exit code 1 or 2, never a traceback."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from app.catalog import Catalog, CatalogError, load_catalog, load_file
from app.config import Settings
from app.db import migrate
from app.db.errors import Busy
from app.db.session import make_engine, make_sessionmaker
from app.domain.errors import DomainError
from app.domain.instrument import Instrument
from app.services.instruments import InstrumentChanged

app = typer.Typer(
    help="OCA Engine: organizational capacity assessments of civil society organizations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
instruments_app = typer.Typer(
    help="Instrument files: list, validate, JSON schema.", no_args_is_help=True
)
keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(instruments_app, name="instruments")
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")

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


def _catalog(settings: Settings) -> Catalog:
    return load_catalog(settings.instruments_dir)


@contextmanager
def session_scope(
    settings: Settings, *, migrate_first: bool = True, catalog: Catalog | None = None
) -> Iterator[Session]:
    """A session on a migrated database; with a catalog, its versions are checked and recorded
    first (a changed published file stops the command, as it stops `oca serve`)."""
    from app.services.instruments import sync_catalog

    url = settings.effective_database_url
    if migrate_first:
        migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            if catalog is not None:
                sync_catalog(session, catalog)
            yield session
    finally:
        engine.dispose()


# --- serve / db ----------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
    migrate_first: Annotated[bool, typer.Option("--migrate/--no-migrate")] = True,
) -> None:
    """Migrate the database, check instrument files, then serve the API with uvicorn."""
    import uvicorn

    settings = _settings()
    problems = settings.problems()
    if problems:
        raise fail("cannot start:\n  " + "\n  ".join(problems))
    with friendly_errors():
        catalog = _catalog(settings)
        with session_scope(settings, migrate_first=migrate_first, catalog=catalog):
            pass
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


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    settings = _settings()
    with friendly_errors():
        migrate.upgrade(settings.effective_database_url, revision)
    out.print(f"database at {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION ('base' empties the database)."""
    settings = _settings()
    with friendly_errors():
        migrate.downgrade(settings.effective_database_url, revision)
    out.print(f"database at {revision}")


# --- instruments ---------------------------------------------------------------------------------


@instruments_app.command("list")
def instruments_list() -> None:
    """List every instrument version in the instruments folder."""
    settings = _settings()
    with friendly_errors():
        catalog = _catalog(settings)
    table = Table("id", "version", "title", "method", "dimensions", "items", "hash")
    for f in catalog:
        i = f.instrument
        table.add_row(
            i.id,
            i.version,
            i.title.en,
            i.scoring.method.value,
            str(len(i.dimensions)),
            str(len(i.item_keys)),
            f.content_hash[:12],
        )
    out.print(table)


@instruments_app.command("validate")
def instruments_validate(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files; default: every file")] = None,
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


@instruments_app.command("schema")
def instruments_schema(
    write: Annotated[bool, typer.Option(help="Write instruments/schema.json")] = False,
) -> None:
    """Print (or write) the JSON Schema of instrument files, generated from the model."""
    text = schema_text()
    if write:
        target = _settings().instruments_dir / "schema.json"
        target.write_text(text, encoding="utf-8")
        out.print(f"wrote {target}")
    else:
        sys.stdout.write(text)


@app.command()
def openapi(
    write: Annotated[bool, typer.Option(help="Write openapi.json at the repository root")] = False,
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


@keys_app.command("create")
def keys_create(
    workspace: Annotated[str, typer.Option(help="Workspace name (created if new)")],
    role: Annotated[str, typer.Option(help="admin | editor | viewer")] = "editor",
    name: Annotated[str | None, typer.Option(help="A label for the key")] = None,
) -> None:
    """Create an API key; the key is printed once and only its hash is stored."""
    from app.services.keys import create_key

    settings = _settings()
    with friendly_errors(), session_scope(settings) as session:
        created = create_key(session, workspace=workspace, role=role, name=name)
    err.print(
        f"key '{created.name}' ({created.role.value}) for workspace '{created.workspace}' — "
        "shown once, store it now:"
    )
    print(created.secret)


@keys_app.command("list")
def keys_list(workspace: Annotated[str | None, typer.Option()] = None) -> None:
    """List keys (never their secrets)."""
    from app.services.keys import list_keys

    settings = _settings()
    with friendly_errors(), session_scope(settings) as session:
        keys = list_keys(session, workspace)
    table = Table("workspace", "name", "prefix", "role", "created", "last used", "revoked")
    for k in keys:
        table.add_row(
            k.workspace,
            k.name,
            k.prefix,
            k.role,
            f"{k.created_at:%Y-%m-%d %H:%M}",
            f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "-",
            f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "-",
        )
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(key: Annotated[str, typer.Argument(help="The key's prefix or id")]) -> None:
    """Revoke a key; it stops working at once."""
    from app.services.keys import revoke_key

    settings = _settings()
    with friendly_errors(), session_scope(settings) as session:
        info = revoke_key(session, key)
    out.print(f"revoked key '{info.name}' ({info.prefix}) of workspace '{info.workspace}'")


# --- data ----------------------------------------------------------------------------------------


@app.command()
def demo() -> None:
    """Create (idempotently) the 'demo' workspace with two cohorts, and print an admin key."""
    from app.services.demo import load_demo

    settings = _settings()
    with friendly_errors():
        catalog = _catalog(settings)
        with session_scope(settings, catalog=catalog) as session:
            result = load_demo(session, catalog)
    err.print(
        f"demo workspace ready: {result.organizations} organizations in 2 cohorts, "
        f"{result.assessments_created} assessment(s) created this run"
    )
    err.print("admin key for workspace 'demo' (shown once; use as 'Authorization: Bearer <key>'):")
    print(result.key.secret)


@app.command()
def rescore(
    write: Annotated[bool, typer.Option(help="Store the recomputed scores")] = False,
) -> None:
    """Recompute every stored score from its answers and report any difference."""
    from app.services.assessments import rescore_all

    settings = _settings()
    with friendly_errors():
        catalog = _catalog(settings)
        with session_scope(settings, catalog=catalog) as session:
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

export_app = typer.Typer(help="Excel files: templates and exports.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("template")
def export_template(
    instrument: Annotated[str, typer.Argument(help="Instrument id, e.g. oca")],
    version: Annotated[str | None, typer.Option(help="Default: the latest")] = None,
    lang: Annotated[str, typer.Option(help="en | es")] = "en",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write")] = None,
) -> None:
    """Write a locked Excel template of an instrument version, to fill offline."""
    from app.excel import build_template

    settings = _settings()
    with friendly_errors():
        catalog = _catalog(settings)
        f = catalog.latest(instrument) if version is None else catalog.get(instrument, version)
        if f is None:
            raise fail(f"unknown instrument or version: {instrument} {version or ''}".strip())
        if lang not in ("en", "es"):
            raise fail("--lang must be en or es")
        target = output or Path(f"{f.instrument.id}-{f.instrument.version}-{lang}.xlsx")
        target.write_bytes(build_template(f.instrument, f.content_hash, lang))
    out.print(f"wrote {target}")


Workspace = Annotated[str, typer.Option(help="Workspace the data belongs to")]
Lang = Annotated[str, typer.Option(help="en | es")]
Output = Annotated[Path | None, typer.Option("-o", "--output", help="File to write")]


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise fail(f"{what} must be an id like 0f8c…-…; got {value!r}") from None


def _write_export(make: Callable[..., tuple[str, bytes]], output: Path | None, *args: Any) -> None:
    settings = _settings()
    with friendly_errors():
        catalog = _catalog(settings)
        with session_scope(settings, catalog=catalog) as session:
            from app.services.keys import cli_principal

            principal = cli_principal(session, args[0], create=False)
            name, data = make(session, principal, catalog, *args[1:])
        target = output or Path(name)
        target.write_bytes(data)
    out.print(f"wrote {target}")


@export_app.command("assessment")
def export_assessment(
    assessment_id: str, workspace: Workspace, lang: Lang = "en", output: Output = None
) -> None:
    """An assessment: cover, answers with labels, scores, risk, native charts."""
    from app.services.exports import assessment_workbook

    aid = _uuid(assessment_id, "ASSESSMENT_ID")
    _write_export(assessment_workbook, output, workspace, aid, lang)


@export_app.command("series")
def export_series(
    organization_id: str,
    workspace: Workspace,
    instrument: Annotated[str, typer.Option(help="Instrument id")],
    lang: Lang = "en",
    output: Output = None,
) -> None:
    """An organization's series: a table over rounds, a line chart, a radar."""
    from app.services.exports import series_workbook

    oid = _uuid(organization_id, "ORGANIZATION_ID")
    _write_export(series_workbook, output, workspace, oid, instrument, lang)


@export_app.command("cohort")
def export_cohort(
    cohort_id: str,
    workspace: Workspace,
    instrument: Annotated[str, typer.Option(help="Instrument id")],
    baseline: str = "baseline",
    endline: str = "endline",
    raw: Annotated[bool, typer.Option(help="Raw data: one row per assessment")] = False,
    csv: Annotated[bool, typer.Option(help="With --raw: CSV instead of xlsx")] = False,
    lang: Lang = "en",
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
        _write_export(exports.cohort_raw, output, workspace, cid, instrument, lang)
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
            lang,
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


@app.command("import")
def import_(
    paths: Annotated[list[Path], typer.Argument(help="Workbooks (.xlsx, .zip) or folders")],
    workspace: Annotated[str, typer.Option(help="Workspace to import into")],
    dry_run: Annotated[bool, typer.Option(help="Check everything, write nothing")] = False,
    create_organizations: Annotated[
        bool, typer.Option(help="Create organizations the workbooks name but cannot match")
    ] = False,
    lang: Annotated[str, typer.Option(help="Language of the messages: en | es")] = "en",
) -> None:
    """Import filled workbooks; each is all-or-nothing. Exit code 1 if any was rejected."""
    from rich.progress import Progress

    from app.excel import Limits
    from app.services import imports as svc
    from app.services.keys import cli_principal

    settings = _settings()
    files = _workbook_paths(paths)
    if not files:
        raise fail("no .xlsx or .zip files found")
    limits = Limits(max_bytes=settings.max_upload_bytes)
    results: list[svc.WorkbookResult] = []
    with friendly_errors():
        catalog = _catalog(settings)
        with session_scope(settings, catalog=catalog) as session:
            principal = cli_principal(session, workspace)
            with Progress(console=err, transient=True) as progress:
                task = progress.add_task("importing", total=len(files))
                for path in files:
                    try:
                        uploads = svc.expand_uploads(
                            [svc.Upload(str(path), path.read_bytes())], limits
                        )
                    except svc.UploadRejected as exc:
                        results.append(
                            svc.WorkbookResult(
                                str(path), "rejected", dry_run, problems=[exc.problem]
                            )
                        )
                        progress.advance(task)
                        continue
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
    table = Table(
        "file", "status", "round", "overall", "problems", title="dry run" if dry_run else None
    )
    for r in results:
        detail = "; ".join(
            f"{p.sheet or ''}{'!' + p.cell if p.cell else ''} {p.en}".strip()
            for p in r.problems[:3]
        ) + (f" (+{len(r.problems) - 3} more)" if len(r.problems) > 3 else "")
        why = (r.reason or {}).get("es" if lang == "es" else "en", "-")
        overall = f"{r.overall:.2f}" if r.overall is not None else why
        table.add_row(r.file, r.status, r.round or "-", overall, detail or "-")
    out.print(table)
    counts = {
        s: sum(r.status == s for r in results)
        for s in ("created", "updated", "revised", "unchanged", "rejected")
    }
    out.print(", ".join(f"{n} {s}" for s, n in counts.items() if n) or "nothing imported")
    if counts["rejected"]:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
