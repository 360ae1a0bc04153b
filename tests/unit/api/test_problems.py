"""Problem documents, the guard's path rules and the body limit, without a server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dctenant.api import guard, problems
from dctenant.errors import BackendError, DctenantError, UserError
from dctenant.ops import selfservice_usecases
from dctenant.ops.selfservice_decisions import RefusedError

TENANT = selfservice_usecases.Identity(token="t", tenant="bale")
STAFF = selfservice_usecases.Identity(token="s", tenant=None)


def test_titles_are_for_people() -> None:
    assert problems.from_exception(DctenantError("no"))["title"] == "Refused"
    assert problems.from_exception(UserError("bad"))["status"] == 422
    assert problems.from_exception(BackendError("down"))["status"] == 503
    refused = problems.from_exception(RefusedError(409, "Envelope exceeded", "too big"), instance="/v1/x")
    assert (refused["status"], refused["title"], refused["instance"]) == (409, "Envelope exceeded", "/v1/x")
    assert refused["type"] == "https://dctenant.io/problems/envelope-exceeded"
    internal = problems.from_exception(ValueError("secret detail"))
    assert internal["status"] == 500 and "secret detail" not in internal["detail"]
    for body in (refused, internal):
        assert body["status"] in problems.STATUSES


@pytest.mark.parametrize(("who", "path", "status"), [
    (TENANT, "/v1/tokens", 403), (TENANT, "/v1/requests/1/approve", 403), (TENANT, "/v1/tenants/gap/envelope", 403),
    (TENANT, "/v1/tenants/bale-x/envelope", 403), (TENANT, "/v1/tenants/bale/envelope", None),
    (TENANT, "/v1/whoami", None), (STAFF, "/v1/tokens", None), (STAFF, "/v1/tenants/gap/namespaces", None),
])
def test_the_guard_refuses_by_path(who: selfservice_usecases.Identity, path: str, status: int | None) -> None:
    if status is None:
        guard.check_path(who, path)
    else:
        with pytest.raises(RefusedError) as refused:
            guard.check_path(who, path)
        assert refused.value.status == status


def run_limited(body: bytes, *, limit: int, declared: bool) -> tuple[int | None, bytes]:
    sent: list[dict[str, Any]] = []
    seen: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        seen.append(message["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"content-length", str(len(body)).encode())] if declared else []
    scope = {"type": "http", "method": "POST", "path": "/v1/x", "headers": headers}
    # A private loop, not asyncio.run: that would leave the main thread without a current event
    # loop, which later tests (Pulumi's mocks) expect to find.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(problems.BodyLimit(app, limit=limit)(scope, receive, send))
    finally:
        loop.close()
    return sent[0].get("status"), b"".join(seen)


def test_the_body_limit_is_exact() -> None:
    assert run_limited(b"x" * 10, limit=10, declared=True) == (200, b"x" * 10)
    assert run_limited(b"x" * 11, limit=10, declared=True)[0] == 413
    assert run_limited(b"x" * 10, limit=10, declared=False) == (200, b"x" * 10)
    assert run_limited(b"x" * 11, limit=10, declared=False)[0] == 413
