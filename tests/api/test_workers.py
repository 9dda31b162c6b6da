"""`oca serve` with several real worker processes: metrics add up across workers, and SIGTERM
stops them cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config import REPO_ROOT


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


@pytest.fixture()
def two_workers(tmp_path: Path, database_url: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = _free_port()
    env = {
        **os.environ,
        "OCA_DATA_DIR": str(tmp_path),
        "OCA_DATABASE_URL": database_url,
        "OCA_METRICS_TOKEN": "scrape",
        "OCA_LOG_FORMAT": "json",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--workers", "2", "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
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
        proc.kill()
        raise AssertionError(proc.communicate()[0].decode(errors="replace")[-3000:])
    yield proc, base
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_metrics_sum_every_worker_and_sigterm_stops_cleanly(
    two_workers: tuple[subprocess.Popen[bytes], str],
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
    output = proc.communicate(timeout=30)[0].decode(errors="replace")
    assert proc.returncode == 0, output[-3000:]
    assert "Traceback" not in output
    assert '"request_id"' in output  # the JSON log lines name their request
