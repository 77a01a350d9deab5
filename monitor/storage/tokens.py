"""API tokens: created with a role, stored as a SHA-256 digest, listed, revoked.

The token itself is 256 random bits (`secrets.token_urlsafe(32)`) behind the
prefix `exn_`; it is returned once by `create_token` and never stored, only
its digest (a slow hash adds nothing against guessing 256 bits). Lookup is
by digest, an indexed equality: no token is compared character by character.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from monitor.storage.history import audit
from monitor.storage.schema import ROLES, api_tokens
from monitor.storage.text import clean

PREFIX = "exn_"


class TokenStoreError(ValueError):
    """A token command that cannot be done; the message says why."""


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A stored token, without its secret."""

    id: int
    name: str
    role: str
    carrier: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def usable(self, now: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _info(row: Any) -> TokenInfo:
    m = row._mapping
    return TokenInfo(
        m["id"], m["name"], m["role"], m["carrier"], m["created_by"], m["created_at"],
        m["expires_at"], m["revoked_at"],
    )  # fmt: skip


def create_token(
    conn: Connection,
    *,
    name: str,
    role: str,
    carrier: str | None,
    expires_at: datetime | None,
    by: str,
    now: datetime,
) -> tuple[str, TokenInfo]:
    """(the token, shown once; what is stored). Audited."""
    if role not in ROLES:
        raise TokenStoreError(f"the role must be one of {', '.join(ROLES)}, not {role!r}")
    if (role == "carrier") != (carrier is not None):
        raise TokenStoreError("a carrier token needs --carrier, and only a carrier token has one")
    name = clean(name).strip()
    if not name:
        raise TokenStoreError("a token needs a --name (who holds it)")
    if expires_at is not None and expires_at <= now:
        raise TokenStoreError("the token would be expired already")
    if conn.execute(select(api_tokens.c.id).where(api_tokens.c.name == name)).first():
        raise TokenStoreError(f"a token named {name!r} exists already")
    token = PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        insert(api_tokens).values(
            name=name, role=role, carrier=clean(carrier), digest=digest(token),
            created_by=clean(by), created_at=now, expires_at=expires_at,
        )
    )  # fmt: skip
    info = _info(conn.execute(select(api_tokens).where(api_tokens.c.name == name)).one())
    audit(
        conn, actor=by, action="token.create", subject=name,
        detail={"role": role, "carrier": carrier, "id": info.id}, now=now,
    )  # fmt: skip
    return token, info


def tokens(conn: Connection) -> list[TokenInfo]:
    return [_info(r) for r in conn.execute(select(api_tokens).order_by(api_tokens.c.id))]


def revoke_token(conn: Connection, name_or_id: str, by: str, now: datetime) -> TokenInfo:
    """Revoke a token by name or id (audited); an unknown or revoked one is an error."""
    match = [api_tokens.c.name == name_or_id]
    if name_or_id.isdigit():
        match.append(api_tokens.c.id == int(name_or_id))
    row = conn.execute(select(api_tokens).where(or_(*match))).first()
    if row is None:
        raise TokenStoreError(f"no token {name_or_id!r} (examnet token list)")
    info = _info(row)
    if info.revoked_at is not None:
        raise TokenStoreError(f"the token {info.name!r} is revoked already")
    conn.execute(
        update(api_tokens)
        .where(api_tokens.c.id == info.id)
        .values(revoked_at=now, revoked_by=clean(by))
    )
    audit(
        conn, actor=by, action="token.revoke", subject=info.name, detail={"id": info.id},
        now=now,
    )  # fmt: skip
    return _info(conn.execute(select(api_tokens).where(api_tokens.c.id == info.id)).one())


def token_for(conn: Connection, token: str, now: datetime) -> TokenInfo | None:
    """The stored token this secret is, if usable now (not expired, not revoked)."""
    row = conn.execute(select(api_tokens).where(api_tokens.c.digest == digest(token))).first()
    if row is None:
        return None
    info = _info(row)
    return info if info.usable(now) else None
