"""Settings from environment variables prefixed ``OCA_`` (read lazily, never at import time)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
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
    auth_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a checked key is trusted without a lookup (0: always look up); "
        "a revocation made in another process takes effect within this time",
    )
    read_cache_mb: float = Field(
        default=64,
        ge=0,
        description="Memory for rendered scores, series and comparisons, kept until the "
        "database changes (0: off)",
    )
    read_threads: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Threads that compute scores, series and comparisons not in the read cache; "
        "they are CPU-bound, and more threads than cores mostly fight over Python's lock",
    )
    docs_enabled: bool = True

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'oca.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
