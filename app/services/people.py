"""People who use the web pages: accounts, memberships, sessions, one-time links, throttling.

A person signs in with an e-mail and a password (Argon2id) and acts in one workspace at a time
with the role of their membership there: the same roles, services and tenant rules as API keys.
Secrets (session cookies, invitation and reset links) are shown once; only their SHA-256 is kept.
Everything is in the database, so a sign-out, a removal or a throttle holds on every worker.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.db.models import (
    Membership,
    OneTimeLink,
    Person,
    Role,
    WebSession,
    Workspace,
)
from app.db.session import serialize_on, write_transaction
from app.domain.errors import Forbidden, Invalid, NotFound
from app.services import throttle
from app.services.common import audit, aware, now
from app.services.keys import Principal, ensure_workspace

_hasher = PasswordHasher()  # Argon2id with the library's current recommended parameters


@functools.cache
def _dummy_hash() -> str:
    """Verified when the e-mail is unknown, so that a wrong e-mail costs as long as a wrong
    password. Made at the first such sign-in, not on import: an Argon2id hash takes 64 MiB for
    a moment, which every `oca` command and worker paid at start (their peak memory was 140 MiB
    instead of 90; docs/benchmarks.md)."""
    return _hasher.hash(secrets.token_urlsafe(16))


PASSWORD_MIN = 10
PASSWORD_MAX = 200
LINK_LIFETIME = {"invite": timedelta(days=7), "reset": timedelta(hours=24)}
LAST_SEEN_RESOLUTION = timedelta(minutes=1)

# no spaces and no control characters (NUL can't be stored in PostgreSQL text)
_EMAIL = re.compile(
    r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]{1,189}\.[^@\s.\x00-\x1f\x7f]{2,63}$"
)


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(hours=2)
    absolute: timedelta = timedelta(hours=12)


@dataclass(frozen=True)
class SignedIn:
    token: str  # the cookie's value, shown once
    principal: Principal
    expires_at: datetime


@dataclass(frozen=True)
class Link:
    person_id: uuid.UUID
    email: str
    purpose: str
    token: str | None  # None: the person already has a password and needs no link


@dataclass(frozen=True)
class Member:
    person_id: uuid.UUID
    email: str
    name: str
    role: Role
    active: bool  # has set a password


@dataclass(frozen=True)
class WorkspaceChoice:
    id: uuid.UUID
    name: str
    role: Role


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normalize_email(email: str) -> str:
    value = email.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise Invalid(f"'{email.strip()[:80]}' is not an e-mail address")
    return value


def check_password(password: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise Invalid(f"the password must have at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise Invalid(f"the password must have at most {PASSWORD_MAX} characters")


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise Invalid(f"role must be one of {[r.value for r in Role]}") from None


def _person_by_email(session: Session, email: str) -> Person | None:
    return session.scalar(select(Person).where(Person.email == email))


def _new_link(session: Session, person: Person, purpose: str) -> str:
    token = secrets.token_urlsafe(32)
    moment = now()
    # A new link replaces any earlier unused one of the same purpose.
    session.execute(
        delete(OneTimeLink).where(
            OneTimeLink.person_id == person.id,
            OneTimeLink.purpose == purpose,
            OneTimeLink.used_at.is_(None),
        )
    )
    session.add(
        OneTimeLink(
            token_hash=digest(token),
            purpose=purpose,
            person_id=person.id,
            created_at=moment,
            expires_at=moment + LINK_LIFETIME[purpose],
        )
    )
    return token


def _join(session: Session, person: Person, workspace_id: uuid.UUID, role: Role) -> None:
    found = session.get(Membership, (person.id, workspace_id))
    if found is None:
        session.add(
            Membership(person_id=person.id, workspace_id=workspace_id, role=role, created_at=now())
        )
    else:
        found.role = role.value


# --- accounts ------------------------------------------------------------------------------------


def create_person(
    session: Session, *, email: str, name: str, password: str, workspace: str, role: str
) -> Person:
    """`oca users create`: a person with a password, member of ``workspace`` (created if new)."""
    address = normalize_email(email)
    check_password(password)
    role_value = _role(role)
    with write_transaction(session):
        ws = ensure_workspace(session, workspace.strip())
        person = _person_by_email(session, address)
        if person is None:
            person = Person(email=address, name=name.strip() or address, created_at=now())
            session.add(person)
        person.password_hash = _hasher.hash(password)
        session.flush()
        _join(session, person, ws.id, role_value)
        cli = Principal(ws.id, None, "oca users create", Role.admin)
        audit(session, cli, "person.invite", "person", person.id, {"role": role_value.value})
    return person


def _speaks_for(session: Session, by: Principal, person: Person) -> bool:
    """May ``by`` hand out a link that sets this person's password? The command line always may;
    a signed-in admin only when they are an admin of every workspace the person belongs to, so
    no admin can take over an account that opens another workspace."""
    if by.key_id is None and by.person_id is None:
        return True
    if not by.is_admin:
        return False
    theirs = set(
        session.scalars(select(Membership.workspace_id).where(Membership.person_id == person.id))
    )
    governed = {by.workspace_id}  # an admin key speaks for its own workspace alone
    if by.person_id is not None:
        governed = set(
            session.scalars(
                select(Membership.workspace_id).where(
                    Membership.person_id == by.person_id, Membership.role == Role.admin.value
                )
            )
        )
    return theirs <= governed


def invite(session: Session, by: Principal, *, email: str, name: str, role: str) -> Link:
    """Add a person to the caller's workspace; a new person gets a one-time link to set a
    password (no e-mail is sent: the admin hands the link over)."""
    if not by.is_admin:
        raise Forbidden("only an admin can invite people")
    address = normalize_email(email)
    role_value = _role(role)
    with write_transaction(session):
        serialize_on(session, "person", address)
        person = _person_by_email(session, address)
        if person is not None and person.id == by.person_id:
            # inviting oneself again would change one's own role past change_role's guard
            raise Invalid("you are already a member; ask another admin to change your role")
        if person is None:
            person = Person(email=address, name=name.strip()[:120] or address, created_at=now())
            session.add(person)
            session.flush()
        _join(session, person, by.workspace_id, role_value)
        # a link sets the password: only for someone with none, and only by whoever speaks for
        # every workspace they are in (else they sign in with what they have)
        settable = not person.password_hash and _speaks_for(session, by, person)
        token = _new_link(session, person, "invite") if settable else None
        audit(session, by, "person.invite", "person", person.id, {"role": role_value.value})
        link = Link(person.id, person.email, "invite", token)
    return link


def reset_link(session: Session, email: str, by: Principal | None = None) -> Link:
    """A one-time link to choose a new password. ``by`` (an admin) may only reset members of
    their own workspace; the command line may reset anyone."""
    address = normalize_email(email)
    with write_transaction(session):
        person = _person_by_email(session, address)
        if person is not None and by is not None:
            if not by.is_admin:
                raise Forbidden("only an admin can reset a password")
            if session.get(Membership, (person.id, by.workspace_id)) is None:
                person = None  # another workspace's person is exactly as absent
            elif not _speaks_for(session, by, person):
                raise Forbidden(
                    "this person also belongs to a workspace you do not administer: an admin of "
                    "every one of their workspaces, or the command line "
                    "(oca users reset-password), can reset their password",
                    detail_es="Esta persona también pertenece a un espacio de trabajo que usted no "
                    "administra: puede restablecer su contraseña quien administre todos sus "
                    "espacios, o la línea de órdenes (oca users reset-password).",
                )
        if person is None:
            raise NotFound(f"no person with the e-mail {address}")
        token = _new_link(session, person, "reset")
        if by is not None:
            audit(session, by, "person.reset_link", "person", person.id)
        link = Link(person.id, person.email, "reset", token)
    return link


def link_person(session: Session, token: str) -> Person | None:
    """The person a valid, unused, unexpired link is for (None otherwise)."""
    row = session.scalar(select(OneTimeLink).where(OneTimeLink.token_hash == digest(token)))
    if row is None or row.used_at is not None or aware(row.expires_at) <= now():
        return None
    return session.get(Person, row.person_id)


def use_link(session: Session, token: str, password: str) -> Person:
    """Set the password through a one-time link; every session of the person ends."""
    check_password(password)
    with write_transaction(session):
        row = session.scalar(
            select(OneTimeLink).where(OneTimeLink.token_hash == digest(token)).with_for_update()
        )
        if row is None or row.used_at is not None or aware(row.expires_at) <= now():
            raise NotFound("this link is unknown, used or expired; ask an admin for a new one")
        person = session.get(Person, row.person_id)
        assert person is not None  # cascades with the person
        row.used_at = now()
        # any other unused link of the person (an old invitation, an earlier reset) dies with it
        session.execute(
            delete(OneTimeLink).where(
                OneTimeLink.person_id == person.id,
                OneTimeLink.used_at.is_(None),
                OneTimeLink.token_hash != row.token_hash,
            )
        )
        person.password_hash = _hasher.hash(password)
        _revoke_sessions(session, person.id)
        for ws_id in session.scalars(
            select(Membership.workspace_id).where(Membership.person_id == person.id)
        ):
            actor = Principal(ws_id, None, person.email, Role.viewer, person.id)
            audit(session, actor, "person.password", "person", person.id, {"via": row.purpose})
    return person


def members(session: Session, principal: Principal) -> list[Member]:
    rows = session.execute(
        select(Person.id, Person.email, Person.name, Membership.role, Person.password_hash)
        .join(Membership, Membership.person_id == Person.id)
        .where(Membership.workspace_id == principal.workspace_id)
        .order_by(Person.email)
    )
    return [
        Member(pid, email, name, Role(role), ph is not None) for pid, email, name, role, ph in rows
    ]


def remove_member(session: Session, by: Principal, person_id: uuid.UUID) -> None:
    """Take a person out of the caller's workspace; their sessions there end at once."""
    if not by.is_admin:
        raise Forbidden("only an admin can remove people")
    if by.person_id == person_id:
        raise Invalid("you cannot remove yourself; ask another admin")
    with write_transaction(session):
        found = session.get(Membership, (person_id, by.workspace_id))
        if found is None:
            raise NotFound(f"person {person_id} is not a member of this workspace")
        session.delete(found)
        _revoke_sessions(session, person_id, by.workspace_id)
        audit(session, by, "person.remove", "person", person_id)


