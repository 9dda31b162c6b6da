"""The interactive API docs load with no network beyond the app itself, under a strict CSP."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.browser.conftest import Server


def test_docs_load_offline(context: BrowserContext, page: Page, server: Server) -> None:
    elsewhere: list[str] = []

    def only_the_app(route: Route) -> None:
        if route.request.url.startswith(server.url):
            route.fallback()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_app)
    answer = page.goto("/docs")
    assert answer is not None and answer.status == 200
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("OCA Engine")
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() > 20
    assert elsewhere == []
