"""Workspace administration for admins: people (invite, reset link, role, removal) and API keys.

The same services as the command line and the REST API (app/services/people.py, keys.py); each
change is audited there, in the same transaction. One-time secrets (an invitation or reset link, a
new key) are shown on the answer to the form that made them and never again, so those answers are
rendered pages (no-store) rather than redirects.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form
from starlette.responses import Response

from app.domain.enums import Role
from app.domain.errors import Invalid, NotFound
from app.services import benchmarks, people
from app.services.keys import create_workspace_key, revoke_workspace_key, workspace_keys
from app.web.kit import Csrf, MemberDep, Page, PageRoute, db, redirect, render
from app.web.security import check_csrf

router = APIRouter(route_class=PageRoute, include_in_schema=False)

RoleForm = Annotated[Role, Form()]
ROLES = [r.value for r in Role]
DONE = ("role", "removed", "revoked")


def admin_only(page: Page, csrf: str | None = None) -> None:
    """Admins only (others see a 403 page); a form's token is checked before anything else."""
    if csrf is not None:
        check_csrf(page.request, csrf)
    page.require_admin()


def link_url(page: Page, token: str) -> str:
    """The one-time link to hand over, on the address this admin reached the site by."""
    return f"{str(page.request.base_url).rstrip('/')}/links/{token}"


def _people_page(page: Page, status: int = 200, **values: Any) -> Response:
    with db(page) as session:
        found = people.members(session, page.who)
    done = page.request.query_params.get("done")
    values.setdefault("done", done if done in DONE else None)
    return render(
        page,
        "admin_people.html",
        status,
        title=page.t("admin.people.title"),
        members=found,
        roles=ROLES,
        **values,
    )


def _member(page: Page, person_id: uuid.UUID) -> people.Member:
    with db(page) as session:
        for m in people.members(session, page.who):
            if m.person_id == person_id:
                return m
    raise NotFound(f"person {person_id}")


@router.get("/admin")
def admin_home(page: MemberDep) -> Response:
    admin_only(page)
    return redirect(page, "/admin/people")


@router.get("/admin/people")
def people_list(page: MemberDep) -> Response:
    admin_only(page)
    return _people_page(page)


@router.post("/admin/people")
def invite(
    page: MemberDep,
    csrf: Csrf,
    role: RoleForm,
    email: Annotated[str, Form(max_length=300)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    admin_only(page, csrf)
    try:
        with db(page) as session:
            link = people.invite(session, page.who, email=email, name=name, role=role.value)
    except Invalid:
        form = {"email": email, "name": name, "role": role.value}
        yourself = email.strip().lower() == page.who.key_name
        error = page.t("admin.people.self" if yourself else "admin.people.bad_email")
        return _people_page(page, 422, error=error, form=form)
    return _people_page(
        page,
        made={
            "purpose": "invite",
            "email": link.email,
            "url": link_url(page, link.token) if link.token else None,
        },
    )


@router.post("/admin/people/{person_id}/reset")
def reset(page: MemberDep, csrf: Csrf, person_id: uuid.UUID) -> Response:
    admin_only(page, csrf)
    target = _member(page, person_id)
    with db(page) as session:
        link = people.reset_link(session, target.email, by=page.who)
    assert link.token is not None
    made = {"purpose": "reset", "email": link.email, "url": link_url(page, link.token)}
    return _people_page(page, made=made)


@router.post("/admin/people/{person_id}/role")
def change_role(page: MemberDep, csrf: Csrf, person_id: uuid.UUID, role: RoleForm) -> Response:
    admin_only(page, csrf)
    with db(page) as session:
        people.change_role(session, page.who, person_id, role.value)
    return redirect(page, "/admin/people?done=role")


@router.get("/admin/people/{person_id}/remove")
def remove_confirm(page: MemberDep, person_id: uuid.UUID) -> Response:
    admin_only(page)
    target = _member(page, person_id)
    return render(page, "admin_remove.html", title=page.t("admin.remove.title"), target=target)


@router.post("/admin/people/{person_id}/remove")
def remove(page: MemberDep, csrf: Csrf, person_id: uuid.UUID) -> Response:
    admin_only(page, csrf)
    with db(page) as session:
        people.remove_member(session, page.who, person_id)
    return redirect(page, "/admin/people?done=removed")


def _keys_page(page: Page, status: int = 200, **values: Any) -> Response:
    with db(page) as session:
        found = workspace_keys(session, page.who)
    done = page.request.query_params.get("done")
    values.setdefault("done", done if done in DONE else None)
    return render(
        page,
        "admin_keys.html",
        status,
        title=page.t("admin.keys.title"),
        keys=found,
        roles=ROLES,
        **values,
    )


@router.get("/admin/keys")
def keys_list(page: MemberDep) -> Response:
    admin_only(page)
    return _keys_page(page)


@router.post("/admin/keys")
def create_key(
    page: MemberDep,
    csrf: Csrf,
    role: RoleForm,
    name: Annotated[str, Form(max_length=80)] = "",
) -> Response:
    admin_only(page, csrf)
    with db(page) as session:
        created, _ = create_workspace_key(session, page.who, role.value, name.strip() or None)
    return _keys_page(page, created=created)


@router.post("/admin/keys/{key_id}/revoke")
def revoke_key(page: MemberDep, csrf: Csrf, key_id: uuid.UUID) -> Response:
    admin_only(page, csrf)
    with db(page) as session:
        revoke_workspace_key(session, page.who, key_id)
    return redirect(page, "/admin/keys?done=revoked")


@router.get("/admin/sharing")
def sharing_page(page: MemberDep) -> Response:
    admin_only(page)
    with db(page) as session:
        shares = benchmarks.sharing(session, page.who)
    done = page.request.query_params.get("done") == "1"
    return render(
        page,
        "admin_sharing.html",
        title=page.t("admin.sharing.title"),
        shares=shares,
        done=done,
        min_peers=benchmarks.MIN_PEERS,
    )


@router.post("/admin/sharing")
def change_sharing(page: MemberDep, csrf: Csrf, shares: Annotated[bool, Form()]) -> Response:
    admin_only(page, csrf)
    with db(page) as session:
        benchmarks.set_sharing(session, page.who, shares)
    return redirect(page, "/admin/sharing?done=1")
