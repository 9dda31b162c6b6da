"""Workspaces and API keys. Keys are shown once; only a SHA-256 of the secret is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session

from app.db.driver import DriverQuery
from app.db.models import ApiKey, InstrumentVersion, Role, Workspace
from app.db.session import write_transaction
from app.domain.errors import Invalid, NotFound

KEY_PREFIX = "oca_"
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who is calling: one key, one signed-in person or the command line; one workspace, a role."""

    workspace_id: uuid.UUID
    key_id: uuid.UUID | None  # None for the command line, which acts with no key
    key_name: str  # for a person: the e-mail
    role: Role
    person_id: uuid.UUID | None = None  # set when a person signed in to the web pages
    rater: str | None = None  # a rater's code, acting through their own link (rater_links)
    # the workspace has instrument versions of its own (read with the key, in the same query):
    # without any, a request's catalog is the library as loaded, with no further query
    owns_instruments: bool = True

    @property
    def can_write(self) -> bool:
        return self.role in (Role.admin, Role.editor)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin

    @property
    def actor(self) -> str:
        if self.person_id is not None:
            return f"person:{self.key_name}"
        if self.rater is not None:
            return f"rater:{self.rater}"
        return f"key:{self.key_name}" if self.key_id else f"cli:{self.key_name}"


@dataclass(frozen=True)
class CreatedKey:
    id: uuid.UUID
    workspace: str
    name: str
    role: Role
    secret: str  # shown once


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _split(token: str) -> tuple[str, str] | None:
    if not token.startswith(KEY_PREFIX):
        return None
    rest = token[len(KEY_PREFIX) :]
    prefix, sep, secret = rest.partition("_")
    if not sep or not prefix or not secret or len(prefix) > 32 or len(secret) > 200:
        return None
    return prefix, secret


@dataclass(frozen=True, slots=True)
class WorkspaceView:
    """A workspace as the API shows it to its own keys."""

    id: uuid.UUID
    name: str
    shares_scores: bool

    @classmethod
    def of(cls, ws: Workspace) -> WorkspaceView:
        return cls(id=ws.id, name=ws.name, shares_scores=ws.shares_scores)


def read_workspace(session: Session, principal: Principal) -> WorkspaceView:
    """The principal's own workspace."""
    return WorkspaceView.of(workspace_of(session, principal))


def workspace_of(session: Session, principal: Principal) -> Workspace:
    """The principal's own workspace (it exists: keys and people belong to one)."""
    ws = session.get(Workspace, principal.workspace_id)
    assert ws is not None
    return ws


def ensure_workspace(session: Session, name: str) -> Workspace:
    """Get or create a workspace by name (inside the caller's transaction)."""
    ws = session.scalar(select(Workspace).where(Workspace.name == name))
    if ws is None:
        ws = Workspace(name=name, created_at=datetime.now(UTC))
        session.add(ws)
        session.flush()
    return ws


def cli_principal(session: Session, workspace: str, *, create: bool = True) -> Principal:
    """The command line acts in a workspace as an admin without a key (creating it if asked)."""
    import getpass

    with write_transaction(session):
        if create:
            ws = ensure_workspace(session, workspace)
        else:
            found = session.scalar(select(Workspace).where(Workspace.name == workspace))
            if found is None:
                raise NotFound(f"no workspace named '{workspace}'")
            ws = found
        principal = Principal(ws.id, None, getpass.getuser(), Role.admin)
    return principal


def create_key(
    session: Session,
    *,
    workspace: str,
    role: str,
    name: str | None = None,
    by: Principal | None = None,
) -> CreatedKey:
    """Create a key (and the workspace if new); the secret is returned once and never stored.

    ``by``: the key that asks, recorded in the audit log in the same transaction."""
    try:
        role_value = Role(role)
    except ValueError:
        raise Invalid(f"role must be one of {[r.value for r in Role]}") from None
    workspace = workspace.strip()
    if not workspace or len(workspace) > 120:
        raise Invalid("workspace name must be 1 to 120 characters")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    with write_transaction(session):
        ws = ensure_workspace(session, workspace)
        key = ApiKey(
            workspace_id=ws.id,
            name=name or f"{role_value.value}-{prefix[:4]}",
            prefix=prefix,
            secret_hash=_digest(secret),
            role=role_value.value,
            created_at=datetime.now(UTC),
        )
        session.add(key)
        session.flush()
        if by is not None:
            from app.services.common import audit

            audit(session, by, "key.create", "api_key", key.id, {"role": role_value.value})
        created = CreatedKey(
            key.id, ws.name, key.name, role_value, f"{KEY_PREFIX}{prefix}_{secret}"
        )
    return created


def authenticate(session: Session, token: str) -> Principal | None:
    """The key's principal, or None for an unknown, malformed or revoked key; records its use."""
    found = find_key(session.connection(), token)
    if found is None:
        return None
    principal, last_used = found
    if needs_touch(last_used):
        session.rollback()  # end the read before the write
        touch_key(session, principal)
    return principal


