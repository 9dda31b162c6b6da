"""Request ids, access lines, security headers, CORS, readiness and settings checked at start."""

from __future__ import annotations

import json
import logging
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, text

from app.api.observe import JsonFormatter, accepted_request_id
from app.config import Settings
from app.main import SettingsInvalid, create_app
from tests.api.factories import assert_problem, call


def test_every_answer_carries_a_request_id_and_problems_quote_it(tenant: Any) -> None:
    ok = call(tenant, "GET", "/v1/organizations")
    assert ok.status_code == 200
    generated = ok.headers["X-Request-ID"]
    assert len(generated) == 32 and int(generated, 16) >= 0

    missing = call(tenant, "GET", f"/v1/organizations/{uuid.uuid4()}")
    body = assert_problem(missing, 404, "not-found")
    assert body["request_id"] == missing.headers["X-Request-ID"]
    assert body["request_id"] != generated  # one per request


def test_a_sane_incoming_request_id_is_kept_and_a_hostile_one_replaced(tenant: Any) -> None:
    kept = tenant.client.get(
        "/v1/nothing", headers=tenant.headers(**{"X-Request-ID": "edge-7f3a.42:1"})
    )
    assert kept.headers["X-Request-ID"] == "edge-7f3a.42:1"
    assert kept.json()["request_id"] == "edge-7f3a.42:1"
    for hostile in ("a" * 200, "x y", "<script>", "", "-leading-dash", "line\u00e9"):
        assert accepted_request_id(hostile) != hostile
    replaced = tenant.client.get(
        "/v1/organizations", headers=tenant.headers(**{"X-Request-ID": "a" * 129})
    )
    assert replaced.headers["X-Request-ID"] != "a" * 129


