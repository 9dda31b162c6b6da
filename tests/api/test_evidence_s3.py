"""Evidence files in an S3 bucket (OCA_EVIDENCE_S3_BUCKET), on a real S3-compatible server
(moto's server mode over HTTP on 127.0.0.1, tests/s3.py): a multi-megabyte file goes up in
parts and comes back byte for byte; a store that is missing, refuses or cannot be reached is a
503 problem that writes nothing and deletes nothing; /readyz asks the bucket (advisory:
degraded, not down); the settings are checked at start; keys a user could smuggle never reach
the bucket. (Every other evidence test runs against both stores: test_evidence.py.)"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import SettingsInvalid, create_app
from app.services import evidence_s3
from app.services.evidence_s3 import S3Store
from app.services.evidence_store import store_of
from tests.api import evidence_files as files
from tests.api.factories import assert_problem, call, db_counts, get, ok
from tests.api.test_evidence import draft, key_of, upload
from tests.conftest import ContractClient, Tenant
from tests.s3 import S3Server, closed_port

MiB = 1024 * 1024
STORE_DOWN = "evidence-store-unavailable"


@pytest.fixture()
def bucket(s3_server: S3Server) -> str:
    return s3_server.new_bucket()


@pytest.fixture()
def s3_settings(settings: Settings, s3_server: S3Server, bucket: str, tmp_path: Path) -> Settings:
    return s3_server.settings(
        settings, bucket, evidence_dir=tmp_path / "staging", evidence_max_bytes=24 * MiB
    )


@contextmanager
def app_with(own: Settings) -> Iterator[TestClient]:
    with ContractClient(create_app(own), raise_server_exceptions=False) as c:
        yield c


def staged(own: Settings) -> list[Path]:
    return list((own.evidence_folder / ".incoming").glob("*"))


def test_a_multi_megabyte_file_goes_up_in_parts_and_comes_back_identical(
    session: Session, s3_settings: Settings, s3_server: S3Server, bucket: str, engine: Engine
) -> None:
    own = s3_settings.model_copy(update={"evidence_s3_prefix": "org-a/evidence"})
    data = files.pdf() + os.urandom(12 * MiB)  # a PDF by its first bytes, 12 MiB long
    with app_with(own) as c:
        me = Tenant(session, c)
        a = draft(me)
        e = ok(upload(me, a, "scan.pdf", data), 201)
        assert (e["file"]["size"], e["file"]["sha256"]) == (
            len(data),
            hashlib.sha256(data).hexdigest(),
        )
        key = key_of(engine, e["id"])
        # the object is <prefix>/<key>, whole, sent as a multipart upload of two 8 MiB parts
        head = s3_server.client().head_object(Bucket=bucket, Key=f"org-a/evidence/{key}")
        assert head["ContentLength"] == len(data)
        assert head["ETag"].strip('"').endswith("-2")
        assert list(store_of(own).keys()) == [key]  # type: ignore[attr-defined]
        assert staged(own) == []  # the local copy is gone once stored

        path = f"/v1/assessments/{a['id']}/evidence/{e['id']}"
        got = call(me, "GET", path + "/file", "viewer")
        assert got.status_code == 200
        assert got.headers["content-length"] == str(len(data))
        assert hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()

        ok(call(me, "DELETE", path), 204)
        assert s3_server.objects(bucket) == {}
        assert_problem(call(me, "GET", path + "/file"), 404)


def test_readyz_asks_the_bucket(s3_settings: Settings) -> None:
    with app_with(s3_settings) as c:
        ready = c.get("/readyz")
        assert ready.status_code == 200, ready.text
        checks = {ch["name"]: ch for ch in ready.json()["checks"]}
        assert checks["evidence_store"] == {
            "name": "evidence_store",
            "ok": True,
            "detail": "reachable",
            "required": False,
        }


def test_a_missing_bucket_is_a_503_that_writes_nothing(
    session: Session, settings: Settings, s3_server: S3Server, engine: Engine, tmp_path: Path
) -> None:
    own = s3_server.settings(settings, "oca-no-such-bucket", evidence_dir=tmp_path / "staging")
    with app_with(own) as c:
        me = Tenant(session, c)
        a = draft(me)
        counts = db_counts(engine)
        resp = upload(me, a, "a.pdf", files.pdf())
        body = assert_problem(resp, 503, STORE_DOWN)
        assert body["reason"] == "no_bucket"
        assert "no bucket" in body["detail"] and "nothing was stored" in body["detail"]
        assert "no tiene un bucket" in body["detail_es"]
        assert "retry-after" not in resp.headers  # waiting will not help: an operator must act
        assert db_counts(engine) == counts
        assert staged(own) == []
        # still ready (scores, imports and pages need no bucket), degraded, and /readyz says why
        ready = c.get("/readyz")
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["status"] == "degraded"
        failing = {ch["name"]: ch["detail"] for ch in body["checks"] if not ch["ok"]}
        assert list(failing) == ["evidence_store"]
        assert "oca-no-such-bucket" in failing["evidence_store"]
        assert "no bucket" in failing["evidence_store"]


def test_an_unreachable_store_is_a_503_to_retry_and_changes_nothing(
    session: Session, s3_settings: Settings, s3_server: S3Server, bucket: str, engine: Engine
) -> None:
    with app_with(s3_settings) as up:
        me = Tenant(session, up)
        a = draft(me)
        e = ok(upload(me, a, "a.pdf", files.pdf()), 201)
        key = key_of(engine, e["id"])
    path = f"/v1/assessments/{a['id']}/evidence/{e['id']}"
    down = s3_settings.model_copy(update={"evidence_s3_endpoint_url": closed_port()})
    with app_with(down) as c:
        me.client = c
        counts = db_counts(engine)
        for resp in (
            upload(me, a, "b.png", files.png()),
            call(me, "GET", path + "/file"),
            call(me, "DELETE", path),
        ):
            body = assert_problem(resp, 503, STORE_DOWN)
            assert body["reason"] == "unreachable"
            assert resp.headers["retry-after"] == "30"
            assert "no se puede acceder al almacén de evidencias" in body["detail_es"]
        # the delete was rolled back with the store's failure: the row and its file remain
        assert db_counts(engine) == counts
        assert get(me, path)["id"] == e["id"]
        assert staged(down) == []
        ready = c.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "degraded", ready.text
    assert s3_server.objects(bucket) == {f"evidence/{key}": files.pdf()}
    with app_with(s3_settings) as up:
        me.client = up
        ok(call(me, "DELETE", path), 204)
    assert s3_server.objects(bucket) == {}


@pytest.fixture()
def aws_chain(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """An environment whose AWS credential chain has nothing but what a test puts in it (no
    files, no instance metadata: nothing leaves this machine)."""
    for name in list(os.environ):
        if name.startswith("AWS_") and name != "AWS_CA_BUNDLE":
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    evidence_s3._client.cache_clear()  # clients keep the credentials they were made with
    yield monkeypatch
    evidence_s3._client.cache_clear()


def test_credentials_come_from_the_aws_chain_when_not_set(
    session: Session, s3_settings: Settings, aws_chain: pytest.MonkeyPatch, engine: Engine
) -> None:
    own = s3_settings.model_copy(
        update={"evidence_s3_access_key_id": None, "evidence_s3_secret_access_key": None}
    )
    assert own.problems() == []
    with app_with(own) as c:
        me = Tenant(session, c)
        a = draft(me)
        # none anywhere: refused before anything is sent, as the store's refusal
        counts = db_counts(engine)
        resp = upload(me, a, "a.pdf", files.pdf())
        body = assert_problem(resp, 503, STORE_DOWN)
        assert body["reason"] == "denied" and "retry-after" not in resp.headers
        assert "credentials" in body["detail"]
        assert db_counts(engine) == counts
        # from the environment, as the AWS chain reads them
        aws_chain.setenv("AWS_ACCESS_KEY_ID", "from-the-environment")
        aws_chain.setenv("AWS_SECRET_ACCESS_KEY", "its-secret")
        evidence_s3._client.cache_clear()
        ok(upload(me, a, "a.pdf", files.pdf()), 201)


BAD_SETTINGS = [
    ("bucket", {"evidence_s3_bucket": "Evidence_Files"}, "is not a bucket name"),
    ("bucket dots", {"evidence_s3_bucket": "a..b"}, "is not a bucket name"),
    ("endpoint", {"evidence_s3_endpoint_url": "ftp://minio:9000"}, "is not a server address"),
    ("endpoint path", {"evidence_s3_endpoint_url": "http://h:9000/b"}, "is not a server address"),
    ("endpoint port", {"evidence_s3_endpoint_url": "http://h:port"}, "is not a server address"),
    ("prefix", {"evidence_s3_prefix": "/abs"}, "OCA_EVIDENCE_S3_PREFIX"),
    ("half keys", {"evidence_s3_secret_access_key": None}, "go together"),
    ("no bucket", {"evidence_s3_bucket": None}, "is set but OCA_EVIDENCE_S3_BUCKET is not"),
]


@pytest.mark.parametrize(
    ("change", "expected"), [b[1:] for b in BAD_SETTINGS], ids=[b[0] for b in BAD_SETTINGS]
)
def test_bad_s3_settings_stop_the_start_with_one_line(
    s3_settings: Settings, change: dict[str, Any], expected: str
) -> None:
    bad = s3_settings.model_copy(update=change)
    problems = bad.problems()
    assert len(problems) == 1 and expected in problems[0], problems
    assert "\n" not in problems[0]
    with pytest.raises(SettingsInvalid, match=expected), TestClient(create_app(bad)):
        pass


def test_the_store_refuses_keys_that_are_not_its_own(
    s3_settings: Settings, s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    store = S3Store.of(s3_settings)
    s3_server.client().put_object(Bucket=bucket, Key="secret.txt", Body=b"not evidence")
    for key in ("../secret.txt", "../../etc/passwd", "AB" * 16, "0" * 31, "0" * 32 + "/x"):
        with pytest.raises(ValueError, match="not an evidence store key"):
            store.open(key)
        with pytest.raises(ValueError, match="not an evidence store key"):
            store.delete(key)
    assert list(s3_server.objects(bucket)) == ["secret.txt"]
    assert list(store.keys()) == []  # only <prefix><32 hex digits> are its own
    with pytest.raises(FileNotFoundError):
        store.open("0" * 32)
    store.delete("0" * 32)  # deleting what is not there is no error
    source = tmp_path / "f.pdf"
    source.write_bytes(files.pdf())
    key = store.put(source)
    assert not source.exists()  # taken in, as the folder store takes it
    with store.open(key) as stream:
        assert stream.read() == files.pdf()
