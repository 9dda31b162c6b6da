"""Imports as background jobs (`Prefer: respond-async`): the same results as the synchronous
import, failures with their reason, tenancy, recovery of a job whose runner died, graceful stop,
metrics and readiness. The runner is the real one, in the app's lifespan; the shared test client
runs none (tests/conftest.py), so jobs queued through it wait until a test starts a runner."""

from __future__ import annotations

import io
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from app.catalog import Catalog
from app.config import Settings
from app.db.models import Job
from app.db.session import make_sessionmaker
from app.excel import Prefill, build_template
from app.main import create_app
from app.services import jobs
from app.services.common import now
from app.services.jobs_runner import JobRunner
from tests.api.factories import add_member, create_cohort, create_org, scored
from tests.conftest import ContractClient, Tenant

IDS = ("assessment_id", "organization_id")


def workbook(catalog: Catalog, org: str, value: object = 3.0, instrument: str = "opi") -> bytes:
    f = catalog.latest(instrument)
    assert f is not None
    answers = {k: value for k in f.instrument.item_keys}
    pre = Prefill(org, None, "baseline", date(2024, 2, 2), None, answers, {})  # type: ignore[arg-type]
    return build_template(f.instrument, f.content_hash, "en", pre)


def batch(catalog: Catalog, n: int, tag: str) -> list[tuple[str, bytes]]:
    """``n`` workbooks of ``n`` organizations, and one that is not a workbook."""
    files = [
        (f"org-{i}.xlsx", workbook(catalog, f"Org {tag} {i}", 1.0 + (i % 4))) for i in range(n)
    ]
    return [*files, ("broken.xlsx", b"not a workbook")]


def post(
    client: TestClient, tenant: Tenant, files: list[tuple[str, bytes]], *, prefer: bool = True
) -> Any:
    headers = tenant.headers(**({"Prefer": "respond-async"} if prefer else {}))
    return client.post(
        "/v1/imports?create_organizations=true",
        files=[("files", (name, data, "application/octet-stream")) for name, data in files],
        headers=headers,
    )


def wait(client: TestClient, tenant: Tenant, location: str, seconds: float = 90) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        r = client.get(location, headers=tenant.headers("viewer"))
        assert r.status_code == 200, r.text
        body = r.json()
        if body["status"] in ("succeeded", "failed"):
            assert "Retry-After" not in r.headers
            return body
        assert r.headers["Retry-After"] == "1"
        time.sleep(0.05)
    raise AssertionError(f"job still {body['status']} after {seconds} s: {body}")


def without_ids(body: dict[str, Any]) -> dict[str, Any]:
    return {
        **body,
        "results": [{k: v for k, v in r.items() if k not in IDS} for r in body["results"]],
    }


