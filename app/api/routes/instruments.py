from __future__ import annotations

from typing import Annotated

from fastapi import File, Path, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from app.api.deps import CatalogDep, DraftCatalogDep, PrincipalDep, SessionDep, SettingsDep
from app.api.problems import problem_response
from app.api.routing import (
    NOT_FOUND,
    JsonText,
    Lang,
    problem,
    v1_router,
    xlsx_ok,
    xlsx_response,
)
from app.api.schemas.common import Page
from app.api.schemas.instruments import (
    AuthoringCheckRead,
    InstrumentSummary,
    InstrumentVersionRead,
    VersionSummary,
)
from app.domain.instrument import Text
from app.excel.problems import WorkbookRejected
from app.services.authoring import authoring_limits, authoring_workbook, check_authoring
from app.services.instruments import get_file, template_workbook
from app.services.owned_instruments import DRAFT, PUBLISHED, status_of
from app.services.xlsform import xlsform_workbook

router = v1_router("instruments")

IdPath = Path(max_length=40, examples=["oca"])
VersionPath = Path(max_length=32, examples=["2015.1"])


@router.get(
    "/instruments",
    summary="List instruments and their versions: the library's and the workspace's published ones",
    response_class=JsonText,
    responses={200: {"model": Page[InstrumentSummary], "description": "Successful Response"}},
)
async def list_instruments(catalog: CatalogDep) -> Response:
    # serialized once here; the model is documented (responses), not validated a second time
    out: list[InstrumentSummary] = []
    for instrument_id in catalog.ids():
        versions = catalog.versions(instrument_id)
        latest = (catalog.latest(instrument_id) or versions[-1]).instrument
        out.append(
            InstrumentSummary(
                id=instrument_id,
                title=latest.title,
                latest_version=latest.version,
                versions=[
                    VersionSummary(
                        version=f.instrument.version,
                        content_hash=f.content_hash,
                        title=f.instrument.title,
                        method=f.instrument.scoring.method,
                        items=len(f.instrument.item_keys),
                        owner="workspace" if f.owned else "library",
                    )
                    for f in versions
                ],
            )
        )
    return JsonText(Page[InstrumentSummary](items=out).model_dump_json())


@router.get(
    "/instruments/{instrument_id}/versions/{version}",
    summary="The full definition of one instrument version",
    responses=NOT_FOUND,
)
async def get_instrument_version(
    catalog: DraftCatalogDep,
    session: SessionDep,
    principal: PrincipalDep,
    instrument_id: str = IdPath,
    version: str = VersionPath,
) -> InstrumentVersionRead:
    f = get_file(catalog, instrument_id, version)
    status = await run_in_threadpool(status_of, session, principal, f) if f.owned else PUBLISHED
    return InstrumentVersionRead(
        content_hash=f.content_hash,
        definition=f.instrument,
        owner="workspace" if f.owned else "library",
        status="draft" if status == DRAFT else "published",
    )


@router.get(
    "/instruments/{instrument_id}/versions/{version}/template.xlsx",
    summary="A locked Excel template of one instrument version, to fill offline",
    response_class=Response,
    responses={**NOT_FOUND, **xlsx_ok("The template")},
)
def get_template(
    catalog: DraftCatalogDep,
    instrument_id: str = IdPath,
    version: str = VersionPath,
    lang: Lang = "en",
) -> Response:
    name, data = template_workbook(catalog, instrument_id, version, lang)
    return xlsx_response(name, data)


@router.get(
    "/instruments/{instrument_id}/versions/{version}/xlsform.xlsx",
    summary="One instrument version as an XLSForm, for KoboToolbox or ODK Central",
    description=(
        "A plain XLSForm workbook (survey, choices and settings sheets; English and Spanish "
        "labels) that pyxform converts to an ODK XForm. Hidden fields carry the instrument id, "
        "version and content hash; the first group asks for the organization, round and "
        "assessment date, so a submission names what it belongs to."
    ),
    response_class=Response,
    responses={**NOT_FOUND, **xlsx_ok("The XLSForm")},
)
def get_xlsform(
    catalog: DraftCatalogDep,
    instrument_id: str = IdPath,
    version: str = VersionPath,
) -> Response:
    name, data = xlsform_workbook(catalog, instrument_id, version)
    return xlsx_response(name, data)


@router.get(
    "/instruments/{instrument_id}/versions/{version}/authoring.xlsx",
    summary="One instrument version as an authoring workbook, to edit in Excel",
    description=(
        "The whole instrument in the XLSForm layout (survey, choices and settings sheets; "
        "English and Spanish columns; a select_one list per scale; a group per dimension and "
        "area) plus columns and sheets of our own for rubric level statements, lens, weight, "
        "N/A, key questions, risk points, evidence and scoring rules (docs/authoring.md). "
        "Reading it back gives exactly the same instrument."
    ),
    response_class=Response,
    responses={**NOT_FOUND, **xlsx_ok("The authoring workbook")},
)
def get_authoring(
    catalog: DraftCatalogDep,
    instrument_id: str = IdPath,
    version: str = VersionPath,
) -> Response:
    name, data = authoring_workbook(catalog, instrument_id, version)
    return xlsx_response(name, data)


@router.post(
    "/instruments/authoring/check",
    summary="Check an edited authoring workbook (a dry run: nothing is stored)",
    response_model=AuthoringCheckRead,
    description=(
        "Reads the workbook as the authoring download writes it and answers what it holds. "
        "A workbook that is not a valid instrument is answered 422 with every problem, each "
        "with its sheet and cell and a message in English and Spanish. To store it as a "
        "workspace draft, send it to `POST /v1/instruments/own/authoring`."
    ),
    responses={
        413: problem("The request is larger than the configured limit"),
        422: problem("The workbook is not a valid instrument; `errors` lists every problem"),
    },
)
async def check_authoring_workbook(
    catalog: CatalogDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="An authoring workbook (.xlsx)")],
) -> AuthoringCheckRead | Response:
    data = await file.read()  # the app-wide body limit bounds this; the reader checks it again
    try:
        summary = await run_in_threadpool(
            check_authoring, data, authoring_limits(settings.max_upload_bytes)
        )
    except WorkbookRejected as exc:
        return problem_response(
            422,
            "workbook-rejected",
            "Authoring workbook rejected",
            f"{len(exc.problems)} problem(s); nothing was stored",
            errors=[p.as_error() for p in exc.problems],
        )
    return AuthoringCheckRead(
        id=summary.id,
        version=summary.version,
        title=Text(en=summary.title_en, es=summary.title_es),
        method=summary.instrument.scoring.method,
        dimensions=summary.dimensions,
        areas=summary.areas,
        items=summary.items,
        scales=summary.scales,
        known_version=catalog.get(summary.id, summary.version) is not None,
    )
