"""Entering answers in the browser: a new draft, then one dimension at a time, then submit and
finalize — through the same assessment services (and so the same rules) as the REST API.

The page carries the assessment's ETag in a hidden field and sends it as If-Match: when another
editor saved in between, nothing is overwritten; the page says so and keeps what this person typed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from app.catalog import InstrumentFile
from app.domain.answers import AnswersInvalid, RawAnswer
from app.domain.enums import Status
from app.domain.errors import Conflict, Invalid, PreconditionFailed
from app.domain.instrument import Dimension, Instrument, Item
from app.domain.scoring import NA
from app.services import assessment_records as records
from app.services import assessments as svc
from app.services.common import latest_assessment_date
from app.services.organizations import OrganizationView, read_organization
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
)
from app.web.security import CSRF_FIELD, check_csrf

router = APIRouter(route_class=PageRoute, include_in_schema=False)


# --- a new draft ---------------------------------------------------------------------------------


def _new_form(page: Page, org: Any, status: int = 200, **values: Any) -> Response:
    choices = [
        (f"{f.instrument.id}|{f.instrument.version}", f.instrument, f is page.catalog.latest(i))
        for i in page.catalog.ids()
        for f in page.catalog.versions(i)
    ]
    values.setdefault("chosen", "")
    values.setdefault("round", "baseline")
    values.setdefault("assessed_on", latest_assessment_date().isoformat())
    values.setdefault("assessor", "")
    values.setdefault("error", None)
    return render(
        page,
        "entry_new.html",
        status,
        title=page.t("entry.new_title"),
        org=org,
        choices=choices,
        **values,
    )


@router.get("/organizations/{org_id}/assessments/new")
def new_form(page: MemberDep, org_id: uuid.UUID) -> Response:
    who = page.require_write()
    with db(page) as session:
        org = read_organization(session, who, org_id)
        return _new_form(page, org)


@router.post("/organizations/{org_id}/assessments/new")
def create(
    page: MemberDep,
    org_id: uuid.UUID,
    csrf: Csrf,
    instrument: Annotated[str, Form(max_length=100)],
    round: Annotated[str, Form(max_length=200)],
    assessed_on: Annotated[date, Form()],
    assessor: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    who = page.require_write()
    check_csrf(page.request, csrf)
    instrument_id, _, version = instrument.partition("|")
    data = svc.AssessmentData(
        organization_id=org_id,
        instrument_id=instrument_id,
        instrument_version=version or None,
        round=round,
        assessed_on=assessed_on,
        assessor=assessor.strip() or None,
    )
    with db(page) as session:
        org = read_organization(session, who, org_id)
        try:
            a, _ = svc.create_assessment(session, who, page.catalog, data)
        except (Invalid, Conflict) as exc:
            error = refusal(page.lang, exc)
            if any(e.get("pointer") == "/round" for e in exc.extra.get("errors") or []):
                error = page.t("entry.round_bad")
            existing = exc.extra.get("existing_id")
            if existing:
                error = page.t("entry.round_taken", round=round.strip())
            return _new_form(
                page,
                org,
                409 if isinstance(exc, Conflict) else 422,
                chosen=instrument,
                round=round,
                assessed_on=assessed_on.isoformat(),
                assessor=assessor,
                error=error,
                existing=existing,
            )
    return redirect(page, f"/assessments/{a.id}/edit")


# --- one dimension at a time ---------------------------------------------------------------------


@dataclass
class Choice:
    value: str
    label: str
    statement: str | None


@dataclass
class ItemView:
    item: Item
    choices: list[Choice]
    na: bool
    value: str
    note: str
    error: str | None = None
    saved_now: str | None = None  # after a refused stale save: what the other editor stored


@dataclass
class Entry:
    """What the edit page shows: one dimension's items with their answers and problems."""

    a: records.AssessmentRecord
    organization: OrganizationView
    instrument: Instrument
    dimension: Dimension
    items: dict[str, ItemView]
    previous: str | None
    next: str | None
    etag: str
    missing: dict[str, list[str]] = field(default_factory=dict)  # dimension key -> item keys


