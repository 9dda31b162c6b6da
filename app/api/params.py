"""Parameters shared by several routes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Annotated, Any

from fastapi import Header, Query
from pydantic import BeforeValidator

from app.catalog import Catalog
from app.domain.errors import Invalid

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Retry-safe creation: a retry with the same key and body returns the first "
        "result; the same key with another body is rejected (422). Keys are kept 24 hours.",
    ),
]
IfMatch = Annotated[
    str | None, Header(alias="If-Match", max_length=200, description="The ETag you read")
]
Limit = Annotated[int, Query(ge=1, le=200, description="Page size")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="The next_cursor of the previous page")
]
Threshold = Annotated[
    float | None,
    Query(
        ge=0.01,
        le=100,
        description="An improvement threshold to use instead of the instrument's own, the same "
        "in both directions (improved / declined)",
    ),
]


_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_day(value: Any) -> Any:
    """Only YYYY-MM-DD: pydantic would also read '0' as a Unix time (1970-01-01)."""
    if isinstance(value, str) and not _ISO_DAY.match(value):
        raise ValueError("a date is written YYYY-MM-DD")
    return value


Day = Annotated[date | None, BeforeValidator(_iso_day), Query(description="YYYY-MM-DD")]


def check_choice(name: str, value: str, valid: Iterable[str]) -> None:
    """A query parameter that must be one of a known set: a 422 that lists the set, never an
    empty 200 that looks like "no data"."""
    allowed = sorted(set(valid))
    if value not in allowed:
        raise Invalid(
            f"unknown {name} {value!r}; valid values: {', '.join(allowed)}",
            errors=[
                {
                    "pointer": f"/query/{name}",
                    "code": "not_a_valid_value",
                    "detail": f"valid values: {', '.join(allowed)}",
                    "detail_es": f"valores válidos: {', '.join(allowed)}",
                }
            ],
            valid=allowed,
        )


def check_instrument_id(catalog: Catalog, instrument_id: str) -> None:
    check_choice("instrument_id", instrument_id, (f.instrument.id for f in catalog))