def change_role(session: Session, by: Principal, person_id: uuid.UUID, role: str) -> Member:
    """Give a member of the caller's workspace another role; it holds from their next request
    (every request reads the membership). An admin cannot change their own role, so a workspace
    is never left without the admin who made the change."""
    if not by.is_admin:
        raise Forbidden("only an admin can change roles")
    role_value = _role(role)
    if by.person_id == person_id:
        raise Invalid("you cannot change your own role; ask another admin")
    with write_transaction(session):
        found = session.scalar(
            select(Membership)
            .where(Membership.person_id == person_id, Membership.workspace_id == by.workspace_id)
            .with_for_update()
        )
        person = session.get(Person, person_id)
        if found is None or person is None:
            raise NotFound(f"person {person_id} is not a member of this workspace")
        before = found.role
        if before != role_value.value:
            found.role = role_value.value
            audit(
                session,
                by,
                "person.role",
                "person",
                person_id,
                {"role": [before, role_value.value]},
            )
        member = Member(
            person.id, person.email, person.name, role_value, bool(person.password_hash)
        )
    return member


def workspaces_of(session: Session, person_id: uuid.UUID) -> list[WorkspaceChoice]:
    rows = session.execute(
        select(Workspace.id, Workspace.name, Membership.role)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .where(Membership.person_id == person_id)
        .order_by(Workspace.name)
    )
    return [WorkspaceChoice(ws_id, name, Role(role)) for ws_id, name, role in rows]


