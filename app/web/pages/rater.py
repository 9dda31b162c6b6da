"""A rater's own page (issue 12): through their link, with no account, a rater reads every item
of the instrument in their language with its scale (the rubric's level statements), their own
saved ratings, and saves or finishes. Nothing else of the assessment is shown: not the other
raters, the distribution, the consensus or the scores (``rater_links``). docs/raters.md."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from app.domain.answers import AnswersInvalid
from app.services import rater_links
from app.web.kit import Page, PageRoute, db, redirect, render, visitor
from app.web.pages.entry import ItemView, choices_of, typed_answers, value_text
from app.web.security import CSRF_FIELD, check_csrf

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _page(request: Request) -> Page:
    """Anyone holding a link; the address's rate limit counts as for every page, and the link
    never leaves in a Referer header."""
    page = visitor(request)
    page.extra_headers["Referrer-Policy"] = "no-referrer"
    return page


PageDep = Annotated[Page, Depends(_page)]


async def _form(request: Request) -> AsyncIterator[FormData]:
    async with request.form() as form:
        yield form


def _show(
    page: Page,
    h: rater_links.Holder,
    token: str,
    typed: FormData | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The rater's items with their saved ratings (or, after a refused save, what they typed and
    each item's problem)."""
    instrument = h.file.instrument
    stored = {r.item_key: r for r in h.rater.ratings}
    items = {}
    for key, item in instrument.items.items():
        row = stored.get(key)
        value = "na" if row and row.is_na else value_text(row.value if row else None)
        note = (row.note or "") if row else ""
        if typed is not None:
            value, note = str(typed.get(f"a.{key}", "")), str(typed.get(f"n.{key}", ""))
        items[key] = ItemView(
            item,
            choices_of(page, instrument, item),
            instrument.allows_na(item),
            value,
            note,
            (errors or {}).get(key),
        )
    return render(
        page,
        "rater.html",
        status,
        title=page.t("rater.title"),
        h=h,
        instrument=instrument,
        items=items,
        token=token,
        done=page.request.query_params.get("done"),
        error=page.t("rater.invalid", n=len(errors)) if errors else None,
    )


@router.get("/rate/{token}")
def rater_page(page: PageDep, token: str) -> Response:
    with db(page) as session:
        h = rater_links.holder(session, page.catalog, token)
        return _show(page, h, token)


@router.post("/rate/{token}")
def rater_save(page: PageDep, token: str, typed: Annotated[FormData, Depends(_form)]) -> Response:
    """Save the rater's ratings (all items at once); "finish" also says they are done."""
    check_csrf(page.request, str(typed.get(CSRF_FIELD, "")))
    finished = typed.get("action") == "finish"
    with db(page) as session:
        h = rater_links.holder(session, page.catalog, token)
        answers = typed_answers(h.file.instrument.items, typed)
        try:
            rater_links.save_own(session, page.catalog, token, answers, finished=finished)
        except AnswersInvalid as exc:
            session.rollback()
            h = rater_links.holder(session, page.catalog, token)
            errors = {p.item: p.es if page.lang == "es" else p.en for p in exc.problems}
            return _show(page, h, token, typed, errors, 422)
    return redirect(page, f"/rate/{token}?done={'finished' if finished else 'saved'}")
