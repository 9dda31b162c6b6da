"""`oca keys`: API keys: create, list, revoke."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from app.cli.common import (
    JsonOption,
    command,
    err,
    friendly_errors,
    new_group,
    out,
    print_rows,
    read_settings,
    session_scope,
)

keys_app = new_group("API keys: create, list, revoke.")


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

    settings = read_settings()
    with friendly_errors(), session_scope(settings, create=True, migrate_first=True) as session:
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

    settings = read_settings()
    with friendly_errors(), session_scope(settings, create=False, migrate_first=False) as session:
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
    print_rows(rows, as_json, fold=("name",))


@command(keys_app, "revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(metavar="KEY", help="The key's prefix or id")],
) -> None:
    """Revoke a key; it stops working at once."""
    from app.services.keys import revoke_key

    settings = read_settings()
    with friendly_errors(), session_scope(settings, create=False, migrate_first=True) as session:
        info = revoke_key(session, key)
    out.print(f"revoked key '{info.name}' ({info.prefix}) of workspace '{info.workspace}'")
