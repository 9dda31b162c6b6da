"""People's accounts end to end through the pages (TestClient on the real app and database):
wrong passwords, throttling that holds across app instances, idle and absolute expiry, removal,
one-time links, no open redirect, and the audit trail of it all."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import AuditEvent, Person, WebSession
from app.main import create_app
from app.services import people, throttle
from app.services.common import now
from tests.web.conftest import PASSWORD, People, csrf_of, form_token, sign_in


def _address() -> tuple[str, int]:
    """A client address of its own, so this test's failures count against no other test."""
    return (f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7", 50000)


def _try(browser: TestClient, email: str, password: str, next: str = "/") -> Any:
    token = form_token(browser, "/sign-in")
    return browser.post(
        "/sign-in",
        data={"csrf_token": token, "email": email, "password": password, "next": next},
        headers={"Accept-Language": "en"},
    )


def _person(session: Session, email: str) -> Person:
    session.rollback()
    found = session.scalar(select(Person).where(Person.email == email))
    assert found is not None
    return found


def _signed_out(browser: TestClient) -> bool:
    answer = browser.get("/")
    return answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")


def test_a_wrong_password_is_refused_and_said(signed_in: People) -> None:
    email = signed_in.person("viewer")
    browser = TestClient(signed_in.client.app, follow_redirects=False, client=_address())
    answer = _try(browser, email, "wrong-password-here")
    assert answer.status_code == 401
    assert "The e-mail or the password is wrong." in answer.text
    assert _signed_out(browser)
    unknown = _try(browser, "nobody@example.org", "wrong-password-here")
    assert unknown.status_code == 401  # the same answer


def test_throttled_after_five_failures_even_on_another_app_instance(
    signed_in: People, settings: Settings
) -> None:
    email = signed_in.person("editor")
    browser = TestClient(signed_in.client.app, follow_redirects=False, client=_address())
    limits = throttle.limits_of(settings)
    assert limits.per_email == 5
    for _ in range(limits.per_email):
        assert _try(browser, email, "wrong-password-here").status_code == 401
    refused = _try(browser, email, PASSWORD)  # even the right password, for now
    assert refused.status_code == 429
    retry = int(refused.headers["Retry-After"])
    assert 0 < retry <= limits.window.total_seconds() + 1
    assert "Too many failed attempts" in refused.text
    # another worker (a second app on the same database) knows it too
    with TestClient(create_app(settings), follow_redirects=False, client=_address()) as other:
        again = _try(other, email, PASSWORD)
        assert again.status_code == 429
        assert "Retry-After" in again.headers


def test_an_idle_session_expires(signed_in: People, session: Session) -> None:
    email = signed_in.person("viewer")
    browser = signed_in.browser()
    sign_in(browser, email)
    assert browser.get("/").status_code == 200
    idle = signed_in.client.app.state.settings.session_idle  # type: ignore[attr-defined]
    person = _person(session, email)
    session.execute(
        update(WebSession)
        .where(WebSession.person_id == person.id)
        .values(last_seen_at=now() - idle - timedelta(minutes=1))
    )
    session.commit()
    assert _signed_out(browser)


def test_a_session_ends_at_its_absolute_expiry_even_when_busy(
    signed_in: People, session: Session
) -> None:
    email = signed_in.person("viewer")
    browser = signed_in.browser()
    sign_in(browser, email)
    person = _person(session, email)
    session.execute(
        update(WebSession)
        .where(WebSession.person_id == person.id)
        .values(last_seen_at=now(), expires_at=now() - timedelta(seconds=1))
    )
    session.commit()
    assert _signed_out(browser)


def test_removal_ends_the_session_at_once(signed_in: People, session: Session) -> None:
    email = signed_in.person("editor")
    browser = signed_in.browser()
    sign_in(browser, email)
    assert browser.get("/").status_code == 200
    person = _person(session, email)
    people.remove_member(session, signed_in.tenant.principal, person.id)
    assert _signed_out(browser)


def test_an_invitation_link_sets_a_password_once(signed_in: People, session: Session) -> None:
    email = f"invited-{uuid.uuid4().hex[:6]}@example.org"
    link = people.invite(
        session, signed_in.tenant.principal, email=email, name="Invitada", role="viewer"
    )
    assert link.token is not None
    browser = signed_in.browser()
    form = browser.get(f"/links/{link.token}")
    assert form.status_code == 200 and email in form.text
    token = csrf_of(form.text)
    short = browser.post(
        f"/links/{link.token}", data={"csrf_token": token, "password": "short", "confirm": "short"}
    )
    assert short.status_code == 422  # the link still works after a refused password
    chosen = "the-invited-one-chose-this"
    done = browser.post(
        f"/links/{link.token}", data={"csrf_token": token, "password": chosen, "confirm": chosen}
    )
    assert done.status_code == 303 and done.headers["location"] == "/sign-in?done=password"
    again = browser.post(
        f"/links/{link.token}",
        data={"csrf_token": token, "password": "someone-else-now", "confirm": "someone-else-now"},
    )
    assert again.status_code == 404
    assert browser.get(f"/links/{link.token}").status_code == 404
    sign_in(browser, email, chosen)
    assert browser.get("/").status_code == 200


def test_a_reset_link_replaces_the_password_and_ends_sessions(
    signed_in: People, session: Session
) -> None:
    email = signed_in.person("editor")
    old = signed_in.browser()
    sign_in(old, email)
    link = people.reset_link(session, email, by=signed_in.tenant.principal)
    assert link.token is not None
    fresh = signed_in.browser()
    token = form_token(fresh, f"/links/{link.token}")
    new = "a-brand-new-password"
    done = fresh.post(
        f"/links/{link.token}", data={"csrf_token": token, "password": new, "confirm": new}
    )
    assert done.status_code == 303
    assert _signed_out(old)  # the session opened with the old password is over
    assert _try(fresh, email, PASSWORD).status_code == 401
    sign_in(fresh, email, new)


def test_no_open_redirect_after_sign_in(signed_in: People) -> None:
    email = signed_in.person("viewer")
    for target in (
        "//evil.example",
        "https://evil.example/",
        "/\\evil.example",
        "evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
    ):
        browser = signed_in.browser()
        answer = _try(browser, email, PASSWORD, next=target)
        assert answer.status_code == 303, target
        assert answer.headers["location"] == "/", target
        # and once signed in, the sign-in form's own redirect is as careful
        again = browser.get("/sign-in", params={"next": target})
        assert again.headers["location"] == "/", target
    browser = signed_in.browser()
    kept = _try(browser, email, PASSWORD, next="/instruments")
    assert kept.headers["location"] == "/instruments"


def test_the_audit_log_has_sign_in_failure_and_sign_out(
    signed_in: People, session: Session
) -> None:
    email = signed_in.person("viewer")
    address = _address()
    browser = TestClient(signed_in.client.app, follow_redirects=False, client=address)
    assert _try(browser, email, "wrong-password-here").status_code == 401
    sign_in(browser, email)
    out = browser.post("/sign-out", data={"csrf_token": csrf_of(browser.get("/").text)})
    assert out.status_code == 303
    session.rollback()
    rows = session.execute(
        select(AuditEvent.action, AuditEvent.actor, AuditEvent.changes)
        .where(AuditEvent.workspace_id == signed_in.tenant.principal.workspace_id)
        .where(AuditEvent.actor == f"person:{email}")
        .order_by(AuditEvent.id)
    ).all()
    actions = [r.action for r in rows]
    assert actions == ["person.sign_in_failed", "person.sign_in", "person.sign_out"]
    assert rows[0].changes == {"address": address[0]} == rows[1].changes


def test_pages_count_against_the_address_and_person_limits(
    signed_in: People, settings: Settings
) -> None:
    """A signed-in person asking for report after report is limited like an API key; an
    address like the API's (the count is in the database, so every worker shares it)."""
    email = signed_in.person("viewer")
    per_person = settings.model_copy(update={"rate_limit_per_key": 6})
    with TestClient(create_app(per_person), follow_redirects=False, client=_address()) as b:
        sign_in(b, email)
        answers = [b.get("/organizations").status_code for _ in range(8)]
        assert answers[:5] == [200] * 5 and answers[-1] == 429, answers
        refused = b.get("/organizations?lang=es")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert "text/html" in refused.headers["content-type"]
    per_address = settings.model_copy(update={"rate_limit_per_address": 4})
    with TestClient(create_app(per_address), follow_redirects=False, client=_address()) as b:
        answers = [b.get("/sign-in").status_code for _ in range(6)]
        assert answers[:3] == [200] * 3 and answers[-1] == 429, answers