# --- sign-in and sessions ------------------------------------------------------------------------


def sign_in(
    session: Session,
    email: str,
    password: str,
    *,
    address: str,
    policy: SessionPolicy,
    limits: throttle.Limits | None = None,
) -> SignedIn:
    """Check the password and open a session in the person's first workspace.

    Refused the same way for an unknown e-mail and a wrong password; after repeated failures
    for one e-mail or from one address, refused without checking (``Throttled``)."""
    try:
        normalized = normalize_email(email)
    except Invalid:
        normalized = email.strip().lower()[:254]
    address = address[:64]
    throttle.check(session, address=address, email=normalized, limits=limits or throttle.Limits())
    session.rollback()
    person = _person_by_email(session, normalized)
    ok = False
    try:
        ok = _hasher.verify(
            person.password_hash if person and person.password_hash else _dummy_hash(), password
        )
    except (VerificationError, InvalidHashError):
        ok = False
    choices = workspaces_of(session, person.id) if person is not None and ok else []
    ok = ok and bool(choices) and person is not None
    with write_transaction(session):
        moment = now()
        throttle.record(session, address=address, email=normalized, succeeded=ok)
        if not ok or person is None:
            if person is not None:
                for ws in workspaces_of(session, person.id):
                    actor = Principal(ws.id, None, person.email, ws.role, person.id)
                    audit(
                        session,
                        actor,
                        "person.sign_in_failed",
                        "person",
                        person.id,
                        {"address": address},
                    )
            signed = None
        else:
            if _hasher.check_needs_rehash(person.password_hash or ""):
                person.password_hash = _hasher.hash(password)
            first = choices[0]
            token = secrets.token_urlsafe(32)
            expires = moment + policy.absolute
            session.add(
                WebSession(
                    token_hash=digest(token),
                    person_id=person.id,
                    workspace_id=first.id,
                    created_at=moment,
                    last_seen_at=moment,
                    expires_at=expires,
                )
            )
            principal = Principal(first.id, None, person.email, first.role, person.id)
            audit(session, principal, "person.sign_in", "person", person.id, {"address": address})
            signed = SignedIn(token, principal, expires)
    if signed is None:
        raise Invalid("the e-mail or the password is wrong")
    return signed


