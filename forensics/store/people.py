"""People of the web app: accounts, API tokens and the append-only audit log.

Passwords are hashed by the caller (argon2, :mod:`forensics.web.auth`); tokens are kept only as
their sha256. Audit rows are inserted, never updated nor deleted: :func:`audit` is the only
writer and nothing here changes a row once written.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from forensics.store.db import Store, _iso
from forensics.store.schema import api_tokens, audit_log, users

#: roles, weakest first: each role may do what the ones before it may
ROLES = ("reviewer", "investigator", "admin")


def _now() -> datetime:
    return datetime.now(UTC)


def token_digest(token: str) -> str:
    """What is stored of an API token: its sha256 (tokens are long random strings, no salt needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def audit(conn: Connection, *, actor: str, role: str, action: str, object_type: str, object_id: str,
          before: Any = None, after: Any = None, reason: str | None = None,
          request_id: str | None = None) -> int:
    """Append one audit row inside the caller's transaction (the change and its row commit together)."""
    result = conn.execute(insert(audit_log).values(
        at=_now(), actor=actor, role=role, action=action, object_type=object_type,
        object_id=object_id, before=before, after=after, reason=reason, request_id=request_id))
    return int(result.inserted_primary_key[0])


def audit_rows(conn: Connection, *, object_type: str | None = None, object_id: str | None = None,
               limit: int = 200) -> list[dict[str, Any]]:
    """Audit rows, newest first, optionally of one object (inside the caller's transaction)."""
    q = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if object_type:
        q = q.where(audit_log.c.object_type == object_type)
    if object_id:
        q = q.where(audit_log.c.object_id == object_id)
    return [_audit_json(r) for r in conn.execute(q).all()]


def _audit_json(row: Any) -> dict[str, Any]:
    return {"id": row.id, "at": _iso(row.at), "actor": row.actor, "role": row.role, "action": row.action,
            "object_type": row.object_type, "object_id": row.object_id, "before": row.before,
            "after": row.after, "reason": row.reason, "request_id": row.request_id}


class People:
    """Accounts, tokens and audit rows of one :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add_user(self, name: str, role: str, password_hash: str, *, actor: str = "cli") -> dict[str, Any]:
        """Create an account (audited); raises ValueError when the name is taken or the role unknown."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
        with self.store.transaction() as conn:
            if conn.execute(select(users.c.id).where(users.c.name == name)).first():
                raise ValueError(f"a user named {name!r} already exists")
            uid = conn.execute(insert(users).values(name=name, role=role, password_hash=password_hash,
                                                    created_at=_now())).inserted_primary_key[0]
            audit(conn, actor=actor, role="admin" if actor == "cli" else role, action="user_add",
                  object_type="user", object_id=name, after={"role": role})
        return {"id": int(uid), "name": name, "role": role}

    def set_password(self, name: str, password_hash: str, *, actor: str = "cli") -> bool:
        """Replace a user's password hash (audited, the hash itself is never logged)."""
        with self.store.transaction() as conn:
            done = conn.execute(update(users).where(users.c.name == name)
                                .values(password_hash=password_hash)).rowcount
            if done:
                audit(conn, actor=actor, role="admin", action="password_reset", object_type="user",
                      object_id=name)
        return bool(done)

    def user(self, name: str) -> dict[str, Any] | None:
        """An account by name, with its password hash, or None."""
        with self.store.transaction() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).first()
        return dict(row._mapping) if row else None

    def user_by_id(self, uid: int, conn: Connection | None = None) -> dict[str, Any] | None:
        """An account by id (no password hash), in ``conn``'s transaction when given."""
        with self.store.joined(conn) as conn:
            row = conn.execute(select(users.c.id, users.c.name, users.c.role).where(users.c.id == uid)).first()
        return dict(row._mapping) if row else None

    def list_users(self) -> list[dict[str, Any]]:
        with self.store.transaction() as conn:
            rows = conn.execute(select(users.c.id, users.c.name, users.c.role, users.c.created_at)
                                .order_by(users.c.name)).all()
        return [{"id": r.id, "name": r.name, "role": r.role, "created_at": _iso(r.created_at)} for r in rows]

    def rehash(self, uid: int, password_hash: str) -> None:
        """Store a stronger hash of the same password (argon2 parameters raised): not an audit event."""
        with self.store.transaction() as conn:
            conn.execute(update(users).where(users.c.id == uid).values(password_hash=password_hash))

    def add_token(self, name: str, token: str, *, actor: str = "cli") -> None:
        """Keep the digest of a new API token for a user (audited)."""
        with self.store.transaction() as conn:
            row = conn.execute(select(users.c.id).where(users.c.name == name)).first()
            if row is None:
                raise ValueError(f"no user named {name!r}")
            conn.execute(insert(api_tokens).values(user_id=row.id, token_sha256=token_digest(token),
                                                   created_at=_now()))
            audit(conn, actor=actor, role="admin", action="token_add", object_type="user", object_id=name)

    def revoke_tokens(self, name: str, *, actor: str = "cli") -> int:
        with self.store.transaction() as conn:
            row = conn.execute(select(users.c.id).where(users.c.name == name)).first()
            if row is None:
                return 0
            n = conn.execute(delete(api_tokens).where(api_tokens.c.user_id == row.id)).rowcount
            audit(conn, actor=actor, role="admin", action="tokens_revoke", object_type="user", object_id=name,
                  after={"revoked": n})
        return int(n)

    def user_for_token(self, token: str, conn: Connection | None = None) -> dict[str, Any] | None:
        """The account an API token belongs to, or None (in ``conn``'s transaction when given)."""
        with self.store.joined(conn) as conn:
            row = conn.execute(
                select(users.c.id, users.c.name, users.c.role)
                .join(api_tokens, api_tokens.c.user_id == users.c.id)
                .where(api_tokens.c.token_sha256 == token_digest(token))
            ).first()
        return dict(row._mapping) if row else None

    def audit_rows(self, *, object_type: str | None = None, object_id: str | None = None,
                   limit: int = 200) -> list[dict[str, Any]]:
        """Audit rows, newest first, optionally of one object."""
        with self.store.transaction() as conn:
            return audit_rows(conn, object_type=object_type, object_id=object_id, limit=limit)

    def record_audit(self, **values: Any) -> int:
        """Append one audit row in its own transaction (a login, a refused request)."""
        with self.store.transaction() as conn:
            return audit(conn, **values)