def job_settings(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(
        update={"jobs_enabled": True, "jobs_poll_seconds": 0.05, "metrics_token": None, **changes}
    )


@pytest.fixture()
def runner_client(settings: Settings) -> Iterator[TestClient]:
    """An app with a running job runner; closing it stops the runner."""
    with ContractClient(create_app(job_settings(settings)), raise_server_exceptions=False) as c:
        yield c


def test_an_import_job_gives_what_the_synchronous_import_gives(
    runner_client: TestClient, tenant: Tenant, other_tenant: Tenant, catalog: Catalog
) -> None:
    files = batch(catalog, 3, "same")
    direct = post(runner_client, other_tenant, files, prefer=False)
    assert direct.status_code == 200, direct.text

    accepted = post(runner_client, tenant, files)
    assert accepted.status_code == 202, accepted.text
    assert accepted.headers["Preference-Applied"] == "respond-async"
    location = accepted.headers["Location"]
    queued = accepted.json()
    assert location == f"/v1/jobs/{queued['id']}" == queued["links"]["self"]
    assert queued["status"] in ("queued", "running") and queued["progress"]["total"] == 4
    assert queued["kind"] == "import" and queued["result"] is None

    done = wait(runner_client, tenant, location)
    assert done["status"] == "succeeded", done
    assert done["progress"] == {"done": 4, "total": 4}
    assert done["attempts"] == 1 and done["error"] is None
    assert done["created_by"].startswith("key:")
    assert without_ids(done["result"]) == without_ids(direct.json())
    assert [r["status"] for r in done["result"]["results"]] == [
        "created",
        "created",
        "created",
        "rejected",
    ]
    # the assessments are the caller's, readable like any other
    first = done["result"]["results"][0]["assessment_id"]
    read = runner_client.get(f"/v1/assessments/{first}", headers=tenant.headers("viewer"))
    assert read.status_code == 200
    assert read.json()["organization_id"] == done["result"]["results"][0]["organization_id"]


def test_a_dry_run_job_writes_nothing(
    runner_client: TestClient, tenant: Tenant, catalog: Catalog
) -> None:
    r = runner_client.post(
        "/v1/imports?create_organizations=true&dry_run=true",
        files=[("files", ("a.xlsx", workbook(catalog, "Dry org"), "application/octet-stream"))],
        headers=tenant.headers(Prefer="wait=10, respond-async"),
    )
    assert r.status_code == 202, r.text
    done = wait(runner_client, tenant, r.headers["Location"])
    assert done["result"]["dry_run"] is True and done["result"]["accepted"] == 1
    listed = runner_client.get("/v1/assessments", headers=tenant.headers("viewer")).json()
    assert listed["items"] == []


def test_a_job_whose_input_is_gone_fails_with_the_reason(
    client: TestClient, settings: Settings, tenant: Tenant, catalog: Catalog
) -> None:
    r = post(client, tenant, [("a.xlsx", workbook(catalog, "Lost org"))])
    assert r.status_code == 202  # the shared client runs no jobs: it waits in the queue
    job_id = uuid.UUID(r.json()["id"])
    shutil.rmtree(jobs.folder(settings, tenant.principal.workspace_id, job_id))
    with ContractClient(create_app(job_settings(settings))) as runner_client:
        failed = wait(runner_client, tenant, f"/v1/jobs/{job_id}")
    assert failed["status"] == "failed"
    assert "stored input file 0.xlsx is missing" in failed["error"]
    assert "falta el archivo de entrada" in failed["error_es"]
    assert failed["result"] is None and failed["progress"]["done"] == 0


def test_another_workspace_gets_not_found(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, catalog: Catalog
) -> None:
    r = post(client, tenant, [("a.xlsx", workbook(catalog, "Mine"))])
    location = r.headers["Location"]
    assert client.get(location, headers=tenant.headers("viewer")).status_code == 200
    for path in (location, f"{location}/file", f"/v1/jobs/{uuid.uuid4()}"):
        theirs = client.get(path, headers=other_tenant.headers("admin"))
        assert theirs.status_code == 404, path
        assert theirs.headers["content-type"] == "application/problem+json"
    assert client.get(location).status_code == 401


def test_a_viewer_cannot_queue_an_import(
    client: TestClient, tenant: Tenant, catalog: Catalog
) -> None:
    r = client.post(
        "/v1/imports",
        files=[("files", ("a.xlsx", workbook(catalog, "V"), "application/octet-stream"))],
        headers=tenant.headers("viewer", Prefer="respond-async"),
    )
    assert r.status_code == 403


def test_an_upload_that_cannot_be_read_is_refused_before_any_job(
    client: TestClient, engine: Engine, tenant: Tenant
) -> None:
    r = post(client, tenant, [("a.zip", b"PK\x03\x04 not really a zip")])
    assert r.status_code == 422, r.text
    with Session(engine) as s:
        assert s.query(Job).filter_by(workspace_id=tenant.principal.workspace_id).count() == 0


def _lapse(engine: Engine, job_id: uuid.UUID, attempts: int) -> None:
    """What a runner killed mid-job leaves: the job running, its lease run out."""
    with Session(engine) as s, s.begin():
        s.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(
                status="running",
                claim="0" * 32,
                claimed_until=now() - timedelta(seconds=1),
                attempts=attempts,
                started_at=now() - timedelta(minutes=1),
            )
        )


