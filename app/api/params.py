"""Parameters shared by several routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Query

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
        gt=0,
        le=100,
        description="An improvement threshold to use instead of the instrument's own, the same "
        "in both directions (improved / declined)",
    ),
]
