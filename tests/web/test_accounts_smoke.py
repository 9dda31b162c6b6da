"""The first hour of a person: sign in, see the home page of their workspace, sign out."""

from __future__ import annotations

from tests.web.conftest import People, csrf_of


def test_sign_in_shows_the_home_page_and_sign_out_ends_the_session(signed_in: People) -> None:
    browser = signed_in("viewer")
    home = browser.get("/", headers={"Accept-Language": "es-MX"})
    assert home.status_code == 200
    assert "Inicio" in home.text and signed_in.tenant.name in home.text
    assert "Cargar libros" not in home.text  # a viewer is offered no upload
    out = browser.post("/sign-out", data={"csrf_token": csrf_of(home.text)})
    assert out.status_code == 303
    again = browser.get("/")
    assert again.status_code == 303 and again.headers["location"].startswith("/sign-in")
