"""Where evidence files live: outside the database rows, each under a key this module makes (32
random hex digits), never under a name a user typed, so an upload named ``../../x.html`` or
``CON.pdf`` is only ever a column of its row.

``FileStore`` is the whole interface the service uses: put a finished local file in (getting its
key), open a key for reading, delete a key. ``FolderStore`` keeps files in a folder (by default
``<data_dir>/evidence``, ``OCA_EVIDENCE_DIR``), as ``<root>/<first two digits>/<key>``;
``S3Store`` (``app.services.evidence_s3``) keeps them in an S3-compatible bucket when
``OCA_EVIDENCE_S3_BUCKET`` is set (docs/evidence.md). A store that cannot be used right now
raises ``StoreUnavailable``, which the API answers with 503.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Final, Literal, Protocol

from app.config import Settings

KEY: Final = re.compile(r"[0-9a-f]{32}")
CHUNK: Final = 1 << 16
INCOMING: Final = ".incoming"  # uploads being received and checked, under the evidence folder
STALE_AFTER_S: Final = 3600  # older than any upload in flight: left by a process that died

log = logging.getLogger("oca.evidence")

Reason = Literal["unreachable", "denied", "no_bucket"]
_REASONS: Final[dict[str, tuple[str, str]]] = {
    "unreachable": (
        "the evidence store cannot be reached right now",
        "no se puede acceder al almacén de evidencias en este momento",
    ),
    "denied": (
        "the evidence store refuses this service's credentials",
        "el almacén de evidencias rechaza las credenciales de este servicio",
    ),
    "no_bucket": (
        "the evidence store has no bucket by the configured name",
        "el almacén de evidencias no tiene un bucket con el nombre configurado",
    ),
}


class StoreUnavailable(Exception):
    """The store cannot be used now (unreachable, credentials refused, bucket missing); nothing
    was changed. ``retry_after`` (seconds) when waiting may help, else None: an operator must act.
    """

    code, title = "evidence-store-unavailable", "Evidence store unavailable"

    def __init__(self, reason: Reason, retry_after: int | None = None) -> None:
        en, es = _REASONS[reason]
        ask = (
            ("retry in a while", "reintente en un rato")
            if retry_after
            else ("tell whoever runs the service", "avise a quien administra el servicio")
        )
        self.detail = f"{en}; nothing was stored or changed; {ask[0]}"
        self.detail_es = f"{es}; no se guardó ni cambió nada; {ask[1]}"
        self.reason: Reason = reason
        self.summary = en
        self.retry_after = retry_after
        super().__init__(self.detail)


class FileStore(Protocol):
    def put(self, source: Path) -> str:
        """Take a finished local file in (it is moved, not copied); return its new key."""
        ...

    def open(self, key: str) -> BinaryIO:
        """The file's bytes; FileNotFoundError when the key holds nothing."""
        ...

    def delete(self, key: str) -> None:
        """Remove the file; nothing happens when the key holds nothing already."""
        ...


def check_key(key: str) -> str:
    """A key this module could have made, or ValueError: no path can be smuggled in."""
    if not KEY.fullmatch(key):
        raise ValueError(f"not an evidence store key: {key[:40]!r}")
    return key


class FolderStore:
    """Evidence files in a local (or mounted) folder shared by every worker."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)[:2] / key

    def put(self, source: Path) -> str:
        key = secrets.token_hex(16)
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{key}.partial")
        try:
            shutil.move(source, partial)  # a rename on one file system, else a copy
            os.replace(partial, target)  # whole or absent under its key, never half
        finally:
            partial.unlink(missing_ok=True)
        return key

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def keys(self) -> Iterator[str]:
        """Every stored key (for checks and tests)."""
        for path in self.root.glob("??/*"):
            if KEY.fullmatch(path.name):
                yield path.name


def store_of(settings: Settings) -> FileStore:
    """The configured store: the S3 bucket when OCA_EVIDENCE_S3_BUCKET is set, else the folder."""
    if settings.evidence_s3_bucket:
        from app.services.evidence_s3 import S3Store  # boto3 only where it is used

        return S3Store.of(settings)
    return FolderStore(settings.evidence_folder)


class Probed(Protocol):
    def probe(self) -> str | None:
        """Why the store cannot be used right now, or None when it can (for /readyz)."""
        ...


def probed_store_of(settings: Settings) -> Probed | None:
    """The store /readyz checks: the S3 bucket (one quick attempt) when configured; the folder
    is checked at start (``Settings.problems``) and needs no network."""
    if settings.evidence_s3_bucket:
        from app.services.evidence_s3 import S3Store

        return S3Store.of(settings, quick=True)
    return None


def discard(store: FileStore, keys: Iterable[str]) -> None:
    """Delete files whose rows were never written; a store that fails now is logged (the file is
    orphaned, never named by a row) and does not hide the error that led here."""
    for key in keys:
        try:
            store.delete(key)
        except (StoreUnavailable, OSError) as exc:
            log.error("evidence file %s could not be deleted, left orphaned: %s", key, exc)


def sweep_staging(folder: Path, older_than_s: float = STALE_AFTER_S) -> int:
    """Remove what a process killed mid-upload left in the evidence folder: received uploads
    (``.incoming/upload-*``) and half-moved files (``??/.<key>.partial``) older than
    ``older_than_s`` seconds, so an upload in flight in another worker is never touched. Returns
    how many were removed."""
    cutoff, removed = time.time() - older_than_s, 0
    for path in (*folder.glob(f"{INCOMING}/upload-*"), *folder.glob("??/.*.partial")):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # another worker, starting too, was first
            continue
    if removed:
        log.info("removed %d unfinished upload(s) from %s", removed, folder)
    return removed


def chunks(stream: BinaryIO) -> Iterator[bytes]:
    """A stored file's bytes, a piece at a time, closing it at the end."""
    with stream:
        while piece := stream.read(CHUNK):
            yield piece
