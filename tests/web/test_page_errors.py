"""What a person sees when something is wrong: a page in their language, never JSON; and the
language switch that keeps what they had chosen."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from app.services import people
from app.web.pages import home
from tests.web.conftest import People

HTML = {"Accept": "text/html,application/xhtml+xml"}


def test_a_broken_link_is_a_page_for_people_and_json_for_clients(signed_in: People) -> None:
    browser = signed_in("viewer")
    page = browser.get("/nowhere/at/all?lang=es", headers=HTML)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Página no encontrada" in page.text
    for path, headers in (("/nowhere", {"Accept": "application/json"}), ("/v1/nowhere", HTML)):
        answer = browser.get(path, headers=headers)
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json", path


def test_an_unexpected_failure_on_a_page_is_a_page(
    signed_in: People, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A fault injected into the home page's service: the person gets the 500 page in their
    language (it was problem+json before), and the error is logged."""

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("injected fault")

    browser = signed_in("viewer")
    monkeypatch.setattr(home, "overview", broken)
    page = browser.get("/?lang=en")
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "Something failed on our side" in page.text and "injected fault" not in page.text
    assert any("injected fault" in r.exc_text for r in caplog.records if r.exc_text)


def test_the_language_switch_keeps_the_pages_choices(signed_in: People) -> None:
    browser = signed_in("viewer")
    page = browser.get("/organizations?q=Fundaci%C3%B3n&lang=es").text
    switch = re.search(r'href="(/language/en\?next=[^"]+)"', page)
    assert switch, "no switch to English"
    link = switch.group(1).replace("&amp;", "&")
    assert "lang%3D" not in link  # the switch does not carry the old choice back
    back = browser.get(link)
    assert back.status_code == 303
    assert unquote(back.headers["location"]) == "/organizations?q=Fundación"


def test_a_too_long_password_is_said_so(signed_in: People, client: TestClient) -> None:
    email = f"long-{id(client)}@example.org"
    link = people.invite(
        signed_in.session, signed_in.tenant.principal, email=email, name="L", role="viewer"
    )
    browser = signed_in.browser()
    form = browser.get(f"/links/{link.token}?lang=en")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form.text)
    assert token
    long = "x" * (people.PASSWORD_MAX + 1)
    answer = browser.post(
        f"/links/{link.token}?lang=en",
        data={"csrf_token": token.group(1), "password": long, "confirm": long},
    )
    assert answer.status_code == 422
    assert f"at most {people.PASSWORD_MAX} characters" in answer.text
