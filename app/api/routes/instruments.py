from __future__ import annotations

from fastapi import Path
from fastapi.responses import Response

from app.api.deps import CatalogDep
from app.api.routing import NOT_FOUND, Lang, v1_router, xlsx_ok, xlsx_response
from app.api.schemas.common import Page
from app.api.schemas.instruments import InstrumentSummary, InstrumentVersionRead, VersionSummary
from app.services.instruments import get_file, template_workbook
from app.services.xlsform import xlsform_workbook

router = v1_router("instruments")

IdPath = Path(max_length=40, examples=["oca"])
VersionPath = Path(max_length=32, examples=["2015.1"])


@router.get("/instruments", summary="List instruments and their versions")
async def list_instruments(catalog: CatalogDep) -> Page[InstrumentSummary]:
    out: list[InstrumentSummary] = []
    for instrument_id in catalog.ids():
        versions = catalog.versions(instrument_id)
        latest = versions[-1].instrument
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
                    )
                    for f in versions
                ],
            )
        )
    return Page[InstrumentSummary](items=out)


@router.get(
    "/instruments/{instrument_id}/versions/{version}",
    summary="The full definition of one instrument version",
    responses=NOT_FOUND,
)
async def get_instrument_version(
    catalog: CatalogDep,
    instrument_id: str = IdPath,
    version: str = VersionPath,
) -> InstrumentVersionRead:
    f = get_file(catalog, instrument_id, version)
    return InstrumentVersionRead(content_hash=f.content_hash, definition=f.instrument)


@router.get(
    "/instruments/{instrument_id}/versions/{version}/template.xlsx",
    summary="A locked Excel template of one instrument version, to fill offline",
    response_class=Response,
    responses={**NOT_FOUND, **xlsx_ok("The template")},
)
def get_template(
    catalog: CatalogDep,
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
    catalog: CatalogDep,
    instrument_id: str = IdPath,
    version: str = VersionPath,
) -> Response:
    name, data = xlsform_workbook(catalog, instrument_id, version)
    return xlsx_response(name, data)
