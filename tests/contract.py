"""Every response the tests receive is checked against the committed contract (openapi.json).

A response to a documented operation must have a status code the operation declares, and a JSON
body (problem+json included) must match the schema declared for that code. The check wraps the
test client, so all tests of the API check the contract as a side effect; a mismatch fails the
test that met it, naming the operation.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from app.config import REPO_ROOT


@cache
def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((REPO_ROOT / "openapi.json").read_text("utf-8"))
    return document


@cache
def _operations() -> list[tuple[re.Pattern[str], str, str]]:
    """(path pattern, method, template), most specific templates first."""
    found = []
    for template, methods in _document()["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")
        found.extend((pattern, method.upper(), template) for method in methods)
    # literal segments beat parameters: /organizations/by-external-id/x before /organizations/{id}
    return sorted(found, key=lambda f: f[2].count("{"))


@cache
def _validator(template: str, method: str, status: str, media: str) -> Draft202012Validator | None:
    document = _document()
    declared = document["paths"][template][method.lower()]["responses"][status]
    schema = declared.get("content", {}).get(media, {}).get("schema")
    if schema is None:
        return None
    # "#/components/schemas/X" resolves against the root: carry the components along.
    return Draft202012Validator({**schema, "components": document["components"]})


def operation_of(method: str, path: str) -> str | None:
    for pattern, op_method, template in _operations():
        if op_method == method and pattern.match(path):
            return template
    return None


def check(method: str, path: str, status: int, content_type: str, body: bytes) -> None:
    template = operation_of(method, path)
    if template is None:
        return  # not an operation of the API (an unknown path or method): nothing promised
    responses = _document()["paths"][template][method.lower()]["responses"]
    where = f"{method} {template}"
    assert str(status) in responses, (
        f"{where} answered {status}, which the contract does not declare "
        f"(declared: {sorted(responses)}): {body[:300]!r}"
    )
    media = content_type.split(";")[0].strip()
    if media not in ("application/json", "application/problem+json") or not body:
        return
    validator = _validator(template, method, str(status), media)
    if validator is None and media == "application/problem+json":
        validator = _validator(template, method, str(status), "application/json")
    if validator is None:
        return
    errors = sorted(validator.iter_errors(json.loads(body)), key=lambda e: list(e.path))
    assert not errors, f"{where} -> {status}: body does not match the contract: " + "; ".join(
        f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message[:200]}" for e in errors[:5]
    )
