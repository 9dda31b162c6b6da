"""Fixtures for the web pages: people of a tenant's workspace, each with their own signed-in
client (cookies are per client), and the form token a page hands out."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.services import people
from tests.conftest import Tenant

PASSWORD = "a-long-enough-secret"
_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _TOKEN.search(html)
    assert found, "the page has no form token"
    return found.group(1)


def form_token(browser: TestClient, path: str = "/") -> str:
    page = browser.get(path)
    assert page.status_code == 200, (path, page.status_code)
    return csrf_of(page.text)


def sign_in(browser: TestClient, email: str, password: str = PASSWORD) -> None:
    token = form_token(browser, "/sign-in")
    answer = browser.post(
        "/sign-in", data={"csrf_token": token, "email": email, "password": password, "next": "/"}
    )
    assert answer.status_code == 303, answer.text[:500]


class People:
    """Makes people in the tenant's workspace and returns a browser signed in as each."""

    def __init__(self, session: Session, client: TestClient, tenant: Tenant) -> None:
        self.session, self.client, self.tenant = session, client, tenant

    def browser(self) -> TestClient:
        """A fresh browser (own cookie jar) on the same running app."""
        return TestClient(self.client.app, follow_redirects=False)

    def person(self, role: str = "editor", workspace: str | None = None) -> str:
        email = f"{role}-{uuid.uuid4().hex[:8]}@example.org"
        people.create_person(
            self.session,
            email=email,
            name=f"{role.title()} Person",
            password=PASSWORD,
            workspace=workspace or self.tenant.name,
            role=role,
        )
        return email

    def __call__(self, role: str = "editor", workspace: str | None = None) -> TestClient:
        browser = self.browser()
        sign_in(browser, self.person(role, workspace))
        return browser


@pytest.fixture()
def signed_in(session: Session, client: TestClient, tenant: Tenant) -> People:
    """``signed_in("viewer")``: a browser signed in as a new viewer of ``tenant``'s workspace."""
    return People(session, client, tenant)


SignedIn = Callable[..., TestClient]
