"""What every `oca` command shares: its groups and help pages, the consoles, errors as one readable
line, the options in common, and the database a command reads or writes."""

from __future__ import annotations

import json
import sys
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
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.catalog import Catalog, CatalogError, load_catalog
from app.cli import help as plain_help
from app.config import Settings, SettingsUnreadable
from app.config import read_settings as read_environment
from app.db import migrate
from app.db.errors import Busy
from app.db.session import make_engine, make_sessionmaker
from app.domain.errors import DomainError
from app.services.evidence_store import StoreUnavailable
from app.services.instruments import InstrumentChanged


def new_group(help_text: str) -> typer.Typer:
    """A command group with the plain help page."""
    return typer.Typer(
        help=help_text,
        no_args_is_help=True,
        cls=plain_help.Group,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        add_completion=False,
    )


F = TypeVar("F", bound=Callable[..., Any])


def command(group: typer.Typer, name: str | None = None) -> Callable[[F], F]:
    """Register a command with the plain help page."""
    decorator: Callable[[F], F] = group.command(name, cls=plain_help.Command)
    return decorator


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
    except DomainError as exc:  # with every problem it lists, one per line
        details = [str(e["detail"]) for e in exc.extra.get("errors") or () if e.get("detail")]
        raise fail("\n  ".join([exc.detail, *details])) from None
    except (Busy, InstrumentChanged, StoreUnavailable) as exc:
        raise fail(exc.detail) from None
    except OSError as exc:
        raise fail(f"{exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}") from None
    except OperationalError as exc:  # the server is down, the database missing, a login refused
        reason = " ".join(str(exc.orig or exc).split())  # the driver's words, without SQLAlchemy's
        raise fail(f"cannot use the database: {reason}") from None


def read_settings() -> Settings:
    try:
        return read_environment()  # read the environment now: one command, one reading
    except SettingsUnreadable as exc:
        raise fail("the settings cannot work:\n  " + "\n  ".join(exc.problems)) from None


def instrument_catalog(settings: Settings) -> Catalog:
    return load_catalog(settings.instruments_dir)


def link_url(base: str, token: str) -> str:
    """A one-time link (invitation, password) under the address people reach the service at."""
    return f"{base.rstrip('/')}/links/{token}"


def print_rows(rows: list[dict[str, Any]], as_json: bool, *, fold: tuple[str, ...] = ()) -> None:
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


@contextmanager
def session_scope(
    settings: Settings,
    *,
    create: bool,
    migrate_first: bool,
    catalog: Catalog | None = None,
) -> Iterator[Session]:
    """A session on a database at the newest migration; with a catalog, its versions are checked
    and recorded first (a changed published file stops the command, as it stops `oca serve`).

    Only a command that writes migrates (``migrate_first``); one that reads refuses a database at
    another migration and says what to run, so reading never changes the schema under a running
    service. Without ``create``, a database that does not exist or has no OCA tables is refused,
    not made."""
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
