"""RFC 9457 problem documents for every error the API returns, and the request-body size limit.

Clients (the ``dctenant ns`` commands, tenants' own tooling) must be able to act on any error
without parsing prose, and no input may reach a 500: validation errors, refusals, unknown routes,
oversized bodies and backend failures all become ``application/problem+json`` with a status, a
title and a detail. An unexpected exception is still a problem document (500), without internals.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from dctenant.errors import BackendError, DctenantError, Problem, UserError
from dctenant.ops.selfservice_decisions import RefusedError

MEDIA_TYPE = "application/problem+json"
MAX_BODY = 64 * 1024
TYPE_BASE = "https://dctenant.io/problems/"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("dctenant.api")


def document(status: int, title: str, detail: str, *, instance: str = "",
             errors: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """A problem document: ``type`` is a stable URI per title, ``errors`` lists field-level problems."""
    slug = "-".join(title.lower().split()) or "error"
    body: dict[str, Any] = {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = list(errors)
    return body


def field_errors(problems: Sequence[Problem]) -> list[dict[str, Any]]:
    return [{"field": p.field, "message": p.message, **({"hint": p.hint} if p.hint else {})} for p in problems]


def from_exception(exc: BaseException, *, instance: str = "") -> dict[str, Any]:
    """The problem document of any exception the handlers may see."""
    if isinstance(exc, RefusedError):
        return document(exc.status, exc.title, exc.message, instance=instance, errors=field_errors(exc.problems))
    if isinstance(exc, UserError):
        problems = getattr(exc, "problems", ())
        return document(422, "Invalid request", str(exc.message), instance=instance, errors=field_errors(problems))
    if isinstance(exc, BackendError):
        return document(503, "Backend unavailable", str(exc), instance=instance)
    if isinstance(exc, DctenantError):
        return document(409, "Refused", str(exc), instance=instance)
    log.exception("unexpected error", exc_info=exc)
    return document(500, "Internal error", "the service failed unexpectedly; the error is in its log",
                    instance=instance)


def validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """FastAPI/pydantic validation errors as ``{field, message}`` pairs (inputs are not echoed)."""
    out = []
    for error in errors:
        location = [str(p) for p in error.get("loc", ()) if p not in ("body",)]
        out.append({"field": ".".join(location), "message": str(error.get("msg", "invalid"))})
    return out


# Every status the API answers with, and when: the OpenAPI document (``app.ERRORS``) and
# docs/selfservice.md list exactly these, and a test compares the three.
STATUSES: dict[int, str] = {
    400: "a body that is not readable JSON (nested too deeply, or not UTF-8)",
    401: "no token, or a malformed, expired or revoked one",
    403: "another tenant's resources, a staff-only endpoint, or a write with an auditor token",
    404: "unknown route, tenant, namespace, request or token",
    405: "a method the route does not have",
    409: "envelope exceeded, name taken, namespace busy or not empty, licence not served, already decided",
    413: "a body over 64 KiB",
    422: "a body or parameter that does not match the schema, invalid quantities, unknown pools, bad names",
    429: "too many failed authentications from the client's address (with Retry-After)",
    500: "a bug (the service logs it); the Schemathesis run checks that none occurs",
    502: "the cluster refused the apply",
    503: "the database, the ledger or Prometheus is unavailable",
}
HTTP_TITLES = {400: "Unreadable body", 404: "Not found", 405: "Method not allowed"}


def challenge(status: int) -> list[tuple[bytes, bytes]]:
    """The ``WWW-Authenticate`` header a 401 carries (RFC 6750)."""
    return [(b"www-authenticate", b"Bearer")] if status == 401 else []


async def send_problem(send: Send, body: dict[str, Any], *, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": body["status"],
                "headers": [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(payload)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": payload})


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413 before the application reads them.

    The declared ``Content-Length`` is checked first; a chunked body is read up to the limit and
    then handed on, so that a client cannot stream an endless body into the JSON parser.
    """

    def __init__(self, app: App, *, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        too_big = document(413, "Request body too large", f"request bodies are limited to {self.limit} bytes",
                           instance=str(scope.get("path", "")))
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await send_problem(send, too_big)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await send_problem(send, too_big)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body"))
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
