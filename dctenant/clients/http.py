"""The self-service API as the ``dctenant ns``/``request``/``token`` commands reach it: httpx over HTTP(S).

Kept in ``clients`` because it is network I/O. Problem documents (RFC 9457) come back as
``UserError`` (the caller's mistake: 4xx, with the field errors) or ``BackendError`` (the service
or its cluster failed: 5xx, or no answer), so the CLI's single error boundary prints one line.
Messages never contain the token.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from dctenant.errors import BackendError, UserError

TIMEOUT = 60.0


class Service:
    """One self-service API endpoint and the bearer token to use with it."""

    def __init__(self, *, server: str, token: str, timeout: float = TIMEOUT, transport: Any = None) -> None:
        import httpx

        if not server.startswith(("http://", "https://")):
            raise UserError(f"{server!r} is not an http:// or https:// URL", location="--server")
        self.server = server.rstrip("/")
        self._client = httpx.Client(base_url=self.server, timeout=timeout, transport=transport,
                                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})

    def close(self) -> None:
        self._client.close()

    def call(self, method: str, path: str, *, body: Mapping[str, Any] | None = None,
             params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None) -> Any:
        """Send one request and return its decoded JSON; a problem document raises."""
        import httpx

        try:
            response = self._client.request(method, path, json=body, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise BackendError(f"cannot reach the self-service API at {self.server}: {type(exc).__name__}: "
                               f"{str(exc)[:200]}") from None
        try:
            data = response.json() if response.content else None
        except json.JSONDecodeError:
            data = None
        if response.status_code < 400:
            return data
        problem = data if isinstance(data, dict) else {}
        text = f"{problem.get('title') or response.reason_phrase}: {problem.get('detail') or response.text[:200]}"
        errors = problem.get("errors") or []
        if isinstance(errors, list):
            text += "".join(f"\n  {e.get('field', '')}: {e.get('message', '')}"
                            + (f" ({e['hint']})" if e.get("hint") else "") for e in errors if isinstance(e, dict))
        if response.status_code >= 500:
            raise BackendError(f"{self.server} answered {response.status_code}: {text}")
        raise UserError(f"{response.status_code} {text}")
