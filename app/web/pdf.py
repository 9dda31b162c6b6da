"""Reports as PDF documents, made with WeasyPrint from the same templates as the pages.

WeasyPrint is pure Python on Pango: no browser in the service image, and it implements CSS paged
media (``@page`` margin boxes, ``counter(pages)``, ``target-counter`` for the table of contents,
repeated table headers), which is what a printed report needs (see docs/reports.md).

It never touches the network: the ``url_fetcher`` serves only files under ``app/web/static`` and
refuses every other address, so a report can't be made to fetch anything.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote, urlparse

from fastapi import Query
from starlette.responses import Response

from app.services.filenames import safe_filename
from app.web import i18n
from app.web.kit import Page, download, environment

STATIC = (Path(__file__).parent / "static").resolve()
BASE_URL = STATIC.as_uri() + "/"


class Paper(StrEnum):
    """The two paper sizes a report is printed on: A4 (most of the world) and Letter (carta: the
    United States, Mexico and much of Latin America)."""

    A4 = "a4"
    LETTER = "letter"


@dataclass(frozen=True)
class Sheet:
    css: str  # the CSS ``size`` of the page
    height: str  # the cover fills the first page exactly


SHEETS = {Paper.A4: Sheet("A4", "297mm"), Paper.LETTER: Sheet("letter", "279.4mm")}

Paper_Q = Annotated[
    Paper | None,
    Query(alias="paper", description="a4 or letter; the service's setting when absent"),
]


def chosen_paper(page: Page, paper: Paper | None) -> Paper:
    """The paper asked for, else the service's default (``OCA_REPORT_PAPER``)."""
    return paper or Paper(page.request.app.state.settings.report_paper)


class Refused(ValueError):
    """A report asked for something outside app/web/static."""


def static_only(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """WeasyPrint's ``url_fetcher``: files under app/web/static, nothing else."""
    parts = urlparse(url)
    if parts.scheme != "file":
        raise Refused(f"reports load no {parts.scheme or 'relative'} address: {url}")
    path = Path(unquote(parts.path)).resolve()
    if not path.is_relative_to(STATIC) or not path.is_file():
        raise Refused(f"reports load only files of app/web/static: {url}")
    mime, _ = mimetypes.guess_type(path.name)
    return {
        "string": path.read_bytes(),
        "mime_type": mime or "application/octet-stream",
        "redirected_url": path.as_uri(),
    }


def _page_css(lang: i18n.Lang) -> str:
    """The page-number box in the document's language (the rest lives in static/report.css)."""
    word = i18n.translate(lang, "report.page_of").replace('"', "")
    before, _, after = word.partition("{page}")
    middle, _, end = after.partition("{pages}")
    return (
        "@page { @bottom-right { content: "
        f'"{before}" counter(page) "{middle}" counter(pages) "{end}"; }} }}'
        "@page :first { @bottom-right { content: none; } }"
    )


def render_pdf(page: Page, template: str, paper: Paper | None, **values: Any) -> bytes:
    """The template rendered as a PDF document (report.css, no network) on the paper asked for,
    else on the service's default (``OCA_REPORT_PAPER``)."""
    from weasyprint import CSS, HTML  # type: ignore[import-untyped]  # loads Pango: only here

    sheet = SHEETS[chosen_paper(page, paper)]
    html = (
        environment()
        .get_template(template)
        .render(page=page, t=page.t, pdf=True, paper=sheet, **values)
    )
    document = HTML(string=html, base_url=BASE_URL, url_fetcher=static_only)
    extra = CSS(string=_page_css(page.lang), url_fetcher=static_only)
    pdf: bytes = document.write_pdf(stylesheets=[extra])
    return pdf


def filename(*parts: str) -> str:
    """The report's file name from its subject and rounds (the one rule: ``safe_filename``)."""
    return safe_filename(*(p for p in parts if p), ext="pdf")


def pdf_response(page: Page, content: bytes, name: str) -> Response:
    return download(page, name, content, "application/pdf")
