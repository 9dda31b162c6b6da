"""Signing in and out, one-time links (invitation, reset), language and workspace choice."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form
from starlette.responses import Response

from app.domain.errors import Invalid, NotFound, Throttled
from app.services import people, throttle
from app.web.kit import (
    Csrf,
    MemberDep,
    Page,
    PageRoute,
    db,
    redirect,
    render,
    safe_next,
    visitor,
)
from app.web.security import (
    LANG_COOKIE,
    SESSION_COOKIE,
    check_csrf,
    policy,
    set_cookie,
)

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PageDep = Annotated[Page, Depends(visitor)]


def _address(page: Page) -> str:
    client = page.request.client
    return client.host if client else "unknown"


@router.get("/sign-in")
def sign_in_form(page: PageDep, next: str = "/") -> Response:
    if page.principal is not None:
        return redirect(page, safe_next(next))
    return render(page, "sign_in.html", title=page.t("sign_in.title"), next=safe_next(next))


@router.post("/sign-in")
def sign_in(
    page: PageDep,
    csrf: Csrf,
    email: Annotated[str, Form(max_length=300)] = "",
    password: Annotated[str, Form(max_length=500)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    check_csrf(page.request, csrf)
    settings = page.request.app.state.settings
    try:
        with db(page) as session:
            signed = people.sign_in(
                session,
                email,
                password,
                address=_address(page),
                policy=policy(settings),
                limits=throttle.limits_of(settings),
            )
    except Throttled as exc:
        page.extra_headers["Retry-After"] = str(exc.retry_after)
        minutes = (exc.retry_after + 59) // 60
        return render(
            page,
            "sign_in.html",
            429,
            title=page.t("sign_in.title"),
            next=safe_next(next),
            email=email,
            error=page.t("sign_in.throttled", minutes=minutes),
        )
    except Invalid:
        return render(
            page,
            "sign_in.html",
            401,
            title=page.t("sign_in.title"),
            next=safe_next(next),
            email=email,
            error=page.t("sign_in.wrong"),
        )
    response = redirect(page, safe_next(next))
    max_age = int(settings.session_absolute.total_seconds())
    set_cookie(page.request, response, SESSION_COOKIE, signed.token, max_age=max_age)
    return response


@router.post("/sign-out")
def sign_out(page: PageDep, csrf: Csrf) -> Response:
    check_csrf(page.request, csrf)
    token = page.request.cookies.get(SESSION_COOKIE)
    if token:
        with db(page) as session:
            people.sign_out(session, token)
    response = redirect(page, "/sign-in")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/links/{token}")
def link_form(page: PageDep, token: str) -> Response:
    with db(page) as session:
        person = people.link_person(session, token)
    if person is None:
        raise NotFound("link")
    return render(page, "link.html", title=page.t("link.title"), person=person, token=token)


@router.post("/links/{token}")
def use_link(
    page: PageDep,
    token: str,
    csrf: Csrf,
    password: Annotated[str, Form(max_length=500)] = "",
    confirm: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    check_csrf(page.request, csrf)
    with db(page) as session:
        person = people.link_person(session, token)
        if person is None:
            raise NotFound("link")
        error = None
        if password != confirm:
            error = page.t("link.mismatch")
        else:
            try:
                people.use_link(session, token, password)
            except Invalid:
                long = len(password) > people.PASSWORD_MAX
                error = (
                    page.t("link.long", max=people.PASSWORD_MAX)
                    if long
                    else page.t("link.short", min=people.PASSWORD_MIN)
                )
        if error:
            return render(
                page,
                "link.html",
                422,
                title=page.t("link.title"),
                person=person,
                token=token,
                error=error,
            )
    return redirect(page, "/sign-in?done=password")


@router.get("/language/{lang}")
def language(page: PageDep, lang: str, next: str = "/") -> Response:
    response = redirect(page, safe_next(next))
    if lang in ("es", "en"):
        set_cookie(page.request, response, LANG_COOKIE, lang, max_age=60 * 60 * 24 * 365)
    return response


@router.post("/workspace")
def choose_workspace(
    page: MemberDep, csrf: Csrf, workspace_id: Annotated[uuid.UUID, Form()]
) -> Response:
    check_csrf(page.request, csrf)
    token = page.request.cookies.get(SESSION_COOKIE, "")
    with db(page) as session:
        people.switch_workspace(session, token, workspace_id)
    return redirect(page, "/")
