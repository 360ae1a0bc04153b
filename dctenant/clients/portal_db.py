"""The web portal's server-side state: sessions and each user's display preferences.

Why server-side sessions: a cookie that carried the bearer token (or a signed copy of it) could
not be revoked on logout and would put the token on every request. The cookie holds only a
random session id; the database holds its SHA-256 digest (an insider who reads the table cannot
replay a session), the token id it is bound to, its CSRF token and its expiry. Preferences
(language, calendar, digits) are keyed by token id, so they follow the user across sessions.

The tables live beside the self-service tables (same URL, ``pt_`` prefix) and are created on
first use; they hold nothing that another table refers to, so dropping them logs everyone out
and forgets preferences, nothing more. Times are ISO-8601 UTC text, as in ``selfservice_db``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dctenant.errors import BackendError

if TYPE_CHECKING:
    import sqlalchemy as sa


@dataclass(frozen=True, kw_only=True)
class SessionRow:
    """A live session as stored: the digest of its id, never the id."""

    digest: str
    token: str
    csrf: str
    created_at: dt.datetime
    expires_at: dt.datetime


@dataclass(frozen=True, kw_only=True)
class Preferences:
    """How one user (token) reads the portal."""

    lang: str = "en"
    calendar: str = "gregorian"
    digits: bool = False


def session_digest(session_id: str) -> str:
    """The stored form of a session id (256 random bits: a plain SHA-256 is enough)."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def _tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    import sqlalchemy as sa

    text = sa.String
    return {
        "sessions": sa.Table(
            "pt_sessions", metadata, sa.Column("digest", text(64), primary_key=True),
            sa.Column("token", text(32), nullable=False, index=True), sa.Column("csrf", text(64), nullable=False),
            sa.Column("created_at", text(40), nullable=False), sa.Column("expires_at", text(40), nullable=False)),
        "prefs": sa.Table(
            "pt_prefs", metadata, sa.Column("token", text(32), primary_key=True),
            sa.Column("lang", text(8), nullable=False), sa.Column("calendar", text(16), nullable=False),
            sa.Column("digits", sa.Boolean, nullable=False)),
    }


def _time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat()


class Store:
    """Sessions and preferences in the self-service store's database."""

    def __init__(self, engine: sa.Engine) -> None:
        """Over ``engine``, the self-service store's (one connection pool; closing that store closes this)."""
        import sqlalchemy as sa

        self.engine = engine
        metadata = sa.MetaData()
        self.t = _tables(metadata)
        try:
            metadata.create_all(self.engine)
        except sa.exc.SQLAlchemyError as exc:
            raise BackendError(f"cannot open the portal's tables: {type(exc).__name__}") from None

    def _run(self, work: Any) -> Any:
        import sqlalchemy as sa

        try:
            with self.engine.begin() as conn:
                return work(conn)
        except sa.exc.SQLAlchemyError as exc:
            raise BackendError(f"portal database: {type(exc).__name__}") from None

    def add_session(self, row: SessionRow) -> None:
        t = self.t["sessions"]
        self._run(lambda c: c.execute(t.insert().values(
            digest=row.digest, token=row.token, csrf=row.csrf, created_at=_time(row.created_at),
            expires_at=_time(row.expires_at))))

    def session(self, digest: str) -> SessionRow | None:
        import sqlalchemy as sa

        t = self.t["sessions"]
        found = self._run(lambda c: c.execute(sa.select(t).where(t.c.digest == digest)).mappings().first())
        if found is None:
            return None
        return SessionRow(digest=found["digest"], token=found["token"], csrf=found["csrf"],
                          created_at=dt.datetime.fromisoformat(found["created_at"]),
                          expires_at=dt.datetime.fromisoformat(found["expires_at"]))

    def remove_session(self, digest: str) -> None:
        t = self.t["sessions"]
        self._run(lambda c: c.execute(t.delete().where(t.c.digest == digest)))

    def expire(self, *, before: dt.datetime) -> int:
        """Delete sessions that expired at or before ``before``; how many."""
        t = self.t["sessions"]
        done = self._run(lambda c: c.execute(t.delete().where(t.c.expires_at <= _time(before))))
        return int(done.rowcount or 0)

    def preferences(self, token: str) -> Preferences:
        import sqlalchemy as sa

        t = self.t["prefs"]
        found = self._run(lambda c: c.execute(sa.select(t).where(t.c.token == token)).mappings().first())
        if found is None:
            return Preferences()
        return Preferences(lang=found["lang"], calendar=found["calendar"], digits=bool(found["digits"]))

    def set_preferences(self, token: str, prefs: Preferences) -> None:
        t = self.t["prefs"]
        values: Mapping[str, Any] = {"lang": prefs.lang, "calendar": prefs.calendar, "digits": prefs.digits}

        def work(conn: sa.Connection) -> None:
            if conn.execute(t.update().where(t.c.token == token).values(**values)).rowcount == 0:
                conn.execute(t.insert().values(token=token, **values))

        self._run(work)
