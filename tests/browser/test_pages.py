"""In a real browser: signing in (both languages), the home page, the admin and instrument pages,
what a viewer is offered, forged forms, another workspace's URL; axe-core on every page reached."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import func, select

from app.db.models import ApiKey, Person
from app.services import people
from tests.browser.conftest import PASSWORD, Server, Team, assert_accessible, axe, sign_in


def test_the_accessibility_check_can_fail(page: Page, team: Team) -> None:
    page.goto("/sign-in")
    page.evaluate(
        "document.querySelector('main').insertAdjacentHTML('beforeend',"
        ' \'<img src="/static/nothing.png"><input type="text">\')'
    )
    found = {v["id"] for v in axe(page)}
    assert {"image-alt", "label"} <= found


def test_sign_in_in_spanish_and_english(page: Page, team: Team) -> None:
    page.goto("/sign-in")
    expect(page.locator("h1")).to_have_text("Iniciar sesión")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    assert_accessible(page)
    page.locator("#email").fill(team.emails["editor"])
    page.locator("#password").fill("not-the-password")
    page.locator("form.stack button[type=submit]").click()
    expect(page.locator(".error")).to_have_text("El correo o la contraseña no son correctos.")
    assert_accessible(page)

    page.get_by_role("link", name="English").click()
    expect(page.locator("h1")).to_have_text("Sign in")
    sign_in(page, team.emails["editor"], lang="en")
    expect(page.locator("h1")).to_have_text("Home")
    expect(page.get_by_role("link", name="Upload workbooks")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Español").click()
    expect(page.locator("h1")).to_have_text("Inicio")
    page.get_by_role("button", name="Cerrar sesión").click()
    expect(page.locator("h1")).to_have_text("Iniciar sesión")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/$"))


def test_a_viewer_is_offered_no_write_control(page: Page, team: Team) -> None:
    sign_in(page, team.emails["viewer"])
    nav = page.get_by_role("navigation", name="Principal")
    expect(nav.get_by_role("link", name="Instrumentos")).to_be_visible()
    expect(page.get_by_role("link", name="Cargar libros")).to_have_count(0)
    expect(page.get_by_role("link", name="Administración")).to_have_count(0)
    # every form left on the page is the sign-out (no write control)
    actions = page.locator("main form").evaluate_all("fs => fs.map(f => f.action)")
    assert actions == []
    answer = page.goto("/admin/people")
    assert answer is not None and answer.status == 403
    expect(page.locator("h1")).to_have_text("Sin permiso")
    assert_accessible(page)


def test_admin_invites_resets_changes_role_and_removes(
    page: Page, team: Team, server: Server
) -> None:
    sign_in(page, team.emails["admin"])
    page.get_by_role("link", name="Administración").click()
    expect(page.locator("h1")).to_have_text("Personas")
    assert_accessible(page)

    email = f"nueva-{uuid.uuid4().hex[:6]}@example.org"
    page.locator("#invite-email").fill(email)
    page.locator("#invite-name").fill("Nueva Persona")
    page.locator("#invite-role").select_option("editor")
    page.get_by_role("button", name="Invitar").click()
    link = page.locator("#made-url").input_value()
    assert link.startswith(server.url + "/links/")
    assert_accessible(page)

    row = page.locator("tr", has_text=email)
    row.get_by_role("combobox").select_option("viewer")
    row.get_by_role("button", name=re.compile("Cambiar rol")).click()
    expect(page.get_by_role("status")).to_contain_text("Rol cambiado")
    expect(page.locator("tr", has_text=email).get_by_role("combobox")).to_have_value("viewer")

    page.locator("tr", has_text=email).get_by_role(
        "button", name=re.compile("nueva contraseña")
    ).click()
    expect(page.locator("#made-url")).to_have_value(re.compile(r"/links/"))

    page.locator("tr", has_text=email).get_by_role("link", name=re.compile("Quitar")).click()
    expect(page.locator("h1")).to_have_text("Quitar a una persona")
    assert_accessible(page)
    page.get_by_role("button", name="Sí, quitar").click()
    expect(page.get_by_role("status")).to_contain_text("quitada")
    expect(page.locator("tr", has_text=email)).to_have_count(0)


def test_admin_creates_and_revokes_a_key(page: Page, team: Team, server: Server) -> None:
    sign_in(page, team.emails["admin"], lang="en")
    page.goto("/admin/keys")
    expect(page.locator("h1")).to_have_text("API keys")
    page.locator("#key-name").fill("partner app")
    page.locator("#key-role").select_option("viewer")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#created-secret").input_value()
    assert secret.startswith("oca_")
    assert_accessible(page)
    answer = page.request.get("/v1/organizations", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status == 200
    page.get_by_role("button", name=re.compile("Revoke — partner app")).click()
    expect(page.get_by_role("status")).to_contain_text("Key revoked")
    answer = page.request.get("/v1/organizations", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status == 401
    assert_accessible(page)


def test_a_forged_post_is_refused(page: Page, team: Team, server: Server) -> None:
    sign_in(page, team.emails["admin"], lang="en")
    with server.sessions() as session:
        before = session.scalar(select(func.count()).select_from(ApiKey))
    for data in ({"role": "admin", "name": "forged"}, {"role": "admin", "csrf_token": "0" * 64}):
        # the signed-in browser's own cookies go along; only the form token is missing or wrong
        answer = page.request.post("/admin/keys", form=data, max_redirects=0)
        assert answer.status in (400, 403), answer.status
    with server.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ApiKey)) == before
    answer = page.request.post(
        "/admin/keys", form={"role": "admin", "csrf_token": "0" * 64}, max_redirects=0
    )
    assert answer.status == 403 and "did not come from this page" in answer.text()


def test_a_cross_site_form_does_not_carry_the_session(
    context: BrowserContext, page: Page, team: Team, server: Server
) -> None:
    sign_in(page, team.emails["admin"])
    with server.sessions() as session:
        before = session.scalar(select(func.count()).select_from(ApiKey))
    target = f"{server.url}/admin/keys"
    context.route(
        "http://evil.example/**",
        lambda route: route.fulfill(
            content_type="text/html",
            body=f'<form method="post" action="{target}"><input name="role" value="admin">'
            "<button>go</button></form>",
        ),
    )
    evil = context.new_page()
    evil.goto("http://evil.example/")
    evil.get_by_role("button", name="go").click()
    evil.wait_for_load_state()
    # SameSite=Lax keeps the cookie home and the form has no token: nothing is made
    expect(evil.locator("#created-secret")).to_have_count(0)
    assert evil.url.startswith(server.url)
    evil.close()
    with server.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ApiKey)) == before


def test_another_workspace_url_is_a_404_page(page: Page, team: Team, server: Server) -> None:
    with server.sessions() as session:
        email = f"other-{uuid.uuid4().hex[:6]}@example.org"
        people.create_person(
            session, email=email, name="Other", password=PASSWORD, workspace="otro-ws", role="admin"
        )
        stranger = session.scalar(select(Person.id).where(Person.email == email))
    sign_in(page, team.emails["admin"])
    answer = page.goto(f"/admin/people/{stranger}/remove")
    assert answer is not None and answer.status == 404
    expect(page.locator("h1")).to_have_text("Página no encontrada")
    assert_accessible(page)


def test_instrument_pages_in_both_languages(page: Page, team: Team) -> None:
    sign_in(page, team.emails["viewer"])
    page.get_by_role("link", name="Instrumentos").first.click()
    expect(page.locator("h1")).to_have_text("Instrumentos")
    assert_accessible(page)
    page.get_by_role("link", name="2015.2").first.click()
    expect(page.get_by_role("heading", name="Cómo se calcula la puntuación")).to_be_visible()
    assert_accessible(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="Descargar en español").click()
    assert download.value.suggested_filename.endswith("-es.xlsx")
    page.goto("/instruments/nupas/2020.1?lang=en")
    expect(page.get_by_role("heading", name="How the score is calculated")).to_be_visible()
    assert_accessible(page)


def test_admin_adds_and_pauses_a_webhook(page: Page, team: Team) -> None:
    for lang, heading, create, pause in (
        ("es", "Webhooks", "Crear la suscripción", "Pausar"),
        ("en", "Webhooks", "Create the subscription", "Pause"),
    ):
        sign_in(page, team.emails["admin"], lang=lang)
        page.goto(f"/admin/webhooks?lang={lang}")
        expect(page.locator("h1")).to_have_text(heading)
        url = f"https://1.1.1.1/{lang}-events"
        page.locator("#hook-url").fill(url)
        page.get_by_role("button", name=create).click()
        assert page.locator("#created-secret").input_value().startswith("whsec_")
        assert_accessible(page)
        page.get_by_role("button", name=f"{pause} — {url}").click()
        expect(page.get_by_role("status")).to_be_visible()
        assert_accessible(page)
        page.context.clear_cookies()
