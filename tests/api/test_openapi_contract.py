"""The committed openapi.json is the contract: changes to it must be deliberate."""

from __future__ import annotations

import json

from app.cli.openapi import openapi_text
from app.config import REPO_ROOT


def test_committed_openapi_matches_the_app() -> None:
    committed = (REPO_ROOT / "openapi.json").read_text(encoding="utf-8")
    assert committed == openapi_text(), "API contract changed: review, then `oca openapi --write`"


def test_every_operation_is_documented() -> None:
    doc = json.loads(openapi_text())
    assert "bearer" in json.dumps(doc["components"]["securitySchemes"]).lower()
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            where = f"{method.upper()} {path}"
            assert op.get("summary"), where
            responses = op["responses"]
            success = [c for c in responses if c.startswith("2")]
            assert success, where
            if path.startswith("/v1"):
                assert op.get("security"), where
                for code in ("401", "403", "422"):
                    assert code in responses, f"{where} lacks {code}"
            if "{" in path and "by-external-id" not in path:  # an upsert never answers 404
                assert "404" in responses, f"{where} lacks 404"
