"""Uploading filled workbooks from the browser: choose files, see a dry-run preview, confirm.

The preview and the import are the API's (``app.services.imports``, as ``POST /v1/imports``); the
files wait between the two requests in ``app.services.staged_imports`` (on disk, so any worker can
answer the confirmation). Only editors and admins upload; a viewer gets a 403 page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form
from starlette.datastructures import UploadFile
from starlette.responses import Response

from app.config import Settings
from app.excel import Limits
from app.services import imports, staged_imports
from app.web.kit import (
    Csrf,
    FormDep,
    MemberDep,
    Page,
    PageRoute,
    db,
    download,
    finish,
    redirect,
    render,
)
from app.web.security import CSRF_FIELD, check_csrf

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _settings(page: Page) -> Settings:
    settings: Settings = page.request.app.state.settings
    return settings


def _root(page: Page) -> Path:
    return _settings(page).data_dir / staged_imports.STAGED


def _limits(page: Page) -> Limits:
    return Limits(max_bytes=_settings(page).max_upload_bytes)


def _form(page: Page, status: int = 200, error: str | None = None) -> Response:
    return render(
        page,
        "upload.html",
        status,
        title=page.t("upload.title"),
        error=error,
        max_mb=_settings(page).max_upload_bytes / 1024 / 1024,
    )


@router.get("/uploads")
def upload_form(page: MemberDep) -> Response:
    page.require_write()
    return _form(page)


@router.post("/uploads")
def upload(page: MemberDep, typed: FormDep) -> Response:
    """Dry-run the chosen files and keep them for the confirmation. The form is read as is: a
    browser sends an empty file input as a plain field, which is "choose a file", not a 400."""
    who = page.require_write()
    check_csrf(page.request, str(typed.get(CSRF_FIELD, "")))
    create_organizations = typed.get("create_organizations") == "true"
    uploads = []
    for index, f in enumerate(typed.getlist("files")):
        if not isinstance(f, UploadFile):
            continue
        data = f.file.read()  # the app-wide body limit bounds this; the reader checks each file
        if f.filename or data:
            uploads.append(imports.Upload(f.filename or f"upload-{index + 1}.xlsx", data))
    if not uploads:
        return _form(page, 422, page.t("upload.none"))
    try:
        with db(page) as session:
            staged_id = staged_imports.preview(
                session,
                who,
                page.catalog,
                _root(page),
                uploads,
                create_organizations=create_organizations,
                limits=_limits(page),
            )
    except imports.UploadRejected as exc:
        return _form(page, 422, exc.problem.message(page.lang))
    return redirect(page, f"/uploads/{staged_id}")


@router.get("/uploads/{staged_id}")
def preview(page: MemberDep, staged_id: str) -> Response:
    who = page.require_write()
    staged = staged_imports.load(_root(page), who, staged_id)
    return render(
        page,
        "upload_preview.html",
        title=page.t("upload.preview_title"),
        staged=staged,
        importable=[f for f in staged.files if f.importable],
    )


@router.post("/uploads/{staged_id}/import")
def confirm(
    page: MemberDep,
    staged_id: str,
    csrf: Csrf,
    pick: Annotated[list[int], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
    step: Annotated[bool, Form()] = False,
) -> Response:
    """Import the checked workbooks. ``step`` (sent by upload.js, one workbook per request so it
    can show progress) answers 204 instead of the page."""
    who = page.require_write()
    check_csrf(page.request, csrf)
    with db(page) as session:
        staged_imports.confirm(
            session, who, page.catalog, _root(page), staged_id, pick, limits=_limits(page)
        )
    if step:
        response = Response(status_code=204)
        finish(page.request, response, page)
        return response
    return redirect(page, f"/uploads/{staged_id}#results")


@router.get("/uploads/{staged_id}/annotated/{n}")
def annotated(page: MemberDep, staged_id: str, n: int) -> Response:
    """A rejected workbook with each problem's cell red and commented, in the page's language."""
    who = page.require_write()
    root = _root(page)
    staged = staged_imports.load(root, who, staged_id)
    upload = staged_imports.workbook(root, who, staged, n)
    found = next(f for f in staged.files if f.n == n)
    result = found.done if found.done is not None else found.preview
    marked = imports.annotated_copy(upload, result, _limits(page))
    if marked is None:
        return render(
            page,
            "error.html",
            422,
            title=page.t("upload.annotate_title"),
            code=422,
            message=page.t("upload.annotate_failed"),
        )
    name, data = marked
    return download(page, name, data)