def value_text(v: object) -> str:
    if v is None:
        return ""
    if v is NA:
        return "na"
    number = float(v)  # type: ignore[arg-type]
    return str(int(number)) if number.is_integer() else str(number)


def choices_of(page: Page, instrument: Instrument, item: Item) -> list[Choice]:
    out = []
    for v in instrument.scales[item.scale].values:
        statement = None
        if item.levels and v.value.is_integer() and int(v.value) in item.levels:
            statement = page.text(item.levels[int(v.value)])
        elif v.description is not None:
            statement = page.text(v.description)
        out.append(Choice(value_text(v.value), page.text(v.label), statement))
    return out


def _stored(a: records.AssessmentRecord) -> tuple[dict[str, str], dict[str, str]]:
    values = {x.item: ("na" if x.value == "na" else value_text(x.value)) for x in a.answers}
    notes = {x.item: x.note or "" for x in a.answers}
    return values, notes


def _entry(
    page: Page,
    session: Session,
    f: InstrumentFile,
    a: records.AssessmentRecord,
    key: str | None,
    typed: FormData | None = None,
) -> Entry:
    instrument = f.instrument
    keys = [d.key for d in instrument.dimensions]
    index = keys.index(key) if key in keys else 0
    dimension = instrument.dimensions[index]
    values, notes = _stored(a)
    items = {}
    for area in dimension.areas:
        for item in area.items:
            value, note = values.get(item.key, ""), notes.get(item.key, "")
            if typed is not None:
                value = str(typed.get(f"a.{item.key}", ""))
                note = str(typed.get(f"n.{item.key}", ""))
            items[item.key] = ItemView(
                item, choices_of(page, instrument, item), instrument.allows_na(item), value, note
            )
    return Entry(
        a,
        read_organization(session, page.who, a.organization_id),
        instrument,
        dimension,
        items,
        keys[index - 1] if index > 0 else None,
        keys[index + 1] if index + 1 < len(keys) else None,
        a.etag,
    )


def _show(page: Page, entry: Entry, status: int = 200, **values: Any) -> Response:
    values.setdefault("error", None)
    values.setdefault("saved", page.request.query_params.get("saved") == "1")
    return render(
        page,
        "entry_edit.html",
        status,
        title=page.t("entry.edit_title", dimension=page.text(entry.dimension.title)),
        e=entry,
        **values,
    )


def _status_page(
    page: Page, session: Session, a: records.AssessmentRecord, **values: Any
) -> Response:
    values.setdefault("error", None)
    return render(
        page,
        "entry_status.html",
        int(values.pop("status", 200)),
        title=page.t("entry.status_title"),
        a=a,
        organization=read_organization(session, page.who, a.organization_id),
        score=records.stored_overall(session, a.id),
        etag=a.etag,
        **values,
    )


def _file(page: Page, a: records.AssessmentRecord) -> InstrumentFile:
    f = page.catalog.get(a.instrument_id, a.instrument_version)
    assert f is not None  # the catalog is checked against the database at start
    return f


@router.get("/assessments/{assessment_id}/edit")
def edit(page: MemberDep, assessment_id: uuid.UUID, dimension: str | None = None) -> Response:
    who = page.require_write()
    with db(page) as session:
        a = records.get_record(session, who, assessment_id)
        if a.status != Status.draft:
            return _status_page(page, session, a)
        return _show(page, _entry(page, session, _file(page, a), a, dimension))


def typed_answers(keys: Iterable[str], typed: FormData) -> list[RawAnswer]:
    """The items' values (``a.<key>``) and notes (``n.<key>``) as a form sent them."""
    out = []
    for key in keys:
        value = str(typed.get(f"a.{key}", "")).strip()
        note = str(typed.get(f"n.{key}", "")).strip()
        given: object = None
        if value == "na":
            given = "na"
        elif value:
            try:
                given = float(value)
            except ValueError:
                given = value  # the parser says what is wrong with it
        out.append(RawAnswer(key, given, note or None))
    return out


