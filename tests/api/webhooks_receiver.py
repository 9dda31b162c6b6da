"""A partner's receiver for the webhook tests: a real HTTP server on the loopback, threaded,
that verifies signatures as docs/webhooks.md tells a receiver to, and can be told to fail, to
hang past the sender's timeout, or to work again."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session, sessionmaker

from app.config import REPO_ROOT, Settings
from app.db.models import WebhookEvent, WebhookSubscription
from app.db.session import make_sessionmaker
from app.main import create_app
from tests.conftest import ContractClient


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300) -> bool:
    """What a receiver does (docs/webhooks.md): recompute the HMAC over "{t}.{body}", compare in
    constant time, and refuse old timestamps (replays)."""
    parts = dict(p.split("=", 1) for p in headers["oca-signature"].split(","))
    timestamp = int(parts["t"])
    if abs(time.time() - timestamp) > tolerance or str(timestamp) != headers["oca-timestamp"]:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts["v1"])


def documented_verify() -> Any:
    """The ``verify`` function exactly as docs/webhooks.md prints it for receivers."""
    text = (REPO_ROOT / "docs" / "webhooks.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # our own documentation, tested as written
    return namespace["verify"]


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str = ""
    mode: str = "ok"  # ok | fail | hang
    hang_seconds: float = 3.0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self) -> list[str]:
        with self.lock:
            return [r.headers["oca-event"] for r in self.received]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.lock:
                receiver.received.append(
                    Received({k.lower(): v for k, v in self.headers.items()}, body)
                )
            if receiver.mode == "hang":
                time.sleep(receiver.hang_seconds)
            code = 500 if receiver.mode == "fail" else 204
            try:
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass  # the sender gave up waiting

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(name="receiver")
def receiver_fixture() -> Iterator[Receiver]:
    r = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(r))
    server.daemon_threads = True
    r.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/oca"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield r
    server.shutdown()
    server.server_close()


def webhook_settings(settings: Settings, **changes: Any) -> Settings:
    """The test settings, allowing a receiver on the loopback over plain http."""
    return settings.model_copy(
        update={
            "webhook_allow_private": True,
            "webhook_allow_http": True,
            "webhook_timeout_seconds": 1.0,
            "webhook_pause_after_failures": 3,
            "webhook_delivery": False,  # the tests drive delivery themselves, step by step
            **changes,
        }
    )


@pytest.fixture(name="wh_settings")
def wh_settings_fixture(settings: Settings) -> Settings:
    return webhook_settings(settings)


@pytest.fixture(name="wh_client")
def wh_client_fixture(wh_settings: Settings) -> Iterator[TestClient]:
    with ContractClient(create_app(wh_settings), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(name="sessions")
def sessions_fixture(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions on the test database. Afterwards every subscription and event is removed (only
    the webhook tests make them), so no test's deliveries are claimed by another's runs."""
    made = make_sessionmaker(engine)
    yield made
    with made() as s, s.begin():
        s.execute(delete(WebhookSubscription))  # its deliveries and attempts go with it
        s.execute(delete(WebhookEvent))
