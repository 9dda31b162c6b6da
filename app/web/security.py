"""Sessions and forms in the browser: the session cookie, CSRF tokens, and the page principal.

- The session cookie holds a random secret (HttpOnly, SameSite=Lax, Secure over HTTPS); the
  database keeps its hash, and every request looks it up, so a sign-out or a removal holds at once
  on every worker.
- Every form carries a CSRF token: an HMAC of the session secret (or, before sign-in, of a random
  pre-session cookie), so another site cannot forge one. A POST without the right token changes
  nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request
from starlette.responses import Response

from app.config import Settings
from app.services.people import SessionPolicy, Visit, session_principal

SESSION_COOKIE = "oca_session"
PRE_COOKIE = "oca_pre"
LANG_COOKIE = "oca_lang"
CSRF_FIELD = "csrf_token"


class SignInRequired(Exception):
    """The page needs a signed-in person; the page route sends them to the sign-in form."""


class CsrfRefused(Exception):
    """A form came without the token this browser was given."""


def policy(settings: Settings) -> SessionPolicy:
    return SessionPolicy(idle=settings.session_idle, absolute=settings.session_absolute)


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure(request),
        path="/",
    )


def pre_session(request: Request) -> str:
    """The random pre-session value of this browser, made on first sight (set by ``remember``)."""
    value = request.cookies.get(PRE_COOKIE)
    if not value or len(value) > 100:
        value = getattr(request.state, "new_pre", None) or secrets.token_urlsafe(24)
        request.state.new_pre = value
    return value


def csrf_token(request: Request) -> str:
    material = request.cookies.get(SESSION_COOKIE) or pre_session(request)
    return hmac.new(material.encode(), b"oca-csrf", hashlib.sha256).hexdigest()


def check_csrf(request: Request, sent: str | None) -> None:
    if not sent or not hmac.compare_digest(sent, csrf_token(request)):
        raise CsrfRefused()


def remember_pre_session(request: Request, response: Response) -> None:
    new = getattr(request.state, "new_pre", None)
    if new:
        set_cookie(request, response, PRE_COOKIE, new, max_age=60 * 60 * 24)


def find_visit(request: Request) -> Visit | None:
    """The signed-in person of this request (runs in a worker thread: it reads the database)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    settings: Settings = request.app.state.settings
    with request.app.state.sessionmaker() as session:
        return session_principal(session, token, policy(settings))
