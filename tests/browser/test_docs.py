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
    # "Try it out" calls the API from the page (connect-src 'self')
    healthz = page.locator(
        ".opblock", has=page.locator(".opblock-summary-path", has_text="/healthz")
    )
    healthz.locator(".opblock-summary-control").click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    expect(page.locator(".live-responses-table tbody .response-col_status").first).to_have_text(
        "200"
    )
    assert elsewhere == []