_SESSION = (
    select(
        WebSession.id,
        WebSession.person_id,
        WebSession.workspace_id,
        WebSession.last_seen_at,
        WebSession.expires_at,
        WebSession.revoked_at,
        Person.email,
        Membership.role,
        Workspace.name,
    )
    .join(Person, Person.id == WebSession.person_id)
    .join(Workspace, Workspace.id == WebSession.workspace_id)
    .outerjoin(
        Membership,
        (Membership.person_id == WebSession.person_id)
        & (Membership.workspace_id == WebSession.workspace_id),
    )
)


@dataclass(frozen=True)
class Visit:
    """A signed-in person's request: who, and the name of the workspace they act in."""

    principal: Principal
    workspace: str


def session_principal(session: Session, token: str, policy: SessionPolicy) -> Visit | None:
    """Who a session cookie belongs to, with their current role; None when the session is
    unknown, revoked, past its absolute expiry, idle too long, or the membership is gone."""
    if not token or len(token) > 100:
        return None
    row = session.execute(_SESSION.where(WebSession.token_hash == digest(token))).first()
    if row is None:
        return None
    sid, person_id, ws_id, last_seen, expires, revoked, email, role, ws_name = row
    moment = now()
    last_seen = aware(last_seen)
    if revoked is not None or role is None or aware(expires) <= moment:
        return None
    if moment - last_seen > policy.idle:
        return None
    if moment - last_seen > LAST_SEEN_RESOLUTION:
        session.rollback()
        with write_transaction(session):
            session.execute(
                update(WebSession).where(WebSession.id == sid).values(last_seen_at=moment)
            )
    return Visit(Principal(ws_id, None, email, Role(role), person_id), ws_name)


def sign_out(session: Session, token: str) -> None:
    with write_transaction(session):
        row = session.scalar(select(WebSession).where(WebSession.token_hash == digest(token)))
        if row is None or row.revoked_at is not None:
            return
        row.revoked_at = now()
        person = session.get(Person, row.person_id)
        membership = session.get(Membership, (row.person_id, row.workspace_id))
        if person is not None and membership is not None:
            actor = Principal(
                row.workspace_id, None, person.email, Role(membership.role), person.id
            )
            audit(session, actor, "person.sign_out", "person", person.id)


def switch_workspace(session: Session, token: str, workspace_id: uuid.UUID) -> None:
    """Act in another workspace the person belongs to (404 for any other)."""
    with write_transaction(session):
        row = session.scalar(select(WebSession).where(WebSession.token_hash == digest(token)))
        if row is None or session.get(Membership, (row.person_id, workspace_id)) is None:
            raise NotFound(f"workspace {workspace_id} does not exist")
        row.workspace_id = workspace_id


def _revoke_sessions(
    session: Session, person_id: uuid.UUID, workspace_id: uuid.UUID | None = None
) -> None:
    query = update(WebSession).where(
        WebSession.person_id == person_id, WebSession.revoked_at.is_(None)
    )
    if workspace_id is not None:
        query = query.where(WebSession.workspace_id == workspace_id)
    session.execute(query.values(revoked_at=now()))
