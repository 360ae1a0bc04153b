"""Security headers on every portal response, set in one place so no route can forget them.

The Content-Security-Policy allows scripts, styles, images, fonts and form targets from the
portal's own origin only: no inline script or style (the templates have none), no framing
(clickjacking), no ``<base>`` rewriting. Pages are ``no-store``: they hold a tenant's data and a
CSRF token, and must not stay in a shared cache or the back-forward cache after logout.
"""

from __future__ import annotations

from dctenant.api import problems

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    # same-origin, not no-referrer: with no-referrer Chromium sends "Origin: null" on the portal's own form
    # posts, and the origin check (site._same_origin) could no longer tell them from a sandboxed attacker.
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


class SecurityHeaders:
    """Add ``HEADERS`` (and ``Cache-Control: no-store`` unless the route set its own) to every response."""

    def __init__(self, app: problems.App) -> None:
        self.app = app

    async def __call__(self, scope: problems.Scope, receive: problems.Receive, send: problems.Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: problems.Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [h for h in HEADERS if h[0] not in names]
                if b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, sending)
