"""Webhooks for admins: the workspace's subscriptions, their recent deliveries, and forms to add,
pause, resume and remove one (the same service as ``/v1/webhooks``; every change audited there).

A new subscription's signing secret is shown once, on the answer to the form that made it, so that
answer is a rendered page (no-store) rather than a redirect.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form
from starlette.responses import Response

from app.config import Settings
from app.domain.errors import Invalid
from app.services import webhooks
from app.web.kit import Csrf, MemberDep, Page, PageRoute, db, redirect, refusal, render
from app.web.pages.admin import admin_only

router = APIRouter(route_class=PageRoute, include_in_schema=False)

RECENT = 10  # deliveries shown per subscription
DONE = ("paused", "resumed", "removed")


def _settings(page: Page) -> Settings:
    settings: Settings = page.request.app.state.settings
    return settings


def _page(page: Page, status: int = 200, **values: Any) -> Response:
    with db(page) as session:
        subscriptions = webhooks.list_subscriptions(session, page.who)
        recent = {
            s.id: webhooks.list_deliveries(session, page.who, s.id, RECENT) for s in subscriptions
        }
    done = page.request.query_params.get("done")
    values.setdefault("done", done if done in DONE else None)
    values.setdefault("form", {"url": "", "description": "", "events": list(webhooks.EVENTS)})
    return render(
        page,
        "admin_webhooks.html",
        status,
        title=page.t("admin.webhooks.title"),
        subscriptions=subscriptions,
        recent=recent,
        events=[e for e in webhooks.EVENTS if e != "instrument.published"],
        **values,
    )


@router.get("/admin/webhooks")
def webhooks_list(page: MemberDep) -> Response:
    admin_only(page)
    return _page(page)


@router.post("/admin/webhooks")
def create(
    page: MemberDep,
    csrf: Csrf,
    url: Annotated[str, Form(max_length=2000)] = "",
    description: Annotated[str, Form(max_length=200)] = "",
    events: Annotated[list[str] | None, Form()] = None,
) -> Response:
    admin_only(page, csrf)
    change = webhooks.SubscriptionChange(
        url=url.strip(), events=events or [], description=description.strip() or None
    )
    try:
        with db(page) as session:
            made = webhooks.create_subscription(session, page.who, _settings(page), change)
            secret, made_url = made.secret, made.url
    except Invalid as exc:
        form = {"url": url, "description": description, "events": events or []}
        return _page(page, 422, error=refusal(page.lang, exc), form=form)
    return _page(page, created={"url": made_url, "secret": secret})


def _set_active(page: Page, subscription_id: uuid.UUID, active: bool) -> None:
    with db(page) as session:
        webhooks.update_subscription(
            session,
            page.who,
            _settings(page),
            subscription_id,
            webhooks.SubscriptionChange(active=active),
        )


@router.post("/admin/webhooks/{subscription_id}/pause")
def pause(page: MemberDep, csrf: Csrf, subscription_id: uuid.UUID) -> Response:
    admin_only(page, csrf)
    _set_active(page, subscription_id, False)
    return redirect(page, "/admin/webhooks?done=paused")


@router.post("/admin/webhooks/{subscription_id}/resume")
def resume(page: MemberDep, csrf: Csrf, subscription_id: uuid.UUID) -> Response:
    admin_only(page, csrf)
    _set_active(page, subscription_id, True)
    return redirect(page, "/admin/webhooks?done=resumed")


@router.post("/admin/webhooks/{subscription_id}/remove")
def remove(page: MemberDep, csrf: Csrf, subscription_id: uuid.UUID) -> Response:
    admin_only(page, csrf)
    with db(page) as session:
        webhooks.delete_subscription(session, page.who, subscription_id)
    return redirect(page, "/admin/webhooks?done=removed")