def find_key(conn: Connection, token: str) -> tuple[Principal, datetime | None] | None:
    """The key's principal and its last use, or None; reads only (one indexed query).

    Every request runs this: plain columns on a connection, no session, no ORM object."""
    parts = _split(token)
    if parts is None:
        return None
    prefix, secret = parts
    row = _KEY_BY_PREFIX.first(conn, {"prefix": prefix})
    if row is None:
        return None
    key_id, workspace_id, name, role, secret_hash, last, revoked_at, owns = row
    if revoked_at is not None or not hmac.compare_digest(secret_hash, _digest(secret)):
        return None
    principal = Principal(workspace_id, key_id, name, Role(role), owns_instruments=bool(owns))
    return principal, last


def needs_touch(last_used: datetime | None) -> bool:
    """Whether a key's last use is worth recording: at one-minute resolution, so that reads do not
    each become a write."""
    if last_used is None:
        return True
    if last_used.tzinfo is None:
        last_used = last_used.replace(tzinfo=UTC)
    return datetime.now(UTC) - last_used > LAST_USED_RESOLUTION


def touch_key(session: Session, principal: Principal) -> None:
    """Record the key's use now (its own write transaction)."""
    with write_transaction(session):
        session.execute(
            update(ApiKey)
            .where(ApiKey.id == principal.key_id)
            .values(last_used_at=datetime.now(UTC))
        )


# straight to the driver: every request runs it (app.db.driver)
_KEY_BY_PREFIX = DriverQuery(
    select(
        ApiKey.id,
        ApiKey.workspace_id,
        ApiKey.name,
        ApiKey.role,
        ApiKey.secret_hash,
        ApiKey.last_used_at,
        ApiKey.revoked_at,
        # an index probe (ix_instrument_version_workspace_id), not a second round trip
        select(InstrumentVersion.id)
        .where(InstrumentVersion.workspace_id == ApiKey.workspace_id)
        .exists()
        .label("owns_instruments"),
    ).where(ApiKey.prefix == bindparam("prefix"))
)


@dataclass(frozen=True)
class KeyInfo:
    id: uuid.UUID
    workspace: str
    name: str
    prefix: str
    role: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def list_keys(session: Session, workspace: str | None = None) -> list[KeyInfo]:
    query = select(ApiKey, Workspace.name).join(Workspace, Workspace.id == ApiKey.workspace_id)
    if workspace:
        query = query.where(Workspace.name == workspace)
    rows = session.execute(query.order_by(Workspace.name, ApiKey.created_at)).all()
    return [
        KeyInfo(k.id, ws, k.name, k.prefix, k.role, k.created_at, k.last_used_at, k.revoked_at)
        for k, ws in rows
    ]


def revoke_key(session: Session, prefix_or_id: str) -> KeyInfo:
    with write_transaction(session):
        key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix_or_id))
        if key is None:
            try:
                key = session.get(ApiKey, uuid.UUID(prefix_or_id))
            except ValueError:
                key = None
        if key is None:
            raise NotFound(f"no key with prefix or id '{prefix_or_id}'")
        if key.revoked_at is None:
            key.revoked_at = datetime.now(UTC)
        ws = session.get(Workspace, key.workspace_id)
        assert ws is not None
        info = KeyInfo(
            key.id,
            ws.name,
            key.name,
            key.prefix,
            key.role,
            key.created_at,
            key.last_used_at,
            key.revoked_at,
        )
    return info


def _info(key: ApiKey, workspace: str) -> KeyInfo:
    return KeyInfo(
        key.id,
        workspace,
        key.name,
        key.prefix,
        key.role,
        key.created_at,
        key.last_used_at,
        key.revoked_at,
    )


def workspace_keys(session: Session, principal: Principal) -> list[KeyInfo]:
    ws = session.get(Workspace, principal.workspace_id)
    assert ws is not None
    rows = session.scalars(
        select(ApiKey).where(ApiKey.workspace_id == ws.id).order_by(ApiKey.created_at, ApiKey.id)
    )
    return [_info(k, ws.name) for k in rows]


def create_workspace_key(
    session: Session, principal: Principal, role: str, name: str | None
) -> tuple[CreatedKey, KeyInfo]:
    ws = session.get(Workspace, principal.workspace_id)
    assert ws is not None
    created = create_key(session, workspace=ws.name, role=role, name=name, by=principal)
    key = session.get(ApiKey, created.id)
    assert key is not None
    return created, _info(key, ws.name)


def revoke_workspace_key(session: Session, principal: Principal, key_id: uuid.UUID) -> KeyInfo:
    from app.services.common import audit

    with write_transaction(session):
        key = session.get(ApiKey, key_id)
        if key is None or key.workspace_id != principal.workspace_id:
            raise NotFound(f"key {key_id} does not exist")
        if key.revoked_at is None:
            key.revoked_at = datetime.now(UTC)
            audit(session, principal, "key.revoke", "api_key", key.id, None)
        ws = session.get(Workspace, key.workspace_id)
        assert ws is not None
        info = _info(key, ws.name)
    return info
