"""Evidence files in an S3-compatible bucket (AWS S3, MinIO, Ceph, ...), chosen by
``OCA_EVIDENCE_S3_BUCKET`` (docs/evidence.md). Each file is the object ``<prefix><key>``, under
the same random 32-hex keys as the folder store, so no name a user typed reaches the bucket.

- put: ``upload_file`` (multipart above 8 MiB, each part sent as it is read from the checked
  local copy); an object exists whole or not at all, since S3 shows a multipart upload only when
  it completes.
- open: a streaming GET read as a buffered binary stream, a piece at a time.
- delete: DELETE, which S3 answers alike whether the object was there or not.

Anything the store answers other than the file (unreachable, credentials refused, no such
bucket) becomes ``StoreUnavailable``: the API's 503, with Retry-After when waiting may help.
Credentials come from the settings when given, else from the standard AWS chain (environment,
~/.aws, the instance's role).
"""

from __future__ import annotations

import contextlib
import io
import logging
import secrets
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from app.config import Settings
from app.services.evidence_store import CHUNK, KEY, StoreUnavailable, check_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger("oca.evidence")

MiB: Final = 1024 * 1024
TRANSFER: Final = TransferConfig(
    multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=4
)
RETRY_AFTER_S: Final = 30
_DENIED: Final = frozenset(
    {
        "403",
        "AccessDenied",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "ExpiredToken",
        "AuthorizationHeaderMalformed",
    }
)
_MISSING: Final = frozenset({"NoSuchKey", "404"})


@lru_cache(maxsize=8)
def _client(
    endpoint: str | None,
    region: str | None,
    key_id: str | None,
    secret: str | None,
    path_style: bool,
    quick: bool,
) -> S3Client:
    """One client per configuration and use, made once (a client is thread-safe; making one
    takes tens of milliseconds). ``quick``: one attempt and short time-outs, for /readyz."""
    config = Config(
        connect_timeout=2 if quick else 5,
        read_timeout=5 if quick else 60,
        retries={"max_attempts": 1 if quick else 3, "mode": "standard"},
        s3={"addressing_style": "path" if path_style else "auto"},
    )
    session = boto3.session.Session(
        aws_access_key_id=key_id, aws_secret_access_key=secret, region_name=region
    )
    return session.client("s3", endpoint_url=endpoint, config=config)


def _unavailable(exc: BaseException, bucket: str, action: str) -> StoreUnavailable:
    """The store's failure as the reason a person can act on; the full error goes to the log."""
    cause = exc.__context__ if isinstance(exc, S3UploadFailedError) else exc
    code = ""
    if isinstance(cause, ClientError):
        code = str(cause.response.get("Error", {}).get("Code", ""))
    log.warning("evidence store (bucket %s): %s failed: %s", bucket, action, exc)
    if code in ("NoSuchBucket", "404"):  # (a HEAD's answer has no body: only its status)
        return StoreUnavailable("no_bucket")
    if code in _DENIED or isinstance(cause, NoCredentialsError):
        return StoreUnavailable("denied")
    return StoreUnavailable("unreachable", retry_after=RETRY_AFTER_S)


class _Body(io.RawIOBase):
    """A GET's streaming body as a raw binary stream; a failure while reading is the store's."""

    def __init__(self, body: Any, bucket: str) -> None:
        self._body, self._bucket = body, bucket

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data: bytes = self._body.read(len(buffer))
        except BotoCoreError as exc:
            raise _unavailable(exc, self._bucket, "reading a file") from None
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class S3Store:
    """Evidence files as objects ``<prefix><key>`` of one bucket."""

    def __init__(self, client: S3Client, bucket: str, prefix: str = "") -> None:
        self.client, self.bucket = client, bucket
        self.prefix = prefix.rstrip("/") + "/" if prefix.strip("/") else ""

    @staticmethod
    def of(settings: Settings, *, quick: bool = False) -> S3Store:
        assert settings.evidence_s3_bucket is not None  # store_of chose this store for it
        secret = settings.evidence_s3_secret_access_key
        client = _client(
            settings.evidence_s3_endpoint_url,
            settings.evidence_s3_region,
            settings.evidence_s3_access_key_id,
            secret.get_secret_value() if secret is not None else None,
            settings.evidence_s3_path_style,
            quick,
        )
        return S3Store(client, settings.evidence_s3_bucket, settings.evidence_s3_prefix)

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def put(self, source: Path) -> str:
        key = secrets.token_hex(16)
        try:
            self.client.upload_file(str(source), self.bucket, self._name(key), Config=TRANSFER)
        except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
            # the upload may have completed with only its answer lost: the key is ours alone
            self._forget(key)
            raise _unavailable(exc, self.bucket, "storing a file") from None
        source.unlink(missing_ok=True)  # taken in, as the folder store moves it
        return key

    def _forget(self, key: str) -> None:
        # most likely never stored: the store failed for the put already
        with contextlib.suppress(BotoCoreError, ClientError):
            self.client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def open(self, key: str) -> BinaryIO:
        try:
            got = self.client.get_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in _MISSING:
                raise FileNotFoundError(key) from None
            raise _unavailable(exc, self.bucket, "opening a file") from None
        except BotoCoreError as exc:
            raise _unavailable(exc, self.bucket, "opening a file") from None
        return io.BufferedReader(_Body(got["Body"], self.bucket), CHUNK)

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._name(key))
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable(exc, self.bucket, "deleting a file") from None

    def probe(self) -> str | None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            return f"bucket {self.bucket}: " + _unavailable(exc, self.bucket, "HeadBucket").summary
        return None

    def keys(self) -> Iterator[str]:
        """Every stored key (for checks and tests)."""
        pages = self.client.get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for found in page.get("Contents", []):
                name = found.get("Key", "")[len(self.prefix) :]
                if KEY.fullmatch(name):
                    yield name