def test_security_headers_on_every_answer(client: TestClient, tenant: Any) -> None:
    for response in (
        client.get("/healthz"),
        call(tenant, "GET", "/v1/organizations"),
        client.get("/v1/organizations"),  # 401 problem
        client.get("/nothing"),  # 404 problem
    ):
        h = response.headers
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["Referrer-Policy"] == "no-referrer"
        assert h["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
        assert "default-src 'none'" in h["Content-Security-Policy"]
        assert "Strict-Transport-Security" not in h  # plain HTTP here
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "default-src 'none'" not in docs.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in docs.headers["Content-Security-Policy"]


def test_hsts_only_over_https(settings: Settings) -> None:
    with TestClient(create_app(settings), base_url="https://oca.example.org") as c:
        assert c.get("/healthz").headers["Strict-Transport-Security"].startswith("max-age=")


def test_cors_is_closed_by_default_and_open_per_origin(settings: Settings, tenant: Any) -> None:
    preflight = {
        "Origin": "https://partner.example.org",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    closed = tenant.client.options("/v1/organizations", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers

    opened = settings.model_copy(update={"cors_origins": "https://partner.example.org/"})
    with TestClient(create_app(opened)) as c:
        allowed = c.options("/v1/organizations", headers=preflight)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://partner.example.org"
        other = c.options(
            "/v1/organizations", headers={**preflight, "Origin": "https://evil.example.com"}
        )
        assert "access-control-allow-origin" not in other.headers
        read = c.get(
            "/v1/organizations",
            headers={"Origin": "https://partner.example.org", **tenant.headers()},
        )
        assert read.status_code == 200
        assert "X-Request-ID" in read.headers["access-control-expose-headers"]


def test_access_line_names_the_request_and_hides_keys(
    tenant: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="oca.access"):
        response = tenant.client.get(
            "/v1/organizations?q=secret-name", headers=tenant.headers(**{"X-Request-ID": "trace-1"})
        )
    lines = [r for r in caplog.records if r.name == "oca.access"]
    assert len(lines) == 1
    record = lines[0]
    assert record.status == response.status_code == 200  # type: ignore[attr-defined]
    assert record.route == "/v1/organizations"  # type: ignore[attr-defined]
    rendered = JsonFormatter().format(record)
    entry = json.loads(rendered)
    assert entry["request_id"] == "trace-1"
    assert tenant.keys["editor"] not in rendered and "secret-name" not in rendered


def test_json_log_lines_carry_the_request_id() -> None:
    from app.api.observe import REQUEST_ID, _RequestIdFilter

    token = REQUEST_ID.set("abc123")
    try:
        record = logging.LogRecord("oca.api", logging.ERROR, __file__, 1, "boom %s", ("x",), None)
        _RequestIdFilter().filter(record)
    finally:
        REQUEST_ID.reset(token)
    entry = json.loads(JsonFormatter().format(record))
    assert entry == {
        "time": entry["time"],
        "level": "error",
        "logger": "oca.api",
        "message": "boom x",
        "request_id": "abc123",
    }


def test_readyz_says_ready_then_names_what_fails(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    with TestClient(create_app(settings)) as c:
        ready = c.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ready"
        assert {ch["name"] for ch in ready.json()["checks"]} == {
            "database",
            "migrations",
            "instruments",
            "jobs",
        }

    # An instrument file edited under a published version: not ready, and says which.
    folder = tmp_path / "instruments"
    shutil.copytree(settings.instruments_dir, folder)
    edited = settings.model_copy(update={"instruments_dir": folder})
    with TestClient(create_app(edited)) as c:
        assert c.get("/readyz").status_code == 200
        target = next(folder.glob("opi/*.yaml"))
        target.write_bytes(target.read_bytes() + b"\n# edited in place\n")
        body = assert_problem(c.get("/readyz"), 503, "not-ready")
        failing = {ch["name"]: ch for ch in body["checks"] if not ch["ok"]}
        assert set(failing) == {"instruments"}
        assert target.name in failing["instruments"]["detail"]


def test_readyz_names_a_database_behind_its_migrations(settings: Settings, engine: Engine) -> None:
    with TestClient(create_app(settings)) as c:
        with engine.begin() as conn:
            (at,) = conn.execute(text("SELECT version_num FROM alembic_version")).one()
            conn.execute(text("UPDATE alembic_version SET version_num = 'older'"))
        try:
            body = assert_problem(c.get("/readyz"), 503, "not-ready")
        finally:
            with engine.begin() as conn:
                conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": at})
        failing = [ch for ch in body["checks"] if not ch["ok"]]
        assert [ch["name"] for ch in failing] == ["migrations"]
        assert "oca db upgrade" in failing[0]["detail"]


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        ({"database_url": "not a url"}, "OCA_DATABASE_URL is not a database URL"),
        ({"database_url": "mysql://root@localhost/x"}, "'mysql' databases are not supported"),
        ({"instruments_dir": Path("/nonexistent/instruments")}, "is not a folder"),
        ({"cors_origins": "partner.example.org"}, "is not an origin"),
        ({"evidence_dir": Path("/proc/oca-evidence")}, "OCA_EVIDENCE_DIR: folder"),
    ],
)
def test_settings_that_cannot_work_stop_the_start_with_one_line(
    settings: Settings, update: dict[str, Any], expected: str
) -> None:
    bad = settings.model_copy(update=update)
    problems = bad.problems()
    assert len(problems) == 1 and expected in problems[0]
    with pytest.raises(SettingsInvalid, match=expected), TestClient(create_app(bad)):
        pass


def test_an_unwritable_data_folder_is_named(settings: Settings, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    blocker = locked / "file"
    blocker.write_text("")
    # a folder that cannot be created because a file stands in its path
    bad = settings.model_copy(update={"database_url": None, "data_dir": blocker / "data"})
    problems = bad.problems()
    assert len(problems) == 1 and "cannot be created" in problems[0]


def _sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
        if not labels and line.startswith(f"{name} "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name}{{{wanted}}} not in metrics")


def test_metrics_are_off_without_a_token_and_need_it(settings: Settings, tenant: Any) -> None:
    assert tenant.client.get("/metrics").status_code == 404
    guarded = settings.model_copy(update={"metrics_token": SecretStr("s3cret-scrape")})
    with TestClient(create_app(guarded)) as c:
        assert_problem(c.get("/metrics"), 401, "unauthorized")
        assert_problem(
            c.get("/metrics", headers={"Authorization": "Bearer wrong"}), 401, "unauthorized"
        )
        assert (
            c.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"}).status_code == 200
        )


def test_metrics_count_requests_by_route_template_and_scoring(
    settings: Settings, tenant: Any
) -> None:
    from tests.api.factories import create_org, scored

    guarded = settings.model_copy(update={"metrics_token": SecretStr("tok")})
    scrape = {"Authorization": "Bearer tok"}
    with TestClient(create_app(guarded)) as c:
        tenant.client = c
        before = c.get("/metrics", headers=scrape).text
        scored(tenant, create_org(tenant)["id"], "opi")
        for _ in range(3):
            c.get(f"/v1/organizations/{uuid.uuid4()}", headers=tenant.headers())
        after = c.get("/metrics", headers=scrape).text

    route = "/v1/organizations/{org_id}"
    labels = {"method": "GET", "route": route, "status": "404"}
    grew = _sample(after, "oca_http_requests_total", **labels) - (
        _sample(before, "oca_http_requests_total", **labels)
        if f'route="{route}",status="404"' in before
        else 0.0
    )
    assert grew == 3
    assert not re.search(r'route="[^"]*[0-9a-f]{8}-[0-9a-f]{4}', after)  # never raw paths
    assert _sample(after, "oca_scoring_seconds_count") > (
        _sample(before, "oca_scoring_seconds_count")
        if "oca_scoring_seconds_count" in before
        else 0.0
    )
    assert _sample(after, "oca_db_connections_in_use") >= 0
    assert "oca_http_request_duration_seconds_bucket" in after


def test_metrics_count_imported_workbooks_by_outcome(settings: Settings, tenant: Any) -> None:
    scrape = {"Authorization": "Bearer tok"}
    guarded = settings.model_copy(update={"metrics_token": SecretStr("tok")})

    def count(text: str, outcome: str) -> float:
        try:  # absent until the first such import (dry runs are counted apart)
            return _sample(text, "oca_imported_workbooks_total", outcome=outcome, dry_run="false")
        except AssertionError:
            return 0.0

    with TestClient(create_app(guarded)) as c:
        before = c.get("/metrics", headers=scrape).text
        upload = c.post(
            "/v1/imports",
            files=[("files", ("x.xlsx", b"not a workbook", "application/octet-stream"))],
            headers=tenant.headers(),
        )
        assert upload.status_code == 422
        after = c.get("/metrics", headers=scrape).text
    assert count(after, "rejected") == count(before, "rejected") + 1


def test_an_unexpected_error_still_names_its_request(settings: Settings) -> None:
    """Found in review: a 500 carried neither the request id nor the security headers."""
    app = create_app(settings)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom", headers={"X-Request-ID": "trace-500"})
    body = assert_problem(r, 500, "internal-error")
    assert body["request_id"] == r.headers["X-Request-ID"] == "trace-500"
    assert "secret internals" not in r.text
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_a_crafted_path_cannot_forge_a_log_line(
    tenant: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="oca.access"):
        tenant.client.get("/v1/x%0a2026-12-05 INFO oca.access [admin] POST /v1/keys -> 201")
    (record,) = [r for r in caplog.records if r.name == "oca.access"]
    assert "\n" not in record.getMessage()
    assert "%0a" in record.getMessage()
    assert record.method == "GET" and record.route is None  # type: ignore[attr-defined]


def test_an_empty_metrics_token_keeps_metrics_off(settings: Settings) -> None:
    """Found in review: OCA_METRICS_TOKEN= (empty) opened /metrics to `Bearer ` with nothing."""
    empty = settings.model_copy(update={"metrics_token": SecretStr("")})
    with TestClient(create_app(empty)) as c:
        assert c.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404
