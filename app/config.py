"""Settings from environment variables prefixed ``OCA_`` (read lazily, never at import time)."""

from __future__ import annotations

import importlib.util
import os
import re
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OCA_", extra="ignore")

    data_dir: Path = Field(
        default=Path("var"), description="Folder for the SQLite file and exports"
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file in data_dir"
    )
    instruments_dir: Path = Field(default=REPO_ROOT / "instruments")
    max_upload_bytes: int = Field(default=5 * 1024 * 1024, gt=0, description="Per workbook")
    max_request_bytes: int = Field(default=40 * 1024 * 1024, gt=0)
    page_size_max: int = Field(default=200, gt=0)
    evidence_dir: Path | None = Field(
        default=None,
        description="Folder of evidence files (each under a random name, never the uploaded "
        "one); default: <data_dir>/evidence",
    )
    evidence_max_bytes: int = Field(
        default=20 * 1024 * 1024, gt=0, description="Per evidence file (PDF, image, document)"
    )
    # An S3-compatible store for evidence files instead of the folder (docs/evidence.md); the
    # folder above still receives each upload while it is checked.
    evidence_s3_bucket: str | None = Field(
        default=None, description="Keep evidence files in this S3 bucket (unset: in the folder)"
    )
    evidence_s3_endpoint_url: str | None = Field(
        default=None,
        description="An S3-compatible server (MinIO, Ceph, ...), e.g. http://127.0.0.1:9000; "
        "unset: AWS S3",
    )
    evidence_s3_region: str | None = Field(
        default=None, description="Unset: the AWS chain's (AWS_REGION, ~/.aws/config)"
    )
    evidence_s3_prefix: str = Field(
        default="evidence/", description="Object names are <prefix><32 hex digits>"
    )
    evidence_s3_path_style: bool = Field(
        default=False,
        description="Address the bucket in the path (http://host/bucket/key), as MinIO-like "
        "servers want, instead of in the host name",
    )
    evidence_s3_access_key_id: str | None = Field(
        default=None,
        description="Unset: the standard AWS credential chain (environment, "
        "~/.aws/credentials, the instance's role)",
    )
    evidence_s3_secret_access_key: SecretStr | None = None
    read_threads: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Threads that check the key of, and compute, scores, series, comparisons "
        "and benchmarks; the work is mostly CPU-bound, and more threads than cores mostly fight "
        "over Python's lock",
    )
    write_threads: int = Field(
        default=16,
        ge=1,
        le=64,
        description="Threads that check the key of, and make, the assessments' writes (create, "
        "change, submit, finalize, reopen, revise); a write mostly waits on the database, and "
        "on SQLite for its one writer at a time",
    )
    parser_workers: int = Field(
        default=2,
        ge=1,
        le=32,
        description="Parser processes per service process: uploaded workbooks are read in them "
        "(isolated, with memory, CPU and time limits), as many at once as there are processes",
    )
    parser_max_requests: int = Field(
        default=200,
        ge=1,
        le=100_000,
        description="Workbooks a parser process reads before it is replaced (bounds leaks)",
    )
    docs_enabled: bool = True
    log_format: Literal["text", "json"] = Field(
        default="text", description="Log lines as readable text or as one JSON object per line"
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    cors_origins: str = Field(
        default="",
        description="Comma-separated origins (https://app.example.org) whose web pages may call "
        "the API from a browser; empty: none (CORS closed)",
    )

    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token a Prometheus scraper sends to GET /metrics; unset: /metrics "
        "answers 404",
    )

    session_idle_minutes: int = Field(
        default=120, ge=5, le=24 * 60, description="A web session ends after this long unused"
    )
    session_absolute_hours: int = Field(
        default=12, ge=1, le=24 * 30, description="A web session ends this long after sign-in"
    )

    rate_limit_per_key: int = Field(
        default=3000,
        ge=0,
        description="Requests per minute one API key may make (0: no limit); over it, 429 with "
        "Retry-After; counted across every worker through the database",
    )
    rate_limit_per_address: int = Field(
        default=6000, ge=0, description="Requests per minute to /v1 from one address (0: no limit)"
    )
    auth_failures_per_address: int = Field(
        default=30,
        ge=1,
        description="Wrong API keys or passwords from one address within the window before "
        "further failures get 429 with Retry-After (shared by every worker through the database)",
    )
    sign_in_failures_per_email: int = Field(
        default=5, ge=1, description="Wrong passwords for one account within the window"
    )
    auth_failure_window_minutes: int = Field(default=15, ge=1, le=24 * 60)

    report_paper: Literal["a4", "letter"] = Field(
        default="a4",
        description="Paper of PDF reports when the link does not say (a4, or letter for the "
        "United States, Mexico and most of Latin America)",
    )
    webhook_delivery: bool = Field(
        default=True,
        description="Run the webhook delivery thread in each worker (off: events wait in the "
        "outbox until a worker with it on delivers them)",
    )
    webhook_allow_http: bool = Field(
        default=False, description="Allow webhook URLs with http:// (default: https only)"
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="Allow webhook URLs that resolve to loopback, private, link-local or reserved "
        "addresses (tests, closed networks); default: refused, so webhooks cannot probe the "
        "internal network",
    )
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    webhook_poll_seconds: float = Field(
        default=2.0, gt=0, le=300, description="How often the delivery thread looks for due work"
    )
    webhook_pause_after_failures: int = Field(
        default=16,
        ge=1,
        description="Failed attempts in a row after which a subscription is paused",
    )

    jobs_enabled: bool = Field(
        default=True,
        description="Run the job runner in each web worker (off: queued jobs wait for "
        "`oca worker` or a worker with it on)",
    )
    jobs_concurrency: int = Field(
        default=1,
        ge=1,
        le=16,
        description="Jobs one process runs at once (each in a thread of its own)",
    )
    jobs_lease_seconds: float = Field(
        default=60.0,
        ge=1,
        le=3600,
        description="How long a runner's claim on a job lasts without renewal (renewed every "
        "third of it while the job runs); a job whose runner died is taken over after this",
    )
    jobs_max_attempts: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Runs of a job whose runner died before it is failed with that reason",
    )
    jobs_poll_seconds: float = Field(
        default=1.0, gt=0, le=60, description="How often an idle runner looks for queued jobs"
    )
    jobs_shutdown_seconds: float = Field(
        default=20.0,
        ge=0,
        le=600,
        description="On shutdown, how long running jobs may take to finish before they are "
        "returned to the queue (a job stops at its next step and keeps its progress)",
    )
    jobs_keep_days: int = Field(
        default=7,
        ge=1,
        le=365,
        description="Finished jobs and their files are deleted this many days after they end",
    )

    @property
    def session_idle(self) -> timedelta:
        return timedelta(minutes=self.session_idle_minutes)

    @property
    def session_absolute(self) -> timedelta:
        return timedelta(hours=self.session_absolute_hours)

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    def problems(self) -> list[str]:
        """What stops the service from starting, one readable line each (empty: all is well)."""
        from sqlalchemy.engine import make_url  # settings stay importable without SQLAlchemy

        found: list[str] = []
        folder = self.instruments_dir
        if not folder.is_dir():
            found.append(f"OCA_INSTRUMENTS_DIR: {folder} is not a folder")
        elif not any(folder.glob("*/*.yaml")):
            found.append(
                f"OCA_INSTRUMENTS_DIR: {folder} holds no instrument files (<id>/<version>.yaml)"
            )
        try:
            url = make_url(self.effective_database_url)
        except Exception:
            found.append(
                "OCA_DATABASE_URL is not a database URL (e.g. sqlite:///var/oca.db or "
                "postgresql+psycopg://user@host/db)"
            )
        else:
            backend = url.get_backend_name()
            if backend not in ("sqlite", "postgresql"):
                found.append(
                    f"OCA_DATABASE_URL: '{backend}' databases are not supported "
                    "(use sqlite or postgresql)"
                )
            elif backend == "sqlite" and url.database and url.database != ":memory:":
                parent = Path(url.database).resolve().parent
                if not parent.exists():
                    try:
                        parent.mkdir(parents=True)
                    except OSError as exc:
                        found.append(f"data folder {parent} cannot be created: {exc.strerror}")
                if parent.exists() and not os.access(parent, os.W_OK | os.X_OK):
                    found.append(f"data folder {parent} is not writable by this user")
        if self.evidence_dir is not None or not any(p.startswith("data folder") for p in found):
            # (the default, inside the data folder, is not named again when that one fails)
            found += _writable_folder("OCA_EVIDENCE_DIR", self.evidence_folder)
        found += self._s3_problems()
        for origin in self.cors_origin_list:
            if not origin.startswith(("https://", "http://")) or origin.count("/") != 2:
                found.append(
                    f"OCA_CORS_ORIGINS: '{origin}' is not an origin like https://app.example.org"
                )
        return found

    def _s3_problems(self) -> list[str]:
        """The S3 settings, checked without a network call (reachability is /readyz's)."""
        if not self.evidence_s3_bucket:
            given = [
                f"OCA_{name.upper()}"
                for name in ("evidence_s3_endpoint_url", "evidence_s3_access_key_id")
                if getattr(self, name)
            ]
            if given:
                return [f"{given[0]} is set but OCA_EVIDENCE_S3_BUCKET is not: name the bucket"]
            return []
        found = []
        if not _BUCKET.fullmatch(self.evidence_s3_bucket) or ".." in self.evidence_s3_bucket:
            found.append(
                f"OCA_EVIDENCE_S3_BUCKET: '{self.evidence_s3_bucket[:70]}' is not a bucket name "
                "(3 to 63 lowercase letters, digits, dots and hyphens)"
            )
        url = self.evidence_s3_endpoint_url
        if url is not None and not _server_address(url):
            found.append(
                f"OCA_EVIDENCE_S3_ENDPOINT_URL: '{url[:70]}' is not a server address like "
                "https://s3.example.org or http://127.0.0.1:9000"
            )
        if not _PREFIX.fullmatch(self.evidence_s3_prefix):
            found.append(
                "OCA_EVIDENCE_S3_PREFIX: at most 200 letters, digits and ! - _ . * ' ( ) /, "
                "not starting with /"
            )
        if (self.evidence_s3_access_key_id is None) != (self.evidence_s3_secret_access_key is None):
            found.append(
                "OCA_EVIDENCE_S3_ACCESS_KEY_ID and OCA_EVIDENCE_S3_SECRET_ACCESS_KEY go together: "
                "set both, or neither to use the AWS credential chain"
            )
        if importlib.util.find_spec("boto3") is None:
            found.append(
                "OCA_EVIDENCE_S3_BUCKET is set but boto3 is not installed: install oca-engine[s3]"
            )
        return found

    @property
    def evidence_folder(self) -> Path:
        return self.evidence_dir or self.data_dir / "evidence"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'oca.db').resolve()}"


_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_PREFIX = re.compile(r"(?!/)[A-Za-z0-9!_.*'()/-]{0,200}")


def _server_address(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.path.strip("/")


def _writable_folder(variable: str, folder: Path) -> list[str]:
    """The folder, made when missing; a line saying why it cannot be used, if it cannot."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return [f"{variable}: folder {folder} cannot be created: {exc.strerror}"]
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        return [f"{variable}: folder {folder} is not writable by this user"]
    return []


class SettingsUnreadable(ValueError):
    """An ``OCA_`` variable holds a value of the wrong kind; ``problems`` has one line for each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


_SECRET_FIELDS = frozenset(
    {"database_url", "metrics_token", "evidence_s3_secret_access_key"}
)  # their values are never repeated


def read_settings() -> Settings:
    """The settings from the environment, or SettingsUnreadable naming each bad variable (no
    traceback for an operator's typo such as OCA_READ_THREADS=four)."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            value = "" if field in _SECRET_FIELDS else f" (got {str(error['input'])[:60]!r})"
            problems.append(f"OCA_{field.upper()}: {error['msg']}{value}")
        raise SettingsUnreadable(problems) from None


@lru_cache
def get_settings() -> Settings:
    return read_settings()
