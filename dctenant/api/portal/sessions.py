"""Portal sessions: a token is pasted once into a form; afterwards a random session id in a cookie stands for it.

What each guarantee rests on:
- The token is only ever in a POST body (the login form), never in a URL or a cookie; it is
  checked by ``SelfService.authenticate`` exactly as the API checks a bearer header.
- The cookie holds 256 random bits; the database holds their SHA-256 (``portal_db``), so reading
  the table does not let an insider ride a session. A new id is issued at every login (no
  fixation), and logout deletes the row, so a copied cookie dies with the session.
- A session is bound to its token id and re-checked on every request (``SelfService.identify``):
  revoking or expiring the token ends every session made with it at once.
- Every POST carries the session's CSRF token (a hidden field) and is refused (403) without it;
  the login form, which has no session yet, uses a double-submit cookie instead.
- The cookies are ``__Host-`` prefixed, ``Secure``, ``HttpOnly``, ``SameSite=Strict``, ``Path=/``:
  the browser sends them only over a secure context to this exact host, never cross-site, and
  no script can read them.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from dctenant.clients import portal_db
from dctenant.errors import DctenantError
from dctenant.ops import selfservice_usecases

COOKIE = "__Host-dctenant-session"
LOGIN_COOKIE = "__Host-dctenant-login"
LIFETIME = dt.timedelta(hours=8)
LOGIN_LIFETIME = dt.timedelta(minutes=30)


@dataclass(frozen=True, kw_only=True)
class Session:
    """A live session: who it stands for, its CSRF token and the user's preferences."""

    who: selfservice_usecases.Identity
    csrf: str
    digest: str
    prefs: portal_db.Preferences


def cookie_header(name: str, value: str, *, max_age: int) -> str:
    """A ``Set-Cookie`` value with every flag the portal relies on (``max_age`` 0 deletes it)."""
    return f"{name}={value}; Max-Age={max_age}; Path=/; Secure; HttpOnly; SameSite=Strict"


class Sessions:
    """Log in, look up and log out, against the portal's tables and the self-service tokens."""

    def __init__(self, *, service: selfservice_usecases.SelfService, store: portal_db.Store,
                 clock: Callable[[], dt.datetime] | None = None) -> None:
        self.service = service
        self.store = store
        self.clock = clock or service.clock

    def login(self, token_text: str) -> tuple[str, selfservice_usecases.Identity]:
        """A new session for the pasted token: its id (for the cookie only) and the identity.

        Raises the use-cases' 401 for a malformed, unknown, revoked or expired token.
        """
        who = self.service.authenticate(f"Bearer {token_text.strip()}")
        now = self.clock()
        self.store.expire(before=now)
        session_id = secrets.token_urlsafe(32)
        self.store.add_session(portal_db.SessionRow(
            digest=portal_db.session_digest(session_id), token=who.token, csrf=secrets.token_urlsafe(32),
            created_at=now, expires_at=now + LIFETIME))
        return session_id, who

    def find(self, session_id: str | None) -> Session | None:
        """The live session of a cookie value; None (and the row deleted) when it is unknown or dead."""
        if not session_id or len(session_id) > 100:
            return None
        digest = portal_db.session_digest(session_id)
        row = self.store.session(digest)
        if row is None:
            return None
        if row.expires_at <= self.clock():
            self.store.remove_session(digest)
            return None
        try:
            who = self.service.identify(row.token)
        except DctenantError:  # revoked, expired or deleted token: the session dies with it
            self.store.remove_session(digest)
            return None
        return Session(who=who, csrf=row.csrf, digest=digest, prefs=self.store.preferences(row.token))

    def logout(self, session: Session) -> None:
        self.store.remove_session(session.digest)

    def remember(self, session: Session, prefs: portal_db.Preferences) -> None:
        self.store.set_preferences(session.who.token, prefs)


def same(given: str | None, expected: str) -> bool:
    """Compare a submitted CSRF value with the expected one in constant time."""
    return bool(given) and secrets.compare_digest(str(given), expected)
