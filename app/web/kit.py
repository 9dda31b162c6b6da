"""What every page shares: the page context, rendering, and the route class that turns a refusal
into a page (a 404 page for another workspace's object, a sign-in redirect, a 403 for a viewer).

Pages call the same services as the API; only the rendering differs. Handlers are plain ``def``
functions, so FastAPI runs them (and their database work) in its thread pool.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import jinja2
from fastapi import Depends, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app.catalog import Catalog
from app.config import Settings
from app.db.errors import Busy
from app.domain.errors import DomainError, Forbidden, NotFound, Throttled
from app.services.evidence_store import StoreUnavailable
from app.services.filenames import content_disposition
from app.services.keys import Principal
from app.services.owned_instruments import workspace_catalog
from app.services.rates import RateLimiter
from app.web import i18n
from app.web.security import (
    CSRF_FIELD,
    LANG_COOKIE,
    CsrfRefused,
    SignInRequired,
    csrf_token,
    find_visit,
    remember_pre_session,
    set_cookie,
)

TEMPLATES = Path(__file__).parent / "templates"

# Pages load only what the app itself serves: no inline script, no other origin.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(num=i18n.number, CSRF_FIELD=CSRF_FIELD)
    return env


log = logging.getLogger("oca.web")


@dataclass
class Page:
    """One request of a page: who asks, in which language, and the form token to send back."""

    request: Request
    lang: i18n.Lang
    principal: Principal | None
    workspace_name: str | None = None
    set_lang: bool = False
    extra_headers: dict[str, str] = field(default_factory=dict)
    _catalog: Catalog | None = field(default=None, repr=False)

    def t(self, key: str, **values: Any) -> str:
        return i18n.translate(self.lang, key, **values)

    def text(self, value: Any) -> str:
        return i18n.localized(value, self.lang)

    def day(self, value: Any) -> str:
        return i18n.day(value, self.lang)

    @property
    def who(self) -> Principal:
        if self.principal is None:
            raise SignInRequired()
        return self.principal

    @property
    def can_write(self) -> bool:
        return self.principal is not None and self.principal.can_write

    @property
    def is_admin(self) -> bool:
        return self.principal is not None and self.principal.is_admin

    def require_write(self) -> Principal:
        if not self.can_write:
            raise Forbidden(self.t("error.viewer"))
        return self.who

    @property
    def catalog(self) -> Catalog:
        """The instruments the API serves this workspace: the library the app loaded plus the
        workspace's own published versions (read once per page)."""
        if self._catalog is None:
            library: Catalog = self.request.app.state.catalog
            if self.principal is None:
                return library
            with self.request.app.state.sessionmaker() as session:
                self._catalog = workspace_catalog(session, library, self.principal.workspace_id)
        return self._catalog

    def require_admin(self) -> Principal:
        if not self.is_admin:
            raise Forbidden(self.t("error.admin"))
        return self.who

    def csrf(self) -> str:
        return csrf_token(self.request)

    def lang_url(self, lang: str) -> str:
        """The switch to ``lang`` that comes back to this very page, with its choices (a report's
        rounds, a search) but without a ``lang=`` that would switch it back."""
        target = self.request.url.path
        kept = [(k, v) for k, v in self.request.query_params.multi_items() if k != "lang"]
        if kept:
            target += "?" + urlencode(kept)
        return f"/language/{lang}?next={quote(target)}"


def db(page: Page) -> Session:
    """A database session for this page's work (use it in a ``with`` block)."""
    session: Session = page.request.app.state.sessionmaker()
    return session


def page_lang(request: Request) -> i18n.Lang:
    """The language a page for this request is shown in."""
    return _lang(request)[0]


def _lang(request: Request) -> tuple[i18n.Lang, bool]:
    asked = request.query_params.get("lang")
    lang = i18n.pick_lang(
        asked, request.cookies.get(LANG_COOKIE), request.headers.get("accept-language")
    )
    return lang, asked == lang


def visitor(request: Request) -> Page:
    """Dependency: anyone (sign-in, links); knows the person when there is one. Pages count
    against the same limits as the API: the address's, and a signed-in person's as a key's
    (a report PDF costs more than most API calls)."""
    settings: Settings = request.app.state.settings
    limiter: RateLimiter = request.app.state.rate_limiter
    address = request.client.host if request.client else "unknown"
    limiter.hit(f"addr:{address}", settings.rate_limit_per_address)
    lang, chosen = _lang(request)
    visit = find_visit(request)
    if visit is None:
        return Page(request, lang, None, set_lang=chosen)
    limiter.hit(f"person:{visit.principal.person_id}", settings.rate_limit_per_key)
    request.state.page_principal = visit.principal
    return Page(request, lang, visit.principal, visit.workspace, set_lang=chosen)


def member(request: Request) -> Page:
    """Dependency: a signed-in person of the current workspace (else the sign-in form)."""
    page = visitor(request)
    if page.principal is None:
        raise SignInRequired()
    return page


def render(page: Page, name: str, status: int = 200, **values: Any) -> HTMLResponse:
    values.setdefault("title", "")
    html = environment().get_template(name).render(page=page, t=page.t, **values)
    response = HTMLResponse(html, status_code=status)
    finish(page.request, response, page)
    return response


