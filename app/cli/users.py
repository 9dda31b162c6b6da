"""`oca users`: people who sign in to the web pages (no e-mail server: links are printed)."""

from __future__ import annotations

import getpass
import os
from typing import Annotated

import typer

from app.cli.common import (
    command,
    err,
    fail,
    friendly_errors,
    link_url,
    new_group,
    read_settings,
    session_scope,
)
from app.domain.enums import Role
from app.services import people
from app.services.keys import cli_principal

users_app = new_group("People who sign in to the web pages: create, invite, reset a password.")

BaseUrlOption = Annotated[
    str,
    typer.Option(
        envvar="OCA_PUBLIC_URL",
        help="Where people reach the service; links are printed under it",
    ),
]


@command(users_app, "create")
def users_create(
    email: Annotated[
        str, typer.Argument(metavar="EMAIL", help="The person's e-mail (their sign-in name)")
    ],
    workspace: Annotated[str, typer.Option(metavar="NAME", help="Workspace (created if new)")],
    role: Annotated[Role, typer.Option(help="admin, editor or viewer")] = Role.viewer,
    name: Annotated[str, typer.Option(help="The person's name as shown")] = "",
) -> None:
    """Create a person with a password (asked twice, or OCA_NEW_PASSWORD) in a workspace."""
    password = os.environ.get("OCA_NEW_PASSWORD")
    if password is None:
        password = getpass.getpass("password: ")
        if getpass.getpass("password again: ") != password:
            raise fail("the two passwords differ; nothing was changed")
    settings = read_settings()
    with friendly_errors(), session_scope(settings, create=True, migrate_first=True) as session:
        person = people.create_person(
            session,
            email=email,
            name=name,
            password=password,
            workspace=workspace,
            role=role.value,
        )
        shown = person.email
    err.print(f"{shown} can sign in to workspace '{workspace}' as {role.value}")


@command(users_app, "invite")
def users_invite(
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The person's e-mail")],
    workspace: Annotated[str, typer.Option(metavar="NAME", help="Workspace (must exist)")],
    role: Annotated[Role, typer.Option(help="admin, editor or viewer")] = Role.viewer,
    name: Annotated[str, typer.Option(help="The person's name as shown")] = "",
    base_url: BaseUrlOption = "http://127.0.0.1:8000",
) -> None:
    """Add a person to a workspace and print a one-time link (7 days) to choose a password."""
    settings = read_settings()
    with friendly_errors(), session_scope(settings, create=False, migrate_first=True) as session:
        by = cli_principal(session, workspace, create=False)
        link = people.invite(session, by, email=email, name=name, role=role.value)
    if link.token is None:
        err.print(f"{link.email} already has a password; they can sign in to '{workspace}' now")
        return
    err.print(f"invitation for {link.email} — hand over this link (one use, 7 days):")
    print(link_url(base_url, link.token))


@command(users_app, "reset-password")
def users_reset(
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The person's e-mail")],
    base_url: BaseUrlOption = "http://127.0.0.1:8000",
) -> None:
    """Print a one-time link (24 hours) with which the person chooses a new password."""
    settings = read_settings()
    with friendly_errors(), session_scope(settings, create=False, migrate_first=True) as session:
        link = people.reset_link(session, email)
    err.print(f"password reset for {link.email} — hand over this link (one use, 24 hours):")
    assert link.token is not None
    print(link_url(base_url, link.token))
