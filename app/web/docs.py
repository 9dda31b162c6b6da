"""The interactive API docs (Swagger UI), served entirely by the app: no CDN, works offline.

FastAPI's own docs page loads Swagger UI from a CDN and starts it with an inline script; this
page loads the vendored copy under ``/static/swagger/`` (see its README for source and version)
and starts it from a file, so the page's Content-Security-Policy allows scripts from this site
only.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

ASSETS = "/static/swagger"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — API</title>
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<main id="swagger-ui" data-openapi="{openapi}"></main>
<noscript><p>The interactive docs need JavaScript; the API description is at
<a href="{openapi}">{openapi}</a>.</p></noscript>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/init.js"></script>
</body>
</html>
"""


@router.get("/docs")
def docs(request: Request) -> HTMLResponse:
    app = request.app
    openapi = app.openapi_url or "/openapi.json"
    html = _PAGE.format(title=escape(app.title), assets=ASSETS, openapi=escape(openapi))
    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})