def finish(request: Request, response: Response, page: Page | None = None) -> None:
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["Cache-Control"] = "no-store"
    remember_pre_session(request, response)
    if page is not None:
        if page.set_lang:
            set_cookie(request, response, LANG_COOKIE, page.lang, max_age=60 * 60 * 24 * 365)
        for k, v in page.extra_headers.items():
            response.headers[k] = v


# What page routes take: the signed-in member's page, and the form's CSRF token
MemberDep = Annotated[Page, Depends(member)]
Csrf = Annotated[str, Form(alias=CSRF_FIELD)]


async def _form_data(request: Request) -> AsyncIterator[FormData]:
    async with request.form() as form:  # closes the uploaded files' temporary copies
        yield form


# A posted form read as it is (files and fields), for the routes that take uploads
FormDep = Annotated[FormData, Depends(_form_data)]


def uploaded(form: FormData, field: str = "file") -> bytes:
    """The bytes of the form's file ``field``; empty when none was chosen (the app-wide body
    limit bounds them)."""
    f = form.get(field)
    return f.file.read() if isinstance(f, UploadFile) else b""


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def download(page: Page, filename: str, data: bytes, media_type: str = XLSX) -> Response:
    """A file as an attachment, named as every download is (``content_disposition``); a
    ``?lang=`` that chose the file's language does not change the pages' language."""
    headers = {"Content-Disposition": content_disposition(filename)}
    response = Response(data, media_type=media_type, headers=headers)
    page.set_lang = False
    finish(page.request, response, page)
    return response


def redirect(page: Page | Request, to: str) -> RedirectResponse:
    """303 See Other: after a form, the browser GETs the next page."""
    request = page.request if isinstance(page, Page) else page
    response = RedirectResponse(to, status_code=303)
    finish(request, response, page if isinstance(page, Page) else None)
    return response


def safe_next(target: str | None) -> str:
    """Only a path on this site (never //other.example or a scheme): no open redirect."""
    if not target or not target.startswith("/") or "\\" in target:
        return "/"
    # Browsers drop tabs and newlines from a URL, so "/\t/evil.example" would become
    # "//evil.example": any control character or space sends the person home instead.
    if any(c <= " " or c == "\x7f" for c in target) or target.startswith("//"):
        return "/"
    return target


def refusal(lang: i18n.Lang, exc: DomainError) -> str:
    """A service's refusal in the page's language: its Spanish text when it gave one (on the
    error or on its first listed part); otherwise, on a Spanish page, a Spanish sentence that
    carries the English detail (services write their reasons in English first)."""
    if lang != "es":
        return exc.detail
    errors = exc.extra.get("errors") or []
    spanish = exc.extra.get("detail_es") or next(
        (e["detail_es"] for e in errors if isinstance(e, dict) and e.get("detail_es")), None
    )
    if spanish:
        return str(spanish)
    return i18n.translate("es", "error.in_english", detail=exc.detail)


def error_page(request: Request, status: int, message: str, **headers: str) -> HTMLResponse:
    lang, _ = _lang(request)
    principal = getattr(request.state, "page_principal", None)
    page = Page(request, lang, principal, extra_headers=headers)
    title = page.t(f"error.{status}.title") if f"error.{status}.title" in i18n.messages() else ""
    return render(page, "error.html", status, title=title, code=status, message=message)


async def _nul_in_form(request: Request) -> bool:
    """A text field of a plain form that holds NUL, which no database text can store: the API
    refuses it in every schema, pages refuse it here once for every form. (Multipart forms carry
    files and are read by their own routes, with their limits.)"""
    kind = request.headers.get("content-type", "")
    if request.method != "POST" or not kind.startswith("application/x-www-form-urlencoded"):
        return False
    form = await request.form()  # Starlette keeps it: the route reads the same form
    return any(isinstance(v, str) and "\x00" in v for _, v in form.multi_items())


class PageRoute(APIRoute):
    """A page's route: every refusal becomes a page, never problem+json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                if await _nul_in_form(request):
                    raise RequestValidationError([{"msg": "NUL in a form field"}])
                return await handler(request)
            except SignInRequired:
                target = request.url.path
                if request.url.query:
                    target += "?" + request.url.query
                return redirect(request, f"/sign-in?next={quote(target)}")
            except CsrfRefused:
                lang, _ = _lang(request)
                return error_page(request, 403, i18n.translate(lang, "error.csrf"))
            except NotFound:
                lang, _ = _lang(request)
                return error_page(request, 404, i18n.translate(lang, "error.404"))
            except Forbidden as exc:
                return error_page(request, 403, refusal(_lang(request)[0], exc))
            except Throttled as exc:
                return error_page(request, 429, exc.detail, **{"Retry-After": str(exc.retry_after)})
            except Busy as exc:
                return error_page(
                    request, 503, exc.detail, **{"Retry-After": str(exc.retry_after_seconds)}
                )
            except StoreUnavailable as exc:
                lang, _ = _lang(request)
                wait = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
                return error_page(
                    request, 503, exc.detail_es if lang == "es" else exc.detail, **wait
                )
            except DomainError as exc:
                return error_page(request, 422, refusal(_lang(request)[0], exc))
            except RequestValidationError:
                lang, _ = _lang(request)
                return error_page(request, 400, i18n.translate(lang, "error.400"))
            except HTTPException:
                raise
            except Exception:
                # a person gets a page, never JSON; the error is logged with its request id
                log.exception("unhandled error on page %s %s", request.method, request.url.path)
                lang, _ = _lang(request)
                return error_page(request, 500, i18n.translate(lang, "error.500"))

        return page_handler
