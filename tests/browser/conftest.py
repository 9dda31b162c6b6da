"""Browser tests: the real service (``oca serve`` on a free port, its own database) driven by
headless Chromium through Playwright, with axe-core checking every page.

One server and one browser per test session (starting Chromium is the slow part); each test gets
a fresh browser context (own cookies) and its own workspace, so tests stay independent.

Database: a SQLite file in a temporary folder; with OCA_TEST_DATABASE_URL on PostgreSQL, a
separate database named ``<that database>_browser`` (created if missing, emptied each run), so
the server never shares tables with the API tests that reset theirs in the same run.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.config import REPO_ROOT
from app.db.session import make_engine, make_sessionmaker
from app.services import people
from tests.conftest import own_postgres_database

HERE = Path(__file__).parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
AXE_URL = "/__browser-tests__/axe.min.js"
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "a-long-enough-secret"
SERIOUS = {"serious", "critical"}
# Generous: on a busy 2-core machine Chromium may take seconds to parse Swagger UI's bundle.
TIMEOUT_MS = 30_000
expect.set_options(timeout=TIMEOUT_MS)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    database_url: str
    sessions: sessionmaker[Session]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("browser")
    given = os.environ.get("OCA_TEST_DATABASE_URL")
    if given and make_url(given).get_backend_name() == "postgresql":
        database_url = own_postgres_database("browser")
    else:
        database_url = f"sqlite:///{folder / 'browser.db'}"
    port = _free_port()
    env = {
        **os.environ,
        "OCA_DATA_DIR": str(folder),
        "OCA_DATABASE_URL": database_url,
        "OCA_INSTRUMENTS_DIR": str(REPO_ROOT / "instruments"),
    }
    oca = Path(sys.executable).parent / "oca"
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(
        [str(oca), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO_ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    "oca serve stopped: " + (folder / "server.log").read_text()[-3000:]
                )
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("oca serve did not answer /healthz within 60 s")
            time.sleep(0.2)
        engine = make_engine(database_url)
        yield Server(url, database_url, make_sessionmaker(engine))
        engine.dispose()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


@dataclass
class Team:
    """A fresh workspace with one person per role (e-mail addresses by role)."""

    workspace: str
    emails: dict[str, str]


@pytest.fixture()
def team(server: Server) -> Team:
    workspace = f"ws-{uuid.uuid4().hex[:8]}"
    emails = {}
    with server.sessions() as session:
        for role in ("admin", "editor", "viewer"):
            email = f"{role}-{uuid.uuid4().hex[:6]}@example.org"
            people.create_person(
                session,
                email=email,
                name=f"{role.title()} Persona",
                password=PASSWORD,
                workspace=workspace,
                role=role,
            )
            emails[role] = email
    return Team(workspace, emails)


@pytest.fixture()
def context(browser: Browser, server: Server) -> Iterator[BrowserContext]:
    assert AXE.is_file(), f"{AXE} is missing: run `npm ci` in tests/browser (scripts/test does)"
    ctx = browser.new_context(base_url=server.url, locale="es-MX")
    ctx.set_default_timeout(TIMEOUT_MS)
    # axe-core is offered as if the site served it, so the pages' CSP (script-src 'self') stays
    # on in every test: an inline <script> (add_script_tag(path=...)) would be refused.
    ctx.route(
        f"**{AXE_URL}",
        lambda route: route.fulfill(path=AXE, content_type="text/javascript; charset=utf-8"),
    )
    yield ctx
    ctx.close()


class Watched:
    """A page with the CSP violations and page errors it met, to assert there were none."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))

    def _console(self, message: Any) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.problems.append(message.text)


@pytest.fixture()
def watched(context: BrowserContext) -> Watched:
    return Watched(context.new_page())


@pytest.fixture()
def page(watched: Watched) -> Iterator[Page]:
    yield watched.page
    assert watched.problems == [], watched.problems


def sign_in(page: Page, email: str, password: str = PASSWORD, lang: str = "es") -> None:
    """Through the form, as a person would; lands on the home page."""
    page.goto(f"/sign-in?lang={lang}")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.locator("form.stack button[type=submit]").click()
    page.wait_for_url("**/")


def axe(page: Page) -> list[dict[str, Any]]:
    """Serious or critical accessibility violations on the page as it is now (axe-core)."""
    page.add_script_tag(url=AXE_URL)
    result: dict[str, Any] = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in SERIOUS
    ]


def assert_accessible(page: Page) -> None:
    found = axe(page)
    assert found == [], f"{page.url}: {found}"