def test_a_job_left_running_by_a_dead_runner_is_run_again(
    client: TestClient, settings: Settings, engine: Engine, tenant: Tenant, catalog: Catalog
) -> None:
    r = post(client, tenant, batch(catalog, 2, "dead"))
    job_id = uuid.UUID(r.json()["id"])
    _lapse(engine, job_id, attempts=1)
    assert client.get(f"/v1/jobs/{job_id}", headers=tenant.headers()).json()["status"] == "running"
    with ContractClient(create_app(job_settings(settings))) as runner_client:
        done = wait(runner_client, tenant, f"/v1/jobs/{job_id}")
    assert done["status"] == "succeeded" and done["attempts"] == 2
    assert [r["status"] for r in done["result"]["results"]] == ["created", "created", "rejected"]


def test_a_job_whose_runner_died_on_its_last_attempt_fails_with_the_reason(
    client: TestClient, settings: Settings, engine: Engine, tenant: Tenant, catalog: Catalog
) -> None:
    r = post(client, tenant, [("a.xlsx", workbook(catalog, "Unlucky"))])
    job_id = uuid.UUID(r.json()["id"])
    _lapse(engine, job_id, attempts=settings.jobs_max_attempts)
    assert jobs.recover(make_sessionmaker(engine)) == (0, 1)
    failed = client.get(f"/v1/jobs/{job_id}", headers=tenant.headers()).json()
    assert failed["status"] == "failed" and failed["finished_at"] is not None
    assert "stopped before it ended, 3 time(s)" in failed["error"]
    assert "se detuvo antes de terminar" in failed["error_es"]


def test_a_stopping_runner_returns_the_job_with_its_progress(
    client: TestClient, settings: Settings, engine: Engine, tenant: Tenant, catalog: Catalog
) -> None:
    r = post(client, tenant, batch(catalog, 12, "stop"))
    job_id = uuid.UUID(r.json()["id"])
    sessions = make_sessionmaker(engine)
    runner = JobRunner(sessions, job_settings(settings), catalog)
    runner.start()
    try:
        deadline = time.monotonic() + 60
        while _job(engine, job_id).progress_done < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        runner.stop(grace=30)
    stopped = _job(engine, job_id)
    assert stopped.status == "queued", stopped.status  # back in the queue, not failed
    assert 2 <= stopped.progress_done < 13
    assert stopped.attempts == 0  # a shutdown does not use up an attempt
    assert stopped.claim is None

    again = JobRunner(sessions, job_settings(settings), catalog)
    again.start()
    try:
        done = wait(client, tenant, f"/v1/jobs/{job_id}")
    finally:
        again.stop()
    assert done["status"] == "succeeded" and done["attempts"] == 1
    statuses = [r["status"] for r in done["result"]["results"]]
    assert statuses == ["created"] * 12 + ["rejected"]  # each workbook once, none twice


def _job(engine: Engine, job_id: uuid.UUID) -> Job:
    with Session(engine) as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job


def _sample(text: str, name: str, status: str) -> float:
    for line in text.splitlines():
        if line.startswith(f'{name}{{status="{status}"}}'):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name} {status} in the scrape")


def test_metrics_count_the_jobs_by_status(
    settings: Settings, engine: Engine, tenant: Tenant, catalog: Catalog
) -> None:
    app = create_app(settings.model_copy(update={"metrics_token": SecretStr("scrape")}))
    with ContractClient(app) as c:
        post(c, tenant, [("a.xlsx", workbook(catalog, "Counted"))])
        scrape = c.get("/metrics", headers={"Authorization": "Bearer scrape"}).text
        expected = jobs.counts(make_sessionmaker(engine))
    assert expected["queued"] >= 1
    for status in jobs.STATUSES:
        assert _sample(scrape, "oca_jobs", status) == expected[status], status


