"""Instruments: the catalog, one version read in full (levels, evidence, scoring rules in plain
words), and its Excel template in either language.

The library's instruments are the same for every workspace; any signed-in person may read them.
The workspace's own versions are listed too, drafts included (``own_instruments`` has their
pages). The downloads come from the same services as the API's routes, and, as there, work on
the workspace's drafts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from app.catalog import Catalog
from app.domain.instrument import Instrument, Item, Method, RiskRules, Scale, Scoring
from app.services.authoring import authoring_workbook
from app.services.instruments import get_file, template_workbook
from app.services.owned_instruments import list_owned, workspace_catalog
from app.services.xlsform import xlsform_workbook
from app.web.kit import MemberDep, Page, PageRoute, db, download, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

IdPath = Annotated[str, Path(max_length=40)]
VersionPath = Annotated[str, Path(max_length=32)]


@dataclass(frozen=True)
class Level:
    value: str
    label: str
    statement: str  # the item's own level statement, else the scale's description


def _value(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def levels(page: Page, item: Item, scale: Scale) -> list[Level]:
    """What each answer means for this item, in the page's language."""
    out = []
    for v in scale.values:
        own = item.levels.get(int(v.value)) if item.levels and v.value.is_integer() else None
        statement = own or v.description
        out.append(
            Level(_value(v.value), page.text(v.label), page.text(statement) if statement else "")
        )
    return out


def rules(page: Page, instrument: Instrument) -> list[str]:
    """The scoring rules of a version, as sentences a program officer can read."""
    s = instrument.scoring
    t = page.t
    out = [t(f"instrument.rule.method.{s.method.value}")]
    if s.method is not Method.risk:
        out.append(t("instrument.rule.coverage", pct=round(s.min_coverage * 100)))
        out.append(t("instrument.rule.na"))
        out.append(t("instrument.rule.improvement", threshold=_value(s.improvement_threshold)))
    if s.allow_partial:
        out.append(t("instrument.rule.partial"))
    if s.bands:
        out.append(t("instrument.rule.bands", bands=_bands(page, s)))
    if s.cap_by_weakest is not None:
        out.append(t("instrument.rule.cap", n=s.cap_by_weakest))
    if s.risk is not None:
        out.extend(_risk(page, s.risk))
    return out


def _bands(page: Page, s: Scoring) -> str:
    parts, low = [], 0.0
    for i, band in enumerate(s.bands):
        label = page.text(band.label)
        if i == 0:
            parts.append(page.t("instrument.rule.band_first", max=_value(band.max), label=label))
        else:
            parts.append(
                page.t("instrument.rule.band", min=_value(low), max=_value(band.max), label=label)
            )
        low = band.max
    return "; ".join(parts)


def _risk(page: Page, r: RiskRules) -> list[str]:
    t = page.t
    parts, low = [], 0.0
    for th in r.thresholds:
        name = t(f"instrument.risk.{th.band.value}")
        if th.below > 100:  # the last band reaches 100 %
            parts.append(t("instrument.rule.risk_band_last", min=_value(low), band=name))
        else:
            top = _value(th.below)
            parts.append(t("instrument.rule.risk_band", min=_value(low), max=top, band=name))
        low = th.below
    out = [
        t("instrument.rule.risk_percent"),
        t("instrument.rule.risk_bands", bands="; ".join(parts)),
        t("instrument.rule.key_question", band=t(f"instrument.risk.{r.key_question_floor.value}")),
        t(f"instrument.rule.risk_overall.{r.overall}"),
    ]
    if r.failing_area_band is not None:
        name = t(f"instrument.risk.{r.failing_area_band.value}")
        out.append(t("instrument.rule.failing_area", band=name))
    return out


def with_drafts(page: Page) -> Catalog:
    """The catalog of ``page.catalog`` plus the workspace's drafts (as the API's draft catalog)."""
    with db(page) as session:
        return workspace_catalog(
            session, page.request.app.state.catalog, page.who.workspace_id, drafts=True
        )


def catalog_view(page: Page, status: int = 200, **values: Any) -> Response:
    """The catalog, then the workspace's own versions, drafts marked (``values``: a refused
    upload's problems)."""
    catalog = page.catalog
    rows = []
    for instrument_id in catalog.ids():
        versions = catalog.versions(instrument_id)
        published = [f for f in versions if f.instrument.derived_from is None] or versions
        latest = published[-1].instrument  # a variant's title says what it leaves out
        rows.append({"id": instrument_id, "latest": latest, "versions": versions})
    with db(page) as session:
        own = list_owned(session, page.who)
    done = page.request.query_params.get("done") == "deleted"
    return render(
        page,
        "instruments.html",
        status,
        title=page.t("instrument.catalog"),
        rows=rows,
        own=own,
        deleted=done,
        **values,
    )


@router.get("/instruments")
def catalog_page(page: MemberDep) -> Response:
    return catalog_view(page)


@router.get("/instruments/{instrument_id}/{version}")
def version_page(page: MemberDep, instrument_id: IdPath, version: VersionPath) -> Response:
    f = get_file(page.catalog, instrument_id, version)
    ins = f.instrument
    items = {
        item.key: levels(page, item, ins.scales[item.scale])
        for dim in ins.dimensions
        for area in dim.areas
        for item in area.items
    }
    others = [v.instrument.version for v in page.catalog.versions(instrument_id)]
    return render(
        page,
        "instrument.html",
        title=f"{page.text(ins.title)} {ins.version}",
        ins=ins,
        levels=items,
        rules=rules(page, ins),
        versions=others,
        count=len(ins.item_keys),
    )


@router.get("/instruments/{instrument_id}/{version}/template.xlsx")
def template(
    page: MemberDep,
    instrument_id: IdPath,
    version: VersionPath,
    lang: Annotated[Literal["en", "es"] | None, Query()] = None,
) -> Response:
    name, data = template_workbook(with_drafts(page), instrument_id, version, lang or page.lang)
    return download(page, name, data)


@router.get("/instruments/{instrument_id}/{version}/xlsform.xlsx")
def xlsform(page: MemberDep, instrument_id: IdPath, version: VersionPath) -> Response:
    """The XLSForm for field collection (same service as the API's xlsform route)."""
    name, data = xlsform_workbook(with_drafts(page), instrument_id, version)
    return download(page, name, data)


@router.get("/instruments/{instrument_id}/{version}/authoring.xlsx")
def authoring(page: MemberDep, instrument_id: IdPath, version: VersionPath) -> Response:
    """The authoring workbook (same service as the API's authoring route)."""
    name, data = authoring_workbook(with_drafts(page), instrument_id, version)
    return download(page, name, data)
