"""A workspace's own instrument versions in the browser: adapt a version or upload an authoring
workbook as a draft, look at a draft (its origin, crosswalk, downloads), replace it, try its
scoring, delete it, publish it.

Every step is the API's (``app.services.owned_instruments``): the same checks, the same problems
listed with their sheet and cell, nothing stored on error. Editors and admins write, only admins
publish; a viewer sees no form and gets a 403 page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from starlette.datastructures import FormData
from starlette.responses import Response

from app.domain.answers import AnswersInvalid, RawAnswer
from app.domain.errors import Conflict, DomainError, Invalid
from app.domain.instrument import Instrument
from app.excel.problems import WorkbookRejected
from app.services import owned_instruments as svc
from app.services.authoring import authoring_limits
from app.services.instruments import get_file
from app.web.kit import (
    Csrf,
    FormDep,
    MemberDep,
    Page,
    PageRoute,
    db,
    redirect,
    refusal,
    render,
    uploaded,
)
from app.web.pages.instruments import IdPath, VersionPath, catalog_view, levels, with_drafts
from app.web.security import CSRF_FIELD, check_csrf

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _problems(page: Page, exc: DomainError | WorkbookRejected) -> dict[str, Any]:
    """A refusal as the pages list it: one sentence, then every problem with its place."""
    if isinstance(exc, WorkbookRejected):
        rows = [p.as_error() for p in exc.problems]
        detail = page.t("own.rejected", n=len(rows))
    else:
        rows = exc.extra.get("errors") or []
        detail = refusal(page.lang, exc)
    listed = [
        {
            "sheet": r.get("sheet"),
            "cell": r.get("cell"),
            "detail": r.get("detail_es")
            if page.lang == "es" and r.get("detail_es")
            else r["detail"],
        }
        for r in rows
    ]
    return {"detail": detail, "problems": listed}


def _workbook(page: Page, form: FormData) -> Instrument:
    """The uploaded authoring workbook, read and checked (WorkbookRejected or Invalid)."""
    data = uploaded(form)
    max_bytes = page.request.app.state.settings.max_upload_bytes
    return svc.read_workbook(data, authoring_limits(max_bytes))


def _draft_url(row: Any) -> str:
    return f"/instruments/{row.instrument_id}/{row.version}/draft"


# --- starting a draft -----------------------------------------------------------------------------


def _adapt_form(
    page: Page, instrument_id: str, version: str, status: int = 200, **values: Any
) -> Response:
    f = get_file(with_drafts(page), instrument_id, version)
    values.setdefault("label", f"{version.split('-local')[0]}-local")
    return render(
        page,
        "own_adapt.html",
        status,
        title=page.t("own.adapt_title", origin=f"{instrument_id} {version}"),
        ins=f.instrument,
        **values,
    )


@router.get("/instruments/{instrument_id}/{version}/adapt")
def adapt_form(page: MemberDep, instrument_id: IdPath, version: VersionPath) -> Response:
    page.require_write()
    return _adapt_form(page, instrument_id, version)


@router.post("/instruments/{instrument_id}/{version}/adapt")
def adapt(
    page: MemberDep,
    csrf: Csrf,
    instrument_id: IdPath,
    version: VersionPath,
    label: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    who = page.require_write()
    check_csrf(page.request, csrf)
    try:
        with db(page) as session:
            row = svc.derive(
                session, who, page.request.app.state.catalog, instrument_id, version, label.strip()
            )
            target = _draft_url(row)
    except (Invalid, Conflict) as exc:
        return _adapt_form(page, instrument_id, version, 422, label=label, **_problems(page, exc))
    return redirect(page, target)


@router.post("/instruments/authoring")
def upload_new(page: MemberDep, form: FormDep) -> Response:
    """A new draft from an authoring workbook."""
    who = page.require_write()
    check_csrf(page.request, str(form.get(CSRF_FIELD, "")))
    try:
        instrument = _workbook(page, form)
        with db(page) as session:
            row = svc.create_draft(session, who, page.request.app.state.catalog, instrument)
            target = _draft_url(row)
    except (WorkbookRejected, Invalid, Conflict) as exc:
        return catalog_view(page, 422, **_problems(page, exc))
    return redirect(page, target)


# --- one draft ------------------------------------------------------------------------------------


def _draft_page(
    page: Page, instrument_id: str, version: str, status: int = 200, **values: Any
) -> Response:
    with db(page) as session:
        row = svc.get_owned(session, page.who, instrument_id, version)
        if row.status == svc.PUBLISHED:
            return redirect(page, f"/instruments/{instrument_id}/{version}")
        own = svc.describe(row)
        origin = row.derived_from
    ins = own.file.instrument
    return render(
        page,
        "own_draft.html",
        status,
        title=page.t("own.draft_title", label=f"{instrument_id} {version}"),
        ins=ins,
        own=own,
        origin=origin.split(" ", 1) if origin else None,
        count=len(ins.item_keys),
        **values,
    )


@router.get("/instruments/{instrument_id}/{version}/draft")
def draft_page(page: MemberDep, instrument_id: IdPath, version: VersionPath) -> Response:
    done = page.request.query_params.get("done")
    return _draft_page(page, instrument_id, version, done=done == "replaced")


@router.post("/instruments/{instrument_id}/{version}/draft/authoring")
def replace(
    page: MemberDep, form: FormDep, instrument_id: IdPath, version: VersionPath
) -> Response:
    """Replace the draft by an edited authoring workbook; on any problem nothing changes."""
    who = page.require_write()
    check_csrf(page.request, str(form.get(CSRF_FIELD, "")))
    try:
        instrument = _workbook(page, form)
        with db(page) as session:
            library = page.request.app.state.catalog
            svc.replace_draft(session, who, library, instrument_id, version, instrument)
    except (WorkbookRejected, Invalid) as exc:
        return _draft_page(page, instrument_id, version, 422, done=False, **_problems(page, exc))
    return redirect(page, f"/instruments/{instrument_id}/{version}/draft?done=replaced")


@router.get("/instruments/{instrument_id}/{version}/draft/trial")
def trial(page: MemberDep, instrument_id: IdPath, version: VersionPath) -> Response:
    """Answers chosen item by item, scored as the API's score trial does; nothing is stored."""
    who = page.require_write()
    ins = get_file(with_drafts(page), instrument_id, version).instrument
    items = [item for dim in ins.dimensions for area in dim.areas for item in area.items]
    asked = page.request.query_params
    every = asked.get("every", "")  # the answer of every item left blank
    chosen = {i.key: asked.get(i.key) or every for i in items}
    score, errors = None, []
    if "score" in asked:
        answers = [RawAnswer(k, v or None) for k, v in chosen.items()]
        try:
            with db(page) as session:
                library = page.request.app.state.catalog
                _, score = svc.score_trial(session, who, library, instrument_id, version, answers)
        except AnswersInvalid as exc:
            errors = [f"{p.item}: {p.es if page.lang == 'es' else p.en}" for p in exc.problems]
    return render(
        page,
        "own_trial.html",
        422 if errors else 200,
        title=page.t("own.trial_title", label=f"{instrument_id} {version}"),
        ins=ins,
        levels={i.key: levels(page, i, ins.scales[i.scale]) for i in items},
        chosen=chosen,
        chosen_every=every,
        every=sorted({lv.value for i in items for lv in levels(page, i, ins.scales[i.scale])}),
        score=score,
        errors=errors,
    )


