"""Users and API keys of the REST server.

A key is 32 random bytes shown once; only its SHA-256 is stored (a random key
needs no slow hash: there is nothing to guess). Lookups go by the hash, and the
final comparison is constant-time. Keys are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from memgpt.errors import ConfigError, NotFoundError
from memgpt.schemas import User, new_id, utcnow
from memgpt.store import tables as t
from memgpt.store.metadata import aware

KEY_PREFIX = "sk-memgpt-"


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_user(self, name: str) -> tuple[User, str]:
        """A new user and their first key (returned in clear this once)."""
        user = User(id=new_id("user"), name=name)
        key = new_key()
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(t.users).values(id=user.id, name=user.name, created_at=user.created_at))
                self._insert_key(conn, user.id, key, admin=False)
        except IntegrityError:
            raise ConfigError(f"a user named {name!r} exists", "pick another name, or issue a new key for it") from None
        return user, key

    def list_users(self) -> list[User]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.users).order_by(t.users.c.created_at))
            return [User(id=r.id, name=r.name, created_at=aware(r.created_at)) for r in rows]

    def issue_key(self, user_id: str) -> str:
        with self.engine.begin() as conn:
            if conn.scalar(select(t.users.c.id).where(t.users.c.id == user_id)) is None:
                raise NotFoundError(f"no user with id {user_id!r}")
            key = new_key()
            self._insert_key(conn, user_id, key, admin=False)
        return key

    def revoke(self, key: str) -> bool:
        with self.engine.begin() as conn:
            res = conn.execute(update(t.api_keys).where(t.api_keys.c.key_hash == key_hash(key),
                                                        t.api_keys.c.revoked_at.is_(None))
                               .values(revoked_at=utcnow()))
            return res.rowcount > 0

    def revoke_user(self, user_id: str) -> int:
        with self.engine.begin() as conn:
            res = conn.execute(update(t.api_keys).where(t.api_keys.c.user_id == user_id,
                                                        t.api_keys.c.revoked_at.is_(None))
                               .values(revoked_at=utcnow()))
            return res.rowcount

    def lookup(self, key: str) -> tuple[User | None, bool] | None:
        """(user, is_admin) for a live key; None for an unknown or revoked one."""
        digest = key_hash(key)
        with self.engine.connect() as conn:
            row = conn.execute(select(t.api_keys).where(t.api_keys.c.key_hash == digest,
                                                        t.api_keys.c.revoked_at.is_(None))).first()
            if row is None or not hmac.compare_digest(row.key_hash, digest):
                return None
            if row.is_admin:
                return None, True
            u = conn.execute(select(t.users).where(t.users.c.id == row.user_id)).first()
            return (User(id=u.id, name=u.name, created_at=aware(u.created_at)), False) if u else None

    def ensure_admin(self, key: str | None) -> str | None:
        """Make ``key`` the admin key (from MEMGPT_SERVER_PASS), or create one when none exists.

        Returns a newly generated key (to show once), else None. Several workers starting at once
        on one database insert it once: the loser of the race finds the winner's row.
        """
        try:
            with self.engine.begin() as conn:
                if key:
                    if conn.scalar(select(t.api_keys.c.id).where(t.api_keys.c.key_hash == key_hash(key))) is None:
                        self._insert_key(conn, None, key, admin=True)
                    return None
                live = conn.scalar(select(t.api_keys.c.id).where(t.api_keys.c.is_admin.is_(True),
                                                                 t.api_keys.c.revoked_at.is_(None)))
                if live:
                    return None
                generated = new_key()
                self._insert_key(conn, None, generated, admin=True)
                return generated
        except IntegrityError:
            return None

    @staticmethod
    def _insert_key(conn, user_id: str | None, key: str, *, admin: bool) -> None:  # noqa: ANN001
        conn.execute(insert(t.api_keys).values(id=new_id("key"), user_id=user_id, key_hash=key_hash(key),
                                               is_admin=admin, created_at=utcnow()))
