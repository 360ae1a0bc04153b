"""Authentication before validation: the bearer token is checked before the body is read.

FastAPI parses and validates the body before it resolves a route's dependencies, so an
authentication dependency alone answers an unauthenticated, malformed request with 422 (and a
tenant token posting nonsense to a staff endpoint with 422 instead of 403): it tells a caller
without a valid token what the API accepts. This ASGI middleware runs first, for every path under
``/v1/``: it authenticates the ``Authorization`` header (401), refuses what the path alone shows
to be forbidden (a tenant token on a staff path or on another tenant's path, 403), and hands the
identity to the routes in the request state. The use-cases check the same rules again.
"""

from __future__ import annotations

from typing import Any

from dctenant.api import lockout, problems
from dctenant.errors import DctenantError
from dctenant.ops import selfservice_decisions, selfservice_usecases

STAFF_PATHS = ("requests", "tokens")
READS = ("GET", "HEAD", "OPTIONS")


def check_path(who: selfservice_usecases.Identity, path: str, method: str = "GET") -> None:
    """Raise the use-cases' 403 when the path and method alone show that ``who`` may not use it.

    An auditor token is read-only: every method but GET, HEAD and OPTIONS is refused here, before
    any route runs (the use-cases refuse its writes again).
    """
    read = method in READS
    if who.auditor and not read:
        raise selfservice_decisions.RefusedError(403, "Forbidden", "an auditor token is read-only")
    parts = path.split("/")  # "", "v1", collection, tenant, ...
    collection = parts[2] if len(parts) > 2 else ""
    if collection in STAFF_PATHS:
        selfservice_usecases.staff_only(who, read=read and collection == "requests")
    elif collection == "tenants" and len(parts) > 3 and parts[3]:
        selfservice_usecases.allowed(who, parts[3], write=not read)


def client_address(scope: problems.Scope) -> str:
    """The client's address as the server saw it (``"unknown"`` when the server gives none)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class Guard:
    """Authenticate every ``/v1/`` request before the application reads its body."""

    def __init__(self, app: problems.App, *, service: selfservice_usecases.SelfService,
                 failures: lockout.Lockout | None = None) -> None:
        self.app = app
        self.service = service
        self.failures = failures or lockout.Lockout()

    async def __call__(self, scope: problems.Scope, receive: problems.Receive, send: problems.Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        import anyio.to_thread

        path = str(scope["path"])
        header = dict(scope.get("headers") or ()).get(b"authorization")
        text = header.decode("latin-1") if header is not None else None
        address = client_address(scope)
        wait = self.failures.wait(address)
        if wait:
            body = problems.document(429, "Too Many Requests", "too many failed authentications from this address; "
                                     f"try again in {wait} s", instance=path)
            await problems.send_problem(send, body, headers=[(b"retry-after", str(wait).encode())])
            return
        try:
            # authenticate reads the database: off the event loop, like the routes themselves.
            who: Any = await anyio.to_thread.run_sync(self.service.authenticate, text)
            check_path(who, path, str(scope.get("method", "GET")))
        except DctenantError as exc:
            body = problems.from_exception(exc, instance=path)
            if body["status"] == 401:
                self.failures.failed(address)
            await problems.send_problem(send, body, headers=problems.challenge(body["status"]))
            return
        scope.setdefault("state", {})["identity"] = who
        await self.app(scope, receive, send)