def test_readyz_reports_the_job_runner(settings: Settings, client: TestClient) -> None:
    off = client.get("/readyz").json()
    assert {
        "name": "jobs",
        "ok": True,
        "detail": off["checks"][-1]["detail"],
        "required": True,
    } in off["checks"]
    assert "OCA_JOBS_ENABLED=false" in off["checks"][-1]["detail"]

    app = create_app(job_settings(settings))
    with ContractClient(app) as c:
        ready = c.get("/readyz")
        assert ready.status_code == 200
        check = next(x for x in ready.json()["checks"] if x["name"] == "jobs")
        assert check["ok"] and "runner thread" in check["detail"]
        app.state.job_runner.stop(grace=5)  # the runner dies: this worker is not ready
        gone = c.get("/readyz")
        assert gone.status_code == 503
        assert "jobs" in gone.json()["detail"]


def test_a_raw_export_job_makes_the_same_file_as_the_direct_export(
    runner_client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    cohort = create_cohort(tenant)
    for n in range(3):
        org = create_org(tenant, name=f"Exported {n}")
        add_member(tenant, cohort["id"], org["id"])
        scored(tenant, org["id"], "opi", value=1 + n)
    url = f"/v1/cohorts/{cohort['id']}/export-jobs"
    theirs = runner_client.post(url, json={"instrument_id": "opi"}, headers=other_tenant.headers())
    assert theirs.status_code == 404  # another workspace's cohort
    unknown = runner_client.post(url, json={"instrument_id": "nope"}, headers=tenant.headers())
    assert unknown.status_code == 422

    direct = runner_client.get(
        f"/v1/cohorts/{cohort['id']}/export.csv?instrument_id=opi", headers=tenant.headers()
    )
    asked = runner_client.post(
        url, json={"instrument_id": "opi", "format": "csv"}, headers=tenant.headers()
    )
    assert asked.status_code == 202, asked.text
    done = wait(runner_client, tenant, asked.headers["Location"])
    assert done["status"] == "succeeded", done
    assert done["result"]["rows"] == 3 and done["progress"] == {"done": 3, "total": 3}
    download = done["links"]["download"]
    assert download == f"/v1/jobs/{done['id']}/file"
    file = runner_client.get(download, headers=tenant.headers("viewer"))
    assert file.status_code == 200
    assert file.headers["content-type"] == "text/csv; charset=utf-8"
    assert file.headers["content-disposition"] == direct.headers["content-disposition"]
    assert file.content == direct.content
    assert done["result"]["bytes"] == len(file.content)
    assert runner_client.get(download, headers=other_tenant.headers("admin")).status_code == 404

    xlsx = runner_client.post(url, json={"instrument_id": "opi"}, headers=tenant.headers())
    made = wait(runner_client, tenant, xlsx.headers["Location"])
    book = runner_client.get(made["links"]["download"], headers=tenant.headers("viewer"))
    same = runner_client.get(
        f"/v1/cohorts/{cohort['id']}/export.xlsx?instrument_id=opi", headers=tenant.headers()
    )
    assert _cells(book.content) == _cells(same.content)


def _cells(data: bytes) -> list[list[Any]]:
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return [[list(row) for row in ws.iter_rows(values_only=True)] for ws in wb.worksheets]


def test_closing_the_app_stops_its_runner_threads(settings: Settings, engine: Engine) -> None:
    def runner_threads() -> set[str]:
        return {t.name for t in threading.enumerate() if t.name.startswith("oca-jobs")}

    # on PostgreSQL one more thread listens for jobs queued by other processes
    listener = {"oca-jobs-listener"} if engine.dialect.name == "postgresql" else set()
    before = runner_threads()
    with ContractClient(create_app(job_settings(settings, jobs_concurrency=3))):
        assert runner_threads() - before == {
            "oca-jobs-1",
            "oca-jobs-2",
            "oca-jobs-3",
            "oca-jobs-keeper",
            *listener,
        }
    assert runner_threads() == before == set()  # the shared test client runs none