@router.post("/assessments/{assessment_id}/edit")
def save(page: MemberDep, assessment_id: uuid.UUID, typed: FormDep) -> Response:
    """Save this dimension's answers (If-Match: the row version the page was given), then go to
    the next or previous dimension, or submit."""
    who = page.require_write()
    check_csrf(page.request, str(typed.get(CSRF_FIELD, "")))
    action = str(typed.get("action", "save"))
    key = str(typed.get("dimension", ""))
    with db(page) as session:
        a = records.get_record(session, who, assessment_id)
        if a.status != Status.draft:
            return redirect(page, f"/assessments/{a.id}/edit")
        f = _file(page, a)
        entry = _entry(page, session, f, a, key, typed)
        if_match = str(typed.get("etag", "")) or None
        try:
            saved = svc.update_assessment(
                session, who, page.catalog, a.id, {}, typed_answers(entry.items, typed), if_match
            )
        except AnswersInvalid as exc:
            for p in exc.problems:
                if p.item in entry.items:
                    entry.items[p.item].error = p.es if page.lang == "es" else p.en
            return _show(page, entry, 422, error=page.t("entry.invalid", n=len(exc.problems)))
        except PreconditionFailed:
            session.rollback()
            return _stale(page, session, who, assessment_id, f, key, typed)
        if action == "submit":
            return _submit(page, session, who, f, saved, key)
    target = {"next": entry.next, "prev": entry.previous}.get(action) or entry.dimension.key
    return redirect(page, f"/assessments/{assessment_id}/edit?dimension={target}&saved=1")


def _stale(
    page: Page,
    session: Session,
    who: Any,
    assessment_id: uuid.UUID,
    f: InstrumentFile,
    key: str,
    typed: FormData,
) -> Response:
    """Someone saved in between: keep what this person typed, show what is stored now beside each
    item that differs, and hand out the current row version (saving again is then a choice)."""
    a = records.get_record(session, who, assessment_id)
    if a.status != Status.draft:
        return redirect(page, f"/assessments/{a.id}/edit")
    entry = _entry(page, session, f, a, key, typed)
    values, notes = _stored(a)
    for item_key, view in entry.items.items():
        now_value, now_note = values.get(item_key, ""), notes.get(item_key, "")
        if (view.value, view.note.strip()) != (now_value, now_note):
            label = next((c.label for c in view.choices if c.value == now_value), None)
            shown = page.t("entry.na") if now_value == "na" else label or page.t("entry.blank")
            view.saved_now = shown + (f" — {now_note}" if now_note else "")
    return _show(page, entry, 409, error=page.t("entry.stale"))


def _submit(
    page: Page, session: Session, who: Any, f: InstrumentFile, a: records.AssessmentRecord, key: str
) -> Response:
    try:
        svc.submit(session, who, page.catalog, a.id, a.etag)
    except Invalid as exc:
        a = records.get_record(session, who, a.id)
        entry = _entry(page, session, f, a, key)
        where = {i.key: d.key for d in f.instrument.dimensions for ar in d.areas for i in ar.items}
        for e in exc.extra.get("errors") or []:
            item = e.get("item")
            if item in entry.items:
                entry.items[item].error = page.t("entry.missing_item")
            if item in where:
                entry.missing.setdefault(where[item], []).append(item)
        return _show(page, entry, 422, error=page.t("entry.incomplete"), saved=True)
    return redirect(page, f"/assessments/{a.id}/edit")


# --- after submit: finalize or reopen ------------------------------------------------------------


@router.post("/assessments/{assessment_id}/edit/{step}")
def change_status(
    page: MemberDep,
    assessment_id: uuid.UUID,
    step: str,
    csrf: Csrf,
    etag: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    who = page.require_write()
    check_csrf(page.request, csrf)
    with db(page) as session:
        try:
            if step == "finalize":
                svc.finalize(session, who, assessment_id, etag or None)
            elif step == "reopen":
                svc.reopen(session, who, assessment_id, etag or None)
            else:
                return redirect(page, f"/assessments/{assessment_id}/edit")
        except (PreconditionFailed, Conflict) as exc:
            session.rollback()
            a = records.get_record(session, who, assessment_id)
            message = (
                page.t("entry.stale_status")
                if isinstance(exc, PreconditionFailed)
                else page.t("entry.status_conflict", status=page.t(f"status.{a.status}"))
            )
            return _status_page(page, session, a, status=409, error=message)
    return redirect(page, f"/assessments/{assessment_id}/edit")
