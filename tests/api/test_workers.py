"""`oca serve` with several real worker processes on the test database: a write through one worker
is read by the next request on any worker, a revoked key is refused by every worker at once,
metrics add up across workers, and SIGTERM stops them cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.config import REPO_ROOT
from app.services.keys import create_key


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _call(
    base: str, method: str, path: str, key: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    """One request on a connection of its own, so that the kernel picks any worker."""
    request = urllib.request.Request(
        base + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@contextmanager
def serving(
    workers: int, tmp_path: Path, database_url: str, **settings: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = _free_port()
    env = {
        **os.environ,
        "OCA_DATA_DIR": str(tmp_path),
        "OCA_DATABASE_URL": database_url,
        "OCA_METRICS_TOKEN": "scrape",
        "OCA_LOG_FORMAT": "json",
        # webhook deliveries are the webhook tests' to drive: these workers leave them alone
        "OCA_WEBHOOK_DELIVERY": "false",
        # and their job runners stay off unless a test turns them on (tests/api/test_jobs*.py)
        "OCA_JOBS_ENABLED": "false",
        **settings,
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = (tmp_path / "server.log").open("wb")  # a file, not a pipe: a full pipe would block it
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--workers", str(workers), "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the workers go with it (_stop)
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _get(f"{base}/readyz")[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.2)
    else:
        _stop(proc)
        log.close()
        raise AssertionError((tmp_path / "server.log").read_text(errors="replace")[-3000:])
    try:
        yield proc, base
    finally:
        _stop(proc)
        log.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """The server and every worker it spawned: killing only the first would leave the workers
    running on the test database after the test (found when they took other tests' work)."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.fixture()
def two_workers(tmp_path: Path, database_url: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    with serving(2, tmp_path, database_url) as served:
        yield served


def test_four_workers_read_their_writes_and_revoke_at_once(
    tmp_path: Path, database_url: str, session: Session
) -> None:
    tenant_keys = {
        role: create_key(session, workspace=f"ws-{uuid.uuid4().hex[:8]}", role=role)
        for role in ("admin",)
    }
    workspace = tenant_keys["admin"].workspace
    editor = create_key(session, workspace=workspace, role="editor")
    viewer = create_key(session, workspace=workspace, role="viewer")
    admin = tenant_keys["admin"].secret
    with serving(4, tmp_path, database_url) as (_, base):
        for n in range(12):
            status, org = _call(base, "POST", "/v1/organizations", editor.secret, {"name": f"O{n}"})
            assert status == 201, org
            status, read = _call(base, "GET", f"/v1/organizations/{org['id']}", viewer.secret)
            assert (status, read["name"]) == (200, f"O{n}")
            status, _ = _call(
                base,
                "PATCH",
                f"/v1/organizations/{org['id']}",
                editor.secret,
                {"name": f"O{n} renamed"},
            )
            assert status == 200
            status, read = _call(base, "GET", f"/v1/organizations/{org['id']}", viewer.secret)
            assert read["name"] == f"O{n} renamed"

        listed = _call(base, "GET", "/v1/organizations?limit=100", viewer.secret)[1]
        assert len(listed["items"]) == 12

        status, _ = _call(base, "DELETE", f"/v1/keys/{viewer.id}", admin)
        assert status == 200
        for _ in range(16):  # every worker refuses it from the first request on
            status, problem = _call(base, "GET", "/v1/organizations", viewer.secret)
            assert status == 401, problem


def test_metrics_sum_every_worker_and_sigterm_stops_cleanly(
    two_workers: tuple[subprocess.Popen[bytes], str], tmp_path: Path
) -> None:
    proc, base = two_workers
    for _ in range(40):  # a new connection each time: the kernel spreads them over the workers
        assert _get(f"{base}/healthz")[0] == 200
    status, scrape = _get(f"{base}/metrics", {"Authorization": "Bearer scrape"})
    assert status == 200
    for line in scrape.splitlines():
        if line.startswith("oca_http_requests_total{") and 'route="/healthz"' in line:
            total = float(line.rsplit(" ", 1)[1])
            break
    else:
        raise AssertionError("no /healthz count in:\n" + scrape[:2000])
    assert total == 40  # the sum over both workers, whichever answered the scrape
    assert "pid=" not in scrape  # livesum gauges fold the workers into one number

    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    output = (tmp_path / "server.log").read_text(errors="replace")
    assert proc.returncode == 0, output[-3000:]
    assert "Traceback" not in output
    assert '"request_id"' in output  # the JSON log lines name their request
    # OCA_LOG_FORMAT=json: every log line is one JSON object, the parent process's too (found by
    # following docs/operations.md: its "Uvicorn running on" and shutdown lines were plain text);
    # only the command's own two lines before serving are not log lines.
    lines = output.splitlines()
    assert lines[0].startswith("database: ") and lines[1].startswith("OCA Engine on http")
    messages = [json.loads(line)["message"] for line in lines[2:]]
    assert any(m.startswith("Uvicorn running on") for m in messages)
    assert any(m.startswith("Stopping parent process") for m in messages)
