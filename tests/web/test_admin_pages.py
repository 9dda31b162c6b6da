"""Admin pages: people (invite with a one-time link, reset link, role, removal) and API keys.
Admins only; every change lands in the audit log; another workspace's person is a 404 page."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import AuditEvent, Person, Workspace
from app.domain.errors import Forbidden, NotFound
from app.services import people
from app.services.keys import Principal, Role
from tests.web.conftest import People, csrf_of, form_token, sign_in

_LINK = re.compile(r'id="made-url"[^>]*>(http://testserver/links/[A-Za-z0-9_\-]+)</textarea>')
_SECRET = re.compile(r'id="created-secret"[^>]*>(oca_[A-Za-z0-9_\-]+)</textarea>')


def _person_id(session: Session, email: str) -> str:
    session.rollback()  # a fresh snapshot: the app wrote in its own sessions
    person = session.scalar(select(Person).where(Person.email == email))
    assert person is not None
    return str(person.id)


def _actions(session: Session, signed_in: People) -> list[str]:
    session.rollback()  # a fresh snapshot: the app wrote in its own sessions
    return list(
        session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.workspace_id == signed_in.tenant.principal.workspace_id)
            .order_by(AuditEvent.id)
        )
    )


def test_only_admins_see_the_admin_pages(signed_in: People) -> None:
    for role in ("viewer", "editor"):
        browser = signed_in(role)
        for path in ("/admin/people", "/admin/keys"):
            answer = browser.get(path, headers={"Accept-Language": "en"})
            assert answer.status_code == 403, (role, path)
            assert "for workspace admins only" in answer.text
        home = browser.get("/").text
        assert 'href="/admin/people"' not in home
        token = csrf_of(home)
        forged = browser.post(
            "/admin/keys", data={"csrf_token": token, "role": "admin", "name": "x"}
        )
        assert forged.status_code == 403
    anonymous = signed_in.browser().get("/admin/people")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/sign-in")


def test_invite_hands_over_a_link_that_sets_a_password_and_signs_in(
    signed_in: People, session: Session
) -> None:
    admin = signed_in("admin")
    token = form_token(admin, "/admin/people")
    email = "new.person@example.org"
    answer = admin.post(
        "/admin/people",
        data={"csrf_token": token, "email": email, "name": "Nueva Persona", "role": "editor"},
    )
    assert answer.status_code == 200
    found = _LINK.search(answer.text)
    assert found, answer.text[:2000]
    assert "Invited, no password yet" in answer.text or "Invitada, sin contraseña" in answer.text
    link = found.group(1).removeprefix("http://testserver")
    # the new person opens the link in their own browser and chooses a password
    newcomer = signed_in.browser()
    page = newcomer.get(link)
    assert page.status_code == 200 and email in page.text
    password = "chosen-by-the-newcomer"
    done = newcomer.post(
        link, data={"csrf_token": csrf_of(page.text), "password": password, "confirm": password}
    )
    assert done.status_code == 303
    sign_in(newcomer, email, password)
    assert "(edición)" in newcomer.get("/", headers={"Accept-Language": "es"}).text
    assert newcomer.get("/admin/people").status_code == 403  # an editor, not an admin
    listing = admin.get("/admin/people", headers={"Accept-Language": "en"}).text
    assert email in listing and "Nueva Persona" in listing
    assert "person.invite" in _actions(session, signed_in)


def test_a_bad_email_is_said_on_the_form(signed_in: People) -> None:
    admin = signed_in("admin")
    token = form_token(admin, "/admin/people")
    answer = admin.post(
        "/admin/people",
        data={"csrf_token": token, "email": "not-an-email", "name": "X", "role": "viewer"},
        headers={"Accept-Language": "en"},
    )
    assert answer.status_code == 422
    assert "Enter a valid e-mail address." in answer.text and 'value="not-an-email"' in answer.text


def test_reset_link_role_change_and_removal(signed_in: People, session: Session) -> None:
    admin = signed_in("admin")
    email = signed_in.person("viewer")
    viewer = signed_in.browser()
    sign_in(viewer, email)
    pid = _person_id(session, email)
    token = form_token(admin, "/admin/people")

    reset = admin.post(f"/admin/people/{pid}/reset", data={"csrf_token": token})
    assert reset.status_code == 200
    assert _LINK.search(reset.text), "no reset link shown"

    assert "Cargar libros" not in viewer.get("/", headers={"Accept-Language": "es"}).text
    role = admin.post(f"/admin/people/{pid}/role", data={"csrf_token": token, "role": "editor"})
    assert role.status_code == 303 and role.headers["location"] == "/admin/people?done=role"
    # the new role holds from the person's next request
    assert "Cargar libros" in viewer.get("/", headers={"Accept-Language": "es"}).text

    confirm = admin.get(f"/admin/people/{pid}/remove", headers={"Accept-Language": "en"})
    assert confirm.status_code == 200 and email in confirm.text
    removed = admin.post(f"/admin/people/{pid}/remove", data={"csrf_token": token})
    assert removed.status_code == 303
    after = viewer.get("/")
    assert after.status_code == 303 and after.headers["location"].startswith("/sign-in")
    assert email not in admin.get("/admin/people").text
    actions = _actions(session, signed_in)
    for action in ("person.reset_link", "person.role", "person.remove"):
        assert action in actions, action


def test_an_admin_cannot_demote_or_remove_themselves(signed_in: People, session: Session) -> None:
    admin = signed_in("admin")
    page = admin.get("/admin/people", headers={"Accept-Language": "en"})
    me = _person_id(session, admin_email(page.text))
    token = csrf_of(page.text)
    assert f"/admin/people/{me}/remove" not in page.text  # no control offered
    refused = admin.post(f"/admin/people/{me}/role", data={"csrf_token": token, "role": "viewer"})
    assert refused.status_code == 422
    assert admin.post(f"/admin/people/{me}/remove", data={"csrf_token": token}).status_code == 422
    again = admin.post(
        "/admin/people",
        data={"csrf_token": token, "email": admin_email(page.text), "name": "", "role": "viewer"},
        headers={"Accept-Language": "en"},
    )
    assert again.status_code == 422 and "ask another admin" in again.text
    assert admin.get("/admin/people").status_code == 200  # still an admin


def admin_email(html: str) -> str:
    found = re.search(r'class="who">([^ <]+)', html)
    assert found
    return found.group(1)


def test_another_workspace_person_is_a_404_page(signed_in: People, session: Session) -> None:
    admin = signed_in("admin")
    stranger = signed_in.person("viewer", workspace="elsewhere-ws")
    pid = _person_id(session, stranger)
    token = form_token(admin, "/admin/people")
    for path, data in (
        (f"/admin/people/{pid}/reset", {}),
        (f"/admin/people/{pid}/role", {"role": "admin"}),
        (f"/admin/people/{pid}/remove", {}),
    ):
        answer = admin.post(path, data={"csrf_token": token, **data})
        assert answer.status_code == 404, path
    assert admin.get(f"/admin/people/{pid}/remove").status_code == 404


def test_keys_are_created_once_shown_and_revoked(
    signed_in: People, session: Session, client: TestClient
) -> None:
    admin = signed_in("admin")
    token = form_token(admin, "/admin/keys")
    made = admin.post(
        "/admin/keys",
        data={"csrf_token": token, "name": "partner app", "role": "viewer"},
        headers={"Accept-Language": "en"},
    )
    assert made.status_code == 200
    found = _SECRET.search(made.text)
    assert found, made.text[:2000]
    secret = found.group(1)
    api = {"Authorization": f"Bearer {secret}"}
    assert client.get("/v1/organizations", headers=api).status_code == 200
    listing = admin.get("/admin/keys", headers={"Accept-Language": "en"}).text
    assert "partner app" in listing and secret not in listing  # shown once
    key_id = re.search(
        r'/admin/keys/([0-9a-f\-]{36})/revoke"[^<]*<input[^>]*>\s*'
        r'<button[^>]*>Revoke<span class="sr-only"> — partner app',
        listing,
    )
    assert key_id, listing
    revoked = admin.post(f"/admin/keys/{key_id.group(1)}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303
    assert client.get("/v1/organizations", headers=api).status_code == 401
    assert "Revoked on" in admin.get("/admin/keys", headers={"Accept-Language": "en"}).text
    actions = _actions(session, signed_in)
    assert "key.create" in actions and "key.revoke" in actions


def test_no_admin_can_take_over_an_account_that_opens_another_workspace(
    signed_in: People, session: Session
) -> None:
    """An admin of workspace A adds someone who belongs to workspace B: the person is added, but
    no link that sets their password is handed out (by invitation or by reset), so A can't sign
    in as them and read B. Found in review: invite + reset did exactly that."""
    other = f"other-{uuid.uuid4().hex[:6]}"
    victim = signed_in.person("viewer", workspace=other)
    pending = f"pending-{uuid.uuid4().hex[:6]}@example.org"
    # someone invited to B who has not chosen a password yet
    b_admin = session.scalars(
        select(Person).where(Person.email == signed_in.person("admin", workspace=other))
    ).one()
    b_workspace = session.scalars(select(Workspace.id).where(Workspace.name == other)).one()
    b_principal = Principal(b_workspace, None, b_admin.email, Role.admin, b_admin.id)
    session.rollback()
    assert people.invite(session, b_principal, email=pending, name="P", role="viewer").token

    admin = signed_in("admin")
    for email in (victim, pending):
        token = form_token(admin, "/admin/people")
        answer = admin.post(
            "/admin/people",
            data={"csrf_token": token, "email": email, "name": "X", "role": "viewer"},
            headers={"Accept-Language": "en"},
        )
        assert answer.status_code == 200, answer.text[:500]
        assert not _LINK.search(answer.text), email  # no password-setting link for A's admin
        assert "already has an account" in answer.text
        session.rollback()  # see what the app wrote
        pid = next(
            m.person_id
            for m in people.members(session, signed_in.tenant.principal)
            if m.email == email
        )
        reset = admin.post(
            f"/admin/people/{pid}/reset",
            data={"csrf_token": form_token(admin, "/admin/people")},
            headers={"Accept-Language": "es"},
        )
        assert reset.status_code == 403
        assert "otro espacio" in reset.text or "no administra" in reset.text
        assert not _LINK.search(reset.text)
    # B's admin, who speaks for every workspace of the pending person only if also admin of A,
    # can't either; the command line can
    with pytest.raises(Forbidden):
        people.reset_link(session, pending, by=b_principal)
    assert people.reset_link(session, pending).token


def test_using_a_link_ends_every_other_unused_link(signed_in: People, session: Session) -> None:
    email = f"twice-{uuid.uuid4().hex[:6]}@example.org"
    invited = people.invite(
        session, signed_in.tenant.principal, email=email, name="T", role="viewer"
    )
    reset = people.reset_link(session, email, by=signed_in.tenant.principal)
    assert invited.token and reset.token
    people.use_link(session, reset.token, "chosen-through-the-reset")
    # the week-long invitation no longer sets a password
    with pytest.raises(NotFound):
        people.use_link(session, invited.token, "someone-who-kept-the-old-link")
