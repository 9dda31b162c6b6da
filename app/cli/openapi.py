"""`oca openapi`: the OpenAPI document, the API contract partners code against."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from app.cli.common import out
from app.config import Settings


def openapi(
    write: Annotated[
        bool,
        typer.Option(
            "--write", help="Write openapi.json at the repository root instead of printing"
        ),
    ] = False,
) -> None:
    """Print (or write) the OpenAPI document: the API contract partners code against."""
    from app.config import REPO_ROOT

    text = openapi_text()
    if write:
        (REPO_ROOT / "openapi.json").write_text(text, encoding="utf-8")
        out.print(f"wrote {REPO_ROOT / 'openapi.json'}")
    else:
        sys.stdout.write(text)


def openapi_text() -> str:
    from app.main import create_app

    document = create_app(Settings(docs_enabled=True)).openapi()
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
