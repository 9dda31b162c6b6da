"""A real S3-compatible server for the tests: moto's server mode, an HTTP server on 127.0.0.1 at a
port the system picks, in a thread of the test process. The app reaches it over HTTP like any
S3 endpoint (path-style addressing, as with MinIO); nothing in boto3 or the app is mocked."""

from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

from app.config import Settings

REGION = "us-east-1"
KEY_ID, SECRET = "oca-test-key", "oca-test-secret"


@dataclass
class S3Server:
    server: ThreadedMotoServer
    endpoint: str

    @staticmethod
    def start() -> S3Server:
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        return S3Server(server, f"http://{host}:{port}")

    def stop(self) -> None:
        self.server.stop()

    def client(self) -> Any:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            config=Config(s3={"addressing_style": "path"}),
        )

    def new_bucket(self) -> str:
        name = f"oca-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name

    def objects(self, bucket: str) -> dict[str, bytes]:
        """Every object of the bucket and its bytes, read back by a client of the tests' own."""
        client = self.client()
        found = client.list_objects_v2(Bucket=bucket).get("Contents", [])
        return {
            o["Key"]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in found
        }

    def settings(self, base: Settings, bucket: str, **update: Any) -> Settings:
        """``base`` with its evidence in ``bucket`` of this server."""
        return base.model_copy(
            update={
                "evidence_s3_bucket": bucket,
                "evidence_s3_endpoint_url": self.endpoint,
                "evidence_s3_region": REGION,
                "evidence_s3_path_style": True,
                "evidence_s3_access_key_id": KEY_ID,
                "evidence_s3_secret_access_key": SecretStr(SECRET),
                "evidence_s3_prefix": "evidence/",
                **update,
            }
        )

    def env(self, bucket: str) -> dict[str, str]:
        """The same, as the environment of a command."""
        return {
            "OCA_EVIDENCE_S3_BUCKET": bucket,
            "OCA_EVIDENCE_S3_ENDPOINT_URL": self.endpoint,
            "OCA_EVIDENCE_S3_REGION": REGION,
            "OCA_EVIDENCE_S3_PATH_STYLE": "true",
            "OCA_EVIDENCE_S3_ACCESS_KEY_ID": KEY_ID,
            "OCA_EVIDENCE_S3_SECRET_ACCESS_KEY": SECRET,
        }


def closed_port() -> str:
    """An address on this machine where nothing listens (the port was free a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