# --- deleting and publishing: a confirmation first ------------------------------------------------

STEPS = {"delete": "own.delete", "publish": "own.publish"}


def _confirm(page: Page, step: str, instrument_id: str, version: str) -> Response:
    with db(page) as session:
        row = svc.get_owned(session, page.who, instrument_id, version)
        if row.status != svc.DRAFT:
            return redirect(page, f"/instruments/{instrument_id}/{version}")
    return render(
        page,
        "own_confirm.html",
        title=page.t(f"{STEPS[step]}_title", label=f"{instrument_id} {version}"),
        step=step,
        key=STEPS[step],
        label=f"{instrument_id} {version}",
        url=f"/instruments/{instrument_id}/{version}/draft",
    )


@router.get("/instruments/{instrument_id}/{version}/draft/delete")
def delete_confirm(page: MemberDep, instrument_id: IdPath, version: VersionPath) -> Response:
    page.require_write()
    return _confirm(page, "delete", instrument_id, version)


@router.post("/instruments/{instrument_id}/{version}/draft/delete")
def delete(page: MemberDep, csrf: Csrf, instrument_id: IdPath, version: VersionPath) -> Response:
    who = page.require_write()
    check_csrf(page.request, csrf)
    with db(page) as session:
        svc.delete_draft(session, who, instrument_id, version)
    return redirect(page, "/instruments?done=deleted#own")


@router.get("/instruments/{instrument_id}/{version}/draft/publish")
def publish_confirm(page: MemberDep, instrument_id: IdPath, version: VersionPath) -> Response:
    page.require_admin()
    return _confirm(page, "publish", instrument_id, version)


@router.post("/instruments/{instrument_id}/{version}/draft/publish")
def publish(page: MemberDep, csrf: Csrf, instrument_id: IdPath, version: VersionPath) -> Response:
    who = page.require_admin()
    check_csrf(page.request, csrf)
    with db(page) as session:
        svc.publish(session, who, instrument_id, version)
    return redirect(page, f"/instruments/{instrument_id}/{version}")
